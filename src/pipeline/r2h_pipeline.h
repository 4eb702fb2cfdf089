/* r2h_pipeline.h - internal helpers of the pipeline module shared by its files and unit tests. */
#ifndef R2H_PIPELINE_H
#define R2H_PIPELINE_H

#include <stdint.h>

#include "r2h_raster.h"

/* One output row before encoding: the cell and an order-preserving 64-bit key of the value
 * (sorting rows as unsigned (cell, key) pairs sorts by cell, then by value). */
struct r2h_row {
    uint64_t cell;
    uint64_t key;
};

/* Order-preserving key of the value at p (of type t), and its inverse into p. */
uint64_t r2h_value_key(enum r2h_dtype t, const void *p);
void r2h_value_from_key(enum r2h_dtype t, uint64_t key, void *p);

/* Sort rows ascending by (cell, key). Returns R2H_ERR_NOMEM if scratch space is unavailable. */
enum r2h_status r2h_rows_sort(struct r2h_row *rows, size_t n);

/* Seconds since an arbitrary epoch (monotonic clock). */
double r2h_now(void);
/* Peak resident set size of this process in bytes. */
uint64_t r2h_peak_rss(void);

#endif
