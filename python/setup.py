"""Copies the C library into the package so the installed binding needs no checkout.

The library is $RASTER2H3_LIBRARY if set, else the repository's build/libraster2h3.so (run
`make build` first). Metadata lives in pyproject.toml."""
import os
import shutil
from pathlib import Path

from setuptools import setup

here = Path(__file__).resolve().parent
lib = Path(os.environ.get("RASTER2H3_LIBRARY", here.parent / "build" / "libraster2h3.so"))
if not lib.exists():
    raise SystemExit(f"{lib} not found: run `make build` in the repository first "
                     "(or set RASTER2H3_LIBRARY to a built libraster2h3.so)")
dest = here / "raster2h3" / "_lib"
dest.mkdir(exist_ok=True)
shutil.copy2(lib, dest / "libraster2h3.so")
setup()
