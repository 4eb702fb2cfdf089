/* bench_index.c - ns per pixel of reference latLngToCell vs the fast paths on a carbon-shaped grid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "r2h_index.h"
#include "r2h_index_fast.h"

/* Usage: bench_index [rows] [res ...]
 * Grid: EPSG:4326, pixel 0.002694933524973 deg, global extent (133583 x 66791 pixels); rows
 * are spread evenly over the grid and every pixel of each sampled row is indexed. One thread. */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const double px = 0.002694933524973;
    const double gt[6] = {-180.0, px, 0.0, 90.0, 0.0, -px};
    const int width = 133583, height = 66791;
    int nrows = argc > 1 ? atoi(argv[1]) : 24;
    int resv[16], nres = 0;
    for (int i = 2; i < argc && nres < 16; i++)
        resv[nres++] = atoi(argv[i]);
    if (!nres) {
        resv[0] = 8;
        resv[1] = 5;
        resv[2] = 11;
        resv[3] = 13;
        nres = 4;
    }
    if (nrows < 1)
        nrows = 1;
    double *lat = malloc(sizeof *lat * width), *lng = malloc(sizeof *lng * width);
    uint64_t *ref = malloc(sizeof *ref * width), *fast = malloc(sizeof *fast * width);
    printf("carbon grid %dx%d px %.15g, %d rows x %d px per resolution, one thread\n", width,
           height, px, nrows, width);
    printf(
        "res  ref ns/px  grid ns/px  speedup  points ns/px  speedup  grid fallbacks  mismatches\n");
    for (int q = 0; q < nres; q++) {
        const int res = resv[q];
        struct r2h_fast_grid *g;
        if (r2h_fast_grid_create(gt, width, height, res, &g) != R2H_OK)
            return 1;
        double t_ref = 0, t_grid = 0, t_pts = 0;
        uint64_t fb = 0, fbp = 0, bad = 0, n = 0;
        for (int k = 0; k < nrows; k++) {
            /* Skip the polar 2 degrees: rows there are all one or two cells. */
            const int row = 742 + (int)((long)k * (height - 1484) / nrows);
            const double rc = row + 0.5;
            for (int i = 0; i < width; i++) {
                const double cc = i + 0.5;
                double l = gt[0] + cc * gt[1] + rc * gt[2];
                if (l > 180.0)
                    l -= 360.0;
                else if (l < -180.0)
                    l += 360.0;
                lng[i] = l;
                lat[i] = gt[3] + cc * gt[4] + rc * gt[5];
            }
            double t0 = now();
            r2h_index_cells(lat, lng, NULL, width, res, ref);
            double t1 = now();
            r2h_fast_grid_cells(g, row, 0, width, NULL, fast, &fb);
            double t2 = now();
            for (int i = 0; i < width; i++)
                bad += ref[i] != fast[i];
            memset(fast, 0, sizeof *fast * width);
            double t3 = now();
            r2h_index_cells_fast(lat, lng, NULL, width, res, fast, &fbp);
            double t4 = now();
            for (int i = 0; i < width; i++)
                bad += ref[i] != fast[i];
            t_ref += t1 - t0;
            t_grid += t2 - t1;
            t_pts += t4 - t3;
            n += width;
        }
        r2h_fast_grid_free(g);
        const double a = 1e9 * t_ref / n, b = 1e9 * t_grid / n, c = 1e9 * t_pts / n;
        printf("%3d  %9.1f  %10.2f  %6.1fx  %12.2f  %6.1fx  %8.2e  %llu\n", res, a, b, a / b, c,
               a / c, (double)fb / n, (unsigned long long)bad);
        fflush(stdout);
    }
    free(lat);
    free(lng);
    free(ref);
    free(fast);
    return 0;
}
