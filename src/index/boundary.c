/* boundary.c - the boundaries of all descendants of a chunk cell at once, equal to H3's
 * cellToBoundary: on a chunk that lies on one icosahedron face, H3 puts every cell's centre and
 * vertices at the inverse gnomonic image of points of that face's plane that are an affine
 * image of the cells' grid positions, so a fitted affine map, checked against H3, gives them all
 * with two atan2 per vertex, and each vertex is shared by three cells. That agrees with H3 to
 * ~1e-13 degrees, H3's own rounding; where the very doubles matter (an area of a sliver of a
 * pixel moves by 1e-9 of itself), the exact variant takes each vertex from cellToBoundary of
 * the one cell around it of colour 0 in a 3-colouring of the grid: a third of the calls. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <h3/h3api.h>

#include "r2h_index.h"

#define NUM_FACES 20
#define R2D (180.0 / M_PI)

/* An icosahedron face: the unit vector of its centre (H3's gnomonic centre) and unit normals
 * of the planes through its three edges, pointing away from the face. */
struct frame {
    double c[3], n[3][3];
};

static struct frame frames[NUM_FACES];
static int frames_ok;
static pthread_once_t frames_once = PTHREAD_ONCE_INIT;

static double dot3(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double a[3], const double b[3], double o[3])
{
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

static void unit3(double a[3])
{
    const double r = sqrt(dot3(a, a));
    a[0] /= r;
    a[1] /= r;
    a[2] /= r;
}

/* Unit vector of a cell's centre (cellToLatLng). */
static void centre_vec(H3Index h, double p[3])
{
    LatLng g = {0, 0};
    cellToLatLng(h, &g);
    p[0] = cos(g.lat) * cos(g.lng);
    p[1] = cos(g.lat) * sin(g.lng);
    p[2] = sin(g.lat);
}

/* The three pentagons nearest p (unit vector): for p on a face, its corners. */
static void nearest3(const double pent[12][3], const double p[3], int k[3])
{
    k[0] = k[1] = k[2] = -1;
    for (int i = 0; i < 12; i++) {
        const double d = dot3(pent[i], p);
        for (int j = 0; j < 3; j++) {
            if (k[j] < 0 || d > dot3(pent[k[j]], p)) {
                for (int m = 2; m > j; m--)
                    k[m] = k[m - 1];
                k[j] = i;
                break;
            }
        }
    }
}

/* The 12 pentagons are centred on the icosahedron's vertices, the corners of the faces; H3's
 * gnomonic centre of a face, its centroid, is the centre of the one base cell there (found by
 * position: other base cells may touch one face only too). */
static void init_frames(void)
{
    double pent[12][3];
    int np = 0, nf = 0;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS && np < 12; bc++)
        if (isPentagon(r2h_index_res0_cell(bc)))
            centre_vec(r2h_index_res0_cell(bc), pent[np++]);
    if (np != 12)
        return;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        const H3Index h = r2h_index_res0_cell(bc);
        const int f = isPentagon(h) ? -1 : r2h_index_one_face(h);
        if (f < 0)
            continue;
        double p[3], g[3] = {0, 0, 0};
        int k[3];
        centre_vec(h, p);
        nearest3((const double(*)[3])pent, p, k);
        for (int e = 0; e < 3; e++)
            for (int j = 0; j < 3; j++)
                g[j] += pent[k[e]][j];
        unit3(g);
        struct frame *fr = &frames[f];
        const double d[3] = {p[0] - g[0], p[1] - g[1], p[2] - g[2]};
        if (!(dot3(d, d) < 1e-18) || dot3(fr->c, fr->c) > 0)
            continue;
        memcpy(fr->c, p, sizeof p);
        for (int e = 0; e < 3; e++) {
            cross3(pent[k[e]], pent[k[(e + 1) % 3]], fr->n[e]);
            unit3(fr->n[e]);
            if (dot3(fr->n[e], fr->c) > 0)
                for (int j = 0; j < 3; j++)
                    fr->n[e][j] = -fr->n[e][j];
        }
        nf++;
    }
    frames_ok = nf == NUM_FACES;
}

/* Where H3 puts a point (unit vector p) in the tangent plane of face fr (distance 1 from the
 * sphere's centre): its gnomonic image, as a 3D point. */
