#!/bin/bash
# dyn.sh — one device call for the -DLA_DYN=1 experiment (read-mask calls take their items from a
# global ticket counter in item order instead of the longest-first list; sm90_fwd.cu "LA_DYN"):
#   1. builds the bridge twice (build-sm90/dyn: -DLA_DYN=1, spills allowed: its non-pingpong
#      marking variant at D=128 spills 4 bytes; build-sm90: the default, v17);
#   2. one CPU-spec case first (a hang shows in 40 s), same_bits.py against v17 (the schedule must
#      not change a bit), then every case with rotating variants and with variant 1,2 (read-mask
#      calls with more rows than SMs take the counter; every launch after the first also checks
#      that the last CTA reset it);
#   3. only if all passed: --ab-bench new = DYN, prev = v17, read-mask densities 0.25 / 0.10 and
#      dense (at D=64 dense runs unclustered, so through the item ring) at $AB_SHAPES;
#   4. racecheck + synccheck on one read-mask case with more rows than SMs.
# Prediction (NOTES.md, session of 21:59 UTC): t/(d·dense) at d = 0.25 at the 720p shapes from
# 1.10-1.15 to ~1.06-1.08 (no ranking pass, CTAs in step as the equal-row masks that measured
# 1.08), d = 0.10 -3 to -6 %, H=12 S=32760 within ±1 % (23 rounds: the tail may grow), D=64
# dense ±1 %. Falsified if d = 0.25 at H=40 S=75600 gains < 1.5 %.
# Tried and lost (NOTES.md, session of 21:59 UTC); the code is bench/sm90/results/dyn_tried.diff,
# which this script applies to the device's copy of the tree when the source lacks LA_DYN (the
# default build of the patched source is byte-identical to v17's).
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
la_tried LA_DYN bench/sm90/results/dyn_tried.diff || exit 1
# (on v17, as timed)
LA_SM90_ALLOW_SPILLS=1 la_bridges dyn "-DLA_SM90_V17 -DLA_DYN=1" -DLA_SM90_V17 || exit 1
echo "dyn spills: $(grep -cE '[1-9][0-9]* bytes spill' build-sm90/dyn/ptxas.log) kernels"
N=build-sm90/dyn/libsm90h.so
P=build-sm90/libsm90h.so
la_first $N len2048_d128_h20 40 --variant 1,2 || exit $?
la_checks $N $P || exit $?
la_ab $N $P 99 480 "${AB_SHAPES:-40,75600,128;24,118800,128;12,32760,128;48,17776,64}" \
  "${AB_CONFIGS:-d=0.25,d=0.10}" ab_dyn.log "new = LA_DYN=1, prev = v17"
grep -vE "^#|^ *$" "$O/ab_dyn.log" | tail -32
la_sanitize $N len2048_d128_h20 60
