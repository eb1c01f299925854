#!/usr/bin/env bash
# The controller runtime end to end, with the cm_mirror test controller
# against the "faults" control plane:
#   reconcile + revert + delete; zero writes on a no-op change; /healthz,
#   /readyz, /metrics; the API server restarted under a running controller;
#   SIGTERM drains in-flight work and exits 0, a second signal exits at once;
#   leader election: one leader, SIGKILL takeover within lease + retry,
#   SIGTERM hand-over near-immediate.
# Usage: runtime_e2e.sh CM_MIRROR_BINARY   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture)
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
testenv=$here/../../tools/testenv/testenv.sh
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
ns=it-runtime-$$
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# until SECONDS CMD...: retries CMD every 0.2 s for at most SECONDS.


# start NAME [flags...]: runs cm_mirror in the background, logs to $tmp/NAME.log, health port in $tmp/NAME.port
start() {
  local name=$1; shift
  local port; port=$(free_port)
  echo "$port" > "$tmp/$name.port"
  ${MEMSHACK_WRAPPER:-} "$bin" --namespace "$ns" --metrics-bind-address 0 \
    --health-probe-bind-address "127.0.0.1:$port" --identity "$name" "$@" > "$tmp/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  echo "$pid" > "$tmp/$name.pid"
}
pid_of() { cat "$tmp/$1.pid"; }
url() { echo "http://127.0.0.1:$(cat "$tmp/$1.port")$2"; }
mirror_value() { kubectl -n "$ns" get configmap "$1-mirror" -o jsonpath='{.data.v}' 2>/dev/null; }
mirrored_by() { kubectl -n "$ns" get configmap "$1-mirror" -o jsonpath='{.metadata.annotations.memshack\.io/mirrored-by}' 2>/dev/null; }
source_cm() { # NAME VALUE
  kubectl -n "$ns" apply -f - >/dev/null <<CM
apiVersion: v1
kind: ConfigMap
metadata: {name: $1, labels: {memshack.io/mirror-source: "true"}}
data: {v: "$2"}
CM
}
has_value() { [ "$(mirror_value "$1")" = "$2" ]; }
no_mirror() { ! kubectl -n "$ns" get configmap "$1-mirror" >/dev/null 2>&1; }
writes() { # the API writes a process made, from its metrics
  curl -s "$(url "$1" /metrics)" | awk '/^memshack_api_requests_total\{method="(POST|PUT|PATCH|DELETE)"/ {s += $2} END {print s + 0}'
}
holder() { kubectl -n "$ns" get lease cm-mirror-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
holder_is() { [ "$(holder)" = "$1" ]; }
has_holder() { [ -n "$(holder)" ]; }
exited() { ! kill -0 "$1" 2>/dev/null; }
exit_code() { wait "$1" 2>/dev/null; echo $?; }

kubectl create namespace "$ns" >/dev/null

# --- basic reconcile, revert, delete, probes, metrics -------------------------
start a
until_ok 30 curl -sf "$(url a /readyz)" && ok "readyz 200 once caches synced" || bad "readyz never 200"
[ "$(curl -s "$(url a /healthz)")" = ok ] && ok "healthz" || bad "healthz"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$(url a /nope)")" = 404 ] && ok "unknown path 404" || bad "unknown path"
source_cm s1 one
until_ok 30 has_value s1 one && ok "mirror created" || bad "mirror not created"
kubectl -n "$ns" patch configmap s1-mirror --type merge -p '{"data":{"v":"hacked"}}' >/dev/null
until_ok 30 has_value s1 one && ok "edited mirror reverted" || bad "edit not reverted"
source_cm s1 two
until_ok 30 has_value s1 two && ok "mirror follows its source" || bad "mirror did not follow"
sleep 1
w0=$(writes a)
kubectl -n "$ns" label configmap s1 touched=yes >/dev/null   # a change that needs no write
until_ok 10 grep -q "s1: reconciled: up to date" "$tmp/a.log"
sleep 1
w1=$(writes a)
[ "$w0" = "$w1" ] && ok "no-op reconcile made zero writes ($w0 before, $w1 after)" || bad "no-op reconcile wrote ($w0 -> $w1)"
m=$(curl -s "$(url a /metrics)")
for metric in 'memshack_reconcile_total{controller="cm-mirror",result="success"}' memshack_reconcile_duration_seconds_bucket \
    'memshack_workqueue_depth{name="cm-mirror"}' memshack_watch_relists_total 'memshack_api_requests_total{method="GET",code="200"}' \
    memshack_process_resident_memory_bytes memshack_process_heap_inuse_bytes 'memshack_leader ' memshack_events_created_total; do
  grep -qF "$metric" <<<"$m" && ok "metric $metric" || bad "metric $metric missing"
