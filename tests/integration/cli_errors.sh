#!/usr/bin/env bash
# Bad input to `memshack check` gives one line naming the problem, a non-zero
# exit code and no crash: a missing context, a bad base64 certificate, an
# unreachable server, an invalid token.
# Usage: cli_errors.sh MEMSHACK_BINARY   (KUBECONFIG from the testenv fixture)
# MEMSHACK_WRAPPER, if set, prefixes every run (valgrind).
set -uo pipefail
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0 passed=0

# expect NAME KUBECONFIG_FILE EXTRA_ARGS PATTERN
expect() {
  local name=$1 kc=$2 args=$3 pattern=$4 out rc lines
  # shellcheck disable=SC2086 # wrapper and args are word lists
  out=$(${MEMSHACK_WRAPPER:-} "$bin" check --kubeconfig "$kc" $args 2>&1 >/dev/null)
  rc=$?
  lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$rc" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -qE "$pattern" <<<"$out"; then
    echo "FAIL $name: rc=$rc lines=$lines output: $out"
    failures=$((failures + 1))
  else
    echo "ok   $name: $out"
    passed=$((passed + 1))
  fi
}

good=$KUBECONFIG
${MEMSHACK_WRAPPER:-} "$bin" check --kubeconfig "$good" >/dev/null || { echo "FAIL the good kubeconfig does not work"; exit 1; }

expect missing-context "$good" "--context nope" "context 'nope' not found"
sed 's|certificate-authority-data: .*|certificate-authority-data: "@@not-base64@@"|' "$good" > "$tmp/badca"
expect bad-base64-ca "$tmp/badca" "" "certificate-authority-data is not valid base64"
sed 's|server: https://127.0.0.1:[0-9]*|server: https://127.0.0.1:1|' "$good" > "$tmp/unreachable"
expect unreachable-server "$tmp/unreachable" "" "connection error: .*127.0.0.1:1.*(refused|connect)"
sed 's|user: {token: [0-9a-f]*}|user: {token: expired-or-invalid}|' "$good" > "$tmp/badtoken"
expect invalid-token "$tmp/badtoken" "" "401 Unauthorized.*rejected the credential"
printf 'clusters: [\n' > "$tmp/notyaml"
expect invalid-yaml "$tmp/notyaml" "" "invalid YAML: line"
expect missing-file "$tmp/does-not-exist" "" "cannot open"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
