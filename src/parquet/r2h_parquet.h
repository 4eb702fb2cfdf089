/* r2h_parquet.h - streaming Parquet writer for flat schemas (module API, internal to the library).
 */
#ifndef R2H_PARQUET_H
#define R2H_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"
#include "r2h_sink.h"

/* Logical column types. Unsigned and small types are stored as Parquet INT32/INT64 with both
 * ConvertedType and LogicalType annotations (uint8/uint16 zero-extended). */
enum r2h_pq_type {
    R2H_PQ_INT8,
    R2H_PQ_UINT8,
    R2H_PQ_INT16,
    R2H_PQ_UINT16,
    R2H_PQ_INT32,
    R2H_PQ_UINT32,
    R2H_PQ_INT64,
    R2H_PQ_UINT64,
    R2H_PQ_FLOAT,
    R2H_PQ_DOUBLE,
    R2H_PQ_STRING
};

/* Values are the Parquet CompressionCodec ids. */
enum r2h_pq_codec { R2H_PQ_CODEC_NONE = 0, R2H_PQ_CODEC_SNAPPY = 1, R2H_PQ_CODEC_ZSTD = 6 };

/* Value encoding of data pages. AUTO picks per column and per row group (see
 * docs/design/0002-parquet-writer.md); DICT falls back to PLAIN for a row group whose dictionary
 * would exceed R2H_PQ_DICT_MAX_BYTES; DELTA is valid for integer columns only. */
enum r2h_pq_encoding { R2H_PQ_ENC_AUTO = 0, R2H_PQ_ENC_PLAIN, R2H_PQ_ENC_DICT, R2H_PQ_ENC_DELTA };

#define R2H_PQ_DICT_MAX_BYTES (1u << 20)
#define R2H_PQ_PAGE_MAX_BYTES (1u << 20)

struct r2h_pq_column_spec {
    const char *name;
    enum r2h_pq_type type;
    int optional; /* 1: OPTIONAL (nullable), 0: REQUIRED */
    enum r2h_pq_encoding encoding;
    int sorted_ascending; /* caller promises ascending order; the first such column is recorded
                           * as RowGroup.sorting_columns for each row group where the writer
                           * verified it (no nulls, ascending in the column's sort order) */
    int delta_gaps;       /* DELTA on a REQUIRED 64-bit column: a page ends before a step of
                           * 2^27 or more (after at least 256 values), so that a sorted column
                           * with gaps keeps DELTA pages instead of falling back to PLAIN */
};

/* One column of a row group as the writer buffers it (unencoded row groups, below): the
 * non-null values in their Parquet physical type (8-, 16- and 32-bit integers as int32,
 * sign- or zero-extended; 64-bit as int64; float; double; strings as bytes with nvals + 1
 * uint64 offsets) and, for OPTIONAL columns, one 0/1 byte per row. */
struct r2h_pq_rowgroup_column {
    const char *name;
    enum r2h_pq_type type;
    int optional;
    const void *values;
    const uint64_t *offsets; /* STRING only */
    const uint8_t *valid;    /* OPTIONAL only: 1 = a value */
    size_t nvals;            /* values (non-null rows) */
};

/* Unencoded row groups: a writer whose options name one of these hands each row group to
 * group(ctx, ...) instead of encoding it (the columns are borrowed for the call; it may be
 * called from any thread that writes, appends or closes) and writes nothing to a sink (which
 * may be NULL). An error it returns is the writer's (sticky). */
struct r2h_pq_rows {
    enum r2h_status (*group)(void *ctx, const struct r2h_pq_rowgroup_column *cols, size_t ncols,
                             size_t nrows);
    void *ctx;
};

struct r2h_pq_options {
    const struct r2h_pq_rows *rows; /* NULL: Parquet; else unencoded row groups to rows */
    enum r2h_pq_codec codec;
    int level;              /* zstd level (ignored by other codecs) */
    size_t row_group_rows;  /* rows per row group (the last one may be shorter) */
    size_t page_rows;       /* max rows per data page; pages are also cut at ~1 MiB */
    const char *created_by; /* NULL: "raster2h3 version <R2H_VERSION_STRING>" */
};

