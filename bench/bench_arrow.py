#!/usr/bin/env python3
"""Side-by-side benchmark of the in-memory Arrow path (issue 16): raster2h3.to_arrow into
pyarrow vs h3ronpy's raster_to_dataframe, on the same raster at the same resolution, one after
another in this one script, each in a process of its own.

  to_arrow (table)    a Python process: raster2h3.to_arrow(IN, R, memory=M) read by
                      pyarrow.RecordBatchReader.from_stream(...).read_all(): the whole table
                      in memory (pixel rows: one per valid pixel, the point method)
  to_arrow (stream)   the same, batches consumed one by one (rows counted, each batch dropped):
                      peak RSS is the run's, not the table's
  to_arrow (sample)   method="sample" into a table: one row per cell whose centre is on a valid
                      pixel, h3ronpy's semantics (the same cells, compare the rows)
  baseline            the child's imports only (python, pyarrow, raster2h3): the RSS every
                      Python process here starts with
  h3ronpy             a Python process: GDAL reads the band into numpy, h3ronpy 0.22
                      raster_to_dataframe(compact=False) makes its (value, cell) Arrow table
                      in memory (its own semantics: the cells whose centres fall on pixels)
Per run: the child's own timing of the conversion (from the call to the last row in pyarrow;
imports and interpreter start excluded), the process wall time, peak RSS (/usr/bin/time -v)
and rows. Rows/s = rows / conversion seconds.

Usage:
  .venv/bin/python bench/bench_arrow.py --raster bench/data/carbon-tile.tif --res 8 \\
      [--repeat 5] [--memory 256M] [--tools baseline,table,stream,sample,h3ronpy]
Writes bench/out/arrow-<raster>.json and prints a markdown table.
"""
import argparse
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_sample import OUT, PY, ROOT, timed  # noqa: E402

R2H_CHILD = r"""
import os, sys, time
sys.path.insert(0, os.path.join(sys.argv[4], "python"))
import pyarrow as pa, raster2h3
t = time.perf_counter()
method = "sample" if sys.argv[5] == "sample" else "point"
reader = pa.RecordBatchReader.from_stream(
    raster2h3.to_arrow(sys.argv[1], int(sys.argv[2]), memory=sys.argv[3], method=method))
if sys.argv[5] != "stream":
    n = reader.read_all().num_rows
else:
    n = sum(b.num_rows for b in reader)
print("ROWS", n, "SECS", time.perf_counter() - t)
"""

BASELINE_CHILD = r"""
import os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "python"))
import pyarrow as pa, raster2h3
print("ROWS 0 SECS 1")
"""

H3RONPY_CHILD = r"""
import sys, time, numpy as np
from osgeo import gdal
from h3ronpy.raster import Transform, raster_to_dataframe
t = time.perf_counter()
ds = gdal.Open(sys.argv[1]); b = ds.GetRasterBand(1)
arr = np.frombuffer(b.ReadRaster(), dtype=np.uint16).reshape(ds.RasterYSize, ds.RasterXSize)
tab = raster_to_dataframe(arr, Transform.from_gdal(ds.GetGeoTransform()), int(sys.argv[2]),
                          nodata_value=int(b.GetNoDataValue()), compact=False)
print("ROWS", tab.num_rows, "SECS", time.perf_counter() - t)
"""


def run(tool, raster, res, memory):
    env = dict(os.environ, RASTER2H3_LIBRARY=os.path.join(ROOT, "build", "libraster2h3.so"))
    if tool == "h3ronpy":
        cmd = [PY, "-c", H3RONPY_CHILD, raster, str(res)]
    elif tool == "baseline":
        cmd = [PY, "-c", BASELINE_CHILD, ROOT]
    else:
        cmd = [PY, "-c", R2H_CHILD, raster, str(res), memory, ROOT, tool]
    wall, rss, stdout = timed(cmd, env=env)
    m = re.search(r"ROWS (\d+) SECS (\S+)", stdout)
    return float(m.group(2)), wall, rss, int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--raster", required=True)
    ap.add_argument("--res", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--tools", default="baseline,table,stream,sample,h3ronpy")
    a = ap.parse_args()
    name = os.path.splitext(os.path.basename(a.raster))[0]
    results = []
    for tool in a.tools.split(","):
        runs = [run(tool, a.raster, a.res, a.memory) for _ in range(a.repeat)]
        secs = statistics.median(r[0] for r in runs)
        r = {"raster": name, "res": a.res, "tool": tool, "memory": a.memory,
             "conversion_s": [x[0] for x in runs], "median_s": secs,
             "median_wall_s": statistics.median(x[1] for x in runs),
             "peak_rss_mib": max(x[2] for x in runs), "rows": runs[0][3],
             "rows_per_s": runs[0][3] / secs}
        results.append(r)
        print(f"{name} r{a.res} {tool}: {secs:.2f} s ({r['median_wall_s']:.2f} s process), "
              f"{r['rows']:,} rows, {r['rows_per_s'] / 1e6:.1f} M rows/s, "
              f"{r['peak_rss_mib']:.0f} MiB", flush=True)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"arrow-{name}.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n| raster | res | tool | runs | median conversion s | median process s | rows | "
          f"M rows/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['raster']} | {r['res']} | {r['tool']} | {len(r['conversion_s'])} | "
              f"{r['median_s']:.2f} | {r['median_wall_s']:.2f} | {r['rows']:,} | "
              f"{r['rows_per_s'] / 1e6:.1f} | {r['peak_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
