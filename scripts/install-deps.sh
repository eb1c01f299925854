#!/usr/bin/env bash
# Installs the Debian packages memshack builds and tests with, when missing.
# Extra packages may be named as arguments (bench/run.sh adds gnuplot-nox).
# Go (1.26 or newer, at /usr/local/go or on PATH) builds the local control plane
# and Helm. podman, buildah and mmdebstrap build and run the operator image
# (scripts/image.sh).
set -euo pipefail
packages=(build-essential cmake pkg-config git ca-certificates curl openssl
  libcurl4-openssl-dev libjansson-dev libyaml-dev libmicrohttpd-dev libcmocka-dev libssl-dev
  valgrind shellcheck memcached clang clang-format libclang-rt-14-dev jq socat iproute2 iputils-arping
  podman buildah mmdebstrap runc "$@")
missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  echo "install-deps: Go is at /usr/local/go/bin; add it to PATH" >&2
fi
