#!/usr/bin/env bash
# The operator image, built from the Dockerfile and run, in the one place that
# knows how on our machines.
#
#   scripts/image.sh build [TAG]     build (default TAG memshack-operator:latest)
#   scripts/image.sh run ARGS...     podman run ARGS..., with the flags this sandbox needs
#   scripts/image.sh engine          print the engine used: docker or podman
#
# With a Docker engine that answers, `build` is plain `docker build`. Without
# one (our machines), it is podman: the Dockerfile's FROM debian:bookworm-slim
# is a base made by mmdebstrap from Debian's archive and imported under that
# name, so no registry is needed. The base tarball is cached in
# $MEMSHACK_IMAGE_CACHE (default ~/.cache/memshack-image), and podman keeps
# the image and its layers between runs.
#
# The sandbox's facts (no CAP_SYS_RESOURCE, hybrid cgroups): podman needs
# runc and the cgroupfs manager, and every container explicit nofile/nproc
# limits; the build stage uses the host network to reach Debian's archive.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MEMSHACK_IMAGE_CACHE:-$HOME/.cache/memshack-image}
base=docker.io/library/debian:bookworm-slim
podman_global=(--runtime runc --cgroup-manager=cgroupfs)
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

engine() {
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; else echo podman; fi
}

podman_base() {
  podman image exists "$base" && return 0
  mkdir -p "$cache"
  if [ ! -s "$cache/base.tar" ]; then
    echo "image: building the base from Debian's archive (mmdebstrap, about 2 min)" >&2
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$cache/base.tar.part"
    mv "$cache/base.tar.part" "$cache/base.tar"
  fi
  podman import --quiet "$cache/base.tar" "$base" >/dev/null
}

case ${1:-} in
build)
  tag=${2:-memshack-operator:latest}
  if [ "$(engine)" = docker ]; then
    exec docker build -t "$tag" "$root"
  fi
  podman_base
  exec podman "${podman_global[@]}" build --quiet --pull=never --network host --layers "${limits[@]}" -t "$tag" "$root"
  ;;
run)
  shift
  exec podman "${podman_global[@]}" run "${limits[@]}" "$@"
  ;;
engine) engine ;;
*)
  echo "usage: scripts/image.sh build [TAG] | run ARGS... | engine" >&2
  exit 2
  ;;
esac
