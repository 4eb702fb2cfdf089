/* cells.c - the scan per cell (--method sample): plan chunks (cells a few levels coarser than
 * the output) over the raster's footprint, then on worker threads enumerate each chunk's cells
 * in index order, place their centres on the raster (a fitted model checked per chunk, exact
 * H3 + PROJ where the model is not trusted or a centre is near a pixel edge), read the pixels
 * under them and sample them with the kernel. docs/design/0009-cell-sampling.md. */
#include <math.h>
#include <pthread.h>
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
    int K = res < 5 ? res : 5;
    while (K > 0 && r2h_index_hex_area_avg_m2(res - K) / px_area > (double)o->window_pixels / 4)
        K--;
    struct footprint fp;
    enum r2h_status st = footprint(r, &fp, err, errlen);
    if (st != R2H_OK)
        return st;
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

/* ---- the model: centres from positions ---------------------------------------------------- */

/* A cubic polynomial in (s, t) = (u, v) / scale for each of two outputs. */
struct model {
    double scale, a[2][10];
};

static void monomials(double s, double t, double m[10])
{
    m[0] = 1;
    m[1] = s;
    m[2] = t;
    m[3] = s * s;
    m[4] = s * t;
    m[5] = t * t;
    m[6] = s * s * s;
    m[7] = s * s * t;
    m[8] = s * t * t;
    m[9] = t * t * t;
}

static inline void model_eval(const struct model *md, double u, double v, double *x, double *y)
{
    const double s = u * md->scale, t = v * md->scale;
    const double *a = md->a[0], *b = md->a[1];
    *x = a[0] + s * (a[1] + s * (a[3] + s * a[6] + t * a[7])) +
         t * (a[2] + s * a[4] + t * (a[5] + s * a[8] + t * a[9]));
    *y = b[0] + s * (b[1] + s * (b[3] + s * b[6] + t * b[7])) +
         t * (b[2] + s * b[4] + t * (b[5] + s * b[8] + t * b[9]));
}

/* Least squares over n points (normal equations, Gaussian elimination with pivoting). */
static int model_fit(struct model *md, size_t n, const double *u, const double *v, const double *x,
                     const double *y)
{
    double umax = 0;
    for (size_t i = 0; i < n; i++)
        umax = fmax(umax, fmax(fabs(u[i]), fabs(v[i])));
    if (umax == 0 || n < 10)
        return 0;
    md->scale = 1 / umax;
    double A[10][12];
    memset(A, 0, sizeof A);
    for (size_t i = 0; i < n; i++) {
        double m[10];
        monomials(u[i] * md->scale, v[i] * md->scale, m);
        for (int r = 0; r < 10; r++) {
            for (int c = 0; c < 10; c++)
                A[r][c] += m[r] * m[c];
            A[r][10] += m[r] * x[i];
            A[r][11] += m[r] * y[i];
        }
    }
    for (int c = 0; c < 10; c++) {
        int p = c;
        for (int r = c + 1; r < 10; r++)
            if (fabs(A[r][c]) > fabs(A[p][c]))
                p = r;
        if (fabs(A[p][c]) < 1e-300)
            return 0;
        if (p != c)
            for (int k = 0; k < 12; k++) {
                double t = A[c][k];
                A[c][k] = A[p][k];
                A[p][k] = t;
            }
        for (int r = 0; r < 10; r++) {
            if (r == c)
                continue;
            const double f = A[r][c] / A[c][c];
            for (int k = c; k < 12; k++)
                A[r][k] -= f * A[c][k];
        }
    }
    for (int c = 0; c < 10; c++) {
        md->a[0][c] = A[c][10] / A[c][c];
        md->a[1][c] = A[c][11] / A[c][c];
    }
    return 1;
}

/* ---- the run ------------------------------------------------------------------------------ */

struct cscan;

struct cworker {
    struct cscan *scan;
    int index;
    struct r2h_raster *raster;
    pthread_t tid;
    void *state;
    int begun;
    size_t cap; /* cells per chunk */
    uint64_t *cells, *out_cells;
    double *u, *v, *lat, *lng, *px, *py, *dval;
    uint8_t *ok, *has;
    int32_t *c0, *r0; /* kernel's top-left pixel per cell */
    double *qx, *qy;  /* exact positions of a subset */
    uint64_t *pcells; /* parents of a sub-chunk's cells (fast path) */
    double *pu, *pv;
    uint8_t *qok;
    uint32_t *near;
    size_t nout; /* cells of the last chunk that got a value */
    unsigned char *pix;
    /* window buffer */
    unsigned char *wvals;
    uint8_t *wvalid;
    size_t wcap;
    struct r2h_cells_stats st;
};

struct cscan {
    const struct r2h_cells_options *o;
    const struct r2h_cells_plan *plan;
    const struct r2h_cells_consumer *con;
    const struct r2h_raster_info *in;
    int model_ok;  /* centres may come from a fitted model (not for rotated geographic) */
    double period; /* geographic, north-up: 360 degrees in columns (wrap); else 0 */
    double off[R2H_INDEX_MAX_LEVELS][7][2]; /* r2h_index_offsets(chunk_res, resolution) */
    /* largest |u|, |v| of the descendants of a cell l levels below a chunk, about its centre */
    double umax_from[R2H_INDEX_MAX_LEVELS + 1], vmax_from[R2H_INDEX_MAX_LEVELS + 1];
    double west; /* geographic: the raster's west edge */
    int ks;      /* kernel size: 1, 2 or 4 */
    pthread_mutex_t mu;
    size_t next;
    enum r2h_status status;
    char *err;
    size_t errlen;
};

