#!/bin/bash
# Convert every partition of a whole-run dataset again as its own work unit (--i N, what a
# Kubernetes Indexed Job or a Slurm array task runs), one after another, and total wall, CPU
# (user+sys) and pixels read, against the whole run. Usage:
#   bench/work_units.sh RASTER WHOLE_OUTPUT [RASTER2H3]
# (WHOLE_OUTPUT: a finished `raster2h3 convert RASTER WHOLE_OUTPUT`; work units go to a temp dir)
set -euo pipefail
RASTER=$1; WHOLE=$2; BIN=${3:-$(dirname "$0")/../build/raster2h3}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
tot_w=0; tot_c=0; maxrss=0; px=0
for d in "$WHOLE"/h0=*; do
  h=${d##*h0=}; base=$(( (0x$h >> 45) & 127 ))
  out=$( { /usr/bin/time -f "%e %U %S %M" "$BIN" convert "$RASTER" "$OUT" --i $base --progress none --profile; } 2>&1 )
  t=$(echo "$out" | tail -1); p=$(echo "$out" | grep -o "[0-9]* pixels read" | awk '{print $1}')
  read -r wall usr sys rss <<< "$t"
  tot_w=$(echo "$tot_w + $wall" | bc); tot_c=$(echo "$tot_c + $usr + $sys" | bc)
  [ "$rss" -gt "$maxrss" ] && maxrss=$rss
  px=$((px + p))
  echo "base cell $base wall $wall cpu $(echo "$usr + $sys" | bc) rss_kb $rss pixels_read $p"
done
echo "TOTAL wall $tot_w cpu $tot_c max_rss_kb $maxrss pixels_read $px"
