#!/usr/bin/env bash
# MemcachedProxy on the real data plane (tools/nodeagent runs the pods):
#   - three memcached processes outside the cluster (in the test namespace, on
#     addresses of their own, not pods) behind a selector-less Service with a
#     hand-made EndpointSlice: keys written through the proxy's mcrouter land on
#     the server mcrouter's own route lookup names, which is in status.servers,
#     and on no other;
#   - a StatefulSet of memcached behind a headless Service, scaled 3 → 5 → 2:
#     the proxy follows the endpoints (config digest = status.configDigest on
#     the gateway) without restarting mcrouter, and keys land where it says.
# Usage: dataplane_proxy_e2e.sh MEMSHACK_BINARY   (as root)
set -uo pipefail
bin=$1
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=dataplane_lib.sh
. "$(dirname "$0")/dataplane_lib.sh"
dp_enter "$@"

ext_pids=()
trap '[ ${#ext_pids[@]} -gt 0 ] && kill -TERM "${ext_pids[@]}" 2>/dev/null; dp_cleanup /tmp/memshack-dpproxy-logs' EXIT
ns=px
dp_start "$ns" || { finish; exit 1; }
k() { kubectl -n "$ns" "$@"; }

# --- servers outside the cluster -------------------------------------------------------
for i in 1 2 3; do
  ip addr add "10.245.0.$i/32" dev lo
  memcached -u nobody -l "10.245.0.$i" -p 11211 -U 0 > "$tmp/ext-$i.log" 2>&1 &
  ext_pids+=($!)
done
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  ports: [{name: memcache, port: 11211, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ext-1
  labels: {kubernetes.io/service-name: ext}
addressType: IPv4
ports: [{name: memcache, port: 11211, protocol: TCP}]
endpoints:
- addresses: ["10.245.0.1"]
- addresses: ["10.245.0.2"]
- addresses: ["10.245.0.3"]
---
apiVersion: memshack.io/v1alpha1
kind: MemcachedProxy
metadata: {name: ext}
spec: {serviceName: ext, servicePort: memcache, pool: Sharded, replicas: 1, port: 11211}
YAML

# proxy_ok NAME N: Ready, N servers in status, and the gateway pod serves status.configDigest
gw_ip() { k get pods -l "memshack.io/memcachedproxy=$1" -o jsonpath='{.items[?(@.status.podIP)].status.podIP}' 2>/dev/null | cut -d' ' -f1; }
gw_digest() { mc "$1" 11211 'get __mcrouter__.config_md5_digest\r\nquit\r\n' | sed -n 2p; }
proxy_ok() {
  local ip
  [ "$(k get memcachedproxy "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] || return 1
  [ "$(k get memcachedproxy "$1" -o jsonpath='{.status.serverCount}')" = "$2" ] || return 1
  ip=$(gw_ip "$1"); [ -n "$ip" ] || return 1
  [ "$(gw_digest "$ip")" = "$(k get memcachedproxy "$1" -o jsonpath='{.status.configDigest}')" ]
}
# placement NAME PREFIX N: N keys set through the proxy; each is on exactly the server mcrouter's
# route lookup names, that server is in status.servers, and no other server holds it.
placement() {
  local name=$1 prefix=$2 n=$3 ip i key dest servers hits good=0 spread
  ip=$(gw_ip "$name")
  servers=$(k get memcachedproxy "$name" -o jsonpath='{range .status.servers[*]}{@}{"\n"}{end}')
  # Until every set is STORED (at most 15 s): a pod that came up after mcrouter first tried it
  # stays marked down (TKO) until the next probe, at most --probe-timeout-max (5 s) later.
  local stored=0 tries=0
  while [ "$stored" != "$n" ] && [ $tries -lt 30 ]; do
    [ $tries -gt 0 ] && sleep 0.5
    tries=$((tries + 1))
    stored=$({ for i in $(seq 1 "$n"); do printf 'set %s%d 0 0 1\r\nx\r\n' "$prefix" "$i"; done; printf 'quit\r\n'; } \
      | timeout 20 socat -t 5 - "TCP:$ip:11211" | tr -d '\r' | grep -c '^STORED$')
  done
  [ "$stored" = "$n" ] || echo "  only $stored of $n sets stored after $tries tries"
  [ $tries -gt 1 ] && echo "  every set stored after $tries tries ($(( (tries - 1) * 500 )) ms)"
  : > "$tmp/dest"
  for i in $(seq 1 "$n"); do
    key=$prefix$i
    dest=$(mc "$ip" 11211 "get __mcrouter__.route(set,$key)\r\nquit\r\n" | sed -n 2p)
    echo "$dest" >> "$tmp/dest"
    grep -qxF "$dest" <<<"$servers" || { echo "  $key -> $dest, not in status.servers"; continue; }
    hits=0
    while read -r s; do
      # a server string is host:port (a pod's FQDN resolves through the namespace's hosts file)
      if mc "${s%:*}" "${s##*:}" "get $key\r\nquit\r\n" | grep -c '^VALUE' >/dev/null; then
        if [ "$s" = "$dest" ]; then hits=$((hits + 1)); else hits=$((hits + 100)); fi
      fi
    done <<<"$servers"
    [ $hits = 1 ] && good=$((good + 1)) || echo "  $key: on the routed server $((hits % 100)) time(s), on others $((hits / 100))"
  done
  spread=$(sort "$tmp/dest" | uniq -c | awk '{printf "%s ", $1}')
  [ "$good" = "$n" ] && ok "$name: $n keys each on exactly the server mcrouter routes to (spread $spread)" \
    || bad "$name: $good of $n keys where the config says"
}
until_ok 90 proxy_ok ext 3 && ok "proxy in front of 3 servers outside the cluster: Ready, gateway on status.configDigest" \
  || { bad "ext proxy not serving: $(k get memcachedproxy ext -o jsonpath='{.status.conditions}')"; }
placement ext ek 60
"$bin" cachetest --keys 30 "$(gw_ip ext):11211" > "$tmp/ct" 2>&1 && ok "cachetest through the proxy: $(tail -1 "$tmp/ct")" || { bad "cachetest through the proxy"; tail -3 "$tmp/ct"; }

# --- a StatefulSet-backed Service scaled 3 -> 5 -> 2 ------------------------------------
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: mc}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: mc}
  ports: [{name: memcache, port: 11211}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: mc}