static void cfail(struct cscan *s, enum r2h_status st, const char *msg)
{
    pthread_mutex_lock(&s->mu);
    if (s->status == R2H_OK) {
        s->status = st;
        r2h_fmt(s->err, s->errlen, "%s", msg);
    }
    pthread_mutex_unlock(&s->mu);
}

static long take(struct cscan *s, uint64_t cells_done)
{
    long i = -1;
    pthread_mutex_lock(&s->mu);
    if (cells_done && s->con->progress)
        s->con->progress(s->con->ctx, cells_done);
    if (s->status == R2H_OK && s->next < s->plan->n)
        i = (long)s->next++;
    pthread_mutex_unlock(&s->mu);
    return i;
}

/* Exact pixel positions of cells idx[0..m) (all when idx is NULL): H3 centres, then PROJ. */
static enum r2h_status exact_positions(struct cworker *w, const uint32_t *idx, size_t m)
{
    /* gather into lat/lng at the front, scatter back */
    for (size_t j = 0; j < m; j++) {
        const size_t i = idx ? idx[j] : j;
        r2h_index_centres(&w->cells[i], 1, &w->lat[j], &w->lng[j]);
    }
    double *qx = w->qx, *qy = w->qy;
    uint8_t *qok = w->qok;
    enum r2h_status st = r2h_raster_to_pixel(w->raster, m, w->lat, w->lng, qx, qy, qok);
    if (st != R2H_OK)
        return st;
    for (size_t j = 0; j < m; j++) {
        const size_t i = idx ? idx[j] : j;
        w->px[i] = qx[j];
        w->py[i] = qy[j];
        w->ok[i] = qok[j];
    }
    return R2H_OK;
}

/* Pixel-space model of the centres of cells [lo, lo + cnt) (all descendants of one cell, 7^k of
 * them): fitted to exact centres, checked at others; 0 when not trusted. Geographic rasters are
 * fitted in unwrapped columns (wrapped per cell by s->period). */
static int fit_range(struct cworker *w, size_t lo, size_t cnt, struct model *md, double *margin)
{
    struct cscan *s = w->scan;
    enum { NT = 49, NC = 30, NP = NT + NC };
    size_t id[NP];
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 7; b++)
            id[a * 7 + b] = lo + (size_t)a * (cnt / 7) + (size_t)b * (cnt / 49);
    for (int j = 0; j < 24; j++)
        id[NT + j] = lo + (size_t)(((uint64_t)cnt * (2 * j + 1)) / 48);
    for (int d = 1; d <= 6; d++)
        id[NT + 23 + d] = lo + (size_t)d * (cnt - 1) / 6;
    double lat[NP], lng[NP], X[NP], Y[NP], U[NP], V[NP], ex[NP], ey[NP];
    uint8_t ok[NP];
    for (int j = 0; j < NP; j++) {
        r2h_index_centres(&w->cells[id[j]], 1, &lat[j], &lng[j]);
        U[j] = w->u[id[j]];
        V[j] = w->v[id[j]];
    }
    if (r2h_raster_to_pixel(w->raster, NP, lat, lng, ex, ey, ok) != R2H_OK)
        return 0;
    for (int j = 0; j < NP; j++)
        if (!ok[j])
            return 0;
    if (s->period > 0) {
        const double *gt = s->in->gt;
        for (int j = 0; j < NP; j++) {
            double l = lng[j];
            while (l - lng[0] > 180)
                l -= 360;
            while (l - lng[0] < -180)
                l += 360;
            X[j] = (l - s->west) / gt[1];
            Y[j] = (lat[j] - gt[3]) / gt[5];
        }
    } else {
        memcpy(X, ex, sizeof X);
        memcpy(Y, ey, sizeof Y);
    }
    if (!model_fit(md, NT, U, V, X, Y))
        return 0;
    double err = 0;
    for (int j = NT; j < NP; j++) {
        double mx, my;
        model_eval(md, U[j], V[j], &mx, &my);
        double dx = mx - ex[j];
        if (s->period > 0)
            dx -= s->period * nearbyint(dx / s->period);
        err = fmax(err, fmax(fabs(dx), fabs(my - ey[j])));
    }
    if (!(err < 1e-5))
        return 0;
    *margin = 16 * err + 1e-9;
    return 1;
}

/* Place cells [lo, lo + cnt) by the model md; those within margin of a pixel edge go to the
 * exact list. */
static void model_range(struct cworker *w, size_t lo, size_t cnt, const struct model *md,
                        double margin, size_t *nnear)
{
    struct cscan *s = w->scan;
    const double P = s->period;
    const double *a = md->a[0], *b = md->a[1], sc = md->scale;
    for (size_t i = lo; i < lo + cnt; i++) {
        const double su = w->u[i] * sc, tv = w->v[i] * sc;
        double x = a[0] + su * (a[1] + su * (a[3] + su * a[6] + tv * a[7])) +
                   tv * (a[2] + su * a[4] + tv * (a[5] + su * a[8] + tv * a[9]));
        const double y = b[0] + su * (b[1] + su * (b[3] + su * b[6] + tv * b[7])) +
                         tv * (b[2] + su * b[4] + tv * (b[5] + su * b[8] + tv * b[9]));
        if (P > 0) {
            if (x < 0)
                x += P;
            else if (x >= P)
                x -= P;
        }
        w->px[i] = x;
        w->py[i] = y;
        w->ok[i] = 1;
        const double fx = x - floor(x), fy = y - floor(y);
        if (fx < margin || fx > 1 - margin || fy < margin || fy > 1 - margin)
            w->near[(*nnear)++] = (uint32_t)i;
    }
}

