#!/usr/bin/env bash
# check_layers.sh - the module boundaries of docs/design/0001-architecture.md, checked on the
# sources: every `#include "..."` of a module names a header of the module itself, of a module
# it may use, or the public raster2h3.h; a module's private headers (*_internal.h,
# fast_model.h) are included only inside it; external libraries only where allowed.
# The build enforces the same table (each module's OBJECT library sees only those directories);
# this check also catches an include that happens to resolve another way. Exit 1 on a violation.
set -u
cd "$(dirname "$0")/.." || exit 1

# module: the modules it may use (besides itself and include/).
declare -A ALLOWED=(
    [common]=""
    [io]="common"
    [sink]="common io"
    [parquet]="common io sink"
    [arrow]="common io sink parquet"
    [raster]="common io"
    [index]="common"
    [scan]="common raster index"
    [sort]="common index"
    [dataset]="common io sink parquet index"
    [convert]="common io sink parquet arrow raster index scan sort dataset"
    [tools]="common io sink parquet arrow raster index sort dataset convert"
    [cli]=""
)
# Private headers: only their own module includes them.
PRIVATE_HEADERS="convert_internal.h pq_internal.h pq_reader_internal.h raster_internal.h fast_model.h"
# External headers (regex) -> the only modules (or files) that may include them.
declare -A EXTERNAL=(
    ['h3/h3api\.h|h3api\.h']="src/index/"
    ['zstd\.h|snappy-c\.h']="src/parquet/"
    ['png\.h']="src/tools/preview.c"
    ['gdal\.h|gdal_[a-z_]*\.h|cpl_[a-z_]*\.h|ogr_[a-z_]*\.h']="src/io/ src/sink/sink_vsi.c src/raster/ src/dataset/ src/convert/"
)

fail=0
owner_of() { # header name -> module whose directory holds it ("" if none)
    local h=$1 f
    for f in src/*/"$h"; do
        [ -e "$f" ] && { basename "$(dirname "$f")"; return; }
    done
    [ -e "include/$h" ] || [ -e "include/$h.in" ] && echo "include"
}

for dir in src/*/; do
    mod=$(basename "$dir")
    if [ -z "${ALLOWED[$mod]+x}" ]; then
        echo "check_layers: module $mod is not in the table (tests/check_layers.sh)"
        fail=1
        continue
    fi
    for file in "$dir"*.[ch]; do
        [ -e "$file" ] || continue
        while IFS= read -r line; do
            hdr=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/' <<<"$line")
            base=$(basename "$hdr")
            own=$(owner_of "$base")
            if [ -z "$own" ]; then
                echo "$file: includes \"$hdr\", which no module provides"
                fail=1
            elif [ "$own" = include ] || [ "$own" = "$mod" ]; then
                :
            elif [[ " $PRIVATE_HEADERS " == *" $base "* ]]; then
                echo "$file: includes $base, private to src/$own"
                fail=1
            elif [[ " ${ALLOWED[$mod]} " != *" $own "* ]]; then
                echo "$file: module $mod may not include $base (module $own); allowed: ${ALLOWED[$mod]:-none}"
                fail=1
            fi
        done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file")
        for re in "${!EXTERNAL[@]}"; do
            if grep -Eq "^[[:space:]]*#[[:space:]]*include[[:space:]]*<($re)>" "$file"; then
                ok=0
                for where in ${EXTERNAL[$re]}; do
                    [[ "$file" == "$where"* ]] && ok=1
                done
                if [ $ok = 0 ]; then
                    echo "$file: includes an external header matching <$re>, allowed only in ${EXTERNAL[$re]}"
                    fail=1
                fi
            fi
        done
    done
done
[ $fail = 0 ] && echo "check_layers: ok"
exit $fail
