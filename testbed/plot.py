"""Minimal line / scatter plots as PNG with Pillow (matplotlib is not on the GPU machines).
Without Pillow the same plot is drawn with numpy and no text."""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .common import write_png

COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
          (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]

Series = Dict[str, Tuple[Sequence[float], Sequence[float]]]


def _ticks(lo: float, hi: float, n: int = 5):
    if hi <= lo:
        hi = lo + 1.0
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def plot(path, series: Series, title: str = "", xlabel: str = "", ylabel: str = "",
         lines: bool = True, logy: bool = False, size=(720, 440),
         ylim: Optional[Tuple[float, float]] = None) -> None:
    """Writes a plot of named (xs, ys) series. NaN / inf points are left out."""
    W, H = size
    L, R, T, B = 70, 170, 34, 48
    pts = {}
    for name, (xs, ys) in series.items():
        xy = [(float(x), float(y)) for x, y in zip(xs, ys)
              if math.isfinite(float(x)) and math.isfinite(float(y)) and (not logy or y > 0)]
        pts[name] = [(x, math.log10(y) if logy else y) for x, y in xy]
    allx = [x for p in pts.values() for x, _ in p] or [0.0, 1.0]
    ally = [y for p in pts.values() for _, y in p] or [0.0, 1.0]
    x0, x1 = min(allx), max(allx)
    y0, y1 = ylim if ylim else (min(ally), max(ally))
    if x1 - x0 < 1e-12:
        x0, x1 = x0 - 1, x1 + 1
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 1, y1 + 1
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def px(x, y):
        return (L + (x - x0) / (x1 - x0) * (W - L - R), H - B - (y - y0) / (y1 - y0) * (H - T - B))

    try:
        from PIL import Image, ImageDraw
    except ImportError:
        Image = None
    if Image is None:
        img = np.full((H, W, 3), 255, np.uint8)
        for i, (name, p) in enumerate(pts.items()):
            c = COLORS[i % len(COLORS)]
            for x, y in p:
                u, v = px(x, y)
                img[max(0, int(v) - 2):int(v) + 3, max(0, int(u) - 2):int(u) + 3] = c
        write_png(path, img)
        return
    im = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(im)
    d.rectangle([L, T, W - R, H - B], outline=(0, 0, 0))
    for tx in _ticks(x0, x1):
        u, _ = px(tx, y0)
        d.line([u, H - B, u, H - B + 4], fill=(0, 0, 0))
        d.text((u - 12, H - B + 6), f"{tx:g}", fill=(0, 0, 0))
    for ty in _ticks(y0, y1):
        _, v = px(x0, ty)
        d.line([L - 4, v, L, v], fill=(0, 0, 0))
        d.line([L, v, W - R, v], fill=(230, 230, 230))
        lab = f"1e{ty:g}" if logy else f"{ty:.4g}"
        d.text((4, v - 6), lab, fill=(0, 0, 0))
    for i, (name, p) in enumerate(pts.items()):
        c = COLORS[i % len(COLORS)]
        xy = [px(x, y) for x, y in p]
        if lines and len(xy) > 1:
            d.line(xy, fill=c, width=2)
        for u, v in xy:
            d.ellipse([u - 3, v - 3, u + 3, v + 3], fill=c)
        ly = T + 4 + 14 * i
        d.rectangle([W - R + 8, ly + 2, W - R + 16, ly + 10], fill=c)
        d.text((W - R + 20, ly), name[:24], fill=(0, 0, 0))
    d.text((L, 8), title, fill=(0, 0, 0))
    d.text(((W - R + L) // 2 - 3 * len(xlabel), H - 18), xlabel, fill=(0, 0, 0))
    d.text((4, 18), ylabel + (" (log10)" if logy else ""), fill=(0, 0, 0))
    write_png(path, np.asarray(im))
