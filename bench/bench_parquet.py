"""Benchmark: the C Parquet writer against pyarrow on H3-like data (sorted uint64 res-8 cells,
low-entropy uint16 values). Reports rows/s, bytes/row and peak RSS of each writer process.

    .venv/bin/python bench/bench_parquet.py [--rows N] [--build-dir build]

Each writer runs in its own subprocess (peak RSS = ru_maxrss of that child, which includes the
input arrays: the C tool reads them from .npy-like raw files, pyarrow from numpy memory).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def h3_res8_cells(n, rng):
    """Sorted, clustered, valid-looking H3 res-8 ids: dense children of distinct res-3 parents
    spread over 40 base cells, with ~15 % of res-6 blocks missing (nodata). Parents are drawn
    without replacement, so the ids are unique and exactly n are returned (up to ~196 M)."""
    res, per_res3 = 8, 7 ** 5
    # Digits 4..8 of every res-8 child of a res-3 cell, and digits 9..15 = 7, as one template.
    idx = np.arange(per_res3, dtype=np.uint64)
    tail = np.zeros(per_res3, dtype=np.uint64)
    q = idx.copy()
    for d in range(5):
        tail |= (q % np.uint64(7)) << np.uint64(3 * (14 - (7 - d)))
        q //= np.uint64(7)
    for d in range(8, 15):
        tail |= np.uint64(7) << np.uint64(3 * (14 - d))
    pentagons = {4, 14, 24, 38, 49, 58, 63, 72, 83, 97, 107, 117}  # their k-digit rules differ
    hexagons = [b for b in range(122) if b not in pentagons]
    base_cells = sorted(rng.choice(hexagons, 40, replace=False))
    parents = [(int(bc), p) for bc in base_cells for p in range(7 ** 3)]
    order = rng.permutation(len(parents))
    out, total = [], 0
    for k in order:
        if total >= n:
            break
        bc, parent = parents[k]
        head = (1 << 59) | (res << 52) | (bc << 45)
        for d in range(3):
            head |= (parent // 7 ** (2 - d) % 7) << (3 * (14 - d))
        keep = rng.random(7 ** 3) > 0.15  # drop res-6 blocks (7^2 children each)
        h = np.uint64(head) | tail[keep[np.arange(per_res3) // 49]]
        out.append(h)
        total += h.size
    cells = np.sort(np.concatenate(out))
    if cells.size < n:
        raise SystemExit(f"cannot make {n} unique cells (max {cells.size})")
    return cells[:n]


def raster_values(cells, rng):
    """uint16 land-cover-like classes: constant per res-6 parent with 5 % noise."""
    parent = cells >> np.uint64(3 * (15 - 6))
    cls = ((parent * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(60)).astype(np.uint16) % 12 * 10
    noise = rng.random(cells.size) < 0.05
    cls[noise] = rng.integers(0, 120, int(noise.sum()), dtype=np.uint16)
    return cls


def run_child(cmd):
    """Run one writer; returns (write seconds reported by the child, wall s, peak RSS KiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout = p.stdout.read()
    stderr = p.stderr.read()
    _, status, _ = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"{cmd[0]} failed: {stderr}")
    out = dict(line.split() for line in stdout.splitlines()
               if line.startswith(("write_seconds", "peak_rss_kb")))
    # VmHWM from the child itself: ru_maxrss would include the forked parent's pages
    return float(out["write_seconds"]), wall, int(out["peak_rss_kb"])


PYARROW_CHILD = r"""
import sys, time, numpy as np, pyarrow as pa, pyarrow.parquet as pq
n = int(sys.argv[1]); cells = np.fromfile(sys.argv[2], np.uint64); vals = np.fromfile(sys.argv[3], np.uint16)
t = pa.table({"cell": cells, "value": vals})
kw = {} if sys.argv[5] == "default" else {"compression": sys.argv[5]}
t0 = time.perf_counter(); pq.write_table(t, sys.argv[4], **kw); print("write_seconds", time.perf_counter() - t0)
print("peak_rss_kb", [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--build-dir", default=os.environ.get("R2H_BUILD_DIR", REPO / "build"))
    ap.add_argument("--tmp", default=None, help="scratch directory (default: system temp)")
    ap.add_argument("--c-configs", default="auto,plain",
                    help="comma list of value/cell encodings for the C writer: auto, plain, dict")
    a = ap.parse_args()
    tool = Path(a.build_dir) / "test_parquet"
    rng = np.random.default_rng(42)
    t0 = time.perf_counter()
    cells = h3_res8_cells(a.rows, rng)
    vals = raster_values(cells, rng)
    n = cells.size
    print(f"generated {n:,} rows in {time.perf_counter() - t0:.1f}s "
          f"(cells {cells[0]:x}..{cells[-1]:x}, {len(np.unique(vals))} distinct values)")
    with tempfile.TemporaryDirectory(dir=a.tmp) as d:
        d = Path(d)
        cells.tofile(d / "cells.bin")
        vals.tofile(d / "vals.bin")
        del cells, vals
        results = []
        for cfg in a.c_configs.split(","):
            cell_enc = {"auto": "auto", "plain": "plain", "dict": "auto"}[cfg]
            val_enc = {"auto": "auto", "plain": "plain", "dict": "dict"}[cfg]
            spec = d / "spec.txt"
            spec.write_text(f"codec zstd\nlevel 3\nrows {n}\nbatch 1048576\n"
                            f"col cell uint64 0 {cell_enc} 1 {d / 'cells.bin'} -\n"
                            f"col value uint16 0 {val_enc} 0 {d / 'vals.bin'} -\n")
            out = d / f"c_{cfg}.parquet"
            ws, wall, rss = run_child([str(tool), "--write-file", str(spec), str(out)])
            results.append((f"C zstd-3 ({cfg})", ws, wall, out.stat().st_size, rss))
            out.unlink()
        for comp in ("default", "zstd"):
            out = d / f"pa_{comp}.parquet"
            ws, wall, rss = run_child([sys.executable, "-c", PYARROW_CHILD, str(n),
                                          str(d / "cells.bin"), str(d / "vals.bin"), str(out), comp])
            results.append((f"pyarrow {'snappy (default)' if comp == 'default' else 'zstd'}",
                            ws, wall, out.stat().st_size, rss))
            out.unlink()
    print(f"\n{'writer':28s} {'write s':>8s} {'Mrows/s':>8s} {'bytes/row':>10s} {'MiB':>8s} {'peak RSS MiB':>13s}")
    for name, ws, wall, size, rss in results:
        print(f"{name:28s} {ws:8.2f} {n / ws / 1e6:8.1f} {size / n:10.3f} {size / 2**20:8.1f} {rss / 1024:13.0f}")
    print("\n('write s' excludes loading the input; peak RSS of each writer process includes its "
          "input arrays: 10 bytes/row)")


if __name__ == "__main__":
    main()
