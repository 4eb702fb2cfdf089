/* rows.c - value keys, row sorting, clocks and peak memory for the pipeline. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "r2h_pipeline.h"

#define SIGN64 0x8000000000000000ULL

static uint64_t float_key(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return (b & SIGN64) ? ~b : (b | SIGN64);
}

static double key_float(uint64_t k)
{
    uint64_t b = (k & SIGN64) ? (k & ~SIGN64) : ~k;
    double d;
    memcpy(&d, &b, 8);
    return d;
}

uint64_t r2h_value_key(enum r2h_dtype t, const void *p)
{
    switch (t) {
    case R2H_DT_UINT8: return *(const uint8_t *)p;
    case R2H_DT_UINT16: return *(const uint16_t *)p;
    case R2H_DT_UINT32: return *(const uint32_t *)p;
    case R2H_DT_UINT64: return *(const uint64_t *)p;
    case R2H_DT_INT8: return (uint64_t)(int64_t)*(const int8_t *)p ^ SIGN64;
    case R2H_DT_INT16: return (uint64_t)(int64_t)*(const int16_t *)p ^ SIGN64;
    case R2H_DT_INT32: return (uint64_t)(int64_t)*(const int32_t *)p ^ SIGN64;
    case R2H_DT_INT64: return (uint64_t)*(const int64_t *)p ^ SIGN64;
    case R2H_DT_FLOAT32: return float_key((double)*(const float *)p);
    case R2H_DT_FLOAT64: return float_key(*(const double *)p);
    }
    return 0;
}

void r2h_value_from_key(enum r2h_dtype t, uint64_t k, void *p)
{
    switch (t) {
    case R2H_DT_UINT8: *(uint8_t *)p = (uint8_t)k; break;
    case R2H_DT_UINT16: *(uint16_t *)p = (uint16_t)k; break;
    case R2H_DT_UINT32: *(uint32_t *)p = (uint32_t)k; break;
    case R2H_DT_UINT64: *(uint64_t *)p = k; break;
    case R2H_DT_INT8: *(int8_t *)p = (int8_t)(int64_t)(k ^ SIGN64); break;
    case R2H_DT_INT16: *(int16_t *)p = (int16_t)(int64_t)(k ^ SIGN64); break;
    case R2H_DT_INT32: *(int32_t *)p = (int32_t)(int64_t)(k ^ SIGN64); break;
    case R2H_DT_INT64: *(int64_t *)p = (int64_t)(k ^ SIGN64); break;
    case R2H_DT_FLOAT32: *(float *)p = (float)key_float(k); break;
    case R2H_DT_FLOAT64: *(double *)p = key_float(k); break;
    }
}

double r2h_value_double(enum r2h_dtype t, const union r2h_value *v)
{
    switch (t) {
    case R2H_DT_UINT8: return v->u8;
    case R2H_DT_INT8: return v->i8;
    case R2H_DT_UINT16: return v->u16;
    case R2H_DT_INT16: return v->i16;
    case R2H_DT_UINT32: return v->u32;
    case R2H_DT_INT32: return v->i32;
    case R2H_DT_UINT64: return (double)v->u64;
    case R2H_DT_INT64: return (double)v->i64;
    case R2H_DT_FLOAT32: return v->f;
    case R2H_DT_FLOAT64: return v->d;
    }
    return 0;
}

/* LSD radix sort on 16-bit digits of (key, cell); digits that are equal in every row are
 * skipped, so the common case (cells of one base cell, small values) takes few passes. */
enum r2h_status r2h_rows_sort(struct r2h_row *rows, size_t n)
{
    if (n < 2)
        return R2H_OK;
    struct r2h_row *tmp = r2h_malloc(n * sizeof *tmp);
    size_t *count = r2h_malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        r2h_free(tmp);
        r2h_free(count);
        return R2H_ERR_NOMEM;
    }
    r2h_rows_sort_with(rows, n, tmp, count);
    r2h_free(tmp);
    r2h_free(count);
    return R2H_OK;
}

void r2h_rows_sort_with(struct r2h_row *rows, size_t n, struct r2h_row *tmp, size_t *count)
{
    if (n < 2)
        return;
    uint64_t and_c = ~0ULL, or_c = 0, and_k = ~0ULL, or_k = 0;
    for (size_t i = 0; i < n; i++) {
        and_c &= rows[i].cell;
        or_c |= rows[i].cell;
        and_k &= rows[i].key;
        or_k |= rows[i].key;
    }
    struct r2h_row *src = rows, *dst = tmp;
    for (int pass = 0; pass < 8; pass++) {
        int on_cell = pass >= 4, shift = 16 * (pass & 3);
        uint64_t varying = on_cell ? (and_c ^ or_c) : (and_k ^ or_k);
        if (((varying >> shift) & 0xffff) == 0)
            continue;
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[((on_cell ? src[i].cell : src[i].key) >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[((on_cell ? src[i].cell : src[i].key) >> shift) & 0xffff]++] = src[i];
        struct r2h_row *t = src;
        src = dst;
        dst = t;
    }
    if (src != rows)
        memcpy(rows, src, n * sizeof *rows);
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
