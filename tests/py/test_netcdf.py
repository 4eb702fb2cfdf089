"""test_netcdf.py - NetCDF variables and time steps (issue 15): `--variable NAME` opens a
container's variable, the column takes the variable's name, `--bands` columns of a variable with
a time (or depth) dimension are named <var>_<time> / <var>_<dim><value>, the container error
lists the variables.

Data: Debian-packaged NetCDF files fetched by scripts/fetch_testdata.sh: r-cran-stars'
bcsd_obs_1999.nc (pr, tas: 12 monthly steps of 1999, "days since 1950-01-01", standard
calendar), ferret-datasets' coads_climatology.cdf (SST, AIRT, ...: a climatology of 12 months of
year 0, "hour since 0000-01-01") and ocean_atlas_subset.nc (TEMP over time and depth). Tests
skip only when the package could not be fetched. Small NetCDF files written with GDAL's
multidimensional API add the calendars and spacings the packages lack (360_day, noleap,
6-hourly, yearly, a depth axis), with Byte steps so that --bands all fits one run.

Oracles: GDAL reads the subdataset's pixels, h3-py 4.5.0 indexes their centres (0 differences);
the expected column names are computed here from the file's time values with Python's datetime,
not with the C decoder (whose calendars, 360_day and noleap included, have unit tests in
tests/unit/test_raster.c).
"""
import datetime
import re

import h3
import numpy as np
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from osgeo import gdal

import rasters
import reference

gdal.UseExceptions()

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def need(testdata, name):
    if name not in testdata:
        pytest.skip(f"{name} unavailable (its Debian package could not be fetched)")
    return testdata[name]


def subdataset(path, var):
    return f'NETCDF:"{path}":{var}'


def columns(out):
    files = sorted(out.glob("h0=*/data_0.parquet"))
    assert files, f"no partitions in {out}"
    return pq.ParquetFile(files[0]).schema_arrow.names


def time_values(path, var):
    """The variable's time axis: its values and units, read by GDAL (NETCDF_DIM_<dim>_VALUES)."""
    md = gdal.Open(subdataset(path, var)).GetMetadata()
    dim = md["NETCDF_DIM_EXTRA"].strip("{}").split(",")[0]
    values = [float(v) for v in md[f"NETCDF_DIM_{dim}_VALUES"].strip("{}").split(",")]
    return values, md[f"{dim}#units"], md.get(f"{dim}#calendar")


def monthly_names(var, dates):
    names = [f"{var}_{d.year:04d}_{d.month:02d}" for d in dates]
    assert len(set(names)) == len(names) and len({(d.year, d.month, d.day) for d in dates}) == \
        len(dates), "a monthly axis: one step per month"
    return names


def oracle(path, bands, res):
    """(cells, values[n, len(bands)]) of the pixels valid in every band, EPSG:4326 assumed,
    sorted by cell then values."""
    ds = gdal.Open(str(path))
    data, valid = [], np.ones((ds.RasterYSize, ds.RasterXSize), dtype=bool)
    for band in bands:
        b = ds.GetRasterBand(band)
        b.GetMetadata()
        b, d = reference.read_band(ds, band)
        valid &= reference.validity(b, d)
        data.append(d)
    gt = ds.GetGeoTransform()
    pole, repeat = reference.off_globe(gt, ds.RasterXSize, ds.RasterYSize)
    valid &= ~(pole | repeat)
    x, y = reference.pixel_centres(gt, ds.RasterXSize, ds.RasterYSize)
    lng = reference.normalise_lng(np.broadcast_to(x, valid.shape)[valid])
    lat = np.broadcast_to(y, valid.shape)[valid]
    cells = np.fromiter((int(h3.latlng_to_cell(float(a), float(o), res), 16)
                         for a, o in zip(lat, lng)), dtype=np.uint64, count=lat.size)
    values = np.stack([d[valid] for d in data], axis=1)
    return sort_rows(cells, values)


def sort_rows(cells, values):
    keys = [reference._bits(values[:, i]) for i in reversed(range(values.shape[1]))]
    order = np.lexsort((*keys, cells))
    return cells[order], values[order]


def got_rows(out, names, res):
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table()
    cells = t.column(f"h{res}").to_numpy().astype(np.uint64)
    values = np.stack([t.column(n).to_numpy() for n in names], axis=1)
    return sort_rows(cells, values)