done
kubectl -n "$ns" delete configmap s1 >/dev/null
until_ok 30 no_mirror s1 && ok "mirror deleted with its source" || bad "orphan mirror left"
event_seen() {
  kubectl -n "$ns" get events.events.k8s.io -o jsonpath='{range .items[*]}{.reason} {.reportingController}{"\n"}{end}' \
    | grep -c "MirrorCreated memshack.io/operator" >/dev/null
}
until_ok 10 event_seen && ok "event recorded" \
  || { bad "no event"; grep -i event "$tmp/a.log"; kubectl -n "$ns" get events.events.k8s.io; }

# --- API server restarted under a running controller --------------------------
"$testenv" stop kube-apiserver --dir "$MEMSHACK_TESTENV_DIR"
sleep 2
"$testenv" start kube-apiserver --dir "$MEMSHACK_TESTENV_DIR" >/dev/null
source_cm s2 after-restart
until_ok 60 has_value s2 after-restart && ok "reconciles after the API server restarted" || bad "stuck after restart"
exited "$(pid_of a)" && bad "controller died during the restart" || ok "controller survived the restart"

# --- SIGTERM drains in-flight work; a second signal exits at once ------------
kill -TERM "$(pid_of a)"
until_ok 20 exited "$(pid_of a)"
code=$(exit_code "$(pid_of a)")
[ "$code" = 0 ] && ok "SIGTERM: exit 0" || bad "SIGTERM: exit $code"
MIRROR_SLOW_MS=3000 start slow --log-format json
until_ok 30 curl -sf "$(url slow /readyz)"
source_cm s3 slow
until_ok 10 grep -q "caches synced" "$tmp/slow.log"
sleep 1   # the reconcile of s3 is under way (it takes 3 s)
kill -TERM "$(pid_of slow)"
until_ok 20 exited "$(pid_of slow)"
code=$(exit_code "$(pid_of slow)")
[ "$code" = 0 ] && has_value s3 slow && ok "SIGTERM let the in-flight reconcile finish (mirror written, exit 0)" \
  || bad "in-flight reconcile lost on SIGTERM (exit $code, mirror '$(mirror_value s3)')"
grep -qE '^\{"time":"[0-9T:.-]+Z","level":"info","msg":"reconciled: mirror written by slow","controller":"cm-mirror","key":"'"$ns"'/s3"\}$' "$tmp/slow.log" \
  && ok "--log-format json: one JSON object per line with time, level, msg, controller, key" || { bad "json log line"; tail -3 "$tmp/slow.log"; }
MIRROR_SLOW_MS=5000 start slow2
until_ok 30 curl -sf "$(url slow2 /readyz)"
source_cm s4 x
sleep 1
kill -TERM "$(pid_of slow2)"; sleep 0.3; kill -TERM "$(pid_of slow2)"
until_ok 3 exited "$(pid_of slow2)" && code=$(exit_code "$(pid_of slow2)") || code=running
[ "$code" = 1 ] && ok "second SIGTERM exits at once with 1" || bad "second SIGTERM: $code"

