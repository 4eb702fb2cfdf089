# syntax=docker/dockerfile:1
# Dockerfile - the raster2h3 image for deploy/k8s/job.yaml: built with the project's own
# scripts/setup.sh and `make build` on Debian 12, shipped as the binary plus Debian runtime libs.
#
#   docker build -t ghcr.io/example/raster2h3:0.1.0 .
#   docker run --rm ghcr.io/example/raster2h3:0.1.0 --version
#
# libh3 (4.5.0, built by setup.sh) and the project library are linked statically; GDAL, zstd and
# snappy are linked dynamically against the same Debian 12 packages in both stages (a fully static
# GDAL is not practical; see docs/deploy.md).

ARG DEBIAN_IMAGE=debian:12

# ---- build stage -------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
# setup.sh installs everything else; it needs TLS roots for PyPI (the H3 sdist) first.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Setup first, from only the files it reads, so source edits do not redo it.
COPY scripts/setup.sh scripts/setup.sh
COPY requirements-dev.txt requirements-dev.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    bash scripts/setup.sh \
    && rm -rf /var/lib/apt/lists/*
COPY . .
# `make build` re-runs setup.sh (a no-op now) and builds build/raster2h3 with CMake.
RUN make build CMAKE_FLAGS="-DR2H_BUILD_TESTS=OFF" JOBS="$(nproc)" \
    && strip --strip-debug build/raster2h3 \
    && build/raster2h3 --version

# ---- runtime stage -----------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# Exactly the shared libraries build/raster2h3 needs (readelf -d: libgdal.so.32, libzstd.so.1,
# libsnappy.so.1, libc/libm); libgdal32 brings gdal-data, PROJ and its data. ca-certificates for
# S3 over HTTPS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libgdal32 libzstd1 libsnappy1v5 libpng16-16 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 raster2h3 \
    && useradd --system --uid 10001 --gid 10001 --home-dir /work --shell /usr/sbin/nologin raster2h3 \
    && install -d -o 10001 -g 10001 /work /scratch
COPY --from=build /src/build/raster2h3 /usr/local/bin/raster2h3
# Fail the build here, not in the cluster, if a runtime library is missing.
RUN raster2h3 --version
ENV TMPDIR=/scratch \
    GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["raster2h3"]
CMD ["--help"]
