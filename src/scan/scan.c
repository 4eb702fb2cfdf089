/* scan.c - the scan stage: chunk planning and the worker loop (read, locate, index, hand rows
 * to the consumer), moved out of the convert read pass. */
#include <pthread.h>
#include <string.h>

#include "r2h_common.h"
#include "r2h_index.h"
#include "r2h_index_fast.h"
#include "r2h_raster.h"
#include "r2h_scan.h"

static enum r2h_status add_chunk(struct r2h_scan_chunk **chunks, size_t *n, size_t *cap,
                                 uint64_t *pixels, int x, int y, int w, int h, char *err,
                                 size_t errlen)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        struct r2h_scan_chunk *c = r2h_realloc(*chunks, *cap * sizeof *c);
        if (!c) {
            r2h_fmt(err, errlen, "out of memory planning chunks");
            return R2H_ERR_NOMEM;
        }
        *chunks = c;
    }
    (*chunks)[(*n)++] = (struct r2h_scan_chunk){x, y, w, h};
    *pixels += (uint64_t)w * h;
    return R2H_OK;
}

/* Bands of whole block rows, several when they are small; when one block row is larger than
 * the target (wide rasters: the global carbon map is 133,584 pixels wide), pieces of a block row
 * made of whole blocks. Rasters stored in strips as wide as the window keep bands of rows (a
 * strip row is read whole either way). */
enum r2h_status r2h_scan_plan_chunks(const struct r2h_raster_info *in, size_t target,
                                     const int (*win)[4], int nwin, struct r2h_scan_chunk **chunks,
                                     size_t *n, uint64_t *pixels, char *err, size_t errlen)
{
    size_t cap = 0;
    *chunks = NULL;
    *n = 0;
    *pixels = 0;
    for (int i = 0; i < nwin; i++) {
        const int x0 = win[i][0], y0 = win[i][1], w = win[i][2], h = win[i][3];
        const int bw = in->block_w > 0 ? in->block_w : in->width;
        int bh = in->block_h > 0 ? in->block_h : 1, cw = w;
        if ((size_t)bh * w > target && bw < w) {
            const size_t nb = target / ((size_t)bh * (size_t)bw);
            cw = (int)(nb > 1 ? nb : 1) * bw; /* a multiple of the block width */
        } else {
            while (bh > 1 && (size_t)bh * w > target)
                bh /= 2;
            while ((size_t)bh * 2 * w <= target && bh * 2 <= h)
                bh *= 2;
        }
        for (int y = y0; y < y0 + h;) {
            const int ynext = (y / bh + 1) * bh < y0 + h ? (y / bh + 1) * bh : y0 + h;
            for (int x = x0; x < x0 + w;) {
                /* piece boundaries at multiples of cw from the raster's origin: block edges */
                const int xnext = cw >= w                      ? x0 + w
                                  : (x / cw + 1) * cw < x0 + w ? (x / cw + 1) * cw
                                                               : x0 + w;
                enum r2h_status st =
                    add_chunk(chunks, n, &cap, pixels, x, y, xnext - x, ynext - y, err, errlen);
                if (st != R2H_OK)
                    return st;
                x = xnext;
            }
            y = ynext;
        }
    }
    return R2H_OK;
}

struct scan;

/* One thread's state: its GDAL handle and scratch buffers. */
struct scan_worker {
    struct scan *scan;
    int index;
    struct r2h_raster *raster;
    struct r2h_scan_stats *st;
    void *state; /* the consumer's */
    void *vals;
    uint8_t *valid, *ok;
    double *lat, *lng;
    uint64_t *cells;
    size_t cap_pix, cap_w;
    pthread_t tid;
};

struct scan {
    const struct r2h_scan_options *opt;
    const struct r2h_scan_consumer *con;
    size_t pixel_size;
    pthread_mutex_t mu;
    size_t next;            /* next chunk to take */
    enum r2h_status status; /* first error; workers stop when set */
    char *err;
    size_t errlen;
};

