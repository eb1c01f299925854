#!/usr/bin/env bash
# Builds the Prometheus memcached exporter the monitoring tests run, from the
# source in ../shared/third_party/memcached_exporter (its dependencies from the
# Go module proxy), into a cache folder keyed by its VERSION and go.sum; a
# binary already there is not rebuilt. Prints the binary's path.
# Environment: MEMSHACK_TESTENV_CACHE (default ~/.cache/memshack-testenv),
# MEMSHACK_THIRD_PARTY (default: ../shared/third_party beside the repository).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src=${MEMSHACK_THIRD_PARTY:-$(cd "$root/.." && pwd)/shared/third_party}/memcached_exporter
[ -f "$src/go.mod" ] || { echo "memcached-exporter.sh: no source at $src" >&2; exit 1; }
key=$( (cat "$src/VERSION" "$src/go.sum") | sha256sum | cut -c1-12)
out=${MEMSHACK_TESTENV_CACHE:-$HOME/.cache/memshack-testenv}/memcached_exporter-$(cat "$src/VERSION")-$key
if [ ! -x "$out/memcached_exporter" ]; then
  echo "memcached-exporter.sh: building memcached_exporter $(cat "$src/VERSION")" >&2
  mkdir -p "$out"
  export PATH="/usr/local/go/bin:$PATH"
  # The source folder may be read-only: build from a copy.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$src/." "$work/"
  (cd "$work" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$out/memcached_exporter.tmp" ./cmd/memcached_exporter)
  mv "$out/memcached_exporter.tmp" "$out/memcached_exporter"
fi
echo "$out/memcached_exporter"
