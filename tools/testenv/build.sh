#!/usr/bin/env bash
# Builds the local control plane's binaries (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, etcd, kwok) and helm from
# the Go wrapper modules beside this script, into cache folders keyed by the
# pinned versions (helm has a key of its own, so that a new Helm does not
# rebuild the control plane). A binary already in the cache is not rebuilt.
# It also fetches prometheus-operator's ServiceMonitor CRD into the cache
# ($bin/servicemonitors-crd.yaml) for the monitoring tests.
#
# Prints the bin folder on its last line of standard output.
# Environment: MEMSHACK_TESTENV_CACHE (default ~/.cache/memshack-testenv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

# Drift check: the wrapper modules must require exactly the pinned versions.
check_pin() { # module-dir module version
  if ! grep -qE "^(require )?[[:space:]]*$2 $3( |$)" "$here/$1/go.mod"; then
    echo "build.sh: $1/go.mod does not require $2 $3 (versions.env); run tools/testenv/pin.sh" >&2
    exit 1
  fi
}
check_pin k8s k8s.io/kubernetes "$K8S_VERSION"
check_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
check_pin kwok sigs.k8s.io/kwok "$KWOK_VERSION"
check_pin helm helm.sh/helm/v4 "$HELM_VERSION"

cache_root=${MEMSHACK_TESTENV_CACHE:-$HOME/.cache/memshack-testenv}
key=$( (grep -E '^(K8S|ETCD|KWOK)_VERSION=' "$here/versions.env" && cat "$here"/{k8s,etcd,kwok}/go.sum) | sha256sum | cut -c1-12)
bin="$cache_root/$K8S_VERSION-$key/bin"
helm_key=$( (grep -E '^HELM_VERSION=' "$here/versions.env" && cat "$here/helm/go.sum") | sha256sum | cut -c1-12)
helm_bin="$cache_root/helm-$HELM_VERSION-$helm_key"
mkdir -p "$bin" "$helm_bin"

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"

build() { # module-dir package output [folder]
  local out="${4:-$bin}/$3"
  if [ -x "$out" ]; then return 0; fi
  echo "build.sh: building $3 from $2" >&2
  local start=$SECONDS
  (cd "$here/$1" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$2")
  mv "$out.tmp" "$out"
  echo "build.sh: built $3 in $((SECONDS - start)) s" >&2
}

build etcd memshack.local/testenv/etcd etcd
build k8s k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
build k8s k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager
build k8s k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler
build k8s k8s.io/kubernetes/cmd/kubectl kubectl
build kwok sigs.k8s.io/kwok/cmd/kwok kwok
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}"
build helm helm.sh/helm/v4/cmd/helm helm "$helm_bin"
ln -sfn "$helm_bin/helm" "$bin/helm"

# prometheus-operator's own ServiceMonitor CRD (tests install it to see memshack pick it up), taken
# from the pinned module as the Go module proxy serves it (checked against the checksum database).
po_dir="$cache_root/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
if [ ! -s "$po_dir/servicemonitors.yaml" ]; then
  echo "build.sh: fetching prometheus-operator $PROMETHEUS_OPERATOR_VERSION's ServiceMonitor CRD" >&2
  mkdir -p "$po_dir"
  mod_dir=$(cd "$po_dir" && GOFLAGS=-mod=mod go mod download -json \
    "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp "$mod_dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$po_dir/servicemonitors.yaml.tmp"
  mv "$po_dir/servicemonitors.yaml.tmp" "$po_dir/servicemonitors.yaml"
fi
ln -sfn "$po_dir/servicemonitors.yaml" "$bin/servicemonitors-crd.yaml"
echo "$bin"
