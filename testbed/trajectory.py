"""Attention trajectories: Q, K, V of a few (layer, head) series at every step of one generation,
recorded by a model hook and stored in a small binary format the C demo can read (testbed/README.md
documents it byte by byte).

Layout (little-endian): a 64-byte header
    char magic[8] "LATRAJ1\\0"; u32 version (1), steps N, series P, seqlen S, head_dim D,
    encoding (0 fp16, 1 int8 rows), frames F, rows R, cols C; f32 scale; u32 batch_index,
    reserved[3] (0)
then P pairs u32 (layer, head), N f32 timesteps, then for each step, series and tensor (q, k, v)
one block: u32 nbytes followed by nbytes of a zlib stream whose payload is
    encoding 0: S x D fp16, row-major [S, D];
    encoding 1: S fp16 row scales, then S x D int8; x[s, d] = int8[s, d] * scale[s].
Tokens are the window frames [f0, f0+F) x rows [r0, r0+R) x cols [c0, c0+C) of the model's token
grid, frame-major (token = (f * R + r) * C + c), q and k after RoPE: S = F * R * C."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

MAGIC = b"LATRAJ1\x00"
HEADER = struct.Struct("<8s9If4I")  # 8 + 9*4 + 4 + 4*4 = 64 bytes
ENCODINGS = {"fp16": 0, "int8": 1}


def encode(x: np.ndarray, encoding: int) -> bytes:
    """One [S, D] float tensor as the zlib-compressed payload of `encoding`."""
    x = np.asarray(x, dtype=np.float32)
    if encoding == 0:
        raw = x.astype("<f2").tobytes()
    elif encoding == 1:
        scale = (np.abs(x).max(axis=1) / 127.0).astype("<f2")
        s = scale.astype(np.float32)
        q = np.clip(np.rint(x / np.where(s > 0, s, 1.0)[:, None]), -127, 127).astype(np.int8)
        raw = scale.tobytes() + q.tobytes()
    else:
        raise ValueError(f"encoding = {encoding}: use 0 (fp16) or 1 (int8 rows)")
    return zlib.compress(raw, 9)


def decode(blob: bytes, encoding: int, S: int, D: int) -> np.ndarray:
    raw = zlib.decompress(blob)
    if encoding == 0:
        return np.frombuffer(raw, "<f2").astype(np.float32).reshape(S, D)
    scale = np.frombuffer(raw[:2 * S], "<f2").astype(np.float32)
    q = np.frombuffer(raw[2 * S:], np.int8).astype(np.float32).reshape(S, D)
    return q * scale[:, None]


@dataclass
class Window:
    frames: int
    rows: int
    cols: int
    f0: int = 0
    r0: int = 0
    c0: int = 0

    def token_index(self, grid: Tuple[int, int, int]) -> torch.Tensor:
        T, H, W = grid
        if self.f0 + self.frames > T or self.r0 + self.rows > H or self.c0 + self.cols > W:
            raise ValueError(f"window {self} does not fit the token grid {grid}")
        f = torch.arange(self.f0, self.f0 + self.frames)[:, None, None]
        r = torch.arange(self.r0, self.r0 + self.rows)[None, :, None]
        c = torch.arange(self.c0, self.c0 + self.cols)[None, None, :]
        return ((f * H + r) * W + c).reshape(-1)

    @property
    def seqlen(self) -> int:
        return self.frames * self.rows * self.cols


def centered_window(grid: Tuple[int, int, int], frames: int, rows: int, cols: int) -> Window:
    T, H, W = grid
    frames, rows, cols = min(frames, T), min(rows, H), min(cols, W)
    return Window(frames, rows, cols, 0, (H - rows) // 2, (W - cols) // 2)


@dataclass
class TrajectoryRecorder:
    """A model hook: at every call of the chosen layers on a recorded branch, keeps the window of
    q, k, v of the chosen heads of batch element `batch_index`, encoded at once."""
    layers: Sequence[int]
    heads: Sequence[int]
    window: Window
    grid: Tuple[int, int, int]
    encoding: int = 1
    batch_index: int = 0
    branches: Tuple[str, ...] = ("batched", "cond", "default")
    blocks: Dict[Tuple[int, int], List[List[bytes]]] = field(default_factory=dict)
    timesteps: List[float] = field(default_factory=list)
    head_dim: int = 0

    def __post_init__(self):
        self._index = self.window.token_index(self.grid)

    def on_step(self, step: int, t: float) -> None:
        self.timesteps.append(float(t))

    def __call__(self, attn, q, k, v, branch):
        if branch not in self.branches or attn.index not in self.layers:
            return None
        idx = self._index.to(q.device)
        self.head_dim = q.shape[-1]
        for h in self.heads:
            per = [encode(x[self.batch_index, :, h].index_select(0, idx).float().cpu().numpy(),
                          self.encoding) for x in (q, k, v)]
            self.blocks.setdefault((attn.index, h), []).append(per)
        return None

    def series(self) -> List[Tuple[int, int]]:
        return sorted(self.blocks)

    def size(self, series: Optional[Sequence[Tuple[int, int]]] = None) -> int:
        series = self.series() if series is None else series
        n = HEADER.size + 8 * len(series) + 4 * len(self.timesteps)
        return n + sum(4 + len(b) for s in series for step in self.blocks[s] for b in step)

    def write(self, path, scale: float, budget_bytes: Optional[int] = None) -> List[Tuple[int, int]]:
        """Writes the series that fit `budget_bytes` (dropping from the end; at least one must
        fit). Returns the series written."""
        series = self.series()
        if not series:
            raise ValueError("nothing recorded (no call matched the layers and branches)")
        while budget_bytes is not None and len(series) > 1 and self.size(series) > budget_bytes:
            series = series[:-1]
        if budget_bytes is not None and self.size(series) > budget_bytes:
            raise ValueError(f"one series takes {self.size(series)} bytes > budget "
                             f"{budget_bytes}: use a smaller window or int8")
        steps = len(self.blocks[series[0]])
        if len(self.timesteps) != steps:
            raise ValueError(f"{steps} recorded calls per series but {len(self.timesteps)} "
                             "steps: record one branch per step")
        w = self.window
        with open(path, "wb") as f:
            f.write(HEADER.pack(MAGIC, 1, steps, len(series), w.seqlen, self.head_dim,
                                self.encoding, w.frames, w.rows, w.cols, float(scale),
                                self.batch_index, 0, 0, 0))
            for layer, head in series:
                f.write(struct.pack("<II", layer, head))
            f.write(struct.pack(f"<{steps}f", *self.timesteps))
            for s in range(steps):
                for key in series:
                    for blob in self.blocks[key][s]:
                        f.write(struct.pack("<I", len(blob)))
                        f.write(blob)
        return series


def read_trajectory(path) -> dict:
    """The file as a dict: header fields, 'series' [(layer, head)], 'timesteps' [N],
    'qkv' float32 [N, P, 3, S, D]."""
    with open(path, "rb") as f:
        data = f.read()
    vals = HEADER.unpack_from(data, 0)
    if vals[0] != MAGIC or vals[1] != 1:
        raise ValueError(f"{path}: not a version-1 liteattn trajectory")
    keys = ("version", "steps", "series_count", "seqlen", "head_dim", "encoding", "frames",
            "rows", "cols", "scale", "batch_index")
    out = dict(zip(keys, vals[1:12]))
    N, P, S, D, enc = out["steps"], out["series_count"], out["seqlen"], out["head_dim"], \
        out["encoding"]
    off = HEADER.size
    pairs = struct.unpack_from(f"<{2 * P}I", data, off)
    out["series"] = list(zip(pairs[0::2], pairs[1::2]))
    off += 8 * P
    out["timesteps"] = list(struct.unpack_from(f"<{N}f", data, off))
    off += 4 * N
    qkv = np.zeros((N, P, 3, S, D), np.float32)
    for s in range(N):
        for p in range(P):
            for j in range(3):
                (n,) = struct.unpack_from("<I", data, off)
                off += 4
                qkv[s, p, j] = decode(data[off:off + n], enc, S, D)
                off += n
    if off != len(data):
        raise ValueError(f"{path}: {len(data) - off} trailing bytes")
    out["qkv"] = qkv
    return out
