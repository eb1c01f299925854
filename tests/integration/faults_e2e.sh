#!/usr/bin/env bash
# The fault matrix, on a full control plane of its own ("fullfaults": watch
# cache off so that compacted etcd history expires watches; the legacy
# in-flight limit, 4 reads / 1 write at a time, for everything that is not
# system:masters, so that a ServiceAccount operator meets 429s). After every
# fault the namespace must converge: every Memshack Ready for its current
# generation, exactly its children (none duplicated, none orphaned), every
# config matching its status digest, every pod admitted under Pod Security
# "restricted".
#
#   1 kube-apiserver restarted while 50 Memshacks (20 under valgrind) are being created
#   2 etcd restarted, changes made right after
#   3 the operator's connections cut, changes made, etcd compacted: its
#     watches expire (410), it relists and misses nothing
#   4 the operator SIGKILLed mid-reconcile and restarted
#   5 two operators with leader election: the leader SIGKILLed mid-reconcile
#     (the standby finishes), then SIGTERMed (hand-over within the retry period)
#   6 a human fighting the operator over a StatefulSet's replicas: reverted
#     with backoff, events aggregated, bounded writes, quiet afterwards
#   7 the operator as a ServiceAccount meeting 429s: converges, and every
#     retry comes after the Retry-After the API server sent
#   8 the ServiceAccount token file rotated and the old token revoked:
#     picked up without a restart
#   9 no credential in any log, trace or event; TLS verified unless the
#     kubeconfig says insecure-skip-tls-verify
#
# Usage: faults_e2e.sh MEMSHACK_BINARY   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture)
set -uo pipefail
bin=$1
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
testenv="$(cd "$(dirname "$0")/../.." && pwd)/tools/testenv/testenv.sh"
export PATH="$testenv_bin:$PATH"
ns=it-faults-$$
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
pids=()
relay_pid=
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$relay_pid" ] && kill -KILL "$relay_pid" 2>/dev/null
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
  kubectl delete clusterrolebinding "$ns-operator" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
k() { kubectl -n "$ns" "$@"; }
api_port=$(cat "$MEMSHACK_TESTENV_DIR/apiserver.port")
# Sizes: valgrind makes the operator 20-50 times slower; the same scenarios run with fewer objects.
n_create=50 n_kill=20 n_sa=10
[ -n "${MEMSHACK_WRAPPER:-}" ] && { n_create=20 n_kill=10 n_sa=4; }
etcd_port=$(cat "$MEMSHACK_TESTENV_DIR/etcd.port")

# ---- set-up -----------------------------------------------------------------------------
kubectl create namespace "$ns" >/dev/null && kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/enforce-version=latest >/dev/null || { bad "namespace"; finish; exit 1; }
"$bin" crd | kubectl apply --server-side --force-conflicts -f - >/dev/null &&
  kubectl wait --for=condition=Established crd/memshacks.memshack.io --timeout=30s >/dev/null || bad "CRDs"
for _ in $(seq 1 50); do k get serviceaccount default >/dev/null 2>&1 && break; sleep 0.2; done

# The operator reaches the API server through a TCP relay that scenario 3 cuts.
relay_port=$(free_port)
relay_start() {
  socat "TCP-LISTEN:$relay_port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$api_port" 2>/dev/null &
  relay_pid=$!
  until_ok 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$relay_port"
}
relay_stop() { pkill -KILL -P "$relay_pid" 2>/dev/null; kill -KILL "$relay_pid" 2>/dev/null; wait "$relay_pid" 2>/dev/null; relay_pid=; }
relay_start
sed "s#server: https://127.0.0.1:$api_port#server: https://127.0.0.1:$relay_port#" "$KUBECONFIG" > "$tmp/relay.kubeconfig"

# operator_start NAME [extra flags...]: an operator with its own metrics/health ports and log.
declare -A mport hport opid
operator_start() {
  local name=$1; shift
  mport[$name]=$(free_port); hport[$name]=$(free_port)
  ${MEMSHACK_WRAPPER:-} "$bin" run --gateway-probe-timeout-ms 0 --namespace "$ns" --pool-removal-delay 1 --event-series-interval 1 \
    --metrics-bind-address "127.0.0.1:${mport[$name]}" --health-probe-bind-address "127.0.0.1:${hport[$name]}" \
    "$@" >> "$tmp/$name.log" 2>&1 &
  opid[$name]=$!
  pids+=("$!")
}
operator_ready() { until_ok 180 curl -sf "http://127.0.0.1:${hport[$1]}/readyz"; } # every cache synced
metric() { curl -s "http://127.0.0.1:${mport[$1]}/metrics" | awk -v m="$2" 'index($1, m) == 1 {s += $2} END {print s + 0}'; }
writes() { curl -s "http://127.0.0.1:${mport[$1]}/metrics" | awk '/^memshack_api_requests_total\{method="(POST|PUT|PATCH|DELETE)"/ {s += $2} END {print s + 0}'; }
is_leader() { [ "$(metric "$1" memshack_leader)" = 1 ]; }

