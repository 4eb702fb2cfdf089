/* cells_fast.c - the fast path of the scan per cell (nearest on a chunk whose centres a checked
 * model gives): the chunk's model from exact centres, a window that provably holds every
 * descendant's pixel, sub-chunks skipped where that window has no valid pixel, children placed
 * by the model's linearisation, exact centres near pixel edges. docs/design/0009. */
#include <math.h>
#include <string.h>

#include "cells_internal.h"

#define ifloor r2h_cells_ifloor

/* Copy one pixel record of ps bytes. */
static inline void put_pixel(unsigned char *dst, const unsigned char *src, size_t ps)
{
    switch (ps) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, ps);
    }
}

int r2h_cells_fit(struct cworker *w, uint64_t cell, int L, size_t p7, double u0, double v0,
                  struct r2h_cells_model *md, double *margin)
{
    struct cscan *s = w->scan;
    /* Training: the centres of the 7 children and of 3 grandchildren of each (digits 1, 3, 5:
     * three directions); checking: 6 spread descendants and the 6 outermost (all digits d),
     * where a cubic's error is largest. */
    enum { NT = 28, NC = 12, NP = NT + NC };
    static const int GRAND[4] = {0, 1, 3, 5};
    uint64_t id[NP], cells[NP];
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 4; b++)
            id[a * 4 + b] = (uint64_t)a * (p7 / 7) + (uint64_t)GRAND[b] * (p7 / 49);
    for (int j = 0; j < 6; j++)
        id[NT + j] = ((uint64_t)p7 * (2 * j + 1)) / 12;
    for (int d = 1; d <= 6; d++)
        id[NT + 5 + d] = (uint64_t)d * (p7 - 1) / 6;
    double lat[NP], lng[NP], X[NP], Y[NP], U[NP], V[NP], ex[NP], ey[NP];
    uint8_t ok[NP];
    for (int j = 0; j < NP; j++) {
        cells[j] = r2h_index_descendant(cell, s->o->resolution, id[j], (double(*)[7][2])s->off + L,
                                        &U[j], &V[j]);
        U[j] += u0;
        V[j] += v0;
    }
    r2h_index_centres(cells, NP, lat, lng);
    if (r2h_raster_to_pixel(w->raster, NP, lat, lng, ex, ey, ok) != R2H_OK)
        return 0;
    for (int j = 0; j < NP; j++)
        if (!ok[j])
            return 0;
    if (s->period > 0) {
        const double *gt = s->in->gt;
        for (int j = 0; j < NP; j++) {
            double l = lng[j];
            while (l - lng[0] > 180)
                l -= 360;
            while (l - lng[0] < -180)
                l += 360;
            X[j] = (l - s->west) / gt[1];
            Y[j] = (lat[j] - gt[3]) / gt[5];
        }
    } else {
        memcpy(X, ex, sizeof X);
        memcpy(Y, ey, sizeof Y);
    }
    if (!r2h_cells_model_fit(md, NT, U, V, X, Y))
        return 0;
    double err = 0;
    for (int j = NT; j < NP; j++) {
        double mx, my;
        r2h_cells_model_eval(md, U[j], V[j], &mx, &my);
        double dx = mx - ex[j];
        if (s->period > 0)
            dx -= s->period * nearbyint(dx / s->period);
        err = fmax(err, fmax(fabs(dx), fabs(my - ey[j])));
    }
    if (!(err < 1e-5))
        return 0;
    *margin = 16 * err + 1e-9;
    return 1;
}

/* What placing a parent's 7 children needs: the last level's steps (padded to 8 with zeros),
 * the near-edge bound, the window and the raster in shifted columns and rows. */
struct kids {
    double lds[8], ldt[8];
    double half;
    long WX, WY, KXl, KYl, ww, wh, width, height;
};

/* Place the 7 children of parent p of np at (xk, yk) (shifted) with the linearisation's
 * derivatives: idx[d * np + p] the pixel in the window of child d or -1; near-edge children
 * (numbered 7p + d) also listed in near. Returns 0, or 1 when the chunk must take the general
 * path. */
