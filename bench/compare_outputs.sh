#!/usr/bin/env bash
# compare_outputs.sh BIN_DIR_A BIN_DIR_B [WORK]: convert a set of rasters with both raster2h3
# binaries (BIN_DIR/raster2h3) under several option sets and compare every output file byte for
# byte. Exit 0 when all are identical; prints each difference. For refactors that must not change
# behaviour: the binary before and after. Real rasters come from scripts/fetch_testdata.sh, the
# tile from bench/make_carbon_raster.py --size tile.
set -uo pipefail
A=$1/raster2h3; B=$2/raster2h3; W=${3:-$(mktemp -d /tmp/same-XXXXXX)}
mkdir -p "$W"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$ROOT/.deps/testdata
TILE=$ROOT/bench/data/carbon-tile.tif  # bench/make_carbon_raster.py --size tile
cases=(
  "tile|$TILE|"
  "tile-agg|$TILE|--aggregate --stat count,sum,mean,min,max,mode"
  "tile-spill|$TILE|--memory 64M --threads 2"
  "elev|$T/elev.tif|--resolution 9"
  "elev-agg-density|$T/elev.tif|--resolution 7 --aggregate --density-unit per-ha"
  "elev-parents-str|$T/elev.tif|--resolution 10 --parents 3,5 --cell-format string"
  "elev-frac|$T/elev.tif|--resolution 6 --aggregate --stat count,fractions,mode --classes 300,400,500"
  "l7-bands|$T/L7_ETMs.tif|--resolution 10 --bands 1,3,4"
  "l7-wu|$T/L7_ETMs.tif|--resolution 11 --i 14"
  "egm|$T/egm96_15.gtx|--resolution 3"
  "egm-agg|$T/egm96_15.gtx|--resolution 2 --aggregate --stat count,mean,min,max"
  "egm-ref|$T/egm96_15.gtx|--resolution 4 --index reference"
)
bad=0
for c in "${cases[@]}"; do
  IFS='|' read -r name in opts <<<"$c"
  [ -e "$in" ] || { echo "skip $name: $in missing"; continue; }
  for side in a b; do
    bin=$A; [ $side = b ] && bin=$B
    rm -rf "$W/$name-$side"
    # shellcheck disable=SC2086
    "$bin" convert "$in" "$W/$name-$side" $opts --quiet 2>"$W/$name-$side.err"
    echo $? >"$W/$name-$side.rc"
  done
  if ! cmp -s "$W/$name-a.rc" "$W/$name-b.rc"; then
    echo "DIFF $name: exit $(cat "$W/$name-a.rc") vs $(cat "$W/$name-b.rc")"; bad=1; continue
  fi
  if diff -r -q "$W/$name-a" "$W/$name-b" >/dev/null 2>&1; then
    echo "same $name ($(find "$W/$name-a" -type f | wc -l) files, exit $(cat "$W/$name-a.rc"))"
  else
    echo "DIFF $name:"; diff -r -q "$W/$name-a" "$W/$name-b" | head -5; bad=1
  fi
done
exit $bad
