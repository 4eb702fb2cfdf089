"""test_deploy.py - cluster deployment files: the Kubernetes Job manifest, run-job.sh (against a
fake kubectl), the Slurm scripts (against fake sbatch/scontrol, and for real when R2H_SLURM=1),
the Dockerfile's runtime libraries and shellcheck on every shell script.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import BINARY, REPO

K8S = REPO / "deploy" / "k8s"
SLURM = REPO / "deploy" / "slurm"
JOB_YAML = K8S / "job.yaml"
RUN_JOB = K8S / "run-job.sh"
# podFailurePolicy with onExitCodes/Ignore and backoffLimitPerIndex/maxFailedIndexes are on by
# default from 1.29; validate against that and newer API versions.
K8S_VERSIONS = ["1.29.0", "1.31.0", "1.33.0"]
PERMANENT_EXIT_CODES = {2, 3, 4}
RETRYABLE_EXIT_CODES = {1, 5, 75}


@pytest.fixture(scope="module")
def job():
    return yaml.safe_load(JOB_YAML.read_text())


def container(job):
    (c,) = job["spec"]["template"]["spec"]["containers"]
    return c


def env_value(c, name):
    for e in c["env"]:
        if e["name"] == name:
            return e
    raise AssertionError(f"env {name} not set")


def quantity_bytes(q):
    """Kubernetes memory quantity or CLI size (1536Mi, 2Gi, 1G) -> bytes; binary units for CLI."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|K|M|G|T)?", str(q))
    assert m, f"unparsable quantity {q!r}"
    scale = {None: 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    unit = (m.group(2) or "").rstrip("i") or None
    return int(m.group(1)) * scale[unit]


# --- manifest -----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_job_manifest_validates_against_bundled_schemas(job, version):
    kv = pytest.importorskip("kubernetes_validate")
    # Offline: the package ships its JSON schemas; strict rejects unknown fields (typos).
    kv.validate(job, version, strict=True)


def test_job_manifest_schema_catches_a_typo(job):
    """The validator really is strict: a misspelt field must fail (guards a vacuous pass)."""
    kv = pytest.importorskip("kubernetes_validate")
    bad = json.loads(json.dumps(job))
    bad["spec"]["podFailurePolicy"]["rules"][0]["onPodCondition"] = []
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, K8S_VERSIONS[0], strict=True)


