#!/usr/bin/env bash
# The Helm chart, offline: `helm lint --strict` passes with the default values,
# a namespaced install and everything turned on; what each renders is the set
# of objects it should be; values that break the schema are refused with a
# message that names the value.
# Usage: chart_lint.sh CHART_DIR   (helm on PATH)
set -uo pipefail
chart=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=integration/lib.sh
. "$(dirname "$0")/integration/lib.sh"

cat > "$tmp/namespaced.yaml" <<'V'
watchNamespace: apps
V
cat > "$tmp/everything.yaml" <<'V'
nameOverride: cache-operator
fullnameOverride: ""
image: {repository: registry.example/memshack, tag: "", digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", pullPolicy: Always}
imagePullSecrets: [{name: regcred}]
replicaCount: 3
leaderElection: {enabled: true, leaseDuration: 30, renewDeadline: 20, retryPeriod: 4}
watchNamespace: apps
createNamespace: true
serviceAccount: {create: true, name: memshack-sa, annotations: {example.com/role: cache}}
logging: {format: text, level: debug}
poolRemovalDelaySeconds: 0
workers: 4
extraArgs: [--sync-period=600]
resources: {limits: {cpu: "1", memory: 256Mi}, requests: {cpu: 50m, memory: 64Mi}}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: infra, effect: NoSchedule}]
podAntiAffinityPreset: hard
topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app.kubernetes.io/name: cache-operator}}}]
priorityClassName: system-cluster-critical
podAnnotations: {example.com/scrape: "true"}
podLabels: {team: cache}
metrics: {port: 9090, service: {enabled: true, port: 9090}, serviceMonitor: {enabled: true, interval: 15s, labels: {release: prometheus}}}
health: {port: 9091}
podDisruptionBudget: {enabled: true, minAvailable: 2}
V

for set in default namespaced everything; do
  args=()
  [ "$set" != default ] && args=(-f "$tmp/$set.yaml")
  out=$(helm lint --strict "$chart" "${args[@]}" 2>&1) && ok "helm lint --strict: $set values" || bad "lint $set: $out"
  helm template rel "$chart" --namespace ops "${args[@]}" > "$tmp/$set.out" 2>&1 || bad "template $set: $(cat "$tmp/$set.out")"
done
kinds() { grep -E '^kind: ' "$1" | sort | uniq -c | awk '{printf "%s%s=%s", sep, $3, $1; sep=" "}'; }
[ "$(kinds "$tmp/default.out")" = "ClusterRole=1 ClusterRoleBinding=1 Deployment=1 PodDisruptionBudget=1 Role=1 RoleBinding=1 Service=1 ServiceAccount=1" ] \
  && ok "default: ClusterRole, Deployment, PDB, metrics Service, ServiceAccount, leader-election Role" || bad "default kinds: $(kinds "$tmp/default.out")"
[ "$(kinds "$tmp/namespaced.out")" = "Deployment=1 PodDisruptionBudget=1 Role=2 RoleBinding=2 Service=1 ServiceAccount=1" ] \
  && ok "namespaced: Roles only, no cluster-wide RBAC" || bad "namespaced kinds: $(kinds "$tmp/namespaced.out")"
grep -q -- '- --namespace=apps' "$tmp/namespaced.out" && grep -q 'namespace: apps' "$tmp/namespaced.out" \
  && ok "namespaced: the operator watches apps and its Role is there" || bad "namespaced: no --namespace=apps"
[ "$(kinds "$tmp/everything.out")" = "Deployment=1 Namespace=1 PodDisruptionBudget=1 Role=2 RoleBinding=2 Service=1 ServiceAccount=1 ServiceMonitor=1" ] \
  && ok "everything on: Namespace and ServiceMonitor too" || bad "everything kinds: $(kinds "$tmp/everything.out")"
missing=()
for want in 'image: registry.example/memshack@sha256:0123' 'imagePullPolicy: Always' 'replicas: 3' '--log-format=text' '--log-level=debug' \
    '--pool-removal-delay=0' '--workers=4' '"--sync-period=600"' 'requiredDuringSchedulingIgnoredDuringExecution' 'priorityClassName: system-cluster-critical' \
    'name: memshack-sa' 'containerPort: 9090' 'interval: 15s' 'release: prometheus' 'minAvailable: 2' 'name: rel-cache-operator' 'team: cache' \
    'kubernetes.io/os: linux' 'key: dedicated' 'topology.kubernetes.io/zone' '--leader-elect-lease-duration=30'; do
  grep -qF -- "$want" "$tmp/everything.out" || missing+=("$want")
done
[ ${#missing[@]} -eq 0 ] && ok "everything on: every value reaches the objects" || bad "everything on: missing ${missing[*]}"
# replicaCount 1: no PDB (minAvailable 1 would block every drain).
helm template rel "$chart" --set replicaCount=1 | matches '^kind: PodDisruptionBudget' && bad "PDB with one replica" || ok "no PDB for a single replica"

# Values the schema refuses, each with its name in the message.
refused() { # description value-path --set...
  local what=$1 path=$2; shift 2
  local out
  if out=$(helm template rel "$chart" "$@" 2>&1); then bad "$what: accepted"; return; fi
  grep -qF -- "$path" <<<"$out" && ok "refused: $what" || bad "$what: message does not name $path: $out"
}
refused "log format xml" /logging/format --set logging.format=xml
refused "negative replicaCount" /replicaCount --set replicaCount=-1
refused "unknown top-level value" replicas --set replicas=2
refused "port out of range" /metrics/port --set metrics.port=70000
refused "bad watchNamespace" /watchNamespace --set watchNamespace=Not_A_Namespace
refused "digest that is not sha256" /image/digest --set image.digest=latest
refused "extra argument without --" /extraArgs/0 --set 'extraArgs={sync-period=5}'
refused "memory quantity" /resources/limits/memory --set resources.limits.memory=lots
finish
