"""Records one attention trajectory (.latraj) from the testbed model without the rest of the
evaluation: the dense generation of one clip, the recorder hooked on the chosen layers and heads.

    python3 testbed/record_trajectory.py --out testbed/trajectory/main.latraj \
        [--window 11,8,8 --layers 0,1 --heads 0 --label 0 --seed 0]

The same recording evaluate.py makes during its dense run (batch element 0 = the conditional
branch of the first clip; its attention does not depend on the other clips of the batch). Used to
try windows, layers and heads for the file `make run` replays; prints its size and series."""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testbed.common import parse_ints, pick_device  # noqa: E402
from testbed.sample import (DEFAULT_WEIGHTS, DTYPES, add_sampling_args, generate,  # noqa: E402
                            load_model)
from testbed.trajectory import ENCODINGS, TrajectoryRecorder, centered_window  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--window", default="8,8,8", help="frames,rows,cols of the token grid")
    ap.add_argument("--layers", default="1,6")
    ap.add_argument("--heads", default="0")
    ap.add_argument("--encoding", choices=sorted(ENCODINGS), default="int8")
    ap.add_argument("--budget-mb", type=float, default=16.0)
    ap.add_argument("--label", type=int, default=0)
    add_sampling_args(ap)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default=None)
    a = ap.parse_args(argv)
    t0 = time.time()
    dev = pick_device(a.device)
    model = load_model(a.weights, "default", dev,
                       DTYPES[a.dtype or ("bf16" if dev.type == "cuda" else "fp32")])
    cfg = model.cfg
    model.set_attention("dense" if dev.type == "cuda" else "sdpa")
    f, r, c = parse_ints(a.window)
    rec = TrajectoryRecorder(layers=[x for x in parse_ints(a.layers) if x < cfg.depth],
                             heads=[h for h in parse_ints(a.heads) if h < cfg.heads],
                             window=centered_window(cfg.grid, f, r, c), grid=cfg.grid,
                             encoding=ENCODINGS[a.encoding])
    model.runtime.hooks[:] = [rec]
    generate(model, [a.label], a.seed, a.steps, a.cfg, a.cfg_mode, a.shift, on_step=rec.on_step)
    model.runtime.hooks.clear()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = rec.write(out, 1.0 / math.sqrt(cfg.head_dim), int(a.budget_mb * 1024 * 1024))
    print(f"[record] {out}: {out.stat().st_size / 1e6:.2f} MB, {a.steps} steps, series "
          f"{written}, window {vars(rec.window)}, S {rec.window.seqlen}, {time.time() - t0:.1f} s",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
