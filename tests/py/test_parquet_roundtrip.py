"""Parquet files written by the C writer, read back by pyarrow, DuckDB, Polars and fastparquet.

The writer is driven through `test_parquet --write-file SPEC OUT` (tests/unit/test_parquet.c);
the build directory comes from $R2H_BUILD_DIR (default <repo>/build).
"""
import math
import os
import subprocess
from pathlib import Path

import duckdb
import fastparquet
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("R2H_BUILD_DIR", REPO / "build"))
TOOL = BUILD / "test_parquet"

TYPES = {  # name: (numpy dtype, pyarrow, duckdb, polars, fastparquet required, optional)
    "int8": (np.int8, pa.int8(), "TINYINT", pl.Int8, "int8", "Int8"),
    "uint8": (np.uint8, pa.uint8(), "UTINYINT", pl.UInt8, "uint8", "UInt8"),
    "int16": (np.int16, pa.int16(), "SMALLINT", pl.Int16, "int16", "Int16"),
    "uint16": (np.uint16, pa.uint16(), "USMALLINT", pl.UInt16, "uint16", "UInt16"),
    "int32": (np.int32, pa.int32(), "INTEGER", pl.Int32, "int32", "Int32"),
    "uint32": (np.uint32, pa.uint32(), "UINTEGER", pl.UInt32, "uint32", "UInt32"),
    "int64": (np.int64, pa.int64(), "BIGINT", pl.Int64, "int64", "Int64"),
    "uint64": (np.uint64, pa.uint64(), "UBIGINT", pl.UInt64, "uint64", "UInt64"),
    "float": (np.float32, pa.float32(), "FLOAT", pl.Float32, "float32", "float32"),
    "double": (np.float64, pa.float64(), "DOUBLE", pl.Float64, "float64", "float64"),
    "string": (None, pa.string(), "VARCHAR", pl.String, "object", "object"),
}
INT_TYPES = [t for t in TYPES if "int" in t]
STRINGS = ["", "a", "abc", "h\u00e9llo", "\u65e5\u672c\u8a9e", "\U0001f600 emoji", "x" * 300, "tab\there"]

pytestmark = pytest.mark.skipif(not TOOL.exists(), reason=f"{TOOL} not built")


def column(name, typ, values, valid=None, enc="auto", sorted_=False):
    return dict(name=name, type=typ, values=values, valid=valid, enc=enc, sorted=sorted_,
                optional=valid is not None)


