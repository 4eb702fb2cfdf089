/* convert.c - the convert run: options, plan windows and chunks, the memory budget, worker
 * threads, the write pass and r2h_convert. The read pass is the scan stage (src/scan) with the
 * row-buffer consumer of read_pass.c (route, sort, spill); partition files: partition.c; resume and
 * manifest: resume.c; progress and
 * --profile: progress.c. */
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
#include "r2h_scan.h"

const char *r2h_version(void)
{
    return R2H_VERSION_STRING;
}
const char *r2h_h3_version(void)
{
    return r2h_index_h3_version();
}
const char *r2h_gdal_version(void)
{
    return r2h_raster_gdal_version();
}

void r2h_convert_options_init(struct r2h_convert_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
    opt->resolution = 8;
    opt->band = 1;
    opt->work_unit = -1;
    opt->compression_level = 3;
    opt->memory = (uint64_t)1 << 30;
    opt->progress = R2H_PROGRESS_LINES;
}

void r2h_conv_warn(const struct run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r2h_conv_event_vline(run, R2H_EVENT_WARNING, fmt, ap);
    va_end(ap);
}

/* One warning for the selected bands whose scale/offset is not applied (no --unscale). */
static void warn_scale(const struct run *run)
{
    char line[900] = "";
    size_t n = 0;
    for (int i = 0; i < run->info->nsel && n < sizeof line; i++) {
        const struct r2h_band_info *b = &run->info->sel[i];
        if (!b->has_scale || b->unscaled)
            continue;
        int k =
            snprintf(line + n, sizeof line - n, "%sband %d has scale %.15g and offset %.15g%s%s%s",
                     n ? ", " : "", b->band, b->scale, b->add_offset, b->unit[0] ? " (unit " : "",
                     b->unit, b->unit[0] ? ")" : "");
        n += k > 0 ? (size_t)k : 0;
    }
    if (n)
        r2h_conv_warn(run,
                      "%s: raw values are written; pass --unscale to write value * scale + "
                      "offset as float64",
                      line);
}

