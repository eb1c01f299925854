#!/usr/bin/env bash
# The layers hold (issue 15): src/core includes only core, util and system headers; src/util
# includes only util; the runtime and the Kubernetes client name no Memshack constant; no
# file-scope mutable state in src/operator (controller state lives in a context passed to
# reconcile).
# Usage: layering.sh SOURCE_DIR
set -uo pipefail
cd "$1/src" || exit 2
fail=0
check() { # DESCRIPTION COMMAND...: passes when COMMAND prints nothing
  local what=$1 out; shift
  out=$("$@")
  if [ -n "$out" ]; then echo "FAIL $what:"; echo "$out"; fail=1; else echo "ok   $what"; fi
}
check "src/core includes nothing above util" grep -nE '#include "(kube|runtime|operator|mcproto|cachetest)/' core/*.c core/*.h
check "src/util includes only util" grep -nE '#include "(core|kube|runtime|operator|mcproto|cachetest)/' util/*.c util/*.h
check "src/kube includes no layer above it" grep -nE '#include "(core|runtime|operator|mcproto|cachetest)/' kube/*.c kube/*.h
check "src/runtime includes no core or operator header" grep -nE '#include "(core|operator)/' runtime/*.c runtime/*.h
check "no Memshack constant in the runtime" grep -nE 'MEMSHACK_(DIGEST|FIELD_MANAGER|LABEL|CONFIG)|memshack\.io/' runtime/*.c runtime/*.h
# File-scope variables: a top-level declaration ending in ';' or '= ...' that is not const, a type or a prototype.
# shellcheck disable=SC2016 # an awk program
check "no file-scope mutable state in src/operator" awk '
  /^[ \t]/ || /^[#\/*}]/ || /^$/ { next }
  /^(typedef|struct [a-z_]+ \{|enum|extern|const|static const)/ { next }
  /\(/ { next }
  /;[ \t]*$|=/ { print FILENAME ":" FNR ": " $0 }' operator/*.c
[ "$fail" = 0 ] && echo "6 passed, 0 failed" || echo "layering: some checks failed"
exit "$fail"
