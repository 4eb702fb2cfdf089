/* common.c - status names, allocation hook, byte buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "r2h_common.h"

const char *r2h_status_str(enum r2h_status s)
{
    switch (s) {
    case R2H_OK: return "ok";
    case R2H_ERR_NOMEM: return "out of memory";
    case R2H_ERR_INVALID: return "invalid argument";
    case R2H_ERR_IO: return "I/O error";
    case R2H_ERR_INPUT: return "bad input";
    case R2H_ERR_CRS: return "CRS error";
    case R2H_ERR_H3: return "H3 error";
    case R2H_ERR_FORMAT: return "format error";
    case R2H_ERR_INTERNAL: return "internal error";
    case R2H_ERR_INTERRUPTED: return "interrupted";
    case R2H_ERR_TRANSIENT: return "transient I/O error";
    }
    return "unknown status";
}

static long alloc_fail_countdown;

void r2h_alloc_fail_after(long n)
{
    alloc_fail_countdown = n;
}

static int alloc_should_fail(void)
{
    if (alloc_fail_countdown <= 0)
        return 0;
    return --alloc_fail_countdown == 0;
}

void *r2h_malloc(size_t n)
{
    return alloc_should_fail() ? NULL : malloc(n ? n : 1);
}

void r2h_prefault(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    const uintptr_t page = 4096;
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
    if (p && b > a)
        (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE); /* advice: failure is harmless */
#else
    (void)p;
    (void)n;
#endif
}

void *r2h_calloc(size_t n, size_t size)
{
    return alloc_should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *r2h_realloc(void *p, size_t n)
{
    return alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
}

void r2h_free(void *p)
{
    free(p);
}

char *r2h_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = r2h_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

enum r2h_status r2h_buf_reserve(struct r2h_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return R2H_OK;
    size_t need = b->len + extra;
    if (need < b->len)
        return R2H_ERR_NOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    uint8_t *p = r2h_realloc(b->data, cap);
    if (!p)
        return R2H_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return R2H_OK;
}

enum r2h_status r2h_buf_append(struct r2h_buf *b, const void *p, size_t n)
{
    enum r2h_status st = r2h_buf_reserve(b, n);
    if (st != R2H_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return R2H_OK;
}

enum r2h_status r2h_buf_push_byte(struct r2h_buf *b, uint8_t v)
{
    return r2h_buf_append(b, &v, 1);
}

void r2h_buf_clear(struct r2h_buf *b)
{
    b->len = 0;
}

void r2h_buf_free(struct r2h_buf *b)
{
    r2h_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void r2h_fmt(char *dst, size_t dst_len, const char *fmt, ...)
{
    if (!dst || !dst_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, dst_len, fmt, ap);
    va_end(ap);
}

enum r2h_status r2h_options_copy(void *dst, size_t dst_size, const void *caller, size_t caller_size,
                                 size_t min_size, const char *init_name, char *err, size_t errlen)
{
    if (!caller || caller_size < min_size) {
        r2h_fmt(err, errlen,
                "options struct_size %zu is smaller than %zu: initialise the options with %s",
                caller ? caller_size : (size_t)0, min_size, init_name);
        return R2H_ERR_INVALID;
    }
    memcpy(dst, caller, caller_size < dst_size ? caller_size : dst_size);
    return R2H_OK;
}

double r2h_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

uint64_t r2h_peak_rss(void)
{
    /* VmHWM belongs to this process image; getrusage's maxrss also counts what the parent had
     * mapped when it forked us (it survives exec), which misleads under Python's subprocess. */
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        unsigned long long kb = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
                break;
        fclose(f);
        if (kb)
            return (uint64_t)kb * 1024u;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}