# Every shard change is a warm migration (the default mode) with no window: the migration runs through
# its phases (its record in the status) across the restarts and leader changes below.
manifest() { # NAME SHARDS REPLICAS GATEWAYS
  printf 'apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: %s, namespace: %s}\nspec: {numShards: %d, numReplicas: %d, mcrouterPoolSize: %d, migration: {windowSeconds: 0}}\n---\n' \
    "$1" "$ns" "$2" "$3" "$4"
}

# The convergence check: prints what is wrong, nothing when all is well.
problems() {
  kubectl -n "$ns" get memshacks,statefulsets,deployments,configmaps,services,poddisruptionbudgets,pods -o json 2>/dev/null | jq -r '
    def owned: [.items[] | select(.metadata.labels["memshack.io/memshack"] != null)];
    [.items[] | select(.kind == "Memshack")] as $ms
    | ($ms | map(.metadata.uid)) as $uids
    | owned as $children
    | ($children | map(select(.kind != "Pod"))) as $objs
    | ($ms[] | select(.metadata.deletionTimestamp == null) |
        select((.status.observedGeneration // 0) != .metadata.generation
          or ([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length) == 0)
        | "not Ready: \(.metadata.name) (\([.status.conditions[]? | select(.type == "Ready") | .reason] | join(",")))"),
      ($objs[] | select(([.metadata.ownerReferences[]? | select(.controller == true) | .uid] | first) as $o | ($uids | index($o)) == null)
        | "orphan: \(.kind) \(.metadata.name)"),
      ($ms[] | . as $m | .spec as $s
        | [$objs[] | select(.metadata.labels["memshack.io/memshack"] == $m.metadata.name)] as $mine
        | ({StatefulSet: $s.numReplicas, Deployment: 1, ConfigMap: 1, Service: 2, PodDisruptionBudget: 2} | to_entries[]
            | . as $want | ([$mine[] | select(.kind == $want.key)] | length) as $have
            | select($have != $want.value) | "\($m.metadata.name): \($have) \($want.key)s, want \($want.value)"),
          ([$children[] | select(.kind == "Pod" and .metadata.labels["memshack.io/memshack"] == $m.metadata.name
              and .metadata.labels["app.kubernetes.io/component"] == "pool" and .metadata.deletionTimestamp == null)] | length) as $pods
          | select($pods != $s.numShards * $s.numReplicas) | "\($m.metadata.name): \($pods) memcached pods, want \($s.numShards * $s.numReplicas)")'
}
config_mismatches() {
  local n=0 name want have
  while read -r name want; do
    have=$(k get configmap "$name-memshack-mcrouter" -o jsonpath='{.data.config\.json}' | md5sum | cut -c1-32)
    [ "$have" = "$want" ] || { echo "config of $name: md5 $have, status says $want"; n=$((n + 1)); }
  done < <(k get memshack -o jsonpath='{range .items[*]}{.metadata.name} {.status.configDigest}{"\n"}{end}')
  return $n
}
is_converged() { [ -z "$(problems)" ] && config_mismatches >/dev/null; }
# converged LABEL SECONDS: waits for convergence, then reports.
converged() {
  if until_ok "$2" is_converged; then ok "$1: converged ($(k get memshack --no-headers | wc -l) Memshacks, nothing duplicated or orphaned)"
  else bad "$1: not converged:"; problems | head -n 10; config_mismatches | head -n 5; fi
}

# ---- 1: kube-apiserver restarted while $n_create Memshacks are being created -------------------
operator_start main --kubeconfig "$tmp/relay.kubeconfig"
operator_ready main && ok "operator ready" || { bad "operator not ready"; cat "$tmp/main.log"; finish; exit 1; }
for i in $(seq 1 "$n_create"); do manifest "c$i" 1 1 1; done > "$tmp/fifty.yaml"
( for i in $(seq 1 "$n_create"); do manifest "c$i" 1 1 1 | kubectl apply -f - >/dev/null 2>&1; done ) &
creator=$!
sleep 1
"$testenv" stop kube-apiserver --dir "$MEMSHACK_TESTENV_DIR" >/dev/null
sleep 3
"$testenv" start kube-apiserver --dir "$MEMSHACK_TESTENV_DIR" >/dev/null || bad "kube-apiserver did not restart"
wait "$creator"
created=$(k get memshack --no-headers 2>/dev/null | wc -l)
kubectl apply -f "$tmp/fifty.yaml" >/dev/null || bad "re-applying the $n_create"
echo "# $created of $n_create were created before the restart cut the client off; the rest re-applied"
converged "apiserver restart during $n_create creations" 240

# ---- 2: etcd restarted ---------------------------------------------------------------------
"$testenv" stop etcd --dir "$MEMSHACK_TESTENV_DIR" >/dev/null
sleep 3
"$testenv" start etcd --dir "$MEMSHACK_TESTENV_DIR" >/dev/null
until_ok 60 kubectl get --raw /readyz || bad "API not ready after the etcd restart"
for i in $(seq 1 10); do k patch memshack "c$i" --type merge -p '{"spec":{"numShards":2}}' >/dev/null || bad "patch c$i"; done
converged "etcd restart" 180

# ---- 3: watches expire (410) while changes happen -------------------------------------------------
relists0=$(metric main memshack_watch_relists_total)
relay_stop
sleep 1
for i in $(seq 11 15); do k patch memshack "c$i" --type merge -p '{"spec":{"numReplicas":2}}' >/dev/null; done
k delete memshack "c$((n_create - 1))" "c$n_create" --wait=false >/dev/null
manifest w1 1 1 1 | kubectl apply -f - >/dev/null
manifest w2 2 1 1 | kubectl apply -f - >/dev/null
rev=$(curl -sf -X POST "http://127.0.0.1:$etcd_port/v3/kv/range" -d '{"key":"AA=="}' | jq -r .header.revision)
curl -sf -X POST "http://127.0.0.1:$etcd_port/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null \
  && ok "etcd compacted at revision $rev while the operator was cut off" || bad "etcd compaction"
relay_start || bad "relay restart"
relisted() { [ "$(metric main memshack_watch_relists_total)" -gt "$relists0" ]; }
until_ok 60 relisted && ok "the operator relisted after its watches expired ($relists0 -> $(metric main memshack_watch_relists_total))" \
  || bad "no relist after the compaction"
gone() { ! k get memshack "c$((n_create - 1))" >/dev/null 2>&1 && ! k get memshack "c$n_create" >/dev/null 2>&1; }
until_ok 60 gone || bad "the two deleted Memshacks are still there"
converged "410 during changes" 180
[ "$(k get statefulset c11-memshack-pool-1 -o jsonpath='{.spec.replicas}' 2>/dev/null)" = 1 ] \
  && ok "a change made while the watch was gone was applied (c11 got its second pool)" || bad "c11 pool-1 missing"

# ---- 4: the operator SIGKILLed mid-reconcile and restarted ------------------------------------------
a0=$(metric main memshack_child_applies_total)
for i in $(seq 1 "$n_kill"); do manifest "k$i" 2 1 1; done | kubectl apply -f - >/dev/null
killed_mid() { [ "$(metric main memshack_child_applies_total)" -ge $((a0 + 8)) ]; }
until_ok 30 killed_mid
a1=$(metric main memshack_child_applies_total)
kill -KILL "${opid[main]}"; wait "${opid[main]}" 2>/dev/null
[ $((a1 - a0)) -lt $((n_kill * 7)) ] && ok "killed mid-reconcile ($((a1 - a0)) of $((n_kill * 7)) child applies done)" || bad "the kill came too late ($((a1 - a0)) applies)"
operator_start main --kubeconfig "$tmp/relay.kubeconfig"
operator_ready main || bad "restarted operator not ready"
converged "SIGKILL mid-reconcile + restart" 180
kill -TERM "${opid[main]}"; wait "${opid[main]}" 2>/dev/null

# ---- 5: leader election: SIGKILL and SIGTERM of the leader ------------------------------------------
le=(--leader-elect --lease-namespace "$ns" --lease-name memshack-faults --leader-elect-lease-duration 6
    --leader-elect-renew-deadline 4 --leader-elect-retry-period 1)
operator_start a "${le[@]}"; operator_start b "${le[@]}"
operator_ready a; operator_ready b
either_leader() { is_leader a || is_leader b; }
until_ok 30 either_leader || bad "nobody leads"
if is_leader a; then leader=a standby=b; else leader=b standby=a; fi
ok "operator $leader leads, $standby stands by"
a0=$(metric "$leader" memshack_child_applies_total)
for i in $(seq 1 "$n_kill"); do k patch memshack "k$i" --type merge -p '{"spec":{"numReplicas":2}}' >/dev/null; done
leader_mid() { [ "$(metric "$leader" memshack_child_applies_total)" -ge $((a0 + 3)) ]; }
until_ok 30 leader_mid
kill -KILL "${opid[$leader]}"; wait "${opid[$leader]}" 2>/dev/null
t0=$(date +%s.%N)
until_ok 30 is_leader "$standby" && ok "standby took over $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $t0}") s after the leader's SIGKILL (lease 6 s)" \
  || bad "no takeover after SIGKILL"
converged "leader SIGKILLed mid-reconcile" 180
leader=$standby
operator_start c "${le[@]}"; operator_ready c; standby=c
for i in $(seq 1 "$n_kill"); do k patch memshack "k$i" --type merge -p '{"spec":{"numShards":1}}' >/dev/null; done
sleep 0.5
kill -TERM "${opid[$leader]}"
t0=$(date +%s.%N)
until_ok 10 is_leader "$standby"
seen=$(awk "BEGIN {printf \"%.2f\", $(date +%s.%N) - $t0}")
wait "${opid[$leader]}" 2>/dev/null; code=$?
[ "$code" = 0 ] && ok "the old leader exited 0" || bad "old leader exit $code"
# The gap with no leader, from the two processes' own clocks (one machine): the old
# leader's "released lease" to the standby's "became leader". Before the release the
# old leader still leads (it finishes its in-flight reconciles), so that is no gap.
log_time() { # FILE PATTERN -> epoch seconds of the last line matching
  local when; when=$(grep "$2" "$1" | tail -n 1 | cut -d' ' -f1)
  [ -n "$when" ] && date -d "$when" +%s.%N
}
released=$(log_time "$tmp/$leader.log" "released lease") acquired=$(log_time "$tmp/$standby.log" "became leader")
if [ -n "$released" ] && [ -n "$acquired" ]; then
  gap=$(awk "BEGIN {printf \"%.2f\", $acquired - $released}") drain=$(awk "BEGIN {printf \"%.2f\", $released - $t0}")
  # The standby tries once per retry period (1 s); its try is one GET and one PUT.
  awk "BEGIN {exit !($gap <= 2.0)}" && ok "SIGTERM: no leader for $gap s between release and takeover (retry period 1 s; drain of in-flight work $drain s)" \
    || bad "SIGTERM hand-over gap $gap s (released, then taken over)"
else
  bad "SIGTERM hand-over: no release/takeover lines in the logs"; tail -n 5 "$tmp/$leader.log" "$tmp/$standby.log"
fi
# Seen from outside (metrics polled): SIGTERM to the standby leading. valgrind slows the drain.
limit=2.0
[ -n "${MEMSHACK_WRAPPER:-}" ] && limit=4.0
awk "BEGIN {exit !($seen <= $limit)}" && ok "SIGTERM: the standby leads $seen s after the signal" || bad "SIGTERM: the standby led only $seen s after the signal"
converged "leader SIGTERMed mid-reconcile" 180
kill -TERM "${opid[c]}"; wait "${opid[c]}" 2>/dev/null

# ---- 6: a human fighting the operator ------------------------------------------------------
operator_start main --kubeconfig "$tmp/relay.kubeconfig"
operator_ready main
sleep 2
w0=$(writes main); a0=$(metric main memshack_child_applies_total)
fight_mark=$(wc -l < "$MEMSHACK_TESTENV_DIR/logs/audit.log")
edits=0
for _ in $(seq 1 30); do k scale statefulset c16-memshack-pool-0 --replicas=4 >/dev/null 2>&1 && edits=$((edits + 1)); sleep 0.3; done
w1=$(writes main); a1=$(metric main memshack_child_applies_total)
reverts=$((a1 - a0))
# What the operator wrote during the fight, by verb and resource (from the audit log).
fight_writes=$(tail -n +"$((fight_mark + 1))" "$MEMSHACK_TESTENV_DIR/logs/audit.log" | jq -rs '
  [.[] | select(.stage == "ResponseComplete" and (.userAgent // "" | startswith("memshack/"))
         and (.verb | IN("create", "update", "patch", "delete")))
   | "\(.verb) \(.objectRef.resource)\(if .objectRef.subresource then "/" + .objectRef.subresource else "" end)"]
  | group_by(.) | map("\(length) \(.[0])") | join(", ")')
echo "# operator writes during the fight (audit log, more may follow the window): $fight_writes"
[ "$reverts" -ge 3 ] && [ "$reverts" -le 10 ] && ok "$edits hand edits in 9 s: reverted $reverts times (backing off)" \
  || bad "$edits hand edits: $reverts reverts (want 3..10)"
# Besides the reverts: status writes as the human's pods come and go, and the aggregated Events'
# series updates (every second here, --event-series-interval 1). At most about one write per edit.
[ $((w1 - w0)) -le $((edits + 10)) ] && ok "operator writes during the fight: $((w1 - w0)) for $edits edits ($reverts reverts; the rest status and event series)" \
  || bad "$((w1 - w0)) writes during $edits edits"
restored() { [ "$(k get statefulset c16-memshack-pool-0 -o jsonpath='{.spec.replicas}')" = 1 ]; }
until_ok 60 restored && ok "the StatefulSet is restored once the human stops" || bad "not restored"
sleep 3
w2=$(writes main); sleep 5; w3=$(writes main)
[ "$w2" = "$w3" ] && ok "quiet afterwards: no writes in 5 s (no hot loop)" || bad "still writing: $w2 -> $w3"
ev=$(k get events.events.k8s.io --field-selector regarding.name=c16 -o json)
contested=$(jq '[.items[] | select(.reason == "ChildContested")] | length' <<<"$ev")
applied_objs=$(jq '[.items[] | select(.reason == "Applied")] | length' <<<"$ev")
applied_count=$(jq '[.items[] | select(.reason == "Applied") | (.series.count // 1)] | add // 0' <<<"$ev")
[ "$contested" -ge 1 ] && ok "ChildContested warning recorded" || bad "no ChildContested event"
[ "$applied_objs" -le 3 ] && [ "$applied_count" -ge "$applied_objs" ] \
  && ok "events aggregated: $applied_objs Applied Event objects for $applied_count occurrences" || bad "$applied_objs Applied events"
kill -TERM "${opid[main]}"; wait "${opid[main]}" 2>/dev/null

# ---- 7: 429s for a ServiceAccount operator ------------------------------------------------------
k create serviceaccount op >/dev/null
kubectl create clusterrolebinding "$ns-operator" --clusterrole=cluster-admin --serviceaccount="$ns:op" >/dev/null
k create secret generic tok-a >/dev/null; k create secret generic tok-b >/dev/null
k create token op --bound-object-kind Secret --bound-object-name tok-a --duration 1h > "$tmp/token" || bad "token A"
token_a=$(cat "$tmp/token")
ca=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
cat > "$tmp/sa.kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: sa
contexts: [{name: sa, context: {cluster: local, user: sa, namespace: $ns}}]
clusters: [{name: local, cluster: {server: "https://127.0.0.1:$api_port", certificate-authority-data: $ca}}]
users: [{name: sa, user: {tokenFile: "$tmp/token"}}]
KC
audit_mark=$(wc -l < "$MEMSHACK_TESTENV_DIR/logs/audit.log")
operator_start sa --kubeconfig "$tmp/sa.kubeconfig"
operator_ready sa || bad "SA operator not ready"
for i in $(seq 1 "$n_sa"); do manifest "t$i" 2 2 2; done | kubectl apply -f - >/dev/null
converged "throttled (429) ServiceAccount operator" 300
throttled=$(curl -s "http://127.0.0.1:${mport[sa]}/metrics" | awk '/^memshack_api_requests_total\{.*code="429"/ {s += $2} END {print s + 0}')
[ "$throttled" -gt 0 ] && ok "the API server answered 429 $throttled times" || bad "no 429 seen (the limit did not bite)"
# Every 429's retry (same verb and URI, same user) came at least Retry-After (1 s) later.
tail -n +"$((audit_mark + 1))" "$MEMSHACK_TESTENV_DIR/logs/audit.log" | jq -c --arg u "system:serviceaccount:$ns:op" '
  select(.user.username == $u and .stage == "ResponseComplete") | {v: .verb, uri: .requestURI, code: .responseStatus.code,
  t: ((.requestReceivedTimestamp | sub("\\.[0-9]+Z$"; "Z") | fromdate) + (.requestReceivedTimestamp | capture("\\.(?<f>[0-9]+)Z$") | .f | "0." + . | tonumber))}' \
  > "$tmp/sa-audit.jsonl"
retry_report=$(jq -rs '
  [ . as $all | range(0; length) as $i | $all[$i] | select(.code == 429) | . as $r
    | ([$all[($i + 1):][] | select(.v == $r.v and .uri == $r.uri)] | first) as $next
    | if $next == null then "none" else ($next.t - $r.t) end ]
  | "\(length) \(map(select(. != "none")) | min // "-") \(map(select(. == "none")) | length)"' "$tmp/sa-audit.jsonl")
read -r n429 min_gap unretried <<<"$retry_report"
if [ "$n429" -gt 0 ] && awk "BEGIN {exit !($min_gap >= 0.9)}"; then
  ok "audit log: $n429 requests refused with 429; the quickest retry came $min_gap s later (Retry-After: 1); $unretried not retried (the reconcile moved on)"
else bad "429 retries: $retry_report"; fi

# ---- 8: token file rotated, old token revoked -------------------------------------------------------
k create token op --bound-object-kind Secret --bound-object-name tok-b --duration 1h > "$tmp/token.new" || bad "token B"
token_b=$(cat "$tmp/token.new")
mv "$tmp/token.new" "$tmp/token"
k delete secret tok-a >/dev/null
revoked() { ! kubectl --kubeconfig /dev/null --token "$token_a" --server "https://127.0.0.1:$api_port" --insecure-skip-tls-verify \
  get --raw /api >/dev/null 2>&1; }
until_ok 30 revoked && ok "token A revoked" || bad "token A still valid"
manifest rotated 1 1 1 | kubectl apply -f - >/dev/null
rotated_ready() { [ "$(k get memshack rotated -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
until_ok 120 rotated_ready && ok "a Memshack created after the rotation is Ready: the new token was picked up" || bad "not Ready after rotation"
kill -0 "${opid[sa]}" 2>/dev/null && ok "same operator process (no restart)" || bad "the SA operator died"
converged "after token rotation" 120
kill -TERM "${opid[sa]}"; wait "${opid[sa]}" 2>/dev/null

# ---- 9: no credentials anywhere; TLS verified by default --------------------------------------------
MEMSHACK_CURL_VERBOSE=1 "$bin" check --kubeconfig "$tmp/sa.kubeconfig" > "$tmp/trace.log" 2>&1
grep -q 'Authorization: \[redacted\]' "$tmp/trace.log" && ok "curl trace shows the Authorization header redacted" || bad "no redacted header in the trace"
admin_token=$(cat "$MEMSHACK_TESTENV_DIR/admin.token")
k get events -o json > "$tmp/events.json"; kubectl get events.events.k8s.io -A -o json >> "$tmp/events.json"
leaks=0
for secret in "$token_a" "$token_b" "$admin_token"; do
  for f in "$tmp"/*.log "$tmp/events.json"; do
    grep -qF "$secret" "$f" && { bad "a token appears in $(basename "$f")"; leaks=$((leaks + 1)); }
  done
done
[ "$leaks" = 0 ] && ok "no token in $(find "$tmp" -name '*.log' | wc -l) operator logs/traces or $(jq -s '[.[].items | length] | add' "$tmp/events.json") events"
sed 's/, certificate-authority-data: [^}]*}}]$/}}]/' "$tmp/sa.kubeconfig" > "$tmp/noca.kubeconfig"
out=$("$bin" check --kubeconfig "$tmp/noca.kubeconfig" 2>&1) && bad "connected without a trusted CA" \
  || { grep -qi 'certificate' <<<"$out" && ok "TLS verified by default: $(head -c 120 <<<"$out")" || bad "unexpected error: $out"; }
sed 's/, certificate-authority-data: [^}]*}}]$/, insecure-skip-tls-verify: true}}]/' "$tmp/sa.kubeconfig" > "$tmp/insecure.kubeconfig"
"$bin" check --kubeconfig "$tmp/insecure.kubeconfig" >/dev/null 2>&1 && ok "insecure-skip-tls-verify: true disables it explicitly" \
  || bad "insecure-skip-tls-verify did not connect"

# Every operator survived everything it was not killed for.
grep -l 'AddressSanitizer\|ThreadSanitizer\|runtime error\|ERROR SUMMARY: [1-9]' "$tmp"/*.log 2>/dev/null && bad "sanitizer/valgrind reports above"
finish
