/* pq_reader.c - Parquet reader: open, footer and schema validation, handle lifecycle. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pq_reader_internal.h"

#define PQ_MAX_RG_ROWS INT32_MAX /* flat column chunks of more rows are treated as corrupt */

/* See pq_reader_internal.h. */
enum r2h_status r2h_pq_rfail(struct r2h_pq_reader *r, enum r2h_status st, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    r2h_fmt(r->errmsg, sizeof r->errmsg, "%s: %s", r->path, detail);
    return st;
}

const char *r2h_pq_reader_errmsg(const struct r2h_pq_reader *r)
{
    return r ? r->errmsg : "";
}

void r2h_pq_reader_close(struct r2h_pq_reader *r)
{
    if (!r)
        return;
    r2h_source_close(r->src);
    r2h_pq_meta_free(&r->meta);
    r2h_free(r->cols);
    r2h_free(r->path);
    ZSTD_freeDCtx(r->zctx);
    r2h_buf_free(&r->chunk);
    r2h_buf_free(&r->page);
    r2h_buf_free(&r->vals);
    r2h_buf_free(&r->dict);
    r2h_buf_free(&r->idx);
    r2h_buf_free(&r->defs);
    r2h_free(r);
}

/* See pq_reader_internal.h. */
enum r2h_status r2h_pq_read_at(struct r2h_pq_reader *r, uint64_t off, size_t n, struct r2h_buf *buf,
                               const uint8_t **out)
{
    if (off > r->size || n > r->size - off)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT, "range %llu+%zu is outside the file (%llu bytes)",
                            (unsigned long long)off, n, (unsigned long long)r->size);
    if (r->mem) {
        *out = r->mem + off;
        return R2H_OK;
    }
    buf->len = 0;
    if (r2h_buf_reserve(buf, n ? n : 1) != R2H_OK)
        return r2h_pq_rfail(r, R2H_ERR_NOMEM, "out of memory reading %zu bytes", n);
    char detail[400];
    enum r2h_status st = r2h_source_pread(r->src, buf->data, n, off, detail, sizeof detail);
    if (st != R2H_OK)
        return r2h_pq_rfail(r, st, "%s", detail);
    *out = buf->data;
    return R2H_OK;
}

/* ---- schema ---- */

static enum r2h_pq_type int_type(const struct pq_rschema *s)
{
    static const enum r2h_pq_type by_conv[] = {
        [11] = R2H_PQ_UINT8, [12] = R2H_PQ_UINT16, [13] = R2H_PQ_UINT32, [14] = R2H_PQ_UINT64,
        [15] = R2H_PQ_INT8,  [16] = R2H_PQ_INT16,  [17] = R2H_PQ_INT32,  [18] = R2H_PQ_INT64};
    int bits = s->int_bits, sgn = s->int_signed;
    if (!bits && s->converted >= 11 && s->converted <= 18)
        return by_conv[s->converted];
    if (s->type == PQ_INT64)
        return bits == 64 && !sgn ? R2H_PQ_UINT64 : R2H_PQ_INT64;
    switch (bits) {
    case 8: return sgn ? R2H_PQ_INT8 : R2H_PQ_UINT8;
    case 16: return sgn ? R2H_PQ_INT16 : R2H_PQ_UINT16;
    case 32: return sgn ? R2H_PQ_INT32 : R2H_PQ_UINT32;
    default: return R2H_PQ_INT32;
    }
}

static void column_from_schema(struct pq_rcol *c, const struct pq_rschema *s)
{
    c->name = s->name;
    c->optional = s->repetition == 1;
    c->phys = s->type;
    switch (s->type) {
    case PQ_BOOLEAN: c->type = R2H_PQ_UINT8, c->psz = 1; break;
    case PQ_INT32: c->type = int_type(s), c->psz = 4; break;
    case PQ_INT64: c->type = int_type(s), c->psz = 8; break;
    case PQ_FLOAT: c->type = R2H_PQ_FLOAT, c->psz = 4; break;
    case PQ_DOUBLE: c->type = R2H_PQ_DOUBLE, c->psz = 8; break;
    default: c->type = R2H_PQ_STRING, c->psz = 0; break;
    }
}

