"""test_geo_edges.py - geographic edge rules (issue 11 items 13 and 15): pixels beyond +-90
latitude and longitudes repeated by rasters wider than 360 degrees are dropped with a warning,
pixels whose transform to WGS84 fails are counted in a warning, and `preview --extent data`
keeps data across the antimeridian in one piece.

Oracles: GDAL for pixels and centres, osr for transforms, h3-py for cells (reference.py, which
applies the same rule: reference.off_globe), pyarrow for reading outputs.
"""
import re

import h3
import numpy as np
import pyarrow.dataset as pads
import pytest
from osgeo import gdal, osr

import rasters
import reference
from reference import canonical, diff_rows, reference_rows
from test_convert_oracle import check_convert, convert_ok, read_pyarrow
from test_info_preview import decode_png

gdal.UseExceptions()

WARN_CT = re.compile(r"raster2h3: warning: (\d+) of (\d+) valid pixels \(([\d.]+) ?%\) could not "
                     r"be transformed to WGS84")


def expected_drops(path, nodata=None):
    """(pole, repeat) counts of valid pixels the rule drops, from GDAL and reference.off_globe."""
    ds = gdal.Open(str(path))
    b, data = reference.read_band(ds, 1)
    valid = reference.validity(b, data, nodata)
    pole, repeat = reference.off_globe(ds.GetGeoTransform(), ds.RasterXSize, ds.RasterYSize)
    return int((pole & valid).sum()), int((repeat & valid).sum())


def warned(stderr):
    """(pole, repeat) counts in the run's one off-globe warning line (0 for a missing part)."""
    lines = [ln for ln in stderr.splitlines() if "warning: dropped" in ln]
    assert len(lines) <= 1, f"more than one off-globe warning: {lines}"
    if not lines:
        return 0, 0
    m = re.search(r"(\d+) valid pixels? whose centre latitude is outside", lines[0])
    r = re.search(r"(\d+) valid pixels? (?:that )?repeat", lines[0])
    return (int(m.group(1)) if m else 0), (int(r.group(1)) if r else 0)


def beyond_pole_raster(path, gt=(10.0, 1.0, 0.0, 100.0, 0.0, -1.0)):
    """EPSG:4326, lng 10..30, lat 100..-100 (1 degree): 10 rows beyond each pole; some NoData."""
    data = rasters.random_values("int16", (200, 20), seed=31)
    data[data == -1] = 0
    data[::7, ::3] = -1
    return rasters.write_raster(path, data, gt, 4326, nodata=-1)


def wide_raster(path, dx=0.5, west=0.0, east=380.0, lat=10.0):
    """EPSG:4326 from lng `west` to `east` (wider than 360 degrees), lat `lat`..-`lat`."""
    cols, rows = int(round((east - west) / dx)), int(round(2 * lat / dx))
    data = rasters.random_values("uint16", (rows, cols), seed=37)
    data[data == 65535] = 0
    data[5::11, 2::13] = 65535
    return rasters.write_raster(path, data, (west, dx, 0.0, lat, 0.0, -dx), 4326, nodata=65535)


