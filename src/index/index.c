/* index.c - reference cell assignment with H3 and conservative bounds of resolution-0 cells. */
#include <math.h>
#include <string.h>

#include <h3/h3api.h>

#include "r2h_index.h"

#ifndef R2H_H3_VERSION
#define R2H_H3_VERSION "unknown"
#endif

const char *r2h_index_h3_version(void)
{
    static char v[32];
    if (!v[0])
        r2h_fmt(v, sizeof v, "%d.%d.%d", H3_VERSION_MAJOR, H3_VERSION_MINOR, H3_VERSION_PATCH);
    return v;
}

void r2h_index_cells(const double *lat_deg, const double *lng_deg, const uint8_t *ok, size_t n,
                     int res, uint64_t *cells)
{
    for (size_t i = 0; i < n; i++) {
        H3Index h = 0;
        if (!ok || ok[i]) {
            LatLng g = {degsToRads(lat_deg[i]), degsToRads(lng_deg[i])};
            if (latLngToCell(&g, res, &h) != E_SUCCESS)
                h = 0;
        }
        cells[i] = h;
    }
}

/* Unit vector of a point given in radians. */
static void to_vec(const LatLng *g, double v[3])
{
    v[0] = cos(g->lat) * cos(g->lng);
    v[1] = cos(g->lat) * sin(g->lng);
    v[2] = sin(g->lat);
}

/* Box of the region of one cell (degrees), widened by extra degrees of arc in every direction.
 * lng0..lng1 is contiguous (may pass ±180); full is set for cells that come near a pole. */
struct cell_box {
    double lat0, lat1, lng0, lng1, clng;
    int full_lng;
};

static enum r2h_status cell_box_n(H3Index cell, double extra, int SAMPLES, struct cell_box *out)
{
    CellBoundary b;
    LatLng centre;
    if (cellToBoundary(cell, &b) != E_SUCCESS || cellToLatLng(cell, &centre) != E_SUCCESS)
        return R2H_ERR_H3;
    double lat0 = 90, lat1 = -90, lng0 = 1e9, lng1 = -1e9, prev = 0, shift = 0, step = 0;
    int first = 1;
    for (int e = 0; e < b.numVerts; e++) {
        double a[3], c[3];
        to_vec(&b.verts[e], a);
        to_vec(&b.verts[(e + 1) % b.numVerts], c);
        double omega = acos(fmax(-1.0, fmin(1.0, a[0] * c[0] + a[1] * c[1] + a[2] * c[2])));
        step = fmax(step, omega / SAMPLES * 180.0 / M_PI);
        for (int s = 0; s < SAMPLES; s++) {
            double t = (double)s / SAMPLES, p[3];
            double wa = omega > 0 ? sin((1 - t) * omega) / sin(omega) : 1.0;
            double wc = omega > 0 ? sin(t * omega) / sin(omega) : 0.0;
            for (int k = 0; k < 3; k++)
                p[k] = wa * a[k] + wc * c[k];
            double lat = atan2(p[2], hypot(p[0], p[1])) * 180.0 / M_PI;
            double lng = atan2(p[1], p[0]) * 180.0 / M_PI;
            /* Unwrap longitude along the boundary so antimeridian crossings stay contiguous. */
            if (!first) {
                while (lng + shift - prev > 180.0)
                    shift -= 360.0;
                while (lng + shift - prev < -180.0)
                    shift += 360.0;
            }
            lng += shift;
            prev = lng;
            first = 0;
            lat0 = fmin(lat0, lat);
            lat1 = fmax(lat1, lat);
            lng0 = fmin(lng0, lng);
            lng1 = fmax(lng1, lng);
        }
    }
    /* Every boundary point is within d degrees of a sample (half a step along the arc) plus the
     * caller's extra distance. The box of a region without a pole is the box of its boundary,
     * so widening the sampled box by d in latitude, and in longitude by the angle that d
     * subtends at the sampled point nearest a pole (colatitude theta - d at worst), bounds it. */
    const int res = getResolution(cell);
    LatLng np = {M_PI / 2, 0}, sp = {-M_PI / 2, 0};
    H3Index hn = 0, hs = 0;
    if (latLngToCell(&np, res, &hn) != E_SUCCESS || latLngToCell(&sp, res, &hs) != E_SUCCESS)
        return R2H_ERR_H3;
    const double d = step / 2 + extra;
    const double theta = 90.0 - fmax(fabs(lat0), fabs(lat1)) - d;
    out->lat0 = fmax(-90.0, lat0 - d);
    out->lat1 = fmin(90.0, lat1 + d);
    out->clng = centre.lng * 180.0 / M_PI;
    out->full_lng = 0;
    if (hn == cell || hs == cell) {
        if (hn == cell)
            out->lat1 = 90.0;
        else
            out->lat0 = -90.0;
        out->full_lng = 1;
    } else if (theta <= 0 || sin(d * M_PI / 180) >= sin(theta * M_PI / 180)) {
        out->full_lng = 1;
    } else {
        double dl = asin(sin(d * M_PI / 180) / sin(theta * M_PI / 180)) * 180.0 / M_PI;
        out->lng0 = lng0 - dl;
        out->lng1 = lng1 + dl;
        out->full_lng = out->lng1 - out->lng0 >= 360.0;
    }
    return R2H_OK;
}

