/* pq_writer.c - Parquet writer API: schema, row-group buffering, footer (FileMetaData). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pq_internal.h"

static const uint8_t magic[4] = {'P', 'A', 'R', '1'};

void r2h_pq_options_init(struct r2h_pq_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->codec = R2H_PQ_CODEC_ZSTD;
    o->level = 3;
    o->row_group_rows = 1u << 20;
    o->page_rows = 20000;
    o->created_by = NULL;
}

enum r2h_status r2h_pq_fail(struct r2h_pq_writer *w, enum r2h_status st, const char *fmt, ...)
{
    if (w->err != R2H_OK)
        return w->err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
    va_end(ap);
    w->err = st;
    return st;
}

const char *r2h_pq_writer_errmsg(const struct r2h_pq_writer *w)
{
    return w ? w->errmsg : "";
}

static void column_free(struct pq_column *c)
{
    r2h_free(c->name);
    r2h_buf_free(&c->vals);
    r2h_buf_free(&c->offs);
    r2h_buf_free(&c->def);
}

static void writer_free(struct r2h_pq_writer *w)
{
    for (size_t i = 0; w->cols && i < w->ncols; i++)
        column_free(&w->cols[i]);
    r2h_free(w->cols);
    r2h_free(w->meta);
    r2h_free(w->created_by);
    r2h_buf_free(&w->rg_meta);
    r2h_buf_free(&w->kv);
    r2h_buf_free(&w->page);
    r2h_buf_free(&w->comp);
    r2h_buf_free(&w->hdr);
    r2h_buf_free(&w->idx);
    r2h_buf_free(&w->dict);
    r2h_buf_free(&w->hash);
    ZSTD_freeCCtx(w->zctx);
    r2h_free(w);
}

void r2h_pq_writer_abort(struct r2h_pq_writer *w)
{
    if (!w)
        return;
    r2h_sink_abort(w->sink);
    writer_free(w);
}

/* Strings start with a zero offset; appending later adds the end offsets. */
static enum r2h_status column_reset(struct pq_column *c)
{
    uint64_t zero = 0;
    c->vals.len = c->def.len = c->offs.len = 0;
    c->nvals = 0;
    if (c->type == R2H_PQ_STRING)
        return r2h_buf_append(&c->offs, &zero, sizeof zero);
    return R2H_OK;
}

static enum r2h_status check_options(const struct r2h_pq_options *o)
{
    if (o->codec != R2H_PQ_CODEC_NONE && o->codec != R2H_PQ_CODEC_SNAPPY &&
        o->codec != R2H_PQ_CODEC_ZSTD)
        return R2H_ERR_INVALID;
    if (o->row_group_rows == 0 || o->row_group_rows > INT32_MAX || o->page_rows == 0)
        return R2H_ERR_INVALID;
    return R2H_OK;
}

static enum r2h_status column_init(struct r2h_pq_writer *w, struct pq_column *c,
                                   const struct r2h_pq_column_spec *s, size_t i)
{
    static const enum pq_phys phys[] = {PQ_INT32, PQ_INT32,  PQ_INT32,     PQ_INT32,
                                        PQ_INT32, PQ_INT32,  PQ_INT64,     PQ_INT64,
                                        PQ_FLOAT, PQ_DOUBLE, PQ_BYTE_ARRAY};
    if (!s->name || !*s->name || (unsigned)s->type > R2H_PQ_STRING ||
        (unsigned)s->encoding > R2H_PQ_ENC_DELTA)
        return r2h_pq_fail(w, R2H_ERR_INVALID, "column %zu: bad name, type or encoding", i);
    c->type = s->type;
    c->phys = phys[s->type];
    c->width = c->phys == PQ_BYTE_ARRAY ? 0 : (c->phys == PQ_INT64 || c->phys == PQ_DOUBLE ? 8 : 4);
    if (s->encoding == R2H_PQ_ENC_DELTA && c->phys != PQ_INT32 && c->phys != PQ_INT64)
        return r2h_pq_fail(w, R2H_ERR_INVALID, "column '%s': DELTA needs an integer type", s->name);
    c->optional = s->optional != 0;
    c->encoding = s->encoding;
    c->delta_gaps =
        s->delta_gaps && s->encoding == R2H_PQ_ENC_DELTA && c->phys == PQ_INT64 && !s->optional;
    c->name = r2h_strdup(s->name);
    if (!c->name || column_reset(c) != R2H_OK)
        return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory");
    if (s->sorted_ascending && w->sort_col < 0)
        w->sort_col = (int)i;
    return R2H_OK;
}

