#!/usr/bin/env bash
# The local demo: builds memshack, brings up a full local Kubernetes control
# plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
# with three fake nodes) on loopback, connects memshack to it and shows a
# Deployment becoming Ready. Leaves it running until Ctrl-C, then tears it
# all down. MEMSHACK_DEMO_HOLD=0 tears down at once (for scripted runs).
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
cleanup() {
  echo
  echo "demo: tearing down"
  tools/testenv/testenv.sh down --dir "$dir" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
eval "$(tools/testenv/testenv.sh up full --dir "$dir")"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step build/memshack check
step kubectl get nodes -L topology.kubernetes.io/zone
step kubectl create deployment demo --image=memcached:1.6-alpine --replicas=2
kubectl wait --for=condition=Available deployment/demo --timeout=60s >/dev/null
step kubectl get deployments,pods -o wide

if [ "${MEMSHACK_DEMO_HOLD:-1}" = 1 ] && [ -t 0 ]; then
  printf '\nThe control plane stays up. In another shell:\n  export KUBECONFIG=%s/kubeconfig\nCtrl-C to tear it down.\n' "$dir"
  while true; do sleep 3600; done
fi
