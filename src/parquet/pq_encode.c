/* pq_encode.c - Parquet value encodings: bit packing, RLE/bit-packed hybrid, DELTA_BINARY_PACKED.
 */
#include <string.h>

#include "pq_internal.h"

#define HYBRID_MAX_GROUPS 63 /* keeps bit-packed run headers to one byte, as Arrow does */
#define DELTA_BLOCK 128
#define DELTA_MINIBLOCKS 4
#define DELTA_MINI (DELTA_BLOCK / DELTA_MINIBLOCKS)

int r2h_pq_bit_width(uint64_t v)
{
    return v ? 64 - __builtin_clzll(v) : 0;
}

static void store64le(uint8_t *dst, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, &v, 8);
#else
    for (int k = 0; k < 8; k++)
        dst[k] = (uint8_t)(v >> (8 * k));
#endif
}

static size_t put_uvarint(uint8_t *dst, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

static uint64_t zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Pack n values (n*w a multiple of 8) LSB-first into dst, a 64-bit accumulator at a time. */
static uint8_t *pack_into(uint8_t *dst, const uint64_t *v, size_t n, int w)
{
    uint64_t acc = 0;
    int nb = 0;
    if (w == 0)
        return dst;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = v[i];
        acc |= x << nb;
        if (nb + w >= 64) {
            store64le(dst, acc);
            dst += 8;
            acc = nb ? x >> (64 - nb) : 0;
            nb = nb + w - 64;
        } else {
            nb += w;
        }
    }
    for (int k = 0; k < nb; k += 8) {
        *dst++ = (uint8_t)acc;
        acc >>= 8;
    }
    return dst;
}

/* Pack 8 values of width W (a constant once inlined: every shift and test folds) into exactly
 * W bytes, the same bytes as pack_into. */
#define PACK8_STEP(k)                                                                              \
    do {                                                                                           \
        const uint64_t x = (uint64_t)v[k];                                                         \
        acc |= x << nb;                                                                            \
        if (nb + W >= 64) {                                                                        \
            store64le(dst, acc);                                                                   \
            dst += 8;                                                                              \
            acc = nb ? x >> (64 - nb) : 0;                                                         \
            nb = nb + W - 64;                                                                      \
        } else {                                                                                   \
            nb += W;                                                                               \
        }                                                                                          \
    } while (0)
#define DEFINE_PACK8(NAME, T)                                                                      \
    static inline __attribute__((always_inline)) uint8_t *NAME(uint8_t *dst, const T *v,           \
                                                               const int W)                        \
    {                                                                                              \
        uint64_t acc = 0;                                                                          \
        int nb = 0;                                                                                \
        PACK8_STEP(0);                                                                             \
        PACK8_STEP(1);                                                                             \
        PACK8_STEP(2);                                                                             \
        PACK8_STEP(3);                                                                             \
        PACK8_STEP(4);                                                                             \
        PACK8_STEP(5);                                                                             \
        PACK8_STEP(6);                                                                             \
        PACK8_STEP(7);                                                                             \
        for (int k = 0; k < nb; k += 8) {                                                          \
            *dst++ = (uint8_t)acc;                                                                 \
            acc >>= 8;                                                                             \
        }                                                                                          \
        return dst;                                                                                \
    }
DEFINE_PACK8(pack8_u64, uint64_t)
DEFINE_PACK8(pack8_u32, uint32_t)

/* g groups of 8 values of width w (1..64) into g * w bytes: one unrolled packer per width. */
/* clang-format off */
#define PACK_CASES(F) \
    F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15) F(16) \
    F(17) F(18) F(19) F(20) F(21) F(22) F(23) F(24) F(25) F(26) F(27) F(28) F(29) F(30) F(31) F(32)
