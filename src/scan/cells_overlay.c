/* cells_overlay.c - the scan per cell for --method overlay (docs/design/0010-overlay.md): each
 * cell's polygon (H3 cellToBoundary; vertices to the raster's CRS, then to pixel coordinates by
 * the inverse geotransform; edges straight there) is laid over the pixel grid, and every valid
 * pixel it covers goes to the consumer with the fraction of the pixel's area inside the cell.
 * The fractions come from Green's theorem over each pixel row: no clipping, no flood fill. */
#include <math.h>
#include <string.h>

#include "cells_internal.h"

/* ---- coverage of pixels by a polygon ------------------------------------------------------- */

/* The integral of min(x, c) dy along the segment from (xa, ya) to (xb, ya + dy). */
static inline double seg_f(double xa, double xb, double dy, double c)
{
    if (c >= xa && c >= xb)
        return 0.5 * (xa + xb) * dy;
    if (c <= xa && c <= xb)
        return c * dy;
    const double t = (c - xa) / (xb - xa); /* where x = c, 0 < t < 1 */
    if (xa < c)
        return 0.5 * (xa + c) * t * dy + c * (1 - t) * dy;
    return c * t * dy + 0.5 * (c + xb) * (1 - t) * dy;
}

/* By Green's theorem the area of the polygon left of x = c within a row strip is the sum over
 * its edges of the integral of min(x, c) dy over the part of the edge in the strip; a pixel's
 * share is that at its right side minus that at its left. Edges entirely right of a pixel add
 * their dy to it (a difference array); the others are evaluated at each column boundary they
 * span. */
static inline double cover_poly(const double *x, const double *y, int n, int cx0, int cx1, int ry0,
                                int ry1, double **scratch, size_t *scratch_n,
                                void (*emit)(void *ctx, int col, int row, double f), void *ctx)
{
    if (n < 3)
        return 0;
    double xmin = x[0], xmax = x[0], ymin = y[0], ymax = y[0], a2 = 0;
    for (int k = 0; k < n; k++) {
        const int j = k + 1 == n ? 0 : k + 1;
        xmin = x[k] < xmin ? x[k] : xmin;
        xmax = x[k] > xmax ? x[k] : xmax;
        ymin = y[k] < ymin ? y[k] : ymin;
        ymax = y[k] > ymax ? y[k] : ymax;
        a2 += x[k] * y[j] - x[j] * y[k];
    }
    const double area = 0.5 * fabs(a2), sgn = a2 > 0 ? 1.0 : -1.0;
    if (!(area > 0) || !isfinite(area))
        return 0;
    const double X0 = floor(xmin), Y0 = floor(ymin);
    const int c0 = (int)X0, r0 = (int)Y0;
    int cend = (int)ceil(xmax), rend = (int)ceil(ymax);
    cend += cend == c0;
    rend += rend == r0;
    const size_t width = (size_t)(cend - c0);
    if (2 * width + 3 > *scratch_n) {
        double *s = r2h_realloc(*scratch, (2 * width + 3) * sizeof *s);
        if (!s)
            return 0;
        *scratch = s;
        *scratch_n = 2 * width + 3;
    }
    double *cov = *scratch, *dif = *scratch + width + 1;
    const int rlo = r0 > ry0 ? r0 : ry0, rhi = rend < ry1 ? rend : ry1;
    const int clo = (c0 > cx0 ? c0 : cx0) - c0, chi = (cend < cx1 ? cend : cx1) - c0;
    if (clo >= chi)
        return area;
    for (int r = rlo; r < rhi; r++) {
        memset(cov, 0, width * sizeof *cov);
        memset(dif, 0, (width + 1) * sizeof *dif);
        const double s0 = (double)r - Y0, s1 = s0 + 1; /* the strip, local coordinates */
        for (int k = 0; k < n; k++) {
            const int j = k + 1 == n ? 0 : k + 1;
            const double y1 = y[k] - Y0, y2 = y[j] - Y0;
            if (y1 == y2 || (y1 <= s0 && y2 <= s0) || (y1 >= s1 && y2 >= s1))
                continue;
            const double x1 = x[k] - X0, x2 = x[j] - X0, m = (x2 - x1) / (y2 - y1);
            const double ya = y1 < s0 ? s0 : y1 > s1 ? s1 : y1;
            const double yb = y2 < s0 ? s0 : y2 > s1 ? s1 : y2;
            const double xa = ya == y1 ? x1 : x1 + (ya - y1) * m;
            const double xb = yb == y2 ? x2 : x1 + (yb - y1) * m;
            const double dy = yb - ya;
            const double lo = xa < xb ? xa : xb, hi = xa < xb ? xb : xa;
            int i0 = (int)floor(lo), i1 = (int)ceil(hi);
            i0 = i0 < 0 ? 0 : i0;
            i1 = i1 <= i0 ? i0 + 1 : i1;
            i1 = i1 > (int)width ? (int)width : i1;
            dif[0] += dy; /* columns left of the segment */
            dif[i0] -= dy;
            double fp = (double)i0 * dy;
            for (int i = i0; i < i1; i++) {
                const double fn = seg_f(xa, xb, dy, (double)(i + 1));
                cov[i] += fn - fp;
                fp = fn;
            }
        }
        double run = 0;
        for (int i = 0; i < chi; i++) {
            run += dif[i];
            if (i < clo)
                continue;
            double f = sgn * (cov[i] + run);
            f = f > 1 ? 1 : f;
            if (f > 1e-12)
                emit(ctx, c0 + i, r, f);
        }
    }
    return area;
}

