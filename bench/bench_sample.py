#!/usr/bin/env python3
"""Side-by-side benchmark of cell-centre sampling (issue 13): raster2h3 --method sample vs
h3ronpy's raster_to_dataframe(compact=False) vs raster2dggs --sample nn, on the same raster at
the same resolution, one after another in this one script.

  raster2h3        build/raster2h3 convert IN OUT --resolution R --method sample --memory M
                   --quiet (all cores; end to end: read, sample, Parquet zstd files)
  h3ronpy          a Python process: GDAL reads the band into numpy, h3ronpy 0.22 (Rust, all
                   cores) makes the (value, cell) Arrow table in memory - no file written
                   (as the peer's own docs use it; writing would only add time)
  raster2dggs      .venv-bench/bin/raster2dggs h3 IN OUT -r R -p 1 --sample nn
                   (-p 1: its parallel mode is slower on 2 cores; cell ids as it writes them)

Per run: wall seconds, peak RSS (/usr/bin/time -v, largest process), cells written (raster2h3:
rows of its Parquet files, DuckDB; h3ronpy: rows of the table, printed by the child; raster2dggs:
rows, DuckDB) and cells/s = cells / wall. Ratios are raster2h3's against each peer, same
raster, same resolution, same invocation.

Usage:
  .venv/bin/python bench/bench_sample.py --raster bench/data/carbon-crop-3000.tif \\
      --res 10,11 --tools raster2h3,h3ronpy,raster2dggs [--repeat 3] [--memory 256M]
Writes bench/out/sample-<raster>.json and prints a markdown table.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
R2H3 = os.path.join(ROOT, "build", "raster2h3")
R2D = os.path.join(ROOT, ".venv-bench", "bin", "raster2dggs")
PY = sys.executable

H3RONPY_CHILD = r"""
import sys, numpy as np
from osgeo import gdal
from h3ronpy.raster import Transform, raster_to_dataframe
ds = gdal.Open(sys.argv[1]); b = ds.GetRasterBand(1)
arr = np.frombuffer(b.ReadRaster(), dtype=np.uint16).reshape(ds.RasterYSize, ds.RasterXSize)
t = raster_to_dataframe(arr, Transform.from_gdal(ds.GetGeoTransform()), int(sys.argv[2]),
                        nodata_value=int(b.GetNoDataValue()), compact=False)
print("CELLS", t.num_rows)
"""


def timed(cmd, env=None):
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    parts = [float(x) for x in wall.split(":")]
    secs = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return secs, rss / 1024.0, p.stdout


def parquet_rows(d):
    files = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if f.endswith(".parquet")]
    if not files:
        return 0
    return duckdb.sql(f"SELECT count(*) FROM read_parquet({files!r})").fetchall()[0][0]


def run_tool(tool, raster, res, memory, out):
    shutil.rmtree(out, ignore_errors=True)
    if tool == "raster2h3":
        secs, rss, _ = timed([R2H3, "convert", raster, out, "--resolution", str(res), "--method",
                              "sample", "--memory", memory, "--quiet"])
        return secs, rss, parquet_rows(out)
    if tool == "h3ronpy":
        secs, rss, stdout = timed([PY, "-c", H3RONPY_CHILD, raster, str(res)])
        return secs, rss, int(re.search(r"CELLS (\d+)", stdout).group(1))
    if tool == "raster2dggs":
        secs, rss, _ = timed([R2D, "h3", raster, out, "-r", str(res), "-p", "1", "--sample", "nn"])
        return secs, rss, parquet_rows(out)
    raise ValueError(tool)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--raster", required=True)
    ap.add_argument("--res", default="10,11")
    ap.add_argument("--tools", default="raster2h3,h3ronpy")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory", default="256M")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    tools = a.tools.split(",")
    name = os.path.splitext(os.path.basename(a.raster))[0]
    results = []
    for res in [int(r) for r in a.res.split(",")]:
        for tool in tools:
            reps = 1 if tool == "raster2dggs" else a.repeat
            runs = [run_tool(tool, a.raster, res, a.memory, os.path.join(OUT, f"sample-{tool}"))
                    for _ in range(reps)]
            secs = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            cells = runs[0][2]
            results.append({"raster": name, "res": res, "tool": tool, "runs": reps,
                            "wall_s": [r[0] for r in runs], "median_s": secs, "peak_rss_mib": rss,
                            "cells": cells, "cells_per_s": cells / secs if secs else 0})
            print(f"{name} r{res} {tool}: {secs:.2f} s, {cells} cells, "
                  f"{cells / secs / 1e6:.1f} M cells/s, {rss:.0f} MiB", file=sys.stderr)
    with open(os.path.join(OUT, f"sample-{name}.json"), "w") as f:
        json.dump({"memory": a.memory, "results": results}, f, indent=1)
    print(f"| raster | res | tool | runs | median s | cells | M cells/s | peak RSS MiB | "
          f"raster2h3 speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ours = next((x for x in results if x["res"] == r["res"] and x["tool"] == "raster2h3"),
                    None)
        ratio = f"{r['median_s'] / ours['median_s']:.1f}x" if ours and r is not ours else ""
        print(f"| {r['raster']} | {r['res']} | {r['tool']} | {r['runs']} | {r['median_s']:.2f} | "
              f"{r['cells']:,} | {r['cells_per_s'] / 1e6:.1f} | {r['peak_rss_mib']:.0f} | "
              f"{ratio} |")


if __name__ == "__main__":
    main()
