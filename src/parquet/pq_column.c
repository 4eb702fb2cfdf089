/* pq_column.c - column buffers of a row group: value conversion, statistics, dictionary build. */
#include <math.h>
#include <string.h>

#include "pq_internal.h"

/* Validate UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). Returns 1 if valid. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

static enum r2h_status append_strings(struct r2h_pq_writer *w, struct pq_column *c,
                                      const char *const *s, const uint8_t *valid, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (valid && !valid[i])
            continue;
        if (!s[i])
            return r2h_pq_fail(w, R2H_ERR_INVALID, "column '%s': NULL string in a valid row",
                               c->name);
        size_t len = strlen(s[i]);
        if (!utf8_valid((const uint8_t *)s[i], len))
            return r2h_pq_fail(w, R2H_ERR_INVALID, "column '%s': string is not valid UTF-8",
                               c->name);
        if (len > INT32_MAX / 2)
            return r2h_pq_fail(w, R2H_ERR_FORMAT, "column '%s': string too long", c->name);
        uint64_t end = c->vals.len + len;
        if (r2h_buf_append(&c->vals, s[i], len) != R2H_OK ||
            r2h_buf_append(&c->offs, &end, sizeof end) != R2H_OK)
            return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory buffering column '%s'", c->name);
        c->nvals++;
    }
    return R2H_OK;
}

static size_t elem_size(enum r2h_pq_type t)
{
    static const size_t sz[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8, sizeof(char *)};
    return sz[t];
}

/* Copy/convert the valid values of rows [0, n) into dst; returns how many were stored. */
#define CONVERT(SRC_T, DST_T)                                                                      \
    do {                                                                                           \
        const SRC_T *src = values;                                                                 \
        DST_T *dst = (DST_T *)(void *)(c->vals.data + c->vals.len);                                \
        if (!valid) {                                                                              \
            for (size_t i = 0; i < n; i++)                                                         \
                dst[i] = (DST_T)src[i];                                                            \
            k = n;                                                                                 \
        } else {                                                                                   \
            for (size_t i = 0; i < n; i++)                                                         \
                if (valid[i])                                                                      \
                    dst[k++] = (DST_T)src[i];                                                      \
        }                                                                                          \
    } while (0)

__attribute__((target_clones("avx2", "default"), optimize("tree-vectorize"))) static size_t
append_fixed(struct pq_column *c, const void *values, const uint8_t *valid, size_t n)
{
    size_t k = 0;
    if (!valid && c->width == elem_size(c->type)) { /* bit copies */
        memcpy(c->vals.data + c->vals.len, values, n * c->width);
        return n;
    }
    switch (c->type) {
    case R2H_PQ_INT8: CONVERT(int8_t, int32_t); break;
    case R2H_PQ_UINT8: CONVERT(uint8_t, uint32_t); break; /* zero-extended */
    case R2H_PQ_INT16: CONVERT(int16_t, int32_t); break;
    case R2H_PQ_UINT16: CONVERT(uint16_t, uint32_t); break;
    case R2H_PQ_INT32:
    case R2H_PQ_UINT32:
    case R2H_PQ_FLOAT: CONVERT(uint32_t, uint32_t); break; /* bit copies */
    case R2H_PQ_INT64:
    case R2H_PQ_UINT64:
    case R2H_PQ_DOUBLE: CONVERT(uint64_t, uint64_t); break;
    case R2H_PQ_STRING: break;
    }
    return k;
}

enum r2h_status r2h_pq_column_append(struct r2h_pq_writer *w, struct pq_column *c,
                                     const struct r2h_pq_column_data *d, size_t from, size_t nrows)
{
    const uint8_t *valid = d->valid ? d->valid + from : NULL;
    const void *values = (const uint8_t *)d->values + from * elem_size(c->type);
    if (valid && !c->optional) {
        if (memchr(valid, 0, nrows))
            return r2h_pq_fail(w, R2H_ERR_INVALID, "column '%s' is REQUIRED but has a null",
                               c->name);
        valid = NULL;
    }
    if (c->optional) {
        if (r2h_buf_reserve(&c->def, nrows) != R2H_OK)
            goto out_nomem;
        uint8_t *def = c->def.data + c->def.len;
        if (!valid)
            memset(def, 1, nrows);
        else
            for (size_t i = 0; i < nrows; i++)
                def[i] = valid[i] != 0;
        c->def.len += nrows;
    }
    if (c->type == R2H_PQ_STRING)
        return append_strings(w, c, values, valid, nrows);
    if (r2h_buf_reserve(&c->vals, nrows * c->width) != R2H_OK)
        goto out_nomem;
    size_t k = append_fixed(c, values, valid, nrows);
    c->vals.len += k * c->width;
    c->nvals += k;
    return R2H_OK;
out_nomem:
    return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory buffering column '%s'", c->name);
}

