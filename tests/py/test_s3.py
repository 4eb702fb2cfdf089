"""test_s3.py - S3 output and input against a real S3 API (moto server on loopback), with
injected failures through a proxy: retries, permanent errors, a server that goes away."""
import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from osgeo import gdal

import rasters
from s3_fixture import SECRET_KEY, S3Server

pytest.importorskip("moto")


@pytest.fixture
def s3(tmp_path):
    server = S3Server(tmp_path)
    server.client.create_bucket(Bucket="bkt")
    yield server
    server.close()


@pytest.fixture(scope="module")
def raster(tmp_path_factory):
    d = tmp_path_factory.mktemp("s3r")
    rng = np.random.default_rng(3)
    data = rng.integers(0, 400, (120, 240), dtype=np.uint16)
    data[rng.random(data.shape) < 0.3] = 65535
    return rasters.write_raster(d / "r.tif", data, (-20.0, 0.25, 0.0, 60.0, 0.0, -0.25), 4326,
                                nodata=65535)


def s3_rows(s3, bucket, key):
    body = s3.client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def local_rows(path):
    return pq.read_table(path)


def test_round_trip_keys_and_content(run_cli, s3, raster, tmp_path):
    local = tmp_path / "local"
    assert run_cli("convert", raster, local, "--resolution", "3", "--quiet").returncode == 0
    p = run_cli("convert", raster, "s3://bkt/data//carbon/", "--resolution", "3", "--quiet",
                env=s3.env())
    assert p.returncode == 0, p.stderr
    keys = s3.keys("bkt")
    assert all("//" not in k for k in keys), keys
    assert "data/carbon/_manifest.json" in keys
    parts = sorted(k for k in keys if k.endswith("data_0.parquet"))
    want = sorted(f"data/carbon/{f.parent.name}/data_0.parquet" for f in local.rglob("*.parquet"))
    assert parts == want
    assert not [k for k in keys if "/." in k], "hidden temporary keys left behind"
    for k in parts:
        remote = s3_rows(s3, "bkt", k)
        mine = local_rows(local / k.split("/", 2)[2])
        assert remote.equals(mine), k


@pytest.mark.parametrize("method", [["--method", "overlay", "--stat", "sum,mean,coverage"],
                                    ["--method", "sample"]])
def test_cell_methods_to_s3_equal_local(run_cli, s3, raster, tmp_path, method):
    """--method overlay and sample write the same files to S3 as locally, and verify there."""
    local = tmp_path / "local"
    assert run_cli("convert", raster, local, "--resolution", "4", "--quiet",
                   *method).returncode == 0
    p = run_cli("convert", raster, "s3://bkt/cells/", "--resolution", "4", "--quiet", *method,
                env=s3.env())
    assert p.returncode == 0, p.stderr
    parts = sorted(k for k in s3.keys("bkt") if k.endswith("data_0.parquet"))
    assert parts and parts == sorted(
        f"cells/{f.parent.name}/data_0.parquet" for f in local.rglob("*.parquet"))
    for k in parts:
        assert s3_rows(s3, "bkt", k).equals(local_rows(local / k.split("/", 1)[1])), k
    p = run_cli("verify", "s3://bkt/cells/", "--input", raster, env=s3.env())
    assert p.returncode == 0, p.stdout + p.stderr


def test_input_from_s3_and_resume(run_cli, s3, raster, tmp_path):
    s3.client.put_object(Bucket="bkt", Key="in/r.tif", Body=Path(raster).read_bytes())
    local = tmp_path / "local"
    assert run_cli("convert", raster, local, "--resolution", "2", "--quiet").returncode == 0
    out = tmp_path / "from-s3"
    p = run_cli("convert", "s3://bkt/in/r.tif", out, "--resolution", "2", "--quiet", env=s3.env())
    assert p.returncode == 0, p.stderr
    for f in local.rglob("*.parquet"):
        assert local_rows(f).equals(local_rows(out / f.relative_to(local)))
    # Rerun to S3 output twice: the second run finds the dataset complete and writes nothing.
    assert run_cli("convert", raster, "s3://bkt/o", "--resolution", "2", "--quiet",
                   env=s3.env()).returncode == 0
    s3.faults.log.clear()
    p = run_cli("convert", raster, "s3://bkt/o", "--resolution", "2", env=s3.env())
    assert p.returncode == 0 and "nothing to do" in p.stderr, p.stderr
    assert not [m for m, _ in s3.faults.log if m in ("PUT", "POST", "DELETE")]


def test_transient_errors_are_retried(run_cli, s3, raster):
    s3.faults.add("PUT", "data_0.parquet", 503, times=2)
    p = run_cli("convert", raster, "s3://bkt/retry", "--resolution", "2", "--quiet",
                env=s3.env())
    assert p.returncode == 0, p.stderr
    assert any(k.endswith("data_0.parquet") for k in s3.keys("bkt", "retry/"))


