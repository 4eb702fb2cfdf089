/* test_pipeline.c - unit tests of value keys, multi-band key packing, row layouts, row sorting
 * and run merges. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_convert.h"
#include "r2h_index.h"
#include "test.h"
#include "xorshift.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    return xorshift64(&rng);
}

TEST(keys_order_and_round_trip)
{
    const double d[] = {-INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-310, 3.0, 1e300, INFINITY};
    for (size_t i = 0; i + 1 < sizeof d / sizeof d[0]; i++) {
        uint64_t a = r2h_narrow_key(R2H_DT_FLOAT64, &d[i]),
                 b = r2h_narrow_key(R2H_DT_FLOAT64, &d[i + 1]);
        t_assert(a < b, "float64 keys ordered");
        double back;
        r2h_narrow_value(R2H_DT_FLOAT64, a, &back);
        t_assert(memcmp(&back, &d[i], 8) == 0, "float64 round trip (bits)");
    }
    const float f[] = {-3.4e38f, -1.0f, -0.0f, 0.0f, 1e-45f, 2.0f};
    for (size_t i = 0; i + 1 < sizeof f / sizeof f[0]; i++) {
        t_assert(r2h_narrow_key(R2H_DT_FLOAT32, &f[i]) < r2h_narrow_key(R2H_DT_FLOAT32, &f[i + 1]),
                 "float32 keys ordered");
        float back;
        r2h_narrow_value(R2H_DT_FLOAT32, r2h_narrow_key(R2H_DT_FLOAT32, &f[i]), &back);
        t_assert(memcmp(&back, &f[i], 4) == 0, "float32 round trip");
    }
    const int16_t s[] = {-32768, -1, 0, 1, 32767};
    for (size_t i = 0; i + 1 < 5; i++) {
        t_assert(r2h_narrow_key(R2H_DT_INT16, &s[i]) < r2h_narrow_key(R2H_DT_INT16, &s[i + 1]),
                 "int16 keys ordered");
        int16_t back;
        r2h_narrow_value(R2H_DT_INT16, r2h_narrow_key(R2H_DT_INT16, &s[i]), &back);
        t_assert(back == s[i], "int16 round trip");
    }
    const int64_t l[] = {INT64_MIN, -1, 0, INT64_MAX};
    for (size_t i = 0; i + 1 < 4; i++)
        t_assert(r2h_narrow_key(R2H_DT_INT64, &l[i]) < r2h_narrow_key(R2H_DT_INT64, &l[i + 1]),
                 "int64 keys ordered");
    const uint64_t u = UINT64_MAX;
    t_assert(r2h_narrow_key(R2H_DT_UINT64, &u) == UINT64_MAX, "uint64 key is the value");
}

static int cmp_rows(const void *a, const void *b)
{
    const struct r2h_row *x = a, *y = b;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    return (x->key > y->key) - (x->key < y->key);
}

TEST(radix_sort_matches_qsort)
{
    for (int trial = 0; trial < 20; trial++) {
        size_t n = (size_t)(next_rand() % 50000);
        struct r2h_row *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
        uint64_t cmask = trial % 2 ? ~0ULL : 0xffffULL << 20, kmask = trial % 3 ? 0xffff : ~0ULL;
        for (size_t i = 0; i < n; i++) {
            a[i].cell = 0x0880000000000000ULL | (next_rand() & cmask);
            a[i].key = next_rand() & kmask;
        }
        memcpy(b, a, n * sizeof *a);
        t_assert(r2h_rows_sort(a, n) == R2H_OK, "sort ok");
        qsort(b, n, sizeof *b, cmp_rows);
        t_assert(memcmp(a, b, n * sizeof *a) == 0, "radix sort equals qsort");
        free(a);
        free(b);
    }
}

TEST(sort_allocation_failure)
{
    struct r2h_row rows[3] = {{3, 1}, {1, 2}, {2, 3}};
    r2h_alloc_fail_after(1);
    t_assert(r2h_rows_sort(rows, 3) == R2H_ERR_NOMEM, "allocation failure reported");
    r2h_alloc_fail_after(0);
    t_assert(r2h_rows_sort(rows, 3) == R2H_OK && rows[0].cell == 1 && rows[2].cell == 3, "sorted");
}

/* ---- narrow and packed multi-band keys (bands.c) ------------------------------------------ */

