/* read_pass.c - the read pass of a convert run: each worker thread reads its chunks, locates
 * and indexes the pixels, routes rows to its buffer, sorts them and spills runs (split from
 * convert.c; orchestration stays there). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>

#include "convert_internal.h"
#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_index_fast.h"
#include "r2h_raster.h"

static enum r2h_status worker_buffers(struct worker *wk, size_t npix, size_t w)
{
    size_t vsz = wk->run->info->pixel_size;
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
        r2h_free(wk->keys);
        wk->keys = r2h_malloc(w * sizeof *wk->keys);
        wk->ok = r2h_malloc(w);
        wk->lat = r2h_malloc(w * sizeof *wk->lat);
        wk->lng = r2h_malloc(w * sizeof *wk->lng);
        wk->cells = r2h_malloc(w * sizeof *wk->cells);
        wk->cap_w = (wk->ok && wk->lat && wk->lng && wk->cells && wk->keys) ? w : 0;
        if (!wk->cap_w)
            return R2H_ERR_NOMEM;
    }
    return R2H_OK;
}

/* Sort the worker's row buffer. */
static void sort_rows(struct worker *wk)
{
    if (!wk->run->fmt.packed) {
        r2h_rows_sort_with(wk->rows, wk->nrows, wk->tmp, wk->count);
        return;
    }
    /* A copy fits in the budget while the buffer is at most half full (make_room). */
    uint64_t *copy = wk->nrows <= wk->cap / 2 ? r2h_malloc(wk->nrows * sizeof *copy) : NULL;
    if (copy)
        r2h_prefault(copy, wk->nrows * sizeof *copy);
    r2h_packed_sort_with(wk->rows, wk->nrows, wk->tmp, wk->cap_tmp, wk->count, copy);
    r2h_free(copy);
}

/* Append a row to the worker's buffer (which has room). */
static inline void put_row(struct worker *wk, uint64_t cell, uint64_t key)
{
    if (wk->run->fmt.packed)
        ((uint64_t *)wk->rows)[wk->nrows++] = r2h_row_pack(&wk->run->fmt, cell, key);
    else
        ((struct r2h_row *)wk->rows)[wk->nrows++] = (struct r2h_row){cell, key};
}

/* Sort the worker's row buffer and spill it as a run file; the buffer is empty afterwards.
 * Called while routing: its time moves from the route phase to sort and spill. */
static enum r2h_status spill_rows(struct worker *wk, char *msg, size_t msglen)
{
    double t0 = r2h_now();
    sort_rows(wk);
    double t1 = r2h_now();
    wk->phase[PHASE_SORT] += t1 - t0;
    enum r2h_status st = r2h_runs_spill(wk->run->runs, wk->rows, wk->nrows, msg, msglen);
    const double t2 = r2h_now();
    wk->phase[PHASE_SPILL] += t2 - t1;
    wk->phase[PHASE_ROUTE] -= t2 - t0;
    wk->nrows = 0;
    return st;
}

/* nrows reached wk->limit: take the half-way decision, spill, or map the next stretch of the
 * buffer in one go (fewer page faults), then set the next limit.
 *
 * A buffer sorts with a copy (about 1.7x faster, docs/design/0003) only while it is at most half
 * full. So when packed rows reach half the buffer, the worker projects its rows from the valid
 * fraction seen so far: if a quarter of a half or more is still to come, it spills at every
 * half from then on (packed spills are delta-encoded, ~1 byte per row, cheaper than the
 * in-place sort they avoid); otherwise it fills the buffer, and sorts in place if it must spill
 * after all. */
static enum r2h_status make_room(struct worker *wk, char *msg, size_t msglen)
{
    const struct run *run = wk->run;
    const size_t half = wk->cap / 2;
    enum r2h_status st = R2H_OK;
    if (run->fmt.packed && !wk->decided && wk->nrows == half) {
        wk->decided = 1;
        const double share = (double)run->pixels_total / (run->nworkers > 0 ? run->nworkers : 1);
        wk->halved = wk->pixels_seen > 0 &&
                     (double)half / (double)wk->pixels_seen * share > 1.25 * (double)half;
    }
    if ((wk->halved && wk->nrows >= half) || wk->nrows == wk->cap)
        st = spill_rows(wk, msg, msglen);
    if (wk->nrows == wk->mapped && wk->mapped < wk->cap) {
        const size_t rsz = r2h_rowfmt_size(&run->fmt), step = ((size_t)16 << 20) / rsz;
        const size_t n = wk->cap - wk->mapped < step ? wk->cap - wk->mapped : step;
        r2h_prefault((unsigned char *)wk->rows + wk->mapped * rsz, n * rsz);
        wk->mapped += n;
    }
    size_t stop = wk->cap;
    if (run->fmt.packed && (wk->halved || !wk->decided) && half > wk->nrows)
        stop = half;
    wk->limit = stop < wk->mapped ? stop : wk->mapped;
    return st;
}

