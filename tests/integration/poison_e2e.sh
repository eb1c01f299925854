#!/usr/bin/env bash
# One bad object must never stop the operator (issue 13). A cluster-wide
# operator serves good Memshacks and MemcachedProxies in two namespaces;
# then hostile objects are written through the API as raw JSON (the CRDs
# without a schema, as an old CRD version would have them, so the API
# server stores what kubectl would refuse): nesting deeper than the
# decoder allows, NUL and other control characters, lone and reversed
# surrogates, invalid UTF-8, integers beyond 64 bits, duplicate keys, an
# object near the API server's size limit. Checked:
#  - good objects keep being served: a scale change, a new object and an
#    endpoint change made *after* the hostile ones are followed within
#    seconds, and the good objects stay Ready;
#  - every hostile object is reported once: Ready=False (Undecodable or
#    InvalidSpec naming the field), an Event, one log line; the gauge
#    memshack_objects_quarantined counts the undecodable ones;
#  - no reconnect or relist loop in the log;
#  - deleting them brings the gauge to 0 and leaves no child behind;
#  - the periodic resync (--sync-period 4 here, 30 under valgrind) reconciles every object
#    again and writes nothing when nothing drifted.
# Run on a control plane with the watch cache on and on one with it off.
# Usage: poison_e2e.sh MEMSHACK_BINARY   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture)
set -uo pipefail
bin=$1
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
op_pid=
nsa=it-poison-a-$$ nsb=it-poison-b-$$
cleanup() {
  [ -n "$op_pid" ] && kill -KILL "$op_pid" 2>/dev/null
  kubectl delete namespace "$nsa" "$nsb" --wait=false >/dev/null 2>&1
  "$bin" crd | kubectl apply --server-side --force-conflicts -f - >/dev/null 2>&1 # leave the real CRDs behind
  rm -rf "$tmp"
}
trap cleanup EXIT

metric() { curl -s "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
quarantined() { metric "memshack_objects_quarantined{resource=\"$1\"}"; }
quarantined_is() { [ "$(quarantined "$1")" = "$2" ]; }
cond() { kubectl -n "$1" get "$2" "$3" -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].$4}" 2>/dev/null; }
ready() { [ "$(cond "$1" "$2" "$3" status)" = True ]; }
reason_is() { [ "$(cond "$1" "$2" "$3" reason)" = "$4" ]; }
create_raw() { # NS PLURAL FILE: writes the file's bytes as they are
  kubectl create --raw "/apis/memshack.io/v1alpha1/namespaces/$1/$2" -f "$3" >/dev/null 2>"$tmp/create.err"
}
since() { awk -v t0="$1" -v now="$(date +%s.%N)" 'BEGIN {printf "%.1f", now - t0}'; }
has_event() { kubectl -n "$1" get events.events.k8s.io --field-selector "regarding.name=$2" -o jsonpath='{.items[*].reason}' | tr ' ' '\n' | matches -x "$3"; }
servers() { kubectl -n "$1" get configmap "$2-proxy-config" -o jsonpath='{.data.config\.json}' 2>/dev/null | grep -o '"[^"]*:[0-9]*"' | tr -d '"' | tr '\n' ' '; }

schemaless_crds | kubectl apply --server-side --force-conflicts -f - >/dev/null && established \
  && ok "CRDs without a schema installed (an old CRD version)" || bad "schema-less CRDs"
for ns in "$nsa" "$nsb"; do kubectl create namespace "$ns" >/dev/null; done

mport=$(free_port); hport=$(free_port)
# A resync every 4 s; every 30 s under valgrind, where one pass over ~30 objects takes seconds and a
# faster one would keep the workers busy with resyncs (and behind the changes this test makes).
sync=4; [ -n "${MEMSHACK_WRAPPER:-}" ] && sync=30
${MEMSHACK_WRAPPER:-} "$bin" run --gateway-probe-timeout-ms 0 --pool-removal-delay 1 --sync-period "$sync" --metrics-bind-address "127.0.0.1:$mport" \
  --health-probe-bind-address "127.0.0.1:$hport" > "$tmp/operator.log" 2>&1 &
op_pid=$!
until_ok 90 curl -sf "http://127.0.0.1:$hport/readyz" && ok "cluster-wide operator ready" || { bad "operator not ready"; tail -n 20 "$tmp/operator.log"; }

