"""test_s3.py - S3 output and input against a real S3 API (moto server on loopback), with
injected failures through a proxy: retries, permanent errors, a server that goes away."""
import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

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