/* route_row for aggregation keys that carry the pixel (row, column) for its area. */
static enum r2h_status route_row_packed(struct worker *wk, const unsigned char *prow, int w,
                                        char *msg, size_t msglen)
{
    const size_t vsz = wk->run->info->pixel_size;
    const int wu = wk->run->opt->work_unit;
    const int y =
        wk->cur->y + (int)((size_t)(prow - (const unsigned char *)wk->vals) / ((size_t)w * vsz));
    for (int c = 0; c < w; c++) {
        if (!wk->ok[c] || !wk->cells[c])
            continue;
        const int bc = r2h_index_base_cell(wk->cells[c]);
        if ((wu >= 0 && bc != wu) || wk->run->skip[bc])
            continue;
        if (wk->nrows == wk->limit) {
            enum r2h_status st = make_room(wk, msg, msglen);
            if (st != R2H_OK)
                return st;
        }
        put_row(wk, wk->cells[c],
                r2h_agg_key(wk->run->agg, prow + (size_t)c * vsz, y, wk->cur->x0 + c));
    }
    return R2H_OK;
}

/* Count-only runs: pixel (cell, key) of base cell bc into the worker's counts and digests. */
static void tally(struct worker *wk, int bc, uint64_t cell, uint64_t key)
{
    struct r2h_valid_pixels *t = &wk->counts;
    const double v = r2h_bands_double(wk->run->bands, key, 0);
    t->digest[bc] += r2h_row_digest(cell, key);
    t->value_digest[bc] += r2h_row_digest(0, key);
    t->sum[bc] += v;
    t->abs_sum[bc] += fabs(v);
    t->min[bc] = t->pixels[bc] && t->min[bc] <= v ? t->min[bc] : v;
    t->max[bc] = t->pixels[bc] && t->max[bc] >= v ? t->max[bc] : v;
    t->pixels[bc]++;
}

/* Route the located, indexed pixels of one raster row into the worker's row buffer. */
static enum r2h_status route_row(struct worker *wk, const unsigned char *prow, int w, char *msg,
                                 size_t msglen)
{
    const int wu = wk->run->opt->work_unit;
    if (wk->run->agg && !wk->run->counts && r2h_agg_packed(wk->run->agg))
        return route_row_packed(wk, prow, w, msg, msglen);
    const int filter = wu >= 0 || wk->run->nskip > 0 || wk->run->counts;
    r2h_bands_keys(wk->run->bands, prow, (size_t)w, wk->keys);
    for (int c = 0; c < w; c++) {
        if (!wk->ok[c] || !wk->cells[c])
            continue;
        if (filter) {
            const int bc = r2h_index_base_cell(wk->cells[c]);
            if ((wu >= 0 && bc != wu) || wk->run->skip[bc])
                continue;
            if (wk->run->counts) {
                tally(wk, bc, wk->cells[c], wk->keys[c]);
                continue;
            }
        }
        if (wk->nrows == wk->limit) {
            enum r2h_status st = make_room(wk, msg, msglen);
            if (st != R2H_OK)
                return st;
        }
        put_row(wk, wk->cells[c], wk->keys[c]);
    }
    return R2H_OK;
}

/* Cells of the valid pixels of one raster row into wk->cells (wk->ok marks them). Geographic
 * grids take the fast exact grid path (centres computed inside, no lat/lng arrays); other
 * rasters are located through PROJ, then indexed by the fast exact point path, or by the
 * reference latLngToCell when asked. Pixels off the globe (geographic rasters) and pixels PROJ
 * cannot transform are dropped and counted for the run's warnings. *t_located is set when
 * locating ends. */
