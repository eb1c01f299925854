#!/usr/bin/env bash
# Regenerates the Go wrapper modules under tools/testenv/ from versions.env.
# Needs the Go module proxy. Run after changing versions.env and commit the
# resulting go.mod/go.sum files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

staging_minor=${K8S_VERSION#v1.}
staging_version=v0.${staging_minor}

# k8s: k8s.io/kubernetes points its staging modules at ./staging; replace
# every "k8s.io/<m> v0.0.0" requirement with the published v0.X.Y module.
(
  cd "$here/k8s"
  rm -f go.mod go.sum
  go mod init memshack.local/testenv/k8s >/dev/null 2>&1
  modfile=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$modfile" | awk '{print $1}' | while read -r m; do
    go mod edit -replace "${m}=${m}@${staging_version}"
  done
  go mod edit -require "k8s.io/kubernetes@${K8S_VERSION}"
  for t in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    go mod edit -tool "k8s.io/kubernetes/cmd/$t"
  done
  go mod edit -go=1.26.0
  go mod tidy
)

(
  cd "$here/etcd"
  rm -f go.mod go.sum
  go mod init memshack.local/testenv/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
  go mod edit -go=1.26.0
  go mod tidy
)

(
  cd "$here/kwok"
  rm -f go.mod go.sum
  go mod init memshack.local/testenv/kwok >/dev/null 2>&1
  go mod edit -require "sigs.k8s.io/kwok@${KWOK_VERSION}"
  go mod edit -tool sigs.k8s.io/kwok/cmd/kwok
  go mod edit -go=1.26.0
  go mod tidy
)
(
  cd "$here/helm"
  rm -f go.mod go.sum
  go mod init memshack.local/testenv/helm >/dev/null 2>&1
  go mod edit -require "helm.sh/helm/v4@${HELM_VERSION}"
  go mod edit -tool helm.sh/helm/v4/cmd/helm
  go mod edit -go=1.26.0
  go mod tidy
)
echo "pinned: kubernetes ${K8S_VERSION} (staging ${staging_version}), etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}, helm ${HELM_VERSION}"
