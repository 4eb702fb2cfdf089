/* r2h_dataset.h - the dataset module: the on-disk (or object-store) dataset: output locations
 * and sinks (output.c), the one listing (walk.c), the output lock (lock.c), partition state and
 * the manifest (dataset.c), the row digest partitions are checked with. */
#ifndef R2H_DATASET_H
#define R2H_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"

/* Name of the cell column of resolution res: h<res>, except cell_h0 at resolution 0 (a column
 * h0 would clash with the Hive partition key h0=, which every reader adds as a string). */
void r2h_cell_column_name(int res, char *dst, size_t len);

/* The layout (layout.c), spelled nowhere else: base cell bc's partition is the directory
 * h0=<its resolution-0 cell, 15 lowercase hex digits> holding one file, data_0.parquet. A sink
 * writes it first as the hidden temporary ".data_0.parquet.tmp-..." beside it (r2h_sink.h). */
#define R2H_DATASET_PART_FILE "data_0.parquet"
#define R2H_DATASET_TEMP_PREFIX "." R2H_DATASET_PART_FILE ".tmp-"
#define R2H_DATASET_MANIFEST "_manifest.json"
#define R2H_DATASET_STAC "_stac_item.json" /* the manifest's STAC item (r2h_stac_write) */
/* "h0=<cell>" of base cell bc into dst. */
void r2h_dataset_part_dir(int bc, char *dst, size_t len);
/* "<root>/h0=<cell>/data_0.parquet" of base cell bc into dst. */
void r2h_dataset_part_path(const char *root, int bc, char *dst, size_t len);
/* Base cell of a directory name "h0=<15 lowercase hex>" naming a resolution-0 cell, else -1. */
int r2h_dataset_part_of(const char *name);
/* 1 when name (a file name in a partition directory) is a sink's hidden temporary. */
int r2h_dataset_is_temp(const char *name);

/* What an entry of a dataset is, by its name (layout.c). At the root: a partition directory
 * h0=<resolution-0 cell>; another h0=... name (readers take it for a partition, raster2h3 did not
 * write it); the manifest or its STAC item (both MANIFEST_FILE); a hidden name (lock files; readers
 * skip them); anything else. Inside a partition directory: its data file; a sink's temporary (left
 * by a killed run); another hidden name; a stray (any other visible file or directory: every reader
 * adds it to the partition). */
enum r2h_dataset_kind {
    R2H_DATASET_PARTITION,
    R2H_DATASET_BAD_KEY,
    R2H_DATASET_MANIFEST_FILE,
    R2H_DATASET_HIDDEN,
    R2H_DATASET_FOREIGN,
    R2H_DATASET_DATA,
    R2H_DATASET_TEMP,
    R2H_DATASET_STRAY
};
/* Kind of a root entry name (*bc: its base cell for a partition directory, else -1). */
enum r2h_dataset_kind r2h_dataset_root_kind(const char *name, int *bc);
/* Kind of a file name inside a partition directory. */
enum r2h_dataset_kind r2h_dataset_file_kind(const char *name);

/* The one listing of a dataset (walk.c): every entry of the root, classified, in listing order,
 * and for each partition directory the entries directly inside it (a directory inside a
 * partition is one entry, not looked into). One recursive GDAL listing: local directories, and
 * object stores (/vsis3/...) with one flat listing, whose directories are the key prefixes. */
struct r2h_dataset_entry {
    char *name; /* root entry: its name ("h0=<cell>", "_manifest.json"); else the file name */
    enum r2h_dataset_kind kind;
    int bc;     /* base cell of the partition directory it is or is in; -1 outside them */
    int is_dir; /* a directory (on object stores: a prefix of deeper keys) */
    struct r2h_dataset_entry *files; /* a partition directory's entries, in listing order */
    size_t nfiles, files_cap;
};
struct r2h_dataset_listing {
    struct r2h_dataset_entry *entries; /* the root's entries, in listing order */
    size_t n, cap;
    int missing; /* the root could not be opened and GDAL said nothing more: it is missing (or,
                  * on an object store, an empty prefix: GDAL does not tell them apart) */
};
/* List root (as r2h_out_root gives it) into *ls, which it zeroes first. R2H_OK, also for a
 * missing root (ls->missing); a listing that failed for a transient reason or for lack of
 * permission is R2H_ERR_TRANSIENT / R2H_ERR_IO with "<root>: cannot list: <GDAL's messages>"
 * in err; R2H_ERR_NOMEM. Free with r2h_dataset_listing_free, whatever the status. Raises no
 * GDAL message; listings of distinct *ls may run on distinct threads. */
enum r2h_status r2h_dataset_list(const char *root, struct r2h_dataset_listing *ls, char *err,
                                 size_t errlen);
/* The dataset at output (root receives its r2h_out_root) listed into *ls, for tools that need
 * one to be there: a missing root or a failed listing is R2H_ERR_IO with "<output>: cannot list
 * the dataset"; R2H_ERR_NOMEM. Free *ls with r2h_dataset_listing_free, whatever the status. */
enum r2h_status r2h_dataset_list_output(const char *output, char *root, size_t rootlen,
                                        struct r2h_dataset_listing *ls, char *err, size_t errlen);
/* Free what r2h_dataset_list allocated; *ls is zeroed. NULL is a no-op. */
void r2h_dataset_listing_free(struct r2h_dataset_listing *ls);

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
/* GDAL's HTTP retries for transient failures (5xx, 429, timeouts) of reads and writes:
 * GDAL_HTTP_MAX_RETRY 5 and GDAL_HTTP_RETRY_DELAY 1 s unless configured. */
