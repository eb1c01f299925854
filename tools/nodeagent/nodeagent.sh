#!/usr/bin/env bash
# A test-only node agent: makes the pods of the local control plane real, the
# way a kubelet would on one node. Run it inside the network namespace that
# holds the control plane (tests/dataplane/netns.sh), as root.
#
#   nodeagent.sh --testenv DIR --dir STATE --hosts FILE --bin NAME=PATH... [options]
#
# For every pod that is scheduled, has a pod IP (kwok assigns it) and is not
# being deleted:
#  - a sandbox: a network namespace of its own (held by a `sleep` process, the
#    pause container's job) with eth0 = the pod IP, on a bridge in the agent's
#    namespace, so every pod, the operator and the tests reach each other by
#    pod IP and every container may bind its ports on 0.0.0.0 as in a cluster;
#    a gratuitous ARP announces the IP (kwok reuses the IPs of deleted pods);
#  - each container: COMMAND + ARGS from the pod spec, exactly, with the
#    command's first word mapped to a host binary by --bin (images are not
#    pulled); $(VAR) references expanded from the container's env (values and
#    fieldRefs), run as the pod's runAsUser/runAsGroup with fsGroup as a
#    supplementary group, in a mount namespace of its own where every volume is
#    bind-mounted at its mountPath (podrun.sh). A mountPath missing on the host
#    is created there as an empty directory and never removed: another agent
#    (a test running beside this one) may have pods mounted on it;
#  - volumes: emptyDir (a fresh directory, mode 0777), projected (a bound
#    service-account token from the TokenRequest API, configMap items,
#    downwardAPI namespace/name/uid; written once) and configMap, written
#    as the kubelet's atomic writer does: files in a timestamped directory
#    `..YYYY_MM_DD_HH_MM_SS.N`, `..data` a symlink to it, each key a symlink
#    `KEY -> ..data/KEY`; a changed ConfigMap is written to a new timestamped
#    directory --configmap-delay seconds after the agent first saw the change
#    (the kubelet's sync period), `..data` swapped to it with one rename, and
#    the previous directory removed;
#  - readiness: the pod is Ready when every container answers `version` on its
#    first containerPort (memcached and mcrouter both speak it), and turns
#    unready after the readinessProbe's failureThreshold (default 3) failed
#    probes in a row, as the kubelet does; a container
#    that exits makes the pod not Ready, and is restarted after
#    --restart-backoff seconds (restartCount counts) unless the file
#    STATE/hold/NAMESPACE_POD exists; while STATE/freeze/NAMESPACE_POD exists
#    the pod's configMap volumes are not updated (a kubelet that stopped
#    syncing: its process keeps an old config);
#  - status: conditions Ready/ContainersReady and containerStatuses are written
#    to the pod's status subresource whenever they change.
# Pods that disappear or get a deletionTimestamp are stopped (SIGTERM, then
# SIGKILL after 3 s) and their sandboxes removed.
#
# DNS: FILE (the namespace's /etc/netns/NAME/hosts, which `ip netns exec`
# mounts over /etc/hosts) is rewritten in place (same inode, so every mount of
# it sees the change) from Services and EndpointSlices as cluster DNS would
# answer: SERVICE.NS.svc.DOMAIN -> ClusterIP; for a headless Service each
# endpoint with a hostname -> HOSTNAME.SERVICE.NS.svc.DOMAIN and the Service
# name -> its endpoints. There is no kube-proxy: ClusterIPs resolve but are
# not routed; tests connect to pod IPs.
#
# Options: --configmap-delay S (1), --restart-backoff S (1), --interval S (0.5),
# --bridge NAME (msbr0), --cluster-domain D (cluster.local), --pod-gateway IP
# (the bridge's address: each pod's default route, so pods reach addresses of
# the agent's namespace outside the pod network — servers "outside the cluster").
# The agent logs to stderr, containers to STATE/pods/UID/CONTAINER.log.
# Creating the file STATE/stop (or SIGTERM) stops every container and sandbox
# by PID and exits. Prefer the file: bash 5.2 can abort when a trapped signal
# arrives while it waits for a child, and then nothing is stopped.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

