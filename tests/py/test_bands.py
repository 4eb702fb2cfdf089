"""test_bands.py - `convert --bands`: several value columns per pixel, against GDAL + h3-py.

The oracle reads each selected band with GDAL ReadRaster (bytes -> numpy.frombuffer), applies
each band's NoData/NaN/mask validity, keeps pixels valid in every band, and indexes the pixel
centres with h3-py. The output, read back by pyarrow, pyarrow.dataset, DuckDB, Polars and
fastparquet, must be the same multiset of (h0, cell, band values...) rows, bit for bit.
"""
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h3
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from osgeo import gdal, osr

import rasters
import reference

gdal.UseExceptions()

HIVE_DIR = re.compile(r"^h0=([0-9a-f]{15})$")
ALL_READERS = ("pyarrow.dataset", "duckdb", "polars", "fastparquet")


# ---------------------------------------------------------------------------------------------
# The oracle

class Rows:
    """A canonical multiset of multi-band rows: h0, cell and one array per band, sorted by
    (h0, cell, band values as bits)."""

    def __init__(self, h0, cell, values):
        h0 = np.asarray(h0, dtype=np.uint64)
        cell = np.asarray(cell, dtype=np.uint64)
        values = [np.asarray(v) for v in values]
        assert all(v.size == cell.size for v in values) and h0.size == cell.size, "ragged rows"
        order = np.lexsort([reference._bits(v) for v in values][::-1] + [cell, h0])
        self.h0, self.cell = h0[order], cell[order]
        self.values = [v[order] for v in values]

    def __len__(self):
        return int(self.cell.size)

    def tuples(self):
        return Counter(zip(self.h0.tolist(), self.cell.tolist(),
                           *[reference._bits(v).tolist() for v in self.values]))


def diff(expected, got, limit=10):
    """Empty string if the multisets are equal (values compared as bits), else a summary."""
    if (len(expected) == len(got) and np.array_equal(expected.h0, got.h0)
            and np.array_equal(expected.cell, got.cell)
            and len(expected.values) == len(got.values)
            and all(e.dtype == g.dtype and np.array_equal(reference._bits(e), reference._bits(g))
                    for e, g in zip(expected.values, got.values))):
        return ""
    e, g = expected.tuples(), got.tuples()
    missing, extra = list((e - g).items()), list((g - e).items())
    lines = [f"expected {len(expected)} rows, got {len(got)}; {sum(n for _, n in missing)} "
             f"missing, {sum(n for _, n in extra)} unexpected; dtypes "
             f"{[v.dtype for v in expected.values]} vs {[v.dtype for v in got.values]}"]
    for label, items in (("missing", missing), ("unexpected", extra)):
        lines += [f"  {label} x{n}: {t}" for t, n in items[:limit]]
    return "\n".join(lines)


def reference_bands(path, res, bands, nodata=None, base_cell=None):
    """Expected rows of `convert path --resolution res --bands bands [--nodata nodata]`: pixels
    valid in every selected band (each with its own NoData, NaN and mask), values per band."""
    ds = gdal.Open(str(path))
    gt = ds.GetGeoTransform()
    valid = np.ones((ds.RasterYSize, ds.RasterXSize), dtype=bool)
    data = []
    for b in bands:
        band, arr = reference.read_band(ds, b)
        valid &= reference.validity(band, arr, nodata)
        data.append(arr)
    x, y = reference.pixel_centres(gt, ds.RasterXSize, ds.RasterYSize)
    x = np.broadcast_to(x, valid.shape)[valid]
    y = np.broadcast_to(y, valid.shape)[valid]
    lng, lat = reference.to_wgs84(ds.GetSpatialRef(), x, y)
    lng = reference.normalise_lng(lng)
    cells = np.fromiter((int(h3.latlng_to_cell(float(a), float(o), res), 16)
                         for a, o in zip(lat, lng)), dtype=np.uint64, count=lat.size)
    values = [d[valid] for d in data]
    if base_cell is not None:
        keep = reference.base_cells(cells) == base_cell
        cells, values = cells[keep], [v[keep] for v in values]
    return Rows(reference.parents0(cells), cells, values)


# ---------------------------------------------------------------------------------------------
# Reading the output

