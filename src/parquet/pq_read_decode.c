/* pq_read_decode.c - Parquet reader: value and level decoders of one page (PLAIN, RLE, DELTA). */
#include <string.h>

#include "pq_reader_internal.h"

/* Decoders return NULL or a static error detail. */

static int get_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    const uint8_t *p = *pp;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* w (0..64) bits at bit offset bit of p[0..n), LSB first; the caller checked the range. */
static uint64_t get_bits(const uint8_t *p, size_t n, uint64_t bit, int w)
{
    size_t byte = (size_t)(bit >> 3);
    int off = (int)(bit & 7);
    uint64_t v;
    if (w == 0)
        return 0;
    if (w <= 56 && byte + 8 <= n) {
        memcpy(&v, p + byte, 8);
        v >>= off;
        return v & ((UINT64_C(1) << w) - 1);
    }
    v = 0;
    for (int got = 0; got < w;) {
        int take = 8 - off < w - got ? 8 - off : w - got;
        v |= (uint64_t)((p[byte] >> off) & ((1u << take) - 1)) << got;
        got += take;
        off = 0;
        byte++;
    }
    return v;
}

/* RLE/bit-packed hybrid: n values of width w (0..32) from [p, p + len). A last bit-packed run
 * cut short by the end of the data is accepted as far as it goes. Values above max are errors
 * (definition levels: max 1). T is uint8_t (levels) or uint32_t (dictionary indices). */
#define DEFINE_HYBRID_DECODE(fname, T)                                                             \
    static const char *fname(const uint8_t *p, size_t len, int w, T *out, size_t n, uint32_t max)  \
    {                                                                                              \
        const uint8_t *end = p + len;                                                              \
        size_t i = 0, vbytes = (size_t)(w + 7) / 8;                                                \
        while (i < n) {                                                                            \
            uint64_t h;                                                                            \
            if (!get_uvarint(&p, end, &h))                                                         \
                return "RLE/bit-packed data ends early";                                           \
            if (h & 1) {                                                                           \
                uint64_t groups = h >> 1, avail = (uint64_t)(end - p);                             \
                uint64_t nbytes = w ? (groups > avail ? avail : groups * (uint64_t)w) : 0;         \
                uint64_t nv = w ? nbytes * 8 / (uint64_t)w : groups * 8;                           \
                if (nv > groups * 8)                                                               \
                    nv = groups * 8;                                                               \
                for (uint64_t k = 0; k < nv && i < n; k++, i++) {                                  \
                    uint64_t v = get_bits(p, (size_t)nbytes, k * (uint64_t)w, w);                  \
                    if (v > max)                                                                   \
                        return "RLE/bit-packed value out of range";                                \
                    out[i] = (T)v;                                                                 \
                }                                                                                  \
                p += nbytes;                                                                       \
            } else {                                                                               \
                uint64_t cnt = h >> 1, v = 0;                                                      \
                if ((size_t)(end - p) < vbytes)                                                    \
                    return "RLE/bit-packed data ends early";                                       \
                for (size_t k = 0; k < vbytes; k++)                                                \
                    v |= (uint64_t)p[k] << (8 * k);                                                \
                p += vbytes;                                                                       \
                if (v > max)                                                                       \
                    return "RLE/bit-packed value out of range";                                    \
                for (; cnt > 0 && i < n; cnt--, i++)                                               \
                    out[i] = (T)v;                                                                 \
            }                                                                                      \
        }                                                                                          \
        return NULL;                                                                               \
    }

DEFINE_HYBRID_DECODE(hybrid_u8, uint8_t)
DEFINE_HYBRID_DECODE(hybrid_u32, uint32_t)

