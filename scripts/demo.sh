#!/usr/bin/env bash
# demo.sh - convert the bundled sample (real SRTM elevation from Debian's r-cran-terra, as UInt16
# with NoData 65535 like the vulnerable-carbon job) and print a summary of the output dataset.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/fetch_testdata.sh >/dev/null
elev=$(find .deps/testdata -path '*terra/ex/elev.tif' | head -n 1)
[ -n "$elev" ] || { echo "demo: elev.tif not found (scripts/fetch_testdata.sh failed?)" >&2; exit 1; }
mkdir -p demo-out
sample=demo-out/sample-uint16.tif
gdalwarp -q -overwrite -ot UInt16 -dstnodata 65535 -co TILED=YES -co COMPRESS=DEFLATE "$elev" "$sample"
rm -rf demo-out/dataset
echo "\$ build/raster2h3 convert $sample demo-out/dataset --resolution 9 --value-name elevation --profile"
build/raster2h3 convert "$sample" demo-out/dataset --resolution 9 --value-name elevation --profile
echo
.venv/bin/python scripts/summarize.py demo-out/dataset
