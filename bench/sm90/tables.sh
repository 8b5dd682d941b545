#!/bin/bash
# tables.sh — one device call that refreshes the README's figures for the default build: the
# library build for sm_90, ctest -L gpu, the Python layer's CUDA tests, then the torch table
# (bench/gpu/torch_baselines.py: liteattn sm90 against cuDNN, flash and FlexAttention in one
# process) twice. Only the key files come back ($OUT keeps a handful; the rest stays in /tmp/gc*).
# Usage on the device: bench/sm90/tables.sh, with carry [".whl"] (diffusers and pytest for the
# Python tests are not on the device image; without them 16 tests error and 2 fail)
cd "$(dirname "$0")/../.." || exit 1
O=${OUT:-/tmp}
T0=$(date +%s)
OUT=/tmp/gc1 BACKEND=sm90 scripts/gpu_check.sh build test python torch > /tmp/gc1.log 2>&1
echo "run 1 rc=$? ($(($(date +%s) - T0)) s)"
grep -E "tests passed|tests failed|passed|failed|status" /tmp/gc1.log | tail -6
cp /tmp/gc1/table.md "$O/table_run1.md"; cp /tmp/gc1/baselines.txt "$O/baselines_run1.txt"
cp /tmp/gc1/env.txt "$O/env.txt"
if [ $(($(date +%s) - T0)) -lt 380 ]; then
  OUT=/tmp/gc2 BACKEND=sm90 scripts/gpu_check.sh torch > /tmp/gc2.log 2>&1
  echo "run 2 rc=$? ($(($(date +%s) - T0)) s)"
  cp /tmp/gc2/table.md "$O/table_run2.md"; cp /tmp/gc2/baselines.txt "$O/baselines_run2.txt"
fi
cat "$O"/table_run*.md
