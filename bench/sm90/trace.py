#!/usr/bin/env python3
"""trace.py — where one work item's time goes in the Hopper kernel, from the %clock64 stamps of a
-DLA_TRACE=1 build (src/cuda/sm90/sm90_fwd.cu, LA_TRACE): the first LA_TR_ITEMS items of CTAs
0..LA_TR_CTAS-1, each consumer warpgroup and the producer. Per case it prints the mean of every
phase of an item (items 1.. of each traced CTA, so the kernel start is left out) and the item's
cost beyond its tiles at the steady per-tile rate of the same item.

Slots (per CTA and item): consumer warpgroup cw at 12*cw + 0 item start, 1 Q landed, 2 first K
landed, 3 first S landed, 4 prologue done, 5 loop done, 9 loop tiles, 10 cycles waiting for K in
the loop, 11 cycles waiting for V and the pingpong turn in the loop, 6 last PV landed, 7 O and LSE
stored, 8 write-mask row done; producer 24 item start, 25 first tile found, 26 Q slot free, 27/28
cycles waiting for free K/V stages, 29 last load issued; item 0 of each CTA: 30/31 before/after the
longest-first ranking.

Usage: python3 bench/sm90/trace.py LIB [RAW.pt] [--shape H,S,D ...] [--dens 0.25,0.1]
(a build with LA_SM90_NVCC_FLAGS=-DLA_TRACE=1; RAW.pt gets the stamps of every case)
"""
import ctypes
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sm90_bench import BF16, MASS, Lib, make, random_mask  # noqa: E402

CTAS, ITEMS, SLOTS = 16, 64, 32


def read_trace(lib, clear):
    buf = (ctypes.c_longlong * (CTAS * ITEMS * SLOTS))()
    f = lib.l.la_sm90_trace_get
    f.argtypes = [ctypes.c_void_p, ctypes.c_int]
    f.restype = ctypes.c_int
    assert f(buf, 1 if clear else 0) == 0, "la_sm90_trace_get failed"
    t = torch.tensor(list(buf), dtype=torch.int64).reshape(CTAS, ITEMS, SLOTS)
    return t


def read_cta(lib, clear):
    buf = (ctypes.c_longlong * (1024 * 16))()
    f = lib.l.la_sm90_trace_cta_get
    f.argtypes = [ctypes.c_void_p, ctypes.c_int]
    f.restype = ctypes.c_int
    assert f(buf, 1 if clear else 0) == 0, "la_sm90_trace_cta_get failed"
    return torch.tensor(list(buf), dtype=torch.int64).reshape(1024, 16)


def summarize_ctas(c):
    """When every CTA ends (%globaltimer, ns): the launch lasts until the last one, so the spread
    of the ends is time the other SMs sit idle; with the tiles and items of each CTA and its
    rate (tiles per us after the ranking), it says whether an uneven end is uneven work or
    uneven speed."""
    c = c[c[:, 0] > 0]
    if len(c) == 0:
        return
    t0 = int(c[:, 0].min())
    end = torch.maximum(c[:, 2], c[:, 3]) - t0
    work = (end - (c[:, 1] - t0)).double()
    span = int(end.max())
    tiles = c[:, 4].double()
    rate = tiles / (work / 1e3)
    q = lambda x: "min %.4g med %.4g max %.4g" % (float(x.min()), float(x.median()), float(x.max()))
    print("   CTA ends: %d CTAs, span %.1f us; ends %s us; idle tail (span - mean end) %.2f %% "
          "of the span" % (len(c), span / 1e3, q(end.double() / 1e3),
                           100.0 * (span - float(end.double().mean())) / span))
    print("   CTA work: tiles %s; items %s; ranking %s us; rate %s tiles/us" % (
        q(tiles), q(c[:, 6].double()), q((c[:, 1] - c[:, 0]).double() / 1e3), q(rate)))
    if int(c[:, 13].max()) > 0:  # -DLA_SM90_V14: warp 0's schedule phases (kcycles, median CTA)
        ph = [float(c[:, 8 + i].double().median()) / 1e3 for i in range(5)]
        print("   v14 schedule, warp 0 (%d rounds): copy+sums %.1f, keys %.1f, ranks %.1f, "
              "assignment %.1f, wait at the barrier %.1f kcycles" % (
                  int(c[:, 13].median()), *ph))
    last = int(end.argmax())
    print("   last CTA: index %d on SM %d, %d tiles, rate %.4g (median rate %.4g)" % (
        last, int(c[last, 5]), int(c[last, 4]), float(rate[last]), float(rate.median())))


