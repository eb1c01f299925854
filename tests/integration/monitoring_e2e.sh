#!/usr/bin/env bash
# spec.monitoring and spec.networkPolicy on the full local control plane:
#  - a Memshack with the exporters, a ServiceMonitor and NetworkPolicies while
#    prometheus-operator's ServiceMonitor CRD is absent: Ready, the sidecars
#    and metrics ports there, ServiceMonitorReady=False CRDNotInstalled, and no
#    error loop (no failed reconciles, the absence logged once);
#  - the NetworkPolicies' selectors resolve (label queries against the real
#    pods) to exactly the intended pods: memcached policy -> this Memshack's
#    pool pods, its peer -> this Memshack's gateway pods, gateway policy -> its
#    gateway pods; another Memshack's pods are selected by none of them.
#    Nothing here enforces NetworkPolicies (no CNI): the test proves the
#    objects, not the packets;
#  - prometheus-operator's own CRD (tools/testenv/build.sh fetches it) installed
#    later: the ServiceMonitor appears without an operator restart, passes the
#    CRD's schema, selects both Services (each with a metrics port), and the
#    condition turns True;
#  - a MemcachedProxy gets the gateway half: its NetworkPolicy selects exactly
#    its gateway pods, its ServiceMonitor exactly its Service;
#  - switching the ServiceMonitor off removes it and the condition; switching
#    the policy off removes both NetworkPolicies; the CRD removed again: the
#    condition says so again.
# Usage: monitoring_e2e.sh MEMSHACK_BINARY   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture)
set -uo pipefail
bin=$1
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
sm_crd=$testenv_bin/servicemonitors-crd.yaml
ns=it-monitoring-$$
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
op_pid=
cleanup() {
  [ -n "$op_pid" ] && kill -KILL "$op_pid" 2>/dev/null
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
  kubectl delete crd servicemonitors.monitoring.coreos.com --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
[ -s "$sm_crd" ] || { bad "no ServiceMonitor CRD at $sm_crd (tools/testenv/build.sh fetches it)"; finish; exit 1; }
k() { kubectl -n "$ns" "$@"; }
cond() { k get memshack "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}" 2>/dev/null; }
metric_sum() { curl -s "http://127.0.0.1:$mport/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $2} END {print s + 0}'; }
# The names of the pods a matchLabels object selects, sorted, one line.
selected() { # (an empty or missing selector selects nothing here, never everything)
  local sel
  sel=$(jq -r 'to_entries | map("\(.key)=\(.value)") | join(",")' <<<"$1" 2>/dev/null)
  [ -n "$sel" ] || { echo "(no selector)"; return; }
  k get pods -l "$sel" -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort | tr '\n' ' '
}
pods_of() { k get pods -l "memshack.io/memshack=$1,app.kubernetes.io/component=$2" -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort | tr '\n' ' '; }

kubectl delete crd servicemonitors.monitoring.coreos.com --ignore-not-found >/dev/null 2>&1
kubectl create namespace "$ns" >/dev/null
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
"$bin" crd | kubectl apply --server-side -f - >/dev/null && kubectl wait --for=condition=Established crd/memshacks.memshack.io --timeout=30s >/dev/null \
  || bad "CRD not established"
mport=$(free_port); hport=$(free_port)
${MEMSHACK_WRAPPER:-} "$bin" run --gateway-probe-timeout-ms 0 --namespace "$ns" --metrics-bind-address "127.0.0.1:$mport" \
  --health-probe-bind-address "127.0.0.1:$hport" --exporter-image registry.example/memshack-operator:test > "$tmp/operator.log" 2>&1 &
op_pid=$!
until_ok 60 curl -sf "http://127.0.0.1:$hport/readyz" && ok "operator ready without the ServiceMonitor CRD" \
  || { bad "operator not ready"; cat "$tmp/operator.log"; finish; exit 1; }

k apply -f - >/dev/null <<YAML
apiVersion: memshack.io/v1alpha1
kind: Memshack
metadata: {name: watched}
spec:
  numShards: 2
  numReplicas: 2
  mcrouterPoolSize: 2
  monitoring:
    exporter: {enabled: true}
    serviceMonitor: {enabled: true, interval: 15s, labels: {release: prometheus}}
  networkPolicy:
    enabled: true
    clientSelector: {matchLabels: {app: client}}
---
apiVersion: memshack.io/v1alpha1
kind: Memshack
metadata: {name: other}
spec: {numShards: 1, numReplicas: 1, mcrouterPoolSize: 1}
YAML
ready() { [ "$(cond "$1" Ready status)" = True ]; }
until_ok 90 ready watched && ok "Memshack with monitoring Ready (its pods admitted as restricted)" \
  || bad "not Ready: $(cond watched Ready message)"
until_ok 60 ready other && ok "a second Memshack Ready beside it" || bad "other not Ready"
no_crd() { [ "$(cond watched ServiceMonitorReady reason)" = CRDNotInstalled ] && [ "$(cond watched ServiceMonitorReady status)" = False ]; }
until_ok 30 no_crd && ok "CRD absent: ServiceMonitorReady=False CRDNotInstalled" || bad "condition: $(k get memshack watched -o jsonpath='{.status.conditions}')"
[ "$(k get pods -l memshack.io/memshack=watched,app.kubernetes.io/component=pool -o jsonpath='{range .items[*]}{.spec.containers[*].name}{"\n"}{end}' | sort -u)" = "memcached exporter" ] \
  && ok "pool pods run memcached and the exporter" || bad "pool containers"
[ "$(k get deployment watched-memshack -o jsonpath='{.spec.template.spec.containers[1].image}')" = registry.example/memshack-operator:test ] \
  && ok "gateway sidecar runs the operator's --exporter-image" || bad "gateway sidecar image"
[ "$(k get service watched-memshack -o jsonpath='{.spec.ports[?(@.name=="metrics")].targetPort}')" = metrics ] \
  && [ "$(k get service watched-memshack-memcached -o jsonpath='{.spec.ports[?(@.name=="metrics")].port}')" = 9150 ] \
  && ok "both Services have a metrics port" || bad "metrics ports"

# --- NetworkPolicies against the real pods --------------------------------------------------
np() { k get networkpolicy "$1" -o json; }
mc_np=$(np watched-memshack-memcached) gw_np=$(np watched-memshack)
[ -n "$mc_np" ] && [ -n "$gw_np" ] && ok "two NetworkPolicies" || bad "NetworkPolicies missing"
pool_pods=$(pods_of watched pool) gw_pods=$(pods_of watched gateway)
[ "$(wc -w <<<"$pool_pods")" = 4 ] && [ "$(wc -w <<<"$gw_pods")" = 2 ] || bad "pods: '$pool_pods' '$gw_pods'"
[ "$(selected "$(jq -c .spec.podSelector.matchLabels <<<"$mc_np")")" = "$pool_pods" ] \
  && ok "memcached policy selects exactly the 4 pool pods" || bad "memcached policy selects: $(selected "$(jq -c .spec.podSelector.matchLabels <<<"$mc_np")")"
[ "$(selected "$(jq -c '.spec.ingress[0].from[0].podSelector.matchLabels' <<<"$mc_np")")" = "$gw_pods" ] \
  && [ "$(jq -r '.spec.ingress[0].ports[0].port' <<<"$mc_np")" = 11211 ] \
  && ok "memcached lets in 11211 from exactly its 2 gateway pods" || bad "memcached peer: $(jq -c '.spec.ingress[0]' <<<"$mc_np")"
[ "$(selected "$(jq -c .spec.podSelector.matchLabels <<<"$gw_np")")" = "$gw_pods" ] \
  && ok "gateway policy selects exactly the 2 gateway pods" || bad "gateway policy selects: $(selected "$(jq -c .spec.podSelector.matchLabels <<<"$gw_np")")"
others="$(pods_of other pool)$(pods_of other gateway)"
hit=0
for sel in "$(jq -c .spec.podSelector.matchLabels <<<"$mc_np")" "$(jq -c .spec.podSelector.matchLabels <<<"$gw_np")" \
    "$(jq -c '.spec.ingress[0].from[0].podSelector.matchLabels' <<<"$mc_np")"; do
  for p in $others; do grep -qw "$p" <<<"$(selected "$sel")" && hit=1; done
done
[ -n "$others" ] && [ $hit = 0 ] && ok "the other Memshack's pods ($(wc -w <<<"$others")) are selected by none of them" || bad "other pods selected"
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: busybox
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
YAML
[ "$(selected "$(jq -c '.spec.ingress[0].from[0].podSelector.matchLabels' <<<"$gw_np")")" = "client " ] \
  && [ "$(jq -r '.spec.ingress[0].ports[0].port' <<<"$gw_np")" = 5000 ] \
  && ok "gateway lets in 5000 from exactly the client pod" || bad "client peer: $(jq -c '.spec.ingress[0]' <<<"$gw_np")"

# --- the CRD appears: no restart --------------------------------------------------------------
errors0=$(metric_sum 'memshack_reconcile_total{controller="memshack",result="error"}')
[ "$errors0" = 0 ] && ok "no failed reconciles while the CRD was absent (not an error loop)" || bad "$errors0 failed reconciles"
# Once per cache (the Memshack and the MemcachedProxy controllers each watch ServiceMonitors), not per retry.
[ "$(grep -c 'servicemonitors.*not served' "$tmp/operator.log")" = 2 ] && ok "the absence logged once per cache" \
  || bad "absence logged $(grep -c 'servicemonitors.*not served' "$tmp/operator.log") times"
kubectl apply --server-side -f "$sm_crd" >/dev/null && kubectl wait --for=condition=Established crd/servicemonitors.monitoring.coreos.com --timeout=30s >/dev/null \
  && ok "prometheus-operator's ServiceMonitor CRD installed" || bad "SM CRD not established"
t0=$(date +%s)
sm_there() { k get servicemonitor watched-memshack >/dev/null 2>&1; }
until_ok 90 sm_there && ok "ServiceMonitor created $(( $(date +%s) - t0 )) s later, operator not restarted" || bad "no ServiceMonitor: $(tail -5 "$tmp/operator.log")"
kill -0 "$op_pid" && ok "same operator process" || bad "operator gone"
sm_true() { [ "$(cond watched ServiceMonitorReady status)" = True ]; }
until_ok 30 sm_true && ok "ServiceMonitorReady=True" || bad "condition: $(cond watched ServiceMonitorReady reason)"
sm=$(k get servicemonitor watched-memshack -o json)
[ "$(jq -r '.metadata.ownerReferences[0].kind + "/" + .metadata.ownerReferences[0].name' <<<"$sm")" = Memshack/watched ] \
  && [ "$(jq -r .metadata.labels.release <<<"$sm")" = prometheus ] && [ "$(jq -r '.spec.endpoints[0].interval' <<<"$sm")" = 15s ] \
  && ok "owned by the Memshack, labelled release=prometheus, interval 15s" || bad "ServiceMonitor: $(jq -c '{metadata: .metadata.labels, spec}' <<<"$sm")"
svc_sel=$(jq -r '.spec.selector.matchLabels | to_entries | map("\(.key)=\(.value)") | join(",")' <<<"$sm" 2>/dev/null)
svcs=$([ -n "$svc_sel" ] && k get services -l "$svc_sel" -o jsonpath='{range .items[*]}{.metadata.name}:{.spec.ports[?(@.name=="metrics")].port}{" "}{end}')
[ "$svcs" = "watched-memshack:9150 watched-memshack-memcached:9150 " ] && ok "it selects both Services, each with its metrics port" || bad "selects: '$svcs'"

# --- the MemcachedProxy's gateway half -------------------------------------------------------
{ ext_service_yaml; cat; } <<YAML | k apply -f - >/dev/null
apiVersion: memshack.io/v1alpha1
kind: MemcachedProxy
metadata: {name: px}
spec:
  serviceName: ext
  servicePort: cache
  replicas: 2
  monitoring: {exporter: {enabled: true}, serviceMonitor: {enabled: true}}
  networkPolicy: {enabled: true, clientSelector: {matchLabels: {app: client}}}
YAML
px_cond() { k get memcachedproxy px -o jsonpath="{.status.conditions[?(@.type==\"$1\")].status}" 2>/dev/null; }
px_ready() { [ "$(px_cond Ready)" = True ] && [ "$(px_cond ServiceMonitorReady)" = True ]; }
until_ok 60 px_ready && ok "MemcachedProxy with monitoring Ready, ServiceMonitorReady=True" || bad "proxy: $(k get memcachedproxy px -o jsonpath='{.status.conditions}')"
px_np=$(k get networkpolicy px-proxy -o json 2>/dev/null)
px_pods=$(k get pods -l memshack.io/memcachedproxy=px -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort | tr '\n' ' ')
[ "$(wc -w <<<"$px_pods")" = 2 ] && [ "$(selected "$(jq -c .spec.podSelector.matchLabels <<<"$px_np")")" = "$px_pods" ] \
  && ok "the proxy's NetworkPolicy selects exactly its 2 gateway pods" || bad "proxy policy: '$px_pods' vs $(selected "$(jq -c .spec.podSelector.matchLabels <<<"$px_np")")"
px_svcs=$(k get services -l "$(k get servicemonitor px-proxy -o json | jq -r '.spec.selector.matchLabels | to_entries | map("\(.key)=\(.value)") | join(",")')" -o name 2>/dev/null)
[ "$px_svcs" = service/px-proxy ] && ok "the proxy's ServiceMonitor selects exactly its Service" || bad "proxy ServiceMonitor selects '$px_svcs'"

# --- off again ----------------------------------------------------------------------------------
k patch memshack watched --type merge -p '{"spec":{"monitoring":{"serviceMonitor":{"enabled":false}}}}' >/dev/null
sm_gone() { ! sm_there && [ -z "$(cond watched ServiceMonitorReady status)" ]; }
until_ok 30 sm_gone && ok "ServiceMonitor off: removed, and its condition" || bad "still there"
k patch memshack watched --type merge -p '{"spec":{"networkPolicy":{"enabled":false}}}' >/dev/null
np_gone() { [ -z "$(k get networkpolicies -l memshack.io/memshack=watched -o name)" ] && k get networkpolicy px-proxy >/dev/null 2>&1; }
until_ok 30 np_gone && ok "NetworkPolicy off: both of the Memshack's removed (the proxy's kept)" || bad "left: $(k get networkpolicies -o name)"
kubectl delete crd servicemonitors.monitoring.coreos.com >/dev/null
k patch memshack watched --type merge -p '{"spec":{"monitoring":{"serviceMonitor":{"enabled":true}}}}' >/dev/null
until_ok 90 no_crd && ok "CRD removed: CRDNotInstalled again" || bad "condition after removal: $(cond watched ServiceMonitorReady reason)"
until_ok 30 ready watched && ok "still Ready throughout" || bad "not Ready at the end"
kill -TERM "$op_pid" && wait "$op_pid" && ok "operator stopped cleanly" || bad "operator exit $?"
op_pid=
grep -q 'servicemonitors.*list failed' "$tmp/operator.log" && bad "the absent CRD logged as a failure: $(grep -m1 'servicemonitors.*list failed' "$tmp/operator.log")"
finish