spec:
  serviceName: mc
  replicas: 3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: mc}}
  template:
    metadata: {labels: {app: mc}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 11211, runAsGroup: 11211, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: memcached
        image: memcached:1.6
        command: [memcached, -p, "11211", -U, "0", -m, "16"]
        ports: [{name: memcache, containerPort: 11211}]
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: memshack.io/v1alpha1
kind: MemcachedProxy
metadata: {name: sts}
spec: {serviceName: mc, servicePort: memcache, pool: Sharded, replicas: 1, port: 11211}
YAML
# The backends themselves must serve before keys are placed (a Sharded proxy keeps not-ready
# endpoints in its ring on purpose, so the proxy being Ready says nothing about them).
sts_ready() { [ "$(k get statefulset mc -o jsonpath='{.status.readyReplicas}')" = "$1" ]; }
until_ok 120 sts_ready 3 && until_ok 120 proxy_ok sts 3 && ok "proxy in front of StatefulSet mc (3 pods)" || bad "sts proxy not serving: $(k get memcachedproxy sts -o jsonpath='{.status.conditions}')"
placement sts a 40
mcr_pid() { local f; for f in "$tmp"/agent/pods/*/name; do case $(cat "$f") in sts-proxy-*) cat "$(dirname "$f")/containers/mcrouter/pid";; esac; done; }
pid0=$(mcr_pid)
for n in 5 2; do
  k scale statefulset mc --replicas "$n" >/dev/null
  if until_ok 120 sts_ready "$n" && until_ok 120 proxy_ok sts "$n"; then ok "scaled to $n: status.servers has $n, the gateway serves the new config"
  else bad "scaled to $n: serverCount $(k get memcachedproxy sts -o jsonpath='{.status.serverCount}')"; fi
  placement sts "s$n-" 40
done
[ -n "$pid0" ] && [ "$(mcr_pid)" = "$pid0" ] && ok "the proxy's mcrouter kept its PID through 3 -> 5 -> 2 ($pid0)" || bad "mcrouter pid $pid0 -> $(mcr_pid)"
dp_stop_operator
finish
