"""Oracle tests of `convert --method overlay` (issue 14): every cell whose polygon covers valid
pixels gets one row, in its base cell's partition, with statistics equal to those computed from
GEOS intersection areas of each pixel with the cell's polygon (overlay_reference.py; 1e-9
relative) and to exactextract 0.3.0's coverage fractions (within their float32 rounding: its
fractions are float32 of the exact ones, see test_exactextract_fractions_are_float32)."""
import math

import h3
import numpy as np
import pyarrow.dataset as pads
import pytest
from osgeo import gdal

from overlay_reference import overlay_reference
from rasters import random_values, write_raster

gdal.UseExceptions()


def _data(rows, cols, dtype="float32", seed=11, holes=True):
    d = random_values(dtype, (rows, cols), seed)
    if np.dtype(dtype).kind == "f":
        d = np.round(np.abs(d) % 1000, 3).astype(dtype)
        d[~np.isfinite(d)] = 1
    if holes:
        d[rows // 3:rows // 3 + 3, cols // 4:cols // 4 + 4] = -9999
        d.flat[::17] = -9999
    return d


def _projected(path, epsg, x, y, dx, cols, rows):
    gt = (x - cols / 2 * dx, dx, 0.0, y + rows / 2 * dx, 0.0, -dx)
    return write_raster(path, _data(rows, cols), gt, epsg, nodata=-9999)


def _geo(path, lat, lng, dx, cols, rows, gt=None):
    gt = gt or (lng - cols / 2 * dx, dx, 0.0, lat + rows / 2 * dx, 0.0, -dx)
    return write_raster(path, _data(rows, cols), gt, 4326, nodata=-9999)


def _pentagon_centre(n):
    return h3.cell_to_latlng(h3.int_to_str(0x08001FFFFFFFFFFF | (n << 45)))


# name: (builder, [resolution with cells larger than pixels, resolution with cells about a pixel])
RASTERS = {
    "geo": (lambda p: _geo(p, 45.0, 7.0, 0.01, 40, 30), [6, 8]),
    "utm": (lambda p: _projected(p, 32633, 500000, 5200000, 250, 40, 40), [7, 9]),
    "polar_north_3413": (lambda p: _projected(p, 3413, 0, 0, 25000, 40, 40), [3, 5]),
    "polar_south_3031": (lambda p: _projected(p, 3031, 0, 0, 25000, 40, 40), [3, 5]),
    "lon_0_360": (lambda p: write_raster(p, _data(36, 72), (0.0, 5.0, 0.0, 90.0, 0.0, -5.0),
                                         4326, nodata=-9999), [1, 2]),
    "antimeridian": (lambda p: _geo(p, -17.0, 180.0, 0.02, 40, 30), [5, 7]),
    "rotated": (lambda p: _geo(p, 45.0, 7.0, 0.05, 16, 12,
                               gt=(6.5, 0.05, 0.01, 45.3, 0.012, -0.05)), [5, 7]),
    "pentagon_4": (lambda p: _geo(p, *_pentagon_centre(4), 0.05, 24, 24), [4, 6]),
}


@pytest.fixture(scope="module")
def rasters(tmp_path_factory):
    d = tmp_path_factory.mktemp("overlay-rasters")
    return {k: b(d / f"{k}.tif") for k, (b, _) in RASTERS.items()}


STATS = "count,sum,mean,coverage,min,max,mode"


def read_rows(out, res):
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table()
    d = t.to_pydict()
    cells = d.pop(f"h{res}")
    h0 = d.pop("h0")
    return cells, h0, d


def convert(run_cli, src, out, res, *args):
    p = run_cli("convert", str(src), str(out), "--resolution", str(res), "--method", "overlay",
                "--quiet", *args)
    assert p.returncode == 0, p.stderr
    return read_rows(out, res)


def _close(a, b, rel=1e-9, abs_=1e-12):
    return abs(a - b) <= rel * max(abs(a), abs(b)) + abs_


def check_against(cells, h0, cols, ref, vn="value"):
    assert len(cells) == len(set(cells)), "a cell has two rows"
    assert sorted(cells) == sorted(ref), (
        f"cells differ: {len(set(cells) - set(ref))} extra, {len(set(ref) - set(cells))} missing")
    bad = []
    for i, c in enumerate(cells):
        s = ref[c]
        assert h0[i] == h3.cell_to_parent(h3.int_to_str(c), 0), "wrong partition"
        for k, col in (("sum", f"{vn}_sum"), ("mean", f"{vn}_mean"), ("coverage", "coverage")):
            if not _close(cols[col][i], s[k]):
                bad.append((hex(c), k, cols[col][i], s[k]))
        for k, col in (("count", "count"), ("min", f"{vn}_min"), ("max", f"{vn}_max"),
                       ("mode", f"{vn}_mode")):
            if cols[col][i] != s[k]:
                bad.append((hex(c), k, cols[col][i], s[k]))
    assert not bad, f"{len(bad)} differences, e.g. {bad[:5]}"


CASES = [(k, r) for k, (_, rs) in RASTERS.items() for r in rs]


@pytest.mark.parametrize("name,res", CASES)
def test_equals_geos_reference(run_cli, rasters, tmp_path, name, res):
    cells, h0, cols = convert(run_cli, rasters[name], tmp_path / "o", res, "--stat", STATS)
    ref, _ = overlay_reference(rasters[name], res)
    assert ref, "the reference has no cells: a test that cannot fail"
    check_against(cells, h0, cols, ref)


@pytest.mark.parametrize("name,res", [c for c in CASES if c[0] != "rotated"])
def test_equals_exactextract(run_cli, rasters, tmp_path, name, res):
    cells, _, cols = convert(run_cli, rasters[name], tmp_path / "o", res, "--stat", STATS)
    ref, _ = overlay_reference(rasters[name], res, engine="exactextract")
    # exactextract's fractions are float32: a fraction of 1e-9 or less may round away
    assert set(ref) <= set(cells)
    bad = []
    for i, c in enumerate(cells):
        if c not in ref:
            continue
        s = ref[c]
        if abs(cols["value_sum"][i] - s["sum"]) > s["bound_sum"]:
            bad.append((hex(c), "sum", cols["value_sum"][i], s["sum"], s["bound_sum"]))
        if abs(cols["coverage"][i] - s["coverage"]) > s["bound_cover"]:
            bad.append((hex(c), "coverage", cols["coverage"][i], s["coverage"]))
        if not _close(cols["value_mean"][i], s["mean"], rel=2.0 ** -23):
            bad.append((hex(c), "mean", cols["value_mean"][i], s["mean"]))
    assert not bad, f"{len(bad)} differences, e.g. {bad[:5]}"


# ---- conservation on the globe ----------------------------------------------------------------


def _global(path, dx=2.0, seed=5):
    cols, rows = int(360 / dx), int(180 / dx)
    d = _data(rows, cols, seed=seed)
    return write_raster(path, d, (-180.0, dx, 0.0, 90.0, 0.0, -dx), 4326, nodata=-9999), d


def _row_m2(dx, rows):
    e2 = 0.0066943799901413165
    e = math.sqrt(e2)

    def q(phi):
        s = math.sin(phi)
        return (1 - e2) * (s / (1 - e2 * s * s) - 1 / (2 * e) * math.log((1 - e * s) / (1 + e * s)))
    out = []
    for y in range(rows):
        p0, p1 = math.radians(90 - y * dx), math.radians(90 - (y + 1) * dx)
        out.append(6378137.0 ** 2 * math.radians(dx) * abs(q(p0) - q(p1)) / 2)
    return np.array(out)


@pytest.mark.parametrize("res", [1, 2])
def test_mass_is_conserved_on_the_globe(run_cli, tmp_path, res):
    """Sum of <v>_sum over the dataset = sum of the valid pixels; sum of <v>_total = sum of
    density x pixel area; every pentagon and both poles are among the cells."""
    src, d = _global(tmp_path / "g.tif")
    cells, h0, cols = convert(run_cli, src, tmp_path / "o", res, "--stat", "sum,total,area",
                              "--density-unit", "per-km2")
    valid = d != -9999
    want = float(d[valid].astype(np.float64).sum())
    got = math.fsum(cols["value_sum"])
    assert abs(got - want) <= 1e-9 * abs(want), (got, want)
    m2 = _row_m2(2.0, d.shape[0])[:, None] * np.ones(d.shape)
    want_total = float((d.astype(np.float64) * m2)[valid].sum()) / 1e6
    assert abs(math.fsum(cols["value_total"]) - want_total) <= 1e-9 * abs(want_total)
    assert abs(math.fsum(cols["area"]) - float(m2[valid].sum())) <= 1e-9 * float(m2[valid].sum())
    have = {h3.int_to_str(c) for c in cells}
    assert all(p in have for p in h3.get_pentagons(res)), "a pentagon has no row"
    for lat in (90, -90):
        assert h3.latlng_to_cell(lat, 0, res) in have, "a pole's cell has no row"


def test_work_units_give_the_same_dataset(run_cli, tmp_path):
    src, _ = _global(tmp_path / "g.tif", dx=3.0)
    one = tmp_path / "one"
    cells1, _, cols1 = convert(run_cli, src, one, 2, "--stat", "sum,mean,coverage,count")
    units = tmp_path / "units"
    for i in range(122):
        p = run_cli("convert", src, units, "--resolution", "2", "--method", "overlay", "--stat",
                    "sum,mean,coverage,count", "--i", str(i), "--quiet")
        assert p.returncode == 0, p.stderr
    p = run_cli("verify", units, "--input", src)
    assert p.returncode == 0, p.stdout + p.stderr
    cells2, _, cols2 = read_rows(units, 2)
    a = sorted(zip(cells1, *[cols1[k] for k in sorted(cols1)]))
    b = sorted(zip(cells2, *[cols2[k] for k in sorted(cols2)]))
    assert a == b


# ---- statistics beyond sum and mean ------------------------------------------------------------


def test_fractions_mode_and_min_coverage(run_cli, tmp_path):
    rng = np.random.default_rng(3)
    d = rng.choice(np.array([1, 2, 5, 255], dtype=np.uint8), size=(60, 80), p=[.4, .3, .2, .1])
    src = write_raster(tmp_path / "lc.tif", d, (7.0, 0.01, 0.0, 46.0, 0.0, -0.01), 4326,
                       nodata=255)
    cells, _, cols = convert(run_cli, src, tmp_path / "o", 7, "--stat",
                             "fractions,mode,coverage,count", "--classes", "1,2,5",
                             "--min-coverage", "0.4")
    ref, _ = overlay_reference(src, 7, classes=(1, 2, 5), min_coverage=0.4)
    assert ref and sorted(cells) == sorted(ref)
    for i, c in enumerate(cells):
        s = ref[c]
        for k in ("frac_1", "frac_2", "frac_5", "frac_nodata", "coverage"):
            assert _close(cols[k][i], s[k]), (hex(c), k, cols[k][i], s[k])
        assert cols["value_mode"][i] == s["mode"]
        assert cols["count"][i] == s["count"]
        assert cols["coverage"][i] >= 0.4
        assert abs(cols["frac_1"][i] + cols["frac_2"][i] + cols["frac_5"][i] +
                   cols["frac_nodata"][i] - 1) < 1e-9


def test_projected_totals_use_ellipsoidal_pixel_areas(run_cli, tmp_path):
    """UTM pixels of 250 m: area = sum of fraction x the pixel's WGS84 area (from its corners),
    so the dataset's area adds up to the valid pixels' areas."""
    src = _projected(tmp_path / "u.tif", 32633, 500000, 5200000, 250, 30, 30)
    cells, _, cols = convert(run_cli, src, tmp_path / "o", 8, "--stat", "sum,area,total",
                             "--density-unit", "per-m2")
    ds = gdal.Open(str(src))
    raw = np.frombuffer(ds.GetRasterBand(1).ReadRaster(buf_type=gdal.GDT_Float64),
                        dtype=np.float64).reshape(30, 30)
    valid = raw != -9999
    assert abs(math.fsum(cols["value_sum"]) - raw[valid].sum()) <= 1e-9 * raw[valid].sum()
    # UTM 33N near its central meridian: scale factor 0.9996 +- 1e-5 over 7.5 km
    area = math.fsum(cols["area"])
    nominal = valid.sum() * 250.0 ** 2 / 0.9996 ** 2
    assert abs(area / nominal - 1) < 2e-4, (area, nominal)
    assert abs(math.fsum(cols["value_total"]) /
               (raw[valid].sum() * 250.0 ** 2 / 0.9996 ** 2) - 1) < 2e-4


def test_verify_checks_overlay_datasets(run_cli, rasters, tmp_path):
    import pyarrow.parquet as pq
    out = tmp_path / "o"
    convert(run_cli, rasters["geo"], out, 7, "--min-coverage", "0.3")
    p = run_cli("verify", out, "--input", rasters["geo"])
    assert p.returncode == 0, p.stdout + p.stderr
    part = next(out.glob("h0=*/data_0.parquet"))
    t = pq.read_table(part)
    pq.write_table(t.slice(1), part)  # a row lost, the footer kept
    t2 = pq.read_table(part)
    assert t2.schema.metadata == t.schema.metadata
    p = run_cli("verify", out, "--input", rasters["geo"])
    assert p.returncode != 0 and "rows" in p.stdout + p.stderr, p.stdout + p.stderr


@pytest.mark.parametrize("args,words", [
    (["--stat", "sum", "--min-coverage", "0.5"], "lose mass"),
    (["--min-coverage", "1.5"], "--min-coverage"),
    (["--aggregate"], "--aggregate"),
    (["--resample", "bilinear"], "--resample"),
    (["--bands", "1,1"], None),
    (["--parents", "9"], "--parents"),
    (["--stat", "total"], "--density-unit"),
    (["--stat", "fractions"], "--classes"),
])
def test_bad_option_combinations(run_cli, rasters, tmp_path, args, words):
    out = tmp_path / "o"
    p = run_cli("convert", rasters["geo"], out, "--resolution", "7", "--method", "overlay", *args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert words is None or words in p.stderr, p.stderr
    assert not list(out.glob("h0=*")) if out.exists() else True


def test_min_coverage_needs_overlay(run_cli, rasters, tmp_path):
    p = run_cli("convert", rasters["geo"], tmp_path / "o", "--min-coverage", "0.5")
    assert p.returncode == 2 and "--method overlay" in p.stderr, p.stderr
    p = run_cli("convert", rasters["geo"], tmp_path / "o", "--aggregate", "--stat", "coverage")
    assert p.returncode == 2 and "overlay" in p.stderr, p.stderr


def test_threads_and_memory_do_not_change_the_bytes(run_cli, rasters, tmp_path):
    outs = []
    for i, args in enumerate([["--threads", "1"], ["--threads", "2", "--memory", "64M"],
                              ["--threads", "2"]]):
        out = tmp_path / f"o{i}"
        convert(run_cli, rasters["utm"], out, 9, "--stat", STATS, *args)
        outs.append(sorted((p.relative_to(out), p.read_bytes()) for p in out.glob("h0=*/*.parquet")))
    assert outs[0] == outs[1] == outs[2]


@pytest.mark.parametrize("key,res", [("elev.tif", 7), ("elev.tif", 8), ("L7_ETMs.tif", 9),
                                     ("egm96_15.gtx", 2)])
def test_real_rasters_equal_geos_reference(run_cli, testdata, tmp_path, key, res):
    """Rasters nobody here wrote: terra's elev.tif (geographic), stars' L7_ETMs.tif (UTM) and
    proj-data's egm96_15.gtx (global, its rows reaching past the poles)."""
    src = testdata[key]
    cells, h0, cols = convert(run_cli, src, tmp_path / "o", res, "--stat", STATS)
    ref, _ = overlay_reference(src, res)
    assert ref
    vn = next(k[:-4] for k in cols if k.endswith("_sum"))
    check_against(cells, h0, cols, ref, vn=vn)


def test_exactextract_fractions_are_float32(rasters):
    """Why exactextract 0.3.0 is compared within float32 rounding: each coverage fraction it
    returns is the exact fraction (GEOS) rounded to float32, so it cannot agree with an exact
    method to 1e-9 relative (sums over a cell differ by ~1e-8)."""
    import shapely
    from overlay_reference import Raster, _fractions_exactextract, cell_polygons, candidates
    r = Raster(rasters["geo"])
    cells = candidates(r, 7)[:40]
    polys = {c: cell_polygons(r, c)[0] for c in cells}
    polys = {c: p for c, p in polys.items() if p}
    ee = _fractions_exactextract(r, polys)
    n = exact32 = 0
    for c, (rr, cc, f) in ee.items():
        P = shapely.Polygon(polys[c][0])
        for row, col, fe in zip(rr, cc, f):
            exact = P.intersection(shapely.box(col, row, col + 1, row + 1)).area
            n += 1
            exact32 += np.float32(exact) == np.float32(fe) and float(np.float32(fe)) == fe
    assert n > 100
    assert exact32 >= 0.99 * n, (exact32, n)


def test_parents_and_string_cells(run_cli, rasters, tmp_path):
    """--parents and --cell-format string add columns (h3-py's parents, its hex strings) and
    change nothing else."""
    cells, _, cols = convert(run_cli, rasters["utm"], tmp_path / "a", 9, "--stat", STATS)
    out = tmp_path / "b"
    p = run_cli("convert", rasters["utm"], out, "--resolution", "9", "--method", "overlay",
                "--stat", STATS, "--parents", "0,4,8", "--cell-format", "string", "--quiet")
    assert p.returncode == 0, p.stderr
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table().to_pydict()
    assert [h3.str_to_int(c) for c in t["h9"]] == cells
    for i, c in enumerate(t["h9"]):
        assert t["h8"][i] == h3.cell_to_parent(c, 8) and t["h4"][i] == h3.cell_to_parent(c, 4)
        assert t["parent_h0"][i] == h3.cell_to_parent(c, 0)
    for k in cols:
        assert t[k] == cols[k], k
    p = run_cli("verify", out, "--input", rasters["utm"])
    assert p.returncode == 0, p.stdout + p.stderr
