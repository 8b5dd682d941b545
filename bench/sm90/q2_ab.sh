#!/bin/bash
# q2_ab.sh — one device call for LA_Q2 (two Q buffers): ab.sh with the full CPU-spec check of the
# new build (-DLA_Q2=1) against prev = the default build (v15), at H=12 S=32760 D=128 (dense
# and marking: the steady loop was rescheduled), D=64 H=48 S=17776 and H=24 S=118800 (sparse rows,
# where the per-item Q wait weighs most), then racecheck and synccheck on two cases with more rows
# than SMs (each CTA alternates the Q buffers). LA_Q2 left the source after it lost: apply
# bench/sm90/results/q2_tried.diff first (`git apply`), else -DLA_Q2=1 builds the default. The
# diff is against v15's source (commit d773683; it conflicts with v17's Q in registers): first
# `git checkout d773683 -- src/cuda/sm90/sm90_fwd.cu`, then apply it (checked to apply there).
# Usage on the device: bench/sm90/q2_ab.sh
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}
T0=$(date +%s)
LA_SM90_NEW_FLAGS=-DLA_Q2=1 LA_SM90_PREV_FLAGS= \
  LA_AB_ARGS="--ab-shapes 48,17776,64;12,32760,128;24,118800,128 --ab-configs MASS_thr=-30,d=0.25,d=0.10" \
  LA_AB_TIMEOUT=330 timeout 500 bench/sm90/ab.sh > "$O/ab_stdout.log" 2>&1
echo "ab rc=$? ($(($(date +%s) - T0)) s)"
grep -E "check rc|^FAIL|RESULT|  dense|MASS|d=0|paired" "$O/ab_stdout.log" | tail -40
for tool in racecheck synccheck; do
  for c in len2048_d64_h24 len2048_d128_h20; do
    [ $(($(date +%s) - T0)) -gt 540 ] && { echo "no time left for $tool $c"; continue; }
    timeout 40 compute-sanitizer --tool $tool --error-exitcode 3 --target-processes all \
      python3 bench/sm90/sm90_bench.py build-sm90/libsm90h.so --check --variant 1,2 --only "$c" > "$O/san_${tool}_$c.log" 2>&1
    echo "$tool $c rc=$? ($(($(date +%s) - T0)) s) $(grep -E 'SUMMARY' "$O/san_${tool}_$c.log" | tail -1)"
  done
done
