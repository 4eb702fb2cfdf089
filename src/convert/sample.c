/* sample.c - --method sample and overlay in a convert run (docs/design/0009, 0010): the scan per
 * cell (src/scan/cells.c) hands each chunk's rows, already in index order, to a ring of slots;
 * writer threads take them in the plan's order as row groups (collected in turn, encoded in
 * parallel, appended in order to their partition's file), or, with parents or string cells,
 * one writer reads them as a pulled stream of rows through the point method's writer. Nothing
 * is sorted or spilled: memory is the slots, the workers' chunk buffers and the row groups,
 * whatever the output's size. */
#define _GNU_SOURCE /* pthread_setname_np */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>

#include "convert_internal.h"
#include "r2h_index.h"
#include "r2h_parquet.h"
#include "r2h_scan.h"

/* A chunk's rows on their way to the writer. */
struct slot {
    size_t seq;
    int bc;
    int ready;
    size_t n;
    uint64_t *cells;     /* ascending */
    unsigned char *vals; /* vsz bytes each: pixel records (nearest) or doubles */
};

struct r2h_sampler {
    struct run *run;
    struct r2h_cells_plan plan;
    enum r2h_kernel kernel;
    size_t cap;                     /* rows per chunk at most */
    size_t vsz;                     /* bytes per value record in a slot */
    const struct r2h_bands *layout; /* the value columns of a record (bands, or overlay's) */
    const struct r2h_overlay *ov;   /* --method overlay: records from the batch's pairs */
    uint64_t *keys; /* the writer's scratch for rows (parents, strings: r2h_agg_write) */
    struct slot *slots;
    size_t nslots;
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* the writer waits here for its next chunk */
    pthread_cond_t space; /* workers wait here for a free slot */
    int writer_waits;     /* the writer is waiting on cv */
    int workers_wait;     /* workers waiting on space */
    size_t next;          /* the chunk the writer reads next */
    size_t pos;           /* rows of it taken already */
    int bc;               /* the partition being written */
    int stop;             /* an error: everybody leaves */
    uint64_t taken;       /* rows taken for the current partition */
    double phase[NPHASES];
    struct sworker *workers;
    /* The group pipeline (pixel rows without extra columns): row groups are collected from the
     * slots in turn, encoded in parallel, appended to their partition's file in order. */
    struct r2h_pq_column_spec cols[R2H_RASTER_MAX_BANDS + 1 + R2H_MAX_RES];
    char cellname[8];
    /* overlay's extra columns in the group pipeline: string cells, parents (after the cell) */
    int cell_string;
    int nparents, pres[R2H_MAX_RES];
    char pname[R2H_MAX_RES][16];
    size_t ncols;
    size_t rg_rows;                        /* rows per row group */
    pthread_cond_t turn;                   /* the collector's turn and the commit order */
    int collecting;                        /* a thread is collecting */
    int done;                              /* every chunk collected */
    size_t gseq, committed;                /* groups numbered, committed */
    struct part *cur;                      /* the partition being collected (NULL: open the next) */
    struct part *open[R2H_NUM_BASE_CELLS]; /* files open, by base cell (aborted on error) */
};

/* A partition file written by the group pipeline. */
struct part {
    int bc;
    struct r2h_pq_writer *w;
    char path[4200];
    uint64_t rows;
    int has;
    double lo, hi; /* the first band's range */
};

/* A scan worker's state as the sampler's consumer. */
struct sworker {
    struct r2h_sampler *sm;
    int index;
    void *scratch; /* overlay's mode */
    size_t scratch_n;
    struct r2h_overlay_areas *memo; /* overlay's pixel areas (projected rasters) */
};

/* ---- the consumer (scan worker threads) ---------------------------------------------------- */

static enum r2h_status begin(void *ctx, int i, void **state, char *msg, size_t msglen)
{
    struct r2h_sampler *sm = ctx;
    struct sworker *w = &sm->workers[i];
    (void)msg;
    (void)msglen;
    w->sm = sm;
    w->index = i;
    CPLPushErrorHandler(CPLQuietErrorHandler); /* the library never prints */
    *state = w;
    return R2H_OK;
}

static void end(void *state)
{
    (void)state;
    CPLPopErrorHandler();
}

