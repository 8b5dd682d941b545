"""Calibration: the most aggressive threshold per layer and per step whose attention output stays
within an error budget against *dense* attention (not the step-to-step increment).

For every layer call of a calibration run (one or more generations through the diffusers
integration), with q, k, v of that step and the mask the state reads now:
  dense = attention with the read mask full (nothing skipped);
  for a candidate threshold t: mark with t from the current read mask (write mask W(t)), then
  attend again reading W(t); err(t) = |O(W(t)) - dense|_1 / |dense|_1.
The chosen t is the largest value of the grid with err(t) <= budget(step) (binary search: err
grows with t, since W(t) only loses tiles as t rises); the call then returns the output of the
current read mask and leaves W(t) as the next step's read mask, so the run follows the sparse
trajectory it calibrates. W(t) is scored on this step's inputs as a stand-in for the next step's
(the temporal coherence LiteAttention rests on). The result is the minimum over branches and
inputs, per layer and step."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch

from . import diffusers as _dif
from ._lib import LiteAttnError

DEFAULT_GRID = (0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -5.0, -6.0, -8.0, -10.0, -12.0, -16.0,
                -20.0)

Budget = Union[float, Sequence[float], Callable[[int, Optional[int]], float]]


def default_budget(final: float = 0.05, early: float = 0.25,
                   ramp: float = 0.3) -> Callable[[int, Optional[int]], float]:
    """Stricter early: the budget starts at early*final at step 0 and rises linearly to `final`
    at ramp*num_steps (over 5 steps when the number of steps is unknown)."""
    def budget(step: int, num_steps: Optional[int]) -> float:
        span = max(1.0, ramp * num_steps) if num_steps else 5.0
        return final * min(1.0, early + (1.0 - early) * step / span)
    return budget


def _budget_fn(budget: Budget) -> Callable[[int, Optional[int]], float]:
    if callable(budget):
        return budget
    if isinstance(budget, (list, tuple)):
        seq = [float(x) for x in budget]
        return lambda step, n: seq[min(step, len(seq) - 1)]
    return default_budget(float(budget))


def rel_l1(out: torch.Tensor, ref: torch.Tensor) -> float:
    den = ref.float().abs().sum()
    return float(((out.float() - ref.float()).abs().sum() / den.clamp_min(1e-30)).item())


@dataclass
class Calibration:
    """Per layer (name as in liteattn.diffusers.layers) and per step: the threshold chosen, the
    density of the tiles computed at that step, `errors`: the relative L1 of that step's output
    against dense (what the run actually produced, from the mask the previous step chose), and
    `predicted`: the error the chosen threshold's mask scored on this step's inputs (NaN where no
    grid value fit and -inf was chosen). Maxima over branches and inputs."""
    thresholds: Dict[str, List[float]] = field(default_factory=dict)
    densities: Dict[str, List[float]] = field(default_factory=dict)
    errors: Dict[str, List[float]] = field(default_factory=dict)
    predicted: Dict[str, List[float]] = field(default_factory=dict)
    budgets: List[float] = field(default_factory=list)
    criterion: str = "mass"
    grid: List[float] = field(default_factory=lambda: list(DEFAULT_GRID))

    def save(self, path) -> None:
        def enc(x):
            return [None if (isinstance(v, float) and math.isinf(v)) else v for v in x]
        data = {"version": 1, "criterion": self.criterion, "grid": self.grid,
                "budgets": self.budgets,
                "thresholds": {k: enc(v) for k, v in self.thresholds.items()},
                "densities": self.densities, "errors": self.errors,
                "predicted": {k: [None if math.isnan(v) else v for v in vals]
                              for k, vals in self.predicted.items()}}
        with open(path, "w") as f:
            json.dump(data, f, indent=1)

    @classmethod
    def load(cls, path) -> "Calibration":
        with open(path) as f:
            data = json.load(f)
        if data.get("version") != 1:
            raise LiteAttnError(f"{path}: not a liteattn calibration file (version "
                                f"{data.get('version')!r})", argument="path")
        thr = {k: [-math.inf if v is None else float(v) for v in vals]
               for k, vals in data["thresholds"].items()}
        pred = {k: [math.nan if v is None else float(v) for v in vals]
                for k, vals in data.get("predicted", {}).items()}
        return cls(thresholds=thr, densities=data.get("densities", {}),
                   errors=data.get("errors", {}), predicted=pred,
                   budgets=data.get("budgets", []),
                   criterion=data.get("criterion", "mass"),
                   grid=data.get("grid", list(DEFAULT_GRID)))

    def apply(self, target) -> None:
        """Installs the per-step schedules on target's layers (enable() is called if needed)."""
        try:
            layers = _dif.layers(target)
        except LiteAttnError:
            _dif.enable(target, criterion=self.criterion)
            layers = _dif.layers(target)
        missing = sorted(set(self.thresholds) - set(layers))
        if missing:
            raise LiteAttnError(f"calibration has layers the model lacks: {missing[:4]}",
                                argument="target")
        for name, layer in layers.items():
            if name in self.thresholds:
                layer.threshold = list(self.thresholds[name])
                layer.criterion = self.criterion

    def summary(self) -> str:
        """A fixed-width table: per layer the mean threshold and the mean / last density."""
        rows = [f"{'layer':<40} {'steps':>5} {'mean thr':>9} {'density':>8} {'last':>6}"]
        all_d = []
        for name in sorted(self.thresholds):
            thr = [t for t in self.thresholds[name] if math.isfinite(t)]
            d = self.densities.get(name, [])
            all_d.extend(d)
            mt = f"{sum(thr) / len(thr):9.2f}" if thr else f"{'-inf':>9}"
            md = f"{sum(d) / len(d):8.3f}" if d else f"{'-':>8}"
            ld = f"{d[-1]:6.3f}" if d else f"{'-':>6}"
            rows.append(f"{name:<40} {len(self.thresholds[name]):>5} {mt} {md} {ld}")
        if all_d:
            rows.append(f"{'all layers':<40} {'':>5} {'':>9} {sum(all_d) / len(all_d):8.3f}")
        return "\n".join(rows)


