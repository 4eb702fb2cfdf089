"""overlay_reference.py - an oracle of `convert --method overlay` built without the C code.

Cells come from h3-py 4.5.0 (cell_to_boundary), pixels from GDAL, geometry from GEOS (shapely:
the area of each pixel square intersected with the cell's polygon) or from exactextract 0.3.0.

The convention (docs/design/0010-overlay.md): a cell's polygon is its boundary vertices taken to
the raster's CRS (osr, GIS axis order), edges straight there. On geographic rasters the
longitudes are unwrapped along the boundary and the polygon is placed so that the mean of its
vertex longitudes lies within 360 degrees east of the raster's westernmost corner; the cell
around a pole is closed along the pole's latitude; north-up rasters also see the copies one turn
east and west. Everything is done in pixel coordinates (the inverse geotransform is affine, so
area fractions are the same as in the CRS).
"""
import math

import h3
import numpy as np
import shapely
from osgeo import gdal, osr

gdal.UseExceptions()

WGS84_A = 6378137.0
WGS84_E2 = 0.0066943799901413165


class Raster:
    def __init__(self, path, band=1):
        ds = gdal.Open(str(path))
        self.W, self.H = ds.RasterXSize, ds.RasterYSize
        self.gt = ds.GetGeoTransform()
        b = ds.GetRasterBand(band)
        raw = b.ReadRaster(buf_type=gdal.GDT_Float64)
        self.values = np.frombuffer(raw, dtype=np.float64).reshape(self.H, self.W).copy()
        nd = b.GetNoDataValue()
        self.valid = np.isfinite(self.values)
        if nd is not None:
            self.valid &= ~(self.values == nd) if not math.isnan(nd) else True
        self.srs = ds.GetSpatialRef()
        self.geographic = bool(self.srs.IsGeographic())
        gt = self.gt
        self.north_up = gt[2] == 0 and gt[4] == 0 and gt[1] > 0
        self.period = 360.0 / gt[1] if self.geographic and self.north_up else 0
        xs = [gt[0] + c * gt[1] + r * gt[2] for c in (0, self.W) for r in (0, self.H)]
        self.xwest = min(xs)
        self.cols = self.W
        if self.period and self.W > self.period + 1e-6:
            self.cols = int(math.floor(self.period + 1e-6))
        wgs = osr.SpatialReference()
        wgs.ImportFromEPSG(4326)
        wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        self.srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        self.to_crs = osr.CoordinateTransformation(wgs, self.srs)
        self.to_wgs = osr.CoordinateTransformation(self.srs, wgs)
        # ellipsoidal m2 of a pixel of each row (geographic, north-up): the authalic band area
        self.row_area = None
        if self.geographic and gt[2] == 0 and gt[4] == 0:
            e = math.sqrt(WGS84_E2)

            def q(phi):
                s = math.sin(phi)
                return (1 - WGS84_E2) * (s / (1 - WGS84_E2 * s * s) -
                                         1 / (2 * e) * math.log((1 - e * s) / (1 + e * s)))
            dl = math.radians(abs(gt[1]))
            areas = []
            for y in range(self.H):
                p0 = math.radians(max(-90, min(90, gt[3] + y * gt[5])))
                p1 = math.radians(max(-90, min(90, gt[3] + (y + 1) * gt[5])))
                areas.append(WGS84_A ** 2 * dl * abs(q(p0) - q(p1)) / 2)
            self.row_area = np.array(areas)

    def to_pixel(self, X, Y):
        g = self.gt
        det = g[1] * g[5] - g[2] * g[4]
        X = np.asarray(X) - g[0]
        Y = np.asarray(Y) - g[3]
        return (g[5] * X - g[2] * Y) / det, (g[1] * Y - g[4] * X) / det

    def pixel_to_lnglat(self, px, py):
        g = self.gt
        X = g[0] + px * g[1] + py * g[2]
        Y = g[3] + px * g[4] + py * g[5]
        if self.geographic:
            return X, Y
        pts = self.to_wgs.TransformPoints(list(zip(X.tolist(), Y.tolist())))
        return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])


