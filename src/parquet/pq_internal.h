/* pq_internal.h - Parquet module internals: thrift compact encoder and page encodings. */
#ifndef R2H_PQ_INTERNAL_H
#define R2H_PQ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"

/* Thrift compact-protocol field types (thrift-compact-protocol.md). */
enum pq_ctype {
    PQ_CT_STOP = 0,
    PQ_CT_TRUE = 1,
    PQ_CT_FALSE = 2,
    PQ_CT_I8 = 3,
    PQ_CT_I16 = 4,
    PQ_CT_I32 = 5,
    PQ_CT_I64 = 6,
    PQ_CT_DOUBLE = 7,
    PQ_CT_BINARY = 8,
    PQ_CT_LIST = 9,
    PQ_CT_STRUCT = 12
};

#define PQ_THRIFT_MAX_DEPTH 16

/* Thrift compact writer appending to a buffer. Errors (allocation, nesting) are sticky in err;
 * callers check once at the end. */
struct r2h_pq_thrift {
    struct r2h_buf *out;
    enum r2h_status err;
    int depth;
    int16_t last[PQ_THRIFT_MAX_DEPTH]; /* last field id per open struct */
};

void r2h_pq_thrift_init(struct r2h_pq_thrift *t, struct r2h_buf *out);
void r2h_pq_thrift_uvarint(struct r2h_pq_thrift *t, uint64_t v);
void r2h_pq_thrift_field(struct r2h_pq_thrift *t, int16_t id, enum pq_ctype type);
void r2h_pq_thrift_i8(struct r2h_pq_thrift *t, int16_t id, int8_t v);
void r2h_pq_thrift_i32(struct r2h_pq_thrift *t, int16_t id, int32_t v);
void r2h_pq_thrift_i64(struct r2h_pq_thrift *t, int16_t id, int64_t v);
void r2h_pq_thrift_bool(struct r2h_pq_thrift *t, int16_t id, int v);
void r2h_pq_thrift_binary(struct r2h_pq_thrift *t, int16_t id, const void *p, size_t n);
void r2h_pq_thrift_string(struct r2h_pq_thrift *t, int16_t id, const char *s);
/* Open a struct-valued field (id > 0) or a struct list element (id == 0); close with _end. */
void r2h_pq_thrift_struct_begin(struct r2h_pq_thrift *t, int16_t id);
void r2h_pq_thrift_struct_end(struct r2h_pq_thrift *t);
/* List field header (id > 0) or a bare list header (id == 0); elements follow. */
void r2h_pq_thrift_list_begin(struct r2h_pq_thrift *t, int16_t id, enum pq_ctype elem, size_t n);
/* List elements of type i32 and binary. */
void r2h_pq_thrift_elem_i32(struct r2h_pq_thrift *t, int32_t v);
void r2h_pq_thrift_elem_binary(struct r2h_pq_thrift *t, const void *p, size_t n);

/* Number of bits needed to represent v (0 for 0). */
int r2h_pq_bit_width(uint64_t v);

/* Pack n values (n multiple of 8) of width w (0..64) LSB-first; appends n*w/8 bytes. Values
 * must fit in w bits. */
enum r2h_status r2h_pq_bitpack(struct r2h_buf *out, const uint64_t *v, size_t n, int w);

/* RLE/bit-packed hybrid runs of n values of width w (no length prefix). */
enum r2h_status r2h_pq_rle_hybrid(struct r2h_buf *out, const uint32_t *v, size_t n, int w);

/* Definition levels (width 1) of a V1 page: 4-byte LE length then hybrid runs. def[i] is 0/1. */
enum r2h_status r2h_pq_def_levels(struct r2h_buf *out, const uint8_t *def, size_t n);

/* DELTA_BINARY_PACKED (block 128, 4 miniblocks) of n values; wrapping arithmetic in 32 bits
 * when is32 (v is const int32_t *), else 64 bits (v is const int64_t *). *max_width receives
 * the widest miniblock bit width used. */
enum r2h_status r2h_pq_delta_encode(struct r2h_buf *out, const void *v, size_t n, int is32,
                                    int *max_width);

/* fastparquet (<= 2026.9) decodes DELTA_BINARY_PACKED miniblocks wider than 28 bits wrongly
 * (its 64-bit bit reader overflows; from ~56 bits it crashes), so wider pages are written PLAIN.
 * See docs/design/0002-parquet-writer.md. */
#define PQ_DELTA_MAX_WIDTH 28

/* PLAIN for BYTE_ARRAY: 4-byte LE length then bytes for each of n strings given as offsets
 * into data (n + 1 offsets). */
enum r2h_status r2h_pq_plain_strings(struct r2h_buf *out, const uint8_t *data, const uint64_t *offs,
                                     size_t n);

