#!/usr/bin/env bash
# The Dockerfile's runtime stage cannot be run here (no Docker engine), so
# this proves it instead: every shared library the built memshack binary
# loads (ldd) belongs to a Debian package that the runtime stage installs,
# one of their dependencies, or the base image's essential set.
# Usage: docker_runtime_libs.sh MEMSHACK_BINARY DOCKERFILE
set -uo pipefail
bin=$1 dockerfile=$2
listed=$(sed -n 's/^# runtime-packages: //p' "$dockerfile")
installs=$(awk '/^FROM /{stage++} stage==2 && /apt-get install/' "$dockerfile")
[ -n "$listed" ] || { echo "FAIL no '# runtime-packages:' line in $dockerfile"; exit 1; }
for p in $listed; do
  grep -qw -- "$p" <<<"$installs" || { echo "FAIL runtime stage does not install $p"; exit 1; }
done
# The closure of the listed packages' Depends/Pre-Depends, plus Essential packages (in every Debian image).
declare -A have=()
read -ra queue <<<"$listed $(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" {print $1}' | tr '\n' ' ')"
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}; queue=("${queue[@]:1}")
  p=${p%%:*}
  [ -n "${have[$p]:-}" ] && continue
  have[$p]=1
  deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g' | grep -v '^$')
  for d in $deps; do [ -z "${have[$d]:-}" ] && queue+=("$d"); done
done
failed=0 passed=0
while read -r lib; do
  path=$(readlink -f "$lib")
  pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1)
  [ -z "$pkg" ] && pkg=$(dpkg -S "$lib" 2>/dev/null | head -n1 | cut -d: -f1)
  if [ -n "$pkg" ] && [ -n "${have[$pkg]:-}" ]; then
    passed=$((passed + 1))
  else
    echo "FAIL $lib (package '${pkg:-unknown}') is not provided by the runtime stage"
    failed=$((failed + 1))
  fi
done < <(ldd "$bin" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}')
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 5 ]
