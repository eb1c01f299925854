#!/usr/bin/env bash
# MemcachedProxy end to end on the full local control plane: a user
# StatefulSet + headless Service (kwok makes the pods Ready; the real
# EndpointSlice controller publishes them) scaled 3 -> 5 -> 2; a selector-less
# Service with hand-made EndpointSlices (servers outside the cluster); a
# missing Service that appears later; the Service deleted and re-created;
# zero writes when nothing changed; garbage collection.
# Usage: proxy_e2e.sh MEMSHACK_BINARY
set -uo pipefail
bin=$1
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
ns=it-proxy-$$
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
cond() { k get memcachedproxy "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}" 2>/dev/null; }
reason_is() { [ "$(cond "$1" Ready reason)" = "$2" ]; }
servers() { k get configmap "$1-proxy-config" -o jsonpath='{.data.config\.json}' 2>/dev/null | grep -o '"[^"]*:[0-9]*"' | tr -d '"' | tr '\n' ' '; }
servers_are() { [ "$(servers "$1")" = "$2" ]; }
metric() { curl -s "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
writes() { curl -s "http://127.0.0.1:$mport/metrics" | awk '/^memshack_api_requests_total\{method="(POST|PUT|PATCH|DELETE)"/ {s += $2} END {print s + 0}'; }
fqdns() { local out="" i; for i in "$@"; do out+="mc-$i.mc.$ns.svc.cluster.local:11211 "; done; echo "$out"; }

kubectl create namespace "$ns" >/dev/null
"$bin" crd | kubectl apply --server-side -f - >/dev/null
kubectl wait --for=condition=Established crd/memcachedproxies.memshack.io --timeout=30s >/dev/null && ok "CRDs installed" || bad "CRD"
mport=$(free_port); hport=$(free_port)
${MEMSHACK_WRAPPER:-} "$bin" run --gateway-probe-timeout-ms 0 --namespace "$ns" --metrics-bind-address "127.0.0.1:$mport" \
  --health-probe-bind-address "127.0.0.1:$hport" > "$tmp/operator.log" 2>&1 &
op_pid=$!
if until_ok 60 curl -sf "http://127.0.0.1:$hport/readyz"; then ok "operator ready"
else bad "operator not ready"; cat "$tmp/operator.log"; echo "$passed passed, $failed failed"; exit 1; fi

# --- a user's StatefulSet of memcached behind a headless Service ----------------------
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: mc}
spec:
  clusterIP: None
  selector: {app: mc}
  ports: [{name: memcache, port: 11211}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: mc}
spec:
  replicas: 3
  serviceName: mc
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: mc}}
  template:
    metadata: {labels: {app: mc}}
    spec:
      containers: [{name: memcached, image: "memcached:1.6-alpine", ports: [{name: memcache, containerPort: 11211}]}]
---
apiVersion: memshack.io/v1alpha1
kind: MemcachedProxy
metadata: {name: px}
spec: {serviceName: mc, servicePort: 11211, replicas: 2}
YAML
until_ok 60 servers_are px "$(fqdns 0 1 2)" && ok "proxy routes to mc-0..2 by FQDN" || bad "servers: $(servers px)"
until_ok 60 reason_is px Ready && ok "proxy Ready" || bad "proxy not ready: $(cond px Ready reason) $(cond px Ready message)"
[ "$(k get memcachedproxy px -o jsonpath='{.status.serverCount}')" = 3 ] && ok "status.serverCount 3" || bad "serverCount"
uid=$(k get memcachedproxy px -o jsonpath='{.metadata.uid}')
for obj in deployment/px-proxy service/px-proxy configmap/px-proxy-config poddisruptionbudget/px-proxy; do
  owner=$(k get "$obj" -o jsonpath='{.metadata.ownerReferences[?(@.controller==true)].uid}' 2>/dev/null)
  [ -n "$uid" ] && [ "$owner" = "$uid" ] && ok "$obj owned by the proxy" || bad "$obj owner '$owner'"
done
gw_pods() { k get pods -l memshack.io/memcachedproxy=px -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}' | sort; }
gw_before=$(gw_pods)
k scale statefulset mc --replicas=5 >/dev/null
until_ok 60 servers_are px "$(fqdns 0 1 2 3 4)" && ok "scaled 3 -> 5: config follows" || bad "after 5: $(servers px)"
k scale statefulset mc --replicas=2 >/dev/null
until_ok 60 servers_are px "$(fqdns 0 1)" && ok "scaled 5 -> 2: config follows" || bad "after 2: $(servers px)"
[ "$(gw_pods)" = "$gw_before" ] && [ -n "$gw_before" ] && ok "mcrouter pods not restarted by membership changes" || bad "gateway pods changed"
k get events.events.k8s.io --field-selector regarding.name=px -o jsonpath='{.items[*].reason}' | matches ServersChanged \
  && ok "ServersChanged events" || bad "no ServersChanged event"

