"""The trajectory format: encodings, the recorder hook, the byte budget, the reader."""
import math

import numpy as np
import pytest
import torch

from testbed.sample import generate, load_model
from testbed.trajectory import (HEADER, TrajectoryRecorder, Window, centered_window, decode,
                                encode, read_trajectory)


def test_header_is_64_bytes():
    assert HEADER.size == 64


def test_encodings_roundtrip_within_their_precision():
    x = np.random.default_rng(0).standard_normal((300, 128)).astype(np.float32) * 3
    f16 = decode(encode(x, 0), 0, 300, 128)
    assert np.abs(f16 - x).max() <= 3e-3 * np.abs(x).max()
    i8 = decode(encode(x, 1), 1, 300, 128)
    bound = np.abs(x).max(axis=1, keepdims=True) / 254 * 1.01
    assert (np.abs(i8 - x) <= bound + 1e-6).all()
    assert not np.array_equal(i8, x)
    with pytest.raises(ValueError):
        encode(x, 7)


def test_window_tokens_are_frame_major():
    w = Window(2, 2, 3, f0=1, r0=1, c0=2)
    idx = w.token_index((4, 5, 6)).tolist()
    assert idx[:4] == [(1 * 5 + 1) * 6 + 2, (1 * 5 + 1) * 6 + 3, (1 * 5 + 1) * 6 + 4,
                       (1 * 5 + 2) * 6 + 2] and len(idx) == w.seqlen == 12
    with pytest.raises(ValueError):
        Window(5, 1, 1).token_index((4, 5, 6))


def test_recorder_writes_what_the_model_attended(tmp_path):
    m = load_model(None, "tiny", "cpu", torch.float32)
    m.set_attention("dense")
    win = centered_window(m.cfg.grid, 4, 4, 4)
    rec = TrajectoryRecorder(layers=[0, 1], heads=[0], window=win, grid=m.cfg.grid, encoding=0)
    seen = []
    m.runtime.hooks[:] = [rec, lambda a, q, k, v, br: seen.append((a.index, q[0, :, 0].clone()))
                          if a.index == 1 else None]
    generate(m, [2], seed=0, steps=3, on_step=rec.on_step)
    m.runtime.hooks.clear()
    path = tmp_path / "t.latraj"
    written = rec.write(path, 1 / math.sqrt(128))
    t = read_trajectory(path)
    assert written == [(0, 0), (1, 0)] and t["series"] == written
    assert t["steps"] == 3 and t["seqlen"] == 64 and t["head_dim"] == 128
    assert t["timesteps"] == pytest.approx([1.0, 2 / 3, 1 / 3], abs=1e-6)
    q_last = seen[-1][1][win.token_index(m.cfg.grid)].numpy()
    assert np.allclose(t["qkv"][2, 1, 0], q_last, atol=2e-3 * np.abs(q_last).max())
    one = rec.size(written[:1])
    assert rec.write(tmp_path / "small.latraj", 0.1, budget_bytes=one) == [(0, 0)]
    with pytest.raises(ValueError):
        rec.write(tmp_path / "none.latraj", 0.1, budget_bytes=100)
