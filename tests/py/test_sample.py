"""Oracle tests of `convert --method sample` (issue 13): every cell whose centre (h3-py
cell_to_latlng) lies on a valid pixel gets exactly one row, in the partition of its base cell,
with the value GDAL's pixels give by the kernel (sample_reference.py, independent of the C code);
on EPSG:4326 rasters nearest also agrees with h3ronpy's raster_to_dataframe.
"""
import json
import math

import h3
import numpy as np
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from osgeo import gdal, osr

from rasters import random_values, write_raster
from reference import base_cells, cell_column
from sample_reference import sample_reference

gdal.UseExceptions()

# ---- test rasters ------------------------------------------------------------------------


def _data(rows, cols, dtype="float32", seed=7, holes=True):
    d = random_values(dtype, (rows, cols), seed)
    if np.dtype(dtype).kind == "f":
        d = np.round(d, 3).astype(dtype)
        d[~np.isfinite(d)] = 1
        d[np.abs(d) > 1e6] = 5
    if holes:  # a block and a scatter of NoData
        d[rows // 3:rows // 3 + 3, cols // 4:cols // 4 + 4] = -9999
        d.flat[::17] = -9999
    return d


def _projected(path, epsg, x, y, dx, cols, rows, dtype="float32"):
    gt = (x - cols / 2 * dx, dx, 0.0, y + rows / 2 * dx, 0.0, -dx)
    return write_raster(path, _data(rows, cols, dtype), gt, epsg, nodata=-9999)


def _geo(path, lat, lng, dx, cols, rows, dtype="float32", gt=None):
    gt = gt or (lng - cols / 2 * dx, dx, 0.0, lat + rows / 2 * dx, 0.0, -dx)
    return write_raster(path, _data(rows, cols, dtype), gt, 4326, nodata=-9999)


def _pentagon_centre(n):
    return h3.cell_to_latlng(h3.int_to_str(0x08001FFFFFFFFFFF | (n << 45)))


RASTERS = {
    # name: (builder(path), resolutions from coarser than the pixel to about 4 levels finer)
    "geo": (lambda p: _geo(p, 45.0, 7.0, 0.05, 16, 12), [5, 6, 8, 10]),
    "utm": (lambda p: _projected(p, 32633, 500000, 5200000, 250, 40, 40), [8, 10, 12]),
    "polar_north_3413": (lambda p: _projected(p, 3413, 0, 0, 25000, 40, 40), [3, 5, 7]),
    "polar_south_3031": (lambda p: _projected(p, 3031, 0, 0, 25000, 40, 40), [3, 5, 7]),
    "lcc_2154": (lambda p: _projected(p, 2154, 700000, 6600000, 1000, 30, 30), [7, 9, 10]),
    "ease_6933": (lambda p: _projected(p, 6933, 1000000, 4000000, 25000, 30, 20), [4, 6, 7]),
    "antimeridian": (lambda p: _geo(p, -17.0, 180.0, 0.02, 40, 30), [6, 8, 10]),
    "lon_0_360": (lambda p: write_raster(p, _data(36, 72), (0.0, 5.0, 0.0, 90.0, 0.0, -5.0),
                                         4326, nodata=-9999), [1, 2, 3]),
    "rotated": (lambda p: _geo(p, 45.0, 7.0, 0.05, 16, 12,
                               gt=(6.5, 0.05, 0.01, 45.3, 0.012, -0.05)), [6, 8, 9]),
    "pentagon_4": (lambda p: _geo(p, *_pentagon_centre(4), 0.05, 24, 24), [5, 7, 9]),
    "uint8": (lambda p: write_raster(p, np.arange(30 * 20, dtype=np.uint8).reshape(20, 30),
                                     (10.0, 0.1, 0.0, 50.0, 0.0, -0.1), 4326, nodata=0), [6, 8]),
}


@pytest.fixture(scope="module")
def rasters(tmp_path_factory):
    d = tmp_path_factory.mktemp("sample-rasters")
    return {k: b(d / f"{k}.tif") for k, (b, _) in RASTERS.items()}


CASES = [(k, r) for k, (_, rs) in RASTERS.items() for r in rs]


def read_rows(out, res, value_name=None):
    """(cells ascending, values by column, h0 of each row's partition) of a dataset."""
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table()
    col = cell_column(res)
    o = np.argsort(t.column(col).to_numpy())
    cells = t.column(col).to_numpy()[o]
    h0 = np.array([int(x, 16) for x in t.column("h0").to_pylist()], dtype=np.uint64)[o]
    vals = {n: t.column(n).to_numpy()[o] for n in t.column_names if n not in (col, "h0")}
    return cells, vals, h0


def check_no_holes(cells, h0):
    """Each cell once, under the h0= of its own base cell."""
    assert np.all(np.diff(cells.astype(np.int64)) > 0), "a cell has two rows"
    want = np.array([0x08001FFFFFFFFFFF | (int(b) << 45) for b in base_cells(cells)],
                    dtype=np.uint64)
    assert np.array_equal(h0, want), "a cell is in another base cell's partition"


def convert(run_cli, src, out, *args):
    p = run_cli("convert", src, out, "--method", "sample", "--quiet", *args)
    assert p.returncode == 0, p.stderr
    return p


@pytest.mark.parametrize("name,res", CASES)
def test_nearest_equals_reference(run_cli, rasters, tmp_path, name, res):
    out = tmp_path / "out"
    convert(run_cli, rasters[name], out, "--resolution", res)
    want_cells, want_vals = sample_reference(rasters[name], res, "nearest")
    assert want_cells.size > 0
    cells, vals, h0 = read_rows(out, res)
    (got,) = vals.values()
    missing = np.setdiff1d(want_cells, cells)
    extra = np.setdiff1d(cells, want_cells)
    assert missing.size == 0 and extra.size == 0, (missing[:5], extra[:5])
    assert np.array_equal(got, want_vals)
    check_no_holes(cells, h0)


@pytest.mark.parametrize("kernel", ["bilinear", "cubic"])
@pytest.mark.parametrize("name,res", [("geo", 8), ("utm", 11), ("polar_north_3413", 6),
                                      ("antimeridian", 9), ("rotated", 8), ("lon_0_360", 3)])
def test_interpolating_kernels_equal_reference(run_cli, rasters, tmp_path, name, res, kernel):
    out = tmp_path / "out"
    convert(run_cli, rasters[name], out, "--resolution", res, "--resample", kernel)
    want_cells, want_vals = sample_reference(rasters[name], res, kernel)
    cells, vals, h0 = read_rows(out, res)
    (got,) = vals.values()
    assert got.dtype == np.float64
    assert np.array_equal(cells, want_cells)
    # Same formula on the same doubles: equal up to the order of floating-point operations.
    np.testing.assert_allclose(got, want_vals, rtol=1e-12, atol=1e-9)
    check_no_holes(cells, h0)


def test_kernels_agree_with_gdal_warp(run_cli, rasters, tmp_path):
    """Bilinear and cubic at a cell centre equal GDAL's own warp kernels there (a 1 x 1 pixel
    output centred on the point), away from invalid pixels."""
    src = rasters["geo"]
    ds = gdal.Open(src)
    for kernel in ("bilinear", "cubic"):
        out = tmp_path / kernel
        convert(run_cli, src, out, "--resolution", 8, "--resample", kernel)
        cells, vals, _ = read_rows(out, 8)
        (got,) = vals.values()
        rng = np.random.default_rng(1)
        checked = 0
        for i in rng.choice(cells.size, 60, replace=False):
            lat, lng = h3.cell_to_latlng(h3.int_to_str(int(cells[i])))
            e = 1e-7
            w = gdal.Warp("", ds, format="MEM", outputBounds=(lng - e, lat - e, lng + e, lat + e),
                          width=1, height=1, resampleAlg=kernel, srcNodata=-9999,
                          dstNodata=-9999, outputType=gdal.GDT_Float64)
            v = np.frombuffer(w.GetRasterBand(1).ReadRaster(), dtype=np.float64)[0]
            if v == -9999:
                continue
            checked += 1
            assert abs(v - got[i]) <= 1e-6 * max(1.0, abs(v)), (kernel, lat, lng, v, got[i])
        assert checked > 30


def test_fast_centres_equal_exact_centres(run_cli, rasters, tmp_path):
    """The fitted model of cell centres (default) gives the same files as cellToLatLng for every
    cell (--index reference), byte for byte."""
    for name, res in [("geo", 10), ("utm", 12), ("lon_0_360", 4), ("pentagon_4", 9),
                      ("polar_north_3413", 7)]:
        a, b = tmp_path / f"{name}-fast", tmp_path / f"{name}-exact"
        convert(run_cli, rasters[name], a, "--resolution", res)
        convert(run_cli, rasters[name], b, "--resolution", res, "--index", "reference")
        for f in sorted(a.glob("h0=*/data_0.parquet")):
            g = b / f.parent.name / f.name
            ta, tb = pq.read_table(f), pq.read_table(g)
            assert ta.equals(tb), f


def test_real_rasters(run_cli, testdata, tmp_path):
    """elev.tif (terra), L7_ETMs.tif (stars, UTM, 3 bands) and egm96_15.gtx (proj-data, global
    0..360): nobody here wrote them."""
    for src, res, extra in [(testdata["elev.tif"], 11, []),
                            (testdata["L7_ETMs.tif"], 12, ["--bands", "1,3"]),
                            (testdata["egm96_15.gtx"], 4, [])]:
        out = tmp_path / src.name
        convert(run_cli, src, out, "--resolution", res, *extra)
        cells, vals, h0 = read_rows(out, res)
        check_no_holes(cells, h0)
        bands = [1, 3] if extra else None
        want_cells, want_vals = sample_reference(src, res, "nearest", bands=bands)
        assert np.array_equal(cells, want_cells), src
        if bands:
            for got, want in zip(vals.values(), want_vals):
                assert np.array_equal(got, want)
        else:
            (got,) = vals.values()
            assert np.array_equal(got, want_vals)


def _h3ronpy_cells(src, res):
    from h3ronpy.raster import Transform, raster_to_dataframe
    ds = gdal.Open(str(src))
    b = ds.GetRasterBand(1)
    dt = {gdal.GDT_Float32: np.float32, gdal.GDT_Int16: np.int16, gdal.GDT_Byte: np.uint8}
    arr = np.frombuffer(b.ReadRaster(), dtype=dt[b.DataType]).reshape(ds.RasterYSize,
                                                                      ds.RasterXSize).copy()
    nd = b.GetNoDataValue()
    nd = arr.dtype.type(nd) if arr.dtype.kind == "f" else int(nd)
    t = raster_to_dataframe(arr, Transform.from_gdal(ds.GetGeoTransform()), res,
                            nodata_value=nd, compact=False)
    cells = t.column("cell").to_numpy().astype(np.uint64)
    o = np.argsort(cells)
    return cells[o], t.column("value").to_numpy()[o]


@pytest.mark.parametrize("name,res", [("geo", 8), ("geo", 10), ("uint8", 8), ("elev", 11)])
def test_nearest_equals_h3ronpy(run_cli, rasters, testdata, tmp_path, name, res):
    """h3ronpy (Rust h3o) samples the pixel under each cell centre too. Differences may only come
    from the two H3 implementations' centres (counted and bounded), never from the method."""
    pytest.importorskip("h3ronpy")
    src = testdata["elev.tif"] if name == "elev" else rasters[name]
    out = tmp_path / "out"
    convert(run_cli, src, out, "--resolution", res)
    cells, vals, _ = read_rows(out, res)
    (got,) = vals.values()
    hc, hv = _h3ronpy_cells(src, res)
    common, ia, ib = np.intersect1d(cells, hc, return_indices=True)
    assert np.array_equal(got[ia], hv[ib].astype(got.dtype))
    # Nothing h3ronpy has is missing here. What it lacks (elev.tif at 11: the 288 cells of
    # pixel (9, 78), which the h3-py reference has, see test_real_rasters) is whole pixels:
    # every missing cell lies in a pixel h3ronpy gave no cell at all.
    assert np.setdiff1d(hc, cells).size == 0
    only_here = np.setdiff1d(cells, hc)
    ds = gdal.Open(str(src))
    gt = ds.GetGeoTransform()

    def pixel_of(c):
        lat, lng = h3.cell_to_latlng(h3.int_to_str(int(c)))
        return int((lng - gt[0]) // gt[1]), int((lat - gt[3]) // gt[5])

    skipped = {pixel_of(c) for c in only_here}
    assert not skipped & {pixel_of(c) for c in hc}, "h3ronpy differs inside a pixel"
    assert only_here.size <= cells.size // 1000, only_here.size
