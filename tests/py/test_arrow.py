"""test_arrow.py - the in-memory path: r2h_convert_to_arrow through the Python package.

Oracle: the Parquet dataset the CLI writes with the same options, read by pyarrow. Every
method and option that changes columns is compared row for row (as sets of rows: batches of
different partitions may come in any order, rows of a partition come sorted by cell). The
stream is also read by Polars and DuckDB through the PyCapsule interface, without pyarrow in
between."""
import gc
import os
import subprocess
import sys
import threading

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import rasters
from conftest import BUILD_DIR, REPO, run_binary

LIB = BUILD_DIR / "libraster2h3.so"
os.environ.setdefault("RASTER2H3_LIBRARY", str(LIB))
sys.path.insert(0, str(REPO / "python"))
import raster2h3  # noqa: E402


@pytest.fixture(scope="module")
def carbon(tmp_path_factory):
    """A carbon-shaped EPSG:4326 UInt16 raster with NoData, over two base cells' edges."""
    d = tmp_path_factory.mktemp("arrow")
    rng = np.random.default_rng(5)
    data = rng.integers(0, 400, (600, 700), dtype=np.uint16)
    data[rng.random(data.shape) < 0.3] = 65535
    gt = (8.0, 0.01, 0.0, 47.0, 0.0, -0.01)
    return rasters.write_raster(d / "carbon.tif", data, gt, 4326, nodata=65535)


@pytest.fixture(scope="module")
def valid_pixels(carbon):
    """Valid pixels counted by GDAL (no NumPy bridge: the bytes of the band)."""
    from osgeo import gdal
    dataset = gdal.Open(str(carbon))  # kept: the band dies with its dataset
    a = np.frombuffer(dataset.GetRasterBand(1).ReadRaster(), dtype=np.uint16)
    return int(np.count_nonzero(a != 65535))


@pytest.fixture(scope="module")
def two_bands(tmp_path_factory):
    d = tmp_path_factory.mktemp("arrow2")
    rng = np.random.default_rng(6)
    data = rng.normal(0, 1, (2, 200, 300)).astype(np.float32)
    gt = (-179.0, 0.02, 0.0, 10.0, 0.0, -0.02)
    return rasters.write_raster(d / "two.tif", data[0], gt, 4326, nodata=None,
                                extra_bands=(data[1],))


def dataset_table(out):
    """The Parquet dataset's rows (without the partition column), as the files hold them."""
    return ds.dataset(out, format="parquet", partitioning="hive").to_table().drop(["h0"])


def sorted_rows(t):
    keys = [(n, "ascending") for n in t.column_names]
    return t.sort_by(keys)


def assert_same_rows(streamed, written):
    assert streamed.schema.names == written.schema.names
    for f in streamed.schema:
        assert f.type == written.schema.field(f.name).type, f.name
    assert streamed.num_rows == written.num_rows
    a, b = sorted_rows(streamed), sorted_rows(written)
    for name in a.column_names:
        x, y = a.column(name).to_numpy(zero_copy_only=False), b.column(name).to_numpy(
            zero_copy_only=False)
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert np.array_equal(x, y), name


CASES = {
    "point": dict(resolution=7),
    "point-threads1": dict(resolution=8, threads=1),
    "aggregate": dict(resolution=5, stats="count,sum,mean,min,max,mode"),
    "parents-string": dict(resolution=6, stats="mean", parents=(2, 4), cell_format="string"),
    "sample": dict(resolution=9, method="sample"),
    "sample-bilinear": dict(resolution=9, method="sample", resample="bilinear"),
    "overlay": dict(resolution=6, method="overlay", stats="mean,sum,coverage"),
    "overlay-parents": dict(resolution=6, method="overlay", parents=(3,), cell_format="string"),
    "int64": dict(resolution=8, cell_type="int64"),
    "sample-int64-parents": dict(resolution=9, method="sample", parents=(5,), cell_type="int64"),
    "work-unit": dict(resolution=7, work_unit=None),  # filled in by the test: the raster's unit
}

FLAGS = {"resolution": "--resolution", "threads": "--threads", "stats": "--stat",
         "method": "--method", "resample": "--resample", "work_unit": "--i"}


def cli_args(opts):
    args = []
    for k, v in opts.items():
        if k == "parents":
            args += ["--parents", ",".join(map(str, v))]
        elif k == "cell_format":
            args += ["--cell-format", v]
        elif k == "cell_type":
            args += ["--cell-type", v]
        elif k == "stats" and opts.get("method", "point") == "point":
            args += ["--aggregate", "--stat", v]
        else:
            args += [FLAGS[k], v]
    return args


