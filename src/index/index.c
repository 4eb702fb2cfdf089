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

enum r2h_status r2h_index_base_cell_box(int bc, struct r2h_box *out)
{
    enum { SAMPLES = 512 };
    const double margin = 0.1; /* degrees, on top of the sampling bound below */
    if (bc < 0 || bc >= R2H_NUM_BASE_CELLS)
        return R2H_ERR_INVALID;
    H3Index cell = r2h_index_res0_cell(bc);
    CellBoundary b;
    if (cellToBoundary(cell, &b) != E_SUCCESS)
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
            double wa = sin((1 - t) * omega) / sin(omega), wc = sin(t * omega) / sin(omega);
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
    /* Cells that contain a pole are the cells H3 gives for the pole itself. */
    LatLng np = {M_PI / 2, 0}, sp = {-M_PI / 2, 0};
    H3Index hn = 0, hs = 0;
    if (latLngToCell(&np, 0, &hn) != E_SUCCESS || latLngToCell(&sp, 0, &hs) != E_SUCCESS)
        return R2H_ERR_H3;
    int pole = hn == cell || hs == cell;
    /* Every boundary point is within d degrees of a sample (half a step along the arc, plus the
     * margin). The box of a region without a pole is the box of its boundary, so widening the
     * sampled box by d in latitude and by the longitude that d subtends at the sampled point
     * nearest a pole (colatitude theta - d at worst) bounds the region. */
    const double d = step / 2 + margin;
    const double theta = 90.0 - fmax(fabs(lat0), fabs(lat1)) - d;
    out->lat0 = fmax(-90.0, lat0 - d);
    out->lat1 = fmin(90.0, lat1 + d);
    if (pole) {
        if (hn == cell)
            out->lat1 = 90.0;
        else
            out->lat0 = -90.0;
        out->lng0 = -180.0;
        out->lng1 = 180.0;
    } else if (theta <= 0 || sin(d * M_PI / 180) >= sin(theta * M_PI / 180)) {
        out->lng0 = -180.0;
        out->lng1 = 180.0;
    } else {
        double dl = asin(sin(d * M_PI / 180) / sin(theta * M_PI / 180)) * 180.0 / M_PI;
        double mid = 0.5 * (lng0 + lng1), off = 360.0 * floor((mid + 180.0) / 360.0);
        out->lng0 = lng0 - off - dl;
        out->lng1 = lng1 - off + dl;
        if (out->lng1 - out->lng0 >= 360.0) {
            out->lng0 = -180.0;
            out->lng1 = 180.0;
        }
    }
    return R2H_OK;
}