double r2h_scan_cover(const double *x, const double *y, int n, int cx0, int cx1, int ry0, int ry1,
                      double **scratch, size_t *scratch_n,
                      void (*emit)(void *ctx, int col, int row, double f), void *ctx)
{
    return cover_poly(x, y, n, cx0, cx1, ry0, ry1, scratch, scratch_n, emit, ctx);
}

/* ---- polygons of a chunk's cells --------------------------------------------------------- */

/* Pixel coordinates of each cell's polygon into w->vx, vy (R2H_CELLS_MAX_VERTS per cell) and
 * w->nv (0: the cell is left out, a vertex does not transform). Geographic rasters: longitudes
 * unwrapped along the boundary and placed so that their mean is within 360 degrees east of the
 * raster's west edge; the cell around a pole is closed along the pole's latitude. */
static enum r2h_status polygons(struct cworker *w, uint64_t chunk, size_t n)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    const double *gt = in->gt;
    enum { V = R2H_CELLS_MAX_VERTS };
    r2h_index_boundaries_exact(chunk, s->o->resolution, w->cells, w->u, w->v, n, w->vlat, w->vlng,
                               V, w->nv);
    size_t m = 0; /* vertices to transform (projected rasters) */
    for (size_t i = 0; i < n; i++) {
        double *la = w->vlat + i * V, *lo = w->vlng + i * V;
        int nv = w->nv[i];
        if (in->geographic) {
            double d, mean = lo[0];
            for (int k = 1; k < nv; k++) {
                d = lo[k] - lo[k - 1];
                d -= 360.0 * floor(d / 360.0 + 0.5);
                lo[k] = lo[k - 1] + d;
                mean += lo[k];
            }
            d = lo[0] - lo[nv - 1];
            d -= 360.0 * floor(d / 360.0 + 0.5);
            const double wind = lo[nv - 1] + d - lo[0];
            if (nv > 0 && fabs(wind) > 180) { /* the cell around a pole */
                double blat = 0;
                for (int k = 0; k < nv; k++)
                    blat += la[k];
                const double pole = blat > 0 ? 90.0 : -90.0;
                lo[nv] = lo[0] + wind;
                la[nv] = la[0];
                lo[nv + 1] = lo[0] + wind;
                la[nv + 1] = pole;
                lo[nv + 2] = lo[0];
                la[nv + 2] = pole;
                mean = lo[0] + 0.5 * wind;
                nv += 3;
            } else if (nv > 0) {
                mean /= nv;
            }
            const double shift = 360.0 * floor((mean - s->xwest) / 360.0);
            const double det = gt[1] * gt[5] - gt[2] * gt[4];
            for (int k = 0; k < nv; k++) {
                const double X = lo[k] - shift - gt[0], Y = la[k] - gt[3];
                w->vx[i * V + k] = (gt[5] * X - gt[2] * Y) / det;
                w->vy[i * V + k] = (gt[1] * Y - gt[4] * X) / det;
            }
        } else if (nv > 0 && m != i * V) {
            memmove(w->vlat + m, la, (size_t)nv * sizeof *la);
            memmove(w->vlng + m, lo, (size_t)nv * sizeof *lo);
        }
        w->nv[i] = (uint8_t)nv;
        m += (size_t)nv;
    }
    if (in->geographic)
        return R2H_OK;
    /* Projected: every vertex through PROJ at once, then back to each cell's slots. */
    enum r2h_status st = r2h_raster_to_pixel(w->raster, m, w->vlat, w->vlng, w->qx, w->qy, w->qok);
    if (st != R2H_OK)
        return st;
    for (size_t i = n, at = m; i-- > 0;) {
        const int nv = w->nv[i];
        at -= (size_t)nv;
        int ok = nv >= 3;
        for (int k = nv - 1; k >= 0; k--) {
            ok = ok && w->qok[at + (size_t)k];
            w->vx[i * V + (size_t)k] = w->qx[at + (size_t)k];
            w->vy[i * V + (size_t)k] = w->qy[at + (size_t)k];
        }
        if (!ok)
            w->nv[i] = 0;
    }
    return R2H_OK;
}

