#!/bin/bash
# df_san.sh — compute-sanitizer (memcheck, racecheck, synccheck) of LA_DF's schedule: a bridge
# with the rule at every size (-DLA_DF_MIN_ROUNDS=1 -DLA_DF_MIN_SK=0), on len2048_d128_h20 (320
# rows: 3 rounds on 132 SMs, the last one partial) with a read mask, multicast variant 1,2.
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
LA_SM90_OUT=build-sm90/dfall LA_SM90_NVCC_FLAGS="-DLA_DF_MIN_ROUNDS=1 -DLA_DF_MIN_SK=0" \
  bench/sm90/build.sh > "$O/build.log" 2>&1 || { tail -3 "$O/build.log"; exit 1; }
L=build-sm90/dfall/libsm90h.so
la_step "check len2048_d128_h20" check.log 60 python3 bench/sm90/sm90_bench.py $L --check --variant 1,2 --only len2048_d128_h20 || exit $?
timeout 100 compute-sanitizer --tool memcheck --error-exitcode 3 --target-processes all \
  python3 bench/sm90/sm90_bench.py $L --check --variant 1,2 --only len2048_d128_h20 > "$O/san_memcheck.log" 2>&1
echo "memcheck rc=$? ($(($(date +%s) - T0)) s) $(grep -E 'SUMMARY' "$O/san_memcheck.log" | tail -1)"
la_sanitize $L len2048_d128_h20 100
