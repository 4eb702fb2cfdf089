"""test_lifecycle.py - a run's life around others: signals (exit 5, one line, nothing left),
two writers on one OUTPUT (the lock), memory with many threads."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BINARY, cli_env
from test_scale import make_raster, run_measured


def start(args, env=None):
    return subprocess.Popen([str(BINARY), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(env),
                            stdin=subprocess.DEVNULL)


def wait_for(pred, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A raster that takes several seconds with --threads 1 --memory 16M (it spills)."""
    raster, _ = make_raster(tmp_path_factory.mktemp("big"), 2500, 2500)
    return raster


@pytest.mark.parametrize("sig,name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_signal_exits_5_with_one_line(big, tmp_path, sig, name):
    spill, out = tmp_path / "spill", tmp_path / "out"
    spill.mkdir()
    p = start(["convert", big, out, "--memory", "16M", "--threads", "1", "--progress", "none",
               "--tmpdir", spill])
    assert wait_for(lambda: any(spill.rglob("run-*"))), "no spill file appeared"
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 5, (p.returncode, err)
    assert err.count("\n") == 1 and err.startswith("raster2h3: ") and name in err, err
    assert list(spill.iterdir()) == [], "spill directory left behind"
    left = [f for f in out.rglob("*") if f.is_file() and f.name != ".raster2h3.lock"]
    assert all(f.name == "data_0.parquet" for f in left), left


# ---------------------------------------------------------------------------------------------
# Two writers on one OUTPUT (issue 11 item 8)

def start_slow(raster, out, *extra, spill):
    """A run that takes seconds (one thread, spilling, latLngToCell per pixel, zstd level 19)
    and holds the lock meanwhile."""
    return start(["convert", raster, out, "--memory", "16M", "--threads", "1", "--progress",
                  "none", "--tmpdir", spill, "--index", "reference", "--compression-level", "19",
                  *extra])


def test_second_writer_fails_fast_and_first_succeeds(big, tmp_path, run_cli):
    out, spill = tmp_path / "out", tmp_path / "spill"
    spill.mkdir()
    first = start_slow(big, out, spill=spill)
    assert wait_for(lambda: any(spill.rglob("run-*"))), "first run did not start spilling"
    t0 = time.time()
    second = run_cli("convert", big, out, "--quiet", "--threads", "1")
    took = time.time() - t0
    assert first.poll() is None, "first run ended before the second started: test too fast"
    assert second.returncode == 75, (second.returncode, second.stderr)
    err = second.stderr
    assert err.count("\n") == 1 and err.startswith("raster2h3: "), err
    assert ".raster2h3.lock" in err and f"pid {first.pid}" in err, err
    assert took < 10, f"the second run did not fail fast ({took:.1f} s)"
    _, ferr = first.communicate(timeout=300)
    assert first.returncode == 0, ferr
    v = run_cli("verify", out, "--input", big)
    assert v.returncode == 0, v.stderr + v.stdout
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [], "lock file left"


def test_work_unit_blocked_by_whole_run_and_vice_versa(big, tmp_path, run_cli):
    out, spill = tmp_path / "out", tmp_path / "spill"
    spill.mkdir()
    first = start_slow(big, out, spill=spill)
    assert wait_for(lambda: any(spill.rglob("run-*")))
    unit = run_cli("convert", big, out, "--quiet", "--i", "15")
    assert unit.returncode == 75 and f"pid {first.pid}" in unit.stderr, unit.stderr
    first.communicate(timeout=300)
    assert first.returncode == 0
    # A work unit holding its partition blocks a whole run, and another unit of the same cell.
    import h3
    largest = max(out.rglob("data_0.parquet"), key=lambda f: f.stat().st_size)
    bc = h3.get_base_cell_number(largest.parent.name[3:])
    spill2 = tmp_path / "spill2"
    spill2.mkdir()
    u = start_slow(big, tmp_path / "units", "--i", bc, spill=spill2)
    assert wait_for(lambda: any(spill2.rglob("run-*")))
    whole = run_cli("convert", big, tmp_path / "units", "--quiet")
    same = run_cli("convert", big, tmp_path / "units", "--quiet", "--i", bc)
    assert u.poll() is None, "unit ended too early: test too fast"
    for p in (whole, same):
        assert p.returncode == 75, (p.returncode, p.stderr)
        assert f".raster2h3.lock-{bc}" in p.stderr and f"pid {u.pid}" in p.stderr, p.stderr
    u.communicate(timeout=300)
    assert u.returncode == 0


def test_concurrent_work_units_of_different_cells(big, tmp_path, run_cli):
    """Units of different --i run side by side on one OUTPUT and give the whole run's files."""
    import h3
    whole = tmp_path / "whole"
    assert run_cli("convert", big, whole, "--quiet").returncode == 0
    cells = sorted(h3.get_base_cell_number(p.name[3:]) for p in whole.iterdir()
                   if p.name.startswith("h0="))
    assert len(cells) >= 2, cells
    out = tmp_path / "units"
    procs = [start(["convert", big, out, "--quiet", "--threads", "1", "--i", bc]) for bc in cells]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert run_cli("verify", out, "--input", big, "--write-manifest").returncode == 0
    for f in whole.rglob("data_0.parquet"):
        import pyarrow.parquet as pq
        assert pq.read_table(f).equals(pq.read_table(out / f.relative_to(whole))), f


# ---------------------------------------------------------------------------------------------
# Memory with many threads (issue 11 item 15)

def test_many_threads_stay_within_budget(big, tmp_path):
    """--memory 16M --threads 64: per-thread buffers must not push peak RSS past budget + 64 MiB
    (threads are capped to what the budget holds; the output is the same for any count)."""
    budget = 16 << 20
    rc, err, rss = run_measured(["convert", big, tmp_path / "out", "--profile", "--memory", "16M",
                                 "--threads", "64", "--tmpdir", tmp_path])
    assert rc == 0, err
    assert rss < budget + (64 << 20), f"peak RSS {rss / 2**20:.1f} MiB over budget + 64 MiB"
    assert "--threads 64" in err and "warning" in err, err
    rc1, err1, _ = run_measured(["convert", big, tmp_path / "one", "--quiet", "--threads", "1"])
    assert rc1 == 0, err1
    import pyarrow.parquet as pq
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(tmp_path / "out")
                                     for p in (tmp_path / "out").rglob("*.parquet"))
    for f in files:
        assert pq.read_table(tmp_path / "one" / f).equals(pq.read_table(tmp_path / "out" / f))
