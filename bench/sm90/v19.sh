#!/bin/bash
# v19.sh — one device call that verifies the default build (v19: LA_LEAN + LA_DESC_BASE at D=128)
# in the bridge and in the library: bridges v19 (build-sm90/v19) and v18 (build-sm90,
# -DLA_SM90_V18); same_bits.py v19 against v18 (masks, O, LSE bit for bit) and the CPU-spec checks;
# racecheck / synccheck of one D=128 case; then the library for sm_90 with `ctest -L gpu`, the
# Python layer's CUDA tests and the torch table (= tables.sh's first run). Carry [".whl"] (the
# Python tests' diffusers and pytest). Everything under $OUT comes back as one all.tgz.
# Env: GC_STEPS (default "build test python torch") the gpu_check.sh steps; AB_D64=1 adds an
# A/B of the default against v18 at D=64 (H=48 S=17776: dense, MASS, d = 0.25, d = 0.10).
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
la_bridges v19 "" "-DLA_SM90_V18" || exit 1
N=build-sm90/v19/libsm90h.so
P=build-sm90/libsm90h.so
la_first $N len2048_d128_h20 60 || exit 1
la_checks $N $P || exit $?
la_sanitize $N len2048_d128_h20 90
# shellcheck disable=SC2086 # the steps are a list
OUT=/tmp/gc1 BACKEND=sm90 scripts/gpu_check.sh ${GC_STEPS:-build test python torch} \
  > "$O/gpu_check.log" 2>&1
echo "gpu_check rc=$? $(t)"
grep -E "tests passed|tests failed|passed|failed|status" "$O/gpu_check.log" | tail -6
cp /tmp/gc1/env.txt "$O/env.txt"
if [ -f /tmp/gc1/table.md ]; then
  cp /tmp/gc1/table.md "$O/table_run1.md"
  cp /tmp/gc1/baselines.txt "$O/baselines_run1.txt"
  cat "$O/table_run1.md"
fi
if [ "${AB_D64:-0}" = 1 ]; then
  la_ab $N $P 11 420 "48,17776,64" "d=0.25,d=0.10,MASS_thr=-30" ab_v19_d64.log "new = v19, prev = v18"
  grep RESULT "$O/ab_v19_d64.log"
fi
la_pack
echo "done $(t)"
