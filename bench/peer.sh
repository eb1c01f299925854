#!/usr/bin/env bash
# The benchmark peer: the C5C3 memcached-operator (Go, controller-runtime), built
# from its source in ../shared/peers/ with the Go module proxy. Never copied into
# this tree; bench/run.sh runs it beside memshack's figures.
#
#   bench/peer.sh build        builds it if absent; prints the binary's path
#   bench/peer.sh install      installs its CRD and a ServiceMonitor CRD stand-in
#                              into the cluster of $KUBECONFIG
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=${MEMSHACK_PEER_SRC:-$root/../shared/peers/c5c3-memcached-operator}
[ -d "$src" ] || { echo "peer.sh: no peer source at $src" >&2; exit 1; }
src=$(cd "$src" && pwd)
case ${1:-} in
  build)
    # One binary per source tree (its go.sum and files) and Go version.
    key=$( (cd "$src" && find . -type f -name '*.go' -o -name go.sum | sort | xargs sha256sum; go version) | sha256sum | cut -c1-12)
    out=${XDG_CACHE_HOME:-$HOME/.cache}/memshack-bench/c5c3-$key
    if [ ! -x "$out/manager" ]; then
      mkdir -p "$out"
      echo "peer.sh: building the peer (about 5 minutes on 2 cores)" >&2
      (cd "$src" && GOTOOLCHAIN=local go build -o "$out/manager.tmp" ./cmd) >&2
      mv "$out/manager.tmp" "$out/manager"
    fi
    echo "$out/manager" ;;
  install)
    kubectl apply --server-side -f "$src/config/crd/bases/" >/dev/null
    kubectl apply --server-side -f "$src/../servicemonitor-crd.yaml" >/dev/null
    kubectl wait --for=condition=Established crd/memcacheds.memcached.c5c3.io --timeout=60s >/dev/null ;;
  *) echo "usage: peer.sh build|install" >&2; exit 2 ;;
esac
