"""Euler sampler of the rectified flow with classifier-free guidance, dense or liteattn.

    python3 testbed/sample.py --weights testbed/weights/dit.pt --labels all --out out/samples \
        [--attention liteattn --threshold -6 --criterion mass --refresh-every 10] \
        [--cfg 4 --cfg-mode batched|separate --steps 30]

Guidance v = v_uncond + w (v_cond - v_uncond), in two forms: 'batched' (cond and uncond in one
batch of 2B, branch 'batched': each batch element has its own mask rows) and 'separate' (two
model calls per step, branches 'cond' and 'uncond': each has its own LiteAttention state).
Noise of clip i comes from seed * 100003 + i, so a clip is the same in any batch and setting."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from testbed.common import clip_grid, pick_device, write_png  # noqa: E402
from testbed.data import NUM_CLASSES, class_name  # noqa: E402
from testbed.model import CONFIGS, VideoDiT, load_weights  # noqa: E402

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "dit.pt"
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def timesteps(steps: int, shift: float = 1.0) -> List[float]:
    """steps + 1 times from 1 (noise) to 0 (data); shift > 1 spends more steps at high noise."""
    out = []
    for i in range(steps + 1):
        t = 1.0 - i / steps
        out.append(shift * t / (1.0 + (shift - 1.0) * t))
    return out


def initial_noise(model: VideoDiT, n: int, seed: int, first: int = 0) -> torch.Tensor:
    c = model.cfg
    xs = [torch.randn(c.frames, c.channels, c.size, c.size,
                      generator=torch.Generator().manual_seed(seed * 100003 + first + i))
          for i in range(n)]
    return torch.stack(xs)


@torch.no_grad()
def generate(model: VideoDiT, labels: Sequence[int], seed: int = 0, steps: int = 30,
             cfg: float = 4.0, cfg_mode: str = "batched", shift: float = 1.0,
             on_step: Optional[Callable[[int, float], None]] = None,
             noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Clips [B, T, C, H, W] in [-1, 1] (float32) for the class labels. The model's attention
    states are reset first (a new generation)."""
    if steps < 1:
        raise ValueError(f"steps = {steps}: need >= 1")
    if cfg_mode not in ("batched", "separate"):
        raise ValueError(f"cfg_mode = {cfg_mode!r}: use 'batched' or 'separate'")
    dev = next(model.parameters()).device
    # the state stays float32 whatever the model's dtype (30 bf16 updates would drift)
    x = (initial_noise(model, len(labels), seed) if noise is None else noise).to(dev,
                                                                                torch.float32)
    y = torch.as_tensor(list(labels), dtype=torch.int64, device=dev)
    null = torch.full_like(y, model.null_class)
    model.reset()
    ts = timesteps(steps, shift)
    for i in range(steps):
        if on_step is not None:
            on_step(i, ts[i])
        t = torch.full((x.shape[0],), ts[i], device=dev, dtype=torch.float32)
        if cfg == 1.0:
            v = model(x, t, y, branch="cond")
        elif cfg_mode == "batched":
            vc, vu = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]),
                           branch="batched").chunk(2)
            v = vu + cfg * (vc - vu)
        else:
            vc = model(x, t, y, branch="cond")
            vu = model(x, t, null, branch="uncond")
            v = vu + cfg * (vc - vu)
        x = x + (ts[i + 1] - ts[i]) * v
    return x.float().clamp(-1, 1)


def load_model(weights: Optional[str], config: str, device, dtype: torch.dtype,
               seed: int = 0) -> VideoDiT:
    """The trained model, or (weights None) a randomly initialised one of `config` for pipeline
    dry runs: zero-initialised gates perturbed, keys tied to queries (local attention)."""
    if weights:
        return load_weights(weights, device, dtype).eval()
    torch.manual_seed(seed)
    model = VideoDiT(CONFIGS[config])
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if prm.dim() >= 1 and float(prm.abs().sum()) == 0.0:
                prm.normal_(0.0, 0.02 if prm.dim() > 1 else 0.1)
            elif name.endswith(("q_norm.weight", "k_norm.weight")):
                prm.fill_(1.3)  # peaked attention
        for a in model.attention_layers():  # keys = queries: RoPE makes attention local, as
            d = model.cfg.hidden              # in a trained model, so the dry run skips tiles
            a.qkv.weight[d:2 * d] = a.qkv.weight[:d]
            a.qkv.bias[d:2 * d] = a.qkv.bias[:d]
    return model.to(device=device, dtype=dtype).eval()


def parse_labels(text: str, n: int) -> List[int]:
    if text == "all":
        return list(range(NUM_CLASSES))
    labels = [int(x) for x in text.split(",")] if text else []
    return (labels * ((n + len(labels) - 1) // max(1, len(labels))))[:max(n, len(labels))]


def add_sampling_args(ap: argparse.ArgumentParser) -> None:
    """The sampler's options, shared by the testbed scripts that generate clips."""
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--cfg", type=float, default=4.0)
    ap.add_argument("--cfg-mode", choices=("batched", "separate"), default="batched")
    ap.add_argument("--shift", type=float, default=1.0)


def add_attention_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--attention", choices=("sdpa", "dense", "liteattn"), default="liteattn")
    ap.add_argument("--threshold", type=float, default=-6.0)
    ap.add_argument("--criterion", choices=("mass", "peak"), default="mass")
    ap.add_argument("--refresh-every", type=int, default=0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=str(DEFAULT_WEIGHTS) if DEFAULT_WEIGHTS.exists() else "")
    ap.add_argument("--random", choices=sorted(CONFIGS), default=None,
                    help="no weights: a random model of this config (dry run)")
    ap.add_argument("--labels", default="all", help="'all' or comma-separated class labels")
    add_sampling_args(ap)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default=None,
                    help="default: bf16 on CUDA, fp32 on CPU")
    ap.add_argument("--out", default="out/testbed/samples")
    add_attention_args(ap)
    a = ap.parse_args(argv)
    if not a.weights and not a.random:
        ap.error(f"no weights at {DEFAULT_WEIGHTS}: pass --weights or --random CONFIG")
    dev = pick_device(a.device)
    dtype = DTYPES[a.dtype or ("bf16" if dev.type == "cuda" else "fp32")]
    model = load_model(None if a.random else a.weights, a.random or "default", dev, dtype)
    model.set_attention(a.attention, threshold=a.threshold, criterion=a.criterion,
                        refresh_every=a.refresh_every, record_density=a.attention == "liteattn")
    labels = parse_labels(a.labels, 1)
    clips = generate(model, labels, a.seed, a.steps, a.cfg, a.cfg_mode, a.shift)
    out = Path(a.out)
    write_png(out / "grid.png", clip_grid(clips, scale=2))
    for i, (lab, clip) in enumerate(zip(labels, clips)):
        write_png(out / f"clip_{i:02d}_{class_name(lab).replace('/', '_')}.png",
                  clip_grid(clip[None], scale=2))
    msg = f"wrote {len(labels)} clips to {out}/ ({a.attention}"
    if a.attention == "liteattn":
        dens = [h["density"] for at in model.attention_layers() for br in at.layer.branches
                for h in at.layer.history(br)]
        msg += f", mean density {sum(dens) / len(dens):.3f}" if dens else ""
    print(msg + ")")
    return 0 if math.isfinite(float(clips.abs().max())) else 1


if __name__ == "__main__":
    sys.exit(main())
