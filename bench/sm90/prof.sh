#!/bin/bash
# prof.sh — one device call: builds the Hopper bridge (default flags), times prof.py's cases
# (medians, one process), then profiles a few of them with Nsight Compute (full set, clocks
# left alone) and writes the raw metrics as CSV plus the details pages; $OUT gets prof.tgz.
# Usage on the device: bench/sm90/prof.sh [CASE ...]   (default: d128_dense d128_r25 d64_dense
# d64_mass)
cd "$(dirname "$0")/../.." || exit 1
OUTDIR=${OUT:-/tmp}
P=/tmp/prof; mkdir -p $P
start=$(date +%s)
[ -f build-sm90/libsm90h.so ] || bench/sm90/build.sh > $P/build.log 2>&1 || { tail $P/build.log; exit 1; }
export PYTHONUNBUFFERED=1
timeout 150 python3 bench/sm90/prof.py build-sm90/libsm90h.so 2>&1 | tee $P/times.txt
CASES=${*:-d128_dense d128_r25 d64_dense d64_mass}
for c in $CASES; do
  timeout 90 ncu --clock-control none --profile-from-start off --set full -f -o $P/$c \
    python3 bench/sm90/prof.py build-sm90/libsm90h.so --once $c > $P/ncu_$c.log 2>&1
  echo "ncu $c rc=$? ($(($(date +%s) - start)) s)"
  ncu --import $P/$c.ncu-rep --page raw --csv > $P/$c.raw.csv 2>/dev/null
  ncu --import $P/$c.ncu-rep --page details > $P/$c.details.txt 2>/dev/null
  grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|L2 Hit Rate|DRAM Throughput|Issue Slots Busy|Executed Ipc A" \
    $P/$c.details.txt | head -12
done
tar czf $OUTDIR/prof.tgz -C /tmp prof
echo "prof.sh total $(($(date +%s) - start)) s"
