# memshack operator image.
#   docker build -t memshack-operator .
# Build stage: the same CMake commands as CI, from Debian's packages.
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

# Runtime stage: Debian slim with only the shared libraries memshack links
# (tests/docker_runtime_libs.sh checks this list against `ldd`), as non-root.
FROM debian:bookworm-slim
# runtime-packages: libcurl4 libjansson4 libyaml-0-2 libmicrohttpd12 libssl3 ca-certificates
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4 libjansson4 libyaml-0-2 libmicrohttpd12 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/memshack /usr/local/bin/memshack
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/memshack"]
CMD ["run"]
