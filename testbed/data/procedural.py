"""Seeded procedural video clips: 2-3 textured shapes of one kind moving with one kind of motion
(bouncing off the walls, orbiting, hopping on the floor), rotating, occluding each other in depth
order, over a slowly panning textured background. The class label is shape kind x motion kind.

Every random parameter of clip `i` is a counter-based hash of (seed, i, slot), computed with int64
tensor arithmetic, so a clip is the same on every device, batch size and order, and training can
resume at any clip index without saving a random-generator state."""
from __future__ import annotations

import math
from typing import Dict, Iterable, Optional, Tuple, Union

import torch

SHAPES = ("disc", "square", "triangle", "ring")
MOTIONS = ("bounce", "orbit", "hop")
NUM_CLASSES = len(SHAPES) * len(MOTIONS)
MAX_OBJECTS = 3
_M32 = 0xFFFFFFFF


def class_name(label: int) -> str:
    """'disc/bounce' etc. for a label in [0, NUM_CLASSES); NUM_CLASSES is the null class."""
    if label == NUM_CLASSES:
        return "null"
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"label = {label}: must be in [0, {NUM_CLASSES}]")
    return f"{SHAPES[label // len(MOTIONS)]}/{MOTIONS[label % len(MOTIONS)]}"


def _mul32(x: torch.Tensor, m: int) -> torch.Tensor:
    """(x * m) mod 2^32 for 0 <= x, m < 2^32 without int64 overflow (16-bit split)."""
    lo, hi = x & 0xFFFF, x >> 16
    return (lo * m + (((hi * m) & 0xFFFF) << 16)) & _M32