static int progress(void *ctx, uint64_t cells)
{
    struct r2h_sampler *sm = ctx;
    struct run *run = sm->run;
    run->pixels_done += cells; /* called under the scan's lock; progress under run->mu */
    pthread_mutex_lock(&run->mu);
    r2h_conv_progress_locked(run, 0);
    pthread_mutex_unlock(&run->mu);
    return r2h_conv_unwanted(run);
}

static enum r2h_status consume(void *state, const struct r2h_cells_batch *b, char *msg,
                               size_t msglen)
{
    struct sworker *w = state;
    struct r2h_sampler *sm = w->sm;
    pthread_mutex_lock(&sm->mu);
    while (!sm->stop && b->seq >= sm->next + sm->nslots) {
        sm->workers_wait++;
        pthread_cond_wait(&sm->space, &sm->mu);
        sm->workers_wait--;
    }
    if (sm->stop) {
        pthread_mutex_unlock(&sm->mu);
        r2h_fmt(msg, msglen, "stopped");
        return R2H_ERR_INTERNAL;
    }
    struct slot *s = &sm->slots[b->seq % sm->nslots];
    pthread_mutex_unlock(&sm->mu);
    /* The slot is this chunk's alone until it is marked ready (the writer reads slots in
     * sequence; no other worker has this sequence number). */
    memcpy(s->cells, b->cells, b->n * sizeof *s->cells);
    if (sm->ov) {
        if (r2h_overlay_fold(sm->ov, sm->run->workers[w->index].raster, b, s->vals, &w->scratch,
                             &w->scratch_n, &w->memo) != R2H_OK) {
            r2h_fmt(msg, msglen, "out of memory folding cells");
            return R2H_ERR_NOMEM;
        }
    } else {
        memcpy(s->vals, b->vals ? (const void *)b->vals : (const void *)b->dvals, b->n * sm->vsz);
    }
    pthread_mutex_lock(&sm->mu);
    s->n = b->n;
    s->seq = b->seq;
    s->bc = b->base_cell;
    s->ready = 1;
    if (sm->writer_waits && b->seq == sm->next)
        pthread_cond_signal(&sm->cv);
    pthread_mutex_unlock(&sm->mu);
    return R2H_OK;
}

/* ---- the writer ---------------------------------------------------------------------------- */

/* The slot of the next chunk once it is ready (NULL at the end or after an error); mu held. */
static struct slot *next_ready(struct r2h_sampler *sm)
{
    if (sm->next >= sm->plan.n)
        return NULL;
    struct slot *s = &sm->slots[sm->next % sm->nslots];
    while (!sm->stop && !(s->ready && s->seq == sm->next)) {
        sm->writer_waits = 1;
        pthread_cond_wait(&sm->cv, &sm->mu);
        sm->writer_waits = 0;
    }
    return sm->stop ? NULL : s;
}

static void release(struct r2h_sampler *sm, struct slot *s)
{
    s->ready = 0;
    sm->pos = 0;
    sm->next++;
    if (sm->workers_wait)
        pthread_cond_broadcast(&sm->space);
}

/* The next chunk with rows of the current partition, or NULL at its end (the end of the plan,
 * another partition's chunk, an error: *st). The previous one is released first. mu held. */
static struct slot *next_of_partition(struct r2h_sampler *sm, enum r2h_status *st, char *err,
                                      size_t errlen)
{
    for (;;) {
        struct slot *s = next_ready(sm);
        if (!s) {
            if (sm->stop) {
                *st = R2H_ERR_INTERNAL;
                r2h_fmt(err, errlen, "stopped");
            }
            return NULL;
        }
        if (s->bc != sm->bc)
            return NULL;
        if (sm->pos < s->n)
            return s;
        release(sm, s); /* consumed, or a chunk without rows */
    }
}

/* r2h_row_pull over the chunks of the current partition (the writers that read rows:
 * parents and string cells). */
