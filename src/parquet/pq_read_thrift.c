/* pq_read_thrift.c - Thrift compact protocol decoder for the Parquet footer and page headers. */
#include <string.h>

#include "pq_internal.h"
#include "r2h_pq_reader.h"

/* Nesting limit for structs/lists/maps, known or skipped: FileMetaData needs 6. */
#define TDEC_MAX_DEPTH 32

/* Decoder over [p, end). The first error is sticky and every later read returns zeros. */
struct tdec {
    const uint8_t *p, *end;
    enum r2h_status st;
    int depth;
    char *err;
    size_t err_len;
};

static int fail(struct tdec *d, enum r2h_status st, const char *what)
{
    if (d->st == R2H_OK) {
        d->st = st;
        r2h_fmt(d->err, d->err_len, "%s", what);
    }
    d->p = d->end;
    return 0;
}

static size_t remaining(const struct tdec *d)
{
    return (size_t)(d->end - d->p);
}

static uint8_t get_byte(struct tdec *d)
{
    if (d->p >= d->end)
        return (uint8_t)fail(d, R2H_ERR_FORMAT, "truncated metadata");
    return *d->p++;
}

static uint64_t get_uvarint(struct tdec *d)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (d->p >= d->end)
            return fail(d, R2H_ERR_FORMAT, "truncated metadata");
        uint8_t b = *d->p++;
        if (shift == 63 && b > 1)
            break;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return v;
    }
    return fail(d, R2H_ERR_FORMAT, "varint too long in metadata");
}

