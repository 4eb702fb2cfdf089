"""test_resume_verify.py - crash safety, resume and `raster2h3 verify`.

verify must catch each planted defect (missing partition, a row in the wrong partition, a
truncated file, a duplicate pixel); kill -9 at random moments followed by a rerun must give the
same dataset as an uninterrupted run, and verify must pass.
"""
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rasters
from conftest import BINARY, cli_env


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    d = tmp_path_factory.mktemp("grid")
    rng = np.random.default_rng(11)
    data = rng.integers(0, 1000, (180, 360), dtype=np.uint16)
    data[rng.random(data.shape) < 0.2] = 65535
    return rasters.write_raster(d / "g.tif", data, (-180.0, 1.0, 0.0, 90.0, 0.0, -1.0), 4326,
                                nodata=65535)


@pytest.fixture
def dataset(run_cli, grid, tmp_path):
    out = tmp_path / "ds"
    p = run_cli("convert", grid, out, "--resolution", "3", "--quiet")
    assert p.returncode == 0, p.stderr
    return out


def verify(run_cli, out, *args):
    return run_cli("verify", out, *args)


def tables(out):
    return {f.parent.name: pq.read_table(f) for f in sorted(Path(out).rglob("*.parquet"))}


def rewrite(path, table):
    meta = pq.read_metadata(path).metadata
    pq.write_table(table.replace_schema_metadata(meta), path)


def test_verify_passes_on_a_good_dataset(run_cli, dataset, grid):
    p = verify(run_cli, dataset, "--input", grid)
    assert p.returncode == 0, p.stderr
    assert "0 problems" in p.stdout and p.stderr == ""


def test_verify_missing_partition(run_cli, dataset, grid):
    victim = sorted(dataset.glob("h0=*"))[5]
    shutil.rmtree(victim)
    p = verify(run_cli, dataset)
    assert p.returncode == 6 and f"manifest lists {victim.name}" in p.stderr, p.stderr
    p = verify(run_cli, dataset, "--input", grid)
    assert p.returncode == 6 and "valid pixels" in p.stderr


def test_verify_row_in_wrong_partition(run_cli, dataset):
    a, b = sorted(dataset.glob("h0=*"))[:2]
    ta, tb = pq.read_table(a / "data_0.parquet"), pq.read_table(b / "data_0.parquet")
    rewrite(a / "data_0.parquet", pa.concat_tables([ta, tb.slice(0, 1)]))
    p = verify(run_cli, dataset)
    assert p.returncode == 6
    assert f"{a.name}: 1 rows whose cell is not a resolution-3 cell of this partition" in p.stderr


def test_verify_truncated_file(run_cli, dataset):
    f = sorted(dataset.glob("h0=*"))[7] / "data_0.parquet"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    p = verify(run_cli, dataset)
    assert p.returncode == 6 and f"{f.parent.name}: unreadable" in p.stderr, p.stderr


def test_verify_duplicate_pixel(run_cli, dataset, grid):
    f = sorted(dataset.glob("h0=*"))[9] / "data_0.parquet"
    t = pq.read_table(f)
    rewrite(f, pa.concat_tables([t.slice(0, 1), t]))
    p = verify(run_cli, dataset, "--input", grid)
    assert p.returncode == 6
    assert f"{f.parent.name}: {t.num_rows + 1} rows, the input has {t.num_rows}" in p.stderr
    assert "manifest says" in p.stderr


def test_verify_errors(run_cli, tmp_path):
    p = verify(run_cli, tmp_path / "nope")
    assert p.returncode != 0 and p.stderr.startswith("raster2h3: ")
    p = run_cli("verify")
    assert p.returncode == 2


def test_rerun_skips_and_overwrite_redoes(run_cli, dataset, grid):
    p = run_cli("convert", grid, dataset, "--resolution", "3")
    assert p.returncode == 0 and "nothing to do" in p.stderr
    p = run_cli("convert", grid, dataset, "--resolution", "3", "--dry-run")
    assert p.returncode == 0 and p.stdout.strip().endswith("nothing to do")
    before = {f: f.stat().st_mtime_ns for f in dataset.rglob("*.parquet")}
    time.sleep(0.01)
    p = run_cli("convert", grid, dataset, "--resolution", "3", "--overwrite", "--quiet")
    assert p.returncode == 0
    assert all(f.stat().st_mtime_ns != m for f, m in before.items())


