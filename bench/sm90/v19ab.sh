#!/bin/bash
# v19ab.sh — one device call: the default build (v19) against v18 in one process (--ab-bench),
# with a third build ALT (default -DLA_LEAN_D64=1: the v19 of that run with lean marking at D=64;
# its D=128 kernels are v19's, so its D=128 rows against v19's show the run's noise).
# same_bits.py and the CPU-spec check of ALT against v18 first (ALT must be bit-identical too). Everything under $OUT
# comes back as one all.tgz.
# Prediction (before the run): v19/v18 at D=128 as in lean.sh's two runs (dense 0.99-1.00, MASS
# 0.98-0.99, d = 0.25 / 0.10 0.96-0.99); D=64 rows 1.00 +- 0.01 (the same kernels); ALT at D=64
# dense within +-1 % of v18, MASS / PEAK no better than v18 (lean.sh's run 2: 1.024 / 1.049).
# Outcome (results/ab_v19_v18_h100.log, seed 5): v19/v18 D=128 dense 1.003 / 0.988, MASS 0.984 /
# 0.982, PEAK 0.996 / 1.002, d = 0.25 0.985 / 0.969, d = 0.10 0.992 / 0.984; D=64 1.000 (same
# kernels). ALT bit-identical to v18; at D=64 dense 0.982, d = 0.25 0.982, d = 0.10 0.994, but
# MASS 1.031 and PEAK 1.054 (D=128 rows, the same kernels as v19: within 1.3 % of v19's). So v19
# takes the flag alone at D=64 in the kernels without marking (la_tkl); v19.sh with AB_D64=1
# measured that build at D=64: dense 0.982, d = 0.25 0.976, d = 0.10 0.994, MASS 0.998.
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
la_bridges v19 "" "-DLA_SM90_V18" "${ALT_FLAGS:--DLA_LEAN_D64=1}" || exit 1
N=build-sm90/v19/libsm90h.so
P=build-sm90/libsm90h.so
A=build-sm90/alt/libsm90h.so
la_step "same_bits alt" same_bits_alt.log 150 python3 bench/sm90/same_bits.py $A $P || exit 1
la_step "check alt (1,2)" check_alt.log 150 python3 bench/sm90/sm90_bench.py $A --check \
  --variant 1,2 || exit 1
la_ab_alt $N $P $A "${SEED:-5}" 480 "${AB_SHAPES:-12,32760,128;40,75600,128;48,17776,64}" \
  "${AB_CONFIGS:-MASS_thr=-30,PEAK_thr=-30,d=0.25,d=0.10}" ab_v19.log \
  "new = v19, prev = v18, alt = ${ALT_FLAGS:--DLA_LEAN_D64=1}"
la_pack
echo "done $(t)"