/* DELTA_BINARY_PACKED: exactly n values (int32 wrapping in 32 bits when is32) into out. */
static const char *delta_decode(const uint8_t *p, size_t len, int is32, void *out, size_t n)
{
    const uint8_t *end = p + len;
    uint64_t bs, nmb, total, zz;
    if (!get_uvarint(&p, end, &bs) || !get_uvarint(&p, end, &nmb) ||
        !get_uvarint(&p, end, &total) || !get_uvarint(&p, end, &zz))
        return "DELTA header truncated";
    if (bs == 0 || bs % 128 || bs > (1u << 16) || nmb == 0 || bs % nmb || (bs / nmb) % 32)
        return "bad DELTA block layout";
    if (total != n)
        return "DELTA value count differs from the page's";
    uint64_t cur = (zz >> 1) ^ (uint64_t) - (int64_t)(zz & 1), vpm = bs / nmb;
    int maxw = is32 ? 32 : 64;
    size_t i = 0;
#define DELTA_STORE(v)                                                                             \
    do {                                                                                           \
        if (is32)                                                                                  \
            ((uint32_t *)out)[i++] = (uint32_t)(v);                                                \
        else                                                                                       \
            ((uint64_t *)out)[i++] = (v);                                                          \
    } while (0)
    if (n > 0)
        DELTA_STORE(cur);
    while (i < n) {
        if (!get_uvarint(&p, end, &zz) || (uint64_t)(end - p) < nmb)
            return "DELTA block truncated";
        uint64_t min_delta = (zz >> 1) ^ (uint64_t) - (int64_t)(zz & 1);
        const uint8_t *widths = p;
        p += nmb;
        for (uint64_t m = 0; m < nmb && i < n; m++) {
            int w = widths[m];
            uint64_t nbytes = vpm * (uint64_t)w / 8;
            if (w > maxw)
                return "DELTA miniblock too wide";
            if ((uint64_t)(end - p) < nbytes)
                return "DELTA miniblock truncated";
            for (uint64_t j = 0; j < vpm && i < n; j++) {
                cur += min_delta + get_bits(p, (size_t)nbytes, j * (uint64_t)w, w);
                DELTA_STORE(cur);
            }
            p += nbytes;
        }
    }
#undef DELTA_STORE
    return NULL;
}

/* See pq_reader_internal.h. */
const char *r2h_pq_decode_levels(const uint8_t *p, size_t len, uint8_t *out, size_t n)
{
    return hybrid_u8(p, len, 1, out, n, 1);
}

/* See pq_reader_internal.h. */
const char *r2h_pq_decode_values(struct r2h_pq_reader *r, const struct pq_rcol *c, int32_t enc,
                                 const uint8_t *p, size_t len, size_t m)
{
    size_t psz = c->psz;
    uint8_t *out = r->vals.data;
    switch (enc) {
    case ENC_PLAIN:
        if (c->phys == PQ_BOOLEAN) {
            if (len < (m + 7) / 8)
                return "PLAIN values truncated";
            for (size_t i = 0; i < m; i++)
                out[i] = (uint8_t)((p[i >> 3] >> (i & 7)) & 1);
        } else {
            if (len / psz < m)
                return "PLAIN values truncated";
            memcpy(out, p, m * psz);
        }
        return NULL;
    case ENC_BSS:
        if (c->phys == PQ_BOOLEAN || len / psz < m)
            return "BYTE_STREAM_SPLIT values truncated or for a boolean";
        for (size_t k = 0; k < psz; k++)
            for (size_t i = 0; i < m; i++)
                out[i * psz + k] = p[k * m + i];
        return NULL;
    case ENC_PLAIN_DICT:
    case ENC_RLE_DICT: {
        if (r->ndict == 0 && m > 0)
            return "dictionary-encoded page without a dictionary";
        if (m == 0)
            return NULL;
        if (len < 1 || p[0] > 32)
            return "bad dictionary index width";
        uint32_t *idx = (uint32_t *)(void *)r->idx.data;
        const char *why = hybrid_u32(p + 1, len - 1, p[0], idx, m, (uint32_t)(r->ndict - 1));
        if (why)
            return why;
        const uint8_t *d = r->dict.data;
        if (psz == 4)
            for (size_t i = 0; i < m; i++)
                memcpy(out + 4 * i, d + 4 * (size_t)idx[i], 4);
        else
            for (size_t i = 0; i < m; i++)
                memcpy(out + 8 * i, d + 8 * (size_t)idx[i], 8);
        return NULL;
    }
    case ENC_DELTA:
        if (c->phys != PQ_INT32 && c->phys != PQ_INT64)
            return "DELTA_BINARY_PACKED on a non-integer column";
        return delta_decode(p, len, psz == 4, out, m);
    case ENC_RLE: {
        if (c->phys != PQ_BOOLEAN)
            return "RLE values on a non-boolean column";
        if (len < 4)
            return "RLE values truncated";
        uint32_t l =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (l > len - 4)
            return "RLE values truncated";
        return hybrid_u8(p + 4, l, 1, out, m, 1);
    }
    default: return "unsupported value encoding";
    }
}
