"""test_stac.py - the STAC item beside the manifest (OUTPUT/_stac_item.json).

Oracles: the bbox is the input's footprint as GDAL's own osr TransformBounds gives it (densified
the same way), and it holds every row's cell centre (h3-py) within a cell's size; the columns
and row count are those pyarrow reads from the files; id and resolution are the manifest's."""
import json
import math
from datetime import datetime

import h3
import numpy as np
import pyarrow.dataset as pads
import pytest
from osgeo import osr

import rasters


def item_of(out):
    return json.loads((out / "_stac_item.json").read_text())


def check_item(out, res):
    item = item_of(out)
    manifest = json.loads((out / "_manifest.json").read_text())
    table = pads.dataset(out, format="parquet", partitioning="hive").to_table()
    assert item["type"] == "Feature" and item["stac_version"] == "1.0.0"
    assert item["id"] == manifest["fingerprint"]
    props = item["properties"]
    datetime.strptime(props["datetime"], "%Y-%m-%dT%H:%M:%SZ")
    assert props["h3:resolution"] == res
    assert props["table:row_count"] == table.num_rows == manifest["rows"]
    names = [c["name"] for c in props["table:columns"]]
    assert names == [n for n in table.column_names if n != "h0"]
    assert item["assets"]["data"]["href"] == "./"
    assert item["assets"]["manifest"]["href"] == "./_manifest.json"
    return item, table


def inside(bbox, lat, lng, pad):
    w, s, e, n = bbox
    lat_ok = s - pad <= lat <= n + pad
    if w <= e:
        return lat_ok and w - pad <= lng <= e + pad
    return lat_ok and (lng >= w - pad or lng <= e + pad)


def cells_inside(item, table, res):
    pad = 2 * h3.average_hexagon_edge_length(res, unit="km") / 111.0
    cells = table.column(f"h{res}").to_numpy()
    for c in cells[:: max(1, len(cells) // 2000)]:
        lat, lng = h3.cell_to_latlng(h3.int_to_str(int(c)))
        assert inside(item["bbox"], lat, lng, pad / max(math.cos(math.radians(lat)), 0.05))


def test_geographic(run_cli, tmp_path):
    data = np.arange(60 * 80, dtype=np.float32).reshape(60, 80)
    src = rasters.write_raster(tmp_path / "g.tif", data, (8.25, 0.01, 0, 47.5, 0, -0.01), 4326)
    out = tmp_path / "out"
    assert run_cli("convert", src, out, "--resolution", 7, "--quiet").returncode == 0
    item, table = check_item(out, 7)
    assert item["bbox"] == pytest.approx([8.25, 46.9, 9.05, 47.5], abs=1e-12)
    assert item["geometry"]["type"] == "Polygon"
    assert [c["type"] for c in item["properties"]["table:columns"]] == ["float32", "uint64"]
    cells_inside(item, table, 7)


def test_projected_utm(run_cli, tmp_path):
    data = np.arange(50 * 70, dtype=np.uint16).reshape(50, 70)
    gt = (500000.0, 100.0, 0, 5200000.0, 0, -100.0)
    src = rasters.write_raster(tmp_path / "u.tif", data, gt, 32632)
    out = tmp_path / "out"
    assert run_cli("convert", src, out, "--resolution", 9, "--quiet").returncode == 0
    item, table = check_item(out, 9)
    s = osr.SpatialReference()
    s.ImportFromEPSG(32632)
    t = osr.SpatialReference()
    t.ImportFromEPSG(4326)
    t.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(s, t)
    want = ct.TransformBounds(500000.0, 5195000.0, 507000.0, 5200000.0, 21)
    assert item["bbox"] == pytest.approx(list(want), abs=1e-9)
    cells_inside(item, table, 9)


def test_antimeridian_and_verify(run_cli, tmp_path):
    """170E..190E (a 0..360 raster): west > east, the geometry the two sides; verify
    --write-manifest (the work-unit route) writes the same item but for the id and datetime."""
    data = np.ones((40, 200), dtype=np.uint8)
    src = rasters.write_raster(tmp_path / "a.tif", data, (170.0, 0.1, 0, 10.0, 0, -0.1), 4326)
    out = tmp_path / "out"
    assert run_cli("convert", src, out, "--resolution", 5, "--quiet").returncode == 0
    item, table = check_item(out, 5)
    assert item["bbox"] == pytest.approx([170.0, 6.0, -170.0, 10.0], abs=1e-12)
    assert item["geometry"]["type"] == "MultiPolygon"
    cells_inside(item, table, 5)
    (out / "_stac_item.json").unlink()
    (out / "_manifest.json").unlink()
    p = run_cli("verify", out, "--input", src, "--write-manifest")
    assert p.returncode == 0, p.stdout + p.stderr
    again, _ = check_item(out, 5)
    for k in ("bbox", "geometry", "assets"):
        assert again[k] == item[k]
    assert again["properties"]["table:columns"] == item["properties"]["table:columns"]