def parquet_files(out):
    return sorted(Path(out).rglob("*.parquet")) if Path(out).exists() else []


def order_key(v):
    """An unsigned integer array ordered as the values (floats: -inf < ... < -0.0 < +0.0 <
    ... < inf), independent of the writer's key code."""
    if v.dtype.kind != "f":
        return v
    u = v.view(np.dtype(f"u{v.dtype.itemsize}"))
    sign = np.array(1 << (8 * v.dtype.itemsize - 1), dtype=u.dtype)
    return np.where(u & sign, ~u, u | sign)


def read_pyarrow(out, res, names, dtypes, bands=None):
    """File by file with the per-file contract: columns names + [h<res>], types, footer band
    list, cells sorted, and rows sorted by (cell, band values)."""
    hcol = f"h{res}"
    h0s, cells, vals = [], [], [[] for _ in names]
    for f in parquet_files(out):
        m = HIVE_DIR.match(f.parent.name)
        assert m and f.name == "data_0.parquet", f
        pf = pq.ParquetFile(f)
        assert pf.schema_arrow.names == list(names) + [hcol], pf.schema_arrow.names
        for n, dt in zip(names, dtypes):
            assert pf.schema_arrow.field(n).type == pa.from_numpy_dtype(np.dtype(dt)), (n, dt)
        assert pf.schema_arrow.field(hcol).type == pa.uint64()
        kv = {k.decode(): v.decode() for k, v in pf.metadata.metadata.items()}
        if bands is not None:
            assert kv["raster2h3:band"] == ",".join(map(str, bands))
            assert json.loads(kv["raster2h3:value_columns"]) == list(names)
            assert kv["raster2h3:value_column"] == names[0]
        t = pf.read()
        c = t.column(hcol).to_numpy()
        assert np.all(c[1:] >= c[:-1]), f"{f}: cells not sorted"
        vs = [t.column(n).to_numpy() for n in names]
        # Within a cell rows ascend by the band values, lexicographically (-0.0 before +0.0).
        order = np.lexsort([order_key(v) for v in vs][::-1] + [c])
        assert np.array_equal(order, np.arange(c.size)), f"{f}: rows not sorted by values"
        h0s.append(np.full(c.size, int(m.group(1), 16), dtype=np.uint64))
        cells.append(c)
        for i, v in enumerate(vs):
            vals[i].append(v)
    if not cells:
        return Rows([], [], [np.empty(0, np.dtype(d)) for d in dtypes])
    return Rows(np.concatenate(h0s), np.concatenate(cells), [np.concatenate(v) for v in vals])


def read_other(reader, out, res, names, dtypes):
    hcol = f"h{res}"
    if reader == "pyarrow.dataset":
        part = pads.partitioning(pa.schema([("h0", pa.string())]), flavor="hive")
        t = pads.dataset(str(out), format="parquet", partitioning=part).to_table()
        h0 = [int(s, 16) for s in t.column("h0").to_pylist()]
        return Rows(h0, t.column(hcol).to_numpy(), [t.column(n).to_numpy() for n in names])
    if reader == "duckdb":
        import duckdb
        con = duckdb.connect()
        cols = ", ".join(f'"{n}"' for n in names)
        r = con.execute(f"SELECT h0, \"{hcol}\" AS c, {cols} FROM read_parquet('{out}/*/*.parquet',"
                        " hive_partitioning = true, hive_types = {'h0': VARCHAR})").fetchnumpy()
        con.close()
        return Rows([int(s, 16) for s in r["h0"]], np.asarray(r["c"]),
                    [np.asarray(r[n]) for n in names])
    if reader == "polars":
        import polars as pl
        df = pl.read_parquet(f"{out}/*/*.parquet", hive_partitioning=True,
                             hive_schema={"h0": pl.String})
        return Rows([int(s, 16) for s in df["h0"].to_list()], df[hcol].to_numpy(),
                    [df[n].to_numpy() for n in names])
    if reader == "fastparquet":
        import fastparquet
        h0s, cs, vs = [], [], [[] for _ in names]
        for f in parquet_files(out):
            df = fastparquet.ParquetFile(str(f)).to_pandas()
            assert list(df.columns) == list(names) + [hcol], list(df.columns)
            h0s.append(np.full(len(df), int(f.parent.name[3:], 16), dtype=np.uint64))
            cs.append(df[hcol].to_numpy())
            for i, n in enumerate(names):
                vs[i].append(df[n].to_numpy())
        return Rows(np.concatenate(h0s), np.concatenate(cs), [np.concatenate(v) for v in vs])
    raise ValueError(reader)


