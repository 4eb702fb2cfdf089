"""test_integrity.py - dataset integrity (issue 11 items 1, 4, 5, 9, 10, 14a).

Every defect here once gave a dataset that readers see as whole while it is not, or made verify
and resume disagree with the readers: partitions of another input left by work units, stray files
in a partition, a partial dataset without (or with an unfinished) manifest, files raster2h3 did
not write, orphaned temporaries and spill directories, and verify/resume ignoring what the footers
record. Cells come from h3-py, values are read back with pyarrow and DuckDB.
"""
import fcntl
import json
import os
import shutil
from pathlib import Path

import h3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rasters

RES = "3"


@pytest.fixture(scope="module")
def rasters_ab(tmp_path_factory):
    """A: the world at 1 degree (many base cells); B: a small patch (few base cells)."""
    d = tmp_path_factory.mktemp("ab")
    rng = np.random.default_rng(7)
    a = rng.integers(0, 1000, (180, 360), dtype=np.uint16)
    a[rng.random(a.shape) < 0.2] = 65535
    ra = rasters.write_raster(d / "a.tif", a, (-180.0, 1.0, 0.0, 90.0, 0.0, -1.0), 4326,
                              nodata=65535)
    b = rng.integers(0, 1000, (40, 40), dtype=np.uint16)
    rb = rasters.write_raster(d / "b.tif", b, (10.0, 0.25, 0.0, 50.0, 0.0, -0.25), 4326)
    return ra, rb


def base_cells_of(path):
    """Base cells (h3-py) of the valid pixel centres of a north-up EPSG:4326 raster."""
    from osgeo import gdal
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    gt = ds.GetGeoTransform()
    nd = band.GetNoDataValue()
    vals = np.frombuffer(band.ReadRaster(), dtype=np.uint16).reshape(ds.RasterYSize,
                                                                      ds.RasterXSize)
    out = set()
    for y, x in zip(*np.nonzero(vals != nd if nd is not None else np.ones_like(vals, bool))):
        lat, lng = gt[3] + (y + 0.5) * gt[5], gt[0] + (x + 0.5) * gt[1]
        out.add(h3.get_base_cell_number(h3.latlng_to_cell(lat, lng, int(RES))))
    return out


def partitions(out):
    return {h3.get_base_cell_number(p.name[3:]) for p in Path(out).glob("h0=*")}


def convert(run_cli, src, out, *args):
    p = run_cli("convert", src, out, "--resolution", RES, "--quiet", *args)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture
def ds_a(run_cli, rasters_ab, tmp_path):
    out = tmp_path / "ds"
    convert(run_cli, rasters_ab[0], out)
    return out


# --- item 1: work units of another input ----------------------------------------------------

def test_work_units_of_another_input_remove_the_old_partitions(run_cli, rasters_ab, tmp_path):
    ra, rb = rasters_ab
    out = tmp_path / "wu"
    cells_a, cells_b = base_cells_of(ra), base_cells_of(rb)
    assert cells_b < cells_a and len(cells_a - cells_b) >= 4
    for bc in sorted(cells_a):
        convert(run_cli, ra, out, "--i", bc)
    assert partitions(out) == cells_a
    for bc in sorted(cells_a):  # every work unit that could hold a stale partition of A
        convert(run_cli, rb, out, "--i", bc)
    assert partitions(out) == cells_b
    for f in Path(out).rglob("data_0.parquet"):
        assert pq.read_metadata(f).metadata[b"raster2h3:source"].decode() == str(rb)
    p = run_cli("verify", out, "--input", rb)
    assert p.returncode == 0, p.stderr


def test_verify_and_info_name_partitions_of_another_input(run_cli, rasters_ab, ds_a):
    ra, rb = rasters_ab
    bc = min(base_cells_of(rb))
    convert(run_cli, rb, ds_a, "--i", bc)  # one partition of B among A's
    name = next(p.name for p in ds_a.glob("h0=*") if h3.get_base_cell_number(p.name[3:]) == bc)
    p = run_cli("verify", ds_a)
    assert p.returncode == 6
    lines = [ln for ln in p.stderr.splitlines() if "fingerprint" in ln]
    assert len(lines) == 1, p.stderr
    assert name in lines[0] and str(rb) in lines[0] and str(ra) in lines[0], lines[0]
    p = run_cli("info", ds_a)
    assert p.returncode == 0
    assert "mixed" in p.stdout and str(ra) in p.stdout and str(rb) in p.stdout, p.stdout
    info = json.loads(run_cli("info", ds_a, "--json").stdout)
    assert info["fingerprints"] == 2 and sorted(info["sources"]) == sorted([str(ra), str(rb)])


# --- item 4: stray files ----------------------------------------------------------------------

