"""Writes tests/data/tiny.latraj: the C trajectory tests' fixture until the trained model's
trajectory (testbed/trajectory/main.latraj) is committed. The testbed's randomly initialised
"tiny" model (keys tied to queries, so RoPE makes attention local in space and time, as in a
trained model), one generation of class 2, seed 0, every step recorded by the same recorder
testbed/evaluate.py uses. Run from the repository root:

    python tests/data/make_tiny_latraj.py [--steps 4] [--frames 5] [--out tests/data/tiny.latraj]

Needs torch and numpy (the testbed's requirements); CPU only, a few seconds."""
import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from testbed.sample import generate, load_model  # noqa: E402
from testbed.trajectory import ENCODINGS, TrajectoryRecorder, Window  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--frames", type=int, default=5, help="window frames (8x8 tokens each)")
    ap.add_argument("--layers", default="0,1")
    ap.add_argument("--encoding", choices=sorted(ENCODINGS), default="int8")
    ap.add_argument("--budget-mb", type=float, default=1.0)
    ap.add_argument("--out", default="tests/data/tiny.latraj")
    a = ap.parse_args()
    torch.set_num_threads(2)
    m = load_model(None, "tiny", "cpu", torch.float32, seed=0)
    m.set_attention("dense")
    T, H, W = m.cfg.grid
    rec = TrajectoryRecorder(layers=[int(x) for x in a.layers.split(",")], heads=[0],
                             window=Window(a.frames, H, W), grid=m.cfg.grid,
                             encoding=ENCODINGS[a.encoding])
    m.runtime.hooks[:] = [rec]
    generate(m, [2], seed=0, steps=a.steps, on_step=rec.on_step)
    m.runtime.hooks.clear()
    written = rec.write(a.out, 1.0 / math.sqrt(m.cfg.head_dim), int(a.budget_mb * 1024 * 1024))
    print(f"{a.out}: {Path(a.out).stat().st_size} bytes, series {written}, {a.steps} steps, "
          f"S = {rec.window.seqlen}, D = {m.cfg.head_dim}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
