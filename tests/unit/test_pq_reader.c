/* test_pq_reader.c - Parquet reader tests (round trips through the writer, corrupt input) and a
 * --dump tool mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "r2h_parquet.h"
#include "r2h_pq_reader.h"
#include "r2h_sink.h"
#include "test.h"
#include "xorshift.h"

/* ---- a sink wrapping a memory sink: at commit the bytes are taken into `captured` ---- */

static uint8_t *captured;
static size_t captured_len;

static enum r2h_status wrap_write(struct r2h_sink *s, const void *p, size_t n)
{
    return r2h_sink_write(s->impl, p, n);
}

static enum r2h_status wrap_commit(struct r2h_sink *s)
{
    r2h_free(captured);
    captured = r2h_sink_mem_take(s->impl, &captured_len);
    return r2h_sink_close(s->impl, NULL, 0);
}

static void wrap_abort(struct r2h_sink *s)
{
    r2h_sink_abort(s->impl);
}

static const struct r2h_sink_ops wrap_ops = {wrap_write, wrap_commit, wrap_abort};

static struct r2h_sink *wrap_open(void)
{
    struct r2h_sink *s = r2h_calloc(1, sizeof *s), *inner = NULL;
    if (!s || r2h_sink_mem_open(&inner) != R2H_OK) {
        r2h_free(s);
        return NULL;
    }
    s->ops = &wrap_ops;
    s->impl = inner;
    return s;
}

/* ---- data generation ---- */

static const size_t elem_size[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8, sizeof(char *)};
static const char *const type_name[] = {"int8",  "uint8",  "int16", "uint16", "int32", "uint32",
                                        "int64", "uint64", "float", "double", "string"};

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
    return xorshift64(&rng_state);
}

enum mode { M_FEW, M_RANDOM, M_SORTED };

/* Value of row i as raw bits of the native type (mode FEW: 13 distinct values). */
static uint64_t gen_value(enum r2h_pq_type t, enum mode m, size_t i)
{
    uint64_t x = m == M_FEW      ? (i * 7919u) % 13 * 0x9E3779B97F4A7C15ULL
                 : m == M_SORTED ? i * 1000003u + (rnd() & 0xFF)
                                 : rnd();
    if (t == R2H_PQ_FLOAT) {
        float f = (float)(int32_t)(x >> 40) / 8.0f;
        uint32_t b;
        memcpy(&b, &f, 4);
        return b;
    }
    if (t == R2H_PQ_DOUBLE) {
        double d = (double)(int64_t)x / 1024.0;
        uint64_t b;
        memcpy(&b, &d, 8);
        return b;
    }
    if (m == M_SORTED && elem_size[t] < 8)
        return x >>
               (8 * (8 - elem_size[t]) > 40 ? 40 : 0); /* roughly ascending, small types wrap */
    return x;
}

static void put_native(void *arr, enum r2h_pq_type t, size_t i, uint64_t v)
{
    memcpy((uint8_t *)arr + i * elem_size[t], &v, elem_size[t]); /* little-endian low bytes */
}

static uint64_t get_native(const void *arr, enum r2h_pq_type t, size_t i)
{
    uint64_t v = 0;
    memcpy(&v, (const uint8_t *)arr + i * elem_size[t], elem_size[t]);
    return v;
}

/* Sign- or zero-extended integer of the native bits v. */
static uint64_t extend(enum r2h_pq_type t, uint64_t v)
{
    switch (t) {
    case R2H_PQ_INT8: return (uint64_t)(int64_t)(int8_t)v;
    case R2H_PQ_INT16: return (uint64_t)(int64_t)(int16_t)v;
    case R2H_PQ_INT32: return (uint64_t)(int64_t)(int32_t)v;
    default: return v;
    }
}

static int is_signed_int(enum r2h_pq_type t)
{
    return t == R2H_PQ_INT8 || t == R2H_PQ_INT16 || t == R2H_PQ_INT32 || t == R2H_PQ_INT64;
}

