"""test_convert_oracle.py - `raster2h3 convert` output against the GDAL + h3-py reference.

Every test runs the real binary, reads the whole output dataset back with independent Parquet
readers, and compares the multiset of (h0 from the Hive path, value, cell) rows with
reference.reference_rows() exactly: zero differences allowed.
"""
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h3
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import rasters
import reference
from reference import canonical, diff_rows, reference_rows

HIVE_DIR = re.compile(r"^h0=([0-9a-f]{15})$")
META_KEYS = ("raster2h3:source", "raster2h3:band", "raster2h3:resolution", "raster2h3:nodata",
             "raster2h3:version")
# Upstream H3 v4.5.0 known-answer files, kept in the repository (provenance in their README).
VECTORS = Path(__file__).resolve().parents[1] / "data" / "h3-vectors"
ALL_READERS = ("pyarrow", "pyarrow.dataset", "duckdb", "polars", "fastparquet")
WORKERS = max(2, os.cpu_count() or 2)


# ---------------------------------------------------------------------------------------------
# Reading the CLI's output

def parquet_files(out):
    return sorted(Path(out).rglob("*.parquet")) if Path(out).exists() else []


def read_pyarrow(out, res, value_name, dtype, band=1):
    """Read file by file with pyarrow, checking the per-file contract; returns Rows."""
    out = Path(out)
    hcol = reference.cell_column(res)
    h0s, values, cells = [], [], []
    for d in sorted(p for p in out.iterdir() if p.is_dir()):
        m = HIVE_DIR.match(d.name)
        assert m, f"unexpected directory {d.name!r} in output (want h0=<15 lowercase hex>)"
        assert (d / "data_0.parquet").is_file(), f"partition {d.name} has no data_0.parquet"
    for f in parquet_files(out):
        rel = f.relative_to(out)
        assert len(rel.parts) == 2 and rel.name == "data_0.parquet", f"stray file {rel}"
        m = HIVE_DIR.match(rel.parts[0])
        assert m, f"bad partition directory {rel.parts[0]!r}"
        h0 = int(m.group(1), 16)
        assert h3.is_valid_cell(h3.int_to_str(h0)) and h3.get_resolution(h3.int_to_str(h0)) == 0, \
            f"{rel.parts[0]} is not a resolution-0 cell"
        pf = pq.ParquetFile(f)
        schema = pf.schema_arrow
        assert schema.names == [value_name, hcol], \
            f"{rel}: columns {schema.names}, want {[value_name, hcol]} (no h0 column in files)"
        assert schema.field(hcol).type == pa.uint64(), f"{rel}: {hcol} is {schema.field(hcol).type}"
        want_t = pa.from_numpy_dtype(dtype)
        assert schema.field(value_name).type == want_t, \
            f"{rel}: value column is {schema.field(value_name).type}, want {want_t}"
        kv = {k.decode(): v.decode() for k, v in (pf.metadata.metadata or {}).items()}
        for k in META_KEYS:
            assert k in kv, f"{rel}: footer key {k} missing (have {sorted(kv)})"
        assert int(kv["raster2h3:resolution"]) == res
        assert int(kv["raster2h3:band"]) == band
        t = pf.read()
        assert t.num_rows > 0, f"{rel}: empty partition file"
        assert t.column(0).null_count == 0 and t.column(1).null_count == 0, f"{rel}: nulls"
        v = t.column(0).to_numpy()
        c = t.column(1).to_numpy()
        assert c.dtype == np.uint64 and v.dtype == dtype
        assert np.all(c[1:] >= c[:-1]), f"{rel}: {hcol} not sorted"
        h0s.append(np.full(c.size, h0, dtype=np.uint64))
        values.append(v)
        cells.append(c)
    if not cells:
        return canonical(np.empty(0, np.uint64), np.empty(0, dtype), np.empty(0, np.uint64))
    return canonical(np.concatenate(h0s), np.concatenate(values), np.concatenate(cells))


def read_pyarrow_dataset(out, res, value_name, dtype):
    part = pads.partitioning(pa.schema([("h0", pa.string())]), flavor="hive")
    t = pads.dataset(str(out), format="parquet", partitioning=part).to_table()
    h0 = np.array([int(s, 16) for s in t.column("h0").to_pylist()], dtype=np.uint64)
    return canonical(h0, t.column(value_name).to_numpy().astype(dtype, copy=False),
                     t.column(reference.cell_column(res)).to_numpy())


