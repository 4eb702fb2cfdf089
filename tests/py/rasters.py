"""rasters.py - generators of small test rasters (GeoTIFF via osgeo.gdal) for the oracle tests.

Only band.WriteRaster() with bytes is used: python3-gdal's gdal_array is built against NumPy 1
and is broken with NumPy 2.
"""
import math
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

# numpy dtype name -> GDAL type, and back.
GDAL_TYPES = {
    "uint8": gdal.GDT_Byte,
    "uint16": gdal.GDT_UInt16,
    "int16": gdal.GDT_Int16,
    "uint32": gdal.GDT_UInt32,
    "int32": gdal.GDT_Int32,
    "float32": gdal.GDT_Float32,
    "float64": gdal.GDT_Float64,
}
NUMPY_TYPES = {v: np.dtype(k) for k, v in GDAL_TYPES.items()}


def srs_from(crs):
    """An osr.SpatialReference from an EPSG code (int) or WKT/PROJ string; None stays None."""
    if crs is None:
        return None
    srs = osr.SpatialReference()
    if isinstance(crs, int):
        srs.ImportFromEPSG(crs)
    else:
        srs.SetFromUserInput(crs)
    return srs


def write_raster(path, data, gt=None, crs=4326, nodata=None, description=None, mask=None,
                 alpha=None, extra_bands=(), creation_options=("TILED=YES", "BLOCKXSIZE=64",
                                                               "BLOCKYSIZE=64")):
    """Write a GeoTIFF.

    data: 2-D numpy array (rows, cols) of one of the GDAL_TYPES dtypes, written to band 1.
    gt: 6-tuple geotransform, or None for a raster without one.
    crs: EPSG code, WKT/user string, or None.
    nodata: band 1 NoData value (float, may be nan) or None.
    mask: optional 2-D uint8 array written as an internal per-dataset mask (0 = invalid).
    alpha: optional 2-D uint8 array written as a last band with ColorInterp=Alpha.
    extra_bands: further 2-D arrays (same dtype) written as bands 2.. (before alpha).
    Returns the path as str.
    """
    path = str(path)
    data = np.ascontiguousarray(data)
    rows, cols = data.shape
    gtype = GDAL_TYPES[data.dtype.name]
    nbands = 1 + len(extra_bands) + (1 if alpha is not None else 0)
    opts = list(creation_options)
    if cols < 64 or rows < 64:
        opts = []  # tiny rasters: plain strips
    if alpha is not None:
        opts.append("ALPHA=YES")
        if data.dtype != np.uint8:
            raise ValueError("alpha test rasters must be Byte")
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, cols, rows, nbands, gtype, opts)
    if gt is not None:
        ds.SetGeoTransform([float(v) for v in gt])
    srs = srs_from(crs)
    if srs is not None:
        ds.SetSpatialRef(srs)
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(float(nodata))
    if description:
        band.SetDescription(description)
    band.WriteRaster(0, 0, cols, rows, data.tobytes())
    for i, extra in enumerate(extra_bands, start=2):
        extra = np.ascontiguousarray(extra, dtype=data.dtype)
        ds.GetRasterBand(i).WriteRaster(0, 0, cols, rows, extra.tobytes())
    if alpha is not None:
        ab = ds.GetRasterBand(nbands)
        ab.SetColorInterpretation(gdal.GCI_AlphaBand)
        ab.WriteRaster(0, 0, cols, rows, np.ascontiguousarray(alpha, dtype=np.uint8).tobytes())
    if mask is not None:
        old = gdal.GetConfigOption("GDAL_TIFF_INTERNAL_MASK")
        gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", "YES")
        try:
            ds.CreateMaskBand(gdal.GMF_PER_DATASET)
        finally:
            gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", old)
        mb = ds.GetRasterBand(1).GetMaskBand()
        mb.WriteRaster(0, 0, cols, rows, np.ascontiguousarray(mask, dtype=np.uint8).tobytes())
    ds.FlushCache()
    ds = None
    return path