static double as_double(enum r2h_pq_type t, uint64_t v)
{
    if (t == R2H_PQ_FLOAT) {
        float f;
        uint32_t b = (uint32_t)v;
        memcpy(&f, &b, 4);
        return f;
    }
    if (t == R2H_PQ_DOUBLE) {
        double d;
        memcpy(&d, &v, 8);
        return d;
    }
    return is_signed_int(t) ? (double)(int64_t)extend(t, v) : (double)v;
}

/* ---- one column round trip ---- */

struct rt_case {
    enum r2h_pq_type type;
    enum r2h_pq_encoding enc;
    enum r2h_pq_codec codec;
    int optional;
    enum mode mode;
    size_t nrows, rg_rows, page_rows;
};

static int write_case(const struct rt_case *k, void *values, uint8_t *valid)
{
    struct r2h_pq_column_spec spec = {"v", k->type, k->optional, k->enc, 0, 0};
    struct r2h_pq_options o;
    struct r2h_pq_writer *w;
    r2h_pq_options_init(&o);
    o.codec = k->codec;
    o.row_group_rows = k->rg_rows;
    o.page_rows = k->page_rows;
    if (r2h_pq_writer_open(wrap_open(), &spec, 1, &o, &w) != R2H_OK)
        return 0;
    struct r2h_pq_column_data d = {values, k->optional ? valid : NULL};
    if (r2h_pq_writer_add_kv(w, "resolution", "9") != R2H_OK ||
        r2h_pq_writer_write(w, &d, k->nrows) != R2H_OK) {
        r2h_pq_writer_abort(w);
        return 0;
    }
    return r2h_pq_writer_close(w, NULL, 0) == R2H_OK;
}

/* Expected integer min/max (in the type's order) of the valid rows [r0, r1). */
static int expect_minmax(const struct rt_case *k, const void *values, const uint8_t *valid,
                         size_t r0, size_t r1, double *dmin, double *dmax)
{
    int any = 0;
    for (size_t i = r0; i < r1; i++) {
        if (k->optional && !valid[i])
            continue;
        double d = as_double(k->type, get_native(values, k->type, i));
        if (!any || d < *dmin)
            *dmin = d;
        if (!any || d > *dmax)
            *dmax = d;
        any = 1;
    }
    return any;
}

static int check_case(const struct rt_case *k)
{
    size_t n = k->nrows, es = elem_size[k->type];
    uint8_t *values = malloc(n * es + 1), *valid = malloc(n + 1), *got = malloc(n * es + 1);
    uint8_t *gvalid = malloc(n + 1);
    struct r2h_pq_reader *r = NULL;
    char err[512];
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        valid[i] = !(rnd() % 5 == 0 || (i >= 100 && i < 400));
        put_native(values, k->type, i, gen_value(k->type, k->mode, i));
    }
    if (!write_case(k, values, valid))
        goto out;
    if (r2h_pq_reader_open_mem(captured, captured_len, &r, err, sizeof err) != R2H_OK) {
        fprintf(stderr, "    open: %s\n", err);
        goto out;
    }
    enum r2h_pq_type t;
    int opt;
    const char *name;
    if (r2h_pq_reader_num_rows(r) != n || r2h_pq_reader_num_columns(r) != 1 ||
        r2h_pq_reader_column(r, 0, &name, &t, &opt) != R2H_OK || t != k->type ||
        opt != k->optional || strcmp(name, "v") || !r2h_pq_reader_kv(r, "resolution") ||
        strcmp(r2h_pq_reader_kv(r, "resolution"), "9"))
        goto out;
    size_t row = 0;
    for (size_t g = 0; g < r2h_pq_reader_num_row_groups(r); g++) {
        size_t rows = (size_t)r2h_pq_reader_row_group_rows(r, g);
        if (r2h_pq_reader_read_column(r, g, 0, got + row * es, gvalid + row) != R2H_OK) {
            fprintf(stderr, "    read: %s\n", r2h_pq_reader_errmsg(r));
            goto out;
        }
        int has, ehas;
        double mn, mx, emn = 0, emx = 0;
        uint64_t nulls, expect_nulls = 0;
        for (size_t i = row; i < row + rows; i++)
            expect_nulls += k->optional && !valid[i];
        r2h_pq_reader_stats(r, g, 0, &has, &mn, &mx, &nulls);
        ehas = expect_minmax(k, values, valid, row, row + rows, &emn, &emx);
        if (has != ehas || nulls != expect_nulls || (has && (mn != emn || mx != emx))) {
            fprintf(stderr, "    stats rg %zu: has %d/%d min %g/%g max %g/%g nulls %llu/%llu\n", g,
                    has, ehas, mn, emn, mx, emx, (unsigned long long)nulls,
                    (unsigned long long)expect_nulls);
            goto out;
        }
        row += rows;
    }
    if (row != n)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int v = k->optional ? valid[i] : 1;
        uint64_t want = v ? get_native(values, k->type, i) : 0;
        if (gvalid[i] != v || get_native(got, k->type, i) != want) {
            fprintf(stderr, "    row %zu: valid %d/%d value %llx/%llx\n", i, gvalid[i], v,
                    (unsigned long long)get_native(got, k->type, i), (unsigned long long)want);
            goto out;
        }
    }
    ok = 1;
