#!/bin/bash
# lean.sh — one device call for two per-tile instruction cuts (sm90_fwd.cu):
#   LA_DESC_BASE: each GEMM's wgmma descriptors as one base low word per stage plus a constant per
#     k-step (SASS: 2 instructions per HGMMA instead of 5; the loop 42 shorter at D=128);
#   LA_LEAN: marking's bookkeeping (the producer flags a partial last key tile in its published
#     slot; one rare branch for word change / lmax step / last tile; PEAK runs MASS's code; no
#     p.mass, Tk or Sq reloads per tile).
# Builds three bridges (build-sm90 = v18; build-sm90/lean = LEAN + DESC_BASE; build-sm90/alt =
# ALT_FLAGS, by default DESC_BASE alone), same_bits.py lean against v18 (masks, O, LSE bit for
# bit) and the CPU-spec checks of lean, ncu SASS counts of lean's dense and MASS multicast kernels
# (per-tile instructions: v18 465 / 517), then --ab-bench new = lean, prev = v18, alt;
# racecheck / synccheck at the end.
# Prediction (before the run): DESC_BASE dense D=128 -0.5 to -2 %, D=64 -1 to -3 %; LEAN MASS
# per-tile instructions 517 -> ~500 and MASS with nothing skipped over its own dense from
# +2.1-3.8 % (v18) to +1.5-3 % at both D=128 shapes. Falsified (LEAN) if MASS at H=40 S=75600 is
# not <= 3 % over its dense or not 0.5 point below v18's in the same run.
# (Since v19 is the default, the builds name v18 explicitly: prev -DLA_SM90_V18, alt by default
# -DLA_SM90_V18 -DLA_DESC_BASE=1; the runs below were made before, with the default as prev.)
# Environment: ALT_FLAGS (default -DLA_SM90_V18 -DLA_DESC_BASE=1) the third build's flags;
# CHECKS=0 skips the checks, PROF=0 the ncu counts, SAN=0 the sanitizers; PROF_CASES (default d128_dense d128_mass);
# AB_SHAPES, AB_CONFIGS, SEED. Everything under $OUT is packed into one all.tgz at the end.
# Outcome, first run (results/ab_lean_run1_h100.log): bit-identical (160 runs), checks and sanitizers
# clean; per-tile instructions dense 465 -> 422, MASS 517 -> 467; time new / v18: D=128 dense
# 1.000 / 0.990, MASS 0.991 / 0.986, d = 0.25 0.985 / 0.962; D=64 dense 1.010, PEAK 1.020;
# MASS over its own dense +2.9 / +3.1 % (v18 +3.1 / +3.8 %). Second run (ALT_FLAGS=-DLA_LEAN=1,
# SEED=7, results/ab_lean_run2_h100.log): D=128 dense 0.999 / 0.990, MASS 0.993 / 0.982, d = 0.5
# 0.985 / 0.986, d = 0.25 0.988 / 0.980; D=64 dense 1.015, d = 0.25 1.027 (LEAN alone at D=64:
# dense 0.978 but MASS 1.024, PEAK 1.049). Kept as v19 at D=128; at D=64 only the last-key-tile
# flag in the kernels without marking (bench/sm90/v19ab.sh, src/cuda/sm90/NOTES.md).
cd "$(dirname "$0")/../.." || exit 1
. bench/sm90/steps.sh
la_bridges lean "-DLA_LEAN=1 -DLA_DESC_BASE=1" "-DLA_SM90_V18" "${ALT_FLAGS:--DLA_SM90_V18 -DLA_DESC_BASE=1}" ||
  exit 1
N=build-sm90/lean/libsm90h.so
P=build-sm90/libsm90h.so
A=build-sm90/alt/libsm90h.so
if [ "${CHECKS:-1}" = 1 ]; then
  la_first $N len2048_d128_h20 60 || exit 1
  la_checks $N $P || exit $?
fi
if [ "${PROF:-1}" = 1 ]; then
  LIB=$N SASS_ALL=1 bench/sm90/srcprof.sh ${PROF_CASES:-d128_dense d128_mass} > "$O/srcprof.log" 2>&1
  echo "srcprof rc=$? $(t)"
  python3 bench/sm90/sass_tile.py "$O"/sass_*.csv.gz | grep -E "sass_|loop"
fi
la_ab_alt $N $P $A "${SEED:-99}" 450 "${AB_SHAPES:-12,32760,128;40,75600,128;48,17776,64}" \
  "${AB_CONFIGS:-MASS_thr=-30,PEAK_thr=-30,d=0.25}" ab_lean.log \
  "new = LEAN + DESC_BASE, prev = v18, alt = ${ALT_FLAGS:--DLA_SM90_V18 -DLA_DESC_BASE=1}"
[ "${SAN:-1}" = 1 ] && la_sanitize $N len2048_d128_h20 90
la_pack
echo "done $(t)"
