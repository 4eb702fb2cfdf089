/* test_index_fast.c - the fast index path against H3's latLngToCell on a substantial subset of
 * grids and points. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h3/h3api.h>

#include "r2h_common.h"
#include "r2h_index.h"
#include "r2h_index_fast.h"
#include "test.h"
#include "xorshift.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static double urand(void)
{
    return xorshift64_unit(&rng_state);
}

/* Compares every sampled row of a grid with the reference; returns mismatches. */
static long check_grid(const double gt[6], int w, int h, int res, int row_step, long *count,
                       uint64_t *fb)
{
    struct r2h_fast_grid *g = NULL;
    if (r2h_fast_grid_create(gt, w, h, res, &g) != R2H_OK)
        return -1;
    double *lat = malloc(sizeof *lat * (size_t)w), *lng = malloc(sizeof *lng * (size_t)w);
    uint64_t *ref = malloc(sizeof *ref * (size_t)w), *fast = malloc(sizeof *fast * (size_t)w);
    long bad = 0;
    for (int row = row_step / 2; row < h; row += row_step) {
        const double rc = row + 0.5;
        for (int i = 0; i < w; i++) {
            const double cc = i + 0.5;
            lng[i] = r2h_normalise_lng(gt[0] + cc * gt[1] + rc * gt[2]);
            lat[i] = gt[3] + cc * gt[4] + rc * gt[5];
        }
        r2h_index_cells(lat, lng, NULL, (size_t)w, res, ref);
        r2h_fast_grid_cells(g, row, 0, w, NULL, fast, fb);
        for (int i = 0; i < w; i++)
            bad += ref[i] != fast[i];
        *count += w;
    }
    free(lat);
    free(lng);
    free(ref);
    free(fast);
    r2h_fast_grid_free(g);
    return bad;
}

TEST(global_grids_every_resolution)
{
    long n = 0, bad = 0;
    uint64_t fb = 0;
    for (int res = 0; res <= 15; res++) {
        const double px = fmax(10.0 / pow(sqrt(7.0), res) * 0.3, 0.001);
        const int w = (int)ceil(360 / px), h = (int)ceil(180 / px);
        const double gt[6] = {-180.0, 360.0 / w, 0, 90.0, 0, -180.0 / h};
        const int step = (int)fmax(1, (double)w * h / 4e4);
        bad += check_grid(gt, w, h, res, step > h ? h : step, &n, &fb);
    }
    t_assert(bad == 0, "global grids: fast cells equal the reference");
    t_assert(n > 500000, "enough pixels compared");
    t_assert(fb < (uint64_t)n / 100, "fallback rate below 1%");
}

TEST(pentagons_poles_antimeridian)
{
    long n = 0, bad = 0;
    uint64_t fb = 0;
    H3Index pent[12];
    t_assert(getPentagons(0, pent) == E_SUCCESS, "pentagons");
    const int resv[] = {0, 1, 4, 8, 11, 15};
    for (size_t q = 0; q < sizeof resv / sizeof resv[0]; q++) {
        const int res = resv[q];
        const double px = 10.0 / pow(sqrt(7.0), res) * 0.03;
        for (int p = 0; p < 12; p += 1) {
            LatLng c;
            cellToLatLng(pent[p], &c);
            const double gt[6] = {radsToDegs(c.lng) - 40 * px, px, 0,
                                  radsToDegs(c.lat) + 40 * px, 0,  -px};
            bad += check_grid(gt, 80, 80, res, 2, &n, &fb);
        }
        const double np[6] = {-180.0, 0.05, 0, 90.0, 0, -fmin(px, 0.01)};
        bad += check_grid(np, 7200, 20, res, 1, &n, &fb);
        const double sp[6] = {-180.0, 0.05, 0, -90.0 + 20 * fmin(px, 0.01), 0, -fmin(px, 0.01)};
        bad += check_grid(sp, 7200, 20, res, 1, &n, &fb);
        const double am[6] = {180.0 - 100 * px, px, 0, 30.0, 0, -px};
        bad += check_grid(am, 200, 100, res, 3, &n, &fb);
    }
    t_assert(bad == 0, "pentagons, poles, antimeridian: fast cells equal the reference");
    t_assert(n > 100000, "enough pixels compared");
}

/* Cell vertices and edge midpoints (points exactly on decision boundaries) and random points
 * through the general path. */