def test_other_input_replaces_stale_partitions(run_cli, dataset, tmp_path):
    small = rasters.write_raster(tmp_path / "s.tif", np.full((10, 10), 7, np.uint16),
                                 (10.0, 0.1, 0.0, 50.0, 0.0, -0.1), 4326)
    p = run_cli("convert", small, dataset, "--resolution", "3", "--quiet")
    assert p.returncode == 0, p.stderr
    assert len(list(dataset.glob("h0=*"))) == 1
    assert run_cli("verify", dataset, "--input", small).returncode == 0


def test_work_unit_resume(run_cli, grid, tmp_path):
    out = tmp_path / "wu"
    assert run_cli("convert", grid, out, "--resolution", "3", "--i", "20", "--quiet").returncode == 0
    p = run_cli("convert", grid, out, "--resolution", "3", "--i", "20")
    assert p.returncode == 0 and "nothing to do" in p.stderr
    assert run_cli("verify", out, "--input", grid, "--i", "20").returncode == 0
    assert not (out / "_manifest.json").exists()
    # One work unit's check cannot vouch for the whole dataset (issue 11 item 5).
    p = run_cli("verify", out, "--input", grid, "--i", "20", "--write-manifest")
    assert p.returncode == 2 and not (out / "_manifest.json").exists()


@pytest.mark.slow
def test_kill9_then_resume_matches_uninterrupted(run_cli, tmp_path):
    rng = np.random.default_rng(5)
    data = rng.integers(0, 400, (1400, 2800), dtype=np.uint16)
    data[rng.random(data.shape) < 0.3] = 65535
    r = rasters.write_raster(tmp_path / "k.tif", data, (-180.0, 360 / 2800, 0.0, 90.0, 0.0,
                                                         -180 / 1400), 4326, nodata=65535)
    ref = tmp_path / "ref"
    args = ["--resolution", "4", "--memory", "32M", "--threads", "2"]
    assert run_cli("convert", r, ref, *args, "--quiet").returncode == 0
    t0 = time.time()
    assert run_cli("convert", r, tmp_path / "timing", *args, "--quiet").returncode == 0
    full = time.time() - t0
    out = tmp_path / "out"
    for frac in (0.1, 0.35, 0.6, 0.8, 0.95):
        p = subprocess.Popen([str(BINARY), "convert", r, out, *args, "--quiet"],
                             env=cli_env(), stdin=subprocess.DEVNULL)
        time.sleep(full * frac)
        p.send_signal(signal.SIGKILL)
        p.wait()
        for f in out.rglob("data_0.parquet"):
            pq.read_metadata(f)  # every visible partition file is complete
    p = run_cli("convert", r, out, *args, "--quiet")
    assert p.returncode == 0, p.stderr
    assert not [f for f in out.rglob("*") if f.name.startswith(".")], "leftover temporaries"
    got, want = tables(out), tables(ref)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].equals(want[k]), k
    p = run_cli("verify", out, "--input", r)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("stats", ["count,min,max", "mean", "mean,max"])
def test_resumed_aggregate_manifest_ranges(run_cli, tmp_path, stats):
    """A resumed aggregate run (partitions kept from the files) records the manifest range of
    the first band's values, as a fresh run does: from the <v>_min / <v>_max statistics, not the
    cell column's ids (column 0 of an aggregate file, which an earlier resume took); a range
    the files cannot give is null, and the manifest stays JSON (no inf), also when verify
    --write-manifest rebuilds it."""
    import json
    src = rasters.global_grid(tmp_path / "g.tif", dx=2.0)
    out = tmp_path / "out"
    args = ["convert", src, out, "--quiet", "--resolution", "2", "--aggregate", "--stat", stats]
    assert run_cli(*args).returncode == 0
    fresh = {p["h0"]: p for p in json.loads((out / "_manifest.json").read_text())["partitions"]}
    gone = sorted(out.glob("h0=*"))[0]
    shutil.rmtree(gone)
    (out / "_manifest.json").unlink()
    assert run_cli(*args).returncode == 0
    for manifest in ("resumed", "verified"):
        if manifest == "verified":
            p = run_cli("verify", out, "--input", src, "--write-manifest")
            assert p.returncode == 0, p.stdout + p.stderr
        parts = json.loads((out / "_manifest.json").read_text())["partitions"]
        assert len(parts) == len(fresh)
        for part in parts:
            f = fresh[part["h0"]]
            for key, stat in (("min", "min"), ("max", "max")):
                if stat in stats.split(","):
                    assert part[key] == f[key], (manifest, part["h0"], key)
                elif manifest == "verified" or part["h0"] != gone.name[3:]:
                    assert part[key] is None, (manifest, part["h0"], key)
