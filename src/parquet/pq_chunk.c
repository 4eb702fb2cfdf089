/* pq_chunk.c - column chunk output: encoding choice, page bodies, compression, page headers. */
#include <limits.h>
#include <snappy-c.h>
#include <string.h>

#include "pq_internal.h"

/* Compress body into w->comp (or pass it through); out and outn describe the on-disk body. */
static enum r2h_status compress_body(struct r2h_pq_writer *w, const uint8_t *p, size_t n,
                                     const uint8_t **out, size_t *outn)
{
    if (w->opt.codec == R2H_PQ_CODEC_NONE) {
        *out = p;
        *outn = n;
        return R2H_OK;
    }
    w->comp.len = 0;
    if (w->opt.codec == R2H_PQ_CODEC_ZSTD) {
        size_t cap = ZSTD_compressBound(n);
        if (r2h_buf_reserve(&w->comp, cap) != R2H_OK)
            return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory compressing a page");
        size_t r = ZSTD_compressCCtx(w->zctx, w->comp.data, cap, p, n, w->opt.level);
        if (ZSTD_isError(r))
            return r2h_pq_fail(w, R2H_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
        *outn = r;
    } else {
        size_t cap = snappy_max_compressed_length(n);
        if (r2h_buf_reserve(&w->comp, cap) != R2H_OK)
            return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory compressing a page");
        if (snappy_compress((const char *)p, n, (char *)w->comp.data, &cap) != SNAPPY_OK)
            return r2h_pq_fail(w, R2H_ERR_INTERNAL, "snappy compression failed");
        *outn = cap;
    }
    *out = w->comp.data;
    return R2H_OK;
}

/* Write one page: header (thrift) + body, and account for it in m. num is the data page's
 * value count (incl. nulls) or the dictionary's entry count. */
static enum r2h_status emit_page(struct r2h_pq_writer *w, struct pq_chunk_meta *m,
                                 enum pq_page_type type, size_t num, enum pq_enc enc)
{
    const uint8_t *body = NULL;
    size_t blen = 0;
    if (w->page.len > INT32_MAX || num > INT32_MAX)
        return r2h_pq_fail(w, R2H_ERR_FORMAT, "page larger than 2 GiB");
    enum r2h_status st = compress_body(w, w->page.data, w->page.len, &body, &blen);
    if (st != R2H_OK)
        return st;
    if (blen > INT32_MAX)
        return r2h_pq_fail(w, R2H_ERR_FORMAT, "page larger than 2 GiB");
    struct r2h_pq_thrift t;
    w->hdr.len = 0;
    r2h_pq_thrift_init(&t, &w->hdr);
    r2h_pq_thrift_struct_begin(&t, 0);
    r2h_pq_thrift_i32(&t, 1, type);
    r2h_pq_thrift_i32(&t, 2, (int32_t)w->page.len);
    r2h_pq_thrift_i32(&t, 3, (int32_t)blen);
    r2h_pq_thrift_struct_begin(&t, type == PQ_DATA_PAGE ? 5 : 7);
    r2h_pq_thrift_i32(&t, 1, (int32_t)num);
    r2h_pq_thrift_i32(&t, 2, enc);
    if (type == PQ_DATA_PAGE) {
        r2h_pq_thrift_i32(&t, 3, PQ_RLE); /* definition levels */
        r2h_pq_thrift_i32(&t, 4, PQ_RLE); /* repetition levels */
    }
    r2h_pq_thrift_struct_end(&t);
    r2h_pq_thrift_struct_end(&t);
    if (t.err != R2H_OK)
        return r2h_pq_fail(w, t.err, "out of memory writing a page header");
    int64_t off = (int64_t)w->sink->bytes;
    if (type == PQ_DICTIONARY_PAGE)
        m->dict_off = off;
    else if (m->data_off < 0)
        m->data_off = off;
    m->encodings |= 1u << enc;
    m->unc_size += (int64_t)(w->hdr.len + w->page.len);
    m->comp_size += (int64_t)(w->hdr.len + blen);
    if (r2h_sink_write(w->sink, w->hdr.data, w->hdr.len) != R2H_OK ||
        r2h_sink_write(w->sink, body, blen) != R2H_OK)
        return r2h_pq_fail(w, w->sink->error, "%s", w->sink->errmsg);
    return R2H_OK;
}

/* PLAIN dictionary page from w->dict. */
static enum r2h_status write_dict_page(struct r2h_pq_writer *w, const struct pq_column *c,
                                       size_t nd, struct pq_chunk_meta *m)
{
    w->page.len = 0;
    if (c->width) {
        if (r2h_buf_append(&w->page, w->dict.data, nd * c->width) != R2H_OK)
            return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory writing a dictionary");
    } else {
        const uint32_t *dv = (const uint32_t *)(const void *)w->dict.data;
        const uint64_t *o = (const uint64_t *)(const void *)c->offs.data;
        for (size_t i = 0; i < nd; i++) {
            if (r2h_pq_plain_strings(&w->page, c->vals.data, o + dv[i], 1) != R2H_OK)
                return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory writing a dictionary");
        }
    }
    return emit_page(w, m, PQ_DICTIONARY_PAGE, nd, PQ_PLAIN);
}

/* DELTA_BINARY_PACKED values of one page. Pages of <= 1 value are never passed here
 * (fastparquet's decoder needs a block). R2H_ERR_FORMAT (page left unchanged): a miniblock
 * is wider than fastparquet decodes correctly, write the page PLAIN instead. */
static enum r2h_status delta_page(struct r2h_pq_writer *w, const struct pq_column *c, size_t v0,
                                  size_t n)
{
    size_t at = w->page.len;
    int width;
    enum r2h_status st =
        r2h_pq_delta_encode(&w->page, c->vals.data + v0 * c->width, n, c->width == 4, &width);
    if (st == R2H_OK && width > PQ_DELTA_MAX_WIDTH) {
        w->page.len = at;
        return R2H_ERR_FORMAT;
    }
    return st;
}

/* Values section of one data page: values [v0, v1) of the chunk. */
static enum r2h_status page_values(struct r2h_pq_writer *w, const struct pq_column *c,
                                   enum r2h_pq_encoding enc, int dict_bw, size_t v0, size_t v1,
                                   enum pq_enc *penc)
{
    size_t n = v1 - v0;
    enum r2h_status st;
    if (enc == R2H_PQ_ENC_DICT) {
        *penc = PQ_RLE_DICTIONARY;
        const uint32_t *idx = (const uint32_t *)(const void *)w->idx.data;
        st = r2h_buf_push_byte(&w->page, (uint8_t)dict_bw);
        if (st == R2H_OK)
            st = r2h_pq_rle_hybrid(&w->page, idx + v0, n, dict_bw);
    } else if (enc == R2H_PQ_ENC_DELTA && n > 1 &&
               (st = delta_page(w, c, v0, n)) != R2H_ERR_FORMAT) {
        *penc = PQ_DELTA_BINARY_PACKED;
    } else if (c->width) {
        *penc = PQ_PLAIN;
        st = r2h_buf_append(&w->page, c->vals.data + v0 * c->width, n * c->width);
    } else {
        *penc = PQ_PLAIN;
        st = r2h_pq_plain_strings(&w->page, c->vals.data,
                                  (const uint64_t *)(const void *)c->offs.data + v0, n);
    }
    if (st != R2H_OK)
        return r2h_pq_fail(w, st, "out of memory encoding column '%s'", c->name);
    return R2H_OK;
}

/* The first row r in [r, r1) whose step from row r - 1 is 2^27 or more either way (as unsigned
 * 64-bit differences d and -d both >= 2^27, that is d + 2^27 - 1 >= 2^28 - 1), else r1. Blocks
 * of 64 rows are tested branch-free first (vectorised, cloned for AVX2). */
__attribute__((target_clones("avx2", "default"),
               optimize("tree-vectorize", "vect-cost-model=dynamic"))) static size_t
first_gap(const uint64_t *v, size_t r, size_t r1)
{
    const uint64_t bias = ((uint64_t)1 << 27) - 1, lim = ((uint64_t)1 << 28) - 1;
    for (; r + 64 <= r1; r += 64) {
        unsigned any = 0;
        for (size_t j = r; j < r + 64; j++)
            any |= v[j] - v[j - 1] + bias >= lim;
        if (any)
            break;
    }
    for (; r < r1; r++)
        if (v[r] - v[r - 1] + bias >= lim)
            return r;
    return r1;
}

/* End row of the page starting at row r0 / value v0; *v1 receives its value end. Pages hold at
 * most page_rows rows and are cut once their values reach R2H_PQ_PAGE_MAX_BYTES. */
static size_t page_end(const struct r2h_pq_writer *w, const struct pq_column *c,
                       enum r2h_pq_encoding enc, size_t nrows, size_t r0, size_t v0, size_t *v1)
{
    size_t max_rows = w->opt.page_rows;
    if (c->width && max_rows > R2H_PQ_PAGE_MAX_BYTES / c->width)
        max_rows = R2H_PQ_PAGE_MAX_BYTES / c->width;
    size_t r1 = nrows - r0 < max_rows ? nrows : r0 + max_rows;
    if (c->delta_gaps && enc == R2H_PQ_ENC_DELTA) {
        /* End the page before a step too wide for DELTA pages (PQ_DELTA_MAX_WIDTH). */
        if (r0 + 256 < r1)
            r1 = first_gap((const uint64_t *)(const void *)c->vals.data, r0 + 256, r1);
    }
    const uint64_t *o = (const uint64_t *)(const void *)c->offs.data;
    if (!c->optional) {
        if (!c->width) {
            size_t r = r0 + 1;
            while (r < r1 && o[r] - o[r0] < R2H_PQ_PAGE_MAX_BYTES)
                r++;
            r1 = r;
        }
        *v1 = v0 + (r1 - r0);
        return r1;
    }
    const uint8_t *def = c->def.data;
    size_t v = v0, r = r0;
    for (; r < r1; r++) {
        v += def[r];
        if (!c->width && o[v] - o[v0] >= R2H_PQ_PAGE_MAX_BYTES) {
            r++;
            break;
        }
    }
    *v1 = v;
    return r;
}

/* Encoding for this chunk: the column's choice, or AUTO's per type (design doc 0002). */
static enum r2h_pq_encoding choose_encoding(const struct pq_column *c)
{
    if (c->encoding != R2H_PQ_ENC_AUTO)
        return c->encoding;
    if (c->type == R2H_PQ_INT64 || c->type == R2H_PQ_UINT64)
        return R2H_PQ_ENC_DELTA;
    /* fastparquet (2026.9, pyarrow strings) loses the dictionary-decoded part of a string
     * column whose row groups mix dictionary and PLAIN pages; AUTO cannot promise consistency
     * across row groups, so strings stay PLAIN unless DICT is asked for. */
    if (c->type == R2H_PQ_STRING)
        return R2H_PQ_ENC_PLAIN;
    return R2H_PQ_ENC_DICT;
}

static enum r2h_pq_encoding fallback_encoding(const struct pq_column *c)
{
    if (c->encoding == R2H_PQ_ENC_AUTO && (c->type == R2H_PQ_INT32 || c->type == R2H_PQ_UINT32))
        return R2H_PQ_ENC_DELTA;
    return R2H_PQ_ENC_PLAIN;
}

enum r2h_status r2h_pq_chunk_write(struct r2h_pq_writer *w, struct pq_column *c, size_t nrows,
                                   struct pq_chunk_meta *m)
{
    memset(m, 0, sizeof *m);
    m->data_off = m->dict_off = -1;
    m->num_values = (int64_t)nrows;
    m->encodings = 1u << PQ_RLE;
    enum r2h_pq_encoding enc = choose_encoding(c);
    /* A REQUIRED 64-bit DELTA column: statistics page by page, while the page is in cache. */
    const int page_stats = enc == R2H_PQ_ENC_DELTA && !c->optional &&
                           (c->type == R2H_PQ_INT64 || c->type == R2H_PQ_UINT64);
    if (page_stats)
        r2h_pq_column_stats_begin(c, nrows, m);
    else
        r2h_pq_column_stats(c, nrows, m);
    int dict_bw = 0;
    if (enc == R2H_PQ_ENC_DICT) {
        size_t nd = r2h_pq_column_dict(w, c, c->encoding == R2H_PQ_ENC_AUTO, m);
        if (w->err != R2H_OK)
            return w->err;
        if (nd == 0) {
            enc = fallback_encoding(c);
        } else {
            dict_bw = nd > 1 ? r2h_pq_bit_width(nd - 1) : 1;
            if (write_dict_page(w, c, nd, m) != R2H_OK)
                return w->err;
        }
    }
    size_t r0 = 0, v0 = 0;
    while (r0 < nrows) {
        size_t v1;
        size_t r1 = page_end(w, c, enc, nrows, r0, v0, &v1);
        enum pq_enc penc;
        w->page.len = 0;
        if (c->optional && r2h_pq_def_levels(&w->page, c->def.data + r0, r1 - r0) != R2H_OK)
            return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory encoding levels");
        if (page_values(w, c, enc, dict_bw, v0, v1, &penc) != R2H_OK)
            return w->err;
        if (page_stats)
            r2h_pq_column_stats_add(c, r0, r1, m);
        if (emit_page(w, m, PQ_DATA_PAGE, r1 - r0, penc) != R2H_OK)
            return w->err;
        r0 = r1;
        v0 = v1;
    }
    return R2H_OK;
}
