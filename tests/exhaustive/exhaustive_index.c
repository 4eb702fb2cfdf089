/* exhaustive_index.c - compares the fast index path with H3's latLngToCell on every pixel of many
 * grids. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <h3/h3api.h>

#include "../unit/xorshift.h"
#include "r2h_common.h"
#include "r2h_index.h"
#include "r2h_index_fast.h"

/* Usage: exhaustive_index [-j threads] [-s scale] [-o only-case-prefix]
 * scale multiplies the pixel budget of every case (1.0 gives about 1.1e9 compared pixels). */

struct grid_case {
    char name[64];
    double gt[6];
    int width, height, res;
    int row_step; /* check every row_step-th row */
};

static int nthreads = 2;
static double scale = 1.0;
static const char *only;
static atomic_ullong total_n, total_bad, total_fb;

/* ---- grid cases: the fast grid against the reference on the pipeline's exact centres ---- */

struct grid_job {
    const struct grid_case *c;
    struct r2h_fast_grid *g;
    atomic_int next_row;
    atomic_ullong n, bad, fb;
};

static void *grid_worker(void *arg)
{
    struct grid_job *job = arg;
    const struct grid_case *c = job->c;
    double *lat = malloc(sizeof *lat * (size_t)c->width),
           *lng = malloc(sizeof *lng * (size_t)c->width);
    uint64_t *ref = malloc(sizeof *ref * (size_t)c->width),
             *fast = malloc(sizeof *fast * (size_t)c->width);
    uint64_t n = 0, bad = 0, fb = 0;
    for (;;) {
        const int k = atomic_fetch_add(&job->next_row, 1);
        /* Rows spread over the grid: offset by half a step so sampled grids avoid the edges. */
        const long row =
            (long)k * c->row_step + (c->row_step > 1 ? c->row_step / 2 % c->height : 0);
        if (row >= c->height)
            break;
        const double rc = row + 0.5;
        for (int i = 0; i < c->width; i++) {
            const double cc = i + 0.5;
            lng[i] = r2h_normalise_lng(c->gt[0] + cc * c->gt[1] + rc * c->gt[2]);
            lat[i] = c->gt[3] + cc * c->gt[4] + rc * c->gt[5];
        }
        r2h_index_cells(lat, lng, NULL, (size_t)c->width, c->res, ref);
        r2h_fast_grid_cells(job->g, (int)row, 0, c->width, NULL, fast, &fb);
        for (int i = 0; i < c->width; i++) {
            if (ref[i] != fast[i]) {
                if (bad < 5)
                    fprintf(stderr,
                            "MISMATCH %s row %ld col %d lat %.17g lng %.17g ref %llx fast %llx\n",
                            c->name, row, i, lat[i], lng[i], (unsigned long long)ref[i],
                            (unsigned long long)fast[i]);
                bad++;
            }
        }
        n += (uint64_t)c->width;
    }
    atomic_fetch_add(&job->n, n);
    atomic_fetch_add(&job->bad, bad);
    atomic_fetch_add(&job->fb, fb);
    free(lat);
    free(lng);
    free(ref);
    free(fast);
    return NULL;
}

static void run_grid(const struct grid_case *c)
{
    if (only && strncmp(c->name, only, strlen(only)) != 0)
        return;
    struct grid_job job = {.c = c};
    if (r2h_fast_grid_create(c->gt, c->width, c->height, c->res, &job.g) != R2H_OK) {
        fprintf(stderr, "create failed: %s\n", c->name);
        atomic_fetch_add(&total_bad, 1);
        return;
    }
    pthread_t th[64];
    for (int t = 0; t < nthreads; t++)
        pthread_create(&th[t], NULL, grid_worker, &job);
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    r2h_fast_grid_free(job.g);
    printf("%-34s res %2d %6dx%-6d step %4d  n %11llu  mismatches %llu  fallbacks %llu (%.2e)\n",
           c->name, c->res, c->width, c->height, c->row_step, (unsigned long long)job.n,
           (unsigned long long)job.bad, (unsigned long long)job.fb,
           job.n ? (double)job.fb / (double)job.n : 0.0);
    fflush(stdout);
    atomic_fetch_add(&total_n, job.n);
    atomic_fetch_add(&total_bad, job.bad);
    atomic_fetch_add(&total_fb, job.fb);
}

