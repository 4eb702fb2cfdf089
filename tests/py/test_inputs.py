"""test_inputs.py - input metadata honoured (issue 11 items 3, 12, 15): GRIB bitmap NoData,
scale/offset/unit (--unscale), NetCDF subdatasets and variable names, rasters without a CRS
(--srs), identifier column names, alpha bands outside `--bands all`, the CRS as WKT2 in the
footer, `info` without "-0".

Oracles: GDAL reads the pixels (the band's metadata asked for first, as GDAL's GRIB driver needs),
h3-py indexes the centres, pyarrow reads the files back. Real data comes from Debian packages
(python-grib-doc, ferret-datasets) via scripts/fetch_testdata.sh; those tests skip only when the
packages could not be fetched.
"""
import json
import re

import h3
import numpy as np
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from osgeo import gdal, osr

import rasters
import reference

gdal.UseExceptions()

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def need(testdata, name):
    if name not in testdata:
        pytest.skip(f"{name} unavailable (optional Debian package not fetched)")
    return testdata[name]


def band_item(path, band, key):
    """A band metadata item (the dataset is kept open while the band is used)."""
    ds = gdal.Open(str(path))
    return ds.GetRasterBand(band).GetMetadataItem(key)


def read_table(out):
    return pads.dataset(str(out), format="parquet", partitioning="hive").to_table()


def footer(out):
    files = sorted(out.glob("h0=*/data_0.parquet"))
    assert files, f"no partitions in {out}"
    md = pq.ParquetFile(files[0]).metadata.metadata
    return {k.decode(): v.decode() for k, v in md.items()}


def oracle(path, band, res, srs=None):
    """(cells, raw values) of the valid pixels of `band`, sorted by (cell, value).

    GDAL reports some bands' NoData only once their metadata was asked for (GRIB), so the oracle
    asks first. srs: the CRS to assume (for rasters without one)."""
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(band)
    b.GetMetadata()
    b, data = reference.read_band(ds, band)
    valid = reference.validity(b, data)
    x, y = reference.pixel_centres(ds.GetGeoTransform(), ds.RasterXSize, ds.RasterYSize)
    x = np.broadcast_to(x, data.shape)[valid]
    y = np.broadcast_to(y, data.shape)[valid]
    crs = rasters.srs_from(srs) if srs else ds.GetSpatialRef()
    lng, lat = reference.to_wgs84(crs, x, y)
    lng = reference.normalise_lng(lng)
    cells = np.fromiter((int(h3.latlng_to_cell(float(a), float(o), res), 16)
                         for a, o in zip(lat, lng)), dtype=np.uint64, count=lat.size)
    values = data[valid]
    order = np.lexsort((reference._bits(values), cells))
    return cells[order], values[order]


def got_rows(out, column, res):
    t = read_table(out)
    cells = t.column(f"h{res}").to_numpy().astype(np.uint64)
    values = t.column(column).to_numpy()
    order = np.lexsort((reference._bits(values), cells))
    return cells[order], values[order]


# ---------------------------------------------------------------------------------------------
# Item 3: GRIB2 bitmap NoData

def test_grib_bitmap_nodata_is_honoured(run_cli, testdata, out_dir):
    grib = need(testdata, "gfs.grib2")
    proc = run_cli("convert", grib, out_dir, "--band", 207, "--resolution", 2, "--quiet")
    assert proc.returncode == 0, proc.stderr
    name = footer(out_dir)["raster2h3:value_column"]
    cells, values = got_rows(out_dir, name, 2)
    assert not np.any(values == 9999.0), f"{int(np.sum(values == 9999.0))} rows of the fill value"
    ecells, evalues = oracle(grib, 207, 2)
    assert len(evalues) < 144 * 73, "the oracle should see the bitmap's NoData"
    assert np.array_equal(cells, ecells) and np.array_equal(evalues, values)
    assert footer(out_dir)["raster2h3:nodata"] == "9999"


def test_verify_catches_fill_value_rows(run_cli, testdata, tmp_path):
    """A dataset holding the GRIB band's fill values as rows (made from a GeoTIFF copy without
    NoData) must fail verify against the GRIB; the honest dataset passes."""
    grib = need(testdata, "gfs.grib2")
    copy = tmp_path / "band207.tif"
    gdal.Translate(str(copy), str(grib), bandList=[207], noData="none")
    bad, good = tmp_path / "bad", tmp_path / "good"
    for src, out in ((copy, bad), (grib, good)):
        band = 1 if src == copy else 207
        proc = run_cli("convert", src, out, "--band", band, "--resolution", 2, "--quiet")
        assert proc.returncode == 0, proc.stderr
    fill = int(np.sum(read_table(bad).column(0).to_numpy() == 9999.0))
    assert fill > 0, "the GeoTIFF copy should keep the fill values"
    proc = run_cli("verify", bad, "--input", grib, "--band", 207)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "valid pixels" in proc.stderr
    proc = run_cli("verify", good, "--input", grib, "--band", 207)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------
