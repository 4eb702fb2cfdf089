/* r2h_sort.h - the sort module: row formats, radix sorts, sorted runs (spilled or in memory)
 * and the k-way merge over them (rows.c, runs.c). Depends on common only. */
#ifndef R2H_SORT_H
#define R2H_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"

/* One output row before encoding: the cell and an order-preserving 64-bit key of the value
 * (sorting rows as unsigned (cell, key) pairs sorts by cell, then by value). */
struct r2h_row {
    uint64_t cell;
    uint64_t key;
};

/* A row with a payload: the cell, the key, the row's order among rows equal in (cell, key) (a
 * pixel index) and a payload that travels with the row but is not compared (the bits of a pixel
 * area, docs/design/0005-aggregation.md). Rows sort as unsigned (cell, key, ord) triples. */
struct r2h_wide_row {
    uint64_t cell;
    uint64_t key;
    uint64_t ord;
    uint64_t payload;
};

/* Row layout of a run (docs/design/0003-memory-budget.md). Rows are (cell, key) pairs of 16
 * bytes; when the key is narrow enough they are packed into 8 bytes: the bits of the cell that
 * vary between cells of one resolution (base cell and digits, 7 + 3 * res bits) above the key.
 * Packed rows sort as unsigned integers in (cell, key) order. Wide rows (struct r2h_wide_row,
 * 32 bytes) carry an order and a payload besides. */
struct r2h_rowfmt {
    int packed;         /* 1: 8-byte rows */
    int wide;           /* 1: 32-byte rows with a payload (struct r2h_wide_row) */
    int res;            /* H3 resolution of the cells */
    int key_bits;       /* key width */
    uint64_t key_mask;  /* (1 << key_bits) - 1 */
    uint64_t cell_low;  /* cell bits below the digits (all ones) */
    uint64_t cell_high; /* the cell header: mode and resolution */
    int cell_shift;     /* 45 - 3 * res: bit of the last digit */
};

/* The layout for cells of resolution res and keys of key_bits bits (packed when they fit). */
void r2h_rowfmt_init(struct r2h_rowfmt *f, int res, int key_bits);
/* The wide layout (struct r2h_wide_row) for cells of resolution res and 64-bit keys. */
void r2h_rowfmt_init_wide(struct r2h_rowfmt *f, int res);

/* Bytes per row of layout f. */
static inline size_t r2h_rowfmt_size(const struct r2h_rowfmt *f)
{
    return f->packed ? 8 : f->wide ? sizeof(struct r2h_wide_row) : sizeof(struct r2h_row);
}

static inline uint64_t r2h_row_pack(const struct r2h_rowfmt *f, uint64_t cell, uint64_t key)
{
    return ((cell & ~f->cell_high) >> f->cell_shift) << f->key_bits | key;
}

static inline uint64_t r2h_packed_cell(const struct r2h_rowfmt *f, uint64_t p)
{
    return f->cell_high | ((p >> f->key_bits) << f->cell_shift) | f->cell_low;
}

static inline int r2h_packed_base_cell(const struct r2h_rowfmt *f, uint64_t p)
{
    return (int)(p >> (f->key_bits + 3 * f->res));
}

/* Sort packed rows ascending, with scratch of cap rows (cache-sized buckets are sorted through
 * it) and count of R2H_SORT_COUNT entries. With copy (n rows, or NULL) the first pass goes
 * through it (faster); without, the sort is in place. */
enum { R2H_SORT_COUNT = 4 * 2 * 65536 + 32768 };
void r2h_packed_sort_with(uint64_t *rows, size_t n, uint64_t *scratch, size_t cap, size_t *count,
                          uint64_t *copy);

/* Sort rows ascending by (cell, key). Returns R2H_ERR_NOMEM if scratch space is unavailable. */
enum r2h_status r2h_rows_sort(struct r2h_row *rows, size_t n);

/* The same with caller-provided scratch: tmp of n rows and count of 65536 entries. */
void r2h_rows_sort_with(struct r2h_row *rows, size_t n, struct r2h_row *tmp, size_t *count);

/* Sort wide rows ascending by (cell, key, ord) (the payload follows its row), with scratch tmp of
 * n rows and count of 65536 entries. */
void r2h_wide_sort_with(struct r2h_wide_row *rows, size_t n, struct r2h_wide_row *tmp,
                        size_t *count);

/* Sorted runs of rows, in temporary files (spilled) or in memory, and merges over them.
 * Rows sorted by cell are grouped by base cell in increasing order (the base cell is the most
 * significant field that varies between cells of one resolution), so a run is indexed by the
 * offset of each base cell's rows. */
struct r2h_runs;

/* Create an empty set of runs of layout fmt (copied) whose files go to a new directory under
 * tmpdir (NULL: $TMPDIR or /tmp). */
enum r2h_status r2h_runs_create(const char *tmpdir, const struct r2h_rowfmt *fmt,
                                struct r2h_runs **out, char *err, size_t errlen);

/* Write n sorted rows of the set's layout as a run file. Thread-safe. */
enum r2h_status r2h_runs_spill(struct r2h_runs *rs, const void *rows, size_t n, char *err,
                               size_t errlen);

/* Add n sorted rows of the set's layout held in memory as a run (borrowed until destroy).
 * Thread-safe. */
enum r2h_status r2h_runs_add_memory(struct r2h_runs *rs, const void *rows, size_t n);

/* Rows of base cell bc over all runs; number of runs; number of spilled runs and bytes. */
uint64_t r2h_runs_rows(const struct r2h_runs *rs, int bc);
size_t r2h_runs_count(const struct r2h_runs *rs);
uint64_t r2h_runs_spilled_bytes(const struct r2h_runs *rs);

/* Remove all run files and the directory, free everything. NULL is a no-op. */
void r2h_runs_destroy(struct r2h_runs *rs);

/* K-way merge of base cell bc's rows over all runs, ascending by (cell, key) (wide rows: by
 * (cell, key, ord)), as unpacked rows; each file run is read through a buffer of bufrows rows.
 * Several merges may run at once on distinct threads. */
struct r2h_merge;
struct r2h_pq_column_spec;
enum r2h_status r2h_merge_open(const struct r2h_runs *rs, int bc, size_t bufrows,
                               struct r2h_merge **out);
/* Up to max next rows into out; returns how many (0 at the end). *st set on read errors. */
size_t r2h_merge_next(struct r2h_merge *m, struct r2h_row *out, size_t max, enum r2h_status *st,
                      char *err, size_t errlen);
/* The same as wide rows, from runs of any layout (ord and payload 0 unless the layout is wide). */
size_t r2h_merge_next_wide(struct r2h_merge *m, struct r2h_wide_row *out, size_t max,
                           enum r2h_status *st, char *err, size_t errlen);
void r2h_merge_close(struct r2h_merge *m);

/* A "merge" over one stream that is already in (cell, key) order: r2h_merge_next calls pull,
 * which returns up to max rows (0 at the end) or sets *st and err. For producers whose rows come
 * out sorted (the scan per cell) to reach the writers that read merges. */
typedef size_t (*r2h_row_pull)(void *ctx, struct r2h_row *out, size_t max, enum r2h_status *st,
                               char *err, size_t errlen);
enum r2h_status r2h_merge_open_pull(r2h_row_pull pull, void *ctx, struct r2h_merge **out);

#endif
