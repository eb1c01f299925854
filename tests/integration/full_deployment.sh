#!/usr/bin/env bash
# Full profile: a plain `kubectl create deployment x --image=y --replicas=2`
# ends with 2 Ready pods (scheduled by kube-scheduler, run by kwok), and
# deleting it garbage-collects its ReplicaSet and pods (kube-controller-manager).
set -euo pipefail
ns=it-deploy-$$
kubectl create namespace "$ns" >/dev/null
trap 'kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
kubectl -n "$ns" create deployment x --image=y --replicas=2 >/dev/null
for _ in $(seq 1 150); do
  ready=$(kubectl -n "$ns" get deployment x -o jsonpath='{.status.readyReplicas}')
  [ "${ready:-0}" = 2 ] && break
  sleep 0.2
done
pods=$(kubectl -n "$ns" get pods -l app=x -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.nodeName}{"\n"}{end}')
echo "$pods"
if [ "$(printf '%s\n' "$pods" | grep -c '^True kwok-node-')" != 2 ]; then
  echo "FAIL: want 2 Ready pods on kwok nodes"
  kubectl get nodes,deployments,replicasets,pods -A -o wide || true
  kubectl -n "$ns" get events || true
  exit 1
fi
kubectl -n "$ns" delete deployment x >/dev/null
for _ in $(seq 1 150); do
  [ -z "$(kubectl -n "$ns" get replicasets,pods -o name 2>/dev/null)" ] && break
  sleep 0.2
done
left=$(kubectl -n "$ns" get replicasets,pods -o name 2>/dev/null)
[ -z "$left" ] || { echo "FAIL: not garbage-collected: $left"; exit 1; }
echo "1 passed, 0 failed"