enum r2h_status r2h_pq_writer_open(struct r2h_sink *sink, const struct r2h_pq_column_spec *cols,
                                   size_t ncols, const struct r2h_pq_options *opt,
                                   struct r2h_pq_writer **out)
{
    enum r2h_status st;
    if ((!sink && !(opt && opt->rows)) || !out || !cols || ncols == 0 || ncols > INT32_MAX / 2) {
        r2h_sink_abort(sink);
        return R2H_ERR_INVALID;
    }
    struct r2h_pq_writer *w = r2h_calloc(1, sizeof *w);
    if (!w) {
        r2h_sink_abort(sink);
        return R2H_ERR_NOMEM;
    }
    w->sink = sink;
    w->sort_col = -1;
    if (opt)
        w->opt = *opt;
    else
        r2h_pq_options_init(&w->opt);
    if ((st = check_options(&w->opt)) != R2H_OK)
        goto out_abort;
    char cb[64];
    r2h_fmt(cb, sizeof cb, "raster2h3 version %s", R2H_VERSION_STRING);
    w->created_by = r2h_strdup(w->opt.created_by ? w->opt.created_by : cb);
    w->opt.created_by = NULL;
    w->cols = r2h_calloc(ncols, sizeof *w->cols);
    w->meta = r2h_calloc(ncols, sizeof *w->meta);
    if (!w->created_by || !w->cols || !w->meta) {
        st = R2H_ERR_NOMEM;
        goto out_abort;
    }
    w->ncols = ncols;
    for (size_t i = 0; i < ncols; i++)
        if ((st = column_init(w, &w->cols[i], &cols[i], i)) != R2H_OK)
            goto out_abort;
    if (w->opt.rows) { /* unencoded row groups: no file */
        *out = w;
        return R2H_OK;
    }
    if (w->opt.codec == R2H_PQ_CODEC_ZSTD && !(w->zctx = ZSTD_createCCtx())) {
        st = R2H_ERR_NOMEM;
        goto out_abort;
    }
    if ((st = r2h_sink_write(sink, magic, 4)) != R2H_OK)
        goto out_abort;
    *out = w;
    return R2H_OK;
out_abort:
    r2h_pq_writer_abort(w);
    return st;
}

enum r2h_status r2h_pq_writer_add_kv(struct r2h_pq_writer *w, const char *key, const char *value)
{
    if (!w || !key)
        return R2H_ERR_INVALID;
    if (w->err != R2H_OK)
        return w->err;
    struct r2h_pq_thrift t;
    r2h_pq_thrift_init(&t, &w->kv);
    r2h_pq_thrift_struct_begin(&t, 0);
    r2h_pq_thrift_string(&t, 1, key);
    if (value)
        r2h_pq_thrift_string(&t, 2, value);
    r2h_pq_thrift_struct_end(&t);
    if (t.err != R2H_OK)
        return r2h_pq_fail(w, t.err, "out of memory adding metadata");
    w->nkv++;
    return R2H_OK;
}

static void write_stats(struct r2h_pq_thrift *t, const struct pq_chunk_meta *m)
{
    r2h_pq_thrift_struct_begin(t, 12);
    if (m->has_minmax && m->legacy_minmax) {
        r2h_pq_thrift_binary(t, 1, m->max_p, m->max_len);
        r2h_pq_thrift_binary(t, 2, m->min_p, m->min_len);
    }
    r2h_pq_thrift_i64(t, 3, m->null_count);
    if (m->has_minmax) {
        r2h_pq_thrift_binary(t, 5, m->max_p, m->max_len);
        r2h_pq_thrift_binary(t, 6, m->min_p, m->min_len);
        r2h_pq_thrift_bool(t, 7, 1);
        r2h_pq_thrift_bool(t, 8, 1);
    }
    r2h_pq_thrift_struct_end(t);
}

