#!/usr/bin/env bash
# Turns a benchmark result (bench/run.sh's JSON) into OUT/latest.md and
# OUT/latest.png (gnuplot), and lists every run kept in OUT/runs/ side by side
# so that runs can be compared.
#   bench/report.sh RESULT.json OUT_DIR
set -euo pipefail
json=$1 out=$2
[ -f "$json" ] || { echo "report: no $json" >&2; exit 1; }
dat=$(mktemp) peerdat=$(mktemp)
trap 'rm -f "$dat" "$peerdat"' EXIT

jq -r '.converge[] | [.n, (.converge.children_seconds // -1), (.converge.ready_seconds // -1),
  .ceiling_bound_seconds, (.peak_rss_kib / 1024)] | @tsv' "$json" > "$dat"
jq -r '(.peer.runs // [])[] | [.n, (.converge.children_seconds // -1), (.converge.ready_seconds // -1), (.peak_rss_kib / 1024)] | @tsv' \
  "$json" > "$peerdat"
peer_plot=
if [ -s "$peerdat" ]; then
  peer_plot=", \"$peerdat\" using 1:2 with linespoints lw 2 dt 3 title \"peer (controller-runtime): every child exists\", \"$peerdat\" using 1:4 axes x1y2 with linespoints lw 2 dt 3 title \"peer peak RSS (MiB)\""
fi
ceiling=$(jq -r '.ceiling.writes_per_second' "$json")
gnuplot <<PLOT
set terminal png size 1000,600 font ",11"
set output "$out/latest.png"
set title "memshack: converge time and operator RSS against N (ceiling: $ceiling SSA writes/s)"
set logscale x
set logscale y
set xlabel "Memshacks created at once (N; 3 shards x 2 replicas, 2 gateways each)"
set ylabel "seconds (log scale)"
set y2label "operator peak RSS (MiB)"
set ytics nomirror
set y2tics
set y2range [0:*]
set yrange [0.01:*]
set key top left
set grid
plot "$dat" using 1:2 with linespoints lw 2 title "every child exists", \
     "$dat" using 1:3 with linespoints lw 2 title "every Memshack Ready=True (pods Ready via kwok)", \
     "$dat" using 1:4 with lines lw 2 dt 2 title "ceiling: minimal writes / measured SSA rate", \
     "$dat" using 1:5 axes x1y2 with linespoints lw 2 title "operator peak RSS (MiB)"$peer_plot
PLOT

