#!/usr/bin/env python3
"""Side-by-side benchmark: raster2h3 convert vs the seed method vs raster2dggs.

All tools get the same input COG, at H3 resolution 8, one after another in
this one script.  Per tool and run it records, via /usr/bin/time -v:
wall time, user+sys CPU, peak RSS ("Maximum resident set size", which for
/usr/bin/time is the largest single process in the tree it waited for); then
output bytes (all files under the output dir) and output rows (DuckDB
count(*) over the Parquet files, hive_partitioning off).

Valid pixels (value != 65535) are counted once with GDAL (ReadRaster blocks),
and raster2h3's row count is checked against it (raster2h3 writes one row per
valid pixel).  The seed method also writes one row per pixel, but pixels can
be written twice (antimeridian cells, see seed_method.py).  raster2dggs
aggregates pixels per H3 cell (default --point value, mean), so its rows are
distinct res-8 cells, not pixels; for that reason the harness also reports
distinct res-8 cells for every tool.

Tools (--tools, comma separated):
  raster2h3        build/raster2h3 convert IN OUT --resolution 8 --quiet  (default threads = all cores)
  raster2h3-t1     same with --threads 1
  raster2h3-base   the binary given by --baseline, same flags as raster2h3 (before/after a
                   change: both binaries alternate run by run in this one invocation)
  seed             bench/seed_method.py IN OUT  (faithful: string ids, AM bug)
  seed-skipam      seed method with --antimeridian skip
  seed-u64         seed method, --antimeridian skip, raster2h3's schema
  raster2dggs      raster2dggs h3 -r 8 -p 1 IN OUT  (defaults: mean, string ids, snappy)
  raster2dggs-list raster2dggs h3 -r 8 -p 1 --point list --cell-id uint64 (keeps every pixel value)

Writes bench/out/results-<name>.json and prints a markdown table.
"""
import argparse
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

import duckdb
import numpy as np
from osgeo import gdal

gdal.UseExceptions()
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
OUT = os.path.join(HERE, "out")
PY = os.path.join(ROOT, ".venv", "bin", "python")
R2D = os.path.join(ROOT, ".venv-bench", "bin", "raster2dggs")
R2H3 = os.path.join(ROOT, "build", "raster2h3")
NODATA = 65535
R2H3_RUN = [R2H3]  # the binary actually run (a snapshot once main() has started)
ALL_TOOLS = ["raster2h3", "raster2h3-base", "raster2h3-t1", "raster2h3-ref", "seed", "seed-skipam", "seed-u64", "raster2dggs", "raster2dggs-list"]


def tool_cmd(tool, inp, out, args):
    res = str(args.resolution)
    if tool == "raster2h3":
        return [args.raster2h3, "convert", inp, out, "--resolution", res, "--quiet"] + args.r2h3_args
    if tool == "raster2h3-base":
        return [args.baseline, "convert", inp, out, "--resolution", res, "--quiet"] + args.r2h3_args
    if tool == "raster2h3-t1":
        return [args.raster2h3, "convert", inp, out, "--resolution", res, "--quiet",
                "--threads", "1"] + args.r2h3_args
    if tool == "raster2h3-ref":  # H3's latLngToCell for every pixel instead of the fast path
        return [args.raster2h3, "convert", inp, out, "--resolution", res, "--quiet",
                "--index", "reference"] + args.r2h3_args
    seed = [PY, os.path.join(HERE, "seed_method.py"), inp, out, "--resolution", res,
            "--summary", out + ".summary.json"]
    if tool == "seed":
        return seed
    if tool == "seed-skipam":
        return seed + ["--antimeridian", "skip"]
    if tool == "seed-u64":
        return seed + ["--antimeridian", "skip", "--schema", "raster2h3"]
    r2d = [R2D, "h3", "-r", res, "-p", "1", "-o", "--tempdir", out + ".tmp"]
    if tool == "raster2dggs":
        return r2d + [inp, out]
    if tool == "raster2dggs-list":
        return r2d + ["--point", "list", "--cell-id", "uint64", inp, out]
    raise SystemExit(f"unknown tool {tool}")


