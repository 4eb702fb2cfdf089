/* fuzz_parquet.c - fuzz target: bytes -> schema, options and rows -> Parquet in memory; checks
 * the framing invariants (magic at both ends, sane footer length) and that nothing crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_parquet.h"
#include "r2h_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_COLS 6
#define MAX_ROWS 4096

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint8_t next(struct reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static struct r2h_buf out;

static enum r2h_status cap_write(struct r2h_sink *s, const void *p, size_t n)
{
    return r2h_buf_append(s->impl, p, n);
}

static void cap_abort(struct r2h_sink *s)
{
    r2h_buf_free(s->impl);
    r2h_free(s->impl);
}

static enum r2h_status cap_commit(struct r2h_sink *s)
{
    r2h_buf_free(&out);
    out = *(struct r2h_buf *)s->impl;
    r2h_free(s->impl);
    return R2H_OK;
}

static const struct r2h_sink_ops cap_ops = {cap_write, cap_commit, cap_abort};

static void check_file(const struct r2h_buf *b)
{
    if (b->len < 12 || memcmp(b->data, "PAR1", 4) || memcmp(b->data + b->len - 4, "PAR1", 4))
        abort();
    const uint8_t *t = b->data + b->len - 8;
    uint32_t flen =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (flen == 0 || flen > b->len - 12)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};
    struct r2h_pq_column_spec spec[MAX_COLS];
    struct r2h_pq_column_data cols[MAX_COLS];
    struct r2h_pq_options o;
    static char names[MAX_COLS][8];
    static const char *strs[4] = {"", "a", "\xc3\xa9", "zz"};
    r2h_pq_options_init(&o);
    size_t ncols = 1 + next(&r) % MAX_COLS;
    uint8_t c = next(&r);
    o.codec = c % 3 == 0 ? R2H_PQ_CODEC_NONE : c % 3 == 1 ? R2H_PQ_CODEC_SNAPPY : R2H_PQ_CODEC_ZSTD;
    o.level = 1;
    o.row_group_rows = 1 + next(&r) % 200;
    o.page_rows = 1 + next(&r) % 50;
    size_t nrows = (size_t)next(&r) * 16 % MAX_ROWS;
    for (size_t i = 0; i < ncols; i++) {
        uint8_t t = next(&r);
        names[i][0] = 'c';
        names[i][1] = (char)('0' + i);
        names[i][2] = '\0';
        spec[i] = (struct r2h_pq_column_spec){names[i], (enum r2h_pq_type)(t % 11), (t >> 4) & 1,
                                              (enum r2h_pq_encoding)((t >> 5) & 3), t >> 7};
        if (spec[i].encoding == R2H_PQ_ENC_DELTA && spec[i].type >= R2H_PQ_FLOAT)
            spec[i].encoding = R2H_PQ_ENC_PLAIN;
    }
    /* values: 8 bytes of raw fuzz data per row and column (reused cyclically) */
    uint64_t *vals = calloc(MAX_COLS * (nrows + 1), 8);
    uint8_t *valid = calloc(MAX_COLS * (nrows + 1), 1);
    const char **sv = calloc(MAX_COLS * (nrows + 1), sizeof *sv);
    if (!vals || !valid || !sv)
        goto out;
    for (size_t i = 0; i < ncols; i++) {
        uint8_t *vb = (uint8_t *)(vals + i * (nrows + 1));
        for (size_t k = 0; k < nrows * 8; k++)
            vb[k] = r.n ? r.p[k % r.n] : (uint8_t)k;
        for (size_t k = 0; k < nrows; k++) {
            valid[i * (nrows + 1) + k] = (vb[k] & 3) != 0 || !spec[i].optional;
            sv[i * (nrows + 1) + k] = strs[vb[k] & 3];
        }
        cols[i].values =
            spec[i].type == R2H_PQ_STRING ? (const void *)(sv + i * (nrows + 1)) : (const void *)vb;
        cols[i].valid = spec[i].optional ? valid + i * (nrows + 1) : NULL;
    }
    struct r2h_sink *s = r2h_calloc(1, sizeof *s);
    struct r2h_pq_writer *w;
    char err[256];
    if (!s)
        goto out;
    s->ops = &cap_ops;
    s->impl = r2h_calloc(1, sizeof(struct r2h_buf));
    if (!s->impl) {
        r2h_free(s);
        goto out;
    }
    if (r2h_pq_writer_open(s, spec, ncols, &o, &w) != R2H_OK)
        abort(); /* the decoded schema is always valid */
    size_t half = nrows / 2;
    if (r2h_pq_writer_write(w, cols, half) != R2H_OK)
        abort();
    for (size_t i = 0; i < ncols; i++) {
        static const size_t esz[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8, sizeof(char *)};
        size_t es = esz[spec[i].type];
        cols[i].values = (const uint8_t *)cols[i].values + half * es;
        if (cols[i].valid)
            cols[i].valid += half;
    }
    if (r2h_pq_writer_write(w, cols, nrows - half) != R2H_OK)
        abort();
    if (r2h_pq_writer_close(w, err, sizeof err) != R2H_OK)
        abort();
    check_file(&out);
    r2h_buf_free(&out);
out:
    free(vals);
    free(valid);
    free(sv);
    return 0;
}
