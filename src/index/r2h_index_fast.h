/* r2h_index_fast.h - fast exact pixel-to-cell indexing, bit-identical to H3's latLngToCell. */
#ifndef R2H_INDEX_FAST_H
#define R2H_INDEX_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"

/* Precomputed state for an unrotated geographic raster (EPSG:4326 row/column grid) at
 * resolution res. The centre of pixel (col,row) is
 *   lng = gt[0] + (col+0.5)*gt[1] + (row+0.5)*gt[2];  lat = gt[3] + (col+0.5)*gt[4] +
 * (row+0.5)*gt[5] evaluated in that order in double (as r2h_raster_locate_row does), then lng is
 * normalised once (> 180: -360; < -180: +360). The cell of a pixel is exactly what H3's
 * latLngToCell({degsToRads(lat), degsToRads(lng)}, res) returns (0 if H3 rejects the point);
 * like latLngToCell it folds a latitude beyond +-90 over the pole and repeats longitudes every
 * 360 degrees, so the pipeline drops such pixels first (r2h_raster_drop_off_globe).
 * gt[2] and gt[4] must be zero (use r2h_index_cells_fast for rotated grids), width and height
 * positive, 0 <= res <= 15; otherwise R2H_ERR_INVALID. On success *out owns the grid (free
 * with r2h_fast_grid_free). Thread-safe. */
struct r2h_fast_grid;
enum r2h_status r2h_fast_grid_create(const double gt[6], int width, int height, int res,
                                     struct r2h_fast_grid **out);

/* Frees a grid; NULL is a no-op. */
void r2h_fast_grid_free(struct r2h_fast_grid *g);

/* Cells of pixels (col0 .. col0+n-1, row) into cells[0..n-1]. ok may be NULL (all pixels
 * valid), else ok[i] == 0 gives cell 0. Pixels outside the grid's width/height are allowed
 * (the geotransform extends). Adds to *fallbacks (if not NULL) the number of pixels whose
 * cell came from the reference latLngToCell call. Thread-safe for concurrent calls on the
 * same grid (the grid is read-only after create). */
void r2h_fast_grid_cells(const struct r2h_fast_grid *g, int row, int col0, int n, const uint8_t *ok,
                         uint64_t *cells, uint64_t *fallbacks);

/* Cells of n general points (degrees), same contract and results as r2h_index_cells in
 * r2h_index.h: ok may be NULL, ok[i] == 0 or a point H3 rejects gives cell 0. Adds the
 * number of reference calls to *fallbacks (if not NULL). Thread-safe. */
void r2h_index_cells_fast(const double *lat_deg, const double *lng_deg, const uint8_t *ok, size_t n,
                          int res, uint64_t *cells, uint64_t *fallbacks);

/* Process-wide statistics of the learned base-cell/rotation table (for tests and reports):
 * entries known and entries poisoned (a disagreement with the model; always 0 in practice,
 * poisoned entries simply fall back). Thread-safe. */
void r2h_index_fast_table_stats(int *known, int *poisoned);

#endif