/* A window of w x h pixels of size px (degrees) centred on (lat, lng), row_step to meet budget. */
static void window(const char *name, double lat, double lng, double px, int w, int h, int res,
                   double budget)
{
    struct grid_case c = {.width = w, .height = h, .res = res, .row_step = 1};
    snprintf(c.name, sizeof c.name, "%s", name);
    c.gt[0] = lng - px * w / 2;
    c.gt[1] = px;
    c.gt[3] = lat + px * h / 2;
    c.gt[5] = -px;
    budget *= scale;
    if ((double)w * h > budget)
        c.row_step = (int)ceil((double)w * h / budget);
    run_grid(&c);
}

/* Approximate cell edge length in degrees at a resolution. */
static double edge_deg(int res)
{
    return 10.0 / pow(sqrt(7.0), res);
}

static void grid_cases(void)
{
    /* Global grids at every resolution, pixel sizes from 4x the cell edge to 1/20 of it. */
    static const double rel[] = {4.0, 1.0, 0.3, 0.05};
    for (int res = 0; res <= 15; res++)
        for (size_t k = 0; k < sizeof rel / sizeof rel[0]; k++) {
            double px = edge_deg(res) * rel[k];
            if (px > 5)
                px = 5;
            if (px < 1e-4)
                px = 1e-4 * (1 + k); /* global fine grids: sample rows */
            char name[64];
            snprintf(name, sizeof name, "global px=%.3g", px);
            struct grid_case c = {.res = res, .row_step = 1};
            snprintf(c.name, sizeof c.name, "%s", name);
            c.width = (int)ceil(360.0 / px);
            c.height = (int)ceil(180.0 / px);
            c.gt[0] = -180.0;
            c.gt[1] = 360.0 / c.width;
            c.gt[3] = 90.0;
            c.gt[5] = -180.0 / c.height;
            const double budget = 6e6 * scale;
            if ((double)c.width * c.height > budget)
                c.row_step = (int)ceil((double)c.width * c.height / budget);
            if (c.row_step > c.height)
                c.row_step = c.height; /* one full row, in the middle of the grid */
            run_grid(&c);
        }
    /* The carbon grid (EPSG:4326, 0.002694933524973 deg) at res 8, a band of rows. */
    {
        struct grid_case c = {.res = 8, .row_step = 97};
        snprintf(c.name, sizeof c.name, "carbon global");
        c.gt[0] = -180.0;
        c.gt[1] = 0.002694933524973;
        c.gt[3] = 90.0;
        c.gt[5] = -0.002694933524973;
        c.width = 133583;
        c.height = 66791;
        c.row_step = (int)ceil(97 / scale);
        run_grid(&c);
    }
    /* Around every pentagon (icosahedron vertex), poles, antimeridian, face centres/edges. */
    H3Index pent[12];
    getPentagons(0, pent);
    for (int res = 0; res <= 15; res++) {
        for (int p = 0; p < 12; p++) {
            LatLng g;
            cellToLatLng(pent[p], &g);
            char name[64];
            snprintf(name, sizeof name, "pentagon %d", p);
            window(name, radsToDegs(g.lat), radsToDegs(g.lng), edge_deg(res) * 0.02, 700, 700, res,
                   2.5e5);
            snprintf(name, sizeof name, "pentagon %d fine", p);
            window(name, radsToDegs(g.lat), radsToDegs(g.lng), edge_deg(res) * 0.0007, 300, 300,
                   res, 9e4);
        }
        const double pw = edge_deg(res) * 0.05;
        window("north pole", 90.0 - pw * 200, 0.0, pw, 3000, 400, res, 1.2e6);
        window("south pole", -90.0 + pw * 200, 0.0, pw, 3000, 400, res, 1.2e6);
        {
            /* Full longitude circle of rows just below the poles. */
            struct grid_case c = {.res = res, .row_step = 1, .width = 36000, .height = 40};
            snprintf(c.name, sizeof c.name, "polar caps");
            c.gt[0] = -180.0;
            c.gt[1] = 0.01;
            c.gt[3] = 90.0;
            c.gt[5] = -fmin(0.01, pw);
            run_grid(&c);
            c.gt[3] = -90.0 + 40 * fmin(0.01, pw);
            run_grid(&c);
        }
        window("antimeridian", 10.0, 180.0, edge_deg(res) * 0.03, 2000, 500, res, 1e6);
        window("antimeridian south", -65.0, -180.0, edge_deg(res) * 0.03, 2000, 500, res, 1e6);
        window("antimeridian north", 70.0, 179.999, edge_deg(res) * 0.03, 2000, 500, res, 1e6);
    }
}

