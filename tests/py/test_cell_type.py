"""test_cell_type.py - `convert --cell-type uint64|int64|string` (--cell-format is its alias).

int64 writes the same cell ids as uint64 (H3 ids never set bit 63) annotated as signed 64-bit
integers, for engines without an unsigned 64-bit type (Spark, Databricks, BigQuery). For every
method the int64 run is compared with the uint64 run of the same input: the same rows and values,
the cell and parent columns signed int64 in pyarrow, DuckDB, Polars, fastparquet and the C reader
(r2h_pq_reader), and verify/info/preview/resume accept it. pyspark (local mode, one session for
the module) reads int64 cells as bigint and uint64 ones as decimal(20,0), which is why int64
exists.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import fastparquet
import h3
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rasters

LAT, LNG = 47.37, 8.54
BUILD = Path(os.environ.get("R2H_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))

# name -> (convert arguments, cell column, parent columns)
CASES = {
    "point": (["--resolution", 8], "h8", []),
    "point-parents": (["--resolution", 8, "--parents", "0,5"], "h8", ["parent_h0", "h5"]),
    "bands": (["--resolution", 8, "--bands", "1,2"], "h8", []),
    "aggregate": (["--resolution", 7, "--aggregate", "--parents", "4"], "h7", ["h4"]),
    "sample": (["--method", "sample", "--resolution", 10], "h10", []),
    "sample-parents": (["--method", "sample", "--resolution", 10, "--parents", "0,6"], "h10",
                       ["parent_h0", "h6"]),
    "overlay": (["--method", "overlay", "--resolution", 8], "h8", []),
    "overlay-parents": (["--method", "overlay", "--resolution", 8, "--parents", "3"], "h8",
                        ["h3"]),
    "work-unit": (["--resolution", 8, "--i", None], "h8", []),
}


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """A 96 x 96 float32 window near Zurich with a NoData hole, and a second band."""
    d = tmp_path_factory.mktemp("cell_type")
    rng = np.random.default_rng(16)
    a = rng.normal(100, 20, (96, 96)).astype(np.float32)
    a[40:50, 30:70] = -9999
    b = rng.integers(0, 5, (96, 96)).astype(np.float32)
    gt = rasters.centred_gt(LNG, LAT, 0.002, 96, 96)
    return rasters.write_raster(d / "w.tif", a, gt, 4326, nodata=-9999, extra_bands=[b])


def base_cell():
    return h3.get_base_cell_number(h3.latlng_to_cell(LAT, LNG, 0))


def convert(run_cli, src, out, args, *extra):
    args = [base_cell() if a is None else a for a in args]
    p = run_cli("convert", src, out, *args, *extra, "--quiet")
    assert p.returncode == 0, p.stderr
    return out


def files(out):
    return sorted(Path(out).glob("h0=*/data_*.parquet"))


def table(out):
    t = pa.concat_tables([pq.read_table(f) for f in files(out)])
    return t.sort_by([(n, "ascending") for n in t.schema.names])


@pytest.fixture(scope="module")
def runs(src, tmp_path_factory):
    """Each case converted with uint64 (default), --cell-type int64 and --cell-type string."""
    from conftest import run_binary
    d = tmp_path_factory.mktemp("runs")
    out = {}
    for name, (args, _, _) in CASES.items():
        out[name] = {
            "uint64": convert(run_binary, src, d / f"{name}-u", args),
            "int64": convert(run_binary, src, d / f"{name}-i", args, "--cell-type", "int64"),
            "string": convert(run_binary, src, d / f"{name}-s", args, "--cell-type", "string"),
        }
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_int64_same_values_signed_everywhere(runs, name):
    _, cell, parents = CASES[name]
    cols = [cell] + parents
    u, i = runs[name]["uint64"], runs[name]["int64"]
    tu, ti = table(u), table(i)
    assert tu.num_rows > 0
    assert ti.schema.names == tu.schema.names
    for f in tu.schema:
        if f.name in cols:
            assert f.type == pa.uint64() and ti.schema.field(f.name).type == pa.int64(), f.name
            assert ti.column(f.name).to_pylist() == tu.column(f.name).to_pylist(), f.name
        else:  # values, statistics: byte for byte the same
            assert ti.schema.field(f.name).type == f.type, f.name
            assert ti.column(f.name).equals(tu.column(f.name)), f.name
    # The annotation and the statistics: signed INT(64), min/max the cells' own.
    for fu, fi in zip(files(u), files(i)):
        mu, mi = pq.ParquetFile(fu).metadata, pq.ParquetFile(fi).metadata
        for c in cols:
            k = mi.schema.names.index(c)
            assert mi.schema.column(k).physical_type == "INT64"
            lt = mi.schema.column(k).logical_type
            assert lt.type == "INT" and json.loads(lt.to_json()) == {
                "Type": "Int", "bitWidth": 64, "isSigned": True}
            for rg in range(mi.num_row_groups):
                si, su = mi.row_group(rg).column(k).statistics, mu.row_group(rg).column(k).statistics
                assert si.has_min_max and (si.min, si.max) == (su.min, su.max)
                assert 0 < si.min <= si.max < 2 ** 63
    pa_cells = ti.column(cell).to_pylist()
    # DuckDB: BIGINT.
    con = duckdb.connect()
    glob = str(Path(i) / "*" / "*.parquet")
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{glob}')")
             .fetchall()}
    assert all(types[c] == "BIGINT" for c in cols), types
    assert sorted(r[0] for r in con.execute(
        f"SELECT {cell} FROM read_parquet('{glob}')").fetchall()) == sorted(pa_cells)
    # Polars: Int64.
    df = pl.read_parquet([str(f) for f in files(i)])
    assert all(df.schema[c] == pl.Int64 for c in cols)
    assert sorted(df[cell].to_list()) == sorted(pa_cells)
    # fastparquet: int64.
    fp = pd_concat([fastparquet.ParquetFile(str(f)).to_pandas() for f in files(i)])
    assert all(str(fp[c].dtype) == "int64" for c in cols)
    assert sorted(fp[cell].tolist()) == sorted(pa_cells)


def pd_concat(frames):
    import pandas as pd
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("name", list(CASES))
def test_string_cells_still_work(runs, name):
    _, cell, parents = CASES[name]
    tu, ts = table(runs[name]["uint64"]), table(runs[name]["string"])
    for c in [cell] + parents:
        assert ts.schema.field(c).type == pa.string()
        assert sorted(ts.column(c).to_pylist()) == sorted(
            h3.int_to_str(x) for x in tu.column(c).to_pylist())


@pytest.mark.parametrize("name", ["point-parents", "aggregate", "sample-parents",
                                  "overlay-parents", "bands"])
def test_tools_read_int64(run_cli, runs, src, name, tmp_path):
    """verify (alone and against the input), info, preview and the C reader take int64 cells."""
    _, cell, parents = CASES[name]
    u, i = runs[name]["uint64"], runs[name]["int64"]
    for args in ((), ("--input", src)):
        p = run_cli("verify", i, *args)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "0 problems" in p.stdout
    p = run_cli("info", i, "--json")
    assert p.returncode == 0, p.stderr
    ju = json.loads(run_cli("info", u, "--json").stdout)
    ji = json.loads(p.stdout)
    types = {c["name"]: c["type"] for c in ji["columns"]}
    assert all(types[c] == "int64" for c in [cell] + parents), types
    assert ji["rows"] == ju["rows"]
    if name != "bands":  # preview: the same picture from either cell type
        pngs = []
        for out, tag in ((u, "u"), (i, "i")):
            png = tmp_path / f"{tag}.png"
            p = run_cli("preview", out, png)
            assert p.returncode == 0, p.stderr
            pngs.append(png.read_bytes())
        assert pngs[0] == pngs[1]
    tool = BUILD / "test_pq_reader"
    if tool.exists():
        for fu, fi in zip(files(u), files(i)):
            du, di = (json.loads(subprocess.run([str(tool), "--dump", str(f)], check=True,
                                                capture_output=True, text=True).stdout)
                      for f in (fu, fi))
            names = [s["name"] for s in di["schema"]]
            for c in [cell] + parents:
                k = names.index(c)
                assert di["schema"][k]["type"] == "int64" and du["schema"][k]["type"] == "uint64"
                for rgu, rgi in zip(du["row_groups"], di["row_groups"]):
                    assert rgi["columns"][k] == rgu["columns"][k]
                    assert rgi["stats"][k] == rgu["stats"][k]


def test_resume_follows_the_cell_type(run_cli, src, tmp_path):
    """Another cell type is another dataset: every partition is redone (as with string)."""
    out = tmp_path / "o"
    args = ["--resolution", 8]
    convert(run_cli, src, out, args)
    for ct, typ in (("int64", pa.int64()), ("string", pa.string()), ("uint64", pa.uint64())):
        p = run_cli("convert", src, out, *args, "--cell-type", ct, "--quiet")
        assert p.returncode == 0, p.stderr
        assert pq.read_schema(files(out)[0]).field("h8").type == typ, ct
        p = run_cli("convert", src, out, *args, "--cell-type", ct)
        assert p.returncode == 0 and "nothing to do" in p.stderr, p.stderr
    # --cell-format string and --cell-type string are one dataset.
    convert(run_cli, src, out, args, "--cell-format", "string")
    p = run_cli("convert", src, out, *args, "--cell-type", "string")
    assert "nothing to do" in p.stderr, p.stderr


@pytest.mark.parametrize("args,msg", [
    (["--cell-type", "int32"], "--cell-type must be uint64, int64 or string, got 'int32'"),
    (["--cell-type", ""], "--cell-type must be"),
    (["--cell-format", "int64"], "--cell-format must be uint64 or string, got 'int64'"),
    (["--cell-type", "int64", "--cell-format", "string"],
     "--cell-format string conflicts with --cell-type int64"),
    (["--cell-format", "uint64", "--cell-type", "string"],
     "--cell-format uint64 conflicts with --cell-type string"),
])
def test_bad_values_rejected(run_cli, src, tmp_path, args, msg):
    out = tmp_path / "o"
    p = run_cli("convert", src, out, *args)
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not out.exists()


def test_agreeing_flags_accepted(run_cli, src, tmp_path):
    for args in (["--cell-format", "string", "--cell-type", "string"],
                 ["--cell-format", "uint64", "--cell-type", "uint64"]):
        p = run_cli("convert", src, tmp_path / args[1], "--resolution", 6, *args, "--quiet")
        assert p.returncode == 0, p.stderr


def test_help_lists_cell_type(run_cli):
    p = run_cli("convert", "--help")
    assert "--cell-type" in p.stdout + p.stderr


# ---- pyspark (local mode) --------------------------------------------------------------------

@pytest.fixture(scope="module")
def spark():
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        pytest.skip("pyspark needs Java (no java on PATH, JAVA_HOME unset): install "
                    "openjdk-17-jre-headless (scripts/setup.sh does)")
    from pyspark.sql import SparkSession
    s = (SparkSession.builder.master("local[1]").appName("raster2h3-cell-type")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
         .config("spark.driver.memory", "512m").getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def test_pyspark_reads_int64_as_bigint(spark, runs):
    from pyspark.sql.types import DecimalType, LongType
    # uint64 cells arrive as decimal(20,0), not as the BIGINT that H3 functions take
    # (Databricks h3_*, BigQuery): what --cell-type int64 is for.
    du = spark.read.parquet(str(runs["point"]["uint64"]))
    assert du.schema["h8"].dataType == DecimalType(20, 0), du.schema["h8"]
    for name in ("point-parents", "aggregate", "sample-parents", "overlay-parents"):
        _, cell, parents = CASES[name]
        cols = [cell] + parents
        di = spark.read.parquet(str(runs[name]["int64"]))
        for c in cols:
            assert di.schema[c].dataType == LongType(), (name, c, di.schema[c])
        assert dict(di.dtypes)[cell] == "bigint"
        got = sorted(tuple(r) for r in di.select(*cols).collect())
        tu = table(runs[name]["uint64"])
        want = sorted(zip(*(tu.column(c).to_pylist() for c in cols)))
        assert len(got) == tu.num_rows > 0
        assert [g for g, w in zip(got, want) if g != w] == [], name  # 0 differences
