#!/bin/bash
# l2_power.sh — one device call: where the sparse rows' time goes at the 720p shapes, cycles or
# clock. Builds the Hopper bridge (default flags), runs power.py --masks (time, SM clock and board
# power per configuration, two passes) at H=40 S=75600 D=128, then Nsight Compute with four
# metrics (L2 hit rate, DRAM bytes read, SM clock) for dense and the d = 0.25 masks (random,
# random on the static stride, equal rows, one band per row). $OUT gets the logs.
# Usage on the device: bench/sm90/l2_power.sh [H,S,D]
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}
SH=${1:-40,75600,128}
T0=$(date +%s)
bench/sm90/build.sh > "$O/build.log" 2>&1 || { tail -5 "$O/build.log"; exit 1; }
export PYTHONUNBUFFERED=1
timeout 300 python3 bench/sm90/power.py build-sm90/libsm90h.so --shape "$SH" --masks --secs 3 \
  2>&1 | tee "$O/power_masks.txt"
IFS=, read -r H S D <<< "$SH"
for c in dense r25 r25_stride e25 b25; do
  n=h${H}_s${S}_d${D}_$c
  timeout 100 ncu --clock-control none --profile-from-start off \
    --metrics lts__t_sector_hit_rate.pct,dram__bytes_read.sum,sm__cycles_elapsed.avg.per_second,gpu__time_duration.sum \
    python3 bench/sm90/prof.py build-sm90/libsm90h.so --once "$n" --shape "$SH" > "$O/ncu_$c.log" 2>&1
  echo "ncu $n rc=$? ($(($(date +%s) - T0)) s): $(grep -E 'hit_rate|dram__bytes|per_second|duration' "$O/ncu_$c.log" | awk '{print $1, $(NF-1), $NF}' | tr '\n' ' ')"
done
