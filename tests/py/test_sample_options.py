"""--method sample with the rest of convert (issue 13): work units, bands, parents, string cells,
resume and fingerprints, verify --input, info, preview, S3, memory and threads, auto, errors."""
import io
import json
import re
from pathlib import Path

import h3
import numpy as np
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from rasters import random_values, write_raster
from reference import base_cells
from sample_reference import sample_reference


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """0.1 degree pixels over two base cells (44..48 N, 3..9 E), UInt16 with NoData."""
    d = tmp_path_factory.mktemp("sample-opt")
    data = random_values("uint16", (40, 60), 3) % 1000
    data[5:9, 10:20] = 65535
    return write_raster(d / "r.tif", data.astype(np.uint16), (3.0, 0.1, 0.0, 48.0, 0.0, -0.1),
                        4326, nodata=65535)


@pytest.fixture(scope="module")
def bands3(tmp_path_factory):
    d = tmp_path_factory.mktemp("sample-bands")
    b = [random_values("int16", (30, 30), s) for s in (1, 2, 3)]
    b[1][3:6, 3:6] = -1  # NoData in band 2 only: those pixels give no row
    return write_raster(d / "b.tif", b[0], (10.0, 0.05, 0.0, 50.0, 0.0, -0.05), 4326,
                        nodata=-1, extra_bands=b[1:])


def sample(run_cli, src, out, *args, env=None):
    p = run_cli("convert", src, out, "--method", "sample", "--quiet", *args, env=env)
    assert p.returncode == 0, p.stderr
    return p


def table(out):
    return pads.dataset(str(out), format="parquet", partitioning="hive").to_table()


def files(out):
    return {str(f.relative_to(out)): f.read_bytes() for f in sorted(Path(out).rglob("*.parquet"))}


def test_work_units_make_the_whole(run_cli, src, tmp_path):
    whole = tmp_path / "whole"
    sample(run_cli, src, whole, "--resolution", 8)
    parts = sorted(p.name for p in whole.glob("h0=*"))
    assert len(parts) >= 2, parts
    units = tmp_path / "units"
    for p in parts:
        bc = h3.get_base_cell_number(p[3:])
        sample(run_cli, src, units, "--resolution", 8, "--i", bc)
    a, b = files(whole), files(units)
    assert set(a) == set(b)
    for k in a:
        assert pq.read_table(whole / k).equals(pq.read_table(units / k)), k
    # A work unit of a base cell the raster does not touch writes nothing and succeeds.
    p = run_cli("convert", src, tmp_path / "none", "--method", "sample", "--resolution", 8,
                "--i", 121, "--quiet")
    assert p.returncode == 0 and not list((tmp_path / "none").glob("h0=*"))


def test_threads_and_memory_do_not_change_rows(run_cli, src, tmp_path):
    outs = []
    for i, args in enumerate([("--threads", 1), ("--threads", 2), ("--threads", 2, "--memory",
                                                                    "16M")]):
        out = tmp_path / f"o{i}"
        sample(run_cli, src, out, "--resolution", 10, *args)
        outs.append(out)
    assert files(outs[0]) == files(outs[1])  # same budget: byte for byte
    assert table(outs[0]).sort_by("h10").equals(table(outs[2]).sort_by("h10"))


def test_bands_one_column_each(run_cli, bands3, tmp_path):
    out = tmp_path / "o"
    sample(run_cli, bands3, out, "--resolution", 9, "--bands", "1,2,3")
    t = table(out).sort_by("h9")
    cells, vals = sample_reference(bands3, 9, "nearest", bands=[1, 2, 3])
    assert np.array_equal(t.column("h9").to_numpy(), cells)
    for i, name in enumerate(["band_1", "band_2", "band_3"]):
        assert np.array_equal(t.column(name).to_numpy(), vals[i]), name


def test_parents_and_string_cells(run_cli, src, tmp_path):
    out = tmp_path / "o"
    sample(run_cli, src, out, "--resolution", 9, "--parents", "0,5,7", "--cell-format", "string")
    t = table(out)
    cells = t.column("h9").to_pylist()
    assert all(isinstance(c, str) and len(c) == 15 for c in cells)
    want, _ = sample_reference(src, 9)
    assert sorted(int(c, 16) for c in cells) == want.tolist()
    for c, p0, p5, p7 in zip(cells, t.column("parent_h0").to_pylist(), t.column("h5").to_pylist(),
                             t.column("h7").to_pylist()):
        assert p0 == h3.cell_to_parent(c, 0) and p5 == h3.cell_to_parent(c, 5)
        assert p7 == h3.cell_to_parent(c, 7)


def test_resume_and_fingerprints(run_cli, src, tmp_path):
    out = tmp_path / "o"
    sample(run_cli, src, out, "--resolution", 8)
    p = run_cli("convert", src, out, "--method", "sample", "--resolution", 8)
    assert p.returncode == 0 and "nothing to do" in p.stderr, p.stderr
    first = files(out)
    # Another kernel or the point method is another dataset: every partition is redone.
    for args in (("--method", "sample", "--resample", "bilinear"), ("--method", "point")):
        p = run_cli("convert", src, out, "--resolution", 8, "--quiet", *args)
        assert p.returncode == 0, p.stderr
        assert files(out) != first
        v = run_cli("verify", out, "--input", src)
        assert v.returncode == 0, v.stdout + v.stderr
    meta = pq.read_schema(next(out.rglob("*.parquet"))).metadata
    assert b"raster2h3:method" not in meta  # point datasets as before
    sample(run_cli, src, out, "--resolution", 8)
    meta = pq.read_schema(next(out.rglob("*.parquet"))).metadata
    assert meta[b"raster2h3:method"] == b"sample;resample=nearest"
    assert files(out) == first


