/* cells_model.c - the model of cell centres in a chunk: a cubic in the cells' face-plane
 * positions (u, v) for each pixel coordinate, fitted by least squares, evaluated, and bounded
 * over a box. docs/design/0009-cell-sampling.md. */
#include <math.h>
#include <string.h>

#include "cells_internal.h"

/* ---- the model: centres from positions ---------------------------------------------------- */

static void monomials(double s, double t, double m[10])
{
    m[0] = 1;
    m[1] = s;
    m[2] = t;
    m[3] = s * s;
    m[4] = s * t;
    m[5] = t * t;
    m[6] = s * s * s;
    m[7] = s * s * t;
    m[8] = s * t * t;
    m[9] = t * t * t;
}

void r2h_cells_model_eval(const struct r2h_cells_model *md, double u, double v, double *x,
                          double *y)
{
    const double s = u * md->scale, t = v * md->scale;
    const double *a = md->a[0], *b = md->a[1];
    *x = a[0] + s * (a[1] + s * (a[3] + s * a[6] + t * a[7])) +
         t * (a[2] + s * a[4] + t * (a[5] + s * a[8] + t * a[9]));
    *y = b[0] + s * (b[1] + s * (b[3] + s * b[6] + t * b[7])) +
         t * (b[2] + s * b[4] + t * (b[5] + s * b[8] + t * b[9]));
}

/* Least squares over n points (normal equations, Gaussian elimination with pivoting). */
int r2h_cells_model_fit(struct r2h_cells_model *md, size_t n, const double *u, const double *v,
                        const double *x, const double *y)
{
    double umax = 0;
    for (size_t i = 0; i < n; i++)
        umax = fmax(umax, fmax(fabs(u[i]), fabs(v[i])));
    if (umax == 0 || n < 10)
        return 0;
    md->scale = 1 / umax;
    double A[10][12];
    memset(A, 0, sizeof A);
    for (size_t i = 0; i < n; i++) {
        double m[10];
        monomials(u[i] * md->scale, v[i] * md->scale, m);
        for (int r = 0; r < 10; r++) {
            for (int c = 0; c < 10; c++)
                A[r][c] += m[r] * m[c];
            A[r][10] += m[r] * x[i];
            A[r][11] += m[r] * y[i];
        }
    }
    for (int c = 0; c < 10; c++) {
        int p = c;
        for (int r = c + 1; r < 10; r++)
            if (fabs(A[r][c]) > fabs(A[p][c]))
                p = r;
        if (fabs(A[p][c]) < 1e-300)
            return 0;
        if (p != c)
            for (int k = 0; k < 12; k++) {
                double t = A[c][k];
                A[c][k] = A[p][k];
                A[p][k] = t;
            }
        for (int r = 0; r < 10; r++) {
            if (r == c)
                continue;
            const double f = A[r][c] / A[c][c];
            for (int k = c; k < 12; k++)
                A[r][k] -= f * A[c][k];
        }
    }
    for (int c = 0; c < 10; c++) {
        md->a[0][c] = A[c][10] / A[c][c];
        md->a[1][c] = A[c][11] / A[c][c];
    }
    return 1;
}

/* Range of the model's outputs over s in s0 +- S, t in t0 +- T (Taylor expansion of the cubic
 * about (s0, t0), bounded term by term), widened by one pixel. */
void r2h_cells_model_range(const struct r2h_cells_model *md, double s0, double t0, double S,
                           double T, double lo[2], double hi[2])
{
    const double m[10] = {1, S, T, S * S, S * T, T * T, S * S * S, S * S * T, S * T * T, T * T * T};
    for (int o = 0; o < 2; o++) {
        const double *a = md->a[o], s = s0, t = t0;
        const double c[10] = {
            a[0] + s * (a[1] + s * (a[3] + s * a[6] + t * a[7])) +
                t * (a[2] + s * a[4] + t * (a[5] + s * a[8] + t * a[9])),
            a[1] + 2 * a[3] * s + a[4] * t + 3 * a[6] * s * s + 2 * a[7] * s * t + a[8] * t * t,
            a[2] + a[4] * s + 2 * a[5] * t + a[7] * s * s + 2 * a[8] * s * t + 3 * a[9] * t * t,
            a[3] + 3 * a[6] * s + a[7] * t,
            a[4] + 2 * a[7] * s + 2 * a[8] * t,
            a[5] + a[8] * s + 3 * a[9] * t,
            a[6],
            a[7],
            a[8],
            a[9]};
        double r = 0;
        for (int k = 1; k < 10; k++)
            r += fabs(c[k]) * m[k];
        lo[o] = c[0] - r - 1;
        hi[o] = c[0] + r + 1;
    }
}
