#!/usr/bin/env bash
# The whole test suite: unit tests and integration tests against a real local
# Kubernetes control plane, three times — a plain build, AddressSanitizer +
# UndefinedBehaviorSanitizer, and valgrind memcheck — then every libFuzzer
# harness for a short fixed time (fuzz/run.sh).
#
#   scripts/test.sh            all four
#   scripts/test.sh plain      one pass (also: asan, valgrind, fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH"
passes=("$@")
[ ${#passes[@]} -gt 0 ] || passes=(builds plain asan tsan valgrind fuzz)

scripts/install-deps.sh
start=$SECONDS
tools/testenv/build.sh >/dev/null
echo "test.sh: control plane binaries ready ($((SECONDS - start)) s)"

# Tests at once: one per core (twice as many was no faster on 2 cores, and timing
# checks failed under the contention); MEMSHACK_TEST_JOBS overrides.
jobs=${MEMSHACK_TEST_JOBS:-$(nproc)}
run_pass() { # NAME CMAKE-ARGS...
  local name=$1; shift
  local dir="$root/build-test-$name" t0=$SECONDS
  echo "=== $name ==="
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)" >/dev/null
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 1800)
  echo "=== $name passed in $((SECONDS - t0)) s ==="
}

build_only() { # NAME CMAKE-ARGS...: builds everything, tests included, and runs nothing
  local name=$1; shift
  local dir="$root/build-test-$name" t0=$SECONDS
  cmake -S "$root" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)" >/dev/null
  echo "=== $name built warning-free in $((SECONDS - t0)) s ==="
}

for p in "${passes[@]}"; do
  case $p in
    builds) echo "=== builds ==="
            build_only release-gcc -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc
            build_only release-clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang ;;
    plain) run_pass plain ;;
    asan) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            run_pass asan -DMEMSHACK_SANITIZE=ON ;;
    tsan) TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_pass tsan -DMEMSHACK_TSAN=ON ;;
    valgrind) run_pass valgrind -DMEMSHACK_VALGRIND=ON ;;
    fuzz) echo "=== fuzz ==="; fuzz/run.sh "${MEMSHACK_FUZZ_SECONDS:-30}"; echo "=== fuzz passed ===" ;;
    *) echo "test.sh: unknown pass '$p' (builds, plain, asan, tsan, valgrind, fuzz)" >&2; exit 2 ;;
  esac
done
# Nothing of ours may be left running.
if pgrep -f "/tmp/memshack-testenv-(minimal|full|faults|fullfaults|hostile)-" >/dev/null; then
  echo "test.sh: processes left behind:" >&2; pgrep -fa "/tmp/memshack-testenv-(minimal|full|faults|fullfaults|hostile)-" >&2; exit 1
fi
echo "test.sh: all passes succeeded"
