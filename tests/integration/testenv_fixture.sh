#!/usr/bin/env bash
# CTest fixture: testenv_fixture.sh up|down PROFILE DIR
# `up` first removes whatever an interrupted earlier run left in DIR.
set -euo pipefail
testenv="$(cd "$(dirname "$0")/../.." && pwd)/tools/testenv/testenv.sh"
verb=$1 profile=$2 dir=$3
case $verb in
  up)
    "$testenv" down --dir "$dir" >/dev/null 2>&1 || rm -rf "$dir"
    "$testenv" up "$profile" --dir "$dir"
    ;;
  down)
    "$testenv" down --dir "$dir"
    ;;
  *) echo "usage: $0 up|down PROFILE DIR" >&2; exit 2 ;;
esac
