/* test_cover.c - the overlay's pixel fractions (r2h_scan_cover, Green's theorem per row)
 * against an independent computation: each pixel square clipped by the (convex) polygon with
 * Sutherland-Hodgman, its area by the shoelace formula. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "r2h_common.h"
#include "r2h_scan.h"
#include "test.h"
#include "xorshift.h"

enum { MAXP = 64 };

struct got {
    int n;
    int col[4096], row[4096];
    double f[4096];
};

static void collect(void *ctx, int col, int row, double f)
{
    struct got *g = ctx;
    if (g->n < 4096) {
        g->col[g->n] = col;
        g->row[g->n] = row;
        g->f[g->n] = f;
        g->n++;
    }
}

/* Area of the convex polygon (x, y) inside the unit square at (c, r). */
static double clipped_area(const double *x, const double *y, int n, int c, int r)
{
    double px[MAXP], py[MAXP], qx[MAXP], qy[MAXP];
    int m = n;
    for (int i = 0; i < n; i++) { /* relative to the pixel: no cancellation in the areas */
        px[i] = x[i] - c;
        py[i] = y[i] - r;
    }
    c = r = 0;
    /* four half-planes: x >= c, x <= c + 1, y >= r, y <= r + 1 */
    for (int h = 0; h < 4; h++) {
        int k = 0;
        for (int i = 0; i < m; i++) {
            const int j = (i + 1) % m;
            const double a = h == 0   ? px[i] - c
                             : h == 1 ? c + 1 - px[i]
                             : h == 2 ? py[i] - r
                                      : r + 1 - py[i];
            const double b = h == 0   ? px[j] - c
                             : h == 1 ? c + 1 - px[j]
                             : h == 2 ? py[j] - r
                                      : r + 1 - py[j];
            if (a >= 0) {
                qx[k] = px[i];
                qy[k] = py[i];
                k++;
            }
            if ((a >= 0) != (b >= 0)) {
                const double t = a / (a - b);
                qx[k] = px[i] + t * (px[j] - px[i]);
                qy[k] = py[i] + t * (py[j] - py[i]);
                k++;
            }
        }
        m = k;
        memcpy(px, qx, (size_t)m * sizeof *px);
        memcpy(py, qy, (size_t)m * sizeof *py);
    }
    double a2 = 0;
    for (int i = 0; i < m; i++) {
        const int j = (i + 1) % m;
        a2 += px[i] * py[j] - px[j] * py[i];
    }
    return fabs(a2) / 2;
}

TEST(unit_square)
{
    const double x[4] = {2, 3, 3, 2}, y[4] = {3, 3, 4, 4};
    struct got g = {0};
    double *scr = NULL;
    size_t scn = 0;
    const double a = r2h_scan_cover(x, y, 4, 0, 100, 0, 100, &scr, &scn, collect, &g);
    t_assert(a == 1, "area of a pixel");
    t_assert(g.n == 1 && g.col[0] == 2 && g.row[0] == 3 && g.f[0] == 1, "exactly one pixel");
    r2h_free(scr);
}

TEST(rectangle)
{
    const double x[4] = {0.5, 2.5, 2.5, 0.5}, y[4] = {0.25, 0.25, 1.75, 1.75};
    struct got g = {0};
    double *scr = NULL;
    size_t scn = 0;
    const double a = r2h_scan_cover(x, y, 4, 0, 100, 0, 100, &scr, &scn, collect, &g);
    t_assert(fabs(a - 3) < 1e-15, "area");
    double sum = 0;
    int ok = g.n == 6;
    for (int i = 0; i < g.n; i++) {
        const double w = g.col[i] == 1 ? 1 : 0.5, h = 0.75;
        ok = ok && fabs(g.f[i] - w * h) < 1e-15;
        sum += g.f[i];
    }
    t_assert(ok, "each pixel's share of a rectangle");
    t_assert(fabs(sum - 3) < 1e-14, "shares add up to the area");
    r2h_free(scr);
}

/* Random convex polygons (regular n-gons, 3..13 vertices, any size and place): every pixel's
 * fraction as clipping gives it, their sum the area; the reversed polygon the same; a window
 * of columns and rows only its pixels. */
