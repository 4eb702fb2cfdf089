"""test_source_identity.py - what makes a rerun redo partitions, and what `verify --input` compares.

Resume (docs/design/0006-resume-and-s3.md): a raster rewritten with other values keeps its size
and its mtime in whole seconds must still be redone (nanosecond mtime); the same file named by a
relative or an absolute path is the same source; a VRT's identity covers the files it points to.

verify --input compares content, not only counts: a per-partition checksum of the (cell, value)
rows for pixel datasets, sums/means and min/max for aggregate datasets.

Oracles: GDAL ReadRaster for the values a redone dataset must hold, pyarrow to read it back.
"""
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from osgeo import gdal

import rasters

gdal.UseExceptions()

GT = (-180.0, 1.0, 0.0, 90.0, 0.0, -1.0)
NODATA = 65535


def values_grid(seed, shape=(180, 360), mask_seed=11):
    """uint16 values from seed; NoData where a fixed mask (mask_seed) says so."""
    data = np.random.default_rng(seed).integers(0, 1000, shape, dtype=np.uint16)
    data[np.random.default_rng(mask_seed).random(shape) < 0.2] = NODATA
    return data


def gdal_valid_values(path, band=1):
    """Valid values of a band, as GDAL reads them (NoData excluded)."""
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(band)
    a = np.frombuffer(b.ReadRaster(), dtype=np.uint16)
    nd = b.GetNoDataValue()
    return Counter(int(v) for v in a if nd is None or v != nd)


def dataset_values(out, column="value"):
    t = pq.read_table(sorted(Path(out).rglob("*.parquet")), columns=[column])
    return Counter(t.column(column).to_pylist())


def set_mtime_ns(path, ns):
    os.utime(path, ns=(ns, ns))
    if os.stat(path).st_mtime_ns != ns:
        pytest.skip("this filesystem does not keep nanosecond mtimes")


def convert(run_cli, src, out, *args):
    p = run_cli("convert", src, out, "--resolution", 3, *args)
    assert p.returncode == 0, p.stderr
    return p


def rewrite_values(path, table, column, fn):
    """Rewrite a partition file with fn applied to one column; same rows, cells and footer."""
    meta = pq.read_metadata(path).metadata
    i = table.schema.get_field_index(column)
    col = table.column(column)
    table = table.set_column(i, table.schema.field(i), fn(col).cast(col.type))
    pq.write_table(table.replace_schema_metadata(meta), path)


# ---- item 2: nanosecond mtime --------------------------------------------------------------


def test_rewrite_within_the_same_second_is_redone(run_cli, tmp_path):
    src = tmp_path / "a.tif"
    rasters.write_raster(src, values_grid(1), GT, 4326, nodata=NODATA)
    size = src.stat().st_size
    t = 1_700_000_000 * 10**9
    set_mtime_ns(src, t + 111)
    out = tmp_path / "ds"
    convert(run_cli, src, out, "--quiet")
    rasters.write_raster(src, values_grid(2), GT, 4326, nodata=NODATA)
    assert src.stat().st_size == size  # only the values and the sub-second mtime differ
    set_mtime_ns(src, t + 222)
    p = convert(run_cli, src, out)
    assert "nothing to do" not in p.stderr
    assert dataset_values(out) == gdal_valid_values(src)
    assert run_cli("verify", out, "--input", src).returncode == 0
    p = convert(run_cli, src, out)
    assert "nothing to do" in p.stderr


# ---- item 14b: canonical source identity ----------------------------------------------------


def test_relative_and_absolute_paths_are_the_same_source(run_cli, tmp_path):
    src = tmp_path / "a.tif"
    rasters.write_raster(src, values_grid(1), GT, 4326, nodata=NODATA)
    out = tmp_path / "ds"
    rel = os.path.relpath(src)
    assert not os.path.isabs(rel)
    convert(run_cli, rel, out, "--quiet")
    before = {f: f.stat().st_mtime_ns for f in out.rglob("*.parquet")}
    p = convert(run_cli, src.resolve(), out)
    assert "nothing to do" in p.stderr, p.stderr
    p = convert(run_cli, str(tmp_path) + "/./a.tif", out)
    assert "nothing to do" in p.stderr, p.stderr
    assert {f: f.stat().st_mtime_ns for f in out.rglob("*.parquet")} == before
    # The footer keeps the name as given (display); verify accepts either spelling.
    assert pq.read_metadata(next(out.rglob("*.parquet"))).metadata[b"raster2h3:source"] == \
        rel.encode()
    assert run_cli("verify", out, "--input", src.resolve()).returncode == 0


def test_vrt_identity_covers_its_files(run_cli, tmp_path):
    tif, vrt = tmp_path / "a.tif", tmp_path / "a.vrt"
    rasters.write_raster(tif, values_grid(1), GT, 4326, nodata=NODATA)
    gdal.BuildVRT(str(vrt), [str(tif)]).FlushCache()
    vrt_stat = vrt.stat()
    out = tmp_path / "ds"
    convert(run_cli, vrt, out, "--quiet")
    p = convert(run_cli, vrt, out)
    assert "nothing to do" in p.stderr, p.stderr  # reading leaves no file behind to differ
    size = tif.stat().st_size
    rasters.write_raster(tif, values_grid(2), GT, 4326, nodata=NODATA)
    assert tif.stat().st_size == size
    assert vrt.stat().st_mtime_ns == vrt_stat.st_mtime_ns and vrt.stat().st_size == vrt_stat.st_size
    p = convert(run_cli, vrt, out)
    assert "nothing to do" not in p.stderr
    assert dataset_values(out) == gdal_valid_values(tif)
    p = run_cli("verify", out, "--input", vrt)
    assert p.returncode == 0, p.stderr
