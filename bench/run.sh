#!/usr/bin/env bash
# The benchmark suite: memshack against the local kube-apiserver's own write
# ceiling, on the full local control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok). Prints figures; asserts
# nothing. Results: bench/results/latest.{json,md,png} and
# bench/results/runs/<stamp>.json (one per run, with the machine description).
#
#   bench/run.sh          (about 70 minutes on 2 cores)
#
# Phases, each on a fresh control plane:
#   ceiling   kbench applies Memshack-shaped children with server-side apply
#             from as many threads as the operator has workers;
#   fair      the fair ceiling at the largest N: kbench creates the N Memshacks
#             and, from as many threads as the operator has workers, applies
#             each one's 8 children exactly as the operator builds them (real
#             replicas: the controllers make and run the same pods meanwhile)
#             and writes its status once; converge is compared with it;
#   converge  for N in 1 100 1000: the operator (cluster-wide, default flags)
#             runs while kbench creates N Memshacks (3 shards x 2 replicas,
#             2 gateways) at once; time to every child, to every Ready=True;
#             the operator's API requests by verb; its RSS (sampled every
#             0.5 s) and CPU seconds;
#   idle      at the largest N, 10 minutes with nothing changing: writes, CPU;
#   restart   then a new operator with every object in place: its peak RSS
#             (the initial lists), seconds until its queue is empty, writes
#             (none expected);
#             that operator resyncs every MEMSHACK_BENCH_RESYNC s (default 300,
#             +-10 %): every object reconciled again, which must write nothing;
#             the CPU each resync costs (over the idle rate) and its duration;
#   latency   then numShards changes at 10/s for 2 minutes: PATCH to last child;
#             then at 20, 50 and 100/s for 30 s each (how p99 grows);
#   peer      for N in 100 1000: the benchmark peer (the C5C3 memcached-operator,
#             controller-runtime; bench/peer.sh builds it) runs while kbench
#             creates N of its Memcached objects (3 replicas with a PDB: 3
#             children each); the same figures as converge, and idle at the
#             largest N; memshack and the peer side by side in the results;
#   render    the pure core on a 256 x 4 Memshack, in process and as
#             `memshack render` processes.
# Tuning for a smaller run: MEMSHACK_BENCH_COUNTS="1 100", MEMSHACK_BENCH_IDLE=60,
# MEMSHACK_BENCH_LATENCY=30, MEMSHACK_BENCH_LATENCY_RATES="20" (empty: 10/s only),
# MEMSHACK_BENCH_PEER_COUNTS="100" (empty: no peer phase),
# MEMSHACK_BENCH_WORKERS=4 (the operator's --workers and the ceiling clients' threads; default 2),
# MEMSHACK_BENCH_RESULTS=/tmp/dir (keeps bench/results).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
counts=${MEMSHACK_BENCH_COUNTS:-1 100 1000}
idle_s=${MEMSHACK_BENCH_IDLE:-600}
resync_s=${MEMSHACK_BENCH_RESYNC:-300}
latency_s=${MEMSHACK_BENCH_LATENCY:-120}
latency_rate=10
latency_more=${MEMSHACK_BENCH_LATENCY_RATES-20 50 100}   # then these rates, 30 s each: how p99 grows
peer_counts=${MEMSHACK_BENCH_PEER_COUNTS-100 1000}
workers=${MEMSHACK_BENCH_WORKERS:-2}  # the operator's --workers (default 2), and the ceiling client's threads
results=${MEMSHACK_BENCH_RESULTS:-$root/bench/results}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d /tmp/memshack-bench.XXXXXX)
env_dir=
op_pid=
sampler_pid=

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }

