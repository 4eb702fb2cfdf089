/* raster2h3.h - public API of the raster2h3 library: rasters to H3-indexed Hive Parquet. */
#ifndef RASTER2H3_H
#define RASTER2H3_H

#include <stddef.h>
#include <stdint.h>

#include "raster2h3_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Conventions of every function below.
 * - Quiet: the library never prints, never exits and installs no signal handler. What a run
 *   has to say goes to callbacks (convert's event, verify's report); errors are one line in
 *   the caller's errbuf (errbuf may be NULL; errbuf_len bytes, always NUL-terminated).
 * - Ownership: input pointers (options, strings, arrays) are borrowed for the call only and
 *   never freed or kept; results go to caller-owned structs; the one allocation handed to the
 *   caller (r2h_info's text) is freed with its own free function.
 * - Threads: the functions may be called from several threads at once on different outputs
 *   (two runs writing one OUTPUT are refused by a lock). GDAL is shared process state: a run
 *   registers GDAL's drivers on first use and changes no process-wide GDAL configuration;
 *   r2h_gdal_defaults() sets the ones the raster2h3 command uses, when the caller asks. GDAL
 *   error handlers are pushed per thread around GDAL calls and popped before returning.
 * - Options structs start with struct_size, set by their init function: fields added in later
 *   versions lie beyond it and take their defaults for callers built against older headers;
 *   a struct_size smaller than the first version's is R2H_ERR_INVALID. */

/* The process-wide GDAL configuration the raster2h3 command uses, each only where neither the
 * environment nor CPLSetConfigOption has set it: GDAL_CACHEMAX from a memory budget (memory /
 * 16, 8 to 256 MiB; memory 0: the default 1 GiB budget), GDAL_HTTP_MAX_RETRY 5 and
 * GDAL_HTTP_RETRY_DELAY 1 s (transient HTTP failures retried with GDAL's backoff). The library
 * never calls it itself. Not thread-safe with running GDAL calls: call it first. */
void r2h_gdal_defaults(uint64_t memory);

/* Status codes. Values are stable: they may be logged and compared across versions. */
enum r2h_status {
    R2H_OK = 0,
    R2H_ERR_NOMEM = 1,       /* allocation failed */
    R2H_ERR_INVALID = 2,     /* bad argument or option */
    R2H_ERR_IO = 3,          /* read/write/fsync/rename failed (disk full, permissions) */
    R2H_ERR_INPUT = 4,       /* input raster missing, unreadable or unusable */
    R2H_ERR_CRS = 5,         /* CRS missing or cannot be transformed to WGS84 */
    R2H_ERR_H3 = 6,          /* H3 library returned an error */
    R2H_ERR_FORMAT = 7,      /* Parquet encoding error (e.g. value out of range) */
    R2H_ERR_INTERNAL = 8,    /* invariant broken: a bug */
    R2H_ERR_INTERRUPTED = 9, /* stopped by a signal */
    R2H_ERR_TRANSIENT = 10   /* retryable I/O failure (HTTP 5xx/429, timeout, connection) */
};

/* Short static English name of a status; never NULL. Thread-safe. */
const char *r2h_status_str(enum r2h_status s);

/* Version strings. Static storage; thread-safe. */
const char *r2h_version(void);
const char *r2h_h3_version(void);
const char *r2h_gdal_version(void);

/* Events of a convert run, passed to r2h_convert_options.event. */
enum r2h_event_kind {
    R2H_EVENT_PROGRESS,      /* pixels_done/pixels_total, elapsed_s, final */
    R2H_EVENT_PLAN_LINE,     /* --dry-run: one line of the plan in line (for stdout) */
    R2H_EVENT_NOTHING_TO_DO, /* every partition (or the work unit's) is complete; line names
                                what: "the dataset" or "the partition" */
    R2H_EVENT_WARNING,       /* one warning line in line, at most once per kind and run */
    R2H_EVENT_PROFILE,       /* options.profile: the phase timings and counters of the run */
    R2H_EVENT_NOTE           /* one informational line in line (e.g. what --method auto chose) */
};

/* Phases timed for R2H_EVENT_PROFILE (thread-seconds summed over the workers). */
#define R2H_EVENT_NPHASES 7

/* One event. Borrowed: valid only during the callback. Only the fields of its kind are set
 * (the others are zero). PROGRESS events come from the worker threads, one at a time (the
 * library serialises them); every other event comes from the thread that called r2h_convert.
 * Lines carry no trailing newline. */
struct r2h_event {
    enum r2h_event_kind kind;
    const char *line; /* PLAN_LINE, NOTHING_TO_DO, WARNING */
    /* PROGRESS. Rate-limited by options.progress: every 0.2 s for R2H_PROGRESS_BAR, 5 s for
     * LINES and JSON, none for NONE; a last one with final = 1 when the read is done. */
    uint64_t pixels_done, pixels_total;
    double elapsed_s; /* PROGRESS, PROFILE: wall seconds since the run started */
    int final;
    /* PROFILE */
    const char *const *phase_names; /* R2H_EVENT_NPHASES names: read, locate, index, ... */
    const double *phase_s;          /* R2H_EVENT_NPHASES thread-seconds */
    int threads;
    const char *index_path; /* "fast grid", "fast points" or "reference latLngToCell" */
    uint64_t pixels_read, pixels_valid, index_fallbacks, spilled_bytes, rows_written;
    int partitions_written;
    uint64_t peak_rss; /* bytes (0 if unknown) */
    /* PROGRESS, PROFILE: 1 when the counts above are cells (--method sample: cells examined and
     * written) rather than pixels. Added after the first versioned release. */
    int cells;
};

/* Options of one conversion. Initialise with r2h_convert_options_init(), which sets
 * struct_size; a caller built against an older header passes a smaller struct_size and the
 * library reads only the fields within it (the others take their defaults). Strings and arrays
 * are borrowed for the duration of r2h_convert(). */
struct r2h_convert_options {
    size_t struct_size;     /* sizeof(struct r2h_convert_options), set by the init function */
    const char *input;      /* path or GDAL dataset name; s3://b/k is read as /vsis3/b/k */
    const char *output;     /* output directory */
    int resolution;         /* H3 resolution 0..15 (default 8) */
    int band;               /* 1-based band number (default 1); used when nbands is 0 */
    const int *bands;       /* nbands 1-based band numbers: one value column each, in order */
    int nbands;             /* 0: the single band `band`; R2H_BANDS_ALL: every band but alpha
                               bands (which mask the others) */
    int work_unit;          /* -1: whole raster; 0..121: the base cell with that number */
    const char *value_name; /* single band: NULL: the band's name as an identifier (GRIB
                               element_level, description, NETCDF_VARNAME), else "value" */
    const char *const *value_names; /* with bands: NULL, or nvalue_names names (one per band);
                                       NULL: each band's name as above, else band_<n> ("value"
                                       if only one band is selected); clashes get _<n> */
    int nvalue_names;
    int has_nodata; /* 1: nodata below overrides every selected band's */
    double nodata;
    int unscale;           /* 1: bands with a scale/offset are written as float64
                              value * scale + offset (NoData tested on the raw value) */
    const char *srs;       /* NULL: the input's CRS; else the CRS to assign to the input
                              (anything OSRSetFromUserInput accepts, e.g. "EPSG:4326") */
    int profile;           /* 1: an R2H_EVENT_PROFILE event at the end of the run */
    int compression_level; /* zstd level (default 3) */
    int threads;           /* worker threads; 0 = all online cores */
    uint64_t memory;       /* memory budget in bytes for buffered rows (default 1 GiB) */
    const char *tmpdir;    /* spill directory (NULL: $TMPDIR, else /tmp) */
    enum r2h_progress {
        R2H_PROGRESS_NONE,
        R2H_PROGRESS_LINES,
        R2H_PROGRESS_BAR,
        R2H_PROGRESS_JSON
    } progress;          /* rate of R2H_EVENT_PROGRESS events (default: lines) */
    int overwrite;       /* 1: redo every partition, even complete ones */
    int dry_run;         /* 1: the plan as R2H_EVENT_PLAN_LINE events, write nothing */
    int reference_index; /* 1: index every pixel with H3's latLngToCell (slow; for
                            benchmarks and cross-checks); 0: the fast exact path */
    /* Beyond pixel rows (docs/design/0005-aggregation.md). All zero: pixel mode, unchanged. */
    int aggregate;         /* 1: one row per cell with the statistics in stats */
    unsigned stats;        /* R2H_STAT_* bits; 0 = defaults (see r2h_convert_options_init) */
    const double *classes; /* R2H_STAT_FRACTIONS: the class values, one frac_<v> column each */
    int nclasses;
    enum r2h_density_unit {
        R2H_DENSITY_NONE,
        R2H_DENSITY_PER_M2,
        R2H_DENSITY_PER_HA,
        R2H_DENSITY_PER_KM2
    } density_unit;   /* values are densities: total = sum of value x pixel area; mean
                       * and fractions are area-weighted */
    unsigned parents; /* bit r set: a parent column at resolution r (< resolution) */
    int cell_string;  /* 1: cells and parents as 15-digit lowercase hex strings (as
                         cell_type R2H_CELL_STRING) */
    /* Events of the run (progress, --dry-run plan, nothing to do, warnings, profile): each is
     * passed to event(event_ctx, ev); NULL: events are dropped (the library never prints).
     * See struct r2h_event for which thread calls and what the payload holds. */
    void (*event)(void *event_ctx, const struct r2h_event *ev);
    void *event_ctx;
    /* Fields added after the first versioned release (read only when struct_size covers them). */
    /* How pixels become cell values (docs/design/0009-cell-sampling.md): POINT (default) one
     * row per valid pixel, in the cell holding its centre; SAMPLE one row per cell whose centre
     * lies on a valid pixel, the raster sampled there with `resample`; AUTO picks SAMPLE when
     * the cells at `resolution` are smaller than the pixels over the raster, else POINT. */
    enum r2h_method {
        R2H_METHOD_POINT,
        R2H_METHOD_SAMPLE,
        R2H_METHOD_AUTO,
        R2H_METHOD_OVERLAY /* one row per cell whose polygon covers valid pixels: statistics
                              (stats) of the pixels weighted by the fraction of each pixel's
                              area inside the cell (docs/design/0010-overlay.md) */
    } method;
    enum r2h_resample {
        R2H_RESAMPLE_NEAREST,  /* the pixel holding the centre; the band's type */
        R2H_RESAMPLE_BILINEAR, /* 2x2 pixels around the centre; float64 */
        R2H_RESAMPLE_CUBIC     /* 4x4, cubic convolution a = -0.5 (GDAL's cubic); float64 */
    } resample;
    double min_coverage; /* OVERLAY: no row for a cell whose valid pixels cover less than this
                            share of it (0..1; not with sum, total or area, which it would
                            make lose mass) */
    /* The type of the cell column and the parent columns: UINT64 (default) Parquet INT64
     * annotated unsigned; INT64 the same bits annotated signed (H3 ids never set bit 63, so
     * nothing changes but the annotation: for Spark, Databricks, BigQuery, which have no
     * unsigned 64-bit type); STRING 15-digit lowercase hex. cell_string = 1 still means STRING
     * (with INT64 it is an R2H_ERR_INVALID conflict). */
    enum r2h_cell_type { R2H_CELL_UINT64, R2H_CELL_INT64, R2H_CELL_STRING } cell_type;
    /* NULL: input as given; else input is a NetCDF/HDF container and the variable of that name
     * is converted (its subdataset, see r2h_input_variable); the fingerprint, manifest and
     * footer record the subdataset's name as the source. */
    const char *variable;
};

/* nbands value selecting every band of the input. */
#define R2H_BANDS_ALL (-1)

/* Statistics of --aggregate. */
enum {
    R2H_STAT_COUNT = 1u << 0, /* count: valid pixels in the cell (INT64) */
    R2H_STAT_SUM = 1u << 1,   /* <value>_sum: plain sum of values (DOUBLE) */
    R2H_STAT_MEAN = 1u << 2,  /* <value>_mean: mean, area-weighted with a density unit (DOUBLE) */
    R2H_STAT_MIN = 1u << 3,   /* <value>_min (value type) */
    R2H_STAT_MAX = 1u << 4,   /* <value>_max (value type) */
    R2H_STAT_MODE = 1u << 5,  /* <value>_mode: most frequent value, ties to the smallest */
    R2H_STAT_FRACTIONS = 1u << 6, /* frac_<class>: share of the cell's pixels (area with a unit) */
    R2H_STAT_AREA = 1u << 7,      /* area: sum of the pixels' ellipsoidal areas in m2 (DOUBLE) */
    R2H_STAT_TOTAL = 1u << 8,     /* <value>_total: sum of value x area in the density unit */
    R2H_STAT_COVERAGE = 1u << 9   /* coverage: share of the cell covered by valid pixels
                                     (--method overlay) */
};

/* Parse a comma-separated list of statistic names (count,sum,mean,min,max,mode,fractions,area,
 * total,coverage) into R2H_STAT_* bits; 0 if a name is unknown or the list empty. Pure;
 * thread-safe; list is borrowed. */
unsigned r2h_stats_parse(const char *list);

/* --resolution auto: the resolution whose cell at the raster's centre pixel (H3's cellAreaM2 of
 * the cell holding the pixel's centre) is closest in log scale to the WGS84 ellipsoidal area of
 * that pixel; *cell_area_m2 gets that cell's area. Opens and
 * closes input (GDAL, see the conventions); thread-safe; writes *res and the two areas (the
 * area pointers may be NULL). */
enum r2h_status r2h_auto_resolution(const char *input, int *res, double *pixel_area_m2,
                                    double *cell_area_m2, char *errbuf, size_t errbuf_len);
/* The same with the CRS srs assigned to the input (as r2h_convert_options.srs; NULL: its own).
 * Thread-safe as above. */
enum r2h_status r2h_auto_resolution_srs(const char *input, const char *srs, int *res,
                                        double *pixel_area_m2, double *cell_area_m2, char *errbuf,
                                        size_t errbuf_len);

/* The GDAL name of variable `variable` of the NetCDF/HDF container input (the subdataset whose
 * variable it is, e.g. NETCDF:"x.nc":sst; a NetCDF file of that one variable: input itself)
 * into name (len bytes). R2H_ERR_INPUT with a one-line message listing the input's variables
 * if it has no such variable (or none). Opens and closes input (GDAL); thread-safe. */
enum r2h_status r2h_input_variable(const char *input, const char *variable, char *name, size_t len,
                                   char *errbuf, size_t errbuf_len);

/* A summary of a dataset (partitions, rows, bytes, resolution, mode, columns with min/max,
 * source, versions) as text, or as one JSON object with json = 1. *out is a NUL-terminated
 * string the caller owns and frees with r2h_info_free (NULL on error). Reads only; thread-safe,
 * also with other calls on the same dataset. */
enum r2h_status r2h_info(const char *output, int json, char **out, char *errbuf, size_t errbuf_len);
/* Free the text of r2h_info; NULL is a no-op. Thread-safe. */
void r2h_info_free(char *text);

/* A PNG map (equirectangular lng/lat) of a dataset: each cell filled with a viridis colour of
 * its value column (column NULL: the value column, or <value>_mean/_mode/count in aggregate
 * datasets), a legend with min/max, transparent where there is no data. */
struct r2h_preview_options {
    size_t struct_size; /* sizeof(struct r2h_preview_options), set by the init function */
    const char *output; /* dataset root */
    const char *png;    /* PNG path to write */
    int width;          /* image width in pixels (default 1024); height = width / 2 (world)
                         * or from the data's aspect ratio (data) */
    int extent_data;    /* 0: the whole world, 1: the bounding box of the data */
    const char *column; /* value column to colour by; NULL: automatic */
};
/* Fill *o with defaults and struct_size. NULL is a no-op. Thread-safe. */
void r2h_preview_options_init(struct r2h_preview_options *o);
/* Write the PNG (replacing a file at o->png). Reads the dataset only; thread-safe for
 * different PNG paths; o and its strings are borrowed for the call. */
enum r2h_status r2h_preview(const struct r2h_preview_options *o, char *errbuf, size_t errbuf_len);

/* Fill *opt with defaults and struct_size. NULL is a no-op. Thread-safe. */
void r2h_convert_options_init(struct r2h_convert_options *opt);

/* Result summary of r2h_convert(). */
struct r2h_convert_result {
    uint64_t pixels_read;  /* pixels examined */
    uint64_t pixels_valid; /* valid pixels written (pixel mode) */
    uint64_t rows_written;
    int partitions_written;
    uint64_t spilled_bytes;   /* bytes written to temporary run files */
    int partitions_skipped;   /* complete partitions left as they were (resume) */
    int partitions_removed;   /* stale partitions of an earlier run removed */
    uint64_t index_fallbacks; /* pixels the fast path handed to latLngToCell */
};

/* Convert one raster (or one work unit of it) to OUTPUT/h0=<cell>/data_0.parquet.
 * Returns R2H_OK or an error; on error a one-line message is copied to errbuf (if non-NULL)
 * and no partition file is left that looks complete. *res (may be NULL) is written on success.
 * Reentrant: runs on different OUTPUTs may go on in parallel threads (GDAL's process-wide
 * configuration: see the conventions); a second run on one local OUTPUT fails with
 * R2H_ERR_IO while the first holds its lock. Starts up to opt->threads worker threads, all
 * joined before it returns. Events go to opt->event (see struct r2h_event). */
enum r2h_status r2h_convert(const struct r2h_convert_options *opt, struct r2h_convert_result *res,
                            char *errbuf, size_t errbuf_len);

/* Options of r2h_verify(). Initialise with r2h_verify_options_init(), which sets struct_size
 * (read as for r2h_convert_options). Strings and arrays are borrowed for the call. */
struct r2h_verify_options {
    size_t struct_size; /* sizeof(struct r2h_verify_options), set by the init function */
    const char *output; /* dataset root: directory, s3://bucket/prefix or /vsi... */
    const char *input;  /* NULL, or the raster to count valid pixels per partition from */
    int band;           /* band of input; 0 (default): the bands the dataset records */
    const int *bands;   /* nbands > 0: these bands (valid in all of them, as convert) */
    int nbands;
    int has_nodata; /* NoData override for input, as in convert */
    double nodata;
    const char *srs;    /* CRS to assign to input, as in convert (NULL: its own) */
    int work_unit;      /* -1: whole raster; else only this base cell is checked */
    int threads;        /* for counting input pixels; 0 = all cores */
    int write_manifest; /* 1: (re)write OUTPUT/_manifest.json when everything checks out;
                           needs input and work_unit -1 (else R2H_ERR_INVALID) */
    /* Fields added after the first versioned release (read only when struct_size covers them). */
    /* NULL, or the variable of the container input, as in convert */
    const char *variable;
};

/* Fill *opt with defaults and struct_size. NULL is a no-op. Thread-safe. */
void r2h_verify_options_init(struct r2h_verify_options *opt);

struct r2h_verify_result {
    int partitions;
    uint64_t rows;
    int problems; /* number of problems reported */
};

/* Check a dataset: every partition file readable (all pages decoded), its directory a valid
 * h0=<resolution-0 cell> holding no other visible file, every row's cell valid, of the
 * dataset's resolution, of that base cell, and sorted; every partition of one fingerprint; the
 * manifest consistent with the files and complete (no manifest without input is a problem:
 * completeness unknown); with input, the number of rows of each partition equal to the
 * raster's valid pixels of that base cell (NoData: opt's, else the one the footers record).
 * Each problem is passed to report(ctx, line) as one line. Returns R2H_OK when the check ran
 * (see res->problems), or an error if it could not run (unreadable root, bad input raster,
 * write_manifest without input or with a work unit). report is called from the calling thread;
 * line is borrowed for the call. Reads only, except the manifest with write_manifest;
 * thread-safe as r2h_convert. *res (may be NULL) is written when the check ran. */
enum r2h_status r2h_verify(const struct r2h_verify_options *opt, struct r2h_verify_result *res,
                           void (*report)(void *ctx, const char *line), void *ctx, char *errbuf,
                           size_t errbuf_len);

/* ---- Rows in memory: the Arrow C stream interface ------------------------------------------
 * The structs of the Arrow C data and stream interfaces (ABI-stable; see
 * https://arrow.apache.org/docs/format/CDataInterface.html and CStreamInterface.html), under
 * the guards the specification asks for, so that a program that includes Arrow's own
 * definitions first keeps them. No Arrow library is needed. */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};