static const enum r2h_dtype ALL_TYPES[] = {
    R2H_DT_UINT8, R2H_DT_INT8,   R2H_DT_UINT16, R2H_DT_INT16,   R2H_DT_UINT32,
    R2H_DT_INT32, R2H_DT_UINT64, R2H_DT_INT64,  R2H_DT_FLOAT32, R2H_DT_FLOAT64};

/* The order of two values of type t, computed from the values themselves (not from keys):
 * -1, 0, 1; for floats -0.0 < +0.0 and equal only if the bits are. */
static int cmp_val(enum r2h_dtype t, const void *a, const void *b)
{
    union r2h_value x, y;
    memcpy(&x, a, r2h_dtype_size(t));
    memcpy(&y, b, r2h_dtype_size(t));
    switch (t) {
    case R2H_DT_UINT64: return (x.u64 > y.u64) - (x.u64 < y.u64);
    case R2H_DT_INT64: return (x.i64 > y.i64) - (x.i64 < y.i64);
    case R2H_DT_FLOAT32:
    case R2H_DT_FLOAT64: {
        double u = t == R2H_DT_FLOAT32 ? x.f : x.d, v = t == R2H_DT_FLOAT32 ? y.f : y.d;
        if (u != v)
            return u < v ? -1 : 1;
        return (signbit(v) != 0) - (signbit(u) != 0); /* -0.0 before +0.0 */
    }
    default: {
        double u = r2h_value_double(t, &x), v = r2h_value_double(t, &y);
        return (u > v) - (u < v);
    }
    }
}

/* A random value of type t: random bits (floats: not NaN), often an extreme or a zero. */
static void random_value(enum r2h_dtype t, void *p)
{
    const size_t sz = r2h_dtype_size(t);
    uint64_t r = next_rand();
    switch (next_rand() % 8) {
    case 0: r = 0; break;     /* 0, +0.0 */
    case 1: r = ~0ULL; break; /* max unsigned, -1, NaN: below */
    case 2: r = sz == 8 ? 1ULL << 63 : 1ULL << (8 * sz - 1); break; /* min signed, -0.0 */
    default: break;
    }
    if (t == R2H_DT_FLOAT32) {
        uint32_t b = (uint32_t)r;
        float f;
        memcpy(&f, &b, 4);
        if (isnan(f))
            f = (r & 1) ? -INFINITY : 3.4028235e38f;
        memcpy(p, &f, 4);
    } else if (t == R2H_DT_FLOAT64) {
        double d;
        memcpy(&d, &r, 8);
        if (isnan(d))
            d = (r & 1) ? INFINITY : -1.7976931348623157e308;
        memcpy(p, &d, 8);
    } else {
        memcpy(p, &r, sz); /* little-endian: the low bytes */
    }
}

TEST(narrow_keys_every_type)
{
    for (size_t ti = 0; ti < sizeof ALL_TYPES / sizeof ALL_TYPES[0]; ti++) {
        const enum r2h_dtype t = ALL_TYPES[ti];
        const int w = r2h_key_width(t);
        const size_t sz = r2h_dtype_size(t);
        char what[64];
        r2h_fmt(what, sizeof what, "%s", r2h_dtype_name(t));
        t_assert(w == (int)(8 * sz), what);
        for (int i = 0; i < 20000; i++) {
            unsigned char a[8] = {0}, b[8] = {0}, back[8] = {0};
            random_value(t, a);
            random_value(t, b);
            const uint64_t ka = r2h_narrow_key(t, a), kb = r2h_narrow_key(t, b);
            t_assert(w == 64 || ka >> w == 0, "narrow key fits its width");
            const int c = cmp_val(t, a, b);
            t_assert((c < 0) == (ka < kb) && (c == 0) == (ka == kb), "narrow key order");
            r2h_narrow_value(t, ka, back);
            t_assert(memcmp(back, a, sz) == 0, "narrow key round trip (bits)");
            if ((c < 0) != (ka < kb) || memcmp(back, a, sz) != 0) {
                fprintf(stderr, "    type %s\n", what);
                break;
            }
        }
    }
    const float f[] = {-INFINITY, -3.4028235e38f,  -1.0f, -1e-45f,       -0.0f,   0.0f,
                       1e-45f,    1.17549435e-38f, 2.5f,  3.4028235e38f, INFINITY};
    for (size_t i = 0; i + 1 < sizeof f / sizeof f[0]; i++)
        t_assert(r2h_narrow_key(R2H_DT_FLOAT32, &f[i]) < r2h_narrow_key(R2H_DT_FLOAT32, &f[i + 1]),
                 "float32 narrow keys ascend through -inf, -0.0, +0.0, denormals, +inf");
    const int8_t s8[] = {-128, -1, 0, 127};
    for (size_t i = 0; i + 1 < 4; i++)
        t_assert(r2h_narrow_key(R2H_DT_INT8, &s8[i]) < r2h_narrow_key(R2H_DT_INT8, &s8[i + 1]),
                 "int8 narrow keys ascend");
}

