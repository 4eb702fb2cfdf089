/* sink_mem.c - in-memory sink: bytes accumulate in a growable buffer (tests, small outputs). */
#include <string.h>

#include "r2h_sink.h"

static enum r2h_status mem_write(struct r2h_sink *s, const void *p, size_t n)
{
    enum r2h_status st = r2h_buf_append(s->impl, p, n);
    if (st != R2H_OK)
        r2h_fmt(s->errmsg, sizeof s->errmsg, "memory sink: out of memory growing to %zu bytes",
                ((struct r2h_buf *)s->impl)->len + n);
    return st;
}

static void mem_release(struct r2h_sink *s)
{
    struct r2h_buf *b = s->impl;
    if (b) {
        r2h_buf_free(b);
        r2h_free(b);
    }
    s->impl = NULL;
}

static enum r2h_status mem_commit(struct r2h_sink *s)
{
    mem_release(s);
    return R2H_OK;
}

static const struct r2h_sink_ops mem_ops = {mem_write, mem_commit, mem_release};

enum r2h_status r2h_sink_mem_open(struct r2h_sink **out)
{
    struct r2h_sink *s = r2h_calloc(1, sizeof *s);
    if (!s)
        return R2H_ERR_NOMEM;
    s->impl = r2h_calloc(1, sizeof(struct r2h_buf));
    if (!s->impl) {
        r2h_free(s);
        return R2H_ERR_NOMEM;
    }
    s->ops = &mem_ops;
    *out = s;
    return R2H_OK;
}

uint8_t *r2h_sink_mem_take(struct r2h_sink *s, size_t *len)
{
    struct r2h_buf *b = s->impl;
    uint8_t *p = NULL;
    *len = 0;
    if (!b)
        return NULL;
    if (b->len) {
        p = b->data;
        *len = b->len;
    } else {
        r2h_free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

const uint8_t *r2h_sink_mem_data(const struct r2h_sink *s, size_t *len)
{
    const struct r2h_buf *b = s->impl;
    *len = b ? b->len : 0;
    return b ? b->data : NULL;
}

void r2h_sink_mem_clear(struct r2h_sink *s)
{
    struct r2h_buf *b = s->impl;
    if (b)
        b->len = 0; /* keeps its memory; s->bytes keeps counting */
}
