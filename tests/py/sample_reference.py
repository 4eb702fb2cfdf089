"""sample_reference.py - the straightforward Python reference for `convert --method sample`.

Candidate cells come from h3-py alone: the resolution-rc cells (rc a few levels coarser than the
output, cells wider than the pixel spacing) of every pixel centre and corner, with their
neighbours, and all their descendants at the output resolution. Each candidate's centre
(h3.cell_to_latlng) goes to the raster's CRS with osr (traditional GIS order) and to pixel
coordinates with the inverse geotransform; the value comes from GDAL's pixels by the kernel
(nearest; bilinear; cubic convolution a = -0.5), and a cell whose kernel meets an invalid or
missing pixel gets no row. One h3 call per cell; nothing shared with the C code.
"""
import math

import h3
import numpy as np
from osgeo import gdal, osr

from reference import is_degrees_on_wgs84, read_band, validity, parents0, base_cells

gdal.UseExceptions()


def _transform(srs, x, y, to_wgs84):
    """(x, y) arrays between srs and WGS84 (traditional GIS order, osr); inf where it fails."""
    src = srs.Clone()
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, wgs) if to_wgs84 else osr.CoordinateTransformation(
        wgs, src)
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        pts = np.array(ct.TransformPoints(np.column_stack([x, y]).tolist()),
                       dtype=np.float64).reshape(-1, 3)
    finally:
        gdal.PopErrorHandler()
    return pts[:, 0], pts[:, 1]


def _to_pixel(ds, lat, lng):
    """Pixel coordinates of WGS84 points, as the product defines them (docs/design/0009)."""
    gt = ds.GetGeoTransform()
    srs = ds.GetSpatialRef()
    plain = gt[2] == 0 and gt[4] == 0
    if is_degrees_on_wgs84(srs):
        west = gt[0] if gt[1] > 0 else gt[0] + ds.RasterXSize * gt[1]
        d = lng - west
        d = np.where(d < 0, d + 360.0, d)
        d = np.where(d >= 360.0, d - 360.0, d)
        if plain and gt[1] > 0:
            return d / gt[1], (lat - gt[3]) / gt[5], np.ones(lat.size, bool)
        x, y = west + d, lat
    else:
        x, y = _transform(srs, lng, lat, to_wgs84=False)
    ok = np.isfinite(x) & np.isfinite(y)
    if plain:
        return (x - gt[0]) / gt[1], (y - gt[3]) / gt[5], ok
    iv = gdal.InvGeoTransform(gt)
    return iv[0] + iv[1] * x + iv[2] * y, iv[3] + iv[4] * x + iv[5] * y, ok


def _corner_points(ds, step):
    """WGS84 (lat, lng) of pixel corners and centres every `step` pixels (and the last)."""
    gt = ds.GetGeoTransform()
    cols = np.unique(np.r_[np.arange(0, ds.RasterXSize + 1, step), ds.RasterXSize]).astype(float)
    rows = np.unique(np.r_[np.arange(0, ds.RasterYSize + 1, step), ds.RasterYSize]).astype(float)
    c = np.r_[cols, cols + 0.5][None, :]
    r = np.r_[rows, rows + 0.5][:, None]
    x = (gt[0] + c * gt[1] + r * gt[2]).ravel()
    y = (gt[3] + c * gt[4] + r * gt[5]).ravel()
    srs = ds.GetSpatialRef()
    if is_degrees_on_wgs84(srs):
        lng, lat = x, y
    else:
        lng, lat = _transform(srs, x, y, to_wgs84=True)
    keep = np.isfinite(lat) & np.isfinite(lng) & (lat >= -90) & (lat <= 90)
    lng = ((lng[keep] + 180.0) % 360.0) - 180.0
    return lat[keep], lng


def candidate_cells(ds, res, levels=3, step=1):
    """Every res cell whose centre can lie on the raster (a superset), from h3-py only."""
    rc = max(0, res - levels)
    lat, lng = _corner_points(ds, step)
    coarse = {h3.latlng_to_cell(float(a), float(o), rc) for a, o in zip(lat, lng)}
    ring = set()
    for c in coarse:
        ring.update(h3.grid_disk(c, 2))
    out = []
    for c in ring:
        out.extend(h3.cell_to_children(c, res))
    return np.array(sorted(int(c, 16) for c in out), dtype=np.uint64)


def _cubic_w(t):
    t2, t3 = t * t, t * t * t
    return np.stack([-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1,
                     -1.5 * t3 + 2 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2])


def sample_reference(path, res, kernel="nearest", band=1, bands=None, nodata=None,
                     base_cell=None, levels=3, step=1):
    """Expected rows of `convert path --method sample --resample kernel --resolution res`:
    (cells ascending uint64, values) - values an array (nearest, one band), a list of arrays
    (several bands) or float64 (bilinear, cubic)."""
    ds = gdal.Open(str(path))
    bl = bands or [band]
    datas, valid = [], None
    for bn in bl:
        b, data = read_band(ds, bn)
        v = validity(b, data, nodata)
        valid = v if valid is None else valid & v
        datas.append(data)
    cells = candidate_cells(ds, res, levels, step)
    ll = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells],
                  dtype=np.float64).reshape(-1, 2)
    px, py, ok = _to_pixel(ds, ll[:, 0], ll[:, 1])
    W, H = ds.RasterXSize, ds.RasterYSize
    ks = {"nearest": 1, "bilinear": 2, "cubic": 4}[kernel]
    sh = 0.0 if ks == 1 else 0.5
    back = 1 if ks == 4 else 0
    with np.errstate(invalid="ignore"):
        fx, fy = np.floor(px - sh), np.floor(py - sh)
        ok &= np.isfinite(fx) & np.isfinite(fy)
        c0 = np.where(ok, fx, -10).astype(np.int64) - back
        r0 = np.where(ok, fy, -10).astype(np.int64) - back
    ok &= (c0 >= 0) & (r0 >= 0) & (c0 + ks <= W) & (r0 + ks <= H)
    for a in range(ks):
        for b in range(ks):
            ok[ok] &= valid[r0[ok] + a, c0[ok] + b]
    cells, px, py, c0, r0 = cells[ok], px[ok], py[ok], c0[ok], r0[ok]
    if base_cell is not None:
        keep = base_cells(cells) == base_cell
        cells, px, py, c0, r0 = cells[keep], px[keep], py[keep], c0[keep], r0[keep]
    if ks == 1:
        vals = [d[r0, c0] for d in datas]
        return cells, vals[0] if len(vals) == 1 else vals
    d = datas[0].astype(np.float64)
    tx, ty = (px - 0.5) - np.floor(px - 0.5), (py - 0.5) - np.floor(py - 0.5)
    if ks == 2:
        v = ((1 - ty) * ((1 - tx) * d[r0, c0] + tx * d[r0, c0 + 1]) +
             ty * ((1 - tx) * d[r0 + 1, c0] + tx * d[r0 + 1, c0 + 1]))
        return cells, v
    wx, wy = _cubic_w(tx), _cubic_w(ty)
    v = np.zeros(cells.size)
    for a in range(4):
        row = np.zeros(cells.size)
        for b in range(4):
            row += wx[b] * d[r0 + a, c0 + b]
        v += wy[a] * row
    return cells, v
