"""PSNR and SSIM against known values."""
import math

import torch

from testbed.metrics import psnr, ssim


def test_psnr_known_value_and_cap():
    x = torch.zeros(2, 2, 3, 16, 16)
    y = x.clone()
    y[1] += 0.2  # 0.1 on the [0, 1] scale: mse 0.01 -> 20 dB
    p = psnr(y, x)
    assert p[0] == 100.0 and math.isclose(float(p[1]), 20.0, abs_tol=1e-4)


def test_ssim_identity_and_degradation():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 3, 24, 24, generator=g) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    noisy = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    s = ssim(noisy, x)
    assert bool((s < 0.9).all()) and bool((s > 0).all())
