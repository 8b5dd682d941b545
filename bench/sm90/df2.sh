#!/bin/bash
# df2.sh — the confirmation run of -DLA_DF=1 with LA_DF_MIN_ROUNDS=64 (the rule only where a
# launch has >= 64 rounds; df.sh's first run used it everywhere): the checks of a build with the
# threshold at 1 (every read-mask case with more rows than SMs takes the rule), same_bits.py of
# that build against v17, then --ab-bench new = LA_DF=1 (threshold 64), prev = v17, at the three
# D=128 production shapes and Wan2.1-14B at 480p (H=40 S=32760: 78 rounds), d = 0.25 / 0.10, in
# reversed order from df.sh's run. Prediction (from df.sh's run): d = 0.10 at 720p -3 to -6 %,
# d = 0.25 -1 to -3 %, H=12 S=32760 unchanged (below the threshold: the same code path).
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
# (v17 with the rule from 64 rounds, as timed, against v17; the checked build has it everywhere.
# The default, v18, adds a 65536-key bound, under which H=40 S=32760 takes v17's path.)
LA_SM90_OUT=build-sm90/df1 LA_SM90_NVCC_FLAGS="-DLA_SM90_V17 -DLA_DF=1 -DLA_DF_MIN_ROUNDS=1" \
  bench/sm90/build.sh > "$O/build_df1.log" 2>&1 &
p1=$!
la_bridges df "-DLA_SM90_V17 -DLA_DF=1 -DLA_DF_MIN_SK=0" -DLA_SM90_V17 || exit 1
wait $p1 || { tail -3 "$O/build_df1.log"; exit 1; }
N=build-sm90/df/libsm90h.so
P=build-sm90/libsm90h.so
la_checks build-sm90/df1/libsm90h.so $P || exit $?
la_ab $N $P 7 520 "${AB_SHAPES:-12,32760,128;40,32760,128;24,118800,128;40,75600,128}" \
  "${AB_CONFIGS:-d=0.25,d=0.10}" ab_df2.log "new = LA_DF=1 threshold 64, prev = v17"
grep -E "RESULT|new/prev" "$O/ab_df2.log"
