/* test_arrow.c - the arrow module: schemas and record batches from unencoded row groups (every
 * type, nulls, strings, children moved out before the parent is released) and the stream
 * (batches in order, the end, a producer's error before and after the schema, a consumer that
 * releases early while the producer waits on a full queue). Run under ASan too: every buffer
 * must be freed once. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "r2h_arrow.h"
#include "test.h"

TEST(schema)
{
    const struct r2h_pq_column_spec cols[] = {
        {.name = "value", .type = R2H_PQ_UINT16},
        {.name = "mean", .type = R2H_PQ_DOUBLE, .optional = 1},
        {.name = "h8", .type = R2H_PQ_UINT64},
        {.name = "h8s", .type = R2H_PQ_STRING}};
    struct ArrowSchema s;
    t_assert(r2h_arrow_schema(cols, 4, &s) == R2H_OK, "schema built");
    t_assert(strcmp(s.format, "+s") == 0 && s.n_children == 4, "a struct of four");
    const char *formats[] = {"S", "g", "L", "u"};
    for (int i = 0; i < 4; i++) {
        t_assert(strcmp(s.children[i]->format, formats[i]) == 0, "format per type");
        t_assert(strcmp(s.children[i]->name, cols[i].name) == 0, "names");
        t_assert((s.children[i]->flags & ARROW_FLAG_NULLABLE) == (i == 1 ? 2 : 0), "nullable");
    }
    /* a consumer may move a child out and release it on its own */
    struct ArrowSchema moved = *s.children[3];
    s.children[3]->release = NULL;
    moved.release(&moved);
    t_assert(moved.release == NULL, "moved child released");
    s.release(&s);
    t_assert(s.release == NULL, "released");
}

TEST(batch)
{
    enum { N = 5 };
    const int32_t u8[N] = {0, 1, 200, 255, 7};        /* physical int32 of uint8 */
    const int32_t i16[N] = {-32768, -1, 0, 1, 32767}; /* of int16 */
    const int64_t u64[N] = {1, 2, 3, INT64_MAX, 5};
    const double dbl[3] = {1.5, -2.5, 8}; /* the non-null values of rows 0, 2, 3 */
    const uint8_t dvalid[N] = {1, 0, 1, 1, 0};
    const char bytes[] = "ab"
                         "cde";
    const uint64_t offs[3] = {0, 2, 5}; /* rows 1 and 4 valid */
    const uint8_t svalid[N] = {0, 1, 0, 0, 1};
    const struct r2h_pq_rowgroup_column cols[] = {
        {.name = "a", .type = R2H_PQ_UINT8, .values = u8, .nvals = N},
        {.name = "b", .type = R2H_PQ_INT16, .values = i16, .nvals = N},
        {.name = "c", .type = R2H_PQ_UINT64, .values = u64, .nvals = N},
        {.name = "d",
         .type = R2H_PQ_DOUBLE,
         .optional = 1,
         .values = dbl,
         .valid = dvalid,
         .nvals = 3},
        {.name = "e",
         .type = R2H_PQ_STRING,
         .optional = 1,
         .values = bytes,
         .offsets = offs,
         .valid = svalid,
         .nvals = 2}};
    struct ArrowArray a;
    t_assert(r2h_arrow_batch(cols, 5, N, &a) == R2H_OK, "batch built");
    t_assert(a.length == N && a.n_children == 5 && a.n_buffers == 1, "a struct array");
    const uint8_t *pa = a.children[0]->buffers[1];
    t_assert(pa[2] == 200 && pa[3] == 255 && a.children[0]->buffers[0] == NULL, "uint8 narrowed");
    const int16_t *pb = a.children[1]->buffers[1];
    t_assert(pb[0] == -32768 && pb[1] == -1 && pb[4] == 32767, "int16 narrowed, signed");
    const uint64_t *pc = a.children[2]->buffers[1];
    t_assert(pc[3] == (uint64_t)INT64_MAX, "uint64 copied");
    const struct ArrowArray *d = a.children[3];
    const uint8_t *bits = d->buffers[0];
    const double *pd = d->buffers[1];
    t_assert(d->null_count == 2 && bits && bits[0] == 0x0d, "validity bitmap rows 0, 2, 3");
    t_assert(pd[0] == 1.5 && pd[2] == -2.5 && pd[3] == 8 && pd[1] == 0, "values spread to rows");
    const struct ArrowArray *e = a.children[4];
    const int32_t *eo = e->buffers[1];
    t_assert(e->n_buffers == 3 && e->null_count == 3, "strings with nulls");
    t_assert(eo[0] == 0 && eo[1] == 0 && eo[2] == 2 && eo[3] == 2 && eo[4] == 2 && eo[5] == 5,
             "offsets repeat over nulls");
    t_assert(memcmp(e->buffers[2], "abcde", 5) == 0, "string bytes");
    struct ArrowArray moved = *a.children[2];
    a.children[2]->release = NULL;
    a.release(&a);
    t_assert(a.release == NULL, "parent released, moved child kept");
    t_assert(((const uint64_t *)moved.buffers[1])[4] == 5, "moved child still readable");
    moved.release(&moved);
}

