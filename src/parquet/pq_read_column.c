/* pq_read_column.c - Parquet reader: one column chunk page by page (decompress, dict/data). */
#include <snappy-c.h>
#include <string.h>
#include <zstd.h>

#include "pq_reader_internal.h"

enum { PG_DATA = 0, PG_INDEX = 1, PG_DICT = 2, PG_DATA_V2 = 3 };

#define PQ_MAX_PAGE_BYTES (1u << 30)

static const char oom[] = "out of memory";

/* Decompress a page body of n bytes into exactly unc bytes (*out: r->page or src itself). */
static const char *decompress(struct r2h_pq_reader *r, int32_t codec, const uint8_t *src, size_t n,
                              size_t unc, const uint8_t **out)
{
    if (codec == R2H_PQ_CODEC_NONE) {
        if (n != unc)
            return "uncompressed page with differing sizes";
        *out = src;
        return NULL;
    }
    r->page.len = 0;
    if (r2h_buf_reserve(&r->page, unc ? unc : 1) != R2H_OK)
        return oom;
    *out = r->page.data;
    if (codec == R2H_PQ_CODEC_SNAPPY) {
        size_t ul;
        if (snappy_uncompressed_length((const char *)src, n, &ul) != SNAPPY_OK || ul != unc)
            return "snappy: page size differs from its header";
        if (snappy_uncompress((const char *)src, n, (char *)r->page.data, &ul) != SNAPPY_OK ||
            ul != unc)
            return "snappy: corrupt page";
        return NULL;
    }
    if (codec == R2H_PQ_CODEC_ZSTD) {
        if (!r->zctx && !(r->zctx = ZSTD_createDCtx()))
            return oom;
        size_t k = ZSTD_decompressDCtx(r->zctx, r->page.data, unc, src, n);
        if (ZSTD_isError(k) || k != unc)
            return "zstd: corrupt page";
        return NULL;
    }
    return "unsupported compression codec (only UNCOMPRESSED, SNAPPY, ZSTD)";
}

/* PLAIN dictionary page into r->dict. */
static const char *dict_page(struct r2h_pq_reader *r, const struct pq_rcol *c, int32_t codec,
                             const struct pq_rpage_header *h, const uint8_t *body, size_t rows)
{
    const uint8_t *u;
    if (!h->has_sub || h->num_values < 0 ||
        (h->encoding != ENC_PLAIN && h->encoding != ENC_PLAIN_DICT))
        return "bad dictionary page header";
    if (c->phys == PQ_BOOLEAN)
        return "dictionary on a boolean column";
    if (r->ndict)
        return "second dictionary page";
    size_t nv = (size_t)h->num_values, need = nv * c->psz;
    if (nv > rows || (size_t)h->unc_size < need || (size_t)h->unc_size > need + 4096)
        return "dictionary page size does not match its entries";
    const char *why = decompress(r, codec, body, (size_t)h->comp_size, (size_t)h->unc_size, &u);
    if (why)
        return why;
    r->dict.len = 0;
    if (r2h_buf_append(&r->dict, u, need) != R2H_OK)
        return oom;
    r->ndict = nv;
    return NULL;
}

/* Store n rows of decoded values (defs NULL: all present) as the column's native type. */
#define SCATTER(OT, PT)                                                                            \
    do {                                                                                           \
        const PT *src = (const PT *)(const void *)vals;                                            \
        OT *dst = (OT *)values + row;                                                              \
        for (size_t i = 0, k = 0; i < n; i++)                                                      \
            dst[i] = !defs || defs[i] ? (OT)src[k++] : 0;                                          \
    } while (0)

static void scatter(const struct pq_rcol *c, const uint8_t *vals, const uint8_t *defs, size_t n,
                    void *values, size_t row)
{
    switch (c->type) {
    case R2H_PQ_INT8: SCATTER(int8_t, int32_t); break;
    case R2H_PQ_UINT8:
        if (c->phys == PQ_BOOLEAN)
            SCATTER(uint8_t, uint8_t);
        else
            SCATTER(uint8_t, uint32_t);
        break;
    case R2H_PQ_INT16: SCATTER(int16_t, int32_t); break;
    case R2H_PQ_UINT16: SCATTER(uint16_t, uint32_t); break;
    case R2H_PQ_INT32:
    case R2H_PQ_UINT32:
    case R2H_PQ_FLOAT: SCATTER(uint32_t, uint32_t); break;
    case R2H_PQ_INT64:
    case R2H_PQ_UINT64:
    case R2H_PQ_DOUBLE: SCATTER(uint64_t, uint64_t); break;
    case R2H_PQ_STRING: break;
    }
}

/* Levels and values sections of a V1 or V2 data page of n rows: *defs (NULL for REQUIRED),
 * values at *vp, *vlen. */