# Item 12: scale, offset and unit

def scaled_netcdf(tmp_path, nodata=-32768):
    """An OISST-like NetCDF: Int16 raw values, scale_factor 0.01, add_offset 273.15, unit K,
    NoData -32768 (present), EPSG:4326. Returns its path and the raw values."""
    rng = np.random.default_rng(11)
    data = rng.integers(-3000, 3000, size=(300, 800), dtype=np.int16)
    data[rng.random(data.shape) < 0.2] = nodata
    data[0, :5] = 0  # raw 0 is valid: NoData is tested on the raw value, not the scaled one
    tif = rasters.write_raster(tmp_path / "raw.tif", data,
                               rasters.north_up_gt(-20.0, 40.0, 0.05), 4326, nodata=nodata)
    ds = gdal.Open(tif, gdal.GA_Update)
    ds.GetRasterBand(1).SetMetadataItem("units", "K")  # the netCDF driver writes it as is
    ds = None
    nc = tmp_path / "sst.nc"
    gdal.Translate(str(nc), tif, options=["-of", "netCDF", "-a_scale", "0.01", "-a_offset",
                                          "273.15"])
    ds = gdal.Open(str(nc))
    b = ds.GetRasterBand(1)
    assert b.GetScale() == 0.01 and b.GetOffset() == 273.15, "GDAL should report the scale"
    return nc


def test_scale_offset_recorded_and_warned(run_cli, tmp_path, out_dir):
    nc = scaled_netcdf(tmp_path)
    proc = run_cli("convert", nc, out_dir, "--resolution", 4, "--quiet")
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("raster2h3: warning:")]
    assert len(warnings) == 1, proc.stderr
    assert "band 1" in warnings[0] and "scale 0.01" in warnings[0]
    assert "offset 273.15" in warnings[0] and "--unscale" in warnings[0]
    md = footer(out_dir)
    assert (md["raster2h3:scale"], md["raster2h3:offset"]) == ("0.01", "273.15")
    assert json.loads(md["raster2h3:unit"]) == ["K"]
    assert md["raster2h3:unscaled"] == "false"
    # The column is named after the NetCDF variable and holds the raw values.
    var = band_item(nc, 1, "NETCDF_VARNAME")
    cells, values = got_rows(out_dir, var, 4)
    ecells, evalues = oracle(nc, 1, 4)
    assert values.dtype == np.int16
    assert np.array_equal(cells, ecells) and np.array_equal(values, evalues)
    info = run_cli("info", out_dir)
    assert info.returncode == 0
    assert re.search(r"^scale:\s+0\.01\s+offset 273\.1[0-9]*\s+unit \[\"K\"\]", info.stdout, re.M)
    j = json.loads(run_cli("info", out_dir, "--json").stdout)
    assert j["scale"] == "0.01" and j["unit"] == ["K"] and j["unscaled"] is False