# --- zero writes when nothing changed ----------------------------------------------------
sleep 2
w0=$(writes); r0=$(metric 'memshack_reconcile_total{controller="memcachedproxy",result="success"}')
k annotate memcachedproxy px touched=1 >/dev/null
reconciled() { [ "$(metric 'memshack_reconcile_total{controller="memcachedproxy",result="success"}')" != "$r0" ]; }
until_ok 10 reconciled || bad "no reconcile after the annotation"
sleep 1
w1=$(writes)
[ "${w0:-0}" -gt 0 ] && [ "$w0" = "$w1" ] && ok "no-op reconcile made zero writes ($w0 -> $w1)" || bad "no-op wrote: $w0 -> $w1"

# --- the Service deleted and re-created ----------------------------------------------------
k delete service mc >/dev/null
until_ok 30 reason_is px ServiceNotFound && ok "Service deleted: Ready=False ServiceNotFound" || bad "after delete: $(cond px Ready reason)"
k get deployment px-proxy >/dev/null 2>&1 && ok "the proxy Deployment stays" || bad "Deployment gone"
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: mc}
spec:
  clusterIP: None
  selector: {app: mc}
  ports: [{name: memcache, port: 11211}]
YAML
until_ok 60 reason_is px Ready && servers_are px "$(fqdns 0 1)" && ok "Service re-created: routing again" || bad "after re-create: $(cond px Ready reason) $(servers px)"

# --- servers outside the cluster: a selector-less Service and manual EndpointSlices ------
k apply -f - >/dev/null <<YAML
apiVersion: memshack.io/v1alpha1
kind: MemcachedProxy
metadata: {name: ext}
spec: {serviceName: external-cache, servicePort: cache, pool: Replicated}
YAML
until_ok 30 reason_is ext ServiceNotFound && ok "missing Service: Ready=False ServiceNotFound" || bad "missing: $(cond ext Ready reason)"
until_ok 30 k get deployment ext-proxy && ok "the Deployment exists anyway" || bad "no Deployment for a missing Service"
k get events.events.k8s.io --field-selector regarding.name=ext -o jsonpath='{.items[*].reason}' | matches ServiceNotFound \
  && ok "ServiceNotFound event" || bad "no ServiceNotFound event"
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: external-cache}
spec:
  ports: [{name: cache, port: 11211}]
YAML
until_ok 30 reason_is ext NoEndpoints && ok "Service without endpoints: NoEndpoints" || bad "no endpoints: $(cond ext Ready reason)"
k apply -f - >/dev/null <<YAML
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: external-cache-manual, labels: {kubernetes.io/service-name: external-cache}}
addressType: IPv4
ports: [{name: cache, port: 11211}]
endpoints:
- {addresses: [192.0.2.20]}
- {addresses: [192.0.2.10]}
YAML
until_ok 30 servers_are ext "192.0.2.10:11211 192.0.2.20:11211 " && ok "manual EndpointSlice: servers outside the cluster" || bad "ext servers: $(servers ext)"
until_ok 60 reason_is ext Ready && ok "ext Ready" || bad "ext: $(cond ext Ready reason)"
k patch endpointslice external-cache-manual --type json -p '[{"op":"add","path":"/endpoints/-","value":{"addresses":["192.0.2.30"]}}]' >/dev/null
until_ok 30 servers_are ext "192.0.2.10:11211 192.0.2.20:11211 192.0.2.30:11211 " && ok "added endpoint joins the config" || bad "after add: $(servers ext)"
k apply -f - >/dev/null <<YAML
apiVersion: memshack.io/v1alpha1
kind: MemcachedProxy
metadata: {name: badport}
spec: {serviceName: external-cache, servicePort: nope}
YAML
until_ok 30 reason_is badport PortNotFound && ok "unknown port: PortNotFound" || bad "badport: $(cond badport Ready reason)"

# --- delete: children garbage-collected ----------------------------------------------------
k delete memcachedproxy px >/dev/null
children() { k get deployments,services,configmaps,poddisruptionbudgets -l memshack.io/memcachedproxy=px -o name 2>/dev/null; }
no_children() { [ -z "$(children)" ]; }
until_ok 120 no_children && ok "proxy children garbage-collected" || bad "left: $(children | tr '\n' ' ')"
kill -0 "$op_pid" 2>/dev/null && ok "operator still running" || { bad "operator died"; tail -20 "$tmp/operator.log"; }
kill -TERM "$op_pid"; wait "$op_pid"; code=$?; op_pid=
[ "$code" = 0 ] && ok "operator exits 0" || bad "operator exit $code"
finish