/* Integer min/max and ascending check in type T's order: branch-free loops that the compiler
 * vectorises (cloned for AVX2; the cost model is opened up for this loop only). */
#define DEFINE_INT_STATS(NAME, T)                                                                  \
    __attribute__((target_clones("avx2", "default"),                                               \
                   optimize("tree-vectorize", "vect-cost-model=dynamic"))) static void             \
    NAME(const T *v, size_t n, T *omn, T *omx, int *asc)                                           \
    {                                                                                              \
        T mn = v[0], mx = v[0];                                                                    \
        unsigned desc = 0;                                                                         \
        for (size_t i = 1; i < n; i++) {                                                           \
            const T x = v[i];                                                                      \
            mn = x < mn ? x : mn;                                                                  \
            mx = x > mx ? x : mx;                                                                  \
            desc |= v[i - 1] > x;                                                                  \
        }                                                                                          \
        *omn = mn;                                                                                 \
        *omx = mx;                                                                                 \
        *asc = !desc;                                                                              \
    }
DEFINE_INT_STATS(stats_i32, int32_t)
DEFINE_INT_STATS(stats_u32, uint32_t)
DEFINE_INT_STATS(stats_i64, int64_t)
DEFINE_INT_STATS(stats_u64, uint64_t)

#define INT_STATS(T, FN)                                                                           \
    do {                                                                                           \
        T mn, mx;                                                                                  \
        FN((const T *)(const void *)c->vals.data, n, &mn, &mx, &m->sorted);                        \
        memcpy(m->min, &mn, sizeof mn);                                                            \
        memcpy(m->max, &mx, sizeof mx);                                                            \
        m->min_len = m->max_len = sizeof mn;                                                       \
        m->has_minmax = 1;                                                                         \
    } while (0)

/* Float min/max ignoring NaN; a zero min is written as -0.0 and a zero max as +0.0 so that
 * readers comparing either zero get a correct bound. All-NaN: no min/max. */
#define FLOAT_STATS(T)                                                                             \
    do {                                                                                           \
        const T *v = (const T *)(const void *)c->vals.data;                                        \
        T mn = 0, mx = 0;                                                                          \
        int any = 0, asc = 1;                                                                      \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = v[i];                                                                            \
            if (i > 0)                                                                             \
                asc &= v[i - 1] <= x;                                                              \
            if (x != x)                                                                            \
                continue;                                                                          \
            if (!any) {                                                                            \
                mn = mx = x;                                                                       \
                any = 1;                                                                           \
            }                                                                                      \
            mn = x < mn ? x : mn;                                                                  \
            mx = x > mx ? x : mx;                                                                  \
        }                                                                                          \
        if (any) {                                                                                 \
            if (mn == 0)                                                                           \
                mn = -(T)0.0;                                                                      \
            if (mx == 0)                                                                           \
                mx = (T)0.0;                                                                       \
            memcpy(m->min, &mn, sizeof mn);                                                        \
            memcpy(m->max, &mx, sizeof mx);                                                        \
            m->min_len = m->max_len = sizeof mn;                                                   \
            m->has_minmax = 1;                                                                     \
        }                                                                                          \
        m->sorted = asc;                                                                           \
    } while (0)

static int str_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    int r = memcmp(a, b, na < nb ? na : nb);
    return r ? r : (na > nb) - (na < nb);
}

static void string_stats(const struct pq_column *c, size_t n, struct pq_chunk_meta *m)
{
    const uint64_t *o = (const uint64_t *)(const void *)c->offs.data;
    size_t imin = 0, imax = 0;
    int asc = 1;
    for (size_t i = 1; i < n; i++) {
        const uint8_t *p = c->vals.data + o[i];
        size_t len = (size_t)(o[i + 1] - o[i]);
        if (str_cmp(p, len, c->vals.data + o[imin], (size_t)(o[imin + 1] - o[imin])) < 0)
            imin = i;
        if (str_cmp(p, len, c->vals.data + o[imax], (size_t)(o[imax + 1] - o[imax])) > 0)
            imax = i;
        asc &= str_cmp(c->vals.data + o[i - 1], (size_t)(o[i] - o[i - 1]), p, len) <= 0;
    }
    m->sorted = asc;
    m->min_p = c->vals.data + o[imin];
    m->min_len = (size_t)(o[imin + 1] - o[imin]);
    m->max_p = c->vals.data + o[imax];
    m->max_len = (size_t)(o[imax + 1] - o[imax]);
    m->has_minmax = m->min_len <= PQ_STRING_STATS_MAX && m->max_len <= PQ_STRING_STATS_MAX;
}

