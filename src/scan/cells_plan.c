/* cells_plan.c - the plan of the scan per cell: the raster's footprint in latitude and
 * longitude, and the chunks (cells a few levels coarser than the output) whose descendants can
 * have a centre on it, in index order. docs/design/0009-cell-sampling.md. */
#include <math.h>
#include <string.h>

#include "r2h_common.h"
#include "r2h_index.h"
#include "r2h_raster.h"
#include "r2h_scan.h"

/* ---- planning --------------------------------------------------------------------------- */

/* Up to two lat/lng boxes holding the raster's footprint (full: every longitude). */
struct footprint {
    double lat0, lat1, lng0, lng1;
    int full;
};

/* The footprint of the raster from its edges and a grid of pixel centres, widened by the
 * largest step between neighbouring samples (so pixel edges and anything between samples are
 * inside); a pole inside the raster makes it reach that pole at every longitude. */
static enum r2h_status footprint(struct r2h_raster *r, struct footprint *fp, char *err,
                                 size_t errlen)
{
    const struct r2h_raster_info *in = r2h_raster_get_info(r);
    const double *gt = in->gt;
    if (in->geographic && !in->rotated) {
        double y0 = gt[3], y1 = gt[3] + in->height * gt[5];
        double x0 = gt[1] > 0 ? gt[0] : gt[0] + in->width * gt[1];
        double pad = fmax(fabs(gt[1]), fabs(gt[5]));
        fp->lat0 = fmax(-90.0, fmin(y0, y1) - pad);
        fp->lat1 = fmin(90.0, fmax(y0, y1) + pad);
        fp->lng0 = x0 - pad;
        fp->lng1 = x0 + in->width * fabs(gt[1]) + pad;
        fp->full = fp->lng1 - fp->lng0 >= 360.0 || fp->lat0 <= -90.0 || fp->lat1 >= 90.0;
        return R2H_OK;
    }
    enum { G = 65 };
    double *la = r2h_malloc(G * G * sizeof *la), *lo = r2h_malloc(G * G * sizeof *lo);
    uint8_t *ok = r2h_malloc(G * G);
    if (!la || !lo || !ok) {
        r2h_free(la);
        r2h_free(lo);
        r2h_free(ok);
        r2h_fmt(err, errlen, "out of memory planning the sample");
        return R2H_ERR_NOMEM;
    }
    double lat0 = 90, lat1 = -90, step = 0;
    size_t n = 0;
    for (int i = 0; i < G; i++) {
        const int row = (int)((int64_t)(in->height - 1) * i / (G - 1));
        for (int j = 0; j < G; j++) {
            const int col = (int)((int64_t)(in->width - 1) * j / (G - 1));
            double a, b;
            uint8_t k = 0;
            r2h_raster_locate_row(r, row, col, 1, &a, &b, &k);
            la[i * G + j] = a;
            lo[i * G + j] = b;
            ok[i * G + j] = k && a >= -90.0 && a <= 90.0;
        }
    }
    /* Largest angular step between neighbouring samples (degrees of arc, a bound in latitude
     * and, divided by cos(lat), in longitude). */
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) {
            const int p = i * G + j;
            if (!ok[p])
                continue;
            lat0 = fmin(lat0, la[p]);
            lat1 = fmax(lat1, la[p]);
            n++;
            for (int d = 0; d < 2; d++) {
                const int q = d ? p + 1 : p + G;
                if ((d ? j + 1 >= G : i + 1 >= G) || !ok[q])
                    continue;
                double dl = fabs(lo[q] - lo[p]);
                dl = dl > 180 ? 360 - dl : dl;
                step = fmax(step, fmax(fabs(la[q] - la[p]), dl * cos(la[p] * M_PI / 180)));
            }
        }
    /* Longitudes: the circle minus its largest gap between samples. */
    double *sorted = r2h_malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) {
        r2h_free(la);
        r2h_free(lo);
        r2h_free(ok);
        r2h_fmt(err, errlen, "out of memory planning the sample");
        return R2H_ERR_NOMEM;
    }
    size_t m = 0;
    for (int p = 0; p < G * G; p++)
        if (ok[p])
            sorted[m++] = lo[p];
    for (size_t i = 1; i < m; i++) /* insertion sort: m <= 4225 */
        for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    double gap = m ? sorted[0] + 360 - sorted[m - 1] : 360, lng0 = m ? sorted[0] : 0,
           lng1 = m ? sorted[m - 1] : 0;
    for (size_t i = 1; i < m; i++)
        if (sorted[i] - sorted[i - 1] > gap) {
            gap = sorted[i] - sorted[i - 1];
            lng0 = sorted[i];
            lng1 = sorted[i - 1] + 360;
        }
    r2h_free(sorted);
    r2h_free(la);
    r2h_free(lo);
    r2h_free(ok);
    if (!m) {
        r2h_fmt(err, errlen, "no pixel of the raster transforms to WGS84");
        return R2H_ERR_CRS;
    }
    const double pad = 2 * step + 1e-6;
    fp->lat0 = fmax(-90.0, lat0 - pad);
    fp->lat1 = fmin(90.0, lat1 + pad);
    const double c = cos(fmin(89.0, fmax(fabs(fp->lat0), fabs(fp->lat1))) * M_PI / 180);
    fp->lng0 = lng0 - pad / c;
    fp->lng1 = lng1 + pad / c;
    fp->full = fp->lng1 - fp->lng0 >= 360.0 || gap < 4 * step / c;
    /* A pole on the raster. */
    for (int s = -1; s <= 1; s += 2) {
        double plat = 90.0 * s, plng = 0, px, py;
        uint8_t k = 0;
        if (r2h_raster_to_pixel(r, 1, &plat, &plng, &px, &py, &k) == R2H_OK && k && px >= -1 &&
            py >= -1 && px <= in->width + 1 && py <= in->height + 1) {
            fp->full = 1;
            if (s > 0)
                fp->lat1 = 90.0;
            else
                fp->lat0 = -90.0;
        }
    }
    return R2H_OK;
}

