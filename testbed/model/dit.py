"""A small video DiT: 3D patches in frame-major token order, 3D RoPE, QK RMSNorm, adaLN-zero
conditioning on timestep and class (class NUM_CLASSES is the null class of classifier-free
guidance). Self-attention runs through torch SDPA (training; liteattn has no backward) or through
liteattn's LiteAttention (inference): the same weights run dense or skipping.

Attention implementations (`VideoDiT.set_attention`):
  'sdpa'      torch.nn.functional.scaled_dot_product_attention;
  'dense'     LiteAttention with skipping off (full read, no marking): liteattn's dense kernel;
  'liteattn'  LiteAttention with the given threshold / criterion / refresh_every.
Observers (`VideoDiT.runtime.hooks`) see every attention call's q, k, v [B, S, H, D] after RoPE
and may answer it (the first non-None answer is the output): evaluation, calibration and the
trajectory recorder use them."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, List, Optional

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DiTConfig:
    frames: int = 16
    size: int = 64
    channels: int = 3
    patch_t: int = 1
    patch_s: int = 4
    heads: int = 2
    head_dim: int = 128
    depth: int = 8
    mlp_ratio: float = 4.0
    num_classes: int = 12
    qk_norm: bool = True
    adaln: str = "single"  # 'single': one shared modulation MLP + per-block offsets; 'block'
    rope_theta: float = 100.0

    @property
    def hidden(self) -> int:
        return self.heads * self.head_dim

    @property
    def grid(self):
        return (self.frames // self.patch_t, self.size // self.patch_s,
                self.size // self.patch_s)

    @property
    def tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def patch_dim(self) -> int:
        return self.channels * self.patch_t * self.patch_s ** 2

    def validate(self) -> None:
        if self.frames % self.patch_t or self.size % self.patch_s:
            raise ValueError(f"clip {self.frames}x{self.size} is not a multiple of the patch "
                             f"{self.patch_t}x{self.patch_s}x{self.patch_s}")
        if self.adaln not in ("single", "block"):
            raise ValueError(f"adaln = {self.adaln!r}: use 'single' or 'block'")


CONFIGS = {
    # 16 frames x 64x64 px, 1x4x4 patches: 16 x 16 x 16 = 4096 tokens; ~7.0M parameters
    # (~14 MB in bf16); 2 heads of 128.
    "default": DiTConfig(),
    # CPU tests and the pipeline dry run: 8 x 32x32 px = 512 tokens (4 tiles of 128).
    "tiny": DiTConfig(frames=8, size=32, heads=1, depth=2),
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) \
            * self.weight.to(x.dtype)


def rope_tables(cfg: DiTConfig, device=None):
    """cos, sin [S, D/2] for 3D RoPE over (frame, row, column), frame-major token order. The head
    dim splits into D/4 rotary dims for time and 3D/8 each for rows and columns."""
    D = cfg.head_dim
    dt = (D // 4) // 2 * 2
    dh = ((D - dt) // 2) // 2 * 2
    dw = D - dt - dh
    T, H, W = cfg.grid
    tt, hh, ww = torch.meshgrid(torch.arange(T), torch.arange(H), torch.arange(W), indexing="ij")
    angles = []
    for pos, d in ((tt, dt), (hh, dh), (ww, dw)):
        inv = cfg.rope_theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        angles.append(pos.reshape(-1, 1).double() * inv[None])
    a = torch.cat(angles, -1)  # [S, D/2]
    return torch.cos(a).float().to(device), torch.sin(a).float().to(device)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, S, H, D]: rotates the pairs (x[2i], x[2i+1]) by the angle of pair i."""
    xf = x.float().unflatten(-1, (-1, 2))
    c, s = cos[None, :, None], sin[None, :, None]
    x0, x1 = xf[..., 0], xf[..., 1]
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).flatten(-2).to(x.dtype)


@dataclass
class Runtime:
    """Per-model inference state shared by the attention layers: observers and timing."""
    hooks: List[Callable] = field(default_factory=list)
    time_attention: bool = False
    attention_seconds: float = 0.0
    _events: list = field(default_factory=list)

    def collect(self) -> float:
        """Adds the recorded CUDA event pairs to attention_seconds (synchronizes)."""
        if self._events:
            torch.cuda.synchronize()
            self.attention_seconds += sum(a.elapsed_time(b) for a, b in self._events) / 1e3
            self._events.clear()
        return self.attention_seconds


