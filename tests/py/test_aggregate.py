"""test_aggregate.py - `convert --aggregate` (per-cell statistics), pixel areas and mass
conservation, parents, string cells and --resolution auto against a Python oracle.

The oracle groups the reference pixel rows (GDAL values, osr transforms, h3-py cells; the same
steps as reference.py) by cell in numpy. Pixel areas are computed here independently with numpy:
geographic pixels by the closed form of the WGS84 ellipsoid's zone area (authalic q function,
written with log instead of the C code's atanh), projected pixels from their 4 corners (osr)
with the shoelace formula in the cylindrical equal-area plane.
"""
import math
import re
from pathlib import Path

import duckdb
import fastparquet
import h3
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from osgeo import gdal, osr

import rasters
import reference

gdal.UseExceptions()

A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)
E = math.sqrt(E2)


def q_of(lat_deg):
    s = np.sin(np.radians(np.asarray(lat_deg, dtype=np.float64)))
    # ln((1 - es) / (1 + es)) via log1p: the plain log of the ratio loses ~1e-12 of a pixel.
    return (1 - E2) * (s / (1 - E2 * s * s) - (np.log1p(-E * s) - np.log1p(E * s)) / (2 * E))


def quad_area(lat, lng):
    """Areas (m2) of quadrilaterals: lat/lng arrays of shape (n, 4)."""
    d = lng - lng[:, :1]
    d = d - 360.0 * np.floor((d + 180.0) / 360.0)
    x = A * np.radians(d)  # relative to corner 0 (translation-invariant, no cancellation)
    y = A * (q_of(lat) - q_of(lat[:, :1])) / 2
    s = np.zeros(lat.shape[0])
    for i in range(4):
        j = (i + 1) % 4
        s += x[:, i] * y[:, j] - x[:, j] * y[:, i]
    return np.abs(s) / 2


def pixel_rows(path, res, nodata=None):
    """Valid pixels: dict of parallel arrays value, cell (uint64), area (m2)."""
    ds = gdal.Open(str(path))
    gt = ds.GetGeoTransform()
    b, data = reference.read_band(ds, 1)
    valid = reference.validity(b, data, nodata)
    rr, cc = np.nonzero(valid)
    x, y = reference.pixel_centres(gt, ds.RasterXSize, ds.RasterYSize)
    x = np.broadcast_to(x, data.shape)[valid]
    y = np.broadcast_to(y, data.shape)[valid]
    srs = ds.GetSpatialRef()
    lng, lat = reference.to_wgs84(srs, x, y)
    lng = reference.normalise_lng(lng)
    cells = np.fromiter((int(h3.latlng_to_cell(float(a), float(o), res), 16)
                         for a, o in zip(lat, lng)), dtype=np.uint64, count=lat.size)
    # Corners (col, row), (col+1, row), (col+1, row+1), (col, row+1).
    dc = np.array([0, 1, 1, 0], dtype=np.float64)
    dr = np.array([0, 0, 1, 1], dtype=np.float64)
    ccx = cc[:, None] + dc[None, :]
    rrx = rr[:, None] + dr[None, :]
    X = gt[0] + ccx * gt[1] + rrx * gt[2]
    Y = gt[3] + ccx * gt[4] + rrx * gt[5]
    if reference.is_wgs84_geographic(srs):
        clng, clat = X, Y
    else:
        clng, clat = reference.to_wgs84(srs, X.ravel(), Y.ravel())
        clng, clat = clng.reshape(X.shape), clat.reshape(Y.shape)
    area = quad_area(clat, clng)
    return {"value": data[valid], "cell": cells, "area": area}


