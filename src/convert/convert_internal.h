/* convert_internal.h - state of one convert run, shared by the files that implement it:
 *   convert.c    orchestration: options, planning, memory budget, workers, write pass
 *                dispatch, r2h_convert
 *   read_pass.c  the row-buffer consumer of the scan (src/scan): route, sort, spill
 *   count.c      the base-cell counter consumer of the scan: r2h_count_valid (verify --input)
 *   fingerprint.c  the run fingerprint
 *   bands.c, aggregate.c  band plans and aggregation (declared in r2h_convert.h)
 *   partition.c  writing one partition file (Parquet schema, footer metadata, merge -> writer)
 *   resume.c     resume and dataset bookkeeping: complete/stale partitions, manifest, --dry-run
 *   progress.c   the run's events: progress and the --profile report
 * Not part of the convert module's interface to tools or tests (that is r2h_convert.h). */
#ifndef R2H_CONVERT_INTERNAL_H
#define R2H_CONVERT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "r2h_arrow.h"
#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_scan.h"

/* Phases of a run, timed per worker thread (--profile). */
enum {
    PHASE_READ,
    PHASE_LOCATE,
    PHASE_INDEX,
    PHASE_ROUTE,
    PHASE_SORT,
    PHASE_SPILL,
    PHASE_WRITE,
    NPHASES
};

struct r2h_fast_grid;
struct r2h_sampler;
struct r2h_overlay;

struct run {
    const struct r2h_convert_options *opt;
    struct r2h_raster *raster;
    const struct r2h_raster_info *info;
    struct worker *workers;
    int nworkers;
    struct r2h_scan_chunk *chunks;
    struct r2h_scan_stats *scan; /* what each worker's scan saw */
    size_t nchunks;
    struct r2h_runs *runs;  /* sorted runs of all workers */
    struct r2h_rowfmt fmt;  /* their row layout */
    size_t rows_per_worker; /* row buffer capacity from the memory budget */
    size_t chunk_pixels;    /* pixels per read chunk from the memory budget */
    size_t merge_rows;      /* buffer rows per spilled run in a merge */
    size_t row_group_rows;  /* Parquet row group size from the memory budget */
    uint64_t budget;
    const char *value_name;  /* the first value column */
    struct r2h_bands *bands; /* the selected bands, their columns and key layout */
    struct r2h_agg *agg;     /* aggregation / extra columns; NULL: pixel rows */
    char fingerprint[24];
    char root[4096]; /* output root (s3:// mapped to /vsis3/) */
    int remote;
    struct r2h_fast_grid *grid;              /* fast exact indexing of geographic grids */
    uint8_t skip[R2H_NUM_BASE_CELLS];        /* complete partitions left alone */
    int nskip;                               /* how many */
    uint8_t stale[R2H_NUM_BASE_CELLS];       /* partitions present but not complete */
    uint8_t write_order[R2H_NUM_BASE_CELLS]; /* partitions by decreasing rows (balance) */
    struct r2h_manifest manifest;
    struct r2h_sampler *sampler; /* --method sample: the ordered stream of rows (sample.c) */
    struct r2h_overlay *overlay; /* --method overlay: statistics per cell (overlay.c) */
    uint8_t planned[R2H_NUM_BASE_CELLS]; /* sample: partitions the plan may give rows */
    double pixel_area, cell_area;        /* m2 at the raster's centre (r2h_conv_method_sample) */
    int cells_mode;                      /* the scan per cell: progress and profile count cells */
    uint64_t void_blocks, pairs;         /* overlay: blocks skipped, (cell, pixel) pairs */
    struct r2h_arrow_queue *arrow;       /* rows to Arrow batches, not files (else NULL) */
    struct r2h_pq_rows rows;             /* the writers' unencoded row groups to arrow */
    double phase[NPHASES];
    double t_start, t_last_progress;
    uint64_t pixels_total;
    struct r2h_convert_result res;
    /* Shared between workers, guarded by mu. */
    pthread_mutex_t mu;
    size_t next; /* next chunk or partition to take */
    uint64_t pixels_done;
    enum r2h_status status; /* first error; workers stop when set */
    char *err;
    size_t errlen;
};