/* Record the first error (message already formatted in msg) and make every worker stop. */
void r2h_conv_fail(struct run *run, enum r2h_status st, const char *msg)
{
    pthread_mutex_lock(&run->mu);
    if (run->status == R2H_OK) {
        run->status = st;
        r2h_fmt(run->err, run->errlen, "%s", msg);
    }
    pthread_mutex_unlock(&run->mu);
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

int r2h_conv_scan_progress(void *ctx, uint64_t pixels_done)
{
    struct run *run = ctx;
    pthread_mutex_lock(&run->mu);
    run->pixels_done += pixels_done;
    r2h_conv_progress_locked(run, 0);
    pthread_mutex_unlock(&run->mu);
    return r2h_conv_unwanted(run);
}

int r2h_conv_unwanted(const struct run *run)
{
    return run->arrow && r2h_arrow_queue_released(run->arrow);
}

static void *write_worker(void *arg)
{
    struct worker *wk = arg;
    struct run *run = wk->run;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    char msg[1024];
    long bc, i;
    while ((i = r2h_conv_take_next(run, R2H_NUM_BASE_CELLS, 0)) >= 0) {
        bc = run->write_order[i];
        uint64_t n = run->skip[bc] ? 0 : r2h_runs_rows(run->runs, (int)bc);
        enum r2h_status st =
            !n         ? R2H_OK
            : run->agg ? r2h_conv_write_partition_agg(run, (int)bc, wk->phase, msg, sizeof msg)
                       : r2h_conv_write_partition(run, (int)bc, wk->phase, msg, sizeof msg);
        if (n && run->agg)
            n = run->manifest.parts[bc].rows; /* cells written */
        if (n)
            run->manifest.parts[bc].rows = n;
        if (st != R2H_OK) {
            r2h_conv_fail(run, st, msg);
            break;
        }
        if (n) {
            pthread_mutex_lock(&run->mu);
            run->res.rows_written += n;
            run->res.partitions_written++;
            pthread_mutex_unlock(&run->mu);
        }
    }
    CPLPopErrorHandler();
    return NULL;
}

/* Windows of the raster this run reads: the whole raster, or for a work unit on a geographic
 * raster the windows that can hold its base cell. */
static enum r2h_status plan_windows(struct run *run, int (*win)[4], int *nwin)
{
    const struct r2h_raster_info *in = run->info;
    *nwin = 0;
    if (run->opt->work_unit >= 0) {
        struct r2h_box box;
        enum r2h_status st =
            r2h_index_base_cell_box(run->opt->work_unit, run->opt->resolution, &box);
        if (st != R2H_OK) {
            r2h_fmt(run->err, run->errlen, "cannot compute bounds of base cell %d",
                    run->opt->work_unit);
            return st;
        }
        if (r2h_raster_window_for_box(run->raster, box.lat0, box.lat1, box.lng0, box.lng1, win,
                                      nwin))
            return R2H_OK;
    }
    win[0][0] = 0;
    win[0][1] = 0;
    win[0][2] = in->width;
    win[0][3] = in->height;
    *nwin = 1;
    return R2H_OK;
}

/* Chunks of about chunk_pixels over the windows that cover whole blocks (r2h_scan_plan_chunks). */
static enum r2h_status plan_chunks(struct run *run, const int (*win)[4], int nwin)
{
    return r2h_scan_plan_chunks(run->info, run->chunk_pixels, win, nwin, &run->chunks,
                                &run->nchunks, &run->pixels_total, run->err, run->errlen);
}

static enum r2h_status check_options(const struct r2h_convert_options *o, int need_output,
                                     char *err, size_t len)
{
    if (!o->input || !*o->input) {
        r2h_fmt(err, len, "no input given");
        return R2H_ERR_INVALID;
    }
    if (need_output && (!o->output || !*o->output)) {
        r2h_fmt(err, len, "no output given");
        return R2H_ERR_INVALID;
    }
    if (o->resolution < 0 || o->resolution > R2H_MAX_RES) {
        r2h_fmt(err, len, "resolution %d out of range 0..15", o->resolution);
        return R2H_ERR_INVALID;
    }
    if (o->work_unit < -1 || o->work_unit >= R2H_NUM_BASE_CELLS) {
        r2h_fmt(err, len, "work unit %d out of range 0..121", o->work_unit);
        return R2H_ERR_INVALID;
    }
    if (o->threads < 0 || o->threads > 1024) {
        r2h_fmt(err, len, "threads %d out of range 0..1024", o->threads);
        return R2H_ERR_INVALID;
    }
    return R2H_OK;
}

/* Run fn on every worker thread (worker 0 on the calling thread) and wait for all. */
static void run_workers(struct run *run, void *(*fn)(void *))
{
    run->next = 0;
    int started = 1;
    for (int i = 1; i < run->nworkers; i++) {
        if (pthread_create(&run->workers[i].tid, NULL, fn, &run->workers[i]) != 0)
            break;
        started++;
    }
    fn(&run->workers[0]);
    for (int i = 1; i < started; i++)
        pthread_join(run->workers[i].tid, NULL);
}

/* Split the memory budget (docs/design/0003-memory-budget.md): 55% for row buffers and their
 * sort scratch (8 bytes per packed row plus 512 KiB, else twice the row: 32 bytes per pair, 64
 * per wide row), 10% for read chunks,
 * 10% for merge buffers, 15% for Parquet row groups being encoded (about 3 copies of a row group
 * per writer), and GDAL's block cache (1/16, capped). */
void r2h_conv_plan_memory(struct run *run, int nworkers)
{
    const struct r2h_raster_info *in = run->info;
    const uint64_t b = run->budget;
    /* Per pixel read: its record, validity and (several bands) a mask scratch byte. Per row
     * encoded: every band's value and the cell. */
    const size_t psz = in->pixel_size + (in->nsel > 1 ? 2 : 1);
    const size_t vsz = r2h_bands_value_bytes(run->bands);
    /* Packed rows sort in place with a small scratch; others need a scratch copy of the rows. */
    const uint64_t per_row = run->fmt.packed ? 8 : 2 * r2h_rowfmt_size(&run->fmt);
    uint64_t share = b * 55 / 100 / (uint64_t)nworkers;
    if (run->fmt.packed)
        share = share > 2 * SORT_SCRATCH * 8 ? share - SORT_SCRATCH * 8 : share / 2;
    size_t rows = (size_t)(share / per_row);
    run->rows_per_worker = rows < 4096 ? 4096 : rows;
    size_t px = (size_t)(b / 10 / ((uint64_t)nworkers * psz));
    run->chunk_pixels = px > ((size_t)4 << 20) ? ((size_t)4 << 20) : px < 65536 ? 65536 : px;
    size_t rg = (size_t)(b * 15 / 100 / ((uint64_t)nworkers * 3 * (vsz + 8)));
    run->row_group_rows = rg > ((size_t)1 << 20) ? ((size_t)1 << 20) : rg < 65536 ? 65536 : rg;
}

void r2h_gdal_defaults(uint64_t memory)
{
    const uint64_t b = memory ? memory : (uint64_t)1 << 30;
    if (!getenv("GDAL_CACHEMAX") && !CPLGetConfigOption("GDAL_CACHEMAX", NULL)) {
        char v[32];
        uint64_t mb = b / 16 / (1 << 20);
        r2h_fmt(v, sizeof v, "%llu", (unsigned long long)(mb < 8 ? 8 : mb > 256 ? 256 : mb));
        CPLSetConfigOption("GDAL_CACHEMAX", v);
    }
    r2h_out_configure_network(); /* input reads and output writes alike */
}

/* Each worker costs about 1 MiB beyond its share of the budget (its GDAL dataset and decoded
 * blocks, the floors of its read chunk, row buffer and row group, its malloc arena), so at most
 * one worker per 4 MiB of budget keeps peak RSS under budget + 64 MiB (docs/design/0003). */
#define BUDGET_PER_THREAD ((uint64_t)4 << 20)

int r2h_conv_thread_count(const struct r2h_convert_options *opt)
{
    int n = opt->threads > 0 ? opt->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    const uint64_t budget = opt->memory ? opt->memory : (uint64_t)1 << 30;
    const uint64_t cap = budget / BUDGET_PER_THREAD;
    if ((uint64_t)n > cap)
        n = (int)cap;
    return n < 1 ? 1 : n;
}

enum r2h_status r2h_conv_open_workers(struct run *run, int n, int with_rows)
{
    const struct r2h_convert_options *opt = run->opt;
    if ((size_t)n > run->nchunks && run->nchunks > 0)
        n = (int)run->nchunks;
    run->workers = r2h_calloc((size_t)n, sizeof *run->workers);
    if (!run->workers) {
        r2h_fmt(run->err, run->errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    run->nworkers = n;
    for (int i = 0; i < n; i++) {
        struct worker *wk = &run->workers[i];
        wk->run = run;
        if (with_rows) {
            wk->cap = run->rows_per_worker;
            wk->cap_tmp = run->fmt.packed && wk->cap > SORT_SCRATCH ? SORT_SCRATCH : wk->cap;
            wk->rows = r2h_malloc(wk->cap * r2h_rowfmt_size(&run->fmt));
            wk->tmp = r2h_malloc(wk->cap_tmp * r2h_rowfmt_size(&run->fmt));
            wk->count = r2h_malloc(R2H_SORT_COUNT * sizeof *wk->count);
            if (!wk->rows || !wk->tmp || !wk->count) {
                r2h_fmt(run->err, run->errlen,
                        "out of memory allocating row buffers (--memory %llu)",
                        (unsigned long long)run->budget);
                return R2H_ERR_NOMEM;
            }
        }
        if (i == 0) {
            wk->raster = run->raster;
            continue;
        }
        enum r2h_status st = r2h_raster_open_another(run->raster, opt->input, opt->band, opt->srs,
                                                     &wk->raster, run->err, run->errlen);
        if (st == R2H_OK && opt->nbands != 0)
            st = r2h_raster_select(wk->raster, run->bands->band, run->bands->n, run->err,
                                   run->errlen);
        if (st != R2H_OK)
            return st;
        if (run->bands->alpha_mask)
            r2h_raster_mask_with(wk->raster, run->bands->alpha_mask);
        if (opt->unscale)
            r2h_raster_set_unscale(wk->raster);
        if (opt->has_nodata)
            r2h_raster_set_nodata(wk->raster, opt->nodata);
    }
    return R2H_OK;
}

static void free_read_buffers(struct worker *wk)
{
    r2h_free(wk->tmp);
    r2h_free(wk->count);
    r2h_free(wk->keys);
    wk->keys = NULL;
    wk->tmp = NULL;
    wk->count = NULL;
    wk->cap_w = 0;
}

static void free_workers(struct run *run)
{
    for (int i = 0; i < run->nworkers; i++) {
        struct worker *wk = &run->workers[i];
        if (i > 0)
            r2h_raster_close(wk->raster);
        free_read_buffers(wk);
        r2h_free(wk->rows);
    }
    r2h_free(run->workers);
    run->workers = NULL;
}

/* End of the read pass: each worker's remaining rows become a sorted in-memory run; scratch
 * memory is released for the write pass, whose merge buffers get a share of the budget. */
static enum r2h_status finish_read(struct run *run)
{
    for (int i = 0; i < run->nworkers; i++) {
        struct worker *wk = &run->workers[i];
        free_read_buffers(wk);
        if (r2h_runs_add_memory(run->runs, wk->rows, wk->nrows) != R2H_OK) {
            r2h_fmt(run->err, run->errlen, "out of memory");
            return R2H_ERR_NOMEM;
        }
    }
    uint64_t rows[R2H_NUM_BASE_CELLS];
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        rows[bc] = r2h_runs_rows(run->runs, bc);
        run->res.pixels_valid += rows[bc];
    }
    /* Largest partitions first, so that threads finish together (insertion sort, stable). */
    for (int i = 0; i < R2H_NUM_BASE_CELLS; i++) {
        int j = i;
        for (; j > 0 && rows[run->write_order[j - 1]] < rows[i]; j--)
            run->write_order[j] = run->write_order[j - 1];
        run->write_order[j] = (uint8_t)i;
    }
    size_t nruns = r2h_runs_count(run->runs);
    uint64_t per = run->budget / 10 /
                   ((uint64_t)run->nworkers * (nruns ? nruns : 1) * r2h_rowfmt_size(&run->fmt));
    run->merge_rows = per < 1024 ? 1024 : per > 65536 ? 65536 : (size_t)per;
    run->res.spilled_bytes = r2h_runs_spilled_bytes(run->runs);
    return R2H_OK;
}

/* Lock a local OUTPUT before anything in it is read or removed (resume planning deletes
 * temporaries of killed runs: a concurrent run's live ones are not). A dry run does not create
 * OUTPUT, so it locks only an existing, writable one. */
static enum r2h_status lock_output(struct run *run, struct r2h_lock **lock)
{
    const struct r2h_convert_options *opt = run->opt;
    struct stat sb;
    if (run->remote ||
        (opt->dry_run && (stat(opt->output, &sb) != 0 || access(opt->output, W_OK | X_OK) != 0)))
        return R2H_OK;
    enum r2h_status st = R2H_OK;
    if (!opt->dry_run && (st = r2h_conv_mkdir_p(opt->output, run->err, run->errlen)) != R2H_OK)
        return st;
    run->err[0] = 0;
    st = r2h_lock_acquire(opt->output, opt->work_unit, lock, run->err, run->errlen);
    if (st == R2H_OK && !*lock && run->err[0]) {
        r2h_conv_warn(run, "%s", run->err);
        run->err[0] = 0;
    }
    return st;
}

enum r2h_status r2h_conv_open(struct run *run)
{
    const struct r2h_convert_options *opt = run->opt;
    pthread_mutex_init(&run->mu, NULL);
    run->t_start = run->t_last_progress = r2h_now();
    run->budget = opt->memory ? opt->memory : (uint64_t)1 << 30;
    enum r2h_status st = check_options(opt, !run->arrow, run->err, run->errlen);
    if (st != R2H_OK)
        return st;
    if ((st = r2h_raster_open_srs(opt->input, opt->band, opt->srs, &run->raster, run->err,
                                  run->errlen)) != R2H_OK)
        return st;
    if ((st = r2h_bands_plan(opt, run->raster, &run->bands, run->err, run->errlen)) != R2H_OK)
        return st;
    if (opt->has_nodata)
        r2h_raster_set_nodata(run->raster, opt->nodata);
    run->info = r2h_raster_get_info(run->raster);
    run->value_name = run->bands->name[0];
    return R2H_OK;
}

enum r2h_status r2h_conv_scan(struct run *run, int nthreads, int with_rows,
                              const struct r2h_scan_consumer *consumer)
{
    const struct r2h_convert_options *opt = run->opt;
    enum r2h_status st;
    r2h_conv_plan_memory(run, nthreads);
    if (run->info->geographic && !run->info->rotated && !opt->reference_index &&
        (st = r2h_fast_grid_create(run->info->gt, run->info->width, run->info->height,
                                   opt->resolution, &run->grid)) != R2H_OK) {
        r2h_fmt(run->err, run->errlen, "cannot set up fast indexing: %s", r2h_status_str(st));
        return st;
    }
    int win[3][4], nwin = 0;
    if ((st = plan_windows(run, win, &nwin)) != R2H_OK)
        return st;
    if ((st = plan_chunks(run, (const int(*)[4])win, nwin)) != R2H_OK)
        return st;
    if ((st = r2h_conv_open_workers(run, nthreads, with_rows)) != R2H_OK)
        return st;
    struct r2h_raster **rasters = r2h_malloc((size_t)run->nworkers * sizeof *rasters);
    run->scan = r2h_calloc((size_t)run->nworkers, sizeof *run->scan);
    if (!rasters || !run->scan) {
        r2h_free(rasters);
        r2h_fmt(run->err, run->errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    for (int i = 0; i < run->nworkers; i++)
        rasters[i] = run->workers[i].raster;
    const struct r2h_scan_options so = {.rasters = rasters,
                                        .nworkers = run->nworkers,
                                        .chunks = run->chunks,
                                        .nchunks = run->nchunks,
                                        .resolution = opt->resolution,
                                        .reference = opt->reference_index,
                                        .grid = run->grid};
    st = r2h_scan_run(&so, consumer, run->scan, run->err, run->errlen);
    r2h_free(rasters);
    if (st != R2H_OK)
        return st;
    run->res.pixels_read = run->pixels_done;
    for (int i = 0; i < run->nworkers; i++) {
        const struct r2h_scan_stats *ss = &run->scan[i];
        struct worker *wk = &run->workers[i];
        run->res.index_fallbacks += ss->fallbacks;
        wk->phase[PHASE_READ] += ss->phase[R2H_SCAN_READ];
        wk->phase[PHASE_LOCATE] += ss->phase[R2H_SCAN_LOCATE];
        wk->phase[PHASE_INDEX] += ss->phase[R2H_SCAN_INDEX];
        wk->phase[PHASE_ROUTE] += ss->phase[R2H_SCAN_CONSUME];
    }
    r2h_conv_warn_dropped(run);
    return R2H_OK;
}

void r2h_conv_close(struct run *run)
{
    free_workers(run);
    r2h_free(run->scan);
    r2h_runs_destroy(run->runs);
    r2h_free(run->chunks);
    r2h_raster_close(run->raster);
    r2h_fast_grid_free(run->grid);
    r2h_agg_destroy(run->agg);
    r2h_overlay_destroy(run->overlay);
    r2h_bands_free(run->bands);
    pthread_mutex_destroy(&run->mu);
}

/* Unencoded row groups of an Arrow run: each a record batch, handed to the stream's queue. */
static enum r2h_status arrow_group(void *ctx, const struct r2h_pq_rowgroup_column *cols,
                                   size_t ncols, size_t nrows)
{
    struct run *run = ctx;
    struct ArrowArray batch;
    enum r2h_status st = r2h_arrow_batch(cols, ncols, nrows, &batch);
    return st != R2H_OK ? st : r2h_arrow_queue_push(run->arrow, &batch);
}

/* The run: Parquet files under opt->output, or (arrow not NULL) Arrow batches to arrow, with no
 * output, lock, resume or manifest. */
static enum r2h_status convert_run(const struct r2h_convert_options *opt,
                                   struct r2h_convert_result *res, struct r2h_arrow_queue *arrow,
                                   char *errbuf, size_t errbuf_len)
{
    char scratch[16];
    struct run run = {.opt = opt,
                      .err = errbuf ? errbuf : scratch,
                      .errlen = errbuf ? errbuf_len : sizeof scratch,
                      .arrow = arrow};
    run.rows = (struct r2h_pq_rows){.group = arrow_group, .ctx = &run};
    struct r2h_lock *lock = NULL;
    enum r2h_status st = r2h_conv_open(&run);
    if (st != R2H_OK)
        goto out;
    warn_scale(&run);
    const int sample = r2h_conv_method_sample(&run);
    if ((st = r2h_conv_check_method(&run, sample)) != R2H_OK)
        goto out;
    if (!run.overlay &&
        (st = r2h_agg_create(opt, run.info, run.bands, &run.agg, run.err, run.errlen)) != R2H_OK)
        goto out;
    r2h_fingerprint(opt, run.info, run.bands, run.fingerprint, sizeof run.fingerprint);
    if (run.agg)
        r2h_agg_fingerprint(run.agg, run.fingerprint, sizeof run.fingerprint);
    if (sample)
        r2h_fingerprint_mix(run.fingerprint, sizeof run.fingerprint, r2h_conv_method_spec(&run));
    if (arrow) {
        struct r2h_pq_column_spec pcols[R2H_RASTER_MAX_BANDS + 1];
        const struct r2h_pq_column_spec *cols = pcols;
        char cellname[8];
        size_t ncols = 0;
        if (run.agg)
            r2h_agg_columns(run.agg, &cols, &ncols);
        else if (!sample)
            ncols = r2h_conv_point_columns(&run, pcols, cellname, sizeof cellname);
        if (ncols && (st = r2h_conv_announce_columns(&run, cols, ncols)) != R2H_OK)
            goto out;
        run.remote = 1; /* nothing local to make */
        goto write;
    }
    r2h_out_root(opt->output, run.root, sizeof run.root);
    run.remote = r2h_out_is_remote(run.root);
    if ((st = lock_output(&run, &lock)) != R2H_OK)
        goto out;
    if ((st = r2h_conv_plan_resume(&run)) != R2H_OK)
        goto out;
    const int wu_done =
        opt->work_unit >= 0 ? run.skip[opt->work_unit] : r2h_conv_manifest_done(&run);
    if (opt->dry_run && sample) {
        st = r2h_conv_sample_plan_events(&run);
        goto out;
    }
    if (opt->dry_run) {
        int win[3][4], nwin = 0;
        r2h_conv_plan_memory(
            &run, r2h_conv_thread_count(opt)); /* chunk sizes as the real run plans them */
        if ((st = plan_windows(&run, win, &nwin)) == R2H_OK &&
            (st = plan_chunks(&run, (const int(*)[4])win, nwin)) == R2H_OK)
            r2h_conv_plan_events(&run);
        goto out;
    }
    if (wu_done) {
        r2h_conv_event_line(&run, R2H_EVENT_NOTHING_TO_DO, "%s",
                            opt->work_unit >= 0 ? "the partition" : "the dataset");
        if (res)
            *res = run.res;
        goto out;
    }
    if (!run.remote && (st = r2h_conv_mkdir_p(opt->output, run.err, run.errlen)) != R2H_OK)
        goto out;
    if (!run.remote && access(opt->output, W_OK | X_OK) != 0) {
        r2h_fmt(run.err, run.errlen, "%s: output directory not writable: %s", opt->output,
                strerror(errno));
        st = R2H_ERR_IO;
        goto out;
    }
write:;
    const int nthreads = r2h_conv_thread_count(opt);
    if (opt->threads > nthreads)
        r2h_conv_warn(&run, "--threads %d reduced to %d: each thread needs %llu MiB of --memory",
                      opt->threads, nthreads, (unsigned long long)(BUDGET_PER_THREAD >> 20));
    if (sample) {
        if ((st = r2h_conv_sample(&run, nthreads)) != R2H_OK)
            goto out;
        goto finish;
    }
    r2h_agg_rowfmt(run.agg, run.bands, opt->resolution, &run.fmt);
    if ((st = r2h_runs_create(opt->tmpdir, &run.fmt, &run.runs, run.err, run.errlen)) != R2H_OK)
        goto out;
    struct r2h_scan_consumer rows;
    r2h_conv_rows_consumer(&run, &rows);
    if ((st = r2h_conv_scan(&run, nthreads, 1, &rows)) != R2H_OK)
        goto out;
    if ((st = finish_read(&run)) != R2H_OK)
        goto out;
    if (opt->work_unit < 0 && !arrow && (st = r2h_conv_begin_dataset(&run)) != R2H_OK)
        goto out;
    run_workers(&run, write_worker);
    if ((st = run.status) != R2H_OK)
        goto out;
    for (int i = 0; i < run.nworkers; i++)
        for (int k = 0; k < NPHASES; k++)
            run.phase[k] += run.workers[i].phase[k];
finish:
    if (arrow)
        ;
    else if (opt->work_unit >= 0)
        r2h_conv_finish_work_unit(&run);
    else if ((st = r2h_conv_finish_dataset(&run)) != R2H_OK)
        goto out;
    pthread_mutex_lock(&run.mu);
    r2h_conv_progress_locked(&run, 1);
    pthread_mutex_unlock(&run.mu);
    if (opt->profile)
        r2h_conv_profile_event(&run);
    if (res)
        *res = run.res;
out:
    r2h_conv_close(&run);
    r2h_lock_release(lock);
    return st;
}

/* The caller's options over the defaults, reading only struct_size bytes of them. The first
 * version with struct_size ends with event_ctx; fields added later lie beyond it. */
static enum r2h_status sized_options(const struct r2h_convert_options *opt,
                                     struct r2h_convert_options *o, char *errbuf, size_t errbuf_len)
{
    r2h_convert_options_init(o);
    enum r2h_status st =
        r2h_options_copy(o, sizeof *o, opt, opt ? opt->struct_size : 0,
                         offsetof(struct r2h_convert_options, event_ctx) + sizeof(void *),
                         "r2h_convert_options_init", errbuf, errbuf_len);
    o->struct_size = sizeof *o;
    if (st != R2H_OK)
        return st;
    /* One cell type from here on: cell_string (the older field) is cell_type STRING. */
    if ((unsigned)o->cell_type > R2H_CELL_STRING) {
        r2h_fmt(errbuf, errbuf_len, "cell_type must be uint64, int64 or string");
        return R2H_ERR_INVALID;
    }
    if (o->cell_string && o->cell_type == R2H_CELL_INT64) {
        r2h_fmt(errbuf, errbuf_len, "cell_string (string cells) conflicts with cell_type int64");
        return R2H_ERR_INVALID;
    }
    if (o->cell_string)
        o->cell_type = R2H_CELL_STRING;
    o->cell_string = o->cell_type == R2H_CELL_STRING;
    return R2H_OK;
}

enum r2h_status r2h_convert(const struct r2h_convert_options *opt, struct r2h_convert_result *res,
                            char *errbuf, size_t errbuf_len)
{
    struct r2h_convert_options o;
    char sub[4096]; /* --variable: the subdataset is the input */
    enum r2h_status st = sized_options(opt, &o, errbuf, errbuf_len);
    if (st == R2H_OK && o.variable && o.input && *o.input) {
        st = r2h_input_variable(o.input, o.variable, sub, sizeof sub, errbuf, errbuf_len);
        o.input = sub;
    }
    return st != R2H_OK ? st : convert_run(&o, res, NULL, errbuf, errbuf_len);
}

/* ---- Arrow batches ------------------------------------------------------------------------ */

/* An Arrow run's own copy of the caller's options (they outlive the call). */
struct arrow_run {
    struct r2h_convert_options o;
    char *strs[5];
    int *bands;
    double *classes;
    char **names;
    int nnames;
};

static void arrow_run_free(void *ctx)
{
    struct arrow_run *a = ctx;
    for (int i = 0; i < 5; i++)
        r2h_free(a->strs[i]);
    for (int i = 0; a->names && i < a->nnames; i++)
        r2h_free(a->names[i]);
    r2h_free(a->names);
    r2h_free(a->bands);
    r2h_free(a->classes);
    r2h_free(a);
}

/* Copy s into a->strs[k] and point *field at it; 0 when out of memory. */
static int own_str(struct arrow_run *a, int k, const char **field)
{
    if (!*field)
        return 1;
    a->strs[k] = r2h_strdup(*field);
    *field = a->strs[k];
    return a->strs[k] != NULL;
}

static struct arrow_run *arrow_run_new(const struct r2h_convert_options *o)
{
    struct arrow_run *a = r2h_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->o = *o;
    int ok = own_str(a, 0, &a->o.input) && own_str(a, 1, &a->o.value_name) &&
             own_str(a, 2, &a->o.srs) && own_str(a, 3, &a->o.tmpdir) &&
             own_str(a, 4, &a->o.variable);
    a->o.output = NULL;
    if (ok && o->bands && o->nbands > 0) {
        ok = (a->bands = r2h_malloc((size_t)o->nbands * sizeof *a->bands)) != NULL;
        if (ok)
            memcpy(a->bands, o->bands, (size_t)o->nbands * sizeof *a->bands);
        a->o.bands = a->bands;
    }
    if (ok && o->classes && o->nclasses > 0) {
        ok = (a->classes = r2h_malloc((size_t)o->nclasses * sizeof *a->classes)) != NULL;
        if (ok)
            memcpy(a->classes, o->classes, (size_t)o->nclasses * sizeof *a->classes);
        a->o.classes = a->classes;
    }
    if (ok && o->value_names && o->nvalue_names > 0) {
        ok = (a->names = r2h_calloc((size_t)o->nvalue_names, sizeof *a->names)) != NULL;
        for (int i = 0; ok && i < o->nvalue_names; i++, a->nnames++)
            ok = !o->value_names[i] || (a->names[i] = r2h_strdup(o->value_names[i])) != NULL;
        a->o.value_names = (const char *const *)a->names;
    }
    if (!ok) {
        arrow_run_free(a);
        return NULL;
    }
    return a;
}

static enum r2h_status arrow_produce(void *ctx, struct r2h_arrow_queue *q, char *msg, size_t msglen)
{
    struct arrow_run *a = ctx;
    return convert_run(&a->o, NULL, q, msg, msglen);
}

enum r2h_status r2h_convert_to_arrow(const struct r2h_convert_options *opt,
                                     struct ArrowArrayStream *out, char *errbuf, size_t errbuf_len)
{
    struct r2h_convert_options o;
    char sub[4096]; /* variable: the subdataset is the input */
    enum r2h_status st = sized_options(opt, &o, errbuf, errbuf_len);
    if (st == R2H_OK && o.variable && o.input && *o.input) {
        st = r2h_input_variable(o.input, o.variable, sub, sizeof sub, errbuf, errbuf_len);
        o.input = sub;
    }
    if (st != R2H_OK)
        return st;
    if (!out || o.dry_run) {
        r2h_fmt(errbuf, errbuf_len, "%s", out ? "a dry run has no rows to stream" : "no stream");
        return R2H_ERR_INVALID;
    }
    struct arrow_run *a = arrow_run_new(&o);
    if (!a) {
        r2h_fmt(errbuf, errbuf_len, "out of memory");
        return R2H_ERR_NOMEM;
    }
    /* Two finished batches may wait for the consumer while the writers make the next ones. */
    return r2h_arrow_stream_start(arrow_produce, a, arrow_run_free, 2, out, errbuf, errbuf_len);
}
