/* test.h - a tiny unit-test harness: SUITE/TEST/t_assert in the spirit of h3's test.h. */
#ifndef R2H_TEST_H
#define R2H_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int t_failures;
static int t_count;

#define t_assert(cond, msg)                                                                        \
    do {                                                                                           \
        t_count++;                                                                                 \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: FAIL: %s (%s)\n", __FILE__, __LINE__, msg, #cond);             \
            t_failures++;                                                                          \
        }                                                                                          \
    } while (0)

#define TEST(name) static void test_##name(void)
#define RUN(name)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "  %s\n", #name);                                                          \
        test_##name();                                                                             \
    } while (0)

#define TEST_MAIN_END()                                                                            \
    do {                                                                                           \
        fprintf(stderr, "%d assertions, %d failed\n", t_count, t_failures);                        \
        return t_failures ? 1 : 0;                                                                 \
    } while (0)

#endif
