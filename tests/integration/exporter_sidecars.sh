#!/usr/bin/env bash
# The exporter sidecars of spec.monitoring.exporter, run with exactly the
# command lines `memshack render` gives them (tests/golden/monitoring.yaml),
# each "pod" in a network namespace of its own (so the rendered loopback
# addresses and ports are used as they are, nothing else can collide):
#  - a pool pod: memcached on 127.0.0.1:11211 (memshack's rendered memcached
#    flags) and the real prom/memcached-exporter program (built from
#    ../shared/third_party) with the rendered args: memcached_up 1, and
#    memcached_commands_total{command="get",status="hit"} moves after a get;
#    memcached stopped: the exporter still answers, memcached_up 0;
#  - a gateway pod: mcrouter with the rendered flags and a config routing to a
#    memcached in the same namespace, and `memshack mcrouter-exporter` with
#    the rendered args: mcrouter_up 1, mcrouter_commands_total{command="get"}
#    moves after gets through mcrouter.
# Usage: exporter_sidecars.sh MEMSHACK_BINARY [MCROUTER]
set -uo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
mcrouter=${2:-${MEMSHACK_MCROUTER:-$(cd "$root/.." && pwd)/shared/mcrouter/bin/mcrouter}}
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
pool_ns=ms-pool-$$ gw_ns=ms-gw-$$
cleanup() {
  for n in "$pool_ns" "$gw_ns"; do
    ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$n" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
[ -x "$mcrouter" ] || { bad "no mcrouter at $mcrouter"; finish; exit 1; }
exporter=$("$root/tools/testenv/memcached-exporter.sh" | tail -n 1) && [ -x "$exporter" ] \
  || { bad "cannot build memcached_exporter"; finish; exit 1; }

"$bin" render -o json "$root/tests/golden/monitoring.yaml" > "$tmp/objects.json" || { bad "render failed"; finish; exit 1; }
container() { # KIND NAME: the container's JSON from the first object of KIND
  jq -c --arg k "$1" --arg c "$2" 'first(.items[] | select(.kind == $k)) | .spec.template.spec.containers[] | select(.name == $c)' "$tmp/objects.json"
}
mapfile -t mc_args < <(container StatefulSet memcached | jq -r '.args[]')
mapfile -t me_args < <(container StatefulSet exporter | jq -r '.args[]')
mapfile -t mr_args < <(container Deployment mcrouter | jq -r '.args[]')
mapfile -t mx_args < <(container Deployment exporter | jq -r '.args[]')
[ "$(container StatefulSet exporter | jq -r .image)" = prom/memcached-exporter:v0.16.0 ] && ok "pool sidecar image is prom/memcached-exporter:v0.16.0 (the program built here is its v0.16.0 source)" \
  || bad "pool sidecar image: $(container StatefulSet exporter | jq -r .image)"
metrics_port=$(container StatefulSet exporter | jq -r '.ports[] | select(.name == "metrics") | .containerPort')
[ "${#me_args[@]}" -gt 0 ] && [ "${#mx_args[@]}" -gt 0 ] && [ -n "$metrics_port" ] && ok "rendered: memcached_exporter ${me_args[*]}; memshack ${mx_args[*]}; port $metrics_port" \
  || { bad "no exporter containers rendered"; finish; exit 1; }

for n in "$pool_ns" "$gw_ns"; do
  ip netns add "$n" && ip netns exec "$n" ip link set lo up || { bad "cannot make network namespace $n"; finish; exit 1; }
done
in_pool() { ip netns exec "$pool_ns" "$@"; }
in_gw() { ip netns exec "$gw_ns" "$@"; }

# --- the pool pod -------------------------------------------------------------------------
# memcached with memshack's own flags (they bind every address, as in a pod: -l is not set).
ip netns exec "$pool_ns" memcached -u nobody "${mc_args[@]}" > "$tmp/memcached.log" 2>&1 &  # ip execs memcached: $! is its pid
mc_pid=$!
in_pool "$exporter" "${me_args[@]}" > "$tmp/memcached_exporter.log" 2>&1 &
scrape_pool() { in_pool curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$tmp/pool.metrics"; }
val() { awk -v s="$2" '$1 == s {print $2}' "$1"; }
pool_up() { scrape_pool && [ "$(val "$tmp/pool.metrics" memcached_up)" = 1 ]; }
until_ok 20 pool_up && ok "memcached_exporter with the rendered args: memcached_up 1" \
  || bad "memcached_up: $(val "$tmp/pool.metrics" memcached_up); $(tail -3 "$tmp/memcached_exporter.log")"
hits() { scrape_pool && val "$tmp/pool.metrics" 'memcached_commands_total{command="get",status="hit"}'; }
before=$(hits)
printf 'set k 0 0 1\r\nv\r\nget k\r\nget k\r\nquit\r\n' | in_pool socat -t 2 - TCP:127.0.0.1:11211 > "$tmp/mc.out"
grep -q '^VALUE k' "$tmp/mc.out" && ok "memcached answers in the pool namespace" || bad "memcached: $(cat "$tmp/mc.out")"
after=$(hits)
[ -n "$before" ] && [ "${after:-0}" -ge $((before + 2)) ] && ok "get hits counted: $before -> $after" || bad "get hits: '$before' -> '$after'"
kill -TERM "$mc_pid"; wait "$mc_pid" 2>/dev/null
pool_down() { scrape_pool && [ "$(val "$tmp/pool.metrics" memcached_up)" = 0 ]; }
until_ok 20 pool_down && ok "memcached stopped: the exporter still answers, memcached_up 0" || bad "memcached_up after stop: $(val "$tmp/pool.metrics" memcached_up)"

# --- the gateway pod ----------------------------------------------------------------------
in_gw memcached -u nobody -l 127.0.0.1 -p 11211 -U 0 > "$tmp/gw-memcached.log" 2>&1 &
mkdir -p "$tmp/etc" "$tmp/spool" "$tmp/state"
printf '{"pools":{"A":{"servers":["127.0.0.1:11211"]}},"route":"PoolRoute|A"}\n' > "$tmp/etc/config.json"
# The rendered flags with the config path moved from /etc/mcrouter to this test's folder.
mr=()
for a in "${mr_args[@]}"; do mr+=("${a//\/etc\/mcrouter/$tmp/etc}"); done
in_gw "$mcrouter" "${mr[@]}" --asynclog-disable --stats-root "$tmp/state" --config-dump-root "$tmp/state" \
  --debug-fifo-root '' --spool-dir "$tmp/spool" > "$tmp/mcrouter.log" 2>&1 &
mc_port=$(container Deployment mcrouter | jq -r '.ports[] | select(.name == "mcrouter") | .containerPort')
gw_cmd() { printf '%b' "$1" | in_gw timeout 5 socat -t 2 - "TCP:127.0.0.1:$mc_port"; }
until_ok 30 gw_cmd 'version\r\n' && ok "mcrouter with the rendered flags answers on $mc_port" || bad "mcrouter: $(tail -3 "$tmp/mcrouter.log")"
# shellcheck disable=SC2086 # the wrapper (valgrind) is a command line: split on purpose
in_gw ${MEMSHACK_WRAPPER:-} "$bin" "${mx_args[@]}" > "$tmp/mcrouter_exporter.log" 2>&1 &
scrape_gw() { in_gw curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$tmp/gw.metrics"; }
gw_up() { scrape_gw && [ "$(val "$tmp/gw.metrics" mcrouter_up)" = 1 ]; }
until_ok 20 gw_up && ok "memshack mcrouter-exporter with the rendered args: mcrouter_up 1" \
  || bad "mcrouter_up: $(val "$tmp/gw.metrics" mcrouter_up); $(tail -3 "$tmp/mcrouter_exporter.log")"
gets() { scrape_gw && val "$tmp/gw.metrics" 'mcrouter_commands_total{command="get"}'; }
before=$(gets)
gw_cmd 'set k 0 0 1\r\nv\r\nget k\r\nget k\r\nget k\r\n' > "$tmp/gw.out"
grep -q '^VALUE k' "$tmp/gw.out" && ok "a get through mcrouter hits" || bad "through mcrouter: $(cat "$tmp/gw.out")"
moved() { [ "$(gets)" -ge $((${before:-0} + 3)) ] 2>/dev/null; }
until_ok 10 moved && ok "mcrouter_commands_total{command=\"get\"} moved: ${before:-?} -> $(gets)" || bad "gets: '$before' -> '$(gets)'"
finish