/* Positions of cells [lo, lo + cnt), the descendants of cell (7^k of them unless under a
 * pentagon): the model where cell is planar and the model checks out, else its children one by
 * one down to k = 3, else exact. */
static enum r2h_status place(struct cworker *w, uint64_t cell, size_t lo, size_t cnt, int k,
                             size_t *nnear)
{
    struct cscan *s = w->scan;
    size_t p7 = 1;
    for (int i = 0; i < k; i++)
        p7 *= 7;
    /* Interpolating kernels use exact centres: their values move with the position. */
    const int modelable = s->ks == 1 && !s->o->exact && s->model_ok && cnt == p7;
    if (modelable && k >= 3 && r2h_index_planar(cell)) {
        struct model md;
        double margin;
        if (fit_range(w, lo, cnt, &md, &margin)) {
            model_range(w, lo, cnt, &md, margin, nnear);
            w->st.modelled_chunks++;
            return R2H_OK;
        }
    }
    if (modelable && k > 3) {
        for (int d = 0; d < 7; d++) {
            const size_t sub = p7 / 7, first = lo + (size_t)d * sub;
            const uint64_t child =
                r2h_index_parent(w->cells[first], r2h_index_resolution(cell) + 1);
            enum r2h_status st = place(w, child, first, sub, k - 1, nnear);
            if (st != R2H_OK)
                return st;
        }
        return R2H_OK;
    }
    w->st.exact_chunks++;
    for (size_t i = lo; i < lo + cnt; i++)
        w->near[(*nnear)++] = (uint32_t)i;
    return R2H_OK;
}

static enum r2h_status positions(struct cworker *w, uint64_t chunk, size_t n, int K)
{
    size_t m = 0;
    enum r2h_status st = place(w, chunk, 0, n, K, &m);
    if (st == R2H_OK && m) {
        w->st.exact += m;
        st = exact_positions(w, w->near, m);
    }
    return st;
}

static double as_double(enum r2h_dtype t, const unsigned char *p)
{
    switch (t) {
    case R2H_DT_UINT8: return *p;
    case R2H_DT_INT8: return (int8_t)*p;
    case R2H_DT_UINT16: {
        uint16_t x;
        memcpy(&x, p, 2);
        return x;
    }
    case R2H_DT_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        return x;
    }
    case R2H_DT_UINT32: {
        uint32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    case R2H_DT_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    case R2H_DT_UINT64: {
        uint64_t x;
        memcpy(&x, p, 8);
        return (double)x;
    }
    case R2H_DT_INT64: {
        int64_t x;
        memcpy(&x, p, 8);
        return (double)x;
    }
    case R2H_DT_FLOAT32: {
        float x;
        memcpy(&x, p, 4);
        return x;
    }
    case R2H_DT_FLOAT64: {
        double x;
        memcpy(&x, p, 8);
        return x;
    }
    }
    return 0;
}

/* Keys' cubic convolution weights (a = -0.5, GDAL's "cubic") for offsets -1, 0, 1, 2 at t. */
static void cubic_weights(double t, double w[4])
{
    const double t2 = t * t, t3 = t2 * t;
    w[0] = -0.5 * t3 + t2 - 0.5 * t;
    w[1] = 1.5 * t3 - 2.5 * t2 + 1;
    w[2] = -1.5 * t3 + 2 * t2 + 0.5 * t;
    w[3] = 0.5 * t3 - 0.5 * t2;
}

/* Sample the cells whose kernel's top row lies in [ylo, yhi) from window (wx, wy, ww, wh). */
static void sample_window(struct cworker *w, size_t n, int wx, int wy, int ww, int ylo, int yhi)
{
    struct cscan *s = w->scan;
    const size_t ps = s->in->pixel_size;
    const int ks = s->ks;
    const enum r2h_dtype dt = s->in->sel[0].dtype;
    for (size_t i = 0; i < n; i++) {
        if (!w->ok[i] || w->r0[i] < ylo || w->r0[i] >= yhi)
            continue;
        const size_t base = (size_t)(w->r0[i] - wy) * (size_t)ww + (size_t)(w->c0[i] - wx);
        if (ks == 1) {
            if (w->wvalid[base]) {
                memcpy(w->pix + i * ps, w->wvals + base * ps, ps);
                w->has[i] = 1;
            }
            continue;
        }
        int valid = 1;
        for (int a = 0; a < ks && valid; a++)
            for (int b = 0; b < ks; b++)
                if (!w->wvalid[base + (size_t)a * ww + b]) {
                    valid = 0;
                    break;
                }
        if (!valid)
            continue;
        const double x = w->px[i] - 0.5, y = w->py[i] - 0.5;
        const double tx = x - floor(x), ty = y - floor(y);
        double val;
        if (ks == 2) {
            const unsigned char *p = w->wvals + base * ps;
            const double v00 = as_double(dt, p), v01 = as_double(dt, p + ps),
                         v10 = as_double(dt, p + (size_t)ww * ps),
                         v11 = as_double(dt, p + ((size_t)ww + 1) * ps);
            val = (1 - ty) * ((1 - tx) * v00 + tx * v01) + ty * ((1 - tx) * v10 + tx * v11);
        } else {
            double wxk[4], wyk[4];
            cubic_weights(tx, wxk);
            cubic_weights(ty, wyk);
            val = 0;
            for (int a = 0; a < 4; a++) {
                double row = 0;
                const unsigned char *p = w->wvals + (base + (size_t)a * ww) * ps;
                for (int b = 0; b < 4; b++)
                    row += wxk[b] * as_double(dt, p + (size_t)b * ps);
                val += wyk[a] * row;
            }
        }
        w->dval[i] = val;
        w->has[i] = 1;
    }
}

