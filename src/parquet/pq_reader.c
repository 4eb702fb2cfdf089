/* pq_reader.c - Parquet reader: footer validation, statistics, page decoding of flat columns. */
#include <errno.h>
#include <fcntl.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "pq_internal.h"
#include "r2h_pq_reader.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet reader assumes a little-endian host"
#endif

enum { PQ_BOOLEAN = 0, PQ_INT96 = 3, PQ_FLBA = 7 };
enum { PG_DATA = 0, PG_INDEX = 1, PG_DICT = 2, PG_DATA_V2 = 3 };
enum {
    ENC_PLAIN = 0,
    ENC_PLAIN_DICT = 2,
    ENC_RLE = 3,
    ENC_DELTA = 5,
    ENC_RLE_DICT = 8,
    ENC_BSS = 9
};

#define PQ_MAX_RG_ROWS INT32_MAX /* flat column chunks of more rows are treated as corrupt */
#define PQ_MAX_PAGE_BYTES (1u << 30)

struct pq_rcol {
    const char *name;
    enum r2h_pq_type type;
    int optional;
    int32_t phys;
    size_t psz; /* bytes per decoded physical value (BOOLEAN: 1); 0 for byte arrays */
};

struct r2h_pq_reader {
    char *path; /* for messages */
    int fd;     /* -1 over memory */
    const uint8_t *mem;
    uint64_t size;
    uint64_t data_end; /* start of the footer: column chunks end before it */
    struct pq_rfile_meta meta;
    struct pq_rcol *cols;
    size_t ncols;
    ZSTD_DCtx *zctx;
    struct r2h_buf chunk, page, vals, dict, idx, defs; /* scratch of read_column */
    size_t ndict;
    char errmsg[512];
};

static enum r2h_status rfail(struct r2h_pq_reader *r, enum r2h_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum r2h_status rfail(struct r2h_pq_reader *r, enum r2h_status st, const char *fmt, ...)
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
    if (r->fd >= 0)
        close(r->fd);
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

/* Bytes [off, off + n) of the file: a pointer into memory, or read into buf. */
static enum r2h_status read_at(struct r2h_pq_reader *r, uint64_t off, size_t n, struct r2h_buf *buf,
                               const uint8_t **out)
{
    if (off > r->size || n > r->size - off)
        return rfail(r, R2H_ERR_FORMAT, "range %llu+%zu is outside the file (%llu bytes)",
                     (unsigned long long)off, n, (unsigned long long)r->size);
    if (r->mem) {
        *out = r->mem + off;
        return R2H_OK;
    }
    buf->len = 0;
    if (r2h_buf_reserve(buf, n ? n : 1) != R2H_OK)
        return rfail(r, R2H_ERR_NOMEM, "out of memory reading %zu bytes", n);
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(r->fd, buf->data + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return rfail(r, R2H_ERR_IO, "read failed: %s", strerror(errno));
        if (k == 0)
            return rfail(r, R2H_ERR_FORMAT, "unexpected end of file at %llu",
                         (unsigned long long)(off + got));
        got += (size_t)k;
    }
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
        return rfail(r, R2H_ERR_FORMAT, "schema has no columns");
    if (m->schema[0].num_children != (int32_t)(m->nschema - 1))
        return rfail(r, R2H_ERR_FORMAT, "nested schema (not supported)");
    r->ncols = m->nschema - 1;
    r->cols = r2h_calloc(r->ncols, sizeof *r->cols);
    if (!r->cols)
        return rfail(r, R2H_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->ncols; i++) {
        const struct pq_rschema *s = &m->schema[i + 1];
        if (!s->name || s->type < 0 || s->type > PQ_FLBA || s->num_children > 0)
            return rfail(r, R2H_ERR_FORMAT, "schema element %zu is not a flat leaf", i + 1);
        if (s->repetition != 0 && s->repetition != 1)
            return rfail(r, R2H_ERR_FORMAT, "column '%s' is repeated (not supported)", s->name);
        column_from_schema(&r->cols[i], s);
    }
    return R2H_OK;
}

/* First byte of a chunk: the dictionary page if there is one before the data pages (pyarrow
 * writes data_page_offset 0 for an empty chunk with a dictionary page). */
static int64_t chunk_start(const struct pq_rchunk *c)
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
        return rfail(r, R2H_ERR_FORMAT,
                     "row group %zu, column '%s': no metadata or an external "
                     "file (not supported)",
                     g, name);
    if (c->phys != r->cols[i].phys)
        return rfail(r, R2H_ERR_FORMAT, "row group %zu, column '%s': type differs from the schema",
                     g, name);
    int64_t start = chunk_start(c);
    if (r->meta.rgs[g].num_rows > 0 &&
        (start < 4 || c->comp_size < 0 || (uint64_t)start > r->data_end ||
         (uint64_t)c->comp_size > r->data_end - (uint64_t)start))
        return rfail(r, R2H_ERR_FORMAT,
                     "row group %zu, column '%s': data range %lld+%lld is "
                     "outside the file's data",
                     g, name, (long long)start, (long long)c->comp_size);
    if (c->num_values != r->meta.rgs[g].num_rows)
        return rfail(r, R2H_ERR_FORMAT, "row group %zu, column '%s': %lld values for %lld rows", g,
                     name, (long long)c->num_values, (long long)r->meta.rgs[g].num_rows);
    return R2H_OK;
}