def oracle(px, classes=(), unit=None):
    """Per-cell statistics grouped from pixel rows; dict cell -> dict of stats."""
    order = np.lexsort((px["value"], px["cell"]))
    v, c, a = px["value"][order], px["cell"][order], px["area"][order]
    out = {}
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], c.size]
    for s, e in zip(starts, ends):
        vv, aa = v[s:e], a[s:e]
        fv = vv.astype(np.float64)
        vals, counts = np.unique(vv, return_counts=True)
        mode = vals[np.argmax(counts)]  # np.unique sorts: argmax picks the smallest tie
        r = {"count": e - s, "sum": math.fsum(fv), "min": vv.min(), "max": vv.max(),
             "mode": mode, "area": math.fsum(aa)}
        # Scales of rounding errors (sums of magnitudes): the tolerance of a sum with
        # cancellation is relative to these, not to the (possibly tiny) result.
        r["scale_sum"] = math.fsum(np.abs(fv))
        if unit:
            wsum = math.fsum(fv * aa)
            r["mean"] = wsum / r["area"]
            r["total"] = wsum / unit
            r["scale_total"] = math.fsum(np.abs(fv) * aa) / unit
            r["scale_mean"] = math.fsum(np.abs(fv) * aa) / r["area"]
        else:
            r["mean"] = r["sum"] / r["count"]
            r["scale_mean"] = r["scale_sum"] / r["count"]
        for k in classes:
            m = fv == k
            r[f"frac_{k:g}"] = (math.fsum(aa[m]) / r["area"]) if unit else m.sum() / (e - s)
        out[int(c[s])] = r
    return out


def read_out(out):
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table()
    return t


def by_cell(t, res):
    d = t.to_pydict()
    cells = d[f"h{res}"]
    return {int(c): {k: d[k][i] for k in d} for i, c in enumerate(cells)}


def check_against(got, want, value="value", stats=("count", "sum", "mean", "min", "max", "mode"),
                  rel=1e-12):
    assert set(got) == set(want), f"cells differ: {len(set(got) ^ set(want))}"
    for cell, w in want.items():
        g = got[cell]
        for s in stats:
            col = s if s in ("count", "area") or s.startswith("frac_") else f"{value}_{s}"
            gv, wv = g[col], w[s]
            if s in ("count", "min", "max", "mode"):
                if isinstance(gv, float) and math.isnan(gv):
                    raise AssertionError(f"{cell:x} {col}: NaN")
                assert gv == wv, f"{cell:x} {col}: {gv} != {wv}"
            else:
                r = 1e-9 if s in ("area", "total") else rel
                scale = max(abs(float(wv)), w.get(f"scale_{s}", 0.0))
                assert abs(gv - float(wv)) <= r * scale, f"{cell:x} {col}: {gv!r} != {wv!r}"


def convert(run_cli, src, out, *args):
    p = run_cli("convert", src, out, "--quiet", *args)
    assert p.returncode == 0, p.stderr
    return p


ALL = "count,sum,mean,min,max,mode"


# ---------------------------------------------------------------------------------------------
# Rasters

def uint16_nodata(d):
    rng = np.random.default_rng(7)
    data = rng.integers(0, 2000, (180, 240)).astype(np.uint16)
    data[rng.random(data.shape) < 0.1] = 65535
    data[:5, :] = 17  # many equal values: exercises mode and ties
    return rasters.write_raster(d / "u16.tif", data, gt=(-3.0, 0.01, 0, 46.0, 0, -0.01),
                                nodata=65535)


def float32_nan(d):
    rng = np.random.default_rng(8)
    data = (rng.normal(10, 5, (150, 200))).astype(np.float32)
    data[rng.random(data.shape) < 0.15] = np.nan
    data[10:20, 10:20] = -0.0
    return rasters.write_raster(d / "f32.tif", data, gt=(100.0, 0.013, 0, -20.0, 0, -0.013),
                                nodata=float("nan"))


def float64_geo(d):
    """Float64 values: 64-bit keys leave no room for the row below them (wide rows)."""
    rng = np.random.default_rng(12)
    data = rng.normal(3, 2, (130, 170))
    data[rng.random(data.shape) < 0.1] = -9999.0
    data[:4, :] = 2.5  # ties: the pixel order decides, the sums must not care
    return rasters.write_raster(d / "f64.tif", data, gt=(10.0, 0.011, 0, 60.0, 0, -0.011),
                                nodata=-9999.0)