#endif
#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};
#endif

/* Run the conversion of opt and hand its rows over as Arrow record batches instead of writing
 * Parquet files: the same columns, types and rows as the files r2h_convert would write with
 * these options (uint64 cells as Arrow uint64, strings as utf8), each batch the rows of one
 * row group of one partition (sorted by cell within it; batches of different partitions may
 * arrive in any order). opt->output, overwrite and dry_run are not used (dry_run 1 is
 * R2H_ERR_INVALID); work_unit, methods, bands, aggregation, parents, threads, memory and
 * events are as for r2h_convert (spills, if any, go to opt->tmpdir).
 *
 * The run goes on in threads of its own, started here; at most two finished batches wait for
 * the consumer, so peak memory is the run's budget plus those batches. The call returns once
 * the schema is known: errors found before (missing input, bad options, unknown CRS) are
 * returned here with the message in errbuf and *out untouched; later ones come from
 * out->get_next (an errno value, EIO for most, ENOMEM, EINTR when interrupted) with the message
 * from out->get_last_error. On R2H_OK *out is a stream the caller must release (out->release),
 * also before its end: the run is then stopped and its threads joined. The stream is used from
 * one thread at a time (any thread); opt, its strings and arrays are copied, but events go to
 * opt->event from the run's threads until the stream ends, so event_ctx must stay valid until
 * the stream is released. */