def test_unscale_writes_physical_values(run_cli, tmp_path, out_dir):
    nc = scaled_netcdf(tmp_path)
    raw_out = tmp_path / "raw"
    assert run_cli("convert", nc, raw_out, "--resolution", 4, "--quiet").returncode == 0
    # Several read chunks on two threads: every worker's raster handle unscales.
    proc = run_cli("convert", nc, out_dir, "--resolution", 4, "--quiet", "--unscale",
                   "--threads", 2, "--memory", "16M")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    var = band_item(nc, 1, "NETCDF_VARNAME")
    cells, values = got_rows(out_dir, var, 4)
    ecells, raw = oracle(nc, 1, 4)
    expect = raw.astype(np.float64) * 0.01 + 273.15
    order = np.lexsort((expect, ecells))
    assert values.dtype == np.float64
    assert np.array_equal(cells, ecells[order]) and np.array_equal(values, expect[order])
    assert np.any(raw == 0), "raw 0 stays valid"
    md = footer(out_dir)
    assert md["raster2h3:unscaled"] == "true" and md["raster2h3:dtype"] == "float64"
    assert md["raster2h3:fingerprint"] != footer(raw_out)["raster2h3:fingerprint"]
    proc = run_cli("verify", out_dir, "--input", nc)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unscale_with_aggregate(run_cli, tmp_path, out_dir):
    nc = scaled_netcdf(tmp_path)
    proc = run_cli("convert", nc, out_dir, "--resolution", 3, "--quiet", "--unscale",
                   "--aggregate", "--stat", "count,mean,min,max")
    assert proc.returncode == 0, proc.stderr
    var = band_item(nc, 1, "NETCDF_VARNAME")
    t = read_table(out_dir).to_pandas().set_index("h3")
    cells, raw = oracle(nc, 1, 3)
    phys = raw.astype(np.float64) * 0.01 + 273.15
    assert int(t["count"].sum()) == len(phys)
    for c in np.unique(cells)[:50]:
        v = phys[cells == c]
        row = t.loc[int(c)]
        assert row["count"] == len(v)
        assert row[f"{var}_min"] == v.min() and row[f"{var}_max"] == v.max()
        assert row[f"{var}_mean"] == pytest.approx(v.mean(), rel=1e-12)
    # Densities of unscaled (float64) values: the pixel areas travel in the rows.
    proc = run_cli("convert", nc, tmp_path / "dens", "--resolution", 3, "--quiet", "--unscale",
                   "--aggregate", "--density-unit", "per-ha", "--stat",
                   "count,area,total,mean,min,max")
    assert proc.returncode == 0, proc.stderr
    d = read_table(tmp_path / "dens").to_pandas().set_index("h3")
    assert int(d["count"].sum()) == len(phys)
    for c in np.unique(cells)[:50]:
        v, row = phys[cells == c], d.loc[int(c)]
        assert row[f"{var}_min"] == v.min() and row[f"{var}_max"] == v.max()
        assert v.min() <= row[f"{var}_mean"] <= v.max()
        assert row[f"{var}_total"] == pytest.approx(row[f"{var}_mean"] * row["area"] / 1e4,
                                                    rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Item 15: subdatasets, CRS, names, alpha, info

def test_subdatasets_are_listed(run_cli, testdata, out_dir):
    nc = need(testdata, "coads_climatology.cdf")
    proc = run_cli("convert", nc, out_dir, "--quiet")
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    subs = [v for k, v in gdal.Open(str(nc)).GetMetadata("SUBDATASETS").items()
            if k.endswith("_NAME")]
    assert subs and f"has no bands but {len(subs)} subdatasets" in lines[0]
    for s in subs:
        assert s in lines[0]
    assert not out_dir.exists() or not list(out_dir.glob("h0=*"))
    # One of them converts.
    proc = run_cli("convert", subs[0], out_dir, "--resolution", 1, "--quiet", "--band", 1,
                   "--srs", "EPSG:4326")
    assert proc.returncode == 0, proc.stderr


def test_no_crs_names_srs_and_srs_assigns_it(run_cli, testdata, tmp_path, out_dir):
    cdf = need(testdata, "etopo60.cdf")
    assert gdal.Open(str(cdf)).GetSpatialRef() is None
    proc = run_cli("convert", cdf, out_dir, "--quiet")
    assert proc.returncode == 3
    assert "no CRS" in proc.stderr and "--srs EPSG:4326" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    proc = run_cli("convert", cdf, tmp_path / "auto", "--quiet", "--srs", "EPSG:4326",
                   "--resolution", "auto", "--dry-run")
    assert proc.returncode == 0 and re.search(r"auto picked \d+ ", proc.stderr), proc.stderr
    proc = run_cli("convert", cdf, out_dir, "--quiet", "--srs", "EPSG:4326", "--resolution", 2)
    assert proc.returncode == 0, proc.stderr
    var = band_item(cdf, 1, "NETCDF_VARNAME")
    cells, values = got_rows(out_dir, var, 2)
    ecells, evalues = oracle(cdf, 1, 2, srs=4326)
    assert np.array_equal(cells, ecells) and np.array_equal(values, evalues)
    md = footer(out_dir)
    assert md["raster2h3:srs"] == "EPSG:4326" and md["raster2h3:crs"] == "WGS 84"
    wkt = osr.SpatialReference()
    assert wkt.SetFromUserInput(md["raster2h3:crs_wkt"]) == 0
    assert md["raster2h3:crs_wkt"].startswith("GEOGCRS[") and "\n" not in md["raster2h3:crs_wkt"]
    assert wkt.IsSame(rasters.srs_from(4326))
    # Another CRS is another dataset.
    other = tmp_path / "other"
    assert run_cli("convert", cdf, other, "--quiet", "--srs", "+proj=longlat +datum=WGS84",
                   "--resolution", 2).returncode == 0
    assert footer(other)["raster2h3:fingerprint"] != md["raster2h3:fingerprint"]
    # verify --input assigns the CRS the dataset records (or --srs).
    proc = run_cli("verify", out_dir, "--input", cdf)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_cli("verify", out_dir, "--input", cdf, "--srs", "EPSG:4326").returncode == 0
    assert run_cli("verify", out_dir, "--input", cdf, "--srs", "EPSG:999999").returncode == 2
    bad = run_cli("convert", cdf, tmp_path / "bad", "--quiet", "--srs", "EPSG:999999")
    assert bad.returncode == 2 and "--srs 'EPSG:999999'" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1


def test_crs_wkt_in_footer(run_cli, raster_dir, out_dir):
    data = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    r = rasters.write_raster(raster_dir / "utm.tif", data,
                             rasters.north_up_gt(500000.0, 5000000.0, 100.0), 32633)
    assert run_cli("convert", r, out_dir, "--quiet", "--resolution", 9).returncode == 0
    md = footer(out_dir)
    assert md["raster2h3:crs"] == "WGS 84 / UTM zone 33N"
    srs = osr.SpatialReference()
    assert srs.SetFromUserInput(md["raster2h3:crs_wkt"]) == 0
    assert srs.IsSame(rasters.srs_from(32633))
    assert "raster2h3:scale" not in md and "raster2h3:srs" not in md


def test_grib_column_name_is_an_identifier(run_cli, testdata, out_dir):
    grib = need(testdata, "gfs.grib2")
    proc = run_cli("convert", grib, out_dir, "--band", 207, "--resolution", 1, "--quiet")
    assert proc.returncode == 0, proc.stderr
    name = footer(out_dir)["raster2h3:value_column"]
    assert IDENT.match(name), name
    assert name.startswith(band_item(grib, 207, "GRIB_ELEMENT") + "_")
    assert name in read_table(out_dir).column_names


def test_descriptions_become_identifiers(run_cli, raster_dir, out_dir):
    data = np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)
    r = rasters.write_raster(raster_dir / "d.tif", data, rasters.north_up_gt(10.0, 50.0, 0.01),
                             4326, extra_bands=(data[::-1].copy(), data.T.copy()))
    ds = gdal.Open(r, gdal.GA_Update)
    descs = ['0[-] SFC="Ground or water surface"', "Red band", "nir"]
    for i, d in enumerate(descs, start=1):
        ds.GetRasterBand(i).SetDescription(d)
    ds = None
    proc = run_cli("convert", r, out_dir, "--bands", "1,2,3", "--resolution", 7, "--quiet")
    assert proc.returncode == 0, proc.stderr
    cols = read_table(out_dir).column_names
    assert cols[:3] == ["_0_SFC_Ground_or_water_surface", "Red_band", "nir"]
    assert all(IDENT.match(c) for c in cols[:3])


