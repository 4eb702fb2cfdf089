"""Tests of `raster2h3 rasterize` (issue 16): a dataset drawn back onto a raster grid.

Round trips (convert --method sample with cells much finer than the pixels, then rasterize
--like the original) give the original back on every valid pixel; rasterizing onto --bbox grids
(EPSG:4326 and EPSG:3857) agrees with an oracle that indexes each pixel centre with h3-py and
takes the first row of that cell read back with pyarrow; errors leave no OUT behind.
"""
import math
import signal
import subprocess
import time
from pathlib import Path

import h3
import numpy as np
import pyarrow.parquet as pq
import pytest
from osgeo import gdal, osr

from rasters import write_raster
from reference import NUMPY_OF_GDAL, cell_column, normalise_lng, pixel_centres, to_wgs84

gdal.UseExceptions()


def read_tif(path):
    """(values as a 2-D array, nodata, geotransform, srs WKT, GDAL type) of band 1."""
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(1)
    dt = NUMPY_OF_GDAL[b.DataType]
    a = np.frombuffer(b.ReadRaster(), dtype=dt).reshape(ds.RasterYSize, ds.RasterXSize)
    out = (a.copy(), b.GetNoDataValue(), ds.GetGeoTransform(), ds.GetProjection(), b.DataType)
    ds = None
    return out


def is_nodata(a, nodata):
    return np.isnan(a) if nodata is not None and math.isnan(nodata) else a == nodata


REDUCE = {"mean": lambda v: float(np.mean(np.array(v, dtype=np.float64))), "min": min,
          "max": max}


def first_rows(dataset, res, column, reduce=None):
    """{cell: value} over every partition: the cell's one row with a value, or its rows'
    mean/min/max (reduce) where it has several; a cell with several rows and no reduce is an
    error of the test (rasterize refuses such datasets without --reduce)."""
    rows = {}
    for f in sorted(Path(dataset).glob("h0=*/data_0.parquet")):
        t = pq.read_table(f, columns=[cell_column(res), column])
        for c, v in zip(t.column(0).to_pylist(), t.column(1).to_pylist()):
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                rows.setdefault(c, []).append(v)
    if reduce is None:
        assert all(len(v) == 1 for v in rows.values()), "several rows per cell: pass reduce"
        return {c: v[0] for c, v in rows.items()}
    return {c: REDUCE[reduce](v) for c, v in rows.items()}


def oracle(dataset, res, column, gt, cols, rows, srs, reduce=None):
    """Expected values (float64, NaN for no data) of a grid: each pixel centre through osr to
    WGS84, h3-py latlng_to_cell at res, that cell's value (its rows reduced)."""
    x, y = pixel_centres(gt, cols, rows)
    x = np.broadcast_to(x, (rows, cols)).ravel()
    y = np.broadcast_to(y, (rows, cols)).ravel()
    s = osr.SpatialReference()
    s.SetFromUserInput(srs)
    lng, lat = to_wgs84(s, x, y)
    lng = normalise_lng(lng)
    first = first_rows(dataset, res, column, reduce)
    out = np.full(rows * cols, np.nan)
    for i, (la, ln) in enumerate(zip(lat, lng)):
        if not (math.isfinite(la) and math.isfinite(ln)) or abs(la) > 90:
            continue
        v = first.get(h3.str_to_int(h3.latlng_to_cell(float(la), float(ln), res)))
        if v is not None:
            out[i] = v
    return out.reshape(rows, cols)


def synthetic(path, dtype="float32", cols=60, rows=45, dx=0.01, west=8.3, north=47.2, seed=3):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        d = np.round(rng.standard_normal((rows, cols)) * 100, 2).astype(dtype)
    else:
        d = rng.integers(1, 200, size=(rows, cols)).astype(dtype)
    d[5:9, 10:20] = -9999 if np.dtype(dtype).kind != "u" else 0
    d.flat[::23] = -9999 if np.dtype(dtype).kind != "u" else 0
    nodata = -9999 if np.dtype(dtype).kind != "u" else 0
    return write_raster(path, d, (west, dx, 0.0, north, 0.0, -dx), 4326, nodata=nodata)