static void write_column_chunk(struct r2h_pq_thrift *t, const struct pq_column *c,
                               const struct pq_chunk_meta *m, enum r2h_pq_codec codec)
{
    size_t nenc = (size_t)__builtin_popcount(m->encodings);
    r2h_pq_thrift_struct_begin(t, 0);
    r2h_pq_thrift_i64(t, 2, 0); /* file_offset: deprecated but thrift-required */
    r2h_pq_thrift_struct_begin(t, 3);
    r2h_pq_thrift_i32(t, 1, c->phys);
    r2h_pq_thrift_list_begin(t, 2, PQ_CT_I32, nenc);
    for (int e = 0; e < 32; e++)
        if (m->encodings & (1u << e))
            r2h_pq_thrift_elem_i32(t, e);
    r2h_pq_thrift_list_begin(t, 3, PQ_CT_BINARY, 1);
    r2h_pq_thrift_elem_binary(t, c->name, strlen(c->name));
    r2h_pq_thrift_i32(t, 4, codec);
    r2h_pq_thrift_i64(t, 5, m->num_values);
    r2h_pq_thrift_i64(t, 6, m->unc_size);
    r2h_pq_thrift_i64(t, 7, m->comp_size);
    r2h_pq_thrift_i64(t, 9, m->data_off);
    if (m->dict_off >= 0)
        r2h_pq_thrift_i64(t, 11, m->dict_off);
    write_stats(t, m);
    r2h_pq_thrift_struct_end(t);
    r2h_pq_thrift_struct_end(t);
}

/* Serialize the RowGroup of the chunks just written (before the column buffers are reused:
 * string min/max point into them): w's own columns, or a twin's (r2h_pq_group). */
static enum r2h_status append_row_group_of(struct r2h_pq_writer *w, const struct pq_column *cols,
                                           const struct pq_chunk_meta *meta, size_t nrows)
{
    struct r2h_pq_thrift t;
    int64_t unc = 0, comp = 0;
    const struct pq_chunk_meta *m0 = &meta[0];
    r2h_pq_thrift_init(&t, &w->rg_meta);
    r2h_pq_thrift_struct_begin(&t, 0);
    r2h_pq_thrift_list_begin(&t, 1, PQ_CT_STRUCT, w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        write_column_chunk(&t, &cols[i], &meta[i], w->opt.codec);
        unc += meta[i].unc_size;
        comp += meta[i].comp_size;
    }
    r2h_pq_thrift_i64(&t, 2, unc);
    r2h_pq_thrift_i64(&t, 3, (int64_t)nrows);
    if (w->sort_col >= 0 && meta[w->sort_col].sorted) {
        r2h_pq_thrift_list_begin(&t, 4, PQ_CT_STRUCT, 1);
        r2h_pq_thrift_struct_begin(&t, 0);
        r2h_pq_thrift_i32(&t, 1, w->sort_col);
        r2h_pq_thrift_bool(&t, 2, 0);
        r2h_pq_thrift_bool(&t, 3, 0);
        r2h_pq_thrift_struct_end(&t);
    }
    r2h_pq_thrift_i64(&t, 5, m0->dict_off >= 0 ? m0->dict_off : m0->data_off);
    r2h_pq_thrift_i64(&t, 6, comp);
    r2h_pq_thrift_struct_end(&t);
    if (t.err != R2H_OK)
        return r2h_pq_fail(w, t.err, "out of memory writing row group metadata");
    return R2H_OK;
}

static enum r2h_status append_row_group(struct r2h_pq_writer *w, size_t nrows)
{
    return append_row_group_of(w, w->cols, w->meta, nrows);
}

/* Unencoded row groups: the buffered columns cols (w's own or a twin's) to w's rows sink. */
static enum r2h_status hand_rows(struct r2h_pq_writer *w, const struct pq_column *cols,
                                 size_t nrows)
{
    struct r2h_pq_rowgroup_column *view = r2h_malloc(w->ncols * sizeof *view);
    if (!view)
        return r2h_pq_fail(w, R2H_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < w->ncols; i++) {
        const struct pq_column *c = &cols[i];
        view[i] = (struct r2h_pq_rowgroup_column){
            .name = c->name,
            .type = c->type,
            .optional = c->optional,
            .values = c->vals.data,
            .offsets = c->type == R2H_PQ_STRING ? (const uint64_t *)c->offs.data : NULL,
            .valid = c->optional ? c->def.data : NULL,
            .nvals = c->nvals};
    }
    enum r2h_status st = w->opt.rows->group(w->opt.rows->ctx, view, w->ncols, nrows);
    r2h_free(view);
    if (st != R2H_OK)
        return r2h_pq_fail(w, st, "%s", r2h_status_str(st));
    return R2H_OK;
}