static inline int kids_scalar(const struct kids *k, double xk, double yk, double xs, double xt,
                              double ys, double yt, size_t p, size_t np, int32_t *idx,
                              uint32_t *near, size_t *nn)
{
    for (int d = 0; d < 7; d++) {
        const size_t i = p * 7 + (size_t)d, at = (size_t)d * np + p;
        const double x = xk + xs * k->lds[d] + xt * k->ldt[d];
        const double y = yk + ys * k->lds[d] + yt * k->ldt[d];
        if (!(x >= 0.5 && y >= 0.5))
            return 1; /* below the chunk's bound: never expected */
        const long ix = (long)x, iy = (long)y;
        const double fx = x - (double)ix, fy = y - (double)iy;
        if ((fabs(fx - 0.5) > k->half) | (fabs(fy - 0.5) > k->half)) {
            idx[at] = -1;
            near[(*nn)++] = (uint32_t)i;
            continue;
        }
        const unsigned long ux = (unsigned long)(ix - k->WX), uy = (unsigned long)(iy - k->WY);
        if (ux < (unsigned long)k->ww && uy < (unsigned long)k->wh)
            idx[at] = (int32_t)(uy * (unsigned long)k->ww + ux);
        else if ((unsigned long)(ix - k->KXl) < (unsigned long)k->width &&
                 (unsigned long)(iy - k->KYl) < (unsigned long)k->height)
            return 1; /* outside the window yet on the raster: never expected */
        else
            idx[at] = -1;
    }
    return 0;
}

/* R2H_NO_SIMD (a compile definition) keeps the scalar code, e.g. to test it on AVX2 machines. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(R2H_NO_SIMD)
#define R2H_KIDS_AVX2 1
#include <immintrin.h>

/* The children of parents [0, n4) of np (n4 a multiple of 4), four parents at a time: their
 * model positions and derivatives (the cubic of r2h_cells_fast_chunk), then each child as
 * kids_scalar does. The same operations in the same order (multiplies and adds apart, no FMA),
 * truncation as a rounding toward zero, integer tests on exact integral doubles: the same
 * pixels, near-edge children (listed in the same order) and decisions. Returns 0, or 1 when the
 * chunk must take the general path. */
