#!/usr/bin/env bash
# run-array-test.sh - end-to-end test of deploy/slurm on a real Slurm (tests/slurm/start-slurm.sh):
# all 122 array tasks on a small global raster, then the union of their partitions must equal a
# whole-raster convert (row multisets, read with pyarrow), and `raster2h3 verify` must pass when
# the command exists. Also checks that a task exiting 75 is requeued and then succeeds.
#   R2H_BIN   binary to test (default build/raster2h3)
#   WORK      scratch directory (default: a new /tmp/r2h-slurm-XXXXXX, removed on success)
#   TIMEOUT   seconds to wait for the jobs (default 1200)
#   PYTHON    python with osgeo.gdal and pyarrow (default .venv/bin/python)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(realpath "${R2H_BIN:-$repo/build/raster2h3}")
python=${PYTHON:-$repo/.venv/bin/python}
timeout_s=${TIMEOUT:-1200}
keep=${WORK:+1}
work=${WORK:-$(mktemp -d /tmp/r2h-slurm-XXXXXX)}
mkdir -p "$work"
# Slurm runs the tasks as the submitting user; make the scratch dir reachable for them.
chmod 755 "$work"

log() { printf 'slurm-test: %s\n' "$*" >&2; }
fail() {
    log "FAIL: $*"
    log "logs in $work/logs"
    tail -n 5 "$work"/logs/*.out 2>/dev/null | tail -n 60 >&2 || true
    exit 1
}

[ -x "$bin" ] || fail "binary not found: $bin"
command -v sbatch >/dev/null || fail "sbatch not found: run tests/slurm/start-slurm.sh first"
sinfo -h -o '%t' | grep -qE 'idle|mix|alloc' || fail "no usable Slurm node (sinfo: $(sinfo -h -o '%t' | tr '\n' ' '))"

raster=$work/global.tif
log "writing $raster"
"$python" - "$raster" <<'EOF'
import struct, sys
from osgeo import gdal, osr
gdal.UseExceptions()
# 360 x 180 one-degree UInt16 grid, NoData 65535 on a band pattern so some cells are empty.
cols, rows, nodata = 360, 180, 65535
ds = gdal.GetDriverByName("GTiff").Create(sys.argv[1], cols, rows, 1, gdal.GDT_UInt16)
ds.SetGeoTransform((-180.0, 1.0, 0.0, 90.0, 0.0, -1.0))
srs = osr.SpatialReference(); srs.ImportFromEPSG(4326)
ds.SetProjection(srs.ExportToWkt())
band = ds.GetRasterBand(1)
band.SetNoDataValue(nodata)
vals = []
for r in range(rows):
    for c in range(cols):
        vals.append(nodata if (r * 7 + c * 3) % 11 == 0 else (r * cols + c) % 9973)
band.WriteRaster(0, 0, cols, rows, struct.pack(f"<{cols * rows}H", *vals), buf_type=gdal.GDT_UInt16)
ds = None
EOF

has_verify=0
if "$bin" verify --help >/dev/null 2>&1; then
    has_verify=1
fi
opts=(--resolution 3)

# Wait until none of the given jobs is in squeue any more.
wait_jobs() {
    local start=$SECONDS
    while [ -n "$(squeue -h -j "$1" -o '%i' 2>/dev/null)" ]; do
        [ $((SECONDS - start)) -lt "$timeout_s" ] || fail "jobs $1 still queued after ${timeout_s}s"
        sleep 2
    done
}

# "STATE EXITCODE" of every task of a job, one line each (finished jobs stay visible to
# scontrol for MinJobAge seconds; there is no accounting database).
task_states() {
    scontrol show job -o "$1" | sed -E 's/.*JobState=([A-Z_]+).*ExitCode=([0-9:]+).*/\1 \2/'
}

log "submitting 122 tasks: $bin convert $raster $work/out ${opts[*]}"
ids=$(cd "$work" && R2H_BIN=$bin R2H_MEMORY=256M R2H_CPUS=1 R2H_LOG_DIR=$work/logs \
    R2H_VERIFY=$has_verify "$repo/deploy/slurm/submit.sh" "$raster" "$work/out" "${opts[@]}")
