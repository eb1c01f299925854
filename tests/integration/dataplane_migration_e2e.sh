#!/usr/bin/env bash
# Warm migrations on the real data plane (issue 20): real memcached and mcrouter
# processes (tools/nodeagent) in a network namespace of the test's own, with
# the operator and a full control plane in it.
#   - a steady read workload (mcload --mode gets: a fixed key set, each key read
#     over and over, never written again) through both gateways while numShards
#     goes 3 -> 2, a replica pool is added, then 2 -> 3 (WarmUp): the
#     hit rate per second before, during and after; target: never below 95 % of
#     its level before;
#   - with spec.migration.mode InPlace, for comparison: a replica pool added
#     (reported) and numShards 3 -> 2 (the removed shard's keys miss);
#   - during the window, from every gateway: delete k then get k misses; set k
#     v2 then get k returns v2; no key returns a value older than its last write;
#   - after the window the old layout's StatefulSets and pods are gone and
#     nothing else is left; status.migration, Migrating and the events say where
#     it stood;
#   - first, a second change during a migration (2 -> 4, then 3): turned back to
#     the old layout, then a migration from it to the newest shape, in a new
#     generation; its events (before the per-object Event limit of 25 bites).
# Usage: dataplane_migration_e2e.sh MEMSHACK_BINARY MCLOAD_BINARY   (as root)
set -uo pipefail
bin=$1 mcload=$2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=dataplane_lib.sh
. "$(dirname "$0")/dataplane_lib.sh"
dp_enter "$@"

trap 'dp_cleanup /tmp/memshack-dataplane-migration-logs' EXIT
ns=dpm
window=30
dp_start "$ns" --pool-removal-delay 60 || { finish; exit 1; }
k() { kubectl -n "$ns" "$@"; }
ms() { k get memshack wm -o jsonpath="$1" 2>/dev/null; }
cond() { ms "{.status.conditions[?(@.type==\"$1\")].$2}"; }
is_ready() { [ "$(cond Ready status)" = True ] && [ "$(ms '{.status.observedGeneration}')" = "$(ms '{.metadata.generation}')" ]; }
phase() { ms '{.status.migration.phase}'; }
phase_is() { [ "$(phase)" = "$1" ]; }
warming() { phase_is Warming && [ -n "$(ms '{.status.migration.windowEnd}')" ]; }
pool_sets_are() { [ "$(pool_sets)" = "$1" ]; }
migrating_to() { [ "$(ms '{.status.migration.to.shards}')" = "$1" ]; }
gateway_ips() { k get pods -l app.kubernetes.io/component=gateway -o jsonpath='{range .items[?(@.status.podIP)]}{.status.podIP}{"\n"}{end}'; }
pool_names() { k get "$1" -l app.kubernetes.io/component=pool -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort | tr '\n' ' '; }
pool_sets() { pool_names statefulsets; }
pool_pod_names() { pool_names pods; }
now_s() { date +%s; }

k apply -f - >/dev/null <<EOF
apiVersion: memshack.io/v1alpha1
kind: Memshack
metadata: {name: wm, namespace: $ns}
spec:
  numShards: 2
  numReplicas: 2
  mcrouterPoolSize: 2
  migration: {mode: WarmUp, windowSeconds: $window}