out:
    if (!ok)
        fprintf(stderr, "    case %s enc %d codec %d optional %d mode %d\n", type_name[k->type],
                k->enc, k->codec, k->optional, k->mode);
    r2h_pq_reader_close(r);
    free(values);
    free(valid);
    free(got);
    free(gvalid);
    return ok;
}

TEST(round_trip_matrix)
{
    static const enum r2h_pq_codec codecs[] = {R2H_PQ_CODEC_NONE, R2H_PQ_CODEC_SNAPPY,
                                               R2H_PQ_CODEC_ZSTD};
    int cases = 0, failed = 0;
    for (int t = R2H_PQ_INT8; t <= R2H_PQ_DOUBLE; t++)
        for (int e = R2H_PQ_ENC_AUTO; e <= R2H_PQ_ENC_DELTA; e++)
            for (size_t c = 0; c < 3; c++)
                for (int opt = 0; opt < 2; opt++)
                    for (int m = M_FEW; m <= M_SORTED; m++) {
                        if (e == R2H_PQ_ENC_DELTA && t >= R2H_PQ_FLOAT)
                            continue;
                        struct rt_case k = {(enum r2h_pq_type)t,
                                            (enum r2h_pq_encoding)e,
                                            codecs[c],
                                            opt,
                                            (enum mode)m,
                                            2500,
                                            1000,
                                            128};
                        cases++;
                        if (!check_case(&k) && ++failed > 5)
                            goto done;
                    }
done:
    t_assert(failed == 0, "every type x encoding x codec x nullability round-trips");
    fprintf(stderr, "    %d cases\n", cases);
}

TEST(round_trip_shapes)
{
    /* one row; a single big row group with pages cut by bytes; many tiny row groups */
    struct rt_case k1 = {R2H_PQ_UINT64, R2H_PQ_ENC_AUTO, R2H_PQ_CODEC_ZSTD, 0, M_SORTED, 1, 10, 10};
    struct rt_case k2 = {R2H_PQ_DOUBLE, R2H_PQ_ENC_PLAIN, R2H_PQ_CODEC_SNAPPY, 1, M_RANDOM, 300000,
                         1u << 20,      1u << 20};
    struct rt_case k3 = {R2H_PQ_INT32, R2H_PQ_ENC_DELTA, R2H_PQ_CODEC_NONE, 1, M_RANDOM, 777, 7, 3};
    t_assert(check_case(&k1), "one row");
    t_assert(check_case(&k2), "pages cut at 1 MiB");
    t_assert(check_case(&k3), "111 row groups of 7 rows");
}

