#!/usr/bin/env bash
# The real data plane: the seed's sample served by real memcached and mcrouter
# processes (tools/nodeagent) inside a network namespace of the test's own,
# with the operator and a full control plane in it.
#   - every pod is a process started with the exact command line of its pod
#     spec, Ready only once it answers `version`;
#   - the seed's journey: cachetest through a gateway pod; every key written
#     through a gateway is on exactly one memcached of every replica pool, at
#     the same shard index; keys spread over all shards; incr, decr, touch,
#     append, prepend, delete, gets + cas routed; stats answered by mcrouter;
#   - the operator reports what every gateway loaded (ConfigLoaded,
#     status.gateway.configLoaded, the metric);
#   - live re-configuration in place (mode InPlace): numShards 2 → 3 → 2,
#     numReplicas 2 → 3 → 1,
#     gateways 2 → 3 under a client loop: mcrouter PIDs unchanged, every
#     gateway's digest = status.configDigest, no memcached restart, the client
#     loop's errors counted and judged, reload times measured.
# Usage: dataplane_e2e.sh MEMSHACK_BINARY MCLOAD_BINARY   (as root)
set -uo pipefail
bin=$1 mcload=$2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=dataplane_lib.sh
. "$(dirname "$0")/dataplane_lib.sh"
dp_enter "$@"

trap 'dp_cleanup /tmp/memshack-dataplane-logs' EXIT
ns=dp
dp_start "$ns" --pool-removal-delay 60 || { finish; exit 1; }
k() { kubectl -n "$ns" "$@"; }

cond() { k get memshack test -o jsonpath="{.status.conditions[?(@.type==\"$1\")].$2}" 2>/dev/null; }
is_ready() { [ "$(cond Ready status)" = True ] && [ "$(k get memshack test -o jsonpath='{.status.observedGeneration}')" = "$(k get memshack test -o jsonpath='{.metadata.generation}')" ]; }
digest() { k get memshack test -o jsonpath='{.status.configDigest}'; }
gateway_ips() { k get pods -l app.kubernetes.io/component=gateway -o jsonpath='{range .items[?(@.status.podIP)]}{.status.podIP}{"\n"}{end}'; }
# pool pods as "NAME IP" lines, sorted by name
pool_pods() { k get pods -l app.kubernetes.io/component=pool -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}' | sort; }
gw_digest() { mc "$1" 5000 'get __mcrouter__.config_md5_digest\r\nquit\r\n' | sed -n 2p; }
all_gateways_on() { # MD5: every gateway pod answers it
  local ip n=0
  for ip in $(gateway_ips); do [ "$(gw_digest "$ip")" = "$1" ] || return 1; n=$((n + 1)); done
  [ $n -gt 0 ]
}
# The agent's record of a pod's container PID (by pod name).
pod_pid() { local f; for f in "$tmp"/agent/pods/*/name; do [ "$(cat "$f")" = "$1" ] && cat "$(dirname "$f")/containers/$2/pid" && return; done; }
ms_now() { date +%s%3N; }

# --- the sample, served by real processes -------------------------------------------
sed "s/namespace: default/namespace: $ns/" "$dp_root/yaml/test.yaml" | k apply -f - >/dev/null
t0=$(ms_now)
if until_ok 120 is_ready; then ok "seed sample Ready=True on real processes in $(( $(ms_now) - t0 )) ms"
else bad "sample not Ready: $(cond Ready message)"; tail -30 "$tmp/agent.log"; finish; exit 1; fi
# Each pod: a live process whose argv is the pod spec's command + args (command mapped to the host binary).
cmdline_ok=0 cmdline_total=0
while read -r pod; do
  cmdline_total=$((cmdline_total + 1))
  container=$(k get pod "$pod" -o jsonpath='{.spec.containers[0].name}')
  want=$(k get pod "$pod" -o json | jq -r '.spec.containers[0] | ((.command[1:] // []) + (.args // [])) | join(" ")')
  pid=$(pod_pid "$pod" "$container")
  got=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -d' ' -f2- | sed 's/ $//')
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
  if [ -n "$pid" ] && [ "$got" = "$want" ] && [ "${exe##*/}" = "$container" ]; then cmdline_ok=$((cmdline_ok + 1))
  else echo "  $pod: pid '$pid' exe '$exe' argv '$got', want '$want'"; fi
