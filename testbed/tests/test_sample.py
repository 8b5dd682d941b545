"""The Euler CFG sampler: schedule, both guidance forms, liteattn off = dense, the CLI."""
import math

import torch

from testbed.sample import generate, load_model, main, timesteps


def test_timesteps_run_from_noise_to_data():
    for shift in (1.0, 3.0):
        ts = timesteps(30, shift)
        assert len(ts) == 31 and ts[0] == 1.0 and ts[-1] == 0.0
        assert all(a > b for a, b in zip(ts, ts[1:]))
    assert timesteps(30, 3.0)[15] > timesteps(30, 1.0)[15]


def test_batched_and_separate_guidance_agree():
    m = load_model(None, "tiny", "cpu", torch.float32)
    m.set_attention("dense")
    a = generate(m, [0, 7], seed=2, steps=4, cfg=3.0, cfg_mode="batched")
    b = generate(m, [0, 7], seed=2, steps=4, cfg=3.0, cfg_mode="separate")
    assert torch.allclose(a, b, atol=1e-4)
    c = generate(m, [0, 7], seed=2, steps=4, cfg=1.0)
    assert not torch.allclose(a, c, atol=1e-3)  # guidance changes the result


def test_liteattn_branches_and_dense_equivalence():
    m = load_model(None, "tiny", "cpu", torch.float32)
    m.set_attention("sdpa")
    ref = generate(m, [3], seed=0, steps=3)
    m.set_attention("liteattn", threshold=-math.inf)
    same = generate(m, [3], seed=0, steps=3, cfg_mode="separate")
    assert torch.allclose(ref, same, atol=1e-4)
    assert set(m.blocks[0].attn.layer.branches) == {"cond", "uncond"}
    assert m.blocks[0].attn.layer.calls("cond") == 3


def test_noise_is_per_clip():
    m = load_model(None, "tiny", "cpu", torch.float32)
    m.set_attention("dense")
    both = generate(m, [1, 2], seed=5, steps=2)
    from testbed.sample import initial_noise
    n = initial_noise(m, 2, 5)
    one = generate(m, [2], seed=5, steps=2, noise=n[1:])
    assert torch.allclose(both[1], one[0], atol=1e-4)


def test_cli_writes_pngs(tmp_path, capsys):
    rc = main(["--random", "tiny", "--labels", "0,4", "--steps", "3", "--out", str(tmp_path),
               "--threshold", "-2"])
    assert rc == 0
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert "grid.png" in pngs and len(pngs) == 3
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "mean density" in capsys.readouterr().out
