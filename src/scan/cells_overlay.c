/* cells_overlay.c - the scan per cell for --method overlay (docs/design/0010-overlay.md): each
 * cell's polygon (H3 cellToBoundary; vertices to the raster's CRS, then to pixel coordinates by
 * the inverse geotransform; edges straight there) is laid over the pixel grid, and every valid
 * pixel it covers goes to the consumer with the fraction of the pixel's area inside the cell.
 * The fractions come from Green's theorem over each pixel row: no clipping, no flood fill. */
#include <math.h>
#include <string.h>

#include "cells_internal.h"

/* ---- coverage of pixels by a polygon ------------------------------------------------------- */

/* The integral of min(x, c) dy along the segment from (xa, ya) to (xb, ya + dy), q = dy / dx
 * along it. */
static inline double seg_f(double xa, double xb, double dy, double q, double c)
{
    if (c >= xa && c >= xb)
        return 0.5 * (xa + xb) * dy;
    if (c <= xa && c <= xb)
        return c * dy;
    const double d1 = (c - xa) * q; /* dy from a to where x = c */
    if (xa < c)
        return 0.5 * (xa + c) * d1 + c * (dy - d1);
    return c * d1 + 0.5 * (c + xb) * (dy - d1);
}

/* By Green's theorem the area of the polygon left of x = c within a row strip is the sum over
 * its edges of the integral of min(x, c) dy over the part of the edge in the strip; a pixel's
 * share is that at its right side minus that at its left. Edges entirely right of a pixel add
 * their dy to it (a difference array); the others are evaluated at each column boundary they
 * span. */
