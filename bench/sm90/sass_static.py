#!/usr/bin/env python3
"""sass_static.py — per-tile instruction count of a build's consumer steady loop without a GPU.

An ncu SASS export (srcprof.sh with SASS_ALL=1) says how often each instruction of the build it
profiled ran. This tool carries that knowledge to another build by source location: both builds
are disassembled here with their inline chains (nvdisasm -gi on a -lineinfo cubin, which is what
the device compiles: same nvcc), every instruction of the reference's steady loop gets the key
"chain of source-line texts" (so edits that move line numbers do not matter) and its executions
per tile. In the other build, the loop's instructions are counted per tile as: known key (the
full chain, else its innermost two frames, else the innermost line) -> the reference's mean
executions per tile and instruction for that key; unknown key (new code) -> 1 (listed with
--list-new, to be read), or 0 where --rare's regex matches one of its line texts (new code in a
rare branch). Checked (2026-11-28): the v18 exports as reference estimate v19's dense loop at
437.2 per tile (ncu: 435.2) and its MASS loop at 506.9 without --rare, 482.9 with the new rare
lines named (--rare 'const float cr =|nvis == 1 \?|jc >> 5|const int jc =|la_flush|la_must_k_word';
ncu: 482.8).

Usage:
  python3 bench/sm90/sass_static.py --ref-csv REF.csv.gz --ref-cubin REF.cubin --ref-src DIR \\
      --cubin NEW.cubin --src DIR --kernel MANGLED_NAME [--list-new] [--rare REGEX]
The cubins are built with -lineinfo (bench/sm90/build.sh's flags, -cubin); DIR is the source
tree each was built from (its src/cuda/sm90/*.cu[h] give the line texts).
The reference against itself reproduces sass_tile.py's figure. NVDISASM names nvdisasm if it is
not on PATH (e.g. the one in triton's wheel).
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sass_tile import load, steady_loop  # noqa: E402

NVDISASM = os.environ.get("NVDISASM", "nvdisasm")


def disasm_chains(cubin, kernel):
    out = subprocess.run([NVDISASM, "-gi", "-c", cubin], capture_output=True, text=True,
                         check=True).stdout
    start = out.index("//--------------------- .text.%s " % kernel)
    end = out.find("//--------------------- .text.", start + 10)
    ins, pending, cur, labels, open_labels = [], [], (), {}, []
    for line in out[start:end if end > 0 else len(out)].splitlines():
        m = re.match(r'\s*//## File "([^"]+)", line (\d+)( inlined at)?', line)
        if m:
            pending.append((os.path.basename(m.group(1)), int(m.group(2))))
            if not m.group(3):
                cur, pending = tuple(pending), []
            continue
        m = re.match(r"(\.L_x_\d+):", line)
        if m:
            open_labels.append(m.group(1))
            continue
        m = re.match(r"\s*/\*([0-9a-f]{4,5})\*/\s+(.*?)\s*;", line)
        if m:
            addr = int(m.group(1), 16)
            for lb in open_labels:
                labels[lb] = addr
            open_labels = []
            ins.append((addr, m.group(2), cur))
    # branch targets as addresses (nvdisasm prints labels)
    return [(a, re.sub(r"`\((\.L_x_\d+)\)", lambda m: hex(labels.get(m.group(1), 0)), s), c)
            for a, s, c in ins]


def line_texts(src_dir):
    texts = {}
    d = os.path.join(src_dir, "src", "cuda", "sm90")
    for f in os.listdir(d):
        if f.endswith((".cu", ".cuh")):
            with open(os.path.join(d, f)) as fh:
                texts[f] = [ln.strip() for ln in fh]
    return texts


def key(chain, texts):
    return tuple(texts[f][n - 1] if f in texts and 0 < n <= len(texts[f]) else "%s:%d" % (f, n)
                 for f, n in chain)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-csv", required=True)
    ap.add_argument("--ref-cubin", required=True)
    ap.add_argument("--ref-src", required=True)
    ap.add_argument("--cubin", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--list-new", action="store_true")
    ap.add_argument("--per-trip", type=int, default=1,
                    help="tiles per trip of the build's steady loop (an unrolled loop: 2)")
    ap.add_argument("--rare", default="",
                    help="regex: new code whose line texts match runs on no tile (a rare branch)")
    a = ap.parse_args()
    cnt = {addr: n for addr, _, n in load(a.ref_csv)[1]}
    rtexts, ntexts = line_texts(a.ref_src), line_texts(a.src)
    rins = disasm_chains(a.ref_cubin, a.kernel)
    rloop = steady_loop(rins)
    if not rloop:
        sys.exit("no steady loop in the reference")
    tiles = next(cnt.get(x[0], 0) for x in rloop if "HGMMA" in x[1])
    # executions per tile and instruction, by the full chain of line texts and, as fallbacks for
    # code that moved (a new lambda around an old line), by its innermost two frames and by the
    # innermost frame alone
    levels = [{}, {}, {}]
    for addr, src, ch in rloop:
        k = key(ch, rtexts)
        for lv, kk in zip(levels, (k, k[:2], k[:1])):
            e = lv.setdefault(kk, [0, 0.0])
            e[0] += 1
            e[1] += cnt.get(addr, 0) / tiles
    ref_total = sum(v[1] for v in levels[0].values())
    ref_common = sum(cnt.get(x[0], 0) / tiles for x in rloop if cnt.get(x[0], 0) > 0.5 * tiles)
    nins = disasm_chains(a.cubin, a.kernel)
    nloop = steady_loop(nins, a.per_trip)
    if not nloop:
        sys.exit("no steady loop in the build")
    est, new, by_level = 0.0, {}, [0, 0, 0, 0]
    for addr, src, ch in nloop:
        k = key(ch, ntexts)
        for i, kk in enumerate((k, k[:2], k[:1])):
            if kk in levels[i]:
                n, ex = levels[i][kk]
                est += ex / n
                by_level[i] += 1
                break
        else:
            rare = a.rare and any(re.search(a.rare, t) for t in k)
            est += 0.0 if rare else 1.0
            by_level[3] += 1
            new[k] = new.get(k, 0) + 1
    print("reference %s: loop %d instructions, %.1f per tile (common path %.1f)" % (
        os.path.basename(a.ref_cubin), len(rloop), ref_total, ref_common))
    est /= a.per_trip
    print("build %s: loop %d instructions, estimated %.1f per tile (matched by full chain %d, "
          "two frames %d, innermost line %d; new code %d, once per tile unless --rare)" % (
              os.path.basename(a.cubin), len(nloop), est, *by_level))
    if a.list_new:
        for k, n in sorted(new.items(), key=lambda kv: -kv[1]):
            print("  %3d  %s" % (n, "  <-  ".join(x[:60] for x in k[:3])))


if __name__ == "__main__":
    main()