class Calibrator:
    """Answers every layer call of the integration during a calibration run."""

    def __init__(self, budget: Budget, num_steps: Optional[int], grid: Sequence[float],
                 progress=None):
        self.budget = _budget_fn(budget)
        self.num_steps = num_steps
        self.grid = sorted((float(g) for g in grid), reverse=True)  # aggressive first
        if not self.grid or self.grid[0] > 0:
            raise LiteAttnError(f"grid = {list(grid)}: thresholds must be <= 0", argument="grid")
        self.progress = progress
        self.thr: Dict[str, Dict[int, float]] = {}
        self.dens: Dict[str, Dict[int, List[float]]] = {}
        self.err: Dict[str, Dict[int, float]] = {}
        self.pred: Dict[str, Dict[int, float]] = {}
        self.budgets: Dict[int, float] = {}

    def on_forward(self, controller) -> None:
        if self.progress is not None:
            self.progress.update(1)

    def layer_call(self, proc, q, k, v, branch, must_k, must_q):
        layer = proc.layer
        b, read, write = layer.prepare(q, k, branch)
        step = b.c.calls
        budget = self.budget(step, self.num_steps)
        self.budgets[step] = budget
        dense, _ = layer.run_op(q, k, v, b, None, None, -math.inf, must_k, must_q)
        if read is None:
            out = dense
            density = 1.0
        else:
            out, _ = layer.run_op(q, k, v, b, read, None, -math.inf, must_k, must_q)
            density = layer._density_of(b, read)[0]
        chosen, err, pred = -math.inf, rel_l1(out, dense), math.nan
        if write is not None:
            def score(t: float) -> float:
                layer.run_op(q, k, v, b, read, write, t, must_k, must_q)
                o, _ = layer.run_op(q, k, v, b, write, None, -math.inf, must_k, must_q)
                return rel_l1(o, dense)
            lo, hi = 0, len(self.grid) - 1  # grid[hi] is the most conservative candidate
            e_hi = score(self.grid[hi])
            if e_hi <= budget:
                best, best_e = hi, e_hi
                while lo < best:  # smallest index (most aggressive) within budget
                    mid = (lo + best) // 2
                    e = score(self.grid[mid])
                    if e <= budget:
                        best, best_e = mid, e
                    else:
                        lo = mid + 1
                chosen, pred = self.grid[best], best_e
            # the real marking of this step, with the chosen threshold
            layer.run_op(q, k, v, b, read, write, chosen, must_k, must_q)
        layer.advance(b)
        b.last_read, b.last_call = read, step
        name = proc.qualname
        prev = self.thr.setdefault(name, {}).get(step, 0.0)
        self.thr[name][step] = min(prev, chosen)
        errs = self.err.setdefault(name, {})
        errs[step] = max(errs.get(step, 0.0), err)
        preds = self.pred.setdefault(name, {})
        old = preds.get(step, -math.inf)
        preds[step] = math.nan if math.isnan(old) or math.isnan(pred) else max(old, pred)
        self.dens.setdefault(name, {}).setdefault(step, []).append(density)
        return out

    def result(self, criterion: str) -> Calibration:
        cal = Calibration(criterion=criterion, grid=list(self.grid))
        for name, by_step in self.thr.items():
            n = max(by_step) + 1
            cal.thresholds[name] = [by_step.get(s, -math.inf) for s in range(n)]
            d = self.dens[name]
            cal.densities[name] = [sum(d[s]) / len(d[s]) if s in d else 1.0 for s in range(n)]
            cal.errors[name] = [self.err[name].get(s, 0.0) for s in range(n)]
            cal.predicted[name] = [self.pred[name].get(s, math.nan) for s in range(n)]
        if self.budgets:
            cal.budgets = [self.budgets.get(s, math.nan) for s in range(max(self.budgets) + 1)]
        return cal


def _default_run(target, inp):
    if isinstance(inp, dict):
        return target(**inp)
    if isinstance(inp, (list, tuple)):
        return target(*inp)
    return target(inp)


def calibrate(target, inputs: Sequence, run: Optional[Callable] = None, budget: Budget = 0.05,
              num_steps: Optional[int] = None, grid: Sequence[float] = DEFAULT_GRID,
              criterion: str = "mass", progress: bool = True) -> Calibration:
    """Calibrates a diffusers pipeline or transformer. `inputs`: a few inputs, each one whole
    generation when passed to `run(target, input)` (default: target(**input) for a dict,
    target(*input) for a tuple, else target(input)); for a bare transformer, `run` loops over
    the steps itself. `budget`: relative L1 per step (a float uses default_budget: stricter early;
    a list per step; or a callable(step, num_steps)). Returns a Calibration, already applied."""
    run = run or _default_run
    ctrls = _dif.enable(target, threshold=-math.inf, criterion=criterion)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(inputs) * num_steps if num_steps else None,
                   desc="liteattn calibrate", unit="forward")
    cal = Calibrator(budget, num_steps, grid, bar)
    for c in ctrls:
        c.calibrator = cal
    try:
        with torch.no_grad():
            for inp in inputs:
                _dif.reset(target)
                run(target, inp)
    finally:
        for c in ctrls:
            c.calibrator = None
        if bar is not None:
            bar.close()
    result = cal.result(criterion)
    _dif.reset(target)
    result.apply(target)
    return result
