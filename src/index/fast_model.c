/* fast_model.c - certified fast latLngToCell: face and hex from dot products, learned base-cell
 * table. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <h3/h3api.h>

#include "fast_model.h"
#include "r2h_index_fast.h"

/* Error model (docs/design/0004-fast-index.md): a bound E on the distance, in hex units, between
 * the hex2d point the reference computes and the one computed here, for points at least
 * NEAR_TAN (tangent of the angle) from their face centre. */
#define REL_ERR 1e-13     /* relative error of the hex2d position (both paths and constants) */
#define ABS_ERR_SIN 1e-14 /* tan-plane error that grows like 1/sin(r) near a face centre */
#define ABS_ERR_HEX 1e-9  /* absolute error in hex units (rounding of the hex arithmetic) */
#define NEAR_TAN 1e-2     /* closer to a face centre than this (tan r): fall back */
#define MAX_TAN 0.8       /* tan of the largest centre-to-point angle on a face (37.4 deg) */
#define FACE_GAP R2H_FAST_FACE_GAP
#define INCIRCLE_GAP 1e-9 /* cos margin inside a face's inscribed circle */

/* H3's grid constants: res-0 hex spacing on the gnomonic plane is 1/INV_RES0_U, Class III
 * grids are turned by AP7_ROT relative to Class II. */
#define INV_RES0_U 2.61803398874989588842L
#define AP7_ROT 0.333473172251832115336090755351601070065900389L

struct r2h_fast_model r2h_fast_model_g;

/* Learned (face, res-0 ijk, leading digit) -> base cell and digit rotation. */
#define ENTRY_KNOWN 0x4000u
#define ENTRY_POISON 0x8000u
static _Atomic uint16_t table[R2H_FAST_NFACE][27][7];

/* rot[t][d]: digit d turned t times 60 degrees counter-clockwise (H3 digit numbering:
 * 1 K, 2 J, 3 JK, 4 I, 5 IK, 6 IJ; ccw order K, IK, I, IJ, J, JK). */
static uint8_t rot[6][8];
static uint8_t rot2[6][64]; /* the same on two digits (6 bits) */

static pthread_once_t once = PTHREAD_ONCE_INIT;

typedef long double ld;

static void lvec(double lat, double lng, ld out[3])
{
    out[0] = cosl(lat) * cosl(lng);
    out[1] = cosl(lat) * sinl(lng);
    out[2] = sinl(lat);
}