def assert_same_rows(got, expected):
    (gc, gv), (ec, ev) = got, expected
    assert len(gc) == len(ec) > 0, f"{len(gc)} rows, the oracle has {len(ec)}"
    assert np.array_equal(gc, ec), f"{int(np.sum(gc != ec))} cells differ"
    assert np.array_equal(reference._bits(gv), reference._bits(ev)), \
        f"{int(np.sum(np.any(gv != ev, axis=1)))} rows' values differ"


def convert(run_cli, src, out, *args):
    proc = run_cli("convert", src, out, "--srs", "EPSG:4326", "--quiet", *args)
    assert proc.returncode == 0, proc.stderr
    return proc


# ---------------------------------------------------------------------------------------------
# --variable: the variable converts, its name is the column

@pytest.mark.parametrize("name,var,res", [("coads_climatology.cdf", "SST", 2),
                                          ("bcsd_obs_1999.nc", "pr", 5)])
def test_variable_converts_with_its_name(run_cli, testdata, out_dir, name, var, res):
    path = need(testdata, name)
    convert(run_cli, path, out_dir, "--variable", var, "--resolution", res)
    assert columns(out_dir) == [var, f"h{res}"]
    assert_same_rows(got_rows(out_dir, [var], res), oracle(subdataset(path, var), [1], res))
    # The footer and manifest record the subdataset as the source; verify finds it again.
    md = pq.ParquetFile(sorted(out_dir.glob("h0=*/data_0.parquet"))[0]).metadata.metadata
    assert md[b"raster2h3:value_column"].decode() == var
    proc = run_cli("verify", out_dir, "--input", path, "--variable", var)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The same as giving the subdataset's name: a rerun with it has nothing to do.
    proc = run_cli("convert", subdataset(path, var), out_dir, "--srs", "EPSG:4326",
                   "--resolution", res)
    assert proc.returncode == 0 and "nothing to do" in proc.stderr.lower(), proc.stderr


def test_variable_with_resolution_auto(run_cli, testdata, out_dir):
    path = need(testdata, "bcsd_obs_1999.nc")
    proc = run_cli("convert", path, out_dir, "--variable", "tas", "--srs", "EPSG:4326",
                   "--resolution", "auto", "--dry-run")
    assert proc.returncode == 0 and re.search(r"auto picked \d+ ", proc.stderr), proc.stderr


# ---------------------------------------------------------------------------------------------
# Time steps as columns

def test_time_steps_are_named_by_date(run_cli, testdata, tmp_path):
    """Every monthly step of bcsd's tas, two float32 bands per run (a row key holds 64 bits):
    columns tas_1999_01 .. tas_1999_12 as Python's datetime reads the axis, values equal to GDAL's
    for each band."""
    path = need(testdata, "bcsd_obs_1999.nc")
    values, units, calendar = time_values(path, "tas")
    assert units.startswith("days since 1950-01-01") and calendar in (None, "standard")
    epoch = datetime.datetime(1950, 1, 1)
    expected = monthly_names("tas", [epoch + datetime.timedelta(days=v) for v in values])
    assert len(expected) == 12
    got = []
    for first in range(1, len(values) + 1, 2):
        bands = [first, first + 1]
        out = tmp_path / f"steps{first}"
        convert(run_cli, path, out, "--variable", "tas", "--bands", "%d,%d" % tuple(bands),
                "--resolution", 5)
        names = columns(out)[:2]
        assert names == [expected[b - 1] for b in bands]
        assert_same_rows(got_rows(out, names, 5), oracle(subdataset(path, "tas"), bands, 5))
        got += names
    assert got == expected
    # Explicit names still win.
    out = tmp_path / "named"
    convert(run_cli, path, out, "--variable", "tas", "--bands", "1,2", "--value-name",
            "jan,feb", "--resolution", 3)
    assert columns(out) == ["jan", "feb", "h3"]