static void to_plane(const struct frame *fr, const double p[3], double q[3])
{
    const double s = 1.0 / dot3(p, fr->c);
    for (int j = 0; j < 3; j++)
        q[j] = p[j] * s;
}

/* The hexagon at (0, 0) of the descendants' (u, v) grid has its neighbours at (±1, 0), (0, ±1),
 * ±(1, 1); its vertices are the centroids of the triangles of centres around it. Every vertex
 * is (du, dv) + (2/3, 1/3) (type 0) or (1/3, 2/3) (type 1) from one grid point: here as
 * {du, dv, type}, so that a vertex has one name in all three cells that share it. */
static const int CAND[6][3] = {{0, 0, 0},   {0, 0, 1},   {-1, 0, 0},
                               {-1, -1, 1}, {-1, -1, 0}, {0, -1, 1}};

/* A chunk's descendants: the cell at (u, v) is centred at the gnomonic image of
 * o + u a + v b (a point of the face's tangent plane), its vertex k at the lattice vertex
 * CAND[perm[k]] (t[type] from the grid point). */
struct model {
    const struct frame *fr;
    double o[3], a[3], b[3], t[2][3];
    double margin; /* how far outside the face a vertex may seem and still be on it */
    int perm[6];
};

/* Largest error (plane units, about radians) allowed between the model and H3, whose own
 * rounding is a few 1e-16 (seen: under 1e-15). */
#define FIT_TOL 2e-14

static void model_at(const struct model *m, double u, double v, double x[3])
{
    for (int j = 0; j < 3; j++)
        x[j] = m->o[j] + u * m->a[j] + v * m->b[j];
}

