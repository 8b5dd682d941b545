"""The diffusers integration and calibration on CUDA: tiny random models in bf16 at the head
dims the CUDA kernels build (64, 128)."""
import math

import pytest
import torch

import liteattn.diffusers as ld
from liteattn.calibrate import calibrate
import tiny_models

STEPS = (900.0, 800.0, 700.0)


@pytest.fixture(params=[(name, hd) for name in tiny_models.MODELS for hd in (64, 128)],
                ids=lambda p: f"{p[0]}-d{p[1]}")
def model(request):
    name, hd = request.param
    m, inputs = tiny_models.MODELS[name](device="cuda", dtype=torch.bfloat16, head_dim=hd)
    return name, m, inputs


run = tiny_models.run


def test_minus_inf_matches_stock(model):
    name, m, inputs = model
    tiny_models.check_minus_inf_matches_stock(m, inputs, atol=5e-2, rtol=2e-2)


def test_sparse_generations_and_branches(model):
    name, m, inputs = model
    ld.enable(m, threshold=-2.0)
    tiny_models.sharpen(m)
    for t in STEPS:
        run(m, inputs, t)
        run(m, inputs, t)  # a second guidance branch at the same step
    d = ld.density(m, branch="call0")
    assert all(v < 1.0 for v in d.values()), d
    layer = next(iter(ld.layers(m).values()))
    assert layer.calls("call0") == 3 and layer.calls("call1") == 3
    run(m, inputs, STEPS[0])
    assert layer.calls("call0") == 1 and layer.density("call0")[0] == 1.0


def test_calibrate_on_gpu():
    m, inputs = tiny_models.wan(device="cuda", dtype=torch.bfloat16, head_dim=128)
    ld.enable(m)
    tiny_models.sharpen(m)

    def run_steps(model, _):
        for t in STEPS:
            model(**inputs(t))

    cal = calibrate(m, [0], run=run_steps, budget=0.05, progress=False)
    assert set(cal.thresholds) == set(ld.layers(m))
    assert min(min(v) for v in cal.densities.values()) < 1.0
    for name, thr in cal.thresholds.items():
        for step, (t, p) in enumerate(zip(thr, cal.predicted[name])):
            if math.isfinite(t):
                assert p <= cal.budgets[step]


def test_compiled_transformer_matches_eager():
    """torch.compile of a whole transformer with liteattn enabled (graph breaks around the
    host-side state) follows the eager run: same outputs, same per-branch step counts."""
    outs, dens = [], []
    for compiled in (False, True):
        m, inputs = tiny_models.wan(device="cuda", dtype=torch.bfloat16, head_dim=64)
        ld.enable(m, threshold=-2.0)
        tiny_models.sharpen(m)
        f = torch.compile(m) if compiled else m
        with torch.no_grad():
            for t in STEPS:
                out = f(**inputs(t))[0]
        outs.append(out.float())
        dens.append(ld.density(m))
        assert all(layer.calls("call0") == len(STEPS) for layer in ld.layers(m).values())
    torch.testing.assert_close(outs[1], outs[0], atol=5e-2, rtol=5e-2)
    assert max(dens[1].values()) < 1.0