class Attention(nn.Module):
    def __init__(self, cfg: DiTConfig, index: int, runtime: Runtime):
        super().__init__()
        d = cfg.hidden
        self.cfg, self.index = cfg, index
        self.qualname = f"blocks.{index}.attn"
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.q_norm = RMSNorm(cfg.head_dim) if cfg.qk_norm else nn.Identity()
        self.k_norm = RMSNorm(cfg.head_dim) if cfg.qk_norm else nn.Identity()
        self.impl = "sdpa"
        self.layer = None  # liteattn.LiteAttention, made by VideoDiT.set_attention
        self._runtime = [runtime]  # a list: not registered as a submodule or buffer

    @property
    def runtime(self) -> Runtime:
        return self._runtime[0]

    def attend(self, q, k, v, branch: str):
        """Attention core on q, k, v [B, S, H, D] (after RoPE)."""
        out = None
        for hook in self.runtime.hooks:
            r = hook(self, q, k, v, branch)
            if out is None and r is not None:
                out = r
        if out is not None:
            return out
        if self.impl == "sdpa":
            return F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)
        return self.layer(q, k, v, branch)

    def forward(self, x, cos, sin, branch: str = "default"):
        B, S, _ = x.shape
        qkv = self.qkv(x).view(B, S, 3, self.cfg.heads, self.cfg.head_dim)
        q = apply_rope(self.q_norm(qkv[:, :, 0]), cos, sin)
        k = apply_rope(self.k_norm(qkv[:, :, 1]), cos, sin)
        v = qkv[:, :, 2].contiguous()
        rt = self.runtime
        if rt.time_attention:
            if q.is_cuda:
                ev = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                ev[0].record()
                o = self.attend(q, k, v, branch)
                ev[1].record()
                rt._events.append(ev)
            else:
                t0 = time.perf_counter()
                o = self.attend(q, k, v, branch)
                rt.attention_seconds += time.perf_counter() - t0
        else:
            o = self.attend(q, k, v, branch)
        return self.proj(o.reshape(B, S, -1))


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class Block(nn.Module):
    def __init__(self, cfg: DiTConfig, index: int, runtime: Runtime):
        super().__init__()
        d = cfg.hidden
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(cfg, index, runtime)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hid = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hid), nn.GELU(approximate="tanh"),
                                 nn.Linear(hid, d))
        if cfg.adaln == "single":  # offsets on the shared modulation (adaLN-single, zero init)
            self.mod = nn.Parameter(torch.zeros(6, d))
        else:
            self.mod = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
            nn.init.zeros_(self.mod[1].weight)
            nn.init.zeros_(self.mod[1].bias)

    def forward(self, x, c, shared, cos, sin, branch):
        if isinstance(self.mod, nn.Parameter):
            m = shared + self.mod[None].to(shared.dtype)
        else:
            m = self.mod(c).unflatten(1, (6, -1))
        sh1, sc1, g1, sh2, sc2, g2 = m.unbind(1)
        x = x + g1[:, None] * self.attn(modulate(self.norm1(x), sh1, sc1), cos, sin, branch)
        return x + g2[:, None] * self.mlp(modulate(self.norm2(x), sh2, sc2))


def timestep_embedding(t: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1] (scaled to [0, 1000])."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    a = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], -1)