__attribute__((target("avx2"))) static int
parents_avx2(const struct kids *k, const struct r2h_cells_model *md, const double *pu,
             const double *pv, double u0, double v0, double KXd, double KYd, size_t n4, size_t np,
             int32_t *idx, uint32_t *near, size_t *nn)
{
    const double *a = md->a[0], *b = md->a[1];
    const __m256d SC = _mm256_set1_pd(md->scale), U0 = _mm256_set1_pd(u0), V0 = _mm256_set1_pd(v0);
#define B(e) _mm256_set1_pd(e)
#define ADD _mm256_add_pd
#define MUL _mm256_mul_pd
    /* coefficient broadcasts, including the scalar code's 2 * a[3] and 3 * a[6] products */
    const __m256d A0 = B(a[0]), A1 = B(a[1]), A2 = B(a[2]), A3 = B(a[3]), A4 = B(a[4]),
                  A5 = B(a[5]), A6 = B(a[6]), A7 = B(a[7]), A8 = B(a[8]), A9 = B(a[9]);
    const __m256d B0 = B(b[0]), B1 = B(b[1]), B2 = B(b[2]), B3 = B(b[3]), B4 = B(b[4]),
                  B5 = B(b[5]), B6 = B(b[6]), B7 = B(b[7]), B8 = B(b[8]), B9 = B(b[9]);
    const __m256d A3x2 = B(2 * a[3]), A6x3 = B(3 * a[6]), A7x2 = B(2 * a[7]), A5x2 = B(2 * a[5]),
                  A8x2 = B(2 * a[8]), A9x3 = B(3 * a[9]);
    const __m256d B3x2 = B(2 * b[3]), B6x3 = B(3 * b[6]), B7x2 = B(2 * b[7]), B5x2 = B(2 * b[5]),
                  B8x2 = B(2 * b[8]), B9x3 = B(3 * b[9]);
    const __m256d KX = B(KXd), KY = B(KYd);
    const __m256d P5 = B(0.5), H = B(k->half), M1 = B(-1.0), Z = _mm256_setzero_pd();
    const __m256d ABS = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d WX = B((double)k->WX), WY = B((double)k->WY);
    const __m256d WW = B((double)k->ww), WH = B((double)k->wh);
    const __m256d RX = B((double)k->KXl), RY = B((double)k->KYl);
    const __m256d RW = B((double)k->width), RH = B((double)k->height);
    for (size_t p = 0; p < n4; p += 4) {
        const __m256d su = MUL(ADD(_mm256_loadu_pd(pu + p), U0), SC);
        const __m256d tv = MUL(ADD(_mm256_loadu_pd(pv + p), V0), SC);
        /* x0 = a0 + su*(a1 + su*((a3 + su*a6) + tv*a7)) + tv*((a2 + su*a4) + tv*((a5 + su*a8) +
         * tv*a9)) */
        const __m256d x0 = ADD(
            ADD(A0, MUL(su, ADD(A1, MUL(su, ADD(ADD(A3, MUL(su, A6)), MUL(tv, A7)))))),
            MUL(tv, ADD(ADD(A2, MUL(su, A4)), MUL(tv, ADD(ADD(A5, MUL(su, A8)), MUL(tv, A9))))));
        const __m256d y0 = ADD(
            ADD(B0, MUL(su, ADD(B1, MUL(su, ADD(ADD(B3, MUL(su, B6)), MUL(tv, B7)))))),
            MUL(tv, ADD(ADD(B2, MUL(su, B4)), MUL(tv, ADD(ADD(B5, MUL(su, B8)), MUL(tv, B9))))));
        /* xs = a1 + 2a3*su + a4*tv + 3a6*su*su + 2a7*su*tv + a8*tv*tv, left to right */
        const __m256d xs =
            ADD(ADD(ADD(ADD(ADD(A1, MUL(A3x2, su)), MUL(A4, tv)), MUL(MUL(A6x3, su), su)),
                    MUL(MUL(A7x2, su), tv)),
                MUL(MUL(A8, tv), tv));
        const __m256d xt =
            ADD(ADD(ADD(ADD(ADD(A2, MUL(A4, su)), MUL(A5x2, tv)), MUL(MUL(A7, su), su)),
                    MUL(MUL(A8x2, su), tv)),
                MUL(MUL(A9x3, tv), tv));
        const __m256d ys =
            ADD(ADD(ADD(ADD(ADD(B1, MUL(B3x2, su)), MUL(B4, tv)), MUL(MUL(B6x3, su), su)),
                    MUL(MUL(B7x2, su), tv)),
                MUL(MUL(B8, tv), tv));
        const __m256d yt =
            ADD(ADD(ADD(ADD(ADD(B2, MUL(B4, su)), MUL(B5x2, tv)), MUL(MUL(B7, su), su)),
                    MUL(MUL(B8x2, su), tv)),
                MUL(MUL(B9x3, tv), tv));
        const __m256d xk = ADD(x0, KX), yk = ADD(y0, KY);
        int nearm[4] = {0, 0, 0, 0};
        for (int d = 0; d < 7; d++) {
            const __m256d LS = B(k->lds[d]), LT = B(k->ldt[d]);
            const __m256d x = ADD(ADD(xk, MUL(xs, LS)), MUL(xt, LT));
            const __m256d y = ADD(ADD(yk, MUL(ys, LS)), MUL(yt, LT));
            const int ge = _mm256_movemask_pd(
                _mm256_and_pd(_mm256_cmp_pd(x, P5, _CMP_GE_OQ), _mm256_cmp_pd(y, P5, _CMP_GE_OQ)));
            if (ge != 0xf)
                return 1; /* below the chunk's bound: never expected */
            const __m256d tx = _mm256_round_pd(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256d ty = _mm256_round_pd(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256d ax = _mm256_and_pd(_mm256_sub_pd(_mm256_sub_pd(x, tx), P5), ABS);
            const __m256d ay = _mm256_and_pd(_mm256_sub_pd(_mm256_sub_pd(y, ty), P5), ABS);
            const __m256d nv =
                _mm256_or_pd(_mm256_cmp_pd(ax, H, _CMP_GT_OQ), _mm256_cmp_pd(ay, H, _CMP_GT_OQ));
            const int nm = _mm256_movemask_pd(nv);
            const __m256d ux = _mm256_sub_pd(tx, WX), uy = _mm256_sub_pd(ty, WY);
            const __m256d inwv = _mm256_and_pd(
                _mm256_and_pd(_mm256_cmp_pd(ux, Z, _CMP_GE_OQ), _mm256_cmp_pd(ux, WW, _CMP_LT_OQ)),
                _mm256_and_pd(_mm256_cmp_pd(uy, Z, _CMP_GE_OQ), _mm256_cmp_pd(uy, WH, _CMP_LT_OQ)));
            const int inw = _mm256_movemask_pd(inwv);
            if (~(nm | inw) & 0xf) { /* outside the window: on the raster? */
                const __m256d rx = _mm256_sub_pd(tx, RX), ry = _mm256_sub_pd(ty, RY);
                const int onr = _mm256_movemask_pd(
                    _mm256_and_pd(_mm256_and_pd(_mm256_cmp_pd(rx, Z, _CMP_GE_OQ),
                                                _mm256_cmp_pd(rx, RW, _CMP_LT_OQ)),
                                  _mm256_and_pd(_mm256_cmp_pd(ry, Z, _CMP_GE_OQ),
                                                _mm256_cmp_pd(ry, RH, _CMP_LT_OQ))));
                if (~(nm | inw) & onr & 0xf)
                    return 1; /* outside the window yet on the raster: never expected */
            }
            /* In-window positions are integral and below 2^31: exact in double. */
            const __m256d lin = _mm256_blendv_pd(M1, ADD(MUL(uy, WW), ux), inwv);
            const __m128i oi = _mm256_cvttpd_epi32(_mm256_blendv_pd(lin, M1, nv));
            _mm_storeu_si128((__m128i *)(void *)(idx + (size_t)d * np + p), oi);
            if (__builtin_expect(nm != 0, 0))
                for (int l = 0; l < 4; l++)
                    nearm[l] |= ((nm >> l) & 1) << d;
        }
        for (int l = 0; l < 4; l++)
            for (int m = nearm[l]; m; m &= m - 1)
                near[(*nn)++] =
                    (uint32_t)((p + (size_t)l) * 7 + (size_t)__builtin_ctz((unsigned)m));
    }
#undef B
#undef ADD
#undef MUL
    return 0;
}
#endif

/* The rows of a sub-chunk's np * 7 placed cells (child d of parent p: pcells[p] | d << cshift,
 * pixel idx[d * np + p]) whose pixel is valid, appended at out_cells/pix + m without a branch per
 * cell (a row is written at m each time, m advances when it is valid; m <= 7p + d keeps every
 * write within the chunk's buffers). Returns the new m. */
#define COMPACT(T)                                                                                 \
    do {                                                                                           \
        const T *restrict src = (const T *)(const void *)w->wvals;                                 \
        const uint8_t *restrict valid = w->wvalid;                                                 \
        const uint64_t *restrict pc = w->pcells;                                                   \
        T *restrict dst = (T *)(void *)w->pix;                                                     \
        uint64_t *restrict oc = w->out_cells;                                                      \
        for (size_t p = 0; p < np; p++) {                                                          \
            const uint64_t base = pc[p];                                                           \
            for (int d = 0; d < 7; d++) {                                                          \
                const int32_t o = idx[(size_t)d * np + p];                                         \
                const size_t q = o < 0 ? 0 : (size_t)o;                                            \
                oc[m] = base | ((uint64_t)d << cshift);                                            \
                dst[m] = src[q];                                                                   \
                m += (size_t)(o >= 0) & (size_t)(valid[q] != 0);                                   \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static size_t compact(struct cworker *w, const int32_t *idx, size_t np, int cshift, size_t ps,
                      size_t m)
{
    switch (ps) {
    case 1: COMPACT(uint8_t); return m;
    case 2: COMPACT(uint16_t); return m;
    case 4: COMPACT(uint32_t); return m;
    case 8: COMPACT(uint64_t); return m;
    default: break;
    }
    for (size_t i = 0; i < np * 7; i++) {
        const int32_t o = idx[(i % 7) * np + i / 7];
        if (o < 0 || !w->wvalid[o])
            continue;
        w->out_cells[m] = w->pcells[i / 7] | ((uint64_t)(i % 7) << cshift);
        put_pixel(w->pix + m * ps, w->wvals + (size_t)o * ps, ps);
        m++;
    }
    return m;
}

/* The fast path of a chunk (nearest, the model trusted for the whole chunk): a window that
 * provably holds every descendant's centre (the model's range over the box of their positions,
 * widened by a pixel) is read first; then its sub-chunks (7^2 of them) one by one, each
 * enumerated only when its own part of the window has a valid pixel. Returns 1 with the chunk's
 * rows in out_cells/pix (w->nout), 0 to take the general path, -1 on a read error (msg). */
int r2h_cells_fast_chunk(struct cworker *w, uint64_t chunk, int K, char *msg, size_t msglen,
                         enum r2h_status *rst)
{
    struct cscan *s = w->scan;
    const struct r2h_raster_info *in = s->in;
    size_t p7 = 1;
    for (int i = 0; i < K; i++)
        p7 *= 7;
    if (s->ks != 1 || s->o->exact || !s->model_ok || K < 3 || !r2h_index_planar(chunk))
        return 0;
    struct r2h_cells_model md;
    double margin;
    if (!r2h_cells_fit(w, chunk, 0, p7, 0, 0, &md, &margin))
        return 0;
    w->st.modelled_chunks++;
    double lo[2], hi[2];
    const double sc = md.scale;
    r2h_cells_model_range(&md, 0, 0, s->umax_from[0] * sc, s->vmax_from[0] * sc, lo, hi);
    const double clo[2] = {lo[0], lo[1]};
    /* Across the raster's seam in longitude: a column c < 0 is also column c + period, on the
     * raster unless that is east of it; a column >= period is on the raster again. */
    if (s->period > 0 && ((lo[0] < 0 && lo[0] + s->period < in->width) || hi[0] >= s->period))
        return 0;
    if (!(hi[0] >= 0 && hi[1] >= 0 && lo[0] < in->width && lo[1] < in->height &&
          hi[0] - lo[0] < 1e9 && hi[1] - lo[1] < 1e9)) {
        w->nout = 0;
        w->st.cells += p7;
        return 1; /* nothing of the chunk is on the raster */
    }
    const long wx = lo[0] < 0 ? 0 : ifloor(lo[0]), wy = lo[1] < 0 ? 0 : ifloor(lo[1]);
    const long wx1 = hi[0] >= in->width ? in->width - 1 : ifloor(hi[0]);
    const long wy1 = hi[1] >= in->height ? in->height - 1 : ifloor(hi[1]);
    const long ww = wx1 - wx + 1, wh = wy1 - wy + 1;
    if ((size_t)ww * (size_t)wh > w->wcap)
        return 0;
    double t0 = r2h_now();
    enum r2h_status st = r2h_raster_read(w->raster, (int)wx, (int)wy, (int)ww, (int)wh, w->wvals,
                                         w->wvalid, msg, msglen);
    w->st.phase[R2H_CELLS_READ] += r2h_now() - t0;
    if (st != R2H_OK) {
        *rst = st;
        return -1;
    }
    const int L = K >= 4 ? 2 : 1;
    size_t nsub = 1;
    for (int i = 0; i < L; i++)
        nsub *= 7;
    const size_t sub = p7 / nsub;
    const size_t ps = in->pixel_size;
    const int res = s->o->resolution;
    const double *a = md.a[0], *b = md.a[1];
    int32_t *idx = w->c0;
    /* The last level's steps, and the linearisation's error bound: the second and third order
     * Taylor terms of the cubic over the chunk's box, at steps of at most (dS, dT). */
    const int cshift = (15 - res) * 3;
    double lds[7], ldt[7], dS = 0, dT = 0;
    for (int d = 0; d < 7; d++) {
        lds[d] = s->off[K - 1][d][0] * sc;
        ldt[d] = s->off[K - 1][d][1] * sc;
        dS = fmax(dS, fabs(lds[d]));
        dT = fmax(dT, fabs(ldt[d]));
    }
    double lin = 0;
    {
        const double S = s->umax_from[0] * sc, T = s->vmax_from[0] * sc;
        for (int o = 0; o < 2; o++) {
            const double *q = md.a[o];
            const double c3 = fabs(q[3]) + 3 * fabs(q[6]) * S + fabs(q[7]) * T;
            const double c4 = fabs(q[4]) + 2 * fabs(q[7]) * S + 2 * fabs(q[8]) * T;
            const double c5 = fabs(q[5]) + fabs(q[8]) * S + 3 * fabs(q[9]) * T;
            const double e = c3 * dS * dS + c4 * dS * dT + c5 * dT * dT +
                             fabs(q[6]) * dS * dS * dS + fabs(q[7]) * dS * dS * dT +
                             fabs(q[8]) * dS * dT * dT + fabs(q[9]) * dT * dT * dT;
            lin = fmax(lin, e);
        }
    }
    const double lmargin = margin + 2 * lin;
    if (!(lmargin < 0.01))
        return 0;
    const double half = 0.5 - lmargin; /* |fraction - 0.5| beyond this: near a pixel edge */
    const long KXl = 1 - ifloor(clo[0]), KYl = 1 - ifloor(clo[1]);
    const double KX = (double)KXl, KY = (double)KYl;
    const long WX = wx + KXl, WY = wy + KYl; /* the window in shifted columns and rows */
    struct kids kd = {.half = half,
                      .WX = WX,
                      .WY = WY,
                      .KXl = KXl,
                      .KYl = KYl,
                      .ww = ww,
                      .wh = wh,
                      .width = in->width,
                      .height = in->height};
    for (int d = 0; d < 7; d++) {
        kd.lds[d] = lds[d];
        kd.ldt[d] = ldt[d];
    }
#ifdef R2H_KIDS_AVX2
    const int avx2 = __builtin_cpu_supports("avx2");
#endif
    size_t m = 0;
    for (size_t si = 0; si < nsub; si++) {
        /* The sub-chunk: its cell, the position of its centre, the box of its descendants. */
        double u0, v0;
        const uint64_t first = r2h_index_descendant(chunk, res, si * sub, s->off, &u0, &v0);
        const uint64_t subcell = r2h_index_parent(first, res - K + L);
        r2h_cells_model_range(&md, u0 * sc, v0 * sc, s->umax_from[L] * sc, s->vmax_from[L] * sc, lo,
                              hi);
        const long sx0 = lo[0] < wx ? wx : ifloor(lo[0]), sy0 = lo[1] < wy ? wy : ifloor(lo[1]);
        const long sx1 = hi[0] >= wx1 ? wx1 : ifloor(hi[0]),
                   sy1 = hi[1] >= wy1 ? wy1 : ifloor(hi[1]);
        int any = 0;
        for (long y = sy0; y <= sy1 && !any; y++) {
            const uint8_t *vr = w->wvalid + (size_t)(y - wy) * (size_t)ww;
            for (long x = sx0; x <= sx1; x++)
                if (vr[x - wx]) {
                    any = 1;
                    break;
                }
        }
        w->st.cells += sub;
        if (!any)
            continue;
        /* The sub-chunk's cells one level up (parents), then each parent's 7 children by the
         * model's linearisation at the parent (error bounded into the margin). */
        const size_t np = r2h_index_descendants_with(
            subcell, res - 1, (const double(*)[7][2])s->off + L, w->pcells, w->pu, w->pv);
        size_t nn = 0;
        /* Each parent's first child (digit 0): child d is that | d << cshift. */
        for (size_t p = 0; p < np; p++)
            w->pcells[p] = (w->pcells[p] & ~(((uint64_t)0xf << 52) | ((uint64_t)7 << cshift))) |
                           ((uint64_t)res << 52);
        size_t p0 = 0;
#ifdef R2H_KIDS_AVX2
        if (avx2) {
            p0 = np & ~(size_t)3;
            if (parents_avx2(&kd, &md, w->pu, w->pv, u0, v0, KX, KY, p0, np, idx, w->near, &nn))
                return 0;
        }
#endif
        for (size_t p = p0; p < np; p++) {
            const double su = (w->pu[p] + u0) * sc, tv = (w->pv[p] + v0) * sc;
            const double x0 = a[0] + su * (a[1] + su * (a[3] + su * a[6] + tv * a[7])) +
                              tv * (a[2] + su * a[4] + tv * (a[5] + su * a[8] + tv * a[9]));
            const double y0 = b[0] + su * (b[1] + su * (b[3] + su * b[6] + tv * b[7])) +
                              tv * (b[2] + su * b[4] + tv * (b[5] + su * b[8] + tv * b[9]));
            const double xs = a[1] + 2 * a[3] * su + a[4] * tv + 3 * a[6] * su * su +
                              2 * a[7] * su * tv + a[8] * tv * tv;
            const double xt = a[2] + a[4] * su + 2 * a[5] * tv + a[7] * su * su +
                              2 * a[8] * su * tv + 3 * a[9] * tv * tv;
            const double ys = b[1] + 2 * b[3] * su + b[4] * tv + 3 * b[6] * su * su +
                              2 * b[7] * su * tv + b[8] * tv * tv;
            const double yt = b[2] + b[4] * su + 2 * b[5] * tv + b[7] * su * su +
                              2 * b[8] * su * tv + 3 * b[9] * tv * tv;
            /* Positions are shifted by (KX, KY) >= 1 - the chunk's lowest column and row, so
             * that they are >= 1 and truncation is floor. */
            const double xk = x0 + KX, yk = y0 + KY;
            if (kids_scalar(&kd, xk, yk, xs, xt, ys, yt, p, np, idx, w->near, &nn))
                return 0;
        }
        if (nn) {
            w->st.exact += nn;
            for (size_t j = 0; j < nn; j++) {
                const size_t i = w->near[j];
                w->cells[i] = w->pcells[i / 7] | ((uint64_t)(i % 7) << cshift);
            }
            if (r2h_cells_exact_positions(w, w->near, nn) != R2H_OK)
                return 0;
            for (size_t j = 0; j < nn; j++) {
                const size_t i = w->near[j];
                if (!w->ok[i] || !(w->px[i] > -2 && w->py[i] > -2 && w->px[i] < in->width + 2.0 &&
                                   w->py[i] < in->height + 2.0))
                    continue;
                const long ix = ifloor(w->px[i]), iy = ifloor(w->py[i]);
                if (ix >= wx && ix <= wx1 && iy >= wy && iy <= wy1)
                    idx[(i % 7) * np + i / 7] = (int32_t)((iy - wy) * ww + (ix - wx));
                else if (ix >= 0 && iy >= 0 && ix < in->width && iy < in->height)
                    return 0;
            }
        }
        m = compact(w, idx, np, cshift, ps, m);
    }
    w->st.rows += m;
    w->nout = m;
    return 1;
}
