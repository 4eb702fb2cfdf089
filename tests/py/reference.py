"""reference.py - the straightforward Python reference for `raster2h3 convert` (pixel mode).

Reads every pixel with GDAL, computes pixel centres from the geotransform, transforms them to
WGS84 with osr (traditional GIS axis order), applies NoData/NaN/mask validity, drops pixels
whose transform fails and (geographic rasters) pixels off the globe (`off_globe`: beyond +-90
latitude, longitudes repeated by rasters wider than 360 degrees), and indexes with h3-py.
The result is a canonical, sorted multiset of (h0, value, cell) rows.

Deliberately simple and slow: one h3.latlng_to_cell call per pixel, no cleverness to share bugs
with the C code.
"""
import math
from dataclasses import dataclass

import h3
import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

NUMPY_OF_GDAL = {
    gdal.GDT_Byte: np.dtype("uint8"),
    gdal.GDT_UInt16: np.dtype("uint16"),
    gdal.GDT_Int16: np.dtype("int16"),
    gdal.GDT_UInt32: np.dtype("uint32"),
    gdal.GDT_Int32: np.dtype("int32"),
    gdal.GDT_Float32: np.dtype("float32"),
    gdal.GDT_Float64: np.dtype("float64"),
}


@dataclass
class Rows:
    """A canonical multiset of rows: parallel arrays sorted by (h0, cell, value)."""
    h0: np.ndarray     # uint64
    value: np.ndarray  # band dtype
    cell: np.ndarray   # uint64

    def __len__(self):
        return int(self.cell.size)



def cell_column(res):
    """Name of the cell column at resolution res: h<res>, but cell_h0 at resolution 0 (a column
    named h0 would clash with the Hive partition key)."""
    return "cell_h0" if res == 0 else f"h{res}"

def canonical(h0, value, cell):
    """Sort parallel arrays into the canonical order; returns Rows."""
    h0 = np.asarray(h0, dtype=np.uint64)
    cell = np.asarray(cell, dtype=np.uint64)
    value = np.asarray(value)
    if not (h0.size == cell.size == value.size):
        raise ValueError("ragged rows")
    # Sort by value bits as the last key so equal floats of any sign/NaN order canonically.
    if value.dtype.kind == "f":
        vkey = value.view(np.dtype(f"u{value.dtype.itemsize}"))
    else:
        vkey = value
    order = np.lexsort((vkey, cell, h0))
    return Rows(h0[order], value[order], cell[order])


def value_dtype(path, band=1):
    ds = gdal.Open(str(path))
    return NUMPY_OF_GDAL[ds.GetRasterBand(band).DataType]


def expected_value_name(path, band=1, value_name=None):
    """--value-name, else the band description if non-empty, else 'value'."""
    if value_name:
        return value_name
    ds = gdal.Open(str(path))
    desc = ds.GetRasterBand(band).GetDescription()
    return desc if desc else "value"


def cast_nodata(nodata, dtype):
    """The NoData value as the band's type, or None if no pixel can equal it.

    Follows GDAL's own NoData mask: integer types compare only in-range integral values,
    Float32 compares against (float)nodata, Float64 against the double.
    """
    if nodata is None or math.isnan(nodata):
        return None
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        if nodata != math.floor(nodata) or not (info.min <= nodata <= info.max):
            return None
        return dtype.type(int(nodata))
    return dtype.type(nodata)


def is_wgs84_geographic(srs):
    """True if srs is geographic WGS84 (EPSG:4326-equivalent, axis order aside)."""
    if srs is None or not srs.IsGeographic():
        return False
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    return bool(srs.IsSame(wgs84, ["CRITERION=EQUIVALENT_EXCEPT_AXIS_ORDER_GEOGCRS"]))


def is_degrees_on_wgs84(srs):
    """True if srs is a geographic CRS on WGS84 in degrees: coordinates are used as they are,
    so the off-globe rule applies (any axis order, EPSG code or none)."""
    if srs is None or not srs.IsGeographic():
        return False
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    return bool(srs.IsSameGeogCS(wgs84)) and abs(srs.GetAngularUnits() - math.pi / 180) < 1e-12


def pixel_centres(gt, cols, rows):
    """Pixel-centre coordinates in the raster CRS, float64, in the contract's evaluation order."""
    c = np.arange(cols, dtype=np.float64)[None, :] + 0.5
    r = np.arange(rows, dtype=np.float64)[:, None] + 0.5
    # Python evaluates a + b*c + d*e as ((a + (b*c)) + (d*e)); numpy never fuses into FMA.
    x = gt[0] + c * gt[1] + r * gt[2]
    y = gt[3] + c * gt[4] + r * gt[5]
    return x, y


def to_wgs84(srs, x, y):
    """Transform flat arrays (x, y) from srs to EPSG:4326 (lng, lat) with osr."""
    if is_wgs84_geographic(srs):
        return x.copy(), y.copy()
    src = srs.Clone()
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    pts = ct.TransformPoints([(float(a), float(b)) for a, b in zip(x, y)])
    arr = np.array(pts, dtype=np.float64).reshape(-1, 3)
    return arr[:, 0].copy(), arr[:, 1].copy()


def off_globe(gt, cols, rows):
    """The pixels of a geographic raster that are not indexed, as two boolean (rows, cols)
    arrays: `pole`, centre latitude outside [-90, 90]; `repeat` (and not `pole`), centre 360
    degrees or more along its row from the outer edge of the row's first pixel, i.e. in a
    longitude the row has already covered (rasters wider than 360 degrees keep the first copy
    in column order)."""
    x, y = pixel_centres(gt, cols, rows)
    x = np.broadcast_to(x, (rows, cols))
    y = np.broadcast_to(y, (rows, cols))
    pole = ~((y >= -90.0) & (y <= 90.0))
    along = (x - x[:, :1]) if gt[1] >= 0 else (x[:, :1] - x)
    repeat = ~pole & (along >= 360.0 - abs(gt[1]) / 2)
    return pole, repeat


