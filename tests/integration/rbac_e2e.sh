#!/usr/bin/env bash
# The install manifests on the full local control plane:
#  - yaml/operator.yaml applies with --dry-run=server and --server-side, and
#    its operator Deployment is admitted in a namespace enforcing the
#    restricted Pod Security profile;
#  - the operator, run with the ServiceAccount's own token (not admin) and the
#    RBAC from that file, reconciles a Memshack (in a restricted namespace) and
#    a MemcachedProxy to Ready, scales down, switches monitoring and the
#    NetworkPolicies on and off (prometheus-operator's ServiceMonitor CRD
#    installed), reports an invalid spec, elects a leader and releases the Lease;
#  - from the kube-apiserver's audit log of that run, rbac_audit_check proves
#    the ClusterRole and Role grant no (verb, resource) pair the operator
#    never used, and that nothing it did was denied.
# Usage: rbac_e2e.sh MEMSHACK_BINARY RBAC_AUDIT_CHECK_BINARY
set -uo pipefail
bin=$1 checker=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
ns=it-rbac-$$
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
ready() { [ "$(k get "$1" "$2" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }

out=$(kubectl apply --server-side -f "$root/yaml/operator.yaml" 2>&1) && ok "operator.yaml: server-side apply" || bad "apply: $out"
# (A server dry-run before the namespace exists cannot place the namespaced objects; after it, every object must validate.)
out=$(kubectl apply --dry-run=server -f "$root/yaml/operator.yaml" 2>&1) && ok "operator.yaml: server dry-run" || bad "dry-run: $out"
kubectl wait --for=condition=Established crd/memshacks.memshack.io crd/memcachedproxies.memshack.io --timeout=30s >/dev/null
operator_pods_ready() { [ "$(kubectl -n memshack-system get deployment memshack-operator -o jsonpath='{.status.readyReplicas}')" = 2 ]; }
until_ok 60 operator_pods_ready \
  && ok "operator Deployment admitted under Pod Security restricted (2 pods)" \
  || bad "operator Deployment: $(kubectl -n memshack-system get events --field-selector reason=FailedCreate -o jsonpath='{.items[*].message}')"

# The ServiceAccount's own credentials.
token=$(kubectl -n memshack-system create token memshack-operator --duration=1h) || bad "no token"
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
cat > "$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: sa
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
contexts: [{name: sa, context: {cluster: c, user: sa, namespace: memshack-system}}]
users: [{name: sa, user: {token: "$token"}}]
KC
user=$("$bin" check --kubeconfig "$tmp/kubeconfig" | sed -n 's/.*authenticated as \([^,]*\),.*/\1/p')
[ "$user" = system:serviceaccount:memshack-system:memshack-operator ] && ok "running as $user" || bad "identity '$user'"

# prometheus-operator's ServiceMonitor CRD, so that the ServiceMonitor grants are exercised too.
kubectl apply --server-side -f "$testenv_bin/servicemonitors-crd.yaml" >/dev/null \
  && kubectl wait --for=condition=Established crd/servicemonitors.monitoring.coreos.com --timeout=30s >/dev/null \
  || bad "ServiceMonitor CRD not installed"
kubectl create namespace "$ns" >/dev/null
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
${MEMSHACK_WRAPPER:-} "$bin" run --gateway-probe-timeout-ms 0 --kubeconfig "$tmp/kubeconfig" --leader-elect --lease-namespace memshack-system \
  --lease-name memshack-rbac-test --pool-removal-delay 1 --event-series-interval 1 \
  --metrics-bind-address 0 --health-probe-bind-address 0 > "$tmp/operator.log" 2>&1 &
op_pid=$!

sed "s/namespace: default/namespace: $ns/" "$root/yaml/test.yaml" | k apply -f - >/dev/null
until_ok 90 ready memshack test && ok "Memshack Ready with the operator's own RBAC, pods admitted as restricted" \
  || { bad "Memshack not Ready: $(k get memshack test -o jsonpath='{.status.conditions}')"; cat "$tmp/operator.log"; k get all; }
k patch memshack test --type merge -p '{"spec":{"numReplicas":1}}' >/dev/null
until_ok 60 bash -c "! kubectl -n $ns get statefulset test-memshack-pool-1 >/dev/null 2>&1" && ok "scale-down pruned a pool" || bad "pool 1 not pruned"

# Monitoring and NetworkPolicies on, then off: created, then deleted.
k patch memshack test --type merge -p '{"spec":{"monitoring":{"exporter":{"enabled":true},"serviceMonitor":{"enabled":true}},"networkPolicy":{"enabled":true}}}' >/dev/null
fenced() { k get servicemonitor test-memshack >/dev/null 2>&1 && [ "$(k get networkpolicies -o name | wc -l)" = 2 ]; }
until_ok 60 fenced && ok "ServiceMonitor and NetworkPolicies created" || bad "no ServiceMonitor/NetworkPolicies: $(tail -3 "$tmp/operator.log")"
k patch memshack test --type merge -p '{"spec":{"monitoring":{"serviceMonitor":{"enabled":false}},"networkPolicy":{"enabled":false}}}' >/dev/null
unfenced() { ! k get servicemonitor test-memshack >/dev/null 2>&1 && [ -z "$(k get networkpolicies -o name)" ]; }
until_ok 60 unfenced && ok "ServiceMonitor and NetworkPolicies removed" || bad "still there"

{ ext_service_yaml; cat; } <<YAML | k apply -f - >/dev/null
apiVersion: memshack.io/v1alpha1
kind: MemcachedProxy
metadata: {name: px}
spec: {serviceName: ext, servicePort: cache}
YAML
until_ok 60 ready memcachedproxy px && ok "MemcachedProxy Ready" || bad "proxy not ready"

k apply -f - >/dev/null <<YAML
apiVersion: memshack.io/v1alpha1
kind: Memshack
metadata: {name: invalid}
spec: {memcached: {maxItemSize: 2048m}}
YAML
invalid_reason() { [ "$(k get memshack invalid -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" = InvalidSpec ]; }
until_ok 30 invalid_reason && ok "InvalidSpec reported" || bad "no InvalidSpec"
# The same event again: an InvalidSpec Event is recorded once per status change, so a new generation
# with the same mistake repeats it, and its series count is patched.
sleep 1.5; k patch memshack invalid --type merge -p '{"spec":{"mcrouterPoolSize":3}}' >/dev/null
sleep 1.5; k patch memshack invalid --type merge -p '{"spec":{"mcrouterPoolSize":4}}' >/dev/null
series() { [ -n "$(k get events.events.k8s.io -o jsonpath='{.items[?(@.reason=="InvalidSpec")].series.count}')" ]; }
until_ok 20 series && ok "repeated event aggregated into a series" || bad "no event series"

kill -TERM "$op_pid"; wait "$op_pid"; code=$?; op_pid=
[ "$code" = 0 ] && ok "operator stopped (lease released)" || bad "operator exit $code"
grep -q 'is forbidden: User' "$tmp/operator.log" && { bad "RBAC denied the operator something:"; grep -m3 'is forbidden: User' "$tmp/operator.log"; }

sleep 2 # let the audit log flush
if "$checker" "$root/yaml/operator.yaml" "$MEMSHACK_TESTENV_DIR/logs/audit.log" system:serviceaccount:memshack-system:memshack-operator > "$tmp/audit.txt"; then
  ok "least privilege: $(tail -1 "$tmp/audit.txt")"
else
  bad "RBAC audit:"; cat "$tmp/audit.txt"
fi
kubectl delete -f "$root/yaml/operator.yaml" --wait=false >/dev/null 2>&1
kubectl delete crd servicemonitors.monitoring.coreos.com --wait=false >/dev/null 2>&1
finish