/* A bands plan for types dt[0..n) with pixel records laid out at natural alignment. */
static enum r2h_status make_bands(struct r2h_bands *b, const enum r2h_dtype *dt, int n)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const size_t sz = r2h_dtype_size(dt[i]);
        b->dt[i] = dt[i];
        b->band[i] = i + 1;
        off = (off + sz - 1) / sz * sz;
        b->off[i] = off;
        off += sz;
    }
    b->pixel_size = (off + 7) / 8 * 8;
    char err[256];
    return r2h_bands_layout(b, err, sizeof err);
}

TEST(packed_keys_sort_lexicographically)
{
    static const enum r2h_dtype combos[][4] = {
        {R2H_DT_UINT8, R2H_DT_UINT16, R2H_DT_FLOAT32},
        {R2H_DT_FLOAT32, R2H_DT_INT16, R2H_DT_INT8},
        {R2H_DT_INT32, R2H_DT_FLOAT32},
        {R2H_DT_INT16, R2H_DT_UINT16, R2H_DT_INT16, R2H_DT_UINT16},
        {R2H_DT_FLOAT64},
    };
    static const int ncombo[] = {3, 3, 2, 4, 1};
    static const int bits[] = {56, 56, 64, 64, 64};
    for (size_t k = 0; k < sizeof ncombo / sizeof ncombo[0]; k++) {
        struct r2h_bands b;
        t_assert(make_bands(&b, combos[k], ncombo[k]) == R2H_OK, "layout fits");
        t_assert(r2h_bands_key_bits(&b) == bits[k], "key width is the sum of the band widths");
        t_assert(b.shift[0] + b.bits[0] == b.key_bits && b.shift[b.n - 1] == 0,
                 "first band in the top bits, last in the bottom");
        for (int i = 0; i < 20000; i++) {
            unsigned char pa[64] = {0}, pb[64] = {0};
            for (int j = 0; j < b.n; j++) {
                random_value(b.dt[j], pa + b.off[j]);
                if (next_rand() % 3) /* often equal leading bands: later bands decide */
                    memcpy(pb + b.off[j], pa + b.off[j], r2h_dtype_size(b.dt[j]));
                else
                    random_value(b.dt[j], pb + b.off[j]);
            }
            int c = 0;
            for (int j = 0; j < b.n && !c; j++)
                c = cmp_val(b.dt[j], pa + b.off[j], pb + b.off[j]);
            const uint64_t ka = r2h_bands_key(&b, pa), kb = r2h_bands_key(&b, pb);
            t_assert((c < 0) == (ka < kb) && (c == 0) == (ka == kb),
                     "packed key order is the lexicographic order of the band values");
            t_assert(b.key_bits == 64 || ka >> b.key_bits == 0, "packed key < 2^key_bits");
            struct r2h_row row = {.cell = 1, .key = ka};
            for (int j = 0; j < b.n; j++) {
                unsigned char v[8] = {0}, v2[8] = {0};
                r2h_bands_value(&b, ka, j, v);
                r2h_bands_decode(&b, &row, 1, j, v2);
                t_assert(memcmp(v, pa + b.off[j], r2h_dtype_size(b.dt[j])) == 0 &&
                             memcmp(v2, v, 8) == 0,
                         "each band decodes back from the packed key (bits)");
            }
        }
    }
}

