#!/bin/bash
# mcast_first.sh — the first device call for the -DLA_MCAST=1 prototype (src/cuda/sm90/NOTES.md,
# "-DLA_MCAST=1"), hang-safe: builds it (build-sm90/alt), checks it against the CPU spec one case
# at a time with a 30-second timeout (a hang or a fault shows here, not at ab.sh's 200 s one),
# then racecheck, synccheck and memcheck on two cases, and only then ab.sh with the prototype as
# the third build (dense rows: alt/prev is the multicast's effect; the other rows do not use it).
# Historical: the prototype's code was replaced by the spec-exact pairing, which v15 builds by
# default (-DLA_MCAST=1 is now the default build); bench/sm90/mcast_exact.sh is its device call.
# Usage on the device: bench/sm90/mcast_first.sh   ($OUT gets the logs)
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}
T0=$(date +%s)
t() { echo "($(($(date +%s) - T0)) s)"; }
export PYTHONUNBUFFERED=1
L=build-sm90/alt/libsm90h.so
# one case per check run: the check rotates (pingpong, persistence) over its runs and gives the
# first one of a run pingpong + the persistent grid, which is what takes the multicast path
# (dense mode: no read mask, no marking); D=64 and D=128, odd Tq (a phantom q-tile), more pairs
# than clusters
CASES="len640_d128_b3 len1023_d64_mqa8 len4224_d128 len2048_d128_h20 len2048_d64_h24"
LA_SM90_OUT=build-sm90/alt LA_SM90_NVCC_FLAGS=-DLA_MCAST=1 bench/sm90/build.sh > "$O/build_mc.log" 2>&1 ||
  { tail -3 "$O/build_mc.log"; exit 1; }
cuobjdump -sass "$L" | grep -c "UTMALDG.5D.MULTICAST" | sed 's/^/multicast loads in the SASS: /'
for c in $CASES; do
  timeout 30 python3 bench/sm90/sm90_bench.py "$L" --check --only "$c" > "$O/check_mc_$c.log" 2>&1
  rc=$?
  echo "check $c rc=$rc $(t)"; grep -E "^FAIL|^ok +[a-z0-9_]+ +dense" "$O/check_mc_$c.log"
  [ $rc -eq 124 ] && { echo "mcast_first.sh: the check hung (timeout): not timed"; exit 124; }
  [ $rc -ne 0 ] && exit $rc
done
for tool in racecheck synccheck memcheck; do
  for c in len640_d128_b3 len1023_d64_mqa8; do
    timeout 60 compute-sanitizer --tool $tool --error-exitcode 3 --target-processes all \
      python3 bench/sm90/sm90_bench.py "$L" --check --only "$c" > "$O/san_mc_${tool}_$c.log" 2>&1
    echo "$tool $c rc=$? $(t) $(grep -E 'SUMMARY' "$O/san_mc_${tool}_$c.log" | tail -1)"
  done
done
LA_SM90_ALT_FLAGS=-DLA_MCAST=1 timeout 330 bench/sm90/ab.sh --quick-check > "$O/ab_mc_stdout.log" 2>&1
echo "ab rc=$? $(t)"
grep -E "RESULT|dense  |check rc|check of alt" "$O/ab_mc_stdout.log"
