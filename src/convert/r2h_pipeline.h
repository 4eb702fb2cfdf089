/* r2h_pipeline.h - internal helpers of the pipeline module shared by its files and unit tests. */
#ifndef R2H_PIPELINE_H
#define R2H_PIPELINE_H

#include <stdint.h>

#include "raster2h3.h"
#include "r2h_raster.h"

/* One output row before encoding: the cell and an order-preserving 64-bit key of the value
 * (sorting rows as unsigned (cell, key) pairs sorts by cell, then by value). */
struct r2h_row {
    uint64_t cell;
    uint64_t key;
};

/* Storage for one value of any pixel type. */
union r2h_value {
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
    uint64_t u64; int64_t i64; float f; double d;
};

/* Name of the cell column of resolution res: h<res>, except cell_h0 at resolution 0 (a column
 * h0 would clash with the Hive partition key h0=, which every reader adds as a string). */
void r2h_cell_column_name(int res, char *dst, size_t len);

/* The value of type t held in v, as a double. */
double r2h_value_double(enum r2h_dtype t, const union r2h_value *v);

/* Row layout of a run (docs/design/0003-memory-budget.md). Rows are (cell, key) pairs of 16
 * bytes; when the key is narrow enough they are packed into 8 bytes: the bits of the cell that
 * vary between cells of one resolution (base cell and digits, 7 + 3 * res bits) above the key.
 * Packed rows sort as unsigned integers in (cell, key) order. */
struct r2h_rowfmt {
    int packed;         /* 1: 8-byte rows */
    int res;            /* H3 resolution of the cells */
    int key_bits;       /* key width */
    uint64_t key_mask;  /* (1 << key_bits) - 1 */
    uint64_t cell_low;  /* cell bits below the digits (all ones) */
    uint64_t cell_high; /* the cell header: mode and resolution */
    int cell_shift;     /* 45 - 3 * res: bit of the last digit */
};

/* The layout for cells of resolution res and keys of key_bits bits (packed when they fit). */
void r2h_rowfmt_init(struct r2h_rowfmt *f, int res, int key_bits);

/* Bytes per row of layout f. */
static inline size_t r2h_rowfmt_size(const struct r2h_rowfmt *f) { return f->packed ? 8 : 16; }

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

/* Bands of a run (bands.c, docs/design/0007-multi-band.md). A row's key is the concatenation
 * of each selected band's narrow order-preserving key (8, 16, 32 or 64 bits by type), the first
 * band in the most significant bits, so sorting (cell, key) sorts by cell, then by the band
 * values lexicographically. One band is the n = 1 case. */
struct r2h_bands {
    int n;
    int band[R2H_RASTER_MAX_BANDS];      /* 1-based band numbers, in column order */
    enum r2h_dtype dt[R2H_RASTER_MAX_BANDS];
    int bits[R2H_RASTER_MAX_BANDS];      /* key width of each band */
    int shift[R2H_RASTER_MAX_BANDS];     /* its lowest bit in the key */
    size_t off[R2H_RASTER_MAX_BANDS];    /* its value's offset in a pixel record */
    size_t pixel_size;                   /* bytes per pixel record (r2h_raster_read) */
    int key_bits;                        /* total key width, <= 64 */
    int given[R2H_RASTER_MAX_BANDS];     /* name from --value-name */
    char name[R2H_RASTER_MAX_BANDS][256];
    int alpha_mask;                      /* --bands all: the alpha band left out, which masks
                                            the bands without a mask (r2h_raster_mask_with);
                                            0: none */
};

/* Narrow order-preserving key of a value of type t (width r2h_key_width(t) = 8 x its size:
 * unsigned as is, signed with the sign bit flipped, floats by the IEEE sign-magnitude fold) and
 * its inverse. p need not be aligned. */
int r2h_key_width(enum r2h_dtype t);
uint64_t r2h_narrow_key(enum r2h_dtype t, const void *p);
void r2h_narrow_value(enum r2h_dtype t, uint64_t key, void *p);

/* Select the run's bands on r (options bands/nbands, or band), check them (existence,
 * duplicates, total key width <= 64 bits, --aggregate with one band only) and name the value
 * columns. Messages name the flag: "--bands: band 7 does not exist, IN has 6 bands". */
enum r2h_status r2h_bands_plan(const struct r2h_convert_options *o, struct r2h_raster *r,
                               struct r2h_bands **out, char *err, size_t errlen);