static double dist3(const double a[3], const double b[3])
{
    const double d[3] = {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
    return sqrt(dot3(d, d));
}

/* H3's boundary of the cell at (u, v) against the model: 1 if it is a hexagon whose vertex k
 * is lattice vertex CAND[perm[k]] for every k, perm[k] found where it is -1. */
static int check_vertices(struct model *m, H3Index cell, double u, double v)
{
    CellBoundary b;
    if (cellToBoundary(cell, &b) != E_SUCCESS || b.numVerts != 6)
        return 0;
    for (int k = 0; k < 6; k++) {
        double p[3], q[3];
        p[0] = cos(b.verts[k].lat) * cos(b.verts[k].lng);
        p[1] = cos(b.verts[k].lat) * sin(b.verts[k].lng);
        p[2] = sin(b.verts[k].lat);
        to_plane(m->fr, p, q);
        int best = -1;
        double bd = INFINITY;
        for (int c = 0; c < 6; c++) {
            double x[3];
            model_at(m, u + CAND[c][0], v + CAND[c][1], x);
            for (int j = 0; j < 3; j++)
                x[j] += m->t[CAND[c][2]][j];
            const double d = dist3(x, q);
            if (d < bd) {
                bd = d;
                best = c;
            }
        }
        if (!(bd < FIT_TOL))
            return 0;
        if (m->perm[k] < 0)
            m->perm[k] = best;
        else if (m->perm[k] != best)
            return 0;
    }
    return 1;
}

/* Fits the model to the centres of three well-spread descendants and checks it against the
 * centres of a dozen more and the boundaries of four (which give perm); 0 when a check fails. */
static int fit(struct model *m, const uint64_t *cells, const double *u, const double *v, size_t n)
{
    size_t i1 = 0, i2 = 0;
    double best = 0;
    for (size_t i = 1; i < n; i++) {
        const double du = u[i] - u[0], dv = v[i] - v[0], d = du * du + dv * dv;
        if (d > best) {
            best = d;
            i1 = i;
        }
    }
    const double du1 = u[i1] - u[0], dv1 = v[i1] - v[0];
    best = 0;
    for (size_t i = 1; i < n; i++) {
        const double c = fabs(du1 * (v[i] - v[0]) - dv1 * (u[i] - u[0]));
        if (c > best) {
            best = c;
            i2 = i;
        }
    }
    const double du2 = u[i2] - u[0], dv2 = v[i2] - v[0], det = du1 * dv2 - dv1 * du2;
    if (!(fabs(det) >= 1))
        return 0;
    double p[3], q0[3], q1[3], q2[3];
    centre_vec(cells[0], p);
    to_plane(m->fr, p, q0);
    centre_vec(cells[i1], p);
    to_plane(m->fr, p, q1);
    centre_vec(cells[i2], p);
    to_plane(m->fr, p, q2);
    for (int j = 0; j < 3; j++) {
        const double d1 = q1[j] - q0[j], d2 = q2[j] - q0[j];
        m->a[j] = (d1 * dv2 - d2 * dv1) / det;
        m->b[j] = (d2 * du1 - d1 * du2) / det;
        m->o[j] = q0[j] - u[0] * m->a[j] - v[0] * m->b[j];
        m->t[0][j] = (2 * m->a[j] + m->b[j]) / 3;
        m->t[1][j] = (m->a[j] + 2 * m->b[j]) / 3;
    }
    m->margin = 1e-6 * sqrt(dot3(m->a, m->a));
    enum { CHECKS = 12 };
    for (size_t c = 0; c <= CHECKS; c++) {
        const size_t i = c * (n - 1) / CHECKS;
        double x[3];
        centre_vec(cells[i], p);
        to_plane(m->fr, p, q0);
        model_at(m, u[i], v[i], x);
        if (!(dist3(x, q0) < FIT_TOL))
            return 0;
    }
    for (int k = 0; k < 6; k++)
        m->perm[k] = -1;
    return check_vertices(m, cells[0], u[0], v[0]) && check_vertices(m, cells[i1], u[i1], v[i1]) &&
           check_vertices(m, cells[i2], u[i2], v[i2]) &&
           check_vertices(m, cells[n / 2], u[n / 2], v[n / 2]);
}

/* Degrees of lattice vertex (pu, pv, type); 0 where the model may not give H3's answer: outside
 * the face (H3 projects it from a neighbouring face), near a pole (H3's latitude is asin of a
 * coordinate there, too coarse to match), on the antimeridian (+180 or -180). */
static int vertex(const struct model *m, double pu, double pv, int type, double *lat, double *lng)
{
    double x[3];
    model_at(m, pu, pv, x);
    for (int j = 0; j < 3; j++)
        x[j] += m->t[type][j];
    for (int e = 0; e < 3; e++)
        if (!(dot3(x, m->fr->n[e]) <= m->margin))
            return 0;
    const double h2 = x[0] * x[0] + x[1] * x[1];
    if (!(h2 >= 1e-2 * (h2 + x[2] * x[2])) || (x[0] < 0 && fabs(x[1]) < 1e-12 * -x[0]))
        return 0;
    *lat = atan2(x[2], sqrt(h2)) * R2D;
    *lng = atan2(x[1], x[0]) * R2D;
    return 1;
}

/* Vertices computed once for the three cells that share each: lattice vertices of the grid
 * points (u0.., v0..) over a box of w columns, two per point, with a state each (0 not yet, 1
 * computed, 2 not for the fast path). A box much larger than the cells is not made. */
struct vcache {
    double (*ll)[2];
    uint8_t *st;
    long u0, v0, w;
};

static int cache_open(struct vcache *vc, const double *u, const double *v, size_t n)
{
    double umin = u[0], umax = u[0], vmin = v[0], vmax = v[0];
    for (size_t i = 1; i < n; i++) {
        umin = u[i] < umin ? u[i] : umin;
        umax = u[i] > umax ? u[i] : umax;
        vmin = v[i] < vmin ? v[i] : vmin;
        vmax = v[i] > vmax ? v[i] : vmax;
    }
    vc->u0 = (long)umin - 1;
    vc->v0 = (long)vmin - 1;
    vc->w = (long)umax - vc->u0 + 1;
    const size_t cnt = 2 * (size_t)vc->w * (size_t)((long)vmax - vc->v0 + 1);
    if (cnt > 16 * n + 4096)
        return 0;
    vc->ll = r2h_malloc(cnt * sizeof *vc->ll);
    vc->st = r2h_calloc(cnt, 1);
    if (!vc->ll || !vc->st) {
        r2h_free(vc->ll);
        r2h_free(vc->st);
        return 0;
    }
    return 1;
}

/* Where lattice vertex (pu, pv, type) is in the cache. */
static size_t cache_slot(const struct vcache *vc, double pu, double pv, int type)
{
    return 2 * ((size_t)((long)pv - vc->v0) * (size_t)vc->w + (size_t)((long)pu - vc->u0)) +
           (size_t)type;
}

/* The fast vertices of the cell at (u, v); 0 if one is not for the fast path. */
static int fast_cell(const struct model *m, struct vcache *vc, double u, double v, double *lat,
                     double *lng)
{
    for (int k = 0; k < 6; k++) {
        const int *c = CAND[m->perm[k]];
        const double pu = u + c[0], pv = v + c[1];
        if (!vc) {
            if (!vertex(m, pu, pv, c[2], &lat[k], &lng[k]))
                return 0;
            continue;
        }
        const size_t at = cache_slot(vc, pu, pv, c[2]);
        if (!vc->st[at])
            vc->st[at] = vertex(m, pu, pv, c[2], &vc->ll[at][0], &vc->ll[at][1]) ? 1 : 2;
        if (vc->st[at] != 1)
            return 0;
        lat[k] = vc->ll[at][0];
        lng[k] = vc->ll[at][1];
    }
    return 1;
}

/* The boundaries of cells[0..n) by model m, each vertex computed once (cache permitting); cells
 * the model may not give by cellToBoundary. Returns how many came from the model. */
static size_t model_boundaries(const struct model *m, struct vcache *vc, const uint64_t *cells,
                               const double *u, const double *v, size_t n, double *lat, double *lng,
                               size_t stride, uint8_t *nv)
{
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        double *la = lat + i * stride, *lo = lng + i * stride;
        if (fast_cell(m, vc, u[i], v[i], la, lo)) {
            nv[i] = 6;
            done++;
        } else {
            nv[i] = (uint8_t)r2h_index_cell_vertices(cells[i], la, lo);
        }
    }
    return done;
}

