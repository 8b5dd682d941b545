#!/bin/bash
# markt.sh — one device call for -DLA_MARKT=1 (sm90_fwd.cu "LA_MARKT": at D=128 PEAK / MASS is a
# template argument, not the run-time p.mass test in every tile's criterion): builds the bridge
# twice (build-sm90/markt; build-sm90 = the default, v18), same_bits.py against v18 (the same
# arithmetic: masks, O, LSE bit for bit) and the CPU-spec checks, then --ab-bench new = MARKT,
# prev = v18 with marking (nothing skipped, and d = 0.25 with MASS thr = -4) at two D=128 shapes.
# Prediction: MASS with nothing skipped -0.5 to -1 % (the test and its branch held ~1 % of the
# multicast marking kernel's ncu samples), PEAK within +-0.5 %, dense unchanged (same kernels).
cd "$(dirname "$0")/../.." || exit 1
# Tried and lost (NOTES.md, session of 21:59 UTC); the code is bench/sm90/results/markt_tried.diff,
# applied here to the device copy of the tree when the source lacks LA_MARKT.
. bench/sm90/steps.sh
la_tried LA_MARKT bench/sm90/results/markt_tried.diff || exit 1
la_bridges markt -DLA_MARKT=1 "" || exit 1
N=build-sm90/markt/libsm90h.so
P=build-sm90/libsm90h.so
la_checks $N $P || exit $?
la_ab $N $P 99 500 "${AB_SHAPES:-12,32760,128;40,75600,128}" \
  "${AB_CONFIGS:-MASS_thr=-30,PEAK_thr=-30,d=0.25_MASS_thr=-4}" ab_markt.log "new = LA_MARKT=1, prev = v18"
grep -E "RESULT|new/prev|paired" "$O/ab_markt.log"
