#!/bin/bash
# srcprof.sh — one device call: Nsight Compute warp-state samples per CUDA source line (the bridge
# is built with -lineinfo) for prof.py cases of the default build, so two cases of different
# template instances (e.g. d128_dense and d128_mass: marking on the multicast path) can be
# compared line by line (bench/sm90/srcdiff.py, on any machine). $OUT gets one CSV per case
# (ncu --page source --print-source cuda) and the SASS-level CSV of the last case.
# Usage on the device: [SASS_ALL=1] bench/sm90/srcprof.sh [CASE ...]   (default: d128_dense d128_mass;
# SASS_ALL=1: every case's SASS-level CSV instead of the cuda-level ones)
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}
T0=$(date +%s)
LIB=${LIB:-build-sm90/libsm90h.so} # (another build: LIB=build-sm90/DIR/libsm90h.so, built beforehand)
[ -f "$LIB" ] || bench/sm90/build.sh > "$O/build.log" 2>&1 || { tail -3 "$O/build.log"; exit 1; }
export PYTHONUNBUFFERED=1
for c in ${*:-d128_dense d128_mass}; do
  timeout 200 ncu --clock-control none --profile-from-start off --section SourceCounters \
    --section WarpStateStats -f -o /tmp/src_$c \
    python3 bench/sm90/prof.py "$LIB" --once $c > /tmp/ncu_$c.log 2>&1
  echo "ncu $c rc=$? ($(($(date +%s) - T0)) s)"; tail -2 /tmp/ncu_$c.log
  if [ "${SASS_ALL:-0}" = 1 ]; then
    # every case's SASS-level samples (the cuda-level export had no metrics in this ncu)
    ncu --import /tmp/src_$c.ncu-rep --page source --csv --print-source sass 2>/dev/null \
      | gzip -c > "$O/sass_$c.csv.gz"
  else
    ncu --import /tmp/src_$c.ncu-rep --page source --csv --print-source cuda > "$O/src_$c.csv" 2>"$O/src_$c.err"
    echo "  cuda csv: $(wc -lc < "$O/src_$c.csv") $(head -c 300 "$O/src_$c.err")"
  fi
  last=$c
done
if [ "${SASS_ALL:-0}" != 1 ]; then
  ncu --import /tmp/src_$last.ncu-rep --page source --csv --print-source sass > /tmp/sass_$last.csv 2>/dev/null
  gzip -c /tmp/sass_$last.csv > "$O/sass_$last.csv.gz"
fi
ls -la "$O"
