"""Shared helpers of the testbed scripts: import paths (the checkout's python/ for liteattn),
device choice, clip grids as PNG, JSON/CSV writing."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]  # the repository root
if str(ROOT / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "python"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """[..., 3, H, W] in [-1, 1] -> uint8 [..., H, W, 3]."""
    v = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return v.movedim(-3, -1).cpu().numpy()


def clip_grid(videos: torch.Tensor, frame_step: int = 1, gap: int = 2,
              scale: int = 1) -> np.ndarray:
    """One row per clip ([B, T, 3, H, W] in [-1, 1]), frames left to right: uint8 [H', W', 3]."""
    frames = to_uint8(videos[:, ::frame_step])  # [B, T', H, W, 3]
    if scale > 1:
        frames = frames.repeat(scale, 2).repeat(scale, 3)
    B, T, H, W, _ = frames.shape
    img = np.full((B * (H + gap) + gap, T * (W + gap) + gap, 3), 255, np.uint8)
    for b in range(B):
        for t in range(T):
            y, x = gap + b * (H + gap), gap + t * (W + gap)
            img[y:y + H, x:x + W] = frames[b, t]
    return img


def write_png(path, image: np.ndarray) -> None:
    from liteattn.png import write_png as _write
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _write(str(path), image)


def write_json(path, data) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def parse_floats(text: Optional[str]) -> Sequence[float]:
    return [] if not text else [float(x) for x in text.split(",") if x.strip()]


def parse_ints(text: Optional[str]) -> Sequence[int]:
    return [] if not text else [int(x) for x in text.split(",") if x.strip()]
