/* arrow.c - Arrow C data interface: schemas and record batches from unencoded row groups, and a
 * stream of batches fed by a producer thread through a bounded queue. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "r2h_arrow.h"

/* Arrow format string and bytes per value of each r2h_pq_type (strings: utf8, int32 offsets). */
static const char *const type_format[] = {"c", "C", "s", "S", "i", "I", "l", "L", "f", "g", "u"};
static const size_t type_width[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 0};

/* ---- schemas ---------------------------------------------------------------------------- */

struct schema_priv {
    char *name;
    struct ArrowSchema *kids;  /* the children's structs (root only) */
    struct ArrowSchema **ptrs; /* pointers to them (root only) */
};

static void schema_release(struct ArrowSchema *s)
{
    struct schema_priv *p = s->private_data;
    for (int64_t i = 0; i < s->n_children; i++)
        if (s->children[i] && s->children[i]->release)
            s->children[i]->release(s->children[i]);
    if (p) {
        r2h_free(p->name);
        r2h_free(p->kids);
        r2h_free(p->ptrs);
        r2h_free(p);
    }
    s->release = NULL;
}

enum r2h_status r2h_arrow_schema(const struct r2h_pq_column_spec *cols, size_t ncols,
                                 struct ArrowSchema *out)
{
    struct schema_priv *root = r2h_calloc(1, sizeof *root);
    if (!root)
        return R2H_ERR_NOMEM;
    *out = (struct ArrowSchema){
        .format = "+s", .name = "", .release = schema_release, .private_data = root};
    root->kids = r2h_calloc(ncols ? ncols : 1, sizeof *root->kids);
    root->ptrs = r2h_calloc(ncols ? ncols : 1, sizeof *root->ptrs);
    if (!root->kids || !root->ptrs)
        goto out_nomem;
    out->children = root->ptrs;
    for (size_t i = 0; i < ncols; i++) {
        struct schema_priv *p = r2h_calloc(1, sizeof *p);
        char *name = r2h_strdup(cols[i].name);
        if (!p || !name || (unsigned)cols[i].type > R2H_PQ_STRING) {
            r2h_free(p);
            r2h_free(name);
            goto out_nomem;
        }
        p->name = name;
        root->kids[i] = (struct ArrowSchema){.format = type_format[cols[i].type],
                                             .name = name,
                                             .flags = cols[i].optional ? ARROW_FLAG_NULLABLE : 0,
                                             .release = schema_release,
                                             .private_data = p};
        root->ptrs[i] = &root->kids[i];
        out->n_children = (int64_t)i + 1;
    }
    return R2H_OK;
out_nomem:
    schema_release(out);
    return R2H_ERR_NOMEM;
}

/* ---- record batches --------------------------------------------------------------------- */

struct array_priv {
    const void *bufs[3];
    void *owned[3];
    struct ArrowArray *kids;  /* root only */
    struct ArrowArray **ptrs; /* root only */
};

static void array_release(struct ArrowArray *a)
{
    struct array_priv *p = a->private_data;
    for (int64_t i = 0; i < a->n_children; i++)
        if (a->children[i] && a->children[i]->release)
            a->children[i]->release(a->children[i]);
    if (p) {
        for (int i = 0; i < 3; i++)
            r2h_free(p->owned[i]);
        r2h_free(p->kids);
        r2h_free(p->ptrs);
        r2h_free(p);
    }
    a->release = NULL;
}

/* Values of a column without nulls: w-byte values from the physical ones (int32 for 1- and
 * 2-byte types: narrowed, each kept loop simple enough to vectorise). */
static void copy_values(size_t w, const void *src, size_t n, unsigned char *dst)
{
    if (w >= 4) {
        memcpy(dst, src, n * w);
    } else if (w == 2) {
        const int32_t *v = src;
        uint16_t *d = (uint16_t *)(void *)dst;
        for (size_t i = 0; i < n; i++)
            d[i] = (uint16_t)v[i];
    } else {
        const int32_t *v = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = (unsigned char)v[i];
    }
}