TEST(random_polygons)
{
    uint64_t rng = 14;
    double *scr = NULL;
    size_t scn = 0;
    double worst = 0, worst_sum = 0;
    int bad_set = 0, bad_rev = 0, bad_win = 0;
    for (int t = 0; t < 3000; t++) {
        const int n = 3 + (int)(xorshift64(&rng) % 11);
        const double cx = 1000 * xorshift64_unit(&rng) + 5, cy = 1000 * xorshift64_unit(&rng) + 5;
        const double rad = 0.05 + 4 * xorshift64_unit(&rng), rot = 6.3 * xorshift64_unit(&rng);
        double x[13], y[13], rx[13], ry[13];
        for (int k = 0; k < n; k++) {
            x[k] = cx + rad * cos(rot + 2 * M_PI * k / n);
            y[k] = cy + rad * sin(rot + 2 * M_PI * k / n);
            rx[n - 1 - k] = x[k];
            ry[n - 1 - k] = y[k];
        }
        struct got g = {0}, h = {0}, win = {0};
        const double a = r2h_scan_cover(x, y, n, 0, 2000, 0, 2000, &scr, &scn, collect, &g);
        r2h_scan_cover(rx, ry, n, 0, 2000, 0, 2000, &scr, &scn, collect, &h);
        const int c0 = (int)floor(cx), r0 = (int)floor(cy);
        r2h_scan_cover(x, y, n, c0, c0 + 1, r0, r0 + 2, &scr, &scn, collect, &win);
        double sum = 0;
        for (int i = 0; i < g.n; i++) {
            const double want = clipped_area(x, y, n, g.col[i], g.row[i]);
            worst = fmax(worst, fabs(g.f[i] - want));
            sum += g.f[i];
        }
        /* every pixel the clipping finds with a share above 1e-12 was reported */
        int found = 0;
        for (int r = (int)floor(cy - rad) - 1; r <= (int)floor(cy + rad) + 1; r++)
            for (int c = (int)floor(cx - rad) - 1; c <= (int)floor(cx + rad) + 1; c++)
                found += clipped_area(x, y, n, c, r) > 1e-10;
        int reported = 0;
        for (int i = 0; i < g.n; i++)
            reported += g.f[i] > 1e-10;
        bad_set += found != reported;
        worst_sum = fmax(worst_sum, fabs(sum - a) / a);
        bad_rev += h.n != g.n;
        for (int i = 0; i < h.n && i < g.n; i++)
            bad_rev +=
                h.col[i] != g.col[i] || h.row[i] != g.row[i] || fabs(h.f[i] - g.f[i]) > 1e-13;
        for (int i = 0; i < win.n; i++)
            bad_win += win.col[i] != c0 || win.row[i] < r0 || win.row[i] > r0 + 1;
    }
    fprintf(stderr, "    worst fraction error %.3g, worst relative sum error %.3g\n", worst,
            worst_sum);
    t_assert(worst < 1e-12, "fractions equal the clipped areas");
    t_assert(worst_sum < 1e-12, "fractions add up to the polygon's area");
    t_assert(bad_set == 0, "the same pixels as clipping");
    t_assert(bad_rev == 0, "orientation does not matter");
    t_assert(bad_win == 0, "only the window's pixels");
    r2h_free(scr);
}

TEST(too_many_vertices)
{
    double x[14], y[14];
    for (int k = 0; k < 14; k++) {
        x[k] = 5 + cos(k * 0.4);
        y[k] = 5 + sin(k * 0.4);
    }
    struct got g = {0};
    double *scr = NULL;
    size_t scn = 0;
    t_assert(isnan(r2h_scan_cover(x, y, 14, 0, 10, 0, 10, &scr, &scn, collect, &g)), "refused");
    r2h_free(scr);
}

int main(void)
{
    fprintf(stderr, "test_cover\n");
    RUN(unit_square);
    RUN(rectangle);
    RUN(random_polygons);
    RUN(too_many_vertices);
    TEST_MAIN_END();
}
