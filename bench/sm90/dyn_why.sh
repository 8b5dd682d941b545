#!/bin/bash
# dyn_why.sh — why -DLA_DYN=1 lost at HunyuanVideo d = 0.25 (1.06x v17 in dyn.sh): cycles or
# clock (power.py, both builds, dense and d = 0.25), and the L2 / DRAM traffic (ncu, d = 0.25, both
# builds). Needs the bridges dyn.sh builds (rebuilt if missing, on v17 as timed). Usage on the device:
# bench/sm90/dyn_why.sh [H,S,D]
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
la_tried LA_DYN bench/sm90/results/dyn_tried.diff || exit 1
SH=${1:-24,118800,128}
[ -f build-sm90/libsm90h.so ] || LA_SM90_NVCC_FLAGS=-DLA_SM90_V17 bench/sm90/build.sh > "$O/build_prev.log" 2>&1 &
[ -f build-sm90/dyn/libsm90h.so ] || LA_SM90_ALLOW_SPILLS=1 LA_SM90_OUT=build-sm90/dyn \
  LA_SM90_NVCC_FLAGS="-DLA_SM90_V17 -DLA_DYN=1" bench/sm90/build.sh > "$O/build_new.log" 2>&1
wait
for b in build-sm90/dyn build-sm90; do
  echo "== power $b ($(($(date +%s) - T0)) s)"
  timeout 150 python3 bench/sm90/power.py $b/libsm90h.so --shape "$SH" --only d=0.25 --secs 3 \
    2>&1 | tee "$O/power_$(basename $b).txt" | grep -vE "^#" | tail -8
done
IFS=, read -r H S D <<< "$SH"
for b in build-sm90/dyn build-sm90; do
  n=h${H}_s${S}_d${D}_r25
  timeout 120 ncu --clock-control none --profile-from-start off \
    --metrics lts__t_sector_hit_rate.pct,dram__bytes_read.sum,sm__cycles_elapsed.avg.per_second,gpu__time_duration.sum \
    python3 bench/sm90/prof.py $b/libsm90h.so --once "$n" --shape "$SH" > "$O/ncu_$(basename $b).log" 2>&1
  echo "ncu $b $n rc=$? ($(($(date +%s) - T0)) s): $(grep -E 'hit_rate|dram__bytes|per_second|duration' "$O/ncu_$(basename $b).log" | awk '{print $1, $(NF-1), $NF}' | tr '\n' ' ')"
done