/* ---- writer internals shared by pq_writer.c, pq_column.c and pq_chunk.c ---- */

#include <zstd.h>

#include "r2h_parquet.h"

/* Parquet enum values (parquet.thrift). */
enum pq_phys { PQ_INT32 = 1, PQ_INT64 = 2, PQ_FLOAT = 4, PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6 };
enum pq_enc { PQ_PLAIN = 0, PQ_RLE = 3, PQ_DELTA_BINARY_PACKED = 5, PQ_RLE_DICTIONARY = 8 };
enum pq_page_type { PQ_DATA_PAGE = 0, PQ_DICTIONARY_PAGE = 2 };

#define PQ_STRING_STATS_MAX 4096 /* longer string min/max are omitted, not truncated */

/* Buffered data of one column for the current row group. */
struct pq_column {
    char *name;
    enum r2h_pq_type type;
    int optional;
    enum r2h_pq_encoding encoding;
    int delta_gaps; /* r2h_pq_column_spec.delta_gaps */
    enum pq_phys phys;
    size_t width;        /* bytes per buffered value; 0 for strings */
    struct r2h_buf vals; /* non-null values, physical representation (strings: bytes) */
    struct r2h_buf offs; /* strings: uint64_t offsets into vals, nvals + 1 entries */
    struct r2h_buf def;  /* OPTIONAL: one 0/1 byte per buffered row */
    size_t nvals;        /* non-null values buffered */
};

/* What the footer needs to know about one written column chunk. */
struct pq_chunk_meta {
    uint32_t encodings; /* bit i set: Encoding i used */
    int64_t num_values, null_count;
    int64_t unc_size, comp_size;
    int64_t data_off, dict_off; /* dict_off -1: no dictionary page */
    int has_minmax, legacy_minmax, sorted;
    uint8_t min[8], max[8];
    const uint8_t *min_p, *max_p; /* point to min/max or into the column's string bytes */
    size_t min_len, max_len;
};

struct r2h_pq_writer {
    struct r2h_sink *sink;
    struct pq_column *cols;
    struct pq_chunk_meta *meta;
    size_t ncols;
    struct r2h_pq_options opt;
    char *created_by;
    int sort_col; /* first column declared sorted, -1 none */
    size_t nrows; /* rows buffered in the current row group */
    int64_t total_rows;
    size_t num_row_groups;
    struct r2h_buf rg_meta; /* serialized RowGroup structs, back to back */
    struct r2h_buf kv;      /* serialized KeyValue structs */
    size_t nkv;
    struct r2h_buf page, comp, hdr; /* page scratch */
    struct r2h_buf idx;             /* uint32_t dictionary indices of the chunk */
    struct r2h_buf dict;            /* dictionary values (numeric) or value numbers (strings) */
    struct r2h_buf hash;            /* dictionary hash table */
    ZSTD_CCtx *zctx;
    enum r2h_status err;
    char errmsg[512];
};

/* Record the first error (sticky) with a formatted message; returns the writer's error. */
enum r2h_status r2h_pq_fail(struct r2h_pq_writer *w, enum r2h_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append nrows rows of user data to column c (converting to the physical representation). */
enum r2h_status r2h_pq_column_append(struct r2h_pq_writer *w, struct pq_column *c,
                                     const struct r2h_pq_column_data *d, size_t from, size_t nrows);

/* Chunk statistics: null count, min/max in the column's sort order, sortedness. */
void r2h_pq_column_stats(const struct pq_column *c, size_t nrows, struct pq_chunk_meta *m);
/* The same in steps, for REQUIRED INT64/UINT64 columns: _begin as for no values, then _add for
 * consecutive row ranges [r0, r1) from row 0 (each while its rows are in cache). */
void r2h_pq_column_stats_begin(const struct pq_column *c, size_t nrows, struct pq_chunk_meta *m);
void r2h_pq_column_stats_add(const struct pq_column *c, size_t r0, size_t r1,
                             struct pq_chunk_meta *m);

/* Build the chunk's dictionary into w->dict/w->idx; m holds the chunk's statistics (from
 * r2h_pq_column_stats). Returns the entry count, or 0 when the column has no values or the
 * dictionary is too large (when auto, also when not worth it). */
size_t r2h_pq_column_dict(struct r2h_pq_writer *w, const struct pq_column *c, int automatic,
                          const struct pq_chunk_meta *m);

/* Encode and write one column chunk of nrows rows; fills m. */
enum r2h_status r2h_pq_chunk_write(struct r2h_pq_writer *w, struct pq_column *c, size_t nrows,
                                   struct pq_chunk_meta *m);

#endif
