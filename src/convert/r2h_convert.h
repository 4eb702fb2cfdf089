/* r2h_convert.h - the convert module's interface to the rest of the library (tools) and unit
 * tests: band plans, aggregation plans, the run fingerprint, counting valid pixels. The state of
 * one run is private to convert (convert_internal.h). */
#ifndef R2H_CONVERT_H
#define R2H_CONVERT_H

#include <stdint.h>

#include "r2h_dataset.h"
#include "r2h_raster.h"
#include "r2h_sort.h"
#include "raster2h3.h"

/* Storage for one value of any pixel type. */
union r2h_value {
    uint8_t u8;
    int8_t i8;
    uint16_t u16;
    int16_t i16;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f;
    double d;
};

/* The value of type t held in v, as a double. */
double r2h_value_double(enum r2h_dtype t, const union r2h_value *v);

/* Bands of a run (bands.c, docs/design/0007-multi-band.md). A row's key is the concatenation
 * of each selected band's narrow order-preserving key (8, 16, 32 or 64 bits by type), the first
 * band in the most significant bits, so sorting (cell, key) sorts by cell, then by the band
 * values lexicographically. One band is the n = 1 case. */
struct r2h_bands {
    int n;
    int band[R2H_RASTER_MAX_BANDS]; /* 1-based band numbers, in column order */
    enum r2h_dtype dt[R2H_RASTER_MAX_BANDS];
    int bits[R2H_RASTER_MAX_BANDS];   /* key width of each band */
    int shift[R2H_RASTER_MAX_BANDS];  /* its lowest bit in the key */
    size_t off[R2H_RASTER_MAX_BANDS]; /* its value's offset in a pixel record */
    size_t pixel_size;                /* bytes per pixel record (r2h_raster_read) */
    int key_bits;                     /* total key width, <= 64 */
    int given[R2H_RASTER_MAX_BANDS];  /* name from --value-name */
    char name[R2H_RASTER_MAX_BANDS][256];
    int alpha_mask; /* --bands all: the alpha band left out, which masks
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
    R2H_LIST_BANDS,
    R2H_LIST_DTYPES,
    R2H_LIST_NODATA,
    R2H_LIST_NODATA_FP,
    R2H_LIST_NAMES_JSON,
    R2H_LIST_SCALE,
    R2H_LIST_OFFSET,
    R2H_LIST_UNITS_JSON
};
/* 1 if a selected band has a scale, offset or unit (the footer then records them). */
int r2h_bands_has_scale(const struct r2h_raster_info *in);
void r2h_bands_list(const struct r2h_bands *b, const struct r2h_raster_info *in,
                    enum r2h_bands_what what, char *dst, size_t len);
/* Parquet column specs of the value columns (b->n of them; names borrowed from b). */
struct r2h_pq_column_spec;
void r2h_bands_columns(const struct r2h_bands *b, struct r2h_pq_column_spec *cols);

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

/* Fingerprint (16 hex digits) of everything that determines a partition's content: source
 * identity (canonical name, size, mtime in ns, ETag, the files a VRT lists), bands, resolution,
 * NoData, value columns, types, version. */
void r2h_fingerprint(const struct r2h_convert_options *o, const struct r2h_raster_info *in,
                     const struct r2h_bands *bands, char *out, size_t outlen);

/* Mix text into a 16-hex-digit fingerprint in place (FNV-1a over both). */
void r2h_fingerprint_mix(char *fp, size_t len, const char *text);

/* Aggregation, parents and string cells (aggregate.c, docs/design/0005-aggregation.md). */
struct r2h_agg;
/* The cell type's name in column specs and fingerprints: uint64, int64 or string. */
const char *r2h_cell_type_name(enum r2h_cell_type t);
/* A plan for this run, or *out = NULL when the options ask for plain pixel rows. Checks the
 * options against the raster (message in err). */
enum r2h_status r2h_agg_create(const struct r2h_convert_options *o,
                               const struct r2h_raster_info *in, const struct r2h_bands *bands,
                               struct r2h_agg **out, char *err, size_t errlen);
void r2h_agg_destroy(struct r2h_agg *a);
/* What a run's rows carry for the write pass (docs/design/0005-aggregation.md); the read pass
 * computes it, the write pass never reads the raster:
 *   R2H_AGG_ROWS_VALUE  (cell, key): the value key (no pixel areas);
 *   R2H_AGG_ROWS_ROW    (cell, key << row_bits | raster row): geographic unrotated rasters,
 *                       whose pixel area depends on the row only (a table in the plan);
 *   R2H_AGG_ROWS_AREA   wide rows (cell, key, pixel index row * width + col, area in m2 as the
 *                       bits of a double). */
enum r2h_agg_rows { R2H_AGG_ROWS_VALUE, R2H_AGG_ROWS_ROW, R2H_AGG_ROWS_AREA };
/* The kind of rows of plan a (NULL: pixel rows, R2H_AGG_ROWS_VALUE). */
enum r2h_agg_rows r2h_agg_rows(const struct r2h_agg *a);
/* R2H_AGG_ROWS_ROW: bits of the raster row below the value key; else 0 (also for NULL). */
int r2h_agg_row_bits(const struct r2h_agg *a);
/* The row layout of a run of plan a (NULL: pixel rows) over bands b at resolution res. */
void r2h_agg_rowfmt(const struct r2h_agg *a, const struct r2h_bands *b, int res,
                    struct r2h_rowfmt *f);
/* The area in m2 of pixel (row, col) for R2H_AGG_ROWS_AREA rows: from the plan's row table, or
 * from its corners transformed on raster (the calling thread's handle); R2H_ERR_CRS when a
 * corner does not transform to WGS84. Thread-safe with distinct handles. */
enum r2h_status r2h_agg_pixel_area(const struct r2h_agg *a, struct r2h_raster *raster, int row,
                                   int col, double *m2);
/* 1 for --aggregate (one row per cell), 0 for pixel rows with extra columns. */
int r2h_agg_grouped(const struct r2h_agg *a);
/* Canonical text of the options (footer raster2h3:aggregate, fingerprint). */
const char *r2h_agg_spec(const struct r2h_agg *a);
/* Mix the spec into a 16-hex-digit fingerprint in place. */
void r2h_agg_fingerprint(const struct r2h_agg *a, char *fp, size_t len);

/* Write one partition from a merge of rows of the plan's kind (r2h_agg_rows): the output
 * schema, then rows. Returns rows written in *nout and the value range (as doubles) in *vmin and
 * *vmax. Reads nothing but the merge; thread-safe with distinct merges and writers. */
struct r2h_pq_writer;
struct r2h_merge;
struct r2h_pq_column_spec;
enum r2h_status r2h_agg_columns(const struct r2h_agg *a, const struct r2h_pq_column_spec **cols,
                                size_t *ncols);
enum r2h_status r2h_agg_write(const struct r2h_agg *a, struct r2h_merge *m, struct r2h_pq_writer *w,
                              uint64_t *nout, double *vmin, double *vmax, char *msg, size_t msglen);

/* The WGS84 ellipsoidal area (m2) of a pixel of each raster row of a geographic, unrotated
 * raster (bands between two parallels, by the authalic latitude) into *out (height entries,
 * free with r2h_free); *out = NULL for other rasters, whose pixels differ along a row.
 * R2H_ERR_NOMEM. */
enum r2h_status r2h_row_areas_m2(const struct r2h_raster_info *in, double **out);
/* WGS84 ellipsoidal area (m2) of a lat/lng quadrilateral given by its corners (degrees), edges
 * straight in the cylindrical equal-area projection: exact for parallels/meridians. */
double r2h_quad_area_m2(const double lat[4], const double lng[4]);
/* Mean of a quadrilateral's corners (degrees; longitudes unwrapped about corner 0, the result in
 * [-180, 180)): the centre of a pixel from r2h_raster_pixel_corners. */
void r2h_quad_centre(const double lat[4], const double lng[4], double *clat, double *clng);

#endif
