#!/usr/bin/env bash
# No two leaders write at once (issue 14, part 1), proven from the API
# server's audit log.
#
# Operator A reaches the API server through tcp_relay (its requests come from
# 127.0.0.2), operator B directly (127.0.0.1); both run leader election on
# one Lease (lease 6 s, renew deadline 4 s, retry 1 s: Lease requests time
# out after 2 s). A leads, and kubectl keeps changing a Memshack so that
# whoever leads keeps writing. Then A's network goes bad:
#
#   blackhole  (x10; MEMSHACK_FENCE_REPS) A's connections stay open and carry nothing
#   stale      (x3) A's open connections go dead, new ones work (a NAT or load
#              balancer that lost its flows): A either reconnects in time and
#              keeps the lease, or B takes over; never both writing
#   slow       the server's answers to A take 2.6 s, above the request timeout
#   slow-ok    they take 1.2 s, below it: A keeps leading, B never takes over
#
# Once B leads, A's network is healed, so that an A still running would get
# its writes through. From the audit log (writes in the test's namespace by a
# memshack user agent): A makes no write that completes after B's first write
# arrived, and the gap between the two is recorded.
#
# Usage: leader_fence_e2e.sh MEMSHACK_BINARY TCP_RELAY   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture)
set -uo pipefail
bin=$1 relay=$2
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
ns=it-fence-$$
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
declare -A opid mport hport
relay_pid='' churn_pid=''
cleanup() {
  for p in "${opid[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in $relay_pid $churn_pid; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
audit=$MEMSHACK_TESTENV_DIR/logs/audit.log
api_port=$(cat "$MEMSHACK_TESTENV_DIR/apiserver.port")
reps=${MEMSHACK_FENCE_REPS:-10}
# valgrind slows the operator 20-50 times: client-go's default durations, and fewer repetitions.
lease=(--leader-elect-lease-duration 6 --leader-elect-renew-deadline 4 --leader-elect-retry-period 1)
timeout_s=2 slow_ms=2600 slow_ok_ms=1200
if [ -n "${MEMSHACK_WRAPPER:-}" ]; then
  reps=3 timeout_s=5 slow_ms=5600 slow_ok_ms=3000
  lease=(--leader-elect-lease-duration 15 --leader-elect-renew-deadline 10 --leader-elect-retry-period 2)
fi

kubectl create namespace "$ns" >/dev/null || { bad "namespace"; finish; exit 1; }
"$bin" crd | kubectl apply --server-side --force-conflicts -f - >/dev/null &&
  kubectl wait --for=condition=Established crd/memshacks.memshack.io --timeout=30s >/dev/null || bad "CRDs"
printf 'apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: churn, namespace: %s}\nspec: {numShards: 2, numReplicas: 1, mcrouterPoolSize: 1}\n' "$ns" |
  kubectl apply -f - >/dev/null || bad "Memshack"

relay_port=$(free_port)
echo forward > "$tmp/mode"
"$relay" "$relay_port" "$api_port" 127.0.0.2 "$tmp/mode" 2>"$tmp/relay.log" &
relay_pid=$!
until_ok 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$relay_port" || bad "relay did not start"
sed "s#server: https://127.0.0.1:$api_port#server: https://127.0.0.1:$relay_port#" "$KUBECONFIG" > "$tmp/relay.kubeconfig"

# Whoever leads has work: the Memshack's shard count changes every half second.
( n=2; while :; do n=$((5 - n)); kubectl -n "$ns" patch memshack churn --type merge -p "{\"spec\":{\"numShards\":$n}}" >/dev/null 2>&1; sleep 0.5; done ) &
churn_pid=$!

operator_start() { # NAME LEASE KUBECONFIG
  local name=$1
  mport[$name]=$(free_port); hport[$name]=$(free_port)
  ${MEMSHACK_WRAPPER:-} "$bin" run --kubeconfig "$3" --gateway-probe-timeout-ms 0 --namespace "$ns" --pool-removal-delay 1 \
    --metrics-bind-address "127.0.0.1:${mport[$name]}" --health-probe-bind-address "127.0.0.1:${hport[$name]}" \
    --leader-elect --lease-namespace "$ns" --lease-name "$2" --identity "$name" "${lease[@]}" >> "$tmp/$name.log" 2>&1 &
  opid[$name]=$!
}
metric() { curl -s --max-time 2 "http://127.0.0.1:${mport[$1]}/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
is_leader() { [ "$(metric "$1" memshack_leader)" = 1 ]; }
alive() { [ -n "${opid[$1]:-}" ] && kill -0 "${opid[$1]}" 2>/dev/null; }
stop() {
  [ -n "${opid[$1]:-}" ] || return 0
  kill -KILL "${opid[$1]}" 2>/dev/null; wait "${opid[$1]}" 2>/dev/null; unset "opid[$1]"
}
now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
transitions() { kubectl -n "$ns" get lease "$1" -o jsonpath='{.spec.leaseTransitions}'; }

# overlap FROM LEASE A B: from the audit log, A's and B's writes since FROM (RFC 3339, UTC);
# prints "OVERLAPPING GAP_S A_WRITES B_WRITES" (GAP_S: from A's last write's end to B's first write's arrival).
overlap() {
  sleep 1 # the audit log is written as requests complete
  jq -rs --arg from "$1" --arg ns "$ns" '
    def t: sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601;
    def frac: capture("\\.(?<f>[0-9]+)Z$").f | ("0." + .) | tonumber;
    def secs: (t + frac);
    [.[] | select(.stage == "ResponseComplete" and .objectRef.namespace == $ns
                  and (.verb | IN("create", "update", "patch", "delete", "deletecollection"))
                  and (.userAgent // "" | startswith("memshack"))
                  and .requestReceivedTimestamp >= $from)] as $w
    | ($w | map(select(.sourceIPs[0] == "127.0.0.2"))) as $a
    | ($w | map(select(.sourceIPs[0] == "127.0.0.1"))) as $b
    | ($b | map(.requestReceivedTimestamp) | min) as $bfirst
    | ($a | map(.stageTimestamp) | max) as $alast
    | [($a | map(select(.stageTimestamp >= $bfirst)) | length),
       (if $bfirst and $alast then (($bfirst | secs) - ($alast | secs)) * 1000 | round / 1000 else "none" end),
       ($a | length), ($b | length)] | @tsv' "$audit"
}

# scenario NAME LEASE MODE [KEPT_OK]: A leads, its network goes MODE, B must take over with no
# overlap (with KEPT_OK: or A must keep the lease, alive and leading, B never taking over).
declare -a gaps
scenario() {
  local name=$1 lease_name=$2 mode=$3 kept_ok=${4:-} from
  echo forward > "$tmp/mode"
  from=$(now)
  operator_start a "$lease_name" "$tmp/relay.kubeconfig"
  until_ok 60 is_leader a || { bad "$name: A never led"; tail -n 5 "$tmp/a.log"; stop a; return; }
  operator_start b "$lease_name" "$KUBECONFIG"
  until_ok 60 curl -sf "http://127.0.0.1:${hport[b]}/readyz" || bad "$name: B never ready"
  sleep 2 # A writes, B stands by
  is_leader b && bad "$name: B leads while A does"
  local t0; t0=$(date +%s.%N)
  echo "$mode" > "$tmp/mode"
  if ! until_ok "$([ -n "$kept_ok" ] && echo 15 || echo 60)" is_leader b; then
    if [ -n "$kept_ok" ] && alive a && is_leader a; then
      ok "$name: A kept the lease (reconnected within the renew deadline); B never took over"
    else
      bad "$name: B never took over"
    fi
    stop a; stop b; return
  fi
  local took; took=$(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $t0}")
  echo forward > "$tmp/mode" # healed: an A still running would write again now
  sleep 3
  local code=running
  if ! alive a; then wait "${opid[a]}" 2>/dev/null; code=$?; unset "opid[a]"; fi
  stop a; stop b
  local res n gap; res=$(overlap "$from")
  read -r n gap na nb <<<"$res"
  if [ "$n" = 0 ] && [ "$gap" != none ] && [ "$code" = 1 ]; then
    ok "$name: B led $took s after A's network went bad; A exited 1; 0 of A's $na writes after B's first (gap $gap s; B wrote $nb)"
    gaps+=("$gap")
  else
    bad "$name: overlapping writes $n, gap $gap, A's exit $code (A wrote $na, B $nb)"
    grep -E "leader|lost|deadline" "$tmp/a.log" | tail -n 8
  fi
}

for r in $(seq 1 "$reps"); do scenario "blackhole $r/$reps" "fence-bh-$r" blackhole; done
for r in 1 2 3; do scenario "stale connections $r/3" "fence-stale-$r" stale kept-ok; done
scenario "slow answers (${slow_ms} ms > ${timeout_s} s timeout)" fence-slow "delay $slow_ms"

# Slow, but within the request timeout: A keeps the lease; nobody takes it over.
echo forward > "$tmp/mode"
operator_start a fence-slow-ok "$tmp/relay.kubeconfig"
until_ok 60 is_leader a || bad "slow-ok: A never led"
operator_start b fence-slow-ok "$KUBECONFIG"
until_ok 60 curl -sf "http://127.0.0.1:${hport[b]}/readyz" || bad "slow-ok: B never ready"
tr0=$(transitions fence-slow-ok)
echo "delay $slow_ok_ms" > "$tmp/mode"
held=1
for _ in $(seq 1 20); do
  sleep 1
  if ! alive a || is_leader b; then held=0; break; fi
done
echo forward > "$tmp/mode"
if [ "$held" = 1 ] && [ "$(transitions fence-slow-ok)" = "$tr0" ]; then
  ok "slow answers (${slow_ok_ms} ms < ${timeout_s} s timeout): A kept the lease 20 s, B never took over"
else
  bad "slow answers below the timeout: A lost the lease (alive: $(alive a && echo yes || echo no), B leads: $(is_leader b && echo yes || echo no))"
  grep -E "leader|lost|deadline" "$tmp/a.log" | tail -n 8
fi
stop a; stop b

if [ ${#gaps[@]} -gt 0 ]; then
  echo "gaps between A's last write and B's first (s): ${gaps[*]}"
  printf '%s\n' "${gaps[@]}" | sort -n | awk '{v[NR] = $1} END {printf "gap min %.2f s, median %.2f s, max %.2f s over %d takeovers\n", v[1], v[int((NR + 1) / 2)], v[NR], NR}'
fi
grep -h "ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error" "$tmp"/*.log | head -n 5 | grep . && bad "sanitizer reports in the operators' logs"
finish