/* Colour 0, 1 or 2 of the cell at (u, v): neighbours differ, so the three cells around a vertex
 * have one of each. */
static int colour(double u, double v)
{
    return (int)((((long)u + (long)v) % 3 + 3) % 3);
}

/* H3's hexagon boundary of the cell at (u, v) into the cache, for the cells that share its
 * vertices. */
static void keep(const struct model *m, struct vcache *vc, double u, double v, const double *la,
                 const double *lo)
{
    for (int k = 0; k < 6; k++) {
        const int *c = CAND[m->perm[k]];
        const size_t at = cache_slot(vc, u + c[0], v + c[1], c[2]);
        vc->ll[at][0] = la[k];
        vc->ll[at][1] = lo[k];
        vc->st[at] = 1;
    }
}

/* H3's own vertices (cellToBoundary's doubles): cellToBoundary of the cells of colour 0 only,
 * whose vertices are every vertex of the others (on one face H3 computes a vertex from its
 * normalised substrate coordinates, the same doubles from each of its three cells); a cell
 * whose colour-0 neighbour is outside the chunk by cellToBoundary. Returns how many cells were
 * assembled from their neighbours' vertices. */
static size_t exact_boundaries(const struct model *m, struct vcache *vc, const uint64_t *cells,
                               const double *u, const double *v, size_t n, double *lat, double *lng,
                               size_t stride, uint8_t *nv)
{
    for (size_t i = 0; i < n; i++) {
        if (colour(u[i], v[i]))
            continue;
        double *la = lat + i * stride, *lo = lng + i * stride;
        nv[i] = (uint8_t)r2h_index_cell_vertices(cells[i], la, lo);
        if (nv[i] == 6)
            keep(m, vc, u[i], v[i], la, lo);
    }
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (!colour(u[i], v[i]))
            continue;
        double *la = lat + i * stride, *lo = lng + i * stride;
        int k = 0;
        for (; k < 6; k++) {
            const int *c = CAND[m->perm[k]];
            const size_t at = cache_slot(vc, u[i] + c[0], v[i] + c[1], c[2]);
            if (vc->st[at] != 1)
                break;
            la[k] = vc->ll[at][0];
            lo[k] = vc->ll[at][1];
        }
        if (k == 6) {
            nv[i] = 6;
            done++;
            continue;
        }
        /* The colour-0 cell of a vertex is outside the chunk: H3 for this cell, whose vertices
         * then serve the other cell of the chunk that shares them. */
        nv[i] = (uint8_t)r2h_index_cell_vertices(cells[i], la, lo);
        if (nv[i] == 6)
            keep(m, vc, u[i], v[i], la, lo);
    }
    return done;
}

