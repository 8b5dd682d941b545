#!/usr/bin/env python3
"""sass_cmp.py — two Nsight Compute SASS-level source exports (srcprof.sh with SASS_ALL=1, e.g. the
dense and the MASS-marking multicast kernel) side by side: samples and stall reasons per kernel,
per region of the consumer's steady loop, and the instructions of the marking kernel that hold
the most samples. Usage: python3 bench/sm90/sass_cmp.py A.csv.gz B.csv.gz [--top 40]"""
import argparse
import csv
import gzip
import re


def load(path):
    with gzip.open(path, "rt") as f:
        rows = list(csv.reader(f))
    name = rows[0][1]
    hdr = rows[1]
    recs = []
    for r in rows[2:]:
        if len(r) != len(hdr):
            continue
        d = dict(zip(hdr, r))
        recs.append(d)
    return name, hdr, recs


def num(x):
    try:
        return float(x)
    except ValueError:
        return 0.0


def summary(name, hdr, recs):
    stalls = [h for h in hdr if h.startswith("stall_") and "Not Issued" not in h]
    tot = sum(num(r["Warp Stall Sampling (All Samples)"]) for r in recs)
    inst = sum(num(r["Instructions Executed"]) for r in recs)
    by = {s: sum(num(r[s]) for r in recs) for s in stalls}
    print("%s\n  samples %d, warp instructions executed %.4g" % (name, tot, inst))
    for s, v in sorted(by.items(), key=lambda kv: -kv[1])[:10]:
        print("    %-26s %8d  %5.1f %%" % (s, v, 100 * v / max(tot, 1)))
    return tot, inst, by


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    A = load(a.a)
    B = load(a.b)
    ta, ia, ba = summary(*A)
    tb, ib, bb = summary(*B)
    print("\nB/A: samples %.4f, instructions %.4f" % (tb / ta, ib / ia))
    print("stall reasons, B - A (samples, share of A's total):")
    for s in sorted(ba, key=lambda k: -(bb[k] - ba[k]))[:12]:
        print("    %-26s %+8d  %+5.2f %%" % (s, bb[s] - ba[s], 100 * (bb[s] - ba[s]) / ta))
    # opcode classes in B vs A
    def ops(recs):
        c = {}
        for r in recs:
            op = re.sub(r"^\s*(@!?U?P\w+\s+)?", "", r["Source"]).split(" ")[0]
            op = op.split(".")[0]
            e = c.setdefault(op, [0.0, 0.0])
            e[0] += num(r["Instructions Executed"])
            e[1] += num(r["Warp Stall Sampling (All Samples)"])
        return c
    oa, ob = ops(A[2]), ops(B[2])
    print("\nopcode: executed A, B, B - A; samples A, B, B - A (largest sample differences)")
    keys = sorted(set(oa) | set(ob), key=lambda k: -abs(ob.get(k, [0, 0])[1] - oa.get(k, [0, 0])[1]))
    for k in keys[:25]:
        ea, sa = oa.get(k, [0, 0])
        eb, sb = ob.get(k, [0, 0])
        print("  %-12s %12.4g %12.4g %+12.4g   %8d %8d %+8d" % (k, ea, eb, eb - ea, sa, sb, sb - sa))
    print("\nB's instructions with the most samples:")
    stalls = [h for h in B[1] if h.startswith("stall_") and "Not Issued" not in h]
    for r in sorted(B[2], key=lambda r: -num(r["Warp Stall Sampling (All Samples)"]))[:a.top]:
        top = sorted(((num(r[s]), s[6:]) for s in stalls), reverse=True)[:2]
        print("  %s %-60s %6d  %s" % (r["Address"][-5:], r["Source"].strip()[:60],
                                      num(r["Warp Stall Sampling (All Samples)"]),
                                      ", ".join("%s %d" % (n, v) for v, n in top if v)))


if __name__ == "__main__":
    main()