def projected_f64(d):
    rng = np.random.default_rng(13)
    data = rng.gamma(2.0, 50.0, (110, 130))
    data[rng.random(data.shape) < 0.05] = -1.0
    return rasters.write_raster(d / "utm64.tif", data,
                                gt=(600000.0, 300.0, 0, 4100000.0, 0, -300.0), crs=32633,
                                nodata=-1.0)


def categorical(d):
    rng = np.random.default_rng(9)
    data = rng.choice(np.array([0, 1, 2, 5, 9], dtype=np.uint8), size=(160, 160),
                      p=[0.1, 0.3, 0.3, 0.2, 0.1])
    return rasters.write_raster(d / "cat.tif", data, gt=(179.0, 0.0125, 0, 65.0, 0, -0.0125),
                                nodata=0)


def projected(d):
    rng = np.random.default_rng(10)
    data = rng.integers(1, 500, (120, 140)).astype(np.int16)
    data[rng.random(data.shape) < 0.05] = -1
    return rasters.write_raster(d / "utm.tif", data, gt=(500000.0, 250.0, 0, 5200000.0, 0, -250.0),
                                crs=32633, nodata=-1)


# ---------------------------------------------------------------------------------------------
# Oracle tests

@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("make,res", [(uint16_nodata, 7), (float32_nan, 7), (projected, 7)])
def test_aggregate_matches_oracle(run_cli, raster_dir, tmp_path, make, res, threads):
    src = make(raster_dir)
    out = tmp_path / f"out{threads}"
    convert(run_cli, src, out, "--resolution", res, "--aggregate", "--stat", ALL,
            "--threads", threads)
    got = by_cell(read_out(out), res)
    want = oracle(pixel_rows(src, res))
    check_against(got, want)
    p = run_cli("verify", out, "--input", src)
    assert p.returncode == 0, p.stderr + p.stdout


def test_categorical_mode_and_fractions(run_cli, raster_dir, tmp_path):
    src = categorical(raster_dir)
    out = tmp_path / "out"
    convert(run_cli, src, out, "--resolution", 6, "--aggregate", "--stat",
            "count,mode,min,max,fractions", "--classes", "1,2,5,9,7")
    got = by_cell(read_out(out), 6)
    classes = (1, 2, 5, 9, 7)
    want = oracle(pixel_rows(src, 6), classes=classes)
    check_against(got, want, stats=("count", "mode", "min", "max") +
                  tuple(f"frac_{k}" for k in classes))
    # Fractions of the listed classes that cover all values sum to 1.
    for g in got.values():
        assert math.isclose(g["frac_1"] + g["frac_2"] + g["frac_5"] + g["frac_9"], 1.0,
                            rel_tol=1e-12)
        assert g["frac_7"] == 0.0
    # The raster crosses the antimeridian: more than one partition.
    assert len(list(Path(out).iterdir())) >= 2


def test_spilling_and_work_units_give_identical_results(run_cli, raster_dir, tmp_path):
    rng = np.random.default_rng(11)
    # 1.2 M pixels: more rows than a 16M budget buffers (8-byte packed rows), so it spills.
    data = rng.integers(0, 50, (1100, 1100)).astype(np.uint16)
    src = rasters.write_raster(raster_dir / "big.tif", data,
                               gt=(-2.0, 0.005, 0, 1.5, 0, -0.005), nodata=0)
    res = 6
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    convert(run_cli, src, a, "--resolution", res, "--aggregate", "--stat", ALL, "--threads", 2)
    p = run_cli("convert", src, b, "--resolution", res, "--aggregate", "--stat", ALL,
                "--threads", 1, "--memory", "16M", "--profile", "--quiet")
    assert p.returncode == 0, p.stderr
    spilled = re.search(r"spilled ([0-9.]+) MiB", p.stderr)
    assert spilled and float(spilled.group(1)) > 0, p.stderr
    # Work units: one run per base cell present.
    parts = sorted(d.name for d in Path(a).iterdir() if d.is_dir())
    assert len(parts) >= 2
    for name in parts:
        bc = h3.get_base_cell_number(name[3:])
        convert(run_cli, src, c, "--resolution", res, "--aggregate", "--stat", ALL, "--i", bc)
    ta, tb, tc = (read_out(x).sort_by(f"h{res}") for x in (a, b, c))
    assert ta.equals(tb) and ta.equals(tc)
    for name in parts:  # byte-identical partition files
        fa = (Path(a) / name / "data_0.parquet").read_bytes()
        assert fa == (Path(b) / name / "data_0.parquet").read_bytes()
        assert fa == (Path(c) / name / "data_0.parquet").read_bytes()
    want = oracle(pixel_rows(src, res))
    check_against(by_cell(ta, res), want)