# ---- good objects in both namespaces ---------------------------------------------------------
for ns in "$nsa" "$nsb"; do
  { external_service backend cache 192.0.2.10; cat <<YAML; } | kubectl -n "$ns" apply -f - >/dev/null
---
apiVersion: memshack.io/v1alpha1
kind: Memshack
metadata: {name: good}
spec: {numShards: 1, numReplicas: 1, mcrouterPoolSize: 1}
---
apiVersion: memshack.io/v1alpha1
kind: MemcachedProxy
metadata: {name: goodp}
spec: {serviceName: backend, servicePort: cache, replicas: 1}
YAML
done
for ns in "$nsa" "$nsb"; do
  until_ok 90 ready "$ns" memshack good && ok "$ns/good Ready" || bad "$ns/good: $(cond "$ns" memshack good message)"
  until_ok 90 ready "$ns" memcachedproxy goodp && ok "$ns/goodp Ready" || bad "$ns/goodp: $(cond "$ns" memcachedproxy goodp message)"
done

# ---- hostile objects, raw JSON ---------------------------------------------------------------
deep=$(printf '%*s' 3000 '' | tr ' ' '['; printf '%*s' 3000 '' | tr ' ' ']')
big=$(head -c 1400000 /dev/zero | tr '\0' 'a')
ms() { printf '{"apiVersion":"memshack.io/v1alpha1","kind":"Memshack","metadata":{"name":"%s"},"spec":%s}' "$1" "$2"; }
mp() { printf '{"apiVersion":"memshack.io/v1alpha1","kind":"MemcachedProxy","metadata":{"name":"%s"},"spec":%s}' "$1" "$2"; }
# name  expected-reason  expected-message  document
cat > "$tmp/cases" <<'EOF'
p-deep memshacks Undecodable maximum parsing depth
p-nul memshacks InvalidSpec spec.memcached.extraArgs[0]: must not contain control characters (U+0000)
p-ctl memshacks InvalidSpec spec.mcrouterImage: must not contain control characters (U+0001)
p-del memshacks InvalidSpec spec.memcachedImage: must not contain control characters (U+007F)
p-surrogates memshacks InvalidSpec spec.memcachedImage
p-utf8 memshacks InvalidSpec spec.mcrouterImage
p-bigint memshacks InvalidSpec spec.numShards
p-big memshacks InvalidSpec spec: unknown field 'x'
q-deep memcachedproxies Undecodable maximum parsing depth
q-nul memcachedproxies InvalidSpec spec.serviceName: must not contain control characters (U+0000)
EOF
for ns in "$nsa" "$nsb"; do
  ms p-deep "{\"x\":$deep}" > "$tmp/p-deep"
  ms p-nul '{"memcached":{"extraArgs":["-v\u0000--port=1"]}}' > "$tmp/p-nul"
  ms p-ctl '{"mcrouterImage":"mcrouter\u0001"}' > "$tmp/p-ctl"
  ms p-del '{"memcachedImage":"memcached\u007f"}' > "$tmp/p-del"
  ms p-surrogates '{"memcachedImage":"\udc00\ud800"}' > "$tmp/p-surrogates"
  ms p-utf8 "{\"mcrouterImage\":\"mcrouter$(printf '\xff\xfe')\"}" > "$tmp/p-utf8"
  ms p-bigint '{"numShards":123456789012345678901234567890}' > "$tmp/p-bigint"
  ms p-dup '{"numShards":300,"numShards":1,"numReplicas":1,"mcrouterPoolSize":1}' > "$tmp/p-dup"
  ms p-big "{\"x\":\"$big\"}" > "$tmp/p-big"
  ms p-float '{"numShards":1e400}' > "$tmp/p-float"
  mp q-deep "{\"serviceName\":\"backend\",\"servicePort\":\"cache\",\"x\":$deep}" > "$tmp/q-deep"
  mp q-nul '{"serviceName":"backend\u0000evil","servicePort":"cache"}' > "$tmp/q-nul"
  for f in p-deep p-nul p-ctl p-del p-surrogates p-utf8 p-bigint p-dup p-big p-float q-deep q-nul; do
    plural=memshacks; [ "${f#q-}" != "$f" ] && plural=memcachedproxies
    if create_raw "$ns" "$plural" "$tmp/$f"; then :
    elif [ "$f" = p-float ]; then ok "$ns/p-float (1e400) refused by the API server itself: $(head -c 80 "$tmp/create.err")"
    else bad "$ns/$f not stored: $(head -c 200 "$tmp/create.err")"; fi
  done
