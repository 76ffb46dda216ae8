#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan, in build-fuzz/) and runs each for
# SECONDS seconds from its committed seed corpus (fuzz/corpus/<target>, copied: the committed seeds
# are never changed). Prints per target its executions, coverage and corpus size; exits 1 when any
# target found a crash, a leak, a timeout or an allocation beyond the limit, naming the target and
# the input it saved (build-fuzz/artifacts/<target>/), which then belongs in a regression test.
#   usage: fuzz/run.sh [SECONDS=60] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-2}
all=(idx_raw idx_gzip safetensors config state_file var_map option_list metrics)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")

cxx=${FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz: $cxx not found; install it with: bash scripts/setup/install_deps.sh --with-fuzz" >&2
  exit 1
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMNIST_NATIVE=OFF -DMNIST_FUZZ=ON \
  -DCMAKE_CXX_COMPILER="$cxx" >/dev/null || exit 1
cmake --build "$build" -j "$jobs" --target fuzz_targets >"$build/build.log" 2>&1 || {
  tail -30 "$build/build.log"; echo "fuzz: the build failed ($build/build.log)" >&2; exit 1; }

# Inputs as large as real checkpoint headers and cut-down IDX files, not libFuzzer's 4 KB default.
max_len() {
  case "$1" in
    safetensors|idx_raw|idx_gzip) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

failed=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t"; art="$build/artifacts/$t"; log="$build/logs/$t.log"
  mkdir -p "$work" "$art" "$(dirname "$log")"
  rm -f "$art"/*
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$build/fuzz/fuzz_$t" "$work" "fuzz/corpus/$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$art/" \
    >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
  if [[ $rc -eq 0 ]]; then
    echo "fuzz: $t: ok, ${execs:-?} executions in ${seconds} s, coverage ${cov:-?} edges (${ft:-?} features), corpus ${corp:-?}"
  else
    echo "fuzz: $t: FAILED (exit $rc) after ${execs:-?} executions, coverage ${cov:-?} edges; input saved: $(ls "$art" | head -3 | tr '\n' ' ')"
    grep -m3 -E 'ERROR: |SUMMARY: |runtime error|==ERROR' "$log" | sed 's/^/    /'
    echo "    log: $log"
    failed+=("$t")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds} s each without a crash, leak or timeout"