static size_t pull(void *ctx, struct r2h_row *out, size_t max, enum r2h_status *st, char *err,
                   size_t errlen)
{
    struct r2h_sampler *sm = ctx;
    const struct r2h_bands *bands = sm->run->bands;
    size_t k = 0;
    pthread_mutex_lock(&sm->mu);
    struct slot *s;
    while (k < max && (s = next_of_partition(sm, st, err, errlen))) {
        size_t take = s->n - sm->pos < max - k ? s->n - sm->pos : max - k;
        take = take < 65536 ? take : 65536; /* the keys scratch */
        const unsigned char *v = s->vals + sm->pos * sm->vsz;
        if (sm->kernel == R2H_KERNEL_NEAREST)
            r2h_bands_keys(bands, v, take, sm->keys);
        else
            for (size_t i = 0; i < take; i++)
                sm->keys[i] = r2h_narrow_key(R2H_DT_FLOAT64, v + i * 8);
        for (size_t i = 0; i < take; i++)
            out[k + i] = (struct r2h_row){s->cells[sm->pos + i], sm->keys[i]};
        k += take;
        sm->pos += take;
    }
    pthread_mutex_unlock(&sm->mu);
    sm->taken += k;
    return k;
}

/* The base cell of the next chunk with rows (chunks without rows before it are released), or
 * -1 at the end of the plan or after an error. */
static int next_partition(struct r2h_sampler *sm)
{
    pthread_mutex_lock(&sm->mu);
    struct slot *s;
    while ((s = next_ready(sm)) && s->n == 0)
        release(sm, s);
    const int bc = s ? s->bc : -1;
    pthread_mutex_unlock(&sm->mu);
    return bc;
}

static void stop_all(struct r2h_sampler *sm)
{
    pthread_mutex_lock(&sm->mu);
    sm->stop = 1;
    pthread_cond_broadcast(&sm->cv);
    pthread_cond_broadcast(&sm->space);
    pthread_cond_broadcast(&sm->turn);
    pthread_mutex_unlock(&sm->mu);
}

static void *writer_main(void *arg)
{
    struct r2h_sampler *sm = arg;
    struct run *run = sm->run;
    char msg[1024];
    pthread_setname_np(pthread_self(), "r2h-writer");
    CPLPushErrorHandler(CPLQuietErrorHandler);
    for (;;) {
        /* The next partition: the base cell of the next chunk with rows. */
        const int bc = next_partition(sm);
        if (bc < 0)
            break;
        sm->bc = bc;
        sm->taken = 0;
        msg[0] = 0;
        /* Extra columns (parents, strings): rows through r2h_agg_write. */
        enum r2h_status st = r2h_conv_write_partition_agg(run, bc, sm->phase, msg, sizeof msg);
        if (st != R2H_OK) {
            if (!sm->stop)
                r2h_conv_fail(run, st, msg);
            stop_all(sm);
            break;
        }
        pthread_mutex_lock(&run->mu);
        run->res.rows_written += run->manifest.parts[bc].rows;
        run->res.pixels_valid += sm->taken;
        run->res.partitions_written++;
        pthread_mutex_unlock(&run->mu);
    }
    CPLPopErrorHandler();
    return NULL;
}

/* ---- the group pipeline ------------------------------------------------------------------- */

/* One thread of the pipeline: its row group and the scratch for splitting bands. */
struct gthread {
    struct r2h_sampler *sm;
    struct r2h_pq_group *g;
    unsigned char *split;
    size_t splitcap;
    uint64_t *ext;     /* parents' columns */
    char *text;        /* hex of cells and parents, 16 bytes each */
    const char **txtp; /* pointers to them, by column */
    size_t extcap;     /* rows the three have room for */
    pthread_t tid;
    double phase[NPHASES];
};

static void fail_pipeline(struct r2h_sampler *sm, enum r2h_status st, const char *msg)
{
    if (!sm->stop)
        r2h_conv_fail(sm->run, st, msg);
    stop_all(sm);
}

/* Widen the range of the first band over n value records. */
static void band_range(const struct r2h_bands *b, const unsigned char *v, size_t vsz, size_t n,
                       struct part *p)
{
    double lo = p->has ? p->lo : INFINITY, hi = p->has ? p->hi : -INFINITY;
    const unsigned char *q = v + b->off[0];
#define RANGE(T)                                                                                   \
    for (size_t j = 0; j < n; j++) {                                                               \
        T x;                                                                                       \
        memcpy(&x, q + j * vsz, sizeof x);                                                         \
        lo = (double)x < lo ? (double)x : lo;                                                      \
        hi = (double)x > hi ? (double)x : hi;                                                      \
    }
    switch (b->dt[0]) {
    case R2H_DT_UINT8: RANGE(uint8_t) break;
    case R2H_DT_INT8: RANGE(int8_t) break;
    case R2H_DT_UINT16: RANGE(uint16_t) break;
    case R2H_DT_INT16: RANGE(int16_t) break;
    case R2H_DT_UINT32: RANGE(uint32_t) break;
    case R2H_DT_INT32: RANGE(int32_t) break;
    case R2H_DT_UINT64: RANGE(uint64_t) break;
    case R2H_DT_INT64: RANGE(int64_t) break;
    case R2H_DT_FLOAT32: RANGE(float) break;
    case R2H_DT_FLOAT64: RANGE(double) break;
    }
#undef RANGE
    p->has = p->has || n > 0;
    p->lo = lo;
    p->hi = hi;
}