def assert_round_trip(run_cli, src, res, tmp_path):
    ds, out = tmp_path / "ds", tmp_path / "back.tif"
    p = run_cli("convert", src, ds, "--method", "sample", "--resolution", res, "--quiet")
    assert p.returncode == 0, p.stderr
    p = run_cli("rasterize", ds, out, "--like", src)
    assert p.returncode == 0, p.stderr
    a, a_nd, a_gt, _, _ = read_tif(src)
    b, b_nd, b_gt, b_wkt, _ = read_tif(out)
    assert b.shape == a.shape and b_gt == a_gt and b_wkt
    valid = ~is_nodata(a, a_nd)
    assert valid.sum() > 0
    diff = int((a[valid].astype(np.float64) != b[valid].astype(np.float64)).sum())
    assert diff == 0, f"{diff} of {int(valid.sum())} valid pixels differ"
    # sample writes no cell on an invalid pixel: those pixels come back as NoData
    assert bool(is_nodata(b[~valid], b_nd).all())
    return b, b_nd


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int16"])
def test_round_trip_synthetic(run_cli, tmp_path, dtype):
    src = synthetic(tmp_path / f"{dtype}.tif", dtype)
    b, nd = assert_round_trip(run_cli, src, 12, tmp_path)  # cells ~ 1/50 of a pixel's area
    assert b.dtype == np.dtype(dtype)
    if dtype == "float32":
        assert math.isnan(nd)
    elif dtype == "uint8":
        assert nd == 255  # the data (1..199) leaves the type's max free
    else:
        assert nd == -32768


def test_full_range_widens(run_cli, tmp_path):
    """uint8 data using all 256 values (no NoData): the output widens to uint16, NoData 65535."""
    d = (np.arange(40 * 32) % 256).astype(np.uint8).reshape(32, 40)
    src = write_raster(tmp_path / "full.tif", d, (5.0, 0.01, 0.0, 45.0, 0.0, -0.01), 4326)
    b, nd = assert_round_trip(run_cli, src, 12, tmp_path)
    assert b.dtype == np.uint16 and nd == 65535 and not (b == nd).any()


def test_round_trip_elev(run_cli, testdata, tmp_path):
    b, nd = assert_round_trip(run_cli, testdata["elev.tif"], 10, tmp_path)
    assert b.dtype == np.int16 and nd == -32768


def point_dataset(run_cli, tmp_path, res=6):
    """A point-method dataset with several pixels per cell (several rows per cell)."""
    src = synthetic(tmp_path / "pts.tif", cols=90, rows=70, dx=0.004)
    ds = tmp_path / "pts"
    p = run_cli("convert", src, ds, "--resolution", res, "--quiet")
    assert p.returncode == 0, p.stderr
    return ds


def check_oracle(out, ds, res, column, srs, reduce=None):
    """0 differences from the h3-py oracle (a mean within 1e-12 of the largest value: the rows
    are added in another order than numpy's)."""
    b, nd, gt, _, _ = read_tif(out)
    rows, cols = b.shape
    want = oracle(ds, res, column, gt, cols, rows, srs, reduce)
    got = np.where(is_nodata(b, nd), np.nan, b.astype(np.float64))
    assert np.isfinite(want).sum() > 100 and np.isnan(want).sum() > 10  # data and holes
    assert (b.dtype == np.float64) == (reduce == "mean")
    both_nan = np.isnan(want) & np.isnan(got)
    # a mean within 1e-12 of the largest magnitude (a mean near 0 cancels)
    tol = 1e-12 * np.nanmax(np.abs(want)) if reduce == "mean" else 0
    diff = int((~both_nan & ~(np.abs(want - got) <= tol)).sum())
    bad = np.argwhere(~both_nan & ~(np.abs(want - got) <= tol))[:3]
    assert diff == 0, f"{diff} of {want.size} pixels differ from the h3-py oracle: " + str([(tuple(i), want[tuple(i)], got[tuple(i)]) for i in bad])


def test_oracle_bbox_wgs84(run_cli, tmp_path):
    ds = point_dataset(run_cli, tmp_path)
    out = tmp_path / "grid.tif"
    # a grid of its own (pixel 0.0071 x 0.0053 degrees), reaching past the data on every side
    p = run_cli("rasterize", ds, out, "--bbox", "8.25,46.85,8.7,47.25", "--res", "0.0071,0.0053",
                "--column", "value", "--reduce", "mean")
    assert p.returncode == 0, p.stderr
    b, nd, gt, wkt, _ = read_tif(out)
    assert gt == (8.25, 0.0071, 0.0, 47.25, 0.0, -0.0053)
    assert b.shape == (math.ceil(0.4 / 0.0053 - 1e-9), math.ceil(0.45 / 0.0071 - 1e-9))
    check_oracle(out, ds, 6, "value", "EPSG:4326", "mean")


