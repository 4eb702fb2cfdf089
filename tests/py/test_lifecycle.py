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
