#!/usr/bin/env bash
# No function in src/ is longer than 100 lines (issue 15): a function that long does
# several things and belongs in several functions. A body is counted from its opening
# "{" at column 0 to its closing "}" at column 0 (the project's style).
# Usage: function_length.sh SOURCE_DIR [LIMIT]
set -uo pipefail
cd "$1" || exit 2
limit=${2:-100}
# shellcheck disable=SC2016 # an awk program
long=$(awk -v limit="$limit" '
  /^[A-Za-z].*\(/ { sig = $0 }
  /^\{/ { start = FNR; name = sig; sub(/\(.*/, "", name); n = split(name, w, /[ *]+/); name = w[n] }
  /^\}/ && start { len = FNR - start - 1; if (len > limit) print FILENAME ":" start ": " name " is " len " lines"; start = 0 }
' src/*/*.c src/*.c)
count=$(awk '/^\{/ { n++ } END { print n }' src/*/*.c src/*.c)
if [ -n "$long" ]; then
  echo "FAIL functions over $limit lines:"; echo "$long"
  echo "0 passed, 1 failed"; exit 1
fi
echo "ok   all $count functions in src/ are at most $limit lines"
echo "1 passed, 0 failed"