TEST(general_points_and_boundaries)
{
    enum { N = 40000 };
    double *lat = malloc(sizeof *lat * N), *lng = malloc(sizeof *lng * N);
    uint64_t *ref = malloc(sizeof *ref * N), *fast = malloc(sizeof *fast * N);
    uint8_t *ok = malloc(N);
    long bad = 0;
    for (int res = 0; res <= 15; res++) {
        int n = 0;
        while (n + 14 <= N) {
            LatLng g = {asin(2 * urand() - 1), (2 * urand() - 1) * M_PI};
            H3Index h;
            CellBoundary b;
            lat[n] = radsToDegs(g.lat);
            lng[n] = radsToDegs(g.lng);
            n++;
            if (n % 4 || latLngToCell(&g, res, &h) != E_SUCCESS ||
                cellToBoundary(h, &b) != E_SUCCESS)
                continue;
            for (int v = 0; v < b.numVerts && n + 2 <= N; v++) {
                const LatLng *a = &b.verts[v], *e = &b.verts[(v + 1) % b.numVerts];
                lat[n] = radsToDegs(a->lat);
                lng[n] = radsToDegs(a->lng);
                n++;
                double dl = e->lng - a->lng;
                dl = dl > M_PI ? dl - 2 * M_PI : dl < -M_PI ? dl + 2 * M_PI : dl;
                lat[n] = radsToDegs(0.5 * (a->lat + e->lat));
                lng[n] = r2h_normalise_lng(radsToDegs(a->lng + 0.5 * dl));
                n++;
            }
        }
        for (int i = 0; i < n; i++)
            ok[i] = (i % 97) != 0;
        r2h_index_cells(lat, lng, ok, (size_t)n, res, ref);
        uint64_t fb = 0;
        r2h_index_cells_fast(lat, lng, ok, (size_t)n, res, fast, &fb);
        for (int i = 0; i < n; i++)
            bad += ref[i] != fast[i];
    }
    t_assert(bad == 0, "general points and cell boundaries: fast cells equal the reference");
    /* Rotated geotransform through the general path. */
    bad = 0;
    for (int res = 2; res <= 14; res += 3) {
        const double px = 10.0 / pow(sqrt(7.0), res) * 0.1, th = 0.4;
        const double gt[6] = {12.5, px * cos(th), -px * sin(th), 47.0, px * sin(th), px * cos(th)};
        int n = 0;
        for (int row = 0; row < 100; row++)
            for (int col = 0; col < 300; col++, n++) {
                lng[n] = r2h_normalise_lng(gt[0] + (col + 0.5) * gt[1] + (row + 0.5) * gt[2]);
                lat[n] = gt[3] + (col + 0.5) * gt[4] + (row + 0.5) * gt[5];
            }
        r2h_index_cells(lat, lng, NULL, (size_t)n, res, ref);
        r2h_index_cells_fast(lat, lng, NULL, (size_t)n, res, fast, NULL);
        for (int i = 0; i < n; i++)
            bad += ref[i] != fast[i];
    }
    t_assert(bad == 0, "rotated geotransform: fast cells equal the reference");
    free(lat);
    free(lng);
    free(ref);
    free(fast);
    free(ok);
}

TEST(odd_inputs_and_contract)
{
    const double lat[] = {90, -90, 0, NAN, 0, INFINITY, 1e300, 91, -95, 0};
    const double lng[] = {180, -180, 360, 0, NAN, 0, 10, 0, 720, -0.0};
    const size_t n = sizeof lat / sizeof lat[0];
    uint64_t ref[16], fast[16];
    for (int res = 0; res <= 15; res++) {
        r2h_index_cells(lat, lng, NULL, n, res, ref);
        r2h_index_cells_fast(lat, lng, NULL, n, res, fast, NULL);
        t_assert(memcmp(ref, fast, n * sizeof *ref) == 0, "odd inputs as the reference");
    }
    r2h_index_cells_fast(lat, lng, NULL, n, 16, fast, NULL);
    t_assert(fast[0] == 0, "bad resolution gives 0");
    /* Grid contract: invalid arguments, ok mask, pixels beyond the grid, free(NULL). */
    struct r2h_fast_grid *g = NULL;
    const double rot[6] = {0, 0.1, 0.01, 0, 0, -0.1};
    t_assert(r2h_fast_grid_create(rot, 10, 10, 5, &g) == R2H_ERR_INVALID, "rotated refused");
    const double gt[6] = {170.0, 0.25, 0, 10.0, 0, -0.25};
    t_assert(r2h_fast_grid_create(gt, 10, 10, 16, &g) == R2H_ERR_INVALID, "res 16 refused");
    t_assert(r2h_fast_grid_create(gt, 0, 10, 5, &g) == R2H_ERR_INVALID, "empty refused");
    t_assert(r2h_fast_grid_create(gt, 40, 10, 5, &g) == R2H_OK, "create");
    uint8_t ok[60];
    uint64_t cells[60], want[60];
    double la[60], lo[60];
    for (int i = 0; i < 60; i++) {
        ok[i] = i % 3 != 0;
        lo[i] = r2h_normalise_lng(gt[0] + (i + 0.5) * gt[1] + 3.5 * gt[2]);
        la[i] = gt[3] + (i + 0.5) * gt[4] + 3.5 * gt[5];
    }
    r2h_index_cells(la, lo, ok, 60, 5, want);
    uint64_t fb = 0;
    r2h_fast_grid_cells(g, 3, 0, 60, ok, cells, &fb); /* runs past width 40 */
    t_assert(memcmp(cells, want, sizeof cells) == 0, "ok mask and pixels beyond the width");
    r2h_fast_grid_free(g);
    r2h_fast_grid_free(NULL);
    int known, poisoned;
    r2h_index_fast_table_stats(&known, &poisoned);
    t_assert(known > 500 && poisoned == 0, "learned table healthy");
}

int main(void)
{
    fprintf(stderr, "test_index_fast\n");
    RUN(global_grids_every_resolution);
    RUN(pentagons_poles_antimeridian);
    RUN(general_points_and_boundaries);
    RUN(odd_inputs_and_contract);
    TEST_MAIN_END();
}
