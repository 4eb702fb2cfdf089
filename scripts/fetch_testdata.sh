#!/usr/bin/env bash
# fetch_testdata.sh - fetch real rasters from Debian packages for the oracle tests (idempotent).
#   Downloads r-cran-terra, r-cran-stars and proj-data with `apt-get download` into
#   .deps/debs, extracts them into .deps/testdata, and prints the paths of
#   ex/elev.tif (terra), tif/L7_ETMs.tif (stars) and egm96_15.gtx (proj-data), one per line as
#   NAME=PATH. Runs `apt-get update` only if a download fails. Works as root on Debian 12.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
debs="$root/.deps/debs"
out="$root/.deps/testdata"
packages=(r-cran-terra r-cran-stars proj-data)

log() { printf 'fetch_testdata: %s\n' "$*" >&2; }

have_deb() {
    compgen -G "$debs/${1}_*.deb" >/dev/null
}

download() {
    local missing=()
    local p
    for p in "${packages[@]}"; do
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
    for p in "${packages[@]}"; do
        deb=$(compgen -G "$debs/${p}_*.deb" | sort | tail -n 1)
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

mkdir -p "$debs" "$out"
download
extract

status=0
for spec in elev.tif:ex/elev.tif L7_ETMs.tif:tif/L7_ETMs.tif egm96_15.gtx:egm96_15.gtx; do
    name=${spec%%:*}
    suffix=${spec#*:}
    path=$(find_one "$suffix")
    if [ -z "$path" ]; then
        log "not found after extraction: $suffix"
        status=1
        continue
    fi
    # Stable location for the tests, whatever the package layout.
    rm -f "$out/$name"
    ln -s "$path" "$out/$name"
    printf '%s=%s\n' "$name" "$out/$name"
done
exit "$status"