@pytest.mark.parametrize("case", sorted(CASES))
def test_stream_equals_parquet(carbon, tmp_path, case):
    opts = dict(CASES[case])
    if case == "work-unit":
        full = pa.RecordBatchReader.from_stream(raster2h3.to_arrow(carbon, 7)).read_all()
        import h3
        units = {h3.get_base_cell_number(h3.int_to_str(int(c))) for c in
                 full.column("h7").to_numpy()}
        opts["work_unit"] = min(units)
    out = tmp_path / "out"
    p = run_binary("convert", carbon, out, "--quiet", *cli_args(opts))
    assert p.returncode == 0, p.stderr
    resolution = opts.pop("resolution")
    stream = raster2h3.to_arrow(carbon, resolution, **opts)
    got = pa.RecordBatchReader.from_stream(stream).read_all()
    assert got.num_rows > 0
    assert_same_rows(got, dataset_table(out))


def test_bands_stream_equals_parquet(two_bands, tmp_path):
    out = tmp_path / "out"
    p = run_binary("convert", two_bands, out, "--quiet", "--bands", "all", "--resolution", "6")
    assert p.returncode == 0, p.stderr
    got = raster2h3.to_arrow(two_bands, 6, bands="all").to_pyarrow().read_all()
    assert got.num_columns == 3
    assert_same_rows(got, dataset_table(out))


def test_batches_are_sorted_row_groups_of_one_partition(carbon, valid_pixels):
    import h3
    reader = raster2h3.to_arrow(carbon, 8, memory="64M").to_pyarrow()
    seen = 0
    for batch in reader:
        cells = batch.column("h8").to_numpy()
        assert np.all(cells[1:] >= cells[:-1])
        assert len({h3.get_base_cell_number(h3.int_to_str(int(c))) for c in cells[[0, -1]]}) == 1
        seen += batch.num_rows
    assert seen == valid_pixels


def test_polars_and_duckdb_read_the_capsule(carbon):
    import duckdb
    import polars as pl
    expect = pa.RecordBatchReader.from_stream(raster2h3.to_arrow(carbon, 7)).read_all()
    df = pl.DataFrame(raster2h3.to_arrow(carbon, 7))
    assert df.height == expect.num_rows
    assert df["h7"].dtype == pl.UInt64 and df["value"].dtype == pl.UInt16
    assert df["value"].sum() == pa.compute.sum(expect.column("value")).as_py()
    stream = raster2h3.to_arrow(carbon, 7)  # noqa: F841 - DuckDB finds it by name
    n, total = duckdb.sql("SELECT count(*), sum(value) FROM stream").fetchall()[0]
    assert (n, total) == (expect.num_rows, pa.compute.sum(expect.column("value")).as_py())


def test_a_second_read_runs_again(carbon):
    s = raster2h3.to_arrow(carbon, 5)
    first = s.to_pyarrow().read_all()
    again = s.to_pyarrow().read_all()
    assert first.num_rows > 0
    assert_same_rows(again, first)


def test_dropping_a_stream_early_stops_the_run(carbon):
    """Release after one batch (and without reading any): the run's threads are joined, no
    thread is left behind and later runs work."""
    before = threading.active_count()
    for _ in range(3):
        reader = raster2h3.to_arrow(carbon, 9, memory="64M").to_pyarrow()
        reader.read_next_batch()
        del reader
        s = raster2h3.to_arrow(carbon, 9)
        s.close()
        gc.collect()
    assert threading.active_count() == before
    assert raster2h3.to_arrow(carbon, 4).to_pyarrow().read_all().num_rows > 0


def test_errors_raise_the_library_classes(carbon, tmp_path):
    with pytest.raises(raster2h3.InputError, match="nope.tif"):
        raster2h3.to_arrow(tmp_path / "nope.tif", 8)
    with pytest.raises(raster2h3.InvalidError, match="resolution"):
        raster2h3.to_arrow(carbon, 16)
    with pytest.raises(raster2h3.InvalidError):
        raster2h3.to_arrow(carbon, 8, method="nearest-ish")
    with pytest.raises(raster2h3.InvalidError, match="EPSG:99999999"):
        raster2h3.to_arrow(carbon, 8, srs="EPSG:99999999")
    no_crs = rasters.write_raster(tmp_path / "nocrs.tif", np.ones((4, 4), np.uint8),
                                  (0, 1, 0, 4, 0, -1), None)
    with pytest.raises(raster2h3.CRSError):
        raster2h3.to_arrow(no_crs, 8)
    garbage = rasters.garbage_file(tmp_path / "garbage.tif")
    with pytest.raises(raster2h3.InputError):
        raster2h3.to_arrow(garbage, 8)
    assert issubclass(raster2h3.TransientError, raster2h3.IOError)