def test_bands_all_leaves_out_alpha(run_cli, raster_dir, out_dir):
    rng = np.random.default_rng(5)
    data = rng.integers(0, 255, size=(400, 400), dtype=np.uint8)
    alpha = rng.choice(np.array([0, 255], dtype=np.uint8), size=data.shape)
    r = rasters.write_raster(raster_dir / "a.tif", data, rasters.north_up_gt(5.0, 45.0, 0.001),
                             4326, alpha=alpha, extra_bands=(data[::-1].copy(),))
    ds = gdal.Open(r)
    assert ds.GetRasterBand(3).GetColorInterpretation() == gdal.GCI_AlphaBand
    ds = None
    proc = run_cli("convert", r, out_dir, "--bands", "all", "--resolution", 8, "--quiet",
                   "--threads", 2, "--memory", "16M")
    assert proc.returncode == 0, proc.stderr
    t = read_table(out_dir)
    assert [c for c in t.column_names if c.startswith("band_")] == ["band_1", "band_2"]
    assert footer(out_dir)["raster2h3:band"] == "1,2"
    assert t.num_rows == int((alpha != 0).sum()), "the alpha band still masks"


def test_info_prints_zero_not_negative_zero(run_cli, raster_dir, out_dir):
    data = np.full((16, 16), 3.5, dtype=np.float32)
    data[4, 4] = -0.0
    r = rasters.write_raster(raster_dir / "z.tif", data, rasters.north_up_gt(0.0, 10.0, 0.1),
                             4326)
    assert run_cli("convert", r, out_dir, "--quiet", "--resolution", 5).returncode == 0
    info = run_cli("info", out_dir)
    assert info.returncode == 0
    line = next(ln for ln in info.stdout.splitlines() if ln.strip().startswith("value"))
    assert re.search(r"\bmin 0 max 3\.5\b", line), line
    assert "-0" not in line
    j = json.loads(run_cli("info", out_dir, "--json").stdout)
    col = next(c for c in j["columns"] if c["name"] == "value")
    assert col["min"] == 0 and not str(col["min"]).startswith("-")
