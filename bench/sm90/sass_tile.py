#!/usr/bin/env python3
"""sass_tile.py — per-tile instruction count of the consumer's steady loop from Nsight Compute
SASS-level source exports (srcprof.sh with SASS_ALL=1). The loop is the smallest region closed
by a backward branch that holds both GEMMs (16 HGMMA at D=128, 12 at D=64); an iteration is one execution of its first
HGMMA. Prints, per file: iterations, warp instructions per iteration over the whole loop, and
over the instructions executed on more than half of the iterations (the common path).
Usage: python3 bench/sm90/sass_tile.py A.csv.gz [B.csv.gz ...]"""
import csv
import gzip
import re
import sys


def load(path):
    """(kernel name, [(address from the first, SASS text, warp instructions executed)]); branch
    targets made relative to the first address like the addresses."""
    with gzip.open(path, "rt") as f:
        rows = list(csv.reader(f))
    hdr = rows[1]
    recs = [dict(zip(hdr, r)) for r in rows[2:] if len(r) == len(hdr)]
    base = int(recs[0]["Address"], 16)
    out = []
    for r in recs:
        try:
            n = float(r["Instructions Executed"] or 0)
        except ValueError:
            n = 0.0
        src = re.sub(r"0x([0-9a-f]{9,})", lambda m: hex(int(m.group(1), 16) - base),
                     r["Source"].strip())
        out.append((int(r["Address"], 16) - base, src, n))
    return rows[0][1], out


def steady_loop(ins, per_trip=1):
    """The smallest region closed by a backward branch that holds per_trip tiles' GEMMs."""
    best = None
    for a, src, _ in ins:
        m = re.search(r"BRA (?:!?U?P\d, )?0x([0-9a-f]+)", src)
        if not m or int(m.group(1), 16) >= a:
            continue
        tgt = int(m.group(1), 16)
        body = [x for x in ins if tgt <= x[0] <= a]
        if sum("HGMMA" in x[1] for x in body) in (12 * per_trip, 16 * per_trip) and (
                best is None or len(body) < len(best)):
            best = body
    return best


def main():
    for path in sys.argv[1:]:
        name, ins = load(path)
        body = steady_loop(ins)
        if not body:
            print("%s: no steady loop with both GEMMs found" % path)
            continue
        it = next(n for _, s, n in body if "HGMMA" in s)
        tot = sum(n for _, _, n in body) / it
        common = sum(n for _, _, n in body if n > 0.5 * it) / it
        print("%s\n  %s\n  loop 0x%x-0x%x, %d instructions; %.4g iterations; per iteration %.1f "
              "(common path %.1f)" % (path, name, body[0][0], body[-1][0], len(body), it, tot,
                                      common))


if __name__ == "__main__":
    main()
