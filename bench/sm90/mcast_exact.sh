#!/bin/bash
# mcast_exact.sh — one device call for the spec-exact CTA-pair multicast (-DLA_MCAST: each CTA
# of a pair in its own visit order, rank 1 one ring slot behind; calls without a read mask, with
# or without marking; src/cuda/sm90/NOTES.md):
#   1. builds the bridge three times (build-sm90: default; build-sm90/alt: -DLA_MCAST=1, D=128;
#      build-sm90/alt2: -DLA_MCAST=2, D=64 too) and the library with -DLA_MCAST=$LIBMC (build-mc,
#      for tests/gpu; default 2);
#   2. checks both multicast builds against the CPU spec, every run with the variant that takes
#      the multicast path (--variant 1,2: pingpong, persistent), one case at a time for the first
#      cases (30 s each: a hang shows here), then all cases; racecheck and synccheck on small
#      cases (odd Tq: a phantom row; D=64; marking without a read mask);
#   3. tests/gpu on the multicast library: every GPU test, including "O with marking at
#      thr = -inf is the dense run's O bit for bit";
#   4. only if all of that passed: sm90_bench.py --ab-bench, new = LA_MCAST=1, prev = default,
#      alt = LA_MCAST=2, at the four production shapes (dense, marking with nothing skipped,
#      d = 0.5 and 0.25, each divided by a dense of its own build timed right after it).
# Usage on the device: bench/sm90/mcast_exact.sh   ($OUT gets the logs; key lines on stdout)
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}
T0=$(date +%s)
t() { echo "($(($(date +%s) - T0)) s)"; }
export PYTHONUNBUFFERED=1
LIBMC=${LIBMC:-2}
( cmake -S . -B build-mc -G Ninja -DCMAKE_BUILD_TYPE=Release -DLITEATTN_CUDA=ON \
    -DLITEATTN_CUDA_ARCHS=90 -DCMAKE_CUDA_FLAGS=-DLA_MCAST=$LIBMC > "$O/build_lib_mc.log" 2>&1 &&
  cmake --build build-mc -j 8 --target test_gpu >> "$O/build_lib_mc.log" 2>&1 ) &
pl=$!
bench/sm90/build.sh > "$O/build_new.log" 2>&1 &
pn=$!
LA_SM90_OUT=build-sm90/alt2 LA_SM90_NVCC_FLAGS=-DLA_MCAST=2 bench/sm90/build.sh > "$O/build_mc2.log" 2>&1 &
p2=$!
LA_SM90_OUT=build-sm90/alt LA_SM90_NVCC_FLAGS=-DLA_MCAST=1 bench/sm90/build.sh > "$O/build_mc.log" 2>&1 ||
  { tail -3 "$O/build_mc.log"; exit 1; }
wait $pn || { tail -3 "$O/build_new.log"; exit 1; }
wait $p2 || { tail -3 "$O/build_mc2.log"; exit 1; }
echo "bridges built $(t)"
L=build-sm90/alt/libsm90h.so
L2=build-sm90/alt2/libsm90h.so
for l in $L $L2; do
  cuobjdump -sass "$l" | grep -c "UTMALDG.5D.MULTICAST" | sed "s@^@$l multicast loads in the SASS: @"
done
V="--variant 1,2"
for c in len640_d128_b3 len1023_d64_mqa8; do
  timeout 40 python3 bench/sm90/sm90_bench.py "$L2" --check $V --only "$c" > "$O/check_mc2_$c.log" 2>&1
  rc=$?
  echo "check (LA_MCAST=2) $c rc=$rc $(t)"; grep -E "^FAIL" "$O/check_mc2_$c.log" | head -3
  [ $rc -eq 124 ] && { echo "mcast_exact.sh: the check hung (timeout): stop"; exit 124; }
  [ $rc -ne 0 ] && exit $rc
done
for l in $L $L2; do
  timeout 150 python3 bench/sm90/sm90_bench.py "$l" --check $V > "$O/check_all_$(basename "$(dirname "$l")").log" 2>&1
  rc=$?
  echo "full check $l $V rc=$rc $(t) $(tail -1 "$O/check_all_$(basename "$(dirname "$l")").log")"
  grep -E "^FAIL" "$O/check_all_$(basename "$(dirname "$l")").log" | head -5
  [ $rc -ne 0 ] && exit $rc
done
for tool in racecheck synccheck; do
  for c in len640_d128_b3 len1023_d64_mqa8; do
    timeout 100 compute-sanitizer --tool $tool --error-exitcode 3 --target-processes all \
      python3 bench/sm90/sm90_bench.py "$L2" --check $V --only "$c" > "$O/san_${tool}_$c.log" 2>&1
    rc=$?
    echo "$tool (LA_MCAST=2) $c rc=$rc $(t) $(grep -E 'SUMMARY' "$O/san_${tool}_$c.log" | tail -1)"
    [ $rc -ne 0 ] && tail -5 "$O/san_${tool}_$c.log"
  done
done
wait $pl || { echo "library build failed"; tail -5 "$O/build_lib_mc.log"; exit 1; }
echo "library (LA_MCAST=$LIBMC) built $(t): $(grep -c 'Compiling entry.*sm90_kernel' "$O/build_lib_mc.log") sm90 kernel entries"
timeout 200 ctest --test-dir build-mc -L gpu --output-on-failure > "$O/test_gpu_mc.log" 2>&1
rc=$?
echo "ctest -L gpu (LA_MCAST=$LIBMC) rc=$rc $(t)"; grep -E "^FAIL|tests passed|tests failed" "$O/test_gpu_mc.log" | head -5
[ $rc -ne 0 ] && exit $rc
left=$((585 - $(date +%s) + T0))
timeout "$left" python3 bench/sm90/sm90_bench.py "$L" --ab-bench --ab build-sm90/libsm90h.so \
  --alt "$L2" --seed 99 --ab-shapes "${AB_SHAPES:-12,32760,128;48,17776,64;40,75600,128;24,118800,128}" \
  --ab-configs "${AB_CONFIGS:-MASS_thr=-30,d=0.50,d=0.25}" > "$O/ab_mcx.log" 2>&1
echo "ab rc=$? $(t) (new = LA_MCAST=1, prev = default, alt = LA_MCAST=2)"
grep -vE "^#|^ *$" "$O/ab_mcx.log" | tail -40