static int64_t get_zigzag(struct tdec *d)
{
    uint64_t u = get_uvarint(d);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Read the next field header of the current struct: 0 at STOP or on error. */
static int next_field(struct tdec *d, int16_t *last, int16_t *id, int *type)
{
    uint8_t b = get_byte(d);
    if (b == PQ_CT_STOP || d->st != R2H_OK)
        return 0;
    *type = b & 0x0F;
    if (b >> 4) {
        *id = (int16_t)(*last + (b >> 4));
    } else {
        int64_t v = get_zigzag(d);
        if (v < INT16_MIN || v > INT16_MAX)
            return fail(d, R2H_ERR_FORMAT, "bad field id in metadata");
        *id = (int16_t)v;
    }
    *last = *id;
    return d->st == R2H_OK;
}

static int enter(struct tdec *d)
{
    if (++d->depth > TDEC_MAX_DEPTH)
        return fail(d, R2H_ERR_FORMAT, "metadata nested too deeply");
    return 1;
}

/* List (or set) header; elements take at least one byte each, which bounds n by the input. */
static size_t list_header(struct tdec *d, int *elem)
{
    uint8_t b = get_byte(d);
    uint64_t n = b >> 4;
    *elem = b & 0x0F;
    if (n == 15)
        n = get_uvarint(d);
    if (n > remaining(d))
        return (size_t)fail(d, R2H_ERR_FORMAT, "list longer than the metadata");
    return (size_t)n;
}

static void skip_value(struct tdec *d, int type, int in_list);

static void skip_struct(struct tdec *d)
{
    int16_t last = 0, id;
    int type;
    if (!enter(d))
        return;
    while (next_field(d, &last, &id, &type))
        skip_value(d, type, 0);
    d->depth--;
}

/* Skip one value of any type. Bools in a struct field live in the header; in a list they are
 * one byte. */
static void skip_value(struct tdec *d, int type, int in_list)
{
    int elem, kt, vt;
    size_t n;
    switch (type) {
    case PQ_CT_TRUE:
    case PQ_CT_FALSE:
        if (in_list)
            get_byte(d);
        return;
    case PQ_CT_I8: get_byte(d); return;
    case PQ_CT_I16:
    case PQ_CT_I32:
    case PQ_CT_I64: get_uvarint(d); return;
    case PQ_CT_DOUBLE:
    case 13: /* UUID: 16 bytes */
        n = type == PQ_CT_DOUBLE ? 8 : 16;
        if (remaining(d) < n)
            fail(d, R2H_ERR_FORMAT, "truncated metadata");
        else
            d->p += n;
        return;
    case PQ_CT_BINARY: {
        uint64_t len = get_uvarint(d);
        if (len > remaining(d))
            fail(d, R2H_ERR_FORMAT, "string longer than the metadata");
        else
            d->p += len;
        return;
    }
    case PQ_CT_LIST:
    case 10: /* SET */
        n = list_header(d, &elem);
        if (!enter(d))
            return;
        for (size_t i = 0; i < n && d->st == R2H_OK; i++)
            skip_value(d, elem, 1);
        d->depth--;
        return;
    case 11: { /* MAP: size, then key/value types if non-empty */
        uint64_t m = get_uvarint(d);
        if (m == 0)
            return;
        if (m > remaining(d) / 2) {
            fail(d, R2H_ERR_FORMAT, "map longer than the metadata");
            return;
        }
        uint8_t kv = get_byte(d);
        kt = kv >> 4, vt = kv & 0x0F;
        if (!enter(d))
            return;
        for (uint64_t i = 0; i < m && d->st == R2H_OK; i++) {
            skip_value(d, kt, 1);
            skip_value(d, vt, 1);
        }
        d->depth--;
        return;
    }
    case PQ_CT_STRUCT: skip_struct(d); return;
    default: fail(d, R2H_ERR_FORMAT, "unknown type in metadata"); return;
    }
}

/* ---- typed field readers: a type mismatch is corruption ---- */

static int want(struct tdec *d, int type, int expected)
{
    if (type == expected)
        return 1;
    return fail(d, R2H_ERR_FORMAT, "field of unexpected type in metadata");
}

static int32_t rd_i32(struct tdec *d, int type)
{
    if (!want(d, type, PQ_CT_I32))
        return 0;
    int64_t v = get_zigzag(d);
    if (v < INT32_MIN || v > INT32_MAX)
        return fail(d, R2H_ERR_FORMAT, "i32 out of range in metadata");
    return (int32_t)v;
}

static int64_t rd_i64(struct tdec *d, int type)
{
    return want(d, type, PQ_CT_I64) ? get_zigzag(d) : 0;
}

static int rd_bool(struct tdec *d, int type)
{
    if (type == PQ_CT_TRUE || type == PQ_CT_FALSE)
        return type == PQ_CT_TRUE;
    return fail(d, R2H_ERR_FORMAT, "field of unexpected type in metadata");
}

static const uint8_t *rd_binary(struct tdec *d, size_t *len)
{
    uint64_t n = get_uvarint(d);
    if (n > remaining(d)) {
        fail(d, R2H_ERR_FORMAT, "string longer than the metadata");
        return NULL;
    }
    const uint8_t *p = d->p;
    d->p += n;
    *len = (size_t)n;
    return p;
}

/* Copy a binary field into a new NUL-terminated string (replacing a duplicate field). */
static void rd_string(struct tdec *d, int type, char **out)
{
    size_t n = 0;
    if (!want(d, type, PQ_CT_BINARY))
        return;
    const uint8_t *p = rd_binary(d, &n);
    if (!p)
        return;
    char *s = r2h_malloc(n + 1);
    if (!s) {
        fail(d, R2H_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    r2h_free(*out);
    *out = s;
}

/* Statistics binary value: keep the first 8 bytes and the full length. */
static void rd_stat(struct tdec *d, int type, int *has, uint8_t *dst, size_t *len)
{
    size_t n = 0;
    if (!want(d, type, PQ_CT_BINARY))
        return;
    const uint8_t *p = rd_binary(d, &n);
    if (!p)
        return;
    memset(dst, 0, 8);
    memcpy(dst, p, n < 8 ? n : 8);
    *len = n;
    *has = 1;
}

/* Open a list<struct> field and allocate n zeroed elements of size sz; NULL with n 0 is an
 * empty list. A duplicate list field is corruption (the first list is returned). */
static void *rd_struct_list(struct tdec *d, int type, void *existing, size_t sz, size_t *n)
{
    int elem;
    if (existing) { /* keep it (and its count) so that it is freed */
        fail(d, R2H_ERR_FORMAT, "duplicate list in metadata");
        return existing;
    }
    *n = 0;
    if (!want(d, type, PQ_CT_LIST))
        return NULL;
    size_t k = list_header(d, &elem);
    if (d->st != R2H_OK || (k && !want(d, elem, PQ_CT_STRUCT)) || k == 0)
        return NULL;
    void *a = r2h_calloc(k, sz);
    if (!a) {
        fail(d, R2H_ERR_NOMEM, "out of memory");
        return NULL;
    }
    *n = k;
    return a;
}

#define STRUCT_FIELDS(d, id, type)                                                                 \
    int16_t last_ = 0, id;                                                                         \
    int type;                                                                                      \
    if (!enter(d))                                                                                 \
        return;                                                                                    \
    while (next_field(d, &last_, &id, &type))

/* ---- Parquet structs ---- */

static void parse_int_type(struct tdec *d, struct pq_rschema *s)
{
    STRUCT_FIELDS(d, id, type)
    {
        if (id == 1 && type == PQ_CT_I8)
            s->int_bits = (int8_t)get_byte(d);
        else if (id == 2)
            s->int_signed = rd_bool(d, type);
        else
            skip_value(d, type, 0);
    }
    d->depth--;
}

static void parse_logical_type(struct tdec *d, struct pq_rschema *s)
{
    STRUCT_FIELDS(d, id, type)
    {
        if (id == 10 && type == PQ_CT_STRUCT)
            parse_int_type(d, s);
        else
            skip_value(d, type, 0);
    }
    d->depth--;
}

static void parse_schema_element(struct tdec *d, struct pq_rschema *s)
{
    s->type = s->type_length = s->repetition = s->num_children = s->converted = -1;
    STRUCT_FIELDS(d, id, type)
    {
        switch (id) {
        case 1: s->type = rd_i32(d, type); break;
        case 2: s->type_length = rd_i32(d, type); break;
        case 3: s->repetition = rd_i32(d, type); break;
        case 4: rd_string(d, type, &s->name); break;
        case 5: s->num_children = rd_i32(d, type); break;
        case 6: s->converted = rd_i32(d, type); break;
        case 10:
            if (want(d, type, PQ_CT_STRUCT))
                parse_logical_type(d, s);
            break;
        default: skip_value(d, type, 0); break;
        }
    }
    d->depth--;
}

static void parse_stats(struct tdec *d, struct pq_rstats *s)
{
    STRUCT_FIELDS(d, id, type)
    {
        switch (id) {
        case 1: rd_stat(d, type, &s->has_legacy_max, s->lmax, &s->lmax_len); break;
        case 2: rd_stat(d, type, &s->has_legacy_min, s->lmin, &s->lmin_len); break;
        case 3:
            s->null_count = rd_i64(d, type);
            s->has_null_count = s->null_count >= 0;
            break;
        case 5: rd_stat(d, type, &s->has_max, s->max, &s->max_len); break;
        case 6: rd_stat(d, type, &s->has_min, s->min, &s->min_len); break;
        default: skip_value(d, type, 0); break;
        }
    }
    d->depth--;
}

static void parse_column_meta(struct tdec *d, struct pq_rchunk *c)
{
    c->has_meta = 1;
    STRUCT_FIELDS(d, id, type)
    {
        switch (id) {
        case 1: c->phys = rd_i32(d, type); break;
        case 4: c->codec = rd_i32(d, type); break;
        case 5: c->num_values = rd_i64(d, type); break;
        case 6: c->unc_size = rd_i64(d, type); break;
        case 7: c->comp_size = rd_i64(d, type); break;
        case 9: c->data_off = rd_i64(d, type); break;
        case 11: c->dict_off = rd_i64(d, type); break;
        case 12:
            if (want(d, type, PQ_CT_STRUCT))
                parse_stats(d, &c->stats);
            break;
        default: skip_value(d, type, 0); break; /* encodings, path, kv, index offsets... */
        }
    }
    d->depth--;
}

static void parse_column_chunk(struct tdec *d, struct pq_rchunk *c)
{
    c->phys = c->codec = -1;
    c->num_values = c->unc_size = c->comp_size = c->data_off = c->dict_off = -1;
    STRUCT_FIELDS(d, id, type)
    {
        if (id == 1 && type == PQ_CT_BINARY) {
            c->has_file_path = 1;
            skip_value(d, type, 0);
        } else if (id == 3 && type == PQ_CT_STRUCT) {
            parse_column_meta(d, c);
        } else {
            skip_value(d, type, 0);
        }
    }
    d->depth--;
}

static void parse_row_group(struct tdec *d, struct pq_rrowgroup *g)
{
    g->num_rows = -1;
    STRUCT_FIELDS(d, id, type)
    {
        if (id == 1) {
            g->chunks = rd_struct_list(d, type, g->chunks, sizeof *g->chunks, &g->nchunks);
            for (size_t i = 0; i < g->nchunks && d->st == R2H_OK; i++)
                parse_column_chunk(d, &g->chunks[i]);
        } else if (id == 3) {
            g->num_rows = rd_i64(d, type);
        } else {
            skip_value(d, type, 0);
        }
    }
    d->depth--;
}

static void parse_kv(struct tdec *d, struct pq_rkv *kv)
{
    STRUCT_FIELDS(d, id, type)
    {
        if (id == 1)
            rd_string(d, type, &kv->key);
        else if (id == 2)
            rd_string(d, type, &kv->value);
        else
            skip_value(d, type, 0);
    }
    d->depth--;
}

static void parse_file_meta(struct tdec *d, struct pq_rfile_meta *m)
{
    STRUCT_FIELDS(d, id, type)
    {
        switch (id) {
        case 1: m->version = rd_i32(d, type); break;
        case 2:
            m->schema = rd_struct_list(d, type, m->schema, sizeof *m->schema, &m->nschema);
            for (size_t i = 0; i < m->nschema && d->st == R2H_OK; i++)
                parse_schema_element(d, &m->schema[i]);
            break;
        case 3:
            m->num_rows = rd_i64(d, type);
            m->has_num_rows = 1;
            break;
        case 4:
            m->rgs = rd_struct_list(d, type, m->rgs, sizeof *m->rgs, &m->nrgs);
            for (size_t i = 0; i < m->nrgs && d->st == R2H_OK; i++)
                parse_row_group(d, &m->rgs[i]);
            break;
        case 5:
            m->kvs = rd_struct_list(d, type, m->kvs, sizeof *m->kvs, &m->nkvs);
            for (size_t i = 0; i < m->nkvs && d->st == R2H_OK; i++)
                parse_kv(d, &m->kvs[i]);
            break;
        case 6: rd_string(d, type, &m->created_by); break;
        default: skip_value(d, type, 0); break;
        }
    }
    d->depth--;
}

enum r2h_status r2h_pq_meta_parse(const uint8_t *buf, size_t len, struct pq_rfile_meta *m,
                                  char *err, size_t err_len)
{
    struct tdec d = {buf, buf + len, R2H_OK, 0, err, err_len};
    memset(m, 0, sizeof *m);
    m->version = -1;
    parse_file_meta(&d, m);
    return d.st;
}

void r2h_pq_meta_free(struct pq_rfile_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->schema && i < m->nschema; i++)
        r2h_free(m->schema[i].name);
    r2h_free(m->schema);
    for (size_t i = 0; m->rgs && i < m->nrgs; i++)
        r2h_free(m->rgs[i].chunks);
    r2h_free(m->rgs);
    for (size_t i = 0; m->kvs && i < m->nkvs; i++) {
        r2h_free(m->kvs[i].key);
        r2h_free(m->kvs[i].value);
    }
    r2h_free(m->kvs);
    r2h_free(m->created_by);
    memset(m, 0, sizeof *m);
}

/* DataPageHeader (V1), DictionaryPageHeader and DataPageHeaderV2 share one parser: their
 * field ids differ only in meaning, which depends on the page type. */
static void parse_page_sub(struct tdec *d, struct pq_rpage_header *h, int which)
{
    h->has_sub = 1;
    STRUCT_FIELDS(d, id, type)
    {
        if (type == PQ_CT_I32 && id >= 1 && id <= 6) {
            int32_t v = rd_i32(d, type);
            if (id == 1)
                h->num_values = v;
            else if (which == 8 && id == 2)
                h->num_nulls = v;
            else if (which == 8 && id == 3)
                h->num_rows = v;
            else if ((which != 8 && id == 2) || (which == 8 && id == 4))
                h->encoding = v;
            else if (which == 5 && id == 3)
                h->def_encoding = v;
            else if (which == 8 && id == 5)
                h->def_len = v;
            else if (which == 8 && id == 6)
                h->rep_len = v;
        } else if (which == 8 && id == 7) {
            h->is_compressed = rd_bool(d, type);
        } else {
            skip_value(d, type, 0);
        }
    }
    d->depth--;
}

static void parse_page_header(struct tdec *d, struct pq_rpage_header *h)
{
    STRUCT_FIELDS(d, id, type)
    {
        switch (id) {
        case 1: h->type = rd_i32(d, type); break;
        case 2: h->unc_size = rd_i32(d, type); break;
        case 3: h->comp_size = rd_i32(d, type); break;
        case 5:
        case 7:
        case 8:
            if (want(d, type, PQ_CT_STRUCT) && id == (h->type == 0 ? 5 : h->type == 2 ? 7 : 8))
                parse_page_sub(d, h, id);
            else
                skip_value(d, type, 0);
            break;
        default: skip_value(d, type, 0); break;
        }
    }
    d->depth--;
}

enum r2h_status r2h_pq_page_header_parse(const uint8_t *buf, size_t len, struct pq_rpage_header *h,
                                         size_t *used, char *err, size_t err_len)
{
    struct tdec d = {buf, buf + len, R2H_OK, 0, err, err_len};
    memset(h, 0, sizeof *h);
    h->type = h->unc_size = h->comp_size = h->num_values = h->encoding = -1;
    h->def_encoding = h->num_nulls = h->num_rows = h->def_len = h->rep_len = -1;
    h->is_compressed = 1;
    parse_page_header(&d, h);
    *used = (size_t)(d.p - buf);
    return d.st;
}