static inline __attribute__((always_inline)) double
cover_poly(const double *x, const double *y, int n, int cx0, int cx1, int ry0, int ry1,
           double **scratch, size_t *scratch_n, void (*emit)(void *ctx, int col, int row, double f),
           void *ctx)
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
        /* about the first vertex: no cancellation far from the origin */
        a2 += (x[k] - x[0]) * (y[j] - y[0]) - (x[j] - x[0]) * (y[k] - y[0]);
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
    /* The edges in local coordinates, with dx/dy and dy/dx (horizontal edges add nothing). */
    double ex[R2H_CELLS_MAX_VERTS], ey[R2H_CELLS_MAX_VERTS], fx[R2H_CELLS_MAX_VERTS],
        fy[R2H_CELLS_MAX_VERTS], em[R2H_CELLS_MAX_VERTS], eq[R2H_CELLS_MAX_VERTS];
    int ne = 0;
    for (int k = 0; k < n && ne < R2H_CELLS_MAX_VERTS; k++) {
        const int j = k + 1 == n ? 0 : k + 1;
        const double y1 = y[k] - Y0, y2 = y[j] - Y0, x1 = x[k] - X0, x2 = x[j] - X0;
        if (y1 == y2)
            continue;
        ex[ne] = x1;
        ey[ne] = y1;
        fx[ne] = x2;
        fy[ne] = y2;
        em[ne] = (x2 - x1) / (y2 - y1);
        eq[ne] = x2 != x1 ? (y2 - y1) / (x2 - x1) : 0;
        ne++;
    }
    const int rlo = r0 > ry0 ? r0 : ry0, rhi = rend < ry1 ? rend : ry1;
    const int clo = (c0 > cx0 ? c0 : cx0) - c0, chi = (cend < cx1 ? cend : cx1) - c0;
    if (clo >= chi)
        return area;
    for (int r = rlo; r < rhi; r++) {
        memset(cov, 0, width * sizeof *cov);
        memset(dif, 0, (width + 1) * sizeof *dif);
        const double s0 = (double)r - Y0, s1 = s0 + 1; /* the strip, local coordinates */
        for (int k = 0; k < ne; k++) {
            const double y1 = ey[k], y2 = fy[k];
            if ((y1 <= s0 && y2 <= s0) || (y1 >= s1 && y2 >= s1))
                continue;
            const double x1 = ex[k], x2 = fx[k], m = em[k];
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
                const double fn = seg_f(xa, xb, dy, eq[k], (double)(i + 1));
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
    if (n > R2H_CELLS_MAX_VERTS)
        return NAN;
    return cover_poly(x, y, n, cx0, cx1, ry0, ry1, scratch, scratch_n, emit, ctx);
}

/* ---- polygons of a chunk's cells --------------------------------------------------------- */

/* Pixel coordinates of the polygons of cells [lo_i, hi_i) (the descendants of up, whose
 * boundaries come in one r2h_index_boundaries_exact call) into w->vx, vy (R2H_CELLS_MAX_VERTS
 * per cell) and w->nv (0: the cell is left out, a vertex does not transform). Geographic rasters:
 * longitudes unwrapped along the boundary and placed so that their mean is within 360 degrees east
 * of the raster's west edge; the cell around a pole is closed along the pole's latitude. */
static enum r2h_status polygons(struct cworker *w, uint64_t up, size_t lo_i, size_t hi_i)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    const double *gt = in->gt;
    enum { V = R2H_CELLS_MAX_VERTS };
    r2h_index_boundaries_exact(up, s->o->resolution, w->cells + lo_i, w->u + lo_i, w->v + lo_i,
                               hi_i - lo_i, w->vlat + lo_i * V, w->vlng + lo_i * V, V,
                               w->nv + lo_i);
    size_t m = lo_i * V; /* vertices to transform (projected rasters), packed from lo_i's slot */
    for (size_t i = lo_i; i < hi_i; i++) {
        double *la = w->vlat + i * V, *lo = w->vlng + i * V;
        int nv = w->nv[i];
        if (in->geographic) {
            double d, mean = lo[0];
            for (int k = 1; k < nv; k++) {
                d = lo[k] - lo[k - 1];
                d = d > 180    ? d - 360
                    : d < -180 ? d + 360
                               : d; /* H3 longitudes are in [-180, 180] */
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
    const size_t at0 = lo_i * V;
    enum r2h_status st = r2h_raster_to_pixel(w->raster, m - at0, w->vlat + at0, w->vlng + at0,
                                             w->qx + at0, w->qy + at0, w->qok + at0);
    if (st != R2H_OK)
        return st;
    for (size_t i = hi_i, at = m; i-- > lo_i;) {
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

/* One set of pair arrays (rows, columns, fractions, pixel records of ps bytes) to room for cap
 * pairs; 0 when an allocation fails (those that succeeded are kept). */
static int grow_set(int32_t **row, int32_t **col, double **frac, unsigned char **val, size_t cap,
                    size_t ps)
{
    int32_t *r = r2h_realloc(*row, cap * sizeof *r);
    if (r)
        *row = r;
    int32_t *c = r2h_realloc(*col, cap * sizeof *c);
    if (c)
        *col = c;
    double *f = r2h_realloc(*frac, cap * sizeof *f);
    if (f)
        *frac = f;
    unsigned char *v = r2h_realloc(*val, cap * ps);
    if (v)
        *val = v;
    return r && c && f && v;
}

/* The pairs as found, with their cells, to room for need pairs. */
static int grow_pairs(struct cworker *w, size_t need)
{
    if (need <= w->pcap)
        return 1;
    size_t cap = w->pcap ? 2 * w->pcap : 65536;
    while (cap < need)
        cap *= 2;
    uint32_t *c = r2h_realloc(w->pcell, cap * sizeof *c);
    if (c)
        w->pcell = c;
    if (!grow_set(&w->prow, &w->pcol, &w->pfrac, &w->pval, cap, w->scan->in->pixel_size) || !c)
        return 0;
    w->pcap = cap;
    return 1;
}

static inline __attribute__((always_inline)) void emit_pair(void *ctx, int col, int row, double f)
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
    unsigned char *d = w->pval + p * ps;
    const unsigned char *s = w->wvals + at * ps;
    switch (ps) { /* fixed sizes: no call */
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, ps);
    }
    k->valid += f;
}

/* The box of pixels [x0, x1) x [y0, y1) of cell i's polygon moved by dx columns, clipped to the
 * columns [0, cols) and the raster's rows; 0 when empty. */
static int cell_box(const struct cworker *w, size_t i, double dx, int cols, int b[4])
{
    /* the polygon's box: w->px, py (x), w->lat, lng (y) hold its least and greatest */
    const double xmin = w->px[i] + dx, xmax = w->py[i] + dx, ymin = w->lat[i], ymax = w->lng[i];
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
    /* Nothing valid under the group (sea, say): no cell of it gets a pair here. */
    if (!memchr(w->wvalid, 1, (size_t)ww * (size_t)wh))
        return R2H_OK;
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

/* Geographic north-up rasters: 1 when the pixels under every descendant of a cell are all
 * invalid (sea, say), read through the window buffer; 0 when some may be valid or the window
 * is not simple (wraps, too large); -1 on a read error. */
static int region_void(struct cworker *w, uint64_t chunk, char *msg, size_t msglen,
                       enum r2h_status *rst)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    const double *gt = in->gt;
    struct r2h_box b;
    if (s->period <= 0 || r2h_index_region_box(chunk, &b) != R2H_OK)
        return 0;
    const double pad = 2 * r2h_index_edge_km(s->o->resolution) / 111.19;
    if (b.lat1 >= 89 || b.lat0 <= -89 || b.lng1 - b.lng0 + 2 * pad >= 180)
        return 0;
    double x0 = (b.lng0 - pad - gt[0]) / gt[1], x1 = (b.lng1 + pad - gt[0]) / gt[1];
    const double k = floor(x0 / s->period); /* the copy starting in [0, period) */
    x0 -= k * s->period;
    x1 -= k * s->period;
    if (x1 > in->width || x1 > s->period)
        return 0; /* reaches past the east edge: maybe a copy, keep it simple */
    const double y0 = (b.lat1 + pad - gt[3]) / gt[5], y1 = (b.lat0 - pad - gt[3]) / gt[5];
    const int c0 = (int)floor(x0), c1 = (int)ceil(x1);
    const int r0 = y0 < 0 ? 0 : (int)floor(y0), r1 = y1 > in->height ? in->height : (int)ceil(y1);
    if (c0 < 0 || r1 <= r0)
        return c0 >= 0; /* off the raster's rows: nothing */
    if ((size_t)(c1 - c0) * (size_t)(r1 - r0) > w->wcap)
        return 0;
    const double t = r2h_now();
    *rst = r2h_raster_read(w->raster, c0, r0, c1 - c0, r1 - r0, w->wvals, w->wvalid, msg, msglen);
    w->st.phase[R2H_CELLS_READ] += r2h_now() - t;
    if (*rst != R2H_OK)
        return -1;
    return memchr(w->wvalid, 1, (size_t)(c1 - c0) * (size_t)(r1 - r0)) == NULL;
}

enum r2h_status r2h_cells_overlay_chunk(struct cworker *w, uint64_t chunk, char *msg, size_t msglen)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    const int res = s->o->resolution;
    double t0 = r2h_now();
    const size_t n = r2h_index_descendants(chunk, res, w->cells, w->u, w->v);
    w->st.cells += n;
    /* Polygons of the blocks of 7^L cells (descendants of one cell L levels up: consecutive)
     * that may have valid pixels under them; the others (sea, say) are left out. When none is
     * left out, the chunk's boundaries in one call (vertices shared across the blocks). */
    const int K = res - s->plan->chunk_res, L = K < 3 ? K : 3;
    /* cells with the same bits above their last L digits share the parent L levels up (the
     * descendants of a chunk have one resolution) */
    const int dshift = 3 * (15 - (res - L));
    enum r2h_status st = R2H_OK;
    size_t nvoid = 0;
    for (size_t lo = 0; lo < n;) {
        const uint64_t up = r2h_index_parent(w->cells[lo], res - L);
        size_t hi = lo + 1;
        while (hi < n && w->cells[hi] >> dshift == w->cells[lo] >> dshift)
            hi++;
        const int nothing = L > 0 ? region_void(w, up, msg, msglen, &st) : 0;
        if (nothing < 0)
            return st;
        memset(w->has + lo, nothing, hi - lo); /* has: scratch, the block is void */
        nvoid += nothing;
        lo = hi;
    }
    w->st.void_blocks += nvoid;
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        uint64_t up = chunk;
        if (nvoid) {
            up = r2h_index_parent(w->cells[lo], res - L);
            while (hi < n && w->cells[hi] >> dshift == w->cells[lo] >> dshift)
                hi++;
        } else {
            hi = n;
        }
        if (w->has[lo]) {
            memset(w->nv + lo, 0, hi - lo);
        } else if ((st = polygons(w, up, lo, hi)) != R2H_OK) {
            r2h_fmt(msg, msglen, "cannot transform cell boundaries to the raster's CRS");
            return st;
        }
        lo = hi;
    }
    double cx0 = INFINITY, cx1 = -INFINITY; /* the chunk's columns */
    for (size_t i = 0; i < n; i++) {
        w->vcov[i] = 0;
        w->carea[i] = 0;
        const int nv = w->nv[i];
        const double *x = w->vx + i * R2H_CELLS_MAX_VERTS, *y = w->vy + i * R2H_CELLS_MAX_VERTS;
        double a2 = 0, xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
        for (int k = 0; k < nv; k++) {
            const int j = k + 1 == nv ? 0 : k + 1;
            a2 += (x[k] - x[0]) * (y[j] - y[0]) - (x[j] - x[0]) * (y[k] - y[0]);
            xmin = x[k] < xmin ? x[k] : xmin;
            xmax = x[k] > xmax ? x[k] : xmax;
            ymin = y[k] < ymin ? y[k] : ymin;
            ymax = y[k] > ymax ? y[k] : ymax;
        }
        w->carea[i] = 0.5 * fabs(a2);
        w->px[i] = xmin; /* the polygon's box (cell_box) */
        w->py[i] = xmax;
        w->lat[i] = ymin;
        w->lng[i] = ymax;
        if (nv) {
            cx0 = xmin < cx0 ? xmin : cx0;
            cx1 = xmax > cx1 ? xmax : cx1;
        }
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
        if (!(cx1 + dx > 0 && cx0 + dx < cols))
            continue; /* no polygon of this copy reaches the raster */
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
    /* Usually the pairs are in cell order already (one copy reached the raster) and every cell
     * with pairs has a row: hand them over as they are. */
    int ordered = 1;
    for (size_t p = 1; p < w->pn && ordered; p++)
        ordered = w->pcell[p] >= w->pcell[p - 1];
    for (size_t p = 0; p < w->pn && ordered; p++)
        ordered = w->has[w->pcell[p]];
    if (ordered) {
        size_t k = 0, p = 0;
        for (size_t i = 0; i < n; i++) {
            if (!w->has[i])
                continue;
            w->pstart[k++] = (uint32_t)p;
            while (p < w->pn && w->pcell[p] == i)
                p++;
        }
        w->pstart[k] = (uint32_t)p;
        w->xrow = w->prow;
        w->xcol = w->pcol;
        w->xfrac = w->pfrac;
        w->xval = w->pval;
        w->st.rows += m;
        w->st.pairs += w->pn;
        w->nout = m;
        w->st.phase[R2H_CELLS_SAMPLE] += r2h_now() - t2;
        return R2H_OK;
    }
    for (size_t p = 0; p < w->pn; p++)
        w->near[w->pcell[p]]++;
    if (w->pn > w->ocap) {
        if (!grow_set(&w->orow, &w->ocol, &w->ofrac, &w->oval, w->pn, in->pixel_size)) {
            r2h_fmt(msg, msglen, "out of memory laying cells over pixels");
            return R2H_ERR_NOMEM;
        }
        w->ocap = w->pn;
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
    w->xrow = w->orow;
    w->xcol = w->ocol;
    w->xfrac = w->ofrac;
    w->xval = w->oval;
    w->st.rows += m;
    w->st.pairs += at;
    w->nout = m;
    w->st.phase[R2H_CELLS_SAMPLE] += r2h_now() - t2;
    return R2H_OK;
}
