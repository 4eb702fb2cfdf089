#!/usr/bin/env bash
# submit.sh - submit the raster2h3 Slurm array (122 work units) and a dependent verify job.
#
# Usage: deploy/slurm/submit.sh INPUT OUTPUT [convert options...]
#   e.g. R2H_MEMORY=2G deploy/slurm/submit.sh s3://bucket/in.tif s3://bucket/out --resolution 8
# Environment:
#   R2H_BIN      raster2h3 binary, resolved to an absolute path   (default: raster2h3 on PATH)
#   R2H_MEMORY   --memory budget per task (K/M/G/T suffix)        (default 1G); --mem is derived
#   R2H_CPUS     --cpus-per-task, also --threads                   (default 2)
#   R2H_ARRAY    array indexes, e.g. 0-121%16 to run 16 at a time (default 0-121)
#   R2H_LOG_DIR  directory for the task logs                      (default ./raster2h3-logs)
#   R2H_VERIFY   1: chain `raster2h3 verify` with afterok (default); 0: do not
#   R2H_VERIFY_INPUT  raster the verify job compares valid-pixel counts with (default: INPUT)
#   R2H_REQUEUE_MAX   requeues per task on exit 75 (default 3)
# sbatch's own variables (SBATCH_PARTITION, SBATCH_TIMELIMIT, SBATCH_ACCOUNT, ...) apply too.
# Prints "array=<jobid>" and "verify=<jobid>" on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf 'submit: %s\n' "$*" >&2; }
die() { log "$1"; exit 2; }

[ $# -ge 2 ] || die "usage: submit.sh INPUT OUTPUT [convert options...]"
input=$1 output=$2
shift 2
memory=${R2H_MEMORY:-1G}
cpus=${R2H_CPUS:-2}
array=${R2H_ARRAY:-0-121}
log_dir=${R2H_LOG_DIR:-$PWD/raster2h3-logs}
verify=${R2H_VERIFY:-1}

bin=$(command -v "${R2H_BIN:-raster2h3}") || die "raster2h3 not found (set R2H_BIN)"
bin=$(realpath "$bin")
command -v sbatch >/dev/null || die "sbatch not found"

# Budget -> MiB -> --mem: peak RSS is about budget + 64 MiB; the rest is headroom for GDAL's
# /vsis3/ buffers. 1.5 x budget, at least budget + 256 MiB (1G -> 1536M, as in deploy/k8s).
budget_mib() {
    local v=$1 n unit
    [[ $v =~ ^([0-9]+)([KkMmGgTt]?)$ ]] || return 1
    n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
    case $unit in
        K | k) echo $(((n + 1023) / 1024)) ;;
        M | m) echo "$n" ;;
        G | g) echo $((n * 1024)) ;;
        T | t) echo $((n * 1024 * 1024)) ;;
        *) echo $(((n + 1048575) / 1048576)) ;;
    esac
}
budget=$(budget_mib "$memory") || die "R2H_MEMORY must be like 512M or 2G: $memory"
mem=$((budget * 3 / 2))
[ "$mem" -ge $((budget + 256)) ] || mem=$((budget + 256))
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "R2H_CPUS must be a positive integer: $cpus"

mkdir -p "$log_dir"
array_id=$(R2H_BIN=$bin R2H_MEMORY=$memory sbatch --parsable --export=ALL \
    --array="$array" --cpus-per-task="$cpus" --mem="${mem}M" \
    --output="$log_dir/%x-%A_%a.out" \
    "$here/raster2h3-array.sbatch" "$input" "$output" "$@")
array_id=${array_id%%;*}
log "array job $array_id: indexes $array, --mem ${mem}M, --cpus-per-task $cpus, --memory $memory"
echo "array=$array_id"

if [ "$verify" = 1 ]; then
    # afterok on an array job waits for every task to succeed. If one fails for good, the
    # dependency can never be met and Slurm cancels the verify job (--kill-on-invalid-dep).
    verify_id=$(R2H_BIN=$bin sbatch --parsable --export=ALL \
        --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
        --output="$log_dir/%x-%j.out" \
        "$here/raster2h3-verify.sbatch" "$output" "${R2H_VERIFY_INPUT:-$input}")
    verify_id=${verify_id%%;*}
    log "verify job $verify_id (afterok:$array_id)"
    echo "verify=$verify_id"
fi