def read_output(out, res, names, dtypes, bands=None, readers=()):
    rows = read_pyarrow(out, res, names, dtypes, bands)
    for r in readers:
        other = read_other(r, out, res, names, dtypes)
        d = diff(rows, other)
        assert not d, f"reader {r} disagrees with pyarrow:\n{d}"
    return rows


def convert_ok(run_cli, raster, out, res, *flags):
    p = run_cli("convert", raster, out, "--resolution", res, "--quiet", *flags)
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr}"
    assert p.stdout == ""
    return p


def check(run_cli, raster, out, res, bands, names, *flags, nodata=None, readers=(),
          expect=None):
    convert_ok(run_cli, raster, out, res, "--bands",
               ",".join(map(str, bands)) if not isinstance(bands, str) else bands, *flags)
    if bands == "all":
        bands = list(range(1, gdal.Open(str(raster)).RasterCount + 1))
    elif isinstance(bands, str):
        bands = [int(b) for b in bands.split(",")]
    dtypes = [reference.value_dtype(raster, b) for b in bands]
    got = read_output(out, res, names, dtypes, bands, readers)
    if expect is None:
        expect = reference_bands(raster, res, bands, nodata)
    d = diff(expect, got)
    assert not d, f"output differs from the reference for --bands {bands} {flags}:\n{d}"
    return expect


# ---------------------------------------------------------------------------------------------
# Rasters: mixed types (a VRT over single-band GeoTIFFs), per-band NoData, a per-band mask

def mixed_raster(d, rows=120, cols=150, gt=(10.0, 0.001, 0.0, 50.0, 0.0, -0.001), seed=5,
                 descriptions=("", "", "")):
    """Band 1 Byte (NoData 0, few distinct values), band 2 UInt16 (NoData 65535 and a per-band
    mask, few distinct values), band 3 Float32 (NoData -9999, NaNs, negatives, -0.0/+0.0,
    extremes, infinities). Each band has pixels invalid only in that band."""
    d = Path(d)
    rng = np.random.default_rng(seed)
    b1 = rng.integers(1, 4, (rows, cols)).astype(np.uint8)
    b2 = rng.integers(1000, 1003, (rows, cols)).astype(np.uint16)
    b3 = rasters.random_values("float32", (rows, cols), seed).astype(np.float32)
    pick = rng.random((rows, cols))
    b3[pick < 0.05] = -0.0
    b3[(pick >= 0.05) & (pick < 0.1)] = 0.0
    b3[(pick >= 0.1) & (pick < 0.12)] = np.inf
    b3[(pick >= 0.12) & (pick < 0.14)] = -np.inf
    b3[(pick >= 0.14) & (pick < 0.2)] = np.float32(-1.5)  # equal values: later bands decide
    b1[rng.random((rows, cols)) < 0.08] = 0
    b2[rng.random((rows, cols)) < 0.08] = 65535
    b3[rng.random((rows, cols)) < 0.05] = -9999
    b3[rng.random((rows, cols)) < 0.05] = np.nan
    mask = np.where(rng.random((rows, cols)) < 0.1, 0, 255).astype(np.uint8)
    mask[:3, :] = 0
    for name, arr in (("b1", b1), ("b2", b2), ("b3", b3), ("m2", mask)):
        rasters.write_raster(d / f"{name}.tif", arr, gt, 4326)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)

    def band(i, dtype, src, nodata, desc, extra=""):
        return (f'<VRTRasterBand dataType="{dtype}" band="{i}">'
                f"<Description>{desc}</Description>"
                f"<NoDataValue>{nodata}</NoDataValue>"
                f'<SimpleSource><SourceFilename relativeToVRT="1">{src}</SourceFilename>'
                f"<SourceBand>1</SourceBand></SimpleSource>{extra}</VRTRasterBand>")

    mask_xml = ('<MaskBand><VRTRasterBand dataType="Byte"><SimpleSource>'
                '<SourceFilename relativeToVRT="1">m2.tif</SourceFilename>'
                "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></MaskBand>")
    xml = (f'<VRTDataset rasterXSize="{cols}" rasterYSize="{rows}">'
           f"<SRS>{srs.ExportToWkt()}</SRS>"
           f"<GeoTransform>{', '.join(repr(float(v)) for v in gt)}</GeoTransform>"
           + band(1, "Byte", "b1.tif", 0, descriptions[0])
           + band(2, "UInt16", "b2.tif", 65535, descriptions[1], mask_xml)
           + band(3, "Float32", "b3.tif", -9999, descriptions[2])
           + "</VRTDataset>")
    path = d / "mixed.vrt"
    path.write_text(xml)
    return str(path)


