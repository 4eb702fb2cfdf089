/* test_boundary.c - r2h_index_boundaries against H3's cellToBoundary, vertex by vertex, for the
 * descendants of chunks all over the globe: random places, near face edges, near the 12
 * pentagons, the poles and the antimeridian, at every resolution with 1..5 levels below. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h3/h3api.h>

#include "r2h_common.h"
#include "r2h_index.h"
#include "test.h"
#include "xorshift.h"

enum { V = 10 };

/* Largest vertex difference seen (degrees of latitude or longitude; as arc: longitude's times
 * the cosine of the latitude), cells compared, cells on the fast path. */
static double max_diff, max_arc;
static size_t n_cells, n_fast, n_bad;
/* The same for r2h_index_boundaries_exact: cells assembled, cells not bit-identical. */
static size_t n_exact, n_bad_exact;

static void vec_of(double lat, double lng, double p[3])
{
    const double a = lat * M_PI / 180, b = lng * M_PI / 180;
    p[0] = cos(a) * cos(b);
    p[1] = cos(a) * sin(b);
    p[2] = sin(a);
}

static void latlng_of(const double p[3], double *lat, double *lng)
{
    *lat = atan2(p[2], hypot(p[0], p[1])) * 180 / M_PI;
    *lng = atan2(p[1], p[0]) * 180 / M_PI;
}

/* Every descendant of chunk at res: count, order and each vertex as cellToBoundary's. */
static void check_chunk(uint64_t chunk, int res)
{
    const int k = res - r2h_index_resolution(chunk);
    size_t cap = 1;
    for (int i = 0; i < k; i++)
        cap *= 7;
    uint64_t *cells = malloc(cap * sizeof *cells);
    double *u = malloc(cap * sizeof *u), *v = malloc(cap * sizeof *v);
    double *lat = malloc(cap * V * sizeof *lat), *lng = malloc(cap * V * sizeof *lng);
    uint8_t *nv = malloc(cap);
    t_assert(cells && u && v && lat && lng && nv, "allocation");
    if (!(cells && u && v && lat && lng && nv))
        goto out;
    const size_t n = r2h_index_descendants(chunk, res, cells, u, v);
    n_fast += r2h_index_boundaries(chunk, res, cells, u, v, n, lat, lng, V, nv);
    n_cells += n;
    for (size_t i = 0; i < n; i++) {
        CellBoundary b;
        const int ok = cellToBoundary(cells[i], &b) == E_SUCCESS;
        int bad = !ok || nv[i] != b.numVerts;
        for (int j = 0; !bad && j < b.numVerts; j++) {
            const double dlat = fabs(lat[i * V + j] - radsToDegs(b.verts[j].lat));
            double dlng = fabs(lng[i * V + j] - radsToDegs(b.verts[j].lng));
            dlng = fmin(dlng, fabs(dlng - 360)); /* +180 and -180 are one longitude */
            const double d = fmax(dlat, dlng);
            if (d > max_diff && getenv("R2H_TEST_VERBOSE"))
                fprintf(stderr, "    worst so far %.3g (lat %.3g lng %.3g) at %.6f %.6f res %d\n",
                        d, dlat, dlng, lat[i * V + j], lng[i * V + j], res);
            max_diff = fmax(max_diff, d);
            max_arc = fmax(max_arc, fmax(dlat, dlng * cos(lat[i * V + j] * M_PI / 180)));
            bad = !(d <= 1e-11);
        }
        if (bad && n_bad++ < 5)
            fprintf(stderr, "    cell %llx (chunk %llx res %d): boundary differs\n",
                    (unsigned long long)cells[i], (unsigned long long)chunk, res);
    }
    /* The exact variant: the very doubles of cellToBoundary. */
    n_exact += r2h_index_boundaries_exact(chunk, res, cells, u, v, n, lat, lng, V, nv);
    for (size_t i = 0; i < n; i++) {
        CellBoundary b;
        const int ok = cellToBoundary(cells[i], &b) == E_SUCCESS;
        int bad = !ok || nv[i] != b.numVerts;
        for (int j = 0; !bad && j < b.numVerts; j++)
            bad = lat[i * V + j] != radsToDegs(b.verts[j].lat) ||
                  lng[i * V + j] != radsToDegs(b.verts[j].lng);
        if (bad && n_bad_exact++ < 5)
            fprintf(stderr, "    cell %llx (chunk %llx res %d): exact boundary differs\n",
                    (unsigned long long)cells[i], (unsigned long long)chunk, res);
    }
out:
    free(cells);
    free(u);
    free(v);
    free(lat);
    free(lng);
    free(nv);
}