/* ---- the pairs ---------------------------------------------------------------------------- */

/* Where a polygon's pixels go: the window just read and the cell they belong to. */
struct sink {
    struct cworker *w;
    int x0, y0, ww;
    uint32_t cell;
    double valid; /* sum of fractions over valid pixels */
    int nomem;
};

static int grow_pairs(struct cworker *w, size_t need)
{
    if (need <= w->pcap)
        return 1;
    size_t cap = w->pcap ? 2 * w->pcap : 65536;
    while (cap < need)
        cap *= 2;
    const size_t ps = w->scan->in->pixel_size;
    uint32_t *c = r2h_realloc(w->pcell, cap * sizeof *c);
    if (c)
        w->pcell = c;
    int32_t *r = r2h_realloc(w->prow, cap * sizeof *r);
    if (r)
        w->prow = r;
    int32_t *k = r2h_realloc(w->pcol, cap * sizeof *k);
    if (k)
        w->pcol = k;
    double *f = r2h_realloc(w->pfrac, cap * sizeof *f);
    if (f)
        w->pfrac = f;
    unsigned char *v = r2h_realloc(w->pval, cap * ps);
    if (v)
        w->pval = v;
    if (!c || !r || !k || !f || !v)
        return 0;
    w->pcap = cap;
    return 1;
}

static void emit_pair(void *ctx, int col, int row, double f)
{
    struct sink *k = ctx;
    struct cworker *w = k->w;
    const size_t at = (size_t)(row - k->y0) * (size_t)k->ww + (size_t)(col - k->x0);
    if (!w->wvalid[at])
        return;
    if (w->pn == w->pcap && !grow_pairs(w, w->pn + 1)) {
        k->nomem = 1;
        return;
    }
    const size_t ps = w->scan->in->pixel_size, p = w->pn++;
    w->pcell[p] = k->cell;
    w->prow[p] = row;
    w->pcol[p] = col;
    w->pfrac[p] = f;
    memcpy(w->pval + p * ps, w->wvals + at * ps, ps);
    k->valid += f;
}

/* The box of pixels [x0, x1) x [y0, y1) of cell i's polygon moved by dx columns, clipped to the
 * columns [0, cols) and the raster's rows; 0 when empty. */