def read_duckdb(out, res, value_name, dtype):
    import duckdb
    con = duckdb.connect()
    q = (f'SELECT h0, "{value_name}" AS v, "h{res}" AS c FROM read_parquet('
         f"'{out}/*/*.parquet', hive_partitioning = true, hive_types = {{'h0': VARCHAR}})")
    r = con.execute(q).fetchnumpy()
    con.close()
    h0 = np.array([int(s, 16) for s in r["h0"]], dtype=np.uint64)
    v = np.asarray(r["v"])
    assert v.dtype == dtype, f"duckdb reads value as {v.dtype}"
    c = np.asarray(r["c"])
    assert c.dtype == np.uint64, f"duckdb reads cell as {c.dtype}"
    return canonical(h0, v, c)


def read_polars(out, res, value_name, dtype):
    import polars as pl
    df = pl.read_parquet(f"{out}/*/*.parquet", hive_partitioning=True,
                         hive_schema={"h0": pl.String})
    h0 = np.array([int(s, 16) for s in df["h0"].to_list()], dtype=np.uint64)
    v = df[value_name].to_numpy()
    c = df[reference.cell_column(res)].to_numpy()
    assert v.dtype == dtype, f"polars reads value as {v.dtype}"
    assert c.dtype == np.uint64, f"polars reads cell as {c.dtype}"
    return canonical(h0, v, c)


def read_fastparquet(out, res, value_name, dtype):
    """Compare fastparquet with pyarrow file by file, row by row (in file order)."""
    import fastparquet
    hcol = reference.cell_column(res)
    h0s, vs, cs = [], [], []
    for f in parquet_files(out):
        df = fastparquet.ParquetFile(str(f)).to_pandas()
        assert list(df.columns) == [value_name, hcol], list(df.columns)
        v = df[value_name].to_numpy()
        c = df[hcol].to_numpy()
        assert v.dtype == dtype, f"fastparquet reads value as {v.dtype}"
        assert c.dtype == np.uint64, f"fastparquet reads cell as {c.dtype}"
        t = pq.read_table(f)
        assert len(df) == t.num_rows
        assert np.array_equal(reference._bits(v), reference._bits(t.column(0).to_numpy())), \
            f"{f}: fastparquet and pyarrow disagree on {value_name}"
        # fastparquet misreads DELTA_BINARY_PACKED pages wider than 28 bits; the writer writes
        # such pages PLAIN (docs/design/0002-parquet-writer.md), so the cells must match too.
        assert np.array_equal(c, t.column(1).to_numpy()), \
            f"{f}: fastparquet and pyarrow disagree on {hcol}"
        h0s.append(np.full(c.size, int(f.parent.name[3:], 16), dtype=np.uint64))
        vs.append(v)
        cs.append(c)
    if not cs:
        return canonical(np.empty(0, np.uint64), np.empty(0, dtype), np.empty(0, np.uint64))
    return canonical(np.concatenate(h0s), np.concatenate(vs), np.concatenate(cs))


READERS = {"pyarrow.dataset": read_pyarrow_dataset, "duckdb": read_duckdb,
           "polars": read_polars, "fastparquet": read_fastparquet}


def read_output(out, res, value_name, dtype, band=1, readers=("pyarrow",)):
    """Rows of the output as read by pyarrow (always, with the per-file checks) and
    the other readers asked for; asserts all readers agree."""
    rows = read_pyarrow(out, res, value_name, dtype, band)
    for name in readers:
        if name == "pyarrow" or not parquet_files(out):
            continue
        other = READERS[name](out, res, value_name, dtype)
        d = diff_rows(rows, other)
        assert not d, f"reader {name} disagrees with pyarrow:\n{d}"
    return rows


# ---------------------------------------------------------------------------------------------
# Running and checking

