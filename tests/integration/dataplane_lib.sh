# Helpers for tests on the real data plane (sourced, not run): a network
# namespace of the test's own holding a full local control plane, the test
# node agent (tools/nodeagent) that runs real memcached and mcrouter processes
# for the pods, and the operator.
# shellcheck shell=bash
# Callers set $bin (the memshack binary); dp_enter makes $tmp (a scratch folder) inside the namespace.
#
#   dp_enter "$@"   at the top of a test: re-runs the script inside a new network
#                   namespace (ip netns exec, which mounts /etc/netns/NAME/hosts
#                   over /etc/hosts) and removes the namespace afterwards; inside,
#                   makes $tmp (mode 755: pod processes run as other users)
#   dp_up           control plane + bridge + node agent (sets dp_dir, dp_agent_pid)
#   dp_operator ARGS...   starts `memshack run` (sets op_pid, mport, hport)
#   dp_down         stops everything it started, by PID
#   dp_start NS OPERATOR-FLAGS...   for tests: dp_up, kubectl on PATH, namespace NS
#                   (Pod Security restricted), the CRDs, the operator watching NS;
#                   records ok/bad; returns non-zero if the test cannot go on
#   dp_stop_operator    SIGTERM to the operator; records ok/bad: it must exit 0
#                   with no sanitizer report in its log (the ASan pass)
#   dp_cleanup LOGDIR   for tests' EXIT trap: dp_down; on a failure (or with
#                   MEMSHACK_DP_KEEP=1) keeps the logs in LOGDIR; removes $tmp
#
# Needs: root, iproute2, memcached (Debian), mcrouter from ../shared/mcrouter
# (or MEMSHACK_MCROUTER).

: "${bin:?}"
dp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dp_mcrouter=${MEMSHACK_MCROUTER:-$(cd "$dp_root/.." && pwd)/shared/mcrouter/bin/mcrouter}
dp_bridge=msbr0
dp_gateway_ip=10.244.255.254

dp_enter() {
  if [ -n "${MEMSHACK_DP_NETNS:-}" ]; then
    tmp=$(mktemp -d --suffix ".memshack-$(basename "$0" .sh)") && chmod 755 "$tmp"
    return
  fi
  [ "$(id -u)" = 0 ] || { echo "dataplane tests need root (network namespaces)"; echo "0 passed, 1 failed"; exit 1; }
  [ -x "$dp_mcrouter" ] || { echo "no mcrouter at $dp_mcrouter (set MEMSHACK_MCROUTER)"; echo "0 passed, 1 failed"; exit 1; }
  command -v memcached >/dev/null || { echo "memcached is not installed"; echo "0 passed, 1 failed"; exit 1; }
  local name=msdp-$$ rc
  ip netns add "$name" || exit 1
  mkdir -p "/etc/netns/$name"
  printf '127.0.0.1\tlocalhost\n' > "/etc/netns/$name/hosts"
  MEMSHACK_DP_NETNS=$name ip netns exec "$name" bash "$0" "$@"
  rc=$?
  # Anything still in the namespace is ours: stop it by PID, then remove the namespace.
  local pids
  pids=$(ip netns pids "$name" 2>/dev/null)
  if [ -n "$pids" ]; then
    echo "dataplane: processes left in $name: $pids (killed)" >&2
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    rc=1
  fi
  ip netns del "$name" 2>/dev/null
  rm -rf "/etc/netns/${name:?}"
  exit $rc
}

dp_up() {
  ip link set lo up
  ip link add "$dp_bridge" type bridge
  ip addr add "$dp_gateway_ip/16" dev "$dp_bridge"
  ip link set "$dp_bridge" up
  dp_dir=$tmp/testenv
  local t0=$SECONDS
  if ! MEMSHACK_TESTENV_KWOK_STAGES=$dp_root/tools/testenv/kwok-stages-dataplane.yaml \
      "$dp_root/tools/testenv/testenv.sh" up full --dir "$dp_dir" > "$tmp/testenv.env" 2> "$tmp/testenv.err"; then
    cat "$tmp/testenv.err"; return 1
  fi
  # shellcheck disable=SC1091
  . "$tmp/testenv.env"
  echo "dataplane: control plane up in $((SECONDS - t0)) s (namespace $MEMSHACK_DP_NETNS)"
  bash "$dp_root/tools/nodeagent/nodeagent.sh" --testenv "$dp_dir" --dir "$tmp/agent" \
    --hosts "/etc/netns/$MEMSHACK_DP_NETNS/hosts" --bridge "$dp_bridge" --pod-gateway "$dp_gateway_ip" \
    --bin memcached="$(command -v memcached)" --bin mcrouter="$dp_mcrouter" \
    --configmap-delay "${DP_CONFIGMAP_DELAY:-2}" --restart-backoff "${DP_RESTART_BACKOFF:-1}" \
    > "$tmp/agent.log" 2>&1 &
  dp_agent_pid=$!
}

