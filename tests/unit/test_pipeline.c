/* test_pipeline.c - unit tests of value keys, row layouts, row sorting and run merges. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_index.h"
#include "r2h_pipeline.h"
#include "test.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

TEST(keys_order_and_round_trip)
{
    const double d[] = {-INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-310, 3.0, 1e300, INFINITY};
    for (size_t i = 0; i + 1 < sizeof d / sizeof d[0]; i++) {
        uint64_t a = r2h_value_key(R2H_DT_FLOAT64, &d[i]), b = r2h_value_key(R2H_DT_FLOAT64, &d[i + 1]);
        t_assert(a < b, "float64 keys ordered");
        double back;
        r2h_value_from_key(R2H_DT_FLOAT64, a, &back);
        t_assert(memcmp(&back, &d[i], 8) == 0, "float64 round trip (bits)");
    }
    const float f[] = {-3.4e38f, -1.0f, -0.0f, 0.0f, 1e-45f, 2.0f};
    for (size_t i = 0; i + 1 < sizeof f / sizeof f[0]; i++) {
        t_assert(r2h_value_key(R2H_DT_FLOAT32, &f[i]) < r2h_value_key(R2H_DT_FLOAT32, &f[i + 1]),
                 "float32 keys ordered");
        float back;
        r2h_value_from_key(R2H_DT_FLOAT32, r2h_value_key(R2H_DT_FLOAT32, &f[i]), &back);
        t_assert(memcmp(&back, &f[i], 4) == 0, "float32 round trip");
    }
    const int16_t s[] = {-32768, -1, 0, 1, 32767};
    for (size_t i = 0; i + 1 < 5; i++) {
        t_assert(r2h_value_key(R2H_DT_INT16, &s[i]) < r2h_value_key(R2H_DT_INT16, &s[i + 1]),
                 "int16 keys ordered");
        int16_t back;
        r2h_value_from_key(R2H_DT_INT16, r2h_value_key(R2H_DT_INT16, &s[i]), &back);
        t_assert(back == s[i], "int16 round trip");
    }
    const int64_t l[] = {INT64_MIN, -1, 0, INT64_MAX};
    for (size_t i = 0; i + 1 < 4; i++)
        t_assert(r2h_value_key(R2H_DT_INT64, &l[i]) < r2h_value_key(R2H_DT_INT64, &l[i + 1]),
                 "int64 keys ordered");
    const uint64_t u = UINT64_MAX;
    t_assert(r2h_value_key(R2H_DT_UINT64, &u) == UINT64_MAX, "uint64 key is the value");
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

int main(void)
{
    RUN(keys_order_and_round_trip);
    RUN(radix_sort_matches_qsort);
    RUN(sort_allocation_failure);
    RUN(packed_rows_round_trip_and_order);
    RUN(packed_sort_matches_qsort);
    RUN(packed_runs_merge);
    TEST_MAIN_END();
}