/* Chunks around a point at every resolution and 1..maxk levels below, each moved by up to
 * three chunk edges in a random direction. */
static void check_around(double lat, double lng, int maxk, uint64_t *rng)
{
    for (int res = 1; res <= R2H_MAX_RES; res++) {
        for (int k = 1; k <= maxk && k <= res; k++) {
            const double d = 3 * xorshift64_unit(rng) * r2h_index_edge_km(res - k) / 6371.0;
            const double az = 2 * M_PI * xorshift64_unit(rng);
            double p[3], e[3], nth[3] = {0, 0, 1}, east[3], north[3];
            vec_of(lat, lng, p);
            /* A step of d radians towards azimuth az (east/north of p; any axes at a pole). */
            east[0] = nth[1] * p[2] - nth[2] * p[1];
            east[1] = nth[2] * p[0] - nth[0] * p[2];
            east[2] = nth[0] * p[1] - nth[1] * p[0];
            double en = sqrt(east[0] * east[0] + east[1] * east[1] + east[2] * east[2]);
            if (en < 1e-9) {
                east[0] = 1, east[1] = 0, east[2] = 0, en = 1;
            }
            for (int j = 0; j < 3; j++)
                east[j] /= en;
            north[0] = p[1] * east[2] - p[2] * east[1];
            north[1] = p[2] * east[0] - p[0] * east[2];
            north[2] = p[0] * east[1] - p[1] * east[0];
            for (int j = 0; j < 3; j++)
                e[j] = cos(d) * p[j] + sin(d) * (cos(az) * north[j] + sin(az) * east[j]);
            double la, lo;
            latlng_of(e, &la, &lo);
            const uint64_t chunk = r2h_index_cell_at(la, lo, res - k);
            t_assert(chunk != 0, "a chunk");
            if (chunk)
                check_chunk(chunk, res);
        }
    }
}

static void report(const char *what)
{
    fprintf(stderr,
            "    %s: %zu cells, %zu fast, max vertex difference %.3g degrees (%.3g of arc)\n", what,
            n_cells, n_fast, max_diff, max_arc);
    fprintf(stderr, "    exact: %zu cells assembled from shared vertices, %zu differ\n", n_exact,
            n_bad_exact);
    t_assert(n_bad == 0, "every vertex within 1e-11 degrees of cellToBoundary");
    t_assert(n_bad_exact == 0, "every exact vertex equal to cellToBoundary's");
}

TEST(random_places)
{
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 40; i++) {
        const double z = 2 * xorshift64_unit(&rng) - 1;
        check_around(asin(z) * 180 / M_PI, 360 * xorshift64_unit(&rng) - 180, i % 4 ? 4 : 5, &rng);
    }
    report("random places");
    t_assert(n_fast > n_cells / 2, "most cells on the fast path");
    t_assert(n_exact > n_cells / 2, "most cells assembled");
}

/* The pentagons' centres: the icosahedron's vertices. */
static int pentagons(double pent[12][3])
{
    int np = 0;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        const uint64_t h = r2h_index_res0_cell(bc);
        if (!isPentagon(h) || np == 12)
            continue;
        LatLng g;
        cellToLatLng(h, &g);
        vec_of(radsToDegs(g.lat), radsToDegs(g.lng), pent[np++]);
    }
    return np;
}

