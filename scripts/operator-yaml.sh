#!/usr/bin/env bash
# Prints yaml/operator.yaml, the one-file install, from the Helm chart (the one
# source of truth): the chart's default values with the namespace created,
# release "memshack" in memshack-system, CRDs included. Helm's own bookkeeping
# is left out of the plain manifest: the "# Source:" comments and the labels
# helm.sh/chart and app.kubernetes.io/managed-by (kubectl, not Helm, manages
# it), and the blank lines Helm leaves before each "---".
#   scripts/operator-yaml.sh > yaml/operator.yaml
# Needs helm on PATH (tools/testenv/build.sh builds the pinned one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
echo "# memshack: the one-file install (kubectl apply --server-side -f yaml/operator.yaml)."
echo "# Generated from charts/memshack by scripts/operator-yaml.sh; do not edit."
helm template memshack "$root/charts/memshack" --namespace memshack-system --include-crds --set createNamespace=true |
  sed -e '/^# Source: /d' -e '/^[[:space:]]*helm\.sh\/chart: /d' -e '/^[[:space:]]*app\.kubernetes\.io\/managed-by: Helm$/d' |
  awk '/^$/ { blanks++; next }
       $0 == "---" { blanks = 0; if (last == "---") next }
       { for (; blanks > 0; blanks--) print ""; print; last = $0 }'