/* ---- point cases: r2h_index_cells_fast on arbitrary points ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    return xorshift64(&rng_state);
}
static double urand(void)
{
    return xorshift64_unit(&rng_state);
}

static void check_points(const char *name, const double *lat, const double *lng, size_t n, int res)
{
    if (only && strncmp(name, only, strlen(only)) != 0)
        return;
    uint64_t *ref = malloc(n * sizeof *ref), *fast = malloc(n * sizeof *fast), fb = 0, bad = 0;
    r2h_index_cells(lat, lng, NULL, n, res, ref);
    r2h_index_cells_fast(lat, lng, NULL, n, res, fast, &fb);
    for (size_t i = 0; i < n; i++)
        if (ref[i] != fast[i]) {
            if (bad < 5)
                fprintf(stderr, "MISMATCH %s res %d lat %.17g lng %.17g ref %llx fast %llx\n", name,
                        res, lat[i], lng[i], (unsigned long long)ref[i],
                        (unsigned long long)fast[i]);
            bad++;
        }
    atomic_fetch_add(&total_n, n);
    atomic_fetch_add(&total_bad, bad);
    atomic_fetch_add(&total_fb, fb);
    printf("%-34s res %2d  n %11zu  mismatches %llu  fallbacks %llu (%.2e)\n", name, res, n,
           (unsigned long long)bad, (unsigned long long)fb, (double)fb / (double)n);
    fflush(stdout);
    free(ref);
    free(fast);
}

/* Vertices and edge points of the cells of random points, and tiny offsets around them. */
static void vertex_points(int res, size_t ncell)
{
    size_t cap = ncell * 10 * 7, n = 0;
    double *lat = malloc(cap * sizeof *lat), *lng = malloc(cap * sizeof *lng);
    for (size_t c = 0; c < ncell; c++) {
        LatLng g = {asin(2 * urand() - 1), (2 * urand() - 1) * M_PI};
        H3Index h;
        CellBoundary b;
        if (latLngToCell(&g, res, &h) != E_SUCCESS || cellToBoundary(h, &b) != E_SUCCESS)
            continue;
        for (int v = 0; v < b.numVerts && n + 7 <= cap; v++) {
            const LatLng *a = &b.verts[v], *e = &b.verts[(v + 1) % b.numVerts];
            const double la = radsToDegs(a->lat), lo = radsToDegs(a->lng);
            double dl = radsToDegs(e->lng) - lo;
            if (dl > 180)
                dl -= 360;
            if (dl < -180)
                dl += 360;
            const double t = urand();
            const double pts[7][2] = {{la, lo},
                                      {la + (radsToDegs(e->lat) - la) * 0.5, lo + dl * 0.5},
                                      {la + (radsToDegs(e->lat) - la) * t, lo + dl * t},
                                      {nextafter(la, 91), lo},
                                      {la, nextafter(lo, -181)},
                                      {la + 1e-12, lo - 1e-12},
                                      {la - 1e-9, lo + 1e-9}};
            for (int q = 0; q < 7; q++) {
                lat[n] = pts[q][0];
                lng[n] = r2h_normalise_lng(pts[q][1]);
                n++;
            }
        }
    }
    char name[64];
    snprintf(name, sizeof name, "cell vertices/edges");
    check_points(name, lat, lng, n, res);
    free(lat);
    free(lng);
}