def convert_ok(run_cli, raster, out, res, *flags, env=None):
    args = ["convert", raster, out]
    if res is not None:
        args += ["--resolution", res]
    proc = run_cli(*args, "--quiet", *flags, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    assert proc.stdout == "", f"stdout not clean: {proc.stdout[:500]!r}"
    return proc


def check_convert(run_cli, raster, out, res, *flags, band=1, nodata=None, value_name=None,
                  base_cell=None, readers=("pyarrow",), env=None, expect=None):
    """Run convert and compare its output with the reference; returns the expected Rows."""
    convert_ok(run_cli, raster, out, res, *flags, env=env)
    dtype = reference.value_dtype(raster, band)
    got = read_output(out, res, reference.expected_value_name(raster, band, value_name), dtype,
                      band, readers)
    if expect is None:
        expect = reference_rows(raster, res, band=band, nodata=nodata, base_cell=base_cell)
    d = diff_rows(expect, got)
    assert not d, f"output differs from reference for {raster} res {res} {flags}:\n{d}"
    return expect


def h0_dirs(out):
    out = Path(out)
    if not out.exists():
        return set()
    return {int(p.name[3:], 16) for p in out.iterdir() if p.is_dir() and p.name.startswith("h0=")}


# ---------------------------------------------------------------------------------------------
# 1. Global EPSG:4326 grids: poles, antimeridian, all 122 base cells / 12 pentagons

@pytest.mark.parametrize("offset", [False, True], ids=["edges", "centres-on-180-and-90"])
@pytest.mark.parametrize("res", [0, 2, 5])
def test_global_grid(run_cli, raster_dir, out_dir, res, offset):
    r = rasters.global_grid(raster_dir / "g.tif", dx=1.0, offset=offset)
    expect = check_convert(run_cli, r, out_dir, res)
    # With centres on both -180 and +180 the +180 column repeats the -180 one and is dropped
    # (a longitude is counted once: docs/design/0001-architecture.md, "Pixels off the globe").
    assert len(expect) == (360 * 181 if offset else 360 * 180)
    assert h0_dirs(out_dir) == {int(c, 16) for c in h3.get_res0_cells()}
    pent0 = {int(c, 16) for c in h3.get_pentagons(0)}
    assert pent0 <= set(np.unique(expect.h0).tolist())
    if res == 0:
        assert pent0 <= set(np.unique(expect.cell).tolist())


def test_global_grid_all_readers(run_cli, raster_dir, out_dir):
    r = rasters.global_grid(raster_dir / "g.tif", dx=0.5, offset=True, dtype="float64")
    check_convert(run_cli, r, out_dir, 2, readers=ALL_READERS)


# ---------------------------------------------------------------------------------------------
# 2. Longitude normalisation

@pytest.mark.parametrize("west,offset", [(0.0, False), (0.0, True), (-360.0, False),
                                         (-360.0, True)],
                         ids=["0..360", "0..360-centres-on-0-180-360", "-360..0",
                              "-360..0-centres-on-bounds"])
def test_lng_normalisation(run_cli, raster_dir, out_dir, west, offset):
    r = rasters.global_grid(raster_dir / "g.tif", dx=0.5, offset=offset, west=west, seed=5)
    check_convert(run_cli, r, out_dir, 3)


# ---------------------------------------------------------------------------------------------
# 3. High-resolution windows: pentagons and the antimeridian

def edge_deg(res):
    return h3.average_hexagon_edge_length(res, "km") / 111.32


@pytest.mark.parametrize("res", [8, 9, 10])
def test_pentagon_windows(run_cli, raster_dir, tmp_path, res):
    """Every pentagon at res: a 41x41 window of pixels ~1/3 cell edge, one pixel centred on
    the pentagon's centre."""
    def one(i_cell):
        i, cell = i_cell
        lat, lng = h3.cell_to_latlng(cell)
        r = rasters.window_raster(raster_dir / f"p{i}.tif", lat, lng, edge_deg(res) / 3, 41,
                                  dtype="int32", seed=i)
        expect = check_convert(run_cli, r, tmp_path / f"out{i}", res)
        assert h3.str_to_int(cell) in set(expect.cell.tolist())
    with ThreadPoolExecutor(WORKERS) as ex:
        list(ex.map(one, enumerate(h3.get_pentagons(res))))


@pytest.mark.parametrize("res", [8, 9, 10])
@pytest.mark.parametrize("lat", [0.0, 45.3, -63.1, 80.7, 89.99])
def test_antimeridian_windows(run_cli, raster_dir, tmp_path, res, lat):
    """Windows straddling 180: one written with lng centres in 179.x..180.x (normalised down)
    and one in -180.x..-179.x (normalised up); both with a pixel centre exactly on +-180."""
    dx = edge_deg(res) / 3
    for k, lng in enumerate((180.0, -180.0)):
        r = rasters.window_raster(raster_dir / f"a{k}.tif", lat, lng, dx, 41, seed=k)
        expect = check_convert(run_cli, r, tmp_path / f"out{k}", res)
        assert len(np.unique(expect.h0)) >= 1


# ---------------------------------------------------------------------------------------------
# 4. Projected rasters (and a non-WGS84 geographic CRS)

@pytest.mark.parametrize("res", [7, 9])
def test_utm(run_cli, raster_dir, out_dir, res):
    data = rasters.random_values("int16", (200, 200), 7)
    r = rasters.write_raster(raster_dir / "utm.tif", data, (400000.0, 250.0, 0.0, 5000000.0,
                                                            0.0, -250.0), 32633)
    check_convert(run_cli, r, out_dir, res)


@pytest.mark.parametrize("epsg", [3413, 3031])
@pytest.mark.parametrize("res", [3, 5])
def test_polar_stereographic_pole(run_cli, raster_dir, out_dir, epsg, res):
    """201x201 pixels of 5 km centred on the pole (one pixel centre exactly on it)."""
    data = rasters.random_values("float32", (201, 201), epsg)
    gt = rasters.centred_gt(0.0, 0.0, 5000.0, 201, 201)
    r = rasters.write_raster(raster_dir / "polar.tif", data, gt, epsg)
    check_convert(run_cli, r, out_dir, res)


@pytest.mark.parametrize("epsg", [3413, 3031])
def test_polar_stereographic_wide(run_cli, raster_dir, out_dir, epsg):
    """6000 km square at 30 km pixels: crosses the antimeridian and many base cells."""
    data = rasters.random_values("uint16", (200, 200), epsg + 1)
    gt = rasters.north_up_gt(-3000000.0, 3000000.0, 30000.0)
    r = rasters.write_raster(raster_dir / "polar.tif", data, gt, epsg)
    check_convert(run_cli, r, out_dir, 2)


@pytest.mark.parametrize("crs", [4269, "+proj=longlat +datum=WGS84 +no_defs"],
                         ids=["EPSG4269", "proj-string-WGS84"])
def test_other_geographic_crs(run_cli, raster_dir, out_dir, crs):
    data = rasters.random_values("float32", (90, 120), 11)
    r = rasters.write_raster(raster_dir / "geo.tif", data, (-100.0, 0.25, 0.0, 50.0, 0.0, -0.25),
                             crs)
    check_convert(run_cli, r, out_dir, 4)


# ---------------------------------------------------------------------------------------------
# 5. Rotated, sheared and south-up geotransforms

@pytest.mark.parametrize("gt,crs", [
    ((10.0, 0.01, 0.004, 50.0, 0.003, -0.01), 4326),
    ((10.0, 0.01, 0.0, 40.0, 0.0, 0.01), 4326),
    ((170.0, 0.1, 0.05, -10.0, -0.03, -0.1), 4326),
    ((400000.0, 200.0, 50.0, 5000000.0, 60.0, -200.0), 32633),
], ids=["sheared", "south-up", "rotated-across-180", "rotated-utm"])
@pytest.mark.parametrize("res", [6, 8])
def test_rotated_geotransforms(run_cli, raster_dir, out_dir, gt, crs, res):
    data = rasters.random_values("float32", (100, 120), 13)
    r = rasters.write_raster(raster_dir / "rot.tif", data, gt, crs)
    check_convert(run_cli, r, out_dir, res)


@pytest.mark.slow
def test_large_raster_many_chunks(run_cli, raster_dir, out_dir):
    """~4.6 M pixels: more than one read chunk, several threads, sort/merge across chunks."""
    data = rasters.random_values("uint8", (1100, 4200), 89)
    r = rasters.write_raster(raster_dir / "big.tif", data, (-20.0, 0.01, 0.0, 55.0, 0.0, -0.01),
                             4326, nodata=0)
    check_convert(run_cli, r, out_dir, 6)


def test_threads_do_not_change_output(run_cli, raster_dir, tmp_path):
    data = rasters.random_values("float32", (300, 400), 97)
    r = rasters.write_raster(raster_dir / "t.tif", data, (5.0, 0.01, 0.0, 50.0, 0.0, -0.01), 4326)
    expect = reference_rows(r, 7)
    for n in (1, 2, 3):
        check_convert(run_cli, r, tmp_path / f"t{n}", 7, "--threads", n, expect=expect)


# ---------------------------------------------------------------------------------------------
# 6. Data types and value column naming

@pytest.mark.parametrize("dtype", list(rasters.GDAL_TYPES))
def test_data_types(run_cli, raster_dir, out_dir, dtype):
    data = rasters.random_values(dtype, (60, 80), 17)
    r = rasters.write_raster(raster_dir / f"{dtype}.tif", data, (-5.0, 0.002, 0.0, 40.0, 0.0,
                                                                 -0.002), 4326)
    expect = check_convert(run_cli, r, out_dir, 9)
    assert len(expect) == data.size


def test_data_types_all_readers(run_cli, raster_dir, tmp_path):
    for i, dtype in enumerate(rasters.GDAL_TYPES):
        data = rasters.random_values(dtype, (30, 40), 19 + i)
        r = rasters.write_raster(raster_dir / f"{dtype}.tif", data, (100.0, 0.01, 0.0, 10.0, 0.0,
                                                                     -0.01), 4326)
        check_convert(run_cli, r, tmp_path / f"out-{dtype}", 7, readers=ALL_READERS)


@pytest.mark.parametrize("description,flag,want", [
    (None, None, "value"),
    ("elevation", None, "elevation"),
    ("elevation", "height_m", "height_m"),
    (None, "carbon", "carbon"),
])
def test_value_name(run_cli, raster_dir, out_dir, description, flag, want):
    data = rasters.random_values("int16", (20, 20), 23)
    r = rasters.write_raster(raster_dir / "n.tif", data, (1.0, 0.01, 0.0, 2.0, 0.0, -0.01), 4326,
                             description=description)
    assert reference.expected_value_name(r, 1, flag) == want
    extra = ["--value-name", flag] if flag else []
    check_convert(run_cli, r, out_dir, 8, *extra, value_name=flag)
    for f in parquet_files(out_dir):
        assert pq.read_schema(f).names == [want, "h8"]


# ---------------------------------------------------------------------------------------------
# 7. Validity: NoData, NaN, masks, alpha

def sprinkle(data, fraction, value, seed):
    rng = np.random.default_rng(seed)
    data = data.copy()
    data[rng.random(data.shape) < fraction] = value
    return data


def small_gt():
    return (-73.0, 0.003, 0.0, 41.0, 0.0, -0.003)


def test_nodata_uint16_65535(run_cli, raster_dir, out_dir):
    data = sprinkle(rasters.random_values("uint16", (100, 100), 29), 0.3, 65535, 1)
    r = rasters.write_raster(raster_dir / "u16.tif", data, small_gt(), 4326, nodata=65535)
    expect = check_convert(run_cli, r, out_dir, 8)
    assert len(expect) == int((data != 65535).sum())
    assert 65535 not in set(expect.value.tolist())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("nodata", [float("nan"), None], ids=["nodata-nan", "no-nodata"])
def test_nan_pixels(run_cli, raster_dir, out_dir, dtype, nodata):
    data = sprinkle(rasters.random_values(dtype, (100, 100), 31), 0.3, np.nan, 2)
    r = rasters.write_raster(raster_dir / "f.tif", data, small_gt(), 4326, nodata=nodata)
    expect = check_convert(run_cli, r, out_dir, 8)
    assert len(expect) == int((~np.isnan(data)).sum())


def test_nodata_float32_not_representable(run_cli, raster_dir, out_dir):
    """NoData -88.8888 (as in egm96_15.gtx) is not a float32; pixels equal to float32(-88.8888)
    are NoData (GDAL compares in the band's type)."""
    data = sprinkle(rasters.random_values("float32", (100, 100), 37), 0.3,
                    np.float32(-88.8888), 3)
    r = rasters.write_raster(raster_dir / "f.tif", data, small_gt(), 4326, nodata=-88.8888)
    expect = check_convert(run_cli, r, out_dir, 8)
    assert len(expect) == int((data != np.float32(-88.8888)).sum())


def test_nodata_override(run_cli, raster_dir, out_dir):
    """--nodata 0 replaces the band's -32768: -32768 pixels become valid, 0 pixels invalid."""
    data = sprinkle(rasters.random_values("int16", (100, 100), 41), 0.2, -32768, 4)
    data = sprinkle(data, 0.2, 0, 5)
    r = rasters.write_raster(raster_dir / "i16.tif", data, small_gt(), 4326, nodata=-32768)
    expect = check_convert(run_cli, r, out_dir, 8, "--nodata", "0", nodata=0.0)
    assert len(expect) == int((data != 0).sum())
    assert -32768 in set(expect.value.tolist())


def test_nodata_override_on_band_without_nodata(run_cli, raster_dir, out_dir):
    data = sprinkle(rasters.random_values("uint8", (100, 100), 43), 0.3, 7, 6)
    r = rasters.write_raster(raster_dir / "b.tif", data, small_gt(), 4326)
    expect = check_convert(run_cli, r, out_dir, 8, "--nodata", "7", nodata=7.0)
    assert len(expect) == int((data != 7).sum())


def test_nodata_override_nan(run_cli, raster_dir, out_dir):
    """--nodata nan on a Float32 band whose own NoData is -9999: -9999 pixels become valid."""
    data = sprinkle(rasters.random_values("float32", (100, 100), 47), 0.2, -9999.0, 7)
    data = sprinkle(data, 0.2, np.nan, 8)
    r = rasters.write_raster(raster_dir / "f.tif", data, small_gt(), 4326, nodata=-9999.0)
    expect = check_convert(run_cli, r, out_dir, 8, "--nodata", "nan", nodata=float("nan"))
    assert len(expect) == int((~np.isnan(data)).sum())


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_internal_mask(run_cli, raster_dir, out_dir, dtype):
    data = rasters.random_values(dtype, (100, 100), 53)
    rng = np.random.default_rng(9)
    mask = np.where(rng.random(data.shape) < 0.35, 0, 255).astype(np.uint8)
    mask[:10, :] = 0  # whole blocks/rows masked too
    r = rasters.write_raster(raster_dir / "m.tif", data, small_gt(), 4326, mask=mask)
    from osgeo import gdal
    ds = gdal.Open(r)
    assert ds.GetRasterBand(1).GetMaskFlags() == gdal.GMF_PER_DATASET
    ds = None
    expect = check_convert(run_cli, r, out_dir, 8)
    assert len(expect) == int((mask != 0).sum())


def test_nodata_and_mask_both_apply(run_cli, raster_dir, out_dir):
    data = sprinkle(rasters.random_values("int32", (100, 100), 59), 0.25, -1, 10)
    rng = np.random.default_rng(11)
    mask = np.where(rng.random(data.shape) < 0.25, 0, 255).astype(np.uint8)
    r = rasters.write_raster(raster_dir / "m.tif", data, small_gt(), 4326, nodata=-1, mask=mask)
    expect = check_convert(run_cli, r, out_dir, 8)
    assert len(expect) == int(((mask != 0) & (data != -1)).sum())


def test_alpha_band(run_cli, raster_dir, out_dir):
    data = rasters.random_values("uint8", (100, 100), 61)
    rng = np.random.default_rng(12)
    alpha = rng.choice(np.array([0, 128, 255], dtype=np.uint8), size=data.shape)
    r = rasters.write_raster(raster_dir / "a.tif", data, small_gt(), 4326, alpha=alpha)
    from osgeo import gdal
    ds = gdal.Open(r)
    assert ds.GetRasterBand(1).GetMaskFlags() & gdal.GMF_ALPHA
    ds = None
    expect = check_convert(run_cli, r, out_dir, 8)
    assert len(expect) == int((alpha != 0).sum())


def test_all_nodata_writes_nothing(run_cli, raster_dir, out_dir):
    data = np.full((50, 50), 65535, dtype=np.uint16)
    r = rasters.write_raster(raster_dir / "empty.tif", data, small_gt(), 4326, nodata=65535)
    convert_ok(run_cli, r, out_dir, 8)
    assert parquet_files(out_dir) == []


def test_reference_validity_matches_gdal_nodata_mask(raster_dir):
    """The reference's NoData rule agrees with GDAL's own NoData mask band."""
    from osgeo import gdal
    for dtype, nd in [("uint16", 65535), ("int16", -32768), ("float32", -88.8888),
                      ("float64", -88.8888), ("uint8", 300)]:
        base = rasters.random_values(dtype, (40, 40), 67)
        fill = np.array(nd).astype(dtype) if dtype != "uint8" else 0
        data = sprinkle(base, 0.3, fill, 13)
        r = rasters.write_raster(raster_dir / f"{dtype}.tif", data, small_gt(), 4326, nodata=nd)
        ds = gdal.Open(r)
        b, arr = reference.read_band(ds, 1)
        mine = reference.validity(b, arr)
        raw = b.GetMaskBand().ReadRaster(0, 0, 40, 40)
        theirs = np.frombuffer(raw, dtype=np.uint8).reshape(40, 40) != 0
        assert np.array_equal(mine, theirs), dtype


# ---------------------------------------------------------------------------------------------
# 8. Real data from Debian packages

@pytest.mark.parametrize("res", [7, 9])
def test_real_terra_elev(run_cli, testdata, out_dir, res):
    """terra ex/elev.tif: EPSG:4326 Int16 with NoData -32768."""
    expect = check_convert(run_cli, testdata["elev.tif"], out_dir, res,
                           readers=ALL_READERS if res == 9 else ("pyarrow",))
    assert 0 < len(expect) < 95 * 90  # it has NoData pixels


@pytest.mark.parametrize("band", [1, 3])
def test_real_stars_l7(run_cli, testdata, out_dir, band):
    """stars tif/L7_ETMs.tif: UTM 25S (SIRGAS 2000), 6 Byte bands."""
    check_convert(run_cli, testdata["L7_ETMs.tif"], out_dir, 9, "--band", band, band=band)


@pytest.mark.parametrize("res", [2, 3])
def test_real_egm96(run_cli, testdata, out_dir, res):
    """proj-data egm96_15.gtx: global Float32 1440x721 with centres on +-180 and +-90."""
    check_convert(run_cli, testdata["egm96_15.gtx"], out_dir, res,
                  readers=ALL_READERS if res == 2 else ("pyarrow",))


# ---------------------------------------------------------------------------------------------
# 9. Work units (--i / JOB_COMPLETION_INDEX)

def test_work_units_union_equals_whole(run_cli, raster_dir, tmp_path):
    r = rasters.global_grid(raster_dir / "g.tif", dx=1.0, offset=True, dtype="uint16", seed=71)
    res = 3
    whole = check_convert(run_cli, r, tmp_path / "whole", res)
    h0_of = {n: reference.res0_cell_of_base_cell(n) for n in range(122)}

    def unit(n):
        out = tmp_path / f"unit{n}"
        convert_ok(run_cli, r, out, res, "--i", n)
        got = read_pyarrow(out, res, "value", np.dtype("uint16"))
        dirs = h0_dirs(out)
        assert dirs <= {h0_of[n]}, f"--i {n} wrote partitions {sorted(map(hex, dirs))}"
        return got

    with ThreadPoolExecutor(WORKERS) as ex:
        parts = list(ex.map(unit, range(122)))
    union = canonical(np.concatenate([p.h0 for p in parts]),
                      np.concatenate([p.value for p in parts]),
                      np.concatenate([p.cell for p in parts]))
    d = diff_rows(whole, union)
    assert not d, f"union of 122 work units != whole run:\n{d}"
    assert sum(1 for p in parts if len(p)) == 122


def work_unit_rasters(raster_dir):
    """Rasters whose work-unit window planning is easy to get wrong."""
    g = rasters.random_values("int16", (90, 180), 83)
    return {
        "0..360": rasters.write_raster(raster_dir / "e.tif", g, (0.0, 2.0, 0.0, 90.0, 0.0, -2.0),
                                       4326),
        "-360..0-centres-on-bounds": rasters.write_raster(
            raster_dir / "w.tif", rasters.random_values("int16", (91, 181), 84),
            (-361.0, 2.0, 0.0, 91.0, 0.0, -2.0), 4326),
        "south-up": rasters.write_raster(raster_dir / "s.tif", g,
                                         (-180.0, 2.0, 0.0, -90.0, 0.0, 2.0), 4326),
        "sheared": rasters.write_raster(raster_dir / "r.tif", g[:60, :90],
                                        (100.0, 0.5, 0.1, 40.0, 0.05, -0.5), 4326),
        "polar-3031": rasters.write_raster(raster_dir / "p.tif", g[:80, :80],
                                           rasters.north_up_gt(-4e6, 4e6, 1e5), 3031),
    }


def edge_base_cells():
    """Base cells whose resolution-0 cell reaches |lng| >= 170 or |lat| >= 72."""
    return {h3.get_base_cell_number(c) for c in h3.get_res0_cells()
            if any(abs(lng) >= 170 or abs(lat) >= 72 for lat, lng in h3.cell_to_boundary(c))}


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["edge-units", "all-units"])
@pytest.mark.parametrize("name", ["0..360", "-360..0-centres-on-bounds", "south-up", "sheared",
                                  "polar-3031"])
