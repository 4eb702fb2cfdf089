#!/usr/bin/env python3
"""Python re-creation of the seed workflow (boettiger-lab/datasets carbon/job.py,
commit d86b54c), run for all 122 H3 resolution-0 cells in one process.

Per h0 cell (as the seed does per Kubernetes index):
  1. planar hexagon: h3.cell_to_boundary(h0) -> lon/lat polygon (the seed read
     the same planar polygons from h0-valid.parquet);
  2. gdal.Warp(<tmp>.xyz, INPUT, dstSRS=EPSG:4326, cutline=<hexagon>,
     cropToCutline=True) -> GDAL XYZ text file (nearest, no xRes/yRes);
  3. read it back with DuckDB read_csv(delim=' ', X FLOAT, Y FLOAT, Z INTEGER),
     drop Z = 65535;
  4. h8 = latlng_to_cell(Y, X, 8) and h0 = latlng_to_cell(Y, X, 0) per point.
     The seed used the DuckDB h3 community extension
     (h3_latlng_to_cell_string); that extension cannot be installed offline,
     so this uses h3-py 4.5.0 `h3.latlng_to_cell` (string API) in a Python
     loop over the float32->float64 coordinates (h3-py 4 has no vectorised
     latlng_to_cell);
  5. write OUTPUT/h0=<h0>/data_0.parquet with pyarrow (snappy, 122,880-row
     row groups = DuckDB COPY defaults the seed got through ibis).

Schema (--schema seed, default): carbon int32, h8 string, h0 string, one row
per pixel, as the seed wrote.  --schema raster2h3 writes value uint16 + h8
uint64 (raster2h3's schema) for a like-for-like output-size comparison.

Deviations, all forced by the environment or by running on a window instead
of the global raster:
  * GDAL 3.6's Python Warp() has no cutlineWKT= (added in 3.7); the hexagon is
    passed as a one-feature GeoJSON in /vsimem (3.7+ does the equivalent
    internally).
  * --crop raster (default): on a raster WINDOW, cropToCutline would emit the
    whole cell envelope (e.g. 13,137 x 8,246 pixels for 8019fffffffffff),
    almost all of it outside the window, which the seed never paid for on the
    global raster.  So the output grid is instead the source pixel grid
    clipped to (cutline envelope  AND  raster extent); the cutline still masks
    pixels.  On the global raster this is the same grid cropToCutline gives
    (GDAL snaps it to the source grid).  --crop cutline keeps cropToCutline
    literally.
  * --antimeridian seed (default) keeps the seed's bug: the 10-ish cells that
    straddle +-180 get planar polygons "joined the long way round", whose
    planar bbox (and polygon) cover a whole latitude band, so they pick up
    pixels far from the antimeridian and write them a second time under the
    wrong h0.  --antimeridian skip drops those cells (a window not touching
    +-180 then gets each pixel once).
"""
import argparse
import json
import os
import shutil
import sys
import time

import duckdb
import h3
import pyarrow as pa
import pyarrow.parquet as pq
from osgeo import gdal, ogr

gdal.UseExceptions()
ogr.UseExceptions()
NODATA = 65535


def h0_cells():
    # deterministic order (the seed's `i` was an arbitrary permutation)
    return sorted(h3.get_res0_cells())


def planar_ring(h0):
    b = h3.cell_to_boundary(h0)  # ((lat, lng), ...)
    ring = [[lng, lat] for lat, lng in b]
    ring.append(ring[0])
    return ring


def crosses_antimeridian(ring):
    xs = [p[0] for p in ring]
    return max(xs) - min(xs) > 180.0


