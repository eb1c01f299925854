#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for tests and the demo.
#
#   testenv.sh up [minimal|full] [--dir DIR]   start; prints the environment to use
#   testenv.sh env --dir DIR                   print it again (export KUBECONFIG=...)
#   testenv.sh stop NAME --dir DIR             stop one component (etcd, kube-apiserver, ...)
#   testenv.sh start NAME --dir DIR            start it again with the same flags
#   testenv.sh down --dir DIR                  stop exactly what `up` started, remove DIR
#
# minimal: etcd + kube-apiserver (like envtest). full: also
# kube-controller-manager (garbage collector, Deployment/ReplicaSet/StatefulSet/
# EndpointSlice controllers...), kube-scheduler and kwok with fake nodes, so
# pods get scheduled and become Running and Ready.
#
# Ports are random free loopback ports; all state (certificates, etcd data,
# logs, PIDs) lives in DIR (default: a new mktemp folder). Binaries come from
# tools/testenv/build.sh (built when missing).
#
# Credentials in DIR/kubeconfig: context "admin" (bearer token, system:masters,
# the default) and "admin-cert" (client certificate, system:masters). The
# tokens file also defines "user" (no RBAC grants) for authorization tests.
#
# Tuning (benchmarks): MEMSHACK_TESTENV_APISERVER_FLAGS, _KCM_FLAGS and
# _SCHEDULER_FLAGS add flags to those components; MEMSHACK_TESTENV_NODE_PODS,
# _NODE_CPU and _NODE_MEMORY set each fake node's capacity (250, 32, 256Gi).
# MEMSHACK_TESTENV_KWOK_STAGES names another kwok stages file (the real data
# plane uses kwok-stages-dataplane.yaml: pods get IPs but not readiness).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "testenv: $*" >&2; exit 1; }

verb=${1:-}; [ $# -gt 0 ] && shift
profile=minimal
dir=${MEMSHACK_TESTENV_DIR:-}
name=
extra_apiserver_flags=${MEMSHACK_TESTENV_APISERVER_FLAGS:-}
extra_kcm_flags=${MEMSHACK_TESTENV_KCM_FLAGS:-}
extra_scheduler_flags=${MEMSHACK_TESTENV_SCHEDULER_FLAGS:-}
node_pods=${MEMSHACK_TESTENV_NODE_PODS:-250}
node_cpu=${MEMSHACK_TESTENV_NODE_CPU:-32}
node_memory=${MEMSHACK_TESTENV_NODE_MEMORY:-256Gi}
kwok_stages=${MEMSHACK_TESTENV_KWOK_STAGES:-$here/kwok-stages.yaml}
while [ $# -gt 0 ]; do
  case $1 in
    minimal|full) profile=$1 ;;
    --dir) dir=$2; shift ;;
    --dir=*) dir=${1#--dir=} ;;
    -*) die "unknown option $1" ;;
    *) name=$1 ;;
  esac
  shift
done

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 12000 )) # below the ephemeral range (32768+) used by outgoing connections
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      if ! grep -qs "^$p$" "$dir/ports.used" 2>/dev/null; then
        echo "$p" >> "$dir/ports.used"
        echo "$p"
        return 0
      fi
    fi
  done
  die "no free port found"
}

# Starts a component recorded in $dir/cmd/NAME, in its own session, logging to $dir/logs/NAME.log.
start_component() {
  local n=$1
  [ -f "$dir/cmd/$n" ] || die "no component '$n' in $dir"
  if is_running "$n"; then return 0; fi
  local -a argv
  mapfile -t argv < "$dir/cmd/$n"
  setsid "${argv[@]}" >> "$dir/logs/$n.log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$n"
}

record_component() { # NAME ARGV...
  local n=$1; shift
  printf '%s\n' "$@" > "$dir/cmd/$n"
  echo "$n" >> "$dir/components"
  start_component "$n"
}

