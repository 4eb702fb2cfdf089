#!/usr/bin/env bash
# setup.sh - install everything raster2h3 needs on Debian 12 (idempotent; run as root).
#   Debian packages (GDAL, compression libs, python3-gdal, Java for the pyspark test), the H3 C
#   library 4.5.0 built from the h3==4.5.0 sdist on PyPI (unless a system libh3 >= 4 is found),
#   and a Python venv for tests.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/.deps"
venv="$root/.venv"
h3_version=4.5.0
mkdir -p "$deps"

log() { printf 'setup: %s\n' "$*" >&2; }

apt_packages=(build-essential cmake pkg-config libgdal-dev gdal-bin python3-gdal python3-venv
    python3-dev libzstd-dev libsnappy-dev zlib1g-dev libpng-dev shellcheck clang-format
    openjdk-17-jre-headless) # Java: pyspark in tests/py/test_cell_type.py

install_debian_packages() {
    local missing=()
    for p in "${apt_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

system_h3_ok() {
    pkg-config --exists 'h3 >= 4' 2>/dev/null
}

install_h3() {
    local prefix="$deps/h3-$h3_version"
    if [ -f "$prefix/lib/libh3.a" ] && [ -f "$prefix/include/h3/h3api.h" ]; then
        return 0
    fi
    if system_h3_ok; then
        log "using system libh3 $(pkg-config --modversion h3)"
        return 0
    fi
    log "building H3 $h3_version from the h3==$h3_version sdist (PyPI)"
    local work="$deps/h3-build"
    rm -rf "$work" && mkdir -p "$work"
    "$venv/bin/pip" download --quiet --no-binary :all: --no-deps "h3==$h3_version" -d "$work"
    tar -xzf "$work/h3-$h3_version.tar.gz" -C "$work"
    local src="$work/h3-$h3_version/src/h3lib"
    [ "$(cat "$src/VERSION")" = "$h3_version" ] || { log "unexpected H3 version in sdist"; exit 1; }
    cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DBUILD_BENCHMARKS=OFF -DBUILD_FUZZERS=OFF -DBUILD_FILTERS=OFF -DBUILD_GENERATORS=OFF \
        -DENABLE_DOCS=OFF -DENABLE_LINTING=OFF -DENABLE_FORMAT=OFF -DENABLE_COVERAGE=OFF \
        -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
    cmake --build "$work/build" -j "$(nproc)" >/dev/null
    cmake --install "$work/build" >/dev/null
    rm -rf "$work"
}

install_venv() {
    local stamp="$venv/.r2h-requirements"
    if [ -f "$stamp" ] && cmp -s "$stamp" "$root/requirements-dev.txt"; then
        return 0
    fi
    log "creating Python venv for tests in $venv"
    [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet -r "$root/requirements-dev.txt"
    cp "$root/requirements-dev.txt" "$stamp"
}

install_debian_packages
install_venv
install_h3
log "ok"