testenv='' dir='' hosts='' cm_delay=1 backoff=1 interval=0.5 bridge=msbr0 domain=cluster.local pod_gateway=''
declare -A bins=()
while [ $# -gt 0 ]; do
  case $1 in
    --testenv) testenv=$2; shift ;;
    --dir) dir=$2; shift ;;
    --hosts) hosts=$2; shift ;;
    --bin) bins[${2%%=*}]=${2#*=}; shift ;;
    --configmap-delay) cm_delay=$2; shift ;;
    --restart-backoff) backoff=$2; shift ;;
    --interval) interval=$2; shift ;;
    --bridge) bridge=$2; shift ;;
    --cluster-domain) domain=$2; shift ;;
    --pod-gateway) pod_gateway=$2; shift ;;
    *) echo "nodeagent: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$testenv" ] && [ -n "$dir" ] && [ -n "$hosts" ] || { echo "nodeagent: --testenv, --dir and --hosts are required" >&2; exit 2; }
[ -f "$hosts" ] || { echo "nodeagent: hosts file '$hosts' does not exist" >&2; exit 2; }
cm_delay_ms=$(awk -v d="$cm_delay" 'BEGIN {print int(d * 1000)}')
backoff_ms=$(awk -v d="$backoff" 'BEGIN {print int(d * 1000)}')
api_port=$(cat "$testenv/apiserver.port") token=$(cat "$testenv/admin.token") ca=$testenv/pki/ca.crt
mkdir -p "$dir/pods" "$dir/hold" "$dir/freeze"
chmod 755 "$dir" "$dir/pods"