/* A file with every type, a string column and metadata. */
static int write_multi(enum r2h_pq_codec codec, size_t n, size_t rg_rows, size_t page_rows)
{
    struct r2h_pq_column_spec specs[R2H_PQ_STRING + 1];
    struct r2h_pq_column_data data[R2H_PQ_STRING + 1];
    void *arrs[R2H_PQ_STRING + 1];
    uint8_t *valid = malloc(n + 1);
    const char **strs = malloc((n + 1) * sizeof *strs);
    struct r2h_pq_options o;
    struct r2h_pq_writer *w = NULL;
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        valid[i] = i % 3 != 1;
        strs[i] = i % 2 ? "odd" : "even";
    }
    for (int t = 0; t <= R2H_PQ_STRING; t++) {
        specs[t] = (struct r2h_pq_column_spec){type_name[t],    (enum r2h_pq_type)t, t % 2,
                                               R2H_PQ_ENC_AUTO, t == R2H_PQ_UINT64,  0};
        arrs[t] = malloc(n * elem_size[t] + 1);
        for (size_t i = 0; i < n && t != R2H_PQ_STRING; i++)
            put_native(arrs[t], (enum r2h_pq_type)t, i,
                       gen_value((enum r2h_pq_type)t, t == R2H_PQ_UINT64 ? M_SORTED : M_FEW, i));
        data[t] = (struct r2h_pq_column_data){t == R2H_PQ_STRING ? (void *)strs : arrs[t],
                                              t % 2 ? valid : NULL};
    }
    r2h_pq_options_init(&o);
    o.codec = codec;
    o.row_group_rows = rg_rows;
    o.page_rows = page_rows;
    if (r2h_pq_writer_open(wrap_open(), specs, R2H_PQ_STRING + 1, &o, &w) == R2H_OK &&
        r2h_pq_writer_add_kv(w, "resolution", "8") == R2H_OK &&
        r2h_pq_writer_add_kv(w, "source", "dem.tif") == R2H_OK &&
        r2h_pq_writer_add_kv(w, "novalue", NULL) == R2H_OK &&
        r2h_pq_writer_write(w, data, n) == R2H_OK)
        ok = r2h_pq_writer_close(w, NULL, 0) == R2H_OK;
    else
        r2h_pq_writer_abort(w);
    for (int t = 0; t <= R2H_PQ_STRING; t++)
        free(arrs[t]);
    free(valid);
    free(strs);
    return ok;
}

TEST(footer_accessors)
{
    struct r2h_pq_reader *r = NULL;
    char err[256];
    t_assert(write_multi(R2H_PQ_CODEC_ZSTD, 500, 200, 50), "write");
    t_assert(r2h_pq_reader_open_mem(captured, captured_len, &r, err, sizeof err) == R2H_OK, "open");
    if (!r)
        return;
    t_assert(r2h_pq_reader_num_columns(r) == 11 && r2h_pq_reader_num_row_groups(r) == 3, "shape");
    t_assert(r2h_pq_reader_row_group_rows(r, 2) == 100 && r2h_pq_reader_row_group_rows(r, 3) == 0,
             "row group rows");
    for (int t = 0; t <= R2H_PQ_STRING; t++) {
        const char *name;
        enum r2h_pq_type ty;
        int opt;
        t_assert(r2h_pq_reader_column(r, (size_t)t, &name, &ty, &opt) == R2H_OK &&
                     !strcmp(name, type_name[t]) && ty == (enum r2h_pq_type)t && opt == t % 2,
                 "column schema");
        t_assert(r2h_pq_reader_find_column(r, type_name[t]) == t, "find_column");
    }
    t_assert(r2h_pq_reader_find_column(r, "nope") == -1, "absent column");
    t_assert(r2h_pq_reader_column(r, 11, NULL, NULL, NULL) == R2H_ERR_INVALID, "column range");
    t_assert(!strcmp(r2h_pq_reader_kv(r, "source"), "dem.tif"), "kv");
    t_assert(r2h_pq_reader_kv(r, "novalue") == NULL && r2h_pq_reader_kv(r, "x") == NULL, "kv null");
    t_assert(r2h_pq_reader_kv_count(r) == 3, "kv count");
    t_assert(!strncmp(r2h_pq_reader_created_by(r), "raster2h3", 9), "created_by");
    uint8_t buf[8 * 200];
    t_assert(r2h_pq_reader_read_column(r, 0, R2H_PQ_STRING, buf, NULL) == R2H_ERR_INVALID &&
                 strstr(r2h_pq_reader_errmsg(r), "<memory>: "),
             "strings are not read, message names the source");
    t_assert(r2h_pq_reader_read_column(r, 0, R2H_PQ_UINT64, buf, NULL) == R2H_OK, "uint64 read");
    int has;
    uint64_t mn, mx;
    t_assert(r2h_pq_reader_stats_u64(r, 1, R2H_PQ_UINT64, &has, &mn, &mx) == R2H_OK && has &&
                 mn < mx && mn >= 200 * 1000003ull,
             "exact uint64 stats");
    t_assert(r2h_pq_reader_stats_u64(r, 1, R2H_PQ_DOUBLE, &has, &mn, &mx) == R2H_ERR_INVALID,
             "u64 stats only for integers");
    double dmn, dmx;
    uint64_t nulls;
    t_assert(r2h_pq_reader_stats(r, 0, R2H_PQ_STRING, &has, &dmn, &dmx, &nulls) == R2H_OK && !has &&
                 nulls == 0,
             "string stats: null count only");
    r2h_pq_reader_close(r);
}