void r2h_pq_column_stats_begin(const struct pq_column *c, size_t nrows, struct pq_chunk_meta *m)
{
    m->null_count = (int64_t)(nrows - c->nvals);
    m->has_minmax = 0;
    m->sorted = 0;
    m->min_p = m->min;
    m->max_p = m->max;
    m->legacy_minmax = c->type != R2H_PQ_UINT8 && c->type != R2H_PQ_UINT16 &&
                       c->type != R2H_PQ_UINT32 && c->type != R2H_PQ_UINT64 &&
                       c->type != R2H_PQ_STRING;
}

/* Merge the statistics of rows [r0, r1) (r1 > r0) into m, for REQUIRED 64-bit integers in
 * type T's order, given those of rows [0, r0) (none when r0 is 0). */
#define ADD_STATS(T, FN)                                                                           \
    do {                                                                                           \
        const T *v = (const T *)(const void *)c->vals.data;                                        \
        T mn, mx, omn, omx;                                                                        \
        int asc;                                                                                   \
        FN(v + r0, r1 - r0, &mn, &mx, &asc);                                                       \
        if (r0 > 0) {                                                                              \
            memcpy(&omn, m->min, sizeof omn);                                                      \
            memcpy(&omx, m->max, sizeof omx);                                                      \
            mn = omn < mn ? omn : mn;                                                              \
            mx = omx > mx ? omx : mx;                                                              \
            asc = asc && m->sorted && !(v[r0 - 1] > v[r0]);                                        \
        }                                                                                          \
        memcpy(m->min, &mn, sizeof mn);                                                            \
        memcpy(m->max, &mx, sizeof mx);                                                            \
        m->min_len = m->max_len = sizeof mn;                                                       \
        m->has_minmax = 1;                                                                         \
        m->sorted = asc;                                                                           \
    } while (0)

void r2h_pq_column_stats_add(const struct pq_column *c, size_t r0, size_t r1,
                             struct pq_chunk_meta *m)
{
    if (c->type == R2H_PQ_INT64)
        ADD_STATS(int64_t, stats_i64);
    else
        ADD_STATS(uint64_t, stats_u64);
}

void r2h_pq_column_stats(const struct pq_column *c, size_t nrows, struct pq_chunk_meta *m)
{
    size_t n = c->nvals;
    r2h_pq_column_stats_begin(c, nrows, m);
    if (n == 0)
        return;
    switch (c->type) {
    case R2H_PQ_INT8:
    case R2H_PQ_INT16:
    case R2H_PQ_INT32: INT_STATS(int32_t, stats_i32); break;
    case R2H_PQ_UINT8:
    case R2H_PQ_UINT16:
    case R2H_PQ_UINT32: INT_STATS(uint32_t, stats_u32); break;
    case R2H_PQ_INT64: INT_STATS(int64_t, stats_i64); break;
    case R2H_PQ_UINT64: INT_STATS(uint64_t, stats_u64); break;
    case R2H_PQ_FLOAT: FLOAT_STATS(float); break;
    case R2H_PQ_DOUBLE: FLOAT_STATS(double); break;
    case R2H_PQ_STRING: string_stats(c, n, m); break;
    }
    if (m->null_count > 0)
        m->sorted = 0;
}

/* ---- dictionary ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return mix64(h);
}

/* Largest dictionary we build: entries bounded by the page byte limit and by 2^20. */
static size_t dict_limit(const struct pq_column *c, int automatic)
{
    size_t lim = c->width ? R2H_PQ_DICT_MAX_BYTES / c->width : (1u << 20);
    if (automatic && c->nvals / 2 < lim)
        lim = c->nvals / 2 > 0 ? c->nvals / 2 : 1; /* more distinct values than that: not worth */
    return lim;
}

/* Numeric dictionary with open addressing on the value bits; slot = index + 1, 0 empty. */
#define NUM_DICT(T)                                                                                \
    do {                                                                                           \
        const T *v = (const T *)(const void *)c->vals.data;                                        \
        T *dv = (T *)(void *)w->dict.data;                                                         \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = v[i];                                                                            \
            size_t h = (size_t)mix64((uint64_t)x) & mask;                                          \
            while (slots[h] && dv[slots[h] - 1] != x)                                              \
                h = (h + 1) & mask;                                                                \
            if (!slots[h]) {                                                                       \
                if (nd == lim)                                                                     \
                    return 0;                                                                      \
                dv[nd++] = x;                                                                      \
                slots[h] = (uint32_t)nd;                                                           \
            }                                                                                      \
            idx[i] = slots[h] - 1;                                                                 \
        }                                                                                          \
    } while (0)

