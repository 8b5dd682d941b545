"""Quality of clips against a reference: PSNR and SSIM per clip, pixels in [-1, 1] read as [0, 1]."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def psnr(x: torch.Tensor, ref: torch.Tensor, cap: float = 100.0) -> torch.Tensor:
    """PSNR in dB per clip of [B, T, C, H, W] clips (peak 1 on the [0, 1] scale), capped."""
    a, b = (x.float() + 1) / 2, (ref.float() + 1) / 2
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return torch.where(mse > 0, 10 * torch.log10(1.0 / mse.clamp_min(1e-30)),
                       torch.full_like(mse, cap)).clamp(max=cap)


def _gauss(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size) - size // 2) ** 2).float() / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per clip (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
    every frame and channel, valid windows only) of [B, T, C, H, W] clips."""
    B = x.shape[0]
    a = ((x.float() + 1) / 2).flatten(0, 2)[:, None]  # [B*T*C, 1, H, W]
    b = ((ref.float() + 1) / 2).flatten(0, 2)[:, None]
    size = min(11, a.shape[-1], a.shape[-2])
    w = _gauss(size).to(a.device)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_a, mu_b = F.conv2d(a, w), F.conv2d(b, w)
    saa = F.conv2d(a * a, w) - mu_a ** 2
    sbb = F.conv2d(b * b, w) - mu_b ** 2
    sab = F.conv2d(a * b, w) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return s.reshape(B, -1).mean(1)
