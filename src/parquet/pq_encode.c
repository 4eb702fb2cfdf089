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
#define DEFINE_HYBRID(fname, T)                                                                    \
    static enum r2h_status fname(struct r2h_buf *out, const T *v, size_t n, int w)                 \
    {                                                                                              \
        uint64_t tmp[HYBRID_MAX_GROUPS * 8];                                                       \
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
                for (size_t k = 0; k < 8; k++, m++)                                                \
                    tmp[m] = i + m < n ? (uint64_t)v[i + m] : 0;                                   \
                g++;                                                                               \
            } while (i + m < n && g < HYBRID_MAX_GROUPS &&                                         \
                     !(i + m + 8 <= n && v[i + m] == v[i + m + 7] && run_at(v + i + m)));          \
            if (r2h_buf_reserve(out, 10 + g * (size_t)w) != R2H_OK)                                \
                return R2H_ERR_NOMEM;                                                              \
            uint8_t *d = out->data + out->len;                                                     \
            d += put_uvarint(d, (uint64_t)(g << 1) | 1);                                           \
            d = pack_into(d, tmp, m, w);                                                           \
            out->len = (size_t)(d - out->data);                                                    \
            i += m;                                                                                \
        }                                                                                          \
        return R2H_OK;                                                                             \
    }

/* True if the 8 values at p are equal (an RLE run starts here). */
#define run_at(p) run_at_generic((p)[0], (p)[1], (p)[2], (p)[3], (p)[4], (p)[5], (p)[6])
static int run_at_generic(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f,
                          uint64_t g)
{
    return a == b && a == c && a == d && a == e && a == f && a == g;
}

DEFINE_HYBRID(hybrid_u32, uint32_t)
DEFINE_HYBRID(hybrid_u8, uint8_t)

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

/* One block of up to 128 deltas (already relative to min_delta by the caller). */
static uint8_t *delta_block(uint8_t *d, const uint64_t *stored, size_t nd, int64_t min_delta,
                            int *max_width)
{
    uint64_t pad[DELTA_MINI];
    int widths[DELTA_MINIBLOCKS] = {0, 0, 0, 0};
    d += put_uvarint(d, zigzag64(min_delta));
    for (size_t m = 0; m < DELTA_MINIBLOCKS; m++) {
        uint64_t acc = 0;
        for (size_t j = m * DELTA_MINI; j < (m + 1) * DELTA_MINI && j < nd; j++)
            acc |= stored[j];
        widths[m] = r2h_pq_bit_width(acc);
        *max_width = widths[m] > *max_width ? widths[m] : *max_width;
        *d++ = (uint8_t)widths[m];
    }
    for (size_t m = 0; m < DELTA_MINIBLOCKS && m * DELTA_MINI < nd; m++) {
        size_t cnt = nd - m * DELTA_MINI;
        if (cnt >= DELTA_MINI) {
            d = pack_into(d, stored + m * DELTA_MINI, DELTA_MINI, widths[m]);
        } else {
            memset(pad, 0, sizeof pad);
            memcpy(pad, stored + m * DELTA_MINI, cnt * sizeof *pad);
            d = pack_into(d, pad, DELTA_MINI, widths[m]);
        }
    }
    return d;
}

enum r2h_status r2h_pq_delta_encode(struct r2h_buf *out, const void *v, size_t n, int is32,
                                    int *max_width)
{
    const int32_t *v32 = v;
    const int64_t *v64 = v;
    uint64_t stored[DELTA_BLOCK];
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
        if (is32) {
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
        d = delta_block(d, stored, nd, min_delta, max_width);
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