def test_climatology_of_year_zero(run_cli, testdata, tmp_path):
    """coads_climatology: "hour since 0000-01-01", mid-month steps of a climatology. Year 0 is a
    leap year (the Julian calendar of the standard calendar before 1582), as 2000 is, so
    datetime reads the months in 2000 and the names keep year 0000: SST_0000_01 .. SST_0000_12."""
    path = need(testdata, "coads_climatology.cdf")
    values, units, calendar = time_values(path, "SST")
    assert units.startswith("hour since 0000-01-01") and calendar is None
    dates = [datetime.datetime(2000, 1, 1) + datetime.timedelta(hours=v) for v in values]
    expected = [n.replace("SST_2000_", "SST_0000_") for n in monthly_names("SST", dates)]
    got = []
    for first in (1, 3, 5, 7, 9, 11):
        bands = [first, first + 1]
        out = tmp_path / f"sst{first}"
        convert(run_cli, path, out, "--variable", "SST", "--bands", "%d,%d" % tuple(bands),
                "--resolution", 1)
        names = columns(out)[:2]
        if first == 1:
            assert_same_rows(got_rows(out, names, 1), oracle(subdataset(path, "SST"), bands, 1))
        got += names
    assert got == expected
    assert all(IDENT.match(n) for n in got)


def test_time_and_depth(run_cli, testdata, tmp_path):
    """ocean_atlas_subset's TEMP has bands over time (12 months) and depth (19 levels): names
    <var>_<month>_<dim>_<depth> (the dimension's name ends in a digit, so '_' before the value)."""
    path = need(testdata, "ocean_atlas_subset.nc")
    ds = gdal.Open(str(path))
    md = ds.GetMetadata()
    assert md["NETCDF_DIM_EXTRA"] == "{TIME,ZAXLEVIT19}"
    depths = [float(v) for v in md["NETCDF_DIM_ZAXLEVIT19_VALUES"].strip("{}").split(",")]
    hours = float(ds.GetRasterBand(21).GetMetadataItem("NETCDF_DIM_TIME"))
    month = (datetime.datetime(2000, 1, 1) + datetime.timedelta(hours=hours)).month
    bands = [20, 21]
    out = tmp_path / "temp"
    convert(run_cli, path, out, "--bands", "20,21", "--resolution", 1)
    expected = []
    for b in bands:
        depth = float(ds.GetRasterBand(b).GetMetadataItem("NETCDF_DIM_ZAXLEVIT19"))
        assert depth in depths
        expected.append(f"TEMP_0000_{month:02d}_ZAXLEVIT19_{depth:g}")
    assert columns(out)[:2] == expected
    assert_same_rows(got_rows(out, expected, 1), oracle(path, bands, 1))


def test_all_bands_of_a_long_axis_need_fewer_at_once(run_cli, testdata, out_dir):
    """12 float32 steps do not fit the 64-bit row key: a usage error naming the bits."""
    path = need(testdata, "bcsd_obs_1999.nc")
    proc = run_cli("convert", path, out_dir, "--variable", "tas", "--bands", "all", "--quiet",
                   "--srs", "EPSG:4326")
    assert proc.returncode == 2 and "64 bits" in proc.stderr, proc.stderr


def write_nc(path, dim, values, units, calendar=None):
    """A NetCDF (GDAL's multidimensional API) with Byte variables sst and ice over (dim, lat, lon)
    on a 1-degree grid; dim has the given values, units and calendar."""
    rg_ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(str(path))
    rg = rg_ds.GetRootGroup()
    f64, text = gdal.ExtendedDataType.Create(gdal.GDT_Float64), gdal.ExtendedDataType.CreateString()

    def coord(name, kind, direction, vals, attrs):
        d = rg.CreateDimension(name, kind, direction, len(vals))
        a = rg.CreateMDArray(name, [d], f64)
        a.Write(np.asarray(vals, dtype=np.float64).tobytes())
        for k, v in attrs.items():
            if v is not None:
                a.CreateAttribute(k, [], text).Write(v)
        return d

    dt = coord(dim, "TEMPORAL" if "since" in units else "VERTICAL", None, values,
               {"units": units, "calendar": calendar})
    dy = coord("lat", "HORIZONTAL_Y", "NORTH", [41.5, 40.5, 39.5, 38.5], {"units": "degrees_north"})
    dx = coord("lon", "HORIZONTAL_X", "EAST", [10.5, 11.5, 12.5, 13.5, 14.5],
               {"units": "degrees_east"})
    n = len(values) * 4 * 5
    for k, name in enumerate(("sst", "ice")):
        v = rg.CreateMDArray(name, [dt, dy, dx], gdal.ExtendedDataType.Create(gdal.GDT_Byte))
        v.Write(((np.arange(n) * 7 + k) % 251).astype(np.uint8).tobytes())
    rg_ds = None
    return path