void r2h_bands_free(struct r2h_bands *b);
/* Key widths and positions (bits, shift, key_bits) of b->n bands of types b->dt; R2H_ERR_INVALID
 * with the 64-bit limit in err when they do not fit. */
enum r2h_status r2h_bands_layout(struct r2h_bands *b, char *err, size_t errlen);
/* The packed key of one pixel record; band i's value of a key (into out, or as a double). */
uint64_t r2h_bands_key(const struct r2h_bands *b, const void *pixel);
/* Keys of n consecutive pixel records. */
void r2h_bands_keys(const struct r2h_bands *b, const void *pixels, size_t n, uint64_t *keys);
void r2h_bands_value(const struct r2h_bands *b, uint64_t key, int i, void *out);
double r2h_bands_double(const struct r2h_bands *b, uint64_t key, int i);
/* Width of the packed key in bits (for compact row formats: keys are < 2^key_bits). */
int r2h_bands_key_bits(const struct r2h_bands *b);
/* Bytes of one row's values (sum of the bands' sizes). */
size_t r2h_bands_value_bytes(const struct r2h_bands *b);
/* Band i of n rows' keys into out (n values of its type, contiguous). */
void r2h_bands_decode(const struct r2h_bands *b, const struct r2h_row *rows, size_t n, int i,
                      void *out);
/* Comma-separated lists of the selection for footers and fingerprints (names and units: a
 * JSON array; scale and offset: GDAL's, 1 and 0 for bands without). */
enum r2h_bands_what {
    R2H_LIST_BANDS, R2H_LIST_DTYPES, R2H_LIST_NODATA, R2H_LIST_NODATA_FP, R2H_LIST_NAMES_JSON,
    R2H_LIST_SCALE, R2H_LIST_OFFSET, R2H_LIST_UNITS_JSON
};
/* 1 if a selected band has a scale, offset or unit (the footer then records them). */
int r2h_bands_has_scale(const struct r2h_raster_info *in);
void r2h_bands_list(const struct r2h_bands *b, const struct r2h_raster_info *in,
                    enum r2h_bands_what what, char *dst, size_t len);
/* Parquet column specs of the value columns (b->n of them; names borrowed from b). */
struct r2h_pq_column_spec;
void r2h_bands_columns(const struct r2h_bands *b, struct r2h_pq_column_spec *cols);

/* Sort rows ascending by (cell, key). Returns R2H_ERR_NOMEM if scratch space is unavailable. */
enum r2h_status r2h_rows_sort(struct r2h_row *rows, size_t n);

/* The same with caller-provided scratch: tmp of n rows and count of 65536 entries. */
void r2h_rows_sort_with(struct r2h_row *rows, size_t n, struct r2h_row *tmp, size_t *count);

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

/* K-way merge of base cell bc's rows over all runs, ascending by (cell, key), as unpacked rows;
 * each file run is read through a buffer of bufrows rows. Several merges may run at once on distinct threads. */
struct r2h_merge;
struct r2h_pq_column_spec;
enum r2h_status r2h_merge_open(const struct r2h_runs *rs, int bc, size_t bufrows,
                               struct r2h_merge **out);
/* Up to max next rows into out; returns how many (0 at the end). *st set on read errors. */
size_t r2h_merge_next(struct r2h_merge *m, struct r2h_row *out, size_t max, enum r2h_status *st,
                      char *err, size_t errlen);
void r2h_merge_close(struct r2h_merge *m);

/* Seconds since an arbitrary epoch (monotonic clock). */
double r2h_now(void);
/* Peak resident set size of this process image in bytes (VmHWM). */
uint64_t r2h_peak_rss(void);

/* splitmix64's finaliser: a bijective 64-bit mix. */
static inline uint64_t r2h_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Digest of one pixel row: its cell (0 when the cell is not compared) and its packed band key
 * (r2h_bands_key: each band's narrow order-preserving key of its value's bits, first band
 * highest; a reader rebuilds it from the value columns). A partition's digest is the sum mod
 * 2^64 of its rows' digests, so it does not depend on row order
 * (docs/design/0006-resume-and-s3.md). */
static inline uint64_t r2h_row_digest(uint64_t cell, uint64_t key)
{
    return r2h_mix64(cell ^ r2h_mix64(key));
}

/* What a convert with some options would write, per base cell, for verify --input: valid
 * pixels, the sums of their rows' digests with and without the cell, and the first band's values
 * as doubles (sum, sum of magnitudes, min, max; min/max meaningful where pixels > 0). */
