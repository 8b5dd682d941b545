#!/bin/bash
# build.sh — builds build-sm90/libsm90h.so (the check/bench bridge: front end + CPU spec + sm90
# kernel) with the flags the library uses for sm90; prints the ptxas resource report.
# Environment (for A/B builds from one tree):
#   LA_SM90_OUT          output directory (default build-sm90)
#   LA_SM90_NVCC_FLAGS   extra nvcc flags for the kernel, e.g. -DLA_SM90_V4_MARK (the v4 marking)
#   LA_SM90_ALLOW_SPILLS 1: an experiment's build may spill (reported, not refused)
set -eo pipefail
cd "$(dirname "$0")/../.."
B=${LA_SM90_OUT:-build-sm90}
mkdir -p "$B"
rm -f "$B/sm90_fwd.o" # nvcc's status is lost in the pipe below: a stale object must not pass
# shellcheck disable=SC2086 # the extra flags are a list
nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Xptxas -v -lineinfo \
  -Xcompiler -fPIC,-Wall,-Wextra -I include -I src ${LA_SM90_NVCC_FLAGS:-} \
  -c src/cuda/sm90/sm90_fwd.cu -o "$B/sm90_fwd.o" 2>&1 | tee "$B/ptxas.log" \
  | grep -E "warning|error|registers|spill" || true
[ -s "$B/sm90_fwd.o" ] || { echo "build.sh: nvcc failed" >&2; exit 1; }
if grep -E "C75[0-9][0-9]|Performance Loss" "$B/ptxas.log"; then
  echo "build.sh: ptxas reports wgmma serialization or ignored setmaxnreg" >&2
  exit 1
fi
if grep -E "[1-9][0-9]* bytes (spill|stack)" "$B/ptxas.log"; then
  echo "build.sh: spills or a stack frame (local memory)" >&2
  # an experiment may accept them (LA_SM90_ALLOW_SPILLS=1; say so where it is timed)
  [ "${LA_SM90_ALLOW_SPILLS:-0}" = 1 ] || exit 1
fi
gcc -O2 -fPIC -fopenmp -Wall -Wextra -I include -I src -c src/cpu/cpu_fwd.c -o "$B/cpu_fwd.o"
gcc -O2 -fPIC -fopenmp -Wall -Wextra -Wno-unused-function -I include -I src \
  -c bench/sm90/sm90_shim.c -o "$B/sm90_shim.o"
nvcc -shared -o "$B/libsm90h.so" "$B/sm90_fwd.o" "$B/cpu_fwd.o" "$B/sm90_shim.o" \
  -Xcompiler -fopenmp -lm
echo "built $B/libsm90h.so ${LA_SM90_NVCC_FLAGS:-}"