static enum r2h_status flush_row_group(struct r2h_pq_writer *w)
{
    size_t nrows = w->nrows;
    if (nrows == 0)
        return R2H_OK;
    if (w->opt.rows) {
        if (hand_rows(w, w->cols, nrows) != R2H_OK)
            return w->err;
        for (size_t i = 0; i < w->ncols; i++)
            column_reset(&w->cols[i]);
        w->total_rows += (int64_t)nrows;
        w->num_row_groups++;
        w->nrows = 0;
        return R2H_OK;
    }
    for (size_t i = 0; i < w->ncols; i++)
        if (r2h_pq_chunk_write(w, &w->cols[i], nrows, &w->meta[i]) != R2H_OK)
            return w->err;
    if (append_row_group(w, nrows) != R2H_OK)
        return w->err;
    for (size_t i = 0; i < w->ncols; i++)
        column_reset(&w->cols[i]); /* cannot fail: the offsets buffer keeps its memory */
    w->total_rows += (int64_t)nrows;
    w->num_row_groups++;
    w->nrows = 0;
    return R2H_OK;
}

enum r2h_status r2h_pq_writer_write(struct r2h_pq_writer *w, const struct r2h_pq_column_data *cols,
                                    size_t nrows)
{
    if (!w)
        return R2H_ERR_INVALID;
    if (w->err != R2H_OK)
        return w->err;
    if (!cols && nrows)
        return r2h_pq_fail(w, R2H_ERR_INVALID, "no column data");
    for (size_t i = 0; i < w->ncols && nrows; i++)
        if (!cols[i].values)
            return r2h_pq_fail(w, R2H_ERR_INVALID, "column '%s': no values", w->cols[i].name);
    size_t done = 0;
    while (done < nrows) {
        size_t room = w->opt.row_group_rows - w->nrows;
        size_t n = nrows - done < room ? nrows - done : room;
        for (size_t i = 0; i < w->ncols; i++)
            if (r2h_pq_column_append(w, &w->cols[i], &cols[i], done, n) != R2H_OK)
                return w->err;
        w->nrows += n;
        done += n;
        if (w->nrows == w->opt.row_group_rows && flush_row_group(w) != R2H_OK)
            return w->err;
    }
    return R2H_OK;
}

/* SchemaElement of one leaf: physical type, repetition, name, ConvertedType + LogicalType. */
static void write_schema_leaf(struct r2h_pq_thrift *t, const struct pq_column *c)
{
    /* converted_type and IntType bit width per r2h_pq_type; -1: no annotation */
    static const int conv[] = {15, 11, 16, 12, 17, 13, 18, 14, -1, -1, 0};
    static const int8_t bits[] = {8, 8, 16, 16, 32, 32, 64, 64, 0, 0, 0};
    static const int is_signed[] = {1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0};
    r2h_pq_thrift_struct_begin(t, 0);
    r2h_pq_thrift_i32(t, 1, c->phys);
    r2h_pq_thrift_i32(t, 3, c->optional ? 1 : 0);
    r2h_pq_thrift_string(t, 4, c->name);
    if (conv[c->type] >= 0) {
        r2h_pq_thrift_i32(t, 6, conv[c->type]);
        r2h_pq_thrift_struct_begin(t, 10); /* LogicalType union */
        if (c->type == R2H_PQ_STRING) {
            r2h_pq_thrift_struct_begin(t, 1); /* STRING: empty StringType */
        } else {
            r2h_pq_thrift_struct_begin(t, 10); /* INTEGER: IntType */
            r2h_pq_thrift_i8(t, 1, bits[c->type]);
            r2h_pq_thrift_bool(t, 2, is_signed[c->type]);
        }
        r2h_pq_thrift_struct_end(t);
        r2h_pq_thrift_struct_end(t);
    }
    r2h_pq_thrift_struct_end(t);
}

