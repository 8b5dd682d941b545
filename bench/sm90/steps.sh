# steps.sh — shell functions the one-call device scripts share (source it; bash). Each step
# writes its log under $O, prints one line with its status and the seconds since $T0, and the
# first FAIL lines; it returns the command's status.
#   la_step NAME LOG SECONDS CMD...   run CMD under a timeout into $O/LOG
#   la_checks NEW PREV [LOG_PREFIX]   same_bits.py NEW PREV, then the CPU-spec check of NEW with
#                                     rotating variants and with variant 1,2
#   la_sanitize LIB CASE SECONDS      racecheck and synccheck of one check case (variant 1,2)
#   la_first LIB CASE SECS [ARGS]     the CPU-spec check of one case first (a hang stops the call)
#   la_ab NEW PREV SEED BUDGET SHAPES CONFIGS LOG LABEL
#                                     sm90_bench.py --ab-bench NEW against PREV within what is left
#                                     of BUDGET seconds since $T0 (at least 60), into $O/LOG
#   la_tried MACRO DIFF               a tried-and-lost change kept as a diff: applied to this copy of
#                                     the tree unless the kernel source already has MACRO
#   la_bridges DIR NEW_FLAGS PREV_FLAGS [ALT_FLAGS]
#                                     the bridge twice, side by side: build-sm90/DIR with NEW_FLAGS
#                                     and build-sm90 with PREV_FLAGS (logs build_new / build_prev);
#                                     with ALT_FLAGS a third, build-sm90/alt (log build_alt)
#   la_ab_alt NEW PREV ALT SEED SECS SHAPES CONFIGS LOG LABEL
#                                     sm90_bench.py --ab-bench NEW against PREV with ALT as the
#                                     third build, under a SECS timeout, into $O/LOG; its RESULT lines
#   la_pack                           everything under $O into one $O/all.tgz (only a handful of
#                                     files come back from a device call)
# Sourcing sets the call's defaults: logs under $OUT (or /tmp), the clock $T0, unbuffered Python.
O=${OUT:-/tmp}
T0=${T0:-$(date +%s)}
export PYTHONUNBUFFERED=1
t() { echo "($(($(date +%s) - T0)) s)"; }
la_step() {
  local name=$1 log=$2 secs=$3
  shift 3
  timeout "$secs" "$@" > "$O/$log" 2>&1
  local rc=$?
  echo "$name rc=$rc ($(($(date +%s) - T0)) s): $(tail -1 "$O/$log")"
  grep -E "^FAIL" "$O/$log" | head -5
  return $rc
}
la_checks() {
  local new=$1 prev=$2 pre=${3:-}
  la_step "same_bits" "${pre}same_bits.log" 150 python3 bench/sm90/same_bits.py "$new" "$prev" ||
    return $?
  la_step "check (rotating variants)" "${pre}check.log" 150 \
    python3 bench/sm90/sm90_bench.py "$new" --check || return $?
  la_step "check (variant 1,2)" "${pre}check_mc.log" 150 \
    python3 bench/sm90/sm90_bench.py "$new" --check --variant 1,2
}
la_sanitize() {
  local lib=$1 c=$2 secs=$3 tool rc
  for tool in racecheck synccheck; do
    timeout "$secs" compute-sanitizer --tool $tool --error-exitcode 3 --target-processes all \
      python3 bench/sm90/sm90_bench.py "$lib" --check --variant 1,2 --only "$c" \
      > "$O/san_${tool}.log" 2>&1
    rc=$?
    echo "$tool $c rc=$rc ($(($(date +%s) - T0)) s) $(grep -E 'SUMMARY' "$O/san_${tool}.log" | tail -1)"
    [ $rc -ne 0 ] && tail -5 "$O/san_${tool}.log"
  done
  return 0
}
la_first() {
  local lib=$1 c=$2 secs=$3 rc
  shift 3
  la_step "check $c" check_one.log "$secs" python3 bench/sm90/sm90_bench.py "$lib" --check --only "$c" "$@"
  rc=$?
  [ $rc -eq 124 ] && echo "the check hung (timeout): stop"
  return $rc
}
la_ab() {
  local new=$1 prev=$2 seed=$3 budget=$4 shapes=$5 configs=$6 log=$7 label=$8 left
  left=$((budget - $(date +%s) + T0))
  [ "$left" -lt 60 ] && left=60
  timeout "$left" python3 bench/sm90/sm90_bench.py "$new" --ab-bench --ab "$prev" --seed "$seed" \
    --ab-shapes "$shapes" --ab-configs "$configs" > "$O/$log" 2>&1
  echo "ab rc=$? $(t) ($label)"
}
la_tried() {
  grep -q "$1" src/cuda/sm90/sm90_fwd.cu || git apply "$2" || { echo "la_tried: $2 does not apply"; return 1; }
}
la_bridges() {
  local dir=$1 newf=$2 prevf=$3 altf=${4-} pp pa=""
  LA_SM90_NVCC_FLAGS="$prevf" bench/sm90/build.sh > "$O/build_prev.log" 2>&1 &
  pp=$!
  if [ $# -ge 4 ]; then
    LA_SM90_OUT=build-sm90/alt LA_SM90_NVCC_FLAGS="$altf" bench/sm90/build.sh \
      > "$O/build_alt.log" 2>&1 &
    pa=$!
  fi
  LA_SM90_OUT=build-sm90/$dir LA_SM90_NVCC_FLAGS="$newf" bench/sm90/build.sh \
    > "$O/build_new.log" 2>&1 || { tail -3 "$O/build_new.log"; wait $pp $pa; return 1; }
  wait $pp || { tail -3 "$O/build_prev.log"; return 1; }
  if [ -n "$pa" ]; then wait $pa || { tail -3 "$O/build_alt.log"; return 1; }; fi
  echo "bridges built ($(($(date +%s) - T0)) s): build-sm90/$dir '$newf', build-sm90 '$prevf'${pa:+,}" \
    "${pa:+build-sm90/alt '$altf'}"
}
la_ab_alt() {
  local new=$1 prev=$2 alt=$3 seed=$4 secs=$5 shapes=$6 configs=$7 log=$8 label=$9
  timeout "$secs" python3 bench/sm90/sm90_bench.py "$new" --ab-bench --ab "$prev" --alt "$alt" \
    --seed "$seed" --ab-shapes "$shapes" --ab-configs "$configs" > "$O/$log" 2>&1
  echo "ab rc=$? $(t) ($label)"
  grep -E "RESULT" "$O/$log"
}
la_pack() {
  (cd "$O" && tar czf /tmp/all.tgz --exclude all.tgz . && rm -rf ./* && mv /tmp/all.tgz .)
}
