#!/bin/bash
# mcast_exact.sh — one device call for the spec-exact CTA-pair multicast (-DLA_MCAST=1: each CTA
# of a pair in its own visit order, rank 1 one ring slot behind; src/cuda/sm90/NOTES.md):
#   1. builds the bridge twice (build-sm90: default; build-sm90/alt: -DLA_MCAST=1) and, in the
#      background, the library with -DLA_MCAST=1 (build-mc, for tests/gpu);
#   2. checks the multicast build against the CPU spec one case at a time, 30 s each (a hang
#      shows here), then racecheck and synccheck on two small cases (odd Tq: a phantom row);
#   3. tests/gpu on the multicast library: every GPU test, including "O with marking at
#      thr = -inf is the dense run's O bit for bit" (the prototype failed it);
#   4. only if all of that passed: times default against multicast at density 1 (sm90_bench.py
#      --ab-bench, paired, "dense again" rows for drift).
# Usage on the device: bench/sm90/mcast_exact.sh   ($OUT gets the logs; key lines on stdout)
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}
T0=$(date +%s)
t() { echo "($(($(date +%s) - T0)) s)"; }
export PYTHONUNBUFFERED=1
( cmake -S . -B build-mc -G Ninja -DCMAKE_BUILD_TYPE=Release -DLITEATTN_CUDA=ON \
    -DLITEATTN_CUDA_ARCHS=90 -DCMAKE_CUDA_FLAGS=-DLA_MCAST=1 > "$O/build_lib_mc.log" 2>&1 &&
  cmake --build build-mc -j 10 --target test_gpu >> "$O/build_lib_mc.log" 2>&1 ) &
pl=$!
bench/sm90/build.sh > "$O/build_new.log" 2>&1 &
pn=$!
LA_SM90_OUT=build-sm90/alt LA_SM90_NVCC_FLAGS=-DLA_MCAST=1 bench/sm90/build.sh > "$O/build_mc.log" 2>&1 ||
  { tail -3 "$O/build_mc.log"; exit 1; }
wait $pn || { tail -3 "$O/build_new.log"; exit 1; }
echo "bridges built $(t)"
L=build-sm90/alt/libsm90h.so
cuobjdump -sass "$L" | grep -c "UTMALDG.5D.MULTICAST" | sed 's/^/multicast loads in the SASS: /'
# the check gives the first run of a case pingpong + the persistent grid: the multicast path in
# dense mode (no read mask, no marking). Odd Tq (phantom row), D=64 (unclustered unless
# LA_MCAST=2), more pairs than clusters, Sq != Sk (unclustered), GQA.
CASES="len640_d128_b3 len4224_d128 len2048_d128_h20 len1023_d64_mqa8 len300_d128_oodd"
for c in $CASES; do
  timeout 40 python3 bench/sm90/sm90_bench.py "$L" --check --only "$c" > "$O/check_mc_$c.log" 2>&1
  rc=$?
  echo "check $c rc=$rc $(t)"; grep -E "^FAIL" "$O/check_mc_$c.log" | head -3
  [ $rc -eq 124 ] && { echo "mcast_exact.sh: the check hung (timeout): stop"; exit 124; }
  [ $rc -ne 0 ] && exit $rc
done
timeout 120 python3 bench/sm90/sm90_bench.py "$L" --check --quick > "$O/check_mc_quick.log" 2>&1
echo "quick check (all shapes) rc=$? $(t) $(tail -1 "$O/check_mc_quick.log")"
for tool in racecheck synccheck; do
  for c in len640_d128_b3 len2048_d128_h20; do
    timeout 90 compute-sanitizer --tool $tool --error-exitcode 3 --target-processes all \
      python3 bench/sm90/sm90_bench.py "$L" --check --only "$c" > "$O/san_mc_${tool}_$c.log" 2>&1
    echo "$tool $c rc=$? $(t) $(grep -E 'SUMMARY' "$O/san_mc_${tool}_$c.log" | tail -1)"
  done
done
wait $pl || { echo "library build failed"; tail -5 "$O/build_lib_mc.log"; exit 1; }
echo "library (LA_MCAST=1) built $(t)"
timeout 200 ctest --test-dir build-mc -L gpu --output-on-failure > "$O/test_gpu_mc.log" 2>&1
rc=$?
echo "ctest -L gpu (LA_MCAST=1) rc=$rc $(t)"; grep -E "^FAIL|tests passed|tests failed" "$O/test_gpu_mc.log" | head -5
[ $rc -ne 0 ] && exit $rc
timeout "${LA_AB_TIMEOUT:-260}" python3 bench/sm90/sm90_bench.py "$L" --ab-bench \
  --ab build-sm90/libsm90h.so --seed 99 --ab-shapes "40,75600,128;24,118800,128;12,32760,128" --ab-configs dense \
  > "$O/ab_mcx.log" 2>&1
echo "ab rc=$? $(t) (new = LA_MCAST=1, prev = default)"
grep -E "dense" "$O/ab_mcx.log"