static inline long ifloor(double x)
{
    const long i = (long)x;
    return i - (x < (double)i);
}

/* Copy one pixel record of ps bytes. */
static inline void put_pixel(unsigned char *dst, const unsigned char *src, size_t ps)
{
    switch (ps) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, ps);
    }
}

/* Range of the model's outputs over s in s0 +- S, t in t0 +- T (Taylor expansion of the cubic
 * about (s0, t0), bounded term by term), widened by one pixel. */
static void model_range_box(const struct model *md, double s0, double t0, double S, double T,
                            double lo[2], double hi[2])
{
    const double m[10] = {1, S, T, S * S, S * T, T * T, S * S * S, S * S * T, S * T * T, T * T * T};
    for (int o = 0; o < 2; o++) {
        const double *a = md->a[o], s = s0, t = t0;
        const double c[10] = {
            a[0] + s * (a[1] + s * (a[3] + s * a[6] + t * a[7])) +
                t * (a[2] + s * a[4] + t * (a[5] + s * a[8] + t * a[9])),
            a[1] + 2 * a[3] * s + a[4] * t + 3 * a[6] * s * s + 2 * a[7] * s * t + a[8] * t * t,
            a[2] + a[4] * s + 2 * a[5] * t + a[7] * s * s + 2 * a[8] * s * t + 3 * a[9] * t * t,
            a[3] + 3 * a[6] * s + a[7] * t,
            a[4] + 2 * a[7] * s + 2 * a[8] * t,
            a[5] + a[8] * s + 3 * a[9] * t,
            a[6],
            a[7],
            a[8],
            a[9]};
        double r = 0;
        for (int k = 1; k < 10; k++)
            r += fabs(c[k]) * m[k];
        lo[o] = c[0] - r - 1;
        hi[o] = c[0] + r + 1;
    }
}

/* The model of a chunk from exact centres of chosen descendants (r2h_index_descendant). */
static int fit_chunk(struct cworker *w, uint64_t chunk, size_t p7, struct model *md, double *margin)
{
    struct cscan *s = w->scan;
    /* Training: the centres of the 7 children and of 3 grandchildren of each (digits 1, 3, 5:
     * three directions); checking: 6 spread descendants and the 6 outermost (all digits d),
     * where a cubic's error is largest. */
    enum { NT = 28, NC = 12, NP = NT + NC };
    static const int GRAND[4] = {0, 1, 3, 5};
    uint64_t id[NP], cell[NP];
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 4; b++)
            id[a * 4 + b] = (uint64_t)a * (p7 / 7) + (uint64_t)GRAND[b] * (p7 / 49);
    for (int j = 0; j < 6; j++)
        id[NT + j] = ((uint64_t)p7 * (2 * j + 1)) / 12;
    for (int d = 1; d <= 6; d++)
        id[NT + 5 + d] = (uint64_t)d * (p7 - 1) / 6;
    double lat[NP], lng[NP], X[NP], Y[NP], U[NP], V[NP], ex[NP], ey[NP];
    uint8_t ok[NP];
    for (int j = 0; j < NP; j++)
        cell[j] = r2h_index_descendant(chunk, s->o->resolution, id[j], s->off, &U[j], &V[j]);
    r2h_index_centres(cell, NP, lat, lng);
    if (r2h_raster_to_pixel(w->raster, NP, lat, lng, ex, ey, ok) != R2H_OK)
        return 0;
    for (int j = 0; j < NP; j++)
        if (!ok[j])
            return 0;
    if (s->period > 0) {
        const double *gt = s->in->gt;
        for (int j = 0; j < NP; j++) {
            double l = lng[j];
            while (l - lng[0] > 180)
                l -= 360;
            while (l - lng[0] < -180)
                l += 360;
            X[j] = (l - s->west) / gt[1];
            Y[j] = (lat[j] - gt[3]) / gt[5];
        }
    } else {
        memcpy(X, ex, sizeof X);
        memcpy(Y, ey, sizeof Y);
    }
    if (!model_fit(md, NT, U, V, X, Y))
        return 0;
    double err = 0;
    for (int j = NT; j < NP; j++) {
        double mx, my;
        model_eval(md, U[j], V[j], &mx, &my);
        double dx = mx - ex[j];
        if (s->period > 0)
            dx -= s->period * nearbyint(dx / s->period);
        err = fmax(err, fmax(fabs(dx), fabs(my - ey[j])));
    }
    if (!(err < 1e-5))
        return 0;
    *margin = 16 * err + 1e-9;
    return 1;
}

/* The fast path of a chunk (nearest, the model trusted for the whole chunk): a window that
 * provably holds every descendant's centre (the model's range over the box of their positions,
 * widened by a pixel) is read first; then its sub-chunks (7^2 of them) one by one, each
 * enumerated only when its own part of the window has a valid pixel. Returns 1 with the chunk's
 * rows in out_cells/pix (w->nout), 0 to take the general path, -1 on a read error (msg). */