# --- leader election -----------------------------------------------------------
lease_s=6 renew_s=4 retry_s=1 ready_s=20
# valgrind slows the process 20-50 times: a Lease request (timeout: half the renew deadline)
# on a fresh TLS connection does not fit 2 s, so client-go's default durations, as in
# leader_fence_e2e; the bounds below follow the durations.
[ -n "${MEMSHACK_WRAPPER:-}" ] && lease_s=15 renew_s=10 retry_s=2 ready_s=90
le=(--leader-elect --lease-namespace "$ns" --leader-elect-lease-duration "$lease_s" --leader-elect-renew-deadline "$renew_s" --leader-elect-retry-period "$retry_s")
start le1 "${le[@]}"
start le2 "${le[@]}"
until_ok 30 has_holder && ok "a leader was elected: $(holder)" || bad "no leader"
until_ok "$ready_s" curl -sf "$(url le1 /readyz)" && until_ok "$ready_s" curl -sf "$(url le2 /readyz)" \
  && ok "leader and standby are both ready" || bad "a candidate is not ready"
first=$(holder); second=le2; [ "$first" = le2 ] && second=le1
source_cm s5 v5
until_ok 30 has_value s5 v5
[ "$(mirrored_by s5)" = "$first" ] && ok "the leader reconciles" || bad "mirror written by '$(mirrored_by s5)', leader $first"
grep -q "reconciled" "$tmp/$second.log" && bad "the standby reconciled" || ok "the standby did not reconcile"
# Read whole before matching: grep -q would close the pipe early and, under pipefail, curl's SIGPIPE fail it.
leader_metric() { curl -s "$(url "$1" /metrics)" | awk '$1 == "memshack_leader" {print $2}'; }
[ "$(leader_metric "$first")" = 1 ] && [ "$(leader_metric "$second")" = 0 ] \
  && ok "memshack_leader gauge" || bad "memshack_leader gauge"
t0=$(date +%s.%N)
kill -KILL "$(pid_of "$first")"
until_ok $((lease_s * 5)) holder_is "$second"
t1=$(date +%s.%N)
took=$(echo "$t1 - $t0" | bc)
echo "     takeover after SIGKILL: ${took}s (lease $lease_s s + retry $retry_s s)"
[ "$(holder)" = "$second" ] && (( $(echo "$took <= $((lease_s + retry_s + 2))" | bc) )) && ok "standby took over after SIGKILL within lease + retry (+2 s slack)" \
  || bad "takeover after SIGKILL: holder '$(holder)' after ${took}s"
source_cm s6 v6
until_ok 30 has_value s6 v6
[ "$(mirrored_by s6)" = "$second" ] && ok "the new leader reconciles" || bad "s6 mirrored by '$(mirrored_by s6)'"
start le3 "${le[@]}"
until_ok "$ready_s" curl -sf "$(url le3 /readyz)"
sleep "$retry_s"
t0=$(date +%s.%N)
kill -TERM "$(pid_of "$second")"
until_ok 20 holder_is le3
t1=$(date +%s.%N)
took=$(echo "$t1 - $t0" | bc)
echo "     hand-over after SIGTERM: ${took}s (retry period $retry_s s)"
[ "$(holder)" = le3 ] && (( $(echo "$took <= $((retry_s + 2))" | bc) )) && ok "SIGTERM released the lease: hand-over near-immediate" \
  || bad "hand-over after SIGTERM: holder '$(holder)' after ${took}s"
until_ok 20 exited "$(pid_of "$second")"
code=$(exit_code "$(pid_of "$second")")
[ "$code" = 0 ] && ok "SIGTERMed leader exits 0" || bad "SIGTERMed leader exit $code"
# Another process takes the lease from under the leader: it stops and exits non-zero.
kubectl -n "$ns" patch lease cm-mirror-leader --type merge -p '{"spec":{"holderIdentity":"intruder","leaseDurationSeconds":60}}' >/dev/null
until_ok 10 exited "$(pid_of le3)"
code=$(exit_code "$(pid_of le3)")
[ "$code" = 1 ] && ok "a lost lease exits 1" || bad "lost lease: exit $code"

finish