static enum r2h_status check_schema(struct r2h_pq_reader *r)
{
    const struct pq_rfile_meta *m = &r->meta;
    if (m->nschema < 2)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT, "schema has no columns");
    if (m->schema[0].num_children != (int32_t)(m->nschema - 1))
        return r2h_pq_rfail(r, R2H_ERR_FORMAT, "nested schema (not supported)");
    r->ncols = m->nschema - 1;
    r->cols = r2h_calloc(r->ncols, sizeof *r->cols);
    if (!r->cols)
        return r2h_pq_rfail(r, R2H_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->ncols; i++) {
        const struct pq_rschema *s = &m->schema[i + 1];
        if (!s->name || s->type < 0 || s->type > PQ_FLBA || s->num_children > 0)
            return r2h_pq_rfail(r, R2H_ERR_FORMAT, "schema element %zu is not a flat leaf", i + 1);
        if (s->repetition != 0 && s->repetition != 1)
            return r2h_pq_rfail(r, R2H_ERR_FORMAT, "column '%s' is repeated (not supported)",
                                s->name);
        column_from_schema(&r->cols[i], s);
    }
    return R2H_OK;
}

/* See pq_reader_internal.h. */
int64_t r2h_pq_rchunk_start(const struct pq_rchunk *c)
{
    if (c->dict_off >= 4 && (c->dict_off < c->data_off || c->data_off < 4))
        return c->dict_off;
    return c->data_off;
}

static enum r2h_status check_chunk(struct r2h_pq_reader *r, size_t g, size_t i)
{
    const struct pq_rchunk *c = &r->meta.rgs[g].chunks[i];
    const char *name = r->cols[i].name;
    if (!c->has_meta || c->has_file_path)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT,
                            "row group %zu, column '%s': no metadata or an external "
                            "file (not supported)",
                            g, name);
    if (c->phys != r->cols[i].phys)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT,
                            "row group %zu, column '%s': type differs from the schema", g, name);
    int64_t start = r2h_pq_rchunk_start(c);
    if (r->meta.rgs[g].num_rows > 0 &&
        (start < 4 || c->comp_size < 0 || (uint64_t)start > r->data_end ||
         (uint64_t)c->comp_size > r->data_end - (uint64_t)start))
        return r2h_pq_rfail(r, R2H_ERR_FORMAT,
                            "row group %zu, column '%s': data range %lld+%lld is "
                            "outside the file's data",
                            g, name, (long long)start, (long long)c->comp_size);
    if (c->num_values != r->meta.rgs[g].num_rows)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT,
                            "row group %zu, column '%s': %lld values for %lld rows", g, name,
                            (long long)c->num_values, (long long)r->meta.rgs[g].num_rows);
    return R2H_OK;
}

static enum r2h_status check_row_groups(struct r2h_pq_reader *r)
{
    const struct pq_rfile_meta *m = &r->meta;
    uint64_t total = 0;
    if (!m->has_num_rows || m->num_rows < 0)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT, "footer has no valid row count");
    for (size_t g = 0; g < m->nrgs; g++) {
        const struct pq_rrowgroup *rg = &m->rgs[g];
        if (rg->num_rows < 0 || rg->num_rows > PQ_MAX_RG_ROWS)
            return r2h_pq_rfail(r, R2H_ERR_FORMAT, "row group %zu: bad row count %lld", g,
                                (long long)rg->num_rows);
        if (rg->nchunks != r->ncols)
            return r2h_pq_rfail(r, R2H_ERR_FORMAT,
                                "row group %zu: %zu column chunks for %zu columns", g, rg->nchunks,
                                r->ncols);
        for (size_t i = 0; i < r->ncols; i++) {
            enum r2h_status st = check_chunk(r, g, i);
            if (st != R2H_OK)
                return st;
        }
        total += (uint64_t)rg->num_rows;
    }
    if (total != (uint64_t)m->num_rows)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT, "row groups hold %llu rows, the footer says %lld",
                            (unsigned long long)total, (long long)m->num_rows);
    return R2H_OK;
}

/* ---- open ---- */

