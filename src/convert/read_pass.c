/* read_pass.c - the row-buffer consumer of the scan stage (src/scan) in a convert run: each
 * worker routes the scanned pixels of its rows to its buffer, sorts them and spills runs. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cpl_error.h>

#include "convert_internal.h"
#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_scan.h"

/* Sort the worker's row buffer. */
static void sort_rows(struct worker *wk)
{
    if (wk->run->fmt.wide) {
        r2h_wide_sort_with(wk->rows, wk->nrows, wk->tmp, wk->count);
        return;
    }
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

/* Append a wide row for the pixel at (row, col) with key: its pixel index orders it among rows
 * of equal (cell, key), its area (computed here, in the read pass) is the payload. */
static enum r2h_status put_area_row(struct worker *wk, uint64_t cell, uint64_t key, int row,
                                    int col, char *msg, size_t msglen)
{
    const struct run *run = wk->run;
    double m2;
    if (r2h_agg_pixel_area(run->agg, wk->raster, row, col, &m2) != R2H_OK) {
        r2h_fmt(msg, msglen, "a corner of pixel (row %d, column %d) does not transform to WGS84",
                row, col);
        return R2H_ERR_CRS;
    }
    struct r2h_wide_row *r = (struct r2h_wide_row *)wk->rows + wk->nrows++;
    *r = (struct r2h_wide_row){.cell = cell,
                               .key = key,
                               .ord = (uint64_t)row * (uint64_t)run->info->width + (uint64_t)col};
    memcpy(&r->payload, &m2, sizeof m2);
    return R2H_OK;
}

/* The consumer's consume_row: route the scanned pixels of one raster row into the worker's
 * row buffer, as rows of the run's kind (r2h_agg_rows): the value key, with the raster row below
 * it, or with the pixel's area. */
static enum r2h_status route_row(void *state, const struct r2h_scan_row *row, char *msg,
                                 size_t msglen)
{
    struct worker *wk = state;
    const struct run *run = wk->run;
    const int wu = run->opt->work_unit;
    const int w = row->w;
    const int row_bits = r2h_agg_row_bits(run->agg), wide = run->fmt.wide;
    const uint64_t row_ref = row_bits ? (uint64_t)row->row : 0;
    wk->pixels_seen = row->pixels_seen;
    if ((size_t)w > wk->cap_w) {
        r2h_free(wk->keys);
        wk->keys = r2h_malloc((size_t)w * sizeof *wk->keys);
        wk->cap_w = wk->keys ? (size_t)w : 0;
        if (!wk->keys) {
            r2h_fmt(msg, msglen, "out of memory locating pixels");
            return R2H_ERR_NOMEM;
        }
    }
    const int filter = wu >= 0 || run->nskip > 0;
    r2h_bands_keys(run->bands, row->vals, (size_t)w, wk->keys);
    for (int c = 0; c < w; c++) {
        if (!row->ok[c] || !row->cells[c])
            continue;
        if (filter) {
            const int bc = r2h_index_base_cell(row->cells[c]);
            if ((wu >= 0 && bc != wu) || run->skip[bc])
                continue;
        }
        if (wk->nrows == wk->limit) {
            enum r2h_status st = make_room(wk, msg, msglen);
            if (st != R2H_OK)
                return st;
        }
        if (wide) {
            enum r2h_status st =
                put_area_row(wk, row->cells[c], wk->keys[c], row->row, row->col0 + c, msg, msglen);
            if (st != R2H_OK)
                return st;
            continue;
        }
        put_row(wk, row->cells[c], wk->keys[c] << row_bits | row_ref);
    }
    return R2H_OK;
}

/* The read pass's warnings, one line each: valid pixels off the globe (the rule is in
 * docs/design/0001-architecture.md) and valid pixels PROJ could not transform to WGS84. */
void r2h_conv_warn_dropped(const struct run *run)
{
    uint64_t pole = 0, rep = 0, located = 0, failed = 0;
    for (int i = 0; run->scan && i < run->nworkers; i++) {
        pole += run->scan[i].beyond_pole;
        rep += run->scan[i].repeated;
        located += run->scan[i].located;
        failed += run->scan[i].not_located;
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

static enum r2h_status begin_rows(void *ctx, int i, void **state, char *msg, size_t msglen)
{
    (void)msg;
    (void)msglen;
    struct run *run = ctx;
    CPLPushErrorHandler(CPLQuietErrorHandler); /* the library never prints */
    *state = &run->workers[i];
    return R2H_OK;
}

/* The last rows become a sorted in-memory run (finish_read). */
static void end_rows(void *state)
{
    struct worker *wk = state;
    double t0 = r2h_now();
    sort_rows(wk);
    wk->phase[PHASE_SORT] += r2h_now() - t0;
    CPLPopErrorHandler();
}

void r2h_conv_rows_consumer(struct run *run, struct r2h_scan_consumer *out)
{
    *out = (struct r2h_scan_consumer){.ctx = run,
                                      .begin_worker = begin_rows,
                                      .consume_row = route_row,
                                      .end_worker = end_rows,
                                      .progress = r2h_conv_scan_progress};
}
