/* r2h_scan.h - the scan stage: plan chunks over raster windows, then on worker threads read each
 * chunk, locate the pixel centres, index them (fast grid, fast point or reference path) and hand
 * every raster row's valid, indexed pixels to a consumer (docs/design/0001-architecture.md).
 * What is done with the pixels (row buffers for convert, counts for verify, ...) is the
 * consumer's; the scan knows nothing of sorting, partitions or datasets. */
#ifndef R2H_SCAN_H
#define R2H_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"
#include "r2h_raster.h"

struct r2h_fast_grid;

/* A piece of work: rows [y, y+h) of raster columns [x0, x0+w). */
struct r2h_scan_chunk {
    int x0, y, w, h;
};

/* Split windows (x0, y0, w, h) into chunks of about target pixels that cover whole blocks of
 * the raster described by in, so that every block is decoded once, by one worker. On success
 * *chunks (free with r2h_free), *n and *pixels (their total) are set. R2H_ERR_NOMEM with a
 * message in err. Pure; thread-safe. */
enum r2h_status r2h_scan_plan_chunks(const struct r2h_raster_info *in, size_t target,
                                     const int (*win)[4], int nwin, struct r2h_scan_chunk **chunks,
                                     size_t *n, uint64_t *pixels, char *err, size_t errlen);

/* One raster row of a chunk as the scan hands it to a consumer. Column c (0 <= c < w) is raster
 * column col0 + c; it is a pixel to consume when ok[c] and cells[c] != 0 (valid, located, on the
 * globe and indexed); its pixel record (the selected bands, r2h_raster_read's layout) is
 * vals + c * pixel_size. pixels_seen counts the pixels of the raster rows this worker has
 * scanned so far, this row included. The arrays are valid during the call only. */
struct r2h_scan_row {
    int row, col0, w;
    const unsigned char *vals;
    size_t pixel_size;
    const uint8_t *ok;
    const uint64_t *cells;
    uint64_t pixels_seen;
};

/* What consumes the pixels. Every callback but progress runs on the worker's own thread with
 * the worker's own state (no locking needed); progress is called under the scan's lock. A
 * callback left NULL is skipped. begin_worker sets *state for worker i (0 <= i < nworkers);
 * end_worker is called for every worker whose begin_worker succeeded, after its last row, also
 * after an error. consume_row returns R2H_OK, or a status with a message in msg, which stops
 * the scan. New methods plug in here (a consumer per use) or beside r2h_scan_run (a scan per
 * cell instead of per pixel): docs/design/0001-architecture.md. */
struct r2h_scan_consumer {
    void *ctx;
    enum r2h_status (*begin_worker)(void *ctx, int i, void **state, char *msg, size_t msglen);
    enum r2h_status (*consume_row)(void *state, const struct r2h_scan_row *row, char *msg,
                                   size_t msglen);
    void (*end_worker)(void *state);
    /* pixels_done more pixels have been scanned (for progress reports); nonzero: stop the scan
     * (it fails with R2H_ERR_INTERRUPTED), e.g. when the rows' consumer has gone away */
    int (*progress)(void *ctx, uint64_t pixels_done);
};

/* Phases of the scan, timed per worker (--profile); consume is the time in consume_row. */
enum { R2H_SCAN_READ, R2H_SCAN_LOCATE, R2H_SCAN_INDEX, R2H_SCAN_CONSUME, R2H_SCAN_NPHASES };

/* What one worker saw. */
struct r2h_scan_stats {
    uint64_t pixels;                /* pixels of the chunks it read */
    uint64_t fallbacks;             /* pixels the fast index path sent to the reference */
    uint64_t beyond_pole, repeated; /* valid pixels off the globe (r2h_raster_drop_off_globe) */
    uint64_t located, not_located;  /* valid pixels through PROJ; those it could not transform */
    double phase[R2H_SCAN_NPHASES];
};

/* The scan of chunks[0..nchunks) with nworkers threads (worker 0 on the calling thread), worker
 * i reading through rasters[i] (GDAL handles are not thread-safe: one per worker, each with the
 * same band selection, NoData and scaling). grid non-NULL: the fast grid path (geographic,
 * unrotated rasters); else reference selects latLngToCell over the fast point path. */
struct r2h_scan_options {
    struct r2h_raster *const *rasters;
    int nworkers;
    const struct r2h_scan_chunk *chunks;
    size_t nchunks;
    int resolution;
    int reference;
    const struct r2h_fast_grid *grid;
};

/* Run the scan. stats (nworkers entries, may be NULL) get what each worker saw. Returns the
 * first error (a read error, out of memory or a consumer's status) with its message in err;
 * the other workers stop at their next chunk. Thread-safe for distinct rasters. */
enum r2h_status r2h_scan_run(const struct r2h_scan_options *opt,
                             const struct r2h_scan_consumer *consumer, struct r2h_scan_stats *stats,
                             char *err, size_t errlen);

/* ---- the scan per cell (cells.c; --method sample, docs/design/0009-cell-sampling.md) ---- */

/* NEAREST, BILINEAR, CUBIC: the raster sampled at each cell's centre (--method sample).
 * OVERLAY: each cell's polygon laid over the pixels, every covered valid pixel with the fraction
 * of its area inside the cell (--method overlay, cells_overlay.c, docs/design/0010-overlay.md). */