/* Rows [cells, vals) of n into the thread's group, as columns. */
static enum r2h_status group_rows(struct gthread *gt, const uint64_t *cells,
                                  const unsigned char *vals, size_t n)
{
    struct r2h_sampler *sm = gt->sm;
    const struct r2h_bands *b = sm->layout;
    const size_t vsz = sm->vsz;
    struct r2h_pq_column_data data[R2H_RASTER_MAX_BANDS + 1 + R2H_MAX_RES] = {{0}};
    if (b->n == 1 && vsz == r2h_dtype_size(b->dt[0])) {
        data[0].values = vals;
    } else {
        /* each column starts 8-byte aligned (the writer loads whole values) */
        const size_t need = n * vsz + 8 * (size_t)b->n;
        if (need > gt->splitcap) {
            r2h_free(gt->split);
            gt->splitcap = need;
            if (!(gt->split = r2h_malloc(gt->splitcap))) {
                gt->splitcap = 0;
                return R2H_ERR_NOMEM;
            }
        }
        for (size_t i = 0, at = 0; i < (size_t)b->n; i++) {
            const size_t sz = r2h_dtype_size(b->dt[i]);
            at = (at + 7) & ~(size_t)7;
            for (size_t j = 0; j < n; j++)
                memcpy(gt->split + at + j * sz, vals + j * vsz + b->off[i], sz);
            data[i].values = gt->split + at;
            at += n * sz;
        }
    }
    data[b->n].values = cells;
    if (sm->nparents || sm->cell_string) {
        const size_t ncell = 1 + (size_t)sm->nparents;
        if (n > gt->extcap) {
            r2h_free(gt->ext);
            r2h_free(gt->text);
            r2h_free(gt->txtp);
            gt->ext = r2h_malloc(n * ncell * sizeof *gt->ext);
            gt->text = r2h_malloc(n * ncell * 16);
            gt->txtp = r2h_malloc(n * ncell * sizeof *gt->txtp);
            gt->extcap = gt->ext && gt->text && gt->txtp ? n : 0;
            if (!gt->extcap)
                return R2H_ERR_NOMEM;
        }
        for (size_t c = 0; c < ncell; c++) {
            uint64_t *col = gt->ext + c * n;
            for (size_t j = 0; j < n; j++)
                col[j] = c ? r2h_index_parent(cells[j], sm->pres[c - 1]) : cells[j];
            if (sm->cell_string) {
                const char **p = gt->txtp + c * n;
                for (size_t j = 0; j < n; j++) {
                    char *t = gt->text + (c * n + j) * 16;
                    r2h_fmt(t, 16, "%015llx", (unsigned long long)col[j]);
                    p[j] = t;
                }
                data[(size_t)b->n + c].values = p;
            } else if (c) {
                data[(size_t)b->n + c].values = col;
            }
        }
    }
    return r2h_pq_group_write(gt->g, data, n);
}

/* Open the partition of the next chunk with rows as sm->cur; 0 when there is none. */
static int open_next_part(struct gthread *gt, char *msg, size_t msglen, enum r2h_status *st)
{
    struct r2h_sampler *sm = gt->sm;
    const int bc = next_partition(sm);
    if (bc < 0)
        return 0;
    struct part *p = r2h_calloc(1, sizeof *p);
    if (!p) {
        *st = R2H_ERR_NOMEM;
        r2h_fmt(msg, msglen, "out of memory");
        return -1;
    }
    p->bc = bc;
    if ((*st = r2h_conv_partition_open(sm->run, bc, sm->cols, sm->ncols, p->path, sizeof p->path,
                                       &p->w, msg, msglen)) != R2H_OK) {
        r2h_free(p);
        return -1;
    }
    pthread_mutex_lock(&sm->mu);
    sm->open[bc] = p;
    sm->bc = bc;
    pthread_mutex_unlock(&sm->mu);
    sm->cur = p;
    return 1;
}

