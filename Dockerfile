# memshack operator image: distroless-style, FROM scratch.
#   docker build -t memshack-operator .
#   podman --runtime runc --cgroup-manager=cgroupfs build --pull=never --network host \
#     --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 -t memshack-operator .
#   (scripts/image.sh: the podman way, with a base image made by mmdebstrap)
#
# Build stage: the same CMake commands as CI, from Debian's packages. It also
# assembles the runtime root in /rootfs from what the built binary loads.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config ca-certificates \
      libcurl4-openssl-dev libjansson-dev libyaml-dev libmicrohttpd-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY src ./src
COPY bench ./bench
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMSHACK_TESTS=OFF \
 && cmake --build build -j "$(nproc)" --target memshack \
 && strip build/memshack
# The runtime root: the binary; every shared library it loads and the dynamic
# loader, as ldd resolves them here (so the list follows the build: nothing is
# listed by hand), each under the name the loader looks for; the CA bundle;
# passwd/group entries for the non-root user; an empty /tmp.
COPY scripts/image-rootfs.sh /usr/local/bin/image-rootfs
RUN image-rootfs build/memshack /rootfs

# Runtime stage: nothing but that root.
FROM scratch
COPY --from=build /rootfs /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/memshack"]
CMD ["run"]