array_id=$(sed -n 's/^array=//p' <<<"$ids")
verify_id=$(sed -n 's/^verify=//p' <<<"$ids")
[ -n "$array_id" ] || fail "submit.sh printed no array id: $ids"
start=$SECONDS
wait_jobs "$array_id${verify_id:+,$verify_id}"
log "jobs finished in $((SECONDS - start))s"

states=$(task_states "$array_id")
ntasks=$(grep -c . <<<"$states")
ndone=$(grep -c '^COMPLETED 0:0$' <<<"$states" || true)
if [ "$ntasks" != 122 ] || [ "$ndone" != 122 ]; then
    fail "array $array_id: $ndone of $ntasks tasks COMPLETED 0:0: $(sort <<<"$states" | uniq -c | tr '\n' ' ')"
fi
log "array $array_id: 122/122 tasks completed"
if [ -n "$verify_id" ]; then
    vstate=$(task_states "$verify_id")
    [ "$vstate" = "COMPLETED 0:0" ] || fail "verify job $verify_id: $vstate"
    log "verify job $verify_id passed"
else
    log "raster2h3 verify not available: verify job skipped"
fi

log "whole-raster reference convert"
"$bin" convert "$raster" "$work/ref" "${opts[@]}" --threads 1 --memory 256M --quiet \
    --tmpdir "$work" || fail "reference convert failed"
"$python" - "$work/out" "$work/ref" <<'EOF' || fail "union of the 122 outputs differs from the whole-raster convert"
import collections, pathlib, sys
import pyarrow.parquet as pq

def rows(root):
    """Multiset of (partition dir, row tuple) over every data_0.parquet under root."""
    out = collections.Counter()
    files = sorted(pathlib.Path(root).glob("h0=*/data_0.parquet"))
    for f in files:
        t = pq.read_table(f)
        cols = [t.column(n).to_pylist() for n in t.column_names]
        out.update((f.parent.name, tuple(t.column_names), r) for r in zip(*cols))
    return out, len(files)

got, nfiles = rows(sys.argv[1])
want, nref = rows(sys.argv[2])
print(f"array: {nfiles} partitions, {sum(got.values())} rows; "
      f"whole raster: {nref} partitions, {sum(want.values())} rows", file=sys.stderr)
if not want:
    sys.exit("reference is empty")
if got != want:
    print(f"only in array output: {len(got - want)}, only in reference: {len(want - got)}",
          file=sys.stderr)
    sys.exit(1)
EOF
if [ "$has_verify" = 1 ]; then
    "$bin" verify "$work/out" --input "$raster" || fail "raster2h3 verify --input failed"
fi
log "array output equals the whole-raster convert"

# Requeue on exit 75: a wrapper that fails the first attempt of task 7 with 75.
flaky=$work/flaky-raster2h3
cat >"$flaky" <<EOF
#!/usr/bin/env bash
if [ ! -e "$work/flaky-once" ]; then
    touch "$work/flaky-once"
    echo "flaky: simulated transient S3 error" >&2
    exit 75
fi
exec "$bin" "\$@"
EOF
chmod +x "$flaky"
log "requeue test: task 7 exits 75 once"
ids=$(cd "$work" && R2H_BIN=$flaky R2H_MEMORY=256M R2H_CPUS=1 R2H_LOG_DIR=$work/logs \
    R2H_ARRAY=7 R2H_VERIFY=0 "$repo/deploy/slurm/submit.sh" "$raster" "$work/out-flaky" "${opts[@]}")
flaky_id=$(sed -n 's/^array=//p' <<<"$ids")
wait_jobs "$flaky_id"
state=$(task_states "$flaky_id")
restarts=$(scontrol show job -o "$flaky_id" | sed -E 's/.*Restarts=([0-9]+).*/\1/')
if [ "$state" != "COMPLETED 0:0" ] || [ "$restarts" != 1 ]; then
    fail "requeue test: task 7 state '$state', restarts '$restarts' (want COMPLETED 0:0, 1)"
fi
for f in "$work"/out-flaky/h0=*/data_0.parquet; do
    [ -e "$f" ] || continue
    [ -e "$work/out/${f#"$work"/out-flaky/}" ] || fail "requeue test: unexpected partition $f"
done
log "requeue test passed (1 restart, then COMPLETED)"

log "PASS"
if [ -z "$keep" ]; then
    rm -rf "$work"
fi