def cell_polygons(r, cell):
    """(polygons in pixel coordinates as (n, 2) arrays, the polygon's area in pixels)."""
    b = h3.cell_to_boundary(cell)
    lat = np.array([p[0] for p in b])
    lng = np.array([p[1] for p in b])
    if r.geographic:
        u = [lng[0]]
        for k in range(1, len(lng)):
            d = lng[k] - lng[k - 1]
            d -= 360.0 * math.floor(d / 360.0 + 0.5)
            u.append(u[-1] + d)
        d = lng[0] - lng[-1]
        d -= 360.0 * math.floor(d / 360.0 + 0.5)
        wind = u[-1] + d - u[0]
        lat = list(lat)
        if abs(wind) > 180:  # around a pole
            pole = 90.0 if sum(lat) > 0 else -90.0
            u += [u[0] + wind, u[0] + wind, u[0]]
            lat += [lat[0], pole, pole]
            mean = u[0] + 0.5 * wind
        else:
            mean = sum(u) / len(u)
        shift = 360.0 * math.floor((mean - r.xwest) / 360.0)
        X = np.array(u) - shift
        px, py = r.to_pixel(X, np.array(lat))
    else:
        pts = r.to_crs.TransformPoints(list(zip(lng.tolist(), lat.tolist())))
        if any(not all(math.isfinite(c) for c in p[:2]) for p in pts):
            return [], 0.0
        px, py = r.to_pixel(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
    base = np.column_stack([px, py])
    area = abs(shapely.Polygon(base).area)
    polys = []
    for dx in ([0.0, -r.period, r.period] if r.period else [0.0]):
        p = base + [dx, 0.0]
        if p[:, 0].max() > 0 and p[:, 0].min() < r.cols and p[:, 1].max() > 0 and \
                p[:, 1].min() < r.H:
            polys.append(p)
    return polys, area


def candidates(r, res, step=0.25):
    """Cells within a ring of any cell holding a point of a grid 1/step per pixel (edges too)."""
    xs = np.arange(0, r.W + 1e-9, step)
    ys = np.arange(0, r.H + 1e-9, step)
    gx, gy = np.meshgrid(np.clip(xs, 0, r.W), np.clip(ys, 0, r.H))
    lng, lat = r.pixel_to_lnglat(gx.ravel(), gy.ravel())
    seen = set()
    for a, o in zip(np.asarray(lat).tolist(), np.asarray(lng).tolist()):
        if math.isfinite(a) and math.isfinite(o) and -90 <= a <= 90:
            seen.add(h3.latlng_to_cell(a, o, res))
    out = set()
    for c in seen:
        out.update(h3.grid_disk(c, 1))
    return sorted(out)


def _fractions_shapely(r, poly):
    """(rows, cols, fractions) of the pixels the polygon covers, by GEOS intersection areas."""
    P = shapely.Polygon(poly)
    x0 = max(0, int(math.floor(poly[:, 0].min())))
    x1 = min(r.cols, int(math.ceil(poly[:, 0].max())))
    y0 = max(0, int(math.floor(poly[:, 1].min())))
    y1 = min(r.H, int(math.ceil(poly[:, 1].max())))
    if x1 <= x0 or y1 <= y0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    cc, rr = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))
    cc, rr = cc.ravel(), rr.ravel()
    boxes = shapely.box(cc, rr, cc + 1, rr + 1)
    f = shapely.area(shapely.intersection(boxes, P))
    return rr, cc, f


def _fractions_exactextract(r, polys_by_cell):
    """{cell: (rows, cols, fractions)} from exactextract 0.3.0 (pixel grid, y up)."""
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource
    src = NumPyRasterSource(np.zeros((r.H, r.cols)), 0, 0, r.cols, r.H)
    feats, owners = [], []
    for cell, polys in polys_by_cell.items():
        for p in polys:
            ring = [(float(x), float(r.H - y)) for x, y in p]
            ring.append(ring[0])
            feats.append({"type": "Feature", "id": len(feats), "properties": {},
                          "geometry": {"type": "Polygon", "coordinates": [ring]}})
            owners.append(cell)
    out = {c: ([], [], []) for c in polys_by_cell}
    if not feats:
        return out
    df = exact_extract(src, feats, ["coverage", "cell_id"], output="pandas")
    for cell, cov, ids in zip(owners, df["coverage"], df["cell_id"]):
        ids = np.asarray(ids, dtype=np.int64)
        rr, cc = np.divmod(ids, r.cols)
        o = out[cell]
        o[0].append(rr)
        o[1].append(cc)
        o[2].append(np.asarray(cov, dtype=np.float64))
    return {c: tuple(np.concatenate(v) if v else np.zeros(0) for v in o) for c, o in out.items()}


def overlay_reference(path, res, engine="shapely", classes=(), min_coverage=0.0, band=1):
    """{cell (int): stats} for every cell whose polygon covers valid pixels. stats: count (pixels
    with a fraction > 1e-12), sum, mean (weights fraction x row area on geographic north-up
    rasters, else fraction), coverage, min, max, mode (largest weight, ties to the smallest),
    area and wsum (sum of f x pixel m2, sum of value x f x pixel m2; row areas only),
    frac[class], frac_nodata; plus bound_sum / bound_cover: how far float32 fractions
    (exactextract) can move sum and coverage."""
    r = Raster(path, band)
    polys = {}
    areas = {}
    for c in candidates(r, res):
        p, a = cell_polygons(r, c)
        if p:
            polys[c] = p
            areas[c] = a
    if engine == "exactextract":
        fr = _fractions_exactextract(r, polys)
    else:
        fr = {}
        for c, ps in polys.items():
            parts = [_fractions_shapely(r, p) for p in ps]
            fr[c] = tuple(np.concatenate([q[i] for q in parts]) for i in range(3))
    out = {}
    for c, (rr, cc, f) in fr.items():
        rr = np.asarray(rr, dtype=np.int64)
        cc = np.asarray(cc, dtype=np.int64)
        f = np.minimum(np.asarray(f, dtype=np.float64), 1.0)
        keep = (f > 1e-12) & r.valid[rr, cc] if len(f) else np.zeros(0, bool)
        rr, cc, f = rr[keep], cc[keep], f[keep]
        if not len(f):
            continue
        cover = min(1.0, f.sum() / areas[c])
        if cover < min_coverage:
            continue
        v = r.values[rr, cc]
        w = f * r.row_area[rr] if r.row_area is not None else f
        uniq = sorted(set(v.tolist()))
        wt = {u: w[v == u].sum() for u in uniq}
        best = max(wt.values())
        s = {
            "count": len(f),
            "sum": float((v * f).sum()),
            "mean": float((v * w).sum() / w.sum()),
            "coverage": cover,
            "min": float(v.min()),
            "max": float(v.max()),
            "mode": min(u for u in uniq if wt[u] == best),
            "bound_sum": float((np.abs(v) * f).sum()) * 2.0 ** -24 + 1e-12,
            "bound_cover": float(f.sum()) * 2.0 ** -24 / areas[c] + 1e-12,
            "frac_nodata": 1 - cover,
        }
        if r.row_area is not None:
            a = f * r.row_area[rr]
            s["area"] = float(a.sum())
            s["wsum"] = float((v * a).sum())
        for k in classes:
            s[f"frac_{k:.17g}"] = float(f[v == k].sum() / areas[c])
        out[int(c, 16)] = s
    return out, r