done < <(k get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
[ "$cmdline_total" = 6 ] && [ "$cmdline_ok" = 6 ] && ok "6 pods are real processes with the pod spec's exact command line" \
  || bad "$cmdline_ok of $cmdline_total pods run their pod spec's command line"
uid_ok=$(for pod in $(k get pods -l app.kubernetes.io/component=pool -o name); do
  p=$(pod_pid "${pod#pod/}" memcached); awk '/^Uid:/ {print $2}' "/proc/$p/status"; done | sort -u)
[ "$uid_ok" = 11211 ] && ok "memcached runs as the pod's runAsUser (11211)" || bad "memcached uids: $uid_ok"
mapfile -t gws < <(gateway_ips)
gw=${gws[0]}
[ ${#gws[@]} = 2 ] && ok "2 gateway pods with IPs ${gws[*]}" || bad "gateway pods: ${gws[*]}"

# --- the seed's journey ---------------------------------------------------------------
ms_first=$(dp_first_write "$gw" 5000) && ok "first write through the gateway stored within $ms_first ms of Ready" || bad "no write stored 15 s after Ready"
if "$bin" cachetest --keys 50 "$gw:5000" > "$tmp/cachetest.out" 2>&1; then ok "memshack cachetest through gateway $gw: $(tail -1 "$tmp/cachetest.out")"
else bad "cachetest through the gateway failed:"; tail -5 "$tmp/cachetest.out"; fi
# 300 keys through the gateway, then ask every memcached directly which it holds.
nkeys=300
{ for i in $(seq 1 $nkeys); do printf 'set dpk%d 0 0 %d\r\nv%d\r\n' "$i" $(( ${#i} + 1 )) "$i"; done; printf 'quit\r\n'; } \
  | timeout 20 socat -t 5 - "TCP:$gw:5000" | tr -d '\r' | sort | uniq -c > "$tmp/sets"
[ "$(awk '$2 == "STORED" {print $1}' "$tmp/sets")" = $nkeys ] && ok "$nkeys sets through the gateway STORED" || bad "sets: $(cat "$tmp/sets")"
keys=$(seq -f 'dpk%g' 1 $nkeys | tr '\n' ' ')
declare -A where=()
: > "$tmp/placement"
while read -r pod ip; do
  pool=${pod#test-memshack-pool-}; shard=${pool#*-}; pool=${pool%%-*}
  n=0
  for key in $(mc "$ip" 11211 "get $keys\r\nquit\r\n" | awk '$1 == "VALUE" {print $2}'); do
    where[$key]="${where[$key]:-} $pool:$shard"; n=$((n + 1))
  done
  echo "$pod $n" >> "$tmp/placement"
done < <(pool_pods)
placement_ok=0
declare -A per_shard=()
for i in $(seq 1 $nkeys); do
  w=${where[dpk$i]:-}
  # exactly one pod per pool, same shard in both pools
  s0=$(tr ' ' '\n' <<<"$w" | grep '^0:' | cut -d: -f2); s1=$(tr ' ' '\n' <<<"$w" | grep '^1:' | cut -d: -f2)
  if [ "$(wc -w <<<"$w")" = 2 ] && [ -n "$s0" ] && [ "$s0" = "$s1" ]; then placement_ok=$((placement_ok + 1)); per_shard[$s0]=$(( ${per_shard[$s0]:-0} + 1 )); fi
done
[ $placement_ok = $nkeys ] && ok "every key is on exactly one memcached of each replica pool, at the same shard index ($(tr '\n' ' ' < "$tmp/placement"))" \
  || bad "$placement_ok of $nkeys keys placed correctly ($(tr '\n' ' ' < "$tmp/placement"))"
[ "${per_shard[0]:-0}" -gt $((nkeys / 5)) ] && [ "${per_shard[1]:-0}" -gt $((nkeys / 5)) ] \
  && ok "keys spread over both shards (${per_shard[0]:-0} / ${per_shard[1]:-0})" || bad "shard spread ${per_shard[0]:-0} / ${per_shard[1]:-0}"

# Operations through the gateway; writes checked on every replica directly.
shard_ips() { # KEY -> the IPs of the pods that hold its shard (one per pool)
  local s; s=$(tr ' ' '\n' <<<"${where[$1]}" | grep '^0:' | cut -d: -f2)
  pool_pods | awk -v s="$s" '$1 ~ ("-" s "$") {print $2}'
}
on_every_replica() { # KEY VALUE: every replica of the key's shard holds VALUE
  local ip
  for ip in $(shard_ips "$1"); do [ "$(mc "$ip" 11211 "get $1\r\nquit\r\n" | sed -n 2p)" = "$2" ] || return 1; done
}
# One request at a time, each answered before the next is sent: mcrouter runs the
# requests pipelined on one connection concurrently (a pipelined get can overtake a delete).
seq_mc() { local c out=""; for c in "$@"; do out+="$(mc "$gw" 5000 "$c\r\nquit\r\n" | tr '\n' ' ')"; done; printf '%s' "$out"; }
r=$(seq_mc 'set dpk1 0 0 2\r\n10' 'incr dpk1 5' 'decr dpk1 3')
[ "$r" = "STORED 15 12 " ] && on_every_replica dpk1 12 && ok "incr/decr routed to every replica (12 on each)" || bad "incr/decr: '$r'"
r=$(seq_mc 'set dpk2 0 0 1\r\nb' 'append dpk2 0 0 1\r\nc' 'prepend dpk2 0 0 1\r\na')
[ "$r" = "STORED STORED STORED " ] && on_every_replica dpk2 abc && ok "append/prepend routed to every replica (abc on each)" || bad "append/prepend: '$r'"
r=$(seq_mc 'touch dpk3 100' 'delete dpk4' 'get dpk4')
gone4=1; for ip in $(shard_ips dpk4); do mc "$ip" 11211 'get dpk4\r\nquit\r\n' | grep -c VALUE >/dev/null && gone4=0; done
[ "$r" = "TOUCHED DELETED END " ] && [ $gone4 = 1 ] && ok "touch, delete routed (deleted from every replica)" || bad "touch/delete: '$r'"
cas=$(mc "$gw" 5000 'gets dpk5\r\nquit\r\n' | awk '$1 == "VALUE" {print $5}')
r=$(seq_mc "cas dpk5 0 0 3 $cas\r\nnew" "cas dpk5 0 0 3 $cas\r\nold" 'gets dpk5')
[ -n "$cas" ] && [[ $r == "STORED EXISTS VALUE dpk5 0 3 "*" new END " ]] && ok "gets + cas routed (token $cas: STORED, then EXISTS for the stale token)" || bad "gets/cas: '$r'"
mc "$gw" 5000 'stats\r\nquit\r\n' > "$tmp/stats"
grep -q '^STAT version .*mcrouter' "$tmp/stats" && grep -q '^STAT num_servers ' "$tmp/stats" \
  && ok "stats answered by mcrouter ($(grep -c '^STAT' "$tmp/stats") stats, $(grep '^STAT num_servers ' "$tmp/stats"))" || bad "stats: $(head -3 "$tmp/stats")"

# --- what every gateway loaded ---------------------------------------------------------------
md5=$(digest)
all_gateways_on "$md5" && ok "every gateway's __mcrouter__.config_md5_digest = status.configDigest ($md5)" || bad "gateway digests differ from $md5"
loaded() { [ "$(k get memshack test -o jsonpath='{.status.gateway.configLoaded}')" = "$1" ] && [ "$(cond ConfigLoaded status)" = True ]; }
until_ok 20 loaded 2 && ok "operator reports ConfigLoaded=True, status.gateway.configLoaded 2 ($(cond ConfigLoaded message))" \
  || bad "ConfigLoaded: $(cond ConfigLoaded status) $(cond ConfigLoaded message); configLoaded=$(k get memshack test -o jsonpath='{.status.gateway.configLoaded}')"
gauge_is_2() { curl -s "http://127.0.0.1:$mport/metrics" | grep -c "^memshack_gateway_config_loaded{namespace=\"$ns\",name=\"test\"} 2$" >/dev/null; }
until_ok 10 gauge_is_2 && ok "metric memshack_gateway_config_loaded = 2" || bad "metric memshack_gateway_config_loaded: $(curl -s "http://127.0.0.1:$mport/metrics" | grep memshack_gateway)"

# --- live re-configuration under a client loop --------------------------------------------
# In place (spec.migration.mode InPlace): the same pools resized. The default, a warm migration to a new
# layout generation, has its own test (dataplane_migration_e2e).
k patch memshack test --type merge -p '{"spec":{"migration":{"mode":"InPlace"}}}' >/dev/null
until_ok 60 is_ready || bad "InPlace: not Ready: $(cond Ready message)"
declare -A gw_pid=()
snapshot_gateways() { local p; for p in $(k get pods -l app.kubernetes.io/component=gateway -o jsonpath='{.items[*].metadata.name}'); do gw_pid[$p]=$(pod_pid "$p" mcrouter); done; }
snapshot_gateways
pool_state() { k get pods -l app.kubernetes.io/component=pool -o json | jq -r '.items[] | "\(.metadata.name) \(.metadata.uid) \(.status.containerStatuses[0].restartCount)"' | sort; }
# change NAME PATCH: patches the Memshack under a client loop and waits for every gateway on the
# new digest (gateways-*: the same config on more gateways).
change() {
  local name=$1 patch=$2 before_md5 t_patch t_loaded new_md5 errs
  local -A pids_before=()
  local p
  for p in "${!gw_pid[@]}"; do pids_before[$p]=${gw_pid[$p]}; done
  pool_state > "$tmp/pool.before"
  before_md5=$(digest)
  "$mcload" "$gw:5000" --seconds 1000 --conns 2 --keys 200 --prefix "loop-$name-" --errors "$tmp/errors-$name" > "$tmp/load-$name" 2>&1 &
  local load_pid=$!
  sleep 2
  t_patch=$(ms_now)
  k patch memshack test --type merge -p "$patch" >/dev/null
  digest_changed() { [ "$(digest)" != "$before_md5" ]; }
  [[ $name == gateways-* ]] || until_ok 30 digest_changed # more gateways, same config
  new_md5=$(digest)
  if until_ok 60 all_gateways_on "$new_md5"; then
    t_loaded=$(ms_now)
    ok "$name: every gateway serves config $new_md5 $(( t_loaded - t_patch )) ms after the patch"
    echo "$name reload_ms $(( t_loaded - t_patch ))" >> "$tmp/figures"
  else bad "$name: gateways did not all load $new_md5"; fi
  until_ok 120 is_ready || bad "$name: not Ready again: $(cond Ready message)"
  until_ok 30 loaded "$(k get memshack test -o jsonpath='{.spec.mcrouterPoolSize}')" || bad "$name: ConfigLoaded not reported: $(cond ConfigLoaded message)"
  sleep 3
  kill -TERM "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null
  errs=$(wc -l < "$tmp/errors-$name")
  echo "  $name client loop: $(grep '^summary' "$tmp/load-$name" | cut -d' ' -f2-) ; error lines: $errs"
  [ "$errs" -gt 0 ] && cut -d' ' -f2,4- "$tmp/errors-$name" | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /'
  echo "$name client_errors $errs $(grep '^summary' "$tmp/load-$name" | cut -d' ' -f2-)" >> "$tmp/figures"
  # What the routing promises: no failed request, never a stale value; a miss after a set only
  # when numShards changes (the key moved shards between the set and the get) or a replica pool
  # is added (the get was served by the new, empty pool): at most one per client connection,
  # whose gateway reloads once. (A warm migration, the default mode, avoids even those.)
  local fails stale misses allowed=0
  fails=$(grep -cv ' miss-after-set ' "$tmp/errors-$name")
  stale=$(grep -c ' stale-read ' "$tmp/errors-$name")
  misses=$(grep -c ' miss-after-set ' "$tmp/errors-$name")
  [[ $name == shards-* || $name == replicas-2-3 ]] && allowed=2
  [ "$fails" = 0 ] && [ "$stale" = 0 ] && [ "$misses" -le $allowed ] \
    && ok "$name: the client loop saw no error, no stale read, $misses misses after a set (at most $allowed)" \
    || bad "$name: client loop: $fails failed requests, $stale stale reads, $misses misses after a set (at most $allowed)"
  local same=1
  for p in "${!pids_before[@]}"; do
    if k get pod "$p" >/dev/null 2>&1 && [ "$(pod_pid "$p" mcrouter)" != "${pids_before[$p]}" ]; then same=0; echo "  $p: mcrouter pid ${pids_before[$p]} -> $(pod_pid "$p" mcrouter)"; fi
  done
  [ $same = 1 ] && ok "$name: mcrouter processes kept their PIDs (no restart)" || bad "$name: an mcrouter restarted"
  # memcached pods that existed before and still exist: same uid, restartCount 0
  if join <(sort "$tmp/pool.before") <(pool_state | sort) | awk '$2 != $4 || $3 != 0 || $5 != 0 {bad = 1; print "  " $0} END {exit bad}'; then
    ok "$name: no memcached pod restarted or was replaced"
  else bad "$name: memcached pods restarted or replaced"; fi
  snapshot_gateways
}
change shards-2-3 '{"spec":{"numShards":3}}'
[ "$(pool_pods | wc -l)" = 6 ] && ok "6 memcached pods (3 shards x 2)" || bad "pool pods: $(pool_pods | wc -l)"
change shards-3-2 '{"spec":{"numShards":2}}'
until_ok 30 sh -c "[ \$(kubectl -n $ns get pods -l app.kubernetes.io/component=pool --no-headers | wc -l) = 4 ]" && ok "back to 4 memcached pods" || bad "pool pods after 3 -> 2"
change replicas-2-3 '{"spec":{"numReplicas":3}}'
change replicas-3-1 '{"spec":{"numReplicas":1}}'
until_ok 60 sh -c "! kubectl -n $ns get statefulset test-memshack-pool-1 >/dev/null 2>&1 && ! kubectl -n $ns get statefulset test-memshack-pool-2 >/dev/null 2>&1" \
  && ok "removed pools' StatefulSets deleted once the gateways confirmed (well inside the 60 s bound)" || bad "removed pools still exist"
change gateways-2-3 '{"spec":{"mcrouterPoolSize":3}}'
[ "$(gateway_ips | wc -l)" = 3 ] && all_gateways_on "$(digest)" && ok "3 gateways, all on the current config" || bad "gateways after 2 -> 3"
k get events.events.k8s.io --field-selector regarding.name=test -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' | grep -c ConfigLoaded >/dev/null \
  && ok "ConfigLoaded events recorded" || bad "no ConfigLoaded event"
grep -o 'gateways loaded config [0-9a-f]* ([0-9.]* s after it was written)' "$tmp/operator.log" | sed 's/^/  operator: /'

echo "figures:"; sed 's/^/  /' "$tmp/figures"
dp_stop_operator
finish
