#!/usr/bin/env bash
# Every mcrouter config memshack can generate is accepted by mcrouter itself:
# `mcrouter --validate-config=exit` (exit 0 = accepted) on each config of every
# golden file (a golden file holds one config per rendered object) and on the
# config `memshack render` prints for every sample in yaml/.
# Usage: mcrouter_validate.sh MEMSHACK_BINARY [MCROUTER]
# MCROUTER defaults to MEMSHACK_MCROUTER, then ../shared/mcrouter/bin/mcrouter.
set -uo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
mcrouter=${2:-${MEMSHACK_MCROUTER:-$(cd "$root/.." && pwd)/shared/mcrouter/bin/mcrouter}}
[ -x "$mcrouter" ] || { echo "FAIL no mcrouter at $mcrouter"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

validate() { # FILE LABEL
  if timeout 60 "$mcrouter" --validate-config=exit --config "file:$1" -p 1 \
       --asynclog-disable --stats-root "$tmp" --config-dump-root "$tmp" --debug-fifo-root '' > "$tmp/out" 2>&1; then
    passed=$((passed + 1))
  else
    echo "FAIL mcrouter refuses $2:"; grep -E 'FAILURE|CRITICAL|rror' "$tmp/out" | head -3 | cut -c1-400
    failed=$((failed + 1))
  fi
}

# split CONFIGS-TEXT PREFIX: one file per JSON document, byte-exact documents as jq re-emits them.
split_configs() {
  local n=0
  while IFS= read -r doc; do
    n=$((n + 1)); printf '%s\n' "$doc" > "$2.$n.json"
  done < <(jq -c . <<<"$1")
  [ $n -gt 0 ] || { echo "FAIL $2: no config"; failed=$((failed + 1)); }
}

for golden in "$root"/tests/golden/*.mcrouter.json; do
  name=$(basename "$golden" .mcrouter.json)
  split_configs "$(cat "$golden")" "$tmp/golden-$name"
done
for sample in "$root"/yaml/test.yaml "$root"/yaml/samples/*.yaml; do
  name=$(basename "$sample" .yaml)
  if ! out=$("$bin" render --config-only "$sample" 2> "$tmp/render.err"); then
    echo "FAIL render $name: $(cat "$tmp/render.err")"; failed=$((failed + 1)); continue
  fi
  split_configs "$out" "$tmp/sample-$name"
done
for f in "$tmp"/*.json; do
  validate "$f" "$(basename "$f")"
done
# The check can fail: a config mcrouter must refuse is refused.
printf '{"route":"PoolRoute|missing"}\n' > "$tmp/bad.json"
if timeout 60 "$mcrouter" --validate-config=exit --config "file:$tmp/bad.json" -p 1 --asynclog-disable \
     --stats-root "$tmp" --config-dump-root "$tmp" --debug-fifo-root '' > /dev/null 2>&1; then
  echo "FAIL mcrouter accepted a config naming a pool that does not exist"; failed=$((failed + 1))
else
  passed=$((passed + 1))
fi
echo "validated $((passed - 1)) configs"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