dp_operator() { # extra flags for memshack run
  mport=$(free_port); hport=$(free_port)
  ${MEMSHACK_WRAPPER:-} "$bin" run --metrics-bind-address "127.0.0.1:$mport" \
    --health-probe-bind-address "127.0.0.1:$hport" "$@" > "$tmp/operator.log" 2>&1 &
  op_pid=$!
  until_ok 60 curl -sf "http://127.0.0.1:$hport/readyz"
}

dp_down() {
  if [ -n "${op_pid:-}" ]; then kill -TERM "$op_pid" 2>/dev/null; wait "$op_pid" 2>/dev/null; op_pid=; fi
  if [ -n "${dp_agent_pid:-}" ]; then
    touch "$tmp/agent/stop" # not a signal: see nodeagent.sh
    for _ in $(seq 1 150); do kill -0 "$dp_agent_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dp_agent_pid" 2>/dev/null
    dp_agent_pid=
  fi
  # Whatever the agent did not stop (it died, or was killed): its sandboxes and containers
  # live in network namespaces of their own, so the namespace cleanup cannot see them.
  local f pid left=0
  for f in "$tmp"/agent/pods/*/sandbox.pid "$tmp"/agent/pods/*/containers/*/pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ -n "$pid" ] && grep -qaE 'memcached|mcrouter|sleep' "/proc/$pid/cmdline" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null && left=$((left + 1))
    fi
  done
  [ $left = 0 ] || echo "dataplane: the node agent left $left pod processes running (killed)" >&2
  [ -n "${dp_dir:-}" ] && "$dp_root/tools/testenv/testenv.sh" down --dir "$dp_dir" >/dev/null 2>&1
  dp_dir=
}

dp_start() {
  local ns=$1; shift
  dp_up || { bad "data plane did not start"; return 1; }
  PATH="$(cat "$dp_dir/bin.path"):$PATH"; export PATH
  kubectl create namespace "$ns" >/dev/null
  kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
  "$bin" crd | kubectl apply --server-side -f - >/dev/null &&
    kubectl wait --for=condition=Established crd/memshacks.memshack.io crd/memcachedproxies.memshack.io --timeout=30s >/dev/null \
    && ok "CRDs installed" || bad "CRDs not established"
  dp_operator --namespace "$ns" "$@" && ok "operator ready" || { bad "operator not ready"; tail -20 "$tmp/operator.log"; return 1; }
}

dp_stop_operator() {
  local rc
  kill -TERM "$op_pid" 2>/dev/null
  wait "$op_pid"; rc=$?
  op_pid=
  if [ "$rc" = 0 ] && ! grep -qE 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$tmp/operator.log"; then
    ok "operator exited 0 on SIGTERM, no sanitizer report"
  else
    bad "operator exited $rc: $(grep -m3 -E 'Sanitizer|runtime error:' "$tmp/operator.log")"
  fi
}

dp_cleanup() {
  dp_down
  if [ "${MEMSHACK_DP_KEEP:-0}" = 1 ] || [ "${failed:-0}" -gt 0 ]; then
    mkdir -p "$1" && cp "$tmp"/*.log "$tmp"/errors-* "$tmp"/load-* "$1"/ 2>/dev/null
    echo "logs kept in $1"
  fi
  rm -rf "$tmp"
}

# dp_first_write HOST PORT: waits (at most 15 s) until a set through the gateway is STORED.
# Just after creation a gateway may still hold a memcached that came up after its config
# loaded as down (TKO) until its next probe, at most --probe-timeout-max (5 s) later.
dp_first_write() {
  local i
  for i in $(seq 1 75); do
    [ "$(mc "$1" "$2" 'set dp-first-write 0 0 1\r\nx\r\nquit\r\n' | head -1)" = STORED ] && { echo "$((i * 200))"; return 0; }
    sleep 0.2
  done
  return 1
}

# mc HOST PORT COMMAND-TEXT: one memcached-protocol exchange; prints the reply
# up to its terminating line (END, STORED, ... or an error), at most 2 s.
mc() {
  printf '%b' "$3" | timeout 2 socat -t 1 - "TCP:$1:$2" 2>/dev/null | tr -d '\r'
}
