/* r2h_index.h - the index module: pixel centres to H3 cells, base cells and resolution-0 cell
 * bounds. */
#ifndef R2H_INDEX_H
#define R2H_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"

#define R2H_NUM_BASE_CELLS 122
#define R2H_MAX_RES 15

/* Version of the linked H3 library, "4.5.0". */
const char *r2h_index_h3_version(void);

/* Cells of n points (degrees) at resolution res with the reference latLngToCell. Points whose
 * ok[i] is 0 (ok may be NULL) or that H3 rejects get cell 0. Thread-safe. */
void r2h_index_cells(const double *lat_deg, const double *lng_deg, const uint8_t *ok, size_t n,
                     int res, uint64_t *cells);

/* Base cell number (0..121) of a valid cell. */
static inline int r2h_index_base_cell(uint64_t cell)
{
    return (int)((cell >> 45) & 0x7f);
}

/* The resolution-0 cell of base cell bc. */
static inline uint64_t r2h_index_res0_cell(int bc)
{
    return 0x08001fffffffffffULL | ((uint64_t)bc << 45);
}

/* Bounding box in degrees of every point whose resolution-res cell has base cell bc (the cells
 * of a base cell spill outside its resolution-0 polygon at finer resolutions), with a margin.
 * lng0 <= lng1; the interval may extend past ±180 for cells across the antimeridian; regions
 * that reach a pole get the full longitude range. Thread-safe. */
struct r2h_box {
    double lat0, lat1, lng0, lng1;
};
enum r2h_status r2h_index_base_cell_box(int bc, int res, struct r2h_box *out);

/* Parent of a valid cell at resolution res (<= the cell's), 0 on error. Thread-safe. */
uint64_t r2h_index_parent(uint64_t cell, int res);

/* H3's average hexagon area at resolution res in m2 (getHexagonAreaAvgM2), 0 on error. */
double r2h_index_hex_area_avg_m2(int res);

/* Boundary vertices (up to 10, degrees) and centre of a cell; returns the vertex count, 0 if
 * the cell is invalid. Thread-safe. */
int r2h_index_cell_boundary(uint64_t cell, double *lat, double *lng, double *clat, double *clng);

#endif
