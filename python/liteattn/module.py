"""LiteAttention: the stateful nn.Module, one per attention layer. It keeps one C state
(liteattn_state_t) and one ping-pong mask buffer per guidance branch; the C state decides which
half each call reads and writes (liteattn_state_prepare / liteattn_state_advance), the torch op
does the call. Thresholds follow a per-call schedule; densities and heatmaps come from the masks."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from . import _lib
from .numpy_api import mask_bits, mask_density
from .ops import dims, dtype_code, flat_ranges
from .png import heatmap, write_png

Schedule = Union[float, Sequence[float], Callable[[int], float]]


@dataclass
class _Branch:
    """One guidance branch's state: the C struct over a device mask buffer of 2 * words."""
    key: tuple
    heads: int
    batch: int
    masks: torch.Tensor
    c: _lib.liteattn_state_t
    last_read: Optional[int] = None  # half the last call read (None: full read)
    last_call: int = -1
    history: List[dict] = field(default_factory=list)

    @property
    def words(self) -> int:
        return self.c.geom.words

    def half(self, i: int) -> torch.Tensor:
        return self.masks[i * self.words:(i + 1) * self.words]

    def half_of(self, ptr: Optional[int]) -> Optional[int]:
        if not ptr:
            return None
        return (ptr - self.masks.data_ptr()) // 4 // self.words


