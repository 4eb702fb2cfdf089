/* r2h_arrow.h - the Arrow C data and stream interfaces (module API, internal to the library):
 * schemas and record batches built from the Parquet writer's unencoded row groups, and a stream
 * of batches made by a producer thread and taken by one consumer through a bounded queue. */
#ifndef R2H_ARROW_H
#define R2H_ARROW_H

#include <stddef.h>

#include "r2h_common.h"
#include "r2h_parquet.h"
#include "raster2h3.h"

/* An Arrow schema: a struct ("+s") of one field per column, named and typed as the Parquet
 * columns (unsigned stay unsigned, strings utf8), nullable where OPTIONAL. */
enum r2h_status r2h_arrow_schema(const struct r2h_pq_column_spec *cols, size_t ncols,
                                 struct ArrowSchema *out);

/* A record batch (struct array) of the nrows rows of one unencoded row group; it owns copies of
 * the values (cols are borrowed for the call). Each child has a release of its own (a consumer
 * may move children out). */
enum r2h_status r2h_arrow_batch(const struct r2h_pq_rowgroup_column *cols, size_t ncols,
                                size_t nrows, struct ArrowArray *out);

/* The producer's side of a stream. */
struct r2h_arrow_queue;

/* The columns of every batch to come: the stream's schema (copied). Once per stream, before
 * the first batch; later calls are ignored. */
enum r2h_status r2h_arrow_queue_schema(struct r2h_arrow_queue *q,
                                       const struct r2h_pq_column_spec *cols, size_t ncols);

/* Hand a batch over (moved: *batch is released or taken in every case). Blocks while the queue
 * is full. R2H_ERR_INTERRUPTED when the consumer has released the stream: stop producing. */
enum r2h_status r2h_arrow_queue_push(struct r2h_arrow_queue *q, struct ArrowArray *batch);

/* 1 once the consumer has released the stream (the producer should stop), else 0. */
int r2h_arrow_queue_released(struct r2h_arrow_queue *q);

/* The producer: makes the batches of ctx into q and returns its status, with a one-line message
 * in msg when not R2H_OK. Runs on a thread of its own. */
typedef enum r2h_status (*r2h_arrow_produce_fn)(void *ctx, struct r2h_arrow_queue *q, char *msg,
                                                size_t msglen);

/* Start produce(ctx) on a new thread and wait until it has set the schema or ended. Ended
 * with an error first: that error (msg in errbuf), the thread joined, ctx_free(ctx) called,
 * *out untouched. Else *out is a stream over the queue (at most cap batches waiting); its
 * release stops the producer (pushes fail), joins the thread and calls ctx_free(ctx). A
 * producer that ends without a schema and without an error gives an empty stream whose schema
 * is an empty struct. */
enum r2h_status r2h_arrow_stream_start(r2h_arrow_produce_fn produce, void *ctx,
                                       void (*ctx_free)(void *ctx), size_t cap,
                                       struct ArrowArrayStream *out, char *errbuf,
                                       size_t errbuf_len);

#endif
