/* pq_reader_internal.h - reader internals for pq_reader.c and pq_read_{meta,decode,column}.c */
#ifndef R2H_PQ_READER_INTERNAL_H
#define R2H_PQ_READER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "pq_internal.h"
#include "r2h_io.h"
#include "r2h_pq_reader.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet reader assumes a little-endian host"
#endif

enum { PQ_BOOLEAN = 0, PQ_INT96 = 3, PQ_FLBA = 7 };
enum {
    ENC_PLAIN = 0,
    ENC_PLAIN_DICT = 2,
    ENC_RLE = 3,
    ENC_DELTA = 5,
    ENC_RLE_DICT = 8,
    ENC_BSS = 9
};

struct pq_rcol {
    const char *name;
    enum r2h_pq_type type;
    int optional;
    int32_t phys;
    size_t psz; /* bytes per decoded physical value (BOOLEAN: 1); 0 for byte arrays */
};

struct r2h_pq_reader {
    char *path;             /* for messages */
    struct r2h_source *src; /* NULL over memory */
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

/* Record "path: detail" as the reader's last error message; returns st. */
enum r2h_status r2h_pq_rfail(struct r2h_pq_reader *r, enum r2h_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Bytes [off, off + n) of the file: a pointer into memory, or read from the source into buf
 * (so a reader over a source holds the footer and one column chunk at a time, never the file). */
enum r2h_status r2h_pq_read_at(struct r2h_pq_reader *r, uint64_t off, size_t n, struct r2h_buf *buf,
                               const uint8_t **out);

/* First byte of a chunk: the dictionary page if there is one before the data pages (pyarrow
 * writes data_page_offset 0 for an empty chunk with a dictionary page). */
int64_t r2h_pq_rchunk_start(const struct pq_rchunk *c);

/* ---- page decoders (pq_read_decode.c): return NULL or a static error detail ---- */

/* Definition levels of n rows: RLE/bit-packed hybrid of width 1 from [p, p + len) into out. */
const char *r2h_pq_decode_levels(const uint8_t *p, size_t len, uint8_t *out, size_t n);

/* Values section of a page: m non-null physical values into r->vals (psz bytes each). */
const char *r2h_pq_decode_values(struct r2h_pq_reader *r, const struct pq_rcol *c, int32_t enc,
                                 const uint8_t *p, size_t len, size_t m);

#endif
