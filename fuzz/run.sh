#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each for a
# fixed time on a copy of its seed corpus in fuzz/corpus/. Fails on any crash,
# leak, timeout or assertion; the reproducer is kept in build-fuzz/artifacts/.
#
#   fuzz/run.sh [SECONDS] [HARNESS...]     default 20 s each, all harnesses
#   MEMSHACK_FUZZ_KEEP=1 fuzz/run.sh 600   long run; new inputs merged back
#                                          into fuzz/corpus (minimised)
#   MEMSHACK_FUZZ_RUNS=1000000 fuzz/run.sh 3600   stop each after that many
#                                          executions (or the time limit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-20}; [ $# -gt 0 ] && shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(watch list kubeconfig spec config endpoints)
scripts/install-deps.sh >/dev/null
CC=clang cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMEMSHACK_FUZZ=ON -DMEMSHACK_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
failed=0
for h in "${harnesses[@]}"; do
  mkdir -p "$work/$h"
  cp fuzz/corpus/"$h"/* "$work/$h/"
  log=$work/$h.log
  runs_flag=()
  [ -n "${MEMSHACK_FUZZ_RUNS:-}" ] && runs_flag=(-runs="$MEMSHACK_FUZZ_RUNS")
  if build-fuzz/fuzz/fuzz_"$h" -max_total_time="$secs" "${runs_flag[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/artifacts/$h-" "$work/$h" > "$log" 2>&1; then
    runs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log")
    took=$(awk '/^stat::(average_exec_per_sec)/ {e = $2} /^stat::number_of_executed_units/ {n = $2} END {if (e > 0) printf "%d", n / e; else print "?"}' "$log")
    echo "fuzz: $h: ${runs:-?} executions in about $took s, no failure (corpus $(find "$work/$h" -type f | wc -l) inputs)"
  else
    echo "fuzz: $h FAILED:" >&2
    grep -E 'ERROR|SUMMARY|fuzz_check|#[0-9]+ 0x' "$log" | head -n 20 >&2
    failed=1
  fi
  if [ "${MEMSHACK_FUZZ_KEEP:-}" = 1 ]; then
    mkdir -p "$work/$h.min"
    build-fuzz/fuzz/fuzz_"$h" -merge=1 "$work/$h.min" fuzz/corpus/"$h" "$work/$h" >/dev/null 2>&1
    cp -n "$work/$h.min"/* fuzz/corpus/"$h"/ 2>/dev/null || true
  fi
done
exit $failed