@pytest.fixture
def mixed(raster_dir):
    return mixed_raster(raster_dir)


def test_mixed_raster_is_what_the_tests_need(mixed):
    """Guard: the VRT has the types, per-band NoData and a per-band mask on band 2 only."""
    ds = gdal.Open(mixed)
    assert [ds.GetRasterBand(i).DataType for i in (1, 2, 3)] == [
        gdal.GDT_Byte, gdal.GDT_UInt16, gdal.GDT_Float32]
    assert ds.GetRasterBand(1).GetMaskFlags() == gdal.GMF_NODATA
    assert ds.GetRasterBand(2).GetMaskFlags() == 0  # a real per-band mask
    assert ds.GetRasterBand(3).GetMaskFlags() == gdal.GMF_NODATA
    valid = []
    for b in (1, 2, 3):
        band, arr = reference.read_band(ds, b)
        valid.append(reference.validity(band, arr))
    only = [v & ~np.logical_and.reduce([w for w in valid if w is not v]) for v in valid]
    assert all(((~v) & np.logical_and.reduce([w for w in valid if w is not v])).any()
               for v in valid), "each band must have pixels invalid in it alone"
    assert all(o.any() for o in only)


# ---------------------------------------------------------------------------------------------
# 1. Real data: L7_ETMs.tif, 6 Byte bands, UTM

@pytest.mark.parametrize("bands", ["1,3,5", "all", "6,2"])
def test_real_l7(run_cli, testdata, out_dir, bands):
    raster = testdata["L7_ETMs.tif"]
    sel = list(range(1, 7)) if bands == "all" else [int(b) for b in bands.split(",")]
    names = [f"band_{b}" for b in sel]
    expect = check(run_cli, raster, out_dir, 9, bands, names,
                   readers=ALL_READERS if bands == "1,3,5" else ())
    assert len(expect) == 349 * 352


def test_real_l7_nodata_drops_pixels_invalid_in_one_band(run_cli, testdata, out_dir):
    """--nodata 255 applies to every band; saturated pixels differ per band, so pixels
    saturated in only one selected band must be dropped."""
    raster = testdata["L7_ETMs.tif"]
    expect = check(run_cli, raster, out_dir, 9, [1, 5], ["r", "swir"], "--value-name", "r,swir",
                   "--nodata", "255", nodata=255.0, readers=("duckdb",))
    ds = gdal.Open(str(raster))
    sat = [reference.read_band(ds, b)[1] == 255 for b in (1, 5)]
    assert (sat[0] & ~sat[1]).any() and (sat[1] & ~sat[0]).any()
    assert len(expect) == int((~sat[0] & ~sat[1]).sum())


# ---------------------------------------------------------------------------------------------
# 2. Mixed types, per-band validity, ordering of floats, threads and spilling

def test_mixed_types_oracle(run_cli, mixed, out_dir):
    names = ["band_1", "band_2", "band_3"]
    expect = check(run_cli, mixed, out_dir, 8, [1, 2, 3], names,
                   readers=ALL_READERS)
    v3 = expect.values[2]
    assert np.signbit(v3[v3 == 0]).any() and (~np.signbit(v3[v3 == 0])).any(), "-0.0 and +0.0"
    assert np.isinf(v3).any() and (v3 < 0).any()
    assert len(np.unique(expect.cell)) < len(expect) / 10, "several pixels per cell"


def test_band_order_is_column_order(run_cli, mixed, out_dir):
    check(run_cli, mixed, out_dir, 8, [3, 1], ["band_3", "band_1"])