enum r2h_status r2h_convert_to_arrow(const struct r2h_convert_options *opt,
                                     struct ArrowArrayStream *out, char *errbuf, size_t errbuf_len);

/* A dataset drawn back onto a raster grid (raster2h3 rasterize, docs/design/0011-rasterize.md):
 * each pixel takes the value of the dataset's cell (at its resolution) holding the pixel's
 * centre (the centre through the grid's CRS to WGS84, then latLngToCell), NoData where that
 * cell has no row. Several rows of one cell (--method point with pixels finer than cells):
 * combined as o->reduce says, else an error. One band, one-band GeoTIFF, tiled, DEFLATE. */
struct r2h_rasterize_options {
    size_t struct_size;  /* sizeof(struct r2h_rasterize_options), set by the init function */
    const char *dataset; /* dataset root (a directory; s3://bucket/prefix as the io layer reads) */
    const char *out;     /* GeoTIFF path, written atomically (temporary name + rename) */
    const char *like;    /* a raster whose grid (size, geotransform, CRS) to copy; or NULL and: */
    double bbox[4];      /* W, S, E, N in srs units; used when like is NULL */
    double res_x, res_y; /* pixel size in srs units (res_y 0: res_x) */
    const char *srs;     /* CRS of bbox (default NULL: EPSG:4326) */
    const char *column;  /* value column; NULL: as preview, the band's value column, else its
                            _mean, _mode or _max, else count, else the first value column */
    int has_nodata;      /* 1: nodata below; else a default per type (NaN for floats, the
                            type's max for unsigned, its min for signed integers; the other
                            end, or a wider type, when the data reaches it) */
    double nodata;
    const char *const *creation_options; /* ncreation_options GTiff "KEY=VALUE" options */
    int ncreation_options;
    uint64_t memory; /* budget of the partitions' (cell, value) rows held at once (default 1
                        GiB); a row group larger than it is still loaded whole */
    /* A cell with several rows (pixel rows of --method point where pixels are finer than
     * cells): NONE (default) is R2H_ERR_INVALID naming the cell, so that no pixel gets one of
     * several values silently; MEAN, MIN, MAX combine the rows' values. */
    enum r2h_reduce { R2H_REDUCE_NONE, R2H_REDUCE_MEAN, R2H_REDUCE_MIN, R2H_REDUCE_MAX } reduce;
};
/* Fill *o with defaults and struct_size. NULL is a no-op. Thread-safe. */
void r2h_rasterize_options_init(struct r2h_rasterize_options *o);
/* Write o->out. Output type from the column: uint8, uint16, int16, int32, uint32, float32,
 * float64 as they are; int8 as int16; int64 and uint64 as float64 (exact up to 2^53).
 * Errors (one line in errbuf): R2H_ERR_IO for a dataset that cannot be listed (missing) or an
 * OUT that cannot be written; R2H_ERR_INPUT for no raster2h3 partitions, unreadable
 * partitions or a --like raster that cannot be used; R2H_ERR_INVALID for an unknown column
 * (the message lists them), a bad bbox or resolution, an srs that is not a CRS; R2H_ERR_CRS.
 * Reads the dataset only; o and its strings are borrowed for the call; thread-safe for
 * different OUT paths (GDAL: see the conventions). */
enum r2h_status r2h_rasterize(const struct r2h_rasterize_options *o, char *errbuf,
                              size_t errbuf_len);

#ifdef __cplusplus
}
#endif
#endif
