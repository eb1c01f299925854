#!/usr/bin/env bash
# The user journey on a real cluster, for users with kind and Docker or podman
# (our own machines have no kind: CI runs the same steps against the local
# control plane instead, and builds and runs the image in image_e2e). Creates a kind cluster, builds and loads the operator image,
# installs yaml/operator.yaml, applies yaml/test.yaml, waits for Ready,
# port-forwards the gateway, runs `memshack cachetest` through mcrouter,
# scales the sample, tests again, and deletes everything.
#
#   hack/kind-e2e.sh            (needs docker or podman, kind, kubectl)
#   KEEP_CLUSTER=1 hack/kind-e2e.sh   leaves the cluster for inspection
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cluster=${KIND_CLUSTER:-memshack-e2e}
image=memshack-operator:latest
port=${LOCAL_PORT:-15000}
pf_pid=

for tool in kind kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: $tool is required" >&2; exit 1; }
done

cleanup() {
  [ -n "$pf_pid" ] && kill "$pf_pid" 2>/dev/null || true
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "build memshack (for cachetest) and the operator image"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target memshack >/dev/null
# The same build as CI's image test: docker where an engine answers, else podman.
scripts/image.sh build "$image"
engine=$(scripts/image.sh engine)
[ "$engine" = podman ] && export KIND_EXPERIMENTAL_PROVIDER=podman

step "create the kind cluster and load the image"
kind create cluster --name "$cluster" --wait 120s
if [ "$engine" = docker ]; then
  kind load docker-image "$image" --name "$cluster"
else
  # podman names it localhost/...; the Deployment's "memshack-operator:latest" means docker.io/library/... to containerd.
  podman tag "localhost/$image" "docker.io/library/$image"
  podman save "docker.io/library/$image" -o "${TMPDIR:-/tmp}/memshack-image.tar"
  kind load image-archive "${TMPDIR:-/tmp}/memshack-image.tar" --name "$cluster"
fi
kubectl config use-context "kind-$cluster" >/dev/null

step "install the operator"
kubectl apply --server-side -f yaml/operator.yaml
kubectl wait --for=condition=Established crd/memshacks.memshack.io crd/memcachedproxies.memshack.io --timeout=60s
kubectl -n memshack-system rollout status deployment/memshack-operator --timeout=180s

wait_ready() {
  kubectl wait --for=condition=Ready memshack/test --timeout=300s
  local gen
  gen=$(kubectl get memshack test -o jsonpath='{.metadata.generation}')
  for _ in $(seq 1 150); do
    [ "$(kubectl get memshack test -o jsonpath='{.status.observedGeneration}')" = "$gen" ] && return 0
    sleep 2
  done
  return 1
}

cachetest() {
  kubectl port-forward service/test-memshack "$port:5000" >/dev/null 2>&1 &
  pf_pid=$!
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
  build/memshack cachetest --keys 200 "127.0.0.1:$port"
  local rc=$?
  kill "$pf_pid" 2>/dev/null || true
  wait "$pf_pid" 2>/dev/null || true
  pf_pid=
  return $rc
}

step "apply the sample (2 gateways, 2 shards x 2 replicas) and wait for Ready"
kubectl apply -f yaml/test.yaml
wait_ready
kubectl get memshack,statefulsets,deployments,pods

step "cachetest through mcrouter"
cachetest

step "scale to 3 shards and 3 gateways; mcrouter reloads its config (up to a minute)"
kubectl patch memshack test --type merge -p '{"spec":{"numShards":3,"mcrouterPoolSize":3}}'
wait_ready
sleep 70 # the kubelet refreshes the mounted ConfigMap, mcrouter reloads it
cachetest

step "delete"
kubectl delete -f yaml/test.yaml --wait=true
kubectl delete -f yaml/operator.yaml --wait=true
echo "kind-e2e: passed"