@pytest.mark.parametrize("kernel", ["nearest", "bilinear"])
def test_verify_input_checks_sampled_content(run_cli, src, tmp_path, kernel):
    out = tmp_path / "o"
    sample(run_cli, src, out, "--resolution", 9, "--resample", kernel)
    v = run_cli("verify", out, "--input", src)
    assert v.returncode == 0, v.stdout + v.stderr
    # Rewrite one partition with one value changed (same rows, same footer): verify must see it.
    f = sorted(out.rglob("*.parquet"))[0]
    t = pq.read_table(f)
    col = t.column_names[0]
    vals = t.column(col).to_numpy().copy()
    vals[len(vals) // 2] += 1
    t2 = t.set_column(0, col, __import__("pyarrow").array(vals, type=t.schema.field(col).type))
    pq.write_table(t2.replace_schema_metadata(t.schema.metadata), f)
    v = run_cli("verify", out, "--input", src)
    assert v.returncode == 6, v.stdout + v.stderr


def test_info_and_preview(run_cli, src, tmp_path):
    out = tmp_path / "o"
    sample(run_cli, src, out, "--resolution", 9, "--resample", "cubic")
    p = run_cli("info", out, "--json")
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["method"] == "sample;resample=cubic"
    assert [c["type"] for c in j["columns"]][0] == "double"
    png = tmp_path / "p.png"
    p = run_cli("preview", out, png)
    assert p.returncode == 0 and png.stat().st_size > 100, p.stderr


def test_s3_output_and_verify(run_cli, src, tmp_path):
    pytest.importorskip("moto")
    from s3_fixture import S3Server
    server = S3Server(tmp_path)
    try:
        server.client.create_bucket(Bucket="bkt")
        local = tmp_path / "local"
        sample(run_cli, src, local, "--resolution", 9)
        sample(run_cli, src, "s3://bkt/s", "--resolution", 9, env=server.env())
        for k in sorted(k for k in server.keys("bkt") if k.endswith(".parquet")):
            body = server.client.get_object(Bucket="bkt", Key=k)["Body"].read()
            assert pq.read_table(io.BytesIO(body)).equals(
                pq.read_table(local / k.split("/", 1)[1])), k
        v = run_cli("verify", "s3://bkt/s", "--input", src, env=server.env())
        assert v.returncode == 0, v.stdout + v.stderr
    finally:
        server.close()


def test_auto_method_and_point_warning(run_cli, src, tmp_path):
    # 0.1 degree pixels (~ 87 km2 at 46 N): cells at 7 (~ 5 km2) are smaller, at 4 larger.
    p = run_cli("convert", src, tmp_path / "a", "--method", "auto", "--resolution", 7)
    assert p.returncode == 0 and "--method auto chose sample" in p.stderr, p.stderr
    assert b"sample" in pq.read_schema(next((tmp_path / "a").rglob("*.parquet"))).metadata[
        b"raster2h3:method"]
    p = run_cli("convert", src, tmp_path / "b", "--method", "auto", "--resolution", 4)
    assert p.returncode == 0 and "--method auto chose point" in p.stderr, p.stderr
    p = run_cli("convert", src, tmp_path / "c", "--resolution", 7)
    assert p.returncode == 0
    assert len(re.findall(r"warning: .*--method sample", p.stderr)) == 1, p.stderr
    p = run_cli("convert", src, tmp_path / "d", "--resolution", 5)
    assert "--method sample" not in p.stderr


@pytest.mark.parametrize("args,needle", [
    (("--method", "nearest"), "--method must be point, sample, overlay or auto"),
    (("--resample", "bilinear"), "--resample needs --method sample"),
    (("--method", "sample", "--resample", "lanczos"), "--resample must be"),
    (("--method", "sample", "--aggregate"), "--aggregate"),
    (("--method", "sample", "--density-unit", "per-ha"), "--density-unit"),
])
def test_bad_flags(run_cli, src, tmp_path, args, needle):
    p = run_cli("convert", src, tmp_path / "o", "--resolution", 8, *args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not list((tmp_path / "o").rglob("*.parquet"))


def test_interpolation_takes_one_band(run_cli, bands3, tmp_path):
    p = run_cli("convert", bands3, tmp_path / "o", "--method", "sample", "--resample", "bilinear",
                "--bands", "1,2", "--resolution", 8)
    assert p.returncode == 2 and "one band" in p.stderr, p.stderr


def test_profile_counts_cells(run_cli, src, tmp_path):
    p = run_cli("convert", src, tmp_path / "o", "--method", "sample", "--resolution", 9,
                "--profile", "--quiet")
    assert p.returncode == 0
    m = re.search(r"(\d+) cells examined, (\d+) written, ([\d.]+) M cells/s", p.stderr)
    assert m, p.stderr
    assert int(m.group(2)) == table(tmp_path / "o").num_rows


def test_dry_run_says_the_plan_and_writes_nothing(run_cli, src, tmp_path):
    out = tmp_path / "o"
    p = run_cli("convert", src, out, "--method", "sample", "--resolution", 9, "--dry-run")
    assert p.returncode == 0, p.stderr
    assert re.search(r"sample .* at up to \d+ cells of resolution 9 \(\d+ chunks", p.stdout)
    assert not out.exists() or not list(out.rglob("*.parquet"))
    sample(run_cli, src, out, "--resolution", 9)
    p = run_cli("convert", src, out, "--method", "sample", "--resolution", 9, "--dry-run")
    assert "nothing to do" in p.stdout and "sample " not in p.stdout, p.stdout
