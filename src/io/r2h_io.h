/* r2h_io.h - the I/O layer below raster, sink, parquet and dataset: locations (local paths,
 * s3:// and GDAL /vsi names), one classifier of failed I/O calls, the one collector of the GDAL
 * errors a read, a listing or a write raised, the one GDAL message formatter, and read sources (a
 * file read at offsets, local or remote). Uses common and GDAL's CPL/VSI only. */
#ifndef R2H_IO_H
#define R2H_IO_H

#include <stddef.h>

#include "r2h_common.h"

/* --- Locations ------------------------------------------------------------------------------ */

/* 1 for a location read or written through GDAL's virtual file systems: s3://bucket/key or any
 * /vsi... name; 0 for a local path. Thread-safe. */
int r2h_io_is_remote(const char *loc);
/* 1 when name is read over the network through GDAL's curl-based file systems (/vsis3/,
 * /vsicurl/, ...; not /vsimem/, /vsizip/, /vsigzip/, /vsitar/, /vsisubfile/). Thread-safe. */
int r2h_io_is_network(const char *name);
/* The GDAL name of loc: s3://bucket/key becomes /vsis3/bucket/key (formatted into tmp, which is
 * returned); any other name is returned as it is. Thread-safe. */
const char *r2h_io_gdal_name(const char *loc, char *tmp, size_t len);
/* A dataset root: loc's GDAL name with repeated '/' collapsed and trailing ones removed. */
void r2h_io_root(const char *loc, char *dst, size_t len);

/* --- Classifying failures ------------------------------------------------------------------- */

/* What a failed I/O call's messages (GDAL's and curl's text, possibly several joined) say about
 * the failure, for inputs and outputs alike: TRANSIENT (no response, timeouts, connection
 * failures, HTTP 408/429/5xx, S3 SlowDown: retry later), DENIED (HTTP 401/403, S3 AccessDenied
 * and credential errors), NOT_FOUND (HTTP 404, NoSuchKey/NoSuchBucket) or OTHER. The last HTTP
 * status in msg wins (earlier ones may be attempts GDAL retried); it is stored in *http_status
 * (-1 if none, 0 for no response) when that is non-NULL. msg may be NULL. Thread-safe. */
enum r2h_io_kind { R2H_IO_OTHER = 0, R2H_IO_TRANSIENT, R2H_IO_DENIED, R2H_IO_NOT_FOUND };
enum r2h_io_kind r2h_io_classify(const char *msg, int *http_status);

/* The one collector of GDAL errors: those raised on the calling thread between begin and end
 * (which nest like GDAL's error handlers), joined into one line in text; failed is 1 once a
 * failure was raised. begin (reads, listings: for r2h_io_classify where GDAL's return value
 * alone hides the cause) keeps the failures, the warnings that carry an HTTP status or a transfer
 * error, and the failed transfers GDAL reports on its debug channel only; repeats are dropped.
 * begin_write (the remote sink) keeps every warning and failure, and from the debug channel the
 * <Code> and <Message> of an S3 error body (request details never reach the text), which
 * r2h_io_errors_message puts first. For a network name (/vsis3/, /vsicurl/, ...) GDAL's debug
 * channel is on for the calling thread meanwhile. The struct lives on the caller's stack; begin
 * and end run on the same thread. */
struct r2h_io_errors {
    char text[1024];
    int failed;
    int writes;        /* begun by begin_write */
    int debug;         /* network name: GDAL's debug channel is on for this thread meanwhile */
    char s3code[64];   /* writes: <Code> of an S3 error body seen on the debug channel */
    char s3msg[160];   /* and its <Message> */
    char *saved_debug; /* CPL_DEBUG before begin */
};
/* name (may be NULL): the file being read, listed or written. */
void r2h_io_errors_begin(struct r2h_io_errors *e, const char *name);
void r2h_io_errors_begin_write(struct r2h_io_errors *e, const char *name);
void r2h_io_errors_end(struct r2h_io_errors *e);
/* Append VSIGetLastErrorMsg (GDAL maps S3 XML errors such as AccessDenied to it) unless the text
 * has it; before r2h_io_errors_message. */
void r2h_io_errors_add_vsi(struct r2h_io_errors *e);
/* After end: the text with the S3 error first ("HTTP <status> <Code>: <Message>; ..."), or
 * fallback when nothing was collected. Points into e. */
const char *r2h_io_errors_message(struct r2h_io_errors *e, const char *fallback);

/* The status of a failed I/O call on path from the errors it raised, with
 * "<path>: <what>: <GDAL's messages>" (or "failed") in err: R2H_ERR_TRANSIENT (retry later),
 * R2H_ERR_IO (permission denied), R2H_ERR_INPUT (not found or anything else). */
enum r2h_status r2h_io_failure(const struct r2h_io_errors *e, const char *path, const char *what,
                               char *err, size_t errlen);

/* --- Sources: reading a file at offsets ----------------------------------------------------- */

/* A file opened for reading at offsets: a local file (pread) or any location GDAL's virtual file
 * systems read (s3://, /vsis3/, /vsicurl/, /vsimem/, ...; VSIFReadL, so a remote object is
 * fetched range by range as it is read, never whole). A source is used by one thread at a time;
 * distinct sources are independent. */
struct r2h_source;
/* Open loc. Local: R2H_ERR_IO with "<loc>: cannot open: <strerror>" or "<loc>: not a regular
 * file". Remote: the status of r2h_io_failure ("<loc>: cannot read: ..."). R2H_ERR_NOMEM.
 * *out is written only on success; close with r2h_source_close. */
enum r2h_status r2h_source_open(const char *loc, struct r2h_source **out, char *err, size_t errlen);
uint64_t r2h_source_size(const struct r2h_source *s);
/* Exactly n bytes at off into dst. Failures: R2H_ERR_FORMAT "unexpected end of file at <off>"
 * when the file ends first; R2H_ERR_IO "read failed: <strerror>" for a local file; for a remote
 * one the status of r2h_io_failure with "read failed: <GDAL's messages>". detail gets the text
 * without the location. */
enum r2h_status r2h_source_pread(struct r2h_source *s, void *dst, size_t n, uint64_t off,
                                 char *detail, size_t detail_len);
/* Close and free; NULL is a no-op. */
void r2h_source_close(struct r2h_source *s);

/* --- Messages ------------------------------------------------------------------------------- */

/* Newlines and carriage returns in s become spaces (messages stay one line). */
void r2h_io_one_line(char *s);
/* "name: <GDAL's last error message>" into dst, or "name: what" when GDAL has none; one line.
 * Thread-safe (GDAL's last error is per thread). */
void r2h_io_gdal_message(char *dst, size_t len, const char *what, const char *name);

#endif
