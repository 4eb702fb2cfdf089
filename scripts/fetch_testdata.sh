#!/usr/bin/env bash
# fetch_testdata.sh - fetch real rasters from Debian packages for the oracle tests (idempotent).
#   Downloads r-cran-terra, r-cran-stars and proj-data with `apt-get download` into
#   .deps/debs, extracts them into .deps/testdata, and prints the paths of
#   ex/elev.tif (terra), tif/L7_ETMs.tif (stars) and egm96_15.gtx (proj-data), one per line as
#   NAME=PATH, and stars' nc/bcsd_obs_1999.nc (NetCDF, variables pr and tas, 12 monthly time
#   steps of 1999, standard calendar; its line is left out if the package lacks it). Then,
#   optionally (a failure is logged and their lines are left out), the input
#   metadata examples: python-grib-doc (gfs.grib2: a GFS GRIB2 file whose bands have bitmap
#   NoData) and ferret-datasets (etopo60.cdf: NetCDF relief without a CRS;
#   coads_climatology.cdf: NetCDF with subdatasets only, a monthly climatology of year 0;
#   ocean_atlas_subset.nc: NetCDF TEMP over time and depth).
#   Runs `apt-get update` only if a download fails. Works as root on Debian 12.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
debs="$root/.deps/debs"
out="$root/.deps/testdata"
packages=(r-cran-terra r-cran-stars proj-data)
optional=(python-grib-doc ferret-datasets)

log() { printf 'fetch_testdata: %s\n' "$*" >&2; }

have_deb() {
    compgen -G "$debs/${1}_*.deb" >/dev/null
}

download() {
    local missing=()
    local p
    for p in "$@"; do
        have_deb "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    log "downloading ${missing[*]}"
    # apt-get download writes into the current directory; as root it falls back to an
    # unsandboxed download (the _apt user cannot write here), which is harmless.
    if ! (cd "$debs" && apt-get download -q "${missing[@]}" >&2); then
        log "download failed; running apt-get update and retrying"
        apt-get update -qq >&2
        (cd "$debs" && apt-get download -q "${missing[@]}" >&2)
    fi
}

extract() {
    local p deb stamp
    for p in "$@"; do
        deb=$(compgen -G "$debs/${p}_*.deb" | sort | tail -n 1)
        [ -n "$deb" ] || continue
        stamp="$out/.extracted-$(basename "$deb")"
        if [ -f "$stamp" ]; then
            continue
        fi
        log "extracting $(basename "$deb")"
        dpkg-deb -x "$deb" "$out"
        touch "$stamp"
    done
}

find_one() {
    # First regular file with this path suffix in the extracted packages (not our own links).
    local suffix=$1
    find "$out/usr" -type f -path "*/$suffix" -print 2>/dev/null | sort | head -n 1
}

# NAME=PATH for each NAME:SUFFIX; returns 1 if one is missing.
print_paths() {
    local spec name suffix path rc=0
    for spec in "$@"; do
        name=${spec%%:*}
        suffix=${spec#*:}
        path=$(find_one "$suffix")
        if [ -z "$path" ]; then
            log "not found after extraction: $suffix"
            rc=1
            continue
        fi
        # Stable location for the tests, whatever the package layout.
        rm -f "$out/$name"
        ln -s "$path" "$out/$name"
        printf '%s=%s\n' "$name" "$out/$name"
    done
    return "$rc"
}

mkdir -p "$debs" "$out"
download "${packages[@]}"
extract "${packages[@]}"

status=0
print_paths elev.tif:ex/elev.tif L7_ETMs.tif:tif/L7_ETMs.tif egm96_15.gtx:egm96_15.gtx ||
    status=1
print_paths bcsd_obs_1999.nc:stars/nc/bcsd_obs_1999.nc || true
if (download "${optional[@]}" && extract "${optional[@]}"); then
    print_paths gfs.grib2:examples/gfs.t12z.pgrbf120.2p5deg.grib2 \
        etopo60.cdf:ferret-vis/data/etopo60.cdf \
        coads_climatology.cdf:ferret-vis/data/coads_climatology.cdf \
        ocean_atlas_subset.nc:ferret-vis/data/ocean_atlas_subset.nc || true
else
    log "optional packages unavailable: ${optional[*]} (their tests skip)"
fi
exit "$status"
