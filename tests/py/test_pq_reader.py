"""Parquet files written by pyarrow (and DuckDB, Polars) read by the C reader.

The reader is driven through `test_pq_reader --dump FILE` (tests/unit/test_pq_reader.c), which
prints the footer, statistics and every numeric value as JSON; the build directory comes from
$R2H_BUILD_DIR (default <repo>/build). pyarrow is the oracle for values and statistics.
"""
import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("R2H_BUILD_DIR", REPO / "build"))
TOOL = BUILD / "test_pq_reader"

pytestmark = pytest.mark.skipif(not TOOL.exists(), reason=f"{TOOL} not built")

# pyarrow type -> the reader's type name
TYPES = {
    "i8": (pa.int8(), "int8"), "u8": (pa.uint8(), "uint8"),
    "i16": (pa.int16(), "int16"), "u16": (pa.uint16(), "uint16"),
    "i32": (pa.int32(), "int32"), "u32": (pa.uint32(), "uint32"),
    "i64": (pa.int64(), "int64"), "u64": (pa.uint64(), "uint64"),
    "f32": (pa.float32(), "float"), "f64": (pa.float64(), "double"),
    "b": (pa.bool_(), "uint8"),
}


def dump(path, check=True):
    p = subprocess.run([str(TOOL), "--dump", str(path)], capture_output=True, text=True,
                       timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)
    return p


def make_table(n, seed=1, nulls=True, few=False, nullable=True):
    rng = np.random.default_rng(seed)
    cols, fields = {}, []
    for name, (typ, _) in TYPES.items():
        if typ == pa.bool_():
            v = rng.integers(0, 2, n).astype(bool)
        elif pa.types.is_floating(typ):
            dt = typ.to_pandas_dtype()
            v = (rng.integers(-50, 50, n) / 4 if few else rng.normal(0, 1e6, n)).astype(dt)
            if n >= 4 and not few:
                v[:4] = [np.nan, np.inf, -np.inf, -0.0]
        else:
            dt = np.dtype(typ.to_pandas_dtype())
            info = np.iinfo(dt)
            if few:
                v = rng.choice(rng.integers(info.min, info.max, 7, dtype=dt, endpoint=True), n)
            else:
                v = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
                v[:2] = [info.min, info.max]
        mask = (rng.random(n) < 0.2) if nulls else None
        if mask is not None and n > 300:
            mask[100:300] = True  # an all-null stretch spanning pages
        cols[name] = pa.array(v, type=typ, mask=mask)
        fields.append(pa.field(name, typ, nullable=nullable))
    cols["s"] = pa.array([f"x{i % 10}" for i in range(n)])
    fields.append(pa.field("s", pa.string(), nullable=nullable))
    return pa.table(cols, schema=pa.schema(fields, metadata={"resolution": "7"}))


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool):
        a = int(a)
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def check_file(path):
    """The dump equals pyarrow's reading: schema, kv, values per row group, statistics."""
    got = dump(path)
    pf = pq.ParquetFile(path)
    md = pf.metadata
    assert got["num_rows"] == md.num_rows
    assert len(got["row_groups"]) == md.num_row_groups
    names = [f["name"] for f in got["schema"]]
    assert names == pf.schema_arrow.names
    for f, af in zip(got["schema"], pf.schema_arrow):
        assert f["type"] == (TYPES[f["name"]][1] if f["name"] in TYPES else "string")
        assert f["optional"] == af.nullable
    for k, v in (md.metadata or {}).items():
        if len(v) < 4096:
            assert got["kv"][k.decode()] == v.decode()
    for g, rg in enumerate(got["row_groups"]):
        tab = pf.read_row_group(g)
        assert rg["rows"] == tab.num_rows
        for c, name in enumerate(names):
            st = md.row_group(g).column(c).statistics
            mine = rg["stats"][c]
            if st is not None and st.has_null_count:
                assert mine["null_count"] == st.null_count, (name, g)
            if name == "s":
                assert rg["columns"][c] is None
                continue
            want = tab.column(name).to_pylist()
            vals = rg["columns"][c]
            assert len(vals) == len(want)
            bad = [i for i, (a, b) in enumerate(zip(want, vals)) if not same(a, b)]
            assert not bad, (name, g, bad[:5], [want[i] for i in bad[:5]], [vals[i] for i in bad[:5]])
            if st is not None and st.has_min_max and name != "b":
                assert "min" in mine, (name, g)
                assert same(st.min, mine["min"]) and same(st.max, mine["max"]), (name, g, st, mine)
    return got


