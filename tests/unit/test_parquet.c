/* test_parquet.c - Parquet writer unit tests (known-answer encodings) and a --write-file tool mode.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pq_internal.h"
#include "r2h_parquet.h"
#include "r2h_sink.h"
#include "test.h"

/* ---- a sink that hands its bytes to the test at commit (the writer frees its sink) ---- */

static struct r2h_buf captured;
static long fail_after_bytes = -1; /* >= 0: writes fail once this many bytes were accepted */

static enum r2h_status cap_write(struct r2h_sink *s, const void *p, size_t n)
{
    struct r2h_buf *b = s->impl;
    if (fail_after_bytes >= 0 && b->len + n > (size_t)fail_after_bytes) {
        r2h_fmt(s->errmsg, sizeof s->errmsg, "test sink: disk full");
        return R2H_ERR_IO;
    }
    return r2h_buf_append(b, p, n);
}

static void cap_abort(struct r2h_sink *s)
{
    r2h_buf_free(s->impl);
    r2h_free(s->impl);
}

static enum r2h_status cap_commit(struct r2h_sink *s)
{
    r2h_buf_free(&captured);
    captured = *(struct r2h_buf *)s->impl;
    r2h_free(s->impl);
    return R2H_OK;
}

static const struct r2h_sink_ops cap_ops = {cap_write, cap_commit, cap_abort};

static struct r2h_sink *cap_open(void)
{
    struct r2h_sink *s = r2h_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->impl = r2h_calloc(1, sizeof(struct r2h_buf));
    if (!s->impl) {
        r2h_free(s);
        return NULL;
    }
    s->ops = &cap_ops;
    return s;
}

static int bytes_eq(const struct r2h_buf *b, const uint8_t *want, size_t n)
{
    int ok = b->len == n && memcmp(b->data, want, n) == 0;
    if (!ok) {
        fprintf(stderr, "    got :");
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, " %02X", b->data[i]);
        fprintf(stderr, "\n    want:");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02X", want[i]);
        fprintf(stderr, "\n");
    }
    return ok;
}