def count_valid(path):
    ds = gdal.Open(path)
    b = ds.GetRasterBand(1)
    w, h = ds.RasterXSize, ds.RasterYSize
    n = 0
    step = 1024
    for r in range(0, h, step):
        nr = min(step, h - r)
        a = np.frombuffer(b.ReadRaster(0, r, w, nr, buf_type=gdal.GDT_UInt16), dtype=np.uint16)
        n += int(np.count_nonzero(a != NODATA))
    return n, w * h, w, h


def dir_bytes(d):
    tot = 0
    for root, _, files in os.walk(d):
        for f in files:
            tot += os.path.getsize(os.path.join(root, f))
    return tot


def parse_time_v(text):
    def grab(key):
        m = re.search(re.escape(key) + r":\s*(.+)", text)
        return m.group(1).strip() if m else None
    el = grab("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    secs = None
    if el:
        parts = [float(p) for p in el.split(":")]
        secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return {"rss_kb": int(grab("Maximum resident set size (kbytes)") or 0),
            "user_s": float(grab("User time (seconds)") or 0),
            "sys_s": float(grab("System time (seconds)") or 0),
            "time_wall_s": secs,
            "exit": int(grab("Exit status") or -1)}


def count_rows(out, tool):
    files = glob.glob(os.path.join(out, "**", "*.parquet"), recursive=True)
    if not files:
        return 0, 0, 0
    con = duckdb.connect()
    src = "read_parquet($files, hive_partitioning=false)"
    cols = [r[0] for r in con.execute(f"describe select * from {src}", {"files": files}).fetchall()]
    hcol = next((c for c in cols if c in ("h8", "h3_08") or re.fullmatch(r"h3?_?0?\d+", c)), None)
    rows = con.execute(f"select count(*) from {src}", {"files": files}).fetchall()[0][0]
    distinct = None
    if hcol:
        distinct = con.execute(f'select count(distinct "{hcol}") from {src}',
                               {"files": files}).fetchall()[0][0]
    return rows, distinct, len(files)


def run_tool(tool, inp, args, run_idx):
    out = os.path.join(args.workdir, f"{args.name}-{tool}")
    for p in (out, out + ".tmp"):
        shutil.rmtree(p, ignore_errors=True)
    if tool.startswith("raster2dggs"):
        os.makedirs(out + ".tmp", exist_ok=True)
    cmd = tool_cmd(tool, inp, out, args)
    full = ["/usr/bin/time", "-v"] + cmd
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()
    tv = parse_time_v(p.stderr)
    rec = {"tool": tool, "run": run_idx, "cmd": " ".join(cmd), "returncode": p.returncode,
           "wall_s": round(wall, 3), **tv, "loadavg_before": load0, "loadavg_after": load1}
    if p.returncode != 0:
        rec["stderr_tail"] = p.stderr[-3000:]
        print(f"!! {tool} failed rc={p.returncode}\n{p.stderr[-2000:]}", file=sys.stderr)
        return rec
    rec["output_bytes"] = dir_bytes(out)
    rows, distinct, nfiles = count_rows(out, tool)
    rec.update(rows=rows, distinct_h8=distinct, files=nfiles)
    summ = out + ".summary.json"
    if os.path.exists(summ):
        with open(summ) as f:
            s = json.load(f)
        rec["seed_summary"] = {k: v for k, v in s.items() if k != "cells"}
        os.remove(summ)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out + ".tmp", ignore_errors=True)
    print(f"   {tool} run {run_idx}: {wall:.1f}s rss={tv['rss_kb'] / 1024:.0f}MiB rows={rows}",
          file=sys.stderr, flush=True)
    return rec


def snapshot_binary(args):
    """Copy raster2h3 before running: the binary in build/ may be rebuilt by
    others mid-benchmark; every raster2h3 run then uses this one copy."""
    import hashlib
    with open(args.raster2h3, "rb") as f:
        blob = f.read()
    digest = hashlib.sha256(blob).hexdigest()[:16]
    snap = os.path.join(args.workdir, f"raster2h3-{digest}")
    if not os.path.exists(snap):
        shutil.copy2(args.raster2h3, snap)
    info = {"source": args.raster2h3, "sha256_16": digest, "snapshot": snap,
            "mtime": time.strftime("%Y-%m-%d %H:%M:%S",
                                   time.localtime(os.path.getmtime(args.raster2h3)))}
    args.raster2h3 = snap
    return info