/* FileMetaData (thrift) + 4-byte length + magic. */
static enum r2h_status write_footer(struct r2h_pq_writer *w)
{
    struct r2h_buf *b = &w->page;
    struct r2h_pq_thrift t;
    b->len = 0;
    r2h_pq_thrift_init(&t, b);
    r2h_pq_thrift_struct_begin(&t, 0);
    r2h_pq_thrift_i32(&t, 1, 1);
    r2h_pq_thrift_list_begin(&t, 2, PQ_CT_STRUCT, w->ncols + 1);
    r2h_pq_thrift_struct_begin(&t, 0);
    r2h_pq_thrift_string(&t, 4, "schema");
    r2h_pq_thrift_i32(&t, 5, (int32_t)w->ncols);
    r2h_pq_thrift_struct_end(&t);
    for (size_t i = 0; i < w->ncols; i++)
        write_schema_leaf(&t, &w->cols[i]);
    r2h_pq_thrift_i64(&t, 3, w->total_rows);
    r2h_pq_thrift_list_begin(&t, 4, PQ_CT_STRUCT, w->num_row_groups); /* empty: 0x0C */
    if (t.err == R2H_OK)
        t.err = r2h_buf_append(b, w->rg_meta.data, w->rg_meta.len);
    if (w->nkv) {
        r2h_pq_thrift_list_begin(&t, 5, PQ_CT_STRUCT, w->nkv);
        if (t.err == R2H_OK)
            t.err = r2h_buf_append(b, w->kv.data, w->kv.len);
    }
    r2h_pq_thrift_string(&t, 6, w->created_by);
    r2h_pq_thrift_list_begin(&t, 7, PQ_CT_STRUCT, w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        r2h_pq_thrift_struct_begin(&t, 0); /* ColumnOrder union */
        r2h_pq_thrift_struct_begin(&t, 1); /* TYPE_ORDER: empty TypeDefinedOrder */
        r2h_pq_thrift_struct_end(&t);
        r2h_pq_thrift_struct_end(&t);
    }
    r2h_pq_thrift_struct_end(&t);
    if (t.err != R2H_OK || b->len > UINT32_MAX)
        return r2h_pq_fail(w, t.err ? t.err : R2H_ERR_FORMAT, "cannot build the file footer");
    uint32_t len = (uint32_t)b->len;
    uint8_t tail[8] = {(uint8_t)len,
                       (uint8_t)(len >> 8),
                       (uint8_t)(len >> 16),
                       (uint8_t)(len >> 24),
                       'P',
                       'A',
                       'R',
                       '1'};
    if (r2h_sink_write(w->sink, b->data, b->len) != R2H_OK ||
        r2h_sink_write(w->sink, tail, sizeof tail) != R2H_OK)
        return r2h_pq_fail(w, w->sink->error, "%s", w->sink->errmsg);
    return R2H_OK;
}

enum r2h_status r2h_pq_writer_close(struct r2h_pq_writer *w, char *errbuf, size_t errbuf_len)
{
    if (!w) {
        r2h_fmt(errbuf, errbuf_len, "no writer");
        return R2H_ERR_INVALID;
    }
    if (w->err == R2H_OK && flush_row_group(w) == R2H_OK && !w->opt.rows)
        write_footer(w);
    enum r2h_status st = w->err;
    if (st != R2H_OK) {
        r2h_fmt(errbuf, errbuf_len, "%s", w->errmsg);
        r2h_pq_writer_abort(w);
        return st;
    }
    if (w->opt.rows) { /* unencoded row groups: no file (a sink given is left empty) */
        r2h_sink_abort(w->sink);
        writer_free(w);
        return R2H_OK;
    }
    char msg[sizeof w->sink->errmsg];
    st = r2h_sink_close(w->sink, msg, sizeof msg);
    w->sink = NULL;
    if (st != R2H_OK)
        r2h_fmt(errbuf, errbuf_len, "%s", msg);
    writer_free(w);
    return st;
}

/* ---- row groups encoded apart ------------------------------------------------------------ */

struct r2h_pq_group {
    struct r2h_pq_writer *tw; /* a twin of the file's writer over a memory sink */
    uint64_t start;           /* twin sink's byte number where this group's pages begin */
    int encoded;
};