def test_oracle_bbox_3857(run_cli, tmp_path):
    ds = point_dataset(run_cli, tmp_path)
    s = osr.SpatialReference()
    s.ImportFromEPSG(4326)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    m = osr.SpatialReference()
    m.ImportFromEPSG(3857)
    m.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(s, m)
    w, sth, _ = ct.TransformPoint(8.25, 46.85)
    e, n, _ = ct.TransformPoint(8.7, 47.25)
    out = tmp_path / "merc.tif"
    p = run_cli("rasterize", ds, out, "--bbox", f"{w!r},{sth!r},{e!r},{n!r}", "--res", "700",
                "--srs", "EPSG:3857", "--reduce", "max")
    assert p.returncode == 0, p.stderr
    check_oracle(out, ds, 6, "value", "EPSG:3857", "max")


def test_oracle_row_groups(run_cli, tmp_path):
    """A partition of several row groups (convert --memory 16M --threads 1: about 70k rows each),
    with several rows per cell, loaded one row group at a time (and within --memory 16M)."""
    src = synthetic(tmp_path / "big.tif", cols=600, rows=500, dx=0.0004, west=8.3, north=47.2)
    ds = tmp_path / "big"
    p = run_cli("convert", src, ds, "--resolution", 9, "--memory", "16M", "--threads", 1,
                "--quiet")
    assert p.returncode == 0, p.stderr
    files = list(ds.glob("h0=*/data_0.parquet"))
    assert len(files) == 1 and pq.ParquetFile(files[0]).num_row_groups >= 3
    out = tmp_path / "big_grid.tif"
    p = run_cli("rasterize", ds, out, "--bbox", "8.29,46.99,8.55,47.21", "--res", "0.0023",
                "--memory", "16M", "--reduce", "mean")
    assert p.returncode == 0, p.stderr
    check_oracle(out, ds, 9, "value", "EPSG:4326", "mean")


def test_bounded_memory(run_cli, tmp_path):
    """--memory 16M holds a fraction of the dataset's rows at once (1.6M rows, 16 bytes each,
    over 100+ partitions): the same raster as with the default budget."""
    d = (np.arange(1800 * 900, dtype=np.float64).reshape(900, 1800) % 1000).astype(np.float32)
    src = write_raster(tmp_path / "world.tif", d, (-180.0, 0.2, 0.0, 90.0, 0.0, -0.2), 4326)
    ds = tmp_path / "world"
    p = run_cli("convert", src, ds, "--resolution", 3, "--quiet")
    assert p.returncode == 0, p.stderr
    outs = []
    for mem in ([], ["--memory", "16M"]):
        out = tmp_path / f"w{len(outs)}.tif"
        p = run_cli("rasterize", ds, out, "--bbox", "-180,-90,180,90", "--res", "0.7", *mem,
                    "--reduce", "min")
        assert p.returncode == 0, p.stderr
        outs.append(read_tif(out)[0])
    assert np.isfinite(outs[0]).sum() > 100000
    assert np.array_equal(outs[0], outs[1], equal_nan=True)


def test_errors(run_cli, tmp_path):
    src = synthetic(tmp_path / "e.tif", "int16")
    ds = tmp_path / "ds"
    assert run_cli("convert", src, ds, "--resolution", 7, "--quiet").returncode == 0
    out = tmp_path / "o.tif"

    def fails(code, *args, says=""):
        p = run_cli("rasterize", *args)
        assert p.returncode == code, (p.returncode, p.stderr)
        assert p.stderr.startswith("raster2h3: ") and p.stderr.count("\n") == 1, p.stderr
        assert says in p.stderr, p.stderr
        assert not any(tmp_path.glob("*o.tif*")), list(tmp_path.iterdir())

    fails(4, tmp_path / "missing", out, "--like", src, says="cannot list")
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(3, empty, out, "--like", src, says="not a raster2h3 dataset")
    fails(2, ds, out, "--like", src, "--column", "nope", says="unknown column 'nope'")
    fails(2, ds, out, "--bbox", "10,5,0,6", "--res", "1", says="--bbox")
    fails(2, ds, out, "--bbox", "0,5,1", "--res", "1", says="--bbox")
    fails(2, ds, out, "--bbox", "0,0,1,1", "--res", "-1", says="--res")
    fails(2, ds, out, "--bbox", "0,0,1,1", says="--like RASTER or --bbox")
    fails(2, ds, out, "--like", src, "--bbox", "0,0,1,1", "--res", "1", says="cannot be combined")
    fails(2, ds, out, "--bbox", "0,0,1,1", "--res", "0.1", "--srs", "EPSG:999999", says="--srs")
    fails(2, ds, out, "--like", src, "--nodata", "1e6", says="--nodata")
    fails(3, ds, out, "--like", tmp_path / "nope.tif")
    fails(4, ds, tmp_path / "nodir" / "o.tif", "--like", src, says="cannot create")
    sds = tmp_path / "strings"
    assert run_cli("convert", src, sds, "--resolution", 7, "--cell-format", "string",
                   "--quiet").returncode == 0
    fails(3, sds, out, "--like", src, says="--cell-format string")
    assert not (tmp_path / "nodir").exists()
    # and a good run leaves only OUT
    p = run_cli("rasterize", ds, out, "--like", src, "--co", "BLOCKXSIZE=32", "--co",
                "BLOCKYSIZE=32", "--reduce", "max")
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in tmp_path.glob("*o.tif*")) == ["o.tif"]
    ds_ = gdal.Open(str(out))
    assert ds_.GetRasterBand(1).GetBlockSize() == [32, 32]
    assert ds_.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "DEFLATE"
    ds_ = None
    p = run_cli("rasterize", "--help")
    assert p.returncode == 0 and "--like" in p.stdout and "float64" in p.stdout


