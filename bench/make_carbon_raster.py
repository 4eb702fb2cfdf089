#!/usr/bin/env python3
"""Make carbon-shaped benchmark rasters for raster2h3.

The output mimics Conservation International's vulnerable-carbon COG:

* grid: EPSG:4326, pixel size 0.002694933524973 deg, origin (-180, 90); the
  global grid is 133,584 x 66,792 pixels.  Every raster made here is an exact,
  pixel-aligned window of that global grid.
* UInt16, NoData 65535, DEFLATE-compressed, 512x512-tiled COG with overviews
  (`gdal_translate -of COG`).
* NoData pattern = ocean, taken from REAL data: the GLOBE 30-arc-second
  (1/120 deg) land/ocean mask shipped by the PyPI package `global-land-mask`
  (1.0.0).  That mask is ~3.1x coarser than the carbon grid, so it is sampled
  nearest-neighbour at each pixel centre; coastlines are therefore blocky at
  the 1 km scale.  Globally the mask is 33.2 % land, matching "about a third
  valid" of the real raster.
* Values over land: a deterministic, spatially-correlated synthetic field in
  0..400 (1-degree and 0.1-degree random grids, smoothed, bilinearly
  interpolated, plus per-pixel hash noise).  Values depend only on the global
  pixel (row, col), so every window is a consistent subset of the global
  raster.  The values are NOT real carbon; only shape and sparsity are
  realistic.  Value statistics matter little to the converters; compression
  ratio of the input does depend on them (real data is smoother in places and
  noisier in others).

Sizes:
  --size tile [--scale K]  a square window of round(7000*sqrt(K)) pixels per
                           side centred on western Europe (British Isles,
                           France, N Iberia, North Sea; lon -10..8.9,
                           lat 41.1..60 for K=1).  K=1 is 49 M pixels, ~47 %
                           land.  K=4 -> 14000^2, K=16 -> 28000^2 (same centre).
  --size crop --side N     an N x N window with the same centre (for quick runs).
  --size band --rows N [--row0 R]
                           the full width (133,584 pixels, every longitude) and N rows
                           from global row R (default 14,840: 50 deg N), the shape a
                           work unit or the whole map reads: wide block rows, many
                           partitions, antimeridian on both edges.
  --size global            the full 133,584 x 66,792 grid (8.9 G pixels;
                           ~18 GB uncompressed intermediate; long).

Output: bench/data/carbon-<name>.tif plus carbon-<name>.json (window,
geotransform, land fraction, valid pixel count).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
from osgeo import gdal

gdal.UseExceptions()

PIX = 0.002694933524973
GLOBAL_W = 133584
GLOBAL_H = 66792
NODATA = 65535
TILE_SIDE = 7000
# top-left of the K=1 tile before centring: lon -10, lat 60
TILE_COL0 = int(round((-10.0 + 180.0) / PIX))
TILE_ROW0 = int(round((90.0 - 60.0) / PIX))
CENTER_COL = TILE_COL0 + TILE_SIDE // 2
CENTER_ROW = TILE_ROW0 + TILE_SIDE // 2

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


def load_land_mask():
    """GLOBE land mask from global-land-mask: True = ocean, 21600x43200,
    row 0 = lat 90, col 0 = lon -180, step 1/120 deg."""
    from global_land_mask import globe  # noqa: E402  (benchmark-only dep)
    m = globe._mask
    assert m.shape == (21600, 43200)
    return m


def smooth(a, passes=3, k=3):
    """Cheap separable box blur with wrap in x, clamp in y."""
    for _ in range(passes):
        acc = np.zeros_like(a)
        for d in range(-(k // 2), k // 2 + 1):
            acc += np.roll(a, d, axis=1)
        a = acc / k
        acc = np.zeros_like(a)
        pad = np.pad(a, ((k // 2, k // 2), (0, 0)), mode="edge")
        for d in range(k):
            acc += pad[d:d + a.shape[0]]
        a = acc / k
    return a


def make_fields(seed=20181):
    rng = np.random.default_rng(seed)
    coarse = smooth(rng.random((181, 361)), passes=4)        # 1 deg
    medium = smooth(rng.random((1801, 3601)), passes=3)      # 0.1 deg
    # stretch to 0..1
    coarse = (coarse - coarse.min()) / (coarse.max() - coarse.min())
    medium = (medium - medium.min()) / (medium.max() - medium.min())
    return coarse.astype(np.float32), medium.astype(np.float32)


def bilinear(grid, step_deg, lat, lon):
    """grid[0,0] at (lat 90, lon -180); lat (nrows,), lon (ncols,)."""
    ys = (90.0 - lat) / step_deg
    xs = (lon + 180.0) / step_deg
    y0 = np.clip(np.floor(ys).astype(np.int64), 0, grid.shape[0] - 2)
    x0 = np.clip(np.floor(xs).astype(np.int64), 0, grid.shape[1] - 2)
    wy = (ys - y0).astype(np.float32)[:, None]
    wx = (xs - x0).astype(np.float32)[None, :]
    rows = grid[y0, :] * (1 - wy) + grid[y0 + 1, :] * wy   # (nr, Wg)
    return rows[:, x0] * (1 - wx) + rows[:, x0 + 1] * wx


def hash_noise(rows, cols):
    """Deterministic uniform [0,1) noise from global pixel indices."""
    r = rows.astype(np.uint64)[:, None]
    c = cols.astype(np.uint64)[None, :]
    h = r * np.uint64(0x9E3779B97F4A7C15) ^ (c * np.uint64(0xC2B2AE3D27D4EB4F))
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    return (h >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)


def block_values(row0, nrows, col0, ncols, mask, coarse, medium):
    rows = np.arange(row0, row0 + nrows)
    cols = np.arange(col0, col0 + ncols)
    lat = 90.0 - (rows + 0.5) * PIX
    lon = -180.0 + (cols + 0.5) * PIX
    mi = np.clip(((rows + 0.5) * PIX * 120).astype(np.int64), 0, 21599)
    mj = np.clip(((cols + 0.5) * PIX * 120).astype(np.int64), 0, 43199)
    ocean = mask[mi][:, mj]
    f = 0.55 * bilinear(coarse, 1.0, lat, lon) + 0.30 * bilinear(medium, 0.1, lat, lon)
    f += 0.15 * hash_noise(rows, cols)
    # a little latitude structure: less carbon toward the poles
    f *= np.cos(np.radians(lat)).astype(np.float32)[:, None] * 0.5 + 0.5
    v = np.clip(np.rint(f * 400.0), 0, 400).astype(np.uint16)
    v[ocean] = NODATA
    return v


def window_for(args):
    if args.size == "global":
        return "global", 0, 0, GLOBAL_W, GLOBAL_H
    if args.size == "band":
        if args.row0 < 0 or args.row0 + args.rows > GLOBAL_H:
            sys.exit("band leaves the globe")
        return f"band-{args.rows}", 0, args.row0, GLOBAL_W, args.rows
    if args.size == "tile":
        side = int(round(TILE_SIDE * math.sqrt(args.scale)))
        name = "tile" if args.scale == 1 else f"tile-x{args.scale:g}"
    else:
        side = args.side
        name = f"crop-{side}"
    col0 = CENTER_COL - side // 2
    row0 = CENTER_ROW - side // 2
    if row0 < 0 or row0 + side > GLOBAL_H:
        sys.exit("window leaves the globe; use a smaller scale")
    return name, col0, row0, side, side


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["tile", "crop", "band", "global"], default="tile")
    ap.add_argument("--scale", type=float, default=1,
                    help="tile area multiple (1, 4, 16): side = 7000*sqrt(K)")
    ap.add_argument("--side", type=int, default=2000, help="side for --size crop")
    ap.add_argument("--rows", type=int, default=4096, help="rows for --size band")
    ap.add_argument("--row0", type=int, default=14840, help="first global row for --size band")
    ap.add_argument("--outdir", default=DATA)
    ap.add_argument("--threads", default="2", help="COG NUM_THREADS")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()

    name, col0, row0, w, h = window_for(args)
    os.makedirs(args.outdir, exist_ok=True)
    out = os.path.join(args.outdir, f"carbon-{name}.tif")
    meta_path = out[:-4] + ".json"
    if os.path.exists(out) and os.path.exists(meta_path) and not args.force:
        print(f"exists: {out}")
        return
    tmp = out[:-4] + ".tmp.tif"
    t0 = time.time()
    mask = load_land_mask()
    coarse, medium = make_fields()

    gt = (-180.0 + col0 * PIX, PIX, 0.0, 90.0 - row0 * PIX, 0.0, -PIX)
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(tmp, w, h, 1, gdal.GDT_UInt16,
                    ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "BIGTIFF=IF_SAFER"])
    ds.SetGeoTransform(gt)
    from osgeo import osr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(NODATA)

    valid = 0
    ssum = 0
    BR, BC = 512, 16384
    for r in range(0, h, BR):
        nr = min(BR, h - r)
        for c in range(0, w, BC):
            nc = min(BC, w - c)
            v = block_values(row0 + r, nr, col0 + c, nc, mask, coarse, medium)
            m = v != NODATA
            valid += int(m.sum())
            ssum += int(v[m].sum(dtype=np.uint64))
            band.WriteRaster(c, r, nc, nr, v.tobytes(), nc, nr, gdal.GDT_UInt16)
        if (r // BR) % 20 == 0:
            print(f"  rows {r + nr}/{h}  {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    band.FlushCache()
    ds = None
    t1 = time.time()
    cmd = ["gdal_translate", "-q", "-of", "COG",
           "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=512",
           "-co", "OVERVIEWS=AUTO", "-co", "RESAMPLING=NEAREST",
           "-co", f"NUM_THREADS={args.threads}", "-co", "BIGTIFF=IF_SAFER",
           tmp, out]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    os.remove(tmp)
    t2 = time.time()
    meta = {
        "name": name, "path": out, "width": w, "height": h,
        "global_col0": col0, "global_row0": row0, "geotransform": gt,
        "bbox_lonlat": [gt[0], gt[3] - h * PIX, gt[0] + w * PIX, gt[3]],
        "pixels": w * h, "valid_pixels": valid, "land_fraction": valid / (w * h),
        "value_mean": ssum / max(valid, 1),
        "bytes": os.path.getsize(out),
        "generate_s": round(t1 - t0, 1), "cog_s": round(t2 - t1, 1),
        "mask_source": "global-land-mask 1.0.0 (GLOBE 30 arc-sec), nearest",
    }
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