/* Defaults: zstd level 3, 1,048,576 rows per row group, 20,000 rows per page. NULL is a no-op. */
void r2h_pq_options_init(struct r2h_pq_options *o);

struct r2h_pq_column_data {
    const void *values;   /* native C array of the column type; STRING: const char *const *
                           * (NUL-terminated UTF-8). Null rows may hold any value. */
    const uint8_t *valid; /* NULL = all valid; else 1 byte per row, 0 = null (OPTIONAL only) */
};

struct r2h_pq_writer;

/* Create a writer over sink and write the leading magic. The writer takes ownership of sink in
 * every case (on failure here it is aborted): it is committed by close and aborted by abort or
 * on error. cols/opt are copied (opt NULL = defaults). Errors: R2H_ERR_INVALID (bad schema or
 * option), R2H_ERR_NOMEM, sink errors. Not thread-safe: one writer, one thread at a time. */
enum r2h_status r2h_pq_writer_open(struct r2h_sink *sink, const struct r2h_pq_column_spec *cols,
                                   size_t ncols, const struct r2h_pq_options *opt,
                                   struct r2h_pq_writer **out);

/* Add a key-value pair to the file footer (copied). value may be NULL. */
enum r2h_status r2h_pq_writer_add_kv(struct r2h_pq_writer *w, const char *key, const char *value);

/* Append nrows rows: cols[i] holds the data of schema column i. Full row groups are encoded and
 * written to the sink. Errors are sticky: after one, every call returns it. A null in a REQUIRED
 * column, a NULL or invalid UTF-8 string give R2H_ERR_INVALID. */
enum r2h_status r2h_pq_writer_write(struct r2h_pq_writer *w, const struct r2h_pq_column_data *cols,
                                    size_t nrows);

/* Flush the last row group, write the footer, commit the sink and free the writer. On any
 * error (now or earlier) the sink is aborted so nothing that parses as a complete file is left,
 * the writer is freed and its message copied to errbuf (may be NULL). w NULL: R2H_ERR_INVALID. */
enum r2h_status r2h_pq_writer_close(struct r2h_pq_writer *w, char *errbuf, size_t errbuf_len);

/* Abort the sink and free the writer. NULL is a no-op. */
void r2h_pq_writer_abort(struct r2h_pq_writer *w);

/* Row groups encoded on other threads. A group is a twin of a writer (same columns and
 * options) that buffers rows and encodes them into memory; r2h_pq_writer_append_group then
 * writes it as the next row group of a writer with no rows buffered, and empties the group for
 * reuse. Distinct groups may be filled and encoded on distinct threads at once; appending
 * is the writer's (one thread at a time). Files are the same as writing the rows with
 * r2h_pq_writer_write and row_group_rows cut at the same places. */
struct r2h_pq_group;
enum r2h_status r2h_pq_group_new(const struct r2h_pq_column_spec *cols, size_t ncols,
                                 const struct r2h_pq_options *opt, struct r2h_pq_group **out);
enum r2h_status r2h_pq_group_write(struct r2h_pq_group *g, const struct r2h_pq_column_data *cols,
                                   size_t nrows);
size_t r2h_pq_group_rows(const struct r2h_pq_group *g);
/* Encode and compress the buffered rows (optional: append does it if not done). */
enum r2h_status r2h_pq_group_encode(struct r2h_pq_group *g);
const char *r2h_pq_group_errmsg(const struct r2h_pq_group *g);
enum r2h_status r2h_pq_writer_append_group(struct r2h_pq_writer *w, struct r2h_pq_group *g);
void r2h_pq_group_free(struct r2h_pq_group *g);

/* Message of the first error ("" if none). Valid until the writer is freed. */
const char *r2h_pq_writer_errmsg(const struct r2h_pq_writer *w);

#endif
