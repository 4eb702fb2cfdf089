#!/usr/bin/env bash
# run-job.sh - (re)start the raster2h3 Indexed Job, stream every pod's log, wait, verify coverage.
#
# Usage: OUTPUT=s3://bucket/prefix INPUT=s3://bucket/in.tif deploy/k8s/run-job.sh
#
# Environment (all optional except OUTPUT and INPUT):
#   JOB_NAME   Job name, must match metadata.name in the manifest   (default raster2h3)
#   JOB_FILE   manifest file, or a kustomize directory              (default: job.yaml next to this)
#   NAMESPACE  namespace for every kubectl call                     (default: kubectl's current)
#   TIMEOUT    how long to wait for the Job: 90s, 30m, 6h or seconds (default 6h)
#   OUTPUT     dataset the Job writes; checked at the end with `$R2H_BIN verify OUTPUT --input INPUT`
#   INPUT      the raster the Job converts: verify compares every partition's valid-pixel count
#              with it (without it a partial dataset cannot be told from a whole one)
#   R2H_BIN    raster2h3 binary used for the coverage check         (default raster2h3)
#   SKIP_VERIFY=1  skip the coverage check (then OUTPUT and INPUT are not needed)
#   LOGS       all: follow every pod's log (default); none: progress lines only
#   POD_WAIT   seconds to wait for the first pod to appear          (default 120)
#   POLL       seconds between status polls                         (default 10)
#   KUBECTL    kubectl command                                      (default kubectl)
#
# Exit status: 0 Job complete and coverage verified; 1 Job failed (diagnostics printed);
# 2 usage/configuration error; 3 Job complete but the coverage check failed; 4 timeout (the Job
# keeps running; diagnostics printed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
JOB_NAME=${JOB_NAME:-raster2h3}
JOB_FILE=${JOB_FILE:-$here/job.yaml}
NAMESPACE=${NAMESPACE:-}
TIMEOUT=${TIMEOUT:-6h}
OUTPUT=${OUTPUT:-}
INPUT=${INPUT:-}
R2H_BIN=${R2H_BIN:-raster2h3}
SKIP_VERIFY=${SKIP_VERIFY:-0}
LOGS=${LOGS:-all}
POD_WAIT=${POD_WAIT:-120}
POLL=${POLL:-10}
KUBECTL=${KUBECTL:-kubectl}
CONTAINER=raster2h3
SELECTOR="batch.kubernetes.io/job-name=$JOB_NAME"

log() { printf 'run-job: %s\n' "$*" >&2; }
die() { log "$1"; exit "${2:-2}"; }

ns_args=()
if [ -n "$NAMESPACE" ]; then
    ns_args=(--namespace "$NAMESPACE")
fi
k() { "$KUBECTL" "${ns_args[@]}" "$@"; }

# Duration (90s, 30m, 6h, 1d or plain seconds) -> seconds.
to_seconds() {
    local v=$1 n unit
    [[ $v =~ ^([0-9]+)([smhd]?)$ ]] || return 1
    n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
    case $unit in
        m) n=$((n * 60)) ;;
        h) n=$((n * 3600)) ;;
        d) n=$((n * 86400)) ;;
    esac
    echo "$n"
}

check_config() {
    command -v "$KUBECTL" >/dev/null || die "kubectl not found ($KUBECTL)"
    [ -e "$JOB_FILE" ] || die "JOB_FILE not found: $JOB_FILE"
    timeout_s=$(to_seconds "$TIMEOUT") || die "TIMEOUT must look like 90s, 30m, 6h or 3600: $TIMEOUT"
    pod_wait_s=$(to_seconds "$POD_WAIT") || die "POD_WAIT must be seconds: $POD_WAIT"
    case $LOGS in all | none) ;; *) die "LOGS must be all or none: $LOGS" ;; esac
    if [ "$SKIP_VERIFY" != 1 ]; then
        [ -n "$OUTPUT" ] || die "OUTPUT is not set (the dataset to verify; or SKIP_VERIFY=1)"
        [ -n "$INPUT" ] || die "INPUT is not set (verify compares the dataset with the raster: without it a partial dataset cannot be told from a whole one; or SKIP_VERIFY=1)"
        command -v "$R2H_BIN" >/dev/null || die "R2H_BIN not found: $R2H_BIN (needed for the coverage check)"
    fi
}

# --- log followers: one `kubectl logs -f` per pod, started once the pod has left Pending --------
followers=()
declare -A followed=()

follow_new_pods() {
    local name phase index
    while read -r name phase index; do
        [ -n "$name" ] || continue
        [ -z "${followed[$name]:-}" ] || continue
        case $phase in Running | Succeeded | Failed) ;; *) continue ;; esac
        followed[$name]=1
        log "following pod $name (index ${index:-?}, $phase)"
        if [ "$LOGS" = all ]; then
            "$KUBECTL" "${ns_args[@]}" logs -f "pod/$name" -c "$CONTAINER" --prefix --timestamps &
            followers+=("$!")
        fi
    done <<<"$1"
}

