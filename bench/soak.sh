#!/usr/bin/env bash
# Soak benchmark: the operator under an hour of churn on the full local
# control plane, with its RSS sampled every 10 s. 100 Memshacks are created,
# then, twice a second, one is changed at random: numShards 2..4,
# numReplicas 1..3, mcrouterPoolSize 1..3, deleted and re-created, or touched
# (an annotation). Prints RSS over time and whether it stayed flat after the
# warm-up (the first quarter): the peak of the last quarter against the peak
# of the second. Alongside RSS it samples the operator's allocator gauges
# (memshack_process_heap_inuse_bytes / _free_bytes from /metrics): growth in
# "in use" is a leak, growth in "free" only is fragmentation; and RSS's two
# parts from /proc (RssAnon: heap and stacks; RssFile: pages of the binary
# and its shared libraries as code paths are first touched).
# Results: bench/results/soak.{json,md,tsv}, or soak-TAG.* with
# MEMSHACK_SOAK_TAG=TAG (two soaks can run at once, each on its own control
# plane). The operator inherits the environment, so e.g. MALLOC_ARENA_MAX=2
# compares glibc settings.
#
#   bench/soak.sh [MINUTES] [COUNT]      default 60 minutes, 100 Memshacks
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
minutes=${1:-60}
count=${2:-100}
results=${MEMSHACK_BENCH_RESULTS:-$root/bench/results}
tag=${MEMSHACK_SOAK_TAG:+-$MEMSHACK_SOAK_TAG}
work=$(mktemp -d /tmp/memshack-soak.XXXXXX)
env_dir=$work/env
op_pid=
log() { printf '[soak %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
cleanup() {
  [ -n "$op_pid" ] && kill -TERM "$op_pid" 2>/dev/null && sleep 1 && kill -KILL "$op_pid" 2>/dev/null
  tools/testenv/testenv.sh down --dir "$env_dir" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/install-deps.sh || die "cannot install dependencies"
export PATH="/usr/local/go/bin:$PATH"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j >/dev/null || die "build failed"
bin=$root/build/memshack
commit_built="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src CMakeLists.txt || echo +dirty)" # what was built, now
mkdir -p "$results"
export MEMSHACK_TESTENV_NODE_PODS=4000 MEMSHACK_TESTENV_NODE_CPU=2000 MEMSHACK_TESTENV_NODE_MEMORY=16Ti
tools/testenv/testenv.sh up full --dir "$env_dir" > "$work/env.sh" || die "control plane did not start"
# shellcheck disable=SC1091
. "$work/env.sh"
"$bin" crd | kubectl apply --server-side -f - >/dev/null && kubectl wait --for=condition=Established crd/memshacks.memshack.io >/dev/null \
  || die "CRDs"
kubectl create namespace soak >/dev/null || die "namespace"
mport=$((20000 + RANDOM % 12000)); hport=$((mport + 1))
"$bin" run --gateway-probe-timeout-ms 0 --metrics-bind-address "127.0.0.1:$mport" --health-probe-bind-address "127.0.0.1:$hport" --log-format json \
  --log-level warn > "$work/operator.log" 2>&1 &
op_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.2; done

manifest() { # NAME SHARDS REPLICAS GATEWAYS
  printf 'apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: %s, namespace: soak}\nspec: {numShards: %d, numReplicas: %d, mcrouterPoolSize: %d}\n---\n' "$@"
}
for i in $(seq 0 $((count - 1))); do manifest "soak-$i" 3 2 2; done | kubectl apply -f - >/dev/null || die "cannot create the Memshacks"
log "$count Memshacks created; churning for $minutes minutes"

start=$(date +%s)
end=$((start + minutes * 60))
: > "$work/rss.tsv"
( while kill -0 "$op_pid" 2>/dev/null; do
    heap=$(curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" \
      | awk '$1 == "memshack_process_heap_inuse_bytes" {u = int($2 / 1024)} $1 == "memshack_process_heap_free_bytes" {f = int($2 / 1024)}
             END {printf "%s\t%s", u, f}')
    printf '%d\t%s\t%s\t%s\n' "$(( $(date +%s) - start ))" "$(awk '$1 == "VmRSS:" {print $2}' "/proc/$op_pid/status" 2>/dev/null)" "$heap" \
      "$(awk '$1 == "RssAnon:" {a = $2} $1 == "RssFile:" {f = $2} END {printf "%s\t%s", a, f}' "/proc/$op_pid/status" 2>/dev/null)"
    sleep 10
  done ) >> "$work/rss.tsv" &
sampler=$!
changes=0 failures=0
while [ "$(date +%s)" -lt "$end" ]; do
  name=soak-$((RANDOM % count))
  case $((RANDOM % 5)) in
    0) p="{\"spec\":{\"numShards\":$((2 + RANDOM % 3))}}" ;;
    1) p="{\"spec\":{\"numReplicas\":$((1 + RANDOM % 3))}}" ;;
    2) p="{\"spec\":{\"mcrouterPoolSize\":$((1 + RANDOM % 3))}}" ;;
    3) p=delete ;;
    4) p="{\"metadata\":{\"annotations\":{\"soak\":\"$RANDOM\"}}}" ;;
  esac
  if [ "$p" = delete ]; then
    kubectl -n soak delete memshack "$name" --wait=false >/dev/null 2>&1 &&
      for _ in $(seq 1 50); do kubectl -n soak get memshack "$name" >/dev/null 2>&1 || break; sleep 0.1; done
    manifest "$name" 3 2 2 | kubectl apply -f - >/dev/null 2>&1 || failures=$((failures + 1))
  else
    kubectl -n soak patch memshack "$name" --type merge -p "$p" >/dev/null 2>&1 || failures=$((failures + 1))
  fi
  changes=$((changes + 1))
  kill -0 "$op_pid" 2>/dev/null || die "the operator died (log: $work/operator.log)"
  sleep 0.5