static enum r2h_status check_row_groups(struct r2h_pq_reader *r)
{
    const struct pq_rfile_meta *m = &r->meta;
    uint64_t total = 0;
    if (!m->has_num_rows || m->num_rows < 0)
        return rfail(r, R2H_ERR_FORMAT, "footer has no valid row count");
    for (size_t g = 0; g < m->nrgs; g++) {
        const struct pq_rrowgroup *rg = &m->rgs[g];
        if (rg->num_rows < 0 || rg->num_rows > PQ_MAX_RG_ROWS)
            return rfail(r, R2H_ERR_FORMAT, "row group %zu: bad row count %lld", g,
                         (long long)rg->num_rows);
        if (rg->nchunks != r->ncols)
            return rfail(r, R2H_ERR_FORMAT, "row group %zu: %zu column chunks for %zu columns", g,
                         rg->nchunks, r->ncols);
        for (size_t i = 0; i < r->ncols; i++) {
            enum r2h_status st = check_chunk(r, g, i);
            if (st != R2H_OK)
                return st;
        }
        total += (uint64_t)rg->num_rows;
    }
    if (total != (uint64_t)m->num_rows)
        return rfail(r, R2H_ERR_FORMAT, "row groups hold %llu rows, the footer says %lld",
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
        return rfail(r, R2H_ERR_FORMAT, "not a Parquet file (%llu bytes)",
                     (unsigned long long)r->size);
    if ((st = read_at(r, 0, 4, &r->chunk, &p)) != R2H_OK)
        return st;
    if (memcmp(p, "PAR1", 4) != 0)
        return rfail(r, R2H_ERR_FORMAT, "not a Parquet file (no leading magic)");
    if ((st = read_at(r, r->size - 8, 8, &r->chunk, &p)) != R2H_OK)
        return st;
    if (memcmp(p + 4, "PAR1", 4) != 0)
        return rfail(r, R2H_ERR_FORMAT,
                     memcmp(p + 4, "PARE", 4) == 0
                         ? "encrypted footer (not supported)"
                         : "no trailing magic (truncated or not Parquet)");
    uint32_t flen =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (flen > r->size - 12)
        return rfail(r, R2H_ERR_FORMAT, "footer length %u exceeds the file size", flen);
    r->data_end = r->size - 8 - flen;
    if ((st = read_at(r, r->data_end, flen, &fbuf, &p)) != R2H_OK)
        goto out;
    st = r2h_pq_meta_parse(p, flen, &r->meta, detail, sizeof detail);
    if (st != R2H_OK) {
        rfail(r, st, "corrupt footer: %s", detail);
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
    r->fd = -1;
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
    struct stat sb;
    if (!path || !out) {
        r2h_fmt(errbuf, errbuf_len, "no path");
        return R2H_ERR_INVALID;
    }
    struct r2h_pq_reader *r = reader_new(path);
    if (!r) {
        r2h_fmt(errbuf, errbuf_len, "%s: out of memory", path);
        return R2H_ERR_NOMEM;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &sb) != 0) {
        r2h_fmt(errbuf, errbuf_len, "%s: cannot open: %s", path, strerror(errno));
        r2h_pq_reader_close(r);
        return R2H_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        r2h_fmt(errbuf, errbuf_len, "%s: not a regular file", path);
        r2h_pq_reader_close(r);
        return R2H_ERR_IO;
    }
    r->size = (uint64_t)sb.st_size;
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

/* ---- footer accessors ---- */

uint64_t r2h_pq_reader_num_rows(const struct r2h_pq_reader *r)
{
    return r ? (uint64_t)r->meta.num_rows : 0;
}

size_t r2h_pq_reader_num_columns(const struct r2h_pq_reader *r)
{
    return r ? r->ncols : 0;
}

size_t r2h_pq_reader_num_row_groups(const struct r2h_pq_reader *r)
{
    return r ? r->meta.nrgs : 0;
}

uint64_t r2h_pq_reader_file_size(const struct r2h_pq_reader *r)
{
    return r ? r->size : 0;
}

const char *r2h_pq_reader_created_by(const struct r2h_pq_reader *r)
{
    return r && r->meta.created_by ? r->meta.created_by : "";
}

enum r2h_status r2h_pq_reader_column(const struct r2h_pq_reader *r, size_t i, const char **name,
                                     enum r2h_pq_type *type, int *optional)
{
    if (!r || i >= r->ncols)
        return R2H_ERR_INVALID;
    if (name)
        *name = r->cols[i].name;
    if (type)
        *type = r->cols[i].type;
    if (optional)
        *optional = r->cols[i].optional;
    return R2H_OK;
}

int r2h_pq_reader_find_column(const struct r2h_pq_reader *r, const char *name)
{
    for (size_t i = 0; r && name && i < r->ncols && i < INT32_MAX; i++)
        if (strcmp(r->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

size_t r2h_pq_reader_kv_count(const struct r2h_pq_reader *r)
{
    return r ? r->meta.nkvs : 0;
}

enum r2h_status r2h_pq_reader_kv_at(const struct r2h_pq_reader *r, size_t i, const char **key,
                                    const char **value)
{
    if (!r || i >= r->meta.nkvs)
        return R2H_ERR_INVALID;
    if (key)
        *key = r->meta.kvs[i].key ? r->meta.kvs[i].key : "";
    if (value)
        *value = r->meta.kvs[i].value;
    return R2H_OK;
}

const char *r2h_pq_reader_kv(const struct r2h_pq_reader *r, const char *key)
{
    for (size_t i = 0; r && key && i < r->meta.nkvs; i++)
        if (r->meta.kvs[i].key && strcmp(r->meta.kvs[i].key, key) == 0)
            return r->meta.kvs[i].value;
    return NULL;
}

uint64_t r2h_pq_reader_row_group_rows(const struct r2h_pq_reader *r, size_t rg)
{
    return r && rg < r->meta.nrgs ? (uint64_t)r->meta.rgs[rg].num_rows : 0;
}

uint64_t r2h_pq_reader_chunk_bytes(const struct r2h_pq_reader *r, size_t rg, size_t col)
{
    if (!r || rg >= r->meta.nrgs || col >= r->ncols)
        return 0;
    return (uint64_t)r->meta.rgs[rg].chunks[col].comp_size;
}

/* ---- statistics ---- */

static int is_unsigned(enum r2h_pq_type t)
{
    return t == R2H_PQ_UINT8 || t == R2H_PQ_UINT16 || t == R2H_PQ_UINT32 || t == R2H_PQ_UINT64;
}

/* One statistics value as uint64 bits (integers sign- or zero-extended) and as a double. */
static int stat_value(const struct pq_rcol *c, const uint8_t *b, size_t len, uint64_t *u, double *d)
{
    if (len != c->psz || c->psz == 0)
        return 0;
    if (c->phys == PQ_FLOAT) {
        float f;
        memcpy(&f, b, 4);
        *d = f;
    } else if (c->phys == PQ_DOUBLE) {
        memcpy(d, b, 8);
    } else if (c->phys == PQ_BOOLEAN) {
        *u = b[0] != 0;
        *d = (double)*u;
    } else if (c->phys == PQ_INT32) {
        uint32_t v;
        memcpy(&v, b, 4);
        *u = is_unsigned(c->type) ? v : (uint64_t)(int64_t)(int32_t)v;
        *d = is_unsigned(c->type) ? (double)v : (double)(int32_t)v;
    } else {
        memcpy(u, b, 8);
        *d = is_unsigned(c->type) ? (double)*u : (double)(int64_t)*u;
    }
    return 1;
}

static int chunk_minmax(const struct r2h_pq_reader *r, size_t rg, size_t col, uint64_t *umin,
                        uint64_t *umax, double *dmin, double *dmax)
{
    const struct pq_rcol *c = &r->cols[col];
    const struct pq_rstats *s = &r->meta.rgs[rg].chunks[col].stats;
    if (s->has_min && s->has_max)
        return stat_value(c, s->min, s->min_len, umin, dmin) &&
               stat_value(c, s->max, s->max_len, umax, dmax);
    /* legacy min/max were written in signed order: meaningless for unsigned columns */
    if (s->has_legacy_min && s->has_legacy_max && !is_unsigned(c->type))
        return stat_value(c, s->lmin, s->lmin_len, umin, dmin) &&
               stat_value(c, s->lmax, s->lmax_len, umax, dmax);
    return 0;
}

enum r2h_status r2h_pq_reader_stats(const struct r2h_pq_reader *r, size_t rg, size_t col,
                                    int *has_minmax, double *min, double *max, uint64_t *null_count)
{
    uint64_t umin = 0, umax = 0;
    double dmin = 0, dmax = 0;
    if (!r || rg >= r->meta.nrgs || col >= r->ncols)
        return R2H_ERR_INVALID;
    const struct pq_rstats *s = &r->meta.rgs[rg].chunks[col].stats;
    int has = chunk_minmax(r, rg, col, &umin, &umax, &dmin, &dmax);
    if (has_minmax)
        *has_minmax = has;
    if (min)
        *min = has ? dmin : 0;
    if (max)
        *max = has ? dmax : 0;
    if (null_count)
        *null_count = s->has_null_count ? (uint64_t)s->null_count : UINT64_MAX;
    return R2H_OK;
}

enum r2h_status r2h_pq_reader_stats_u64(const struct r2h_pq_reader *r, size_t rg, size_t col,
                                        int *has_minmax, uint64_t *min, uint64_t *max)
{
    uint64_t umin = 0, umax = 0;
    double dmin, dmax;
    if (!r || rg >= r->meta.nrgs || col >= r->ncols)
        return R2H_ERR_INVALID;
    int32_t phys = r->cols[col].phys;
    if (phys != PQ_INT32 && phys != PQ_INT64 && phys != PQ_BOOLEAN)
        return R2H_ERR_INVALID;
    int has = chunk_minmax(r, rg, col, &umin, &umax, &dmin, &dmax);
    if (has_minmax)
        *has_minmax = has;
    if (min)
        *min = has ? umin : 0;
    if (max)
        *max = has ? umax : 0;
    return R2H_OK;
}

/* ---- page decoding (decoders return NULL or a static error detail) ---- */

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

static const char oom[] = "out of memory";

/* Values section of a page: m non-null physical values into r->vals (psz bytes each). */
static const char *decode_values(struct r2h_pq_reader *r, const struct pq_rcol *c, int32_t enc,
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
    return hybrid_u8(lv, lvlen, 1, r->defs.data, n, 1);
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
    if ((why = decode_values(r, c, h->encoding, vp, vlen, m)) != NULL)
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
        return rfail(r, R2H_ERR_INVALID, "row group %zu / column %zu out of range", rg, col);
    const struct pq_rcol *c = &r->cols[col];
    const struct pq_rchunk *ch = &r->meta.rgs[rg].chunks[col];
    if (c->psz == 0)
        return rfail(r, R2H_ERR_INVALID, "column '%s' is not numeric", c->name);
    size_t rows = (size_t)r->meta.rgs[rg].num_rows, len = (size_t)ch->comp_size;
    uint64_t start = (uint64_t)chunk_start(ch);
    const uint8_t *base;
    if (rows == 0)
        return R2H_OK;
    enum r2h_status st = read_at(r, start, len, &r->chunk, &base);
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
            return rfail(r, R2H_ERR_FORMAT,
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
        return rfail(r, why == oom ? R2H_ERR_NOMEM : R2H_ERR_FORMAT,
                     "row group %zu, column '%s': %s (near row %zu of %zu)", rg, c->name, why, row,
                     rows);
    return R2H_OK;
}
