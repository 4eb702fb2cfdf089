/* test_pipeline.c - unit tests of value keys and row sorting. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    RUN(keys_order_and_round_trip);
    RUN(radix_sort_matches_qsort);
    RUN(sort_allocation_failure);
    TEST_MAIN_END();
}
