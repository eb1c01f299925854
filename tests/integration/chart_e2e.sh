#!/usr/bin/env bash
# The Helm chart on the full local control plane, with the operator image:
#  - `helm install` (namespaced: watchNamespace = the release namespace) creates
#    the ServiceAccount, RBAC, metrics Service and Deployment, and waits for it;
#  - the operator pods kwok marks Running are run for real: this script is their
#    kubelet, starting the image for each with the pod's own args, hostname and
#    a token of the pod's ServiceAccount (host network, so each pod's two ports
#    are moved to free loopback ports: the one change from the pod spec);
#  - a Memshack reaches Ready;
#  - `helm upgrade` changing replicaCount 1 -> 2 and the log format json -> text:
#    the Deployment rolls (a new ReplicaSet, its pods Ready), the old pod's
#    operator stops on SIGTERM and releases the Lease, and a new pod's operator
#    takes it (the Lease moves) and logs text;
#  - an upgrade with a value the schema refuses fails and changes nothing;
#  - `helm uninstall` removes every object of the release but the CRDs.
# Usage: chart_e2e.sh   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture; root for podman)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
ns=it-chart-$$
rel=memshack-it
tmp=$(mktemp -d)
image=localhost/memshack-operator:it
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
kubelet_pid=
cleanup() {
  [ -n "$kubelet_pid" ] && touch "$tmp/kubelet.stop" && wait "$kubelet_pid" 2>/dev/null
  podman ps -a --format '{{.Names}}' | grep "^chart-$$-" | xargs -r podman --runtime runc rm -f -t 0 >/dev/null 2>&1
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
k() { kubectl -n "$ns" "$@"; }
is_ready() { [ "$(k get memshack "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }
holder() { k get lease memshack-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

"$root/scripts/image.sh" build "$image" > "$tmp/build.log" 2>&1 && ok "operator image built" \
  || { bad "image build"; tail -20 "$tmp/build.log"; finish; exit 1; }

# --- the kubelet of the operator pods ----------------------------------------------------------------------
# start_pod POD: runs the image as the pod's container would run.
start_pod() {
  local pod=$1 mport hport
  local dir=$tmp/pods/$pod
  local -a args=()
  serviceaccount_dir "$dir" "$ns" "$(k get pod "$pod" -o jsonpath='{.spec.serviceAccountName}')" || return 1
  mport=$(free_port); hport=$(free_port)
  while IFS= read -r a; do
    case $a in
      --metrics-bind-address=*) a=--metrics-bind-address=127.0.0.1:$mport ;;
      --health-probe-bind-address=*) a=--health-probe-bind-address=127.0.0.1:$hport ;;
    esac
    args+=("$a")
  done < <(k get pod "$pod" -o jsonpath='{range .spec.containers[0].args[*]}{@}{"\n"}{end}')
  run_operator_image "chart-$$-$pod" "$pod" "$dir" "$image" "${args[@]}" > "$tmp/pods/$pod.cid" 2>&1
}
# Every Running pod of the release gets a container; a container whose pod is gone or deleting is stopped
# (SIGTERM, the pod's grace period), as a kubelet does.
kubelet() {
  while [ ! -e "$tmp/kubelet.stop" ]; do
    local want have p
    want=$(k get pods -l "app.kubernetes.io/instance=$rel" -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null | awk 'NF == 1 {print $1}')
    have=$(podman ps --format '{{.Names}}' | sed -n "s/^chart-$$-//p")
    for p in $want; do grep -qx "$p" <<<"$have" || { echo "start $p"; start_pod "$p"; }; done
    for p in $have; do grep -qx "$p" <<<"$want" || { echo "stop $p"; podman --runtime runc stop -t 30 "chart-$$-$p" >/dev/null; }; done
    sleep 0.5
  done
}
logs_of() { podman logs "chart-$$-$1" 2>&1; }

# --- install --------------------------------------------------------------------------------------------------
kubectl create namespace "$ns" >/dev/null
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
"$root/scripts/image.sh" run --rm "$image" crd | kubectl apply --server-side -f - >/dev/null && established || bad "CRDs"
out=$(helm install "$rel" "$root/charts/memshack" -n "$ns" --set watchNamespace="$ns" --set replicaCount=1 \
  --set image.repository=localhost/memshack-operator --set image.tag=it --set image.pullPolicy=Never \
  --set 'extraArgs={--gateway-probe-timeout-ms=0}' --wait --timeout 120s 2>&1) \
  && ok "helm install (waited for the Deployment)" || { bad "helm install: $out"; finish; exit 1; }
for obj in serviceaccount/memshack-operator role/memshack-operator rolebinding/memshack-operator role/memshack-operator-leader-election \
    rolebinding/memshack-operator-leader-election service/memshack-operator-metrics deployment/memshack-operator; do
  k get "$obj" >/dev/null 2>&1 || bad "no $obj"
done
ok "install created the ServiceAccount, Roles, RoleBindings, metrics Service and Deployment"
[ -z "$(kubectl get clusterrole,clusterrolebinding -l "app.kubernetes.io/instance=$rel" -o name)" ] && ok "namespaced: no cluster-wide RBAC" || bad "cluster RBAC"
kubelet > "$tmp/kubelet.log" 2>&1 &
kubelet_pid=$!
first=$(k get pods -l "app.kubernetes.io/instance=$rel" -o jsonpath='{.items[0].metadata.name}')
leads() { [[ $(holder) == "$1"_* ]]; }
until_ok 60 leads "$first" && ok "the operator of pod $first leads (Lease holder $(holder))" || { bad "Lease holder '$(holder)'"; logs_of "$first" | tail -5; }
logs_of "$first" | tail -1 | matches '^{' && ok "pod $first logs JSON" || bad "log format: $(logs_of "$first" | tail -1)"
sed "s/namespace: default/namespace: $ns/" "$root/yaml/test.yaml" | k apply -f - >/dev/null
until_ok 90 is_ready test && ok "Memshack Ready, reconciled by the chart's operator" || { bad "Memshack not Ready"; logs_of "$first" | tail -5; }

# --- upgrade: 2 replicas, text logs -------------------------------------------------------------------------------
rs_before=$(k get rs -l "app.kubernetes.io/instance=$rel" -o name | sort)
out=$(helm upgrade "$rel" "$root/charts/memshack" -n "$ns" --reuse-values --set replicaCount=2 --set logging.format=text --wait --timeout 120s 2>&1) \
  && ok "helm upgrade replicaCount=2 logging.format=text" || bad "helm upgrade: $out"
[ "$(k get deployment memshack-operator -o jsonpath='{.status.updatedReplicas}/{.status.readyReplicas}')" = 2/2 ] && ok "the Deployment rolled: 2 updated, 2 ready" \
  || bad "rollout: $(k get deployment memshack-operator -o jsonpath='{.status}')"
rs_after=$(k get rs -l "app.kubernetes.io/instance=$rel" -o name | sort)
[ "$rs_after" != "$rs_before" ] && ok "a new ReplicaSet for the new pod template" || bad "same ReplicaSets"
gone() { ! k get pod "$first" >/dev/null 2>&1; }
until_ok 60 gone && ok "the old pod is gone" || bad "old pod $first remains"
moved() { local h; h=$(holder); [ -n "$h" ] && [[ $h != "$first"_* ]]; }
if until_ok 60 moved; then
  new=$(holder); new=${new%_*}
  ok "the Lease moved from $first to $new"
  logs_of "$new" | tail -1 | matches -v '^{' && ok "pod $new logs text" || bad "new log format: $(logs_of "$new" | tail -1)"
else
  bad "the Lease did not move: '$(holder)'"; tail -5 "$tmp/kubelet.log"
fi
# The Lease is released before the process exits, so the container may still be stopping: wait for it to exit
# (the kubelet's stop gives it 30 s), then check how.
old_status() { podman ps -a --filter "name=chart-$$-$first" --format '{{.Status}}'; }
exited() { old_status | matches '^Exited'; }
until_ok 40 exited
old_status | matches 'Exited (0)' && ok "the old pod's operator exited 0 on SIGTERM" \
  || bad "old container: $(old_status)"
logs_of "$first" | matches 'released lease' && ok "it released the Lease" || bad "no 'released lease' in the old operator's log"
k scale memshack test --replicas=3 >/dev/null
until_ok 90 is_ready test && [ "$(k get deployment test-memshack -o jsonpath='{.spec.replicas}')" = 3 ] \
  && ok "the new leader reconciles (gateways scaled to 3)" || bad "after the upgrade: gateways $(k get deployment test-memshack -o jsonpath='{.spec.replicas}')"

# --- a value the schema refuses -------------------------------------------------------------------------------------
revision=$(helm status "$rel" -n "$ns" -o json | jq -r .version)
out=$(helm upgrade "$rel" "$root/charts/memshack" -n "$ns" --reuse-values --set logging.format=xml 2>&1) \
  && bad "logging.format=xml accepted" || { grep -q "/logging/format" <<<"$out" && ok "schema refuses logging.format=xml: $(grep -o "at '/logging/format'.*" <<<"$out")" || bad "refusal: $out"; }
[ "$(helm status "$rel" -n "$ns" -o json | jq -r .version)" = "$revision" ] && ok "the refused upgrade made no new revision" || bad "revision changed"

# --- uninstall ---------------------------------------------------------------------------------------------------
k delete memshack test --wait=false >/dev/null
helm uninstall "$rel" -n "$ns" --wait --timeout 120s >/dev/null 2>&1 && ok "helm uninstall" || bad "helm uninstall"
left=$(k get serviceaccount,role,rolebinding,service,deployment,poddisruptionbudget,replicaset -l "app.kubernetes.io/instance=$rel" -o name 2>/dev/null)
[ -z "$left" ] && ok "nothing of the release is left" || bad "left: $left"
kubectl get crd memshacks.memshack.io memcachedproxies.memshack.io >/dev/null 2>&1 && ok "the CRDs stay (Helm never deletes CRDs)" || bad "CRDs gone"
no_containers() { local names; names=$(podman ps --format '{{.Names}}'); ! grep -q "^chart-$$-" <<<"$names"; }
until_ok 60 no_containers && ok "every operator container stopped with its pod" || bad "containers left"
finish