/* Values of a column with nulls: value k of the non-null ones to each valid row, 0 elsewhere. */
static void spread_values(size_t w, const void *src, const uint8_t *valid, size_t n,
                          unsigned char *dst)
{
    const unsigned char *s = src;
    const size_t sw = w >= 4 ? w : 4;
    for (size_t i = 0, k = 0; i < n; i++) {
        memset(dst + i * w, 0, w);
        if (!valid[i])
            continue;
        if (w >= 4) {
            memcpy(dst + i * w, s + k * sw, w);
        } else {
            int32_t v;
            memcpy(&v, s + k * sw, 4);
            const uint16_t h = (uint16_t)v;
            const uint8_t b = (uint8_t)v;
            memcpy(dst + i * w, w == 2 ? (const void *)&h : (const void *)&b, w);
        }
        k++;
    }
}

/* The child array of column c: validity bitmap (nullable with nulls), values or offsets + bytes. */
static enum r2h_status column_array(const struct r2h_pq_rowgroup_column *c, size_t nrows,
                                    struct ArrowArray *out)
{
    struct array_priv *p = r2h_calloc(1, sizeof *p);
    if (!p)
        return R2H_ERR_NOMEM;
    const size_t nnull = nrows - c->nvals;
    *out = (struct ArrowArray){.length = (int64_t)nrows,
                               .null_count = (int64_t)nnull,
                               .n_buffers = c->type == R2H_PQ_STRING ? 3 : 2,
                               .buffers = p->bufs,
                               .release = array_release,
                               .private_data = p};
    const uint8_t *valid = nnull ? c->valid : NULL;
    if (valid) {
        uint8_t *bits = r2h_calloc((nrows + 7) / 8 + 1, 1);
        if (!(p->owned[0] = bits))
            goto out_nomem;
        for (size_t i = 0; i < nrows; i++)
            bits[i >> 3] |= (uint8_t)((valid[i] != 0) << (i & 7));
        p->bufs[0] = bits;
    }
    if (c->type == R2H_PQ_STRING) {
        const uint64_t *o = c->offsets, base = o[0], total = o[c->nvals] - base;
        if (total > INT32_MAX) {
            array_release(out);
            return R2H_ERR_FORMAT;
        }
        int32_t *offs = r2h_malloc((nrows + 1) * sizeof *offs);
        char *bytes = r2h_malloc(total ? total : 1);
        p->owned[1] = offs;
        p->owned[2] = bytes;
        if (!offs || !bytes)
            goto out_nomem;
        memcpy(bytes, (const char *)c->values, total);
        offs[0] = 0;
        for (size_t i = 0, k = 0; i < nrows; i++) {
            if (!valid || valid[i])
                k++;
            offs[i + 1] = (int32_t)(o[k] - base);
        }
        p->bufs[1] = offs;
        p->bufs[2] = bytes;
        return R2H_OK;
    }
    const size_t w = type_width[c->type];
    unsigned char *vals = r2h_malloc(nrows ? nrows * w : 1);
    if (!(p->owned[1] = vals))
        goto out_nomem;
    p->bufs[1] = vals;
    if (valid)
        spread_values(w, c->values, valid, nrows, vals);
    else
        copy_values(w, c->values, nrows, vals);
    return R2H_OK;
out_nomem:
    array_release(out);
    return R2H_ERR_NOMEM;
}

