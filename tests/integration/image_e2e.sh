#!/usr/bin/env bash
# The operator image, built from the Dockerfile (scripts/image.sh: podman on a
# base made by mmdebstrap here, docker where an engine answers) and run as the
# operator, in-cluster style, against the full local control plane:
#  - the ServiceAccount token (TokenRequest), the API server's CA and the
#    namespace file mounted at /var/run/secrets/kubernetes.io/serviceaccount,
#    KUBERNETES_SERVICE_HOST/_PORT pointing at the local kube-apiserver, and the
#    ServiceAccount and RBAC from the Helm chart, namespaced (watchNamespace);
#  - yaml/operator.yaml's securityContext: uid/gid 65532, read-only root
#    filesystem, every capability dropped, no privilege escalation (checked on
#    the running process, not only asked for);
#  - a Memshack and a MemcachedProxy reach Ready; /healthz, /readyz and /metrics
#    answer from the container; SIGTERM stops it within the 30 s grace period
#    (operator.yaml's terminationGracePeriodSeconds default) with exit code 0;
#  - `memshack version` and `memshack render` run from the image;
#  - the image is FROM scratch: one layer, only the binary, the libraries it
#    loads, the CA bundle and passwd/group; its size is printed (target 25 MB).
# Usage: image_e2e.sh   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture; needs root for podman)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
ns=it-image-$$
tmp=$(mktemp -d)
image=localhost/memshack-operator:it
name=memshack-it-$$
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cleanup() {
  podman --runtime runc rm -f -t 0 "$name" >/dev/null 2>&1
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
k() { kubectl -n "$ns" "$@"; }
cond() { k get "$1" "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].$4}" 2>/dev/null; }
is_ready() { [ "$(cond "$1" "$2" Ready status)" = True ]; }

# --- build -----------------------------------------------------------------------------------
start=$SECONDS
if "$root/scripts/image.sh" build "$image" > "$tmp/build.log" 2>&1; then
  ok "image built from the Dockerfile with $("$root/scripts/image.sh" engine) in $((SECONDS - start)) s"
else
  bad "image build failed"; tail -30 "$tmp/build.log"; finish; exit 1
fi
size=$(podman image inspect "$image" --format '{{.Size}}')
layers=$(podman image inspect "$image" --format '{{len .RootFS.Layers}}')
echo "image: $image, $size bytes ($((size / 1000000)) MB), $layers layer(s)"
[ "$size" -le 25000000 ] && ok "image is $((size / 1000000)) MB (at most 25 MB)" || bad "image is $size bytes, over 25 MB"
[ "$layers" = 1 ] && ok "one layer (FROM scratch, one COPY of the runtime root)" || bad "$layers layers"
[ "$(podman image inspect "$image" --format '{{.Config.User}}')" = 65532:65532 ] && ok "image user 65532:65532" || bad "image user"
# What the image holds: nothing but memshack, shared libraries, the CA bundle and passwd/group.
cid=$(podman create "$image") && podman export "$cid" | tar -t > "$tmp/files" && podman rm "$cid" >/dev/null
others=$(grep -vE '^(usr/local/bin/memshack|(usr/)?lib(64)?/.*\.so[.0-9]*|etc/ssl/certs/ca-certificates\.crt|etc/(passwd|group)|.*/|tmp/?)$' "$tmp/files")
[ -z "$others" ] && ok "image holds only memshack, $(grep -c '\.so' "$tmp/files") libraries, the CA bundle and passwd/group" \
  || bad "unexpected files in the image: $(echo "$others" | head -5 | tr '\n' ' ')"
podman image inspect "$image" --format '{{.RootFS.Layers}}' | sed 's/^/layers: /'

# --- version and render, from the image --------------------------------------------------------
v=$("$root/scripts/image.sh" run --rm "$image" version 2>&1)
[[ $v == memshack\ * ]] && ok "image runs 'memshack version': $v" || bad "version: $v"
rendered=$("$root/scripts/image.sh" run --rm -i "$image" render - < "$root/yaml/test.yaml" 2>&1)
grep -q 'kind: StatefulSet' <<<"$rendered" && grep -q 'kind: ConfigMap' <<<"$rendered" \
  && ok "image runs 'memshack render' ($(grep -c '^kind:' <<<"$rendered") objects)" || bad "render: $(head -3 <<<"$rendered")"

# --- the namespaced install's ServiceAccount and RBAC, in a namespace of our own -----------------------------
kubectl create namespace "$ns" >/dev/null
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
"$root/scripts/image.sh" run --rm "$image" crd | kubectl apply --server-side -f - >/dev/null && established && ok "CRDs from the image installed" || bad "CRDs"
# The chart's ServiceAccount and RBAC for an operator that watches this namespace (the Deployment is this container).
helm template memshack "$root/charts/memshack" --namespace "$ns" --set watchNamespace="$ns" \
  --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml > "$tmp/rbac.yaml"
kubectl apply -f "$tmp/rbac.yaml" >/dev/null && ok "the chart's ServiceAccount and namespaced RBAC applied ($(grep -c '^kind:' "$tmp/rbac.yaml") objects)" || bad "RBAC apply"

# --- run it in-cluster style ------------------------------------------------------------------------------
sa=$tmp/serviceaccount
serviceaccount_dir "$sa" "$ns" memshack-operator && ok "ServiceAccount token from the TokenRequest API" || bad "token"
mport=$(free_port); hport=$(free_port)
# operator.yaml's args, with loopback ports (host network) and no gateway probes (pods here are kwok's, not real).
run_operator_image "$name" "$name" "$sa" "$image" run --leader-elect --metrics-bind-address="127.0.0.1:$mport" --health-probe-bind-address="127.0.0.1:$hport" \
  --log-format=json --namespace="$ns" --gateway-probe-timeout-ms 0 > "$tmp/cid" 2>&1 \
  && ok "operator container started" || { bad "container start: $(cat "$tmp/cid")"; finish; exit 1; }
logs() { podman logs "$name" 2>&1 | tail -"${1:-20}"; }
if until_ok 60 curl -sf "http://127.0.0.1:$hport/readyz"; then ok "/readyz answers from the container"
else bad "container not ready"; logs; finish; exit 1; fi
curl -sf "http://127.0.0.1:$hport/healthz" >/dev/null && ok "/healthz answers" || bad "/healthz"
curl -sf "http://127.0.0.1:$mport/metrics" > "$tmp/metrics" && grep -q '^memshack_leader 1' "$tmp/metrics" \
  && ok "/metrics answers; the container leads (memshack_leader 1)" || bad "/metrics: $(grep leader "$tmp/metrics")"
logs 3 | matches '"level"' && ok "logs are JSON (--log-format=json)" || bad "log format: $(logs 2)"
holder=$(k get lease memshack-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)
[ -n "$holder" ] && ok "Lease held in the ServiceAccount's namespace by $holder" || bad "no Lease in $ns"

# The securityContext, read off the running process.
pid=$(podman inspect "$name" --format '{{.State.Pid}}')
status=$(cat "/proc/$pid/status")
[ "$(awk '/^Uid:/ {print $2 $3}' <<<"$status")" = 6553265532 ] && [ "$(awk '/^Gid:/ {print $2}' <<<"$status")" = 65532 ] \
  && ok "runs as uid/gid 65532" || bad "uid/gid: $(grep -E '^(Uid|Gid):' <<<"$status" | tr '\n' ' ')"
[ "$(awk '/^CapEff:/ {print $2}' <<<"$status")" = 0000000000000000 ] && [ "$(awk '/^CapBnd:/ {print $2}' <<<"$status")" = 0000000000000000 ] \
  && ok "no capabilities (effective and bounding sets empty)" || bad "caps: $(grep ^Cap <<<"$status" | tr '\n' ' ')"
[ "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$status")" = 1 ] && ok "no privilege escalation (NoNewPrivs)" || bad "NoNewPrivs"
awk '$2 == "/" {print $4}' "/proc/$pid/mounts" | matches '^ro' && ok "root filesystem read-only" || bad "root fs: $(awk '$2 == "/"' "/proc/$pid/mounts")"

# --- a Memshack and a MemcachedProxy reach Ready ------------------------------------------------------------
sed "s/namespace: default/namespace: $ns/" "$root/yaml/test.yaml" | k apply -f - >/dev/null
external_service memcached memcache 192.0.2.10 | k apply -f - >/dev/null
sed "s/namespace: default/namespace: $ns/" "$root/yaml/samples/memcachedproxy.yaml" | k apply -f - >/dev/null
until_ok 120 is_ready memshack test && ok "Memshack Ready (operator in the container)" || { bad "Memshack: $(cond memshack test Ready message)"; logs; }
until_ok 120 is_ready memcachedproxy cache && ok "MemcachedProxy Ready" || { bad "MemcachedProxy: $(cond memcachedproxy cache Ready message)"; logs; }

# --- SIGTERM within the grace period ------------------------------------------------------------------------
start=$(date +%s%N)
podman --runtime runc stop -t 30 "$name" >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
echo "SIGTERM: stopped in $ms ms, exit code $code"
[ "$ms" -lt 30000 ] && [ "$code" = 0 ] && ok "SIGTERM: exit 0 in $ms ms (grace period 30 s)" || { bad "SIGTERM: $ms ms, exit $code"; logs; }
[ -z "$(k get lease memshack-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" ] \
  && ok "Lease released on SIGTERM" || bad "Lease still held: $(k get lease memshack-leader -o jsonpath='{.spec.holderIdentity}')"
finish
