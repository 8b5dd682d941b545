#!/usr/bin/env python3
"""prof.py — where does the Hopper kernel's time go? Times a set of single cases of one build
(medians, one process, production schedule: pingpong, persistent longest-first) that separate
the costs the A/B rows mix: a read mask of all ones (look-up and schedule, nothing skipped),
d = 0.25 with random positions, with exactly the same count in every row (no imbalance), and as
one contiguous band per row (sequential K/V), at the two shapes of ab.sh. With --once NAME it
runs that case once between cudaProfilerStart/Stop (for `ncu --profile-from-start off`).

Usage: python3 bench/sm90/prof.py LIB [--once NAME] [--shape H,S,D ...] [--dens 0.25,0.1]
"""
import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sm90_bench import BF16, MASS, PEAK, Lib, bench_ms, make, random_mask  # noqa: E402


def words_from_bits(bits, W):
    w = torch.zeros(bits.shape[0], W, dtype=torch.int64)
    for b in range(32):
        w |= bits[:, b::32].to(torch.int64) << b
    return w.to(torch.int32).reshape(-1)


def exact_mask(geom, per_row, gen):
    """Every row has exactly per_row tiles, at random positions."""
    Tk, W, rows = geom["Tk"], geom["W"], geom["rows"]
    idx = torch.rand(rows, Tk, generator=gen).argsort(dim=1)[:, :per_row]
    bits = torch.zeros(rows, W * 32, dtype=torch.bool)
    bits.scatter_(1, idx, True)
    return words_from_bits(bits, W)


def band_mask(geom, per_row, gen):
    """Every row reads one contiguous band of per_row tiles at a random start."""
    Tk, W, rows = geom["Tk"], geom["W"], geom["rows"]
    start = torch.randint(0, Tk - per_row + 1, (rows,), generator=gen)
    j = torch.arange(W * 32)
    bits = (j[None, :] >= start[:, None]) & (j[None, :] < start[:, None] + per_row)
    return words_from_bits(bits, W)


SHAPES = ((12, 32760, 128), (48, 17776, 64))


def cases(lib, dev, gen, mgen, shapes=SHAPES, dens=(0.25,)):
    for H, S, D in shapes:
        q, k, v = (make(1, S, H, D, "bshd", BF16, dev, gen) for _ in range(3))
        o = torch.empty_like(q)
        geom = lib.geometry(1, H, S, S, D, BF16)
        wm = torch.zeros(geom["words"], dtype=torch.int32, device=dev)
        Tk = geom["Tk"]
        ones = random_mask(geom, 1.0, mgen).to(dev)
        # (the default shapes keep their names: d128_dense ...; others are named h<H>_d<D>_...)
        tag = "d%d" % D if (H, S, D) in SHAPES else "h%d_s%d_d%d" % (H, S, D)
        yield tag + "_dense", H, S, D, 1.0, (q, k, v, o, None, None, None, None, 2)
        yield tag + "_ones", H, S, D, 1.0, (q, k, v, o, ones, None, None, None, 2)
        yield tag + "_mass", H, S, D, 1.0, (q, k, v, o, None, wm, MASS, -30.0, 2)
        for d in dens:
            # r: random positions; e: exactly round(d*Tk) per row (no imbalance); b: one band
            # per row (sequential K/V)
            n, pc = max(1, round(d * Tk)), "%02d" % round(100 * d)
            rm = random_mask(geom, d, mgen).to(dev)
            em = exact_mask(geom, n, mgen).to(dev)
            bm = band_mask(geom, n, mgen).to(dev)
            yield tag + "_r" + pc, H, S, D, d, (q, k, v, o, rm, None, None, None, 2)
            yield tag + "_r" + pc + "_stride", H, S, D, d, (q, k, v, o, rm, None, None, None, 1)
            yield tag + "_e" + pc, H, S, D, n / Tk, (q, k, v, o, em, None, None, None, 2)
            yield tag + "_b" + pc, H, S, D, n / Tk, (q, k, v, o, bm, None, None, None, 2)
        # the dense call again: the clock drifts over a shape's cases (rows above divide by the
        # first dense; this one says by how much that reads high)
        yield tag + "_dense_again", H, S, D, 1.0, (q, k, v, o, None, None, None, None, 2)