def test_permanent_error_fails_with_key_and_status(run_cli, s3, raster):
    s3.faults.add("PUT", "", 403)
    p = run_cli("convert", raster, "s3://bkt/denied", "--resolution", "2", "--quiet",
                env=s3.env())
    assert p.returncode == 4, (p.returncode, p.stderr)
    line = p.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("raster2h3: ")
    assert "bkt/denied" in line and "403" in line, line
    assert SECRET_KEY not in p.stderr
    s3.faults.clear()
    assert [k for k in s3.keys("bkt", "denied/") if k.endswith(".parquet")] == []


def test_persistent_503_is_retryable_exit(run_cli, s3, raster):
    s3.faults.add("PUT", "", 503)
    p = run_cli("convert", raster, "s3://bkt/busy", "--resolution", "2", "--quiet",
                env=s3.env())
    assert p.returncode == 75, (p.returncode, p.stderr)
    assert "503" in p.stderr and SECRET_KEY not in p.stderr
    s3.faults.clear()
    assert [k for k in s3.keys("bkt", "busy/") if k.endswith(".parquet")] == []


def test_server_gone_mid_upload(run_cli, s3, raster):
    s3.faults.add("PUT", "data_0.parquet", "drop")
    p = run_cli("convert", raster, "s3://bkt/gone", "--resolution", "2", "--quiet",
                env=s3.env(GDAL_HTTP_MAX_RETRY="1"))
    assert p.returncode in (4, 75), (p.returncode, p.stderr)
    assert p.stderr.startswith("raster2h3: ") and SECRET_KEY not in p.stderr
    s3.faults.clear()
    assert [k for k in s3.keys("bkt", "gone/") if k.endswith(".parquet")] == []


def test_rerun_removes_orphaned_temporary_keys(run_cli, s3, raster):
    """A killed upload leaves a hidden key (.data_0.parquet.tmp-...); the next run of the owner
    removes it, as local reruns remove their temporaries (issue 11 item 10)."""
    p = run_cli("convert", raster, "s3://bkt/orph", "--resolution", "2", "--quiet", env=s3.env())
    assert p.returncode == 0, p.stderr
    part = next(k for k in s3.keys("bkt", "orph/") if k.endswith("/data_0.parquet"))
    orphan = part.replace("data_0.parquet", ".data_0.parquet.tmp-4242-0")
    s3.client.put_object(Bucket="bkt", Key=orphan, Body=b"partial upload")
    p = run_cli("convert", raster, "s3://bkt/orph", "--resolution", "2", env=s3.env())
    assert p.returncode == 0 and "nothing to do" in p.stderr, p.stderr
    assert orphan not in s3.keys("bkt", "orph/")
    assert part in s3.keys("bkt", "orph/")


# ---------------------------------------------------------------------------------------------
# Input errors (issue 11 item 7): transient ones are retryable (75), only 403/404/corrupt are 3

@pytest.fixture(scope="module")
def big_input(tmp_path_factory):
    """An uncompressed striped raster of ~1.4 MB: GDAL reads it in several range requests."""
    d = tmp_path_factory.mktemp("s3big")
    rng = np.random.default_rng(5)
    data = rng.integers(0, 400, (600, 1200), dtype=np.uint16)
    return rasters.write_raster(d / "big.tif", data, (-20.0, 0.05, 0.0, 60.0, 0.0, -0.05), 4326,
                                nodata=65535)


def put_input(s3, path, key="in/r.tif"):
    s3.client.put_object(Bucket="bkt", Key=key, Body=Path(path).read_bytes())
    return f"s3://bkt/{key}"


def assert_one_line(p):
    assert p.stderr.startswith("raster2h3: ") and p.stderr.count("\n") == 1, p.stderr
    assert SECRET_KEY not in p.stderr


def test_input_connection_refused_is_retryable(run_cli, s3, raster, tmp_path):
    from s3_fixture import free_port
    url = put_input(s3, raster)
    p = run_cli("convert", url, tmp_path / "o", "--resolution", "2", "--quiet",
                env=s3.env(AWS_S3_ENDPOINT=f"127.0.0.1:{free_port()}", GDAL_HTTP_MAX_RETRY="1"))
    assert p.returncode == 75, (p.returncode, p.stderr)
    assert_one_line(p)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").rglob("*.parquet"))


def test_input_persistent_503_is_retryable(run_cli, s3, raster, tmp_path):
    url = put_input(s3, raster)
    s3.faults.add("*", "in/r.tif", 503)
    p = run_cli("convert", url, tmp_path / "o", "--resolution", "2", "--quiet", env=s3.env())
    assert p.returncode == 75, (p.returncode, p.stderr)
    assert_one_line(p)
    assert "503" in p.stderr


@pytest.mark.parametrize("action", [503, "drop"], ids=["503", "server-gone"])
def test_input_failure_mid_read_is_retryable(run_cli, s3, big_input, tmp_path, action):
    url = put_input(s3, big_input)
    ok = run_cli("convert", url, tmp_path / "ok", "--resolution", "3", "--quiet", "--threads", "1",
                 env=s3.env())
    assert ok.returncode == 0, ok.stderr
    gets = [m for m, path in s3.faults.log if m == "GET" and "in/r.tif" in path]
    assert len(gets) >= 3, f"the read must take several requests, took {len(gets)}"
    s3.faults.log.clear()
    s3.faults.add("GET", "in/r.tif", action, after=2)
    p = run_cli("convert", url, tmp_path / "o", "--resolution", "3", "--quiet", "--threads", "1",
                env=s3.env(GDAL_HTTP_MAX_RETRY="1"))
    assert p.returncode == 75, (p.returncode, p.stderr)
    assert_one_line(p)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").rglob("*.parquet"))