static void point_cases(void)
{
    const size_t n = (size_t)(2e6 * scale);
    double *lat = malloc(n * sizeof *lat), *lng = malloc(n * sizeof *lng);
    for (int res = 0; res <= 15; res++) {
        /* Uniform on the sphere. */
        for (size_t i = 0; i < n; i++) {
            lat[i] = radsToDegs(asin(2 * urand() - 1));
            lng[i] = 360 * urand() - 180;
        }
        check_points("uniform sphere", lat, lng, n, res);
        /* Rotated geotransform (30 deg) over a region, pixel ~ cell/10. */
        {
            const double px = edge_deg(res) * 0.1, th = 0.5236, lat0 = 40 * urand(),
                         lng0 = 100 * urand();
            const double gt[6] = {lng0, px * cos(th), -px * sin(th),
                                  lat0, px * sin(th), px * cos(th)};
            const int w = 2000;
            size_t k = 0;
            for (int row = 0; k + w <= n / 2; row++)
                for (int col = 0; col < w; col++, k++) {
                    const double cc = col + 0.5, rc = row + 0.5;
                    lng[k] = r2h_normalise_lng(gt[0] + cc * gt[1] + rc * gt[2]);
                    lat[k] = gt[3] + cc * gt[4] + rc * gt[5];
                }
            check_points("rotated geotransform", lat, lng, k, res);
        }
        /* Projected-like: inverse spherical Mercator of a metre grid (noisy doubles). */
        {
            const double R = 6378137.0, px = edge_deg(res) * 111e3 * 0.2;
            const double x0 = (urand() * 2 - 1) * 1.9e7, y0 = (urand() * 2 - 1) * 1.5e7;
            size_t k = 0;
            for (int row = 0; k + 1000 <= n / 2; row++)
                for (int col = 0; col < 1000; col++, k++) {
                    const double x = x0 + (col + 0.5) * px, y = y0 - (row + 0.5) * px;
                    lng[k] = r2h_normalise_lng(x / R * 180.0 / M_PI);
                    lat[k] = (2 * atan(exp(y / R)) - M_PI / 2) * 180.0 / M_PI;
                }
            check_points("mercator-projected", lat, lng, k, res);
        }
        /* Near face centres and face edges: tiny offsets from base-cell centres and from the
         * midpoints of icosahedron edges. */
        {
            H3Index pent[12];
            LatLng pg[12];
            getPentagons(0, pent);
            for (int p = 0; p < 12; p++)
                cellToLatLng(pent[p], &pg[p]);
            size_t k = 0;
            while (k < n / 4) {
                const int a = (int)(rng() % 12), b = (int)(rng() % 12);
                const double d = greatCircleDistanceRads(&pg[a], &pg[b]);
                if (a == b || d > 1.2)
                    continue;
                /* point on the edge arc, then jitter at scales down to 1e-15 rad */
                const double t = urand(), s = pow(10, -15 + 14 * urand());
                double va[3] = {cos(pg[a].lat) * cos(pg[a].lng), cos(pg[a].lat) * sin(pg[a].lng),
                                sin(pg[a].lat)};
                double vb[3] = {cos(pg[b].lat) * cos(pg[b].lng), cos(pg[b].lat) * sin(pg[b].lng),
                                sin(pg[b].lat)};
                double v[3];
                for (int q = 0; q < 3; q++)
                    v[q] = va[q] * (1 - t) + vb[q] * t + s * (urand() - 0.5);
                const double nn = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
                lat[k] = radsToDegs(asin(v[2] / nn));
                lng[k] = radsToDegs(atan2(v[1], v[0]));
                k++;
            }
            for (int bc = 0; bc < 122 && k < n / 2; bc++) {
                LatLng g;
                cellToLatLng(r2h_index_res0_cell(bc), &g);
                for (int q = 0; q < 2000 && k < n / 2; q++, k++) {
                    const double s = pow(10, -14 + 12 * urand());
                    lat[k] = radsToDegs(g.lat) + s * (urand() - 0.5);
                    lng[k] = r2h_normalise_lng(radsToDegs(g.lng) + s * (urand() - 0.5));
                }
            }
            check_points("face edges/centres", lat, lng, k, res);
        }
        vertex_points(res, (size_t)(2e4 * scale));
    }
    /* Odd inputs: poles exactly, +-180, out-of-range and non-finite values. */
    {
        const double odd_lat[] = {90,  -90, 0,        89.999999999, -89.9999999, 45,
                                  NAN, 0,   INFINITY, 1e300,        91,          -95};
        const double odd_lng[] = {0, 180, -180, 180, -180, 360, 0, NAN, 0, 10, 0, 720};
        for (int res = 0; res <= 15; res++)
            check_points("odd inputs", odd_lat, odd_lng, sizeof odd_lat / sizeof odd_lat[0], res);
    }
    free(lat);
    free(lng);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-j") && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-j threads] [-s scale] [-o case-prefix]\n", argv[0]);
            return 2;
        }
    }
    if (nthreads < 1 || nthreads > 64)
        nthreads = 2;
    const time_t t0 = time(NULL);
    grid_cases();
    point_cases();
    int known, poisoned;
    r2h_index_fast_table_stats(&known, &poisoned);
    printf("TOTAL compared %llu  mismatches %llu  fallbacks %llu (%.3e)  table known %d poisoned "
           "%d  %lds\n",
           (unsigned long long)total_n, (unsigned long long)total_bad, (unsigned long long)total_fb,
           total_n ? (double)total_fb / (double)total_n : 0.0, known, poisoned,
           (long)(time(NULL) - t0));
    return total_bad || poisoned ? 1 : 0;
}