def test_stray_copy_in_a_partition_is_flagged_and_replaced(run_cli, rasters_ab, ds_a):
    ra = rasters_ab[0]
    part = sorted(ds_a.glob("h0=*"))[3]
    shutil.copy(part / "data_0.parquet", part / "data_1.parquet")
    # the readers double the partition ...
    import duckdb
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{ds_a}/*/*.parquet')").fetchall()[0][0]
    assert n > sum(pq.read_metadata(f).num_rows for f in ds_a.rglob("data_0.parquet"))
    # ... so verify must say so, and a rerun must not call the dataset complete
    p = run_cli("verify", ds_a, "--input", ra)
    assert p.returncode == 6 and f"{part.name}/data_1.parquet" in p.stderr, p.stderr
    p = run_cli("convert", ra, ds_a, "--resolution", RES)
    assert p.returncode == 0 and "nothing to do" not in p.stderr, p.stderr
    assert not (part / "data_1.parquet").exists()
    assert run_cli("verify", ds_a, "--input", ra).returncode == 0


def test_work_unit_with_a_stray_is_not_complete(run_cli, rasters_ab, tmp_path):
    ra = rasters_ab[0]
    bc = min(base_cells_of(ra))
    out = tmp_path / "wu"
    convert(run_cli, ra, out, "--i", bc)
    part = next(out.glob("h0=*"))
    shutil.copy(part / "data_0.parquet", part / "data_1.parquet")
    p = run_cli("convert", ra, out, "--resolution", RES, "--i", bc)
    assert p.returncode == 0 and "nothing to do" not in p.stderr, p.stderr
    assert "stray file" in p.stderr and sorted(f.name for f in part.iterdir()) == ["data_0.parquet"]
    assert run_cli("verify", out, "--input", ra, "--i", bc).returncode == 0


def test_stray_of_another_resolution_is_flagged(run_cli, rasters_ab, ds_a, tmp_path):
    ra = rasters_ab[0]
    other = tmp_path / "r2"
    p = run_cli("convert", ra, other, "--resolution", "2", "--quiet")
    assert p.returncode == 0
    part = sorted(ds_a.glob("h0=*"))[0]
    shutil.copy(other / part.name / "data_0.parquet", part / "part-r2.parquet")
    p = run_cli("verify", ds_a)
    assert p.returncode == 6 and f"{part.name}/part-r2.parquet" in p.stderr, p.stderr
    p = run_cli("convert", ra, ds_a, "--resolution", RES, "--dry-run")
    assert p.returncode == 0 and "nothing to do" not in p.stdout, p.stdout


def test_stray_file_at_the_root_is_flagged(run_cli, ds_a):
    (ds_a / "extra.parquet").write_bytes((sorted(ds_a.glob("h0=*"))[0] / "data_0.parquet")
                                         .read_bytes())
    (ds_a / "_notes.json").write_text("{}")  # only _manifest.json belongs there
    p = run_cli("verify", ds_a)
    assert p.returncode == 6 and "extra.parquet" in p.stderr, p.stderr
    assert "_notes.json" in p.stderr and "_manifest.json" not in p.stderr, p.stderr


# --- item 9: files raster2h3 did not write -------------------------------------------------------

def foreign_file(path, bc_name):
    pq.write_table(pa.table({"value": pa.array([1], pa.uint16()),
                             "h3": pa.array([int(bc_name[3:], 16)], pa.uint64())}), path)


@pytest.mark.parametrize("where", ["data_0", "stray", "unused"])
def test_files_not_written_by_raster2h3_are_refused(run_cli, rasters_ab, ds_a, where):
    ra, rb = rasters_ab
    cells_b = base_cells_of(rb)
    parts = sorted(ds_a.glob("h0=*"))
    if where == "unused":  # a partition the new input does not produce: would be removed
        part = next(p for p in parts if h3.get_base_cell_number(p.name[3:]) not in cells_b)
        victim = part / "data_0.parquet"
    else:
        part = next(p for p in parts if h3.get_base_cell_number(p.name[3:]) in cells_b)
        victim = part / ("data_0.parquet" if where == "data_0" else "mine.parquet")
    foreign_file(victim, part.name)
    before = victim.read_bytes()
    p = run_cli("convert", rb, ds_a, "--resolution", RES, "--quiet")
    assert p.returncode == 4, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("raster2h3: "), p.stderr
    assert str(victim) in lines[0] and "not written by raster2h3" in lines[0], lines[0]
    assert "--overwrite" in lines[0]
    assert victim.read_bytes() == before
    p = run_cli("convert", rb, ds_a, "--resolution", RES, "--quiet", "--overwrite")
    assert p.returncode == 0, p.stderr
    assert run_cli("verify", ds_a, "--input", rb).returncode == 0


def test_work_unit_refuses_a_foreign_partition(run_cli, rasters_ab, tmp_path):
    ra = rasters_ab[0]
    bc = min(base_cells_of(ra))
    out = tmp_path / "wu"
    convert(run_cli, ra, out, "--i", bc)
    f = next(out.glob("h0=*")) / "data_0.parquet"
    foreign_file(f, f.parent.name)
    p = run_cli("convert", ra, out, "--resolution", RES, "--i", bc, "--quiet")
    assert p.returncode == 4 and "not written by raster2h3" in p.stderr, p.stderr


# --- item 5: completeness without a manifest -------------------------------------------------

def test_partial_dataset_without_manifest_is_not_reported_whole(run_cli, rasters_ab, ds_a):
    ra = rasters_ab[0]
    (ds_a / "_manifest.json").unlink()
    shutil.rmtree(sorted(ds_a.glob("h0=*"))[2])
    p = run_cli("verify", ds_a)
    assert p.returncode == 6 and "no _manifest.json" in p.stderr and "--input" in p.stderr
    p = run_cli("verify", ds_a, "--write-manifest")
    assert p.returncode == 2 and "--input" in p.stderr
    assert not (ds_a / "_manifest.json").exists()
    p = run_cli("verify", ds_a, "--input", ra, "--write-manifest")
    assert p.returncode == 6 and not (ds_a / "_manifest.json").exists()
    p = run_cli("verify", ds_a, "--input", ra, "--i", "3", "--write-manifest")
    assert p.returncode == 2


def test_manifest_written_before_partitions_says_incomplete(run_cli, rasters_ab, tmp_path):
    ra = rasters_ab[0]
    out = tmp_path / "inc"
    out.mkdir()
    # A plain file where one partition's directory must go: that partition cannot be written.
    bc = max(base_cells_of(ra))
    name = next(f"h0={c}" for c in h3.get_res0_cells() if h3.get_base_cell_number(c) == bc)
    (out / name).write_text("in the way")
    p = run_cli("convert", ra, out, "--resolution", RES, "--quiet", "--threads", "1")
    assert p.returncode == 4, p.stderr
    m = json.loads((out / "_manifest.json").read_text())
    assert m["complete"] is False
    assert name[3:] in {e["h0"] for e in m["partitions"]}
    p = run_cli("verify", out)
    assert p.returncode == 6 and "incomplete" in p.stderr, p.stderr
    (out / name).unlink()
    convert(run_cli, ra, out)
    assert json.loads((out / "_manifest.json").read_text())["complete"] is True
    assert run_cli("verify", out, "--input", ra).returncode == 0
    p = run_cli("convert", ra, out, "--resolution", RES)
    assert p.returncode == 0 and "nothing to do" in p.stderr


# --- item 10: spill directories of dead runs ----------------------------------------------------

def test_dead_runs_spill_dirs_are_removed_live_ones_kept(run_cli, rasters_ab, tmp_path):
    ra = rasters_ab[0]
    tmp = tmp_path / "spill"
    tmp.mkdir()
    dead, live, other = tmp / "raster2h3-dead01", tmp / "raster2h3-live01", tmp / "raster2h3-x"
    for d in (dead, live, other):
        d.mkdir()
        (d / "run-000000").write_bytes(b"x" * 100)
    (dead / "lock").write_text("")
    (live / "lock").write_text("")
    (other / "keep.txt").write_text("not a spill dir of ours: no lock")
    fd = os.open(live / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        convert(run_cli, ra, tmp_path / "o", "--tmpdir", tmp)
    finally:
        os.close(fd)
    assert not dead.exists()
    assert (live / "run-000000").exists() and (other / "keep.txt").exists()
    assert sorted(p.name for p in tmp.iterdir()) == sorted([live.name, other.name])


# --- item 14a: verify and resume read what the footers record ---------------------------------

def test_verify_input_uses_the_recorded_nodata(run_cli, tmp_path):
    data = np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) % 5  # zeros, no band NoData
    r = rasters.write_raster(tmp_path / "z.tif", data, (0.0, 0.5, 0.0, 10.0, 0.0, -0.5), 4326)
    out = tmp_path / "nd"
    convert(run_cli, r, out, "--nodata", "0")
    rows = sum(pq.read_metadata(f).num_rows for f in out.rglob("*.parquet"))
    assert rows == int((data != 0).sum())
    p = run_cli("verify", out, "--input", r)
    assert p.returncode == 0, p.stderr
    p = run_cli("verify", out, "--input", r, "--nodata", "1")  # an explicit one still wins
    assert p.returncode == 6


def test_verify_work_unit_checks_only_its_partition(run_cli, rasters_ab, ds_a):
    ra = rasters_ab[0]
    bc = min(base_cells_of(ra))
    p = run_cli("verify", ds_a, "--i", bc)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = run_cli("verify", ds_a, "--input", ra, "--i", bc)
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_resume_checks_the_partition_key_against_the_directory(run_cli, rasters_ab, ds_a):
    ra = rasters_ab[0]
    a, b = sorted(ds_a.glob("h0=*"))[:2]
    tmp = ds_a / "swap"
    (a / "data_0.parquet").rename(tmp)
    (b / "data_0.parquet").rename(a / "data_0.parquet")
    tmp.rename(b / "data_0.parquet")
    p = run_cli("convert", ra, ds_a, "--resolution", RES)
    assert p.returncode == 0 and "nothing to do" not in p.stderr, p.stderr
    p = run_cli("verify", ds_a, "--input", ra)
    assert p.returncode == 0, p.stderr
    for f in ds_a.rglob("data_0.parquet"):
        assert pq.read_metadata(f).metadata[b"raster2h3:partition"].decode() == \
            f.parent.name[3:]
