#!/usr/bin/env python3
"""sass_wait0.py — checks in the SASS of every sm90 kernel instance that the softmax of a tile
runs under the PV GEMM: in the steady-state loop, between `wgmma.wait_group 1` (WARPGROUP.DEPBAR
.LE gsb0, 0x1) and the next HGMMA issue, the wait_group 0 (gsb0, 0x0) must come after every
MUFU.EX2 of the tile (ptxas hoisted it above them in v4's non-marking kernels).

Usage: cuobjdump -sass build-sm90/libsm90h.so | python3 bench/sm90/sass_wait0.py
Prints one line per instance (offsets of the waits and of the first/last EX2); exit status 1 if
an instance has an EX2 after its wait 0, no wait 0, or no instance was found.
"""
import re
import sys


def instances(text):
    for fn in text.split("Function :")[1:]:
        name = fn.split()[0]
        m = re.search(r"ILi(\d+)ELi(\d)ELi(\d)ELi(\d)E", name)
        tag = name if not m else "D=%s %s pp=%s mark=%s" % (
            m.group(1), "fp16" if m.group(2) == "1" else "bf16", m.group(3), m.group(4))
        ins = []
        for line in fn.splitlines():
            mm = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s*(.*?)\s*;", line)
            if mm:
                ins.append((int(mm.group(1), 16), mm.group(2)))
        yield tag, ins


def main():
    bad, n = 0, 0
    for tag, ins in instances(sys.stdin.read()):
        for i, (off1, s1) in enumerate(ins):
            if "DEPBAR.LE gsb0, 0x1" not in s1:
                continue
            n += 1
            before, after, w0, ex = 0, 0, None, []
            for off, s in ins[i + 1:]:
                if "HGMMA" in s or "WARPGROUP.ARRIVE" in s:
                    break
                if "MUFU.EX2" in s:
                    ex.append(off)
                    if w0 is None:
                        before += 1
                    else:
                        after += 1
                if w0 is None and "DEPBAR.LE gsb0, 0x0" in s:
                    w0 = off
            ok = w0 is not None and before > 0 and after == 0
            bad += not ok
            print("%-24s wait1 %#07x  EX2 before wait0 %2d (%s..%s)  wait0 %s  EX2 after %2d  %s" % (
                tag, off1, before, hex(ex[0]) if ex else "-", hex(ex[-1]) if ex else "-",
                hex(w0) if w0 is not None else "none", after, "ok" if ok else "HOISTED"))
    print("sass_wait0: %d loops, %d with the wait 0 above an EX2 or missing" % (n, bad))
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