def _fmix32(x: torch.Tensor) -> torch.Tensor:
    """MurmurHash3's 32-bit finalizer: a bijection on [0, 2^32) with full avalanche."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x85EBCA6B)
    x = x ^ (x >> 13)
    x = _mul32(x, 0xC2B2AE35)
    return x ^ (x >> 16)


class _Hash:
    """Uniform [0, 1) numbers per clip index and parameter slot."""

    def __init__(self, indices: torch.Tensor, seed: int):
        self.idx = _mul32(indices.to(torch.int64) & _M32, 0x27D4EB2F)
        self.seed = int(seed) & _M32

    def __call__(self, slot: int) -> torch.Tensor:
        key = _fmix32(torch.tensor(self.seed ^ ((slot + 1) * 0x9E3779B9 & _M32)))
        return _fmix32(self.idx ^ key).to(torch.float64) / 2.0 ** 32

    def range(self, slot: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * self(slot)


def _hsv(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """RGB [..., 3] in [0, 1] from hue (turns), saturation, value."""
    k = torch.stack([torch.full_like(h, n) for n in (5.0, 3.0, 1.0)], -1)
    k = (k + h[..., None] * 6.0) % 6.0
    f = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return v[..., None] - v[..., None] * s[..., None] * f


def clip_params(indices: torch.Tensor, seed: int = 0,
                labels: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """Every random parameter of the clips `indices` (int64 [B]), in units of the frame size
    (positions, radii, speeds) so that one clip scales to any resolution. `labels` overrides the
    hashed class (e.g. to draw a requested class)."""
    u = _Hash(indices, seed)
    B, K = indices.shape[0], MAX_OBJECTS
    if labels is None:
        labels = torch.clamp((u(0) * NUM_CLASSES).long(), max=NUM_CLASSES - 1)
    labels = labels.to(torch.int64).cpu()
    if labels.shape != (B,) or bool(((labels < 0) | (labels >= NUM_CLASSES)).any()):
        raise ValueError(f"labels {labels.tolist()}: need {B} values in [0, {NUM_CLASSES})")
    p: Dict[str, torch.Tensor] = {"label": labels}
    p["shape"] = labels // len(MOTIONS)
    p["motion"] = labels % len(MOTIONS)
    p["count"] = 2 + (u(1) < 0.5).long()
    hb = u(2)
    p["bg_c1"] = _hsv(hb, u.range(3, 0.0, 0.35), u.range(4, 0.25, 0.5))
    p["bg_c2"] = _hsv((hb + u.range(5, -0.1, 0.1)) % 1.0, u.range(6, 0.0, 0.35),
                      u.range(7, 0.05, 0.25))
    ang = u.range(8, 0.0, 2 * math.pi)
    speed = u.range(9, 0.003, 0.012)  # frame widths per frame: a slow pan
    p["bg_vel"] = torch.stack([speed * torch.cos(ang), speed * torch.sin(ang)], -1)
    p["bg_freq"] = torch.stack([u.range(10 + j, 1.0, 4.0) for j in range(3)], -1)
    p["bg_dir"] = torch.stack([u.range(13 + j, 0.0, math.pi) for j in range(3)], -1)
    p["bg_phase"] = torch.stack([u.range(16 + j, 0.0, 2 * math.pi) for j in range(3)], -1)
    p["bg_amp"] = torch.stack([u.range(19 + j, 0.3, 1.0) for j in range(3)], -1)

    def obj(j: int, lo: float, hi: float) -> torch.Tensor:  # [B, K]
        return torch.stack([u.range(100 + 20 * k + j, lo, hi) for k in range(K)], -1)

    p["radius"] = obj(0, 0.11, 0.19)
    p["x0"], p["y0"] = obj(1, 0.0, 1.0), obj(2, 0.0, 1.0)
    ang = obj(3, 0.0, 2 * math.pi)
    spd = obj(4, 0.02, 0.045)
    p["vx"], p["vy"] = spd * torch.cos(ang), spd * torch.sin(ang)
    p["orbit_r"] = obj(5, 0.12, 0.28)
    p["orbit_w"] = obj(6, 0.15, 0.3) * torch.where(obj(7, 0, 1) < 0.5, -1.0, 1.0)
    p["phase"] = obj(8, 0.0, 2 * math.pi)
    p["hop_h"] = obj(9, 0.2, 0.5)
    p["hop_period"] = obj(10, 8.0, 16.0)
    p["rot0"] = obj(11, 0.0, 2 * math.pi)
    p["rot_w"] = obj(12, -0.12, 0.12)
    hue = obj(13, 0.0, 1.0)
    p["c1"] = _hsv(hue, obj(14, 0.6, 1.0), obj(15, 0.75, 1.0))
    p["c2"] = _hsv((hue + obj(16, 0.35, 0.65)) % 1.0, obj(17, 0.3, 0.8), obj(18, 0.45, 0.8))
    p["stripe_f"] = obj(19, 0.5, 1.4)  # radians per pixel at 64 px, scaled below
    p["stripe_dir"] = torch.stack([u.range(200 + k, 0.0, math.pi) for k in range(K)], -1)
    p["stripe_phase"] = torch.stack([u.range(210 + k, 0.0, 2 * math.pi) for k in range(K)], -1)
    return p


def _reflect(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """x folded into [lo, hi] as a ball bouncing between two walls (a triangle wave)."""
    span = (hi - lo).clamp_min(1e-6)
    y = torch.remainder(x - lo, 2 * span)
    return lo + span - (y - span).abs()


def _trajectories(p: Dict[str, torch.Tensor], t: torch.Tensor, size: int):
    """Centres (x, y) in pixels and rotation angle, each [B, K, T]."""
    S = float(size)
    r = p["radius"][..., None] * S
    tt = t[None, None, :]
    lo, hi = r + 1.0, S - r - 1.0
    bx = _reflect(p["x0"][..., None] * S + p["vx"][..., None] * S * tt, lo, hi)
    by = _reflect(p["y0"][..., None] * S + p["vy"][..., None] * S * tt, lo, hi)
    R = torch.minimum(p["orbit_r"][..., None] * S, S / 2 - r - 1.0).clamp_min(0.0)
    room = (S / 2 - R - r - 1.0).clamp_min(0.0)
    cx = S / 2 + (p["x0"][..., None] * 2 - 1) * room
    cy = S / 2 + (p["y0"][..., None] * 2 - 1) * room
    ang = p["orbit_w"][..., None] * tt + p["phase"][..., None]
    ox, oy = cx + R * torch.cos(ang), cy + R * torch.sin(ang)
    hx = _reflect(p["x0"][..., None] * S + 0.5 * p["vx"][..., None] * S * tt, lo, hi)
    floor = S - r - 1.0
    height = torch.minimum(p["hop_h"][..., None] * S, floor - r - 1.0)
    hy = floor - height * torch.sin(math.pi * tt / p["hop_period"][..., None]
                                     + p["phase"][..., None]).abs()
    m = p["motion"][:, None, None]
    x = torch.where(m == 0, bx, torch.where(m == 1, ox, hx))
    y = torch.where(m == 0, by, torch.where(m == 1, oy, hy))
    rot = p["rot0"][..., None] + p["rot_w"][..., None] * tt
    return x, y, rot


def _sdf(shape: torch.Tensor, lx: torch.Tensor, ly: torch.Tensor,
         r: torch.Tensor) -> torch.Tensor:
    """Signed distance (pixels, < 0 inside) of each clip's shape kind in local coordinates."""
    rad = torch.sqrt(lx * lx + ly * ly)
    disc = rad - r
    square = torch.maximum(lx.abs(), ly.abs()) - 0.85 * r
    tri = None
    for k in range(3):  # equilateral triangle: three half-planes at inradius r/2
        a = math.pi / 2 + 2 * math.pi * k / 3
        e = lx * math.cos(a) + ly * math.sin(a) - 0.55 * r
        tri = e if tri is None else torch.maximum(tri, e)
    ring = (rad - 0.68 * r).abs() - 0.3 * r
    s = shape.view(-1, *([1] * (lx.dim() - 1)))
    return torch.where(s == 0, disc, torch.where(s == 1, square, torch.where(s == 2, tri, ring)))