log() { printf '%s nodeagent: %s\n' "$(date -u +%H:%M:%S.%3N)" "$*" >&2; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
api() { # PATH [curl args...]
  curl -sS --fail --max-time 10 --cacert "$ca" -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port$1" "${@:2}"
}
# seconds_since EPOCHREALTIME-STAMP -> whole milliseconds elapsed
ms_since() { local a=${1/./} b=${EPOCHREALTIME/./}; echo $(( (10#$b - 10#$a) / 1000 )); }

alive() { # PID: a live, non-zombie process
  local s
  [ -n "$1" ] && s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$s" != Z ]
}

# --- volumes --------------------------------------------------------------------------
# cm_write VOLDIR CONFIGMAP-JSON: one atomic-writer update (see the header).
cm_write() {
  local vol=$1 cm=$2 ts old key
  ts=..$(date -u +%Y_%m_%d_%H_%M_%S.%N)
  mkdir -p "$vol/$ts"
  while IFS= read -r -d '' key; do
    jq -j --arg k "$key" '.data[$k]' <<<"$cm" > "$vol/$ts/$key"
  done < <(jq -j '(.data // {}) | keys[] | (., "\u0000")' <<<"$cm")
  while IFS= read -r -d '' key; do
    jq -r --arg k "$key" '.binaryData[$k]' <<<"$cm" | base64 -d > "$vol/$ts/$key"
  done < <(jq -j '(.binaryData // {}) | keys[] | (., "\u0000")' <<<"$cm")
  chmod 0755 "$vol/$ts"; chmod 0644 "$vol/$ts"/* 2>/dev/null
  old=$(readlink "$vol/..data" 2>/dev/null)
  ln -sfn "$ts" "$vol/..data_tmp" && mv -T "$vol/..data_tmp" "$vol/..data"
  for key in "$vol/$ts"/*; do
    key=${key##*/}
    [ -L "$vol/$key" ] || ln -s "..data/$key" "$vol/$key"
  done
  for key in "$vol"/*; do # keys the ConfigMap no longer has
    [ -L "$key" ] && [ ! -e "$key" ] && rm -f "$key"
  done
  [ -n "$old" ] && [ "$old" != "$ts" ] && rm -rf "${vol:?}/$old"
  return 0
}

cm_json() { # NS NAME -> the ConfigMap from this loop's list
  jq -c --arg ns "$1" --arg n "$2" '.items[] | select(.metadata.namespace == $ns and .metadata.name == $n)' <<<"$cms_json"
}

# Brings every configMap volume of pod dir PD up to date (after the delay).
sync_configmaps() {
  local pd=$1 ns vol name cm sum seen
  ns=$(cat "$pd/ns")
  [ -e "$dir/freeze/${ns}_$(cat "$pd/name")" ] && return 0 # a kubelet that stopped syncing this pod
  while IFS=$'\t' read -r vol name; do
    [ -n "$vol" ] || continue
    cm=$(cm_json "$ns" "$name")
    [ -n "$cm" ] || continue # missing: keep what is there (the kubelet does too)
    sum=$(jq -cS '[.data, .binaryData]' <<<"$cm" | md5sum | cut -c1-32)
    [ "$sum" = "$(cat "$pd/volumes/$vol.sum" 2>/dev/null)" ] && { rm -f "$pd/volumes/$vol.seen"; continue; }
    if [ ! -f "$pd/volumes/$vol.seen" ] || [ "$(cut -d' ' -f1 "$pd/volumes/$vol.seen")" != "$sum" ]; then
      echo "$sum $EPOCHREALTIME" > "$pd/volumes/$vol.seen"
    fi
    seen=$(cut -d' ' -f2 "$pd/volumes/$vol.seen")
    if [ "$(ms_since "$seen")" -ge "$cm_delay_ms" ]; then
      cm_write "$pd/volumes/$vol" "$cm"
      echo "$sum" > "$pd/volumes/$vol.sum"
      rm -f "$pd/volumes/$vol.seen"
      log "$(cat "$pd/ns")/$(cat "$pd/name"): configMap $name written to volume $vol ($sum)"
    fi
  done < <(jq -r '.spec.volumes[]? | select(.configMap) | [.name, .configMap.name] | @tsv' "$pd/pod.json")
}

# projected_data PD VOLUME: prints {"data": {PATH: CONTENT}} for a projected volume, the way the
# kubelet fills one: serviceAccountToken from the TokenRequest API (bound to the pod; written
# once, not rotated), configMap items, downwardAPI fields (namespace, name, uid).
projected_data() {
  local pd=$1 vol=$2 ns name uid sa src out='{}' val cm exp path
  ns=$(cat "$pd/ns") name=$(cat "$pd/name") uid=$(jq -r .metadata.uid "$pd/pod.json")
  sa=$(jq -r '.spec.serviceAccountName // "default"' "$pd/pod.json")
  while IFS= read -r src; do
    case $(jq -r 'keys[0]' <<<"$src") in
      serviceAccountToken)
        exp=$(jq -r '.serviceAccountToken.expirationSeconds // 3600' <<<"$src")
        path=$(jq -r '.serviceAccountToken.path' <<<"$src")
        val=$(api "/api/v1/namespaces/$ns/serviceaccounts/$sa/token" -X POST -H 'Content-Type: application/json' --data-binary \
          "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"expirationSeconds\":$exp,\"boundObjectRef\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":\"$name\",\"uid\":\"$uid\"}}}" \
          | jq -r .status.token) || { echo "cannot request a token for serviceaccount $sa"; return 1; }
        out=$(jq -c --arg p "$path" --arg v "$val" '.[$p] = $v' <<<"$out") ;;
      configMap)
        cm=$(cm_json "$ns" "$(jq -r .configMap.name <<<"$src")")
        [ -n "$cm" ] || { [ "$(jq -r '.configMap.optional // false' <<<"$src")" = true ] && continue; echo "configMap $(jq -r .configMap.name <<<"$src") not found"; return 1; }
        out=$(jq -c --argjson cm "$cm" --argjson s "$src" '. + (if $s.configMap.items then
          ([$s.configMap.items[] | {(.path): $cm.data[.key]}] | add) else ($cm.data // {}) end)' <<<"$out") ;;
      downwardAPI)
        out=$(jq -c --arg ns "$ns" --arg n "$name" --arg u "$uid" --argjson s "$src" '. + ([$s.downwardAPI.items[]
          | {(.path): ({"metadata.namespace": $ns, "metadata.name": $n, "metadata.uid": $u}[.fieldRef.fieldPath] // "")}] | add)' <<<"$out") ;;
      *) echo "projected volume $vol: source $(jq -r 'keys[0]' <<<"$src") is not supported by the node agent"; return 1 ;;
    esac
  done < <(jq -c --arg v "$vol" '.spec.volumes[] | select(.name == $v) | .projected.sources[]' "$pd/pod.json")
  jq -c '{data: .}' <<<"$out"
}

# Prepares every volume of a new pod; fails on a volume type the agent cannot make.
make_volumes() {
  local pd=$1 name kind uid gid ns cm
  ns=$(cat "$pd/ns")
  mkdir -p "$pd/volumes"
  uid=$(jq -r '.spec.securityContext.runAsUser // 0' "$pd/pod.json")
  gid=$(jq -r '.spec.securityContext.fsGroup // .spec.securityContext.runAsGroup // 0' "$pd/pod.json")
  while IFS=$'\t' read -r name kind; do
    [ -n "$name" ] || continue
    case $kind in
      emptyDir) mkdir -p "$pd/volumes/$name"; chown "$uid:$gid" "$pd/volumes/$name"; chmod 0777 "$pd/volumes/$name" ;;
      configMap)
        mkdir -p "$pd/volumes/$name"; chmod 0755 "$pd/volumes/$name"
        cm=$(cm_json "$ns" "$(jq -r --arg v "$name" '.spec.volumes[] | select(.name == $v) | .configMap.name' "$pd/pod.json")")
        if [ -z "$cm" ]; then echo "configMap of volume $name not found"; return 1; fi
        cm_write "$pd/volumes/$name" "$cm"
        jq -cS '[.data, .binaryData]' <<<"$cm" | md5sum | cut -c1-32 > "$pd/volumes/$name.sum" ;;
      projected)
        mkdir -p "$pd/volumes/$name"; chmod 0755 "$pd/volumes/$name"
        cm=$(projected_data "$pd" "$name") || { echo "volume $name: $cm"; return 1; }
        cm_write "$pd/volumes/$name" "$cm" ;;
      *) echo "volume $name: type $kind is not supported by the node agent"; return 1 ;;
    esac
  done < <(jq -r '.spec.volumes[]? | [.name, (del(.name) | keys[0])] | @tsv' "$pd/pod.json")
}

# --- containers -----------------------------------------------------------------------
start_container() { # PD INDEX
  local pd=$1 i=$2 c cd name ip ns pname bin uid gid fsg var val
  local -a argv envs
  local -A envmap=()
  c=$(jq -c ".spec.containers[$i]" "$pd/pod.json")
  name=$(jq -r .name <<<"$c")
  cd=$pd/containers/$name
  mkdir -p "$cd"
  ip=$(cat "$pd/ip") ns=$(cat "$pd/ns") pname=$(cat "$pd/name")
  mapfile -d '' -t argv < <(jq -j '((.command // []) + (.args // []))[] | (., "\u0000")' <<<"$c")
  if [ ${#argv[@]} -eq 0 ]; then echo "no command in the pod spec (the agent does not read image entrypoints)" > "$cd/error"; return 1; fi
  bin=${bins[${argv[0]##*/}]:-}
  if [ -z "$bin" ]; then echo "no host binary for command '${argv[0]}' (--bin)" > "$cd/error"; return 1; fi
  # env: values and the fieldRefs a pod can use
  while IFS=$'\t' read -r var val; do
    [ -n "$var" ] || continue
    case $val in
      fieldRef:status.podIP|fieldRef:status.podIPs) val=$ip ;;
      fieldRef:metadata.name) val=$pname ;;
      fieldRef:metadata.namespace) val=$ns ;;
      fieldRef:*) val="" ;;
      value:*) val=${val#value:} ;;
    esac
    envmap[$var]=$val; envs+=("$var=$val")
  done < <(jq -r '.env[]? | [.name, (if .valueFrom.fieldRef then "fieldRef:" + .valueFrom.fieldRef.fieldPath else "value:" + (.value // "") end)] | @tsv' <<<"$c")
  for var in "${!envmap[@]}"; do argv=("${argv[@]//\$($var)/${envmap[$var]}}"); done
  uid=$(jq -r --argjson p "$(jq -c '.spec.securityContext // {}' "$pd/pod.json")" '.securityContext.runAsUser // $p.runAsUser // 0' <<<"$c")
  gid=$(jq -r --argjson p "$(jq -c '.spec.securityContext // {}' "$pd/pod.json")" '.securityContext.runAsGroup // $p.runAsGroup // 0' <<<"$c")
  fsg=$(jq -r '.spec.securityContext.fsGroup // empty' "$pd/pod.json")
  local -a groups=(--clear-groups)
  [ -n "$fsg" ] && groups=(--groups="$fsg")
  : > "$cd/mounts"
  while IFS=$'\t' read -r var val ro; do
    [ -n "$var" ] || continue
    [ -d "$val" ] || mkdir -p "$val" # a mountpoint on the host: left in place (see the header)
    printf '%s\t%s\t%s\n' "$pd/volumes/$var" "$val" "$([ "$ro" = true ] && echo ro || echo rw)" >> "$cd/mounts"
  done < <(jq -r '.volumeMounts[]? | [.name, .mountPath, (.readOnly // false)] | @tsv' <<<"$c")
  jq -r '.ports[0].containerPort // empty' <<<"$c" > "$cd/port"
  nsenter --net="/proc/$(cat "$pd/sandbox.pid")/ns/net" -- unshare --mount --propagation private -- \
    bash "$here/podrun.sh" "$cd/mounts" -- \
    setpriv --reuid="$uid" --regid="$gid" "${groups[@]}" --no-new-privs -- \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOSTNAME="$pname" "${envs[@]}" "$bin" "${argv[@]:1}" \
    >> "$cd/log" 2>&1 < /dev/null &
  echo $! > "$cd/pid"
  now > "$cd/started"
  rm -f "$cd/exited" "$cd/error" "$cd/was_ready" "$cd/fails"
  log "$ns/$pname: container $name started (pid $!): ${argv[*]}"
}

