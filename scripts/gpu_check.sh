#!/usr/bin/env bash
# gpu_check.sh — the one command for a GPU machine: build (for this GPU's architecture), run the
# GPU tests, compute-sanitizer memcheck + racecheck on small shapes, then the benchmarks (our C
# bench and the torch baselines in one Python process), writing logs, a table and JSON under $OUT.
#
# Usage: OUT=/some/dir scripts/gpu_check.sh [quick] [steps...]
#   steps: build test sanitize bench torch python (default: all). `quick` shortens the benchmarks.
#   `python` runs the Python layer's CUDA tests (python/tests_gpu); diffusers is not on the GPU
#   image: carry .whl (see python/README.md) and it is installed into /tmp/site first.
#   Env: BUILD (default build-gpu), BACKEND (torch step: portable or sm90), ARCH (default: the GPU's compute capability, e.g. 90).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu_check}
BUILD=${BUILD:-build-gpu}
mkdir -p "$OUT"
QUICK=""
STEPS=""
for a in "$@"; do
  if [ "$a" = quick ]; then QUICK=1; else STEPS="$STEPS $a"; fi
done
STEPS=${STEPS:-" build test sanitize bench torch python"}
has() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }
status=0
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step environment
{
  date -u
  git rev-parse --short HEAD 2>/dev/null
  nvidia-smi --query-gpu=name,compute_cap,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit \
    --format=csv 2>&1
  nvcc --version | tail -1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} | tee "$OUT/env.txt"
ARCH=${ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')}
ARCH=${ARCH:-90}

if has build; then
  step "build (sm_$ARCH)"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLITEATTN_CUDA=ON \
    -DLITEATTN_CUDA_ARCHS="$ARCH" -DLITEATTN_PTXAS_VERBOSE=ON >"$OUT/build.log" 2>&1 &&
    cmake --build "$BUILD" -j 16 --target liteattn test_gpu >>"$OUT/build.log" 2>&1 &&
    nvcc -std=c++17 -O2 -gencode "arch=compute_$ARCH,code=sm_$ARCH" -Iinclude \
      bench/gpu/bench_gpu.cu -L"$BUILD" -lliteattn -Xlinker -rpath="$PWD/$BUILD" \
      -o "$BUILD/bench_gpu" >>"$OUT/build.log" 2>&1
  rc=$?
  grep -E "spill|registers|warning" "$OUT/build.log" | sort | uniq -c | head -20
  if [ $rc -ne 0 ]; then tail -40 "$OUT/build.log"; echo "BUILD FAILED"; exit 1; fi
  cuobjdump -sass "$BUILD/libliteattn.so" 2>/dev/null | python3 bench/gpu/sass_summary.py \
    >"$OUT/sass_summary.txt" && grep la_fwd_kernel "$OUT/sass_summary.txt" | cut -c1-200
fi

if has test; then
  step "GPU tests: ctest --test-dir $BUILD -L gpu --output-on-failure"
  ctest --test-dir "$BUILD" -L gpu --output-on-failure >"$OUT/test.log" 2>&1 || status=1
  tail -25 "$OUT/test.log"
fi

if has sanitize; then
  # The portable kernel only (the Hopper kernel's mbarrier waits ran > 5 min under racecheck on
  # 2026-11-27); each tool bounded so a hang cannot eat the lease.
  for tool in memcheck racecheck; do
    step "compute-sanitizer --tool $tool test_gpu --small --portable"
    timeout 150 compute-sanitizer --tool $tool --error-exitcode 3 "$BUILD/tests/gpu/test_gpu" \
      --small --portable >"$OUT/sanitize_$tool.log" 2>&1 || { status=1; echo "$tool: FAILED"; }
    tail -4 "$OUT/sanitize_$tool.log"
  done
fi

if has bench; then
  step "bench_gpu ${QUICK:+--quick}"
  "$BUILD/bench_gpu" ${QUICK:+--quick} --json "$OUT/bench_gpu.jsonl" 2>&1 | tee "$OUT/bench_gpu.txt" ||
    status=1
fi

if has torch; then
  step "torch baselines + liteattn in one process"
  PYTHONUNBUFFERED=1 python3 bench/gpu/torch_baselines.py --lib "$BUILD/libliteattn.so" \
    ${QUICK:+--quick} ${BACKEND:+--backend $BACKEND} --json "$OUT/baselines.jsonl" --table "$OUT/table.md" 2>&1 |
    tee "$OUT/baselines.txt" || status=1
fi
if has python; then
  step "Python layer CUDA tests: pytest python/tests_gpu"
  if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || status=1
  fi
  LITEATTN_LIBRARY="$PWD/$BUILD/libliteattn.so" PYTHONPATH="$PWD/python:/tmp/site" \
    PYTHONUNBUFFERED=1 timeout 400 python3 -m pytest -q python/tests_gpu >"$OUT/pytest_gpu.log" 2>&1 ||
    status=1
  tail -3 "$OUT/pytest_gpu.log"
fi
step "done: status $status"
exit $status
