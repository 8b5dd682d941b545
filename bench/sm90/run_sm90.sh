#!/bin/bash
# run_sm90.sh — one device call for the Hopper kernel: card state, SASS check (HGMMA, MUFU.EX2),
# correctness against the CPU spec backend, then timing against cuDNN (only if the check passed).
# Usage on the device machine:
#   bench/sm90/run_sm90.sh [--quick] [--bench-quick] [--no-bench] [--sanitize]
#   (SAN_CASES: the check cases run under each compute-sanitizer tool, comma-separated)
cd "$(dirname "$0")/../.."
L=build-sm90/libsm90h.so
OUTDIR=${OUT:-/tmp}
[ -f $L ] || bench/sm90/build.sh || exit 1
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.limit,driver_version --format=csv
echo "== SASS (sm90 kernel instances): instruction counts"
cuobjdump -sass $L | grep -oE "HGMMA\.[0-9A-Za-z]+\.[A-Z0-9.]+|MUFU\.EX2|SETMAXNREG|USETMAXREG[.A-Z]*" \
  | sort | uniq -c
cuobjdump -sass $L > $OUTDIR/sm90.sass 2>/dev/null
python3 bench/sm90/sass_wait0.py < $OUTDIR/sm90.sass | tail -1
QUICK=""; BQUICK=""; BENCH="--bench"; SAN=0
for a in "$@"; do
  case $a in
    --quick) QUICK=--quick; BQUICK=--quick ;; --bench-quick) BQUICK=--quick ;;
    --no-bench) BENCH="" ;; --sanitize) SAN=1 ;;
  esac
done
export PYTHONUNBUFFERED=1
timeout 150 python3 bench/sm90/sm90_bench.py $L --check $QUICK 2>&1 | tee $OUTDIR/check.log
rc=${PIPESTATUS[0]}
echo "check rc=$rc"
[ $rc -eq 0 ] || exit $rc
# A/B: a previous build placed in build-sm90/prev/ is timed beside this one, same process.
AB=""; [ -f build-sm90/prev/libsm90h.so ] && AB="--ab build-sm90/prev/libsm90h.so"
[ -n "$BENCH" ] && timeout 240 python3 bench/sm90/sm90_bench.py $L --bench $BQUICK $AB --seed 99 2>&1 \
  | tee $OUTDIR/bench.log
if [ $SAN -eq 1 ]; then
  for tool in memcheck racecheck synccheck; do
    timeout 90 compute-sanitizer --tool $tool --target-processes all \
      python3 bench/sm90/sm90_bench.py $L --check --quick --only "${SAN_CASES:-len113_d64,sq300_sk1023_d128}" 2>&1 \
      | grep -vE "^ok|Warning" | tail -8
  done
fi
exit 0