def days(d, since):
    return (d - since).total_seconds() / 86400


_2000 = datetime.datetime(2000, 1, 1)
_hours = [datetime.datetime(2010, 1, 15, h) for h in (0, 6, 12, 18)]
_years = [datetime.datetime(y, 7, 1) for y in (2000, 2001, 2002, 2003)]
AXES = {
    # name: (dim, values, units, calendar, expected step names)
    "360_day": ("time", [15, 45, 75, 105], "days since 2000-01-01", "360_day",
                ["2000_01", "2000_02", "2000_03", "2000_04"]),
    "noleap": ("time", [0, 1, 2, 3], "days since 2004-02-27", "noleap",
               ["2004_02_27", "2004_02_28", "2004_03_01", "2004_03_02"]),
    "6-hourly": ("time", [(d - _hours[0]).total_seconds() / 3600 for d in _hours],
                 "hours since 2010-01-15 00:00:00", "standard",
                 [d.strftime("%Y_%m_%dT%H") for d in _hours]),
    "yearly": ("time", [days(d, _2000) for d in _years], "days since 2000-01-01 00:00:00", None,
               [d.strftime("%Y") for d in _years]),
    "depth": ("depth", [0, 10, 2.5, -5], "m", None, ["depth0", "depth10", "depth2p5", "depthm5"]),
}


@pytest.mark.parametrize("axis", sorted(AXES))
def test_all_steps_in_one_run(run_cli, tmp_path, axis):
    """--bands all over a Byte variable's 4 steps (32 bits: one run): names by calendar and
    spacing (360_day months, noleap days without 29 February, hours, years, a depth axis),
    values and cells equal to GDAL's and h3-py's."""
    dim, values, units, calendar, steps = AXES[axis]
    path = write_nc(tmp_path / f"{axis}.nc", dim, values, units, calendar)
    out = tmp_path / "out"
    convert(run_cli, path, out, "--variable", "sst", "--bands", "all", "--resolution", 4)
    expected = [f"sst_{s}" for s in steps]
    assert columns(out) == expected + ["h4"]
    assert_same_rows(got_rows(out, expected, 4), oracle(subdataset(path, "sst"), [1, 2, 3, 4], 4))
    # One band alone is named after the variable.
    single = tmp_path / "single"
    convert(run_cli, path, single, "--variable", "ice", "--band", 3, "--resolution", 4)
    assert columns(single) == ["ice", "h4"]


# ---------------------------------------------------------------------------------------------
# Errors

def test_container_error_lists_variables(run_cli, testdata, out_dir):
    path = need(testdata, "coads_climatology.cdf")
    proc = run_cli("convert", path, out_dir, "--quiet")
    assert proc.returncode == 3
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    variables = ["SST", "AIRT", "SPEH", "WSPD", "UWND", "VWND", "SLP"]
    assert f"(variables {', '.join(variables)})" in lines[0]
    assert "--variable NAME (e.g. --variable SST)" in lines[0]


def test_unknown_variable_lists_them(run_cli, testdata, out_dir):
    path = need(testdata, "coads_climatology.cdf")
    proc = run_cli("convert", path, out_dir, "--variable", "sst", "--quiet")
    assert proc.returncode == 3
    assert proc.stderr.strip().endswith(
        "has no variable 'sst'; its variables: SST, AIRT, SPEH, WSPD, UWND, VWND, SLP")
    assert len(proc.stderr.splitlines()) == 1
    assert not out_dir.exists() or not list(out_dir.glob("h0=*"))
    proc = run_cli("verify", out_dir, "--input", path, "--variable", "nope")
    assert proc.returncode == 3 and "its variables: SST" in proc.stderr, proc.stderr
    assert run_cli("verify", out_dir, "--variable", "SST").returncode == 2