stop_followers() {
    local pid
    for pid in "${followers[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${followers[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    followers=()
}

list_pods() {
    k get pods -l "$SELECTOR" -o \
        "jsonpath={range .items[*]}{.metadata.name}{' '}{.status.phase}{' '}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}{'\n'}{end}"
}

# "succeeded/failed/active/Type=Status,Type=Status,"; empty counts mean 0.
job_status() {
    k get "job/$JOB_NAME" -o \
        "jsonpath={.status.succeeded}/{.status.failed}/{.status.active}/{range .status.conditions[*]}{.type}={.status},{end}"
}

# --- diagnostics --------------------------------------------------------------------------------
diagnostics() {
    log "---- diagnostics for job/$JOB_NAME ----"
    k get "job/$JOB_NAME" -o wide || true
    k describe "job/$JOB_NAME" || true
    k get "job/$JOB_NAME" -o 'jsonpath=failed indexes: {.status.failedIndexes}{"\n"}' || true
    k get pods -l "$SELECTOR" -o wide || true
    local name phase index n=0
    while read -r name phase index; do
        [ -n "$name" ] || continue
        case $phase in Running | Succeeded) continue ;; esac
        n=$((n + 1))
        if [ "$n" -gt 10 ]; then
            log "(more pods not shown)"
            break
        fi
        log "---- pod $name (index ${index:-?}, $phase) ----"
        k describe "pod/$name" || true
        k logs "pod/$name" -c "$CONTAINER" --tail=200 --timestamps || true
    done <<<"$(list_pods 2>/dev/null || true)"
    k get events --field-selector "involvedObject.name=$JOB_NAME" --sort-by=.lastTimestamp || true
}

on_exit() {
    local rc=$?
    stop_followers
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] && [ "$rc" -ne 3 ]; then
        diagnostics
    fi
    exit "$rc"
}

# --- main ---------------------------------------------------------------------------------------
check_config

log "deleting job/$JOB_NAME if it exists"
# Foreground cascade: wait until the old pods are gone, so they are not mistaken for new ones.
k delete "job/$JOB_NAME" --ignore-not-found --cascade=foreground --wait=true
apply_mode=-f
if [ -d "$JOB_FILE" ]; then
    apply_mode=-k
fi
applied=$(k apply "$apply_mode" "$JOB_FILE" -o name)
log "applied: $applied"
case $applied in
    *"job.batch/$JOB_NAME"*) ;;
    *) die "the manifest does not define job/$JOB_NAME (set JOB_NAME to its metadata.name)" ;;
esac
trap on_exit EXIT

start=$SECONDS
seen_pod=0
api_errors=0
last=""
while :; do
    elapsed=$((SECONDS - start))
    if [ "$elapsed" -ge "$timeout_s" ]; then
        log "timeout after $TIMEOUT; job/$JOB_NAME keeps running (kubectl delete job/$JOB_NAME to stop it)"
        exit 4
    fi
    if [ "$seen_pod" = 0 ] && [ "$elapsed" -ge "$pod_wait_s" ]; then
        log "no pods for job/$JOB_NAME after ${pod_wait_s}s (quota, admission, image?)"
        exit 1
    fi
    # A flaky API server should not end the watch: give up after 5 failed polls in a row.
    if ! pods=$(list_pods) || ! status=$(job_status); then
        api_errors=$((api_errors + 1))
        log "kubectl get failed ($api_errors in a row)"
        [ "$api_errors" -lt 5 ] || exit 1
        sleep "$POLL"
        continue
    fi
    api_errors=0
    if [ -n "$pods" ]; then
        seen_pod=1
        follow_new_pods "$pods"
    fi

    IFS=/ read -r succeeded failed active conditions <<<"$status"
    now="succeeded ${succeeded:-0}/122, active ${active:-0}, failed pods ${failed:-0}"
    if [ "$now" != "$last" ]; then
        log "$now"
        last=$now
    fi
    case ",$conditions" in
        *,Complete=True,*)
            log "job/$JOB_NAME complete"
            break
            ;;
        *,Failed=True,*)
            log "job/$JOB_NAME failed"
            exit 1
            ;;
    esac
    sleep "$POLL"
done

# Let the followers print the last lines of pods that just finished.
follow_new_pods "$(list_pods)"
for pid in "${followers[@]}"; do
    wait "$pid" 2>/dev/null || true
done
followers=()

if [ "$SKIP_VERIFY" = 1 ]; then
    log "coverage check skipped (SKIP_VERIFY=1)"
    exit 0
fi
verify_args=(verify "$OUTPUT" --input "$INPUT")
log "coverage check: $R2H_BIN ${verify_args[*]}"
if ! "$R2H_BIN" "${verify_args[@]}"; then
    log "coverage check FAILED for $OUTPUT"
    exit 3
fi
log "coverage check passed: $OUTPUT"