def versions():
    v = {"gdal": gdal.__version__, "python": platform.python_version()}
    try:
        import h3
        v["h3-py"] = h3.__version__
    except Exception:
        pass
    v["duckdb"] = duckdb.__version__
    try:
        v["raster2dggs"] = subprocess.run([R2D, "--version"], capture_output=True,
                                          text=True).stdout.strip()
    except Exception:
        v["raster2dggs"] = None
    try:
        v["raster2h3"] = subprocess.run([R2H3_RUN[0], "--version"], capture_output=True,
                                        text=True).stdout.strip()
    except Exception:
        v["raster2h3"] = None
    try:
        v["git"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip() or "no commits"
    except Exception:
        pass
    return v


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except Exception:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem, 1),
            "os": platform.platform()}


def fmt(x, nd=1):
    return "-" if x is None else f"{x:,.{nd}f}"


def render(result, path):
    """Markdown table for one results JSON."""
    inp, w, h = result["input"], result["width"], result["height"]
    pixels, valid, runs = result["pixels"], result["valid_pixels"], result["runs"]
    per_tool, check = result["summary"], result["row_check"]
    base = per_tool.get("raster2h3", {})
    for s in per_tool.values():  # older JSONs lack the CPU ratio
        if s.get("ok") and base.get("ok") and "cpu_ratio_vs_raster2h3" not in s:
            s["cpu_ratio_vs_raster2h3"] = s["cpu_s_median"] / base["cpu_s_median"]
    lines = [f"Input `{os.path.relpath(inp, ROOT)}`: {w:,} x {h:,} = {pixels:,} px, "
             f"valid {valid:,} ({valid / pixels:.1%}); H3 res {result['resolution']}; "
             f"{result['repeat']} run(s) per tool; px/s and ratios use the median wall; "
             f"CPU s = user+sys (median); 1-min load average {min(r['loadavg_before'][0] for r in runs):.1f}"
             f"..{max(r['loadavg_after'][0] for r in runs):.1f} during the runs.",
             "",
             "| tool | wall s (median) | wall s (min) | valid px/s | CPU s | peak RSS MiB | output MB | rows | distinct h8 | time x | CPU x | RSS x | bytes x |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for tool, s in per_tool.items():
        if not s.get("ok"):
            lines.append(f"| {tool} | FAILED | | | | | | | | | | | |")
            continue
        lines.append(
            f"| {tool} | {s['wall_s_median']:.1f} | {s['wall_s_min']:.1f} | {s['valid_px_per_s'] / 1e6:.2f} M | "
            f"{s['cpu_s_median']:.1f} | {s['rss_mib_max']:,.0f} | {s['output_bytes'] / 1e6:,.1f} | "
            f"{s['rows']:,} | {s['distinct_h8'] if s['distinct_h8'] is None else format(s['distinct_h8'], ',')} | "
            f"{fmt(s.get('time_ratio_vs_raster2h3'), 2)} | {fmt(s.get('cpu_ratio_vs_raster2h3'), 2)} | "
            f"{fmt(s.get('rss_ratio_vs_raster2h3'), 2)} | "
            f"{fmt(s.get('bytes_ratio_vs_raster2h3'), 2)} |")
    if check:
        lines += ["", f"raster2h3 rows == valid pixels: **{check['equal']}** "
                      f"({check['raster2h3_rows']:,} vs {check['valid_pixels']:,})"]
    lines += ["", f"results: `{os.path.relpath(path, ROOT)}`"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="tile",
                    help="tile | tile-x4 | tile-x16 | crop-N | global (bench/data/carbon-<size>.tif)")
    ap.add_argument("--input", default=None, help="explicit input raster (overrides --size)")
    ap.add_argument("--tools", default="raster2h3,seed,raster2dggs")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--resolution", type=int, default=8)
    ap.add_argument("--name", default=None, help="results name (default: --size)")
    ap.add_argument("--raster2h3", default=R2H3)
    ap.add_argument("--baseline", default=None, metavar="BIN",
                    help="another raster2h3 binary, run as tool raster2h3-base")
    ap.add_argument("--r2h3-args", default="", help="extra raster2h3 convert args (quoted)")
    ap.add_argument("--workdir", default=OUT)
    ap.add_argument("--keep", action="store_true", help="keep tool outputs")
    ap.add_argument("--report", default=None, metavar="JSON",
                    help="only print the markdown table of an existing results JSON")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            print(render(json.load(f), args.report))
        return
    args.r2h3_args = args.r2h3_args.split()
    args.name = args.name or args.size
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for t in tools:
        if t not in ALL_TOOLS:
            raise SystemExit(f"unknown tool {t}; choose from {ALL_TOOLS}")

    inp = args.input or os.path.join(DATA, f"carbon-{args.size}.tif")
    if not os.path.exists(inp):
        mk = [PY, os.path.join(HERE, "make_carbon_raster.py")]
        if args.size == "tile":
            mk += ["--size", "tile"]
        elif args.size.startswith("tile-x"):
            mk += ["--size", "tile", "--scale", args.size[6:]]
        elif args.size.startswith("crop-"):
            mk += ["--size", "crop", "--side", args.size[5:]]
        elif args.size == "global":
            mk += ["--size", "global"]
        print("generating:", " ".join(mk), file=sys.stderr)
        subprocess.run(mk, check=True)
    os.makedirs(args.workdir, exist_ok=True)
    if "raster2h3-base" in tools:
        if not args.baseline:
            raise SystemExit("tool raster2h3-base needs --baseline BIN")
        keep, args.raster2h3 = args.raster2h3, args.baseline
        args.baseline = snapshot_binary(args)["snapshot"]
        args.raster2h3 = keep
    binary = None
    if any(t.startswith("raster2h3") for t in tools):
        binary = snapshot_binary(args)
        R2H3_RUN[0] = args.raster2h3
        print(f"raster2h3 binary snapshot {binary['snapshot']} (built {binary['mtime']})",
              file=sys.stderr)

    t = time.perf_counter()
    valid, pixels, w, h = count_valid(inp)
    print(f"input {inp}: {w}x{h} = {pixels:,} px, valid {valid:,} "
          f"({valid / pixels:.1%}), counted in {time.perf_counter() - t:.1f}s", file=sys.stderr)

    runs = []
    for i in range(args.repeat):
        for tool in tools:
            runs.append(run_tool(tool, inp, args, i))

    per_tool = {}
    for tool in tools:
        ok = [r for r in runs if r["tool"] == tool and r["returncode"] == 0]
        if not ok:
            per_tool[tool] = {"ok": False}
            continue
        walls = [r["wall_s"] for r in ok]
        med = statistics.median(walls)
        per_tool[tool] = {
            "ok": True, "runs": len(ok), "wall_s_median": med, "wall_s_min": min(walls),
            "wall_s_all": walls, "cpu_s_median": statistics.median(r["user_s"] + r["sys_s"] for r in ok),
            "rss_mib_max": max(r["rss_kb"] for r in ok) / 1024,
            "valid_px_per_s": valid / med, "output_bytes": ok[-1]["output_bytes"],
            "rows": ok[-1]["rows"], "distinct_h8": ok[-1]["distinct_h8"], "files": ok[-1]["files"],
        }
    base = per_tool.get("raster2h3", {})
    for tool, s in per_tool.items():
        if s.get("ok") and base.get("ok"):
            s["time_ratio_vs_raster2h3"] = s["wall_s_median"] / base["wall_s_median"]
            s["cpu_ratio_vs_raster2h3"] = s["cpu_s_median"] / base["cpu_s_median"]
            s["rss_ratio_vs_raster2h3"] = s["rss_mib_max"] / base["rss_mib_max"]
            s["bytes_ratio_vs_raster2h3"] = s["output_bytes"] / max(base["output_bytes"], 1)
    check = None
    if base.get("ok"):
        check = {"raster2h3_rows": base["rows"], "valid_pixels": valid,
                 "equal": base["rows"] == valid}

    result = {"name": args.name, "input": inp, "width": w, "height": h, "pixels": pixels,
              "valid_pixels": valid, "resolution": args.resolution, "repeat": args.repeat,
              "machine": machine(), "versions": versions(), "raster2h3_binary": binary,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "summary": per_tool, "row_check": check, "runs": runs}
    path = os.path.join(OUT, f"results-{args.name}.json")
    os.makedirs(OUT, exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)

    print(render(result, path))


if __name__ == "__main__":
    main()