TEST(packed_key_width_limit)
{
    struct r2h_bands b;
    enum r2h_dtype dt[9];
    char err[256] = "";
    for (int i = 0; i < 9; i++)
        dt[i] = R2H_DT_UINT8;
    t_assert(make_bands(&b, dt, 8) == R2H_OK && b.key_bits == 64, "8 Byte bands fit");
    memset(&b, 0, sizeof b);
    b.n = 9;
    memcpy(b.dt, dt, sizeof dt);
    t_assert(r2h_bands_layout(&b, err, sizeof err) == R2H_ERR_INVALID, "9 Byte bands do not");
    t_assert(strstr(err, "9 uint8 bands need 72 bits per pixel; at most 64 bits") != NULL,
             "the message names the width and the limit");
    const enum r2h_dtype two[] = {R2H_DT_FLOAT64, R2H_DT_UINT8};
    t_assert(make_bands(&b, two, 2) == R2H_ERR_INVALID, "a 64-bit band only alone");
    const enum r2h_dtype three[] = {R2H_DT_FLOAT32, R2H_DT_FLOAT32, R2H_DT_UINT8};
    t_assert(make_bands(&b, three, 3) == R2H_ERR_INVALID, "3 Float32 bands are 96 bits");
    const enum r2h_dtype one[] = {R2H_DT_UINT8};
    t_assert(make_bands(&b, one, 1) == R2H_OK && b.key_bits == 8 && b.shift[0] == 0,
             "one Byte band: an 8-bit key");
}

/* A random H3-shaped cell of resolution res (mode 1, base cell < 122, digits 0..6, then 7s). */
static uint64_t random_cell(int res)
{
    uint64_t h = (1ULL << 59) | ((uint64_t)res << 52) | ((next_rand() % 122) << 45);
    for (int r = 1; r <= 15; r++)
        h |= (r <= res ? next_rand() % 7 : 7ULL) << (3 * (15 - r));
    return h;
}

