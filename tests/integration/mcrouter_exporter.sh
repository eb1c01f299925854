#!/usr/bin/env bash
# `memshack mcrouter-exporter` against a real mcrouter in front of two real
# memcached servers, all on loopback:
#  - /metrics answers with mcrouter_up 1, the version, and counters that
#    follow the traffic sent through mcrouter (commands by command, replies by
#    server and result);
#  - a memcached stopped: its destination down and TKO, connect errors counted;
#  - mcrouter stopped: /metrics still answers 200, with mcrouter_up 0 and the
#    failed scrape counted (and the exporter logs why);
#  - the page is valid Prometheus text: every sample's family has HELP and
#    TYPE, counters end in _total;
#  - SIGTERM stops the exporter with exit 0.
# Usage: mcrouter_exporter.sh MEMSHACK_BINARY [MCROUTER]
set -uo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
mcrouter=${2:-${MEMSHACK_MCROUTER:-$(cd "$root/.." && pwd)/shared/mcrouter/bin/mcrouter}}
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$mcrouter" ] || { bad "no mcrouter at $mcrouter"; finish; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

m1=$(free_port); m2=$(free_port); mp=$(free_port); ep=$(free_port)
memcached -l 127.0.0.1 -p "$m1" -U 0 -u nobody & pids+=($!); mc1=$!
memcached -l 127.0.0.1 -p "$m2" -U 0 -u nobody & pids+=($!); mc2=$!
printf '{"pools":{"A":{"servers":["127.0.0.1:%s","127.0.0.1:%s"]}},"route":"PoolRoute|A"}\n' "$m1" "$m2" > "$tmp/config.json"
mkdir -p "$tmp/stats" "$tmp/dump"
"$mcrouter" --config "file:$tmp/config.json" -p "$mp" --num-proxies 2 --asynclog-disable --stats-root "$tmp/stats" \
  --config-dump-root "$tmp/dump" --debug-fifo-root '' > "$tmp/mcrouter.log" 2>&1 & pids+=($!); mcr=$!
${MEMSHACK_WRAPPER:-} "$bin" mcrouter-exporter --mcrouter "127.0.0.1:$mp" --listen "127.0.0.1:$ep" --timeout-ms 1000 > "$tmp/exporter.log" 2>&1 &
exp=$!; pids+=("$exp")
mc() { printf '%b' "$1" | timeout 5 socat -t 2 - "TCP:127.0.0.1:$mp"; }
until_ok 30 mc 'version\r\n' && ok "mcrouter answers" || { bad "mcrouter: $(tail -3 "$tmp/mcrouter.log")"; finish; exit 1; }
until_ok 30 curl -sf "http://127.0.0.1:$ep/healthz" && ok "exporter /healthz" || { bad "exporter: $(cat "$tmp/exporter.log")"; finish; exit 1; }

scrape() { curl -sf "http://127.0.0.1:$ep/metrics" > "$tmp/metrics"; }
val() { awk -v s="$1" '$1 == s {print $2}' "$tmp/metrics"; }
# 30 sets and 30 gets of them, then 10 gets of keys never set.
req=''
for i in $(seq 1 30); do req+="set k$i 0 0 3\r\n$(printf 'v%02d' "$i")\r\n"; done
for i in $(seq 1 30); do req+="get k$i\r\n"; done
for i in $(seq 1 10); do req+="get nope$i\r\n"; done
mc "$req" > "$tmp/replies"
[ "$(grep -c '^STORED' "$tmp/replies")" = 30 ] && ok "30 sets stored through mcrouter" || bad "sets: $(grep -c '^STORED' "$tmp/replies")"
scrape && ok "/metrics answers" || bad "/metrics"
[ "$(val mcrouter_up)" = 1 ] && ok "mcrouter_up 1" || bad "mcrouter_up $(val mcrouter_up)"
grep -q '^mcrouter_build_info{version=".*mcrouter"} 1$' "$tmp/metrics" && ok "mcrouter_build_info names the version" || bad "no build_info"
[ "$(val 'mcrouter_commands_total{command="set"}')" = 30 ] && [ "$(val 'mcrouter_commands_total{command="get"}')" = 40 ] \
  && ok "commands: 30 set, 40 get" || bad "commands: set $(val 'mcrouter_commands_total{command="set"}') get $(val 'mcrouter_commands_total{command="get"}')"