static enum r2h_status locate_and_index(struct worker *wk, int row, int col0, int w,
                                        const uint8_t *valid, double *t_located)
{
    const struct run *run = wk->run;
    if (run->grid) {
        memcpy(wk->ok, valid, (size_t)w);
        r2h_raster_drop_off_globe(wk->raster, row, col0, w, wk->ok, &wk->beyond_pole,
                                  &wk->repeated);
        *t_located = r2h_now();
        r2h_fast_grid_cells(run->grid, row, col0, w, wk->ok, wk->cells, &wk->fallbacks);
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
    wk->located += located;
    wk->not_located += failed;
    r2h_raster_drop_off_globe(wk->raster, row, col0, w, wk->ok, &wk->beyond_pole, &wk->repeated);
    *t_located = r2h_now();
    if (run->opt->reference_index)
        r2h_index_cells(wk->lat, wk->lng, wk->ok, (size_t)w, run->opt->resolution, wk->cells);
    else
        r2h_index_cells_fast(wk->lat, wk->lng, wk->ok, (size_t)w, run->opt->resolution, wk->cells,
                             &wk->fallbacks);
    return R2H_OK;
}

/* Read, locate, index and route one chunk. */
static enum r2h_status process_chunk(struct worker *wk, const struct chunk *ch, char *msg,
                                     size_t msglen)
{
    const size_t vsz = wk->run->info->pixel_size;
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
    wk->phase[PHASE_READ] += t1 - t0;
    for (int r = 0; r < ch->h; r++) {
        const uint8_t *vrow = wk->valid + (size_t)r * w;
        wk->pixels_seen += (uint64_t)w;
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
        wk->phase[PHASE_LOCATE] += t1 - t0;
        t0 = r2h_now();
        wk->phase[PHASE_INDEX] += t0 - t1;
        st = route_row(wk, (const unsigned char *)wk->vals + (size_t)r * w * vsz, w, msg, msglen);
        if (st != R2H_OK)
            return st;
        wk->phase[PHASE_ROUTE] += r2h_now() - t0;
    }
    return R2H_OK;
}

/* The read pass's warnings, one line each: valid pixels off the globe (the rule is in
 * docs/design/0001-architecture.md) and valid pixels PROJ could not transform to WGS84. */
void r2h_conv_warn_dropped(const struct run *run)
{
    uint64_t pole = 0, rep = 0, located = 0, failed = 0;
    for (int i = 0; i < run->nworkers; i++) {
        pole += run->workers[i].beyond_pole;
        rep += run->workers[i].repeated;
        located += run->workers[i].located;
        failed += run->workers[i].not_located;
    }
    char a[160] = "", b[200] = "";
    if (pole)
        r2h_fmt(a, sizeof a,
                "%llu valid pixels whose centre latitude is outside [-90, 90] (not "
                "folded over the pole)",
                (unsigned long long)pole);
    if (rep)
        r2h_fmt(b, sizeof b,
                "%llu valid pixels that repeat a longitude (the raster is wider than "
                "360 degrees; the first copy in column order is kept)",
                (unsigned long long)rep);
    if (pole || rep)
        r2h_conv_warn(run, "dropped %s%s%s", a, pole && rep ? " and " : "", b);
    if (failed)
        r2h_conv_warn(run,
                      "%llu of %llu valid pixels (%.1f%%) could not be transformed to WGS84 "
                      "(outside the area where the CRS's inverse projection is defined) and were "
                      "dropped",
                      (unsigned long long)failed, (unsigned long long)located,
                      100.0 * (double)failed / (double)located);
}

/* Take the next index below limit, or -1 when done or after an error. */
long r2h_conv_take_next(struct run *run, size_t limit, uint64_t done_pixels)
{
    long i = -1;
    pthread_mutex_lock(&run->mu);
    run->pixels_done += done_pixels;
    if (done_pixels)
        r2h_conv_progress_locked(run, 0);
    if (run->status == R2H_OK && run->next < limit)
        i = (long)run->next++;
    pthread_mutex_unlock(&run->mu);
    return i;
}

void *r2h_conv_read_worker(void *arg)
{
    struct worker *wk = arg;
    struct run *run = wk->run;
    CPLPushErrorHandler(CPLQuietErrorHandler); /* the library never prints */
    char msg[1024];
    uint64_t done = 0;
    long i;
    while ((i = r2h_conv_take_next(run, run->nchunks, done)) >= 0) {
        const struct chunk *ch = &run->chunks[i];
        wk->cur = ch;
        enum r2h_status st = process_chunk(wk, ch, msg, sizeof msg);
        if (st != R2H_OK) {
            r2h_conv_fail(run, st, msg);
            break;
        }
        done = (uint64_t)ch->w * ch->h;
    }
    if (!run->counts) { /* the last rows become a sorted in-memory run (finish_read) */
        double t0 = r2h_now();
        sort_rows(wk);
        wk->phase[PHASE_SORT] += r2h_now() - t0;
    }
    CPLPopErrorHandler();
    return NULL;
}