def test_area_rows_spill_and_threads_give_identical_files(run_cli, raster_dir, tmp_path):
    """Projected Float64 densities: wide rows (cell, key, pixel index, area) sorted, spilled
    and merged give the same files as an unspilled run on other threads."""
    rng = np.random.default_rng(14)
    data = rng.integers(0, 6, (520, 500)).astype(np.float64) / 2  # many ties per cell
    src = rasters.write_raster(raster_dir / "utm_big.tif", data,
                               gt=(400000.0, 30.0, 0, 5000000.0, 0, -30.0), crs=32633)
    args = ("--resolution", 9, "--aggregate", "--density-unit", "per-ha", "--stat",
            "count,area,sum,mean,min,max,mode,total,fractions", "--classes", "0,1.5,2.5")
    a, b = tmp_path / "a", tmp_path / "b"
    convert(run_cli, src, a, *args, "--threads", 2)
    p = run_cli("convert", src, b, *args, "--threads", 1, "--memory", "16M", "--profile",
                "--quiet")
    assert p.returncode == 0, p.stderr
    spilled = re.search(r"spilled ([0-9.]+) MiB", p.stderr)
    assert spilled and float(spilled.group(1)) > 0, p.stderr
    files = sorted(x.relative_to(a) for x in Path(a).rglob("*.parquet"))
    assert files and files == sorted(x.relative_to(b) for x in Path(b).rglob("*.parquet"))
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


# ---------------------------------------------------------------------------------------------
# Areas and mass conservation

@pytest.mark.parametrize("make,unit,den", [(float32_nan, "per-ha", 1e4),
                                           (uint16_nodata, "per-km2", 1e6),
                                           (projected, "per-m2", 1.0),
                                           (float64_geo, "per-ha", 1e4),
                                           (projected_f64, "per-ha", 1e4)])
def test_density_mass_conservation(run_cli, raster_dir, tmp_path, make, unit, den):
    src = make(raster_dir)
    out = tmp_path / "out"
    convert(run_cli, src, out, "--resolution", 6, "--aggregate", "--density-unit", unit,
            "--stat", "count,area,total,mean,sum,min,max,mode", "--threads", 2)
    t = read_out(out)
    px = pixel_rows(src, 6)
    want = oracle(px, unit=den)
    # Projected pixels: both sides transform the corners with PROJ, but not bit-identically
    # (~1e-12 of a pixel area); area-weighted means then agree to ~1e-11.
    check_against(by_cell(t, 6), want,
                  stats=("count", "area", "total", "mean", "sum", "min", "max", "mode"),
                  rel=1e-12 if make not in (projected, projected_f64) else 1e-10)
    total = math.fsum(t.column("value_total").to_pylist())
    expect = math.fsum(px["value"].astype(np.float64) * px["area"]) / den
    assert math.isclose(total, expect, rel_tol=1e-9), (total, expect)
    area = math.fsum(t.column("area").to_pylist())
    assert math.isclose(area, math.fsum(px["area"]), rel_tol=1e-9)