stop_all() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null && wait "$sampler_pid" 2>/dev/null
  sampler_pid=
  if [ -n "$op_pid" ]; then
    kill -TERM "$op_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$op_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$op_pid" 2>/dev/null
    wait "$op_pid" 2>/dev/null
  fi
  op_pid=
  [ -n "$env_dir" ] && tools/testenv/testenv.sh down --dir "$env_dir" >/dev/null 2>&1
  env_dir=
}
cleanup() { stop_all; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/install-deps.sh gnuplot-nox || die "cannot install dependencies"
export PATH="/usr/local/go/bin:$PATH"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j >/dev/null \
  || die "build failed"
bin=$root/build/memshack
kbench=$root/build/bench/kbench
peer_bin=
if [ -n "$peer_counts" ]; then peer_bin=$(bench/peer.sh build) || die "cannot build the peer"; fi
# The code measured is what was built now: describe it now, not after the run.
commit_built="$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src bench CMakeLists.txt 2>/dev/null || echo +dirty)"
mkdir -p "$results/runs"

# Room on the three fake nodes for N=1000 (8,000 pods and their requests).
export MEMSHACK_TESTENV_NODE_PODS=4000 MEMSHACK_TESTENV_NODE_CPU=2000 MEMSHACK_TESTENV_NODE_MEMORY=16Ti
# kube-controller-manager and kube-scheduler keep their default client rate
# limits (20 and 50 requests/s), as on a stock cluster: the operator's writes
# are measured against the API server, not against a pod storm.

cluster_up() {
  env_dir=$work/env-$1
  tools/testenv/testenv.sh up full --dir "$env_dir" > "$work/env.sh" || die "control plane did not start"
  # shellcheck disable=SC1091
  . "$work/env.sh"
  "$bin" crd | kubectl apply --server-side -f - >/dev/null || die "cannot install the CRDs"
  kubectl wait --for=condition=Established crd/memshacks.memshack.io --timeout=60s >/dev/null || die "CRD not established"
  kubectl create namespace bench >/dev/null || die "cannot create the namespace"
  for _ in $(seq 1 100); do kubectl -n bench get serviceaccount default >/dev/null 2>&1 && break; sleep 0.2; done
  sleep 10 # let the controllers' start-up burst (every informer listing) pass before measuring
}

free_port() { local p; while :; do p=$((20000 + RANDOM % 12000)); [ -n "$(ss -Htln "sport = :$p")" ] || { echo "$p"; return; }; done; }

# Operator resource use: cumulative CPU seconds (utime + stime) and RSS now / peak in KiB.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz}' "/proc/$op_pid/stat"; }
rss_kib() { awk -v f="$1" '$1 == f":" {print $2}' "/proc/$op_pid/status"; }
metrics() { curl -s "http://127.0.0.1:$mport/metrics"; }
req_metric=memshack_api_requests_total # the peer's: controller-runtime's rest_client_requests_total
requests_by_verb() {
  metrics | awk -v metric="$req_metric" 'index($0, metric "{") == 1 { match($0, /method="[A-Z]+"/); m = substr($0, RSTART + 8, RLENGTH - 9); n[m] += $2 }
    END { printf "{"; s = ""; for (m in n) { printf "%s\"%s\": %d", s, m, n[m]; s = ", " } printf "}\n" }'
}
writes() { requests_by_verb | jq '[.POST, .PUT, .PATCH, .DELETE] | map(. // 0) | add'; }
metric() { metrics | awk -v m="$1" '$1 == m {print $2}'; }
# What an operator wrote, from this control plane's audit log: {"<verb> <resource>[/<subresource>]": n},
# and how many status writes each object got ({"<writes>": objects}). USER-AGENT-PREFIX names the operator.
writes_by_resource() {
  cat "$env_dir"/logs/audit*.log 2>/dev/null | jq -c --arg ua "$1" '
    select(.stage == "ResponseComplete" and (.userAgent // "" | startswith($ua)) and (.verb | IN("create", "update", "patch", "delete")))
    | [.verb, .objectRef.resource + (if .objectRef.subresource then "/" + .objectRef.subresource else "" end), .objectRef.name]' |
  jq -s '{by_resource: (group_by(.[0] + " " + .[1]) | map({key: (.[0][0] + " " + .[0][1]), value: length}) | from_entries),
          status_writes_per_object: ([.[] | select(.[1] | endswith("/status"))] | group_by(.[2]) | map(length)
            | group_by(.) | map({key: (.[0] | tostring), value: length}) | from_entries)}'
}

operator_start() { # NAME [extra flags...]
  local name=$1; shift
  mport=$(free_port); hport=$(free_port)
  "$bin" run --workers "$workers" --gateway-probe-timeout-ms 0 --metrics-bind-address "127.0.0.1:$mport" --health-probe-bind-address "127.0.0.1:$hport" \
    --log-format json "$@" > "$work/operator-$name.log" 2>&1 &
  op_pid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null || die "operator not ready (log: $work/operator-$name.log)"
  sample_rss "$name"
}

sample_rss() { # NAME: samples the RSS of $op_pid every 0.5 s into $work/rss-NAME.tsv
  local pid=$op_pid out=$work/rss-$1.tsv start
  start=$(date +%s.%N)
  ( while kill -0 "$pid" 2>/dev/null; do
      printf '%s\t%s\n' "$(calc "$(date +%s.%N) - $start")" "$(awk '$1 == "VmRSS:" {print $2}' "/proc/$pid/status" 2>/dev/null)"
      sleep 0.5
    done ) > "$out" &
  sampler_pid=$!
}

peer_start() { # NAME: the peer, cluster-wide, with its metrics on plain HTTP (they carry its API requests)
  local name=$1
  mport=$(free_port); hport=$(free_port)
  "$peer_bin" --metrics-bind-address "127.0.0.1:$mport" --metrics-secure=false --health-probe-bind-address "127.0.0.1:$hport" \
    --enable-webhooks=false > "$work/peer-$name.log" 2>&1 &
  op_pid=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null || die "peer not ready (log: $work/peer-$name.log)"
  sample_rss "$name"
}

# Where the operator's RSS is now (KiB): file-backed pages (the binary and its shared libraries)
# against anonymous ones (heap, stacks), and of the heap what malloc holds in use and free (mallinfo2).
rss_parts() {
  local rollup anon rss
  rollup=$(cat "/proc/$op_pid/smaps_rollup" 2>/dev/null)
  rss=$(awk '$1 == "Rss:" {print $2}' <<<"$rollup"); anon=$(awk '$1 == "Anonymous:" {print $2}' <<<"$rollup")
  jq -n --arg rss "${rss:-0}" --arg anon "${anon:-0}" --arg inuse "$(metric memshack_process_heap_inuse_bytes)" \
    --arg free "$(metric memshack_process_heap_free_bytes)" \
    '{rss_kib: ($rss | tonumber), file_kib: (($rss | tonumber) - ($anon | tonumber)), anonymous_kib: ($anon | tonumber),
      heap_inuse_kib: (($inuse | tonumber? // 0) / 1024 | floor), heap_free_kib: (($free | tonumber? // 0) / 1024 | floor)}'
}

# queue_wait BEFORE AFTER: from two /metrics snapshots, how long keys waited for a worker in between
# (memshack_workqueue_queue_duration_seconds), per priority: count and the bucket bounds holding p50 and p99.
queue_wait() {
  awk 'FNR == 1 { f++ } index($0, "memshack_workqueue_queue_duration_seconds_bucket{") == 1 {
         match($0, /priority="[a-z]+"/); p = substr($0, RSTART + 10, RLENGTH - 11)
         match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5)
         v[f, p, le] += $2; if (f == 2) { seen[p] = 1; les[p, le] = 1 } }
       END {
         printf "{"; sep = ""
         for (p in seen) {
           n = 0; for (k in les) { split(k, q, SUBSEP); if (q[1] == p) b[++n] = q[2] }
           for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
             if ((b[j] == "+Inf" ? 1e99 : b[j] + 0) < (b[i] == "+Inf" ? 1e99 : b[i] + 0)) { t = b[i]; b[i] = b[j]; b[j] = t }
           total = v[2, p, "+Inf"] - v[1, p, "+Inf"]; p50 = ""; p99 = ""
           for (i = 1; i <= n; i++) { c = v[2, p, b[i]] - v[1, p, b[i]]
             if (p50 == "" && c >= 0.5 * total) p50 = b[i]; if (p99 == "" && c >= 0.99 * total) p99 = b[i] }
           printf "%s\"%s\": {\"count\": %d, \"p50_le_seconds\": \"%s\", \"p99_le_seconds\": \"%s\"}", sep, p, total, p50, p99; sep = ", "
         }
         printf "}\n" }' "$1" "$2"
}

# resync_costs OPERATOR_LOG CPU_TSV: per periodic resync inside the sampled window, the objects
# queued, and the CPU seconds of the 30 s after it beyond the window's median rate (a JSON array).
resync_costs() {
  local when queued median
  median=$(awk 'NR > 1 {print $2 - prev} {prev = $2}' "$2" | sort -n | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}')
  jq -r 'select(.msg | test("^periodic resync")) | [.time, (.msg | capture("(?<n>[0-9]+) objects").n)] | @tsv' "$1" 2>/dev/null |
  while IFS=$'\t' read -r when queued; do
    awk -v at="$(date -d "$when" +%s.%N)" -v queued="$queued" -v median="$median" '
      { t[NR] = $1; c[NR] = $2 }
      END {
        for (i = 1; i <= NR; i++) { if (t[i] <= at) first = i; if (t[i] <= at + 30) last = i }
        if (!first || last <= first) exit
        printf "{\"queued\": %d, \"cpu_seconds_30s\": %.2f, \"over_idle_cpu_seconds\": %.2f}\n", queued, c[last] - c[first], (c[last] - c[first]) - median * (last - first)
      }' "$2"
  done | jq -s .
}

machine_json() {
  jq -n --arg cpu "$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')" \
    --arg cores "$(nproc)" --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
    --arg kernel "$(uname -r)" --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
    --arg cc "$(cc --version | head -n 1)" --arg commit "$commit_built" \
    --arg versions "$(grep -v '^#' tools/testenv/versions.env | tr '\n' ' ')" \
    '{cpu: $cpu, cores: ($cores | tonumber), memory: $mem, kernel: $kernel, os: $os, compiler: $cc, commit: $commit, control_plane: $versions}'
}

# --- ceiling ----------------------------------------------------------------------------
log "ceiling: server-side apply from $workers threads for 30 s"
cluster_up ceiling
"$kbench" ceiling --namespace bench --threads "$workers" --seconds 30 > "$work/ceiling.json" || die "ceiling run failed"
log "ceiling: $(cat "$work/ceiling.json")"
stop_all

# --- fair ceiling -----------------------------------------------------------------------
# The same N Memshacks' children written by a perfect operator (kbench, as many threads as the
# operator's workers, nothing read) while the controllers make and run their pods, as during converge.
fair_n=$(echo "$counts" | tr ' ' '\n' | sort -n | tail -n 1)
log "fair ceiling: N=$fair_n Memshacks' children and status from $workers threads, controllers reacting"
cluster_up fair
"$kbench" fair-ceiling --namespace bench --count "$fair_n" --threads "$workers" --timeout 1800 > "$work/fair.json" \
  || log "fair ceiling incomplete: $(cat "$work/fair.json")"
log "fair ceiling: $(cat "$work/fair.json")"
stop_all

# --- converge (+ idle and latency at the largest N) -------------------------------------
largest=$(echo "$counts" | tr ' ' '\n' | sort -n | tail -n 1)
: > "$work/converge.jsonl"
for n in $counts; do
  log "converge: N=$n"
  cluster_up "n$n"
  if [ "$n" = "$largest" ]; then operator_start "n$n" --sync-period "$resync_s"; else operator_start "n$n"; fi
  cpu0=$(cpu_seconds)
  "$kbench" converge --namespace bench --count "$n" --threads 4 --timeout 1800 > "$work/kb-$n.json" \
    || log "converge N=$n did not finish: $(cat "$work/kb-$n.json")"
  sleep 5   # trailing status writes
  conv=$(cat "$work/kb-$n.json")
  row=$(jq -n --argjson kb "${conv:-null}" --argjson req "$(requests_by_verb)" --arg n "$n" \
    --arg cpu "$(calc "$(cpu_seconds) - $cpu0")" --arg peak "$(rss_kib VmHWM)" --arg rss "$(rss_kib VmRSS)" \
    --arg applies "$(metric memshack_child_applies_total)" \
    '{n: ($n | tonumber), converge: $kb, requests: $req,
      writes: ([$req.POST, $req.PUT, $req.PATCH, $req.DELETE] | map(. // 0) | add),
      child_applies: ($applies | tonumber? // null),
      cpu_seconds: ($cpu | tonumber), peak_rss_kib: ($peak | tonumber), rss_after_kib: ($rss | tonumber)}')
  row=$(jq --argjson a "$(writes_by_resource memshack/)" --argjson parts "$(rss_parts)" \
    '. + {writes_per_memshack: (.writes / .n), audit: $a, rss_parts_after: $parts}' <<<"$row")
  if [ "$n" = "$largest" ]; then
    log "idle: $idle_s s with $n Memshacks"
    w0=$(writes); c0=$(cpu_seconds)
    # CPU seconds every second, to cost each resync against the idle rate around it.
    ( t0=$(date +%s.%N); while kill -0 "$op_pid" 2>/dev/null; do
        printf '%s\t%s\n' "$(date +%s.%N)" "$(cpu_seconds)"; sleep 1
      done ) > "$work/idle-cpu.tsv" &
    idle_sampler=$!
    sleep "$idle_s"
    kill "$idle_sampler" 2>/dev/null; wait "$idle_sampler" 2>/dev/null
    w1=$(writes); c1=$(cpu_seconds)
    resyncs=$(resync_costs "$work/operator-n$n.log" "$work/idle-cpu.tsv")
    row=$(jq --arg w "$((w1 - w0))" --arg c "$(calc "$c1 - $c0")" --arg s "$idle_s" --arg rss "$(rss_kib VmRSS)" \
      --argjson resyncs "$resyncs" --arg every "$resync_s" \
      '. + {idle: {seconds: ($s | tonumber), writes: ($w | tonumber), cpu_seconds: ($c | tonumber), rss_kib: ($rss | tonumber),
                   sync_period_seconds: ($every | tonumber), resyncs: $resyncs}}' <<<"$row")
    row=$(jq --argjson parts "$(rss_parts)" '.idle += {rss_parts: $parts}' <<<"$row")
    # A restart with every object in place (a rollout, a failover): the new operator lists every
    # child once (its peak RSS is the one a memory limit must hold) and must write nothing.
    log "restart: a new operator with $n Memshacks in place"
    old_pid=$op_pid
    kill -TERM "$old_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$old_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$old_pid" 2>/dev/null; wait "$old_pid" 2>/dev/null
    t0=$(date +%s.%N)
    operator_start "n$n-restart" --sync-period "$resync_s"
    for _ in $(seq 1 1200); do [ "$(metric 'memshack_workqueue_depth{name="memshack"}')" = 0 ] && break; sleep 0.1; done
    t1=$(date +%s.%N)
    sleep 10   # anything the restart would write
    row=$(jq --arg s "$(calc "$t1 - $t0")" --arg w "$(writes)" --arg peak "$(rss_kib VmHWM)" --arg rss "$(rss_kib VmRSS)" \
      --argjson parts "$(rss_parts)" \
      '. + {restart: {seconds_to_idle_queue: ($s | tonumber), writes: ($w | tonumber), peak_rss_kib: ($peak | tonumber),
                      rss_kib: ($rss | tonumber), rss_parts: $parts}}' <<<"$row")
    log "restart: $(jq -c .restart <<<"$row")"
    log "latency: numShards changes at $latency_rate/s for $latency_s s"
    metrics > "$work/metrics-latency-0.txt"
    lat=$("$kbench" latency --namespace bench --rate "$latency_rate" --seconds "$latency_s") || log "latency run incomplete"
    metrics > "$work/metrics-latency-1.txt"
    : > "$work/latency-rates.jsonl"
    for r in $latency_more; do
      log "latency: numShards changes at $r/s for 30 s"
      "$kbench" latency --namespace bench --rate "$r" --seconds 30 >> "$work/latency-rates.jsonl" || log "latency at $r/s incomplete"
    done
    lat=$(jq -c --argjson w "$(queue_wait "$work/metrics-latency-0.txt" "$work/metrics-latency-1.txt")" '. + {queue_wait: $w}' <<<"${lat:-null}" 2>/dev/null || echo "${lat:-null}")
    row=$(jq --argjson l "${lat:-null}" --argjson more "$(jq -s . "$work/latency-rates.jsonl")" --arg peak "$(rss_kib VmHWM)" --arg rss "$(rss_kib VmRSS)" \
      '. + {latency: $l, latency_rates: $more, peak_rss_after_latency_kib: ($peak | tonumber), rss_after_latency_kib: ($rss | tonumber)}' <<<"$row")
  fi
  cp "$work/rss-n$n.tsv" "$work/rss-$n.tsv"
  echo "$row" | jq -c . >> "$work/converge.jsonl"
  log "N=$n: $(jq -c '{converge, writes, writes_per_memshack, cpu_seconds, peak_rss_kib, idle, latency}' <<<"$row")"
  stop_all
done

# --- peer ---------------------------------------------------------------------------------
: > "$work/peer.jsonl"
peer_largest=$(echo "$peer_counts" | tr ' ' '\n' | sort -n | tail -n 1)
req_metric=rest_client_requests_total
for n in $peer_counts; do
  log "peer: N=$n"
  cluster_up "peer-n$n"
  bench/peer.sh install || die "cannot install the peer's CRDs"
  peer_start "peer-n$n"
  cpu0=$(cpu_seconds)
  "$kbench" converge --peer --namespace bench --count "$n" --threads 4 --timeout 1800 > "$work/kb-peer-$n.json" \
    || log "peer converge N=$n did not finish: $(cat "$work/kb-peer-$n.json")"
  sleep 5
  conv=$(cat "$work/kb-peer-$n.json")
  row=$(jq -n --argjson kb "${conv:-null}" --argjson req "$(requests_by_verb)" --arg n "$n" \
    --arg cpu "$(calc "$(cpu_seconds) - $cpu0")" --arg peak "$(rss_kib VmHWM)" --arg rss "$(rss_kib VmRSS)" \
    '{n: ($n | tonumber), children_per_object: 3, converge: $kb, requests: $req,
      writes: ([$req.POST, $req.PUT, $req.PATCH, $req.DELETE] | map(. // 0) | add),
      cpu_seconds: ($cpu | tonumber), peak_rss_kib: ($peak | tonumber), rss_after_kib: ($rss | tonumber)}')
  row=$(jq --argjson a "$(writes_by_resource "$(basename "$peer_bin")/")" '. + {audit: $a}' <<<"$row")
  if [ "$n" = "$peer_largest" ]; then
    log "peer idle: $idle_s s with $n objects"
    w0=$(writes); c0=$(cpu_seconds)
    sleep "$idle_s"
    w1=$(writes); c1=$(cpu_seconds)
    row=$(jq --arg w "$((w1 - w0))" --arg c "$(calc "$c1 - $c0")" --arg s "$idle_s" --arg rss "$(rss_kib VmRSS)" \
      '. + {idle: {seconds: ($s | tonumber), writes: ($w | tonumber), cpu_seconds: ($c | tonumber), rss_kib: ($rss | tonumber)}}' <<<"$row")
  fi
  cp "$work/rss-peer-n$n.tsv" "$work/rss-peer-$n.tsv"
  echo "$row" | jq -c . >> "$work/peer.jsonl"
  log "peer N=$n: $(jq -c '{converge, writes, cpu_seconds, peak_rss_kib, idle}' <<<"$row")"
  stop_all
done
req_metric=memshack_api_requests_total

# --- render -----------------------------------------------------------------------------
log "render: 256 x 4"
render=$(build/bench/bench_render 256 4)
printf 'apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: big, namespace: default}\nspec: {numShards: 256, numReplicas: 4, mcrouterPoolSize: 4}\n' > "$work/big.yaml"
t0=$(date +%s.%N)
for _ in $(seq 1 50); do "$bin" render "$work/big.yaml" > /dev/null || die "memshack render failed"; done
t1=$(date +%s.%N)
render=$(jq --arg ms "$(calc "($t1 - $t0) * 1000 / 50")" '. + {process_ms_per_render: ($ms | tonumber)}' <<<"$render")

# --- results ----------------------------------------------------------------------------
ceiling=$(cat "$work/ceiling.json")
fair=$(cat "$work/fair.json" 2>/dev/null)
jq -n --arg stamp "$stamp" --argjson machine "$(machine_json)" --argjson ceiling "$ceiling" --argjson fair "${fair:-null}" \
  --slurpfile runs "$work/converge.jsonl" --slurpfile peer "$work/peer.jsonl" --argjson render "$render" --arg workers "$workers" '
  def minimal_writes: 8 + 1;   # 8 children created + one status write, per Memshack
  def per_child: . + {children_written: (.n * (.children_per_object // 8)),
                      cpu_ms_per_child: (.cpu_seconds * 1000 / (.n * (.children_per_object // 8))),
                      writes_per_child: (.writes / (.n * (.children_per_object // 8)))};
  {stamp: $stamp, machine: $machine, operator_workers: ($workers | tonumber), ceiling: $ceiling, fair_ceiling: $fair,
   render: $render,
   converge: [$runs[] | per_child | . + {
     minimal_writes: (.n * minimal_writes),
     children_vs_fair: (if $fair != null and .n == $fair.count and .converge.children_seconds > 0 and $fair.children_seconds > 0
                        then .converge.children_seconds / $fair.children_seconds else null end),
     ceiling_bound_seconds: (.n * minimal_writes / $ceiling.writes_per_second),
     children_vs_bound: (if .converge.children_seconds > 0 then .converge.children_seconds / (.n * minimal_writes / $ceiling.writes_per_second) else null end)}],
   peer: {name: "c5c3-memcached-operator (controller-runtime)", runs: [$peer[] | per_child]}}
  | .side_by_side = [.converge[] as $m | .peer.runs[] | select(.n == $m.n) | {n, memshack: $m, peer: .,
      rss_ratio: ($m.peak_rss_kib / .peak_rss_kib),
      cpu_per_child_ratio: ($m.cpu_ms_per_child / .cpu_ms_per_child),
      writes_per_child_ratio: ($m.writes_per_child / .writes_per_child)}]' \
  > "$results/runs/$stamp.json" || die "cannot assemble the results"
cp "$results/runs/$stamp.json" "$results/latest.json"
bench/report.sh "$results/latest.json" "$results" || die "report failed"
for n in $counts; do cp "$work/rss-$n.tsv" "$results/rss-$n.tsv"; done
for n in $peer_counts; do cp "$work/rss-peer-$n.tsv" "$results/rss-peer-$n.tsv" 2>/dev/null; done
log "results: $results/latest.md, latest.json, latest.png, runs/$stamp.json"
cat "$results/latest.md"