EOF
until_ok 120 is_ready && ok "wm Ready (2 shards x 2 pools, 2 gateways)" || { bad "wm not Ready: $(cond Ready message)"; finish; exit 1; }
mapfile -t gws < <(gateway_ips)
[ ${#gws[@]} = 2 ] || { bad "gateway pods: ${gws[*]}"; finish; exit 1; }
dp_first_write "${gws[0]}" 5000 >/dev/null && dp_first_write "${gws[1]}" 5000 >/dev/null || bad "gateways do not store"

# The steady read workload: 2000 keys set once through gateway 0, then read over and over through both.
keys=2000
start0=$(now_s)
"$mcload" "${gws[0]}:5000" --mode gets --seconds 3000 --conns 2 --keys $keys --prefix hr- > "$tmp/load-0" 2>&1 &
load0=$!
sleep 3
start1=$(now_s)
"$mcload" "${gws[1]}:5000" --mode gets --seconds 3000 --conns 2 --keys $keys --prefix hr- > "$tmp/load-1" 2>&1 &
load1=$!
# mcload prints "t=S ops=N errors=E misses=M" each second, S counted from its start.
per_second() { # FROM TO: "epoch ops misses" per second of both loads between FROM and TO (epoch s)
  { awk -v t0="$start0" '/^t=/ {split($1, a, "="); split($2, o, "="); split($4, m, "="); print t0 + a[2], o[2], m[2]}' "$tmp/load-0"
    awk -v t0="$start1" '/^t=/ {split($1, a, "="); split($2, o, "="); split($4, m, "="); print t0 + a[2], o[2], m[2]}' "$tmp/load-1"
  } | awk -v from="$1" -v to="$2" '$1 >= from && $1 < to {ops[$1] += $2; miss[$1] += $3} END {for (t in ops) print t, ops[t], miss[t]}' | sort -n
}
hit_rate() { # FROM TO: hits / gets over the span, in % (one decimal)
  per_second "$1" "$2" | awk '{o += $2; m += $3} END {if (o) printf "%.1f\n", 100 * (o - m) / o; else print "-1"}'
}
lowest_second() { # FROM TO: the lowest per-second hit rate in the span (seconds with at least 50 gets)
  per_second "$1" "$2" | awk '$2 >= 50 {r = 100 * ($2 - $3) / $2; if (min == "" || r < min) min = r} END {printf "%.1f\n", (min == "" ? -1 : min)}'
}
sleep 12

# correctness KEYS-PREFIX: from every gateway during the window: delete then get misses; set v2 then get is v2.
correct_in_window() {
  local ip jp i=0 bad_n=0
  for ip in "${gws[@]}"; do
    i=$((i + 1))
    mc "$ip" 5000 "set cw$i 0 0 2\r\nv1\r\nquit\r\n" >/dev/null
    [ "$(mc "$ip" 5000 "delete cw$i\r\nquit\r\n")" = DELETED ] || bad_n=$((bad_n + 1))
    for jp in "${gws[@]}"; do [ "$(mc "$jp" 5000 "get cw$i\r\nquit\r\n")" = END ] || bad_n=$((bad_n + 1)); done
    mc "$ip" 5000 "set cv$i 0 0 2\r\nv2\r\nquit\r\n" >/dev/null
    for jp in "${gws[@]}"; do [ "$(mc "$jp" 5000 "get cv$i\r\nquit\r\n" | sed -n 2p)" = v2 ] || bad_n=$((bad_n + 1)); done
  done
  [ $bad_n = 0 ]
}
# Keys written before the change, overwritten during the window: every gateway returns the newest.
seed_old_values() { local i; for i in $(seq 1 20); do mc "${gws[0]}" 5000 "set ov$i 0 0 2\r\nv1\r\nquit\r\n" >/dev/null; done; }
overwrite_and_check() {
  local i ip stale=0
  for i in $(seq 1 20); do mc "${gws[1]}" 5000 "set ov$i 0 0 2\r\nv2\r\nquit\r\n" >/dev/null; done
  for i in $(seq 1 20); do for ip in "${gws[@]}"; do
    [ "$(mc "$ip" 5000 "get ov$i\r\nquit\r\n" | sed -n 2p)" = v2 ] || stale=$((stale + 1)); done; done
  [ $stale = 0 ]
}

# cold_fill GENERATION: every second until the migration is over, "epoch gets misses" summed over the
# memcached pods of layout GENERATION (their `stats`): how fast the warm-up fills the new layout.
cold_fill() {
  local ips ip
  ips=$(k get pods -l "memshack.io/layout=$1,app.kubernetes.io/component=pool" -o jsonpath='{range .items[*]}{.status.podIP}{" "}{end}')
  for _ in $(seq 1 $((window + 300))); do
    phase_is None && break
    for ip in $ips; do mc "$ip" 11211 "stats\r\nquit\r\n"; done \
      | awk -v t="$(now_s)" '$2 == "cmd_get" {g += $3} $2 == "get_misses" {m += $3} END {print t, g + 0, m + 0}'
    sleep 1
  done
}
# miss_shares FILE: "EPOCH GETS MISS%" per sample of the layout, from the first in which it served at least
# 50 gets.
miss_shares() {
  awk 'NR > 1 {dg = $2 - g; dm = $3 - m; if (dg >= 50) on = 1; if (on) printf "%d %d %.1f\n", $1, dg, (dg ? 100 * dm / dg : 0)}
       {g = $2; m = $3}' "$1"
}
# filled_after FILE: "S FIRST% GETS": the seconds from that first sample to the first (of at least 50 gets) in
# which under 1 % missed, the share that missed in the first sample, and its gets; "-" for S if never.
filled_after() {
  miss_shares "$1" | awk 'NR == 1 {t0 = $1; rate = $2; first = $3} $2 >= 50 && $3 < 1 && at == "" {at = $1 - t0}
    END {printf "%s %.1f %d\n", (at == "" ? "-" : at), (first == "" ? -1 : first), rate}'
}
# fill_series FILE: the miss share per sample (%) from that first sample, for the figures.
fill_series() { miss_shares "$1" | awk '{printf "%s%s", (NR > 1 ? " " : ""), $3} END {print ""}' | cut -d' ' -f1-40; }

# migrate NAME PATCH EXPECTED-SETS: a warm migration under the read load, judged.
migrate() {
  local name=$1 patch=$2 want_sets=$3 t_before t_change t_warm t_end before during_low after
  t_before=$(( $(now_s) - 10 ))
  before=$(hit_rate "$t_before" "$(now_s)")
  seed_old_values
  t_change=$(now_s)
  k patch memshack wm --type merge -p "$patch" >/dev/null
  local fill_pid=
  if until_ok 120 phase_is Warming && [ "$(ms '{.status.migration.to.generation}')" != "$(ms '{.status.migration.from.generation}')" ]; then
    cold_fill "$(ms '{.status.migration.to.generation}')" > "$tmp/fill-$name" &
    fill_pid=$!
  fi
  until_ok 120 warming \
    && ok "$name: Warming, window ends $(ms '{.status.migration.windowEnd}') (Migrating: $(cond Migrating message))" \
    || bad "$name: no warm-up window: phase '$(phase)', $(cond Migrating message)"
  t_warm=$(now_s)
  correct_in_window && ok "$name: in the window, from every gateway: delete then get misses, set v2 then get is v2" \
    || bad "$name: delete/set in the window not seen alike from every gateway"
  overwrite_and_check && ok "$name: keys overwritten in the window read back the newest value from every gateway" \
    || bad "$name: a stale value was read in the window"
  until_ok $((window + 120)) phase_is None && ok "$name: migration over ($(cond Migrating reason))" \
    || bad "$name: migration not over: phase $(phase)"
  if [ -n "$fill_pid" ]; then
    wait "$fill_pid"
    local fill first rate
    read -r fill first rate < <(filled_after "$tmp/fill-$name")
    echo "$name cold_layout_first_second_miss_pct $first gets_per_s $rate filled_below_1pct_after_s $fill" >> "$tmp/figures"
    echo "$name cold_layout_miss_pct_per_second $(fill_series "$tmp/fill-$name")" >> "$tmp/figures"
    [ "$fill" != - ] && [ "$fill" -lt "$window" ] \
      && ok "$name: the warm-up filled the new layout: $first % of its gets missed in the first second, under 1 % after $fill s (window $window s)" \
      || bad "$name: the new layout was not filled within the window: $first % missed in the first second, under 1 % after '$fill' s"
  fi
  t_end=$(now_s)
  until_ok 60 pool_sets_are "$want_sets" && ok "$name: pool StatefulSets now: $want_sets" \
    || bad "$name: pool StatefulSets: $(pool_sets) (want $want_sets)"
  until_ok 60 is_ready || bad "$name: not Ready after: $(cond Ready message)"
  sleep 10
  during_low=$(lowest_second "$t_change" "$t_end")
  after=$(hit_rate "$t_end" "$(now_s)")
  echo "$name hit_rate_before $before lowest_second_during $during_low after $after warm_s $((t_warm - t_change)) total_s $((t_end - t_change))" >> "$tmp/figures"
  awk -v b="$before" -v d="$during_low" -v a="$after" 'BEGIN {exit !(d >= 0.95 * b && a >= 0.95 * b)}' \
    && ok "$name: hit rate $before % before, at least $during_low % in every second during, $after % after" \
    || bad "$name: hit rate $before % before, $during_low % lowest second during, $after % after (target 95 % of before)"
}

[ "$(pool_sets)" = "wm-memshack-pool-0 wm-memshack-pool-1 " ] || bad "pool StatefulSets at start: $(pool_sets)"

# First (while the object's Events are far from the per-object limit of 25), a second change during a
# migration: 2 -> 4, then -> 3 while the first is still warming. It turns back to layout 0, then migrates
# from there to 3 shards in a new generation; generation 1 is dropped unused.
seed_old_values
t_fold=$(now_s)
k patch memshack wm --type merge -p '{"spec":{"numShards":4}}' >/dev/null
until_ok 120 phase_is Warming || bad "fold: the first migration did not reach its window"
k patch memshack wm --type merge -p '{"spec":{"numShards":3}}' >/dev/null
until_ok 60 migrating_to 3 \
  && ok "fold: the second change migrates from layout $(ms '{.status.migration.from.generation}') to 3 shards in layout $(ms '{.status.migration.to.generation}')" \
  || bad "fold: no migration to 3 shards: $(ms '{.status.migration}')"
until_ok 120 warming || bad "fold: no warm-up window for the second change: $(ms '{.status.migration}')"
overwrite_and_check && ok "fold: keys written before both changes, overwritten in the window, read back the newest value" \
  || bad "fold: a stale value was read in the window"
until_ok $((window + 180)) phase_is None || bad "fold: not over: $(ms '{.status.migration}')"
until_ok 60 pool_sets_are "wm-memshack-g2-pool-0 wm-memshack-g2-pool-1 " \
  && ok "fold: only the final layout is left ($(pool_sets)); generation 1 was dropped unused" || bad "fold: pool StatefulSets: $(pool_sets)"
[ "$(pool_pod_names)" = "wm-memshack-g2-pool-0-0 wm-memshack-g2-pool-0-1 wm-memshack-g2-pool-0-2 wm-memshack-g2-pool-1-0 wm-memshack-g2-pool-1-1 wm-memshack-g2-pool-1-2 " ] \
  && ok "fold: only the new layout's 6 pods are left" || bad "fold: pool pods left: $(pool_pod_names)"
reasons() { k get events.events.k8s.io --field-selector regarding.name=wm -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' | sort | uniq -c | tr -s ' \n' ' '; }
# Started (to 4), Cancelled, Finished (back on layout 0), Started (to 3), Warming, Finished.
fold_events() { reasons > "$tmp/events"; grep -q '1 MigrationCancelled' "$tmp/events" && grep -q '2 MigrationFinished' "$tmp/events" && grep -q '2 MigrationStarted' "$tmp/events"; }
until_ok 10 fold_events && ok "fold: events $(cat "$tmp/events")" || bad "fold: events $(cat "$tmp/events")"
sleep 10
low=$(lowest_second "$t_fold" "$(now_s)")
echo "fold lowest_second $low" >> "$tmp/figures"
awk -v d="$low" 'BEGIN {exit !(d >= 95)}' && ok "fold: hit rate at least $low % in every second" || bad "fold: hit rate $low % in its lowest second"

migrate shards-3-2 '{"spec":{"numShards":2}}' "wm-memshack-g3-pool-0 wm-memshack-g3-pool-1 "
migrate replicas-2-3 '{"spec":{"numReplicas":3}}' "wm-memshack-g3-pool-0 wm-memshack-g3-pool-1 wm-memshack-g3-pool-2 "
migrate shards-2-3 '{"spec":{"numShards":3}}' "wm-memshack-g4-pool-0 wm-memshack-g4-pool-1 wm-memshack-g4-pool-2 "

# For comparison: the same kinds of change with spec.migration.mode InPlace (what every change did before).
# Each is measured once every gateway loaded the config that routes the new shape (routing and ConfigLoaded
# True in one status). A replica pool added in place: reported (which share of reads reaches the cold pool
# depends on which pool each gateway's LatestRoute prefers). numShards 3 -> 2 in place: judged; the keys of
# the removed shard miss, about a third.
routes_loaded() { [ "$(ms '{.status.routing.shards}')" = "$1" ] && [ "$(ms '{.status.routing.replicaPools}')" = "$2" ] \
  && [ "$(cond ConfigLoaded status)" = True ] && is_ready; }
in_place() { # NAME PATCH SHARDS POOLS: sets before and after
  local t_before t_loaded
  t_before=$(( $(now_s) - 10 )); before=$(hit_rate "$t_before" "$(now_s)")
  k patch memshack wm --type merge -p "$2" >/dev/null
  until_ok 180 routes_loaded "$3" "$4" || bad "$1: the gateways did not load $3 shards x $4 pools: $(cond ConfigLoaded message)"
  t_loaded=$(now_s)
  sleep 10
  after=$(hit_rate "$t_loaded" "$(now_s)")
  echo "$1 hit_rate_before $before after $after" >> "$tmp/figures"
}
k patch memshack wm --type merge -p '{"spec":{"migration":{"mode":"InPlace"}}}' >/dev/null
sleep 10
in_place in-place-shards-3-2 '{"spec":{"numShards":2}}' 2 3
[ "$(pool_sets)" = "wm-memshack-g4-pool-0 wm-memshack-g4-pool-1 wm-memshack-g4-pool-2 " ] \
  && awk -v b="$before" -v a="$after" 'BEGIN {exit !(a < 0.95 * b)}' \
  && ok "in place, 3 -> 2 shards: the same pools resized, hit rate $before % -> $after % (the removed shard's keys miss)" \
  || bad "in place, 3 -> 2 shards: pools $(pool_sets), hit rate $before % -> $after %"
in_place in-place-replicas-3-4 '{"spec":{"numReplicas":4}}' 2 4
[ "$(pool_sets)" = "wm-memshack-g4-pool-0 wm-memshack-g4-pool-1 wm-memshack-g4-pool-2 wm-memshack-g4-pool-3 " ] \
  && ok "in place, a replica pool added: pool wm-memshack-g4-pool-3 in the same layout, hit rate $before % -> $after %" \
  || bad "in place, replica pool: pools $(pool_sets)"

kill -TERM "$load0" "$load1" 2>/dev/null; wait "$load0" "$load1" 2>/dev/null
echo "figures:"; sed 's/^/  /' "$tmp/figures"
dp_stop_operator
finish