def sweep_cases(lib, dev, gen, mgen, persist=2):
    """Per-item and per-launch cost: a band of n tiles per row (n = 0, 1, 4, 16, Tk/4) at the
    two shapes and at twice the heads (twice the items, the same tiles per item)."""
    for H, S, D in ((12, 32760, 128), (24, 32760, 128), (48, 17776, 64), (96, 17776, 64)):
        q, k, v = (make(1, S, H, D, "bshd", BF16, dev, gen) for _ in range(3))
        o = torch.empty_like(q)
        geom = lib.geometry(1, H, S, S, D, BF16)
        for n in (0, 1, 4, 16, geom["Tk"] // 4):
            m = (band_mask(geom, n, mgen) if n else
                 torch.zeros(geom["words"], dtype=torch.int32)).to(dev)
            yield "h%d_d%d_n%d" % (H, D, n), H, S, D, n / geom["Tk"], (
                q, k, v, o, m, None, None, None, persist), geom


def call(lib, a):
    q, k, v, o, rm, wm, crit, thr, per = a
    if crit is None:
        lib.run(1, BF16, q, k, v, o, None, rm, pp=1, persist=per)
    else:
        lib.run(1, BF16, q, k, v, o, None, rm, wm, thr, crit, pp=1, persist=per)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--once", default="")
    ap.add_argument("--rep-ms", type=int, default=600)
    ap.add_argument("--sweep", action="store_true", help="tiles-per-row sweep (per-item cost)")
    ap.add_argument("--shape", action="append", default=[],
                    help="H,S,D (repeatable) instead of the two default shapes")
    ap.add_argument("--dens", default="0.25", help="densities of the r/e/b cases, comma-separated")
    ap.add_argument("--persist", type=int, default=2,
                    help="sweep schedule: 2 longest-first (ranked per launch), 1 static stride")
    args = ap.parse_args()
    lib = Lib(args.lib)
    dev = "cuda"
    gen = torch.Generator(device=dev).manual_seed(7)
    mgen = torch.Generator().manual_seed(7)
    if args.sweep:
        print("device:", torch.cuda.get_device_name(), flush=True)
        sms = torch.cuda.get_device_properties(0).multi_processor_count
        print("schedule:", "longest-first" if args.persist == 2 else "static stride")
        for name, H, S, D, d, a, geom in sweep_cases(lib, dev, gen, mgen, args.persist):
            ms = bench_ms(lambda: call(lib, a), 300)
            items = geom["rows"]
            n = round(d * geom["Tk"])
            print("%-16s %8.4f ms  items %6d  rounds %5.2f  tiles/row %4d  us/round %8.3f" % (
                name, ms, items, items / sms, n, 1000 * ms / math.ceil(items / sms)), flush=True)
        return
    base = {}
    print("device:", torch.cuda.get_device_name(), flush=True)
    shapes = tuple(tuple(int(x) for x in sh.split(",")) for sh in args.shape) or SHAPES
    dens = tuple(float(x) for x in args.dens.split(","))
    for name, H, S, D, d, a in cases(lib, dev, gen, mgen, shapes, dens):
        if args.once:
            if name != args.once:
                continue
            for _ in range(3):
                call(lib, a)
            torch.cuda.synchronize()
            torch.cuda.profiler.start()
            call(lib, a)
            torch.cuda.synchronize()
            torch.cuda.profiler.stop()
            print("profiled", name)
            continue
        ms = bench_ms(lambda: call(lib, a), args.rep_ms)
        if name.endswith("_dense"):
            base[(H, S, D)] = ms
        flops = 4.0 * H * S * S * D * d
        print("%-16s %8.3f ms  computed %6.1f TFLOP/s  t/(d*dense) %.3f" % (
            name, ms, flops / ms / 1e9, ms / (d * base[(H, S, D)])), flush=True)


if __name__ == "__main__":
    main()
