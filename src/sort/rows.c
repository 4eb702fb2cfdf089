/* rows.c - row formats and row sorting. */
#include <stdio.h>
#include <string.h>

#include "r2h_sort.h"

void r2h_rowfmt_init(struct r2h_rowfmt *f, int res, int key_bits)
{
    memset(f, 0, sizeof *f);
    f->res = res;
    f->key_bits = key_bits;
    f->packed = 7 + 3 * res + key_bits <= 64;
    f->key_mask = key_bits >= 64 ? ~0ULL : (1ULL << key_bits) - 1;
    f->cell_shift = 45 - 3 * res;
    f->cell_low = (1ULL << f->cell_shift) - 1;
    f->cell_high = (1ULL << 59) | ((uint64_t)res << 52);
}

void r2h_rowfmt_init_wide(struct r2h_rowfmt *f, int res)
{
    r2h_rowfmt_init(f, res, 64);
    f->packed = 0;
    f->wide = 1;
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

/* Field f of a wide row in sort order from least significant: ord, key, cell. */
static inline uint64_t wide_field(const struct r2h_wide_row *r, int f)
{
    return f == 0 ? r->ord : f == 1 ? r->key : r->cell;
}

/* LSD radix sort on 16-bit digits of (ord, key, cell), skipping digits equal in every row, as
 * r2h_rows_sort_with. */
void r2h_wide_sort_with(struct r2h_wide_row *rows, size_t n, struct r2h_wide_row *tmp,
                        size_t *count)
{
    if (n < 2)
        return;
    uint64_t and_[3] = {~0ULL, ~0ULL, ~0ULL}, or_[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (int f = 0; f < 3; f++) {
            and_[f] &= wide_field(&rows[i], f);
            or_[f] |= wide_field(&rows[i], f);
        }
    struct r2h_wide_row *src = rows, *dst = tmp;
    for (int pass = 0; pass < 12; pass++) {
        const int f = pass / 4, shift = 16 * (pass & 3);
        if ((((and_[f] ^ or_[f]) >> shift) & 0xffff) == 0)
            continue;
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[(wide_field(&src[i], f) >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(wide_field(&src[i], f) >> shift) & 0xffff]++] = src[i];
        struct r2h_wide_row *t = src;
        src = dst;
        dst = t;
    }
    if (src != rows)
        memcpy(rows, src, n * sizeof *rows);
}

/* The bits that differ between some of a[0..n). */
static uint64_t varying_bits(const uint64_t *a, size_t n)
{
    uint64_t and_ = ~0ULL, or_ = 0;
    for (size_t i = 0; i < n; i++) {
        and_ &= a[i];
        or_ |= a[i];
    }
    return and_ ^ or_;
}

/* Shift of the 16-bit most significant digit over the varying bits v (v != 0). */
static int top_digit_shift(uint64_t v)
{
    const int top = 63 - __builtin_clzll(v);
    return top < 15 ? 0 : top - 15;
}

/* Digits of an LSD sort over the bits of `varying`: each digit starts at the lowest varying bit
 * not yet covered and is `width` bits wide; returns how many (at most 64) into shift[]. */
static int plan_digits(uint64_t varying, int width, int shift[64])
{
    int k = 0;
    while (varying) {
        const int lo = __builtin_ctzll(varying);
        shift[k++] = lo;
        varying = lo + width >= 64 ? 0 : varying & ~((1ULL << (lo + width)) - 1);
    }
    return k;
}

/* Digits of an LSD sort: shifts, common width, count. */
struct digits {
    int shift[64], n, width;
};

/* The digits with fewest passes over the bits of `varying` (widths 11 to 13 bits). */
static void choose_digits(uint64_t varying, struct digits *d)
{
    int shift[64];
    d->n = 65;
    for (int w = 11; w <= 13; w++) {
        const int k = plan_digits(varying, w, shift);
        if (k < d->n) {
            d->n = k;
            d->width = w;
            memcpy(d->shift, shift, sizeof shift);
        }
    }
}

/* Sort a[0..n) ascending on the digits d (all bits that vary in a[] must be covered), b[0..n)
 * scratch, count: d->n << d->width entries. All digit histograms come from one pass; digits
 * equal in every row are skipped. The result ends in a. */
static void lsd_sort_digits(uint64_t *a, uint64_t *b, size_t n, const struct digits *d,
                            uint32_t *count)
{
    if (n < 64) { /* insertion sort */
        for (size_t i = 1; i < n; i++) {
            uint64_t x = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1] > x; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    const size_t size = (size_t)1 << d->width, mask = size - 1;
    memset(count, 0, (size_t)d->n * size * sizeof *count);
    if (d->n == 2) { /* the common case, unrolled */
        uint32_t *c0 = count, *c1 = count + size;
        const int s0 = d->shift[0], s1 = d->shift[1];
        for (size_t i = 0; i < n; i++) {
            c0[(a[i] >> s0) & mask]++;
            c1[(a[i] >> s1) & mask]++;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            for (int p = 0; p < d->n; p++)
                count[(size_t)p * size + ((a[i] >> d->shift[p]) & mask)]++;
    }
    uint64_t *src = a, *dst = b;
    for (int p = 0; p < d->n; p++) {
        uint32_t *c = count + (size_t)p * size;
        const int sh = d->shift[p];
        if (c[(a[0] >> sh) & mask] == n)
            continue; /* one value of this digit: nothing to do */
        uint32_t sum = 0;
        for (size_t k = 0; k < size; k++) {
            uint32_t t = c[k];
            c[k] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i] >> sh) & mask]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/* Sort a[0..n) ascending (n < 2^32), b[0..n) scratch, count: R2H_SORT_COUNT entries. */
static void lsd_sort(uint64_t *a, uint64_t *b, size_t n, size_t *count)
{
    struct digits d;
    choose_digits(varying_bits(a, n), &d);
    lsd_sort_digits(a, b, n, &d, (uint32_t *)count);
}

/* Histogram of the 16-bit digit at shift over a[0..n) into hist (zeroed here). Rows come in
 * raster order, so the digit changes rarely from one row to the next: the current digit's count
 * stays in a register (a counter in memory would be a load-store chain per row). */
static void digit_histogram(const uint64_t *a, size_t n, int shift, size_t *hist)
{
    memset(hist, 0, 65536 * sizeof *hist);
    size_t cur = (a[0] >> shift) & 0xffff, run = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t d = (a[i] >> shift) & 0xffff;
        if (d != cur) {
            hist[cur] += run;
            cur = d;
            run = 0;
        }
        run++;
    }
    hist[cur] += run;
}

/* In-place most-significant-digit radix sort of a[0..n) (American flag sort): buckets on the top
 * 16 varying bits are permuted into place, then each bucket is sorted by lsd_sort through the
 * scratch when it fits (cap rows), else recursively. count: R2H_SORT_COUNT entries. */
static void msd_sort(uint64_t *a, size_t n, uint64_t *scratch, size_t cap, size_t *count)
{
    if (n <= cap) {
        lsd_sort(a, scratch, n, count);
        return;
    }
    const uint64_t varying = varying_bits(a, n);
    if (!varying)
        return;
    const int shift = top_digit_shift(varying);
    size_t *end = count, *next = count + 65536;
    digit_histogram(a, n, shift, end);
    size_t sum = 0;
    for (size_t d = 0; d < 65536; d++) {
        next[d] = sum;
        sum += end[d];
        end[d] = sum;
    }
    for (size_t d = 0; d < 65536; d++) {
        while (next[d] < end[d]) {
            uint64_t x = a[next[d]];
            size_t dd = (x >> shift) & 0xffff;
            while (dd != d) { /* follow the cycle: x goes to its bucket, the row there moves on */
                const uint64_t y = a[next[dd]];
                a[next[dd]++] = x;
                x = y;
                dd = (x >> shift) & 0xffff;
            }
            a[next[d]++] = x;
        }
    }
    if (shift == 0)
        return; /* the digit was the whole varying part */
    size_t start = 0;
    for (size_t d = 0; d < 65536; d++) { /* bucket d is [end[d - 1], end[d]) */
        if (end[d] - start > 1)
            msd_sort(a + start, end[d] - start, scratch, cap, count + 2 * 65536);
        start = end[d];
    }
}

/* Out-of-place most-significant-digit pass into tmp (n rows), then each bucket sorted from tmp
 * back into a: faster than the in-place permutation when memory allows a copy. */
static void msd_copy_sort(uint64_t *a, size_t n, uint64_t *tmp, size_t *count)
{
    const uint64_t varying = varying_bits(a, n);
    if (!varying)
        return;
    const int shift = top_digit_shift(varying);
    size_t *next = count;
    digit_histogram(a, n, shift, next);
    size_t sum = 0;
    for (size_t d = 0; d < 65536; d++) {
        size_t c = next[d];
        next[d] = sum;
        sum += c;
    }
    size_t cur = (a[0] >> shift) & 0xffff, at = next[cur]; /* scatter, counter in a register */
    for (size_t i = 0; i < n; i++) {
        const size_t d = (a[i] >> shift) & 0xffff;
        if (d != cur) {
            next[cur] = at;
            cur = d;
            at = next[d];
        }
        tmp[at++] = a[i];
    }
    next[cur] = at;
    struct digits dg; /* the bits below the digit that vary anywhere */
    choose_digits(shift ? varying & ((1ULL << shift) - 1) : 0, &dg);
    size_t start = 0; /* next[d] is now the end of bucket d */
    for (size_t d = 0; d < 65536; d++) {
        const size_t m = next[d] - start;
        if (m > UINT32_MAX) { /* 32-bit counts: sort such a bucket in place */
            memcpy(a + start, tmp + start, m * sizeof *a);
            msd_sort(a + start, m, tmp, 65536, count + 65536);
        } else {
            if (m > 1 && dg.n > 0)
                lsd_sort_digits(tmp + start, a + start, m, &dg, (uint32_t *)(count + 65536));
            if (m)
                memcpy(a + start, tmp + start, m * sizeof *a);
        }
        start = next[d];
    }
}

void r2h_packed_sort_with(uint64_t *rows, size_t n, uint64_t *scratch, size_t cap, size_t *count,
                          uint64_t *copy)
{
    if (n < 2)
        return;
    if (copy && n >= 4096)
        msd_copy_sort(rows, n, copy, count);
    else
        msd_sort(rows, n, scratch, cap < 31 ? 31 : cap, count); /* lsd_sort: no scratch < 32 */
}