TEST(empty_file)
{
    struct r2h_pq_column_spec spec = {"cell", R2H_PQ_UINT64, 0, R2H_PQ_ENC_AUTO, 0, 0};
    struct r2h_pq_writer *w;
    struct r2h_pq_reader *r = NULL;
    t_assert(r2h_pq_writer_open(wrap_open(), &spec, 1, NULL, &w) == R2H_OK &&
                 r2h_pq_writer_close(w, NULL, 0) == R2H_OK,
             "write empty");
    t_assert(r2h_pq_reader_open_mem(captured, captured_len, &r, NULL, 0) == R2H_OK, "open");
    t_assert(r2h_pq_reader_num_rows(r) == 0 && r2h_pq_reader_num_row_groups(r) == 0, "no rows");
    r2h_pq_reader_close(r);
}

TEST(file_open_errors)
{
    char path[] = "/tmp/test_pq_reader_XXXXXX", file[64], err[512];
    struct r2h_pq_reader *r = NULL;
    struct r2h_sink *s;
    if (!mkdtemp(path))
        return;
    r2h_fmt(file, sizeof file, "%s/missing.parquet", path);
    t_assert(r2h_pq_reader_open(file, &r, err, sizeof err) == R2H_ERR_IO && !r &&
                 strstr(err, file) && strstr(err, "No such file"),
             "missing file: IO error with the path");
    t_assert(r2h_pq_reader_open(path, &r, err, sizeof err) == R2H_ERR_IO, "a directory");
    r2h_fmt(file, sizeof file, "%s/text.parquet", path);
    FILE *f = fopen(file, "w");
    fputs("hello, this is not parquet at all\n", f);
    fclose(f);
    t_assert(r2h_pq_reader_open(file, &r, err, sizeof err) == R2H_ERR_FORMAT &&
                 !strncmp(err, file, strlen(file)) && strstr(err, "magic"),
             "text file: FORMAT error 'path: detail'");
    unlink(file);
    r2h_fmt(file, sizeof file, "%s/ok.parquet", path);
    t_assert(write_multi(R2H_PQ_CODEC_SNAPPY, 300, 128, 50), "write");
    t_assert(r2h_sink_file_open(file, &s, err, sizeof err) == R2H_OK &&
                 r2h_sink_write(s, captured, captured_len) == R2H_OK &&
                 r2h_sink_close(s, err, sizeof err) == R2H_OK,
             "file written");
    t_assert(r2h_pq_reader_open(file, &r, err, sizeof err) == R2H_OK, "open file");
    if (r) {
        uint64_t v[128];
        uint8_t valid[128];
        t_assert(r2h_pq_reader_file_size(r) == captured_len, "size");
        for (size_t g = 0; g < 3; g++)
            for (int t = 0; t < R2H_PQ_STRING; t++)
                t_assert(r2h_pq_reader_read_column(r, g, (size_t)t, v, valid) == R2H_OK,
                         "read from file");
        r2h_pq_reader_close(r);
    }
    unlink(file);
    rmdir(path);
}