static int cell_box(const struct cworker *w, size_t i, double dx, int cols, int b[4])
{
    const int nv = w->nv[i];
    const double *x = w->vx + i * R2H_CELLS_MAX_VERTS, *y = w->vy + i * R2H_CELLS_MAX_VERTS;
    double xmin = x[0], xmax = x[0], ymin = y[0], ymax = y[0];
    for (int k = 1; k < nv; k++) {
        xmin = x[k] < xmin ? x[k] : xmin;
        xmax = x[k] > xmax ? x[k] : xmax;
        ymin = y[k] < ymin ? y[k] : ymin;
        ymax = y[k] > ymax ? y[k] : ymax;
    }
    xmin += dx;
    xmax += dx;
    if (!(xmax > 0 && ymax > 0 && xmin < cols && ymin < w->scan->in->height))
        return 0;
    b[0] = xmin < 0 ? 0 : (int)floor(xmin);
    b[1] = ymin < 0 ? 0 : (int)floor(ymin);
    b[2] = xmax > cols ? cols : (int)ceil(xmax);
    b[3] = ymax > w->scan->in->height ? w->scan->in->height : (int)ceil(ymax);
    return b[2] > b[0] && b[3] > b[1];
}

/* Read the window b and lay cells [lo, hi) (those with a box in it) over it, moved by dx. */
static enum r2h_status cover_group(struct cworker *w, size_t lo, size_t hi, double dx, int cols,
                                   const int b[4], char *msg, size_t msglen)
{
    const int ww = b[2] - b[0], wh = b[3] - b[1];
    double t = r2h_now();
    enum r2h_status st =
        r2h_raster_read(w->raster, b[0], b[1], ww, wh, w->wvals, w->wvalid, msg, msglen);
    w->st.phase[R2H_CELLS_READ] += r2h_now() - t;
    if (st != R2H_OK)
        return st;
    double xs[R2H_CELLS_MAX_VERTS];
    for (size_t i = lo; i < hi; i++) {
        int cb[4];
        if (!w->nv[i] || !cell_box(w, i, dx, cols, cb))
            continue;
        const double *x = w->vx + i * R2H_CELLS_MAX_VERTS;
        for (int k = 0; k < w->nv[i]; k++)
            xs[k] = x[k] + dx;
        struct sink k = {.w = w, .x0 = b[0], .y0 = b[1], .ww = ww, .cell = (uint32_t)i};
        const double a = cover_poly(xs, w->vy + i * R2H_CELLS_MAX_VERTS, w->nv[i], cb[0], cb[2],
                                    cb[1], cb[3], &w->cscr, &w->cscr_n, emit_pair, &k);
        if (k.nomem || !(a > 0 || a == 0)) {
            r2h_fmt(msg, msglen, "out of memory laying cells over pixels");
            return R2H_ERR_NOMEM;
        }
        w->vcov[i] += k.valid;
    }
    return R2H_OK;
}