static int fast_chunk(struct cworker *w, uint64_t chunk, int K, char *msg, size_t msglen,
                      enum r2h_status *rst)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    size_t p7 = 1;
    for (int i = 0; i < K; i++)
        p7 *= 7;
    if (s->ks != 1 || s->o->exact || !s->model_ok || K < 3 || !r2h_index_planar(chunk))
        return 0;
    struct model md;
    double margin;
    if (!fit_chunk(w, chunk, p7, &md, &margin))
        return 0;
    w->st.modelled_chunks++;
    double lo[2], hi[2];
    const double sc = md.scale;
    model_range_box(&md, 0, 0, s->umax_from[0] * sc, s->vmax_from[0] * sc, lo, hi);
    const double clo[2] = {lo[0], lo[1]};
    if (s->period > 0 && (lo[0] < 0 || hi[0] >= s->period))
        return 0; /* across the raster's seam in longitude */
    if (!(hi[0] >= 0 && hi[1] >= 0 && lo[0] < in->width && lo[1] < in->height &&
          hi[0] - lo[0] < 1e9 && hi[1] - lo[1] < 1e9)) {
        w->nout = 0;
        w->st.cells += p7;
        return 1; /* nothing of the chunk is on the raster */
    }
    const long wx = lo[0] < 0 ? 0 : ifloor(lo[0]), wy = lo[1] < 0 ? 0 : ifloor(lo[1]);
    const long wx1 = hi[0] >= in->width ? in->width - 1 : ifloor(hi[0]);
    const long wy1 = hi[1] >= in->height ? in->height - 1 : ifloor(hi[1]);
    const long ww = wx1 - wx + 1, wh = wy1 - wy + 1;
    if ((size_t)ww * (size_t)wh > w->wcap)
        return 0;
    double t0 = r2h_now();
    enum r2h_status st = r2h_raster_read(w->raster, (int)wx, (int)wy, (int)ww, (int)wh, w->wvals,
                                         w->wvalid, msg, msglen);
    w->st.phase[R2H_CELLS_READ] += r2h_now() - t0;
    if (st != R2H_OK) {
        *rst = st;
        return -1;
    }
    const int L = K >= 4 ? 2 : 1;
    size_t nsub = 1;
    for (int i = 0; i < L; i++)
        nsub *= 7;
    const size_t sub = p7 / nsub;
    const size_t ps = in->pixel_size;
    const int res = s->o->resolution;
    const double *a = md.a[0], *b = md.a[1];
    int32_t *idx = w->c0;
    /* The last level's steps, and the linearisation's error bound: the second and third order
     * Taylor terms of the cubic over the chunk's box, at steps of at most (dS, dT). */
    const int cshift = (15 - res) * 3;
    double lds[7], ldt[7], dS = 0, dT = 0;
    for (int d = 0; d < 7; d++) {
        lds[d] = s->off[K - 1][d][0] * sc;
        ldt[d] = s->off[K - 1][d][1] * sc;
        dS = fmax(dS, fabs(lds[d]));
        dT = fmax(dT, fabs(ldt[d]));
    }
    double lin = 0;
    {
        const double S = s->umax_from[0] * sc, T = s->vmax_from[0] * sc;
        for (int o = 0; o < 2; o++) {
            const double *q = md.a[o];
            const double c3 = fabs(q[3]) + 3 * fabs(q[6]) * S + fabs(q[7]) * T;
            const double c4 = fabs(q[4]) + 2 * fabs(q[7]) * S + 2 * fabs(q[8]) * T;
            const double c5 = fabs(q[5]) + fabs(q[8]) * S + 3 * fabs(q[9]) * T;
            const double e = c3 * dS * dS + c4 * dS * dT + c5 * dT * dT +
                             fabs(q[6]) * dS * dS * dS + fabs(q[7]) * dS * dS * dT +
                             fabs(q[8]) * dS * dT * dT + fabs(q[9]) * dT * dT * dT;
            lin = fmax(lin, e);
        }
    }
    const double lmargin = margin + 2 * lin;
    if (!(lmargin < 0.01))
        return 0;
    const double half = 0.5 - lmargin; /* |fraction - 0.5| beyond this: near a pixel edge */
    const long KXl = 1 - ifloor(clo[0]), KYl = 1 - ifloor(clo[1]);
    const double KX = (double)KXl, KY = (double)KYl;
    const long WX = wx + KXl, WY = wy + KYl; /* the window in shifted columns and rows */
    size_t m = 0;
    for (size_t si = 0; si < nsub; si++) {
        /* The sub-chunk: its cell, the position of its centre, the box of its descendants. */
        double u0, v0;
        const uint64_t first = r2h_index_descendant(chunk, res, si * sub, s->off, &u0, &v0);
        const uint64_t subcell = r2h_index_parent(first, res - K + L);
        model_range_box(&md, u0 * sc, v0 * sc, s->umax_from[L] * sc, s->vmax_from[L] * sc, lo, hi);
        const long sx0 = lo[0] < wx ? wx : ifloor(lo[0]), sy0 = lo[1] < wy ? wy : ifloor(lo[1]);
        const long sx1 = hi[0] >= wx1 ? wx1 : ifloor(hi[0]),
                   sy1 = hi[1] >= wy1 ? wy1 : ifloor(hi[1]);
        int any = 0;
        for (long y = sy0; y <= sy1 && !any; y++) {
            const uint8_t *vr = w->wvalid + (size_t)(y - wy) * (size_t)ww;
            for (long x = sx0; x <= sx1; x++)
                if (vr[x - wx]) {
                    any = 1;
                    break;
                }
        }
        w->st.cells += sub;
        if (!any)
            continue;
        /* The sub-chunk's cells one level up (parents), then each parent's 7 children by the
         * model's linearisation at the parent (error bounded into the margin). */
        const size_t np = r2h_index_descendants_with(
            subcell, res - 1, (const double(*)[7][2])s->off + L, w->pcells, w->pu, w->pv);
        const size_t n = np * 7;
        size_t nn = 0;
        for (size_t p = 0; p < np; p++) {
            const double su = (w->pu[p] + u0) * sc, tv = (w->pv[p] + v0) * sc;
            const double x0 = a[0] + su * (a[1] + su * (a[3] + su * a[6] + tv * a[7])) +
                              tv * (a[2] + su * a[4] + tv * (a[5] + su * a[8] + tv * a[9]));
            const double y0 = b[0] + su * (b[1] + su * (b[3] + su * b[6] + tv * b[7])) +
                              tv * (b[2] + su * b[4] + tv * (b[5] + su * b[8] + tv * b[9]));
            const double xs = a[1] + 2 * a[3] * su + a[4] * tv + 3 * a[6] * su * su +
                              2 * a[7] * su * tv + a[8] * tv * tv;
            const double xt = a[2] + a[4] * su + 2 * a[5] * tv + a[7] * su * su +
                              2 * a[8] * su * tv + 3 * a[9] * tv * tv;
            const double ys = b[1] + 2 * b[3] * su + b[4] * tv + 3 * b[6] * su * su +
                              2 * b[7] * su * tv + b[8] * tv * tv;
            const double yt = b[2] + b[4] * su + 2 * b[5] * tv + b[7] * su * su +
                              2 * b[8] * su * tv + 3 * b[9] * tv * tv;
            const uint64_t base =
                (w->pcells[p] & ~(((uint64_t)0xf << 52) | ((uint64_t)7 << cshift))) |
                ((uint64_t)res << 52);
            /* Positions are shifted by (KX, KY) >= 1 - the chunk's lowest column and row, so
             * that they are >= 1 and truncation is floor. */
            const double xk = x0 + KX, yk = y0 + KY;
            for (int d = 0; d < 7; d++) {
                const size_t i = p * 7 + (size_t)d;
                w->cells[i] = base | ((uint64_t)d << cshift);
                const double x = xk + xs * lds[d] + xt * ldt[d];
                const double y = yk + ys * lds[d] + yt * ldt[d];
                if (!(x >= 0.5 && y >= 0.5))
                    return 0; /* below the chunk's bound: never expected */
                const long ix = (long)x, iy = (long)y;
                const double fx = x - (double)ix, fy = y - (double)iy;
                if ((fabs(fx - 0.5) > half) | (fabs(fy - 0.5) > half)) {
                    idx[i] = -1;
                    w->near[nn++] = (uint32_t)i;
                    continue;
                }
                const unsigned long ux = (unsigned long)(ix - WX), uy = (unsigned long)(iy - WY);
                if (ux < (unsigned long)ww && uy < (unsigned long)wh)
                    idx[i] = (int32_t)(uy * (unsigned long)ww + ux);
                else if ((unsigned long)(ix - KXl) < (unsigned long)in->width &&
                         (unsigned long)(iy - KYl) < (unsigned long)in->height)
                    return 0; /* outside the window yet on the raster: never expected */
                else
                    idx[i] = -1;
            }
        }
        if (nn) {
            w->st.exact += nn;
            if (exact_positions(w, w->near, nn) != R2H_OK)
                return 0;
            for (size_t j = 0; j < nn; j++) {
                const size_t i = w->near[j];
                if (!w->ok[i] || !(w->px[i] > -2 && w->py[i] > -2 && w->px[i] < in->width + 2.0 &&
                                   w->py[i] < in->height + 2.0))
                    continue;
                const long ix = ifloor(w->px[i]), iy = ifloor(w->py[i]);
                if (ix >= wx && ix <= wx1 && iy >= wy && iy <= wy1)
                    idx[i] = (int32_t)((iy - wy) * ww + (ix - wx));
                else if (ix >= 0 && iy >= 0 && ix < in->width && iy < in->height)
                    return 0;
            }
        }
        for (size_t i = 0; i < n; i++) {
            const int32_t o = idx[i];
            if (o < 0 || !w->wvalid[o])
                continue;
            w->out_cells[m] = w->cells[i];
            put_pixel(w->pix + m * ps, w->wvals + (size_t)o * ps, ps);
            m++;
        }
    }
    w->st.rows += m;
    w->nout = m;
    return 1;
}

