"""conftest.py - fixtures for the raster2h3 CLI tests: the binary, a runner, scratch dirs, data."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("R2H_BUILD_DIR", REPO / "build"))
BINARY = BUILD_DIR / "raster2h3"

sys.path.insert(0, str(Path(__file__).resolve().parent))


def cli_env(env=None):
    """The environment for a CLI run: the caller's, minus job-array variables, plus `env`.

    A value of None in `env` removes that variable.
    """
    base = dict(os.environ)
    for k in ("JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"):
        base.pop(k, None)
    for k, v in (env or {}).items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = str(v)
    return base


def run_binary(*args, env=None, timeout=300):
    """Run the CLI with args (converted to str); returns CompletedProcess with text output."""
    if not BINARY.exists():
        pytest.fail(f"CLI not built: {BINARY} (set R2H_BUILD_DIR or run cmake --build build)")
    return subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True,
                          env=cli_env(env), timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def cli_path():
    if not BINARY.exists():
        pytest.fail(f"CLI not built: {BINARY} (set R2H_BUILD_DIR or run cmake --build build)")
    return BINARY


@pytest.fixture
def run_cli(cli_path):
    """run_cli(*args, env=None) -> subprocess.CompletedProcess (text)."""
    return run_binary


@pytest.fixture
def out_dir(tmp_path):
    """A not-yet-existing output directory inside the test's scratch dir."""
    return tmp_path / "out"


@pytest.fixture
def raster_dir(tmp_path):
    d = tmp_path / "rasters"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def testdata():
    """Paths of real rasters from Debian packages (scripts/fetch_testdata.sh), else skip.

    Keys are file names: elev.tif, L7_ETMs.tif, egm96_15.gtx (always), bcsd_obs_1999.nc and the
    optional packages' gfs.grib2, etopo60.cdf, coads_climatology.cdf, ocean_atlas_subset.nc
    (absent when not fetched: tests skip on them with the reason)."""
    script = REPO / "scripts" / "fetch_testdata.sh"
    try:
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"real test data unavailable: fetch_testdata.sh could not run: {e}")
    paths = {}
    for line in proc.stdout.splitlines():
        name, sep, path = line.partition("=")
        if sep and Path(path).exists():
            paths[name] = Path(path)
    if proc.returncode != 0 or len(paths) < 3:
        pytest.skip("real test data unavailable: fetch_testdata.sh failed "
                    f"(exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return paths