#define EXPECT_BYTES(buf, ...)                                                                     \
    do {                                                                                           \
        static const uint8_t want_[] = {__VA_ARGS__};                                              \
        t_assert(bytes_eq(&(buf), want_, sizeof want_), #__VA_ARGS__);                             \
    } while (0)

/* ---- thrift compact ---- */

TEST(thrift_varint_zigzag)
{
    struct r2h_buf b = {0};
    struct r2h_pq_thrift t;
    r2h_pq_thrift_init(&t, &b);
    /* ULEB128: 300 = 0b10_0101100 -> AC 02 */
    r2h_pq_thrift_uvarint(&t, 300);
    EXPECT_BYTES(b, 0xAC, 0x02);
    b.len = 0;
    /* i32 fields are zigzag: field 1 (delta 1, I32=5) -> 0x15; 1 -> 2; field 2 (delta 1) -1 -> 1;
     * field 3: i64 (type 6) -3 -> 5; field 4: 64 -> 128 = 80 01 */
    r2h_pq_thrift_i32(&t, 1, 1);
    r2h_pq_thrift_i32(&t, 2, -1);
    r2h_pq_thrift_i64(&t, 3, -3);
    r2h_pq_thrift_i64(&t, 4, 64);
    EXPECT_BYTES(b, 0x15, 0x02, 0x15, 0x01, 0x16, 0x05, 0x16, 0x80, 0x01);
    b.len = 0;
    /* i64 extreme: INT64_MIN zigzags to UINT64_MAX: 9 x FF then 01 */
    r2h_pq_thrift_init(&t, &b);
    r2h_pq_thrift_i64(&t, 1, INT64_MIN);
    EXPECT_BYTES(b, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01);
    r2h_buf_free(&b);
}

TEST(thrift_field_headers)
{
    struct r2h_buf b = {0};
    struct r2h_pq_thrift t;
    r2h_pq_thrift_init(&t, &b);
    /* field 1 bool true -> 0x11 (type nibble carries the value, no payload);
     * field 17 (delta 16 > 15) i32 7 -> long form: type byte 0x05, zigzag i16 id 34 = 0x22,
     * value zz(7) = 0x0E; then field 18 (delta 1) bool false -> 0x12; i8 field 19 = 0x40 raw */
    r2h_pq_thrift_bool(&t, 1, 1);
    r2h_pq_thrift_i32(&t, 17, 7);
    r2h_pq_thrift_bool(&t, 18, 0);
    r2h_pq_thrift_i8(&t, 19, 64);
    EXPECT_BYTES(b, 0x11, 0x05, 0x22, 0x0E, 0x12, 0x13, 0x40);
    /* going backwards (id 2 after 19) also needs the long form: 0x05 0x04 value */
    b.len = 0;
    r2h_pq_thrift_i32(&t, 2, 0);
    EXPECT_BYTES(b, 0x05, 0x04, 0x00);
    r2h_buf_free(&b);
}

TEST(thrift_nested_struct_and_lists)
{
    struct r2h_buf b = {0};
    struct r2h_pq_thrift t;
    r2h_pq_thrift_init(&t, &b);
    /* Checklist worked example: SchemaElement h3 REQUIRED INT64 UINT_64 / INT(64,false). */
    r2h_pq_thrift_struct_begin(&t, 0);
    r2h_pq_thrift_i32(&t, 1, 2);
    r2h_pq_thrift_i32(&t, 3, 0);
    r2h_pq_thrift_string(&t, 4, "h3");
    r2h_pq_thrift_i32(&t, 6, 14);
    r2h_pq_thrift_struct_begin(&t, 10);
    r2h_pq_thrift_struct_begin(&t, 10); /* nested: last id resets to 0, so +10 again: AC */
    r2h_pq_thrift_i8(&t, 1, 64);
    r2h_pq_thrift_bool(&t, 2, 0);
    r2h_pq_thrift_struct_end(&t);
    r2h_pq_thrift_struct_end(&t);
    r2h_pq_thrift_i32(&t, 11, 5); /* parent continues from 10: delta 1 -> 0x15 */
    r2h_pq_thrift_struct_end(&t);
    EXPECT_BYTES(b, 0x15, 0x04, 0x25, 0x00, 0x18, 0x02, 'h', '3', 0x25, 0x1C, 0x4C, 0xAC, 0x13,
                 0x40, 0x12, 0x00, 0x00, 0x15, 0x0A, 0x00);
    b.len = 0;
    /* empty list<struct> field 4: header 0x49 then (0 << 4) | 12 = 0x0C (never 0x00) */
    r2h_pq_thrift_init(&t, &b);
    r2h_pq_thrift_list_begin(&t, 4, PQ_CT_STRUCT, 0);
    EXPECT_BYTES(b, 0x49, 0x0C);
    b.len = 0;
    /* list<i32> of 2: 0x25 then zz(3)=6, zz(8)=16; list<binary> of 15: long form F8 0F */
    r2h_pq_thrift_list_begin(&t, 0, PQ_CT_I32, 2);
    r2h_pq_thrift_elem_i32(&t, 3);
    r2h_pq_thrift_elem_i32(&t, 8);
    r2h_pq_thrift_list_begin(&t, 0, PQ_CT_BINARY, 15);
    r2h_pq_thrift_elem_binary(&t, "ab", 2); /* binary length is a plain varint */
    EXPECT_BYTES(b, 0x25, 0x06, 0x10, 0xF8, 0x0F, 0x02, 'a', 'b');
    t_assert(t.err == R2H_OK, "no thrift error");
    r2h_buf_free(&b);
}

/* ---- encodings ---- */

TEST(bitpack_lsb_first)
{
    struct r2h_buf b = {0};
    /* Encodings.md: 0..7 at width 3, LSB-first -> 88 C6 FA */
    uint64_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    t_assert(r2h_pq_bitpack(&b, v, 8, 3) == R2H_OK, "pack");
    EXPECT_BYTES(b, 0x88, 0xC6, 0xFA);
    /* width 64: values copied little-endian */
    b.len = 0;
    uint64_t big[8] = {UINT64_MAX, 1, 0, 0, 0, 0, 0, 0x0102030405060708ULL};
    t_assert(r2h_pq_bitpack(&b, big, 8, 64) == R2H_OK, "pack64");
    t_assert(b.len == 64 && b.data[0] == 0xFF && b.data[7] == 0xFF && b.data[8] == 1 &&
                 b.data[56] == 0x08 && b.data[63] == 0x01,
             "64-bit lanes");
    r2h_buf_free(&b);
}

TEST(rle_hybrid)
{
    struct r2h_buf b = {0};
    /* 10 x 5 at width 3: one RLE run, header varint(10 << 1) = 0x14, value in 1 byte */
    uint32_t run[10] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
    r2h_pq_rle_hybrid(&b, run, 10, 3);
    EXPECT_BYTES(b, 0x14, 0x05);
    /* 0..7 width 3: one bit-packed group: header (1 << 1) | 1 = 0x03, then 88 C6 FA */
    b.len = 0;
    uint32_t seq[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    r2h_pq_rle_hybrid(&b, seq, 8, 3);
    EXPECT_BYTES(b, 0x03, 0x88, 0xC6, 0xFA);
    /* 1,2,3 then 9 x 0 at width 2: packed group [1,2,3,0,0,0,0,0] = 0x39 0x00 then RLE of the
     * remaining 4 zeros? No: the group boundary is at index 8, 4 zeros left (< 8): they are
     * packed too -> 2 groups: header 0x05, bytes 39 00 00 00 */
    b.len = 0;
    uint32_t mix[12] = {1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    r2h_pq_rle_hybrid(&b, mix, 12, 2);
    EXPECT_BYTES(b, 0x05, 0x39, 0x00, 0x00, 0x00);
    /* 300-bit-width-9 RLE: 16 x 300: header 0x20, value 2 bytes LE 2C 01 */
    b.len = 0;
    uint32_t wide[16];
    for (int i = 0; i < 16; i++)
        wide[i] = 300;
    r2h_pq_rle_hybrid(&b, wide, 16, 9);
    EXPECT_BYTES(b, 0x20, 0x2C, 0x01);
    /* V1 def levels: 4-byte LE length prefix. 3 valid rows: run of 3 ones: 06 01 */
    b.len = 0;
    uint8_t def[3] = {1, 1, 1};
    r2h_pq_def_levels(&b, def, 3);
    EXPECT_BYTES(b, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01);
    r2h_buf_free(&b);
}

TEST(delta_binary_packed)
{
    struct r2h_buf b = {0};
    int width;
    /* Encodings.md example 1: 1..5 -> block 128 (80 01), 4 miniblocks (04), count 5 (05),
     * first zz(1)=02; block: min delta zz(1)=02, widths 00 00 00 00, no bodies */
    int64_t a[5] = {1, 2, 3, 4, 5};
    r2h_pq_delta_encode(&b, a, 5, 0, &width);
    t_assert(width == 0, "width 0");
    EXPECT_BYTES(b, 0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00);
    /* Example 2: 7,5,3,1,2,3,4,5: deltas -2,-2,-2,1,1,1,1; min -2 (zz 03); stored 0,0,0,3,3,3,3
     * width 2; miniblock 1 = 32 values * 2 bits = 8 bytes: C0 3F 00.. ; others width 0 */
    b.len = 0;
    int32_t c[8] = {7, 5, 3, 1, 2, 3, 4, 5};
    r2h_pq_delta_encode(&b, c, 8, 1, &width);
    t_assert(width == 2, "width 2");
    EXPECT_BYTES(b, 0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 0x02, 0x00, 0x00, 0x00, 0xC0, 0x3F, 0x00,
                 0x00, 0x00, 0x00, 0x00, 0x00);
    /* Wrapping: INT64_MIN after INT64_MAX has delta +1 in 64-bit two's complement */
    b.len = 0;
    int64_t w2[2] = {INT64_MAX, INT64_MIN};
    r2h_pq_delta_encode(&b, w2, 2, 0, &width);
    EXPECT_BYTES(b, 0x80, 0x01, 0x04, 0x02, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                 0x01, 0x02, 0x00, 0x00, 0x00, 0x00);
    r2h_buf_free(&b);
}

TEST(plain_strings)
{
    struct r2h_buf b = {0};
    const uint8_t data[] = "abc";
    uint64_t offs[3] = {0, 0, 3}; /* "", "abc" */
    r2h_pq_plain_strings(&b, data, offs, 2);
    EXPECT_BYTES(b, 0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c');
    r2h_buf_free(&b);
}

/* ---- writer ---- */

/* Write a 2-column table (sorted uint64 + optional uint16 + string) of n rows. */
static enum r2h_status write_sample(size_t n, enum r2h_pq_codec codec, char *err, size_t errlen)
{
    struct r2h_pq_column_spec spec[3] = {{"cell", R2H_PQ_UINT64, 0, R2H_PQ_ENC_AUTO, 1, 0},
                                         {"value", R2H_PQ_UINT16, 1, R2H_PQ_ENC_AUTO, 0, 0},
                                         {"name", R2H_PQ_STRING, 1, R2H_PQ_ENC_AUTO, 0, 0}};
    struct r2h_pq_options o;
    r2h_pq_options_init(&o);
    o.codec = codec;
    o.row_group_rows = 100;
    o.page_rows = 30;
    enum r2h_status st = R2H_ERR_NOMEM;
    uint64_t *cell = malloc(n * sizeof *cell);
    uint16_t *val = malloc(n * sizeof *val);
    uint8_t *valid = malloc(n);
    const char **names = malloc(n * sizeof *names);
    struct r2h_pq_writer *w = NULL;
    struct r2h_sink *s = cap_open();
    if (!cell || !val || !valid || !names || !s) {
        r2h_sink_abort(s);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        cell[i] = 0x8828308281fffffULL + i * 0x1000000ULL;
        val[i] = (uint16_t)(i % 7 == 0 ? 65535 : i % 5);
        valid[i] = i % 11 != 3;
        names[i] = i % 3 ? "abc" : "\xc3\xa9t\xc3\xa9";
    }
    struct r2h_pq_column_data d[3] = {{cell, NULL}, {val, valid}, {names, valid}};
    if ((st = r2h_pq_writer_open(s, spec, 3, &o, &w)) != R2H_OK)
        goto out;
    r2h_pq_writer_add_kv(w, "h3:resolution", "8");
    st = r2h_pq_writer_write(w, d, n / 2);
    if (st == R2H_OK)
        st = r2h_pq_writer_write(w, d + 0, 0);
    struct r2h_pq_column_data d2[3] = {
        {cell + n / 2, NULL}, {val + n / 2, valid + n / 2}, {names + n / 2, valid + n / 2}};
    if (st == R2H_OK)
        r2h_pq_writer_write(w, d2, n - n / 2);
    st = r2h_pq_writer_close(w, err, errlen);
out:
    free(cell);
    free(val);
    free(valid);
    free(names);
    return st;
}

static int looks_complete(const struct r2h_buf *b)
{
    if (b->len < 12 || memcmp(b->data, "PAR1", 4) || memcmp(b->data + b->len - 4, "PAR1", 4))
        return 0;
    const uint8_t *t = b->data + b->len - 8;
    uint32_t flen =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    return flen > 0 && flen <= b->len - 12;
}

TEST(writer_basic)
{
    char err[256] = "";
    r2h_buf_free(&captured);
    enum r2h_status st = write_sample(1000, R2H_PQ_CODEC_ZSTD, err, sizeof err);
    t_assert(st == R2H_OK, err);
    t_assert(looks_complete(&captured), "magic + footer");
    r2h_buf_free(&captured);
    st = write_sample(0, R2H_PQ_CODEC_SNAPPY, err, sizeof err);
    t_assert(st == R2H_OK && looks_complete(&captured), "empty table");
    r2h_buf_free(&captured);
}

/* Row groups encoded apart (r2h_pq_group, in any order) and appended in order give the same
 * file as the writer cutting the same row groups itself. */
TEST(groups_equal_writer)
{
    enum { N = 2500, RG = 700 };
    struct r2h_pq_column_spec spec[3] = {{"v", R2H_PQ_UINT16, 0, R2H_PQ_ENC_AUTO, 0, 0},
                                         {"s", R2H_PQ_STRING, 1, R2H_PQ_ENC_AUTO, 0, 0},
                                         {"cell", R2H_PQ_UINT64, 0, R2H_PQ_ENC_DELTA, 1, 1}};
    static uint64_t cell[N];
    static uint16_t val[N];
    static uint8_t valid[N];
    static const char *names[N];
    for (size_t i = 0; i < N; i++) {
        cell[i] = 0x8a2830828000000ULL + i * 0x1000ULL + (i % 600 == 599 ? (1ULL << 40) : 0);
        val[i] = (uint16_t)(i * 7 % 13);
        valid[i] = i % 9 != 2;
        names[i] = i % 4 ? "x" : "yz";
    }
    for (size_t i = 1; i < N; i++) /* keep it ascending across the gaps */
        if (cell[i] < cell[i - 1])
            cell[i] = cell[i - 1] + 0x1000;
    struct r2h_pq_options o;
    r2h_pq_options_init(&o);
    o.row_group_rows = RG;
    o.page_rows = 300;
    char err[256] = "";
    /* The writer alone. */
    struct r2h_pq_writer *w = NULL;
    t_assert(r2h_pq_writer_open(cap_open(), spec, 3, &o, &w) == R2H_OK, "open");
    struct r2h_pq_column_data d[3] = {{val, NULL}, {names, valid}, {cell, NULL}};
    t_assert(r2h_pq_writer_write(w, d, N) == R2H_OK, "write");
    t_assert(r2h_pq_writer_close(w, err, sizeof err) == R2H_OK, err);
    struct r2h_buf one = captured;
    memset(&captured, 0, sizeof captured);
    /* Groups of RG rows, encoded last first, appended in order. */
    struct r2h_pq_group *g[4] = {NULL};
    for (int k = 0; k < 4; k++)
        t_assert(r2h_pq_group_new(spec, 3, &o, &g[k]) == R2H_OK, "group");
    for (int k = 0; k < 4; k++) {
        const size_t at = (size_t)k * RG, n = at + RG <= N ? RG : N - at;
        struct r2h_pq_column_data dk[3] = {
            {val + at, NULL}, {names + at, valid + at}, {cell + at, NULL}};
        t_assert(r2h_pq_group_write(g[k], dk, n) == R2H_OK, "group write");
    }
    for (int k = 3; k >= 0; k--)
        t_assert(r2h_pq_group_encode(g[k]) == R2H_OK, "encode");
    t_assert(r2h_pq_writer_open(cap_open(), spec, 3, &o, &w) == R2H_OK, "open 2");
    for (int k = 0; k < 4; k++)
        t_assert(r2h_pq_writer_append_group(w, g[k]) == R2H_OK, "append");
    t_assert(r2h_pq_writer_close(w, err, sizeof err) == R2H_OK, err);
    t_assert(captured.len == one.len && memcmp(captured.data, one.data, one.len) == 0,
             "same bytes");
    /* A group is empty after its append and can be used again. */
    t_assert(r2h_pq_group_rows(g[0]) == 0, "emptied");
    for (int k = 0; k < 4; k++)
        r2h_pq_group_free(g[k]);
    r2h_buf_free(&one);
    r2h_buf_free(&captured);
}

TEST(writer_invalid)
{
    struct r2h_pq_column_spec bad[1] = {{"f", R2H_PQ_FLOAT, 0, R2H_PQ_ENC_DELTA, 0, 0}};
    struct r2h_pq_writer *w = NULL;
    t_assert(r2h_pq_writer_open(cap_open(), bad, 1, NULL, &w) == R2H_ERR_INVALID,
             "DELTA on float rejected");
    struct r2h_pq_column_spec req[1] = {{"v", R2H_PQ_INT32, 0, R2H_PQ_ENC_AUTO, 0, 0}};
    int32_t v[2] = {1, 2};
    uint8_t valid[2] = {1, 0};
    struct r2h_pq_column_data d[1] = {{v, valid}};
    char err[256];
    t_assert(r2h_pq_writer_open(cap_open(), req, 1, NULL, &w) == R2H_OK, "open");
    t_assert(r2h_pq_writer_write(w, d, 2) == R2H_ERR_INVALID, "null in REQUIRED");
    t_assert(r2h_pq_writer_write(w, d, 1) == R2H_ERR_INVALID, "sticky");
    t_assert(r2h_pq_writer_close(w, err, sizeof err) == R2H_ERR_INVALID && strstr(err, "'v'"),
             "close reports the first error");
    struct r2h_pq_column_spec str[1] = {{"s", R2H_PQ_STRING, 0, R2H_PQ_ENC_AUTO, 0, 0}};
    const char *bad_utf8[1] = {"\xff\xfe"};
    struct r2h_pq_column_data ds[1] = {{bad_utf8, NULL}};
    t_assert(r2h_pq_writer_open(cap_open(), str, 1, NULL, &w) == R2H_OK, "open");
    t_assert(r2h_pq_writer_write(w, ds, 1) == R2H_ERR_INVALID, "invalid UTF-8 rejected");
    r2h_pq_writer_abort(w);
    r2h_pq_writer_abort(NULL);
}

TEST(writer_sink_failure)
{
    /* A sink that fails after K bytes: close must report it and never commit. */
    for (long k = 0; k < 4000; k += 97) {
        char err[256] = "";
        r2h_buf_free(&captured);
        fail_after_bytes = k;
        enum r2h_status st = write_sample(500, R2H_PQ_CODEC_NONE, err, sizeof err);
        fail_after_bytes = -1;
        if (st == R2H_OK) {
            t_assert(looks_complete(&captured), "complete when it fits");
            break;
        }
        /* k < 4: the magic write in open fails (open has no message buffer) */
        t_assert(st == R2H_ERR_IO && (k < 4 || strstr(err, "disk full")),
                 "error surfaced at close");
        t_assert(captured.len == 0, "nothing committed");
    }
    r2h_buf_free(&captured);
}

TEST(writer_alloc_failure)
{
    /* Fail the Nth allocation for every N until a run completes: no crash, no leak (ASan). */
    int completed = 0;
    for (long n = 1; n < 5000 && !completed; n++) {
        char err[256] = "";
        r2h_buf_free(&captured);
        r2h_alloc_fail_after(n);
        enum r2h_status st = write_sample(250, R2H_PQ_CODEC_ZSTD, err, sizeof err);
        r2h_alloc_fail_after(0);
        if (st == R2H_OK) {
            completed = 1;
            t_assert(looks_complete(&captured), "complete");
        } else {
            t_assert(st == R2H_ERR_NOMEM, "NOMEM reported");
            t_assert(captured.len == 0, "nothing committed");
        }
    }
    t_assert(completed, "eventually succeeds");
    r2h_buf_free(&captured);
}

/* ---- tool mode: test_parquet --write-file SPEC OUT (driven by tests/py) ----
 * SPEC lines: "codec zstd|snappy|none", "level N", "rg_rows N", "page_rows N", "batch N",
 * "rows N", "kv HEXKEY HEXVALUE|-", "col NAME TYPE OPTIONAL(0/1) auto|plain|dict|delta
 * SORTED(0/1) VALUES_PATH VALID_PATH|-". Numeric values files hold native arrays; string files
 * hold NUL-terminated strings back to back (one per row, "" for null rows). Prints
 * "write_seconds S" on stdout. */

#define TOOL_MAX_COLS 64

struct tool_col {
    char name[256];
    uint8_t *values, *valid;
    const char **strs;
};

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static char *unhex(const char *h)
{
    size_t n = strlen(h) / 2;
    char *s = calloc(n + 1, 1);
    for (size_t i = 0; s && i < n; i++) {
        unsigned x;
        sscanf(h + 2 * i, "%2x", &x);
        s[i] = (char)x;
    }
    return s;
}

static int parse_type(const char *s)
{
    static const char *names[] = {"int8",  "uint8",  "int16", "uint16", "int32", "uint32",
                                  "int64", "uint64", "float", "double", "string"};
    for (int i = 0; i < 11; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

static int parse_enc(const char *s)
{
    static const char *names[] = {"auto", "plain", "dict", "delta"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int tool_write(const char *spec_path, const char *out)
{
    static struct r2h_pq_column_spec spec[TOOL_MAX_COLS];
    static struct tool_col tc[TOOL_MAX_COLS];
    static struct r2h_pq_column_data d[TOOL_MAX_COLS];
    char kvk[64][512], kvv[64][512];
    size_t ncols = 0, nkv = 0, rows = 0, batch = 0;
    struct r2h_pq_options o;
    r2h_pq_options_init(&o);
    FILE *f = fopen(spec_path, "r");
    if (!f)
        return 2;
    char line[4096], a[256], b[1024], e[1024], vp[1024], vl[1024];
    int opt, sorted;
    while (fgets(line, sizeof line, f)) {
        size_t x;
        if (sscanf(line, "codec %1023s", a) == 1)
            o.codec = !strcmp(a, "zstd")     ? R2H_PQ_CODEC_ZSTD
                      : !strcmp(a, "snappy") ? R2H_PQ_CODEC_SNAPPY
                                             : R2H_PQ_CODEC_NONE;
        else if (sscanf(line, "level %d", &opt) == 1)
            o.level = opt;
        else if (sscanf(line, "rg_rows %zu", &x) == 1)
            o.row_group_rows = x;
        else if (sscanf(line, "page_rows %zu", &x) == 1)
            o.page_rows = x;
        else if (sscanf(line, "batch %zu", &x) == 1)
            batch = x;
        else if (sscanf(line, "rows %zu", &x) == 1)
            rows = x;
        else if (sscanf(line, "kv %511s %511s", kvk[nkv], kvv[nkv]) == 2 && nkv < 63)
            nkv++;
        else if (sscanf(line, "col %255s %1023s %d %1023s %d %1023s %1023s", a, b, &opt, e, &sorted,
                        vp, vl) == 7 &&
                 ncols < TOOL_MAX_COLS) {
            struct tool_col *t = &tc[ncols];
            size_t len;
            memcpy(t->name, a, sizeof t->name);
            spec[ncols] = (struct r2h_pq_column_spec){t->name, (enum r2h_pq_type)parse_type(b),
                                                      opt,     (enum r2h_pq_encoding)parse_enc(e),
                                                      sorted,  0};
            t->values = read_all(vp, &len);
            t->valid = strcmp(vl, "-") ? read_all(vl, &len) : NULL;
            if (!t->values)
                return 2;
            if (spec[ncols].type == R2H_PQ_STRING) {
                t->strs = malloc((rows + 1) * sizeof *t->strs);
                const char *p = (const char *)t->values;
                for (size_t i = 0; i < rows; i++, p += strlen(p) + 1)
                    t->strs[i] = p;
            }
            ncols++;
        }
    }
    fclose(f);
    if (!batch)
        batch = rows ? rows : 1;
    char err[600] = "";
    struct r2h_sink *s;
    struct r2h_pq_writer *w;
    double t0 = now_s();
    enum r2h_status st = r2h_sink_file_open(out, &s, err, sizeof err);
    if (st == R2H_OK)
        st = r2h_pq_writer_open(s, spec, ncols, &o, &w);
    for (size_t i = 0; st == R2H_OK && i < nkv; i++) {
        char *k = unhex(kvk[i]), *v = strcmp(kvv[i], "-") ? unhex(kvv[i]) : NULL;
        st = r2h_pq_writer_add_kv(w, k, v);
        free(k);
        free(v);
    }
    for (size_t r = 0; st == R2H_OK && r < rows; r += batch) {
        size_t n = rows - r < batch ? rows - r : batch;
        for (size_t i = 0; i < ncols; i++) {
            size_t es = spec[i].type == R2H_PQ_STRING
                            ? sizeof(char *)
                            : (size_t[]){1, 1, 2, 2, 4, 4, 8, 8, 4, 8}[spec[i].type];
            d[i].values = spec[i].type == R2H_PQ_STRING ? (const void *)(tc[i].strs + r)
                                                        : (const void *)(tc[i].values + r * es);
            d[i].valid = tc[i].valid ? tc[i].valid + r : NULL;
        }
        st = r2h_pq_writer_write(w, d, n);
    }
    if (st == R2H_OK || w)
        st = r2h_pq_writer_close(w, err, sizeof err);
    printf("write_seconds %.6f\n", now_s() - t0);
    FILE *ps = fopen("/proc/self/status", "r"); /* VmHWM: peak RSS of this program only */
    while (ps && fgets(line, sizeof line, ps))
        if (!strncmp(line, "VmHWM:", 6))
            printf("peak_rss_kb %ld\n", strtol(line + 6, NULL, 10));
    if (ps)
        fclose(ps);
    for (size_t i = 0; i < ncols; i++) {
        free(tc[i].values);
        free(tc[i].valid);
        free(tc[i].strs);
    }
    if (st != R2H_OK) {
        fprintf(stderr, "test_parquet: %s: %s\n", r2h_status_str(st), err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--write-file"))
        return tool_write(argv[2], argv[3]);
    fprintf(stderr, "test_parquet\n");
    RUN(thrift_varint_zigzag);
    RUN(thrift_field_headers);
    RUN(thrift_nested_struct_and_lists);
    RUN(bitpack_lsb_first);
    RUN(rle_hybrid);
    RUN(delta_binary_packed);
    RUN(plain_strings);
    RUN(writer_basic);
    RUN(groups_equal_writer);
    RUN(writer_invalid);
    RUN(writer_sink_failure);
    RUN(writer_alloc_failure);
    TEST_MAIN_END();
}