found=$(awk '$1 ~ /^mcrouter_server_replies_total\{.*result="found"\}$/ {s += $2} END {print s + 0}' "$tmp/metrics")
stored=$(awk '$1 ~ /^mcrouter_server_replies_total\{.*result="stored"\}$/ {s += $2} END {print s + 0}' "$tmp/metrics")
notfound=$(awk '$1 ~ /^mcrouter_server_replies_total\{.*result="notfound"\}$/ {s += $2} END {print s + 0}' "$tmp/metrics")
[ "$stored" = 30 ] && [ "$found" = 30 ] && [ "$notfound" = 10 ] && ok "replies over both servers: 30 stored, 30 found, 10 notfound" \
  || bad "replies: stored $stored found $found notfound $notfound"
[ "$(grep -c '^mcrouter_server_replies_total{server="127.0.0.1:' "$tmp/metrics")" -ge 4 ] && ok "replies by server (two servers)" || bad "servers: $(grep server_replies "$tmp/metrics")"
# Valid exposition: every sample's family declared with HELP and TYPE; counters and only counters end in _total.
bad_lines=$(awk '
  /^# HELP / { help[$3] = 1; next }
  /^# TYPE / { type[$3] = $4; next }
  /^#/ { next }
  { name = $0; sub(/[{ ].*/, "", name)
    if (!(name in help) || !(name in type)) print "undeclared " name
    if ((type[name] == "counter") != (name ~ /_total$/)) print "bad counter name " name
    if ($NF !~ /^-?[0-9.e+-]+$/) print "bad value " $0 }' "$tmp/metrics" | sort -u)
[ -z "$bad_lines" ] && ok "valid exposition: $(grep -c '^# TYPE' "$tmp/metrics") families, every sample declared" || bad "$bad_lines"

# One memcached stopped.
kill -TERM "$mc2"; wait "$mc2" 2>/dev/null
req=''; for i in $(seq 1 30); do req+="get k$i\r\n"; done
mc "$req" > /dev/null
server_down() { scrape && [ "$(val "mcrouter_server_tko{server=\"127.0.0.1:$m2\",kind=\"hard\"}")" = 1 ]; }
until_ok 15 server_down && ok "stopped memcached: hard TKO" || bad "no TKO: $(grep "$m2" "$tmp/metrics")"
# Requests to it failed: connect errors until it was marked TKO, then TKO answers.
errs=$(( $(val 'mcrouter_results_total{result="connect_error"}') + $(val 'mcrouter_results_total{result="tko"}') ))
[ "$errs" -gt 0 ] && ok "failed requests counted: connect_error $(val 'mcrouter_results_total{result="connect_error"}'), tko $(val 'mcrouter_results_total{result="tko"}')" \
  || bad "no failed results: $(grep '^mcrouter_results_total' "$tmp/metrics" | tr '\n' ' ')"
[ "$(val 'mcrouter_servers{state="down"}')" -ge 1 ] && ok "mcrouter_servers{state=\"down\"} $(val 'mcrouter_servers{state="down"}')" || bad "servers down $(val 'mcrouter_servers{state="down"}')"

# mcrouter stopped: still 200, mcrouter_up 0.
kill -TERM "$mcr"; wait "$mcr" 2>/dev/null
scrape && ok "/metrics answers with mcrouter gone" || bad "/metrics failed with mcrouter gone"
[ "$(val mcrouter_up)" = 0 ] && ok "mcrouter_up 0" || bad "mcrouter_up $(val mcrouter_up)"
[ "$(val 'mcrouter_exporter_scrapes_total{result="error"}')" -ge 1 ] && ok "failed scrape counted" || bad "scrapes: $(grep scrapes_total "$tmp/metrics")"
grep -q 'scrape of 127.0.0.1:.* failed' "$tmp/exporter.log" && ok "the exporter logs why: $(grep -o 'failed: .*' "$tmp/exporter.log" | tail -1)" || bad "no log line"
! grep -qE '^mcrouter_(commands|server_)[a-z_]*[{ ]' "$tmp/metrics" && ok "no stale mcrouter samples after a failed scrape" || bad "stale samples"

kill -TERM "$exp"; wait "$exp"; rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || bad "exporter exit $rc"
kill -TERM "$mc1" 2>/dev/null
finish