/* Open and read everything; the result does not matter, only that it returns. */
static int read_all(const uint8_t *p, size_t n)
{
    struct r2h_pq_reader *r = NULL;
    static uint64_t vals[4096];
    static uint8_t valid[4096];
    int errors = 0;
    if (r2h_pq_reader_open_mem(p, n, &r, NULL, 0) != R2H_OK)
        return 1;
    for (size_t g = 0; g < r2h_pq_reader_num_row_groups(r); g++) {
        if (r2h_pq_reader_row_group_rows(r, g) > 4096)
            continue;
        for (size_t c = 0; c < r2h_pq_reader_num_columns(r); c++) {
            double a, b;
            uint64_t nc;
            int has;
            enum r2h_pq_type t;
            r2h_pq_reader_stats(r, g, c, &has, &a, &b, &nc);
            if (r2h_pq_reader_column(r, c, NULL, &t, NULL) != R2H_OK || t == R2H_PQ_STRING)
                continue;
            errors += r2h_pq_reader_read_column(r, g, c, vals, valid) != R2H_OK;
        }
    }
    r2h_pq_reader_close(r);
    return errors;
}

static void corrupt_all(const char *what, enum r2h_pq_codec codec)
{
    t_assert(write_multi(codec, 40, 16, 7), what);
    size_t n = captured_len;
    uint8_t *copy = malloc(n);
    t_assert(read_all(captured, n) == 0, "intact file reads cleanly");
    for (size_t len = 0; len < n; len++) { /* truncation: a fresh, exact-size buffer for ASan */
        uint8_t *t = malloc(len + 1);
        memcpy(t, captured, len);
        read_all(t, len);
        free(t);
    }
    static const uint8_t flips[] = {0x01, 0xFF};
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < sizeof flips + 1; f++) {
            memcpy(copy, captured, n);
            copy[i] ^= f < sizeof flips ? flips[f] : (uint8_t)(rnd() | 1);
            read_all(copy, n);
        }
    free(copy);
    fprintf(stderr, "    %s: %zu bytes, every truncation and %zu flips survived\n", what, n,
            n * (sizeof flips + 1));
}

TEST(corrupt_input)
{
    corrupt_all("uncompressed", R2H_PQ_CODEC_NONE);
    corrupt_all("zstd", R2H_PQ_CODEC_ZSTD);
    corrupt_all("snappy", R2H_PQ_CODEC_SNAPPY);
}

TEST(alloc_failure)
{
    t_assert(write_multi(R2H_PQ_CODEC_ZSTD, 40, 16, 7), "write");
    int ok = 0;
    for (long k = 1; k < 2000 && !ok; k++) {
        r2h_alloc_fail_after(k);
        ok = read_all(captured, captured_len) == 0;
        r2h_alloc_fail_after(0);
    }
    t_assert(ok, "every allocation failure handled (and freed: LeakSanitizer in CI)");
}

/* ---- --dump FILE: the reader's view as JSON (tests/py/test_pq_reader.py) ---- */

static void dump_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void dump_double(double d)
{
    if (isnan(d))
        printf("NaN");
    else if (isinf(d))
        printf(d > 0 ? "Infinity" : "-Infinity");
    else
        printf("%.17g", d);
}

static void dump_value(enum r2h_pq_type t, uint64_t v)
{
    if (t == R2H_PQ_FLOAT || t == R2H_PQ_DOUBLE)
        dump_double(as_double(t, v));
    else if (is_signed_int(t))
        printf("%lld", (long long)extend(t, v));
    else
        printf("%llu", (unsigned long long)v);
}