def random_values(rng, typ, n, extremes=True):
    if typ == "string":
        return [STRINGS[i] for i in rng.integers(0, len(STRINGS), n)]
    dt = np.dtype(TYPES[typ][0])
    if dt.kind == "f":
        v = rng.normal(0, 1e6, n).astype(dt)
        if extremes and n >= 8:
            v[:8] = [np.nan, np.inf, -np.inf, -0.0, 0.0, np.finfo(dt).max, np.finfo(dt).min,
                     np.finfo(dt).tiny]
            rng.shuffle(v)
        return v
    info = np.iinfo(dt)
    v = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    if n >= 4 and extremes:
        v[:4] = [info.min, info.max, 0, info.max // 2 + 1]
        rng.shuffle(v)
    return v


def write(tmp_path, cols, nrows, codec="zstd", level=3, rg_rows=None, page_rows=None,
          batch=None, kv=None, name="t.parquet"):
    spec = [f"codec {codec}", f"level {level}", f"rows {nrows}"]
    if rg_rows:
        spec.append(f"rg_rows {rg_rows}")
    if page_rows:
        spec.append(f"page_rows {page_rows}")
    if batch:
        spec.append(f"batch {batch}")
    for k, v in (kv or {}).items():
        spec.append(f"kv {k.encode().hex()} {v.encode().hex() if v is not None else '-'}")
    for i, c in enumerate(cols):
        vp = tmp_path / f"c{i}.bin"
        if c["type"] == "string":
            vals = c["values"]
            if c["valid"] is not None:
                vals = [s if ok else "" for s, ok in zip(vals, c["valid"])]
            vp.write_bytes(b"".join(s.encode() + b"\0" for s in vals))
        else:
            np.ascontiguousarray(c["values"], dtype=TYPES[c["type"]][0]).tofile(vp)
        vl = "-"
        if c["valid"] is not None:
            vl = tmp_path / f"v{i}.bin"
            np.asarray(c["valid"], dtype=np.uint8).tofile(vl)
        spec.append(f"col {c['name']} {c['type']} {int(c['optional'])} {c['enc']} "
                    f"{int(c['sorted'])} {vp} {vl}")
    sp = tmp_path / "spec.txt"
    sp.write_text("\n".join(spec) + "\n")
    out = tmp_path / name
    r = subprocess.run([str(TOOL), "--write-file", str(sp), str(out)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    return out


def expected(c):
    vals = c["values"]
    vals = list(vals) if c["type"] == "string" else np.asarray(vals).tolist()
    if c["valid"] is not None:
        vals = [v if ok else None for v, ok in zip(vals, c["valid"])]
    return vals


def same(a, b, typ, null_as_nan=False):
    if a is None or b is None:
        if null_as_nan and typ in ("float", "double"):
            a = math.nan if a is None else a
            b = math.nan if b is None else b
        else:
            return a is None and b is None
    if typ in ("float", "double"):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def check_column(got, want, typ, reader, name, null_as_nan=False):
    assert len(got) == len(want), f"{reader} {name}: {len(got)} rows, want {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if not same(g, w, typ, null_as_nan):
            raise AssertionError(f"{reader} {name} row {i}: got {g!r} want {w!r}")


def read_pyarrow(path, cols):
    t = pq.read_table(path)
    for c in cols:
        f = t.schema.field(c["name"])
        assert f.type == TYPES[c["type"]][1], (c["name"], f.type)
        assert f.nullable == c["optional"]
        check_column(t.column(c["name"]).to_pylist(), expected(c), c["type"], "pyarrow", c["name"])


def read_duckdb(path, cols):
    con = duckdb.connect()
    desc = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()}
    names = ", ".join(f'"{c["name"]}"' for c in cols)
    rows = con.execute(f"SELECT {names} FROM read_parquet('{path}')").fetchall()
    for j, c in enumerate(cols):
        assert desc[c["name"]] == TYPES[c["type"]][2], (c["name"], desc[c["name"]])
        check_column([r[j] for r in rows], expected(c), c["type"], "duckdb", c["name"])


def read_polars(path, cols):
    df = pl.read_parquet(path)
    for c in cols:
        assert df.schema[c["name"]] == TYPES[c["type"]][3], (c["name"], df.schema[c["name"]])
        check_column(df[c["name"]].to_list(), expected(c), c["type"], "polars", c["name"])


def read_fastparquet(path, cols):
    df = fastparquet.ParquetFile(str(path)).to_pandas()
    for c in cols:
        s = df[c["name"]]
        want_dtype = TYPES[c["type"]][5 if c["optional"] else 4]
        got_dtype = str(s.dtype)
        if c["type"] == "string" and got_dtype in ("str", "string"):
            got_dtype = "object"  # pandas >= 3 infers its string dtype
        if c["optional"] and (c["valid"] is None or np.all(c["valid"])):
            # fastparquet picks a nullable pandas dtype only if some row group has nulls
            want_dtype = TYPES[c["type"]][4]
        assert got_dtype == want_dtype, (c["name"], s.dtype)
        isfloat = c["type"] in ("float", "double")
        got = [v if isfloat or not pd.isna(v) else None for v in s.astype(object).tolist()]
        check_column(got, expected(c), c["type"], "fastparquet", c["name"], null_as_nan=True)


READERS = [read_pyarrow, read_duckdb, read_polars, read_fastparquet]


def check_all(path, cols):
    for rd in READERS:
        rd(path, cols)


def check_stats(path, cols):
    """Row-group statistics read by pyarrow equal the true min/max/null count."""
    md = pq.ParquetFile(path).metadata
    start = 0
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        n = rg.num_rows
        for j, c in enumerate(cols):
            st = rg.column(j).statistics
            vals = expected(c)[start:start + n]
            nn = [v for v in vals if v is not None]
            assert st.null_count == len(vals) - len(nn)
            if c["type"] in ("float", "double"):
                nn = [v for v in nn if not math.isnan(v)]
            if not nn:
                assert not st.has_min_max
                continue
            assert st.has_min_max, (c["name"], g)
            lo, hi = min(nn), max(nn)
            if c["type"] == "string":
                lo = min(nn, key=lambda s: s.encode())
                hi = max(nn, key=lambda s: s.encode())
            assert st.min == lo and st.max == hi, (c["name"], g, st.min, st.max, lo, hi)
            if c["type"] in ("float", "double") and lo == 0:
                assert math.copysign(1, st.min) == -1.0  # zero min written as -0.0
        start += n
    assert start == md.num_rows


def mixed_table(rng, n, enc="auto", null_frac=0.2):
    cols = []
    for typ in TYPES:
        e = enc if (enc != "delta" or typ in INT_TYPES) else "auto"
        cols.append(column(f"r_{typ}", typ, random_values(rng, typ, n), enc=e))
        valid = rng.random(n) >= null_frac
        cols.append(column(f"o_{typ}", typ, random_values(rng, typ, n), valid=valid, enc=e))
    return cols


@pytest.mark.parametrize("codec", ["zstd", "snappy", "none"])
@pytest.mark.parametrize("enc", ["auto", "plain", "dict", "delta"])
def test_all_types_codecs_encodings(tmp_path, codec, enc):
    rng = np.random.default_rng(abs(hash((codec, enc))) % 2**32)
    n = 2500
    cols = mixed_table(rng, n, enc)
    path = write(tmp_path, cols, n, codec=codec, rg_rows=1000, page_rows=300, batch=777)
    md = pq.ParquetFile(path).metadata
    assert md.num_row_groups == 3 and md.num_rows == n
    check_all(path, cols)
    check_stats(path, cols)


def test_low_cardinality_uses_dictionary(tmp_path):
    rng = np.random.default_rng(1)
    n = 5000
    cols = [column("v", "uint16", rng.integers(0, 12, n).astype(np.uint16)),
            column("s", "string", [STRINGS[i] for i in rng.integers(0, 4, n)], enc="dict"),
            column("f", "double", rng.integers(0, 3, n).astype(np.float64),
                   valid=rng.random(n) > 0.5)]
    path = write(tmp_path, cols, n, rg_rows=2000, page_rows=500)
    md = pq.ParquetFile(path).metadata
    for g in range(md.num_row_groups):
        for j in range(3):
            cc = md.row_group(g).column(j)
            assert "RLE_DICTIONARY" in cc.encodings and cc.has_dictionary_page
    check_all(path, cols)
    check_stats(path, cols)


def test_dictionary_falls_back_to_plain(tmp_path):
    n = 300_000  # > 1 MiB of distinct int64 values
    vals = np.arange(n, dtype=np.int64) * 7919 % 1_000_003
    cols = [column("x", "int64", vals, enc="dict"), column("y", "uint8", vals.astype(np.uint8), enc="dict")]
    path = write(tmp_path, cols, n, rg_rows=n, page_rows=20000)
    cc = pq.ParquetFile(path).metadata.row_group(0)
    assert not cc.column(0).has_dictionary_page and "PLAIN" in cc.column(0).encodings
    assert cc.column(1).has_dictionary_page
    check_all(path, cols)


@pytest.mark.parametrize("rows,rg_rows,page_rows", [(0, 10, 5), (1, 10, 5), (5, 1, 1),
                                                    (1000, 7, 3), (20_001, 100_000, 20_000)])
def test_shapes(tmp_path, rows, rg_rows, page_rows):
    rng = np.random.default_rng(rows)
    cols = mixed_table(rng, rows)
    path = write(tmp_path, cols, rows, rg_rows=rg_rows, page_rows=page_rows, batch=3)
    md = pq.ParquetFile(path).metadata
    assert md.num_rows == rows
    assert md.num_row_groups == (rows + rg_rows - 1) // rg_rows
    check_all(path, cols)
    check_stats(path, cols)


def test_all_null_optional_and_no_nulls(tmp_path):
    n = 100
    cols = [column("a", "uint64", np.zeros(n, np.uint64), valid=np.zeros(n, bool)),
            column("b", "string", ["q"] * n, valid=np.zeros(n, bool)),
            column("c", "double", np.ones(n), valid=np.ones(n, bool)),
            column("d", "float", np.full(n, np.nan, np.float32))]
    path = write(tmp_path, cols, n, rg_rows=40)
    check_all(path, cols)
    check_stats(path, cols)


def test_unsigned_extremes_and_stats_order(tmp_path):
    """Values >= 2^63 / 2^31 must stay unsigned everywhere and in the statistics."""
    u64 = np.array([0, 2**63, 2**64 - 1, 1, 2**63 - 1], dtype=np.uint64)
    u32 = np.array([0, 2**31, 2**32 - 1, 1, 2**31 - 1], dtype=np.uint32)
    cols = [column("u64", "uint64", u64, enc="plain"), column("u32", "uint32", u32),
            column("u64d", "uint64", u64, enc="delta"), column("i64", "int64", u64.view(np.int64))]
    path = write(tmp_path, cols, 5)
    check_all(path, cols)
    check_stats(path, cols)
    st = pq.ParquetFile(path).metadata.row_group(0).column(0).statistics
    assert (st.min, st.max) == (0, 2**64 - 1)
    # point lookups that rely on row-group statistics
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{path}' WHERE u64 = {2**64 - 1}").fetchall() == [(1,)]
    assert pl.scan_parquet(path).filter(pl.col("u64") == 2**63).collect().height == 1


def test_sorted_cell_column_metadata_and_filters(tmp_path):
    n = 50_000
    cells = np.sort(np.random.default_rng(5).choice(2**40, n, replace=False).astype(np.uint64)
                    + np.uint64(0x8828308280000000))
    cols = [column("cell", "uint64", cells, sorted_=True),
            column("value", "uint16", (cells % np.uint64(7)).astype(np.uint16))]
    path = write(tmp_path, cols, n, rg_rows=10_000, kv={"h3:resolution": "8", "note": "\u00e9t\u00e9",
                                                         "empty": None})
    md = pq.ParquetFile(path).metadata
    assert md.created_by == "raster2h3 version 0.1.0"
    for g in range(md.num_row_groups):
        sc = md.row_group(g).sorting_columns
        assert len(sc) == 1 and sc[0].column_index == 0 and not sc[0].descending
        assert "DELTA_BINARY_PACKED" in md.row_group(g).column(0).encodings
    meta = pq.read_schema(path).metadata
    assert meta[b"h3:resolution"] == b"8" and meta[b"note"] == "\u00e9t\u00e9".encode()
    kv = dict(duckdb.connect().execute(f"SELECT decode(key), decode(value) FROM parquet_kv_metadata('{path}')").fetchall())
    assert kv["h3:resolution"] == "8"
    target = int(cells[31_337])
    assert duckdb.connect().execute(f"SELECT value FROM '{path}' WHERE cell = {target}").fetchall() == [(target % 7,)]
    assert pl.scan_parquet(path).filter(pl.col("cell") == target).collect()["value"].to_list() == [target % 7]
    check_all(path, cols)


def test_unsorted_claim_not_recorded(tmp_path):
    cols = [column("x", "int32", np.array([3, 1, 2], np.int32), sorted_=True)]
    path = write(tmp_path, cols, 3)
    assert not pq.ParquetFile(path).metadata.row_group(0).sorting_columns
    check_all(path, cols)


@pytest.mark.parametrize("typ", ["uint64", "int64"])
@pytest.mark.parametrize("drop_at", [None, 50, 77])
def test_sorted_claim_checked_across_pages(tmp_path, typ, drop_at):
    """64-bit DELTA columns take their statistics page by page: a step down exactly at a page
    boundary (row 50 with 25-row pages) or inside a page clears the sorted claim; min and max
    are the whole row group's."""
    dt = np.uint64 if typ == "uint64" else np.int64
    v = (np.arange(200, dtype=np.int64) * 3 - (0 if typ == "uint64" else 300)).astype(dt)
    if drop_at is not None:
        v[drop_at] = v[drop_at - 1] - dt(1)
        v[5] = v[4]  # equal neighbours stay sorted
    cols = [column("c", typ, v, enc="delta", sorted_=True)]
    path = write(tmp_path, cols, len(v), rg_rows=200, page_rows=25)
    rg = pq.ParquetFile(path).metadata.row_group(0)
    assert bool(rg.sorting_columns) == (drop_at is None)
    st = rg.column(0).statistics
    assert (st.min, st.max) == (int(v.min()), int(v.max()))
    check_all(path, cols)


def test_no_page_index(tmp_path):
    cols = [column("x", "int32", np.arange(100, dtype=np.int32))]
    path = write(tmp_path, cols, 100)
    cc = pq.ParquetFile(path).metadata.row_group(0).column(0)
    assert not cc.has_column_index and not cc.has_offset_index