enum r2h_status r2h_cells_overlay_chunk(struct cworker *w, uint64_t chunk, char *msg,
                                        size_t msglen)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    const int res = s->o->resolution;
    double t0 = r2h_now();
    const size_t n = r2h_index_descendants(chunk, res, w->cells, w->u, w->v);
    w->st.cells += n;
    enum r2h_status st = polygons(w, chunk, n);
    if (st != R2H_OK) {
        r2h_fmt(msg, msglen, "cannot transform cell boundaries to the raster's CRS");
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        w->vcov[i] = 0;
        w->carea[i] = 0;
        const int nv = w->nv[i];
        const double *x = w->vx + i * R2H_CELLS_MAX_VERTS, *y = w->vy + i * R2H_CELLS_MAX_VERTS;
        double a2 = 0;
        for (int k = 0; k < nv; k++) {
            const int j = k + 1 == nv ? 0 : k + 1;
            a2 += x[k] * y[j] - x[j] * y[k];
        }
        w->carea[i] = 0.5 * fabs(a2);
    }
    double t1 = r2h_now();
    w->st.phase[R2H_CELLS_CENTRE] += t1 - t0;
    w->pn = 0;
    /* Columns of one turn of the globe (geographic, north-up), and the copies of a polygon one
     * turn east or west that can reach them. */
    const double P = s->period;
    const int cols = P > 0 && in->width > P + 1e-6 ? (int)floor(P + 1e-6) : in->width;
    const double shifts[3] = {0, -P, P};
    for (int sh = 0; sh < (P > 0 ? 3 : 1); sh++) {
        const double dx = shifts[sh];
        /* Groups of consecutive cells whose boxes together fit the window buffer. */
        int g[4] = {0, 0, 0, 0};
        size_t glo = 0;
        int have = 0;
        for (size_t i = 0; i <= n; i++) {
            int b[4];
            const int in_box = i < n && w->nv[i] && cell_box(w, i, dx, cols, b);
            if (i < n && !in_box)
                continue;
            if (i < n && (size_t)(b[2] - b[0]) * (size_t)(b[3] - b[1]) > w->wcap) {
                r2h_fmt(msg, msglen,
                        "a cell at resolution %d covers %d x %d pixels, more than the window "
                        "--memory allows",
                        res, b[2] - b[0], b[3] - b[1]);
                return R2H_ERR_NOMEM;
            }
            if (have && i < n) {
                int u[4] = {b[0] < g[0] ? b[0] : g[0], b[1] < g[1] ? b[1] : g[1],
                            b[2] > g[2] ? b[2] : g[2], b[3] > g[3] ? b[3] : g[3]};
                if ((size_t)(u[2] - u[0]) * (size_t)(u[3] - u[1]) <= w->wcap) {
                    memcpy(g, u, sizeof g);
                    continue;
                }
            }
            if (have && (st = cover_group(w, glo, i, dx, cols, g, msg, msglen)) != R2H_OK)
                return st;
            if (i < n) {
                memcpy(g, b, sizeof g);
                glo = i;
                have = 1;
            }
        }
    }
    double t2 = r2h_now();
    w->st.phase[R2H_CELLS_SAMPLE] += t2 - t1;
    /* The cells with a row, in order, and their pairs grouped by cell (a counting sort: the
     * pairs of one cell may come from two copies). */
    const double minc = s->o->min_coverage;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const double cover = w->carea[i] > 0 ? w->vcov[i] / w->carea[i] : 0;
        w->has[i] = w->vcov[i] > 0 && cover >= minc;
        w->near[i] = 0; /* pairs per cell */
        if (w->has[i]) {
            w->out_cells[m] = w->cells[i];
            w->oarea[m] = w->carea[i];
            w->ocover[m] = cover > 1 ? 1 : cover;
            m++;
        }
    }
    for (size_t p = 0; p < w->pn; p++)
        w->near[w->pcell[p]]++;
    if (w->pn > w->ocap) {
        const size_t ps = in->pixel_size, cap = w->pn;
        int32_t *r = r2h_realloc(w->orow, cap * sizeof *r);
        if (r)
            w->orow = r;
        int32_t *c = r2h_realloc(w->ocol, cap * sizeof *c);
        if (c)
            w->ocol = c;
        double *f = r2h_realloc(w->ofrac, cap * sizeof *f);
        if (f)
            w->ofrac = f;
        unsigned char *v = r2h_realloc(w->oval, cap * ps);
        if (v)
            w->oval = v;
        if (!r || !c || !f || !v) {
            r2h_fmt(msg, msglen, "out of memory laying cells over pixels");
            return R2H_ERR_NOMEM;
        }
        w->ocap = cap;
    }
    /* near[i] becomes the first output slot of cell i's pairs. */
    uint32_t at = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const uint32_t c = w->near[i];
        w->near[i] = at;
        if (w->has[i]) {
            w->pstart[k++] = at;
            at += c;
        }
    }
    w->pstart[k] = at;
    const size_t ps = in->pixel_size;
    for (size_t p = 0; p < w->pn; p++) {
        const uint32_t i = w->pcell[p];
        if (!w->has[i])
            continue;
        const uint32_t q = w->near[i]++;
        w->orow[q] = w->prow[p];
        w->ocol[q] = w->pcol[p];
        w->ofrac[q] = w->pfrac[p];
        memcpy(w->oval + (size_t)q * ps, w->pval + p * ps, ps);
    }
    w->st.rows += m;
    w->nout = m;
    w->st.phase[R2H_CELLS_SAMPLE] += r2h_now() - t2;
    return R2H_OK;
}
