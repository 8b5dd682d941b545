#!/bin/bash
# mwarp_dbg.sh — the case where the first form of -DLA_MWARP=2 failed now and then
# (len2048_d128_h20, multicast marking with several items per CTA, pingpong: "unspecified launch
# failure" in 2 of 12 runs, clean under memcheck, racecheck and synccheck) under racecheck and
# synccheck, then the plain check three times in every variant. That form had the marker arrive
# on the K ring's empty barriers; the kept form gates the producer through stat_empty instead.
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
la_tried LA_MWARP bench/sm90/results/mwarp_tried.diff || exit 1
[ -s build-sm90/mwarp/libsm90h.so ] || LA_SM90_OUT=build-sm90/mwarp LA_SM90_NVCC_FLAGS=-DLA_MWARP=2 bench/sm90/build.sh > $O/b.log 2>&1 || { tail -3 $O/b.log; exit 1; }
echo built $(($(date +%s)-T0))
for tool in racecheck synccheck; do
  timeout 150 compute-sanitizer --tool $tool --print-limit 8 python3 bench/sm90/sm90_bench.py build-sm90/mwarp/libsm90h.so --check --variant 1,2 --only len2048_d128_h20 > $O/$tool.log 2>&1
  echo $tool rc=$? $(($(date +%s)-T0)); grep -v '^ok' $O/$tool.log | grep -v '^\s*$' | head -30
done
for i in 1 2 3; do
  for v in 1,2 0,2 1,1 0,0; do
    timeout 60 python3 bench/sm90/sm90_bench.py build-sm90/mwarp/libsm90h.so --check --variant $v --only len2048_d128_h20,len640_d128_b3 > $O/c.log 2>&1
    echo "check $v rc=$? $(grep -c '^ok' $O/c.log) ok $(grep -E 'Error|error' $O/c.log | head -1)"
  done
done