def summarize(name, t, ms):
    # clock rate: the traced span of each CTA (kernel start to its last item's end, either
    # warpgroup) against the launch's elapsed time (which includes the host's launch work, so
    # the estimate reads a little low); not estimated when a CTA ran more items than are traced
    spans = []
    truncated = any(t[c, ITEMS - 1, 0] > 0 for c in range(CTAS))
    for c in range(CTAS):
        ends = [int(max(t[c, n, 8], t[c, n, 20])) for n in range(ITEMS) if t[c, n, 8] > 0]
        if ends and t[c, 0, 30] > 0 and not truncated:
            spans.append(max(ends) - int(t[c, 0, 30]))
    rows = {}

    def add(k, v):
        rows.setdefault(k, []).append(v)

    for c in range(CTAS):
        for n in range(1, ITEMS - 1):
            for cw in (0, 1):
                b = 12 * cw
                s = [int(x) for x in t[c, n, b:b + 12]]
                nxt = int(t[c, n + 1, b])
                if s[0] == 0 or nxt == 0 or s[1] == 0:
                    continue
                tiles = s[9] + 1
                loop = s[5] - s[4]
                period = nxt - s[0]
                w = "wg%d " % cw
                add(w + "tiles", tiles)
                add(w + "period", period)
                if s[9]:  # an item of one tile has no loop to give a steady rate
                    per = loop / s[9]
                    add(w + "steady cycles/tile (loop)", per)
                    add(w + "overhead = period - tiles*steady", period - tiles * per)
                add(w + "a start->Q landed", s[1] - s[0])
                add(w + "b Q->first K landed", s[2] - s[1])
                add(w + "c first K->first S landed", s[3] - s[2])
                add(w + "d prologue softmax", s[4] - s[3])
                add(w + "e loop: waiting for K", s[10])
                add(w + "e loop: waiting for V + turn", s[11])
                add(w + "f tail (last PV)", s[6] - s[5])
                add(w + "g epilogue (O, LSE)", s[7] - s[6])
                add(w + "h write-mask row", s[8] - s[7])
                add(w + "i end->next start", nxt - s[8])
            q_iss = int(t[c, n, 26])
            if q_iss and t[c, n, 1] > 0:
                add("Q load: issued -> landed (wg0)", int(t[c, n, 1]) - q_iss)
            free = max(int(t[c, n - 1, 5]), int(t[c, n - 1, 17]))
            if q_iss and free and t[c, n - 1, 5] > 0:
                add("Q load: issued - previous loop end", q_iss - free)
            p = [int(x) for x in t[c, n, 24:30]]
            pn = int(t[c, n + 1, 24])
            if p[0] and pn and p[2]:
                add("prod period", pn - p[0])
                add("prod look-up of the first tile", p[1] - p[0])
                add("prod wait for the Q slot", p[2] - p[1])
                add("prod waiting for free K stages", p[3])
                add("prod waiting for free V stages", p[4])
                add("prod last load -> next item", pn - p[5])
    rank = [int(t[c, 0, 31] - t[c, 0, 30]) for c in range(CTAS) if t[c, 0, 30] > 0]
    ghz = (statistics.median(spans) / (ms * 1e6)) if spans and ms else 0.0
    print("== %s: %.3f ms, %s (traced span / elapsed), ranking %s kcyc" % (
        name, ms, ("~%.2f GHz" % ghz) if ghz else "clock not estimated (more items than traced)",
        ("%.1f" % (statistics.median(rank) / 1e3)) if rank else "-"))
    for k in sorted(rows):
        v = rows[k]
        med = statistics.median(v)
        us = med / (ghz * 1e3) if ghz else float("nan")
        print("   %-42s median %10.1f  mean %10.1f  (%7.3f us)  n=%d" % (
            k, med, statistics.mean(v), us, len(v)))


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("raw", nargs="?", default="")
    ap.add_argument("--shape", action="append", default=[],
                    help="H,S,D (repeatable) instead of (12,32760,128) and (48,17776,64)")
    ap.add_argument("--dens", default="0.25", help="densities of the random-mask cases")
    args = ap.parse_args()
    lib = Lib(args.lib)
    dev = "cuda"
    gen = torch.Generator(device=dev).manual_seed(11)
    mgen = torch.Generator().manual_seed(11)
    print("device:", torch.cuda.get_device_name(), flush=True)
    raw = {}
    shapes = [tuple(int(x) for x in sh.split(",")) for sh in args.shape] or \
        [(12, 32760, 128), (48, 17776, 64)]
    for H, S, D in shapes:
        q, k, v = (make(1, S, H, D, "bshd", BF16, dev, gen) for _ in range(3))
        o = torch.empty_like(q)
        geom = lib.geometry(1, H, S, S, D, BF16)
        wm = torch.zeros(geom["words"], dtype=torch.int32, device=dev)
        cases = [
            ("dense", dict()),
            ("dense MASS marking thr=-30", dict(wmask=wm, thr=-30.0, crit=MASS)),
        ]
        for d in (float(x) for x in args.dens.split(",")):
            rm = random_mask(geom, d, mgen).to(dev)
            cases += [
                ("d=%.2f random" % d, dict(rmask=rm)),
                ("d=%.2f random, MASS marking thr=-4" % d, dict(rmask=rm, wmask=wm, thr=-4.0,
                                                               crit=MASS)),
                ("d=%.2f random, static stride" % d, dict(rmask=rm, persist=1)),
            ]
        for name, kw in cases:
            kw.setdefault("persist", 2)
            run = lambda: lib.run(1, BF16, q, k, v, o, None, pp=1, **kw)
            for _ in range(5):
                run()
            torch.cuda.synchronize()
            read_trace(lib, True)
            read_cta(lib, True)
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            run()
            e1.record()
            torch.cuda.synchronize()
            tr = read_trace(lib, False)
            summarize("(%d, %d, %d) %s" % (H, S, D, name), tr, e0.elapsed_time(e1))
            summarize_ctas(read_cta(lib, False))
            if args.raw:
                raw[(H, S, D, name)] = tr
            sys.stdout.flush()
    if args.raw:
        torch.save(raw, args.raw)


if __name__ == "__main__":
    main()