/* A producer of nbatch batches of one uint32 column (batch k holds k, k+1, ...), then st. */
struct prod {
    int nbatch, rows, schema_first;
    enum r2h_status end, push_status;
    int freed;
};

static enum r2h_status produce(void *ctx, struct r2h_arrow_queue *q, char *msg, size_t msglen)
{
    struct prod *p = ctx;
    const struct r2h_pq_column_spec col = {.name = "v", .type = R2H_PQ_UINT32};
    if (p->schema_first && r2h_arrow_queue_schema(q, &col, 1) != R2H_OK)
        return R2H_ERR_NOMEM;
    int32_t vals[64];
    for (int k = 0; k < p->nbatch; k++) {
        for (int i = 0; i < p->rows; i++)
            vals[i] = k + i;
        const struct r2h_pq_rowgroup_column c = {
            .name = "v", .type = R2H_PQ_UINT32, .values = vals, .nvals = (size_t)p->rows};
        struct ArrowArray a;
        if (r2h_arrow_batch(&c, 1, (size_t)p->rows, &a) != R2H_OK)
            return R2H_ERR_NOMEM;
        if ((p->push_status = r2h_arrow_queue_push(q, &a)) != R2H_OK)
            return p->push_status;
    }
    if (p->end != R2H_OK)
        r2h_fmt(msg, msglen, "the producer failed on purpose");
    return p->end;
}

static void prod_free(void *ctx)
{
    ((struct prod *)ctx)->freed = 1;
}

TEST(stream)
{
    struct prod p = {.nbatch = 7, .rows = 3, .schema_first = 1};
    struct ArrowArrayStream s;
    char err[128];
    t_assert(r2h_arrow_stream_start(produce, &p, prod_free, 2, &s, err, sizeof err) == R2H_OK,
             "started");
    struct ArrowSchema sc;
    t_assert(s.get_schema(&s, &sc) == 0 && sc.n_children == 1 &&
                 strcmp(sc.children[0]->format, "I") == 0,
             "schema of the producer's columns");
    sc.release(&sc);
    int k = 0, ordered = 1;
    struct ArrowArray a;
    while (s.get_next(&s, &a) == 0 && a.release) {
        const uint32_t *v = a.children[0]->buffers[1];
        ordered &= a.length == 3 && v[0] == (uint32_t)k && v[2] == (uint32_t)k + 2;
        a.release(&a);
        k++;
    }
    t_assert(k == 7 && ordered, "seven batches in order, then the end");
    t_assert(s.get_next(&s, &a) == 0 && a.release == NULL, "the end stays the end");
    s.release(&s);
    t_assert(p.freed && s.release == NULL, "released: producer's context freed");

    /* an error after the schema: from get_next, with its message */
    struct prod q = {.nbatch = 1, .rows = 2, .schema_first = 1, .end = R2H_ERR_IO};
    t_assert(r2h_arrow_stream_start(produce, &q, prod_free, 2, &s, err, sizeof err) == R2H_OK,
             "started");
    t_assert(s.get_next(&s, &a) == 0 && a.release, "the batch before the error");
    a.release(&a);
    t_assert(s.get_next(&s, &a) == EIO, "then EIO");
    t_assert(strstr(s.get_last_error(&s), "on purpose") != NULL, "with the producer's message");
    s.release(&s);

    /* an error before the schema: from the start call; nothing to release */
    struct prod r = {.nbatch = 0, .end = R2H_ERR_INPUT};
    memset(&s, 0, sizeof s);
    t_assert(r2h_arrow_stream_start(produce, &r, prod_free, 2, &s, err, sizeof err) ==
                 R2H_ERR_INPUT,
             "start fails");
    t_assert(strstr(err, "on purpose") && r.freed && s.release == NULL, "message, ctx freed");
}

TEST(early_release)
{
    /* queue of one: the producer blocks on its second push until the release wakes it */
    struct prod p = {.nbatch = 50, .rows = 64, .schema_first = 1};
    struct ArrowArrayStream s;
    char err[128];
    t_assert(r2h_arrow_stream_start(produce, &p, prod_free, 1, &s, err, sizeof err) == R2H_OK,
             "started");
    struct ArrowArray a;
    t_assert(s.get_next(&s, &a) == 0 && a.release, "one batch");
    a.release(&a);
    s.release(&s); /* joins the producer */
    t_assert(p.push_status == R2H_ERR_INTERRUPTED && p.freed, "producer told to stop");
}

int main(void)
{
    fprintf(stderr, "test_arrow\n");
    RUN(schema);
    RUN(batch);
    RUN(stream);
    RUN(early_release);
    TEST_MAIN_END();
}
