/* count.c - the base-cell counter consumer of the scan stage: r2h_count_valid counts and digests,
 * per base cell, the valid pixels a convert with the same options would write (verify --input).
 * Same scan as a convert run (src/scan), a different consumer; nothing is sorted or written. */
#include <math.h>
#include <string.h>

#include <cpl_error.h>

#include "convert_internal.h"
#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_scan.h"

/* One worker's counts, and the value keys of the row being counted. */
struct counter {
    const struct run *run;
    struct r2h_valid_pixels counts;
    uint64_t *keys;
    size_t cap;
};

/* Pixel (cell, key) of base cell bc into the worker's counts and digests. */
static void tally(struct counter *k, int bc, uint64_t cell, uint64_t key)
{
    struct r2h_valid_pixels *t = &k->counts;
    const double v = r2h_bands_double(k->run->bands, key, 0);
    t->digest[bc] += r2h_row_digest(cell, key);
    t->value_digest[bc] += r2h_row_digest(0, key);
    t->sum[bc] += v;
    t->abs_sum[bc] += fabs(v);
    t->min[bc] = t->pixels[bc] && t->min[bc] <= v ? t->min[bc] : v;
    t->max[bc] = t->pixels[bc] && t->max[bc] >= v ? t->max[bc] : v;
    t->pixels[bc]++;
}

static enum r2h_status count_row(void *state, const struct r2h_scan_row *row, char *msg,
                                 size_t msglen)
{
    struct counter *k = state;
    const int wu = k->run->opt->work_unit;
    if ((size_t)row->w > k->cap) {
        r2h_free(k->keys);
        k->keys = r2h_malloc((size_t)row->w * sizeof *k->keys);
        k->cap = k->keys ? (size_t)row->w : 0;
        if (!k->keys) {
            r2h_fmt(msg, msglen, "out of memory locating pixels");
            return R2H_ERR_NOMEM;
        }
    }
    r2h_bands_keys(k->run->bands, row->vals, (size_t)row->w, k->keys);
    for (int c = 0; c < row->w; c++) {
        if (!row->ok[c] || !row->cells[c])
            continue;
        const int bc = r2h_index_base_cell(row->cells[c]);
        if (wu >= 0 && bc != wu)
            continue;
        tally(k, bc, row->cells[c], k->keys[c]);
    }
    return R2H_OK;
}

/* The counter as a consumer of the scan per cell (--method sample and overlay datasets). */
static enum r2h_status count_cells(void *state, const struct r2h_cells_batch *b, char *msg,
                                   size_t msglen)
{
    struct counter *k = state;
    if (b->n > k->cap) {
        r2h_free(k->keys);
        k->keys = r2h_malloc(b->n * sizeof *k->keys);
        k->cap = k->keys ? b->n : 0;
        if (!k->keys) {
            r2h_fmt(msg, msglen, "out of memory counting cells");
            return R2H_ERR_NOMEM;
        }
    }
    if (b->vals)
        r2h_bands_keys(k->run->bands, b->vals, b->n, k->keys);
    else if (b->pstart) /* overlay: the rows are counted; their coverage stands for a value */
        for (size_t i = 0; i < b->n; i++)
            k->keys[i] = r2h_narrow_key(R2H_DT_FLOAT64, &b->cover[i]);
    else
        for (size_t i = 0; i < b->n; i++)
            k->keys[i] = r2h_narrow_key(R2H_DT_FLOAT64, &b->dvals[i]);
    for (size_t i = 0; i < b->n; i++)
        tally(k, b->base_cell, b->cells[i], k->keys[i]);
    return R2H_OK;
}

/* The consumer's context: the run (progress) and the workers' counters. */
struct count_ctx {
    struct run run;
    struct counter *k;
};

static enum r2h_status begin_count(void *ctx, int i, void **state, char *msg, size_t msglen)
{
    (void)msg;
    (void)msglen;
    struct count_ctx *cc = ctx;
    CPLPushErrorHandler(CPLQuietErrorHandler); /* the library never prints */
    *state = &cc->k[i];
    return R2H_OK;
}

static int count_progress(void *ctx, uint64_t pixels_done)
{
    return r2h_conv_scan_progress(&((struct count_ctx *)ctx)->run, pixels_done);
}

static void end_count(void *state)
{
    (void)state;
    CPLPopErrorHandler();
}

/* Add one worker's counts and digests to the run's. */
static void merge_counts(struct r2h_valid_pixels *to, const struct r2h_valid_pixels *from)
{
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        if (!from->pixels[bc])
            continue;
        to->min[bc] = to->pixels[bc] && to->min[bc] <= from->min[bc] ? to->min[bc] : from->min[bc];
        to->max[bc] = to->pixels[bc] && to->max[bc] >= from->max[bc] ? to->max[bc] : from->max[bc];
        to->pixels[bc] += from->pixels[bc];
        to->digest[bc] += from->digest[bc];
        to->value_digest[bc] += from->value_digest[bc];
        to->sum[bc] += from->sum[bc];
        to->abs_sum[bc] += from->abs_sum[bc];
    }
}

enum r2h_status r2h_count_valid(const struct r2h_convert_options *opt, struct r2h_valid_pixels *out,
                                char *errbuf, size_t errbuf_len)
{
    memset(out, 0, sizeof *out);
    char scratch[16];
    struct count_ctx cc = {.run = {.opt = opt,
                                   .err = errbuf ? errbuf : scratch,
                                   .errlen = errbuf ? errbuf_len : sizeof scratch}};
    struct run *run = &cc.run;
    struct counter *k = NULL;
    enum r2h_status st = r2h_conv_open(run);
    if (st != R2H_OK)
        goto out;
    const int nthreads = r2h_conv_thread_count(opt);
    k = cc.k = r2h_calloc((size_t)nthreads, sizeof *k);
    if (!k) {
        r2h_fmt(run->err, run->errlen, "out of memory");
        st = R2H_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < nthreads; i++)
        k[i].run = run;
    if (r2h_conv_method_sample(run)) {
        struct r2h_conv_cells cs = {0};
        if ((st = r2h_conv_check_method(run, 1)) == R2H_OK &&
            (st = r2h_conv_cells_setup(run, nthreads, &cs)) == R2H_OK) {
            const struct r2h_cells_consumer cc_cells = {.ctx = &cc,
                                                        .begin_worker = begin_count,
                                                        .consume = count_cells,
                                                        .end_worker = end_count,
                                                        .progress = count_progress};
            st = r2h_scan_cells_run(&cs.co, &cs.plan, &cc_cells, cs.stats, run->err, run->errlen);
        }
        r2h_conv_cells_finish(run, &cs);
        if (st == R2H_OK)
            for (int i = 0; i < run->nworkers; i++)
                merge_counts(out, &k[i].counts);
        goto out;
    }
    const struct r2h_scan_consumer counter = {.ctx = &cc,
                                              .begin_worker = begin_count,
                                              .consume_row = count_row,
                                              .end_worker = end_count,
                                              .progress = count_progress};
    if ((st = r2h_conv_scan(run, nthreads, 0, &counter)) != R2H_OK)
        goto out;
    for (int i = 0; i < run->nworkers; i++)
        merge_counts(out, &k[i].counts);
out:
    for (int i = 0; k && i < nthreads; i++)
        r2h_free(k[i].keys);
    r2h_free(k);
    r2h_conv_close(run);
    return st;
}
