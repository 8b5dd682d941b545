#!/bin/bash
# verify_v10.sh — the device work the v10 default still needs (src/cuda/sm90/NOTES.md, v10): the
# exact default build through the CPU-spec check and the three sanitizers; racecheck's answer on
# the mbarrier hand-over in isolation (race_mbar_test.cu: ordered mode 0, racy mode 1) and on the
# opt-in -DLA_PUBJ=1 build; then an A/B (new = default v10, prev = v8, alt = v10 + PUBJ, every
# timed build checked first by ab.sh). Usage on the device: bench/sm90/verify_v10.sh [--ab]
# (without --ab it stops after the sanitizers, ~2 min; with it ~6 min). $OUT gets the logs.
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}/verify_v10
mkdir -p "$O"
start=$(date +%s)
t() { echo "($(($(date +%s) - start)) s)"; }
bench/sm90/build.sh > "$O/build.log" 2>&1 || { tail -5 "$O/build.log"; exit 1; }
LA_SM90_OUT=build-sm90/pubj LA_SM90_NVCC_FLAGS=-DLA_PUBJ=1 bench/sm90/build.sh \
  > "$O/build_pubj.log" 2>&1 || { tail -5 "$O/build_pubj.log"; exit 1; }
nvcc -O2 -std=c++17 -gencode arch=compute_90a,code=sm_90a -I src/cuda/sm90 \
  bench/sm90/race_mbar_test.cu -o build-sm90/race_mbar_test || exit 1
echo "built $(t)"
export PYTHONUNBUFFERED=1
L=build-sm90/libsm90h.so
CASES=${SAN_CASES:-len113_d64,sq300_sk1023_d128,len2048_d64_h24}
timeout 200 python3 bench/sm90/sm90_bench.py $L --check > "$O/check.log" 2>&1
rc=$?
grep -E "^FAIL|^check:" "$O/check.log"
echo "check of the default build rc=$rc $(t)"
[ $rc -eq 0 ] || exit $rc
for tool in memcheck racecheck synccheck; do
  timeout 90 compute-sanitizer --tool $tool --target-processes all \
    python3 bench/sm90/sm90_bench.py $L --check --quick --only "$CASES" > "$O/san_$tool.log" 2>&1
  echo "$tool (default build) rc=$? $(t): $(grep -E 'SUMMARY' "$O/san_$tool.log" | tail -1)"
done
build-sm90/race_mbar_test 0
for m in 0 1; do
  timeout 60 compute-sanitizer --tool racecheck build-sm90/race_mbar_test $m \
    > "$O/race_mbar_$m.log" 2>&1
  echo "racecheck race_mbar_test mode $m: $(grep -E 'SUMMARY' "$O/race_mbar_$m.log" | tail -1)"
done
timeout 90 compute-sanitizer --tool racecheck --target-processes all \
  python3 bench/sm90/sm90_bench.py build-sm90/pubj/libsm90h.so --check --quick --only "$CASES" \
  > "$O/san_racecheck_pubj.log" 2>&1
echo "racecheck (PUBJ build): $(grep -E 'SUMMARY' "$O/san_racecheck_pubj.log" | tail -1) $(t)"
echo "Reading: if mode 0 is reported as well as mode 1, racecheck does not model the mbarrier"
echo "ordering of ordinary shared-memory accesses, and the PUBJ report is that limitation."
[ "$1" = --ab ] || exit 0
OUT=$O LA_SM90_NEW_FLAGS="" LA_SM90_PREV_FLAGS="-DLA_SM90_V8" LA_SM90_ALT_FLAGS="-DLA_PUBJ=1" \
  timeout 420 bench/sm90/ab.sh --quick-check > "$O/ab_stdout.log" 2>&1
echo "ab rc=$? $(t)"
grep -E "RESULT|check" "$O/ab_stdout.log"