start_pod() { # UID POD-JSON
  local uid=$1 pod=$2 pd=$dir/pods/$1 ip sb veth n i
  mkdir -p "$pd"
  printf '%s\n' "$pod" > "$pd/pod.json"
  jq -r .metadata.namespace <<<"$pod" > "$pd/ns"
  jq -r .metadata.name <<<"$pod" > "$pd/name"
  ip=$(jq -r .status.podIP <<<"$pod"); echo "$ip" > "$pd/ip"
  unshare --net -- sleep infinity < /dev/null > /dev/null 2>&1 &
  sb=$!; echo "$sb" > "$pd/sandbox.pid"
  veth=ms${uid//-/}; veth=${veth:0:13}
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e "/proc/$sb/ns/net" ] && [ "$(readlink "/proc/$sb/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.05; done
  if ! ip link add "$veth" type veth peer name eth0 netns "$sb" || ! ip link set "$veth" master "$bridge" up ||
     ! nsenter --net="/proc/$sb/ns/net" sh -c "ip link set lo up && ip addr add $ip/16 dev eth0 && ip link set eth0 up" ||
     { [ -n "$pod_gateway" ] && ! nsenter --net="/proc/$sb/ns/net" ip route add default via "$pod_gateway"; }; then
    log "$(cat "$pd/ns")/$(cat "$pd/name"): sandbox network setup failed"
    echo "sandbox network setup failed" > "$pd/error"; return 1
  fi
  # As the CNI bridge plugin does: a gratuitous ARP, so neighbours that cached this
  # IP for a deleted pod (kwok reuses IPs) update at once instead of dropping packets.
  nsenter --net="/proc/$sb/ns/net" arping -q -U -c 1 -w 1 -I eth0 -s "$ip" "$ip" || true
  log "$(cat "$pd/ns")/$(cat "$pd/name"): sandbox up, eth0 $ip"
  if ! err=$(make_volumes "$pd"); then
    log "$(cat "$pd/ns")/$(cat "$pd/name"): $err"; echo "$err" > "$pd/error"; return 1
  fi
  n=$(jq '.spec.containers | length' <<<"$pod")
  for ((i = 0; i < n; i++)); do start_container "$pd" "$i" || log "$(cat "$pd/ns")/$(cat "$pd/name"): $(cat "$pd/containers/"*/error 2>/dev/null)"; done
  return 0
}

stop_pod() { # PD
  local pd=$1 pid pids=() t
  for pid in "$pd"/containers/*/pid "$pd/sandbox.pid"; do
    [ -f "$pid" ] && pids+=("$(cat "$pid")")
  done
  for pid in "${pids[@]}"; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
  for ((t = 0; t < 30; t++)); do
    local any=0
    for pid in "${pids[@]}"; do alive "$pid" && any=1; done
    [ $any = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  log "$(cat "$pd/ns" 2>/dev/null)/$(cat "$pd/name" 2>/dev/null): stopped"
  rm -rf "$pd"
}

probe() { # IP PORT: answers `version`
  # shellcheck disable=SC2016 # $0/$1 are the inner shell's arguments
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "version\r\n" >&3 && IFS= read -r l <&3 && [[ $l == VERSION* ]]' "$1" "$2" 2>/dev/null
}

# Checks each container of a pod: exited ones are recorded and restarted after
# the backoff (unless held); readiness comes from `version`. Patches the pod's
# status when what it would say changed.
check_pod() {
  local pd=$1 ip ns pname cd name pid port ready all=True statuses=() code st
  ip=$(cat "$pd/ip") ns=$(cat "$pd/ns") pname=$(cat "$pd/name")
  [ -f "$pd/error" ] && all=False
  if [ -f "$pd/error" ]; then # the sandbox or a volume could not be made: every container waits
    while IFS= read -r st; do statuses+=("$st"); done < <(jq -c --rawfile e "$pd/error" '.spec.containers[]
      | {name, image, imageID: "", ready: false, started: false, restartCount: 0,
         state: {waiting: {reason: "CreateContainerConfigError", message: $e}}}' "$pd/pod.json")
  fi
  for cd in "$pd"/containers/*/; do
    [ -d "$cd" ] || continue
    cd=${cd%/}; name=${cd##*/}; ready=false
    pid=$(cat "$cd/pid" 2>/dev/null)
    if [ -f "$cd/error" ]; then
      st="{\"waiting\":{\"reason\":\"CreateContainerError\",\"message\":$(jq -Rs . < "$cd/error")}}"
    elif alive "$pid"; then
      port=$(cat "$cd/port")
      if [ -n "$port" ] && probe "$ip" "$port"; then
        ready=true; echo 0 > "$cd/fails"; : > "$cd/was_ready"
      elif [ -f "$cd/was_ready" ]; then
        # as the kubelet: a ready container turns unready after failureThreshold failed probes in a row
        local fails threshold
        fails=$(( $(cat "$cd/fails" 2>/dev/null || echo 0) + 1 )); echo "$fails" > "$cd/fails"
        threshold=$(jq --arg n "$name" '.spec.containers[] | select(.name == $n) | .readinessProbe.failureThreshold // 3' "$pd/pod.json")
        if [ "$fails" -lt "$threshold" ]; then ready=true; else rm -f "$cd/was_ready"; fi
      fi
      st="{\"running\":{\"startedAt\":\"$(cat "$cd/started")\"}}"
    else
      if [ ! -f "$cd/exited" ]; then
        wait "$pid" 2>/dev/null; code=$?
        echo "$code $EPOCHREALTIME $(now)" > "$cd/exited"
        log "$ns/$pname: container $name (pid $pid) exited with $code"
      fi
      read -r code _ _ < "$cd/exited"
      st="{\"waiting\":{\"reason\":\"CrashLoopBackOff\",\"message\":\"exited with $code\"}}"
      if [ ! -e "$dir/hold/${ns}_$pname" ] &&
         [ "$(ms_since "$(cut -d' ' -f2 "$cd/exited")")" -ge "$backoff_ms" ]; then
        echo $(( $(cat "$cd/restarts" 2>/dev/null || echo 0) + 1 )) > "$cd/restarts"
        start_container "$pd" "$(jq --arg n "$name" '.spec.containers | map(.name) | index($n)' "$pd/pod.json")"
      fi
    fi
    [ $ready = true ] || all=False
    statuses+=("{\"name\":\"$name\",\"image\":$(jq --arg n "$name" '.spec.containers[] | select(.name == $n) | .image' "$pd/pod.json"),\"imageID\":\"\",\"ready\":$ready,\"started\":$([ -f "$cd/exited" ] && echo false || echo true),\"restartCount\":$(cat "$cd/restarts" 2>/dev/null || echo 0),\"state\":$st}")
  done
  local sig="$all ${statuses[*]}"
  [ "$sig" = "$(cat "$pd/status.sig" 2>/dev/null)" ] && return 0
  local t patch
  t=$(now)
  patch="{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"$all\",\"lastTransitionTime\":\"$t\"},{\"type\":\"ContainersReady\",\"status\":\"$all\",\"lastTransitionTime\":\"$t\"}],\"containerStatuses\":[$(IFS=,; echo "${statuses[*]}")]}}"
  if api "/api/v1/namespaces/$ns/pods/$pname/status" -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
       --data-binary "$patch" -o /dev/null; then
    echo "$sig" > "$pd/status.sig"
    log "$ns/$pname: Ready=$all"
  fi
}

# --- DNS ------------------------------------------------------------------------------
write_hosts() {
  local content
  content=$(printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
    jq -r --arg d "$domain" --argjson slices "$slices_json" '
      (.items[] | select(.spec.clusterIP != null and .spec.clusterIP != "None" and .spec.clusterIP != "")
        | "\(.spec.clusterIP)\t\(.metadata.name).\(.metadata.namespace).svc.\($d)"),
      (. as $svcs | $slices.items[] | . as $s
        | ($s.metadata.labels["kubernetes.io/service-name"] // "") as $svc
        | select($svc != "" and any($svcs.items[]; .metadata.namespace == $s.metadata.namespace and .metadata.name == $svc and .spec.clusterIP == "None"))
        | $s.endpoints[]? | select(.conditions.ready != false) | . as $e | $e.addresses[]
        | (if $e.hostname then "\(.)\t\($e.hostname).\($svc).\($s.metadata.namespace).svc.\($d)" else empty end),
          "\(.)\t\($svc).\($s.metadata.namespace).svc.\($d)")' <<<"$svcs_json" | sort -u)
  if [ "$content" != "$(cat "$hosts")" ]; then
    printf '%s\n' "$content" > "$hosts" # in place: the bind mounts of this inode see it
  fi
}

# --- main loop ------------------------------------------------------------------------
stopping=0
shutdown() { stopping=1; }
trap shutdown TERM INT

log "started (api 127.0.0.1:$api_port, state $dir, hosts $hosts, configmap delay ${cm_delay}s)"
while [ $stopping = 0 ] && [ ! -e "$dir/stop" ]; do
  if pods_json=$(api /api/v1/pods) && cms_json=$(api /api/v1/configmaps) &&
     svcs_json=$(api /api/v1/services) && slices_json=$(api /apis/discovery.k8s.io/v1/endpointslices); then
    declare -A want=()
    while IFS=$'\t' read -r uid; do [ -n "$uid" ] && want[$uid]=1; done < <(jq -r '.items[]
      | select(.spec.nodeName != null and .status.podIP != null and .metadata.deletionTimestamp == null) | .metadata.uid' <<<"$pods_json")
    for pd in "$dir"/pods/*/; do
      pd=${pd%/}; [ -d "$pd" ] || continue
      [ -n "${want[${pd##*/}]:-}" ] || stop_pod "$pd"
    done
    for uid in "${!want[@]}"; do
      [ -d "$dir/pods/$uid" ] && continue
      start_pod "$uid" "$(jq -c --arg u "$uid" '.items[] | select(.metadata.uid == $u)' <<<"$pods_json")"
    done
    for pd in "$dir"/pods/*/; do
      pd=${pd%/}; [ -d "$pd" ] || continue
      sync_configmaps "$pd"
      check_pod "$pd"
    done
    write_hosts
    unset want
  else
    log "listing from the API server failed; nothing changed this round"
  fi
  sleep "$interval" # not `sleep & wait`: bash 5.2 can abort when a trapped signal interrupts wait
done
log "stopping every pod"
for pd in "$dir"/pods/*/; do [ -d "$pd" ] && stop_pod "${pd%/}"; done
log "stopped"
