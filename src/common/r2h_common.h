/* r2h_common.h - internal status helpers, allocation hook and growable byte buffers. */
#ifndef R2H_COMMON_H
#define R2H_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "raster2h3.h"

/* Allocation hook: every module allocates through these so tests can fail the Nth call.
 * r2h_free(NULL) is a no-op. */
void *r2h_malloc(size_t n);
void *r2h_calloc(size_t n, size_t size);
void *r2h_realloc(void *p, size_t n);
void r2h_free(void *p);
char *r2h_strdup(const char *s);
/* Map the pages of a fresh buffer in one system call instead of one fault per page (Linux
 * 5.14+; a no-op elsewhere or on failure). */
void r2h_prefault(void *p, size_t n);

/* Test hook: make the Nth allocation from now on fail (0 disables). Not thread-safe. */
void r2h_alloc_fail_after(long n);

/* Growable byte buffer. Zero-initialised struct is a valid empty buffer. */
struct r2h_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

enum r2h_status r2h_buf_reserve(struct r2h_buf *b, size_t extra);
enum r2h_status r2h_buf_append(struct r2h_buf *b, const void *p, size_t n);
enum r2h_status r2h_buf_push_byte(struct r2h_buf *b, uint8_t v);
void r2h_buf_clear(struct r2h_buf *b); /* len = 0, keeps memory */
void r2h_buf_free(struct r2h_buf *b);  /* frees memory, leaves an empty buffer */

/* Formatted append to b (any length); the bytes after len hold a NUL, so a buffer written only
 * this way (and by the JSON functions below) is a C string at data. */
enum r2h_status r2h_buf_printf(struct r2h_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum r2h_status r2h_buf_vprintf(struct r2h_buf *b, const char *fmt, va_list ap);

/* The one JSON writer (json.c). escape_byte: the JSON form of one byte of a string ('"' and '\\'
 * escaped, control bytes as \u00XX, others as they are) into out, NUL-terminated; returns its
 * length. string: s (NULL reads as "") quoted and escaped, appended to b. number: %.17g (reads
 * back exactly), null for NaN and infinities. Thread-safe on distinct buffers. */
size_t r2h_json_escape_byte(unsigned char c, char out[8]);
enum r2h_status r2h_json_string(struct r2h_buf *b, const char *s);
enum r2h_status r2h_json_number(struct r2h_buf *b, double v);

/* A longitude in degrees brought into [-180, 180] by one turn at most: the contract every pixel
 * centre follows (raster module) and the fast index path reproduces (index module). */
static inline double r2h_normalise_lng(double lng)
{
    if (lng > 180.0)
        lng -= 360.0;
    else if (lng < -180.0)
        lng += 360.0;
    return lng;
}

/* Format a message into dst (always NUL-terminated, truncated if needed). */
void r2h_fmt(char *dst, size_t dst_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Public option structs that grow (libdeflate's pattern): copy the caller's struct of
 * caller_size bytes (its struct_size) over dst, which holds our defaults and is dst_size
 * bytes; only min(caller_size, dst_size) bytes are read. R2H_ERR_INVALID with a message naming
 * init_name when caller_size is below min_size (the size when struct_size was introduced, or
 * an uninitialised struct). The caller then sets dst's struct_size to dst_size. */
enum r2h_status r2h_options_copy(void *dst, size_t dst_size, const void *caller, size_t caller_size,
                                 size_t min_size, const char *init_name, char *err, size_t errlen);

/* The one registry of paths to remove if the process is killed by SIGINT/SIGTERM: temporary
 * files of open file sinks, spilled runs and their directories, lock files.
 * register stores the pointer (the caller keeps the string alive until unregister) and returns
 * a slot, or -1 when the table is full; unregister(-1) is a no-op. run() is async-signal-safe:
 * it unlinks registered files, then removes registered (by then empty) directories. */
int r2h_cleanup_register(const char *path, int is_dir);
void r2h_cleanup_unregister(int slot);
void r2h_cleanup_run(void);

/* Seconds since an arbitrary epoch (monotonic clock). */
double r2h_now(void);
/* Peak resident set size of this process image in bytes (VmHWM). */
uint64_t r2h_peak_rss(void);

#endif