static void dump_stats(struct r2h_pq_reader *r, size_t g, size_t c, enum r2h_pq_type t)
{
    int has;
    double mn, mx;
    uint64_t nulls, umn, umx;
    r2h_pq_reader_stats(r, g, c, &has, &mn, &mx, &nulls);
    printf("{\"null_count\": ");
    if (nulls == UINT64_MAX)
        printf("null");
    else
        printf("%llu", (unsigned long long)nulls);
    if (has && r2h_pq_reader_stats_u64(r, g, c, &has, &umn, &umx) == R2H_OK) {
        printf(", \"min\": ");
        dump_value(t == R2H_PQ_UINT64 ? t : R2H_PQ_INT64, umn);
        printf(", \"max\": ");
        dump_value(t == R2H_PQ_UINT64 ? t : R2H_PQ_INT64, umx);
    } else if (has) {
        printf(", \"min\": ");
        dump_double(mn);
        printf(", \"max\": ");
        dump_double(mx);
    }
    printf("}");
}

static int dump_row_group(struct r2h_pq_reader *r, size_t g)
{
    size_t rows = (size_t)r2h_pq_reader_row_group_rows(r, g), nc = r2h_pq_reader_num_columns(r);
    uint8_t *vals = malloc(rows * 8 + 8), *valid = malloc(rows + 1);
    int rc = 0;
    printf("%s{\"rows\": %zu, \"stats\": [", g ? ", " : "", rows);
    for (size_t c = 0; c < nc; c++) {
        enum r2h_pq_type t;
        r2h_pq_reader_column(r, c, NULL, &t, NULL);
        printf(c ? ", " : "");
        dump_stats(r, g, c, t);
    }
    printf("], \"columns\": [");
    for (size_t c = 0; c < nc && !rc; c++) {
        enum r2h_pq_type t;
        r2h_pq_reader_column(r, c, NULL, &t, NULL);
        printf(c ? ", " : "");
        if (t == R2H_PQ_STRING) {
            printf("null");
            continue;
        }
        if (r2h_pq_reader_read_column(r, g, c, vals, valid) != R2H_OK) {
            fprintf(stderr, "test_pq_reader: %s\n", r2h_pq_reader_errmsg(r));
            rc = 2;
            break;
        }
        printf("[");
        for (size_t i = 0; i < rows; i++) {
            printf(i ? ", " : "");
            if (!valid[i])
                printf("null");
            else
                dump_value(t, get_native(vals, t, i));
        }
        printf("]");
    }
    printf("]}");
    free(vals);
    free(valid);
    return rc;
}

static int tool_dump(const char *path)
{
    struct r2h_pq_reader *r;
    char err[512];
    int rc = 0;
    if (r2h_pq_reader_open(path, &r, err, sizeof err) != R2H_OK) {
        fprintf(stderr, "test_pq_reader: %s\n", err);
        return 2;
    }
    printf("{\"num_rows\": %llu, \"created_by\": ", (unsigned long long)r2h_pq_reader_num_rows(r));
    dump_str(r2h_pq_reader_created_by(r));
    printf(", \"kv\": {");
    for (size_t i = 0; i < r2h_pq_reader_kv_count(r); i++) {
        const char *k, *v;
        r2h_pq_reader_kv_at(r, i, &k, &v);
        printf(i ? ", " : "");
        dump_str(k);
        printf(": ");
        if (v && strlen(v) < 4096)
            dump_str(v);
        else
            printf("null");
    }
    printf("}, \"schema\": [");
    for (size_t c = 0; c < r2h_pq_reader_num_columns(r); c++) {
        const char *name;
        enum r2h_pq_type t;
        int opt;
        r2h_pq_reader_column(r, c, &name, &t, &opt);
        printf("%s{\"name\": ", c ? ", " : "");
        dump_str(name);
        printf(", \"type\": \"%s\", \"optional\": %s}", type_name[t], opt ? "true" : "false");
    }
    printf("], \"row_groups\": [");
    for (size_t g = 0; g < r2h_pq_reader_num_row_groups(r) && !rc; g++)
        rc = dump_row_group(r, g);
    printf("]}\n");
    r2h_pq_reader_close(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--dump"))
        return tool_dump(argv[2]);
    fprintf(stderr, "test_pq_reader\n");
    RUN(round_trip_matrix);
    RUN(round_trip_shapes);
    RUN(footer_accessors);
    RUN(empty_file);
    RUN(file_open_errors);
    RUN(corrupt_input);
    RUN(alloc_failure);
    r2h_free(captured);
    TEST_MAIN_END();
}