enum r2h_status r2h_arrow_batch(const struct r2h_pq_rowgroup_column *cols, size_t ncols,
                                size_t nrows, struct ArrowArray *out)
{
    struct array_priv *root = r2h_calloc(1, sizeof *root);
    if (!root)
        return R2H_ERR_NOMEM;
    *out = (struct ArrowArray){.length = (int64_t)nrows,
                               .n_buffers = 1,
                               .buffers = root->bufs,
                               .release = array_release,
                               .private_data = root};
    root->kids = r2h_calloc(ncols ? ncols : 1, sizeof *root->kids);
    root->ptrs = r2h_calloc(ncols ? ncols : 1, sizeof *root->ptrs);
    if (!root->kids || !root->ptrs) {
        array_release(out);
        return R2H_ERR_NOMEM;
    }
    out->children = root->ptrs;
    for (size_t i = 0; i < ncols; i++) {
        enum r2h_status st = column_array(&cols[i], nrows, &root->kids[i]);
        if (st != R2H_OK) {
            array_release(out);
            return st;
        }
        root->ptrs[i] = &root->kids[i];
        out->n_children = (int64_t)i + 1;
    }
    return R2H_OK;
}

/* ---- the stream ------------------------------------------------------------------------- */

struct r2h_arrow_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* any change: a batch in or out, schema, end, release */
    struct ArrowArray *ring;
    size_t cap, head, n;
    struct r2h_pq_column_spec *cols; /* the schema's columns (names owned) */
    size_t ncols;
    int has_schema, ended, released;
    enum r2h_status status; /* the producer's, once ended */
    char msg[1024];         /* its message */
    char last_error[1024];  /* the stream's get_last_error */
    r2h_arrow_produce_fn produce;
    void *ctx;
    void (*ctx_free)(void *ctx);
    pthread_t thread;
};

