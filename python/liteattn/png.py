"""A tiny dependency-free PNG writer (8-bit grayscale or RGB) for mask heatmaps."""
from __future__ import annotations

import struct
import zlib

import numpy as np


def _chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))


def write_png(path, image: np.ndarray) -> None:
    """Writes a uint8 array [H, W] (gray) or [H, W, 3] (RGB) as a PNG file."""
    img = np.ascontiguousarray(image, dtype=np.uint8)
    if img.ndim == 2:
        color = 0
    elif img.ndim == 3 and img.shape[2] == 3:
        color = 2
    else:
        raise ValueError(f"image has shape {img.shape}: expected [H, W] or [H, W, 3]")
    h, w = img.shape[:2]
    rows = img.reshape(h, -1)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(h))  # filter type 0 per row
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)))
        f.write(_chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(_chunk(b"IEND", b""))


def heatmap(bits: np.ndarray, scale: int = 4, gap: int = 2) -> np.ndarray:
    """RGB image of a mask [H, Tq, Tk] (bool): one panel per head side by side, computed tiles
    light, skipped tiles dark, each tile `scale` pixels, panels `gap` pixels apart."""
    heads, tq, tk = bits.shape
    cols = min(heads, 8)
    rows = (heads + cols - 1) // cols
    ph, pw = tq * scale, tk * scale
    img = np.full((rows * (ph + gap) + gap, cols * (pw + gap) + gap, 3), 255, dtype=np.uint8)
    on, off = np.array([250, 200, 60], np.uint8), np.array([30, 30, 90], np.uint8)
    for h in range(heads):
        panel = np.where(bits[h][:, :, None], on, off)
        panel = panel.repeat(scale, 0).repeat(scale, 1)
        y, x = gap + (h // cols) * (ph + gap), gap + (h % cols) * (pw + gap)
        img[y:y + ph, x:x + pw] = panel
    return img