static enum r2h_status do_chunk(struct cworker *w, uint64_t chunk, char *msg, size_t msglen)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    const int res = s->o->resolution, K = res - s->plan->chunk_res;
    double t0 = r2h_now();
    const int want_uv = s->ks == 1 && !s->o->exact && s->model_ok && K >= 3;
    if (want_uv) {
        enum r2h_status fst = R2H_OK;
        const uint64_t cells0 = w->st.cells, rows0 = w->st.rows;
        const int f = fast_chunk(w, chunk, K, msg, msglen, &fst);
        w->st.phase[R2H_CELLS_CENTRE] += r2h_now() - t0;
        if (f < 0)
            return fst;
        if (f > 0)
            return R2H_OK;
        w->st.cells = cells0; /* the general path counts again */
        w->st.rows = rows0;
        t0 = r2h_now();
    }
    const size_t n =
        r2h_index_descendants(chunk, res, w->cells, want_uv ? w->u : NULL, want_uv ? w->v : NULL);
    w->st.cells += n;
    enum r2h_status pst = positions(w, chunk, n, K);
    if (pst != R2H_OK) {
        r2h_fmt(msg, msglen, "cannot transform cell centres to the raster's CRS");
        return pst;
    }
    double t1 = r2h_now();
    w->st.phase[R2H_CELLS_CENTRE] += t1 - t0;
    /* Kernel windows, and the window of the chunk. */
    const int ks = s->ks;
    const double shift = ks == 1 ? 0.0 : 0.5;
    const int back = ks == 4 ? 1 : 0;
    int x0 = INT32_MAX, y0 = INT32_MAX, x1 = -1, y1 = -1;
    for (size_t i = 0; i < n; i++) {
        w->has[i] = 0;
        if (!w->ok[i])
            continue;
        const double x = w->px[i] - shift, y = w->py[i] - shift;
        if (!(x >= -4 && y >= -4 && x < in->width + 4.0 && y < in->height + 4.0)) {
            w->ok[i] = 0;
            continue;
        }
        const int c = (int)floor(x) - back, r = (int)floor(y) - back;
        if (c < 0 || r < 0 || c + ks > in->width || r + ks > in->height) {
            w->ok[i] = 0;
            continue;
        }
        w->c0[i] = c;
        w->r0[i] = r;
        x0 = c < x0 ? c : x0;
        y0 = r < y0 ? r : y0;
        x1 = c > x1 ? c : x1;
        y1 = r > y1 ? r : y1;
    }
    if (x1 >= 0) {
        const int ww = x1 - x0 + ks, wh = y1 - y0 + ks;
        /* Rows of kernel tops per read that fit the window buffer. */
        size_t rows = w->wcap / (size_t)ww;
        if (rows < (size_t)ks) {
            r2h_fmt(msg, msglen, "a sample window %d pixels wide does not fit --memory", ww);
            return R2H_ERR_NOMEM;
        }
        const int step = (int)(rows - (size_t)(ks - 1)) < wh ? (int)(rows - (size_t)(ks - 1)) : wh;
        for (int ys = y0; ys <= y1; ys += step) {
            const int ye = ys + step - 1 < y1 ? ys + step - 1 : y1; /* kernel tops ys..ye */
            const int h = ye - ys + ks;
            double r0t = r2h_now();
            enum r2h_status st =
                r2h_raster_read(w->raster, x0, ys, ww, h, w->wvals, w->wvalid, msg, msglen);
            w->st.phase[R2H_CELLS_READ] += r2h_now() - r0t;
            if (st != R2H_OK)
                return st;
            sample_window(w, n, x0, ys, ww, ys, ye + 1);
        }
    }
    double t2 = r2h_now();
    w->st.phase[R2H_CELLS_SAMPLE] += t2 - t1;
    /* Compact the cells that got a value, in order. */
    const size_t ps = in->pixel_size;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!w->has[i])
            continue;
        w->out_cells[m] = w->cells[i];
        if (ks == 1) {
            if (m != i)
                memcpy(w->pix + m * ps, w->pix + i * ps, ps);
        } else {
            w->dval[m] = w->dval[i];
        }
        m++;
    }
    w->st.rows += m;
    w->nout = m;
    return R2H_OK;
}