def table_of(out):
    return {f.parent.name: pq.read_table(f) for f in parquet_files(out)}


def test_threads_and_spilling_give_identical_output(run_cli, raster_dir, tmp_path):
    """800 x 800 pixels: --memory 16M spills with 1 and 2 threads; every run's rows, in file
    order, equal the 1-thread in-memory run and the oracle."""
    r = mixed_raster(raster_dir, rows=800, cols=800, gt=(10.0, 0.0005, 0.0, 50.0, 0.0, -0.0005),
                     seed=9)
    names = ["band_1", "band_2", "band_3"]
    base = tmp_path / "t1"
    expect = check(run_cli, r, base, 8, [1, 2, 3], names, "--threads", "1")
    assert len(expect) > 300_000  # more rows than a 16M budget buffers: it must spill
    want = table_of(base)
    for threads in ("1", "2"):
        out = tmp_path / f"spill{threads}"
        p = convert_ok(run_cli, r, out, 8, "--bands", "1,2,3", "--threads", threads,
                       "--memory", "16M", "--profile")
        spilled = float(re.search(r"spilled ([0-9.]+) MiB", p.stderr).group(1))
        assert spilled > 0, p.stderr
        got = table_of(out)
        assert got.keys() == want.keys()
        for k in want:
            assert got[k].equals(want[k]), f"{k}: rows differ with {threads} threads, spilling"
    out = tmp_path / "t2"
    convert_ok(run_cli, r, out, 8, "--bands", "1,2,3", "--threads", "2")
    for k, t in want.items():
        assert (out / k / "data_0.parquet").read_bytes() == (base / k / "data_0.parquet"
                                                              ).read_bytes(), k


def test_work_units_union_equals_whole(run_cli, raster_dir, tmp_path):
    r = mixed_raster(raster_dir, rows=60, cols=120, gt=(-30.0, 1.0, 0.0, 40.0, 0.0, -1.0),
                     seed=13)
    names = ["band_1", "band_2", "band_3"]
    whole = check(run_cli, r, tmp_path / "whole", 2, [1, 2, 3], names)
    present = sorted(set(reference.base_cells(whole.cell).tolist()))
    assert len(present) > 5

    def unit(n):
        out = tmp_path / f"u{n}"
        convert_ok(run_cli, r, out, 2, "--bands", "1,2,3", "--i", n)
        return read_pyarrow(out, 2, names, ["uint8", "uint16", "float32"])

    with ThreadPoolExecutor(4) as ex:
        parts = list(ex.map(unit, present + [0, 121]))
    union = Rows(np.concatenate([p.h0 for p in parts]), np.concatenate([p.cell for p in parts]),
                 [np.concatenate([p.values[i] for p in parts]) for i in range(3)])
    d = diff(whole, union)
    assert not d, f"union of work units != whole run:\n{d}"


# ---------------------------------------------------------------------------------------------
# 3. Names, one band, parents and string cells

def test_names_from_descriptions_made_unique(run_cli, raster_dir, out_dir):
    r = mixed_raster(raster_dir, descriptions=("ndvi", "ref", "ref"))
    check(run_cli, r, out_dir, 8, [1, 2, 3], ["ndvi", "ref_2", "ref_3"])


def test_value_name_list(run_cli, mixed, out_dir):
    check(run_cli, mixed, out_dir, 8, [2, 3], ["q", "temp"], "--value-name", "q,temp")


def test_one_band_is_the_same_as_band(run_cli, mixed, tmp_path):
    """--bands 3 writes exactly what --band 3 writes (column 'value', same bytes)."""
    convert_ok(run_cli, mixed, tmp_path / "a", 8, "--band", "3")
    convert_ok(run_cli, mixed, tmp_path / "b", 8, "--bands", "3")
    fa, fb = parquet_files(tmp_path / "a"), parquet_files(tmp_path / "b")
    assert [f.relative_to(tmp_path / "a") for f in fa] == [f.relative_to(tmp_path / "b")
                                                          for f in fb]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(fa, fb))
    assert pq.read_schema(fa[0]).names == ["value", "h8"]


