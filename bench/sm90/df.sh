#!/bin/bash
# df.sh — one device call for the -DLA_DF=1 experiment (first run: no LA_DF_MIN_ROUNDS; build with
# LA_SM90_NVCC_FLAGS="-DLA_DF=1 -DLA_DF_MIN_ROUNDS=1" to repeat it) (sm90_fwd.cu "LA_DF": read-mask calls at
# D=128 get the drift-free longest-first schedule, each round's heaviest item to the CTA with the
# least work so far, instead of v13's snake; D=64 kernels are byte-identical to v17's):
#   1. builds the bridge twice (build-sm90/df: -DLA_DF=1; build-sm90: the default, v17);
#   2. one CPU-spec case with more rows than SMs first (a hang shows in 40 s), then same_bits.py
#      against v17 (a schedule must not change a bit) and the CPU-spec check of the DF build;
#   3. --ab-bench new = DF, prev = v17: d = 0.25 and 0.10 at the three D=128 shapes;
#   4. power.py (time, SM clock) for both builds at H=40 S=75600 d = 0.25.
# Prediction (NOTES.md, session of 21:59 UTC): the CTAs stay in phase (sim_drift.py: load spread
# 0.63 -> 0.20 items), L2 hits up: d = 0.25 at the 720p shapes -1.5 to -3 % (t/(d·dense) 1.10-1.15
# -> ~1.08-1.12), d = 0.10 -2 to -4 %, H=12 S=32760 within +-1 % (its 24 rounds: the ranking's
# ~1 kcycle per round is paid before any work). Falsified if d = 0.25 at H=40 and Hunyuan do not
# both gain >= 1 %.
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
# (v17 with the rule at every size, as run 1 timed it, against v17)
la_bridges df "-DLA_SM90_V17 -DLA_DF=1 -DLA_DF_MIN_ROUNDS=1 -DLA_DF_MIN_SK=0" -DLA_SM90_V17 || exit 1
N=build-sm90/df/libsm90h.so
P=build-sm90/libsm90h.so
la_first $N len2048_d128_h20 40 --variant 1,2 || exit $?
la_checks $N $P || exit $?
la_ab $N $P 99 400 "${AB_SHAPES:-40,75600,128;24,118800,128;12,32760,128}" \
  "${AB_CONFIGS:-d=0.25,d=0.10}" ab_df.log "new = LA_DF=1, prev = v17"
grep -E "RESULT|new/prev" "$O/ab_df.log"
for b in build-sm90/df build-sm90; do
  [ $(($(date +%s) - T0)) -gt 520 ] && break
  echo "== power $b $(t)"
  timeout 60 python3 bench/sm90/power.py $b/libsm90h.so --shape 40,75600,128 --only d=0.25 --secs 2 \
    2>&1 | tee "$O/power_$(basename $b).txt" | grep -E "dense|d=0.25" | grep -v during
done