/* Commit a finished partition: close its file, its manifest entry and the run's counters. */
static enum r2h_status close_part(struct r2h_sampler *sm, struct part *p, char *msg, size_t msglen)
{
    struct run *run = sm->run;
    pthread_mutex_lock(&sm->mu);
    sm->open[p->bc] = NULL;
    pthread_mutex_unlock(&sm->mu);
    enum r2h_status st = r2h_conv_partition_close(p->w, p->path, msg, msglen);
    if (st == R2H_OK) {
        struct r2h_manifest_part *mp = &run->manifest.parts[p->bc];
        mp->rows = p->rows;
        mp->min = p->has ? p->lo : 0;
        mp->max = p->has ? p->hi : 0;
        if (!run->arrow)
            r2h_out_exists(p->path, &mp->bytes);
        pthread_mutex_lock(&run->mu);
        run->res.rows_written += p->rows;
        run->res.pixels_valid += p->rows;
        run->res.partitions_written++;
        pthread_mutex_unlock(&run->mu);
    }
    r2h_free(p);
    return st;
}

static void *group_main(void *arg)
{
    struct gthread *gt = arg;
    struct r2h_sampler *sm = gt->sm;
    char msg[1024];
    enum r2h_status st = R2H_OK;
    pthread_setname_np(pthread_self(), "r2h-writer");
    CPLPushErrorHandler(CPLQuietErrorHandler);
    for (;;) {
        /* The collector's turn: rows of one partition from the slots, in sequence. */
        pthread_mutex_lock(&sm->mu);
        while (!sm->stop && !sm->done && sm->collecting)
            pthread_cond_wait(&sm->turn, &sm->mu);
        if (sm->stop || sm->done) {
            pthread_mutex_unlock(&sm->mu);
            break;
        }
        sm->collecting = 1;
        pthread_mutex_unlock(&sm->mu);
        const double t0 = r2h_now();
        msg[0] = 0;
        int r = sm->cur ? 1 : open_next_part(gt, msg, sizeof msg, &st);
        if (r <= 0) {
            pthread_mutex_lock(&sm->mu);
            sm->done = r == 0;
            sm->collecting = 0;
            pthread_cond_broadcast(&sm->turn);
            pthread_mutex_unlock(&sm->mu);
            if (r < 0)
                fail_pipeline(sm, st, msg);
            break;
        }
        struct part *part = sm->cur;
        int last = 0;
        size_t n = 0;
        while (n < sm->rg_rows) {
            pthread_mutex_lock(&sm->mu);
            struct slot *s = next_of_partition(sm, &st, msg, sizeof msg);
            if (!s) {
                pthread_mutex_unlock(&sm->mu);
                last = 1;
                break;
            }
            const size_t take = s->n - sm->pos < sm->rg_rows - n ? s->n - sm->pos : sm->rg_rows - n;
            const uint64_t *cells = s->cells + sm->pos;
            const unsigned char *vals = s->vals + sm->pos * sm->vsz;
            sm->pos += take; /* the slot stays ours until the next next_of_partition */
            pthread_mutex_unlock(&sm->mu);
            band_range(sm->layout, vals, sm->vsz, take, part);
            if ((st = group_rows(gt, cells, vals, take)) != R2H_OK) {
                r2h_fmt(msg, sizeof msg, "%s", "out of memory collecting rows");
                break;
            }
            n += take;
        }
        if (st == R2H_OK && !last) { /* is the partition at its end? */
            pthread_mutex_lock(&sm->mu);
            last = next_of_partition(sm, &st, msg, sizeof msg) == NULL;
            pthread_mutex_unlock(&sm->mu);
        }
        if (st != R2H_OK) {
            pthread_mutex_lock(&sm->mu);
            sm->collecting = 0;
            pthread_mutex_unlock(&sm->mu);
            fail_pipeline(sm, st, msg[0] ? msg : r2h_status_str(st));
            break;
        }
        part->rows += n;
        pthread_mutex_lock(&sm->mu);
        const size_t seq = sm->gseq++;
        if (last)
            sm->cur = NULL;
        sm->collecting = 0;
        pthread_cond_broadcast(&sm->turn);
        pthread_mutex_unlock(&sm->mu);
        const double t1 = r2h_now();
        gt->phase[PHASE_SORT] += t1 - t0;
        /* Encode in parallel, append in order. */
        st = r2h_pq_group_encode(gt->g);
        pthread_mutex_lock(&sm->mu);
        while (!sm->stop && sm->committed != seq)
            pthread_cond_wait(&sm->turn, &sm->mu);
        const int stopped = sm->stop;
        pthread_mutex_unlock(&sm->mu);
        if (stopped)
            break;
        if (st == R2H_OK && (st = r2h_pq_writer_append_group(part->w, gt->g)) != R2H_OK)
            r2h_fmt(msg, sizeof msg, "%s: %s", part->path, r2h_pq_writer_errmsg(part->w));
        else if (st != R2H_OK)
            r2h_fmt(msg, sizeof msg, "%s: %s", part->path, r2h_pq_group_errmsg(gt->g));
        if (st == R2H_OK && last)
            st = close_part(sm, part, msg, sizeof msg);
        if (st != R2H_OK) {
            fail_pipeline(sm, st, msg);
            break;
        }
        pthread_mutex_lock(&sm->mu);
        sm->committed++;
        pthread_cond_broadcast(&sm->turn);
        pthread_mutex_unlock(&sm->mu);
        gt->phase[PHASE_WRITE] += r2h_now() - t1;
    }
    CPLPopErrorHandler();
    return NULL;
}