def test_job_is_an_indexed_job_over_all_base_cells(job):
    spec = job["spec"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == 122
    assert spec["parallelism"] == 16
    assert spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # required by podFailurePolicy
    assert pod["priorityClassName"] == "opportunistic"
    c = container(job)
    # The work unit comes from JOB_COMPLETION_INDEX, never from a hard-coded --i.
    assert "--i" not in c["args"]
    idx = env_value(c, "JOB_COMPLETION_INDEX")
    assert idx["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert c["args"][0] == "convert"


def test_pod_failure_policy_maps_exit_codes(job):
    spec = job["spec"]
    assert spec["backoffLimitPerIndex"] >= 1
    assert "maxFailedIndexes" in spec
    assert "backoffLimit" not in spec  # unlimited total with per-index limits
    rules = spec["podFailurePolicy"]["rules"]
    ignore = [r for r in rules if r["action"] == "Ignore"]
    assert any(cond["type"] == "DisruptionTarget" and cond["status"] == "True"
               for r in ignore for cond in r.get("onPodConditions", []))
    by_action = {}
    for r in rules:
        if "onExitCodes" in r:
            oc = r["onExitCodes"]
            assert oc["operator"] == "In"
            assert oc["containerName"] == container(job)["name"]
            by_action.setdefault(r["action"], set()).update(oc["values"])
    assert by_action["FailJob"] == PERMANENT_EXIT_CODES
    assert by_action["Count"] == RETRYABLE_EXIT_CODES
    # The first rule must be the pre-emption one, so a pre-empted pod's exit code (5 after
    # SIGTERM) is ignored rather than counted.
    assert rules[0]["action"] == "Ignore"


def test_resources_follow_the_memory_budget(job):
    c = container(job)
    budget = quantity_bytes(env_value(c, "R2H_MEMORY")["value"])
    assert "$(R2H_MEMORY)" in c["args"]
    req = c["resources"]["requests"]
    lim = c["resources"]["limits"]
    # Measured peak RSS is budget + ~64 MiB; leave room for /vsis3/ buffers, but nothing like
    # the seed's 34 GiB.
    assert budget + (256 << 20) <= quantity_bytes(req["memory"]) <= 2 * budget
    assert quantity_bytes(req["memory"]) < quantity_bytes(lim["memory"]) <= 4 * budget
    threads = c["args"][c["args"].index("--threads") + 1]
    assert str(req["cpu"]) == threads
    tmpdir = c["args"][c["args"].index("--tmpdir") + 1]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in vols[mounts[tmpdir]]
    assert vols[mounts[tmpdir]]["emptyDir"].get("medium") != "Memory"


def test_credentials_come_from_a_secret(job):
    c = container(job)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        e = env_value(c, name)
        assert "value" not in e
        assert e["valueFrom"]["secretKeyRef"]["key"] == name
    for name in ("AWS_S3_ENDPOINT", "R2H_OUTPUT", "R2H_INPUT"):
        env_value(c, name)
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_kustomization_targets_the_job(job):
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert k["resources"] == ["job.yaml"]
    assert k["images"][0]["name"] == container(job)["image"].rsplit(":", 1)[0]
    (patch,) = k["patches"]
    assert patch["target"]["name"] == job["metadata"]["name"]
    ops = {op["path"]: op["value"] for op in yaml.safe_load(patch["patch"])}
    assert ops["/spec/parallelism"] == job["spec"]["parallelism"]


# --- shellcheck ---------------------------------------------------------------------------------

def shell_scripts():
    out = []
    for d in ("deploy", "scripts", "tests/slurm"):
        for p in sorted((REPO / d).rglob("*")):
            if p.is_file() and (p.suffix in (".sh", ".sbatch") or
                                p.read_bytes()[:40].startswith(b"#!/usr/bin/env bash")):
                out.append(p)
    return out


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(REPO)))
def test_shellcheck(script):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (Debian package shellcheck)")
    proc = subprocess.run(["shellcheck", "-x", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- run-job.sh against a fake kubectl ----------------------------------------------------------

FAKE_KUBECTL = r'''#!{python}
"""Fake kubectl: records argv, answers from scenario.json; `get job` jsonpath advances a tick."""
import json, os, sys
d = os.environ["FAKE_K8S"]
args = sys.argv[1:]
with open(os.path.join(d, "calls.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\n")
sc = json.load(open(os.path.join(d, "scenario.json")))
tick_file = os.path.join(d, "tick")
tick = int(open(tick_file).read()) if os.path.exists(tick_file) else 0
ticks = sc["ticks"]
cur = ticks[min(tick, len(ticks) - 1)]
if "--namespace" in args:
    i = args.index("--namespace"); del args[i:i + 2]
verb = args[0]
out = lambda s: sys.stdout.write(s)
if verb == "delete":
    out('job.batch "x" deleted\n')
elif verb == "apply":
    out(sc.get("apply", "job.batch/raster2h3") + "\n")
elif verb == "get" and args[1] == "pods":
    if any(a == "wide" for a in args):
        out("PODS-WIDE\n")
    else:
        out("".join(f"{n} {ph} {ix}\n" for n, ph, ix in cur["pods"]))
elif verb == "get" and args[1].startswith("job/"):
    jp = [a for a in args if a.startswith("jsonpath=")]
    if jp and jp[0].startswith("jsonpath={.status.succeeded}"):
        if cur.get("api_error"):
            open(tick_file, "w").write(str(tick + 1))
            sys.stderr.write("error: the server is currently unable to handle the request\n")
            sys.exit(1)
        out(cur["job"])
        open(tick_file, "w").write(str(tick + 1))
    elif jp:
        out("failed indexes: " + sc.get("failed_indexes", "") + "\n")
    else:
        out("JOB-WIDE\n")
elif verb == "get" and args[1] == "events":
    out("EVENTS\n")
elif verb == "describe":
    out(f"DESCRIBE {args[1]}\n")
elif verb == "logs":
    pod = [a for a in args if a.startswith("pod/")][0]
    if "-f" in args:
        out(f"[{pod}/raster2h3] streamed log of {pod}\n")
    else:
        out(f"TAIL {pod}\n")
else:
    sys.stderr.write(f"fake kubectl: unexpected {args}\n"); sys.exit(99)
'''

FAKE_R2H = '''#!/usr/bin/env bash
echo "$*" >> "$FAKE_K8S/r2h.calls"
exit "${FAKE_VERIFY_RC:-0}"
'''


def write_exe(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fake_k8s(tmp_path):
    """Returns run(scenario, **env) -> (CompletedProcess, kubectl calls, raster2h3 calls)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_exe(bindir / "kubectl", FAKE_KUBECTL.replace("{python}", sys.executable))
    write_exe(bindir / "raster2h3", FAKE_R2H)
    state = tmp_path / "state"

    def run(scenario, timeout=60, **env):
        if state.exists():
            shutil.rmtree(state)
        state.mkdir()
        (state / "scenario.json").write_text(json.dumps(scenario))
        e = dict(os.environ)
        e.update({"PATH": f"{bindir}:{e['PATH']}", "FAKE_K8S": str(state), "POLL": "0.05",
                  "OUTPUT": "s3://bucket/out", "INPUT": "s3://bucket/in.tif"})
        e.update({k: str(v) for k, v in env.items()})
        proc = subprocess.run(["bash", str(RUN_JOB)], capture_output=True, text=True, env=e,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        calls = [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()] \
            if (state / "calls.jsonl").exists() else []
        r2h = (state / "r2h.calls").read_text().splitlines() \
            if (state / "r2h.calls").exists() else []
        return proc, calls, r2h

    return run


def pods(n, phase, start=0):
    return [[f"raster2h3-{i}-x{i}", phase, str(i)] for i in range(start, start + n)]


SUCCESS = {"ticks": [
    {"pods": [], "job": "///"},
    {"pods": pods(3, "Pending"), "job": "//3/"},
    {"pods": pods(3, "Running"), "job": "//3/"},
    {"pods": pods(2, "Succeeded") + pods(1, "Running", 2) + pods(1, "Running", 3),
     "job": "2//2/"},
    {"pods": pods(4, "Succeeded"), "job": "122///Complete=True,"},
]}


def test_run_job_success_follows_all_pods_and_verifies(fake_k8s):
    proc, calls, r2h = fake_k8s(SUCCESS, NAMESPACE="geo", INPUT="s3://bucket/in.tif")
    assert proc.returncode == 0, proc.stderr
    assert calls[0][:3] == ["--namespace", "geo", "delete"]
    assert all(c[:2] == ["--namespace", "geo"] for c in calls)
    verbs = [c[2] for c in calls]
    assert verbs.index("delete") < verbs.index("apply")
    apply = calls[verbs.index("apply")]
    assert apply[3:5] == ["-f", str(JOB_YAML)]
    # Every pod's log is followed once, not only the first pod's.
    followed = sorted(c[4] for c in calls if c[2] == "logs" and "-f" in c)
    assert followed == [f"pod/raster2h3-{i}-x{i}" for i in range(4)]
    for i in range(4):
        assert f"streamed log of pod/raster2h3-{i}-x{i}" in proc.stdout
    assert "batch.kubernetes.io/job-name=raster2h3" in calls[verbs.index("get")]
    assert r2h == ["verify s3://bucket/out --input s3://bucket/in.tif"]
    assert "coverage check passed" in proc.stderr
    assert "DESCRIBE" not in proc.stdout  # no diagnostics on success


def test_run_job_kustomize_dir_uses_apply_k(fake_k8s):
    proc, calls, _ = fake_k8s(SUCCESS, JOB_FILE=K8S)
    assert proc.returncode == 0, proc.stderr
    (apply,) = [c for c in calls if c[0] == "apply"]
    assert apply[1:3] == ["-k", str(K8S)]


def test_run_job_failure_prints_diagnostics(fake_k8s):
    scenario = {"failed_indexes": "7", "ticks": [
        {"pods": pods(2, "Running"), "job": "//2/"},
        {"pods": pods(1, "Succeeded") + [["raster2h3-7-bad", "Failed", "7"]],
         "job": "1/1//FailureTarget=True,Failed=True,"},
    ]}
    proc, calls, r2h = fake_k8s(scenario)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "job/raster2h3 failed" in proc.stderr
    assert "DESCRIBE job/raster2h3" in out and "JOB-WIDE" in out and "EVENTS" in out
    assert "failed indexes: 7" in out
    # The failed pod is described and its log tail shown; succeeded pods are not described.
    assert "DESCRIBE pod/raster2h3-7-bad" in out and "TAIL pod/raster2h3-7-bad" in out
    assert "DESCRIBE pod/raster2h3-0-x0" not in out
    assert r2h == []  # no coverage check for a failed Job


def test_run_job_timeout(fake_k8s):
    scenario = {"ticks": [{"pods": pods(2, "Running"), "job": "//2/"}]}
    proc, calls, r2h = fake_k8s(scenario, TIMEOUT="2s")
    assert proc.returncode == 4, proc.stderr
    assert "timeout after 2s" in proc.stderr
    assert "DESCRIBE job/raster2h3" in proc.stdout
    assert not any(c[0] == "delete" for c in calls[1:])  # the Job is left running
    assert r2h == []


def test_run_job_no_pods(fake_k8s):
    proc, _, _ = fake_k8s({"ticks": [{"pods": [], "job": "///"}]}, POD_WAIT=1)
    assert proc.returncode == 1
    assert "no pods" in proc.stderr and "EVENTS" in proc.stdout


def test_run_job_survives_transient_api_errors(fake_k8s):
    scenario = {"ticks": [{"pods": pods(1, "Running"), "job": "", "api_error": True},
                          {"pods": pods(1, "Running"), "job": "", "api_error": True},
                          {"pods": pods(1, "Succeeded"), "job": "1///Complete=True,"}]}
    proc, _, r2h = fake_k8s(scenario)
    assert proc.returncode == 0, proc.stderr
    assert "kubectl get failed (2 in a row)" in proc.stderr
    assert r2h == ["verify s3://bucket/out --input s3://bucket/in.tif"]


def test_run_job_coverage_failure(fake_k8s):
    proc, _, r2h = fake_k8s(SUCCESS, FAKE_VERIFY_RC=1)
    assert proc.returncode == 3
    assert "coverage check FAILED" in proc.stderr
    assert r2h == ["verify s3://bucket/out --input s3://bucket/in.tif"]


def test_run_job_config_errors_touch_nothing(fake_k8s):
    proc, calls, _ = fake_k8s(SUCCESS, OUTPUT="")
    assert proc.returncode == 2 and "OUTPUT is not set" in proc.stderr


def test_run_job_verify_always_compares_with_the_input(fake_k8s):
    """Without --input, verify cannot tell a partial dataset from a whole one (issue 11 item 5):
    run-job.sh refuses to start without INPUT unless the check is skipped."""
    proc, calls, r2h = fake_k8s(SUCCESS, INPUT="")
    assert proc.returncode == 2 and "INPUT is not set" in proc.stderr, proc.stderr
    assert calls == [] and r2h == []
    proc, _, r2h = fake_k8s(SUCCESS, INPUT="", SKIP_VERIFY="1")
    assert proc.returncode == 0 and r2h == []
    assert calls == []
    proc, calls, _ = fake_k8s(SUCCESS, TIMEOUT="soon")
    assert proc.returncode == 2 and calls == []
    # A JOB_NAME that is not the manifest's name (the seed's k8s-app mismatch) is caught.
    proc, calls, _ = fake_k8s(SUCCESS, JOB_NAME="carbon-job")
    assert proc.returncode == 2 and "does not define job/carbon-job" in proc.stderr
    assert not any(c[0] == "get" for c in calls)
    proc, _, r2h = fake_k8s(SUCCESS, OUTPUT="", SKIP_VERIFY=1)
    assert proc.returncode == 0 and r2h == []


# --- Slurm scripts against fake sbatch/scontrol -------------------------------------------------

FAKE_SLURM_BIN = '''#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$FAKE_SLURM/calls"
case $(basename "$0") in
    sbatch) n=$(($(grep -c '^sbatch' "$FAKE_SLURM/calls") + 100)); echo "$n" ;;
esac
'''

FAKE_CONVERT = '''#!/usr/bin/env bash
printf '%s\\n' "$@" > "$FAKE_SLURM/convert.args"
tmp=""
while [ $# -gt 0 ]; do [ "$1" = --tmpdir ] && tmp=$2; shift; done
[ -d "$tmp" ] && echo "$tmp" > "$FAKE_SLURM/tmpdir"
exit "${FAKE_RC:-0}"
'''


@pytest.fixture
def fake_slurm(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("sbatch", "scontrol"):
        write_exe(bindir / name, FAKE_SLURM_BIN)
    conv = write_exe(bindir / "fake-raster2h3", FAKE_CONVERT)
    state = tmp_path / "slurm"
    state.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    def run(argv, **env):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("SLURM_") and k != "JOB_COMPLETION_INDEX"}
        e.update({"PATH": f"{bindir}:{e['PATH']}", "FAKE_SLURM": str(state),
                  "R2H_BIN": str(conv), "SLURM_TMPDIR": str(scratch)})
        e.update({k: str(v) for k, v in env.items()})
        proc = subprocess.run(argv, capture_output=True, text=True, env=e, timeout=60,
                              cwd=tmp_path, stdin=subprocess.DEVNULL)
        calls = (state / "calls").read_text().splitlines() if (state / "calls").exists() else []
        return proc, calls

    run.state = state
    run.scratch = scratch
    return run


def test_sbatch_task_runs_its_work_unit(fake_slurm):
    proc, calls = fake_slurm(["bash", str(SLURM / "raster2h3-array.sbatch"), "in.tif", "out",
                              "--resolution", "9"],
                             SLURM_ARRAY_TASK_ID="17", SLURM_ARRAY_JOB_ID="55", SLURM_JOB_ID="72",
                             SLURM_CPUS_PER_TASK="2", R2H_MEMORY="2G", JOB_COMPLETION_INDEX="3")
    assert proc.returncode == 0, proc.stderr
    args = (fake_slurm.state / "convert.args").read_text().split("\n")[:-1]
    assert args[:3] == ["convert", "in.tif", "out"]
    assert args[args.index("--i") + 1] == "17"
    assert args[args.index("--memory") + 1] == "2G"
    assert args[args.index("--threads") + 1] == "2"
    assert args[-2:] == ["--resolution", "9"]
    tmpdir = Path((fake_slurm.state / "tmpdir").read_text().strip())
    assert tmpdir.parent == fake_slurm.scratch and "55_17" in tmpdir.name
    assert not tmpdir.exists()  # removed at exit
    assert calls == []


@pytest.mark.parametrize("task", ["", "abc", "7x", "-1", "122", "1e2"])
def test_sbatch_rejects_malformed_task_id(fake_slurm, task):
    env = {"SLURM_JOB_ID": "9"}
    if task:
        env["SLURM_ARRAY_TASK_ID"] = task
    proc, _ = fake_slurm(["bash", str(SLURM / "raster2h3-array.sbatch"), "in.tif", "out"], **env)
    assert proc.returncode == 2
    assert "SLURM_ARRAY_TASK_ID must be 0..121" in proc.stderr
    assert not (fake_slurm.state / "convert.args").exists()


@pytest.mark.parametrize("restarts,want_rc,requeued", [("0", 0, True), ("2", 0, True),
                                                      ("3", 75, False)])
def test_sbatch_requeues_on_exit_75(fake_slurm, restarts, want_rc, requeued):
    proc, calls = fake_slurm(["bash", str(SLURM / "raster2h3-array.sbatch"), "in.tif", "out"],
                             SLURM_ARRAY_TASK_ID="4", SLURM_ARRAY_JOB_ID="55", SLURM_JOB_ID="60",
                             SLURM_RESTART_COUNT=restarts, FAKE_RC="75")
    assert proc.returncode == want_rc, proc.stderr
    assert (calls == ["scontrol requeue 55_4"]) == requeued


@pytest.mark.parametrize("rc", [2, 3, 4, 1])
def test_sbatch_does_not_requeue_other_failures(fake_slurm, rc):
    proc, calls = fake_slurm(["bash", str(SLURM / "raster2h3-array.sbatch"), "in.tif", "out"],
                             SLURM_ARRAY_TASK_ID="4", SLURM_JOB_ID="60", FAKE_RC=str(rc))
    assert proc.returncode == rc
    assert calls == []


@pytest.mark.parametrize("memory,mem", [("1G", "1536M"), ("4G", "6144M"), ("256M", "512M")])
def test_submit_sizes_mem_and_chains_verify(fake_slurm, memory, mem):
    proc, calls = fake_slurm(["bash", str(SLURM / "submit.sh"), "in.tif", "s3://b/out",
                              "--resolution", "8"], R2H_MEMORY=memory, R2H_VERIFY_INPUT="in.tif")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["array=101", "verify=102"]
    array, verify = calls
    assert f"--mem={mem}" in array and "--array=0-121" in array and "--cpus-per-task=2" in array
    assert array.endswith("raster2h3-array.sbatch in.tif s3://b/out --resolution 8")
    assert "--dependency=afterok:101" in verify and "--kill-on-invalid-dep=yes" in verify
    assert verify.endswith("raster2h3-verify.sbatch s3://b/out in.tif")


def test_submit_verify_compares_with_the_input_by_default(fake_slurm):
    proc, calls = fake_slurm(["bash", str(SLURM / "submit.sh"), "in.tif", "s3://b/out"])
    assert proc.returncode == 0, proc.stderr
    assert calls[1].endswith("raster2h3-verify.sbatch s3://b/out in.tif")
    proc, _ = fake_slurm(["bash", str(SLURM / "raster2h3-verify.sbatch"), "s3://b/out"])
    assert proc.returncode == 2 and "INPUT" in proc.stderr


def test_submit_rejects_bad_budget(fake_slurm):
    proc, calls = fake_slurm(["bash", str(SLURM / "submit.sh"), "in", "out"], R2H_MEMORY="lots")
    assert proc.returncode == 2 and calls == []


def test_sbatch_array_header():
    text = (SLURM / "raster2h3-array.sbatch").read_text()
    assert "#SBATCH --array=0-121" in text
    assert '--i "$task"' in text and "SLURM_ARRAY_TASK_ID" in text
    assert "#SBATCH --requeue" in text


# --- Dockerfile ---------------------------------------------------------------------------------

def test_dockerfile_runtime_has_the_binarys_libraries():
    """Every NEEDED library of the built binary comes from a package the runtime stage installs."""
    text = (REPO / "Dockerfile").read_text()
    assert "bash scripts/setup.sh" in text and "make build" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert 'ENTRYPOINT ["raster2h3"]' in text
    runtime = text[text.index("AS runtime"):]
    m = re.search(r"apt-get install -y --no-install-recommends \\\s*\n\s*([^\n&]+)", runtime)
    pkgs = set(m.group(1).split())
    if not BINARY.exists() or shutil.which("readelf") is None or shutil.which("dpkg") is None:
        pytest.skip("needs build/raster2h3, readelf and dpkg")
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", subprocess.run(
        ["readelf", "-d", str(BINARY)], capture_output=True, text=True, check=True).stdout)
    assert needed
    for lib in needed:
        if lib.startswith(("libc.so", "libm.so")):
            continue  # libc6 is in every Debian image
        path = subprocess.run(["sh", "-c", f"ldconfig -p | awk '$1==\"{lib}\"{{print $NF; exit}}'"],
                              capture_output=True, text=True).stdout.strip()
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True,
                               text=True).stdout.split(":")[0]
        assert owner in pkgs, f"{lib} ({owner}) not installed in the runtime stage: {pkgs}"


def test_dockerignore_keeps_the_sources():
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for needed in ("src", "include", "scripts", "CMakeLists.txt", "Makefile",
                   "requirements-dev.txt", "raster2h3.pc.in", "tests"):
        assert needed not in ignored
    for heavy in (".git", "build", ".deps", ".venv"):
        assert heavy in ignored


# --- real Slurm ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_slurm_array_end_to_end(tmp_path):
    """All 122 tasks on a real single-node Slurm, union == whole-raster convert, then verify.

    Needs tests/slurm/start-slurm.sh to have run (CI sets R2H_SLURM=1 afterwards).
    """
    if os.environ.get("R2H_SLURM") != "1":
        pytest.skip("set R2H_SLURM=1 after tests/slurm/start-slurm.sh to run the real Slurm test")
    if not BINARY.exists():
        pytest.fail(f"CLI not built: {BINARY}")
    work = Path("/tmp") / f"r2h-slurm-pytest-{os.getpid()}"  # reachable by the Slurm tasks
    env = dict(os.environ, R2H_BIN=str(BINARY), WORK=str(work), PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(REPO / "tests" / "slurm" / "run-array-test.sh")],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "slurm-test: PASS" in proc.stderr
    shutil.rmtree(work, ignore_errors=True)