class LiteAttention(nn.Module):
    """Temporal sparse attention for one attention layer.

    Args:
      threshold: per-call threshold (log2 units, <= 0): a constant, a list indexed by the call
        number since reset (the last value repeats), or a callable(call) -> float.
        -inf marks nothing (dense, exact).
      criterion: 'mass' (a skipped tile holds < 2^thr of its row's softmax mass) or 'peak'.
      dense_calls: the first N calls after reset compute everything and mark nothing.
      refresh_every: every N-th call re-derives the mask from a full read (0 = never).
      must_do_k / must_do_q: (begin, end) token ranges always computed / never skipped.
      layout: 'bshd' (q is [B, S, H, D]) or 'bhsd' ([B, H, S, D]); any strides.
      record_density: keep a per-call history of densities (copies masks to the host each call,
        which synchronizes a CUDA stream; off by default, see `density()` for the lazy form).

    forward(q, k, v, branch=...) keeps a separate state per branch key ('cond', 'uncond', ...).
    A change of shape, dtype or device, or of dense_calls / refresh_every, re-initialises that
    branch's state (full mask). The ping-pong state lives on the host: do not capture the module
    in one CUDA graph across steps (a replay would reuse one call's read/write halves); capture
    the op, or one graph per ping-pong phase (python/tests_gpu/test_gpu_op.py)."""

    def __init__(self, threshold: Schedule = -10.0, criterion: str = "mass",
                 dense_calls: int = 0, refresh_every: int = 0,
                 must_do_k: Sequence[Tuple[int, int]] = (),
                 must_do_q: Sequence[Tuple[int, int]] = (), layout: str = "bshd",
                 scale: Optional[float] = None, record_density: bool = False):
        super().__init__()
        self.threshold = threshold
        self.criterion = criterion
        self.dense_calls = int(dense_calls)
        self.refresh_every = int(refresh_every)
        self.must_do_k = list(must_do_k)
        self.must_do_q = list(must_do_q)
        self.layout = layout
        self.scale = scale
        self.record_density = record_density
        self.enabled = True
        self._branches: Dict[str, _Branch] = {}

    # ---- state ---------------------------------------------------------------------------
    def reset(self, branch: Optional[str] = None) -> None:
        """A new video: every branch (or one) reads a full mask next and restarts its count."""
        for name, b in self._branches.items():
            if branch is None or name == branch:
                _lib.check(_lib.lib().liteattn_state_reset(ctypes.byref(b.c)),
                           "liteattn_state_reset")
                b.last_read, b.last_call = None, -1
                b.history.clear()

    @property
    def branches(self) -> List[str]:
        return list(self._branches)

    def calls(self, branch: str = "default") -> int:
        """Calls since init/reset on this branch (0 if the branch never ran)."""
        b = self._branches.get(branch)
        return 0 if b is None else b.c.calls

    def threshold_at(self, call: int) -> float:
        t = self.threshold
        if callable(t):
            return float(t(call))
        if isinstance(t, (list, tuple)):
            return float(t[min(call, len(t) - 1)])
        return float(t)

    @torch.compiler.disable  # host-side ctypes state: run eagerly, never traced
    def _branch(self, q, k, branch: str) -> _Branch:
        B, Sq, Hq, D = dims(q, self.layout)
        Sk = dims(k, self.layout)[1]
        # A new shape, dtype, device or policy makes a new state (and a full first read).
        key = (B, Hq, Sq, Sk, D, q.dtype, q.device, self.dense_calls, self.refresh_every)
        b = self._branches.get(branch)
        if b is not None and b.key == key:
            return b
        code = dtype_code(q.dtype)
        geom = _lib.mask_geometry(B, Hq, Sq, Sk, D, code)
        masks = torch.zeros(2 * geom.words, dtype=torch.int32, device=q.device)
        c = _lib.liteattn_state_t()
        policy = _lib.liteattn_policy_t(self.dense_calls, self.refresh_every)
        _lib.check(_lib.lib().liteattn_state_init(ctypes.byref(c), B, Hq, Sq, Sk, D, code,
                                                  masks.data_ptr(), masks.numel(),
                                                  ctypes.byref(policy)),
                   "liteattn_state_init", "policy")
        b = _Branch(key=key, heads=Hq, batch=B, masks=masks, c=c)
        self._branches[branch] = b
        return b

    # ---- the call ------------------------------------------------------------------------
    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, branch: str = "default",
                *, threshold: Optional[float] = None,
                must_do_k: Optional[Sequence[Tuple[int, int]]] = None,
                must_do_q: Optional[Sequence[Tuple[int, int]]] = None,
                return_lse: bool = False):
        """Attention over q, k, v through this layer's state for `branch`. `threshold`
        overrides the schedule for this call; must-do ranges override the module's."""
        if q.dim() != 4 or k.dim() != 4:
            raise _lib.LiteAttnError(f"q {tuple(q.shape)} and k {tuple(k.shape)} must be 4-d "
                                     f"({self.layout})", argument="q")
        b, read, write, thr, call = self._begin(q, k, branch, threshold)
        o, lse = self.run_op(q, k, v, b, read, write, thr, must_do_k, must_do_q, return_lse)
        self._end(b, read, call, thr)
        return (o, lse) if return_lse else o

    @torch.compiler.disable  # host-side ctypes state: run eagerly, never traced
    def _begin(self, q, k, branch: str, threshold: Optional[float]):
        """State bookkeeping before the op: (branch, read half, write half, threshold, call)."""
        b, read, write = self.prepare(q, k, branch)
        thr = self.threshold_at(b.c.calls) if threshold is None else float(threshold)
        if not self.enabled:
            read = write = None
        return b, read, write, thr, b.c.calls

    @torch.compiler.disable  # host-side ctypes state: run eagerly, never traced
    def _end(self, b: _Branch, read: Optional[int], call: int, thr: float) -> None:
        """State bookkeeping after the op: flip the ping-pong, record statistics."""
        if self.enabled:
            self.advance(b)
        b.last_read, b.last_call = read, call
        if self.record_density:
            total, per_head = self._density_of(b, read)
            b.history.append({"call": call, "threshold": thr, "density": total,
                              "per_head": per_head})

    @torch.compiler.disable  # host-side ctypes state: run eagerly, never traced
    def prepare(self, q: torch.Tensor, k: torch.Tensor,
                branch: str) -> Tuple[_Branch, Optional[int], Optional[int]]:
        """The branch state (made or re-made for these shapes) and which mask halves its next
        call reads and writes (None: full read / no marking), as liteattn_state_prepare says."""
        b = self._branch(q, k, branch)
        a = _lib.fwd_args_init()
        Bq, Sq, Hq, D = dims(q, self.layout)
        a.q.batch, a.q.seqlen, a.q.heads, a.q.head_dim = Bq, Sq, Hq, D
        a.q.dtype = dtype_code(q.dtype)
        a.k.seqlen = dims(k, self.layout)[1]
        _lib.check(_lib.lib().liteattn_state_prepare(ctypes.byref(b.c), ctypes.byref(a)),
                   "liteattn_state_prepare")
        return (b, b.half_of(ctypes.cast(a.read_mask, ctypes.c_void_p).value),
                b.half_of(ctypes.cast(a.write_mask, ctypes.c_void_p).value))

    @torch.compiler.disable  # host-side ctypes state: run eagerly, never traced
    def advance(self, b: _Branch) -> None:
        _lib.check(_lib.lib().liteattn_state_advance(ctypes.byref(b.c)), "liteattn_state_advance")

    def run_op(self, q, k, v, b: _Branch, read: Optional[int], write: Optional[int],
               threshold: float, must_do_k=None, must_do_q=None, return_lse: bool = False):
        """One op call reading/writing the given halves of b's buffer (no state change)."""
        return torch.ops.liteattn.fwd(
            q, k, v, None if read is None else b.half(read),
            None if write is None else b.half(write), self.layout,
            0.0 if self.scale is None else float(self.scale), float(threshold),
            _lib.criterion_code(self.criterion),
            flat_ranges(self.must_do_k if must_do_k is None else must_do_k),
            flat_ranges(self.must_do_q if must_do_q is None else must_do_q), return_lse)

    # ---- statistics ----------------------------------------------------------------------
    def _host_mask(self, b: _Branch, half: int) -> np.ndarray:
        return b.half(half).detach().cpu().numpy().view(np.uint32)

    @torch.compiler.disable  # host-side ctypes state: run eagerly, never traced
    def _density_of(self, b: _Branch, half: Optional[int]) -> Tuple[float, np.ndarray]:
        if half is None:
            return 1.0, np.ones(b.batch * b.heads, dtype=np.float32)
        return mask_density(self._host_mask(b, half), b.c.geom, b.heads)

    def _ran(self, branch: str) -> _Branch:
        b = self._branches.get(branch)
        if b is None:
            raise _lib.LiteAttnError(f"branch = {branch!r} has not run (have {self.branches})",
                                     argument="branch")
        return b

    def _half(self, b: _Branch, which: str) -> Optional[int]:
        """The mask half `which` names: 'last' = what the latest call read, 'next' = what the
        next call will read (liteattn_state_prepare decides: None for a full read, e.g. a dense
        or refresh call)."""
        if which == "last":
            return b.last_read
        if which != "next":
            raise _lib.LiteAttnError(f"which = {which!r}: use 'last' or 'next'", argument="which")
        a = _lib.fwd_args_init()
        a.q.batch, a.q.heads, a.q.seqlen = b.c.batch, b.c.heads_q, b.c.seqlen_q
        a.q.head_dim, a.q.dtype, a.k.seqlen = b.c.head_dim, b.c.dtype, b.c.seqlen_k
        _lib.check(_lib.lib().liteattn_state_prepare(ctypes.byref(b.c), ctypes.byref(a)),
                   "liteattn_state_prepare")
        return b.half_of(ctypes.cast(a.read_mask, ctypes.c_void_p).value)

    def density(self, branch: str = "default", which: str = "last") -> Tuple[float, np.ndarray]:
        """(total, per (b, head) array) density. which='last': the tiles the most recent call
        computed; which='next': the mask the next call will read (1.0 if full). Copies one
        mask to the host."""
        b = self._ran(branch)
        return self._density_of(b, self._half(b, which))

    def history(self, branch: str = "default") -> List[dict]:
        """Per-call densities recorded since reset (record_density=True)."""
        b = self._branches.get(branch)
        return [] if b is None else list(b.history)

    def mask(self, branch: str = "default", which: str = "next") -> np.ndarray:
        """The mask as bools [B, Hq, Tq, Tk] (all True when the read is full)."""
        b = self._ran(branch)
        half = self._half(b, which)
        g = b.c.geom
        if half is None:
            return np.ones((b.batch, b.heads, g.tiles_q, g.tiles_k), dtype=bool)
        return mask_bits(self._host_mask(b, half), g, b.batch, b.heads)

    def save_heatmap(self, path, branch: str = "default", batch: int = 0, which: str = "next",
                     scale: int = 4) -> None:
        """Writes the mask of one batch element as a PNG: one panel per head, rows = query
        tiles, columns = key tiles, light = computed, dark = skipped."""
        write_png(path, heatmap(self.mask(branch, which)[batch], scale=scale))

    def extra_repr(self) -> str:
        thr = self.threshold if not callable(self.threshold) else "schedule"
        return (f"threshold={thr}, criterion={self.criterion}, dense_calls={self.dense_calls}, "
                f"refresh_every={self.refresh_every}, layout={self.layout}")

