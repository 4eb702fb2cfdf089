"""Oracle tests of `convert --method overlay` (issue 14): every cell whose polygon covers valid
pixels gets one row, in its base cell's partition, with statistics equal to those computed from
GEOS intersection areas of each pixel with the cell's polygon (overlay_reference.py; 1e-9
relative) and to exactextract 0.3.0's coverage fractions (within their float32 rounding: its
fractions are float32 of the exact ones, see test_exactextract_fractions_are_float32)."""
import math

import h3
import numpy as np
import pyarrow.dataset as pads
import pytest
from osgeo import gdal

from overlay_reference import overlay_reference
from rasters import random_values, write_raster

gdal.UseExceptions()


def _data(rows, cols, dtype="float32", seed=11, holes=True):
    d = random_values(dtype, (rows, cols), seed)
    if np.dtype(dtype).kind == "f":
        d = np.round(np.abs(d) % 1000, 3).astype(dtype)
        d[~np.isfinite(d)] = 1
    if holes:
        d[rows // 3:rows // 3 + 3, cols // 4:cols // 4 + 4] = -9999
        d.flat[::17] = -9999
    return d


def _projected(path, epsg, x, y, dx, cols, rows):
    gt = (x - cols / 2 * dx, dx, 0.0, y + rows / 2 * dx, 0.0, -dx)
    return write_raster(path, _data(rows, cols), gt, epsg, nodata=-9999)


def _geo(path, lat, lng, dx, cols, rows, gt=None):
    gt = gt or (lng - cols / 2 * dx, dx, 0.0, lat + rows / 2 * dx, 0.0, -dx)
    return write_raster(path, _data(rows, cols), gt, 4326, nodata=-9999)


def _pentagon_centre(n):
    return h3.cell_to_latlng(h3.int_to_str(0x08001FFFFFFFFFFF | (n << 45)))


# name: (builder, [resolution with cells larger than pixels, resolution with cells about a pixel])
RASTERS = {
    "geo": (lambda p: _geo(p, 45.0, 7.0, 0.01, 40, 30), [6, 8]),
    "utm": (lambda p: _projected(p, 32633, 500000, 5200000, 250, 40, 40), [7, 9]),
    "polar_north_3413": (lambda p: _projected(p, 3413, 0, 0, 25000, 40, 40), [3, 5]),
    "polar_south_3031": (lambda p: _projected(p, 3031, 0, 0, 25000, 40, 40), [3, 5]),
    "lon_0_360": (lambda p: write_raster(p, _data(36, 72), (0.0, 5.0, 0.0, 90.0, 0.0, -5.0),
                                         4326, nodata=-9999), [1, 2]),
    "antimeridian": (lambda p: _geo(p, -17.0, 180.0, 0.02, 40, 30), [5, 7]),
    "rotated": (lambda p: _geo(p, 45.0, 7.0, 0.05, 16, 12,
                               gt=(6.5, 0.05, 0.01, 45.3, 0.012, -0.05)), [5, 7]),
    "pentagon_4": (lambda p: _geo(p, *_pentagon_centre(4), 0.05, 24, 24), [4, 6]),
}


@pytest.fixture(scope="module")
def rasters(tmp_path_factory):
    d = tmp_path_factory.mktemp("overlay-rasters")
    return {k: b(d / f"{k}.tif") for k, (b, _) in RASTERS.items()}


STATS = "count,sum,mean,coverage,min,max,mode"


def read_rows(out, res):
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table()
    d = t.to_pydict()
    cells = d.pop(f"h{res}")
    h0 = d.pop("h0")
    return cells, h0, d


def convert(run_cli, src, out, res, *args):
    p = run_cli("convert", str(src), str(out), "--resolution", str(res), "--method", "overlay",
                "--quiet", *args)
    assert p.returncode == 0, p.stderr
    return read_rows(out, res)


def _close(a, b, rel=1e-9, abs_=1e-12):
    return abs(a - b) <= rel * max(abs(a), abs(b)) + abs_


def check_against(cells, h0, cols, ref, vn="value"):
    assert len(cells) == len(set(cells)), "a cell has two rows"
    assert sorted(cells) == sorted(ref), (
        f"cells differ: {len(set(cells) - set(ref))} extra, {len(set(ref) - set(cells))} missing")
    bad = []
    for i, c in enumerate(cells):
        s = ref[c]
        assert h0[i] == h3.cell_to_parent(h3.int_to_str(c), 0), "wrong partition"
        for k, col in (("sum", f"{vn}_sum"), ("mean", f"{vn}_mean"), ("coverage", "coverage")):
            if not _close(cols[col][i], s[k]):
                bad.append((hex(c), k, cols[col][i], s[k]))
        for k, col in (("count", "count"), ("min", f"{vn}_min"), ("max", f"{vn}_max"),
                       ("mode", f"{vn}_mode")):
            if cols[col][i] != s[k]:
                bad.append((hex(c), k, cols[col][i], s[k]))
    assert not bad, f"{len(bad)} differences, e.g. {bad[:5]}"


CASES = [(k, r) for k, (_, rs) in RASTERS.items() for r in rs]


@pytest.mark.parametrize("name,res", CASES)
def test_equals_geos_reference(run_cli, rasters, tmp_path, name, res):
    cells, h0, cols = convert(run_cli, rasters[name], tmp_path / "o", res, "--stat", STATS)
    ref, _ = overlay_reference(rasters[name], res)
    assert ref, "the reference has no cells: a test that cannot fail"
    check_against(cells, h0, cols, ref)


@pytest.mark.parametrize("name,res", [c for c in CASES if c[0] != "rotated"])
def test_equals_exactextract(run_cli, rasters, tmp_path, name, res):
    cells, _, cols = convert(run_cli, rasters[name], tmp_path / "o", res, "--stat", STATS)
    ref, _ = overlay_reference(rasters[name], res, engine="exactextract")
    # exactextract's fractions are float32: a fraction of 1e-9 or less may round away
    assert set(ref) <= set(cells)
    bad = []
    for i, c in enumerate(cells):
        if c not in ref:
            continue
        s = ref[c]
        if abs(cols["value_sum"][i] - s["sum"]) > s["bound_sum"]:
            bad.append((hex(c), "sum", cols["value_sum"][i], s["sum"], s["bound_sum"]))
        if abs(cols["coverage"][i] - s["coverage"]) > s["bound_cover"]:
            bad.append((hex(c), "coverage", cols["coverage"][i], s["coverage"]))
        if not _close(cols["value_mean"][i], s["mean"], rel=2.0 ** -23):
            bad.append((hex(c), "mean", cols["value_mean"][i], s["mean"]))
    assert not bad, f"{len(bad)} differences, e.g. {bad[:5]}"