def process_cell(h0, src, ds_info, args, tmpdir, con, times):
    ring = planar_ring(h0)
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    minx, maxx, miny, maxy = min(xs), max(xs), min(ys), max(ys)
    rx0, ry0, rx1, ry1 = ds_info["bbox"]
    if maxx < rx0 or minx > rx1 or maxy < ry0 or miny > ry1:
        return None  # planar bbox misses the raster: skipped
    am = crosses_antimeridian(ring)
    if am and args.antimeridian == "skip":
        return None
    # the seed read ST_MakeValid'ed polygons ("h0-valid.parquet"); planar
    # antimeridian rings self-intersect, so make them valid the same way
    geom = ogr.CreateGeometryFromJson(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    if not geom.IsValid():
        geom = geom.MakeValid()
    gj = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {},
        "geometry": json.loads(geom.ExportToJson())}]}
    cut = f"/vsimem/cut_{h0}.geojson"
    gdal.FileFromMemBuffer(cut, json.dumps(gj))
    xyz = os.path.join(tmpdir, "carbon.xyz")
    t0 = time.perf_counter()
    kw = dict(format="XYZ", dstSRS="EPSG:4326", cutlineDSName=cut)
    if args.crop == "cutline":
        kw["cropToCutline"] = True
    else:
        # source grid clipped to (cutline envelope AND raster extent)
        gx0, px, _, gy0, _, py = ds_info["gt"]
        px_ = abs(px)
        py_ = abs(py)
        import math
        c0 = max(0, math.floor((max(minx, rx0) - gx0) / px_))
        c1 = min(ds_info["w"], math.ceil((min(maxx, rx1) - gx0) / px_))
        r0 = max(0, math.floor((gy0 - min(maxy, ry1)) / py_))
        r1 = min(ds_info["h"], math.ceil((gy0 - max(miny, ry0)) / py_))
        if c1 <= c0 or r1 <= r0:
            return None
        kw["outputBounds"] = (gx0 + c0 * px_, gy0 - r1 * py_, gx0 + c1 * px_, gy0 - r0 * py_)
        kw["xRes"] = px_
        kw["yRes"] = py_
    out = gdal.Warp(xyz, src, **kw)
    if out is None:
        raise RuntimeError(f"gdal.Warp failed for {h0}")
    wsize = (out.RasterXSize, out.RasterYSize)
    out = None
    gdal.Unlink(cut)
    t1 = time.perf_counter()
    xyz_bytes = os.path.getsize(xyz)
    rel = con.read_csv(xyz, delimiter=" ", header=False,
                       columns={"X": "FLOAT", "Y": "FLOAT", "Z": "INTEGER"})
    arr = rel.filter(f"Z != {NODATA}").fetchnumpy()
    X, Y, Z = arr["X"], arr["Y"], arr["Z"]
    t2 = time.perf_counter()
    lat = Y.astype("float64").tolist()
    lng = X.astype("float64").tolist()
    if args.schema == "seed":
        h8 = [h3.latlng_to_cell(a, b, args.resolution) for a, b in zip(lat, lng)]
        hz = [h3.latlng_to_cell(a, b, 0) for a, b in zip(lat, lng)]
        tbl = pa.table({"carbon": pa.array(Z, pa.int32()),
                        f"h{args.resolution}": pa.array(h8, pa.string()),
                        "h0": pa.array(hz, pa.string())})
    else:
        from h3.api import basic_int
        h8 = [basic_int.latlng_to_cell(a, b, args.resolution) for a, b in zip(lat, lng)]
        tbl = pa.table({"value": pa.array(Z.astype("uint16"), pa.uint16()),
                        f"h{args.resolution}": pa.array(h8, pa.uint64())})
    t3 = time.perf_counter()
    d = os.path.join(args.output, f"h0={h0}")
    os.makedirs(d, exist_ok=True)
    pq.write_table(tbl, os.path.join(d, "data_0.parquet"),
                   compression="snappy", row_group_size=122880)
    t4 = time.perf_counter()
    os.remove(xyz)
    for k, v in (("warp_xyz", t1 - t0), ("read_filter", t2 - t1),
                 ("h3", t3 - t2), ("write", t4 - t3)):
        times[k] = times.get(k, 0.0) + v
    return {"h0": h0, "antimeridian": am, "warp_px": wsize, "xyz_bytes": xyz_bytes,
            "rows": tbl.num_rows, "s": round(t4 - t0, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--resolution", type=int, default=8)
    ap.add_argument("--i", type=int, default=None, help="only this index (0-121, sorted cell order)")
    ap.add_argument("--schema", choices=["seed", "raster2h3"], default="seed")
    ap.add_argument("--crop", choices=["raster", "cutline"], default="raster")
    ap.add_argument("--antimeridian", choices=["seed", "skip"], default="seed")
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--summary", default=None, help="write per-cell JSON summary here")
    args = ap.parse_args()

    src = gdal.Open(args.input)
    gt = src.GetGeoTransform()
    w, h = src.RasterXSize, src.RasterYSize
    ds_info = {"gt": gt, "w": w, "h": h,
               "bbox": (gt[0], gt[3] + h * gt[5], gt[0] + w * gt[1], gt[3])}
    if os.path.exists(args.output):
        shutil.rmtree(args.output)
    os.makedirs(args.output)
    tmpdir = args.tmpdir or args.output + ".tmp"
    os.makedirs(tmpdir, exist_ok=True)
    con = duckdb.connect()
    cells = h0_cells()
    if args.i is not None:
        cells = [cells[args.i]]
    times, done = {}, []
    t0 = time.perf_counter()
    for c in cells:
        r = process_cell(c, args.input, ds_info, args, tmpdir, con, times)
        if r:
            done.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    shutil.rmtree(tmpdir, ignore_errors=True)
    summ = {"cells_processed": len(done), "rows": sum(r["rows"] for r in done),
            "rows_from_antimeridian_cells": sum(r["rows"] for r in done if r["antimeridian"]),
            "xyz_bytes": sum(r["xyz_bytes"] for r in done),
            "phase_s": {k: round(v, 2) for k, v in times.items()}, "total_s": round(total, 2),
            "cells": done}
    print(json.dumps({k: v for k, v in summ.items() if k != "cells"}), file=sys.stderr)
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(summ, f, indent=1)


if __name__ == "__main__":
    main()
