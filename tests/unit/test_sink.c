/* test_sink.c - sink tests: memory sink, atomic file sink commit/abort, temp cleanup, errors. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "r2h_sink.h"
#include "test.h"

static char dir[256];

/* Number of entries in dir whose name starts with prefix. */
static int count_prefix(const char *prefix)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TEST(mem_sink)
{
    struct r2h_sink *s;
    size_t len;
    t_assert(r2h_sink_mem_open(&s) == R2H_OK, "open");
    r2h_sink_write(s, "abc", 3);
    r2h_sink_write(s, "de", 2);
    t_assert(s->bytes == 5, "byte counter");
    uint8_t *p = r2h_sink_mem_take(s, &len);
    t_assert(len == 5 && memcmp(p, "abcde", 5) == 0, "take");
    r2h_free(p);
    t_assert(r2h_sink_close(s, NULL, 0) == R2H_OK, "close");
    t_assert(r2h_sink_close(NULL, NULL, 0) == R2H_OK, "close NULL");
    r2h_sink_abort(NULL);
}

TEST(file_commit)
{
    char path[512], err[600];
    struct r2h_sink *s;
    snprintf(path, sizeof path, "%s/data_0.parquet", dir);
    t_assert(r2h_sink_file_open(path, &s, err, sizeof err) == R2H_OK, err);
    t_assert(count_prefix(".data_0.parquet.tmp-") == 1, "hidden temp file exists");
    static char big[3 << 20]; /* larger than the sink's buffer */
    memset(big, 'x', sizeof big);
    r2h_sink_write(s, "PAR1", 4);
    r2h_sink_write(s, big, sizeof big);
    t_assert(file_size(path) == -1, "target invisible before commit");
    t_assert(r2h_sink_close(s, err, sizeof err) == R2H_OK, err);
    t_assert(file_size(path) == 4 + (long)sizeof big, "committed size");
    t_assert(count_prefix(".data_0") == 0, "no temp left");
    /* Replacing an existing file: the old one stays intact until commit. */
    t_assert(r2h_sink_file_open(path, &s, err, sizeof err) == R2H_OK, err);
    r2h_sink_write(s, "new", 3);
    t_assert(file_size(path) == 4 + (long)sizeof big, "old content until commit");
    t_assert(r2h_sink_close(s, err, sizeof err) == R2H_OK, err);
    t_assert(file_size(path) == 3, "replaced atomically");
    unlink(path);
}

TEST(file_abort)
{
    char path[512], err[600];
    struct r2h_sink *s;
    snprintf(path, sizeof path, "%s/aborted.parquet", dir);
    t_assert(r2h_sink_file_open(path, &s, err, sizeof err) == R2H_OK, err);
    r2h_sink_write(s, "junk", 4);
    r2h_sink_abort(s);
    t_assert(file_size(path) == -1 && count_prefix(".aborted") == 0, "abort leaves nothing");
    /* close after a (simulated) sticky error aborts too */
    t_assert(r2h_sink_file_open(path, &s, err, sizeof err) == R2H_OK, err);
    s->error = R2H_ERR_IO;
    r2h_fmt(s->errmsg, sizeof s->errmsg, "simulated");
    t_assert(r2h_sink_write(s, "x", 1) == R2H_ERR_IO, "sticky error skips writes");
    t_assert(r2h_sink_close(s, err, sizeof err) == R2H_ERR_IO && !strcmp(err, "simulated"),
             "close returns the sticky error");
    t_assert(file_size(path) == -1 && count_prefix(".aborted") == 0, "nothing left");
}

TEST(file_signal_cleanup)
{
    char path[512], err[600];
    struct r2h_sink *a, *b;
    snprintf(path, sizeof path, "%s/sig_a.parquet", dir);
    t_assert(r2h_sink_file_open(path, &a, err, sizeof err) == R2H_OK, err);
    snprintf(path, sizeof path, "%s/sig_b.parquet", dir);
    t_assert(r2h_sink_file_open(path, &b, err, sizeof err) == R2H_OK, err);
    t_assert(count_prefix(".sig_") == 2, "two temp files");
    r2h_cleanup_run();
    t_assert(count_prefix(".sig_") == 0, "handler removed them");
    r2h_sink_abort(a);
    r2h_sink_abort(b);
}

TEST(file_errors)
{
    char err[600] = "";
    struct r2h_sink *s = NULL;
    t_assert(r2h_sink_file_open("/nonexistent-dir-r2h/x.parquet", &s, err, sizeof err) ==
                 R2H_ERR_IO,
             "missing directory");
    t_assert(strstr(err, "/nonexistent-dir-r2h/x.parquet") && strstr(err, "No such file"),
             "message has path and strerror");
    char ro[300];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    mkdir(ro, 0555);
    char path[400];
    snprintf(path, sizeof path, "%s/x.parquet", ro);
    enum r2h_status st = r2h_sink_file_open(path, &s, err, sizeof err);
    if (geteuid() != 0) /* root ignores directory permissions */
        t_assert(st == R2H_ERR_IO && strstr(err, "Permission denied"), "unwritable dir");
    else if (st == R2H_OK)
        r2h_sink_abort(s);
    rmdir(ro);
    t_assert(r2h_sink_file_open("dir/", &s, err, sizeof err) == R2H_ERR_INVALID, "bad path");
    /* ENOSPC: /dev/full cannot host a temp file, so check the write path via a full fs only
     * when one is available (R2H_TEST_FULL_DIR, e.g. a tiny tmpfs). */
    const char *full = getenv("R2H_TEST_FULL_DIR");
    if (full) {
        snprintf(path, sizeof path, "%s/big.parquet", full);
        if (r2h_sink_file_open(path, &s, err, sizeof err) == R2H_OK) {
            static char chunk[1 << 20];
            for (int i = 0; i < 1 << 12 && r2h_sink_write(s, chunk, sizeof chunk) == R2H_OK; i++)
                ;
            t_assert(r2h_sink_close(s, err, sizeof err) == R2H_ERR_IO &&
                         strstr(err, "No space left"),
                     "ENOSPC reported");
        }
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/r2h_test_sink.XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    fprintf(stderr, "test_sink\n");
    RUN(mem_sink);
    RUN(file_commit);
    RUN(file_abort);
    RUN(file_signal_cleanup);
    RUN(file_errors);
    rmdir(dir);
    TEST_MAIN_END();
}
