#!/bin/bash
# ab.sh — one device call for an A/B of the Hopper kernel from one tree: builds the new kernel
# (build-sm90/libsm90h.so, extra nvcc flags $LA_SM90_NEW_FLAGS, default empty: the default
# build, v17), the previous one (build-sm90/prev/libsm90h.so, $LA_SM90_PREV_FLAGS, default
# -DLA_SM90_V15) and a third variant (build-sm90/alt/libsm90h.so, $LA_SM90_ALT_FLAGS, default
# "off": skipped) side by side; a variable set to the empty string means the default build.
# Checks the new build (and the third, if built) against the CPU spec (13 shapes x 4 modes, 12
# of them with more rows than SMs; --quick-check: 2 modes); nothing is timed unless every case
# passes, and on a failure of the new
# build the previous one is checked too (a regression or an old fault?). Then times all builds in
# one process
# (sm90_bench.py --ab-bench: marking off/MASS/PEAK and read-mask densities 0.5/0.25 at H=12
# S=32760 D=128 and H=48 S=17776 D=64). Usage on the device: bench/sm90/ab.sh [--quick-check]
# The lines starting with RESULT summarise; $OUT gets ptxas logs, SASS summaries, check.log, ab.log.
cd "$(dirname "$0")/../.." || exit 1
OUTDIR=${OUT:-/tmp}
QC=""; [ "$1" = "--quick-check" ] && QC=--quick
start=$(date +%s)
NEWF="${LA_SM90_NEW_FLAGS-}"
PREVF="${LA_SM90_PREV_FLAGS--DLA_SM90_V15}"
LA_SM90_NVCC_FLAGS="$NEWF" bench/sm90/build.sh > "$OUTDIR/build_new.log" 2>&1 &
pn=$!
LA_SM90_OUT=build-sm90/prev LA_SM90_NVCC_FLAGS="$PREVF" \
  bench/sm90/build.sh > "$OUTDIR/build_prev.log" 2>&1 &
pp=$!
ALTF="${LA_SM90_ALT_FLAGS-off}"
ra=0; ALTARG=(); BUILDS=(build-sm90 build-sm90/prev)
if [ "$ALTF" != off ]; then
  LA_SM90_OUT=build-sm90/alt LA_SM90_NVCC_FLAGS="$ALTF" \
    bench/sm90/build.sh > "$OUTDIR/build_alt.log" 2>&1 &
  pa=$!
  ALTARG=(--alt build-sm90/alt/libsm90h.so); BUILDS+=(build-sm90/alt)
fi
wait $pn; rn=$?
wait $pp; rp=$?
if [ "$ALTF" != off ]; then wait "$pa"; ra=$?; fi
tail -n 2 "$OUTDIR/build_new.log" "$OUTDIR/build_prev.log"
[ "$ALTF" != off ] && tail -n 2 "$OUTDIR/build_alt.log"
cp build-sm90/ptxas.log "$OUTDIR/ptxas_new.log"; cp build-sm90/prev/ptxas.log "$OUTDIR/ptxas_prev.log"
[ "$ALTF" != off ] && cp build-sm90/alt/ptxas.log "$OUTDIR/ptxas_alt.log"
if [ $rn -ne 0 ] || [ $rp -ne 0 ] || [ $ra -ne 0 ]; then
  echo "ab.sh: build failed (new rc=$rn, prev rc=$rp, alt rc=$ra)"; exit 1
fi
echo "ab.sh: built ${#BUILDS[@]} in $(($(date +%s) - start)) s (new: '$NEWF'; prev: '$PREVF'; alt: '$ALTF')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.limit,driver_version --format=csv
for b in "${BUILDS[@]}"; do
  echo "== $b: steady-state loop, SASS (wait 0 placement)"
  cuobjdump -sass "$b/libsm90h.so" | python3 bench/sm90/sass_wait0.py | tail -1
done
export PYTHONUNBUFFERED=1
timeout 200 python3 bench/sm90/sm90_bench.py build-sm90/libsm90h.so --check $QC 2>&1 \
  | tee "$OUTDIR/check.log"
rc=${PIPESTATUS[0]}
echo "check rc=$rc ($(($(date +%s) - start)) s)"
if [ "$rc" -ne 0 ]; then
  # is it a regression? the same check of the previous build (nothing is timed either way)
  timeout 200 python3 bench/sm90/sm90_bench.py build-sm90/prev/libsm90h.so --check $QC 2>&1 \
    | tee "$OUTDIR/check_prev.log" | grep -E "^FAIL|^check:"
  echo "check of prev rc=${PIPESTATUS[0]}; not timed"
  exit "$rc"
fi
if [ "$ALTF" != off ]; then
  # the third build is timed too, so it is checked too (the v10 default was first timed as an
  # unchecked alt build)
  timeout 200 python3 bench/sm90/sm90_bench.py build-sm90/alt/libsm90h.so --check $QC 2>&1 \
    | tee "$OUTDIR/check_alt.log" | grep -E "^FAIL|^check:"
  rc=${PIPESTATUS[0]}
  echo "check of alt rc=$rc ($(($(date +%s) - start)) s)"
  [ "$rc" -eq 0 ] || exit "$rc"
fi
# LA_AB_ARGS: more sm90_bench.py arguments (--ab-shapes, --ab-configs); LA_AB_TIMEOUT (s)
timeout "${LA_AB_TIMEOUT:-240}" python3 bench/sm90/sm90_bench.py build-sm90/libsm90h.so --ab-bench \
  --ab build-sm90/prev/libsm90h.so "${ALTARG[@]}" --seed 99 ${LA_AB_ARGS:-} 2>&1 | tee "$OUTDIR/ab.log"
rc=${PIPESTATUS[0]}
echo "ab rc=$rc, total $(($(date +%s) - start)) s"
exit "$rc"
