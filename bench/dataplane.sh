#!/usr/bin/env bash
# Data-plane benchmark: throughput and latency through an mcrouter gateway
# versus straight to the memcached behind it, same client, same concurrency,
# same run, on the real data plane (tests/integration/dataplane_lib.sh: a
# network namespace with the control plane, the operator and the node agent
# running real memcached and mcrouter processes).
#
#   bench/dataplane.sh [SECONDS-PER-ROUND] [CONCURRENCIES]    (as root)
#
# A Memshack of 1 shard x 1 replica behind 1 gateway, so both paths reach the
# same memcached. For each concurrency (default "1 4 16" connections) and mode
# (gets: 100-byte values of 1000 preloaded keys; pairs: set then get of the
# thread's own keys), rounds alternate direct / gateway / direct / gateway
# (SECONDS each, default 10) so drift hits both alike. CPU seconds of the
# client, mcrouter and memcached come from /proc. Results:
# bench/results/dataplane.md and .json (MEMSHACK_BENCH_RESULTS to put them
# elsewhere).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
concs=${2:-"1 4 16"}
bin=$root/build/memshack
mcload=$root/build/bench/mcload
results=${MEMSHACK_BENCH_RESULTS:-$root/bench/results}
if [ -z "${MEMSHACK_DP_NETNS:-}" ]; then
  "$root/scripts/install-deps.sh" time
  cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build "$root/build" -j "$(nproc)" >/dev/null || exit 1
fi
# shellcheck source=../tests/integration/lib.sh
. "$root/tests/integration/lib.sh"
# shellcheck source=../tests/integration/dataplane_lib.sh
. "$root/tests/integration/dataplane_lib.sh"
dp_enter "$@"
trap 'dp_down; rm -rf "$tmp"' EXIT
dp_up || exit 1
PATH="$(cat "$dp_dir/bin.path"):$PATH"; export PATH
kubectl create namespace bench >/dev/null
"$bin" crd | kubectl apply --server-side -f - >/dev/null
kubectl wait --for=condition=Established crd/memshacks.memshack.io --timeout=30s >/dev/null
dp_operator --namespace bench || { echo "operator not ready"; exit 1; }
kubectl -n bench apply -f - >/dev/null <<'YAML'
apiVersion: memshack.io/v1alpha1
kind: Memshack
metadata: {name: b}
spec: {numShards: 1, numReplicas: 1, mcrouterPoolSize: 1}
YAML
ready() { [ "$(kubectl -n bench get memshack b -o jsonpath='{.status.conditions[?(@.type=="ConfigLoaded")].status}')" = True ] &&
          [ "$(kubectl -n bench get memshack b -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
until_ok 120 ready || { echo "Memshack not ready"; exit 1; }
gw=$(kubectl -n bench get pods -l app.kubernetes.io/component=gateway -o jsonpath='{.items[0].status.podIP}')
mcip=$(kubectl -n bench get pod b-memshack-pool-0-0 -o jsonpath='{.status.podIP}')
pid_of() { local f; for f in "$tmp"/agent/pods/*/name; do [[ $(cat "$f") == $1* ]] && cat "$(dirname "$f")/containers/$2/pid"; done; }
mcr_pid=$(pid_of b-memshack- mcrouter | head -1); mc_pid=$(pid_of b-memshack-pool-0-0 memcached)
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; } # utime + stime at 100 Hz
echo "gateway $gw (mcrouter pid $mcr_pid) -> memcached $mcip (pid $mc_pid); $secs s rounds" >&2

: > "$tmp/rows"
for mode in gets pairs; do
  for c in $concs; do
    for round in 1 2; do
      for path in direct gateway; do
        if [ "$path" = direct ]; then target=$mcip:11211; else target=$gw:5000; fi
        a0=$(cpu_s "$mcr_pid"); b0=$(cpu_s "$mc_pid")
        /usr/bin/time -f '%U %S' -o "$tmp/client.time" "$mcload" "$target" --seconds "$secs" --conns "$c" --keys 1000 --size 100 \
          --mode "$mode" --prefix "b-$mode-$c-" > "$tmp/out" 2>&1
        a1=$(cpu_s "$mcr_pid"); b1=$(cpu_s "$mc_pid")
        s=$(grep '^summary' "$tmp/out")
        client_cpu=$(awk '{printf "%.2f", $1 + $2}' "$tmp/client.time")
        get() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$s"; }
        printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$mode" "$c" "$path" "$round" "$(get ops_per_s)" "$(get p50_us)" "$(get p99_us)" \
          "$(get errors)" "$client_cpu" "$(awk -v a="$a0" -v b="$a1" 'BEGIN {printf "%.2f", b - a}')" \
          "$(awk -v a="$b0" -v b="$b1" 'BEGIN {printf "%.2f", b - a}')" | tee -a "$tmp/rows" >&2
      done
    done
  done
done

mkdir -p "$results"
{
  echo "# Data plane: through the mcrouter gateway vs straight to memcached"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$root" rev-parse --short HEAD), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r)."
  echo "memcached $(memcached -V 2>/dev/null | cut -d' ' -f2) (-t 4 -m 64, as memshack runs it); mcrouter $("$dp_mcrouter" --version 2>/dev/null | head -1) with the gateway flags memshack sets (1 proxy thread)."
  echo "Client: build/bench/mcload (C, one connection per thread, one request in flight per connection), $secs s per round, 2 rounds per path, alternating."
  echo "Everything shares the same 2 cores: the client, mcrouter, memcached, and the idle control plane."
  echo
  echo "| mode | conns | direct ops/s | gateway ops/s | gateway / direct | p50 µs direct / gateway | p99 µs direct / gateway | errors | CPU s per round: client / mcrouter / memcached (gateway) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for mode in gets pairs; do
    for c in $concs; do
      awk -v m="$mode" -v c="$c" '
        $1 == m && $2 == c && $3 == "direct" {d += $5; dp50 += $6; dp99 += $7; e += $8; nd++}
        $1 == m && $2 == c && $3 == "gateway" {g += $5; gp50 += $6; gp99 += $7; e += $8; ng++; cc += $9; mr += $10; mm += $11}
        END {printf "| %s | %d | %.0f | %.0f | %.1f %% | %.0f / %.0f | %.0f / %.0f | %d | %.1f / %.1f / %.1f |\n",
               m, c, d / nd, g / ng, 100 * g / d, dp50 / nd, gp50 / ng, dp99 / nd, gp99 / ng, e, cc / ng, mr / ng, mm / ng}' "$tmp/rows"
    done
  done
  echo
  echo "Raw rounds (mode conns path round ops/s p50 p99 errors client-cpu mcrouter-cpu memcached-cpu):"
  echo
  sed 's/^/    /' "$tmp/rows"
} > "$results/dataplane.md"
jq -R -s '[split("\n")[] | select(length > 0) | split(" ") | {mode: .[0], conns: (.[1] | tonumber), path: .[2], round: (.[3] | tonumber),
  ops_per_s: (.[4] | tonumber), p50_us: (.[5] | tonumber), p99_us: (.[6] | tonumber), errors: (.[7] | tonumber),
  cpu_s: {client: (.[8] | tonumber), mcrouter: (.[9] | tonumber), memcached: (.[10] | tonumber)}}]' "$tmp/rows" > "$results/dataplane.json"
cat "$results/dataplane.md"