def render(p: Dict[str, torch.Tensor], frames: int = 16, size: int = 64,
           device: Union[str, torch.device] = "cpu",
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Clips [B, T, 3, H, W] in [-1, 1] from clip_params (computed in float32 on `device`)."""
    dev = torch.device(device)
    q = {k: (v.to(dev, torch.float32) if v.is_floating_point() else v.to(dev))
         for k, v in p.items()}
    B = q["label"].shape[0]
    S = float(size)
    t = torch.arange(frames, device=dev, dtype=torch.float32)
    pix = torch.arange(size, device=dev, dtype=torch.float32) + 0.5
    yy, xx = pix[:, None], pix[None, :]
    # background: three gratings panning together
    vel = q["bg_vel"] * S  # [B, 2] pixels per frame
    bx = xx[None, None] - vel[:, 0, None, None, None] * t[None, :, None, None]  # [B, T, H, W]
    by = yy[None, None] - vel[:, 1, None, None, None] * t[None, :, None, None]
    g = torch.zeros(B, frames, size, size, device=dev)
    for j in range(3):
        d = q["bg_dir"][:, j, None, None, None]
        f = q["bg_freq"][:, j, None, None, None] * 2 * math.pi / S
        g = g + q["bg_amp"][:, j, None, None, None] * torch.sin(
            f * (torch.cos(d) * bx + torch.sin(d) * by) + q["bg_phase"][:, j, None, None, None])
    w = (0.5 + 0.5 * torch.tanh(g))[:, :, None]  # [B, T, 1, H, W]
    c1, c2 = q["bg_c1"][:, None, :, None, None], q["bg_c2"][:, None, :, None, None]
    video = c1 * w + c2 * (1 - w)
    # objects, back to front
    cx, cy, rot = _trajectories(q, t, size)
    r = q["radius"] * S
    for k in range(MAX_OBJECTS):
        dx = xx[None, None] - cx[:, k, :, None, None]  # [B, T, H, W]
        dy = yy[None, None] - cy[:, k, :, None, None]
        cs, sn = torch.cos(rot[:, k, :, None, None]), torch.sin(rot[:, k, :, None, None])
        lx, ly = cs * dx + sn * dy, -sn * dx + cs * dy
        rk = r[:, k, None, None, None]
        alpha = torch.clamp(0.5 - _sdf(q["shape"], lx, ly, rk), 0.0, 1.0)
        alpha = alpha * (q["count"] > k).float()[:, None, None, None]
        sd = q["stripe_dir"][:, k, None, None, None]
        freq = q["stripe_f"][:, k, None, None, None] * 64.0 / S
        stripe = 0.5 + 0.5 * torch.tanh(3.0 * torch.sin(
            freq * (torch.cos(sd) * lx + torch.sin(sd) * ly) + q["stripe_phase"][:, k, None,
                                                                                 None, None]))
        shade = 1.0 - 0.25 * (torch.sqrt(lx * lx + ly * ly) / rk).clamp(max=1.0) ** 2
        col = (q["c1"][:, k, None, :, None, None] * stripe[:, :, None]
               + q["c2"][:, k, None, :, None, None] * (1 - stripe[:, :, None]))
        col = col * shade[:, :, None]
        a = alpha[:, :, None]
        video = video * (1 - a) + col * a
    return (video * 2 - 1).clamp(-1, 1).to(dtype)


def make_batch(indices: Union[Iterable[int], torch.Tensor], seed: int = 0, frames: int = 16,
               size: int = 64, device: Union[str, torch.device] = "cpu",
               labels: Optional[Union[Iterable[int], torch.Tensor]] = None,
               dtype: torch.dtype = torch.float32) -> Tuple[torch.Tensor, torch.Tensor]:
    """(clips [B, T, 3, H, W] in [-1, 1], labels int64 [B]) for the clip indices given; the same
    index and seed always give the same clip. `labels` forces the classes."""
    idx = torch.as_tensor(list(indices) if not isinstance(indices, torch.Tensor) else indices,
                          dtype=torch.int64).cpu()
    if idx.dim() != 1 or idx.numel() == 0 or bool((idx < 0).any()):
        raise ValueError("indices must be a non-empty 1-d list of clip indices >= 0")
    lab = None if labels is None else torch.as_tensor(
        list(labels) if not isinstance(labels, torch.Tensor) else labels, dtype=torch.int64)
    p = clip_params(idx, seed, lab)
    return render(p, frames, size, device, dtype), p["label"].to(device)