@pytest.mark.parametrize("status", [403, 404])
def test_input_denied_or_missing_is_bad_input(run_cli, s3, raster, tmp_path, status):
    url = put_input(s3, raster)
    s3.faults.add("*", "in/r.tif", status)
    p = run_cli("convert", url, tmp_path / "o", "--resolution", "2", "--quiet", env=s3.env())
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert_one_line(p)
    assert "in/r.tif" in p.stderr


def test_input_missing_key_is_bad_input(run_cli, s3, tmp_path):
    p = run_cli("convert", "s3://bkt/in/none.tif", tmp_path / "o", "--resolution", "2",
                "--quiet", env=s3.env())
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert_one_line(p)


@pytest.fixture
def s3_dataset(run_cli, s3, raster):
    p = run_cli("convert", raster, "s3://bkt/ds", "--resolution", "2", "--quiet", env=s3.env())
    assert p.returncode == 0, p.stderr
    assert run_cli("verify", "s3://bkt/ds", env=s3.env()).returncode == 0
    return "s3://bkt/ds"


@pytest.mark.parametrize("fault,code", [(503, 75), ("unreachable", 75), (403, 4)])
def test_verify_cannot_read_is_not_a_finding(run_cli, s3, s3_dataset, fault, code):
    """verify that cannot read the dataset is an error (75 or 4), not 'problems found' (6)."""
    from s3_fixture import free_port
    env = s3.env(GDAL_HTTP_MAX_RETRY="1")
    if fault == "unreachable":
        env = s3.env(AWS_S3_ENDPOINT=f"127.0.0.1:{free_port()}", GDAL_HTTP_MAX_RETRY="1")
    else:
        s3.faults.add("*", "ds", fault)
    p = run_cli("verify", s3_dataset, env=env)
    assert p.returncode == code, (p.returncode, p.stderr, p.stdout)
    assert p.stderr.startswith("raster2h3: ") and SECRET_KEY not in p.stderr


def test_verify_partition_read_503_is_not_a_finding(run_cli, s3, s3_dataset):
    s3.faults.add("GET", "data_0.parquet", 503)
    p = run_cli("verify", s3_dataset, env=s3.env(GDAL_HTTP_MAX_RETRY="1"))
    assert p.returncode == 75, (p.returncode, p.stderr, p.stdout)


def test_temporary_keys_unique_across_hosts(s3, raster, tmp_path):
    """Two runs whose process is pid 1 (as in every container) must not share temporary keys:
    each run deletes only its own, so two writers never destroy each other's uploads."""
    import re
    import shutil
    import subprocess
    from conftest import BINARY, cli_env
    unshare = shutil.which("unshare")
    if not unshare or subprocess.run([unshare, "--fork", "--pid", "true"]).returncode != 0:
        pytest.skip("cannot start a process in a new pid namespace here")
    keys = []
    for n in range(2):
        s3.faults.log.clear()
        p = subprocess.run([unshare, "--fork", "--pid", str(BINARY), "convert", str(raster),
                            "s3://bkt/twice", "--resolution", "2", "--quiet", "--overwrite"],
                           capture_output=True, text=True, env=cli_env(s3.env()), timeout=120)
        assert p.returncode == 0, p.stderr
        tmp = {re.sub(r"\?.*", "", path) for m, path in s3.faults.log if ".tmp-" in path}
        assert tmp and all("/.data_0.parquet.tmp-1-" in t for t in tmp if "data_0" in t), tmp
        keys.append(tmp)
    assert not keys[0] & keys[1], f"temporary keys repeated across runs: {keys[0] & keys[1]}"


def test_rasterize_from_s3_equals_local(run_cli, s3, raster, tmp_path):
    """rasterize reads a dataset on S3 (listing and partitions through the io layer) into the
    same GeoTIFF pixels as from the local copy."""
    local = tmp_path / "local"
    assert run_cli("convert", raster, local, "--resolution", "4", "--quiet").returncode == 0
    p = run_cli("convert", raster, "s3://bkt/rz/", "--resolution", "4", "--quiet", env=s3.env())
    assert p.returncode == 0, p.stderr
    outs = []
    for ds in (local, "s3://bkt/rz"):
        out = tmp_path / f"r{len(outs)}.tif"
        p = run_cli("rasterize", ds, out, "--like", raster, "--reduce", "mean", env=s3.env())
        assert p.returncode == 0, p.stderr
        g = gdal.Open(str(out))
        outs.append(g.GetRasterBand(1).ReadRaster())
        g = None
    assert outs[0] == outs[1] and len(set(outs[0])) > 10