def random_values(dtype, shape, seed=0):
    """Deterministic values spanning the dtype, including its extremes."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        v = rng.integers(info.min, info.max, size=n, endpoint=True, dtype=np.int64
                         if dtype != np.uint32 else np.uint64).astype(dtype)
        specials = np.array([info.min, info.max, 0, 1, info.max - 1], dtype=dtype)
    else:
        v = (rng.standard_normal(n) * 1000).astype(dtype)
        finfo = np.finfo(dtype)
        specials = np.array([finfo.max, finfo.min, finfo.tiny, -0.0, 0.0, 1e-30, 123.456],
                            dtype=dtype)
    v[:min(n, specials.size)] = specials[:min(n, specials.size)]
    return v.reshape(shape)


def north_up_gt(west, north, dx, dy=None):
    """Geotransform of a north-up grid with its top-left corner at (west, north)."""
    dy = dx if dy is None else dy
    return (west, dx, 0.0, north, 0.0, -dy)


def centred_gt(x, y, dx, cols, rows, dy=None):
    """North-up geotransform whose pixel (cols//2, rows//2) is centred on (x, y)."""
    dy = dx if dy is None else dy
    return (x - (cols // 2 + 0.5) * dx, dx, 0.0, y + (rows // 2 + 0.5) * dy, 0.0, -dy)


def global_grid(path, dx=1.0, offset=False, dtype="float32", seed=1, west=-180.0):
    """A global EPSG:4326 grid.

    offset=False: pixel edges on the grid, centres at +-(180 - dx/2), +-(90 - dx/2).
    offset=True: one more row and column, shifted by half a pixel, so pixel centres lie exactly
    on lng -180 and +180 and on lat +90 and -90.
    west: left edge for offset=False (use 0 for a 0..360 raster).
    """
    cols = int(round(360 / dx))
    rows = int(round(180 / dx))
    if offset:
        cols += 1
        rows += 1
        gt = (west - dx / 2, dx, 0.0, 90.0 + dx / 2, 0.0, -dx)
    else:
        gt = (west, dx, 0.0, 90.0, 0.0, -dx)
    data = random_values(dtype, (rows, cols), seed)
    return write_raster(path, data, gt, 4326)


def window_raster(path, lat, lng, dx, size, dtype="float32", seed=2, crs=4326):
    """A size x size north-up window with pixel (size//2, size//2) centred on (lng, lat)."""
    data = random_values(dtype, (size, size), seed)
    return write_raster(path, data, centred_gt(lng, lat, dx, size, size), crs)


def point_raster(path, lat, lng, value=1, dx=2.0 ** -20):
    """A 1x1 EPSG:4326 Byte raster whose pixel centre is (lng, lat) (up to rounding)."""
    data = np.array([[value]], dtype=np.uint8)
    return write_raster(path, data, (lng - dx / 2, dx, 0.0, lat + dx / 2, 0.0, -dx), 4326)


def garbage_file(path, size=4096, seed=3):
    """Random bytes with a .tif name (and a TIFF magic so drivers try hard)."""
    rng = np.random.default_rng(seed)
    Path(path).write_bytes(b"II*\x00" + rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    return str(path)


def truncated_tiff(path, tmp_full, rows=1024, cols=1024, keep=0.6):
    """A striped GeoTIFF cut after `keep` of its bytes (a fraction, or a byte count if >= 1).
    GDAL writes the IFD first, so a cut inside the pixel data opens fine and fails mid-read."""
    data = random_values("float32", (rows, cols), 4)
    write_raster(tmp_full, data, north_up_gt(0.0, 10.0, 0.01), 4326, creation_options=())
    raw = Path(tmp_full).read_bytes()
    n = int(keep) if keep >= 1 else int(len(raw) * keep)
    Path(path).write_bytes(raw[:n])
    return str(path)


def great_circle_deg(lat1, lng1, lat2, lng2):
    """Angular distance in degrees (helper for choosing window sizes)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))