static int overlaps(const struct footprint *fp, const struct r2h_box *b)
{
    if (b->lat1 < fp->lat0 || b->lat0 > fp->lat1)
        return 0;
    if (fp->full || b->lng1 - b->lng0 >= 360.0)
        return 1;
    for (int k = -2; k <= 2; k++)
        if (b->lng1 + 360.0 * k >= fp->lng0 && b->lng0 + 360.0 * k <= fp->lng1)
            return 1;
    return 0;
}

struct planner {
    const struct footprint *fp;
    int chunk_res;
    uint64_t *chunks;
    size_t n, cap;
};

static enum r2h_status visit(struct planner *p, uint64_t cell)
{
    struct r2h_box b;
    enum r2h_status st = r2h_index_region_box(cell, &b);
    if (st != R2H_OK)
        return st;
    if (!overlaps(p->fp, &b))
        return R2H_OK;
    if (r2h_index_resolution(cell) == p->chunk_res) {
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 1024;
            uint64_t *c = r2h_realloc(p->chunks, p->cap * sizeof *c);
            if (!c)
                return R2H_ERR_NOMEM;
            p->chunks = c;
        }
        p->chunks[p->n++] = cell;
        return R2H_OK;
    }
    uint64_t kids[7];
    const size_t k = r2h_index_children(cell, kids);
    for (size_t i = 0; i < k && st == R2H_OK; i++)
        st = visit(p, kids[i]);
    return st;
}

