/* test_common.c - the common module: byte buffers, formatting, the options copy of growing
 * structs, the cleanup registry (files and directories removed, unregistered ones kept, a full
 * table), status names, clocks and peak RSS. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "r2h_common.h"
#include "test.h"

TEST(buffers)
{
    struct r2h_buf b = {0};
    t_assert(r2h_buf_append(&b, "abc", 3) == R2H_OK && b.len == 3, "append");
    t_assert(r2h_buf_push_byte(&b, 'd') == R2H_OK && memcmp(b.data, "abcd", 4) == 0, "push");
    r2h_buf_clear(&b);
    t_assert(b.len == 0 && b.cap >= 4, "clear keeps memory");
    for (int i = 0; i < 1000; i++)
        r2h_buf_printf(&b, "%d,", i);
    t_assert(strncmp((char *)b.data, "0,1,2,", 6) == 0 && b.data[b.len] == 0, "printf string");
    t_assert(strstr((char *)b.data, "999,") != NULL, "printf grows");
    r2h_buf_free(&b);
    t_assert(b.data == NULL && b.len == 0 && b.cap == 0, "free empties");
    /* Allocation failure is a status, not a crash. */
    r2h_alloc_fail_after(1); /* the next allocation fails */
    enum r2h_status st = r2h_buf_reserve(&b, 1 << 20);
    r2h_alloc_fail_after(0);
    t_assert(st == R2H_ERR_NOMEM && b.data == NULL, "reserve fails cleanly");
}

TEST(formatting)
{
    char s[8];
    r2h_fmt(s, sizeof s, "%s", "abcdefghij");
    t_assert(strcmp(s, "abcdefg") == 0, "truncated and terminated");
    r2h_fmt(s, 1, "%d", 42);
    t_assert(s[0] == 0, "room for the terminator only");
    t_assert(strcmp(r2h_status_str(R2H_OK), r2h_status_str(R2H_ERR_NOMEM)) != 0, "names differ");
    t_assert(r2h_normalise_lng(190.0) == -170.0 && r2h_normalise_lng(-180.5) == 179.5,
             "longitudes folded once");
    t_assert(r2h_normalise_lng(180.0) == 180.0, "180 stays");
}

struct grown {
    size_t struct_size;
    int a;
    int b; /* added later */
};

TEST(options_copy)
{
    char err[256] = "";
    struct grown defaults = {sizeof(struct grown), 1, 2}, dst;
    struct grown caller = {offsetof(struct grown, b), 7, 99};
    dst = defaults;
    t_assert(r2h_options_copy(&dst, sizeof dst, &caller, caller.struct_size,
                              offsetof(struct grown, b), "init", err, sizeof err) == R2H_OK,
             "old caller accepted");
    t_assert(dst.a == 7 && dst.b == 2, "new field keeps its default");
    dst = defaults;
    t_assert(r2h_options_copy(&dst, sizeof dst, &caller, 3, offsetof(struct grown, b), "grown_init",
                              err, sizeof err) == R2H_ERR_INVALID,
             "short struct refused");
    t_assert(strstr(err, "grown_init") != NULL, "message names the init function");
}

TEST(cleanup_registry)
{
    char dir[] = "/tmp/r2h-common-XXXXXX";
    t_assert(mkdtemp(dir) != NULL, "temp dir");
    char f1[64], f2[64], sub[64];
    r2h_fmt(f1, sizeof f1, "%s/a", dir);
    r2h_fmt(f2, sizeof f2, "%s/b", dir);
    r2h_fmt(sub, sizeof sub, "%s/d", dir);
    FILE *f = fopen(f1, "w");
    if (f)
        fclose(f);
    f = fopen(f2, "w");
    if (f)
        fclose(f);
    mkdir(sub, 0700);
    int s1 = r2h_cleanup_register(f1, 0), s2 = r2h_cleanup_register(f2, 0);
    int s3 = r2h_cleanup_register(sub, 1);
    t_assert(s1 >= 0 && s2 >= 0 && s3 >= 0, "registered");
    r2h_cleanup_unregister(s2); /* committed: must survive */
    r2h_cleanup_unregister(-1); /* no-op */
    r2h_cleanup_run();
    struct stat sb;
    t_assert(stat(f1, &sb) != 0, "registered file removed");
    t_assert(stat(sub, &sb) != 0, "registered directory removed");
    t_assert(stat(f2, &sb) == 0, "unregistered file kept");
    r2h_cleanup_unregister(s1);
    r2h_cleanup_unregister(s3);
    /* A full table says so instead of overwriting. */
    static int slots[10000];
    int n = 0, full = 0;
    for (; n < 10000; n++)
        if ((slots[n] = r2h_cleanup_register(f2, 0)) < 0) {
            full = 1;
            break;
        }
    t_assert(full, "the table has a limit");
    for (int i = 0; i < n; i++)
        r2h_cleanup_unregister(slots[i]);
    unlink(f2);
    rmdir(dir);
}

TEST(clocks)
{
    double t0 = r2h_now();
    char *p = r2h_malloc(8 << 20);
    if (p)
        memset(p, 1, 8 << 20);
    t_assert(r2h_now() >= t0, "monotonic");
    t_assert(r2h_peak_rss() >= (uint64_t)(8 << 20), "peak RSS counts touched memory");
    r2h_free(p);
}

int main(void)
{
    fprintf(stderr, "test_common\n");
    RUN(buffers);
    RUN(formatting);
    RUN(options_copy);
    RUN(cleanup_registry);
    RUN(clocks);
    TEST_MAIN_END();
}