struct r2h_valid_pixels {
    uint64_t pixels[122];
    uint64_t digest[122];       /* sum of r2h_row_digest(cell, key) */
    uint64_t value_digest[122]; /* sum of r2h_row_digest(0, key) */
    long double sum[122], abs_sum[122];
    double min[122], max[122];
};

/* Count and digest the valid pixels a convert with these options would write (whole raster or
 * work unit) into *out; reads the raster, writes nothing. */
enum r2h_status r2h_count_valid(const struct r2h_convert_options *opt, struct r2h_valid_pixels *out,
                                char *errbuf, size_t errbuf_len);

/* Outputs: a local directory, or s3://bucket/prefix (read as /vsis3/bucket/prefix) or any
 * /vsi... prefix GDAL can write. */
struct r2h_sink;
int r2h_out_is_remote(const char *path);
/* The output root with s3:// mapped to /vsis3/, repeated and trailing slashes removed. */
void r2h_out_root(const char *output, char *dst, size_t len);
/* A sink for a partition or manifest file: atomic local file or remote temporary key + rename. */
enum r2h_status r2h_out_open_sink(const char *path, struct r2h_sink **out, char *err,
                                  size_t errlen);
int r2h_out_exists(const char *path, uint64_t *size);
/* Whole file (at most maxlen bytes) into a new buffer (caller frees with r2h_free). */
enum r2h_status r2h_out_read_all(const char *path, uint64_t maxlen, uint8_t **data, size_t *len);
/* The same, classifying a failure (r2h_io_classify of GDAL's messages): R2H_ERR_TRANSIENT (no
 * connection, timeout, 5xx/429 after GDAL's retries), R2H_ERR_IO (permission denied),
 * R2H_ERR_INPUT (missing or anything else), with "<path>: cannot read: <detail>" in err. */
enum r2h_status r2h_out_fetch(const char *path, uint64_t maxlen, uint8_t **data, size_t *len,
                              char *err, size_t errlen);
/* Directory entries of root (NULL for an empty or missing one: GDAL does not tell them apart
 * for object stores) into *entries; a listing that failed for a transient reason or for lack
 * of permission is R2H_ERR_TRANSIENT / R2H_ERR_IO with the reason in err. */
enum r2h_status r2h_out_readdir(const char *root, char ***entries, char *err, size_t errlen);
/* GDAL's HTTP retries for transient failures (5xx, 429, timeouts) of reads and writes:
 * GDAL_HTTP_MAX_RETRY 5 and GDAL_HTTP_RETRY_DELAY 1 s unless configured. */
void r2h_out_configure_network(void);
/* Entries of the dataset root (root receives it, as r2h_out_root); free with CSLDestroy.
 * R2H_ERR_IO with "<output>: cannot list the dataset" when it cannot be listed. */
enum r2h_status r2h_out_list(const char *output, char *root, size_t rootlen, char ***entries,
                             char *err, size_t errlen);

/* One writer per local OUTPUT (lock.c, README "Crash safety"): a whole-raster run (work_unit
 * -1) holds OUTPUT/.raster2h3.lock exclusively; a work unit holds it shared and
 * OUTPUT/.raster2h3.lock-<work_unit> exclusively, so units of different base cells run side by
 * side. Never waits: when another run holds a conflicting lock, R2H_ERR_TRANSIENT with a message
 * naming the lock file and its holder (pid, host, since when). The lock files are registered
 * for removal on SIGINT/SIGTERM; release removes the files this run held exclusively.
 * On a filesystem without flock: R2H_OK, *out NULL and the reason in err (for a warning).
 * release(NULL) is a no-op. */
struct r2h_lock;
enum r2h_status r2h_lock_acquire(const char *output, int work_unit, struct r2h_lock **out,
                                 char *err, size_t errlen);
void r2h_lock_release(struct r2h_lock *l);

/* Delete a partition file (and its local directory if now empty). */
void r2h_out_remove_partition(const char *path);

/* Fingerprint (16 hex digits) of everything that determines a partition's content: source
 * identity (canonical name, size, mtime in ns, ETag, the files a VRT lists), bands, resolution,
 * NoData, value columns, types, version. */
void r2h_fingerprint(const struct r2h_convert_options *o, const struct r2h_raster_info *in,
                     const struct r2h_bands *bands, char *out, size_t outlen);