static enum r2h_status cell_box(H3Index cell, double extra, struct cell_box *out)
{
    return cell_box_n(cell, extra, 256, out);
}

enum r2h_status r2h_index_region_box(uint64_t cell, struct r2h_box *out)
{
    /* The descendants of a cell spill past its boundary by less than 1.72 circumradii of its
     * children (see r2h_index_base_cell_box), under 0.7 of its own edge; one edge of margin
     * bounds them and the sampling of the boundary (8 points per edge). */
    double edge_km = 0;
    if (getHexagonEdgeLengthAvgKm(getResolution(cell), &edge_km) != E_SUCCESS)
        return R2H_ERR_H3;
    struct cell_box cb;
    enum r2h_status st = cell_box_n(cell, edge_km / 111.19 + 1e-6, 8, &cb);
    if (st != R2H_OK)
        return st;
    out->lat0 = cb.lat0;
    out->lat1 = cb.lat1;
    out->lng0 = cb.full_lng ? -180.0 : cb.lng0;
    out->lng1 = cb.full_lng ? 180.0 : cb.lng1;
    return R2H_OK;
}

/* Largest distance (degrees of arc) from a cell's centre to its boundary, over the descendants
 * of cell at resolution res: the circumradius bound used for spill-over below. */
static enum r2h_status max_circumradius(H3Index cell, int res, double *out)
{
    int64_t n = 0;
    if (cellToChildrenSize(cell, res, &n) != E_SUCCESS)
        return R2H_ERR_H3;
    H3Index *kids = r2h_calloc((size_t)n, sizeof *kids);
    if (!kids)
        return R2H_ERR_NOMEM;
    enum r2h_status st = R2H_OK;
    double m = 0;
    if (cellToChildren(cell, res, kids) != E_SUCCESS)
        st = R2H_ERR_H3;
    for (int64_t i = 0; i < n && st == R2H_OK; i++) {
        CellBoundary b;
        LatLng c;
        if (!kids[i])
            continue;
        if (cellToBoundary(kids[i], &b) != E_SUCCESS || cellToLatLng(kids[i], &c) != E_SUCCESS) {
            st = R2H_ERR_H3;
            break;
        }
        for (int v = 0; v < b.numVerts; v++)
            m = fmax(m, greatCircleDistanceRads(&c, &b.verts[v]));
    }
    r2h_free(kids);
    *out = m * 180.0 / M_PI;
    return st;
}

