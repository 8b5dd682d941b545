"""Calibration: per-layer, per-step thresholds within a budget against dense; JSON; summary."""
import math

import pytest
import torch

import liteattn.diffusers as ld
from liteattn.calibrate import Calibration, calibrate, default_budget
import tiny_models

STEPS = (900.0, 800.0, 700.0, 600.0)


def run_steps(model, inputs):
    for t in STEPS:
        model(**inputs(t))


@pytest.fixture
def wan():
    m, inputs = tiny_models.wan()
    ld.enable(m)
    tiny_models.sharpen(m)
    return m, inputs


def test_default_budget_is_stricter_early():
    b = default_budget(0.1)
    assert b(0, 10) == pytest.approx(0.025) and b(3, 10) == pytest.approx(0.1)
    assert b(0, 10) < b(1, 10) < b(2, 10) <= b(9, 10)


@pytest.mark.parametrize("budget", [0.02, 2e-4])
def test_calibrate_within_budget(wan, tmp_path, budget, capsys):
    m, inputs = wan
    cal = calibrate(m, [inputs], run=run_steps, budget=budget, num_steps=len(STEPS),
                    progress=True)
    assert f"{len(STEPS)}/{len(STEPS)}" in capsys.readouterr().err  # tqdm counted forwards
    assert set(cal.thresholds) == set(ld.layers(m))
    for name, thr in cal.thresholds.items():
        assert len(thr) == len(STEPS)
        assert all(t <= 0 for t in thr)
        for step, (t, pred) in enumerate(zip(thr, cal.predicted[name])):
            if math.isfinite(t):  # a chosen threshold scored within that step's budget
                assert pred <= cal.budgets[step]
            else:
                assert math.isnan(pred) or step == 0
        assert cal.errors[name][0] == 0.0  # the first step reads everything
        assert all(0.0 <= e < 0.05 for e in cal.errors[name])
    assert cal.budgets[0] < cal.budgets[-1]  # stricter early by default
    dens = [d for v in cal.densities.values() for d in v]
    assert dens[0] == 1.0 and min(dens) < 1.0
    # the schedule is applied: the layers now follow it call by call
    layer = ld.layers(m)["blocks.0.attn1"]
    assert layer.threshold == cal.thresholds["blocks.0.attn1"]
    path = tmp_path / "cal.json"
    cal.save(path)
    back = Calibration.load(path)
    assert back.thresholds == cal.thresholds and back.densities == cal.densities
    table = cal.summary()
    assert "blocks.0.attn1" in table and "all layers" in table


def test_tighter_budget_is_less_aggressive(wan):
    m, inputs = wan
    loose = calibrate(m, [inputs], run=run_steps, budget=[0.05] * 4, progress=False)
    tight = calibrate(m, [inputs], run=run_steps, budget=[1e-7] * 4, progress=False)
    for name in loose.thresholds:
        assert all(t <= l for t, l in zip(tight.thresholds[name], loose.thresholds[name]))
    assert sum(sum(v) for v in tight.densities.values()) > \
        sum(sum(v) for v in loose.densities.values())


def test_load_rejects_other_files(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"version": 7}')
    with pytest.raises(ValueError, match="not a liteattn calibration"):
        Calibration.load(p)
    cal = Calibration(thresholds={"blocks.0.attn1": [-math.inf, -2.0]})
    cal.save(p)
    assert Calibration.load(p).thresholds["blocks.0.attn1"] == [-math.inf, -2.0]


def test_apply_to_fresh_model(wan, tmp_path):
    m, inputs = wan
    cal = calibrate(m, [inputs], run=run_steps, budget=0.02, progress=False)
    fresh, fresh_inputs = tiny_models.wan()
    cal.apply(fresh)
    assert ld.layers(fresh)["blocks.1.attn1"].threshold == cal.thresholds["blocks.1.attn1"]
    with torch.no_grad():
        run_steps(fresh, fresh_inputs)
