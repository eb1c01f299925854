#!/usr/bin/env bash
# Every C file of ours is formatted by .clang-format (issue 15): one style, kept by
# a tool. To format: clang-format -i $(git ls-files '*.[ch]')
# Usage: format.sh SOURCE_DIR
set -uo pipefail
cd "$1" || exit 2
command -v clang-format >/dev/null || { echo "FAIL clang-format is not installed (scripts/install-deps.sh)"; exit 1; }
mapfile -t files < <(find src tests fuzz bench tools -name '*.[ch]' -not -path '*/build*' | sort)
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "FAIL not formatted (clang-format -i FILE; clang-format --dry-run FILE shows where):"
  printf '  %s\n' "${bad[@]}"
  echo "0 passed, 1 failed"; exit 1
fi
echo "ok   all ${#files[@]} C files are formatted by .clang-format ($(clang-format --version | grep -o 'version [0-9.]*'))"
echo "1 passed, 0 failed"
