/* fast_model.h - internal to the fast index path: face frames, certified locate, learned table. */
#ifndef R2H_FAST_MODEL_H
#define R2H_FAST_MODEL_H

#include <math.h>
#include <stdint.h>

#define R2H_FAST_NFACE 20
#define R2H_FAST_NRES 16
#define R2H_FAST_FACE_GAP 1e-12 /* dot-product margin between the closest and next face */

/* Per-resolution frame: hex2d x of unit vector v on face f is (v . ex[f]) / (v . c[f]). */
struct r2h_fast_frame {
    double ex[R2H_FAST_NFACE][3];
    double ey[R2H_FAST_NFACE][3];
    double err;      /* bound on |reference hex2d - ours| in hex units (see the design doc) */
    double gap;      /* required margin of squared hex distances between best and next hex */
    double sign_min; /* |x| and |y| must be at least this (reference folds on their signs) */
    double near2;    /* squared hex radius below which the reference is ill-conditioned */
};

struct r2h_fast_model {
    int ok;        /* 0: initialisation failed, every point takes the reference path */
    double k_deg;  /* degsToRads(1.0): lat * k_deg is bit-identical to degsToRads(lat) */
    double in_cos; /* v . c[f] >= in_cos: inside f's inscribed circle, f is the closest face */
    double c[R2H_FAST_NFACE][3];
    /* c[f] - c[g] for the 9 faces g sharing a vertex with f: v in f's face (and f the closest
     * face with margin) when v . nb[f][q] >= R2H_FAST_FACE_GAP for all q. */
    double nb[R2H_FAST_NFACE][9][3];
    struct r2h_fast_frame frame[R2H_FAST_NRES];
};

/* The certified position of a point: face and lattice coordinates, then its digits. */
struct r2h_fast_key {
    int face, i, j;  /* ij (k = 0) coordinates on face's grid at the resolution */
    int k0, lead;    /* res-0 ijk as i*9+j*3+k, leading non-zero digit */
    uint64_t digits; /* our digit r at bits 3*(15-r), 7 for r > res */
};

/* Ancestors of the last key indexed (per caller, not shared between threads). */
struct r2h_fast_chain {
    int face;           /* -1: empty */
    int ai[16], aj[16]; /* ij of the ancestor at each resolution */
    uint64_t digits;
};

enum { R2H_FAST_FALLBACK = 0, R2H_FAST_OK = 1, R2H_FAST_LEARN = 2 };

extern struct r2h_fast_model r2h_fast_model_g;

/* Initialises the process-wide model once (thread-safe); check r2h_fast_model_g.ok after. */
void r2h_fast_model_init(void);

/* Closest face by dot product; returns 0 when the runner-up is within the margin. */
int r2h_fast_closest_face(const double v[3], int *face, double *dot);

/* Digits, base cell and rotation of a certified key: R2H_FAST_OK with *cell set, LEARN when
 * the table lacks the entry (call the reference, then r2h_fast_learn), or FALLBACK. */
int r2h_fast_cell_of(int res, struct r2h_fast_key *key, struct r2h_fast_chain *ch, uint64_t *cell);

/* Records the reference cell of a key that r2h_fast_cell_of answered LEARN for. */
void r2h_fast_learn(int res, const struct r2h_fast_key *key, uint64_t ref);

/* Cell from base cell, rotation t (60 deg ccw steps) and our packed digits. */
uint64_t r2h_fast_make_cell(int res, int bc, int t, uint64_t digits);

/* r2h_fast_locate with face f fixed on n points (n a multiple of 4, unit vectors given by
 * components): ok[k] = 1 and (ci[k], cj[k]) where certified, 0 where the caller must use
 * r2h_fast_locate. SIMD where the CPU has it. */
void r2h_fast_locate_block(const struct r2h_fast_frame *fr, int f, const double *vx,
                           const double *vy, const double *vz, int n, int *ci, int *cj,
                           uint8_t *ok);

/* Certifies the face and hex of unit vector v (as the reference computes it); *hint is the
 * face to try first and is updated. Returns 1 and fills key->face/i/j when the reference
 * provably computes the same face and hex, else 0. */
static inline int r2h_fast_locate(const struct r2h_fast_frame *fr, const double v[3], int *hint,
                                  struct r2h_fast_key *key)
{
    const struct r2h_fast_model *m = &r2h_fast_model_g;
    int f = *hint;
    double d = v[0] * m->c[f][0] + v[1] * m->c[f][1] + v[2] * m->c[f][2];
    if (!(d >= m->in_cos)) {
        if (!r2h_fast_closest_face(v, &f, &d) || !(d > 0.5))
            return 0;
        *hint = f;
    }
    const double inv = 1.0 / d;
    const double x = (v[0] * fr->ex[f][0] + v[1] * fr->ex[f][1] + v[2] * fr->ex[f][2]) * inv;
    const double y = (v[0] * fr->ey[f][0] + v[1] * fr->ey[f][1] + v[2] * fr->ey[f][2]) * inv;
    if (!(x * x + y * y >= fr->near2) || fabs(x) < fr->sign_min || fabs(y) < fr->sign_min)
        return 0;
    /* ij lattice coordinates: x = u - w/2, y = w sqrt(3)/2. */
    const double w = y * 1.1547005383792515290;
    const double u = x + 0.5 * w;
    if (!(fabs(u) < 1e9 && fabs(w) < 1e9))
        return 0;
    /* floor without a libm call (no SSE4.1 in the baseline ISA) */
    int iu = (int)u, iw = (int)w;
    iu -= u < iu;
    iw -= w < iw;
    const double r1 = u - iu, r2 = w - iw;
    /* Squared hex distances to the rhombus corners minus that to (0,0); the nearest lattice
     * point of any point in the rhombus is one of its corners. Certify with the smallest gap
     * between the best corner and the others. */
    const double e1 = 1.0 - 2.0 * r1 + r2, e2 = 1.0 + r1 - 2.0 * r2, e3 = 1.0 - r1 - r2;
#define R2H_FAST_MIN(p, q) ((p) < (q) ? (p) : (q))
#define R2H_FAST_MAX(p, q) ((p) < (q) ? (q) : (p))
    const double lo01 = R2H_FAST_MIN(0.0, e1), hi01 = R2H_FAST_MAX(0.0, e1);
    const double lo23 = R2H_FAST_MIN(e2, e3), hi23 = R2H_FAST_MAX(e2, e3);
    const double best = R2H_FAST_MIN(lo01, lo23);
    const double second = R2H_FAST_MIN(R2H_FAST_MAX(lo01, lo23), R2H_FAST_MIN(hi01, hi23));
    if (!(second - best >= fr->gap))
        return 0;
    const int b = best == 0.0 ? 0 : best == e1 ? 1 : best == e2 ? 2 : 3;
    key->face = f;
    key->i = iu + (b & 1);
    key->j = iw + (b >> 1);
    return 1;
}

#endif
