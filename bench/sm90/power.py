#!/usr/bin/env python3
"""power.py — is the Hopper kernel's time set by its cycles or by the card's clock? Runs each
configuration back to back for a few seconds while nvidia-smi samples the SM clock and the board
power every 50 ms, and prints per configuration: ms per launch, the median SM clock and power over
its run, and the launch's cycles (ms x clock) relative to dense. A configuration that costs more
time than cycles runs at a lower clock (the card at its power limit: more energy per tile, fewer
cycles per second). Two passes, the second in reverse order, so a drift with temperature shows.

Usage: python3 bench/sm90/power.py LIB [--shape H,S,D ...] [--secs 3] [--masks] [--only NAME,...]
(LIB: a bridge build, bench/sm90/build.sh)
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sm90_bench import BF16, MASS, PEAK, Lib, make, random_mask  # noqa: E402
from prof import band_mask, exact_mask  # noqa: E402


class Sampler:
    """nvidia-smi in loop mode; each line stamped with this process's clock when read."""

    def __init__(self):
        self.p = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=clocks.sm,power.draw,temperature.gpu",
             "--format=csv,noheader,nounits", "-lms", "50"],
            stdout=subprocess.PIPE, text=True)
        self.rows = []
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.p.stdout:
            try:
                mhz, w, temp = (float(x) for x in line.split(","))
            except ValueError:
                continue
            self.rows.append((time.time(), mhz, w, temp))

    def window(self, t0, t1):
        return [r for r in self.rows if t0 <= r[0] <= t1]

    def stop(self):
        self.p.terminate()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--shape", action="append", default=[])
    ap.add_argument("--secs", type=float, default=3.0)
    ap.add_argument("--only", default="",
                    help="comma-separated configuration names, _ for a space (dense always runs)")
    ap.add_argument("--masks", action="store_true",
                    help="also d = 0.25 on the static stride, with equal rows, with one band per row")
    a = ap.parse_args()
    lib = Lib(a.lib)
    dev = "cuda"
    gen = torch.Generator(device=dev).manual_seed(5)
    mgen = torch.Generator().manual_seed(5)
    shapes = [tuple(int(x) for x in s.split(",")) for s in a.shape] or [(40, 75600, 128)]
    smp = Sampler()
    time.sleep(0.5)
    print("device:", torch.cuda.get_device_name(), flush=True)
    for H, S, D in shapes:
        q, k, v = (make(1, S, H, D, "bshd", BF16, dev, gen) for _ in range(3))
        o = torch.empty_like(q)
        geom = lib.geometry(1, H, S, S, D, BF16)
        wm = torch.zeros(geom["words"], dtype=torch.int32, device=dev)
        r25 = random_mask(geom, 0.25, mgen).to(dev)
        r10 = random_mask(geom, 0.10, mgen).to(dev)
        # name, density (the rows divide by it), run arguments
        cfgs = [
            ("dense", 1.0, dict()),
            ("MASS thr=-30", 1.0, dict(wmask=wm, thr=-30.0, crit=MASS)),
            ("PEAK thr=-30", 1.0, dict(wmask=wm, thr=-30.0, crit=PEAK)),
            ("d=0.25", 0.25, dict(rmask=r25)),
            ("d=0.25 MASS thr=-4", 0.25, dict(rmask=r25, wmask=wm, thr=-4.0, crit=MASS)),
            ("d=0.10", 0.10, dict(rmask=r10)),
        ]
        if a.masks:
            n = round(0.25 * geom["Tk"])
            cfgs += [
                # the same random mask on the static stride (no ranking: CTAs drift apart)
                ("d=0.25 stride", 0.25, dict(rmask=r25, persist=1)),
                # exactly n tiles per row at random positions (no cost variance)
                ("d=0.25 equal", n / geom["Tk"], dict(rmask=exact_mask(geom, n, mgen).to(dev))),
                # one contiguous band per row at a random start
                ("d=0.25 band", n / geom["Tk"], dict(rmask=band_mask(geom, n, mgen).to(dev))),
            ]
        if a.only:
            keep = {c.replace("_", " ") for c in a.only.split(",")} | {"dense"}
            cfgs = [c for c in cfgs if c[0] in keep]
        flops = 4.0 * S * S * D * H
        res = {}
        # warm the card up (the first configuration would otherwise run cold)
        t_end = time.time() + 4.0
        while time.time() < t_end:
            lib.run(1, BF16, q, k, v, o, None, pp=1, persist=2)
            torch.cuda.synchronize()
        for ps, order in enumerate((cfgs, cfgs[::-1])):
            for name, _, kw in order:
                kw = dict(kw)
                per = kw.pop("persist", 2)
                run = lambda: lib.run(1, BF16, q, k, v, o, None, pp=1, persist=per, **kw)
                run()
                torch.cuda.synchronize()
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                run()
                e1.record()
                torch.cuda.synchronize()
                reps = max(3, int(a.secs * 1e3 / max(e0.elapsed_time(e1), 1e-3)))
                t0 = time.time()
                e0.record()
                for _ in range(reps):
                    run()
                e1.record()
                if ps == 0 and name in ("dense", "d=0.25") and H == shapes[0][0]:
                    time.sleep(min(1.0, a.secs / 2))  # the queue still runs: why the clock is what it is
                    perf = subprocess.run(["nvidia-smi", "-q", "-d", "PERFORMANCE"],
                                          capture_output=True, text=True).stdout
                    act = [ln.strip() for ln in perf.splitlines() if ": Active" in ln]
                    print("  during %s: clock event reasons active: %s" % (
                        name, ", ".join(act) or "none"), flush=True)
                torch.cuda.synchronize()
                t1 = time.time()
                ms = e0.elapsed_time(e1) / reps
                w = smp.window(t0 + 0.3, t1)
                mhz = statistics.median(r[1] for r in w) if w else float("nan")
                watt = statistics.median(r[2] for r in w) if w else float("nan")
                temp = statistics.median(r[3] for r in w) if w else float("nan")
                res.setdefault(name, []).append((ms, mhz, watt, temp, len(w)))
        base = res["dense"]
        print("(%d, %d, %d): per pass ms/launch, median SM MHz, W, C (samples); time and cycles "
              "(ms x MHz) over d x those of dense in the same pass" % (H, S, D))
        for name, d, _ in cfgs:
            cells = []
            for ps in range(2):
                ms, mhz, watt, temp, ns = res[name][ps]
                bms, bmhz = base[ps][0], base[ps][1]
                cells.append("%9.3f ms %5.0f MHz %4.0f W %2.0f C (%2d) t/(d dense) %.3f clock x%.3f "
                             "cycles/(d dense) %.3f" % (ms, mhz, watt, temp, ns, ms / (d * bms),
                                                        mhz / bmhz, ms * mhz / (d * bms * bmhz)))
            print("  %-20s %s" % (name, " | ".join(cells)))
            if name == "dense":
                print("  %-20s %.0f TFLOP/s (pass 1)" % ("", flops / (res[name][0][0] * 1e9)))
    smp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
