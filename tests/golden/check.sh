#!/usr/bin/env bash
# Golden files of `memshack render`: for every tests/golden/NAME.yaml input,
# NAME.objects.yaml (every object) and NAME.mcrouter.json (the configs) must
# match exactly; with a NAME.from.yaml beside it, rendered `--from` it (a warm
# migration). UPDATE_GOLDEN=1 rewrites them (review the diff!).
# Usage: check.sh MEMSHACK_BINARY
set -uo pipefail
bin=$1
dir=$(cd "$(dirname "$0")" && pwd)
failed=0 passed=0
for input in "$dir"/*.yaml; do
  case $input in *.objects.yaml | *.from.yaml) continue ;; esac
  name=$(basename "$input" .yaml)
  from=()
  [ -f "$dir/$name.from.yaml" ] && from=(--from "$dir/$name.from.yaml")
  kinds="objects mcrouter"
  # The policy matrix differs only in routing: its config is the golden file.
  [ "$name" = policies ] && kinds=mcrouter
  for kind in $kinds; do
    if [ "$kind" = objects ]; then out=$dir/$name.objects.yaml; args=(); else out=$dir/$name.mcrouter.json; args=(--config-only); fi
    got=$(${MEMSHACK_WRAPPER:-} "$bin" render "${args[@]}" "${from[@]}" "$input")
    rc=$?
    if [ $rc -ne 0 ]; then echo "FAIL $name $kind: render exited $rc"; failed=$((failed + 1)); continue; fi
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then printf '%s\n' "$got" > "$out"; fi
    if diff -u "$out" <(printf '%s\n' "$got") > /tmp/golden.diff.$$; then
      passed=$((passed + 1))
    else
      echo "FAIL $name $kind differs from $(basename "$out"):"; head -40 /tmp/golden.diff.$$
      failed=$((failed + 1))
    fi
    rm -f /tmp/golden.diff.$$
  done
done
# Rendering is deterministic: twice the same bytes.
a=$("$bin" render "$dir/large.yaml" | md5sum); b=$("$bin" render "$dir/large.yaml" | md5sum)
[ "$a" = "$b" ] && passed=$((passed + 1)) || { echo "FAIL render is not deterministic"; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
