#!/usr/bin/env bash
# The warm migration's mcrouter config (`memshack render --from OLD NEW`, core/
# migration.h) served by a real mcrouter in front of real memcached servers,
# all on loopback (each pod's server name mapped to a port):
#  - 300 keys written through the old layout's plain config (2 shards x 2
#    replica pools), then the config of numShards 2 -> 3 in its warm-up
#    window loaded live: every key still hits through the gateway, where the
#    plain config of the new layout would miss all of them (its pods are new)
#    and an in-place resize of the old pools (what memshack does without
#    warm-up) misses about a third;
#  - each hit was copied into the new layout: read again, the keys are there;
#  - during the window: delete k then get k misses, and no server of the old
#    layout still has k; set k v2 then get k is v2, on the old layout too;
#  - the new layout's plain config after the window: the keys read during the
#    window still hit;
#  - a new replica pool (numReplicas 2 -> 3) warmed from pool 0: reads hit.
# Usage: warmup_route.sh MEMSHACK_BINARY [MCROUTER]
set -uo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
mcrouter=${2:-${MEMSHACK_MCROUTER:-$(cd "$root/.." && pwd)/shared/mcrouter/bin/mcrouter}}
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$mcrouter" ] || { bad "no mcrouter at $mcrouter"; finish; exit 1; }
command -v memcached >/dev/null || { bad "memcached is not installed"; finish; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

spec() { # SHARDS REPLICAS
  printf 'apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: wu, namespace: ns}\nspec: {numShards: %s, numReplicas: %s}\n' "$1" "$2"
}
spec 2 2 > "$tmp/old.yaml"; spec 3 2 > "$tmp/new.yaml"; spec 2 3 > "$tmp/more.yaml"

# One memcached per pod name any config names; the name -> port map as sed expressions.
: > "$tmp/map.sed"
start_server() { # POD-NAME
  local p; p=$(free_port)
  memcached -l 127.0.0.1 -p "$p" -U 0 -m 16 -u nobody & pids+=($!)
  printf 's/%s\\.wu-memshack-memcached\\.ns\\.svc\\.cluster\\.local:11211/127.0.0.1:%s/g\n' "$1" "$p" >> "$tmp/map.sed"
  printf '%s %s\n' "$1" "$p" >> "$tmp/ports"
}
for k in 0 1 2; do for i in 0 1; do start_server "wu-memshack-pool-$k-$i"; done; done
for k in 0 1; do for i in 0 1 2; do start_server "wu-memshack-g1-pool-$k-$i"; done; done
port_of() { awk -v n="$1" '$1 == n {print $2}' "$tmp/ports"; }

render() { # OUT ARGS...: the config with every server on loopback
  local out=$1; shift
  "$bin" render --config-only "$@" > "$tmp/raw.json" || return 1
  sed -f "$tmp/map.sed" "$tmp/raw.json" > "$out.tmp" && mv "$out.tmp" "$out"
}
# After the window the new layout (generation 1) is routed alone: its plain config is the
# spec's own with generation 1's pod names (render alone knows no generation).
render_g1() { # OUT SPEC
  "$bin" render --config-only "$2" | sed 's/wu-memshack-pool-/wu-memshack-g1-pool-/g' | sed -f "$tmp/map.sed" > "$1"
}
render "$tmp/plain-old.json" "$tmp/old.yaml" || { bad "render old"; finish; exit 1; }
render "$tmp/warm.json" --from "$tmp/old.yaml" "$tmp/new.yaml" || { bad "render --from"; finish; exit 1; }
render_g1 "$tmp/plain-new.json" "$tmp/new.yaml" || { bad "render new"; finish; exit 1; }
render "$tmp/warm-replica.json" --from "$tmp/old.yaml" "$tmp/more.yaml" || { bad "render --from (replica)"; finish; exit 1; }
# shellcheck disable=SC2016
jq -e '.named_handles[] | select(.name == "reads") | .children[0].type == "WarmUpRoute"' "$tmp/warm.json" >/dev/null \
  && ok "the migration config reads through WarmUpRoute" || bad "no WarmUpRoute: $(head -c 400 "$tmp/warm.json")"

mp=$(free_port)
cp "$tmp/plain-old.json" "$tmp/config.json"
mkdir -p "$tmp/stats" "$tmp/dump"
"$mcrouter" --config "file:$tmp/config.json" -p "$mp" --num-proxies 2 --asynclog-disable --stats-root "$tmp/stats" \
  --config-dump-root "$tmp/dump" --debug-fifo-root '' > "$tmp/mcrouter.log" 2>&1 & pids+=($!)
mc() { printf '%b' "$3" | timeout 10 socat -t 2 - "TCP:$1:$2" 2>/dev/null | tr -d '\r'; }
until_ok 30 mc 127.0.0.1 "$mp" 'version\r\n' || { bad "mcrouter: $(tail -3 "$tmp/mcrouter.log")"; finish; exit 1; }

load() { # CONFIG: make mcrouter load it (the file is watched), wait until its md5 is the loaded one
  cp "$1" "$tmp/config.json.new" && mv "$tmp/config.json.new" "$tmp/config.json"
  until_ok 30 loaded "$(md5sum < "$tmp/config.json" | cut -d' ' -f1)"
}
loaded() { [ "$(mc 127.0.0.1 "$mp" 'get __mcrouter__.config_md5_digest\r\nquit\r\n' | sed -n 2p)" = "$1" ]; }
hits() { # PORT: how many of the 300 keys a get through PORT finds
  local req='' i; for i in $(seq 1 300); do req+="get wk$i\r\n"; done
  mc 127.0.0.1 "$1" "${req}quit\r\n" | grep -c '^VALUE'
}
held() { # POD-NAME...: how many of the 300 keys these servers hold together
  local n=0 s; for s in "$@"; do n=$((n + $(hits "$(port_of "$s")"))); done; echo $n
}

req=''; for i in $(seq 1 300); do req+="set wk$i 0 0 4\r\nv$(printf '%03d' $((i % 1000)))\r\n"; done
stored=$(mc 127.0.0.1 "$mp" "${req}quit\r\n" | grep -c '^STORED')
before=$(hits "$mp")
[ "$stored" = 300 ] && [ "$before" = 300 ] && ok "300 keys through the old layout (2 shards x 2 pools)" \
  || bad "old layout: stored $stored, hits $before"

load "$tmp/warm.json" && ok "the warm-up config loaded live" || bad "warm-up config not loaded: $(tail -3 "$tmp/mcrouter.log")"
new0=(wu-memshack-g1-pool-0-0 wu-memshack-g1-pool-0-1 wu-memshack-g1-pool-0-2)
new1=(wu-memshack-g1-pool-1-0 wu-memshack-g1-pool-1-1 wu-memshack-g1-pool-1-2)
empty=$(held "${new0[@]}" "${new1[@]}")
during=$(hits "$mp")
[ "$empty" = 0 ] && [ "$during" = 300 ] && ok "numShards 2 -> 3 in the window: 300 of 300 keys hit (the new layout held 0)" \
  || bad "window: $during of 300 hit (the new layout held $empty)"
# The copies are asynchronous adds: give them a moment, then every pool of the new layout holds
# every key read (a copy goes to all of them, whichever pool the read went through).
copied() { [ $(($(held "${new0[@]}") + $(held "${new1[@]}"))) -ge "$1" ]; }
until_ok 10 copied 600 \
  && ok "every hit was copied into the new layout ($(held "${new0[@]}") + $(held "${new1[@]}") copies)" \
  || bad "copies in the new layout: $(held "${new0[@]}") + $(held "${new1[@]}")"

old_servers="wu-memshack-pool-0-0 wu-memshack-pool-0-1 wu-memshack-pool-1-0 wu-memshack-pool-1-1"
r=$(mc 127.0.0.1 "$mp" 'delete wk7\r\nget wk7\r\nquit\r\n' | tr '\n' ' ')
left=0; for s in $old_servers; do mc 127.0.0.1 "$(port_of "$s")" 'get wk7\r\nquit\r\n' | matches '^VALUE' && left=$((left + 1)); done
[ "$r" = "DELETED END " ] && [ $left = 0 ] && ok "delete then get misses; no old server has the key" \
  || bad "delete in the window: '$r', $left old servers still have it"
r=$(mc 127.0.0.1 "$mp" 'set wk8 0 0 2\r\nv2\r\nget wk8\r\nquit\r\n' | tr '\n' ' ')
stale=0; for s in $old_servers; do
  v=$(mc 127.0.0.1 "$(port_of "$s")" 'get wk8\r\nquit\r\n' | sed -n 2p)
  [ -n "$v" ] && [ "$v" != v2 ] && stale=$((stale + 1))
done
[ "$r" = "STORED VALUE wk8 0 2 v2 END " ] && [ $stale = 0 ] && ok "set v2 then get is v2; the old layout has v2 too" \
  || bad "set in the window: '$r', $stale old servers stale"

load "$tmp/plain-new.json" || bad "the new layout's plain config not loaded"
after=$(hits "$mp")
# wk7 was deleted: 299 keys remain.
[ "$after" -ge 297 ] && ok "after the window (the new layout alone): $after of 299 keys hit" || bad "after the window: $after of 299 hit"

# Without warm-up: an in-place resize of the old pools (servers 0, 1 kept, 2 new and empty).
jq --slurpfile p <(sed -f "$tmp/map.sed" <<<'["wu-memshack-pool-0-0.wu-memshack-memcached.ns.svc.cluster.local:11211","wu-memshack-pool-0-1.wu-memshack-memcached.ns.svc.cluster.local:11211","wu-memshack-pool-2-0.wu-memshack-memcached.ns.svc.cluster.local:11211"]') \
  '{pools: {a: {servers: $p[0]}}, route: "PoolRoute|a"}' <<<'{}' > "$tmp/resized.json"
load "$tmp/resized.json" || bad "the resized config not loaded"
resized=$(hits "$mp")
[ "$resized" -lt 250 ] && ok "for comparison, a plain resize 2 -> 3 shards: $resized of 299 keys hit" \
  || bad "a plain resize kept $resized of 299 hits (expected about two thirds)"

# numReplicas 2 -> 3: the new pool (wu-memshack-pool-2-*) is read through a warm-up from pool 0.
load "$tmp/warm-replica.json" || bad "the replica warm-up config not loaded"
# shellcheck disable=SC2016
jq -e '[.named_handles[] | select(.name == "reads") | .children[2].warm] == ["PoolRoute|r0"]' "$tmp/warm-replica.json" >/dev/null \
  && ok "a new replica pool is read through a warm-up from pool 0" || bad "replica warm-up route: $(head -c 300 "$tmp/warm-replica.json")"
w=$(hits "$mp")
[ "$w" -ge 297 ] && ok "with the new pool routed: $w of 299 keys hit" || bad "new replica pool routed: $w of 299 hit"
finish