/* clang-format on */
#define DEFINE_PACK_GROUPS(NAME, PACK8, T)                                                         \
    static uint8_t *NAME(uint8_t *dst, const T *v, size_t g, int w)                                \
    {                                                                                              \
        switch (w) {                                                                               \
        case 0: return dst; PACK_CASES(PACK_CASE_##PACK8)                                          \
        default:                                                                                   \
            for (size_t k = 0; k < g; k++)                                                         \
                dst = PACK8(dst, v + 8 * k, w);                                                    \
            return dst;                                                                            \
        }                                                                                          \
    }
#define PACK_CASE_pack8_u64(W)                                                                     \
    case W:                                                                                        \
        for (size_t k = 0; k < g; k++)                                                             \
            dst = pack8_u64(dst, v + 8 * k, W);                                                    \
        return dst;
#define PACK_CASE_pack8_u32(W)                                                                     \
    case W:                                                                                        \
        for (size_t k = 0; k < g; k++)                                                             \
            dst = pack8_u32(dst, v + 8 * k, W);                                                    \
        return dst;
DEFINE_PACK_GROUPS(pack_groups_u64, pack8_u64, uint64_t)
DEFINE_PACK_GROUPS(pack_groups_u32, pack8_u32, uint32_t)

enum r2h_status r2h_pq_bitpack(struct r2h_buf *out, const uint64_t *v, size_t n, int w)
{
    size_t bytes = n / 8 * (size_t)w;
    enum r2h_status st = r2h_buf_reserve(out, bytes + 8);
    if (st != R2H_OK)
        return st;
    pack_into(out->data + out->len, v, n, w);
    out->len += bytes;
    return R2H_OK;
}

/* Hybrid encoder over any unsigned element type; instantiated for levels (uint8_t) and
 * dictionary indices (uint32_t). Runs of >= 8 equal values become RLE runs, everything else
 * bit-packed groups of 8 (last group zero-padded; readers stop at the page's value count). */
#define DEFINE_HYBRID(fname, T, PACKG, RUN8)                                                       \
    static enum r2h_status fname(struct r2h_buf *out, const T *v, size_t n, int w)                 \
    {                                                                                              \
        size_t vbytes = (size_t)(w + 7) / 8;                                                       \
        size_t i = 0;                                                                              \
        while (i < n) {                                                                            \
            size_t run = 1;                                                                        \
            while (i + run < n && v[i + run] == v[i])                                              \
                run++;                                                                             \
            if (run >= 8 || i + run == n) { /* a run to the end is never worse as RLE */           \
                if (r2h_buf_reserve(out, 10 + vbytes) != R2H_OK)                                   \
                    return R2H_ERR_NOMEM;                                                          \
                uint8_t *d = out->data + out->len;                                                 \
                d += put_uvarint(d, (uint64_t)run << 1);                                           \
                for (size_t k = 0; k < vbytes; k++)                                                \
                    *d++ = (uint8_t)((uint64_t)v[i] >> (8 * k));                                   \
                out->len = (size_t)(d - out->data);                                                \
                i += run;                                                                          \
                continue;                                                                          \
            }                                                                                      \
            size_t g = 0, m = 0;                                                                   \
            do {                                                                                   \
                m += 8;                                                                            \
                g++;                                                                               \
            } while (i + m < n && g < HYBRID_MAX_GROUPS && !(i + m + 8 <= n && RUN8(v + i + m)));  \
            if (r2h_buf_reserve(out, 10 + g * (size_t)w) != R2H_OK)                                \
                return R2H_ERR_NOMEM;                                                              \
            uint8_t *d = out->data + out->len;                                                     \
            d += put_uvarint(d, (uint64_t)(g << 1) | 1);                                           \
            const size_t full = i + m <= n ? g : g - 1; /* groups without padding */               \
            d = PACKG(d, v + i, full, w);                                                          \
            if (full < g) {                                                                        \
                T last[8] = {0};                                                                   \
                for (size_t k = 0; i + 8 * full + k < n; k++)                                      \
                    last[k] = v[i + 8 * full + k];                                                 \
                d = PACKG(d, last, 1, w);                                                          \
            }                                                                                      \
            out->len = (size_t)(d - out->data);                                                    \
            i += m;                                                                                \
        }                                                                                          \
        return R2H_OK;                                                                             \
    }

/* Groups of 8 levels (uint8_t) through the 64-bit packer. */
static uint8_t *pack_groups_u8(uint8_t *dst, const uint8_t *v, size_t g, int w)
{
    for (size_t k = 0; k < g; k++) {
        uint64_t t[8];
        for (int j = 0; j < 8; j++)
            t[j] = v[8 * k + (size_t)j];
        dst = pack_into(dst, t, 8, w);
    }
    return dst;
}

/* True if the 8 values at p are equal (an RLE run starts here). */
static inline int run8_u8(const uint8_t *p)
{
    return p[0] == p[7] && p[0] == p[1] && p[0] == p[2] && p[0] == p[3] && p[0] == p[4] &&
           p[0] == p[5] && p[0] == p[6];
}

/* The same for dictionary indices, without a branch per value (two 4-lane compares). */
static inline int run8_u32(const uint32_t *p)
{
    typedef uint32_t v4u __attribute__((vector_size(16)));
    v4u a, b;
    memcpy(&a, p, sizeof a);
    memcpy(&b, p + 4, sizeof b);
    const v4u f = {p[0], p[0], p[0], p[0]};
    const v4u e = (v4u)((a == f) & (b == f));
    uint64_t h[2];
    memcpy(h, &e, sizeof h);
    return (h[0] & h[1]) == ~(uint64_t)0;
}

DEFINE_HYBRID(hybrid_u32, uint32_t, pack_groups_u32, run8_u32)
DEFINE_HYBRID(hybrid_u8, uint8_t, pack_groups_u8, run8_u8)

enum r2h_status r2h_pq_rle_hybrid(struct r2h_buf *out, const uint32_t *v, size_t n, int w)
{
    return hybrid_u32(out, v, n, w);
}

enum r2h_status r2h_pq_def_levels(struct r2h_buf *out, const uint8_t *def, size_t n)
{
    size_t at = out->len;
    uint8_t zero[4] = {0, 0, 0, 0};
    if (r2h_buf_append(out, zero, 4) != R2H_OK || hybrid_u8(out, def, n, 1) != R2H_OK)
        return R2H_ERR_NOMEM;
    uint32_t len = (uint32_t)(out->len - at - 4);
    for (int k = 0; k < 4; k++)
        out->data[at + (size_t)k] = (uint8_t)(len >> (8 * k));
    return R2H_OK;
}

/* One block of nd (1..128) deltas, already relative to min_delta, zero past nd; ors[m] is the OR
 * of miniblock m's values. */
static uint8_t *delta_block(uint8_t *d, const uint64_t *stored, size_t nd, int64_t min_delta,
                            const uint64_t *ors, int *max_width)
{
    int widths[DELTA_MINIBLOCKS];
    d += put_uvarint(d, zigzag64(min_delta));
    for (size_t m = 0; m < DELTA_MINIBLOCKS; m++) {
        widths[m] = r2h_pq_bit_width(ors[m]);
        *max_width = widths[m] > *max_width ? widths[m] : *max_width;
        *d++ = (uint8_t)widths[m];
    }
    for (size_t m = 0; m < DELTA_MINIBLOCKS && m * DELTA_MINI < nd; m++)
        d = pack_groups_u64(d, stored + m * DELTA_MINI, DELTA_MINI / 8, widths[m]);
    return d;
}

/* The deltas of a full block of 64-bit values: stored[j] = v[j+1] - v[j] (wrapping), their
 * minimum, then stored relative to it and each miniblock's OR. Branch-free loops the compiler
 * vectorises (cloned for AVX2, as the column statistics). */
__attribute__((target_clones("avx2", "default"),
               optimize("tree-vectorize", "vect-cost-model=dynamic"))) static int64_t
deltas64_full(const int64_t *v, uint64_t *stored, uint64_t *ors)
{
    int64_t mn = INT64_MAX;
    for (size_t j = 0; j < DELTA_BLOCK; j++) {
        const int64_t dl = (int64_t)((uint64_t)v[j + 1] - (uint64_t)v[j]);
        stored[j] = (uint64_t)dl;
        mn = dl < mn ? dl : mn;
    }
    for (size_t m = 0; m < DELTA_MINIBLOCKS; m++) {
        uint64_t acc = 0;
        for (size_t j = m * DELTA_MINI; j < (m + 1) * DELTA_MINI; j++) {
            stored[j] -= (uint64_t)mn;
            acc |= stored[j];
        }
        ors[m] = acc;
    }
    return mn;
}

/* The same for 32-bit values (wrapping in 32 bits; stored as the uint32 differences). */
__attribute__((target_clones("avx2", "default"),
               optimize("tree-vectorize", "vect-cost-model=dynamic"))) static int64_t
deltas32_full(const int32_t *v, uint64_t *stored, uint64_t *ors)
{
    int32_t dl[DELTA_BLOCK], mn = INT32_MAX;
    for (size_t j = 0; j < DELTA_BLOCK; j++) {
        dl[j] = (int32_t)((uint32_t)v[j + 1] - (uint32_t)v[j]);
        mn = dl[j] < mn ? dl[j] : mn;
    }
    for (size_t m = 0; m < DELTA_MINIBLOCKS; m++) {
        uint64_t acc = 0;
        for (size_t j = m * DELTA_MINI; j < (m + 1) * DELTA_MINI; j++) {
            stored[j] = (uint32_t)dl[j] - (uint32_t)mn;
            acc |= stored[j];
        }
        ors[m] = acc;
    }
    return mn;
}

enum r2h_status r2h_pq_delta_encode(struct r2h_buf *out, const void *v, size_t n, int is32,
                                    int *max_width)
{
    const int32_t *v32 = v;
    const int64_t *v64 = v;
    uint64_t stored[DELTA_BLOCK], ors[DELTA_MINIBLOCKS];
    /* worst case per block: varint + 4 widths + 128 * 8 bytes */
    size_t blocks = n ? (n - 1 + DELTA_BLOCK - 1) / DELTA_BLOCK : 0;
    if (r2h_buf_reserve(out, 40 + blocks * (16 + DELTA_BLOCK * 8)) != R2H_OK)
        return R2H_ERR_NOMEM;
    uint8_t *d = out->data + out->len;
    *max_width = 0;
    int64_t first = n ? (is32 ? v32[0] : v64[0]) : 0;
    d += put_uvarint(d, DELTA_BLOCK);
    d += put_uvarint(d, DELTA_MINIBLOCKS);
    d += put_uvarint(d, n);
    d += put_uvarint(d, zigzag64(first));
    for (size_t i = 1; i < n; i += DELTA_BLOCK) {
        size_t nd = n - i < DELTA_BLOCK ? n - i : DELTA_BLOCK;
        int64_t min_delta;
        if (nd == DELTA_BLOCK) {
            min_delta = is32 ? deltas32_full(v32 + i - 1, stored, ors)
                             : deltas64_full(v64 + i - 1, stored, ors);
        } else if (is32) {
            int32_t dl[DELTA_BLOCK], mn = INT32_MAX;
            for (size_t j = 0; j < nd; j++) {
                dl[j] = (int32_t)((uint32_t)v32[i + j] - (uint32_t)v32[i + j - 1]);
                mn = dl[j] < mn ? dl[j] : mn;
            }
            for (size_t j = 0; j < nd; j++)
                stored[j] = (uint32_t)dl[j] - (uint32_t)mn;
            min_delta = mn;
        } else {
            int64_t mn = INT64_MAX;
            for (size_t j = 0; j < nd; j++) {
                int64_t dl = (int64_t)((uint64_t)v64[i + j] - (uint64_t)v64[i + j - 1]);
                stored[j] = (uint64_t)dl;
                mn = dl < mn ? dl : mn;
            }
            for (size_t j = 0; j < nd; j++)
                stored[j] -= (uint64_t)mn;
            min_delta = mn;
        }
        if (nd < DELTA_BLOCK) { /* the last block: padding is zero */
            memset(stored + nd, 0, (DELTA_BLOCK - nd) * sizeof *stored);
            for (size_t m = 0; m < DELTA_MINIBLOCKS; m++) {
                uint64_t acc = 0;
                for (size_t j = m * DELTA_MINI; j < (m + 1) * DELTA_MINI; j++)
                    acc |= stored[j];
                ors[m] = acc;
            }
        }
        d = delta_block(d, stored, nd, min_delta, ors, max_width);
    }
    out->len = (size_t)(d - out->data);
    return R2H_OK;
}

enum r2h_status r2h_pq_plain_strings(struct r2h_buf *out, const uint8_t *data, const uint64_t *offs,
                                     size_t n)
{
    if (r2h_buf_reserve(out, (size_t)(offs[n] - offs[0]) + 4 * n) != R2H_OK)
        return R2H_ERR_NOMEM;
    uint8_t *d = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)(offs[i + 1] - offs[i]);
        d[0] = (uint8_t)len;
        d[1] = (uint8_t)(len >> 8);
        d[2] = (uint8_t)(len >> 16);
        d[3] = (uint8_t)(len >> 24);
        memcpy(d + 4, data + offs[i], len);
        d += 4 + len;
    }
    out->len = (size_t)(d - out->data);
    return R2H_OK;
}