def test_work_units_union_odd_rasters(run_cli, raster_dir, tmp_path, name, full):
    """Union of the work units equals the whole run (restricted to the units run) for rasters
    off the plain north-up -180..180 grid: lng > 180, lng < -180, south-up, sheared, projected.
    By default only the units near the antimeridian and the poles run; -m slow runs all."""
    r = work_unit_rasters(raster_dir)[name]
    res = 2
    whole = check_convert(run_cli, r, tmp_path / "whole", res)
    present = sorted(set(reference.base_cells(whole.cell).tolist()))
    if not full:
        present = [n for n in present if n in edge_base_cells()]
    absent = [n for n in (0, 4, 58, 117, 121) if n not in present and not np.any(
        reference.base_cells(whole.cell) == n)]
    keep = np.isin(reference.base_cells(whole.cell), present)
    whole = canonical(whole.h0[keep], whole.value[keep], whole.cell[keep])

    def unit(n):
        out = tmp_path / f"unit{n}"
        convert_ok(run_cli, r, out, res, "--i", n)
        assert h0_dirs(out) <= {reference.res0_cell_of_base_cell(n)}
        return read_pyarrow(out, res, "value", np.dtype("int16"))

    with ThreadPoolExecutor(WORKERS) as ex:
        parts = list(ex.map(unit, present + absent))
    union = canonical(np.concatenate([p.h0 for p in parts]),
                      np.concatenate([p.value for p in parts]),
                      np.concatenate([p.cell for p in parts]))
    d = diff_rows(whole, union)
    assert not d, f"union of work units != whole run for {name}:\n{d}"