static void scan_fail(struct scan *s, enum r2h_status st, const char *msg)
{
    pthread_mutex_lock(&s->mu);
    if (s->status == R2H_OK) {
        s->status = st;
        r2h_fmt(s->err, s->errlen, "%s", msg);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Report done pixels and take the next chunk, or -1 when done or after an error. */
static long take_next(struct scan *s, uint64_t done)
{
    long i = -1;
    pthread_mutex_lock(&s->mu);
    if (done && s->con->progress && s->con->progress(s->con->ctx, done) && s->status == R2H_OK) {
        s->status = R2H_ERR_INTERRUPTED;
        r2h_fmt(s->err, s->errlen, "stopped: the rows are no longer wanted");
    }
    if (s->status == R2H_OK && s->next < s->opt->nchunks)
        i = (long)s->next++;
    pthread_mutex_unlock(&s->mu);
    return i;
}

static enum r2h_status worker_buffers(struct scan_worker *wk, size_t npix, size_t w)
{
    const size_t vsz = wk->scan->pixel_size;
    if (npix > wk->cap_pix) {
        r2h_free(wk->vals);
        r2h_free(wk->valid);
        wk->vals = r2h_malloc(npix * vsz);
        wk->valid = r2h_malloc(npix);
        wk->cap_pix = (wk->vals && wk->valid) ? npix : 0;
        if (!wk->cap_pix)
            return R2H_ERR_NOMEM;
    }
    if (w > wk->cap_w) {
        r2h_free(wk->ok);
        r2h_free(wk->lat);
        r2h_free(wk->lng);
        r2h_free(wk->cells);
        wk->ok = r2h_malloc(w);
        wk->lat = r2h_malloc(w * sizeof *wk->lat);
        wk->lng = r2h_malloc(w * sizeof *wk->lng);
        wk->cells = r2h_malloc(w * sizeof *wk->cells);
        wk->cap_w = (wk->ok && wk->lat && wk->lng && wk->cells) ? w : 0;
        if (!wk->cap_w)
            return R2H_ERR_NOMEM;
    }
    return R2H_OK;
}

static void free_buffers(struct scan_worker *wk)
{
    r2h_free(wk->vals);
    r2h_free(wk->valid);
    r2h_free(wk->ok);
    r2h_free(wk->lat);
    r2h_free(wk->lng);
    r2h_free(wk->cells);
}

/* Cells of the valid pixels of one raster row into wk->cells (wk->ok marks them). Geographic
 * grids take the fast exact grid path (centres computed inside, no lat/lng arrays); other
 * rasters are located through PROJ, then indexed by the fast exact point path, or by the
 * reference latLngToCell when asked. Pixels off the globe (geographic rasters) and pixels PROJ
 * cannot transform are dropped and counted for the run's warnings. *t_located is set when
 * locating ends. */
static enum r2h_status locate_and_index(struct scan_worker *wk, int row, int col0, int w,
                                        const uint8_t *valid, double *t_located)
{
    const struct r2h_scan_options *opt = wk->scan->opt;
    struct r2h_scan_stats *ss = wk->st;
    if (opt->grid) {
        memcpy(wk->ok, valid, (size_t)w);
        r2h_raster_drop_off_globe(wk->raster, row, col0, w, wk->ok, &ss->beyond_pole,
                                  &ss->repeated);
        *t_located = r2h_now();
        r2h_fast_grid_cells(opt->grid, row, col0, w, wk->ok, wk->cells, &ss->fallbacks);
        return R2H_OK;
    }
    enum r2h_status st = r2h_raster_locate_row(wk->raster, row, col0, w, wk->lat, wk->lng, wk->ok);
    if (st != R2H_OK)
        return st;
    uint64_t located = 0, failed = 0;
    for (int c = 0; c < w; c++) {
        located += valid[c];
        failed += valid[c] && !wk->ok[c];
        wk->ok[c] &= valid[c];
    }
    ss->located += located;
    ss->not_located += failed;
    r2h_raster_drop_off_globe(wk->raster, row, col0, w, wk->ok, &ss->beyond_pole, &ss->repeated);
    *t_located = r2h_now();
    if (opt->reference)
        r2h_index_cells(wk->lat, wk->lng, wk->ok, (size_t)w, opt->resolution, wk->cells);
    else
        r2h_index_cells_fast(wk->lat, wk->lng, wk->ok, (size_t)w, opt->resolution, wk->cells,
                             &ss->fallbacks);
    return R2H_OK;
}

/* Read, locate, index and consume one chunk. */
static enum r2h_status scan_chunk(struct scan_worker *wk, const struct r2h_scan_chunk *ch,
                                  char *msg, size_t msglen)
{
    const struct r2h_scan_consumer *con = wk->scan->con;
    struct r2h_scan_stats *ss = wk->st;
    const size_t vsz = wk->scan->pixel_size;
    const int w = ch->w;
    enum r2h_status st = worker_buffers(wk, (size_t)w * ch->h, (size_t)w);
    if (st != R2H_OK) {
        r2h_fmt(msg, msglen, "out of memory allocating a %d x %d window", w, ch->h);
        return st;
    }
    double t0 = r2h_now(), t1;
    st = r2h_raster_read(wk->raster, ch->x0, ch->y, w, ch->h, wk->vals, wk->valid, msg, msglen);
    if (st != R2H_OK)
        return st;
    t1 = r2h_now();
    ss->phase[R2H_SCAN_READ] += t1 - t0;
    struct r2h_scan_row row = {.col0 = ch->x0,
                               .w = w,
                               .pixel_size = vsz,
                               .ok = wk->ok,
                               .cells = wk->cells,
                               .pixels_seen = ss->pixels};
    for (int r = 0; r < ch->h; r++) {
        const uint8_t *vrow = wk->valid + (size_t)r * w;
        ss->pixels += (uint64_t)w;
        int any = 0;
        for (int c = 0; c < w && !any; c++)
            any = vrow[c];
        if (!any)
            continue;
        t0 = r2h_now();
        if ((st = locate_and_index(wk, ch->y + r, ch->x0, w, vrow, &t1)) != R2H_OK) {
            r2h_fmt(msg, msglen, "out of memory locating pixels");
            return st;
        }
        ss->phase[R2H_SCAN_LOCATE] += t1 - t0;
        t0 = r2h_now();
        ss->phase[R2H_SCAN_INDEX] += t0 - t1;
        row.row = ch->y + r;
        row.vals = (const unsigned char *)wk->vals + (size_t)r * w * vsz;
        row.pixels_seen = ss->pixels;
        if (con->consume_row && (st = con->consume_row(wk->state, &row, msg, msglen)) != R2H_OK)
            return st;
        ss->phase[R2H_SCAN_CONSUME] += r2h_now() - t0;
    }
    return R2H_OK;
}

static void *scan_worker(void *arg)
{
    struct scan_worker *wk = arg;
    struct scan *s = wk->scan;
    const struct r2h_scan_consumer *con = s->con;
    char msg[1024];
    enum r2h_status st = R2H_OK;
    if (con->begin_worker &&
        (st = con->begin_worker(con->ctx, wk->index, &wk->state, msg, sizeof msg)) != R2H_OK) {
        scan_fail(s, st, msg);
        return NULL;
    }
    uint64_t done = 0;
    long i;
    while ((i = take_next(s, done)) >= 0) {
        const struct r2h_scan_chunk *ch = &s->opt->chunks[i];
        if ((st = scan_chunk(wk, ch, msg, sizeof msg)) != R2H_OK) {
            scan_fail(s, st, msg);
            break;
        }
        done = (uint64_t)ch->w * ch->h;
    }
    if (con->end_worker)
        con->end_worker(wk->state);
    return NULL;
}

enum r2h_status r2h_scan_run(const struct r2h_scan_options *opt,
                             const struct r2h_scan_consumer *consumer, struct r2h_scan_stats *stats,
                             char *err, size_t errlen)
{
    char scratch[16];
    struct scan s = {.opt = opt,
                     .con = consumer,
                     .err = err ? err : scratch,
                     .errlen = err ? errlen : sizeof scratch};
    if (opt->nworkers < 1) {
        r2h_fmt(s.err, s.errlen, "no workers");
        return R2H_ERR_INVALID;
    }
    struct scan_worker *wk = r2h_calloc((size_t)opt->nworkers, sizeof *wk);
    struct r2h_scan_stats *own = stats ? NULL : r2h_calloc((size_t)opt->nworkers, sizeof *own);
    if (!wk || (!stats && !own)) {
        r2h_free(wk);
        r2h_free(own);
        r2h_fmt(s.err, s.errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    if (stats)
        memset(stats, 0, (size_t)opt->nworkers * sizeof *stats);
    s.pixel_size = r2h_raster_get_info(opt->rasters[0])->pixel_size;
    pthread_mutex_init(&s.mu, NULL);
    for (int i = 0; i < opt->nworkers; i++)
        wk[i] = (struct scan_worker){
            .scan = &s, .index = i, .raster = opt->rasters[i], .st = stats ? &stats[i] : &own[i]};
    int started = 1;
    for (int i = 1; i < opt->nworkers; i++) {
        if (pthread_create(&wk[i].tid, NULL, scan_worker, &wk[i]) != 0)
            break;
        started++;
    }
    scan_worker(&wk[0]);
    for (int i = 1; i < started; i++)
        pthread_join(wk[i].tid, NULL);
    for (int i = 0; i < opt->nworkers; i++)
        free_buffers(&wk[i]);
    pthread_mutex_destroy(&s.mu);
    r2h_free(wk);
    r2h_free(own);
    return s.status;
}
