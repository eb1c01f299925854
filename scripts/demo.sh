#!/usr/bin/env bash
# The local demo, on a real data plane: builds memshack, then inside a network
# namespace of its own brings up a full local Kubernetes control plane (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kwok with three
# nodes), the test node agent (tools/nodeagent: every pod becomes a real
# memcached or mcrouter process), installs the CRD, starts the operator and
# applies yaml/test.yaml (2 gateways in front of 2 shards x 2 replicas).
# Once it is Ready it runs `memshack cachetest` through a gateway pod, prints
# the config digest every gateway reports next to status.configDigest, scales
# to 3 shards and 3 gateways, and does both again. Ctrl-C tears it all down.
# Needs root (network namespaces) and an mcrouter binary: ../shared/mcrouter
# or MEMSHACK_MCROUTER. MEMSHACK_DEMO_HOLD=0 tears down at once (scripted runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH"

if [ -z "${MEMSHACK_DP_NETNS:-}" ]; then
  scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$(nproc)" >/dev/null
  echo "demo: building the control plane binaries (first run only, several minutes)..."
  tools/testenv/build.sh >/dev/null
fi
bin=$root/build/memshack
# shellcheck source=../tests/integration/lib.sh
. "$root/tests/integration/lib.sh"
# shellcheck source=../tests/integration/dataplane_lib.sh
. "$root/tests/integration/dataplane_lib.sh"
set +e # dp_enter returns the inner run's status itself
dp_enter "$@"
set -e

cleanup() {
  set +e # every step of the teardown runs, whatever the one before it returned
  echo
  echo "demo: tearing down"
  dp_down
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "demo: starting the control plane and the node agent in network namespace $MEMSHACK_DP_NETNS"
dp_up
PATH="$(cat "$dp_dir/bin.path"):$PATH"; export PATH

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
settled() {
  [ "$(kubectl get memshack test -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] &&
    [ "$(kubectl get memshack test -o jsonpath='{.status.conditions[?(@.type=="ConfigLoaded")].status}')" = True ] &&
    [ "$(kubectl get memshack test -o jsonpath='{.status.observedGeneration}')" = "$(kubectl get memshack test -o jsonpath='{.metadata.generation}')" ]
}
wait_settled() { until_ok 180 settled || { echo "demo: not Ready with every gateway on the config after 180 s" >&2; return 1; }; }
digests() {
  local pod ip
  echo "status.configDigest: $(kubectl get memshack test -o jsonpath='{.status.configDigest}')"
  kubectl get pods -l app.kubernetes.io/component=gateway -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}' |
    while read -r pod ip; do
      printf '  %s (%s): %s\n' "$pod" "$ip" "$(mc "$ip" 5000 'get __mcrouter__.config_md5_digest\r\nquit\r\n' | sed -n 2p)"
    done
}
gateway_ip() { kubectl get pods -l app.kubernetes.io/component=gateway -o jsonpath='{.items[0].status.podIP}'; }

step "$bin" check
echo; echo "demo: installing the CRD and starting the operator (logs: $tmp/operator.log)"
"$bin" crd | kubectl apply --server-side -f - >/dev/null
kubectl wait --for=condition=Established crd/memshacks.memshack.io --timeout=30s >/dev/null
dp_operator --pool-removal-delay 60
step kubectl apply -f yaml/test.yaml
wait_settled
step kubectl get memshack,statefulsets,deployments,services,pods -o wide
echo; echo "demo: every pod is a real process (node agent state in $tmp/agent):"
ps -o pid,user,args -p "$(cat "$tmp"/agent/pods/*/containers/*/pid | paste -sd,)"
step "$bin" cachetest --keys 100 "$(gateway_ip):5000"
echo; echo "demo: the config each gateway loaded (get __mcrouter__.config_md5_digest):"
digests
step kubectl patch memshack test --type merge -p '{"spec":{"numShards":3,"mcrouterPoolSize":3}}'
wait_settled
step kubectl get memshack,statefulsets,deployments,pods
echo; echo "demo: the mcrouter config now lists 3 shards per pool:"
kubectl get configmap test-memshack-mcrouter -o jsonpath='{.data.config\.json}' | grep 'svc.cluster.local'
echo; echo "demo: every gateway reloaded it without a restart:"
digests
step "$bin" cachetest --keys 100 "$(gateway_ip):5000"
step kubectl get events.events.k8s.io --field-selector regarding.name=test

if [ "${MEMSHACK_DEMO_HOLD:-1}" = 1 ] && [ -t 0 ]; then
  # shellcheck disable=SC2016 # $PATH is meant literally, for the user to paste
  printf '\nEverything stays up. In another shell (as root):\n  ip netns exec %s bash\n  export KUBECONFIG=%s PATH=%s:$PATH\nCtrl-C to tear it down.\n' \
    "$MEMSHACK_DP_NETNS" "$KUBECONFIG" "$(dirname "$(command -v kubectl)")"
  while true; do sleep 3600; done
fi
