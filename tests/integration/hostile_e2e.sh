#!/usr/bin/env bash
# Bad input end to end: the hostile corpus (tests/data/hostile.yaml, Memshacks
# and MemcachedProxies) written twice —
#   before the CRDs are upgraded: a schema-less CRD stores whatever it is
#   given, as an old CRD version would have; then the real CRDs are applied
#   and the operator starts on what is stored;
#   after: the real schema refuses what it can at admission.
# Every object must end refused at admission, or stored and surfaced as
# InvalidSpec (condition naming the field, and an Event), or accepted with a
# valid mcrouter config; the operator never crashes and never writes a config
# that is not valid JSON or that holds something mcrouter would expand
# ('@' macros, '%' substitutions).
# Usage: hostile_e2e.sh MEMSHACK_BINARY   (KUBECONFIG, MEMSHACK_TESTENV_DIR from the fixture)
set -uo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
testenv_bin=$(cat "$MEMSHACK_TESTENV_DIR/bin.path")
export PATH="$testenv_bin:$PATH"
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
op_pid=
pre=it-hostile-pre-$$ post=it-hostile-post-$$
cleanup() {
  [ -n "$op_pid" ] && kill -KILL "$op_pid" 2>/dev/null
  kubectl delete namespace "$pre" "$post" --wait=false >/dev/null 2>&1
  "$bin" crd | kubectl apply --server-side --force-conflicts -f - >/dev/null 2>&1 # leave the real CRDs behind
  rm -rf "$tmp"
}
trap cleanup EXIT

# One file per corpus document.
mkdir -p "$tmp/docs"
awk -v d="$tmp/docs" '/^---$/ {n++; next} n > 0 {printf "%s\n", $0 > (d "/" sprintf("%02d", n) ".json")}' "$root/tests/data/hostile.yaml"
n_docs=$(find "$tmp/docs" -type f | wc -l)
[ "$n_docs" -ge 40 ] && ok "$n_docs hostile objects in the corpus" || bad "only $n_docs objects"


operator_start() { # NAMESPACE
  mport=$(free_port); hport=$(free_port)
  ${MEMSHACK_WRAPPER:-} "$bin" run --gateway-probe-timeout-ms 0 --namespace "$1" --metrics-bind-address "127.0.0.1:$mport" \
    --health-probe-bind-address "127.0.0.1:$hport" >> "$tmp/operator.log" 2>&1 &
  op_pid=$!
  until_ok 90 curl -sf "http://127.0.0.1:$hport/readyz" || { bad "operator not ready"; tail -n 20 "$tmp/operator.log"; }
}

# A config is acceptable: valid JSON with a route (and pools, unless it is the ErrorRoute of a proxy
# with no servers yet), no key or string starting with '@' or holding '%'.
config_ok() {
  jq -e '(has("route") or has("routes")) and ((.pools // {}) | type == "object") and
    ([.. | strings, (objects | keys[])] | all(startswith("@") | not) and all(contains("%") | not))' >/dev/null 2>&1
}