enum r2h_status r2h_conv_open_rows(struct run *run, int bc, struct r2h_merge **out)
{
    if (run->sampler)
        return r2h_merge_open_pull(pull, run->sampler, out);
    return r2h_merge_open(run->runs, bc, run->merge_rows, out);
}

/* ---- the run ------------------------------------------------------------------------------- */

static void free_sampler(struct r2h_sampler *sm)
{
    if (!sm)
        return;
    for (size_t i = 0; sm->slots && i < sm->nslots; i++) {
        r2h_free(sm->slots[i].cells);
        r2h_free(sm->slots[i].vals);
    }
    r2h_free(sm->slots);
    for (int i = 0; sm->workers && i < sm->run->nworkers; i++) {
        r2h_free(sm->workers[i].scratch);
        r2h_free(sm->workers[i].memo);
    }
    r2h_free(sm->workers);
    r2h_free(sm->keys);
    r2h_scan_cells_plan_free(&sm->plan);
    pthread_mutex_destroy(&sm->mu);
    pthread_cond_destroy(&sm->cv);
    pthread_cond_destroy(&sm->space);
    pthread_cond_destroy(&sm->turn);
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        if (sm->open[bc]) { /* a run that failed: nothing complete-looking is left */
            r2h_pq_writer_abort(sm->open[bc]->w);
            r2h_free(sm->open[bc]);
        }
    r2h_free(sm);
}

