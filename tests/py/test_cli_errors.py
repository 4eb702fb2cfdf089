"""test_cli_errors.py - the CLI's error contract, help, version, profile and output hygiene.

An error is: non-zero exit (2 for usage errors), exactly one line on stderr starting with
"raster2h3: ", nothing on stdout, and no files (in particular no .parquet) under OUTPUT.
"""
from pathlib import Path

import pytest
from osgeo import gdal

import rasters

gdal.UseExceptions()


def assert_error(proc, out, usage=False):
    assert proc.returncode != 0, f"exit 0; stderr={proc.stderr!r}"
    if usage:
        assert proc.returncode == 2, f"usage error must exit 2, got {proc.returncode}"
    assert proc.stdout == "", f"stdout not empty: {proc.stdout!r}"
    err = proc.stderr
    assert err.startswith("raster2h3: "), f"stderr does not start with 'raster2h3: ': {err!r}"
    assert err.rstrip("\n").count("\n") == 0, f"stderr is not one line: {err!r}"
    assert 0 < proc.returncode < 124, f"exit code {proc.returncode} in the reserved range"
    out = Path(out)
    if out.exists():
        parquet = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
        assert parquet == [], f"partial output left: {parquet}"
        files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        assert files == [], f"files left under OUTPUT after a failure: {files}"


@pytest.fixture
def good_raster(raster_dir):
    data = rasters.random_values("float32", (64, 64), 1)
    return rasters.write_raster(raster_dir / "good.tif", data, (10.0, 0.01, 0.0, 50.0, 0.0, -0.01),
                                4326)


# ---------------------------------------------------------------------------------------------
# Input errors

def test_missing_input(run_cli, tmp_path, out_dir):
    assert_error(run_cli("convert", tmp_path / "nope.tif", out_dir, "--resolution", 5), out_dir)


def test_garbage_input(run_cli, raster_dir, out_dir):
    r = rasters.garbage_file(raster_dir / "garbage.tif")
    assert_error(run_cli("convert", r, out_dir, "--resolution", 5), out_dir)


def test_text_file_input(run_cli, raster_dir, out_dir):
    p = raster_dir / "notes.tif"
    p.write_text("this is not a raster\n")
    assert_error(run_cli("convert", p, out_dir, "--resolution", 5), out_dir)


@pytest.mark.parametrize("keep", [200, 0.6], ids=["header-cut", "data-cut"])
def test_truncated_tiff(run_cli, raster_dir, out_dir, keep):
    """Cut inside the pixel data the file still opens; the failure comes mid-read, after
    rows may already be buffered: no partition may be left behind."""
    r = rasters.truncated_tiff(raster_dir / "trunc.tif", raster_dir / "full.tif", keep=keep)
    assert_error(run_cli("convert", r, out_dir, "--resolution", 5), out_dir)


def test_truncated_tiff_opens_in_gdal(raster_dir):
    """Guard for test_truncated_tiff[data-cut]: it must exercise a mid-read failure."""
    r = rasters.truncated_tiff(raster_dir / "trunc.tif", raster_dir / "full.tif", keep=0.6)
    ds = gdal.Open(r)
    assert ds is not None and ds.RasterXSize == 1024
    b = ds.GetRasterBand(1)
    b.ReadRaster(0, 0, 1024, 10)  # the first strips are intact
    with pytest.raises(RuntimeError):
        b.ReadRaster(0, 0, 1024, 1024)


@pytest.mark.parametrize("band", ["2", "0", "-1"])
def test_band_out_of_range(run_cli, good_raster, out_dir, band):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 5, "--band", band)
    assert_error(proc, out_dir)


def test_band_not_a_number(run_cli, good_raster, out_dir):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 5, "--band", "one")
    assert_error(proc, out_dir, usage=True)


def test_no_geotransform(run_cli, raster_dir, out_dir):
    data = rasters.random_values("uint8", (16, 16), 2)
    r = rasters.write_raster(raster_dir / "nogt.tif", data, gt=None, crs=4326)
    assert gdal.Open(r).GetGeoTransform(can_return_null=True) is None
    assert_error(run_cli("convert", r, out_dir, "--resolution", 5), out_dir)


