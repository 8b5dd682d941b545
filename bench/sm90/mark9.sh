#!/bin/bash
# mark9.sh — one device call for v16 (LA_MARK9: the marking criterion's common path without a
# branch, its rare work at the end of the iteration; src/cuda/sm90/NOTES.md "v16"):
#   1. builds the bridge twice (build-sm90/mark9: -DLA_SM90_V15 -DLA_MARK9=1 = v16; build-sm90:
#      -DLA_SM90_V15) and the library with the mark9 flags (build-gpu) for tests/gpu;
#   2. same_bits.py: both bridges on the same inputs must give the same write masks, O and LSE
#      bit for bit (mark9 moves code, not arithmetic);
#   3. the CPU-spec check of the new bridge (all cases, rotating variants, then the multicast
#      variant 1,2);
#   4. ctest -L gpu on the library;
#   5. only if all passed: sm90_bench.py --ab-bench new vs prev, marking with nothing skipped
#      (MASS, PEAK) and d = 0.25 with MASS marking, each divided by a dense of its own build
#      timed right after it ($AB_SHAPES, $AB_CONFIGS override);
#   6. racecheck + synccheck on a marking case (odd Tq) in the time left.
# mark9 lost (NOTES.md "v16 tried") and left the source: this script applies
# bench/sm90/results/mark9_tried.diff to the tree it runs in (the device's copy) first.
# Usage on the device: bench/sm90/mark9.sh   ($OUT gets the logs; key lines on stdout)
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
la_tried LA_MARK9 bench/sm90/results/mark9_tried.diff || exit 1
( cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLITEATTN_CUDA=ON \
    -DLITEATTN_CUDA_ARCHS=90 -DLITEATTN_PTXAS_VERBOSE=ON \
    "-DCMAKE_CUDA_FLAGS=-DLA_SM90_V15 -DLA_MARK9=1" > "$O/build_lib.log" 2>&1 &&
  cmake --build build-gpu -j 8 --target test_gpu >> "$O/build_lib.log" 2>&1 ) &
pl=$!
# (v16 = v15 + mark9 against v15, as timed; the default build has moved on since)
la_bridges mark9 "-DLA_SM90_V15 -DLA_MARK9=1" -DLA_SM90_V15 || exit 1
N=build-sm90/mark9/libsm90h.so
P=build-sm90/libsm90h.so
la_checks $N $P || exit $?
wait $pl || { echo "library build failed"; tail -5 "$O/build_lib.log"; exit 1; }
echo "library built $(t): $(grep -c 'Compiling entry.*sm90_kernel' "$O/build_lib.log") sm90 kernel entries"
timeout 200 ctest --test-dir build-gpu -L gpu --output-on-failure > "$O/test_gpu.log" 2>&1
rc=$?
echo "ctest -L gpu rc=$rc $(t)"; grep -E "^FAIL|tests passed|tests failed" "$O/test_gpu.log" | head -5
[ $rc -ne 0 ] && exit $rc
la_ab $N $P 99 440 "${AB_SHAPES:-12,32760,128;40,75600,128;48,17776,64}" \
  "${AB_CONFIGS:-MASS_thr=-30,PEAK_thr=-30,d=0.25_MASS_thr=-4}" ab_mark9.log "new = v16, prev = v15"
grep -vE "^#|^ *$" "$O/ab_mark9.log" | tail -30
la_sanitize $N len640_d128_b3 70
