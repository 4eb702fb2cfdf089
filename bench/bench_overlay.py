#!/usr/bin/env python3
"""Side-by-side benchmark of exact-area overlay (issue 14): raster2h3 --method overlay vs
raster2dggs --overlay weighted, on the same raster at the same resolution, one after another in
this one script.

  raster2h3        build/raster2h3 convert IN OUT --resolution R --method overlay --stat STATS
                   --memory M --quiet (all cores; end to end: read, polygons, coverage,
                   statistics, Parquet zstd files)
  raster2dggs      .venv-bench/bin/raster2dggs h3 IN OUT -r R -p 1 --overlay weighted
                   (-p 1: its parallel mode is slower on 2 cores)

Per run: wall seconds, peak RSS (/usr/bin/time -v), cells written (rows of the Parquet files,
DuckDB) and valid px/s = the raster's valid pixels (counted with GDAL here) / wall. Ratios are
raster2h3's against each peer, same raster, same resolution.

Usage:
  .venv/bin/python bench/bench_overlay.py --raster bench/data/carbon-tile.tif --res 8 \\
      --tools raster2h3 [--repeat 3] [--memory 256M]
  .venv/bin/python bench/bench_overlay.py --raster bench/data/carbon-crop-3000.tif --res 8 \\
      --tools raster2h3,raster2dggs
Writes bench/out/overlay-<raster>.json and prints a markdown table.
"""
import argparse
import json
import os
import shutil
import statistics
import sys

# the same timing, row counting and paths as the sample benchmark beside it
from bench_sample import OUT, R2D, R2H3, parquet_rows, timed


def valid_pixels(raster):
    """Valid pixels of band 1 (not NoData), counted block row by block row with GDAL."""
    import numpy as np
    from osgeo import gdal
    ds = gdal.Open(raster)
    b = ds.GetRasterBand(1)
    nd = b.GetNoDataValue()
    n = 0
    for y in range(0, ds.RasterYSize, 512):
        h = min(512, ds.RasterYSize - y)
        a = np.frombuffer(b.ReadRaster(0, y, ds.RasterXSize, h, buf_type=gdal.GDT_Float64),
                          dtype=np.float64)
        n += int(np.count_nonzero(np.isfinite(a) & (a != nd if nd is not None else True)))
    return n


def run_tool(tool, raster, res, memory, stats, out):
    shutil.rmtree(out, ignore_errors=True)
    if tool == "raster2h3":
        secs, rss, _ = timed([R2H3, "convert", raster, out, "--resolution", str(res), "--method",
                              "overlay", "--stat", stats, "--memory", memory, "--quiet"])
        return secs, rss, parquet_rows(out)
    if tool == "raster2dggs":
        secs, rss, _ = timed([R2D, "h3", raster, out, "-r", str(res), "-p", "1", "--overlay",
                              "weighted"])
        return secs, rss, parquet_rows(out)
    raise ValueError(tool)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--raster", required=True)
    ap.add_argument("--res", default="8")
    ap.add_argument("--tools", default="raster2h3")
    ap.add_argument("--stat", default="mean,coverage")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory", default="256M")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    tools = a.tools.split(",")
    name = os.path.splitext(os.path.basename(a.raster))[0]
    results = []
    valid = valid_pixels(a.raster)
    for res in [int(r) for r in a.res.split(",")]:
        for tool in tools:
            reps = 1 if tool == "raster2dggs" else a.repeat
            runs = [run_tool(tool, a.raster, res, a.memory, a.stat,
                             os.path.join(OUT, f"overlay-{tool}")) for _ in range(reps)]
            secs = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            cells = runs[0][2]
            results.append({"raster": name, "res": res, "tool": tool, "runs": reps,
                            "wall_s": [r[0] for r in runs], "median_s": secs, "peak_rss_mib": rss,
                            "cells": cells, "valid_px": valid,
                            "valid_px_per_s": valid / secs if secs else 0})
            print(f"{name} r{res} {tool}: {secs:.2f} s, {cells} cells, "
                  f"{valid / secs / 1e6:.2f} M valid px/s, {rss:.0f} MiB", file=sys.stderr)
    with open(os.path.join(OUT, f"overlay-{name}.json"), "w") as f:
        json.dump({"memory": a.memory, "stat": a.stat, "results": results}, f, indent=1)
    print("| raster | res | tool | runs | median s | cells | M valid px/s | peak RSS MiB | "
          "raster2h3 speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ours = next((x for x in results if x["res"] == r["res"] and x["tool"] == "raster2h3"),
                    None)
        ratio = f"{r['median_s'] / ours['median_s']:.1f}x" if ours and r is not ours else ""
        print(f"| {r['raster']} | {r['res']} | {r['tool']} | {r['runs']} | {r['median_s']:.2f} | "
              f"{r['cells']:,} | {r['valid_px_per_s'] / 1e6:.2f} | {r['peak_rss_mib']:.0f} | "
              f"{ratio} |")


if __name__ == "__main__":
    main()
