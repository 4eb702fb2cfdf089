/* fast_block.c - the certified locate of r2h_fast_locate on blocks of points, four lanes at a time.
 */
#include <stdint.h>
#include <string.h>

#include "fast_model.h"

typedef double v4d __attribute__((vector_size(32)));
typedef long long v4l __attribute__((vector_size(32)));
typedef int v4i __attribute__((vector_size(16)));

/* Lane-wise helpers as macros: they must inline into each target clone. */
#define VSET(x) ((v4d){(x), (x), (x), (x)})
#define VSEL(m, a, b) ((v4d)(((m) & (v4l)(a)) | (~(m) & (v4l)(b))))
#define VMIN(a, b) VSEL((a) < (b), (a), (b))
#define VMAX(a, b) VSEL((a) < (b), (b), (a))
#define VABS(a) ((v4d)((v4l)(a) & (v4l){INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX}))
/* Floor of lanes within +-1e9: truncate through int32, then step down where truncation went
 * up. */
#define VFLOOR(a, t)                                                                               \
    ((t) = __builtin_convertvector(__builtin_convertvector((a), v4i), v4d),                        \
     (t) - (v4d)(((a) < (t)) & (v4l)VSET(1.0)))

/* Same decisions as r2h_fast_locate with face f fixed, for n points (n a multiple of 4):
 * ok[k] = 1 and (ci[k], cj[k]) the hex where certified, ok[k] = 0 where the scalar path must
 * decide (outside f's inscribed circle, or too close to a decision boundary). */
__attribute__((target_clones("avx2", "default"))) void
r2h_fast_locate_block(const struct r2h_fast_frame *fr, int f, const double *vx, const double *vy,
                      const double *vz, int n, int *ci, int *cj, uint8_t *ok)
{
    const struct r2h_fast_model *m = &r2h_fast_model_g;
    const v4d cx = VSET(m->c[f][0]), cy = VSET(m->c[f][1]), cz = VSET(m->c[f][2]);
    const v4d xx = VSET(fr->ex[f][0]), xy = VSET(fr->ex[f][1]), xz = VSET(fr->ex[f][2]);
    const v4d yx = VSET(fr->ey[f][0]), yy = VSET(fr->ey[f][1]), yz = VSET(fr->ey[f][2]);
    const v4d in_cos = VSET(m->in_cos), near2 = VSET(fr->near2), smin = VSET(fr->sign_min);
    const v4d gap = VSET(fr->gap), lim = VSET(1e9), one = VSET(1.0), two = VSET(2.0);
    for (int k = 0; k < n; k += 4) {
        v4d px, py, pz;
        memcpy(&px, vx + k, sizeof px);
        memcpy(&py, vy + k, sizeof py);
        memcpy(&pz, vz + k, sizeof pz);
        const v4d d = px * cx + py * cy + pz * cz;
        const v4d inv = one / d;
        const v4d x = (px * xx + py * xy + pz * xz) * inv;
        const v4d y = (px * yx + py * yy + pz * yz) * inv;
        const v4d w = y * VSET(1.1547005383792515290);
        const v4d u = x + VSET(0.5) * w;
        /* Face f certified inside its inscribed circle, else by the 9 faces that touch it. */
        v4l inface = d >= in_cos;
        if (!(inface[0] & inface[1] & inface[2] & inface[3])) {
            v4l all = inface | ~inface;
            for (int q = 0; q < 9; q++)
                all &= px * VSET(m->nb[f][q][0]) + py * VSET(m->nb[f][q][1]) +
                           pz * VSET(m->nb[f][q][2]) >=
                       VSET(R2H_FAST_FACE_GAP);
            inface |= all;
        }
        v4l good = inface & (d > VSET(0.5)) & (x * x + y * y >= near2) & (VABS(x) >= smin) &
                   (VABS(y) >= smin) & (VABS(u) < lim) & (VABS(w) < lim);
        const v4d uc = VSEL(good, u, VSET(0.0)), wc = VSEL(good, w, VSET(0.0));
        v4d tu, tw;
        const v4d fu = VFLOOR(uc, tu), fw = VFLOOR(wc, tw);
        const v4d r1 = u - fu, r2 = w - fw;
        const v4d e1 = one - two * r1 + r2, e2 = one + r1 - two * r2, e3 = one - r1 - r2;
        const v4d zero = VSET(0.0);
        const v4d lo01 = VMIN(zero, e1), hi01 = VMAX(zero, e1);
        const v4d lo23 = VMIN(e2, e3), hi23 = VMAX(e2, e3);
        const v4d best = VMIN(lo01, lo23);
        const v4d second = VMIN(VMAX(lo01, lo23), VMIN(hi01, hi23));
        good &= second - best >= gap;
        /* Best corner: (1,0) for e1, (0,1) for e2, (1,1) for e3, else (0,0). */
        const v4l is0 = best == zero, is1 = ~is0 & (best == e1);
        const v4l is2 = ~is0 & ~is1 & (best == e2), is3 = ~is0 & ~is1 & ~is2;
        const v4d oi = fu + (v4d)((is1 | is3) & (v4l)one), oj = fw + (v4d)((is2 | is3) & (v4l)one);
        const v4i ii = __builtin_convertvector(VSEL(good, oi, VSET(0.0)), v4i);
        const v4i jj = __builtin_convertvector(VSEL(good, oj, VSET(0.0)), v4i);
        memcpy(ci + k, &ii, sizeof ii);
        memcpy(cj + k, &jj, sizeof jj);
        for (int q = 0; q < 4; q++)
            ok[k + q] = (uint8_t)(good[q] & 1);
    }
}