TEST(packed_rows_round_trip_and_order)
{
    for (int res = 0; res <= 15; res++) {
        for (int kb = 8; kb <= 64; kb *= 2) {
            struct r2h_rowfmt f;
            r2h_rowfmt_init(&f, res, kb);
            t_assert(f.packed == (7 + 3 * res + kb <= 64), "packed exactly when it fits");
            t_assert(r2h_rowfmt_size(&f) == (f.packed ? 8u : 16u), "row size");
            if (!f.packed)
                continue;
            for (int i = 0; i < 2000; i++) {
                uint64_t c1 = random_cell(res), c2 = i % 3 ? random_cell(res) : c1;
                uint64_t k1 = next_rand() & f.key_mask, k2 = next_rand() & f.key_mask;
                uint64_t p1 = r2h_row_pack(&f, c1, k1), p2 = r2h_row_pack(&f, c2, k2);
                t_assert(r2h_packed_cell(&f, p1) == c1 && (p1 & f.key_mask) == k1, "round trip");
                t_assert(r2h_packed_base_cell(&f, p1) == r2h_index_base_cell(c1), "base cell");
                int pair_less = c1 < c2 || (c1 == c2 && k1 < k2);
                t_assert((p1 < p2) == pair_less, "packed order is (cell, key) order");
            }
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

TEST(packed_sort_matches_qsort)
{
    size_t *count = malloc(R2H_SORT_COUNT * sizeof *count);
    uint64_t scratch[1000];
    for (int trial = 0; trial < 40; trial++) {
        size_t n = trial < 4 ? (size_t)trial : (size_t)(next_rand() % 300000);
        uint64_t *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
        uint64_t *copy = malloc((n + 1) * sizeof *copy);
        /* masks: full 64 bits, carbon-like 47 bits with a gap, few distinct values, one value */
        const uint64_t masks[] = {~0ULL, 0x1bffffff00ffULL, 0x7ULL << 40 | 0xf, 0};
        const uint64_t mask = masks[trial % 4], base = next_rand() & ~mask;
        for (size_t i = 0; i < n; i++)
            a[i] = base | (next_rand() & mask);
        if (trial % 5 == 0 && n > 10) /* presorted and reversed inputs */
            qsort(a, n / 2, sizeof *a, cmp_u64);
        memcpy(b, a, n * sizeof *a);
        qsort(b, n, sizeof *b, cmp_u64);
        /* out of place first pass, in place with a tiny scratch (recursion), in place default */
        uint64_t *c = malloc((n + 1) * sizeof *c);
        memcpy(c, a, n * sizeof *a);
        r2h_packed_sort_with(c, n, scratch, 1000, count, copy);
        t_assert(memcmp(c, b, n * sizeof *c) == 0, "copy sort equals qsort");
        memcpy(c, a, n * sizeof *a);
        r2h_packed_sort_with(c, n, scratch, 40, count, NULL);
        t_assert(memcmp(c, b, n * sizeof *c) == 0, "in-place sort (small scratch) equals qsort");
        memcpy(c, a, n * sizeof *a);
        r2h_packed_sort_with(c, n, scratch, 1000, count, NULL);
        t_assert(memcmp(c, b, n * sizeof *c) == 0, "in-place sort equals qsort");
        free(a);
        free(b);
        free(c);
        free(copy);
    }
    free(count);
}

/* Runs of packed rows, in memory and spilled, merge back to the unpacked rows in order. */
TEST(packed_runs_merge)
{
    for (int packed = 0; packed <= 1; packed++) {
        struct r2h_rowfmt f;
        r2h_rowfmt_init(&f, packed ? 8 : 14, 16); /* res 14 + 16-bit keys do not fit */
        t_assert(f.packed == packed, "layout as planned");
        char err[256];
        struct r2h_runs *rs = NULL;
        t_assert(r2h_runs_create(NULL, &f, &rs, err, sizeof err) == R2H_OK, "runs created");
        enum { NRUN = 5, N = 3000 };
        struct r2h_row *all = malloc(NRUN * N * sizeof *all);
        void *mem[NRUN];
        size_t total = 0;
        for (int r = 0; r < NRUN; r++) {
            struct r2h_row *rows = malloc(N * sizeof *rows);
            uint64_t *pk = malloc(N * sizeof *pk);
            for (int i = 0; i < N; i++) {
                rows[i].cell = random_cell(f.res) & ~(0x7fULL << 45);
                rows[i].cell |= (uint64_t)(next_rand() % 3 * 40) << 45; /* base cells 0, 40, 80 */
                rows[i].key = next_rand() & 0xffff;
                pk[i] = r2h_row_pack(&f, rows[i].cell, rows[i].key);
                all[total++] = rows[i];
            }
            qsort(rows, N, sizeof *rows, cmp_rows);
            qsort(pk, N, sizeof *pk, cmp_u64);
            const void *src = packed ? (const void *)pk : (const void *)rows;
            if (r % 2) {
                t_assert(r2h_runs_spill(rs, src, N, err, sizeof err) == R2H_OK, "spilled");
                free(packed ? (void *)rows : (void *)pk);
                free(packed ? (void *)pk : (void *)rows);
                mem[r] = NULL;
            } else {
                t_assert(r2h_runs_add_memory(rs, src, N) == R2H_OK, "added");
                free(packed ? (void *)rows : (void *)pk);
                mem[r] = packed ? (void *)pk : (void *)rows;
            }
        }
        qsort(all, total, sizeof *all, cmp_rows);
        size_t at = 0;
        struct r2h_row out[77];
        for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
            uint64_t want = 0;
            for (size_t i = 0; i < total; i++)
                want += r2h_index_base_cell(all[i].cell) == bc;
            t_assert(r2h_runs_rows(rs, bc) == want, "rows per base cell");
            struct r2h_merge *m = NULL;
            t_assert(r2h_merge_open(rs, bc, 13, &m) == R2H_OK, "merge opened");
            enum r2h_status st = R2H_OK;
            size_t k;
            while ((k = r2h_merge_next(m, out, 77, &st, err, sizeof err)) > 0) {
                t_assert(at + k <= total, "no extra rows");
                t_assert(memcmp(out, all + at, k * sizeof *out) == 0, "merged rows in order");
                at += k;
            }
            t_assert(st == R2H_OK, "no read error");
            r2h_merge_close(m);
        }
        t_assert(at == total, "every row merged once");
        r2h_runs_destroy(rs);
        for (int r = 0; r < NRUN; r++)
            free(mem[r]);
        free(all);
    }
}

/* ---- wide rows (cell, key, ord, payload) --------------------------------------------------- */

static int cmp_wide(const void *a, const void *b)
{
    const struct r2h_wide_row *x = a, *y = b;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->ord > y->ord) - (x->ord < y->ord);
}

/* A random wide row of resolution res: few keys (so that ord decides ties), the payload a
 * function of ord (so that a payload that left its row is seen). */
static struct r2h_wide_row random_wide(int res, int bcs)
{
    struct r2h_wide_row r;
    r.cell = random_cell(res) & ~(0x7fULL << 45);
    r.cell |= (uint64_t)(next_rand() % (uint64_t)bcs * 40) << 45; /* base cells 0, 40, 80 */
    r.key = next_rand() % 5 * 0x100000001ULL;
    r.ord = next_rand() >> (next_rand() % 64);
    r.payload = r.ord * 0x9e3779b97f4a7c15ULL;
    return r;
}

TEST(wide_sort_matches_qsort)
{
    struct r2h_rowfmt f;
    r2h_rowfmt_init_wide(&f, 9);
    t_assert(f.wide && !f.packed && r2h_rowfmt_size(&f) == 32, "wide layout");
    size_t *count = malloc(65536 * sizeof *count);
    for (int trial = 0; trial < 12; trial++) {
        size_t n = trial < 3 ? (size_t)trial : (size_t)(next_rand() % 40000);
        struct r2h_wide_row *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
        struct r2h_wide_row *tmp = malloc((n + 1) * sizeof *tmp);
        for (size_t i = 0; i < n; i++)
            a[i] = random_wide(trial % 2 ? 9 : 15, 3);
        memcpy(b, a, n * sizeof *a);
        r2h_wide_sort_with(a, n, tmp, count);
        qsort(b, n, sizeof *b, cmp_wide);
        t_assert(memcmp(a, b, n * sizeof *a) == 0, "wide radix sort equals qsort, payloads kept");
        free(a);
        free(b);
        free(tmp);
    }
    free(count);
}

/* Runs of wide rows, in memory and spilled, merge back in (cell, key, ord) order with their
 * payloads; read as pairs they are the (cell, key) of the same order. */
TEST(wide_runs_merge)
{
    struct r2h_rowfmt f;
    r2h_rowfmt_init_wide(&f, 10);
    char err[256];
    struct r2h_runs *rs = NULL;
    t_assert(r2h_runs_create(NULL, &f, &rs, err, sizeof err) == R2H_OK, "runs created");
    enum { NRUN = 4, N = 2500 };
    struct r2h_wide_row *all = malloc(NRUN * N * sizeof *all), *mem[NRUN];
    size_t total = 0;
    for (int r = 0; r < NRUN; r++) {
        struct r2h_wide_row *rows = malloc(N * sizeof *rows);
        for (int i = 0; i < N; i++)
            all[total++] = rows[i] = random_wide(10, 3);
        for (int i = 0; i < N; i += 2) /* ties in (cell, key) across runs: ord decides */
            all[total - N + i].cell = rows[i].cell = r2h_index_res0_cell(40) & ~(7ULL << 42);
        qsort(rows, N, sizeof *rows, cmp_wide);
        if (r % 2) {
            t_assert(r2h_runs_spill(rs, rows, N, err, sizeof err) == R2H_OK, "spilled");
            free(rows);
            mem[r] = NULL;
        } else {
            t_assert(r2h_runs_add_memory(rs, rows, N) == R2H_OK, "added");
            mem[r] = rows;
        }
    }
    qsort(all, total, sizeof *all, cmp_wide);
    size_t at = 0, at2 = 0;
    struct r2h_wide_row out[41];
    struct r2h_row pairs[41];
    enum r2h_status st = R2H_OK;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        struct r2h_merge *m = NULL;
        size_t k;
        t_assert(r2h_merge_open(rs, bc, 7, &m) == R2H_OK, "merge opened");
        while ((k = r2h_merge_next_wide(m, out, 41, &st, err, sizeof err)) > 0) {
            t_assert(at + k <= total, "no extra rows");
            t_assert(memcmp(out, all + at, k * sizeof *out) == 0, "wide rows merged in order");
            at += k;
        }
        r2h_merge_close(m);
        t_assert(r2h_merge_open(rs, bc, 7, &m) == R2H_OK, "merge opened again");
        while ((k = r2h_merge_next(m, pairs, 41, &st, err, sizeof err)) > 0)
            for (size_t i = 0; i < k && at2 < total; i++, at2++)
                t_assert(pairs[i].cell == all[at2].cell && pairs[i].key == all[at2].key,
                         "wide rows read as pairs");
        r2h_merge_close(m);
    }
    t_assert(st == R2H_OK && at == total && at2 == total, "every row merged once");
    t_assert(r2h_runs_spilled_bytes(rs) == (uint64_t)(NRUN / 2) * N * 32, "spilled raw");
    r2h_runs_destroy(rs);
    for (int r = 0; r < NRUN; r++)
        free(mem[r]);
    free(all);
}

int main(void)
{
    RUN(keys_order_and_round_trip);
    RUN(radix_sort_matches_qsort);
    RUN(sort_allocation_failure);
    RUN(narrow_keys_every_type);
    RUN(packed_keys_sort_lexicographically);
    RUN(packed_key_width_limit);
    RUN(packed_rows_round_trip_and_order);
    RUN(packed_sort_matches_qsort);
    RUN(packed_runs_merge);
    RUN(wide_sort_matches_qsort);
    RUN(wide_runs_merge);
    TEST_MAIN_END();
}
