"""Writes a PNG grid of procedural clips: one row per class (or per clip index), frames across.

    python3 testbed/data/grid.py --out out/testbed/data_grid.png [--frames 16 --size 64]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from testbed.common import clip_grid, write_png  # noqa: E402
from testbed.data import NUM_CLASSES, class_name, make_batch  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/testbed/data_grid.png")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first clip index")
    ap.add_argument("--random-classes", action="store_true",
                    help="rows are clips start.. with their hashed classes, not one per class")
    ap.add_argument("--scale", type=int, default=2)
    a = ap.parse_args(argv)
    idx = list(range(a.start, a.start + NUM_CLASSES))
    labels = None if a.random_classes else list(range(NUM_CLASSES))
    video, lab = make_batch(idx, a.seed, a.frames, a.size, labels=labels)
    write_png(a.out, clip_grid(video, scale=a.scale))
    print(f"wrote {a.out}: rows " + ", ".join(class_name(int(x)) for x in lab))
    return 0


if __name__ == "__main__":
    sys.exit(main())
