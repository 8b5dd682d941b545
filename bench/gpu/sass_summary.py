#!/usr/bin/env python3
"""sass_summary.py — per-kernel instruction counts from `cuobjdump -sass` (stdin): matrix ops,
shared-memory loads, local-memory spills, SFU ops, barriers; a quick read of what the compiler
made of each variant (the spill report alone does not say where the spills sit)."""
import re
import sys

OPS = ["HMMA", "LDSM", "LDGSTS", "MUFU", "LDL", "STL", "SHFL", "BAR", "FMUL", "FFMA", "F2FP", "BRA"]
for func in re.split(r"\n\s+Function : ", sys.stdin.read())[1:]:
    name = func.split("\n")[0].strip()
    count = {}
    n = 0
    for line in func.split("\n"):
        m = re.match(r"\s+/\*[0-9a-f]{4}\*/\s+(@!?U?P\w+\s+)?([A-Z0-9_]+)", line)
        if m:
            n += 1
            count[m.group(2)] = count.get(m.group(2), 0) + 1
    print(f"{name[:70]:70s} {n:6d} instr  " + " ".join(f"{o}={count.get(o, 0)}" for o in OPS))
