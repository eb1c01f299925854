#!/usr/bin/env bash
# No script that sets pipefail ends a pipeline in an early-exiting grep (-q, or -m).
# grep -q stops reading at its first match; a producer still writing then dies of
# SIGPIPE, and pipefail turns the match into a failure: chart_e2e failed so in CI,
# on a podman log that matched. Read everything first (tests/integration/lib.sh's
# `matches`, or a variable and <<<).
# Usage: pipefail_grep.sh SOURCE_DIR
set -uo pipefail
cd "$1" || exit 2
mapfile -t scripts < <(git ls-files '*.sh' .ci/run 2>/dev/null || find . -name '*.sh')
checked=0 found=()
for f in "${scripts[@]}"; do
  grep -q 'set -[a-z]*o pipefail' "$f" || continue
  checked=$((checked + 1))
  while IFS= read -r hit; do found+=("$f:$hit"); done < <(grep -nE '\|[[:space:]]*grep[[:space:]]+(-[a-zA-Z]*[qm]|--quiet|--silent|--max-count)' "$f")
done
if [ ${#found[@]} -gt 0 ]; then
  echo "FAIL a pipeline ends in an early-exiting grep under pipefail:"
  printf '  %s\n' "${found[@]}"
  echo "0 passed, 1 failed"; exit 1
fi
echo "ok   $checked pipefail scripts read their producers to the end"
echo "1 passed, 0 failed"