done
written=$(date +%s.%N)

# ---- good objects are still served, and follow changes made after the hostile ones --------------
kubectl -n "$nsa" patch memshack good --type merge -p '{"spec":{"numShards":2}}' >/dev/null
t0=$(date +%s.%N)
# (a warm migration, the default: a pool StatefulSet of the new layout with 2 pods)
pool_is_2() { kubectl -n "$nsa" get statefulsets -l memshack.io/memshack=good,app.kubernetes.io/component=pool -o jsonpath='{range .items[*]}{.spec.replicas}{"\n"}{end}' | matches -x 2; }
if until_ok 30 pool_is_2; then ok "$nsa/good scale 1 -> 2 shards applied $(since "$t0") s after the patch"
else bad "$nsa/good: the scale change was not followed"; fi
kubectl -n "$nsb" apply -f - >/dev/null <<YAML
apiVersion: memshack.io/v1alpha1
kind: Memshack
metadata: {name: late}
spec: {numShards: 1, numReplicas: 1, mcrouterPoolSize: 1}
YAML
t0=$(date +%s.%N)
if until_ok 30 kubectl -n "$nsb" get configmap late-memshack-mcrouter; then
  ok "$nsb/late, created after the hostile objects, got its children $(since "$t0") s later"
else bad "$nsb/late has no children"; fi
kubectl -n "$nsb" patch endpointslice backend-manual --type json -p '[{"op":"add","path":"/endpoints/-","value":{"addresses":["192.0.2.20"]}}]' >/dev/null
servers_are() { [ "$(servers "$1" "$2")" = "$3" ]; }
until_ok 30 servers_are "$nsb" goodp "192.0.2.10:11211 192.0.2.20:11211 " \
  && ok "$nsb/goodp follows an endpoint added after the hostile objects" || bad "$nsb/goodp servers: $(servers "$nsb" goodp)"
until_ok 90 ready "$nsa" memshack good && ok "$nsa/good Ready again at 2 shards" || bad "$nsa/good: $(cond "$nsa" memshack good message)"
until_ok 60 ready "$nsb" memshack late && ok "$nsb/late Ready" || bad "$nsb/late: $(cond "$nsb" memshack late message)"
for ns in "$nsa" "$nsb"; do
  ready "$ns" memcachedproxy goodp && ok "$ns/goodp still Ready" || bad "$ns/goodp: $(cond "$ns" memcachedproxy goodp message)"
done
until_ok 90 ready "$nsa" memshack p-dup && ok "p-dup (duplicate keys: the last wins, as in the API server) accepted and Ready" \
  || bad "p-dup: $(cond "$nsa" memshack p-dup message)"

# ---- every hostile object reported, once ------------------------------------------------------
while read -r name plural reason msg; do
  kind=${plural%s}; [ "$plural" = memcachedproxies ] && kind=memcachedproxy
  for ns in "$nsa" "$nsb"; do
    if until_ok 60 reason_is "$ns" "$kind" "$name" "$reason"; then
      m=$(cond "$ns" "$kind" "$name" message)
      grep -qF -- "$msg" <<<"$m" && ok "$ns/$name: Ready=False $reason ($(head -c 100 <<<"$m"))" || bad "$ns/$name: message '$m' lacks '$msg'"
    else bad "$ns/$name: reason '$(cond "$ns" "$kind" "$name" reason)', want $reason"; fi
    until_ok 30 has_event "$ns" "$name" "$reason" \
      && ok "$ns/$name: $reason Event" || bad "$ns/$name: no $reason Event"
    if [ "$reason" = Undecodable ]; then
      n=$(grep -c "$ns/$name (resourceVersion .*) set aside" "$tmp/operator.log")
      [ "$n" = 1 ] && ok "$ns/$name: one log line" || bad "$ns/$name: $n log lines"
    else
      n=$(grep -c "$ns/$name: invalid spec" "$tmp/operator.log")
      [ "$n" -le 2 ] && ok "$ns/$name: $n log line(s)" || bad "$ns/$name: $n log lines"
    fi
  done
