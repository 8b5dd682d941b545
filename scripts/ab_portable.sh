#!/usr/bin/env bash
# ab_portable.sh — A/B of the portable CUDA kernel without git: builds the same tree twice for one
# architecture, "old" with -DLA_PORTABLE_VERSION=4 (the v4 marking path kept in fwd_kernel.cuh)
# and "new" (the default, v5), checks the new build against the CPU spec (tests/gpu: test_gpu
# --portable), then times both in ONE process on the same inputs, alternating old/new call by call
# (bench/gpu/ab_portable.cu), after requiring bit-identical O and write masks from the two builds
# at PEAK and MASS thresholds that keep some tiles and drop others. A third build, "alt" (v5 with
# ALT_FLAGS, default -DLA_V5_EARLY_VOTE=2: at sm_90, D = 64 MASS voting late, as v5 first did;
# see fwd_kernel.cuh), is compared with new the same way on the full-mask rows only.
#
# Usage: OUT=/some/dir scripts/ab_portable.sh        (on a GPU machine with CUDA toolkit, cmake)
#   Env: ARCH (default 90), JOBS (default 16), REPS (timed calls per case and build, default 31),
#        GENERATOR (CMake generator, default Ninja), AB_BUILD_ONLY=1 (stop after building and the
#        ptxas summary; for machines without a GPU), ALT_FLAGS (CUDA flags of the alt build;
#        empty: no alt build).
# Output: $OUT/ab.txt (the table), $OUT/ab_alt.txt (new against alt), $OUT/test_gpu.log,
# $OUT/build_{old,new,alt}.log, the ptxas summary.
# Exit status: 0 all good; 1 a test failed or the builds disagree; 2 a build failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/ab_portable}
ARCH=${ARCH:-90}
JOBS=${JOBS:-16}
REPS=${REPS:-31}
ALT_FLAGS=${ALT_FLAGS--DLA_V5_EARLY_VOTE=2}
mkdir -p "$OUT"
status=0
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step environment
{
  date -u
  nvidia-smi --query-gpu=name,compute_cap,driver_version,clocks.sm,clocks.max.sm,power.limit \
    --format=csv 2>&1
  nvcc --version | tail -1
} | tee "$OUT/env.txt"

step "build old (-DLA_PORTABLE_VERSION=4), new (v5) and alt ($ALT_FLAGS), sm_$ARCH, in parallel"
build() { # build <dir> <cuda flags> <targets...>
  local dir=$1 flags=$2
  shift 2
  cmake -S . -B "$dir" -G "${GENERATOR:-Ninja}" -DCMAKE_BUILD_TYPE=Release -DLITEATTN_CUDA=ON \
    -DLITEATTN_CUDA_ARCHS="$ARCH" -DLITEATTN_PTXAS_VERBOSE=ON "-DCMAKE_CUDA_FLAGS=$flags" &&
    cmake --build "$dir" -j "$JOBS" --target "$@"
}
build build-ab-old "-DLA_PORTABLE_VERSION=4" liteattn >"$OUT/build_old.log" 2>&1 &
pid_old=$!
build build-ab-new "" liteattn test_gpu >"$OUT/build_new.log" 2>&1 &
pid_new=$!
builds="old new"
if [ -n "$ALT_FLAGS" ]; then
  build build-ab-alt "$ALT_FLAGS" liteattn >"$OUT/build_alt.log" 2>&1 &
  pid_alt=$!
  builds="old new alt"
fi
mkdir -p build-ab-bench
nvcc -std=c++17 -O2 -gencode "arch=compute_$ARCH,code=sm_$ARCH" -Iinclude -Xcompiler=-Wall,-Wextra \
  bench/gpu/ab_portable.cu -ldl -o build-ab-bench/ab_portable >"$OUT/build_ab.log" 2>&1 ||
  { cat "$OUT/build_ab.log"; echo "BUILD FAILED: ab_portable"; exit 2; }
wait $pid_old || { tail -30 "$OUT/build_old.log"; echo "BUILD FAILED: old"; exit 2; }
wait $pid_new || { tail -30 "$OUT/build_new.log"; echo "BUILD FAILED: new"; exit 2; }
if [ -n "$ALT_FLAGS" ]; then
  wait $pid_alt || { tail -30 "$OUT/build_alt.log"; echo "BUILD FAILED: alt"; exit 2; }
fi
for b in $builds; do
  echo "ptxas, $b build (portable kernel: la_fwd_kernel<D, KB, bf16, MARK>; MARK 0 off, 1 PEAK, 2 MASS):"
  python3 - "$OUT/build_$b.log" <<'EOF'
import re, sys
cur = spill = None
for line in open(sys.argv[1]):
    m = re.search(r"Compiling entry function '.*la_fwd_kernelILi(\d+)ELi\d+ELb([01])ELi(\d)E.*' for '(sm_\d+a?)'", line)
    if m:
        cur = f"D={m.group(1):>3} {'bf16' if m.group(2) == '1' else 'fp16'} {['off ', 'PEAK', 'MASS'][int(m.group(3))]} {m.group(4)}"
        continue
    if "Compiling entry" in line:
        cur = None
    m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
    if m:
        spill = m.groups()
    m = re.search(r"Used (\d+) registers", line)
    if m and cur:
        print(f"  {cur}: {m.group(1)} registers, spill stores/loads {spill[0]}/{spill[1]} bytes")
        cur = None
EOF
done | tee "$OUT/ptxas.txt"
if [ "${AB_BUILD_ONLY:-0}" = 1 ]; then step "done (build only)"; exit 0; fi

step "new build against the CPU spec: test_gpu --portable"
timeout 150 build-ab-new/tests/gpu/test_gpu --portable >"$OUT/test_gpu.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { status=1; echo "test_gpu: FAILED (rc $rc; 124 = timed out)"; }
tail -6 "$OUT/test_gpu.log"

step "A/B in one process: $OUT/ab.txt"
build-ab-bench/ab_portable "$PWD/build-ab-old/libliteattn.so" "$PWD/build-ab-new/libliteattn.so" \
  --reps "$REPS" 2>&1 | tee "$OUT/ab.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
if [ -n "$ALT_FLAGS" ]; then
  step "new against alt ($ALT_FLAGS), full mask: $OUT/ab_alt.txt"
  build-ab-bench/ab_portable "$PWD/build-ab-new/libliteattn.so" "$PWD/build-ab-alt/libliteattn.so" \
    --reps "$REPS" --quick --tags new,alt 2>&1 | tee "$OUT/ab_alt.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
step "done: status $status"
exit $status