enum r2h_status r2h_arrow_queue_schema(struct r2h_arrow_queue *q,
                                       const struct r2h_pq_column_spec *cols, size_t ncols)
{
    pthread_mutex_lock(&q->mu);
    enum r2h_status st = R2H_OK;
    if (!q->has_schema) {
        q->cols = r2h_calloc(ncols ? ncols : 1, sizeof *q->cols);
        for (size_t i = 0; q->cols && i < ncols; i++) {
            q->cols[i] = cols[i];
            if (!(q->cols[i].name = r2h_strdup(cols[i].name)))
                st = R2H_ERR_NOMEM;
            q->ncols = i + 1;
        }
        if (!q->cols)
            st = R2H_ERR_NOMEM;
        q->has_schema = st == R2H_OK;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return st;
}

enum r2h_status r2h_arrow_queue_push(struct r2h_arrow_queue *q, struct ArrowArray *batch)
{
    pthread_mutex_lock(&q->mu);
    while (q->n == q->cap && !q->released)
        pthread_cond_wait(&q->cv, &q->mu);
    if (q->released) {
        pthread_mutex_unlock(&q->mu);
        batch->release(batch);
        return R2H_ERR_INTERRUPTED;
    }
    q->ring[(q->head + q->n) % q->cap] = *batch;
    batch->release = NULL;
    q->n++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return R2H_OK;
}

int r2h_arrow_queue_released(struct r2h_arrow_queue *q)
{
    pthread_mutex_lock(&q->mu);
    const int r = q->released;
    pthread_mutex_unlock(&q->mu);
    return r;
}

static void *producer_main(void *arg)
{
    struct r2h_arrow_queue *q = arg;
    char msg[sizeof q->msg] = "";
    enum r2h_status st = q->produce(q->ctx, q, msg, sizeof msg);
    pthread_mutex_lock(&q->mu);
    q->ended = 1;
    q->status = st;
    r2h_fmt(q->msg, sizeof q->msg, "%s", msg[0] ? msg : r2h_status_str(st));
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void queue_free(struct r2h_arrow_queue *q)
{
    for (size_t i = 0; i < q->n; i++) {
        struct ArrowArray *a = &q->ring[(q->head + i) % q->cap];
        if (a->release)
            a->release(a);
    }
    for (size_t i = 0; i < q->ncols; i++)
        r2h_free((char *)q->cols[i].name);
    r2h_free(q->cols);
    r2h_free(q->ring);
    if (q->ctx_free)
        q->ctx_free(q->ctx);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    r2h_free(q);
}

static int errno_of(enum r2h_status st)
{
    switch (st) {
    case R2H_ERR_NOMEM: return ENOMEM;
    case R2H_ERR_INVALID: return EINVAL;
    case R2H_ERR_INTERRUPTED: return EINTR;
    default: return EIO;
    }
}

static int stream_schema(struct ArrowArrayStream *s, struct ArrowSchema *out)
{
    struct r2h_arrow_queue *q = s->private_data;
    enum r2h_status st = r2h_arrow_schema(q->cols, q->ncols, out);
    if (st != R2H_OK) {
        r2h_fmt(q->last_error, sizeof q->last_error, "cannot build the schema: %s",
                r2h_status_str(st));
        return errno_of(st);
    }
    return 0;
}

static int stream_next(struct ArrowArrayStream *s, struct ArrowArray *out)
{
    struct r2h_arrow_queue *q = s->private_data;
    pthread_mutex_lock(&q->mu);
    while (q->n == 0 && !q->ended)
        pthread_cond_wait(&q->cv, &q->mu);
    int rc = 0;
    if (q->n) {
        *out = q->ring[q->head];
        q->ring[q->head].release = NULL;
        q->head = (q->head + 1) % q->cap;
        q->n--;
        pthread_cond_broadcast(&q->cv);
    } else if (q->status == R2H_OK) {
        memset(out, 0, sizeof *out); /* the end: a released array */
    } else {
        rc = errno_of(q->status);
        r2h_fmt(q->last_error, sizeof q->last_error, "%s", q->msg);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static const char *stream_error(struct ArrowArrayStream *s)
{
    struct r2h_arrow_queue *q = s->private_data;
    return q->last_error[0] ? q->last_error : NULL;
}

static void stream_release(struct ArrowArrayStream *s)
{
    struct r2h_arrow_queue *q = s->private_data;
    pthread_mutex_lock(&q->mu);
    q->released = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    queue_free(q);
    s->release = NULL;
}

enum r2h_status r2h_arrow_stream_start(r2h_arrow_produce_fn produce, void *ctx,
                                       void (*ctx_free)(void *ctx), size_t cap,
                                       struct ArrowArrayStream *out, char *errbuf,
                                       size_t errbuf_len)
{
    struct r2h_arrow_queue *q = r2h_calloc(1, sizeof *q);
    if (q)
        q->ring = r2h_calloc(cap ? cap : 1, sizeof *q->ring);
    if (!q || !q->ring) {
        r2h_free(q);
        if (ctx_free)
            ctx_free(ctx);
        r2h_fmt(errbuf, errbuf_len, "out of memory");
        return R2H_ERR_NOMEM;
    }
    q->cap = cap ? cap : 1;
    q->produce = produce;
    q->ctx = ctx;
    q->ctx_free = ctx_free;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (pthread_create(&q->thread, NULL, producer_main, q) != 0) {
        queue_free(q);
        r2h_fmt(errbuf, errbuf_len, "cannot start a thread");
        return R2H_ERR_NOMEM;
    }
    pthread_mutex_lock(&q->mu);
    while (!q->has_schema && !q->ended)
        pthread_cond_wait(&q->cv, &q->mu);
    const int failed = !q->has_schema && q->status != R2H_OK;
    const enum r2h_status st = q->status;
    pthread_mutex_unlock(&q->mu);
    if (failed) {
        pthread_join(q->thread, NULL);
        r2h_fmt(errbuf, errbuf_len, "%s", q->msg);
        queue_free(q);
        return st;
    }
    *out = (struct ArrowArrayStream){.get_schema = stream_schema,
                                     .get_next = stream_next,
                                     .get_last_error = stream_error,
                                     .release = stream_release,
                                     .private_data = q};
    return R2H_OK;
}
