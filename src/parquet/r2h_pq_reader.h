/* r2h_pq_reader.h - Parquet reader for flat schemas: footer, statistics, numeric column chunks. */
#ifndef R2H_PQ_READER_H
#define R2H_PQ_READER_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"
#include "r2h_parquet.h"

/* What it reads: flat schemas (a root and leaf columns, REQUIRED or OPTIONAL), data pages V1 and
 * V2, encodings PLAIN, RLE_DICTIONARY/PLAIN_DICTIONARY (PLAIN dictionary page),
 * DELTA_BINARY_PACKED, BYTE_STREAM_SPLIT and RLE (booleans), codecs UNCOMPRESSED, SNAPPY, ZSTD.
 * Physical types map to enum r2h_pq_type: INT32/INT64 by their INTEGER logical type or
 * ConvertedType (none: INT32/INT64), FLOAT, DOUBLE, BOOLEAN as UINT8 (0/1), BYTE_ARRAY,
 * FIXED_LEN_BYTE_ARRAY and INT96 as STRING (listed, but not readable as values).
 *
 * Every offset and length from the file is checked against the file size before use; buffers
 * are bounded by the file size, a page by 16 bytes per value + 4 KiB. Corrupt or truncated input
 * gives R2H_ERR_FORMAT, never a crash or a hang. Little-endian hosts only. */

struct r2h_pq_reader;

/* Open a file (any location r2h_source_open takes) and parse its footer (the file stays open;
 * column data is read on demand).
 * Errors: R2H_ERR_INVALID (NULL argument), R2H_ERR_IO (cannot open/read), R2H_ERR_FORMAT (not
 * Parquet, corrupt footer, nested schema), R2H_ERR_NOMEM; the message "path: detail" is copied
 * to errbuf (may be NULL). *out is written only on success; free with r2h_pq_reader_close. A
 * reader is used by one thread at a time; distinct readers are independent. */
enum r2h_status r2h_pq_reader_open(const char *path, struct r2h_pq_reader **out, char *errbuf,
                                   size_t errbuf_len);

/* Same over a source (src/io: a local file or any GDAL virtual file, s3:// included), which
 * the reader owns from this call on (also when it fails); name is for messages. The reader
 * reads the footer, then one column chunk at a time as columns are read, so it holds the
 * footer and the largest column chunk read (compressed and decoded) and never the whole file:
 * a remote partition is read range by range within that bound. Errors as above, plus the
 * source's R2H_ERR_TRANSIENT / R2H_ERR_INPUT for a remote read that failed. */
struct r2h_source;
enum r2h_status r2h_pq_reader_open_source(struct r2h_source *src, const char *name,
                                          struct r2h_pq_reader **out, char *errbuf,
                                          size_t errbuf_len);

/* Same over a memory buffer, borrowed: it must outlive the reader. Messages name "<memory>". */
enum r2h_status r2h_pq_reader_open_mem(const uint8_t *data, size_t len, struct r2h_pq_reader **out,
                                       char *errbuf, size_t errbuf_len);

/* Close the file and free the reader. NULL is a no-op. */
void r2h_pq_reader_close(struct r2h_pq_reader *r);

/* Footer facts. Strings returned stay valid until the reader is closed. */
uint64_t r2h_pq_reader_num_rows(const struct r2h_pq_reader *r);
size_t r2h_pq_reader_num_columns(const struct r2h_pq_reader *r);
size_t r2h_pq_reader_num_row_groups(const struct r2h_pq_reader *r);
uint64_t r2h_pq_reader_file_size(const struct r2h_pq_reader *r);
const char *r2h_pq_reader_created_by(const struct r2h_pq_reader *r); /* "" if absent */

/* Column i: name, logical type and OPTIONAL flag (each output may be NULL).
 * R2H_ERR_INVALID if i is out of range. */
enum r2h_status r2h_pq_reader_column(const struct r2h_pq_reader *r, size_t i, const char **name,
                                     enum r2h_pq_type *type, int *optional);

/* Index of the first column named name, -1 if absent. */
int r2h_pq_reader_find_column(const struct r2h_pq_reader *r, const char *name);

/* Value of the first key-value pair with this key; NULL if absent (or the pair has no value). */
const char *r2h_pq_reader_kv(const struct r2h_pq_reader *r, const char *key);

/* Key-value pairs by position: count, and pair i (value may be NULL). */
size_t r2h_pq_reader_kv_count(const struct r2h_pq_reader *r);
enum r2h_status r2h_pq_reader_kv_at(const struct r2h_pq_reader *r, size_t i, const char **key,
                                    const char **value);