def test_job_completion_index(run_cli, raster_dir, tmp_path):
    r = rasters.global_grid(raster_dir / "g.tif", dx=2.0, dtype="int16", seed=73)
    res = 2
    for n in (0, 4, 121):  # 4 is a pentagon base cell
        expect = reference_rows(r, res, base_cell=n)
        assert len(expect) > 0
        out = tmp_path / f"env{n}"
        check_convert(run_cli, r, out, res, env={"JOB_COMPLETION_INDEX": n}, expect=expect)
        assert h0_dirs(out) == {reference.res0_cell_of_base_cell(n)}
    # The flag wins over the environment.
    out = tmp_path / "flag-wins"
    expect = reference_rows(r, res, base_cell=7)
    check_convert(run_cli, r, out, res, "--i", 7, env={"JOB_COMPLETION_INDEX": 5}, expect=expect)
    assert h0_dirs(out) == {reference.res0_cell_of_base_cell(7)}


@pytest.mark.parametrize("lat,lng,res", [(59.0, 148.0, 3), (81.0, 92.0, 3), (80.0, 90.0, 2),
                                         (-83.0, 150.0, 3)])
def test_work_unit_cell_outside_res0_polygon(run_cli, raster_dir, out_dir, lat, lng, res):
    """H3 children spill outside their parent's polygon: a pixel whose res-r cell has base
    cell n may lie outside the resolution-0 cell n. Its --i n run must still write it."""
    cell = h3.latlng_to_cell(lat, lng, res)
    n = h3.get_base_cell_number(cell)
    r = rasters.write_raster(raster_dir / "pt.tif", np.array([[9]], dtype=np.uint8),
                             (lng - 0.5, 1.0, 0.0, lat + 0.5, 0.0, -1.0), 4326)
    expect = reference_rows(r, res, base_cell=n)
    assert expect.cell.tolist() == [h3.str_to_int(cell)]
    check_convert(run_cli, r, out_dir, res, "--i", n, expect=expect)