TEST(pentagons_and_face_edges)
{
    uint64_t rng = 0x2545f4914f6cdd1dULL;
    double pent[12][3];
    t_assert(pentagons(pent) == 12, "12 pentagons");
    for (int i = 0; i < 12; i++) {
        double la, lo;
        latlng_of(pent[i], &la, &lo);
        check_around(la, lo, 4, &rng);
        /* Inside the pentagon's base cell, where H3 rotates the cells by their leading digit. */
        for (int j = 0; j < 3; j++) {
            const double az = 2 * M_PI * xorshift64_unit(&rng), d = (1.0 + 2 * j) * M_PI / 180;
            double e[3], a[3] = {0, 0, 1}, t1[3], t2[3];
            if (fabs(pent[i][2]) > 0.9)
                a[0] = 1, a[2] = 0;
            t1[0] = a[1] * pent[i][2] - a[2] * pent[i][1];
            t1[1] = a[2] * pent[i][0] - a[0] * pent[i][2];
            t1[2] = a[0] * pent[i][1] - a[1] * pent[i][0];
            const double n1 = sqrt(t1[0] * t1[0] + t1[1] * t1[1] + t1[2] * t1[2]);
            for (int k = 0; k < 3; k++)
                t1[k] /= n1;
            t2[0] = pent[i][1] * t1[2] - pent[i][2] * t1[1];
            t2[1] = pent[i][2] * t1[0] - pent[i][0] * t1[2];
            t2[2] = pent[i][0] * t1[1] - pent[i][1] * t1[0];
            for (int k = 0; k < 3; k++)
                e[k] = cos(d) * pent[i][k] + sin(d) * (cos(az) * t1[k] + sin(az) * t2[k]);
            latlng_of(e, &la, &lo);
            check_around(la, lo, j == 1 ? 4 : 3, &rng);
        }
    }
    report("near pentagons");
    /* Icosahedron edges join pentagons 63.4 degrees apart; points along them. */
    int edges = 0;
    for (int i = 0; i < 12; i++)
        for (int j = i + 1; j < 12; j++) {
            const double c =
                pent[i][0] * pent[j][0] + pent[i][1] * pent[j][1] + pent[i][2] * pent[j][2];
            if (c < 0.4)
                continue;
            edges++;
            const double t = 0.1 + 0.8 * xorshift64_unit(&rng);
            double p[3], la, lo;
            for (int k = 0; k < 3; k++)
                p[k] = (1 - t) * pent[i][k] + t * pent[j][k];
            latlng_of(p, &la, &lo);
            check_around(la, lo, edges % 6 ? 3 : 4, &rng);
        }
    t_assert(edges == 30, "30 icosahedron edges");
    report("near face edges");
}

TEST(poles_and_antimeridian)
{
    uint64_t rng = 0x853c49e6748fea9bULL;
    static const double places[][2] = {{90, 0},    {-90, 0},    {89.9, 45},     {-89.5, -120},
                                       {88, 10},   {-87, 170},  {0, 180},       {10, -180},
                                       {-45, 180}, {65, 179.9}, {-70, -179.99}, {30, 180}};
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++)
        check_around(places[i][0], places[i][1], 4, &rng);
    report("poles and antimeridian");
}

TEST(odd_chunks)
{
    /* A pentagon chunk, a cell of its own (no descendants below), a single level. */
    const uint64_t pent = r2h_index_res0_cell(4);
    check_chunk(pent, 3);
    check_chunk(r2h_index_cell_at(50, 0, 8), 8);
    check_chunk(r2h_index_cell_at(50, 0, 14), 15);
    report("odd chunks (all so far)");
}

int main(void)
{
    RUN(random_places);
    RUN(pentagons_and_face_edges);
    RUN(poles_and_antimeridian);
    RUN(odd_chunks);
    TEST_MAIN_END();
}
