/* r2h_sink.h - byte sinks in the shape of redis' rio: write/close/abort, byte counter, sticky
 * error. */
#ifndef R2H_SINK_H
#define R2H_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"

struct r2h_sink;

/* Operations of one sink kind. write() appends n bytes; commit() makes the output visible
 * (atomic rename, multipart completion) and releases resources; abort() discards everything
 * written and releases resources. */
struct r2h_sink_ops {
    enum r2h_status (*write)(struct r2h_sink *s, const void *p, size_t n);
    enum r2h_status (*commit)(struct r2h_sink *s);
    void (*abort)(struct r2h_sink *s);
};

struct r2h_sink {
    const struct r2h_sink_ops *ops;
    uint64_t bytes;        /* bytes accepted so far */
    enum r2h_status error; /* sticky: first failure; later writes are skipped */
    char errmsg[512];      /* context of the first failure (path, errno text) */
    void *impl;            /* kind-specific state */
};

/* Append n bytes. After the first failure every call returns that same error without writing.
 * Not thread-safe: one sink, one thread at a time. */
enum r2h_status r2h_sink_write(struct r2h_sink *s, const void *p, size_t n);

/* Commit (if no error so far) and free the sink. On error the output is discarded as by abort,
 * the error is returned and its message copied to errbuf (may be NULL). s may be NULL (no-op,
 * R2H_OK). */
enum r2h_status r2h_sink_close(struct r2h_sink *s, char *errbuf, size_t errbuf_len);

/* Discard the output and free the sink. NULL is a no-op. */
void r2h_sink_abort(struct r2h_sink *s);

/* Memory sink: bytes accumulate in memory. r2h_sink_mem_take() hands the bytes to the caller
 * (caller frees with r2h_free) and leaves the sink empty; call it before close. */
enum r2h_status r2h_sink_mem_open(struct r2h_sink **out);
uint8_t *r2h_sink_mem_take(struct r2h_sink *s, size_t *len);
/* The bytes held (valid until the next write or clear), and forgetting them while keeping the
 * memory (the sink's byte count goes on: the next byte written is number s->bytes). */
const uint8_t *r2h_sink_mem_data(const struct r2h_sink *s, size_t *len);
void r2h_sink_mem_clear(struct r2h_sink *s);

/* Local file sink: writes to a hidden temporary file in the target's directory
 * ("<dir>/.<name>.tmp-<pid>-<n>"); commit flushes, fsyncs, renames onto path and fsyncs the
 * directory; abort unlinks the temporary file. The directory must exist. */
enum r2h_status r2h_sink_file_open(const char *path, struct r2h_sink **out, char *errbuf,
                                   size_t errbuf_len);

/* Remote sink through GDAL's virtual file systems (/vsis3/, /vsigs/, /vsiaz/, ...): bytes are
 * streamed (multipart upload) to a hidden temporary key beside the target
 * ("<dir>/.<name>.tmp-<pid>-<n>"); commit completes that upload and renames (server-side copy)
 * it onto the target, so the target key appears only complete; abort deletes the temporary key.
 * An interrupted upload leaves at most a hidden temporary key or an incomplete multipart upload,
 * neither of which readers list as a partition. HTTP failures map to R2H_ERR_TRANSIENT (5xx,
 * 429, timeouts, connection errors) or R2H_ERR_IO, with the key and HTTP status in errmsg. */
enum r2h_status r2h_sink_vsi_open(const char *path, struct r2h_sink **out, char *errbuf,
                                  size_t errbuf_len);

#endif
