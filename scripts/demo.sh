#!/usr/bin/env bash
# The local demo: builds memshack, brings up a full local Kubernetes control
# plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
# with three fake nodes) on loopback, installs the CRD, starts the operator,
# applies yaml/test.yaml (2 gateways, 2 shards × 2 replicas), waits until it
# is Ready, shows what was created and the mcrouter config, then scales it
# and shows the config change. Ctrl-C tears everything down.
# MEMSHACK_DEMO_HOLD=0 tears down at once instead of waiting (scripted runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH"

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "demo: building the control plane binaries (first run only, several minutes)..."
tools/testenv/build.sh >/dev/null

dir=$(mktemp -d /tmp/memshack-demo.XXXXXX)
rmdir "$dir"
op_pid=
cleanup() {
  echo
  echo "demo: tearing down"
  [ -n "$op_pid" ] && kill -TERM "$op_pid" 2>/dev/null && wait "$op_pid" 2>/dev/null
  tools/testenv/testenv.sh down --dir "$dir" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
eval "$(tools/testenv/testenv.sh up full --dir "$dir")"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
wait_ready() {
  for _ in $(seq 1 300); do
    [ "$(kubectl get memshack test -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] &&
      [ "$(kubectl get memshack test -o jsonpath='{.status.observedGeneration}')" = "$(kubectl get memshack test -o jsonpath='{.metadata.generation}')" ] && return 0
    sleep 0.2
  done
  echo "demo: not Ready after 60 s" >&2
  return 1
}

step build/memshack check
echo; echo "demo: installing the CRD and starting the operator (logs: $dir/operator.log)"
build/memshack crd | kubectl apply --server-side -f - >/dev/null
kubectl wait --for=condition=Established crd/memshacks.memshack.io --timeout=30s >/dev/null
build/memshack run --gateway-probe-timeout-ms 0 --metrics-bind-address 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0 \
  --pool-removal-delay 5 > "$dir/operator.log" 2>&1 &
op_pid=$!
step kubectl apply -f yaml/test.yaml
wait_ready
step kubectl get memshack,statefulsets,deployments,services,pods
step kubectl get configmap test-memshack-mcrouter -o jsonpath='{.data.config\.json}'
echo
step kubectl patch memshack test --type merge -p '{"spec":{"numShards":3,"mcrouterPoolSize":3}}'
wait_ready
step kubectl get memshack,statefulsets,deployments
echo; echo "demo: the mcrouter config now lists 3 shards per pool:"
kubectl get configmap test-memshack-mcrouter -o jsonpath='{.data.config\.json}' | grep 'svc.cluster.local'
step kubectl get events.events.k8s.io --field-selector regarding.name=test

if [ "${MEMSHACK_DEMO_HOLD:-1}" = 1 ] && [ -t 0 ]; then
  # shellcheck disable=SC2016 # $PATH is meant literally, for the user to paste
  printf '\nEverything stays up. In another shell:\n  export KUBECONFIG=%s/kubeconfig PATH=%s:$PATH\nCtrl-C to tear it down.\n' \
    "$dir" "$(dirname "$(command -v kubectl)")"
  while true; do sleep 3600; done
fi
