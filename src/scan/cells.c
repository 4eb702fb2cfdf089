/* cells.c - the scan per cell (--method sample): worker threads take the plan's chunks in
 * turn, enumerate each chunk's cells in index order, place their centres on the raster (the fast
 * path of cells_fast.c, else per sub-chunk the checked model or exact H3 + PROJ), read the pixels
 * under them and sample them with the kernel, and hand each chunk's cells that got a value to
 * the consumer. docs/design/0009-cell-sampling.md. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "cells_internal.h"

/* ---- the run ------------------------------------------------------------------------------ */

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
    if (cells_done && s->con->progress && s->con->progress(s->con->ctx, cells_done) &&
        s->status == R2H_OK) {
        s->status = R2H_ERR_INTERRUPTED;
        r2h_fmt(s->err, s->errlen, "stopped: the rows are no longer wanted");
    }
    if (s->status == R2H_OK && s->next < s->plan->n)
        i = (long)s->next++;
    pthread_mutex_unlock(&s->mu);
    return i;
}

/* Exact pixel positions of cells idx[0..m) (all when idx is NULL): H3 centres, then PROJ. */
enum r2h_status r2h_cells_exact_positions(struct cworker *w, const uint32_t *idx, size_t m)
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

/* Place cells [lo, lo + cnt) by the model md; those within margin of a pixel edge go to the
 * exact list. */
static void model_range(struct cworker *w, size_t lo, size_t cnt, const struct r2h_cells_model *md,
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
        struct r2h_cells_model md;
        double margin;
        if (r2h_cells_fit(w, cell, s->o->resolution - s->plan->chunk_res - k, cnt, w->u[lo],
                          w->v[lo], &md, &margin)) {
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
        st = r2h_cells_exact_positions(w, w->near, m);
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

static enum r2h_status do_chunk(struct cworker *w, uint64_t chunk, char *msg, size_t msglen)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    const int res = s->o->resolution, K = res - s->plan->chunk_res;
    if (s->o->kernel == R2H_KERNEL_OVERLAY)
        return r2h_cells_overlay_chunk(w, chunk, msg, msglen);
    double t0 = r2h_now();
    const int want_uv = s->ks == 1 && !s->o->exact && s->model_ok && K >= 3;
    if (want_uv) {
        enum r2h_status fst = R2H_OK;
        const uint64_t cells0 = w->st.cells, rows0 = w->st.rows;
        const int f = r2h_cells_fast_chunk(w, chunk, K, msg, msglen, &fst);
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
        const int ov = s->o->kernel == R2H_KERNEL_OVERLAY;
        const struct r2h_cells_batch b = {.seq = (size_t)i,
                                          .chunk = chunk,
                                          .base_cell = r2h_index_base_cell(chunk),
                                          .n = w->nout,
                                          .cells = w->out_cells,
                                          .vals = s->ks == 1 && !ov ? w->pix : NULL,
                                          .pixel_size = s->in->pixel_size,
                                          .dvals = s->ks == 1 || ov ? NULL : w->dval,
                                          .pstart = ov ? w->pstart : NULL,
                                          .prow = w->xrow,
                                          .pcol = w->xcol,
                                          .pfrac = w->xfrac,
                                          .pvals = w->xval,
                                          .area = w->oarea,
                                          .cover = w->ocover};
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
    r2h_free(w->vlat);
    r2h_free(w->vlng);
    r2h_free(w->vx);
    r2h_free(w->vy);
    r2h_free(w->nv);
    r2h_free(w->carea);
    r2h_free(w->vcov);
    r2h_free(w->oarea);
    r2h_free(w->ocover);
    r2h_free(w->pstart);
    r2h_free(w->pcell);
    r2h_free(w->prow);
    r2h_free(w->pcol);
    r2h_free(w->pfrac);
    r2h_free(w->pval);
    r2h_free(w->orow);
    r2h_free(w->ocol);
    r2h_free(w->ofrac);
    r2h_free(w->oval);
    r2h_free(w->cscr);
}

/* The overlay's polygons and per-cell sums (pairs grow as needed). */
static int alloc_overlay(struct cworker *w, size_t cap)
{
    const size_t nvert = cap * R2H_CELLS_MAX_VERTS;
    w->vlat = r2h_malloc(nvert * sizeof(double));
    w->vlng = r2h_malloc(nvert * sizeof(double));
    w->vx = r2h_malloc(nvert * sizeof(double));
    w->vy = r2h_malloc(nvert * sizeof(double));
    w->nv = r2h_malloc(cap);
    w->carea = r2h_malloc(cap * sizeof(double));
    w->vcov = r2h_malloc(cap * sizeof(double));
    w->oarea = r2h_malloc(cap * sizeof(double));
    w->ocover = r2h_malloc(cap * sizeof(double));
    w->pstart = r2h_malloc((cap + 1) * sizeof(uint32_t));
    /* vertices through PROJ */
    r2h_free(w->qx);
    r2h_free(w->qy);
    r2h_free(w->qok);
    w->qx = r2h_malloc(nvert * sizeof(double));
    w->qy = r2h_malloc(nvert * sizeof(double));
    w->qok = r2h_malloc(nvert);
    return w->vlat && w->vlng && w->vx && w->vy && w->nv && w->carea && w->vcov && w->oarea &&
           w->ocover && w->pstart && w->qx && w->qy && w->qok;
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
        const double in_w = s.in->width, in_h = s.in->height;
        const int plain = gt[2] == 0 && gt[4] == 0;
        s.model_ok = !s.in->geographic || (plain && gt[1] > 0);
        s.period = s.in->geographic && s.model_ok ? 360.0 / gt[1] : 0;
        s.west = gt[0];
        s.xwest = fmin(fmin(gt[0], gt[0] + in_w * gt[1]),
                       fmin(gt[0] + in_h * gt[2], gt[0] + in_w * gt[1] + in_h * gt[2]));
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
    s.ks = o->kernel == R2H_KERNEL_NEAREST || o->kernel == R2H_KERNEL_OVERLAY ? 1
           : o->kernel == R2H_KERNEL_BILINEAR                                 ? 2
                                                                              : 4;
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
                          o->window_pixels > 4096 ? o->window_pixels : 4096) ||
            (o->kernel == R2H_KERNEL_OVERLAY && !alloc_overlay(&wk[i], cap))) {
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
