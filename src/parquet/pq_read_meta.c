/* pq_read_meta.c - Parquet reader: footer queries (counts, columns, key-value) and statistics. */
#include <string.h>

#include "pq_reader_internal.h"

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
