/* pq_thrift.c - Thrift compact protocol encoder for the Parquet footer and page headers. */
#include <string.h>

#include "pq_internal.h"

void r2h_pq_thrift_init(struct r2h_pq_thrift *t, struct r2h_buf *out)
{
    memset(t, 0, sizeof *t);
    t->out = out;
}

static void put_byte(struct r2h_pq_thrift *t, uint8_t b)
{
    if (t->err == R2H_OK)
        t->err = r2h_buf_push_byte(t->out, b);
}

static void put_bytes(struct r2h_pq_thrift *t, const void *p, size_t n)
{
    if (t->err == R2H_OK)
        t->err = r2h_buf_append(t->out, p, n);
}

void r2h_pq_thrift_uvarint(struct r2h_pq_thrift *t, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    put_bytes(t, tmp, n);
}

static uint64_t zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Short form (delta 1..15) when possible; long form = type byte + zigzag i16 id. */
void r2h_pq_thrift_field(struct r2h_pq_thrift *t, int16_t id, enum pq_ctype type)
{
    int16_t *last = &t->last[t->depth];
    int delta = id - *last;
    if (delta > 0 && delta <= 15) {
        put_byte(t, (uint8_t)((delta << 4) | type));
    } else {
        put_byte(t, (uint8_t)type);
        r2h_pq_thrift_uvarint(t, zigzag64(id));
    }
    *last = id;
}

void r2h_pq_thrift_i8(struct r2h_pq_thrift *t, int16_t id, int8_t v)
{
    r2h_pq_thrift_field(t, id, PQ_CT_I8);
    put_byte(t, (uint8_t)v);
}

void r2h_pq_thrift_i32(struct r2h_pq_thrift *t, int16_t id, int32_t v)
{
    r2h_pq_thrift_field(t, id, PQ_CT_I32);
    r2h_pq_thrift_uvarint(t, zigzag64(v));
}

void r2h_pq_thrift_i64(struct r2h_pq_thrift *t, int16_t id, int64_t v)
{
    r2h_pq_thrift_field(t, id, PQ_CT_I64);
    r2h_pq_thrift_uvarint(t, zigzag64(v));
}

/* Compact bool fields carry their value in the type nibble: no payload byte. */
void r2h_pq_thrift_bool(struct r2h_pq_thrift *t, int16_t id, int v)
{
    r2h_pq_thrift_field(t, id, v ? PQ_CT_TRUE : PQ_CT_FALSE);
}

void r2h_pq_thrift_binary(struct r2h_pq_thrift *t, int16_t id, const void *p, size_t n)
{
    r2h_pq_thrift_field(t, id, PQ_CT_BINARY);
    r2h_pq_thrift_elem_binary(t, p, n);
}

void r2h_pq_thrift_string(struct r2h_pq_thrift *t, int16_t id, const char *s)
{
    r2h_pq_thrift_binary(t, id, s, strlen(s));
}

void r2h_pq_thrift_struct_begin(struct r2h_pq_thrift *t, int16_t id)
{
    if (id > 0)
        r2h_pq_thrift_field(t, id, PQ_CT_STRUCT);
    if (t->depth + 1 >= PQ_THRIFT_MAX_DEPTH) {
        t->err = R2H_ERR_INTERNAL;
        return;
    }
    t->last[++t->depth] = 0; /* nested structs count field ids from 0 again */
}

void r2h_pq_thrift_struct_end(struct r2h_pq_thrift *t)
{
    put_byte(t, PQ_CT_STOP);
    if (t->depth > 0)
        t->depth--;
    else
        t->err = R2H_ERR_INTERNAL;
}

void r2h_pq_thrift_list_begin(struct r2h_pq_thrift *t, int16_t id, enum pq_ctype elem, size_t n)
{
    if (id > 0)
        r2h_pq_thrift_field(t, id, PQ_CT_LIST);
    if (n < 15) {
        put_byte(t, (uint8_t)((n << 4) | elem));
    } else {
        put_byte(t, (uint8_t)(0xF0 | elem));
        r2h_pq_thrift_uvarint(t, n);
    }
}

void r2h_pq_thrift_elem_i32(struct r2h_pq_thrift *t, int32_t v)
{
    r2h_pq_thrift_uvarint(t, zigzag64(v));
}

/* Binary lengths are plain (not zigzag) varints. */
void r2h_pq_thrift_elem_binary(struct r2h_pq_thrift *t, const void *p, size_t n)
{
    r2h_pq_thrift_uvarint(t, n);
    put_bytes(t, p, n);
}