enum r2h_kernel { R2H_KERNEL_NEAREST, R2H_KERNEL_BILINEAR, R2H_KERNEL_CUBIC, R2H_KERNEL_OVERLAY };

struct r2h_cells_options {
    struct r2h_raster *const *rasters; /* one per worker (same selection, NoData, scaling) */
    int nworkers;
    int resolution;
    enum r2h_kernel kernel;
    int exact;            /* every centre by H3 + PROJ, no model (--index reference) */
    int work_unit;        /* base cell, or -1 for all */
    const uint8_t *skip;  /* R2H_NUM_BASE_CELLS flags: base cells to leave out; may be NULL */
    size_t window_pixels; /* most pixels one worker reads at once */
    double min_coverage;  /* OVERLAY: cells whose valid pixels cover less of them get no row */
};

/* The chunks of a scan: cells of chunk_res over the raster's footprint, ascending (so grouped
 * by base cell); every cell of the output resolution whose centre is on the raster descends
 * from one of them. cells_total: their descendants (for progress). */
struct r2h_cells_plan {
    uint64_t *chunks;
    size_t n;
    int chunk_res;
    uint64_t cells_total;
};
enum r2h_status r2h_scan_cells_plan(struct r2h_raster *r, const struct r2h_cells_options *o,
                                    struct r2h_cells_plan *plan, char *err, size_t errlen);
void r2h_scan_cells_plan_free(struct r2h_cells_plan *plan);

/* The cells of one chunk that got a value, ascending. seq is the chunk's position in the plan:
 * batches come in any order from the workers; a consumer that needs the plan's order (one
 * sorted stream) reorders by seq. Valid during the call only. */
struct r2h_cells_batch {
    size_t seq;
    uint64_t chunk;
    int base_cell;
    size_t n;
    const uint64_t *cells;
    const unsigned char *vals; /* nearest: pixel records (pixel_size bytes, r2h_raster_read's) */
    size_t pixel_size;
    const double *dvals; /* bilinear, cubic: the first band's interpolated value */
    /* OVERLAY: cell i's valid pixels are pairs pstart[i] .. pstart[i+1]-1: raster row prow[k],
     * column pcol[k], fraction pfrac[k] (0 < f <= 1) of the pixel's area inside the cell, pixel
     * record pvals + k * pixel_size. area[i]: the cell's polygon area in pixels; cover[i]: the
     * part of it on valid pixels (0..1). */
    const uint32_t *pstart;
    const int32_t *prow, *pcol;
    const double *pfrac;
    const unsigned char *pvals;
    const double *area, *cover;
};

/* As struct r2h_scan_consumer; progress counts cells enumerated. */
struct r2h_cells_consumer {
    void *ctx;
    enum r2h_status (*begin_worker)(void *ctx, int i, void **state, char *msg, size_t msglen);
    enum r2h_status (*consume)(void *state, const struct r2h_cells_batch *b, char *msg,
                               size_t msglen);
    void (*end_worker)(void *state);
    int (*progress)(void *ctx, uint64_t cells_done); /* as r2h_scan_consumer's */
};

enum { R2H_CELLS_CENTRE, R2H_CELLS_READ, R2H_CELLS_SAMPLE, R2H_CELLS_CONSUME, R2H_CELLS_NPHASES };

struct r2h_cells_stats {
    uint64_t cells;           /* enumerated */
    uint64_t rows;            /* that got a value */
    uint64_t exact;           /* centres computed by H3 + PROJ */
    uint64_t modelled_chunks; /* chunks placed by the model */
    uint64_t exact_chunks;
    uint64_t void_blocks; /* overlay: blocks of cells with no valid pixel under them, skipped */
    uint64_t pairs;       /* overlay: (cell, valid pixel) pairs handed over */
    double phase[R2H_CELLS_NPHASES];
};

/* Run the plan with o->nworkers threads (worker 0 on the calling thread). stats: nworkers
 * entries or NULL. First error's message in err. */
enum r2h_status r2h_scan_cells_run(const struct r2h_cells_options *o,
                                   const struct r2h_cells_plan *plan,
                                   const struct r2h_cells_consumer *con,
                                   struct r2h_cells_stats *stats, char *err, size_t errlen);

/* The fraction of the area of each pixel (col, row) of columns [cx0, cx1) and rows [ry0, ry1)
 * that lies inside the polygon x[0..n), y[0..n) (pixel coordinates: pixel (c, r) is the unit
 * square at (c, r); edges straight; either orientation; simple polygons of at most 13
 * vertices: NaN for more). Calls
 * emit(ctx, col, row, f) for each pixel with f > 1e-12, row by row; returns the polygon's area.
 * scratch: room for (width of the polygon's box + 3) doubles; *scratch_n is grown with
 * r2h_realloc when short (0 returned and *scratch left as it was when that fails). Pure. */
double r2h_scan_cover(const double *x, const double *y, int n, int cx0, int cx1, int ry0, int ry1,
                      double **scratch, size_t *scratch_n,
                      void (*emit)(void *ctx, int col, int row, double f), void *ctx);

#endif