enum r2h_status r2h_index_base_cell_box(int bc, int res, struct r2h_box *out)
{
    /* Cells are not nested: a res-r cell whose base cell is bc can lie outside the resolution-0
     * polygon of bc. Its points are covered by the boxes of bc's descendants at resolution
     * k = min(res, K) widened by the spill-over of finer levels: a child's centre lies in its
     * parent, so a point of a res-r descendant is within sum_{j>k} R_j of its res-k ancestor,
     * where R_j is the largest circumradius at resolution j. R_j shrinks by about sqrt(7) per
     * level; bounding the ratio by 2.4 gives sum <= R_{k+1} / (1 - 1/2.4) < 1.72 R_{k+1}. */
    enum { K = 2 };
    const double margin = 0.1; /* degrees: floating-point slack around cell boundaries */
    if (bc < 0 || bc >= R2H_NUM_BASE_CELLS || res < 0 || res > R2H_MAX_RES)
        return R2H_ERR_INVALID;
    const H3Index base = r2h_index_res0_cell(bc);
    const int k = res < K ? res : K;
    double spill = 0;
    enum r2h_status st = R2H_OK;
    if (k < res && (st = max_circumradius(base, k + 1, &spill)) != R2H_OK)
        return st;
    spill = 1.72 * spill + margin;
    int64_t n = 0;
    if (cellToChildrenSize(base, k, &n) != E_SUCCESS)
        return R2H_ERR_H3;
    H3Index *kids = r2h_calloc((size_t)n, sizeof *kids);
    if (!kids)
        return R2H_ERR_NOMEM;
    if (cellToChildren(base, k, kids) != E_SUCCESS) {
        r2h_free(kids);
        return R2H_ERR_H3;
    }
    LatLng bcentre;
    cellToLatLng(base, &bcentre);
    const double ref = bcentre.lng * 180.0 / M_PI;
    double lat0 = 90, lat1 = -90, lng0 = 1e9, lng1 = -1e9;
    int full = 0;
    for (int64_t i = 0; i < n && st == R2H_OK; i++) {
        struct cell_box cb;
        if (!kids[i])
            continue;
        if ((st = cell_box(kids[i], spill, &cb)) != R2H_OK)
            break;
        lat0 = fmin(lat0, cb.lat0);
        lat1 = fmax(lat1, cb.lat1);
        full |= cb.full_lng;
        if (cb.full_lng)
            continue;
        /* Place each child's interval within half a turn of the base cell's centre. */
        double mid = 0.5 * (cb.lng0 + cb.lng1);
        double off = 360.0 * floor((mid - ref + 180.0) / 360.0);
        lng0 = fmin(lng0, cb.lng0 - off);
        lng1 = fmax(lng1, cb.lng1 - off);
    }
    r2h_free(kids);
    if (st != R2H_OK)
        return st;
    out->lat0 = lat0;
    out->lat1 = lat1;
    if (full || lng1 - lng0 >= 360.0) {
        out->lng0 = -180.0;
        out->lng1 = 180.0;
    } else {
        double mid = 0.5 * (lng0 + lng1), off = 360.0 * floor((mid + 180.0) / 360.0);
        out->lng0 = lng0 - off;
        out->lng1 = lng1 - off;
    }
    return R2H_OK;
}

uint64_t r2h_index_parent(uint64_t cell, int res)
{
    H3Index p = 0;
    return cellToParent(cell, res, &p) == E_SUCCESS ? p : 0;
}

double r2h_index_hex_area_avg_m2(int res)
{
    double a = 0;
    return getHexagonAreaAvgM2(res, &a) == E_SUCCESS ? a : 0;
}

int r2h_index_cell_boundary(uint64_t cell, double *lat, double *lng, double *clat, double *clng)
{
    CellBoundary b;
    LatLng c;
    if (cellToBoundary(cell, &b) != E_SUCCESS || cellToLatLng(cell, &c) != E_SUCCESS)
        return 0;
    for (int i = 0; i < b.numVerts; i++) {
        lat[i] = radsToDegs(b.verts[i].lat);
        lng[i] = radsToDegs(b.verts[i].lng);
    }
    *clat = radsToDegs(c.lat);
    *clng = radsToDegs(c.lng);
    return b.numVerts;
}

int r2h_index_cell_vertices(uint64_t cell, double *lat, double *lng)
{
    CellBoundary b;
    if (cellToBoundary(cell, &b) != E_SUCCESS)
        return 0;
    for (int i = 0; i < b.numVerts; i++) {
        lat[i] = radsToDegs(b.verts[i].lat);
        lng[i] = radsToDegs(b.verts[i].lng);
    }
    return b.numVerts;
}