VARIANTS = {
    "defaults_snappy_dict_v1": dict(),
    "zstd_v2": dict(compression="zstd", data_page_version="2.0"),
    "none_plain": dict(compression="none", use_dictionary=False),
    "snappy_plain_v2": dict(compression="snappy", use_dictionary=False, data_page_version="2.0"),
    "zstd_delta": dict(compression="zstd", use_dictionary=False,
                       column_encoding={k: "DELTA_BINARY_PACKED"
                                        for k in ("i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64")}),
    "delta_v2_none": dict(compression="none", use_dictionary=False, data_page_version="2.0",
                          column_encoding={k: "DELTA_BINARY_PACKED" for k in ("i32", "u32", "i64", "u64")}),
    "byte_stream_split": dict(compression="zstd", use_dictionary=False,
                              column_encoding={"f32": "BYTE_STREAM_SPLIT", "f64": "BYTE_STREAM_SPLIT"}),
    "dict_only_some": dict(compression="zstd", use_dictionary=["i32", "f64", "u64"]),
    "small_pages_many_groups": dict(compression="snappy", data_page_size=512, row_group_size=700,
                                    write_batch_size=64),
    "dict_fallback_mid_chunk": dict(compression="zstd", dictionary_pagesize_limit=200,
                                    data_page_size=256, write_batch_size=32),
    "small_pages_v2_zstd": dict(compression="zstd", data_page_size=300, row_group_size=999,
                                data_page_version="2.0", write_batch_size=50),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("few", [False, True], ids=["random", "few_values"])
def test_pyarrow_variants(tmp_path, variant, few):
    path = tmp_path / "t.parquet"
    pq.write_table(make_table(3000, few=few), path, **VARIANTS[variant])
    check_file(path)


@pytest.mark.parametrize("variant", ["defaults_snappy_dict_v1", "zstd_v2", "delta_v2_none"])
def test_required_columns(tmp_path, variant):
    path = tmp_path / "t.parquet"
    pq.write_table(make_table(2000, nulls=False, nullable=False), path, **VARIANTS[variant])
    got = check_file(path)
    assert not any(f["optional"] for f in got["schema"])


def test_all_null_and_empty(tmp_path):
    path = tmp_path / "t.parquet"
    t = pa.table({"i32": pa.array([None] * 50, pa.int32()), "f64": pa.array([None] * 50, pa.float64())})
    pq.write_table(t, path)
    got = check_file(path)
    assert got["row_groups"][0]["columns"][0] == [None] * 50
    path2 = tmp_path / "empty.parquet"
    pq.write_table(t.slice(0, 0), path2)
    assert dump(path2)["num_rows"] == 0


def test_sorted_h3_like_delta(tmp_path):
    """Sorted uint64 ids with jumps (wide miniblocks), DELTA, V1 and V2."""
    rng = np.random.default_rng(5)
    ids = np.sort(rng.integers(0x0880000000000000, 0x08F0000000000000, 50000, dtype=np.uint64))
    t = pa.table({"u64": ids, "u16": rng.integers(0, 12, 50000).astype(np.uint16)})
    for v in ("1.0", "2.0"):
        path = tmp_path / f"t{v}.parquet"
        pq.write_table(t, path, compression="zstd", use_dictionary=["u16"], data_page_version=v,
                       column_encoding={"u64": "DELTA_BINARY_PACKED"})
        check_file(path)


def test_duckdb_and_polars_files(tmp_path):
    import duckdb
    import polars as pl
    t = make_table(2500, few=True).drop_columns(["b", "s"])
    a = tmp_path / "duck.parquet"
    con = duckdb.connect()
    con.register("t", t)
    con.execute(f"COPY t TO '{a}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000)")
    check_file(a)
    b = tmp_path / "polars.parquet"
    pl.from_arrow(t).write_parquet(b, row_group_size=800)
    check_file(b)


def test_unsupported_codec_and_truncation_are_clean_errors(tmp_path):
    path = tmp_path / "gz.parquet"
    pq.write_table(make_table(200), path, compression="gzip")
    p = dump(path, check=False)
    assert p.returncode == 2 and str(path) in p.stderr and "codec" in p.stderr, p.stderr
    good = tmp_path / "good.parquet"
    pq.write_table(make_table(500), good, compression="zstd")
    data = good.read_bytes()
    cut = tmp_path / "cut.parquet"
    for n in (0, 3, 4, 11, 12, len(data) // 2, len(data) - 9, len(data) - 1):
        cut.write_bytes(data[:n])
        p = dump(cut, check=False)
        assert p.returncode == 2 and p.stderr.startswith(f"test_pq_reader: {cut}: "), (n, p.stderr)
    p = dump(tmp_path / "missing.parquet", check=False)
    assert p.returncode == 2 and "cannot open" in p.stderr
