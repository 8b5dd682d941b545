#!/usr/bin/env python3
"""same_bits.py — two builds of the Hopper kernel that must agree bit for bit (a change that moves
code but not arithmetic, e.g. v16's mark9 against v15's mark8): the same inputs through both,
write masks, O and LSE compared exactly, over cases with several mask words (word changes),
GQA, odd lengths, must-do ranges, read masks and none (the CTA-pair multicast path), both
criteria at thresholds where the MASS bounds leave tiles open (the exact log2 path), and every
kernel variant (pingpong x persistent). The CPU-spec check (sm90_bench.py --check) is the other
half: it bounds both builds against the spec, this one says they are the same.

Usage: python3 bench/sm90/same_bits.py NEW_LIB PREV_LIB [--seed N] [--extra]   (exit 1 on any
difference; --extra adds Tk = 1, thr = -inf / 0 and non-finite keys)
"""
import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sm90_bench import (BF16, FP16, MASS, PEAK, Lib, empty_like_layout, make,  # noqa: E402
                        random_mask, scored_qk)

CASES = [
    # name, B, Sq, Sk, Hq, Hkv, D, layout, dtype
    ("len4224_d128", 1, 4224, 4224, 2, 2, 128, "bshd", BF16),
    ("len4500_d64_gqa2", 1, 4500, 4500, 4, 2, 64, "bhsd", FP16),
    ("sq300_sk9000_d128", 1, 300, 9000, 3, 3, 128, "bshd", BF16),
    ("len1023_d128_b2", 2, 1023, 1023, 3, 1, 128, "padded", BF16),
    ("len8191_d64", 1, 8191, 8191, 2, 2, 64, "bshd", BF16),
]
# criterion, thr, read density (None: no read mask), must-do ranges
MODES = [
    (MASS, -30.0, None, False),
    (MASS, -8.0, None, False),
    (MASS, -4.0, None, True),
    (MASS, -2.0, 0.5, False),
    (MASS, -6.0, 0.3, True),
    (PEAK, -30.0, None, False),
    (PEAK, -2.0, None, False),
    (PEAK, -1.0, 0.5, True),
]
VARIANTS = [(1, 2), (0, 2), (1, 1), (0, 0)]
# --extra (added 2026-11-28 after the v19 review; first to be run on the next device call): one
# key tile (Tk = 1: the first tile is the last, partial or not), the threshold's ends (thr = -inf
# keeps every visited tile, thr = 0 the API's largest), and keys with non-finite components (an
# inf in one key's first dimension, a NaN key) on a case whose q-tiles have padding rows.
EXTRA_CASES = [
    ("len100_d128_tk1", 1, 100, 100, 2, 2, 128, "bshd", BF16),
    ("len128_d64_tk1", 1, 128, 128, 2, 2, 64, "bshd", FP16),
    ("len1100_d128_nonfinite", 1, 1100, 1100, 2, 2, 128, "bshd", BF16),
]
EXTRA_MODES = [
    (MASS, -math.inf, None, False),
    (PEAK, -math.inf, None, False),
    (MASS, 0.0, None, False),
    (PEAK, 0.0, 0.5, True),
    (MASS, -6.0, None, True),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("new")
    ap.add_argument("prev")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--extra", action="store_true",
                    help="also the extra cases and modes (Tk = 1, thr = -inf / 0, non-finite keys)")
    a = ap.parse_args()
    libs = [Lib(a.new), Lib(a.prev)]
    gen = torch.Generator().manual_seed(a.seed)
    dev = "cuda"
    fails = runs = 0
    # (--extra: its cases in its modes, and the thr = -inf modes on the first two cases too)
    todo = [(c, MODES) for c in CASES]
    if a.extra:
        todo += [(c, EXTRA_MODES) for c in EXTRA_CASES] + [(c, EXTRA_MODES[:2]) for c in CASES[:2]]
    for (name, B, Sq, Sk, Hq, Hkv, D, layout, dt), modes in todo:
        qf, kf = scored_qk(B, Sq, Sk, Hq, Hkv, D, gen)
        if name.endswith("_nonfinite"):
            kf[:, 5, :, 0] = math.inf
            kf[:, 700, :, :] = math.nan
        q = make(B, Sq, Hq, D, layout, dt, dev, gen, qf)
        k = make(B, Sk, Hkv, D, layout, dt, dev, gen, kf)
        v = make(B, Sk, Hkv, D, layout, dt, dev, gen)
        geom = libs[0].geometry(B, Hq, Sq, Sk, D, dt)
        for mi, (crit, thr, dens, must) in enumerate(modes):
            rmask = None if dens is None else random_mask(geom, dens, gen).to(dev)
            must_k = [(min(Sk - 1, 130), min(Sk, 131))] if must else []
            must_q = [(Sq - 1, Sq)] if must else []
            for pp, per in VARIANTS:
                out = []
                for lib in libs:
                    o = empty_like_layout(q, dev, float("nan"))
                    lse = torch.full((B, Hq, Sq), float("nan"), device=dev)
                    wm = torch.full((geom["words"],), -1, dtype=torch.int32, device=dev)
                    lib.run(1, dt, q, k, v, o, lse, rmask, wm, thr, crit, must_k, must_q, pp, per)
                    torch.cuda.synchronize()
                    out.append((o.float().nan_to_num(7.0), lse.nan_to_num(7.0), wm))
                (o1, l1, w1), (o2, l2, w2) = out
                nb = int(sum(bin(x & 0xFFFFFFFF).count("1") for x in (w1 ^ w2).tolist()))
                kept = int(sum(bin(x & 0xFFFFFFFF).count("1") for x in w1.tolist()))
                same = nb == 0 and torch.equal(o1, o2) and torch.equal(l1, l2)
                runs += 1
                fails += not same
                if not same or (pp, per) == (1, 2):
                    print("%-4s %-18s %s thr=%-5g read=%-4s must=%d pp=%d per=%d kept %d of %d "
                          "bits, %d differ, O %s, LSE %s" % (
                              "ok" if same else "FAIL", name, "MASS" if crit == MASS else "PEAK",
                              thr, dens, must, pp, per, kept, geom["rows"] * geom["Tk"], nb,
                              "same" if torch.equal(o1, o2) else "DIFFERS",
                              "same" if torch.equal(l1, l2) else "DIFFERS"), flush=True)
    print("same_bits: %d runs, %d differ" % (runs, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
