/* bench_boundary.c - ns per cell of r2h_index_boundaries and r2h_index_boundaries_exact (all
 * descendants of a chunk at once) against cellToBoundary cell by cell (r2h_index_cell_vertices).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "r2h_index.h"

/* Usage: bench_boundary [lat lng res chunk_res rounds]; default 50 0 8 3 3: the chunks whose
 * centres are nearest lat, lng and 8 points around it, every descendant. One thread. */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const double lat = argc > 1 ? atof(argv[1]) : 50, lng = argc > 2 ? atof(argv[2]) : 0;
    const int res = argc > 3 ? atoi(argv[3]) : 8, cres = argc > 4 ? atoi(argv[4]) : 3;
    const int rounds = argc > 5 ? atoi(argv[5]) : 3;
    if (res - cres < 0 || res - cres > R2H_INDEX_MAX_LEVELS || res > R2H_MAX_RES || rounds < 1)
        return 2;
    size_t cap = 1;
    for (int i = cres; i < res; i++)
        cap *= 7;
    enum { V = 10 };
    uint64_t *cells = malloc(cap * sizeof *cells);
    double *u = malloc(cap * sizeof *u), *v = malloc(cap * sizeof *v);
    double *la = malloc(cap * V * sizeof *la), *lo = malloc(cap * V * sizeof *lo);
    uint8_t *nv = malloc(cap);
    if (!cells || !u || !v || !la || !lo || !nv)
        return 1;
    const double step = 2 * r2h_index_edge_km(cres) / 111.2; /* degrees */
    double t_ref = 0, t_fast = 0, t_exact = 0, t_enum = 0, sink = 0;
    size_t cells_n = 0, fast_n = 0, exact_n = 0;
    for (int r = 0; r < rounds; r++) {
        for (int p = 0; p < 9; p++) {
            const uint64_t chunk =
                r2h_index_cell_at(lat + step * (p / 3 - 1), lng + step * (p % 3 - 1), cres);
            double t0 = now();
            const size_t n = r2h_index_descendants(chunk, res, cells, u, v);
            double t1 = now();
            fast_n += r2h_index_boundaries(chunk, res, cells, u, v, n, la, lo, V, nv);
            double t2 = now();
            for (size_t i = 0; i < n; i++)
                sink += r2h_index_cell_vertices(cells[i], la + i * V, lo + i * V);
            double t3 = now();
            exact_n += r2h_index_boundaries_exact(chunk, res, cells, u, v, n, la, lo, V, nv);
            double t4 = now();
            t_enum += t1 - t0;
            t_fast += t2 - t1;
            t_ref += t3 - t2;
            t_exact += t4 - t3;
            cells_n += n;
        }
    }
    printf("res %d chunk res %d around %g %g: %zu cells, %zu fast, %zu assembled (exact)\n", res,
           cres, lat, lng, cells_n, fast_n, exact_n);
    printf("cellToBoundary per cell       %7.1f ns\n", 1e9 * t_ref / (double)cells_n);
    printf("r2h_index_boundaries per cell %7.1f ns (enumeration with u, v: %.1f ns)\n",
           1e9 * t_fast / (double)cells_n, 1e9 * t_enum / (double)cells_n);
    printf("r2h_index_boundaries_exact    %7.1f ns per cell\n", 1e9 * t_exact / (double)cells_n);
    return sink < 0;
}
