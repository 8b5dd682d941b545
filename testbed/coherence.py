"""Temporal coherence of the negligible-tile sets at chosen thresholds, without the rest of the
evaluation: the dense generation of a few clips with evaluate.py's CoherenceProbe hooked in.

    python3 testbed/coherence.py --mass 0 --peak -4 --labels 0,7 --out out/coherence.json

evaluate.py measures coherence at fixed strict thresholds (MASS -6, PEAK -12); this measures it at
the working point. Runs on CPU too (fp32; 2 clips x 30 steps took 49 min on 2 cores)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testbed.common import parse_ints, pick_device, write_json  # noqa: E402
from testbed.evaluate import DELTAS, CoherenceProbe  # noqa: E402
from testbed.sample import (DEFAULT_WEIGHTS, DTYPES, add_sampling_args, generate,  # noqa: E402
                            load_model)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    ap.add_argument("--mass", type=float, default=0.0)
    ap.add_argument("--peak", type=float, default=-4.0)
    ap.add_argument("--labels", default="0,7")
    add_sampling_args(ap)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default=None)
    ap.add_argument("--out", default="out/coherence.json")
    a = ap.parse_args(argv)
    t0 = time.time()
    dev = pick_device(a.device)
    model = load_model(a.weights, "default", dev,
                       DTYPES[a.dtype or ("bf16" if dev.type == "cuda" else "fp32")])
    model.set_attention("dense")
    probe = CoherenceProbe({"mass": a.mass, "peak": a.peak})
    model.runtime.hooks[:] = [probe]
    labels = parse_ints(a.labels)
    generate(model, labels, a.seed, a.steps, a.cfg, a.cfg_mode, a.shift, on_step=probe.on_step)
    model.runtime.hooks.clear()
    res = {crit: {str(l): probe.coherence(crit, l, a.steps) for l in range(model.cfg.depth)}
           for crit in probe.thresholds}
    write_json(a.out, {"thresholds": probe.thresholds, "labels": labels, "seed": a.seed,
                       "steps": a.steps, "deltas": list(DELTAS), "coherence": res,
                       "device": str(dev), "seconds": round(time.time() - t0, 1)})
    for crit, per in res.items():
        for layer, v in per.items():
            print(f"{crit} {probe.thresholds[crit]:g} layer {layer}: negligible "
                  f"{v['negligible']:.3f} " + " ".join(
                      f"coh{d} {v[f'coh{d}']:.3f} (base {v[f'base{d}']:.3f})" for d in DELTAS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