done < "$tmp/cases"
until_ok 30 quarantined_is memshacks 2 && ok "memshack_objects_quarantined{resource=memshacks} = 2" || bad "gauge: $(quarantined memshacks)"
until_ok 30 quarantined_is memcachedproxies 2 && ok "memshack_objects_quarantined{resource=memcachedproxies} = 2" || bad "gauge: $(quarantined memcachedproxies)"
for f in p-deep p-nul p-ctl p-del p-surrogates p-utf8 p-bigint p-big q-deep q-nul; do
  for ns in "$nsa" "$nsb"; do
    kubectl -n "$ns" get statefulset,deployment,configmap -o name | matches "/$f-" && bad "$ns/$f has children"
  done
done
ok "no children for a hostile object"

# ---- no loop ---------------------------------------------------------------------------------
sleep 5
# A relist after a 410 (compaction) is normal; a stream that cannot get past an event is not.
loops=$(grep -cE 'names no object|bad watch event|watch line too long' "$tmp/operator.log")
[ "$loops" = 0 ] && ok "no reconnect loop in the log ($(grep -c relisting "$tmp/operator.log") relists after 410)" \
  || { bad "$loops reconnect lines"; grep -E 'names no object|bad watch event' "$tmp/operator.log" | head -5; }
echo "# hostile objects written $(since "$written") s ago; operator log: $(wc -l < "$tmp/operator.log") lines"

# ---- the periodic resync: everything reconciled again, nothing written ---------------------------
writes() { curl -s "http://127.0.0.1:$mport/metrics" | awk '/^memshack_api_requests_total\{method="(POST|PUT|PATCH|DELETE)"/ {s += $2} END {print s + 0}'; }
reconciles() { metric "memshack_reconcile_total{controller=\"$1\",result=\"success\"}"; }
w0=$(writes); r0=$(reconciles memshack); q0=$(reconciles memcachedproxy)
sleep $((sync * 5 / 2)) # two resyncs at least (+-10 %)
w1=$(writes); r1=$(reconciles memshack); q1=$(reconciles memcachedproxy)
n_ms=$(kubectl get memshacks -n "$nsa" --no-headers | wc -l)
[ $((r1 - r0)) -ge $((2 * (n_ms - 1))) ] && [ $((q1 - q0)) -ge 2 ] \
  && ok "periodic resync: $((r1 - r0)) Memshack and $((q1 - q0)) MemcachedProxy reconciles in $((sync * 5 / 2)) s" \
  || bad "resync: Memshack reconciles $r0 -> $r1, proxies $q0 -> $q1"
[ "$w0" = "$w1" ] && ok "the resyncs wrote nothing ($w0 -> $w1 writes)" || bad "resyncs wrote: $w0 -> $w1"
n=$(grep -c "periodic resync" "$tmp/operator.log")
[ "$n" -ge 2 ] && ok "$n resyncs logged" || bad "$n resyncs logged"

# ---- deleting them ---------------------------------------------------------------------------
for ns in "$nsa" "$nsb"; do
  kubectl -n "$ns" delete memshack p-deep p-nul p-ctl p-del p-surrogates p-utf8 p-bigint p-dup p-big --wait=false >/dev/null
  kubectl -n "$ns" delete memcachedproxy q-deep q-nul --wait=false >/dev/null
done
until_ok 30 quarantined_is memshacks 0 && ok "gauge back to 0 for memshacks" || bad "gauge: $(quarantined memshacks)"
until_ok 30 quarantined_is memcachedproxies 0 && ok "gauge back to 0 for memcachedproxies" || bad "gauge: $(quarantined memcachedproxies)"
no_hostile_children() { ! kubectl -n "$nsa" get statefulset,deployment,configmap,service,poddisruptionbudget -o name | matches -E '/(p|q)-'; }
until_ok 90 no_hostile_children && ok "nothing of the hostile objects left behind" \
  || bad "left: $(kubectl -n "$nsa" get statefulset,deployment,configmap,service,poddisruptionbudget -o name | grep -E '/(p|q)-' | tr '\n' ' ')"
ready "$nsa" memshack good && ready "$nsb" memshack good && ok "the good ones are still Ready" || bad "good objects lost Ready"

kill -TERM "$op_pid"; wait "$op_pid" 2>/dev/null; code=$?; op_pid=
[ "$code" = 0 ] && ok "operator exited 0" || bad "operator exit $code"
grep -E 'AddressSanitizer|ThreadSanitizer|runtime error|ERROR SUMMARY: [1-9]' "$tmp/operator.log" && bad "sanitizer/valgrind reports"
finish