def test_work_unit_without_pixels(run_cli, raster_dir, out_dir):
    """A window in Europe has no pixels in base cell 121 (near the south pole): no output."""
    r = rasters.window_raster(raster_dir / "w.tif", 48.0, 11.0, 0.01, 30)
    convert_ok(run_cli, r, out_dir, 6, "--i", 121)
    assert parquet_files(out_dir) == []


# ---------------------------------------------------------------------------------------------
# 10. Known-answer vectors from the upstream H3 test files (independent of h3-py)

def load_vectors(per_file):
    picks = []
    for name, res, n in [("rand05centers.txt", 5, per_file), ("rand08centers.txt", 8, per_file),
                         ("rand10centers.txt", 10, per_file), ("rand12centers.txt", 12, per_file),
                         ("rand15centers.txt", 15, per_file), ("bc05r08centers.txt", 8, None),
                         ("bc14r08centers.txt", 8, None), ("bc19r08centers.txt", 8, None),
                         ("res00ic.txt", 0, per_file)]:
        lines = [ln.split() for ln in (VECTORS / name).read_text().splitlines() if ln.strip()]
        if n is not None and len(lines) > n:
            step = len(lines) // n
            lines = lines[::step][:n]
        picks += [(name, res, int(h, 16), float(lat), float(lng)) for h, lat, lng in lines]
    return picks