/* Pixel area in m2 near the raster's centre (an estimate for choosing chunk sizes). */
static double pixel_area_m2(struct r2h_raster *r)
{
    const struct r2h_raster_info *in = r2h_raster_get_info(r);
    double lat[2], lng[2];
    uint8_t ok[2] = {0, 0};
    r2h_raster_locate_row(r, in->height / 2, in->width / 2 > 0 ? in->width / 2 - 1 : 0, 2, lat, lng,
                          ok);
    double lat2[1], lng2[1];
    uint8_t ok2 = 0;
    r2h_raster_locate_row(r, in->height / 2 > 0 ? in->height / 2 - 1 : 0,
                          in->width / 2 > 0 ? in->width / 2 - 1 : 0, 1, lat2, lng2, &ok2);
    if (!ok[0] || !ok[1] || !ok2 || in->width < 2 || in->height < 2)
        return 1e6;
    const double k = 111195.0, c = cos(lat[0] * M_PI / 180);
    double dx = (lng[1] - lng[0]), dy = lat2[0] - lat[0];
    dx = fabs(dx) > 180 ? 360 - fabs(dx) : dx;
    const double ax = dx * k * c, ay = (lng2[0] - lng[0]) * k * c, bx = (lat[1] - lat[0]) * k,
                 by = dy * k;
    const double a = fabs(ax * by - ay * bx);
    return a > 0 ? a : 1e6;
}

enum r2h_status r2h_scan_cells_plan(struct r2h_raster *r, const struct r2h_cells_options *o,
                                    struct r2h_cells_plan *plan, char *err, size_t errlen)
{
    memset(plan, 0, sizeof *plan);
    const int res = o->resolution;
    /* Chunks of 7^K cells: 5 levels, fewer when a chunk's pixel window would be large (cells
     * much coarser than pixels), more when there would be very many chunks. */
    const double px_area = pixel_area_m2(r);
    /* overlay: 4 levels, its per-cell buffers (polygons, pairs) are larger */
    const int Kmax = o->kernel == R2H_KERNEL_OVERLAY ? 4 : 5;
    int K = res < Kmax ? res : Kmax;
    while (K > 0 && r2h_index_hex_area_avg_m2(res - K) / px_area > (double)o->window_pixels / 4)
        K--;
    struct footprint fp;
    enum r2h_status st = footprint(r, &fp, err, errlen);
    if (st != R2H_OK)
        return st;
    if (o->kernel == R2H_KERNEL_OVERLAY) {
        /* Cells whose centres are off the raster by up to twice an edge still cover pixels. */
        const double pad = 2 * r2h_index_edge_km(res) / 111.19 + 1e-6;
        fp.lat0 = fmax(-90.0, fp.lat0 - pad);
        fp.lat1 = fmin(90.0, fp.lat1 + pad);
        const double c = cos(fmax(fabs(fp.lat0), fabs(fp.lat1)) * M_PI / 180);
        if (c < 0.02 || fp.lng1 - fp.lng0 + 2 * pad / c >= 360.0) {
            fp.full = 1;
        } else {
            fp.lng0 -= pad / c;
            fp.lng1 += pad / c;
        }
    }
    struct planner p = {.fp = &fp, .chunk_res = res - K};
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS && st == R2H_OK; bc++) {
        if ((o->work_unit >= 0 && bc != o->work_unit) || (o->skip && o->skip[bc]))
            continue;
        st = visit(&p, r2h_index_res0_cell(bc));
    }
    if (st != R2H_OK) {
        r2h_free(p.chunks);
        r2h_fmt(err, errlen, "cannot plan the sample: %s", r2h_status_str(st));
        return st;
    }
    plan->chunks = p.chunks;
    plan->n = p.n;
    plan->chunk_res = res - K;
    uint64_t per = 1;
    for (int i = 0; i < K; i++)
        per *= 7;
    plan->cells_total = per * p.n;
    return R2H_OK;
}

void r2h_scan_cells_plan_free(struct r2h_cells_plan *plan)
{
    r2h_free(plan->chunks);
    memset(plan, 0, sizeof *plan);
}