done
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz}' "/proc/$op_pid/stat")
hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$op_pid/status")
# The churn has stopped: every Memshack must become Ready for its current generation.
ready_count() {
  kubectl -n soak get memshack -o json | jq '[.items[] | .metadata.generation as $g
    | select(any(.status.conditions[]?; .type == "Ready" and .status == "True" and .observedGeneration == $g))] | length'
}
settle_start=$(date +%s)
for _ in $(seq 1 180); do ready=$(ready_count); [ "$ready" = "$count" ] && break; sleep 1; done
settle=$(( $(date +%s) - settle_start ))
log "$ready of $count Ready for their generation ${settle} s after the churn stopped"
cp "$work/rss.tsv" "$results/soak$tag.tsv"
jq -n --rawfile tsv "$work/rss.tsv" --arg minutes "$minutes" --arg count "$count" --arg changes "$changes" \
  --arg failures "$failures" --arg cpu "$cpu" --arg hwm "$hwm" --arg ready "$ready" --arg settle "$settle" --arg commit "$commit_built" \
  --arg arena "${MALLOC_ARENA_MAX:-}" --arg kernel "$(uname -r)" --arg cpus "$(nproc)" '
  ($tsv | split("\n") | map(select(length > 0) | split("\t")
     | {t: (.[0] | tonumber), rss: (.[1] | tonumber? // null), inuse: (.[2] | tonumber? // null), free: (.[3] | tonumber? // null),
        anon: (.[4] | tonumber? // null), file: (.[5] | tonumber? // null)})
     | map(select(.rss))) as $s
  | ($s | length) as $n
  | def quarters(f): [range(0; 4) as $q | $s[($n * $q / 4 | floor):($n * ($q + 1) / 4 | floor)] | map(f | select(. != null))
      | if length > 0 then {min: min, max: max, mean: (add / length | floor)} else null end];
  {commit: $commit, malloc_arena_max: (if $arena == "" then "unset (the operator sets 2)" else $arena end),
   machine: {kernel: $kernel, cpus: ($cpus | tonumber)}, minutes: ($minutes | tonumber), memshacks: ($count | tonumber), changes: ($changes | tonumber),
     client_failures: ($failures | tonumber), operator_cpu_seconds: ($cpu | tonumber), peak_rss_kib: ($hwm | tonumber),
     ready_at_end: ($ready | tonumber), settle_seconds: ($settle | tonumber), samples: $n,
     rss_kib_by_quarter: quarters(.rss), heap_inuse_kib_by_quarter: quarters(.inuse), heap_free_kib_by_quarter: quarters(.free),
     rss_anon_kib_by_quarter: quarters(.anon), rss_file_kib_by_quarter: quarters(.file)}
  | def growth: if .[1] and .[3] then ((.[3].max - .[1].max) * 100 / .[1].max * 10 | round / 10) else null end;
  . + {growth_after_warmup_percent: (.rss_kib_by_quarter | growth),
       heap_inuse_growth_after_warmup_percent: (.heap_inuse_kib_by_quarter | growth)}
  | . + {flat: (.growth_after_warmup_percent <= 5)}' > "$results/soak$tag.json" || die "cannot assemble results"
{
  echo "# Soak: $count Memshacks churned for $minutes minutes${tag:+ ($MEMSHACK_SOAK_TAG)}"
  echo
  jq -r '"Commit \(.commit), MALLOC_ARENA_MAX \(.malloc_arena_max). \(.changes) changes (\(.client_failures) refused by the API), operator CPU \(.operator_cpu_seconds) s, peak RSS \(.peak_rss_kib / 1024 * 10 | round / 10) MiB, \(.ready_at_end) of \(.memshacks) Ready for their generation \(.settle_seconds) s after the churn stopped."' "$results/soak$tag.json"
  echo
  echo "| quarter | RSS min (MiB) | mean | max | anonymous max | file-backed max | heap in use max | heap free max |"
  echo "|---|---|---|---|---|---|---|---|"
  jq -r 'def mib: if . == null then "–" else (. / 1024 * 10 | round / 10 | tostring) end;
    [.rss_kib_by_quarter, .rss_anon_kib_by_quarter, .rss_file_kib_by_quarter, .heap_inuse_kib_by_quarter, .heap_free_kib_by_quarter]
    | transpose | to_entries[]
    | "| \(.key + 1) | \(.value[0].min | mib) | \(.value[0].mean | mib) | \(.value[0].max | mib) | \(.value[1].max | mib) | \(.value[2].max | mib) | \(.value[3].max | mib) | \(.value[4].max | mib) |"' "$results/soak$tag.json"
  echo
  jq -r '"Growth of the RSS peak from the second quarter to the last: \(.growth_after_warmup_percent) % — \(if .flat then "flat" else "NOT flat" end) (threshold 5 %); of the heap in use: \(.heap_inuse_growth_after_warmup_percent // "–") %."' "$results/soak$tag.json"
  echo
  echo "MiB. Anonymous and file-backed are the two parts of RSS (/proc: RssAnon, RssFile — the second is library code and data pages, shared); heap in use / free are the allocator's gauges from /metrics. Every 10 s: \`soak$tag.tsv\` (seconds, RSS, heap in use, heap free, RssAnon, RssFile; KiB)."
} > "$results/soak$tag.md"
cat "$results/soak$tag.md"
