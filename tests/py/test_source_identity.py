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
from s3_fixture import S3Server

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


# ---- item 2: verify --input compares content -----------------------------------------------


def test_verify_input_detects_other_values_with_the_same_mask(run_cli, tmp_path):
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    rasters.write_raster(a, values_grid(1), GT, 4326, nodata=NODATA)
    rasters.write_raster(b, values_grid(2), GT, 4326, nodata=NODATA)
    out = tmp_path / "ds"
    convert(run_cli, a, out, "--quiet")
    p = run_cli("verify", out, "--input", a)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = run_cli("verify", out, "--input", b)
    assert p.returncode == 6, p.stderr
    assert "the input has" not in p.stderr  # the counts agree: only the values differ
    assert "cells and values differ from the input" in p.stderr, p.stderr


def test_verify_input_detects_a_rewritten_partition(run_cli, tmp_path):
    a = tmp_path / "a.tif"
    rasters.write_raster(a, values_grid(1), GT, 4326, nodata=NODATA)
    out = tmp_path / "ds"
    convert(run_cli, a, out, "--quiet")
    f = sorted(out.glob("h0=*"))[3] / "data_0.parquet"
    t = pq.read_table(f)
    # One row's value changed by one; same cells, same counts, same footer (fingerprint).
    rewrite_values(f, t, "value", lambda c: pa.array(
        [v + 1 if i == t.num_rows // 2 else v for i, v in enumerate(c.to_pylist())]))
    assert pq.read_table(f).num_rows == t.num_rows
    assert run_cli("verify", out).returncode == 0  # structure and manifest counts still agree
    p = run_cli("verify", out, "--input", a)
    assert p.returncode == 6
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"raster2h3: verify: {f.parent.name}: "), p.stderr
    assert "cells and values differ from the input" in lines[0]


def test_verify_input_detects_swapped_cells(run_cli, tmp_path):
    """Same values and cells as multisets per column, but paired differently."""
    a = tmp_path / "a.tif"
    rasters.write_raster(a, values_grid(1), GT, 4326, nodata=NODATA)
    out = tmp_path / "ds"
    convert(run_cli, a, out, "--quiet")
    f = sorted(out.glob("h0=*"))[4] / "data_0.parquet"
    t = pq.read_table(f)
    vals = t.column("value").to_pylist()
    i = next(k for k in range(1, len(vals)) if vals[k] != vals[0])
    vals[0], vals[i] = vals[i], vals[0]
    rewrite_values(f, t, "value", lambda c: pa.array(vals))
    p = run_cli("verify", out, "--input", a)
    assert p.returncode == 6 and f"{f.parent.name}: " in p.stderr, p.stderr


def test_verify_input_checks_every_band(run_cli, tmp_path):
    base = values_grid(1)
    other = np.random.default_rng(3).integers(0, 1000, base.shape, dtype=np.uint16)
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    rasters.write_raster(a, base, GT, 4326, nodata=NODATA, extra_bands=[other])
    rasters.write_raster(b, base, GT, 4326, nodata=NODATA, extra_bands=[other ^ 1])
    out = tmp_path / "ds"
    convert(run_cli, a, out, "--bands", "1,2", "--quiet")
    assert run_cli("verify", out, "--input", a).returncode == 0
    p = run_cli("verify", out, "--input", b)  # band 1 and the mask agree, band 2 does not
    assert p.returncode == 6 and "cells and values differ" in p.stderr, p.stderr


def test_verify_input_string_cells_compares_values(run_cli, tmp_path):
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    rasters.write_raster(a, values_grid(1), GT, 4326, nodata=NODATA)
    rasters.write_raster(b, values_grid(2), GT, 4326, nodata=NODATA)
    out = tmp_path / "ds"
    convert(run_cli, a, out, "--cell-format", "string", "--parents", "1", "--quiet")
    assert run_cli("verify", out, "--input", a).returncode == 0
    p = run_cli("verify", out, "--input", b)
    assert p.returncode == 6 and "values differ from the input" in p.stderr, p.stderr


def test_verify_input_detects_a_lost_value_column_with_parents(run_cli, tmp_path):
    a = tmp_path / "a.tif"
    rasters.write_raster(a, values_grid(1), GT, 4326, nodata=NODATA)
    out = tmp_path / "ds"
    convert(run_cli, a, out, "--parents", "1", "--quiet")
    f = sorted(out.glob("h0=*"))[2] / "data_0.parquet"
    t = pq.read_table(f)
    meta = pq.read_metadata(f).metadata
    pq.write_table(t.drop_columns(["value"]).replace_schema_metadata(meta), f)
    p = run_cli("verify", out, "--input", a)
    assert p.returncode == 6 and f"{f.parent.name}: " in p.stderr, p.stderr


@pytest.mark.parametrize("stats,what", [(None, "mean"), ("count,sum", "sum"),
                                        ("count,min,max", "min")])
def test_verify_input_aggregate_compares_values(run_cli, tmp_path, stats, what):
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    rasters.write_raster(a, values_grid(1), GT, 4326, nodata=NODATA)
    # Same mask; every value one larger (sums, means, minima and maxima all move).
    rasters.write_raster(b, np.where(values_grid(1) == NODATA, NODATA, values_grid(1) + 1)
                         .astype(np.uint16), GT, 4326, nodata=NODATA)
    out = tmp_path / "ds"
    extra = ["--stat", stats] if stats else []
    convert(run_cli, a, out, "--aggregate", *extra, "--quiet")
    p = run_cli("verify", out, "--input", a)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = run_cli("verify", out, "--input", b)
    assert p.returncode == 6, p.stderr
    assert "pixels counted" not in p.stderr  # counts agree
    assert f"value_{what}" in p.stderr, p.stderr


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


def test_s3_input_identity_is_name_size_and_etag(run_cli, tmp_path):
    pytest.importorskip("moto")
    s3 = S3Server(tmp_path)
    try:
        s3.client.create_bucket(Bucket="bkt")
        a, b = tmp_path / "a.tif", tmp_path / "b.tif"
        rasters.write_raster(a, values_grid(1), GT, 4326, nodata=NODATA)
        rasters.write_raster(b, values_grid(2), GT, 4326, nodata=NODATA)
        assert a.stat().st_size == b.stat().st_size
        s3.client.put_object(Bucket="bkt", Key="in/r.tif", Body=a.read_bytes())
        out = tmp_path / "ds"
        p = run_cli("convert", "s3://bkt/in/r.tif", out, "--resolution", 3, "--quiet",
                    env=s3.env())
        assert p.returncode == 0, p.stderr
        # s3://b/k is read as /vsis3/b/k: the same source.
        p = run_cli("convert", "/vsis3/bkt/in/r.tif", out, "--resolution", 3, env=s3.env())
        assert p.returncode == 0 and "nothing to do" in p.stderr, p.stderr
        # Same size, other bytes (Last-Modified may be the same second): the ETag tells.
        s3.client.put_object(Bucket="bkt", Key="in/r.tif", Body=b.read_bytes())
        p = run_cli("convert", "s3://bkt/in/r.tif", out, "--resolution", 3, env=s3.env())
        assert p.returncode == 0 and "nothing to do" not in p.stderr, p.stderr
        assert dataset_values(out) == gdal_valid_values(b)
    finally:
        s3.close()