static void *cworker_main(void *arg)
{
    struct cworker *w = arg;
    struct cscan *s = w->scan;
    char msg[1024];
    enum r2h_status st = R2H_OK;
    if (s->con->begin_worker &&
        (st = s->con->begin_worker(s->con->ctx, w->index, &w->state, msg, sizeof msg)) != R2H_OK) {
        cfail(s, st, msg);
        return NULL;
    }
    w->begun = 1;
    long i;
    uint64_t done = 0;
    while ((i = take(s, done)) >= 0) {
        const uint64_t chunk = s->plan->chunks[i];
        const uint64_t before = w->st.cells;
        msg[0] = 0;
        if ((st = do_chunk(w, chunk, msg, sizeof msg)) != R2H_OK) {
            cfail(s, st, msg);
            break;
        }
        done = w->st.cells - before;
        /* Hand the chunk's rows to the consumer. */
        const double t = r2h_now();
        const struct r2h_cells_batch b = {.seq = (size_t)i,
                                          .chunk = chunk,
                                          .base_cell = r2h_index_base_cell(chunk),
                                          .n = w->nout,
                                          .cells = w->out_cells,
                                          .vals = s->ks == 1 ? w->pix : NULL,
                                          .pixel_size = s->in->pixel_size,
                                          .dvals = s->ks == 1 ? NULL : w->dval};
        st = s->con->consume ? s->con->consume(w->state, &b, msg, sizeof msg) : R2H_OK;
        w->st.phase[R2H_CELLS_CONSUME] += r2h_now() - t;
        if (st != R2H_OK) {
            cfail(s, st, msg);
            break;
        }
    }
    if (s->con->end_worker) /* on the worker's own thread, as begin_worker */
        s->con->end_worker(w->state);
    return NULL;
}