def test_convert_writes_the_dataset_with_progress(carbon, tmp_path):
    seen = []
    out = tmp_path / "out"
    res = raster2h3.convert(carbon, out, 7, progress=lambda *a: seen.append(a))
    assert res["rows_written"] == dataset_table(out).num_rows > 0
    assert seen and seen[-1][3] is True and seen[-1][0] == seen[-1][1]
    p = run_binary("verify", out, "--input", carbon)
    assert p.returncode == 0, p.stdout + p.stderr
    ref = tmp_path / "ref"
    assert run_binary("convert", carbon, ref, "--quiet", "--resolution", "7").returncode == 0
    assert_same_rows(dataset_table(out), dataset_table(ref))
    with pytest.raises(raster2h3.IOError):
        raster2h3.convert(carbon, "/proc/no-such-dir/out", 7)


def test_pip_installs_the_package(tmp_path):
    """`pip install ./python` copies the built library into the package: it imports from the
    target directory with no checkout on sys.path and no RASTER2H3_LIBRARY."""
    target = tmp_path / "site"
    env = dict(os.environ, RASTER2H3_LIBRARY=str(LIB))
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--target", str(target), str(REPO / "python")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (target / "raster2h3" / "_lib" / "libraster2h3.so").exists()
    env.pop("RASTER2H3_LIBRARY")
    code = ("import raster2h3, sys; p = raster2h3.library_path(); "
            "assert p.startswith(sys.argv[1]), p; print(raster2h3.version())")
    p = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                       env=dict(env, PYTHONPATH=str(target)), cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == run_binary("--version").stdout.split()[1]


def test_netcdf_variable_and_int64(testdata, tmp_path):
    """A Debian-packaged NetCDF by variable, two time steps, int64 cells: the stream equals
    the files of the same options."""
    if "coads_climatology.cdf" not in testdata:
        pytest.skip("ferret-datasets not fetched (optional package)")
    src = testdata["coads_climatology.cdf"]
    out = tmp_path / "out"
    p = run_binary("convert", src, out, "--quiet", "--variable", "SST", "--bands", "1,7",
                   "--resolution", "3", "--cell-type", "int64", "--srs", "EPSG:4326")
    assert p.returncode == 0, p.stderr
    got = raster2h3.to_arrow(src, 3, variable="SST", bands=[1, 7], cell_type="int64",
                             srs="EPSG:4326").to_pyarrow().read_all()
    assert got.schema.field("h3").type == pa.int64()
    assert [n for n in got.column_names if n != "h3"] == ["SST_0000_01", "SST_0000_07"]
    assert_same_rows(got, dataset_table(out))
    with pytest.raises(raster2h3.InputError, match="SST"):
        raster2h3.to_arrow(src, 3, variable="NOPE")


def test_stream_memory_is_the_budget(tmp_path):
    """Batches consumed one by one: the process grows by at most the budget + 64 MiB during the
    run (VmHWM before and after, in a child of its own), for a raster whose rows (12.6 M x 10
    bytes) are more than that."""
    rng = np.random.default_rng(8)
    data = rng.integers(0, 400, (3000, 4200), dtype=np.uint16)
    src = rasters.write_raster(tmp_path / "big.tif", data, (5.0, 0.0027, 0.0, 48.0, 0.0, -0.0027),
                               4326, nodata=65535, creation_options=("TILED=YES",))
    code = r"""
import sys
sys.path.insert(0, sys.argv[2])
import pyarrow as pa, raster2h3
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
before = hwm()
n = sum(b.num_rows for b in pa.RecordBatchReader.from_stream(
    raster2h3.to_arrow(sys.argv[1], 9, memory="32M")))
print(n, hwm() - before)
"""
    p = subprocess.run([sys.executable, "-c", code, str(src), str(REPO / "python")],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, RASTER2H3_LIBRARY=str(LIB)))
    assert p.returncode == 0, p.stderr
    rows, grew = map(int, p.stdout.split())
    assert rows == data.size
    assert grew <= (32 + 64) * 2**20, f"grew {grew / 2**20:.0f} MiB for a 32 MiB budget"
    assert rows * 10 > (32 + 64) * 2**20  # the rows alone would not have fitted


@pytest.mark.parametrize("method", ["point", "sample", "overlay"])
def test_corrupt_raster_fails_the_stream(tmp_path, method):
    """A raster whose blocks cannot be read (truncated TIFF) ends the stream with an error
    naming the file (pyarrow raises it as OSError from get_next's EIO), never a table that
    looks complete."""
    bad = rasters.truncated_tiff(tmp_path / "trunc.tif", tmp_path / "full.tif")
    with pytest.raises(OSError, match="trunc.tif"):
        pa.RecordBatchReader.from_stream(raster2h3.to_arrow(bad, 8, method=method)).read_all()