def test_geographic_pixel_area_closed_form():
    """The numpy closed form against numerical integration (mpmath, 40 digits) of
    dA = M(phi) N(phi) cos(phi) dphi dlambda = a^2 (1 - e^2) cos(phi) / (1 - e^2 sin^2 phi)^2."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    a_, e2 = mpmath.mpf(A), mpmath.mpf(F) * (2 - mpmath.mpf(F))
    for lat0, lat1 in ((0.0, 1.0), (44.9, 45.0), (89.0, 90.0), (-60.0, -59.99)):
        got = quad_area(np.array([[lat1, lat1, lat0, lat0]]), np.array([[0.0, 1.0, 1.0, 0.0]]))[0]
        f = lambda p: a_ ** 2 * (1 - e2) * mpmath.cos(p) / (1 - e2 * mpmath.sin(p) ** 2) ** 2
        want = mpmath.quad(f, [mpmath.radians(lat0), mpmath.radians(lat1)]) * mpmath.radians(1)
        assert math.isclose(got, float(want), rel_tol=1e-11), (lat0, got, want)


def test_density_of_64bit_values_and_total_without_unit(run_cli, raster_dir, tmp_path):
    data = np.ones((10, 10), dtype=np.float64)
    src = rasters.write_raster(raster_dir / "f64.tif", data, gt=(0, 0.1, 0, 1, 0, -0.1))
    # Pixel areas travel in the rows (wide rows for 64-bit values): no 32-bit limit.
    convert(run_cli, src, tmp_path / "d", "--aggregate", "--density-unit", "per-ha",
            "--resolution", 5)
    t = read_out(tmp_path / "d")
    assert math.isclose(math.fsum(t.column("area").to_pylist()),
                        math.fsum(pixel_rows(src, 5)["area"]), rel_tol=1e-12)
    p = run_cli("convert", src, tmp_path / "o", "--aggregate", "--stat", "total")
    assert p.returncode == 2 and "density-unit" in p.stderr
    p = run_cli("convert", src, tmp_path / "o", "--aggregate", "--stat", "bogus")
    assert p.returncode == 2
    p = run_cli("convert", src, tmp_path / "o", "--stat", "sum")
    assert p.returncode == 2 and "--aggregate" in p.stderr
    # 64-bit values without areas are fine.
    convert(run_cli, src, tmp_path / "ok", "--aggregate", "--stat", ALL, "--resolution", 5)


# ---------------------------------------------------------------------------------------------
# Parents, string cells, readers, verify

def test_parents_and_string_cells(run_cli, raster_dir, tmp_path):
    src = uint16_nodata(raster_dir)
    out_u, out_s = tmp_path / "u", tmp_path / "s"
    convert(run_cli, src, out_u, "--resolution", 7, "--aggregate", "--stat", "count,max",
            "--parents", "0,4,6")
    convert(run_cli, src, out_s, "--resolution", 7, "--aggregate", "--stat", "count,max",
            "--parents", "0,4,6", "--cell-format", "string")
    tu, ts = read_out(out_u), read_out(out_s)
    assert tu.schema.names == ["h7", "parent_h0", "h4", "h6", "count", "value_max", "h0"]
    assert ts.schema.names == tu.schema.names
    assert ts.schema.field("h7").type == pa.string()
    du, ds_ = tu.to_pydict(), ts.to_pydict()
    for i, c in enumerate(du["h7"]):
        s = h3.int_to_str(c)
        assert ds_["h7"][i] == s and len(s) == 15
        assert du["parent_h0"][i] == int(h3.cell_to_parent(s, 0), 16)
        assert ds_["parent_h0"][i] == h3.cell_to_parent(s, 0) == du["h0"][i]
        assert du["h4"][i] == int(h3.cell_to_parent(s, 4), 16)
        assert ds_["h6"][i] == h3.cell_to_parent(s, 6)
    assert du["count"] == ds_["count"]
    for out in (out_u, out_s):
        p = run_cli("verify", out, "--input", src)
        assert p.returncode == 0, p.stderr
    # Pixel mode with parents: one row per pixel, the extra column appended.
    out_p = tmp_path / "p"
    convert(run_cli, src, out_p, "--resolution", 7, "--parents", "5")
    tp = read_out(out_p)
    assert tp.schema.names == ["value", "h7", "h5", "h0"]
    assert tp.num_rows == len(reference.reference_rows(src, 7))
    p = run_cli("convert", src, tmp_path / "bad", "--resolution", 7, "--parents", "7")
    assert p.returncode == 2


def test_all_readers_agree(run_cli, raster_dir, tmp_path):
    src = float32_nan(raster_dir)
    out = tmp_path / "out"
    convert(run_cli, src, out, "--resolution", 6, "--aggregate", "--stat", ALL)
    t = read_out(out).sort_by("h6")
    cols = ["h6", "count", "value_sum", "value_mean", "value_min", "value_max", "value_mode"]
    want = t.select(cols).to_pydict()
    glob = f"{out}/*/*.parquet"
    d = duckdb.sql(f"select {', '.join(cols)} from read_parquet('{glob}', hive_partitioning=true)"
                   " order by h6").fetchall()
    assert [list(r) for r in d] == [list(x) for x in zip(*[want[c] for c in cols])]
    p = pl.read_parquet(f"{out}/**/*.parquet", hive_partitioning=True).sort("h6").select(cols)
    assert p.to_dict(as_series=False) == want
    files = sorted(Path(out).rglob("*.parquet"))
    f = fastparquet.ParquetFile([str(x) for x in files]).to_pandas()
    f = f.sort_values("h6")
    assert [int(x) for x in f["h6"]] == want["h6"]
    assert list(f["value_sum"]) == want["value_sum"]
    meta = pq.ParquetFile(files[0]).schema_arrow.metadata
    assert meta[b"raster2h3:mode"] == b"aggregate"


def test_verify_flags_duplicate_cells(run_cli, raster_dir, tmp_path):
    src = uint16_nodata(raster_dir)
    out = tmp_path / "out"
    convert(run_cli, src, out, "--resolution", 6, "--aggregate", "--stat", "count,max")
    f = next(Path(out).rglob("*.parquet"))
    t = pq.read_table(f)
    t2 = pa.concat_tables([t, t.slice(0, 1)]).sort_by("h6")
    t2 = t2.replace_schema_metadata(t.schema.metadata)
    pq.write_table(t2, f)
    p = run_cli("verify", out)
    assert p.returncode == 6 and "duplicate cells" in p.stderr, p.stderr


def test_aggregate_and_pixel_runs_do_not_mix(run_cli, raster_dir, tmp_path):
    """A pixel-mode dataset is stale for an aggregate run (fingerprint) and is redone."""
    src = uint16_nodata(raster_dir)
    out = tmp_path / "out"
    convert(run_cli, src, out, "--resolution", 6)
    convert(run_cli, src, out, "--resolution", 6, "--aggregate", "--stat", "count")
    t = read_out(out)
    assert "count" in t.schema.names
    assert len(set(t.column("h6").to_pylist())) == t.num_rows


def test_resolution_auto(run_cli, raster_dir, tmp_path):
    src = uint16_nodata(raster_dir)  # 0.01 degree pixels around 45 N
    out = tmp_path / "out"
    p = convert(run_cli, src, out, "--resolution", "auto", "--aggregate")
    m = re.search(r"--resolution auto picked (\d+)", p.stderr)
    assert m, p.stderr
    ds = gdal.Open(str(src))
    gt = ds.GetGeoTransform()
    r, c = ds.RasterYSize // 2, ds.RasterXSize // 2
    lat = np.array([[gt[3] + r * gt[5]] * 2 + [gt[3] + (r + 1) * gt[5]] * 2])
    lng = np.array([[gt[0] + c * gt[1], gt[0] + (c + 1) * gt[1]] * 1 +
                    [gt[0] + (c + 1) * gt[1], gt[0] + c * gt[1]]])
    pa_ = quad_area(lat, lng)[0]
    # The cell where the raster is, not H3's global average (issue 13).
    clat, clng = float(lat.mean()), float(lng.mean())
    best = min(range(16), key=lambda k: abs(math.log(
        h3.cell_area(h3.latlng_to_cell(clat, clng, k), "m^2") / pa_)))
    assert int(m.group(1)) == best
    assert any(n.startswith("h") for n in read_out(out).schema.names)
    assert f"h{best}" in read_out(out).schema.names