def normalise_lng(lng):
    """if lng > 180: lng -= 360; elif lng < -180: lng += 360 (once, elementwise)."""
    lng = lng.copy()
    lng[lng > 180.0] -= 360.0
    lng[lng < -180.0] += 360.0
    return lng


def read_band(ds, band):
    b = ds.GetRasterBand(band)
    dtype = NUMPY_OF_GDAL[b.DataType]
    raw = b.ReadRaster(0, 0, ds.RasterXSize, ds.RasterYSize)
    return b, np.frombuffer(raw, dtype=dtype).reshape(ds.RasterYSize, ds.RasterXSize)


def validity(b, data, nodata_override=None):
    """Boolean array: pixel is valid (not NoData, not NaN, not masked)."""
    valid = np.ones(data.shape, dtype=bool)
    nodata = nodata_override if nodata_override is not None else b.GetNoDataValue()
    nd = cast_nodata(nodata, data.dtype)
    if nd is not None:
        valid &= data != nd
    if data.dtype.kind == "f":
        valid &= ~np.isnan(data)
    flags = b.GetMaskFlags()
    if not flags & (gdal.GMF_ALL_VALID | gdal.GMF_NODATA):
        mb = b.GetMaskBand()
        raw = mb.ReadRaster(0, 0, data.shape[1], data.shape[0], buf_type=gdal.GDT_Byte)
        valid &= np.frombuffer(raw, dtype=np.uint8).reshape(data.shape) != 0
    return valid


def reference_rows(path, res, band=1, nodata=None, base_cell=None):
    """The expected output of `convert path --resolution res [--band band] [--nodata nodata]
    [--i base_cell]` as canonical Rows."""
    ds = gdal.Open(str(path))
    gt = ds.GetGeoTransform(can_return_null=True)
    if gt is None:
        raise ValueError("raster without geotransform")
    b, data = read_band(ds, band)
    valid = validity(b, data, nodata)
    x, y = pixel_centres(gt, ds.RasterXSize, ds.RasterYSize)
    x = np.broadcast_to(x, data.shape)[valid]
    y = np.broadcast_to(y, data.shape)[valid]
    values = data[valid]
    lng, lat = to_wgs84(ds.GetSpatialRef(), x, y)
    keep = np.isfinite(lng) & np.isfinite(lat)  # the transform failed: dropped
    if is_degrees_on_wgs84(ds.GetSpatialRef()):
        pole, repeat = off_globe(gt, ds.RasterXSize, ds.RasterYSize)
        keep &= ~(pole | repeat)[valid]
    lng, lat, values = lng[keep], lat[keep], values[keep]
    lng = normalise_lng(lng)
    cells = np.fromiter((int(h3.latlng_to_cell(float(a), float(o), res), 16)
                         for a, o in zip(lat, lng)), dtype=np.uint64, count=lat.size)
    h0 = parents0(cells)
    if base_cell is not None:
        keep = base_cells(cells) == base_cell
        h0, values, cells = h0[keep], values[keep], cells[keep]
    return canonical(h0, values, cells)


def parents0(cells):
    """cell_to_parent(cell, 0) for an array of uint64 cells (via h3-py, memoised by base cell)."""
    bc = base_cells(cells)
    table = {}
    out = np.empty(cells.size, dtype=np.uint64)
    for i, (c, n) in enumerate(zip(cells.tolist(), bc.tolist())):
        p = table.get(n)
        if p is None:
            p = table[n] = int(h3.cell_to_parent(h3.int_to_str(c), 0), 16)
        out[i] = p
    return out


def base_cells(cells):
    """Base cell numbers (bits 45..51 of an H3 index) of an array of uint64 cells."""
    return ((np.asarray(cells, dtype=np.uint64) >> np.uint64(45)) & np.uint64(0x7F)).astype(
        np.int64)


def res0_cell_of_base_cell(n):
    """The resolution-0 cell (int) whose base cell number is n, via h3-py."""
    for c in h3.get_res0_cells():
        if h3.get_base_cell_number(c) == n:
            return int(c, 16)
    raise ValueError(n)


def diff_rows(expected, got, limit=20):
    """Human-readable multiset difference of two Rows (empty string if equal)."""
    if (len(expected) == len(got) and np.array_equal(expected.h0, got.h0)
            and np.array_equal(expected.cell, got.cell)
            and np.array_equal(_bits(expected.value), _bits(got.value))):
        return ""
    from collections import Counter
    def tuples(r):
        return Counter(zip(r.h0.tolist(), _bits(r.value).tolist(), r.cell.tolist()))
    e, g = tuples(expected), tuples(got)
    missing = list((e - g).items())
    extra = list((g - e).items())
    lines = [f"expected {len(expected)} rows, got {len(got)}; "
             f"{sum(n for _, n in missing)} missing, {sum(n for _, n in extra)} unexpected"]
    for label, items in (("missing", missing), ("unexpected", extra)):
        for (h0, v, c), n in items[:limit]:
            lines.append(f"  {label} x{n}: h0={h0:015x} value_bits={v} cell={c:015x}")
    return "\n".join(lines)


def _bits(v):
    v = np.asarray(v)
    if v.dtype.kind == "f":
        return v.view(np.dtype(f"u{v.dtype.itemsize}"))
    return v