static size_t string_dict(const struct pq_column *c, uint32_t *slots, size_t mask, size_t lim,
                          uint32_t *dv, uint32_t *idx)
{
    const uint64_t *o = (const uint64_t *)(const void *)c->offs.data;
    size_t nd = 0, bytes = 0;
    for (size_t i = 0; i < c->nvals; i++) {
        const uint8_t *p = c->vals.data + o[i];
        size_t len = (size_t)(o[i + 1] - o[i]);
        size_t h = (size_t)hash_bytes(p, len) & mask;
        while (slots[h]) {
            uint32_t e = dv[slots[h] - 1];
            if (o[e + 1] - o[e] == len && memcmp(c->vals.data + o[e], p, len) == 0)
                break;
            h = (h + 1) & mask;
        }
        if (!slots[h]) {
            bytes += 4 + len;
            if (nd == lim || bytes > R2H_PQ_DICT_MAX_BYTES)
                return 0;
            dv[nd++] = (uint32_t)i;
            slots[h] = (uint32_t)nd;
        }
        idx[i] = slots[h] - 1;
    }
    return nd;
}

/* Dictionary of a 4-byte integer column whose statistics (m, from r2h_pq_column_stats) span
 * fewer than 2^16 values: a direct table instead of hashing, same first-occurrence order, so the
 * same dictionary and indices. Returns (size_t)-1 when that does not apply (use the hash). */
static size_t small_range_dict(struct r2h_pq_writer *w, const struct pq_column *c,
                               const struct pq_chunk_meta *m, size_t lim, uint32_t *idx)
{
    const uint32_t *v = (const uint32_t *)(const void *)c->vals.data;
    const size_t n = c->nvals;
    uint32_t base;
    if (c->width != 4 || !m->has_minmax)
        return (size_t)-1;
    if (c->type == R2H_PQ_UINT8 || c->type == R2H_PQ_UINT16 || c->type == R2H_PQ_UINT32) {
        uint32_t lo, hi;
        memcpy(&lo, m->min, 4);
        memcpy(&hi, m->max, 4);
        if (hi - lo >= 65536u)
            return (size_t)-1;
        base = lo;
    } else if (c->type == R2H_PQ_INT8 || c->type == R2H_PQ_INT16 || c->type == R2H_PQ_INT32) {
        int32_t lo, hi;
        memcpy(&lo, m->min, 4);
        memcpy(&hi, m->max, 4);
        if ((int64_t)hi - lo >= 65536)
            return (size_t)-1;
        base = (uint32_t)lo;
    } else {
        return (size_t)-1;
    }
    if (r2h_buf_reserve(&w->hash, 65536 * 4) != R2H_OK) {
        r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory building dictionary of '%s'", c->name);
        return 0;
    }
    uint32_t *restrict slot = (uint32_t *)(void *)w->hash.data;
    uint32_t *restrict dv = (uint32_t *)(void *)w->dict.data;
    uint32_t *restrict ix = idx;
    const uint32_t *restrict vv = v;
    memset(slot, 0, 65536 * 4);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        const uint32_t k = vv[i] - base; /* < 65536 */
        uint32_t e = slot[k];
        if (__builtin_expect(!e, 0)) {
            if (nd == lim)
                return 0;
            dv[nd++] = vv[i];
            e = slot[k] = (uint32_t)nd;
        }
        ix[i] = e - 1;
    }
    return nd;
}

size_t r2h_pq_column_dict(struct r2h_pq_writer *w, const struct pq_column *c, int automatic,
                          const struct pq_chunk_meta *m)
{
    size_t n = c->nvals, nd = 0;
    if (n == 0 || n > UINT32_MAX)
        return 0;
    size_t lim = dict_limit(c, automatic);
    size_t tsize = 64;
    while (tsize < 2 * lim + 2)
        tsize *= 2;
    size_t mask = tsize - 1;
    w->hash.len = w->idx.len = w->dict.len = 0;
    if (r2h_buf_reserve(&w->hash, tsize * 4) != R2H_OK ||
        r2h_buf_reserve(&w->idx, n * 4) != R2H_OK ||
        r2h_buf_reserve(&w->dict, lim * (c->width ? c->width : 4)) != R2H_OK) {
        r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory building dictionary of '%s'", c->name);
        return 0;
    }
    uint32_t *slots = (uint32_t *)(void *)w->hash.data;
    uint32_t *idx = (uint32_t *)(void *)w->idx.data;
    if ((nd = small_range_dict(w, c, m, lim, idx)) != (size_t)-1) {
        w->idx.len = n * 4;
        w->dict.len = nd * 4;
        return nd;
    }
    nd = 0;
    memset(slots, 0, tsize * 4);
    if (c->width == 4)
        NUM_DICT(uint32_t);
    else if (c->width == 8)
        NUM_DICT(uint64_t);
    else
        nd = string_dict(c, slots, mask, lim, (uint32_t *)(void *)w->dict.data, idx);
    w->idx.len = n * 4;
    w->dict.len = nd * (c->width ? c->width : 4);
    return nd;
}