/* Open a partition file for reading, local or remote; NULL with a message on failure. */
struct r2h_pq_reader;
struct r2h_pq_reader *r2h_partition_open(const char *path, char *err, size_t errlen);
/* The same with a status: for a remote partition that could not be fetched, that of
 * r2h_out_fetch (R2H_ERR_TRANSIENT, R2H_ERR_IO for permission); R2H_ERR_FORMAT for a file that
 * is there but unreadable. */
enum r2h_status r2h_partition_fetch(const char *path, struct r2h_pq_reader **out, char *err,
                                    size_t errlen);

/* State of a partition file: missing, complete (same fingerprint, and its footer's
 * raster2h3:partition names the h0= directory it is in), stale (written by raster2h3 for another
 * run or another partition) or foreign (unreadable, or no raster2h3:fingerprint: raster2h3 did
 * not write it). rows (may be NULL) gets its row count when readable. */
enum r2h_part_state { R2H_PART_MISSING, R2H_PART_COMPLETE, R2H_PART_STALE, R2H_PART_FOREIGN };
enum r2h_part_state r2h_partition_state(const char *path, const char *fingerprint,
                                        uint64_t *rows);
/* 1 when path is a Parquet file whose footer has raster2h3:fingerprint (raster2h3 wrote it). */
int r2h_partition_is_ours(const char *path);

/* The dataset manifest, OUTPUT/_manifest.json. A whole run writes it twice (atomically): with
 * "complete": false and the partitions it expects before writing any, and with "complete": true
 * last. */
struct r2h_manifest_part {
    uint64_t rows, bytes;
    double min, max;
};
struct r2h_manifest {
    const char *fingerprint, *source, *value_name;
    const char *bands, *value_names_json; /* NULL, or "1,2,3" and ["a","b","c"] */
    int band, resolution;
    int incomplete; /* 1: "complete": false (written before the partitions) */
    uint64_t total_rows;
    struct r2h_manifest_part parts[122];
};
enum r2h_status r2h_manifest_write(const char *output, const struct r2h_manifest *m, char *err,
                                   size_t errlen);

/* Aggregation, parents and string cells (aggregate.c, docs/design/0005-aggregation.md). */
struct r2h_agg;
/* A plan for this run, or *out = NULL when the options ask for plain pixel rows. Checks the
 * options against the raster (message in err). */
enum r2h_status r2h_agg_create(const struct r2h_convert_options *o,
                               const struct r2h_raster_info *in, const struct r2h_bands *bands,
                               struct r2h_agg **out, char *err, size_t errlen);
void r2h_agg_destroy(struct r2h_agg *a);
/* 1 if the keys carry a pixel reference (pixel areas needed): use r2h_agg_key. */
int r2h_agg_packed(const struct r2h_agg *a);
/* 1 for --aggregate (one row per cell), 0 for pixel rows with extra columns. */
int r2h_agg_grouped(const struct r2h_agg *a);
/* Key of a value at pixel (row, col) when packed: 32-bit value key << 32 | pixel reference. */
uint64_t r2h_agg_key(const struct r2h_agg *a, const void *value, int row, int col);
/* Canonical text of the options (footer raster2h3:aggregate, fingerprint). */
const char *r2h_agg_spec(const struct r2h_agg *a);
/* Mix the spec into a 16-hex-digit fingerprint in place. */
void r2h_agg_fingerprint(const struct r2h_agg *a, char *fp, size_t len);

/* Write one partition from a merge: the output schema, then rows. raster: a handle for pixel
 * corner transforms (projected rasters), used by one thread. Returns rows written in *nout and
 * the value range (as doubles) in *vmin and *vmax. */
struct r2h_pq_writer;
struct r2h_merge;
struct r2h_pq_column_spec;
enum r2h_status r2h_agg_columns(const struct r2h_agg *a, const struct r2h_pq_column_spec **cols,
                                size_t *ncols);
enum r2h_status r2h_agg_write(const struct r2h_agg *a, struct r2h_raster *raster,
                              struct r2h_merge *m, struct r2h_pq_writer *w, uint64_t *nout,
                              double *vmin, double *vmax, char *msg, size_t msglen);

/* WGS84 ellipsoidal area (m2) of a lat/lng quadrilateral given by its corners (degrees), edges
 * straight in the cylindrical equal-area projection: exact for parallels/meridians. */
double r2h_quad_area_m2(const double lat[4], const double lng[4]);

#endif
