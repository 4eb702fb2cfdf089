#!/usr/bin/env bash
# Install the benchmark-only dependencies (PyPI + Debian `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || apt-get install -y time
.venv/bin/pip install -r bench/requirements.txt
[ -x .venv-bench/bin/python ] || /usr/bin/python3 -m venv .venv-bench
.venv-bench/bin/pip install -r bench/requirements-raster2dggs.txt