static enum r2h_status parse_footer(struct r2h_pq_reader *r)
{
    const uint8_t *p;
    struct r2h_buf fbuf = {0};
    enum r2h_status st;
    char detail[200] = "";
    if (r->size < 12)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT, "not a Parquet file (%llu bytes)",
                            (unsigned long long)r->size);
    if ((st = r2h_pq_read_at(r, 0, 4, &r->chunk, &p)) != R2H_OK)
        return st;
    if (memcmp(p, "PAR1", 4) != 0)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT, "not a Parquet file (no leading magic)");
    if ((st = r2h_pq_read_at(r, r->size - 8, 8, &r->chunk, &p)) != R2H_OK)
        return st;
    if (memcmp(p + 4, "PAR1", 4) != 0)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT,
                            memcmp(p + 4, "PARE", 4) == 0
                                ? "encrypted footer (not supported)"
                                : "no trailing magic (truncated or not Parquet)");
    uint32_t flen =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (flen > r->size - 12)
        return r2h_pq_rfail(r, R2H_ERR_FORMAT, "footer length %u exceeds the file size", flen);
    r->data_end = r->size - 8 - flen;
    if ((st = r2h_pq_read_at(r, r->data_end, flen, &fbuf, &p)) != R2H_OK)
        goto out;
    st = r2h_pq_meta_parse(p, flen, &r->meta, detail, sizeof detail);
    if (st != R2H_OK) {
        r2h_pq_rfail(r, st, "corrupt footer: %s", detail);
        goto out;
    }
    if ((st = check_schema(r)) == R2H_OK)
        st = check_row_groups(r);
out:
    r2h_buf_free(&fbuf);
    return st;
}

static struct r2h_pq_reader *reader_new(const char *path)
{
    struct r2h_pq_reader *r = r2h_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->path = r2h_strdup(path);
    if (!r->path) {
        r2h_free(r);
        return NULL;
    }
    return r;
}

/* Common tail of both opens: parse, then hand over or report. */
static enum r2h_status open_finish(struct r2h_pq_reader *r, struct r2h_pq_reader **out,
                                   char *errbuf, size_t errbuf_len)
{
    enum r2h_status st = parse_footer(r);
    if (st != R2H_OK) {
        r2h_fmt(errbuf, errbuf_len, "%s", r->errmsg);
        r2h_pq_reader_close(r);
        return st;
    }
    r->chunk.len = 0;
    r->errmsg[0] = '\0';
    *out = r;
    return R2H_OK;
}

enum r2h_status r2h_pq_reader_open(const char *path, struct r2h_pq_reader **out, char *errbuf,
                                   size_t errbuf_len)
{
    if (!path || !out) {
        r2h_fmt(errbuf, errbuf_len, "no path");
        return R2H_ERR_INVALID;
    }
    struct r2h_source *src = NULL;
    enum r2h_status st = r2h_source_open(path, &src, errbuf, errbuf_len);
    if (st != R2H_OK)
        return st;
    return r2h_pq_reader_open_source(src, path, out, errbuf, errbuf_len);
}

enum r2h_status r2h_pq_reader_open_source(struct r2h_source *src, const char *name,
                                          struct r2h_pq_reader **out, char *errbuf,
                                          size_t errbuf_len)
{
    if (!src || !name || !out) {
        r2h_source_close(src);
        r2h_fmt(errbuf, errbuf_len, "no source");
        return R2H_ERR_INVALID;
    }
    struct r2h_pq_reader *r = reader_new(name);
    if (!r) {
        r2h_source_close(src);
        r2h_fmt(errbuf, errbuf_len, "%s: out of memory", name);
        return R2H_ERR_NOMEM;
    }
    r->src = src;
    r->size = r2h_source_size(src);
    return open_finish(r, out, errbuf, errbuf_len);
}

enum r2h_status r2h_pq_reader_open_mem(const uint8_t *data, size_t len, struct r2h_pq_reader **out,
                                       char *errbuf, size_t errbuf_len)
{
    static const uint8_t empty[1];
    if (!out || (!data && len)) {
        r2h_fmt(errbuf, errbuf_len, "no data");
        return R2H_ERR_INVALID;
    }
    struct r2h_pq_reader *r = reader_new("<memory>");
    if (!r) {
        r2h_fmt(errbuf, errbuf_len, "<memory>: out of memory");
        return R2H_ERR_NOMEM;
    }
    r->mem = data ? data : empty;
    r->size = len;
    return open_finish(r, out, errbuf, errbuf_len);
}
