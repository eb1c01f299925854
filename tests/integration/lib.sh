# Shared helpers for the integration test scripts (sourced, not run).
# Callers set $tmp (a scratch folder) before using free_port.
# shellcheck shell=bash
passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
# producer | matches GREP-ARGS...: grep -q over ALL of the producer's output. A bare `producer | grep -q`
# under pipefail fails when grep exits at its first match and the producer, still writing, dies of SIGPIPE.
matches() { local input; input=$(cat); grep -q "$@" <<<"$input"; }
# until_ok SECONDS CMD...: retries CMD every 0.2 s for at most SECONDS.
until_ok() { local t=$1; shift; for _ in $(seq 1 $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
# A loopback port nobody listens on and that this script has not handed out yet.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000)) # below the kernel's ephemeral range (32768+), where outgoing connections take ports
    grep -qx "$p" "${tmp:?}/ports" 2>/dev/null && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    echo "$p" >> "$tmp/ports"; echo "$p"; return
  done
}
# The memshack.io CRDs without a schema, as an old CRD version would have them: the API server
# stores whatever it is given (deep nesting, unknown fields, any number).
schemaless_crds() {
  local kind plural
  for kind in Memshack:memshacks MemcachedProxy:memcachedproxies; do
    plural=${kind#*:}; kind=${kind%%:*}
    cat <<CRD
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: $plural.memshack.io}
spec:
  group: memshack.io
  names: {kind: $kind, listKind: ${kind}List, plural: $plural, singular: $(tr '[:upper:]' '[:lower:]' <<<"$kind")}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
CRD
  done
}
# external_service NAME PORT_NAME IP...: a selector-less Service on port 11211 and its hand-made
# EndpointSlice (memcached servers outside the cluster), as YAML documents.
external_service() {
  local name=$1 port=$2 ip; shift 2
  cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: $name}
spec:
  ports: [{name: $port, port: 11211}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: $name-manual, labels: {kubernetes.io/service-name: $name}}
addressType: IPv4
ports: [{name: $port, port: 11211}]
endpoints:
YAML
  for ip in "$@"; do echo "- {addresses: [$ip]}"; done
}
# serviceaccount_dir DIR NAMESPACE SERVICEACCOUNT: what the kubelet mounts at
# /var/run/secrets/kubernetes.io/serviceaccount: a token from the TokenRequest API, the API server's CA
# (from the kubeconfig) and the namespace, readable by the operator image's uid.
serviceaccount_dir() {
  mkdir -p "$1"
  kubectl -n "$2" create token "$3" --duration=1h > "$1/token" || return 1
  kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$1/ca.crt"
  printf '%s' "$2" > "$1/namespace"
  chmod 0755 "$1"; chmod 0644 "$1"/*
}
# run_operator_image CONTAINER HOSTNAME SA_DIR IMAGE ARGS...: starts the operator image detached, as a pod of
# yaml/operator.yaml would run: uid 65532, read-only root, no capabilities, no privilege escalation, SA_DIR
# mounted where the kubelet puts it, KUBERNETES_SERVICE_HOST/_PORT naming the kubeconfig's API server (host
# network).
run_operator_image() {
  local name=$1 host=$2 sa=$3 image=$4 server hostport; shift 4
  server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  hostport=${server#https://}
  "$(dirname "${BASH_SOURCE[0]}")/../../scripts/image.sh" run -d --name "$name" --hostname "$host" --network host \
    --user 65532:65532 --read-only --cap-drop ALL --security-opt no-new-privileges \
    -v "$sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" \
    -e "KUBERNETES_SERVICE_HOST=${hostport%:*}" -e "KUBERNETES_SERVICE_PORT=${hostport##*:}" \
    "$image" "$@"
}
established() { kubectl wait --for=condition=Established crd/memshacks.memshack.io crd/memcachedproxies.memshack.io --timeout=30s >/dev/null; }
# finish: prints the closing tally and exits non-zero on any failure.
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

# A selector-less Service "ext" (port "cache", 11211) with one EndpointSlice (192.0.2.1): memcached
# outside the cluster, for a MemcachedProxy. YAML documents, the last one followed by "---".
ext_service_yaml() {
  cat <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {ports: [{name: cache, port: 11211}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ext-1, labels: {kubernetes.io/service-name: ext}}
addressType: IPv4
ports: [{name: cache, port: 11211}]
endpoints: [{addresses: [192.0.2.1]}]
---
YAML
}