class VideoDiT(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        d = cfg.hidden
        self.runtime = Runtime()
        self.patch_embed = nn.Linear(cfg.patch_dim, d)
        self.t_embed = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.y_embed = nn.Embedding(cfg.num_classes + 1, d)  # last row: the null class
        self.blocks = nn.ModuleList(Block(cfg, i, self.runtime) for i in range(cfg.depth))
        self.shared_mod = None
        if cfg.adaln == "single":
            self.shared_mod = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
            nn.init.zeros_(self.shared_mod[1].weight)
            nn.init.zeros_(self.shared_mod[1].bias)
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_mod = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.final = nn.Linear(d, cfg.patch_dim)
        for m in (self.final_mod[1], self.final):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        nn.init.normal_(self.y_embed.weight, std=0.02)
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    @property
    def null_class(self) -> int:
        return self.cfg.num_classes

    # ---- tokens <-> clips (frame-major: token = (t * H' + h) * W' + w) ------------------------
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        B, T, C, H, W = x.shape
        pt, ps = c.patch_t, c.patch_s
        x = x.reshape(B, T // pt, pt, C, H // ps, ps, W // ps, ps)
        x = x.permute(0, 1, 4, 6, 2, 3, 5, 7)  # B, T', H', W', pt, C, ps, ps
        return x.reshape(B, -1, pt * C * ps * ps)

    def unpatchify(self, tok: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        T, H, W = c.grid
        pt, ps = c.patch_t, c.patch_s
        B = tok.shape[0]
        x = tok.reshape(B, T, H, W, pt, c.channels, ps, ps).permute(0, 1, 4, 5, 2, 6, 3, 7)
        return x.reshape(B, T * pt, c.channels, H * ps, W * ps)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor,
                branch: str = "default") -> torch.Tensor:
        """x [B, T, C, H, W], t [B] in [0, 1] (1 = noise), y [B] class (null_class = none):
        the predicted velocity (noise - data) [B, T, C, H, W]."""
        if tuple(x.shape[1:]) != (self.cfg.frames, self.cfg.channels, self.cfg.size,
                                  self.cfg.size):
            raise ValueError(f"x has shape {tuple(x.shape)}: this model takes [B, "
                             f"{self.cfg.frames}, {self.cfg.channels}, {self.cfg.size}, "
                             f"{self.cfg.size}]")
        dtype = self.patch_embed.weight.dtype if not torch.is_autocast_enabled() else x.dtype
        h = self.patch_embed(self.patchify(x.to(dtype)))
        c = self.t_embed(timestep_embedding(t).to(h.dtype)) + self.y_embed(y)
        shared = None if self.shared_mod is None else self.shared_mod(c).unflatten(1, (6, -1))
        for blk in self.blocks:
            h = blk(h, c, shared, self.rope_cos, self.rope_sin, branch)
        sh, sc = self.final_mod(c).chunk(2, dim=1)
        out = self.final(modulate(self.final_norm(h), sh, sc))
        return self.unpatchify(out).to(x.dtype)

    # ---- attention backends ----------------------------------------------------------------
    def attention_layers(self) -> List[Attention]:
        return [b.attn for b in self.blocks]

    def set_attention(self, impl: str, threshold=-10.0, criterion: str = "mass",
                      refresh_every: int = 0, dense_calls: int = 0,
                      record_density: bool = False) -> None:
        """'sdpa', 'dense' (liteattn, nothing skipped) or 'liteattn'. Makes fresh LiteAttention
        states (a new policy needs new C states). `threshold`: a constant, a per-step list, or a
        dict layer qualname -> per-step list (calibration)."""
        if impl not in ("sdpa", "dense", "liteattn"):
            raise ValueError(f"impl = {impl!r}: use 'sdpa', 'dense' or 'liteattn'")
        if impl != "sdpa":
            from liteattn import LiteAttention
        for a in self.attention_layers():
            a.impl = impl
            if impl == "sdpa":
                a.layer = None
                continue
            thr = threshold[a.qualname] if isinstance(threshold, dict) else threshold
            a.layer = LiteAttention(threshold=-math.inf if impl == "dense" else thr,
                                    criterion=criterion, refresh_every=refresh_every,
                                    dense_calls=dense_calls, layout="bshd",
                                    record_density=record_density)
            a.layer.enabled = impl == "liteattn"

    def reset(self) -> None:
        """A new generation: every LiteAttention state reads a full mask next."""
        for a in self.attention_layers():
            if a.layer is not None:
                a.layer.reset()

    def config_dict(self) -> dict:
        return asdict(self.cfg)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_weights(model: VideoDiT, path, dtype: torch.dtype = torch.bfloat16,
                 extra: Optional[dict] = None) -> None:
    """Weights (cast to `dtype`) and the config in one torch.save file."""
    sd = {k: v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()
          for k, v in model.state_dict().items()}
    torch.save({"config": model.config_dict(), "state_dict": sd, "extra": extra or {}}, path)


def load_weights(path, device="cpu", dtype: torch.dtype = torch.float32) -> VideoDiT:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = VideoDiT(DiTConfig(**blob["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in blob["state_dict"].items()})
    return model.to(device=device, dtype=dtype)