LOCAL_CS = 'LOCAL_CS["engineering grid",UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]'


def test_local_crs(run_cli, raster_dir, out_dir):
    data = rasters.random_values("uint8", (16, 16), 3)
    r = rasters.write_raster(raster_dir / "local.tif", data, (0.0, 1.0, 0.0, 16.0, 0.0, -1.0),
                             crs=LOCAL_CS)
    ds = gdal.Open(r)
    srs = ds.GetSpatialRef()
    assert srs is not None and srs.IsLocal(), "test raster must carry a LOCAL_CS"
    ds = None
    assert_error(run_cli("convert", r, out_dir, "--resolution", 5), out_dir)


# ---------------------------------------------------------------------------------------------
# Usage errors (exit 2)

@pytest.mark.parametrize("value", ["122", "-1", "abc", "", "3x", "1e1", "999999999999999999999"])
def test_bad_work_unit_flag(run_cli, good_raster, out_dir, value):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 5, "--i", value)
    assert_error(proc, out_dir, usage=True)


@pytest.mark.parametrize("value", ["122", "-1", "abc", "3x", "2.0"])
def test_bad_job_completion_index(run_cli, good_raster, out_dir, value):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 5,
                   env={"JOB_COMPLETION_INDEX": value})
    assert_error(proc, out_dir, usage=True)


@pytest.mark.parametrize("value", ["16", "-1", "x"])
def test_bad_resolution(run_cli, good_raster, out_dir, value):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", value)
    assert_error(proc, out_dir, usage=True)


def test_unknown_flag(run_cli, good_raster, out_dir):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 5, "--frobnicate")
    assert_error(proc, out_dir, usage=True)


def test_missing_output_argument(run_cli, good_raster, tmp_path):
    assert_error(run_cli("convert", good_raster), tmp_path / "none", usage=True)


def test_unknown_command(run_cli, tmp_path):
    assert_error(run_cli("transmogrify"), tmp_path / "none", usage=True)


# ---------------------------------------------------------------------------------------------
# Output errors

def test_output_under_regular_file(run_cli, good_raster, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "out"
    assert_error(run_cli("convert", good_raster, out, "--resolution", 5), out)
    assert blocker.read_text() == "x"


# ---------------------------------------------------------------------------------------------
# Help, version, profile, quiet, stdout hygiene

def test_help(run_cli):
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "convert" in proc.stdout and "--resolution" in proc.stdout
    assert proc.stderr == ""


def test_version(run_cli):
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert "4.5.0" in proc.stdout, proc.stdout
    assert gdal.__version__ in proc.stdout, f"GDAL {gdal.__version__} not in {proc.stdout!r}"
    assert "raster2h3" in proc.stdout


def test_profile(run_cli, good_raster, out_dir):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 6, "--profile")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "peak RSS" in proc.stderr
    assert list(out_dir.rglob("data_0.parquet"))


def test_quiet_success_is_silent(run_cli, good_raster, out_dir):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 6, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_stdout_clean_without_quiet(run_cli, good_raster, out_dir):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 6)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


# ---------------------------------------------------------------------------------------------
# --bands

@pytest.fixture
def six_bands(raster_dir):
    data = rasters.random_values("uint8", (20, 20), 2)
    return rasters.write_raster(raster_dir / "six.tif", data, (10.0, 0.01, 0.0, 50.0, 0.0, -0.01),
                                4326, extra_bands=[data] * 5)


@pytest.mark.parametrize("bands", ["", "x", "0", "-1", "1,", ",1", "1,,2", "1.5", "1,1", "2,3,2",
                                   " 1", "+1"])
def test_bad_bands_list(run_cli, six_bands, out_dir, bands):
    proc = run_cli("convert", six_bands, out_dir, "--resolution", 5, "--bands", bands)
    assert_error(proc, out_dir, usage=True)
    assert "--bands" in proc.stderr


def test_band_does_not_exist(run_cli, six_bands, out_dir):
    proc = run_cli("convert", six_bands, out_dir, "--resolution", 5, "--bands", "1,7")
    assert_error(proc, out_dir)
    assert proc.returncode == 3
    assert f"--bands: band 7 does not exist, {six_bands} has 6 bands" in proc.stderr