# True when the PID file names a live process running the recorded binary.
is_running() {
  local n=$1 pid exe
  [ -f "$dir/pids/$n" ] || return 1
  pid=$(cat "$dir/pids/$n")
  [ -d "/proc/$pid" ] || return 1
  exe=$(head -n 1 "$dir/cmd/$n")
  local argv0=
  IFS= read -r -d '' argv0 < "/proc/$pid/cmdline" 2>/dev/null
  [ "$argv0" = "$exe" ]
}

stop_component() {
  local n=$1 pid
  is_running "$n" || { rm -f "$dir/pids/$n"; return 0; }
  pid=$(cat "$dir/pids/$n")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$dir/pids/$n"
}

wait_ready() { # URL-PATH SECONDS
  local path=$1 secs=$2 port token
  port=$(cat "$dir/apiserver.port"); token=$(cat "$dir/admin.token")
  for _ in $(seq 1 $(( secs * 5 ))); do
    if curl -fsS --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $token" \
        "https://127.0.0.1:$port$path" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

gen_certs() {
  local p=$dir/pki
  mkdir -p "$p"
  (
    cd "$p"
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=memshack-testenv-ca" -out ca.crt 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out apiserver.key 2>/dev/null
    openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n' > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -sha256 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out admin.key 2>/dev/null
    openssl req -new -key admin.key -subj "/O=system:masters/CN=memshack-admin" -out admin.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -sha256 \
      -extfile admin.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/admin.token"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/user.token"
  {
    printf '%s,memshack-admin,uid-admin,"system:masters"\n' "$(cat "$dir/admin.token")"
    printf '%s,memshack-user,uid-user\n' "$(cat "$dir/user.token")"
  } > "$p/tokens.csv"
}

write_kubeconfig() {
  local port ca
  port=$(cat "$dir/apiserver.port")
  ca=$(base64 -w0 < "$dir/pki/ca.crt")
  cat > "$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: testenv
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $ca
contexts:
- name: admin
  context: {cluster: testenv, user: admin, namespace: default}
- name: admin-cert
  context: {cluster: testenv, user: admin-cert, namespace: default}
- name: user
  context: {cluster: testenv, user: user, namespace: default}
users:
- name: admin
  user: {token: $(cat "$dir/admin.token")}
- name: admin-cert
  user:
    client-certificate: pki/admin.crt
    client-key: pki/admin.key
- name: user
  user: {token: $(cat "$dir/user.token")}
KC
  chmod 600 "$dir/kubeconfig"
}

print_env() {
  echo "export MEMSHACK_TESTENV_DIR=$dir"
  echo "export KUBECONFIG=$dir/kubeconfig"
  echo "export PATH=$(cat "$dir/bin.path"):\$PATH"
}

fake_nodes() {
  local kubectl i zone
  kubectl="$(cat "$dir/bin.path")/kubectl --kubeconfig=$dir/kubeconfig"
  for i in 0 1 2; do
    zone=zone-$(( i % 2 ))
    $kubectl apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    topology.kubernetes.io/zone: $zone
    type: kwok
status:
  allocatable: {cpu: "$node_cpu", memory: $node_memory, pods: "$node_pods"}
  capacity: {cpu: "$node_cpu", memory: $node_memory, pods: "$node_pods"}
NODE
  done
}

up() {
  local bin
  bin=$("$here/build.sh" | tail -n 1)
  if [ -z "$dir" ]; then dir=$(mktemp -d /tmp/memshack-testenv.XXXXXX); fi
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir" 2>/dev/null)" ] || die "$dir is not empty (run down first)"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/pids" "$dir/logs" "$dir/cmd" "$dir/etcd"
  echo "$bin" > "$dir/bin.path"
  echo "$profile" > "$dir/profile"
  gen_certs
  local etcd_port peer_port api_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  echo "$api_port" > "$dir/apiserver.port"
  echo "$etcd_port" > "$dir/etcd.port"
  record_component etcd "$bin/etcd" --name=default --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="default=http://127.0.0.1:$peer_port" --unsafe-no-fsync=true \
    --listen-metrics-urls="" --log-level=warn
  # shellcheck disable=SC2086 # extra flags are split on purpose
  record_component kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$api_port" --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" --token-auth-file="$dir/pki/tokens.csv" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/pki/sa.pub" --service-account-signing-key-file="$dir/pki/sa.key" \
    --authorization-mode=RBAC --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true \
    --audit-log-path="$dir/logs/audit.log" --audit-policy-file="$here/audit-policy.yaml" \
    --audit-log-maxsize=200 --audit-log-format=json \
    $extra_apiserver_flags
  write_kubeconfig
  if ! wait_ready /readyz 120; then
    tail -n 20 "$dir/logs/kube-apiserver.log" >&2 || true
    die "kube-apiserver did not become ready (logs in $dir/logs)"
  fi
  if [ "$profile" = full ]; then
    local kcm_port sched_port kwok_port
    kcm_port=$(free_port); sched_port=$(free_port); kwok_port=$(free_port)
    # shellcheck disable=SC2086 # extra flags are split on purpose
    record_component kube-controller-manager "$bin/kube-controller-manager" \
      --kubeconfig="$dir/kubeconfig" --authentication-kubeconfig="$dir/kubeconfig" \
      --authorization-kubeconfig="$dir/kubeconfig" --bind-address=127.0.0.1 --secure-port="$kcm_port" \
      --leader-elect=false --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
      --use-service-account-credentials=false --controllers='*' --cluster-signing-cert-file="$dir/pki/ca.crt" \
      --cluster-signing-key-file="$dir/pki/ca.key" --concurrent-gc-syncs=10 \
      $extra_kcm_flags
    # shellcheck disable=SC2086
    record_component kube-scheduler "$bin/kube-scheduler" \
      --kubeconfig="$dir/kubeconfig" --authentication-kubeconfig="$dir/kubeconfig" \
      --authorization-kubeconfig="$dir/kubeconfig" --bind-address=127.0.0.1 --secure-port="$sched_port" \
      --leader-elect=false $extra_scheduler_flags
    record_component kwok "$bin/kwok" --kubeconfig="$dir/kubeconfig" --config="$kwok_stages" \
      --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
      --node-ip=10.244.0.1 --cidr=10.244.0.0/16 --node-lease-duration-seconds=40 \
      --server-address="127.0.0.1:$kwok_port"
    fake_nodes
    # The ServiceAccount controller creates "default" in each namespace; pods need it.
    local kubectl="$bin/kubectl --kubeconfig=$dir/kubeconfig"
    for _ in $(seq 1 150); do
      $kubectl get serviceaccount default -n default >/dev/null 2>&1 && break
      sleep 0.2
    done
    for _ in $(seq 1 150); do
      [ "$($kubectl get nodes -l type=kwok --no-headers 2>/dev/null | grep -c ' Ready ')" = 3 ] && break
      sleep 0.2
    done
  fi
  print_env
}

down() {
  [ -n "$dir" ] || die "down needs --dir (or MEMSHACK_TESTENV_DIR)"
  [ -d "$dir" ] || return 0
  [ -f "$dir/components" ] || [ -f "$dir/bin.path" ] || die "$dir does not look like a testenv folder"
  if [ -f "$dir/components" ]; then
    # Stop in reverse start order: kwok, scheduler, controller-manager, apiserver, etcd.
    tac "$dir/components" | while read -r n; do stop_component "$n"; done
  fi
  rm -rf "$dir"
}

case $verb in
  up) up ;;
  down) down ;;
  env) [ -n "$dir" ] && [ -f "$dir/kubeconfig" ] || die "env needs --dir of a running testenv"; print_env ;;
  stop) [ -n "$name" ] || die "stop needs a component name"; stop_component "$name" ;;
  start)
    [ -n "$name" ] || die "start needs a component name"
    start_component "$name"
    if [ "$name" = kube-apiserver ]; then wait_ready /readyz 120 || die "kube-apiserver did not become ready"; fi
    ;;
  *) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
