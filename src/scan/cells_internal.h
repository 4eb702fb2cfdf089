/* cells_internal.h - private to the scan per cell (cells.c, cells_fast.c, cells_model.c). */
#ifndef R2H_CELLS_INTERNAL_H
#define R2H_CELLS_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"
#include "r2h_index.h"
#include "r2h_raster.h"
#include "r2h_scan.h"

/* A cubic polynomial in (s, t) = (u, v) * scale for each of two outputs (pixel column and
 * row, or unwrapped column on geographic rasters). */
struct r2h_cells_model {
    double scale, a[2][10];
};
/* Least squares over n points (0: too few or singular). */
int r2h_cells_model_fit(struct r2h_cells_model *md, size_t n, const double *u, const double *v,
                        const double *x, const double *y);
void r2h_cells_model_eval(const struct r2h_cells_model *md, double u, double v, double *x,
                          double *y);
/* Range of both outputs over s in s0 +- S, t in t0 +- T (scaled units), widened by a pixel. */
void r2h_cells_model_range(const struct r2h_cells_model *md, double s0, double t0, double S,
                           double T, double lo[2], double hi[2]);

struct cscan;

/* Most vertices of a cell's polygon: H3's 10, and 3 closing the cell around a pole. */
#define R2H_CELLS_MAX_VERTS 13

/* One worker: its raster handle and the buffers of one chunk. */
struct cworker {
    struct cscan *scan;
    int index;
    struct r2h_raster *raster;
    pthread_t tid;
    void *state;
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
    /* overlay (cells_overlay.c): polygons, per-cell sums, pairs as found and grouped by cell */
    double *vlat, *vlng, *vx, *vy; /* R2H_CELLS_MAX_VERTS per cell */
    uint8_t *nv;
    double *carea, *vcov, *oarea, *ocover;
    uint32_t *pstart;
    size_t pn, pcap, ocap;
    uint32_t *pcell;
    int32_t *prow, *pcol, *orow, *ocol;
    double *pfrac, *ofrac;
    unsigned char *pval, *oval;
    /* the pairs handed over: the p- or the o-arrays */
    const int32_t *xrow, *xcol;
    const double *xfrac;
    const unsigned char *xval;
    double *cscr;
    size_t cscr_n;
    struct r2h_cells_stats st;
};

/* A run of the scan per cell. */
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
    double west;  /* geographic: the raster's west edge */
    double xwest; /* geographic: the least longitude of its corners (overlay polygons) */
    int ks;       /* kernel size: 1, 2 or 4 */
    pthread_mutex_t mu;
    size_t next;
    enum r2h_status status;
    char *err;
    size_t errlen;
};

/* floor for |x| < 2^62, without libm. */
static inline long r2h_cells_ifloor(double x)
{
    const long i = (long)x;
    return i - (x < (double)i);
}

/* Exact pixel positions (H3 cellToLatLng, PROJ) of the worker's cells idx[0..m) (all when idx
 * is NULL) into px, py, ok. */
enum r2h_status r2h_cells_exact_positions(struct cworker *w, const uint32_t *idx, size_t m);
/* The model of the descendants of cell (L levels below the chunk, p7 of them at the output
 * resolution, positions about the chunk's centre offset by (u0, v0)) from exact centres of 28
 * of them, checked at 12 others; 0 when not trusted, else *margin (pixels) bounds its error. */
int r2h_cells_fit(struct cworker *w, uint64_t cell, int L, size_t p7, double u0, double v0,
                  struct r2h_cells_model *md, double *margin);
/* The fast path of a chunk: 1 with its rows in the worker's out_cells/pix (nout), 0 to take
 * the general path, -1 on a read error (message in msg, status in *rst). */
int r2h_cells_fast_chunk(struct cworker *w, uint64_t chunk, int K, char *msg, size_t msglen,
                         enum r2h_status *rst);

/* --method overlay: the chunk's cells that cover valid pixels in the worker's out_cells (nout),
 * with their pairs (pstart, orow, ocol, ofrac, oval) and oarea, ocover (cells_overlay.c). */
enum r2h_status r2h_cells_overlay_chunk(struct cworker *w, uint64_t chunk, char *msg,
                                        size_t msglen);

#endif