def test_band_and_bands_together(run_cli, six_bands, out_dir):
    proc = run_cli("convert", six_bands, out_dir, "--resolution", 5, "--band", "1", "--bands",
                   "1,2")
    assert_error(proc, out_dir, usage=True)


@pytest.mark.parametrize("names", ["a,b", "a,b,c,d", "a,,c", "a,b,a", "h5,b,c"])
def test_bad_value_name_list(run_cli, six_bands, out_dir, names):
    proc = run_cli("convert", six_bands, out_dir, "--resolution", 5, "--bands", "1,2,3",
                   "--value-name", names)
    assert_error(proc, out_dir, usage=True)


def test_too_many_bits(run_cli, raster_dir, out_dir):
    data = rasters.random_values("uint8", (20, 20), 3)
    r = rasters.write_raster(raster_dir / "nine.tif", data, (10.0, 0.01, 0.0, 50.0, 0.0, -0.01),
                             4326, extra_bands=[data] * 8)
    proc = run_cli("convert", r, out_dir, "--resolution", 5, "--bands", "all")
    assert_error(proc, out_dir, usage=True)
    assert "--bands: 9 uint8 bands need 72 bits per pixel; at most 64 bits" in proc.stderr
    f = rasters.random_values("float32", (20, 20), 3)
    r = rasters.write_raster(raster_dir / "f3.tif", f, (10.0, 0.01, 0.0, 50.0, 0.0, -0.01),
                             4326, extra_bands=[f] * 2)
    proc = run_cli("convert", r, out_dir, "--resolution", 5, "--bands", "1,2,3")
    assert_error(proc, out_dir, usage=True)
    assert "96 bits" in proc.stderr
    proc = run_cli("convert", r, out_dir, "--resolution", 5, "--bands", "1,2", "--quiet")
    assert proc.returncode == 0, proc.stderr


def test_aggregate_with_several_bands(run_cli, six_bands, out_dir):
    proc = run_cli("convert", six_bands, out_dir, "--resolution", 5, "--bands", "1,2",
                   "--aggregate")
    assert_error(proc, out_dir, usage=True)
    assert "not supported" in proc.stderr


def test_verify_bad_bands(run_cli, six_bands, out_dir):
    assert_error(run_cli("verify", out_dir, "--bands", "x"), out_dir, usage=True)
    assert_error(run_cli("verify", out_dir, "--band", "1", "--bands", "1,2"), out_dir, usage=True)


def test_empty_srs_refused_by_convert_and_verify(run_cli, good_raster, out_dir):
    """--srs "" names no CRS: both subcommands refuse it with the same usage error."""
    c = run_cli("convert", good_raster, out_dir, "--srs", "")
    v = run_cli("verify", out_dir, "--srs", "")
    assert_error(c, out_dir, usage=True)
    assert_error(v, out_dir, usage=True)
    assert "--srs needs a CRS" in v.stderr and v.stderr == c.stderr, (c.stderr, v.stderr)


# ---------------------------------------------------------------------------------------------
# Issue 11: a column named h0, --memory beyond the machine, job-array index whitespace

def read_dataset_three_ways(out):
    """The dataset read back by pyarrow.dataset, Polars and DuckDB (hive partitioning)."""
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds
    t = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    p = pl.read_parquet(f"{out}/*/*.parquet", hive_partitioning=True)
    d = duckdb.sql(f"SELECT * FROM read_parquet('{out}/*/*.parquet', hive_partitioning = true)"
                   ).fetchall()
    return t, p, d


def valid_pixels(path):
    import numpy as np
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(1)
    a = np.frombuffer(b.ReadRaster(buf_type=gdal.GDT_Float32), dtype=np.float32)
    nd = b.GetNoDataValue()
    return int((~np.isnan(a) & ((a != nd) if nd is not None else True)).sum())