/* The boundaries of a group of cells on one face by model m (exact: H3's own vertices). */
static size_t group_boundaries(const struct model *m, int exact, const uint64_t *cells,
                               const double *u, const double *v, size_t n, double *lat, double *lng,
                               size_t stride, uint8_t *nv)
{
    struct vcache vc;
    const int cached = cache_open(&vc, u, v, n);
    size_t done = 0;
    if (!exact)
        done = model_boundaries(m, cached ? &vc : NULL, cells, u, v, n, lat, lng, stride, nv);
    else if (cached)
        done = exact_boundaries(m, &vc, cells, u, v, n, lat, lng, stride, nv);
    else
        for (size_t i = 0; i < n; i++)
            nv[i] = (uint8_t)r2h_index_cell_vertices(cells[i], lat + i * stride, lng + i * stride);
    if (cached) {
        r2h_free(vc.ll);
        r2h_free(vc.st);
    }
    return done;
}

/* Smallest group of descendants worth a model of its own: its checks cost about as much as
 * cellToBoundary of 30 cells, r2h_index_planar as much again. */
#define MIN_GROUP 343

/* The boundaries of the descendants cells[0..n) of chunk (resolution cres): by a model when
 * chunk lies on one face; else child by child (a chunk across a face edge has most children on
 * one face) while the groups stay large; else by cellToBoundary. Returns how many came from a
 * model. */
static size_t chunk_boundaries(uint64_t chunk, int cres, int exact, const uint64_t *cells,
                               const double *u, const double *v, size_t n, double *lat, double *lng,
                               size_t stride, uint8_t *nv)
{
    struct model m;
    if (n >= 7 && r2h_index_planar(chunk)) {
        const int f = r2h_index_one_face(chunk);
        m.fr = f >= 0 ? &frames[f] : NULL;
        if (m.fr && fit(&m, cells, u, v, n))
            return group_boundaries(&m, exact, cells, u, v, n, lat, lng, stride, nv);
    }
    if (n >= 7 * MIN_GROUP && cres < R2H_MAX_RES) {
        /* Descendants come in index order: each child's are a run with the same digits up to
         * resolution cres + 1. */
        const int shift = 3 * (15 - (cres + 1));
        size_t done = 0;
        for (size_t i = 0, j; i < n; i = j) {
            for (j = i + 1; j < n && cells[j] >> shift == cells[i] >> shift; j++)
                ;
            done += chunk_boundaries(r2h_index_parent(cells[i], cres + 1), cres + 1, exact,
                                     cells + i, u + i, v + i, j - i, lat + i * stride,
                                     lng + i * stride, stride, nv + i);
        }
        return done;
    }
    for (size_t i = 0; i < n; i++)
        nv[i] = (uint8_t)r2h_index_cell_vertices(cells[i], lat + i * stride, lng + i * stride);
    return 0;
}

static size_t boundaries(uint64_t chunk, int res, int exact, const uint64_t *cells, const double *u,
                         const double *v, size_t n, double *lat, double *lng, size_t stride,
                         uint8_t *nv)
{
    const int cres = r2h_index_resolution(chunk);
    if (u && v && res > cres && pthread_once(&frames_once, init_frames) == 0 && frames_ok)
        return chunk_boundaries(chunk, cres, exact, cells, u, v, n, lat, lng, stride, nv);
    for (size_t i = 0; i < n; i++)
        nv[i] = (uint8_t)r2h_index_cell_vertices(cells[i], lat + i * stride, lng + i * stride);
    return 0;
}

size_t r2h_index_boundaries(uint64_t chunk, int res, const uint64_t *cells, const double *u,
                            const double *v, size_t n, double *lat, double *lng, size_t stride,
                            uint8_t *nv)
{
    return boundaries(chunk, res, 0, cells, u, v, n, lat, lng, stride, nv);
}

size_t r2h_index_boundaries_exact(uint64_t chunk, int res, const uint64_t *cells, const double *u,
                                  const double *v, size_t n, double *lat, double *lng,
                                  size_t stride, uint8_t *nv)
{
    return boundaries(chunk, res, 1, cells, u, v, n, lat, lng, stride, nv);
}