def test_variable_on_a_plain_raster(run_cli, testdata, out_dir):
    proc = run_cli("convert", testdata["elev.tif"], out_dir, "--variable", "x", "--quiet")
    assert proc.returncode == 3
    assert "no variables to choose from" in proc.stderr and "--variable is for" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    # A NetCDF of one variable: that variable is the file itself, another is an error.
    cdf = need(testdata, "etopo60.cdf")
    proc = run_cli("convert", cdf, out_dir, "--variable", "ROSE", "--srs", "EPSG:4326",
                   "--resolution", 1, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert columns(out_dir) == ["ROSE", "h1"]
    proc = run_cli("convert", cdf, out_dir, "--variable", "SST", "--quiet")
    assert proc.returncode == 3 and "it holds only 'ROSE'" in proc.stderr, proc.stderr


def test_variable_in_groups(run_cli, tmp_path):
    """NetCDF-4 groups: --variable takes group/name or a name whose group is unique; a name in
    several groups is ambiguous (exit 3, the candidates listed); a whole name at the root wins."""
    path = tmp_path / "groups.nc"
    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(str(path))
    rg = ds.GetRootGroup()
    dy = rg.CreateDimension("lat", "HORIZONTAL_Y", "NORTH", 4)
    dx = rg.CreateDimension("lon", "HORIZONTAL_X", "EAST", 5)
    f32 = gdal.ExtendedDataType.Create(gdal.GDT_Float32)
    for group, names in ((rg, ["t"]), (rg.CreateGroup("ocean"), ["t", "salt"]),
                         (rg.CreateGroup("atmos"), ["t", "rh"])):
        for name in names:
            group.CreateMDArray(name, [dy, dx], f32).Write(np.zeros(20, np.float32).tobytes())
    ds = None

    def chosen(var):
        proc = run_cli("convert", path, tmp_path / "o", "--variable", var, "--quiet",
                       "--dry-run", "--srs", "EPSG:4326")
        return proc.returncode, proc.stdout + proc.stderr

    # GDAL may open the file with its netCDF or its HDF5 driver: NETCDF:"f":/ocean/salt or
    # HDF5:"f"://ocean/salt.
    for var, sub in (("salt", "ocean/salt"), ("ocean/salt", "ocean/salt"),
                     ("/atmos/rh", "atmos/rh"), ("atmos/t", "atmos/t"), ("t", "t")):
        rc, text = chosen(var)
        assert re.search(rf'"{re.escape(str(path))}":/*{re.escape(sub)}\b', text), (var, text)
    rc, text = chosen("q")
    assert rc == 3 and "has no variable 'q'; its variables: " in text, text
    listed = text.strip().split("its variables: ")[1].split(", ")
    assert sorted(listed) == sorted(["t", "ocean/t", "ocean/salt", "atmos/t", "atmos/rh"])
    # Without the root t, plain "t" would be ambiguous between the groups.
    path2 = tmp_path / "groups2.nc"
    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(str(path2))
    rg = ds.GetRootGroup()
    dy = rg.CreateDimension("lat", "HORIZONTAL_Y", "NORTH", 4)
    dx = rg.CreateDimension("lon", "HORIZONTAL_X", "EAST", 5)
    for g in ("ocean", "atmos"):
        rg.CreateGroup(g).CreateMDArray("t", [dy, dx], f32).Write(np.zeros(20, np.float32).tobytes())
    ds = None
    proc = run_cli("convert", path2, tmp_path / "o2", "--variable", "t", "--quiet")
    assert proc.returncode == 3 and "--variable t is ambiguous: " in proc.stderr, proc.stderr
    assert "ocean/t" in proc.stderr and "atmos/t" in proc.stderr


def test_variable_from_s3(run_cli, testdata, tmp_path):
    """--variable on an s3:// container: the subdataset of the /vsis3/ name."""
    pytest.importorskip("moto")
    from s3_fixture import S3Server
    path = need(testdata, "bcsd_obs_1999.nc")
    server = S3Server(tmp_path)
    try:
        server.client.create_bucket(Bucket="bkt")
        server.client.put_object(Bucket="bkt", Key="in/bcsd.nc", Body=path.read_bytes())
        out = tmp_path / "o"
        proc = run_cli("convert", "s3://bkt/in/bcsd.nc", out, "--variable", "pr", "--srs",
                       "EPSG:4326", "--resolution", 4, "--quiet", env=server.env())
        assert proc.returncode == 0, proc.stderr
        assert columns(out) == ["pr", "h4"]
        assert_same_rows(got_rows(out, ["pr"], 4), oracle(subdataset(path, "pr"), [1], 4))
    finally:
        server.close()
