#!/bin/bash
# qrs.sh — one device call for -DLA_QRS=1 (Q K^T with Q in registers, the Q buffer released at the
# item's start; src/cuda/sm90/NOTES.md "LA_QRS"), not yet run on a GPU when written:
#   0. qfrag_check.py (host: the ldmatrix fragment against the wgmma A layout, every lane);
#   1. builds the bridge twice (build-sm90/qrs: -DLA_QRS=1; build-sm90: default = v15) and the
#      library with -DLA_QRS=1 (build-qrs) for tests/gpu;
#   2. the CPU-spec check of the QRS bridge: one case first (a hang shows in 40 s), then
#      same_bits.py against v15 (O, LSE, write masks bit for bit), then all cases with rotating
#      variants and with the multicast variant 1,2;
#   3. ctest -L gpu on the QRS library;
#   4. only if all passed: sm90_bench.py --ab-bench new = QRS, prev = v15 (dense, MASS with nothing
#      skipped, d = 0.25 and 0.10; each sparse / marking row divided by a dense of its own build
#      timed right after it) at $AB_SHAPES;
#   5. racecheck + synccheck on a small case in the time left.
# Prediction (NOTES.md): dense D=128 -1 to -3 % (32 KB less shared memory read per tile: clock),
# d = 0.25 at 720p a further -1 to -2 % and d = 0.10 -2 to -4 % (no Q wait per item); D=64 +-1 %
# dense. Falsified if dense D=128 is not faster by >= 1 % or any row is slower by > 1 %.
# Usage on the device: bench/sm90/qrs.sh   ($OUT gets the logs; key lines on stdout)
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
python3 bench/sm90/qfrag_check.py || exit 1
( cmake -S . -B build-qrs -G Ninja -DCMAKE_BUILD_TYPE=Release -DLITEATTN_CUDA=ON \
    -DLITEATTN_CUDA_ARCHS=90 -DLITEATTN_PTXAS_VERBOSE=ON "-DCMAKE_CUDA_FLAGS=-DLA_SM90_V15 -DLA_QRS=1" \
    > "$O/build_lib.log" 2>&1 &&
  cmake --build build-qrs -j 8 --target test_gpu >> "$O/build_lib.log" 2>&1 ) &
pl=$!
# (v15 with and without QRS, as timed: the default build has been v17, then v18, since)
la_bridges qrs "-DLA_SM90_V15 -DLA_QRS=1" -DLA_SM90_V15 || exit 1
N=build-sm90/qrs/libsm90h.so
P=build-sm90/libsm90h.so
la_first $N len640_d128_b3 40 || exit $?
# the same GEMMs on the same operand bits: O, LSE and write masks equal to v15's bit for bit
la_checks $N $P || exit $?
wait $pl || { echo "library build failed"; tail -5 "$O/build_lib.log"; exit 1; }
echo "library built $(t): $(grep -c 'Compiling entry.*sm90_kernel' "$O/build_lib.log") sm90 kernel entries"
timeout 200 ctest --test-dir build-qrs -L gpu --output-on-failure > "$O/test_gpu.log" 2>&1
rc=$?
echo "ctest -L gpu (LA_QRS=1) rc=$rc $(t)"; grep -E "^FAIL|tests passed|tests failed" "$O/test_gpu.log" | head -5
[ $rc -ne 0 ] && exit $rc
la_ab $N $P 99 470 "${AB_SHAPES:-12,32760,128;40,75600,128;48,17776,64}" \
  "${AB_CONFIGS:-MASS_thr=-30,d=0.25,d=0.10}" ab_qrs.log "new = LA_QRS=1, prev = v15"
grep -vE "^#|^ *$" "$O/ab_qrs.log" | tail -30
la_sanitize $N len640_d128_b3 50
