#!/bin/bash
# v14_phases.sh — one device call (~2 min): where -DLA_SM90_V14's schedule spends its time (it
# ranks 2-3x slower than v13's, src/cuda/sm90/NOTES.md "v14"). Builds -DLA_SM90_V14 -DLA_TRACE=1
# and runs trace.py at H=12 S=32760 D=128, H=48 S=17776 D=64 and H=40 S=75600 D=128 (d = 0.25):
# per CTA warp 0's copy+sums / keys / ranks / assignment / barrier-wait cycles ("v14 schedule")
# beside the launch's ranking time and the CTA ends. Usage on the device: bench/sm90/v14_phases.sh
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}
export PYTHONUNBUFFERED=1
LA_SM90_OUT=build-sm90/trace14 LA_SM90_NVCC_FLAGS="-DLA_SM90_V14 -DLA_TRACE=1" \
  bench/sm90/build.sh > "$O/build_trace14.log" 2>&1 || { tail -5 "$O/build_trace14.log"; exit 1; }
timeout 400 python3 bench/sm90/trace.py build-sm90/trace14/libsm90h.so --shape 12,32760,128 \
  --shape 48,17776,64 --shape 40,75600,128 --dens 0.25 > "$O/trace_v14_phases.txt" 2>&1
echo "trace rc=$?"
grep -E "^== .*d=0.25 random:|v14 schedule|CTA work" "$O/trace_v14_phases.txt"