@pytest.mark.parametrize("index", ["fast", "reference"])
def test_beyond_pole_dropped_with_warning(run_cli, raster_dir, tmp_path, index):
    r = beyond_pole_raster(raster_dir / "p.tif")
    pole, repeat = expected_drops(r)
    # 10 rows of 20 beyond each pole, less the NoData of rows 0, 7 and 196 (7 pixels each).
    assert pole == 2 * 10 * 20 - 3 * 7 and repeat == 0
    proc = run_cli("convert", r, tmp_path / "out", "--resolution", 3, "--index", index,
                   "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    assert warned(proc.stderr) == (pole, 0), proc.stderr
    got = read_pyarrow(tmp_path / "out", 3, "value", np.dtype("int16"))
    d = diff_rows(reference_rows(r, 3), got)
    assert not d, d


def test_beyond_pole_rotated_grid(run_cli, raster_dir, tmp_path):
    """A rotated geographic grid (the general locate path): the rule holds per pixel."""
    r = beyond_pole_raster(raster_dir / "rot.tif", gt=(10.0, 1.0, 0.02, 100.0, 0.003, -1.0))
    pole, repeat = expected_drops(r)
    assert pole > 0 and repeat == 0
    proc = run_cli("convert", r, tmp_path / "out", "--resolution", 3, "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    assert warned(proc.stderr) == (pole, 0), proc.stderr
    got = read_pyarrow(tmp_path / "out", 3, "value", np.dtype("int16"))
    d = diff_rows(reference_rows(r, 3), got)
    assert not d, d


@pytest.mark.parametrize("index", ["fast", "reference"])
def test_wider_than_360_counts_each_longitude_once(run_cli, raster_dir, tmp_path, index):
    r = wide_raster(raster_dir / "w.tif")
    pole, repeat = expected_drops(r)
    # Columns 720..759 (centres 360.25..379.75) repeat columns 0..39; NoData aside.
    ds = gdal.Open(r)
    _, data = reference.read_band(ds, 1)
    assert pole == 0 and repeat == int((data[:, 720:] != 65535).sum()) > 0
    proc = run_cli("convert", r, tmp_path / "out", "--resolution", 4, "--index", index,
                   "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    assert warned(proc.stderr) == (0, repeat), proc.stderr
    assert "first" in proc.stderr  # says which copy is kept
    got = read_pyarrow(tmp_path / "out", 4, "value", np.dtype("uint16"))
    expect = reference_rows(r, 4)
    assert len(expect) == int((data[:, :720] != 65535).sum())
    d = diff_rows(expect, got)
    assert not d, d
    # verify --input counts with the same rule.
    v = run_cli("verify", tmp_path / "out", "--input", r)
    assert v.returncode == 0, v.stderr


def test_wider_than_360_work_units_and_aggregate(run_cli, raster_dir, tmp_path):
    r = wide_raster(raster_dir / "w.tif", dx=1.0, west=-200.0, east=190.0, lat=30.0)
    res = 2
    pole, repeat = expected_drops(r)
    assert pole == 0 and repeat > 0
    whole = check_convert(run_cli, r, tmp_path / "whole", res)
    units = sorted(set(reference.base_cells(whole.cell).tolist()))
    parts, warned_repeat = [], 0
    for n in units:
        out = tmp_path / f"u{n}"
        proc = run_cli("convert", r, out, "--resolution", res, "--i", n, "--progress", "none")
        assert proc.returncode == 0, proc.stderr
        warned_repeat += warned(proc.stderr)[1]
        parts.append(read_pyarrow(out, res, "value", np.dtype("uint16")))
        v = run_cli("verify", out, "--input", r, "--i", n)
        assert v.returncode == 0, v.stderr
    union = canonical(np.concatenate([p.h0 for p in parts]),
                      np.concatenate([p.value for p in parts]),
                      np.concatenate([p.cell for p in parts]))
    d = diff_rows(whole, union)
    assert not d, d
    assert warned_repeat >= repeat  # each unit counts the repeats in the windows it reads
    agg = tmp_path / "agg"
    proc = run_cli("convert", r, agg, "--resolution", res, "--aggregate", "--stat", "count",
                   "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    assert warned(proc.stderr) == (0, repeat), proc.stderr
    t = pads.dataset(str(agg), format="parquet", partitioning="hive").to_table()
    cells, counts = np.unique(whole.cell, return_counts=True)
    got = dict(zip(t.column(f"h{res}").to_pylist(), t.column("count").to_pylist()))
    assert got == dict(zip(cells.tolist(), counts.tolist()))


def test_ordinary_global_raster_no_warning(run_cli, raster_dir, tmp_path):
    """360 degrees wide, centres within +-90: nothing dropped, no warning."""
    r = rasters.global_grid(raster_dir / "g.tif", dx=2.0, west=0.0)
    proc = convert_ok(run_cli, r, tmp_path / "out", 1)
    assert "warning" not in proc.stderr
    assert expected_drops(r) == (0, 0)


def test_real_etopo20(run_cli, testdata, tmp_path):
    """ferret-datasets' ETOPO20 spans lng 20..380.33: its last column repeats its first."""
    src = next((p for k, p in testdata.items() if "etopo20" in k.lower()), None)
    if src is None:
        pytest.skip("ETOPO20 (ferret-datasets) not in fetch_testdata.sh's list")
    # The netCDF file has no CRS: a VRT states EPSG:4326 (the file's lat/lng degrees).
    path = str(tmp_path / "etopo20.vrt")
    gdal.Translate(path, str(src), format="VRT", outputSRS="EPSG:4326")
    pole, repeat = expected_drops(path)
    assert pole == 0 and repeat == gdal.Open(path).RasterYSize  # the last column
    proc = run_cli("convert", path, tmp_path / "out", "--resolution", 2, "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    assert warned(proc.stderr) == (0, repeat), proc.stderr
    got = read_pyarrow(tmp_path / "out", 2, reference.expected_value_name(path),
                       reference.value_dtype(path))
    d = diff_rows(reference_rows(path, 2), got)
    assert not d, d


def test_projected_transform_failures_warned(run_cli, raster_dir, tmp_path):
    """EPSG:3035 (LAEA Europe) far beyond its disc: the inverse projection fails there."""
    dx = 250_000.0
    cols, rows = 120, 100
    data = rasters.random_values("uint8", (rows, cols), seed=41)
    data[data == 0] = 1
    gt = (-10_000_000.0, dx, 0.0, 15_000_000.0, 0.0, -dx)
    r = rasters.write_raster(raster_dir / "laea.tif", data, gt, 3035, nodata=0)
    x, y = reference.pixel_centres(gt, cols, rows)
    x = np.broadcast_to(x, (rows, cols)).ravel()
    y = np.broadcast_to(y, (rows, cols)).ravel()
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3035)
    lng, lat = reference.to_wgs84(srs, x, y)
    failed = int((~(np.isfinite(lng) & np.isfinite(lat))).sum())
    assert 0 < failed < cols * rows
    proc = run_cli("convert", r, tmp_path / "out", "--resolution", 2, "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    lines = [m for m in map(WARN_CT.search, proc.stderr.splitlines()) if m]
    assert len(lines) == 1, proc.stderr
    assert int(lines[0].group(1)) == failed and int(lines[0].group(2)) == cols * rows
    assert abs(float(lines[0].group(3)) - 100.0 * failed / (cols * rows)) < 0.1
    got = read_pyarrow(tmp_path / "out", 2, "value", np.dtype("uint8"))
    d = diff_rows(reference_rows(r, 2), got)
    assert not d, d


def test_preview_data_extent_across_antimeridian(run_cli, raster_dir, tmp_path):
    """Data from 170E to 170W is drawn as one 20-degree-wide block, not squeezed into a strip
    between -180 and 180."""
    data = rasters.random_values("uint8", (100, 200), seed=43)
    r = rasters.write_raster(raster_dir / "am.tif", data, (170.0, 0.1, 0.0, 10.0, 0.0, -0.1), 4326)
    out = tmp_path / "out"
    convert_ok(run_cli, r, out, 4)
    png = tmp_path / "am.png"
    p = run_cli("preview", out, png, "--width", 400, "--extent", "data")
    assert p.returncode == 0, p.stderr
    img = decode_png(png)
    mh = img.shape[0] - 28  # map rows above the legend
    # Oracle extent: the cell centres (h3-py), unwrapped into 0..360, with preview's 5% margin.
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table()
    ll = np.array([h3.cell_to_latlng(h3.int_to_str(c)) for c in set(t.column("h4").to_pylist())])
    lng = np.where(ll[:, 1] < 0, ll[:, 1] + 360, ll[:, 1])
    span_lng, span_lat = np.ptp(lng) * 1.1, np.ptp(ll[:, 0]) * 1.1
    assert 19 < np.ptp(lng) < 21
    assert abs(mh - 400 * span_lat / span_lng) <= 2, (img.shape, span_lat, span_lng)
    drawn = (img[:mh, :, 3] == 255).any(axis=0)
    assert drawn.mean() > 0.85, drawn.mean()  # the data fills the width (margins aside)
    # Each cell's centre is coloured where the shifted frame puts it.
    lng0 = lng.min() - (np.ptp(lng)) * 0.05 - 1e-3
    lat1 = ll[:, 0].max() + np.ptp(ll[:, 0]) * 0.05 + 1e-3
    sx = 400 / (np.ptp(lng) * 1.1 + 2e-3)
    sy = mh / (np.ptp(ll[:, 0]) * 1.1 + 2e-3)
    for (la, _), g in list(zip(ll, lng))[:300]:
        x, y = int((g - lng0) * sx), int((lat1 - la) * sy)
        assert img[min(y, mh - 1), min(x, 399), 3] == 255, (la, g)