# verdict NAMESPACE DOCFILE: checks one stored object; prints ok/bad.
verdict() {
  local ns=$1 f=$2 kind name expect res cm
  kind=$(jq -r .kind "$f"); name=$(jq -r .metadata.name "$f")
  expect=$(jq -r '.metadata.annotations["test.memshack.io/expect"]' "$f")
  if [ "$kind" = Memshack ]; then res=memshack cm=$name-memshack-mcrouter; else res=memcachedproxy cm=$name-proxy-config; fi
  # The verdict is the core's on the object as the API server now serves it: a schema upgrade
  # prunes unknown fields, which can leave a once-invalid object valid.
  if [ "$expect" != valid ] && kubectl -n "$ns" get "$res" "$name" -o json | "$bin" render --config-only - >/dev/null 2>&1; then
    echo "# $ns/$name: served without what made it invalid (pruned by the upgraded schema); must now be accepted"
    expect=valid
  fi
  reason() { kubectl -n "$ns" get "$res" "$name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}' 2>/dev/null; }
  if [ "$expect" = valid ]; then
    has_reason() { [ -n "$(reason)" ] && [ "$(reason)" != InvalidSpec ]; }
    if ! until_ok 60 has_reason; then bad "$ns/$name: no verdict (reason '$(reason)')"; return; fi
    if kubectl -n "$ns" get configmap "$cm" >/dev/null 2>&1; then
      kubectl -n "$ns" get configmap "$cm" -o json | jq -r '.data["config.json"]' | config_ok \
        && ok "$ns/$name accepted ($(reason)); its config is valid and holds no macro" || bad "$ns/$name: bad config"
    else ok "$ns/$name accepted ($(reason)), no config yet"; fi
  else
    event() { kubectl -n "$ns" get events.events.k8s.io --field-selector "regarding.name=$name" -o jsonpath='{.items[*].note}'; }
    # The API server may refuse every status write for a stored object its new schema cannot even
    # evaluate (a CEL rule meeting a float where the schema says integer): then the Event and the
    # log are all there can be.
    status_refused() { grep -q "$ns/$name: writing status: API error 422" "$tmp/operator.log"; }
    is_invalid() { [ "$(reason)" = InvalidSpec ] || { status_refused && event | matches -F -- "$expect"; }; }
    if ! until_ok 60 is_invalid; then bad "$ns/$name: reason '$(reason)', want InvalidSpec"; return; fi
    local msg
    msg=$(kubectl -n "$ns" get "$res" "$name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
    if [ -z "$msg" ] && status_refused; then
      msg="(status refused by the API server: $(grep -m1 "$ns/$name: writing status" "$tmp/operator.log" | sed 's/.*is invalid: //' | head -c 80)) event: $(event | head -c 60)"
    else
      grep -qF -- "$expect" <<<"$msg" || bad "$ns/$name: message '$msg' lacks '$expect'"
    fi
    kubectl -n "$ns" get events.events.k8s.io --field-selector "regarding.name=$name" -o jsonpath='{.items[*].reason}' \
      | matches InvalidSpec || bad "$ns/$name: no InvalidSpec event"
    kubectl -n "$ns" get configmap "$cm" >/dev/null 2>&1 && bad "$ns/$name: a config was written for an invalid spec"
    ok "$ns/$name: InvalidSpec ($(head -c 150 <<<"$msg"))"
  fi
}

# ---- before the upgrade ---------------------------------------------------------------------------
schemaless_crds | kubectl apply --server-side --force-conflicts -f - >/dev/null && established \
  && ok "schema-less CRDs installed (an old CRD version)" || bad "schema-less CRDs"
kubectl create namespace "$pre" >/dev/null && kubectl label namespace "$pre" pod-security.kubernetes.io/enforce=restricted >/dev/null
stored=()
for f in "$tmp"/docs/*.json; do
  if out=$(jq --arg ns "$pre" '.metadata.namespace = $ns' "$f" | kubectl create -f - 2>&1); then stored+=("$f")
  else ok "before the upgrade, refused at admission anyway: $(jq -r .metadata.name "$f") ($(head -c 80 <<<"$out"))"; fi
done
echo "# ${#stored[@]} of $n_docs stored without a schema"
"$bin" crd | kubectl apply --server-side --force-conflicts -f - >/dev/null && established \
  && ok "CRDs upgraded to the real schema" || bad "CRD upgrade"
operator_start "$pre"
for f in "${stored[@]}"; do verdict "$pre" "$f"; done
kill -0 "$op_pid" 2>/dev/null && ok "operator alive after the pre-upgrade objects" || bad "the operator died"
kill -TERM "$op_pid"; wait "$op_pid" 2>/dev/null; code=$?; op_pid=
[ "$code" = 0 ] && ok "operator exited 0" || bad "operator exit $code"

# ---- after the upgrade ----------------------------------------------------------------------------
kubectl create namespace "$post" >/dev/null && kubectl label namespace "$post" pod-security.kubernetes.io/enforce=restricted >/dev/null
stored=()
refused=0
for f in "$tmp"/docs/*.json; do
  if jq --arg ns "$post" '.metadata.namespace = $ns' "$f" | kubectl create -f - >/dev/null 2>"$tmp/err"; then stored+=("$f")
  else refused=$((refused + 1)); fi
done
ok "with the real schema: $refused refused at admission, ${#stored[@]} stored"
operator_start "$post"
for f in "${stored[@]}"; do verdict "$post" "$f"; done
kill -0 "$op_pid" 2>/dev/null && ok "operator alive after the post-upgrade objects" || bad "the operator died"

# Every mcrouter config in both namespaces.
n_cfg=0
for ns in "$pre" "$post"; do
  while read -r cm; do
    [ -n "$cm" ] || continue
    n_cfg=$((n_cfg + 1))
    kubectl -n "$ns" get "$cm" -o json | jq -r '.data["config.json"]' | config_ok || bad "$ns/$cm is not a clean config"
  done < <(kubectl -n "$ns" get configmap -l memshack.io/memshack -o name 2>/dev/null; kubectl -n "$ns" get configmap -o name | grep -- '-proxy-config$')
done
ok "$n_cfg mcrouter configs checked: valid JSON, no macro or substitution"
grep -E 'AddressSanitizer|ThreadSanitizer|runtime error|ERROR SUMMARY: [1-9]' "$tmp/operator.log" && bad "sanitizer/valgrind reports"
finish