void r2h_out_configure_network(void);

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
enum r2h_part_state r2h_partition_state(const char *path, const char *fingerprint, uint64_t *rows);
/* 1 when path is a Parquet file whose footer has raster2h3:fingerprint (raster2h3 wrote it). */
int r2h_partition_is_ours(const char *path);

/* A partition file's footer metadata: the raster2h3:<name> key-value pairs, as strings, in the
 * order r2h_part_meta_write writes them (part_meta.c). aggregate, srs and method (how pixels
 * became cells when not one row per pixel: "sample;resample=<kernel>") are written only when
 * not NULL, scale/offset/unit/unscaled only when scale is not NULL; the others always (a NULL
 * value is a key without a value). r2h_part_meta_read sets every field from a reader's footer
 * (NULL when absent); the strings are the reader's and live until it is closed. */
struct r2h_part_meta {
    const char *version, *h3_version, *gdal_version, *source, *band, *nodata, *dtype, *crs;
    const char *partition, *mode, *fingerprint, *value_column, *value_columns;
    const char *source_etag, *source_size, *source_mtime, *aggregate, *resolution;
    const char *crs_wkt, *srs, *scale, *offset, *unit, *unscaled;
    const char *method;
};
struct r2h_pq_writer;
struct r2h_pq_reader;
enum r2h_status r2h_part_meta_write(const struct r2h_part_meta *m, struct r2h_pq_writer *w);
void r2h_part_meta_read(const struct r2h_pq_reader *r, struct r2h_part_meta *m);

/* The partition's columns, from its footer m and schema (cell column at resolution res):
 * ccol the cell column (-1 if missing); mincol and maxcol those whose statistics give the
 * manifest's value range, which is the first band's values: the value column of pixel rows,
 * <v>_min and <v>_max of aggregates (-1 when the statistic was not asked for), the first
 * statistic of overlay datasets; overlay and agg (NULL-able) say which kind it is. Used by
 * verify and by convert's resume, so both record the same range. */
void r2h_partition_columns(const struct r2h_pq_reader *r, const struct r2h_part_meta *m, int res,
                           int *ccol, int *mincol, int *maxcol, int *overlay, int *agg);
/* The column a map of the partition shows when none is named (preview, rasterize): the band's
 * value column from its footer m, else that name's _mean, _mode or _max (aggregate and overlay
 * datasets), else count; -1 if none of them is there. */
int r2h_partition_default_column(const struct r2h_pq_reader *r, const struct r2h_part_meta *m);

/* The dataset manifest, OUTPUT/_manifest.json. A whole run writes it twice (atomically): with
 * "complete": false and the partitions it expects before writing any, and with "complete": true
 * last. */
struct r2h_manifest_part {
    uint64_t rows, bytes;
    double min, max;
    int listed; /* set by r2h_manifest_read: the manifest lists this partition (the writer
                 * lists those with rows != 0) */
};
struct r2h_manifest {
    const char *fingerprint, *source, *value_name;
    const char *bands, *value_names_json; /* NULL, or "1,2,3" and ["a","b","c"] */
    int band, resolution;
    int incomplete; /* 1: "complete": false (written before the partitions) */
    uint64_t total_rows;
    struct r2h_manifest_part parts[122];
    char *storage; /* r2h_manifest_read's strings (freed by r2h_manifest_clear), else NULL */
};
enum r2h_status r2h_manifest_write(const char *output, const struct r2h_manifest *m, char *err,
                                   size_t errlen);
/* OUTPUT/_stac_item.json beside the manifest m: a STAC 1.0.0 Item (table extension) for
 * catalogues: id the fingerprint, bbox and geometry the input's WGS84 footprint bbox (west >
 * east across the antimeridian: a MultiPolygon of the two sides), datetime now (UTC),
 * h3:resolution, table:row_count, table:columns (names and types read from a partition's
 * schema), the dataset and the manifest as assets. Written like the manifest (atomically). */
enum r2h_status r2h_stac_write(const char *output, const struct r2h_manifest *m,
                               const double bbox[4], char *err, size_t errlen);
/* Parse a manifest's text (manifest.c: a JSON parser for objects, arrays, strings with
 * escapes, numbers, true/false/null; min and max of a partition may be null, read as NaN, or
 * the bare inf/-inf/nan of manifests before null) into *m, which it zeroes first: the fields the
 * writer takes (value_names_json is the array's text as written, bands the numbers joined by ","),
 * parts[bc].listed for every partition listed. Unknown keys are skipped. R2H_ERR_FORMAT with the
 * reason in err for text that is not such a manifest (syntax, wrong types, an h0 that is not a
 * resolution-0 cell or is listed twice, nesting deeper than 16). Free with r2h_manifest_clear.
 * Not thread-safe on one *m; distinct manifests are independent. */
enum r2h_status r2h_manifest_parse(const char *text, size_t len, struct r2h_manifest *m, char *err,
                                   size_t errlen);
/* Read and parse OUTPUT/_manifest.json (output as r2h_out_root gives it). When it cannot be
 * read: the status of r2h_out_fetch (R2H_ERR_INPUT when missing, R2H_ERR_TRANSIENT, R2H_ERR_IO);
 * malformed: R2H_ERR_FORMAT. err says why. */
enum r2h_status r2h_manifest_read(const char *output, struct r2h_manifest *m, char *err,
                                  size_t errlen);
/* Free what r2h_manifest_read / r2h_manifest_parse allocated; *m is zeroed. */
void r2h_manifest_clear(struct r2h_manifest *m);

#endif