enum r2h_status r2h_conv_cells_setup(struct run *run, int nthreads, struct r2h_conv_cells *cs)
{
    const struct r2h_convert_options *opt = run->opt;
    memset(cs, 0, sizeof *cs);
    run->cells_mode = 1;
    r2h_conv_plan_memory(run, nthreads);
    enum r2h_status st = r2h_conv_open_workers(run, nthreads, 0);
    if (st != R2H_OK)
        return st;
    cs->rasters = r2h_malloc((size_t)run->nworkers * sizeof *cs->rasters);
    cs->stats = r2h_calloc((size_t)run->nworkers, sizeof *cs->stats);
    if (!cs->rasters || !cs->stats) {
        r2h_fmt(run->err, run->errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    for (int i = 0; i < run->nworkers; i++)
        cs->rasters[i] = run->workers[i].raster;
    const size_t ps = run->info->pixel_size + 1;
    size_t win = (size_t)(run->budget / 10 / ((uint64_t)run->nworkers * ps));
    win = win < 65536 ? 65536 : win > ((size_t)16 << 20) ? ((size_t)16 << 20) : win;
    cs->co = (struct r2h_cells_options){
        .rasters = cs->rasters,
        .nworkers = run->nworkers,
        .resolution = opt->resolution,
        .kernel = opt->method == R2H_METHOD_OVERLAY        ? R2H_KERNEL_OVERLAY
                  : opt->resample == R2H_RESAMPLE_BILINEAR ? R2H_KERNEL_BILINEAR
                  : opt->resample == R2H_RESAMPLE_CUBIC    ? R2H_KERNEL_CUBIC
                                                           : R2H_KERNEL_NEAREST,
        .min_coverage = opt->min_coverage,
        .exact = opt->reference_index,
        .work_unit = opt->work_unit,
        .skip = run->skip,
        .window_pixels = win};
    const double t0 = r2h_now();
    if ((st = r2h_scan_cells_plan(run->raster, &cs->co, &cs->plan, run->err, run->errlen)) !=
        R2H_OK)
        return st;
    run->phase[PHASE_LOCATE] += r2h_now() - t0;
    for (size_t i = 0; i < cs->plan.n; i++)
        run->planned[r2h_index_base_cell(cs->plan.chunks[i])] = 1;
    run->pixels_total = cs->plan.cells_total;
    return R2H_OK;
}

void r2h_conv_cells_finish(struct run *run, struct r2h_conv_cells *cs)
{
    for (int i = 0; cs->stats && i < run->nworkers; i++) {
        const struct r2h_cells_stats *c = &cs->stats[i];
        run->res.pixels_read += c->cells;
        run->res.index_fallbacks += c->exact;
        run->void_blocks += c->void_blocks;
        run->pairs += c->pairs;
        run->phase[PHASE_READ] += c->phase[R2H_CELLS_READ];
        run->phase[PHASE_LOCATE] += c->phase[R2H_CELLS_CENTRE];
        run->phase[PHASE_INDEX] += c->phase[R2H_CELLS_SAMPLE];
        run->phase[PHASE_ROUTE] += c->phase[R2H_CELLS_CONSUME];
    }
    r2h_free(cs->rasters);
    r2h_free(cs->stats);
    r2h_scan_cells_plan_free(&cs->plan);
    memset(cs, 0, sizeof *cs);
}

enum r2h_status r2h_conv_sample(struct run *run, int nthreads)
{
    const struct r2h_convert_options *opt = run->opt;
    struct r2h_conv_cells cs;
    struct r2h_sampler *sm = r2h_calloc(1, sizeof *sm);
    if (!sm) {
        r2h_fmt(run->err, run->errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    sm->run = run;
    pthread_mutex_init(&sm->mu, NULL);
    pthread_cond_init(&sm->cv, NULL);
    pthread_cond_init(&sm->space, NULL);
    pthread_cond_init(&sm->turn, NULL);
    enum r2h_status st = r2h_conv_cells_setup(run, nthreads, &cs);
    if (st != R2H_OK)
        goto out;
    sm->plan = cs.plan; /* borrowed */
    sm->cap = 1;
    for (int i = cs.plan.chunk_res; i < opt->resolution; i++)
        sm->cap *= 7;
    /* Slots: 4 per worker, room to run ahead of the writer over chunks of uneven cost while
     * the rows in flight stay in cache (a larger ring was slower). */
    sm->nslots = 4 * (size_t)run->nworkers;
    sm->slots = r2h_calloc(sm->nslots, sizeof *sm->slots);
    sm->workers = r2h_calloc((size_t)run->nworkers, sizeof *sm->workers);
    if (!sm->slots || !sm->workers) {
        st = R2H_ERR_NOMEM;
        r2h_fmt(run->err, run->errlen, "out of memory");
        goto out;
    }
    sm->kernel = cs.co.kernel;
    sm->vsz = sm->kernel == R2H_KERNEL_NEAREST ? run->info->pixel_size : sizeof(double);
    sm->layout = run->bands;
    if (run->overlay) {
        sm->ov = run->overlay;
        sm->layout = r2h_overlay_layout(run->overlay);
        sm->vsz = sm->layout->pixel_size;
    }
    sm->keys = r2h_malloc(65536 * sizeof *sm->keys);
    if (!sm->keys) {
        st = R2H_ERR_NOMEM;
        r2h_fmt(run->err, run->errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < sm->nslots; i++) {
        sm->slots[i].cells = r2h_malloc(sm->cap * sizeof(uint64_t));
        sm->slots[i].vals = r2h_malloc(sm->cap * sm->vsz);
        if (!sm->slots[i].cells || !sm->slots[i].vals) {
            st = R2H_ERR_NOMEM;
            r2h_fmt(run->err, run->errlen, "out of memory allocating sample slots");
            goto out;
        }
    }
    if (opt->work_unit < 0 && !run->arrow && (st = r2h_conv_begin_dataset(run)) != R2H_OK)
        goto out;
    run->sampler = sm;
    /* Writers: with extra columns one thread through r2h_agg_write (rows); else the group
     * pipeline, one thread per worker. */
    const int nwriters = run->agg ? 1 : run->nworkers;
    struct gthread *gts = r2h_calloc((size_t)nwriters, sizeof *gts);
    pthread_t writer;
    int started = 0;
    if (!gts) {
        st = R2H_ERR_NOMEM;
        r2h_fmt(run->err, run->errlen, "out of memory");
        goto out;
    }
    if (!run->agg) {
        sm->ncols = (size_t)r2h_conv_sample_columns(run, sm->layout, sm->cols, sm->cellname,
                                                    sizeof sm->cellname);
        if (run->overlay) { /* string cells and parents (the sample method's go as rows) */
            sm->cell_string = opt->cell_string;
            if (opt->cell_string)
                sm->cols[sm->ncols - 1] =
                    (struct r2h_pq_column_spec){.name = sm->cellname, .type = R2H_PQ_STRING};
            const enum r2h_pq_type ct = sm->cols[sm->ncols - 1].type; /* parents: the cell's */
            for (int r = 0; r < opt->resolution; r++) {
                if (!(opt->parents & (1u << r)))
                    continue;
                const int k = sm->nparents++;
                sm->pres[k] = r;
                /* h0 would clash with the Hive partition column h0 */
                r2h_fmt(sm->pname[k], sizeof sm->pname[k], r == 0 ? "parent_h%d" : "h%d", r);
                sm->cols[sm->ncols++] =
                    (struct r2h_pq_column_spec){.name = sm->pname[k], .type = ct};
            }
        }
        sm->rg_rows = run->row_group_rows;
        struct r2h_pq_options po;
        r2h_conv_pq_options(run, &po);
        if ((st = r2h_conv_announce_columns(run, sm->cols, sm->ncols)) != R2H_OK)
            goto out_threads;
        for (int i = 0; i < nwriters; i++) {
            gts[i].sm = sm;
            if (r2h_pq_group_new(sm->cols, sm->ncols, &po, &gts[i].g) != R2H_OK) {
                st = R2H_ERR_NOMEM;
                r2h_fmt(run->err, run->errlen, "out of memory");
                goto out_threads;
            }
        }
        for (int i = 0; i < nwriters; i++, started++)
            if (pthread_create(&gts[i].tid, NULL, group_main, &gts[i]) != 0)
                break;
    } else if (pthread_create(&writer, NULL, writer_main, sm) == 0) {
        started = 1;
    }
    if (!started) {
        st = R2H_ERR_INTERNAL;
        r2h_fmt(run->err, run->errlen, "cannot start the writer thread");
        goto out_threads;
    }
    const struct r2h_cells_consumer con = {.ctx = sm,
                                           .begin_worker = begin,
                                           .consume = consume,
                                           .end_worker = end,
                                           .progress = progress};
    char serr[1024] = "";
    st = r2h_scan_cells_run(&cs.co, &cs.plan, &con, cs.stats, serr, sizeof serr);
    if (st != R2H_OK)
        stop_all(sm);
    if (run->agg)
        pthread_join(writer, NULL);
    else
        for (int i = 0; i < started; i++)
            pthread_join(gts[i].tid, NULL);
    if (run->status != R2H_OK)
        st = run->status; /* the writer's error (its message is in run->err) */
    else if (st != R2H_OK)
        r2h_fmt(run->err, run->errlen, "%s", serr);
    for (int k = 0; k < NPHASES; k++) {
        run->phase[k] += sm->phase[k];
        for (int i = 0; !run->agg && i < nwriters; i++)
            run->phase[k] += gts[i].phase[k];
    }
out_threads:
    for (int i = 0; gts && i < nwriters; i++) {
        r2h_pq_group_free(gts[i].g);
        r2h_free(gts[i].split);
        r2h_free(gts[i].ext);
        r2h_free(gts[i].text);
        r2h_free(gts[i].txtp);
    }
    r2h_free(gts);
out:
    memset(&sm->plan, 0, sizeof sm->plan);
    r2h_conv_cells_finish(run, &cs);
    run->sampler = NULL;
    free_sampler(sm);
    return st;
}
