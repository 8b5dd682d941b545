#!/bin/bash
# call_late_commit_trace.sh — one device call (session of 2026-11-27 21:59 UTC): the portable kernel's
# LATE_COMMIT (D=128 marking off without the spill) against -DLA_LATE_COMMIT=0 (scripts/ab_portable.sh:
# test_gpu --portable, bit-identical O and masks, full-mask timing in one process), then the
# per-phase %clock64 trace of the sm90 kernel v15 (v17 with -DLA_TRACE=1 spills 16 bytes in the
# multicast marking kernel; v15 is v17 without Q in registers), dense and MASS marking with nothing
# skipped on the multicast path, and d = 0.25 (bench/sm90/trace.py). Usage on the device: this file.
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp}
T0=$(date +%s)
OUT=/tmp/abp ALT_FLAGS=-DLA_LATE_COMMIT=0 ARCH=90 REPS=21 scripts/ab_portable.sh > /tmp/abp.log 2>&1
echo "ab_portable rc=$? ($(($(date +%s) - T0)) s)"
grep -E "D=128 .*off" /tmp/abp/ptxas.txt | head -4
tail -4 /tmp/abp/test_gpu.log
cat /tmp/abp/ab_alt.txt | tail -25
cp /tmp/abp/ab.txt $OUT/ab_portable_old_new.txt; cp /tmp/abp/ab_alt.txt $OUT/ab_portable_new_alt.txt; cp /tmp/abp/ptxas.txt $OUT/
LA_SM90_OUT=build-sm90/trace LA_SM90_NVCC_FLAGS="-DLA_TRACE=1 -DLA_SM90_V15" bench/sm90/build.sh > /tmp/btr.log 2>&1 || { tail -3 /tmp/btr.log; exit 1; }
timeout $((560 - $(date +%s) + T0)) python3 bench/sm90/trace.py build-sm90/trace/libsm90h.so --shape 12,32760,128 --shape 40,75600,128 --dens 0.25 > $OUT/trace_v15.txt 2>&1
echo "trace rc=$? ($(($(date +%s) - T0)) s)"
grep -E "^==|steady|overhead|period|CTA ends" $OUT/trace_v15.txt | head -60