def test_resolution_0_cell_column_is_not_h0(run_cli, good_raster, out_dir):
    """At resolution 0 the cell column must not be called h0 (the Hive key): every reader
    sees the partition string in h0 and the cells in the cell column."""
    import h3
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 0, "--quiet")
    assert proc.returncode == 0, proc.stderr
    t, p, d = read_dataset_three_ways(out_dir)
    assert t.column_names == ["value", "cell_h0", "h0"], t.column_names
    assert p.columns == ["value", "cell_h0", "h0"], p.columns
    assert t.num_rows == p.height == len(d) == valid_pixels(good_raster)
    for cell, h0 in zip(t.column("cell_h0").to_pylist(), t.column("h0").to_pylist()):
        assert h3.int_to_str(cell) == h0 and h3.get_resolution(h0) == 0
    assert sorted({r[2] for r in d}) == sorted(set(t.column("h0").to_pylist()))


def test_resolution_0_aggregate_cell_column(run_cli, good_raster, out_dir):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", 0, "--aggregate", "--quiet")
    assert proc.returncode == 0, proc.stderr
    t, p, _ = read_dataset_three_ways(out_dir)
    assert "cell_h0" in t.column_names and t.column_names.count("h0") == 1
    assert p.columns.count("h0") == 1


@pytest.mark.parametrize("res", ["0", "5"])
def test_value_name_h0_refused(run_cli, good_raster, out_dir, res):
    proc = run_cli("convert", good_raster, out_dir, "--resolution", res, "--value-name", "h0")
    assert_error(proc, out_dir, usage=True)
    assert "h0" in proc.stderr


def test_value_names_list_with_h0_refused(run_cli, six_bands, out_dir):
    proc = run_cli("convert", six_bands, out_dir, "--resolution", 5, "--bands", "1,2",
                   "--value-name", "a,h0")
    assert_error(proc, out_dir, usage=True)
    assert "h0" in proc.stderr


def test_band_description_h0_renamed(run_cli, raster_dir, out_dir):
    data = rasters.random_values("uint8", (16, 16), 4)
    r = rasters.write_raster(raster_dir / "d.tif", data, (10.0, 0.01, 0.0, 50.0, 0.0, -0.01),
                             4326, description="h0")
    assert gdal.Open(r).GetRasterBand(1).GetDescription() == "h0"
    proc = run_cli("convert", r, out_dir, "--resolution", 5, "--quiet")
    assert proc.returncode == 0, proc.stderr
    t, p, d = read_dataset_three_ways(out_dir)
    assert t.column_names == ["h0_1", "h5", "h0"], t.column_names
    assert sorted(t.column("h0_1").to_pylist()) == sorted(data.ravel().tolist())
    assert sorted(p["h0_1"].to_list()) == sorted(data.ravel().tolist())


def test_memory_beyond_machine(run_cli, good_raster, out_dir):
    import os
    phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    proc = run_cli("convert", good_raster, out_dir, "--memory", "10T")
    assert_error(proc, out_dir, usage=True)
    want = f"--memory 10T exceeds this machine's memory ({phys / 2**30:.1f} GiB)"
    assert want in proc.stderr, proc.stderr


@pytest.mark.parametrize("value", ["5 ", " 5", "\t5\n"])
def test_job_completion_index_whitespace(run_cli, good_raster, tmp_path, value):
    """Surrounding whitespace (YAML, shells) is trimmed, the same on both sides."""
    import h3
    ref = tmp_path / "ref"
    assert run_cli("convert", good_raster, ref, "--resolution", 5, "--quiet").returncode == 0
    bc = h3.get_base_cell_number(h3.latlng_to_cell(49.7, 10.3, 0))
    out = tmp_path / "o"
    proc = run_cli("convert", good_raster, out, "--resolution", 5, "--quiet",
                   env={"JOB_COMPLETION_INDEX": value.replace("5", str(bc))})
    assert proc.returncode == 0, proc.stderr
    got = sorted(p.parent.name for p in out.rglob("data_0.parquet"))
    want = [f"h0={c}" for c in sorted(h3.get_res0_cells())
            if h3.get_base_cell_number(c) == bc and (ref / f"h0={c}").exists()]
    assert got == want and got, (got, want)
