/* sink.c - kind-independent sink entry points: sticky errors, byte counting, close/abort. */
#include <string.h>

#include "r2h_sink.h"

/* Ownership convention for sink kinds: ops->commit and ops->abort release the kind-specific
 * state (s->impl); the struct r2h_sink itself is allocated with r2h_malloc by the kind's open
 * function and freed here with r2h_free. */

enum r2h_status r2h_sink_write(struct r2h_sink *s, const void *p, size_t n)
{
    if (s->error != R2H_OK)
        return s->error;
    if (n == 0)
        return R2H_OK;
    enum r2h_status st = s->ops->write(s, p, n);
    if (st != R2H_OK) {
        s->error = st;
        if (s->errmsg[0] == '\0')
            r2h_fmt(s->errmsg, sizeof s->errmsg, "sink write failed: %s", r2h_status_str(st));
        return st;
    }
    s->bytes += n;
    return R2H_OK;
}

enum r2h_status r2h_sink_close(struct r2h_sink *s, char *errbuf, size_t errbuf_len)
{
    if (!s)
        return R2H_OK;
    enum r2h_status st = s->error;
    if (st == R2H_OK) {
        st = s->ops->commit(s); /* releases impl in every case */
        if (st != R2H_OK && s->errmsg[0] == '\0')
            r2h_fmt(s->errmsg, sizeof s->errmsg, "sink commit failed: %s", r2h_status_str(st));
    } else {
        s->ops->abort(s);
    }
    if (st != R2H_OK)
        r2h_fmt(errbuf, errbuf_len, "%s", s->errmsg);
    r2h_free(s);
    return st;
}

void r2h_sink_abort(struct r2h_sink *s)
{
    if (!s)
        return;
    s->ops->abort(s);
    r2h_free(s);
}