static const char *split_page(struct r2h_pq_reader *r, const struct pq_rcol *c, int32_t codec,
                              const struct pq_rpage_header *h, const uint8_t *body, size_t n,
                              const uint8_t **vp, size_t *vlen)
{
    const uint8_t *u, *lv;
    size_t comp = (size_t)h->comp_size, unc = (size_t)h->unc_size, lvlen;
    const char *why;
    if (h->type == PG_DATA) {
        if ((why = decompress(r, codec, body, comp, unc, &u)) != NULL)
            return why;
        *vp = u, *vlen = unc;
        if (!c->optional)
            return NULL;
        if (h->def_encoding != ENC_RLE || unc < 4)
            return "definition levels missing or not RLE";
        lvlen = (size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16 | (size_t)u[3] << 24;
        if (lvlen > unc - 4)
            return "definition levels truncated";
        lv = u + 4;
        *vp = u + 4 + lvlen, *vlen = unc - 4 - lvlen;
    } else {
        if (h->def_len < 0 || h->rep_len < 0 || (size_t)h->def_len + (size_t)h->rep_len > comp ||
            (size_t)h->def_len + (size_t)h->rep_len > unc)
            return "bad level lengths in data page V2";
        size_t skip = (size_t)h->def_len + (size_t)h->rep_len;
        if (h->is_compressed)
            why = decompress(r, codec, body + skip, comp - skip, unc - skip, vp);
        else
            why = decompress(r, R2H_PQ_CODEC_NONE, body + skip, comp - skip, unc - skip, vp);
        if (why)
            return why;
        *vlen = unc - skip;
        if (!c->optional)
            return NULL;
        lv = body + h->rep_len;
        lvlen = (size_t)h->def_len;
    }
    return r2h_pq_decode_levels(lv, lvlen, r->defs.data, n);
}

/* One data page of n rows at row: decode and store. */
static const char *data_page(struct r2h_pq_reader *r, const struct pq_rcol *c, int32_t codec,
                             const struct pq_rpage_header *h, const uint8_t *body, size_t row,
                             void *values, uint8_t *valid)
{
    size_t n = (size_t)h->num_values, m = n, vlen;
    const uint8_t *vp;
    if (r2h_buf_reserve(&r->defs, n + 1) != R2H_OK ||
        r2h_buf_reserve(&r->vals, n * c->psz + 8) != R2H_OK ||
        r2h_buf_reserve(&r->idx, n * 4 + 4) != R2H_OK)
        return oom;
    const char *why = split_page(r, c, codec, h, body, n, &vp, &vlen);
    if (why)
        return why;
    const uint8_t *defs = c->optional ? r->defs.data : NULL;
    if (defs) {
        m = 0;
        for (size_t i = 0; i < n; i++)
            m += defs[i];
    }
    if (h->type == PG_DATA_V2 && h->num_nulls >= 0 && (size_t)h->num_nulls != n - m)
        return "null count differs from the definition levels";
    if ((why = r2h_pq_decode_values(r, c, h->encoding, vp, vlen, m)) != NULL)
        return why;
    scatter(c, r->vals.data, defs, n, values, row);
    if (valid) {
        if (defs)
            memcpy(valid + row, defs, n);
        else
            memset(valid + row, 1, n);
    }
    return NULL;
}

/* Checks a page header against the rows still expected; returns its row count via *n. */
static const char *check_page(const struct pq_rpage_header *h, size_t left, size_t *n)
{
    if (h->type != PG_DATA && h->type != PG_DATA_V2)
        return NULL;
    if (!h->has_sub || h->num_values < 0 || (size_t)h->num_values > left)
        return "bad value count in data page header";
    if (h->type == PG_DATA_V2 && h->num_rows != h->num_values)
        return "data page V2 with rows != values (nested data?)";
    *n = (size_t)h->num_values;
    if ((size_t)h->unc_size > 16 * *n + 4096 || (size_t)h->unc_size > PQ_MAX_PAGE_BYTES)
        return "page larger than its values can need";
    return NULL;
}

enum r2h_status r2h_pq_reader_read_column(struct r2h_pq_reader *r, size_t rg, size_t col,
                                          void *values, uint8_t *valid)
{
    if (!r || !values)
        return R2H_ERR_INVALID;
    if (rg >= r->meta.nrgs || col >= r->ncols)
        return r2h_pq_rfail(r, R2H_ERR_INVALID, "row group %zu / column %zu out of range", rg, col);
    const struct pq_rcol *c = &r->cols[col];
    const struct pq_rchunk *ch = &r->meta.rgs[rg].chunks[col];
    if (c->psz == 0)
        return r2h_pq_rfail(r, R2H_ERR_INVALID, "column '%s' is not numeric", c->name);
    size_t rows = (size_t)r->meta.rgs[rg].num_rows, len = (size_t)ch->comp_size;
    uint64_t start = (uint64_t)r2h_pq_rchunk_start(ch);
    const uint8_t *base;
    if (rows == 0)
        return R2H_OK;
    enum r2h_status st = r2h_pq_read_at(r, start, len, &r->chunk, &base);
    if (st != R2H_OK)
        return st;
    r->ndict = 0;
    size_t pos = 0, row = 0;
    const char *why = NULL;
    while (row < rows && !why) {
        struct pq_rpage_header h;
        size_t used, n = 0;
        char detail[200];
        if (pos >= len) {
            why = "column chunk ends early";
            break;
        }
        if (r2h_pq_page_header_parse(base + pos, len - pos, &h, &used, detail, sizeof detail)) {
            return r2h_pq_rfail(r, R2H_ERR_FORMAT,
                                "row group %zu, column '%s': corrupt page header at "
                                "%llu: %s",
                                rg, c->name, (unsigned long long)(start + pos), detail);
        }
        pos += used;
        if (h.comp_size < 0 || h.unc_size < 0 || (size_t)h.comp_size > len - pos) {
            why = "page extends past its column chunk";
            break;
        }
        const uint8_t *body = base + pos;
        pos += (size_t)h.comp_size;
        if ((why = check_page(&h, rows - row, &n)) != NULL)
            break;
        if (h.type == PG_DICT)
            why = dict_page(r, c, ch->codec, &h, body, rows);
        else if (h.type == PG_DATA || h.type == PG_DATA_V2)
            why = data_page(r, c, ch->codec, &h, body, row, values, valid);
        else if (h.type != PG_INDEX)
            why = "unknown page type";
        row += n;
    }
    if (why)
        return r2h_pq_rfail(r, why == oom ? R2H_ERR_NOMEM : R2H_ERR_FORMAT,
                            "row group %zu, column '%s': %s (near row %zu of %zu)", rg, c->name,
                            why, row, rows);
    return R2H_OK;
}