static ld ldot(const ld a[3], const ld b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void lnormalise(ld a[3])
{
    const ld n = sqrtl(ldot(a, a));
    for (int k = 0; k < 3; k++)
        a[k] /= n;
}

static void init_rot(void)
{
    static const uint8_t next[8] = {0, 5, 3, 1, 6, 4, 2, 7};
    for (int d = 0; d < 8; d++)
        rot[0][d] = (uint8_t)d;
    for (int t = 1; t < 6; t++)
        for (int d = 0; d < 8; d++)
            rot[t][d] = next[rot[t - 1][d]];
    for (int t = 0; t < 6; t++)
        for (int d = 0; d < 64; d++)
            rot2[t][d] = (uint8_t)(rot[t][d & 7] | rot[t][d >> 3] << 3);
}

/* Icosahedron vertices (the 12 pentagon centres) and faces (mutually adjacent triples). */
static int build_icosahedron(ld pv[12][3], int tri[R2H_FAST_NFACE][3])
{
    H3Index pent[12];
    if (getPentagons(0, pent) != E_SUCCESS)
        return 0;
    for (int p = 0; p < 12; p++) {
        LatLng g;
        if (cellToLatLng(pent[p], &g) != E_SUCCESS)
            return 0;
        lvec(g.lat, g.lng, pv[p]);
    }
    /* Adjacent icosahedron vertices are 63.43 deg apart: dot = 1/sqrt(5). */
    int nf = 0;
    for (int a = 0; a < 12; a++)
        for (int b = a + 1; b < 12; b++)
            for (int c = b + 1; c < 12; c++) {
                if (fabsl(ldot(pv[a], pv[b]) - 0.4472L) > 0.01L ||
                    fabsl(ldot(pv[a], pv[c]) - 0.4472L) > 0.01L ||
                    fabsl(ldot(pv[b], pv[c]) - 0.4472L) > 0.01L)
                    continue;
                if (nf == R2H_FAST_NFACE)
                    return 0;
                tri[nf][0] = a;
                tri[nf][1] = b;
                tri[nf][2] = c;
                nf++;
            }
    return nf == R2H_FAST_NFACE;
}

/* Frame of one face: centre from H3's own base cell at the face centre (cellToLatLng returns
 * the face centre constant there), i axis towards one vertex. Returns the face's inscribed
 * circle cos (centre to edge midpoint), or -2 on failure. */
static ld build_face(ld pv[12][3], const int t[3], ld c[3], ld e1[3], ld e2[3])
{
    ld n[3];
    for (int k = 0; k < 3; k++)
        n[k] = pv[t[0]][k] + pv[t[1]][k] + pv[t[2]][k];
    lnormalise(n);
    LatLng g = {(double)asinl(n[2]), (double)atan2l(n[1], n[0])}, gc;
    H3Index bc;
    if (latLngToCell(&g, 0, &bc) != E_SUCCESS || cellToLatLng(bc, &gc) != E_SUCCESS)
        return -2;
    lvec(gc.lat, gc.lng, c);
    ld diff = 0;
    for (int k = 0; k < 3; k++)
        diff += fabsl(c[k] - n[k]);
    if (diff > 1e-9L)
        return -2;
    const ld pc = ldot(pv[t[0]], c);
    for (int k = 0; k < 3; k++)
        e1[k] = pv[t[0]][k] - pc * c[k];
    lnormalise(e1);
    e2[0] = c[1] * e1[2] - c[2] * e1[1];
    e2[1] = c[2] * e1[0] - c[0] * e1[2];
    e2[2] = c[0] * e1[1] - c[1] * e1[0];
    ld in = 2;
    for (int a = 0; a < 3; a++) {
        ld m[3];
        for (int k = 0; k < 3; k++)
            m[k] = pv[t[a]][k] + pv[t[(a + 1) % 3]][k];
        lnormalise(m);
        in = fminl(in, ldot(m, c));
    }
    return in;
}

/* Bisector normals of each face with the 9 faces that share a vertex with it. A point on the
 * positive side of the 3 edge neighbours' planes is inside f's spherical triangle, a positive
 * combination of its vertices V; for a face h sharing no vertex, v . (c_f - c_h) is then at
 * least min over V of V . (c_f - c_h), checked here to be large. */
static int build_neighbours(ld pv[12][3], int tri[R2H_FAST_NFACE][3], ld fc[R2H_FAST_NFACE][3])
{
    struct r2h_fast_model *m = &r2h_fast_model_g;
    for (int f = 0; f < R2H_FAST_NFACE; f++) {
        int nq = 0;
        for (int h = 0; h < R2H_FAST_NFACE; h++) {
            if (h == f)
                continue;
            int shared = 0;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    shared += tri[f][a] == tri[h][b];
            if (shared) {
                if (nq == 9)
                    return 0;
                for (int k = 0; k < 3; k++)
                    m->nb[f][nq][k] = (double)(fc[f][k] - fc[h][k]);
                nq++;
                continue;
            }
            for (int a = 0; a < 3; a++) {
                ld w = 0;
                for (int k = 0; k < 3; k++)
                    w += pv[tri[f][a]][k] * (fc[f][k] - fc[h][k]);
                if (w < 0.01L)
                    return 0;
            }
        }
        if (nq != 9)
            return 0;
    }
    return 1;
}

/* Scaled, class-rotated axes of every face at every resolution, and the certification
 * margins derived from the error bound. */
static void build_frames(ld fc[R2H_FAST_NFACE][3], ld fe1[R2H_FAST_NFACE][3],
                         ld fe2[R2H_FAST_NFACE][3])
{
    struct r2h_fast_model *m = &r2h_fast_model_g;
    for (int res = 0; res < R2H_FAST_NRES; res++) {
        struct r2h_fast_frame *fr = &m->frame[res];
        const ld s = INV_RES0_U * powl(sqrtl(7.0L), res);
        const ld ca = (res & 1) ? cosl(AP7_ROT) : 1.0L, sa = (res & 1) ? sinl(AP7_ROT) : 0.0L;
        for (int f = 0; f < R2H_FAST_NFACE; f++)
            for (int k = 0; k < 3; k++) {
                fr->ex[f][k] = (double)(s * (ca * fe1[f][k] + sa * fe2[f][k]));
                fr->ey[f][k] = (double)(s * (ca * fe2[f][k] - sa * fe1[f][k]));
                m->c[f][k] = (double)fc[f][k];
            }
        const double e =
            (double)(s * (MAX_TAN * REL_ERR + ABS_ERR_SIN * (1.0 / NEAR_TAN + 1.0))) + ABS_ERR_HEX;
        fr->err = e;
        fr->gap = 7.0 * e; /* >= 2 * sqrt(3) * (2e): every bisector at least 2e away */
        fr->sign_min = 2.0 * e;
        fr->near2 = (double)(NEAR_TAN * s * NEAR_TAN * s);
    }
}

int r2h_fast_closest_face(const double v[3], int *face, double *dot)
{
    const struct r2h_fast_model *m = &r2h_fast_model_g;
    double best = -4, second = -4;
    int bf = 0;
    for (int f = 0; f < R2H_FAST_NFACE; f++) {
        const double d = v[0] * m->c[f][0] + v[1] * m->c[f][1] + v[2] * m->c[f][2];
        if (d > best) {
            second = best;
            best = d;
            bf = f;
        } else if (d > second) {
            second = d;
        }
    }
    *face = bf;
    *dot = best;
    return best - second >= FACE_GAP;
}

/* Nearest integer to x / 7 for |x| < 2^31 (never a tie for integer x, so the reference's
 * lround gives the same); the bias keeps the division unsigned (a multiply by a constant). */
static inline int rdiv7(int x)
{
    const uint64_t bias = 1ULL << 33;
    return (int)((uint64_t)(2LL * x + 7 + 14LL * (long long)bias) / 14 - bias);
}

static inline void ijk_normalise(int *i, int *j, int *k)
{
    if (*i < 0) {
        *j -= *i;
        *k -= *i;
        *i = 0;
    }
    if (*j < 0) {
        *i -= *j;
        *k -= *j;
        *j = 0;
    }
    if (*k < 0) {
        *i -= *k;
        *j -= *k;
        *k = 0;
    }
    int mn = *i < *j ? *i : *j;
    mn = mn < *k ? mn : *k;
    *i -= mn;
    *j -= mn;
    *k -= mn;
}

uint64_t r2h_fast_make_cell(int res, int bc, int t, uint64_t digits)
{
    /* digits holds our digit r at bits 3*(15-r), 7 below res; turn pairs of digits at once.
     * Rotations keep 0 and 7, so the unused digits below res stay as they are, and t = 0 (no
     * rotation) is the identity. */
    uint64_t d = digits;
    if (t != 0) {
        const int start = 3 * (15 - res) / 6 * 6; /* the pair holding digit res */
        d = digits & ((1ULL << start) - 1);
        for (int sh = start; sh < 45; sh += 6)
            d |= (uint64_t)rot2[t][(digits >> sh) & 63] << sh;
    }
    return (1ULL << 59) | ((uint64_t)res << 52) | ((uint64_t)bc << 45) | d;
}

/* Digit of a unit step in ij coordinates, indexed (di+1)*3 + (dj+1); 7 = not a unit step.
 * ijk unit vectors: K (0,0,1) = ij (-1,-1), J (0,1), JK (-1,0), I (1,0), IK (0,-1), IJ (1,1). */
static const uint8_t step_digit[9] = {1, 3, 7, 5, 0, 2, 7, 4, 6};

int r2h_fast_cell_of(int res, struct r2h_fast_key *key, struct r2h_fast_chain *ch, uint64_t *cell)
{
    /* Work in ij coordinates (k = 0), where the aperture-7 maps are linear:
     * Class III (ccw) parent p of child c: p = round((3a - b)/7, (a + 2b)/7), centre child of
     * p = (2p + q, 3q - p); Class II (cw): p = round((2a + b)/7, (3b - a)/7), centre child
     * (3p - q, p + 2q). The child minus the centre child of its parent is the digit's step.
     * ch holds the ancestors of the previous key on the same face: once ours meet them, the
     * coarser digits are the same. */
    int a = key->i, b = key->j;
    const int same = ch->face == key->face;
    uint64_t digits = same ? ch->digits : 0x1fffffffffffULL;
    int r = res;
    for (; r >= 1; r--) {
        int p, q, ca, cb;
        if (r & 1) {
            p = rdiv7(3 * a - b);
            q = rdiv7(a + 2 * b);
            ca = 2 * p + q;
            cb = 3 * q - p;
        } else {
            p = rdiv7(2 * a + b);
            q = rdiv7(3 * b - a);
            ca = 3 * p - q;
            cb = p + 2 * q;
        }
        const unsigned di = (unsigned)(a - ca + 1), dj = (unsigned)(b - cb + 1);
        const uint64_t dg = di > 2 || dj > 2 ? 7 : step_digit[di * 3 + dj];
        if (dg == 7) {
            ch->face = -1;
            return R2H_FAST_FALLBACK;
        }
        const int sh = 3 * (15 - r);
        digits = (digits & ~(7ULL << sh)) | (dg << sh);
        ch->ai[r] = a;
        ch->aj[r] = b;
        a = p;
        b = q;
        if (same && a == ch->ai[r - 1] && b == ch->aj[r - 1])
            break;
    }
    ch->ai[r > 0 ? r - 1 : 0] = a;
    ch->aj[r > 0 ? r - 1 : 0] = b;
    ch->face = key->face;
    ch->digits = digits;
    int i0 = ch->ai[0], j0 = ch->aj[0], k0 = 0;
    ijk_normalise(&i0, &j0, &k0);
    if (i0 > 2 || j0 > 2 || k0 > 2)
        return R2H_FAST_FALLBACK; /* the reference rejects these; let it say so */
    key->k0 = i0 * 9 + j0 * 3 + k0;
    key->digits = digits;
    /* Leading non-zero digit: highest non-zero 3-bit group among digits 1..res. */
    const uint64_t groups = (digits | digits >> 1 | digits >> 2) & 0x1249249249249ULL &
                            ~((1ULL << (3 * (15 - res))) - 1);
    key->lead = groups ? (int)((digits >> (63 - __builtin_clzll(groups))) & 7) : 0;
    const unsigned e =
        atomic_load_explicit(&table[key->face][key->k0][key->lead], memory_order_relaxed);
    if (e & ENTRY_POISON)
        return R2H_FAST_FALLBACK;
    if (!(e & ENTRY_KNOWN))
        return R2H_FAST_LEARN;
    *cell = r2h_fast_make_cell(res, (int)(e & 127), (int)((e >> 7) & 7), digits);
    return R2H_FAST_OK;
}

void r2h_fast_learn(int res, const struct r2h_fast_key *key, uint64_t ref)
{
    _Atomic uint16_t *slot = &table[key->face][key->k0][key->lead];
    unsigned val = ENTRY_POISON;
    if (ref && (int)((ref >> 52) & 15) == res) {
        for (int t = 0; t < 6; t++) {
            int r = 1;
            for (; r <= res; r++) {
                const int sh = 3 * (15 - r);
                if (rot[t][(key->digits >> sh) & 7] != ((ref >> sh) & 7))
                    break;
            }
            if (r > res) {
                val = ENTRY_KNOWN | ((unsigned)t << 7) | (unsigned)((ref >> 45) & 127);
                break;
            }
        }
    }
    uint16_t expected = 0;
    if (!atomic_compare_exchange_strong(slot, &expected, (uint16_t)val) && expected != val)
        atomic_fetch_or(slot, (uint16_t)ENTRY_POISON);
}

/* Teach the table from res-2 cell centres over every face (and a little beyond), indexed at
 * resolutions 0-3 (the table does not depend on the resolution, but which entries a point
 * reaches does: a leading digit of 0 beyond a face's edge only happens at resolution 0). */
static void probe_faces(ld fc[R2H_FAST_NFACE][3], ld fe1[R2H_FAST_NFACE][3],
                        ld fe2[R2H_FAST_NFACE][3])
{
    const ld s = INV_RES0_U * 7.0L;
    for (int f = 0; f < R2H_FAST_NFACE; f++)
        for (int a = -18; a <= 18; a++)
            for (int b = -18; b <= 18; b++) {
                const ld x = (a - 0.5L * b) / s, y = b * 0.86602540378443864676L / s;
                if (x * x + y * y > 0.85L * 0.85L)
                    continue;
                ld p[3];
                for (int k = 0; k < 3; k++)
                    p[k] = fc[f][k] + x * fe1[f][k] + y * fe2[f][k];
                lnormalise(p);
                const LatLng g = {(double)asinl(p[2]), (double)atan2l(p[1], p[0])};
                const double v[3] = {cos(g.lng) * cos(g.lat), sin(g.lng) * cos(g.lat), sin(g.lat)};
                for (int res = 0; res <= 3; res++) {
                    struct r2h_fast_key key;
                    struct r2h_fast_chain ch = {.face = -1};
                    uint64_t cell;
                    int hint = f;
                    if (!r2h_fast_locate(&r2h_fast_model_g.frame[res], v, &hint, &key) ||
                        r2h_fast_cell_of(res, &key, &ch, &cell) != R2H_FAST_LEARN)
                        continue;
                    H3Index h = 0;
                    if (latLngToCell(&g, res, &h) != E_SUCCESS)
                        h = 0;
                    r2h_fast_learn(res, &key, h);
                }
            }
}

static void model_init(void)
{
    struct r2h_fast_model *m = &r2h_fast_model_g;
    ld pv[12][3], fc[R2H_FAST_NFACE][3], fe1[R2H_FAST_NFACE][3], fe2[R2H_FAST_NFACE][3];
    int tri[R2H_FAST_NFACE][3];
    init_rot();
    m->k_deg = degsToRads(1.0);
    if (!build_icosahedron(pv, tri))
        return;
    ld in = 2;
    for (int f = 0; f < R2H_FAST_NFACE; f++) {
        const ld c = build_face(pv, tri[f], fc[f], fe1[f], fe2[f]);
        if (c < -1)
            return;
        in = fminl(in, c);
    }
    m->in_cos = (double)in + INCIRCLE_GAP;
    if (!build_neighbours(pv, tri, fc))
        return;
    build_frames(fc, fe1, fe2);
    m->ok = 1;
    probe_faces(fc, fe1, fe2);
}

void r2h_fast_model_init(void)
{
    pthread_once(&once, model_init);
}

void r2h_index_fast_table_stats(int *known, int *poisoned)
{
    r2h_fast_model_init();
    int kn = 0, po = 0;
    for (int f = 0; f < R2H_FAST_NFACE; f++)
        for (int k = 0; k < 27; k++)
            for (int l = 0; l < 7; l++) {
                const unsigned e = atomic_load_explicit(&table[f][k][l], memory_order_relaxed);
                kn += (e & ENTRY_KNOWN) != 0;
                po += (e & ENTRY_POISON) != 0;
            }
    *known = kn;
    *poisoned = po;
}