enum r2h_status r2h_pq_group_new(const struct r2h_pq_column_spec *cols, size_t ncols,
                                 const struct r2h_pq_options *opt, struct r2h_pq_group **out)
{
    struct r2h_pq_group *g = r2h_calloc(1, sizeof *g);
    struct r2h_sink *sink = NULL;
    if (!g || r2h_sink_mem_open(&sink) != R2H_OK) {
        r2h_free(g);
        return R2H_ERR_NOMEM;
    }
    struct r2h_pq_options o;
    if (opt)
        o = *opt;
    else
        r2h_pq_options_init(&o);
    o.row_group_rows = INT32_MAX; /* the twin never flushes on its own */
    enum r2h_status st = r2h_pq_writer_open(sink, cols, ncols, &o, &g->tw);
    if (st != R2H_OK) {
        r2h_free(g);
        return st;
    }
    r2h_sink_mem_clear(sink); /* the magic is the file writer's */
    g->start = sink->bytes;
    *out = g;
    return R2H_OK;
}

void r2h_pq_group_free(struct r2h_pq_group *g)
{
    if (!g)
        return;
    r2h_pq_writer_abort(g->tw);
    r2h_free(g);
}

size_t r2h_pq_group_rows(const struct r2h_pq_group *g)
{
    return g->tw->nrows;
}

enum r2h_status r2h_pq_group_write(struct r2h_pq_group *g, const struct r2h_pq_column_data *cols,
                                   size_t nrows)
{
    return r2h_pq_writer_write(g->tw, cols, nrows);
}

enum r2h_status r2h_pq_group_encode(struct r2h_pq_group *g)
{
    struct r2h_pq_writer *tw = g->tw;
    if (tw->err != R2H_OK)
        return tw->err;
    if (tw->opt.rows) /* unencoded row groups: the rows are handed over as buffered */
        return R2H_OK;
    g->start = tw->sink->bytes;
    for (size_t i = 0; i < tw->ncols; i++)
        if (r2h_pq_chunk_write(tw, &tw->cols[i], tw->nrows, &tw->meta[i]) != R2H_OK)
            return tw->err;
    g->encoded = 1;
    return R2H_OK;
}

const char *r2h_pq_group_errmsg(const struct r2h_pq_group *g)
{
    return g->tw->errmsg;
}

enum r2h_status r2h_pq_writer_append_group(struct r2h_pq_writer *w, struct r2h_pq_group *g)
{
    struct r2h_pq_writer *tw = g->tw;
    if (!w || w->err != R2H_OK)
        return w ? w->err : R2H_ERR_INVALID;
    if (tw->err != R2H_OK)
        return r2h_pq_fail(w, tw->err, "%s", tw->errmsg);
    if (w->nrows || w->ncols != tw->ncols)
        return r2h_pq_fail(w, R2H_ERR_INVALID, "a group needs an empty row group and one schema");
    const size_t nrows = tw->nrows;
    if (w->opt.rows) {
        if (nrows && hand_rows(w, tw->cols, nrows) != R2H_OK)
            return w->err;
        w->total_rows += (int64_t)nrows;
        w->num_row_groups += nrows > 0;
        for (size_t i = 0; i < tw->ncols; i++)
            column_reset(&tw->cols[i]);
        tw->nrows = 0;
        return R2H_OK;
    }
    if (nrows && !g->encoded && r2h_pq_group_encode(g) != R2H_OK)
        return r2h_pq_fail(w, tw->err, "%s", tw->errmsg);
    if (nrows) {
        size_t len = 0;
        const uint8_t *p = r2h_sink_mem_data(tw->sink, &len);
        const int64_t delta = (int64_t)w->sink->bytes - (int64_t)g->start;
        if (r2h_sink_write(w->sink, p, len) != R2H_OK)
            return r2h_pq_fail(w, w->sink->error, "%s", w->sink->errmsg);
        for (size_t i = 0; i < w->ncols; i++) {
            tw->meta[i].data_off += delta;
            if (tw->meta[i].dict_off >= 0)
                tw->meta[i].dict_off += delta;
        }
        if (append_row_group_of(w, tw->cols, tw->meta, nrows) != R2H_OK)
            return w->err;
        w->total_rows += (int64_t)nrows;
        w->num_row_groups++;
    }
    for (size_t i = 0; i < tw->ncols; i++)
        column_reset(&tw->cols[i]);
    tw->nrows = 0;
    r2h_sink_mem_clear(tw->sink);
    g->start = tw->sink->bytes;
    g->encoded = 0;
    return R2H_OK;
}