def test_parents_and_string_cells(run_cli, mixed, out_dir):
    convert_ok(run_cli, mixed, out_dir, 8, "--bands", "1,3", "--parents", "0,5",
               "--cell-format", "string")
    t = pa.concat_tables([pq.read_table(f) for f in parquet_files(out_dir)])
    assert t.schema.names == ["band_1", "band_3", "h8", "parent_h0", "h5"]
    cells = np.array([int(s, 16) for s in t.column("h8").to_pylist()], dtype=np.uint64)
    assert t.column("h5").to_pylist() == [h3.cell_to_parent(s, 5) for s in
                                          t.column("h8").to_pylist()]
    got = Rows(reference.parents0(cells), cells,
               [t.column("band_1").to_numpy(), t.column("band_3").to_numpy()])
    d = diff(reference_bands(mixed, 8, [1, 3]), got)
    assert not d, d


def test_info_and_preview(run_cli, mixed, out_dir, tmp_path):
    convert_ok(run_cli, mixed, out_dir, 8, "--bands", "1,2,3")
    p = run_cli("info", out_dir, "--json")
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert [c["name"] for c in j["columns"]] == ["band_1", "band_2", "band_3", "h8"]
    assert j["value_column"] == "band_1"
    for col in (None, "band_3"):
        png = tmp_path / f"{col}.png"
        p = run_cli("preview", out_dir, png, *(["--column", col] if col else []))
        assert p.returncode == 0 and png.stat().st_size > 0, p.stderr


def test_float64_band_alone(run_cli, raster_dir, out_dir):
    data = rasters.random_values("float64", (40, 40), 3)
    r = rasters.write_raster(raster_dir / "d.tif", data, (10.0, 0.001, 0.0, 50.0, 0.0, -0.001),
                             4326)
    check(run_cli, r, out_dir, 9, "all", ["value"])


# ---------------------------------------------------------------------------------------------
# 4. Resume and verify

def test_resume_other_bands_redo_and_verify(run_cli, mixed, out_dir):
    convert_ok(run_cli, mixed, out_dir, 8, "--bands", "1,2")
    p = run_cli("convert", mixed, out_dir, "--resolution", 8, "--bands", "1,2")
    assert p.returncode == 0 and "nothing to do" in p.stderr
    p = run_cli("convert", mixed, out_dir, "--resolution", 8, "--bands", "1,2", "--dry-run")
    assert p.stdout.strip().endswith("nothing to do")
    # Another selection (or other names) makes every partition stale: all are redone.
    p = run_cli("convert", mixed, out_dir, "--resolution", 8, "--bands", "1,3", "--dry-run")
    assert "redo" in p.stdout and "skip" not in p.stdout, p.stdout
    p = run_cli("convert", mixed, out_dir, "--resolution", 8, "--bands", "1,2", "--value-name",
                "a,b", "--dry-run")
    assert "redo" in p.stdout and "skip" not in p.stdout, p.stdout
    check(run_cli, mixed, out_dir, 8, [1, 3], ["band_1", "band_3"])
    # verify --input uses the bands the dataset records, or those given.
    p = run_cli("verify", out_dir, "--input", mixed)
    assert p.returncode == 0 and "0 problems" in p.stdout, p.stderr
    p = run_cli("verify", out_dir, "--input", mixed, "--bands", "1,3")
    assert p.returncode == 0, p.stderr
    p = run_cli("verify", out_dir, "--input", mixed, "--bands", "1")
    assert p.returncode == 6 and "valid pixels" in p.stderr, p.stderr


def rewrite(path, table):
    meta = pq.read_metadata(path).metadata
    pq.write_table(table.replace_schema_metadata(meta), path)


def test_verify_catches_defects_in_multi_band_output(run_cli, mixed, out_dir):
    convert_ok(run_cli, mixed, out_dir, 8, "--bands", "1,2,3")
    f = parquet_files(out_dir)[0]
    t = pq.read_table(f)
    rewrite(f, pa.concat_tables([t.slice(0, 1), t]))  # a duplicate pixel
    p = run_cli("verify", out_dir, "--input", mixed)
    assert p.returncode == 6
    assert f"{t.num_rows + 1} rows, the input has {t.num_rows}" in p.stderr, p.stderr
    rewrite(f, t.drop_columns(["band_2"]))  # a value column missing
    p = run_cli("verify", out_dir)
    assert p.returncode == 6 and "columns differ" in p.stderr, p.stderr