static void free_worker(struct cworker *w)
{
    r2h_free(w->cells);
    r2h_free(w->out_cells);
    r2h_free(w->u);
    r2h_free(w->v);
    r2h_free(w->lat);
    r2h_free(w->lng);
    r2h_free(w->px);
    r2h_free(w->py);
    r2h_free(w->dval);
    r2h_free(w->ok);
    r2h_free(w->has);
    r2h_free(w->c0);
    r2h_free(w->r0);
    r2h_free(w->qx);
    r2h_free(w->qy);
    r2h_free(w->qok);
    r2h_free(w->near);
    r2h_free(w->pcells);
    r2h_free(w->pu);
    r2h_free(w->pv);
    r2h_free(w->pix);
    r2h_free(w->wvals);
    r2h_free(w->wvalid);
}

static int alloc_worker(struct cworker *w, size_t cap, size_t ps, size_t wcap)
{
    w->cap = cap;
    w->wcap = wcap;
    w->cells = r2h_malloc(cap * sizeof *w->cells);
    w->out_cells = r2h_malloc(cap * sizeof *w->out_cells);
    w->u = r2h_malloc(cap * sizeof(double));
    w->v = r2h_malloc(cap * sizeof(double));
    w->lat = r2h_malloc(cap * sizeof(double));
    w->lng = r2h_malloc(cap * sizeof(double));
    w->px = r2h_malloc(cap * sizeof(double));
    w->py = r2h_malloc(cap * sizeof(double));
    w->dval = r2h_malloc(cap * sizeof(double));
    w->qx = r2h_malloc(cap * sizeof(double));
    w->qy = r2h_malloc(cap * sizeof(double));
    w->ok = r2h_malloc(cap);
    w->has = r2h_malloc(cap);
    w->qok = r2h_malloc(cap);
    w->c0 = r2h_malloc(cap * sizeof(int32_t));
    w->r0 = r2h_malloc(cap * sizeof(int32_t));
    w->near = r2h_malloc(cap * sizeof(uint32_t));
    w->pcells = r2h_malloc((cap / 7 + 1) * sizeof(uint64_t));
    w->pu = r2h_malloc((cap / 7 + 1) * sizeof(double));
    w->pv = r2h_malloc((cap / 7 + 1) * sizeof(double));
    w->pix = r2h_malloc(cap * ps);
    w->wvals = r2h_malloc(wcap * ps);
    w->wvalid = r2h_malloc(wcap);
    return w->cells && w->out_cells && w->u && w->v && w->lat && w->lng && w->px && w->py &&
           w->dval && w->qx && w->qy && w->ok && w->has && w->qok && w->c0 && w->r0 && w->near &&
           w->pix && w->wvals && w->wvalid && w->pcells && w->pu && w->pv;
}

enum r2h_status r2h_scan_cells_run(const struct r2h_cells_options *o,
                                   const struct r2h_cells_plan *plan,
                                   const struct r2h_cells_consumer *con,
                                   struct r2h_cells_stats *stats, char *err, size_t errlen)
{
    struct cscan s = {.o = o, .plan = plan, .con = con, .err = err, .errlen = errlen};
    s.in = r2h_raster_get_info(o->rasters[0]);
    {
        const double *gt = s.in->gt;
        const int plain = gt[2] == 0 && gt[4] == 0;
        s.model_ok = !s.in->geographic || (plain && gt[1] > 0);
        s.period = s.in->geographic && s.model_ok ? 360.0 / gt[1] : 0;
        s.west = gt[0];
        const int levels = o->resolution - plan->chunk_res;
        r2h_index_offsets(plan->chunk_res, o->resolution, s.off);
        for (int l = levels - 1; l >= 0; l--) {
            double um = 0, vm = 0;
            for (int d = 0; d < 7; d++) {
                um = fmax(um, fabs(s.off[l][d][0]));
                vm = fmax(vm, fabs(s.off[l][d][1]));
            }
            s.umax_from[l] = s.umax_from[l + 1] + um;
            s.vmax_from[l] = s.vmax_from[l + 1] + vm;
        }
    }
    s.ks = o->kernel == R2H_KERNEL_NEAREST ? 1 : o->kernel == R2H_KERNEL_BILINEAR ? 2 : 4;
    const int nw = o->nworkers < 1 ? 1 : o->nworkers;
    size_t cap = 1;
    for (int i = plan->chunk_res; i < o->resolution; i++)
        cap *= 7;
    struct cworker *wk = r2h_calloc((size_t)nw, sizeof *wk);
    if (!wk) {
        r2h_fmt(err, errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    pthread_mutex_init(&s.mu, NULL);
    for (int i = 0; i < nw; i++) {
        wk[i].scan = &s;
        wk[i].index = i;
        wk[i].raster = o->rasters[i];
        if (!alloc_worker(&wk[i], cap, s.in->pixel_size,
                          o->window_pixels > 4096 ? o->window_pixels : 4096)) {
            r2h_fmt(err, errlen, "out of memory allocating sample buffers");
            s.status = R2H_ERR_NOMEM;
        }
    }
    int started = 1;
    if (s.status == R2H_OK) {
        for (int i = 1; i < nw; i++) {
            if (pthread_create(&wk[i].tid, NULL, cworker_main, &wk[i]) != 0)
                break;
            started++;
        }
        cworker_main(&wk[0]);
        for (int i = 1; i < started; i++)
            pthread_join(wk[i].tid, NULL);
    }
    for (int i = 0; i < nw; i++) {
        if (stats)
            stats[i] = wk[i].st;
        free_worker(&wk[i]);
    }
    r2h_free(wk);
    pthread_mutex_destroy(&s.mu);
    return s.status;
}