{
  echo "# memshack benchmark results"
  echo
  echo "Run $(jq -r .stamp "$json") on commit $(jq -r .machine.commit "$json"): $(jq -r '.machine | "\(.cpu), \(.cores) cores, \(.memory), \(.os), kernel \(.kernel)"' "$json")."
  echo "Control plane: $(jq -r .machine.control_plane "$json"). Produced by \`bench/run.sh\`; raw figures in \`latest.json\`, plot in \`latest.png\`."
  echo
  echo "## Ceiling"
  jq -r '.ceiling | "The local kube-apiserver took **\(.writes_per_second) server-side-apply writes/s** of Memshack-shaped children from \(.threads) threads (the operator'"'"'s worker count) over \(.seconds) s (\(.writes) writes, \(.errors) errors)."' "$json"
  if jq -e '.fair_ceiling.children_seconds > 0' "$json" >/dev/null 2>&1; then
    echo
    jq -r '.fair_ceiling | "**Fair ceiling** (the same load as converge): \(.count) Memshacks created by 4 threads while \(.threads) threads (the operator'"'"'s workers) applied each one'"'"'s 8 children exactly as the operator builds them and wrote its status once, nothing read, kube-controller-manager, the scheduler and kwok making and running the pods meanwhile: every child existed after **\(.children_seconds) s** and the last status was written after \(.all_written_seconds) s (\(.writes) writes, \(.errors) errors)."' "$json"
  fi
  echo
  echo "## Converge, footprint"
  echo
  echo "| N | all created (s) | every child exists (s) | ceiling bound (s) | child time ÷ bound | all Ready (s) | API requests by verb | writes / Memshack | CPU (s) | peak RSS (MiB) | RSS after (MiB) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  jq -r '.converge[] | "| \(.n) | \(.converge.create_seconds) | \(.converge.children_seconds) | \(.ceiling_bound_seconds * 1000 | round / 1000) | \(if .children_vs_bound then (.children_vs_bound * 100 | round / 100) else "-" end) | \(.converge.ready_seconds) | \(.requests | to_entries | sort_by(.key) | map("\(.key) \(.value)") | join(", ")) | \(.writes_per_memshack * 100 | round / 100) | \(.cpu_seconds) | \(.peak_rss_kib / 1024 * 10 | round / 10) | \(.rss_after_kib / 1024 * 10 | round / 10) |"' "$json"
  echo
  echo "Minimal writes per Memshack: 8 children + 1 status = 9; the ceiling bound is N × 9 ÷ the measured rate. Negative times mean the phase did not finish within the timeout."
  if jq -e '[.converge[] | select(.audit)] | length > 0' "$json" >/dev/null; then
    echo
    echo "What the writes were (the API server's audit log, per object; events are Event objects, status the status subresource; status writes per object as writes: objects):"
    echo
    echo "| N | operator | children / object | status / object | events / object | other | status writes per object |"
    echo "|---|---|---|---|---|---|---|"
    jq -r '([.converge[] | . + {who: "memshack"}] + [(.peer.runs // [])[] | . + {who: "peer"}])[] | select(.audit) | .n as $n
      | (.audit.by_resource | to_entries) as $e
      | ([$e[] | select(.key | test(" (events)$")) | .value] | add // 0) as $ev
      | ([$e[] | select(.key | endswith("/status")) | .value] | add // 0) as $st
      | ([$e[] | select(.key | test("^(create|patch|update) (statefulsets|deployments|services|configmaps|poddisruptionbudgets|serviceaccounts)$")) | .value] | add // 0) as $ch
      | ([$e[] | .value] | add // 0) as $all
      | "| \($n) | \(.who) | \($ch / $n * 100 | round / 100) | \($st / $n * 100 | round / 100) | \($ev / $n * 100 | round / 100) | \($all - $ch - $st - $ev) | \(.audit.status_writes_per_object | to_entries | map("\(.key): \(.value)") | join(", ")) |"' "$json"
  fi
  echo
  echo "## Steady state and latency (largest N)"
  jq -r '.converge[] | select(.idle) | "- Idle \(.idle.seconds) s with \(.n) Memshacks: **\(.idle.writes) API writes**, \(.idle.cpu_seconds) CPU seconds, RSS \(.idle.rss_kib / 1024 * 10 | round / 10) MiB.",
    (select(.restart) | "- Restart with \(.n) Memshacks in place: a new operator listed everything and emptied its queue in \(.restart.seconds_to_idle_queue) s, **\(.restart.writes) API writes**, **peak RSS \(.restart.peak_rss_kib / 1024 * 10 | round / 10) MiB** (the initial lists), RSS \(.restart.rss_kib / 1024 * 10 | round / 10) MiB after."),
    (select(.idle.resyncs) | "- Periodic resync every \(.idle.sync_period_seconds) s (±10 %): \(.idle.resyncs | length) in the idle window, \(.idle.resyncs | map("\(.queued) objects queued, \(.over_idle_cpu_seconds) CPU s over the idle rate") | join("; ")); the idle writes above include them."),
    (select(.latency) | "- numShards changes at \(.latency.rate)/s for \(.latency.seconds) s (\(.latency.sent) sent, \(.latency.unfinished) unfinished), each from the PATCH as watches see it: \(if .latency.applied_p99_ms then "**applied** (the operator'"'"'s first write of it shows in a child) **p50 \(.latency.applied_p50_ms) ms, p99 \(.latency.applied_p99_ms) ms**, max \(.latency.applied_max_ms) ms; observed (status.observedGeneration) p50 \(.latency.observed_p50_ms) ms, p99 \(.latency.observed_p99_ms) ms; the API server answered the PATCH itself in p50 \(.latency.answered_p50_ms // "-") ms, p99 \(.latency.answered_p99_ms // "-") ms; " else "" end)complete (every child shows it; a scale-up waits for kube-controller-manager, the scheduler and kwok to start the new pods before they are routed, a scale-down holds the pool until the removal bound when gateways are not asked) p50 \(.latency.p50_ms) ms, p90 \(.latency.p90_ms) ms, p99 \(.latency.p99_ms) ms, max \(.latency.max_ms) ms. Peak RSS afterwards \(.peak_rss_after_latency_kib / 1024 * 10 | round / 10) MiB.")' "$json"
  jq -r '.converge[] | select(.latency.queue_wait) | "- During the 10/s run, keys waited for a worker (memshack_workqueue_queue_duration_seconds, bucket bounds): \(.latency.queue_wait | to_entries | map("\(.key) priority \(.value.count) keys, p50 ≤ \(.value.p50_le_seconds) s, p99 ≤ \(.value.p99_le_seconds) s") | join("; ")). High is a new object or a spec change; normal is everything else (a child or pod changed, a resync, a requeue)."' "$json"
  if jq -e '[.converge[] | select(.rss_parts_after)] | length > 0' "$json" >/dev/null; then
    echo
    echo "Where the RSS is (KiB; file-backed: the binary and shared libraries; anonymous: heap and stacks; heap in use / free from mallinfo2):"
    echo
    echo "| N | when | RSS | file-backed | anonymous | heap in use | heap free |"
    echo "|---|---|---|---|---|---|---|"
    jq -r '.converge[] | .n as $n | ([{when: "after converge", p: .rss_parts_after}] + (if .idle.rss_parts then [{when: "after idle", p: .idle.rss_parts}] else [] end) + (if .restart.rss_parts then [{when: "after a restart", p: .restart.rss_parts}] else [] end))[] | select(.p) |
      "| \($n) | \(.when) | \(.p.rss_kib) | \(.p.file_kib) | \(.p.anonymous_kib) | \(.p.heap_inuse_kib) | \(.p.heap_free_kib) |"' "$json"
  fi
  if jq -e '[.converge[] | .latency_rates // [] | length] | add > 0' "$json" >/dev/null; then
    echo
    echo "How PATCH → applied grows with the rate of spec changes (30 s at each rate after the 10/s run):"
    echo
    echo "| changes/s | sent | skipped (still changing) | superseded before complete | unfinished | API server answers the PATCH p50 / p99 (ms) | applied p50 / p99 / max (ms) | observed p50 / p99 (ms) | complete p50 / p99 (ms) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    jq -r '.converge[] | select(.latency) | ([.latency] + (.latency_rates // []))[] | "| \(.rate) | \(.sent) | \(.skipped_busy) | \(.superseded // "-") | \(.unfinished) | \(.answered_p50_ms // "-") / \(.answered_p99_ms // "-") | \(.applied_p50_ms // "-") / \(.applied_p99_ms // "-") / \(.applied_max_ms // "-") | \(.observed_p50_ms // "-") / \(.observed_p99_ms // "-") | \(.p50_ms) / \(.p99_ms) |"' "$json"
  fi
  echo
  if jq -e '(.side_by_side // []) | length > 0' "$json" >/dev/null; then
    echo "## Side by side with a controller-runtime peer"
    echo
    jq -r '"Peer: \(.peer.name), built from source and run on a fresh control plane of the same profile; N of its objects (3 replicas with a PodDisruptionBudget: 3 children each) created at once by the same client. Each operator makes its own children: memshack 8 per object, the peer 3, so per-child figures compare the work."' "$json"
    echo
    echo "| N | operator | children | every child exists (s) | all Ready (s) | API requests by verb | writes / child | CPU (s) | CPU ms / child | peak RSS (MiB) | RSS after (MiB) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    jq -r '.side_by_side[] | (.memshack | . + {who: "memshack"}), (.peer | . + {who: "peer"}) |
      "| \(.n) | \(.who) | \(.children_written) | \(.converge.children_seconds) | \(.converge.ready_seconds) | \(.requests | to_entries | sort_by(.key) | map("\(.key) \(.value)") | join(", ")) | \(.writes_per_child * 100 | round / 100) | \(.cpu_seconds) | \(.cpu_ms_per_child * 100 | round / 100) | \(.peak_rss_kib / 1024 * 10 | round / 10) | \(.rss_after_kib / 1024 * 10 | round / 10) |"' "$json"
    echo
    echo "| N | peak RSS memshack ÷ peer | CPU per child memshack ÷ peer | writes per child memshack ÷ peer |"
    echo "|---|---|---|---|"
    jq -r '.side_by_side[] | "| \(.n) | \(.rss_ratio * 1000 | round / 1000) | \(.cpu_per_child_ratio * 1000 | round / 1000) | \(.writes_per_child_ratio * 1000 | round / 1000) |"' "$json"
    jq -r '.peer.runs[] | select(.idle) | "\n- Peer idle \(.idle.seconds) s with \(.n) objects: **\(.idle.writes) API writes**, \(.idle.cpu_seconds) CPU seconds, RSS \(.idle.rss_kib / 1024 * 10 | round / 10) MiB."' "$json"
    echo
  fi
  echo "## Config generation (pure core)"
  jq -r '.render | "A \(.shards) × \(.replicas) Memshack (\(.objects) objects, \(.config_bytes)-byte mcrouter config): **\(.renders_per_second) renders/s** in process (\(.ms_per_render) ms each); `memshack render` as a process \(.process_ms_per_render * 100 | round / 100) ms."' "$json"
  echo
  echo "## Targets (recorded, not asserted)"
  jq -r '(.converge | max_by(.n)) as $r | .converge as $_ | (.fair_ceiling // {}) as $_f |
    "| target | measured | met |", "|---|---|---|",
    "| converge (children) at N=\($r.n) ≤ 1.2 × bound (\($r.ceiling_bound_seconds * 1.2 * 1000 | round / 1000) s) | \($r.converge.children_seconds) s | \(if $r.converge.children_seconds > 0 and $r.converge.children_seconds <= 1.2 * $r.ceiling_bound_seconds then "yes" else "no" end) |",
    (select(.fair_ceiling.children_seconds > 0) | "| converge (children) at N=\(.fair_ceiling.count) ≤ 1.2 × the fair ceiling (\(.fair_ceiling.children_seconds * 1.2 * 1000 | round / 1000) s) | \([.converge[] | select(.n == $_f.count)][0].converge.children_seconds // "-") s | \(([.converge[] | select(.n == $_f.count)][0].children_vs_fair // 1e9) as $q | if $q <= 1.2 then "yes" else "no" end) |"),
    "| 0 steady-state writes | \($r.idle.writes // "-") | \(if $r.idle.writes == 0 then "yes" else "no" end) |",
    (select($r.restart) | "| peak RSS of a restart at N=\($r.n) ≤ the chart'"'"'s memory limit (256 MiB) | \($r.restart.peak_rss_kib / 1024 * 10 | round / 10) MiB | \(if $r.restart.peak_rss_kib <= 262144 then "yes" else "no" end) |"),
    (select($r.restart) | "| 0 writes after a restart | \($r.restart.writes) | \(if $r.restart.writes == 0 then "yes" else "no" end) |"),
    (if $r.latency.applied_p99_ms then
      "| p99 PATCH → applied ≤ 50 ms at \($r.latency.rate)/s | \($r.latency.applied_p99_ms) ms | \(if $r.latency.applied_p99_ms <= 50 and $r.latency.applied_completed == $r.latency.sent then "yes" else "no" end) |",
      "| p50 PATCH → applied ≤ 10 ms at \($r.latency.rate)/s | \($r.latency.applied_p50_ms) ms | \(if $r.latency.applied_p50_ms <= 10 then "yes" else "no" end) |"
    else
      "| p99 update → applied ≤ 50 ms | \($r.latency.p99_ms // "-") ms | \(if ($r.latency.p99_ms // 1e9) <= 50 and ($r.latency.unfinished // 1) == 0 then "yes" else "no" end) |"
    end),
    "| operator RSS ≤ 32 MiB at N=\($r.n) | \([$r.peak_rss_kib, ($r.peak_rss_after_latency_kib // 0)] | max / 1024 * 10 | round / 10) MiB peak | \(if ([$r.peak_rss_kib, ($r.peak_rss_after_latency_kib // 0)] | max) <= 32768 then "yes" else "no" end) |",
    ((.side_by_side // []) | max_by(.n) // empty |
      "| peak RSS at N=\(.n) ≤ 16 MiB | \(.memshack.peak_rss_kib / 1024 * 10 | round / 10) MiB | \(if .memshack.peak_rss_kib <= 16384 then "yes" else "no" end) |",
      "| peak RSS at N=\(.n) ≤ 1/5 of the peer'"'"'s | \(.rss_ratio * 1000 | round / 1000) of \(.peer.peak_rss_kib / 1024 * 10 | round / 10) MiB | \(if .rss_ratio <= 0.2 then "yes" else "no" end) |",
      "| CPU per child written at N=\(.n) ≤ 1/4 of the peer'"'"'s | \(.cpu_per_child_ratio * 1000 | round / 1000) (\(.memshack.cpu_ms_per_child * 100 | round / 100) vs \(.peer.cpu_ms_per_child * 100 | round / 100) ms) | \(if .cpu_per_child_ratio <= 0.25 then "yes" else "no" end) |")' "$json"
  if ls "$out"/runs/*.json >/dev/null 2>&1; then
    echo
    echo "## Every kept run"
    echo
    echo "| run | commit | ceiling (w/s) | children N=max (s) | Ready N=max (s) | idle writes | p50 / p99 applied (ms; complete in runs before 2026-12-02) | peak RSS N=max (MiB) | renders/s |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for f in "$out"/runs/*.json; do
      jq -r '(.converge | max_by(.n)) as $r | "| \(.stamp) | \(.machine.commit) | \(.ceiling.writes_per_second) | \($r.converge.children_seconds) | \($r.converge.ready_seconds) | \($r.idle.writes // "-") | \($r.latency.applied_p50_ms // $r.latency.p50_ms // "-") / \($r.latency.applied_p99_ms // $r.latency.p99_ms // "-") | \([$r.peak_rss_kib, ($r.peak_rss_after_latency_kib // 0)] | max / 1024 * 10 | round / 10) | \(.render.renders_per_second) |"' "$f"
    done
    # Runs on this result's commit: each figure per run and the spread, (max - min) / mean.
    commit=$(jq -r '.machine.commit' "$json")
    same=()
    for f in "$out"/runs/*.json; do [ "$(jq -r '.machine.commit' "$f")" = "$commit" ] && same+=("$f"); done
    if [ ${#same[@]} -ge 2 ]; then
      echo
      echo "## Spread between the ${#same[@]} runs on commit $commit"
      echo
      echo "Spread: (largest - smallest) / mean of the runs, in %."
      echo
      jq -rs '
        def fig(name; f): {name: name, v: [.[] | f]};
        def big: (.converge | max_by(.n));
        def peerbig: ((.peer.runs // []) | max_by(.n));
        [ fig("ceiling (writes/s)"; .ceiling.writes_per_second),
          fig("fair ceiling: every child (s)"; .fair_ceiling.children_seconds),
          fig("converge N=max: every child (s)"; big.converge.children_seconds),
          fig("converge N=max: all Ready (s)"; big.converge.ready_seconds),
          fig("writes / Memshack N=max"; big.writes_per_memshack),
          fig("CPU N=max (s)"; big.cpu_seconds),
          fig("peak RSS N=max (MiB)"; big.peak_rss_kib / 1024),
          fig("idle CPU (s)"; big.idle.cpu_seconds),
          fig("restart peak RSS (MiB)"; (big.restart.peak_rss_kib // 0) / 1024),
          fig("applied p50 at 10/s (ms)"; big.latency.applied_p50_ms),
          fig("applied p99 at 10/s (ms)"; big.latency.applied_p99_ms),
          fig("peer N=max: every child (s)"; peerbig.converge.children_seconds),
          fig("peer N=max: peak RSS (MiB)"; peerbig.peak_rss_kib / 1024),
          fig("peer N=max: CPU (s)"; peerbig.cpu_seconds) ] as $figs
        | (["| figure | " + ([.[] | .stamp] | join(" | ")) + " | spread |",
            "|---|" + ([.[] | "---|"] | join("")) + "---|"] | .[]),
          ($figs[] | select(all(.v[]; . != null)) | .v as $v | ($v | add / length) as $mean
            | "| \(.name) | " + ([$v[] | . * 100 | round / 100 | tostring] | join(" | ")) + " | "
              + (if $mean == 0 then "-" else ((($v | max) - ($v | min)) / $mean * 1000 | round / 10 | tostring) + " %" end) + " |")
      ' "${same[@]}"
    fi
  fi
} > "$out/latest.md"
