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
/* The same without the centre (H3 cellToBoundary: counter-clockwise, up to 10 vertices). */
int r2h_index_cell_vertices(uint64_t cell, double *lat, double *lng);

/* ---- cells by enumeration (cells.c; --method sample) ---- */

/* Most levels r2h_index_descendants enumerates below a cell (7^6 = 117649 descendants). */
#define R2H_INDEX_MAX_LEVELS 6

/* The descendants of parent at resolution res (res - parent's resolution <= R2H_INDEX_MAX_LEVELS)
 * in ascending index order into cells (room for 7^(res - parent's res)); returns how many (a
 * pentagon has fewer). With u and v (both or neither), each one's position relative to the
 * parent's centre in integer units of the res grid of the parent's face: an affine image of
 * where H3 puts its centre on the face plane when r2h_index_planar(parent). Thread-safe. */
size_t r2h_index_descendants(uint64_t parent, int res, uint64_t *cells, double *u, double *v);
/* Descendant number i (in that order; parent no pentagon) at resolution res, and with off
 * (r2h_index_offsets of the parent's resolution and res) its u, v. */
uint64_t r2h_index_descendant(uint64_t parent, int res, uint64_t i, double (*off)[7][2], double *u,
                              double *v);
/* The same with the offsets given: off[l] for level parent's res + 1 + l, in whatever grid's
 * units the caller wants u, v in (r2h_index_offsets of a finer resolution). */
size_t r2h_index_descendants_with(uint64_t parent, int res, const double (*off)[7][2],
                                  uint64_t *cells, double *u, double *v);
/* The offsets behind those positions: off[l - res0 - 1][d] is digit d's at level l. */
void r2h_index_offsets(int res0, int res, double (*off)[7][2]);
/* 1 if the centres of all descendants of cell are the gnomonic image of one face's plane (cell
 * and its neighbours touch one face only; cell is no pentagon). Thread-safe. */
int r2h_index_planar(uint64_t cell);
/* The one icosahedron face cell touches, or -1 when it touches several (or H3 fails). */
int r2h_index_one_face(uint64_t cell);
/* Centres (cellToLatLng, degrees) of n cells. Thread-safe. */
void r2h_index_centres(const uint64_t *cells, size_t n, double *lat, double *lng);
/* The children of a cell (up to 7, ascending); 0 at resolution 15. */
size_t r2h_index_children(uint64_t cell, uint64_t out[7]);
int r2h_index_resolution(uint64_t cell);
/* H3's average hexagon edge length at res, km. */
double r2h_index_edge_km(int res);
/* Area (m2, cellAreaM2) of the res cell holding a point (degrees); 0 on error. */
double r2h_index_cell_area_m2(double lat, double lng, int res);
/* latLngToCell of one point (degrees), 0 on error. */
uint64_t r2h_index_cell_at(double lat, double lng, int res);
/* A box (degrees) holding every point of every descendant of cell: lng0..lng1 contiguous,
 * possibly past ±180; -180..180 when it reaches a pole. Cheap (8 samples per edge). */
enum r2h_status r2h_index_region_box(uint64_t cell, struct r2h_box *out);

/* ---- boundaries of a chunk's descendants (boundary.c; --method overlay) ---- */

/* Boundaries (degrees, counter-clockwise as cellToBoundary, up to 10 vertices at lat/lng +
 * i * stride) of the descendants cells[0..n) of chunk at resolution res, as listed by
 * r2h_index_descendants(chunk, res, cells, u, v) with its u, v; nv[i] = vertex count (0: an
 * invalid cell). Equal to cellToBoundary to ~1e-12 degrees: when chunk lies on one icosahedron
 * face, from a model of H3's face plane checked against H3, each vertex computed once for the
 * three cells that share it; otherwise (and for cells near a pole, the antimeridian or a face
 * edge) by cellToBoundary. Returns how many cells went through the fast path. Thread-safe. */
size_t r2h_index_boundaries(uint64_t chunk, int res, const uint64_t *cells, const double *u,
                            const double *v, size_t n, double *lat, double *lng, size_t stride,
                            uint8_t *nv);
/* The same, the doubles of cellToBoundary themselves: on a chunk on one face, cellToBoundary
 * of one cell in three (each vertex is H3's, shared by three cells), the others assembled from
 * their vertices; returns how many cells were assembled. Slower, no difference at all. */
size_t r2h_index_boundaries_exact(uint64_t chunk, int res, const uint64_t *cells, const double *u,
                                  const double *v, size_t n, double *lat, double *lng,
                                  size_t stride, uint8_t *nv);

#endif
