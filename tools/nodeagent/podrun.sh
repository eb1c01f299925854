#!/usr/bin/env bash
# Container entry of the test node agent (nodeagent.sh), run inside the pod's
# network namespace and a private mount namespace of its own:
#   podrun.sh MOUNTS-FILE -- COMMAND ARGS...
# MOUNTS-FILE holds one volume mount per line: SOURCE<TAB>TARGET<TAB>ro|rw.
# Each SOURCE directory is bind-mounted over TARGET (read-only for ro), the
# way a container runtime mounts volumes, then COMMAND replaces this shell
# (same PID), so the agent's PID is the container's PID.
set -euo pipefail
mounts=$1; shift
[ "${1:-}" = "--" ] && shift
while IFS=$'\t' read -r src dst mode; do
  [ -n "$src" ] || continue
  mount --bind "$src" "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done < "$mounts"
cd /
exec "$@"