def test_interrupted_leaves_nothing(cli_path, tmp_path):
    """SIGINT while writing: exit 5, the temporary removed, no OUT."""
    src = synthetic(tmp_path / "s.tif")
    ds = tmp_path / "ds"
    assert subprocess.run([str(cli_path), "convert", str(src), str(ds), "--resolution", "8",
                           "--quiet"]).returncode == 0
    out = tmp_path / "slow.tif"
    proc = subprocess.Popen([str(cli_path), "rasterize", str(ds), str(out), "--bbox",
                             "-180,-85,180,85", "--res", "0.01"],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while not list(tmp_path.glob(".slow.tif.tmp-*")) and time.time() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob(".slow.tif.tmp-*")), "no temporary seen"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5, err
    assert not list(tmp_path.glob("*slow.tif*"))


def test_several_rows_per_cell_need_reduce(run_cli, tmp_path):
    """A point dataset with several pixels per cell: without --reduce no pixel gets one of its
    cell's values picked silently (exit 2, the cell and the remedy named, no OUT); with it, the
    rows' min is the oracle's (a row group boundary inside a cell's rows included: row groups
    sharing a cell are loaded together)."""
    ds = point_dataset(run_cli, tmp_path)
    out = tmp_path / "refused.tif"
    p = run_cli("rasterize", ds, out, "--bbox", "8.25,46.85,8.7,47.25", "--res", "0.01")
    assert p.returncode == 2, p.stderr
    assert "several rows" in p.stderr and "--reduce" in p.stderr and p.stderr.count("\n") == 1
    assert not out.exists() and not list(tmp_path.glob(".refused*"))
    p = run_cli("rasterize", ds, out, "--bbox", "8.25,46.85,8.7,47.25", "--res", "0.01",
                "--reduce", "median")
    assert p.returncode == 2 and "--reduce" in p.stderr
    p = run_cli("rasterize", ds, out, "--bbox", "8.25,46.85,8.7,47.25", "--res", "0.0071,0.0053",
                "--reduce", "min")
    assert p.returncode == 0, p.stderr
    check_oracle(out, ds, 6, "value", "EPSG:4326", "min")


def test_default_column_is_the_mean_of_statistics(run_cli, tmp_path):
    """Without --column, an overlay (or aggregate) dataset is drawn by <value>_mean, as preview
    does, not by its first column (coverage)."""
    src = synthetic(tmp_path / "ov.tif", cols=90, rows=70, dx=0.004)
    ds = tmp_path / "ov"
    p = run_cli("convert", src, ds, "--resolution", 6, "--method", "overlay", "--stat",
                "coverage,mean", "--quiet")
    assert p.returncode == 0, p.stderr
    assert pq.read_schema(next(ds.glob("h0=*/data_0.parquet"))).names[0] == "coverage"
    out, ref = tmp_path / "default.tif", tmp_path / "mean.tif"
    args = ["--bbox", "8.25,46.85,8.7,47.25", "--res", "0.0071,0.0053"]
    assert run_cli("rasterize", ds, out, *args).returncode == 0
    assert run_cli("rasterize", ds, ref, *args, "--column", "value_mean").returncode == 0
    a, b = read_tif(out)[0], read_tif(ref)[0]
    assert np.isfinite(a).sum() > 100 and np.array_equal(a, b, equal_nan=True)
