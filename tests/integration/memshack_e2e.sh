#!/usr/bin/env bash
# The Memshack operator end to end on the full local control plane (real
# kube-controller-manager for garbage collection and workload controllers,
# kwok for Ready pods): create, status, scaling in every direction (in place,
# and a warm migration to a new layout generation), zero
# writes when nothing changed, hand edits reverted, invalid specs, deletion.
# Usage: memshack_e2e.sh MEMSHACK_BINARY   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture)
set -uo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
ns=it-memshack-$$
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
op_pid=
cleanup() {
  [ -n "$op_pid" ] && kill -KILL "$op_pid" 2>/dev/null
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

k() { kubectl -n "$ns" "$@"; }
cond() { k get memshack "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}" 2>/dev/null; }
is_ready() { [ "$(cond "$1" Ready status)" = True ] && [ "$(k get memshack "$1" -o jsonpath='{.status.observedGeneration}')" = "$(k get memshack "$1" -o jsonpath='{.metadata.generation}')" ]; }
sts_replicas() { k get statefulset "$1" -o jsonpath='{.spec.replicas}' 2>/dev/null; }
replicas_is() { [ "$(sts_replicas "$1")" = "$2" ]; }
gone() { ! k get "$1" "$2" >/dev/null 2>&1; }
pool_uids() { k get pods -l app.kubernetes.io/component=pool -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort; }
metric() { curl -s "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
writes() { curl -s "http://127.0.0.1:$mport/metrics" | awk '/^memshack_api_requests_total\{method="(POST|PUT|PATCH|DELETE)"/ {s += $2} END {print s + 0}'; }
config() { k get configmap "$1-memshack-mcrouter" -o jsonpath='{.data.config\.json}'; }
servers_in_config() { config "$1" | grep -c 'svc.cluster.local:11211'; }

kubectl create namespace "$ns" >/dev/null
# Pod Security "restricted": every pod memshack creates must be admitted (the Ready checks need them).
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
"$bin" crd | kubectl apply --server-side -f - >/dev/null && kubectl wait --for=condition=Established crd/memshacks.memshack.io --timeout=30s >/dev/null \
  && ok "CRD installed" || bad "CRD not established"

mport=$(free_port); hport=$(free_port)
${MEMSHACK_WRAPPER:-} "$bin" run --gateway-probe-timeout-ms 0 --namespace "$ns" --pool-removal-delay 1 --metrics-bind-address "127.0.0.1:$mport" \
  --health-probe-bind-address "127.0.0.1:$hport" > "$tmp/operator.log" 2>&1 &
op_pid=$!
if until_ok 60 curl -sf "http://127.0.0.1:$hport/readyz"; then ok "operator ready"
else bad "operator not ready"; cat "$tmp/operator.log"; echo "$passed passed, $failed failed"; exit 1; fi

# --- create -------------------------------------------------------------------------
sed "s/namespace: default/namespace: $ns/" "$root/yaml/test.yaml" | k apply -f - >/dev/null || bad "cannot apply the seed sample"
until_ok 60 is_ready test && ok "seed sample Ready=True" || { bad "seed sample not Ready: $(cond test Ready message)"; tail -5 "$tmp/operator.log"; }
uid=$(k get memshack test -o jsonpath='{.metadata.uid}')
[ -n "$uid" ] || bad "the Memshack has no uid"
for obj in service/test-memshack-memcached statefulset/test-memshack-pool-0 statefulset/test-memshack-pool-1 \
    poddisruptionbudget/test-memshack-memcached configmap/test-memshack-mcrouter deployment/test-memshack \
    service/test-memshack poddisruptionbudget/test-memshack; do
  owner=$(k get "$obj" -o jsonpath='{.metadata.ownerReferences[?(@.controller==true)].uid}' 2>/dev/null)
  [ -n "$owner" ] && [ "$owner" = "$uid" ] && ok "$obj owned by the Memshack" || bad "$obj owner '$owner'"
done
[ "$(k get pods -l memshack.io/memshack=test --no-headers | grep -c ' 1/1 ')" = 6 ] && ok "4 memcached + 2 gateway pods Ready" || bad "pods not ready"
[ "$(k get memshack test -o jsonpath='{.status.endpoint}')" = "test-memshack.$ns.svc.cluster.local:5000" ] && ok "status.endpoint" || bad "endpoint"
want_cfg=$(k get memshack test -o json | "$bin" render --config-only -)
[ "$(config test)" = "$want_cfg" ] && ok "ConfigMap holds exactly what memshack render prints" || bad "config differs from render"
[ "$(k get memshack test -o jsonpath='{.status.configDigest}')" = "$(printf '%s' "$want_cfg" | md5sum | cut -c1-32)" ] \
  && ok "status.configDigest is the md5 of the config" || bad "configDigest"
k get events.events.k8s.io --field-selector regarding.name=test -o jsonpath='{.items[*].reason}' | matches Applied \
  && ok "Applied event" || bad "no Applied event"

# --- zero writes when nothing changed --------------------------------------------------
sleep 2
w0=$(writes); a0=$(metric memshack_child_applies_total); r0=$(metric 'memshack_reconcile_total{controller="memshack",result="success"}')
k annotate memshack test touched=1 >/dev/null      # wakes the reconciler without changing the spec
reconciled() { [ "$(metric 'memshack_reconcile_total{controller="memshack",result="success"}')" != "$r0" ]; }
until_ok 10 reconciled || bad "the annotation did not trigger a reconcile"
sleep 1
w1=$(writes); a1=$(metric memshack_child_applies_total)
[ "${w0:-0}" -gt 0 ] && [ "$w0" = "$w1" ] && [ "$a0" = "$a1" ] && ok "a reconcile with nothing changed made zero writes ($w0 -> $w1)" \
  || bad "no-op reconcile wrote: api writes $w0 -> $w1, applies $a0 -> $a1"

# --- gateway scaling never touches memcached pods --------------------------------------
before=$(pool_uids)
[ "$(wc -l <<<"$before")" = 4 ] || bad "want 4 memcached pods before scaling, got: $before"
k patch memshack test --type merge -p '{"spec":{"mcrouterPoolSize":3}}' >/dev/null
until_ok 60 is_ready test
[ "$(k get deployment test-memshack -o jsonpath='{.status.readyReplicas}')" = 3 ] && ok "gateway scaled to 3" || bad "gateway not 3"
[ "$(pool_uids)" = "$before" ] && ok "memcached pods untouched by a gateway change (UIDs same)" || bad "memcached pods changed"
gateway_replicas_is() { [ "$(k get deployment test-memshack -o jsonpath='{.spec.replicas}')" = "$1" ]; }
k scale memshack test --replicas=1 >/dev/null 2>&1 && until_ok 30 gateway_replicas_is 1 \
  && ok "scale subresource drives mcrouterPoolSize" || bad "scale subresource"

# --- in place (spec.migration.mode InPlace): shards up, same pods, more pods, config follows ----------
k patch memshack test --type merge -p '{"spec":{"numShards":3,"mcrouterPoolSize":2,"migration":{"mode":"InPlace"}}}' >/dev/null
until_ok 60 is_ready test && replicas_is test-memshack-pool-0 3 && ok "shards 2 -> 3" || bad "shards up"
[ "$(servers_in_config test)" = 6 ] && ok "config lists 3 shards × 2 pools" || bad "config servers $(servers_in_config test)"
now=$(pool_uids)
for p in $before; do grep -qxF "$p" <<<"$now" || bad "pod $p restarted by a shard change"; done
ok "existing memcached pods kept across the shard change"
# --- shards down -------------------------------------------------------------------------
k patch memshack test --type merge -p '{"spec":{"numShards":1}}' >/dev/null
# The pods of removed shards go once the gateways had the new config (here the 1 s bound: probes are off).
until_ok 60 is_ready test && until_ok 30 replicas_is test-memshack-pool-1 1 && ok "shards 3 -> 1" || bad "shards down"
[ "$(servers_in_config test)" = 2 ] && ok "config lists 1 shard × 2 pools" || bad "config after shards down"
# --- replicas up and down --------------------------------------------------------------
k patch memshack test --type merge -p '{"spec":{"numShards":2,"numReplicas":3}}' >/dev/null
until_ok 60 is_ready test && k get statefulset test-memshack-pool-2 >/dev/null 2>&1 && ok "replicas 2 -> 3: pool 2 created" || bad "replicas up"
[ "$(config test | grep -c '"PoolRoute|r')" -ge 3 ] && ok "config has 3 pools" || bad "config pools"
k patch memshack test --type merge -p '{"spec":{"numReplicas":1}}' >/dev/null
until_ok 60 gone statefulset test-memshack-pool-2 && until_ok 30 gone statefulset test-memshack-pool-1 \
  && ok "replicas 3 -> 1: pools 1 and 2 pruned" || bad "pools not pruned"
grep -q "removed pools wait" "$tmp/operator.log" && ok "removed pools left the config before their StatefulSets went" || bad "no removal delay seen"
[ "$(config test | grep -c 'PoolRoute|r')" = 1 ] && ok "config back to one pool (sharded only)" || bad "config pool count"
until_ok 60 is_ready test && ok "Ready after scaling down" || bad "not Ready after scaling down"

# --- hand edits are reverted -----------------------------------------------------------
k scale statefulset test-memshack-pool-0 --replicas=7 >/dev/null
until_ok 30 replicas_is test-memshack-pool-0 2 && ok "a hand-scaled StatefulSet is reverted" || bad "StatefulSet stays at $(sts_replicas test-memshack-pool-0)"
k patch configmap test-memshack-mcrouter --type merge -p '{"data":{"config.json":"{}"}}' >/dev/null
config_restored() { [ "$(config test)" != "{}" ]; }
until_ok 30 config_restored && ok "a hand-edited mcrouter config is reverted" || bad "config edit stays"
k delete service test-memshack >/dev/null
until_ok 30 k get service test-memshack && ok "a deleted child is re-created" || bad "service not re-created"

# --- a warm migration (the default mode): a new layout generation, the old one removed after the window ---
k patch memshack test --type merge -p '{"spec":{"numShards":3,"migration":{"mode":"WarmUp","windowSeconds":3}}}' >/dev/null
phase() { k get memshack test -o jsonpath='{.status.migration.phase}' 2>/dev/null; }
migrating_seen() { [ "$(cond test Migrating status)" = True ] && [ "$(phase)" != None ]; }
until_ok 30 migrating_seen && ok "numShards 2 -> 3 (WarmUp): Migrating True, phase $(phase): $(cond test Migrating message)" \
  || bad "no migration seen: Migrating '$(cond test Migrating status)', phase '$(phase)'"
until_ok 30 replicas_is test-memshack-g1-pool-0 3 && ok "the new layout's pool StatefulSet test-memshack-g1-pool-0 has 3 pods" || bad "no layout 1 pool"
over() { [ "$(phase)" = None ] && [ "$(cond test Migrating status)" = False ] && is_ready test; }
until_ok 60 over && ok "migration over: Migrating False, Ready" || bad "migration not over: phase '$(phase)', $(cond test Migrating message)"
until_ok 30 gone statefulset test-memshack-pool-0 && ok "the old layout's StatefulSet is removed" || bad "test-memshack-pool-0 left"
[ "$(k get memshack test -o jsonpath='{.status.routing.generation}')" = 1 ] && [ "$(servers_in_config test)" = 3 ] \
  && ok "routing.generation 1, config lists 3 shards x 1 pool" || bad "routing $(k get memshack test -o jsonpath='{.status.routing}')"
mig_events=$(k get events.events.k8s.io --field-selector regarding.name=test -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' | grep '^Migration' | sort | tr '\n' ' ')
[ "$mig_events" = "MigrationFinished MigrationStarted MigrationWarming " ] && ok "events: $mig_events" || bad "migration events: '$mig_events'"
column() { k get memshack test | awk -v c="$1" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == c) n = i} NR == 2 && n {print $n}'; }
[ "$(column MIGRATION)" = None ] && ok "kubectl get shows the MIGRATION column (None)" || bad "MIGRATION column: '$(column MIGRATION)'"

# --- no gateways ---------------------------------------------------------------------------
k patch memshack test --type merge -p '{"spec":{"mcrouterPoolSize":0}}' >/dev/null
ready_reason_is() { [ "$(cond "$1" Ready reason)" = "$2" ]; }
until_ok 30 ready_reason_is test NoGateways && ok "mcrouterPoolSize 0: Ready=False NoGateways" || bad "no-gateway condition: $(cond test Ready reason)"
k patch memshack test --type merge -p '{"spec":{"mcrouterPoolSize":2}}' >/dev/null
until_ok 60 is_ready test && ok "back to Ready with 2 gateways" || bad "not ready with 2 gateways"

# --- invalid specs: refused by the API server, or InvalidSpec from the operator -----------
python3 - "$root/tests/data/invalid-memshacks.yaml" "$tmp/cases" <<'PY' || bad "cannot split the invalid cases"
import sys, os
docs = open(sys.argv[1]).read().split("\n---\n")
os.makedirs(sys.argv[2], exist_ok=True)
for i, d in enumerate(x for x in docs if "kind: Memshack" in x):
    open(os.path.join(sys.argv[2], "%02d.yaml" % i), "w").write(d if d.startswith("apiVersion") else d[d.index("apiVersion"):])
PY
n_cases=0
for f in "$tmp"/cases/*.yaml; do
  n_cases=$((n_cases + 1))
  name=$(awk '/^  name:/ {print $2; exit}' "$f")
  api=$(sed -n 's/^    test.memshack.io\/api: "\(.*\)"$/\1/p' "$f")
  expect=$(sed -n 's/^    test.memshack.io\/expect: "\(.*\)"$/\1/p' "$f")
  out=$(k apply -f "$f" 2>&1); rc=$?
  case $api in
    reject:*)
      msg=${api#reject:}
      if [ $rc -ne 0 ] && grep -qF -- "$msg" <<<"$out"; then ok "rejected by the API: $name ($msg)"
      else bad "$name: want the API to refuse with '$msg', got rc=$rc: $out"; fi ;;
    accept)
      if [ $rc -ne 0 ]; then bad "$name: the API refused it: $out"; continue; fi
      if until_ok 30 ready_reason_is "$name" InvalidSpec && grep -qF -- "$expect" <<<"$(cond "$name" Ready message)"; then
        ok "InvalidSpec from the operator: $name ($(cond "$name" Ready message))"
      else bad "$name: condition $(cond "$name" Ready reason): $(cond "$name" Ready message)"; fi
      k get events.events.k8s.io --field-selector "regarding.name=$name" -o jsonpath='{.items[*].reason}' | matches InvalidSpec \
        && ok "InvalidSpec event for $name" || bad "no InvalidSpec event for $name" ;;
  esac
done
[ "$n_cases" -ge 20 ] && ok "$n_cases invalid specs checked" || bad "only $n_cases invalid cases"
kill -0 "$op_pid" 2>/dev/null && ok "the operator survived every invalid spec" || { bad "the operator died"; tail -20 "$tmp/operator.log"; }
errors=$(grep -c "invalid spec" "$tmp/operator.log")
[ "$errors" -le 30 ] && ok "no hot loop on invalid specs ($errors log lines)" || bad "hot loop: $errors invalid-spec log lines"

# --- delete: children garbage-collected -----------------------------------------------------
[ -n "$(k get statefulsets -l memshack.io/memshack=test -o name)" ] || bad "no children before the delete"
k delete memshack test >/dev/null
children() { k get statefulsets,deployments,services,configmaps,poddisruptionbudgets -l memshack.io/memshack=test -o name 2>/dev/null; }
no_children() { [ -z "$(children)" ]; }
until_ok 120 no_children && ok "children garbage-collected after delete" \
  || { bad "children left: $(children | tr '\n' ' ')"; k get statefulsets,deployments,services,configmaps,poddisruptionbudgets -l memshack.io/memshack=test -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} owner={.metadata.ownerReferences[0].uid} deleting={.metadata.deletionTimestamp} finalizers={.metadata.finalizers}{"\n"}{end}'; echo "memshack uid $uid"; tail -5 "$tmp/operator.log"; }

kill -TERM "$op_pid"
until_ok 30 bash -c "! kill -0 $op_pid 2>/dev/null"
wait "$op_pid"; code=$?
op_pid=
[ "$code" = 0 ] && ok "operator exits 0 on SIGTERM" || bad "operator exit $code"
grep -q '"level":"error"\|error ' "$tmp/operator.log" && echo "     (operator logged errors:)" && grep -E ' error ' "$tmp/operator.log" | head -5
finish
