#!/usr/bin/env bash
# memshack cachetest against real memcached processes on loopback: it passes
# against memcached, and fails with a clear report against a server that
# drops writes or corrupts values (fault_proxy).
# Usage: cachetest.sh MEMSHACK_BINARY FAULT_PROXY_BINARY
set -uo pipefail
bin=$1 fault=$2
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

mc=$(free_port)
memcached -u nobody -l 127.0.0.1 -p "$mc" -U 0 -m 64 -I 2m & pids+=($!)
wait_port "$mc" || { bad "memcached did not start"; exit 1; }

out=$(${MEMSHACK_WRAPPER:-} "$bin" cachetest --keys 60 --sizes 1,100,1000,10000,100000,500000 "127.0.0.1:$mc"); rc=$?
echo "$out" | tail -1
[ $rc = 0 ] && grep -q "0 mismatches, 0 errors" <<<"$out" && ok "passes against memcached" || bad "against memcached: rc=$rc $out"

drop=$(free_port)
"$fault" drop-writes "$drop" "$mc" & pids+=($!)
wait_port "$drop"
out=$(${MEMSHACK_WRAPPER:-} "$bin" cachetest --keys 10 "127.0.0.1:$drop"); rc=$?
[ $rc = 1 ] && grep -q "^MISMATCH get after set .*: missing" <<<"$out" && ok "fails on dropped writes: $(grep -c MISMATCH <<<"$out") mismatches reported" \
  || bad "dropped writes not caught: rc=$rc $(head -3 <<<"$out")"

corrupt=$(free_port)
"$fault" corrupt "$corrupt" "$mc" & pids+=($!)
wait_port "$corrupt"
out=$(${MEMSHACK_WRAPPER:-} "$bin" cachetest --keys 10 --sizes 1000 "127.0.0.1:$corrupt"); rc=$?
[ $rc = 1 ] && grep -q "first difference at byte" <<<"$out" && ok "fails on corrupted values: $(grep -m1 MISMATCH <<<"$out")" \
  || bad "corruption not caught: rc=$rc $(head -3 <<<"$out")"

out=$(${MEMSHACK_WRAPPER:-} "$bin" cachetest "127.0.0.1:$(free_port)" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "cannot connect" <<<"$out" && ok "unreachable server: clear error, exit 1" || bad "unreachable: rc=$rc $out"
out=$("$bin" cachetest nonsense 2>&1); rc=$?
[ $rc = 2 ] && ok "bad target: usage error" || bad "bad target rc=$rc"
finish