@pytest.mark.parametrize("per_file", [12, pytest.param(60, marks=pytest.mark.slow)],
                         ids=["default", "more"])
def test_known_answer_vectors(run_cli, tmp_path, per_file):
    """A 1x1 EPSG:4326 raster centred on each vector point must give the vector's cell."""
    vecs = load_vectors(per_file)
    assert any(v[4] > 180 for v in vecs), "want vectors with lng > 180 (normalisation)"

    def one(i_v):
        i, (name, res, want, lat, lng) = i_v
        r = rasters.point_raster(tmp_path / f"v{i}.tif", lat, lng, value=i % 256)
        # The reference itself must agree with the independent vectors.
        ref = reference_rows(r, res)
        assert ref.cell.tolist() == [want], f"reference disagrees with {name}: {lat} {lng}"
        out = tmp_path / f"o{i}"
        convert_ok(run_cli, r, out, res)
        got = read_pyarrow(out, res, "value", np.dtype("uint8"))
        return name, lat, lng, want, got.cell.tolist(), got.h0.tolist()

    with ThreadPoolExecutor(WORKERS) as ex:
        results = list(ex.map(one, enumerate(vecs)))
    bad = [r for r in results if r[4] != [r[3]]
           or r[5] != [int(h3.cell_to_parent(h3.int_to_str(r[3]), 0), 16)]]
    assert not bad, "\n".join(f"{n}: ({lat}, {lng}) want {w:015x} got {[hex(c) for c in g]}"
                              for n, lat, lng, w, g, _ in bad[:20])


# ---------------------------------------------------------------------------------------------
# Alternative spellings of the input and resolution

def test_input_url_and_zoom(run_cli, raster_dir, tmp_path):
    data = rasters.random_values("float32", (50, 50), 79)
    r = rasters.write_raster(raster_dir / "z.tif", data, small_gt(), 4326)
    expect = reference_rows(r, 6)
    proc = run_cli("convert", "--input-url", r, tmp_path / "a", "--zoom", "6", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    d = diff_rows(expect, read_pyarrow(tmp_path / "a", 6, "value", np.dtype("float32")))
    assert not d, d