/* convert.c */
/* One R2H_EVENT_WARNING line to the options' event callback (if any); printf-style. */
void r2h_conv_warn(const struct run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* partition.c */
/* The Parquet options of the run's partition files and row groups: zstd at the run's level,
 * the run's row groups; unencoded row groups to the Arrow queue when the run has one. */
void r2h_conv_pq_options(const struct run *run, struct r2h_pq_options *po);
/* The columns of pixel rows (the bands' values, then the cell): n columns into cols (room for
 * R2H_RASTER_MAX_BANDS + 1), the cell column's name in cellname. */
size_t r2h_conv_point_columns(const struct run *run, struct r2h_pq_column_spec *cols,
                              char *cellname, size_t cellnamelen);
/* An Arrow run: the schema of its batches (no-op for a run that writes files). */
enum r2h_status r2h_conv_announce_columns(struct run *run, const struct r2h_pq_column_spec *cols,
                                          size_t ncols);

/* progress.c */
/* Pass ev to the options' event callback (if any). */
void r2h_conv_event(const struct run *run, struct r2h_event *ev);
/* An event whose payload is one line (plan line, nothing to do, warning); printf-style. */
void r2h_conv_event_line(const struct run *run, enum r2h_event_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a va_list (r2h_conv_warn forwards to it). */
void r2h_conv_event_vline(const struct run *run, enum r2h_event_kind kind, const char *fmt,
                          va_list ap) __attribute__((format(printf, 3, 0)));
/* A progress event (throttled by the progress mode unless final); call with run->mu held. */
void r2h_conv_progress_locked(struct run *run, int final);
/* The --profile event: phase thread-seconds, index path, counters, peak RSS. */
void r2h_conv_profile_event(const struct run *run);

/* partition.c */
/* Create directory path and its parents (local outputs); message in err on failure. */
enum r2h_status r2h_conv_mkdir_p(const char *path, char *err, size_t errlen);
/* OUTPUT/h0=<cell>/data_0.parquet of base cell bc into path. */
void r2h_conv_partition_path(const struct run *run, int bc, char *path, size_t len);
/* Write partition bc (pixel rows) from the merge of all runs; thread-safe for distinct bc. */
enum r2h_status r2h_conv_write_partition(struct run *run, int bc, double *phase, char *msg,
                                         size_t msglen);
/* --method sample's partition files (sample.c writes their row groups): the columns (the
 * bands', then the cell column, DELTA; returns how many), opening OUTPUT/h0=<cell>/data_0.parquet
 * with the run's options and footer, and committing it. */
struct r2h_pq_column_spec;
struct r2h_pq_writer;
int r2h_conv_sample_columns(const struct run *run, const struct r2h_bands *b,
                            struct r2h_pq_column_spec *cols, char *cellname, size_t cellnamelen);
enum r2h_status r2h_conv_partition_open(struct run *run, int bc,
                                        const struct r2h_pq_column_spec *cols, size_t ncols,
                                        char *path, size_t pathlen, struct r2h_pq_writer **out,
                                        char *msg, size_t msglen);
enum r2h_status r2h_conv_partition_close(struct r2h_pq_writer *w, const char *path, char *msg,
                                         size_t msglen);
/* The same with aggregation or extra columns (aggregate.c writes the rows). */
enum r2h_status r2h_conv_write_partition_agg(struct run *run, int bc, double *phase, char *msg,
                                             size_t msglen);

/* The rows of partition bc for its writer: the merge of the read pass's runs, or with
 * --method sample the sampler's ordered stream (sample.c). */
enum r2h_status r2h_conv_open_rows(struct run *run, int bc, struct r2h_merge **out);

/* The scan per cell of a run (sample.c): workers, options and plan; finish adds its stats to
 * the run and frees it. */
struct r2h_conv_cells {
    struct r2h_raster **rasters;
    struct r2h_cells_options co;
    struct r2h_cells_plan plan;
    struct r2h_cells_stats *stats;
};
enum r2h_status r2h_conv_cells_setup(struct run *run, int nthreads, struct r2h_conv_cells *cs);
void r2h_conv_cells_finish(struct run *run, struct r2h_conv_cells *cs);

/* sample.c: the --method sample run after resume planning (scan per cell, ordered writer). */
enum r2h_status r2h_conv_sample(struct run *run, int nthreads);
/* --dry-run of a sample run: the partitions kept or redone and the planned chunks as
 * PLAN_LINE events (sample.c). */
enum r2h_status r2h_conv_sample_plan_events(struct run *run);
/* Whether a method other than point applies; AUTO resolved into run (sample.c). */
int r2h_conv_method_sample(struct run *run);
/* Check the options against the method (sample: no --aggregate, one band for bilinear/cubic,
 * whose value column becomes float64) and say which method AUTO chose (sample.c). */
enum r2h_status r2h_conv_check_method(struct run *run, int sample);
/* "method=sample;resample=<kernel>", or the overlay's r2h_overlay_spec, for fingerprints
 * (method.c). */
const char *r2h_conv_method_spec(const struct run *run);
/* The same without "method=", for the footer's raster2h3:method (method.c). */
const char *r2h_conv_method_meta(const struct run *run);

/* overlay.c: --method overlay's checks and output columns (the value record of a cell), and
 * the statistics of a batch's cells from their pairs into out (one record each; scratch grows
 * for the mode). */
struct r2h_cells_batch;
enum r2h_status r2h_overlay_create(struct run *run, struct r2h_overlay **out);
void r2h_overlay_destroy(struct r2h_overlay *ov);
const struct r2h_bands *r2h_overlay_layout(const struct r2h_overlay *ov);
/* "overlay;min_coverage=..;density=..;columns=.." (fingerprint, footer raster2h3:method). */
const char *r2h_overlay_spec(const struct r2h_overlay *ov);
struct r2h_overlay_areas; /* pixel areas already computed (projected rasters), per thread */
enum r2h_status r2h_overlay_fold(const struct r2h_overlay *ov, struct r2h_raster *raster,
                                 const struct r2h_cells_batch *b, unsigned char *out,
                                 void **scratch, size_t *scratch_n,
                                 struct r2h_overlay_areas **memo);

/* resume.c */
/* Mark partitions complete (skip) or stale, removing leftover temporary files and strays;
 * R2H_ERR_IO when a file raster2h3 did not write is in the way (without --overwrite). */
enum r2h_status r2h_conv_plan_resume(struct run *run);
/* Whole-raster run, before the write pass: the manifest with "complete": false. */
enum r2h_status r2h_conv_begin_dataset(struct run *run);
/* Whole-raster run: remove stale partitions without rows, then write the manifest. */
enum r2h_status r2h_conv_finish_dataset(struct run *run);
/* Work unit: remove its stale partition if this run gave it no rows. */
void r2h_conv_finish_work_unit(struct run *run);
/* 1 when the manifest says this whole run is complete already. */
int r2h_conv_manifest_done(const struct run *run);
/* --dry-run: the plan as PLAN_LINE events. */
void r2h_conv_plan_events(const struct run *run);

/* Shared by convert.c and read_pass.c. */
/* Rows of sort scratch for packed rows: buckets up to this size are sorted in cache. */
enum { SORT_SCRATCH = 1 << 16 };

/* One thread's state: its own GDAL handle (handles are not thread-safe), and as the scan's
 * row-buffer consumer its per-partition rows; partitions of all workers are merged after the
 * pass. */
struct worker {
    struct run *run;
    struct r2h_raster *raster;
    void *rows, *tmp; /* row buffer (cap rows of run->fmt) and sort scratch (cap_tmp) */
    size_t nrows, cap, cap_tmp;
    size_t limit;         /* make_room runs when nrows reaches it (<= mapped) */
    size_t mapped;        /* rows of the buffer mapped so far (<= cap) */
    int decided, halved;  /* half-way decision taken; spill at cap / 2 (make_room) */
    uint64_t pixels_seen; /* pixels of the raster rows this worker has scanned (r2h_scan_row) */
    size_t *count;        /* radix histogram */
    double phase[NPHASES];
    uint64_t *keys; /* value keys per column of the current row */
    size_t cap_w;
    pthread_t tid;
};

/* Record the first error (message already formatted in msg) and make every worker stop. */
void r2h_conv_fail(struct run *run, enum r2h_status st, const char *msg);
/* The next piece of work (base cell) below limit, or -1 (convert.c). */
long r2h_conv_take_next(struct run *run, size_t limit, uint64_t done_pixels);
/* Worker threads of a run: --threads (or the CPUs), at most one per 4 MiB of --memory. */
int r2h_conv_thread_count(const struct r2h_convert_options *opt);
/* Start a run (convert.c): check the options, open the input and plan its bands. */
enum r2h_status r2h_conv_open(struct run *run);
/* The read pass (convert.c): memory plan, fast grid, windows, chunks, nthreads workers and the
 * scan with consumer; with_rows allocates the workers' row buffers (convert's consumer). */
enum r2h_status r2h_conv_scan(struct run *run, int nthreads, int with_rows,
                              const struct r2h_scan_consumer *consumer);
/* Split the memory budget into buffer sizes (convert.c, docs/design/0003-memory-budget.md). */
void r2h_conv_plan_memory(struct run *run, int nworkers);
/* n worker states, each with its own raster handle (worker 0 borrows run->raster); with_rows
 * allocates the row buffers of the read pass (convert.c). */
enum r2h_status r2h_conv_open_workers(struct run *run, int n, int with_rows);
/* Release everything a run holds (convert.c). */
void r2h_conv_close(struct run *run);
/* The progress callback of the scan's consumers: pixels done, progress under run->mu. */
int r2h_conv_scan_progress(void *ctx, uint64_t pixels_done);
/* 1 when the run's rows are no longer wanted (an Arrow run whose stream was released). */
int r2h_conv_unwanted(const struct run *run);
/* The row-buffer consumer of the scan (read_pass.c): route, sort, spill into run->runs. */
void r2h_conv_rows_consumer(struct run *run, struct r2h_scan_consumer *out);
/* Warnings about the pixels the scan dropped (read_pass.c). */
void r2h_conv_warn_dropped(const struct run *run);

#endif