/* Rows of row group rg (0 if rg is out of range). */
uint64_t r2h_pq_reader_row_group_rows(const struct r2h_pq_reader *r, size_t rg);

/* Compressed bytes of column chunk (rg, col) as the footer states them (0 if out of range). */
uint64_t r2h_pq_reader_chunk_bytes(const struct r2h_pq_reader *r, size_t rg, size_t col);

/* Statistics of column col in row group rg, as doubles (integers exact up to 2^53). min/max
 * come from min_value/max_value, or from the legacy min/max for signed-order types only.
 * has_minmax 0: absent (or a STRING column); null_count UINT64_MAX: absent. Any output may be
 * NULL. R2H_ERR_INVALID if rg/col is out of range. */
enum r2h_status r2h_pq_reader_stats(const struct r2h_pq_reader *r, size_t rg, size_t col,
                                    int *has_minmax, double *min, double *max,
                                    uint64_t *null_count);

/* Integer statistics exactly: min/max as uint64 (signed types sign-extended to 64 bits, so
 * cast to int64_t). R2H_ERR_INVALID for non-integer columns or rg/col out of range. */
enum r2h_status r2h_pq_reader_stats_u64(const struct r2h_pq_reader *r, size_t rg, size_t col,
                                        int *has_minmax, uint64_t *min, uint64_t *max);

/* Read column col of row group rg into values: row_group_rows elements of the native C type
 * (int8_t for INT8, uint8_t for UINT8 and BOOLEAN, ... uint64_t, float, double); null rows get
 * 0. valid: NULL or 1 byte per row (0 = null). STRING columns: R2H_ERR_INVALID. Corrupt data:
 * R2H_ERR_FORMAT (values/valid may be partly written); message in r2h_pq_reader_errmsg. */
enum r2h_status r2h_pq_reader_read_column(struct r2h_pq_reader *r, size_t rg, size_t col,
                                          void *values, uint8_t *valid);

/* Message of the last failed call ("" if none): "path: detail". */
const char *r2h_pq_reader_errmsg(const struct r2h_pq_reader *r);

/* ---- internals shared by the reader's files (pq_read_thrift.c, pq_reader.c, pq_read_*.c;
 * not for other modules) ---- */

/* Statistics of one column chunk: raw min/max bytes (first 8 kept) and their lengths. */
struct pq_rstats {
    int has_min, has_max, has_legacy_min, has_legacy_max, has_null_count;
    uint8_t min[8], max[8], lmin[8], lmax[8];
    size_t min_len, max_len, lmin_len, lmax_len;
    int64_t null_count;
};

struct pq_rchunk {
    int has_meta, has_file_path;
    int32_t phys, codec;
    int64_t num_values, unc_size, comp_size, data_off, dict_off; /* dict_off -1: absent */
    struct pq_rstats stats;
};

struct pq_rrowgroup {
    int64_t num_rows;
    struct pq_rchunk *chunks;
    size_t nchunks;
};

/* One SchemaElement; -1 in an int field means "absent". */
struct pq_rschema {
    char *name;
    int32_t type, type_length, repetition, num_children, converted;
    int int_bits, int_signed; /* LogicalType INTEGER; int_bits 0: absent */
};

struct pq_rkv {
    char *key, *value;
};

struct pq_rfile_meta {
    int32_t version;
    struct pq_rschema *schema;
    size_t nschema;
    int64_t num_rows;
    int has_num_rows;
    struct pq_rrowgroup *rgs;
    size_t nrgs;
    struct pq_rkv *kvs;
    size_t nkvs;
    char *created_by;
};

struct pq_rpage_header {
    int32_t type, unc_size, comp_size;
    int32_t num_values, encoding;                  /* data page V1/V2, dictionary page */
    int32_t def_encoding;                          /* V1 */
    int32_t num_nulls, num_rows, def_len, rep_len; /* V2 */
    int is_compressed;                             /* V2 (default 1) */
    int has_sub;                                   /* the type's sub-header was present */
};

/* Parse FileMetaData from buf (all strings copied); free with r2h_pq_meta_free even on error.
 * R2H_ERR_FORMAT with a detail in err, or R2H_ERR_NOMEM. */
enum r2h_status r2h_pq_meta_parse(const uint8_t *buf, size_t len, struct pq_rfile_meta *m,
                                  char *err, size_t err_len);
void r2h_pq_meta_free(struct pq_rfile_meta *m);

/* Parse a PageHeader at the start of buf; *used receives its size. */
enum r2h_status r2h_pq_page_header_parse(const uint8_t *buf, size_t len, struct pq_rpage_header *h,
                                         size_t *used, char *err, size_t err_len);

#endif
