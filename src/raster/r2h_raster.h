/* r2h_raster.h - the raster module: open a GDAL dataset, read windows with validity, locate pixel
 * centres. */
#ifndef R2H_RASTER_H
#define R2H_RASTER_H

#include <stddef.h>
#include <stdint.h>

#include "r2h_common.h"

/* Pixel data types the product reads; values are delivered in these native C types. */
enum r2h_dtype {
    R2H_DT_UINT8,
    R2H_DT_INT8,
    R2H_DT_UINT16,
    R2H_DT_INT16,
    R2H_DT_UINT32,
    R2H_DT_INT32,
    R2H_DT_UINT64,
    R2H_DT_INT64,
    R2H_DT_FLOAT32,
    R2H_DT_FLOAT64
};

/* GDAL's release name, e.g. "3.6.2". */
const char *r2h_raster_gdal_version(void);

/* Size in bytes of one value of type t. */
size_t r2h_dtype_size(enum r2h_dtype t);
const char *r2h_dtype_name(enum r2h_dtype t);

/* Most bands one read may select (r2h_raster_select). */
#define R2H_RASTER_MAX_BANDS 64

/* One selected band: its number, type and what makes a pixel of it invalid. */
struct r2h_band_info {
    int band;                 /* 1-based */
    enum r2h_dtype dtype;     /* of the values delivered: raw_dtype, or float64 when unscaled */
    enum r2h_dtype raw_dtype; /* as stored; NoData is compared in this type */
    int has_nodata;
    double nodata;
    int has_mask;          /* 1 if a mask band (per-dataset mask, alpha) decides validity */
    size_t offset;         /* byte offset of its value in a pixel record (r2h_raster_read) */
    char description[256]; /* may be empty */
    /* A name for its column when the user gives none (may be empty, may need sanitising):
     * GRIB's <GRIB_ELEMENT>_<GRIB_SHORT_NAME>, else the description, else NETCDF_VARNAME. */
    char name[256];
    /* Physical value = raw * scale + add_offset (GDAL's scale/offset, 1 and 0 if none). has_scale:
     * scale != 1 or offset != 0. unscaled: r2h_raster_set_unscale applies them (float64). */
    double scale, add_offset;
    int has_scale;
    int unscaled;
    char unit[64]; /* GDAL's unit type, may be empty */
    /* NetCDF: the band's place on the variable's extra dimensions that have more than one
     * value (NETCDF_DIM_EXTRA), "_"-joined: a CF time axis as its date at the precision that
     * tells the axis' steps apart (r2h_cftime_level_of: 2010, 2010_01, 2010_01_15,
     * 2010_01_15T06, ...), any other dimension as <dim><value> (depth10). "" otherwise. */
    char step[192];
};

struct r2h_raster_info {
    int width, height;
    int block_w, block_h; /* natural block size of the (first selected) band */
    /* band .. description describe the first selected band (the only one unless
     * r2h_raster_select chose several). */
    int band; /* 1-based */
    int band_count;
    enum r2h_dtype dtype;
    int has_nodata;
    double nodata;
    int has_mask;   /* 1 if a mask band (per-dataset mask, alpha) decides validity */
    int geographic; /* 1 if pixel coordinates are WGS84 lng/lat degrees (no PROJ needed) */
    int rotated;    /* 1 if gt[2] or gt[4] != 0 */
    double gt[6];
    char description[256]; /* band description, may be empty */
    char crs_name[256];
    /* Identity of the source for resumable runs (docs/design/0006-resume-and-s3.md):
     * source_path is the canonical name (realpath of a local file, else the GDAL name, s3://
     * mapped to /vsis3/); size and mtime (whole seconds; source_mtime_ns in nanoseconds for
     * local files) are 0 if unknown; ETag for network files (empty if none); source_files a
     * digest of the name, size, mtime_ns and ETag of every file GDAL lists for the dataset
     * (a VRT's sources, sidecars; 0 if it lists none). */
    char source_path[4096];
    uint64_t source_size;
    int64_t source_mtime;
    int64_t source_mtime_ns;
    char source_etag[128];
    uint64_t source_files;
    /* The selected bands (one after open) and the size of one pixel record: their values, each
     * at its natural alignment, padded to the largest. */
    int nsel;
    struct r2h_band_info sel[R2H_RASTER_MAX_BANDS];
    size_t pixel_size;
};

struct r2h_raster;

/* Open dataset `name` (any GDAL name; s3://b/k is read as /vsis3/b/k), band `band` (1-based).
 * Checks that the band exists and has a supported type, that the dataset has a geotransform and a
 * CRS that reaches WGS84. On error returns R2H_ERR_INPUT/R2H_ERR_CRS with a message in errbuf and
 * *out untouched; R2H_ERR_TRANSIENT when opening failed for a transient reason (no connection,
 * timeout, HTTP 5xx/429 after GDAL's retries). Not thread-safe: use one handle per thread. */
enum r2h_status r2h_raster_open(const char *name, int band, struct r2h_raster **out, char *errbuf,
                                size_t errbuf_len);

/* r2h_raster_open with a CRS assigned to the raster: srs is anything OSRSetFromUserInput
 * accepts (EPSG:4326, WKT, PROJJSON, a PROJ string) and replaces the dataset's own CRS; NULL or
 * "" keeps the dataset's. R2H_ERR_INVALID if srs is not a CRS. A dataset with no bands but
 * subdatasets fails with R2H_ERR_INPUT listing them. */
enum r2h_status r2h_raster_open_srs(const char *name, int band, const char *srs,
                                    struct r2h_raster **out, char *errbuf, size_t errbuf_len);

/* Another handle on the source first was opened from, with the same name, band and srs (one
 * handle per worker thread): opened and checked as r2h_raster_open_srs does, but the source
 * identity (source_path .. source_files of the info) is first's, copied, not computed again
 * (realpath, stat, GDAL's file list, the ETag request: once per run). first must stay open
 * during the call; the handles are independent afterwards. */
enum r2h_status r2h_raster_open_another(const struct r2h_raster *first, const char *name, int band,
                                        const char *srs, struct r2h_raster **out, char *errbuf,
                                        size_t errbuf_len);

/* The raster's CRS as single-line WKT2 (2019); "" if it cannot be exported. Owned by r. */
const char *r2h_raster_crs_wkt(const struct r2h_raster *r);

/* The raster's footprint (its pixels' extent, the corners of the geotransform) in WGS84
 * degrees: b = {west, south, east, north}, longitudes in [-180, 180], west > east when it
 * crosses the antimeridian, the whole range when it goes round the globe; edges densified so
 * that a projected footprint's curved sides are inside (GDAL's OCTTransformBounds, which also
 * takes a pole inside). R2H_ERR_CRS when the corners do not transform. */
enum r2h_status r2h_raster_wgs84_bounds(const struct r2h_raster *r, double b[4]);

/* 1 if band (1-based) exists and its colour interpretation is alpha. */
int r2h_raster_band_is_alpha(const struct r2h_raster *r, int band);

/* Close; NULL is a no-op. */
void r2h_raster_close(struct r2h_raster *r);

const struct r2h_raster_info *r2h_raster_get_info(const struct r2h_raster *r);

/* Select bands (1-based numbers, 1..R2H_RASTER_MAX_BANDS of them, in this order) instead of
 * the band given at open; the info's band fields then describe bands[0]. R2H_ERR_INPUT with a
 * message if a band does not exist or has an unsupported type; the selection is unchanged. */
enum r2h_status r2h_raster_select(struct r2h_raster *r, const int *bands, int n, char *errbuf,
                                  size_t errbuf_len);

/* Use band `band` (an alpha band; 0 = transparent) as the mask of every selected band that
 * has no mask band of its own; their NoData still applies. */
void r2h_raster_mask_with(struct r2h_raster *r, int band);

/* Override the NoData value of every selected band. */
void r2h_raster_set_nodata(struct r2h_raster *r, double nodata);

/* From now on deliver bands with a scale or offset (has_scale) as float64 raw * scale + offset,
 * for the current selection and later r2h_raster_select calls; validity (NoData) is still
 * decided on the raw value. Changes dtype, offsets and pixel_size of the info. */
void r2h_raster_set_unscale(struct r2h_raster *r);

/* Read window (x0, y0, w, h): values (w*h pixel records of info->pixel_size bytes, row-major;
 * selected band i at offset sel[i].offset: with one band simply w*h values of its type) and
 * valid (w*h bytes, 1 = valid in every selected band: not NoData, not NaN, not masked).
 * A failure GDAL raises while reading fails the read even when GDAL reports success: R2H_ERR_INPUT,
 * or R2H_ERR_TRANSIENT when the messages say it was transient. */
enum r2h_status r2h_raster_read(struct r2h_raster *r, int x0, int y0, int w, int h, void *values,
                                uint8_t *valid, char *errbuf, size_t errbuf_len);

/* Centres of pixels (col0 .. col0+n-1, row) as WGS84 latitude/longitude in degrees, longitude
 * normalised to [-180, 180]. ok[i] = 0 where the coordinate transformation failed. */
enum r2h_status r2h_raster_locate_row(struct r2h_raster *r, int row, int col0, int n, double *lat,
                                      double *lng, uint8_t *ok);

/* Pixel coordinates (px, py; pixel (c, r) covers [c, c+1) x [r, r+1), its centre at +0.5) of n
 * WGS84 points (degrees, longitude in [-180, 180]), the inverse of r2h_raster_locate_row: through
 * the raster's CRS (PROJ) and the inverse geotransform. On a geographic raster the longitude is
 * taken modulo 360 from the raster's west edge (0..360 rasters, rasters across the antimeridian;
 * a raster wider than 360 degrees gets its first copy). ok[i] = 0 where the point does not
 * transform. R2H_ERR_CRS when no transformation to the raster's CRS exists, R2H_ERR_NOMEM.
 * Not thread-safe (one handle per thread). */
enum r2h_status r2h_raster_to_pixel(struct r2h_raster *r, size_t n, const double *lat,
                                    const double *lng, double *px, double *py, uint8_t *ok);

/* The off-globe rule for geographic rasters (docs/design/0001-architecture.md, "Pixels off
 * the globe"): of pixels (col0 .. col0+n-1, row) with ok[i] != 0, clears ok[i] where the
 * centre latitude is outside [-90, 90] (adds 1 to *beyond_pole; such a centre is never folded
 * over the pole) or else where the centre is 360 degrees or more along the row from the outer
 * edge of the row's first pixel (adds 1 to *repeated: a raster wider than 360 degrees keeps
 * the first copy of each longitude in column order). Centres are computed as in
 * r2h_raster_locate_row. No-op for projected rasters and for geographic rasters that cannot
 * have such pixels (checked at open). Reads only the handle's immutable state. */
void r2h_raster_drop_off_globe(const struct r2h_raster *r, int row, int col0, int n, uint8_t *ok,
                               uint64_t *beyond_pole, uint64_t *repeated);

/* WGS84 latitude/longitude (degrees, not normalised) of the 4 corners of pixel (col, row):
 * top-left, top-right, bottom-right, bottom-left. R2H_ERR_CRS if a corner does not transform.
 * For pixel areas (aggregation). */
enum r2h_status r2h_raster_pixel_corners(struct r2h_raster *r, int row, int col, double lat[4],
                                         double lng[4]);

/* Pixel window (clipped to the raster) of all pixels whose centres can lie within the lat/lng box
 * [lat0, lat1] x [lng0, lng1] (lng may extend past ±180; shifted copies are considered).
 * Only for geographic, unrotated rasters: returns 0 otherwise (caller reads everything).
 * Up to 3 windows (x0, y0, w, h) are written to win; *nwin receives their count. */
int r2h_raster_window_for_box(const struct r2h_raster *r, double lat0, double lat1, double lng0,
                              double lng1, int win[][4], int *nwin);

/* A grid without a dataset (raster2h3 rasterize): width x height pixels on geotransform gt in
 * the CRS srs (anything OSRSetFromUserInput accepts). The handle has no bands: only
 * r2h_raster_get_info (size, gt, geographic), r2h_raster_crs_wkt, r2h_raster_locate_row,
 * r2h_raster_drop_off_globe and r2h_raster_to_pixel apply. R2H_ERR_INVALID for a bad size or
 * geotransform or an srs that is not a CRS, R2H_ERR_CRS if it does not reach WGS84. */
enum r2h_status r2h_raster_open_grid(int width, int height, const double gt[6], const char *srs,
                                     struct r2h_raster **out, char *errbuf, size_t errbuf_len);

/* A one-band GeoTIFF being written on grid's size, geotransform and CRS (raster_write.c):
 * created as the hidden temporary "<dir>/.<name>.tmp-<pid>" beside path (registered for removal
 * on SIGINT/SIGTERM), renamed to path by commit; abort (or a failed commit) removes it, so no
 * partial file is left at path. Creation options: TILED=YES, COMPRESS=DEFLATE and
 * BIGTIFF=IF_SAFER unless co (nco "KEY=VALUE" strings, GDAL's GTiff options) gives that key.
 * R2H_ERR_IO with "<path>: cannot create: <GDAL's messages>" (e.g. a missing directory). */
struct r2h_raster_writer;
enum r2h_status r2h_raster_writer_open(const char *path, const struct r2h_raster *grid,
                                       enum r2h_dtype dtype, double nodata, const char *const *co,
                                       int nco, struct r2h_raster_writer **out, char *errbuf,
                                       size_t errbuf_len);
/* Rows y0 .. y0+h-1: width * h values of the writer's dtype, row-major. R2H_ERR_IO. */
enum r2h_status r2h_raster_writer_write(struct r2h_raster_writer *w, int y0, int h,
                                        const void *values, char *errbuf, size_t errbuf_len);
/* Close, flush and rename into place; frees w whatever the outcome. R2H_ERR_IO. */
enum r2h_status r2h_raster_writer_commit(struct r2h_raster_writer *w, char *errbuf,
                                         size_t errbuf_len);
/* Close and remove the temporary; frees w. NULL is a no-op. */
void r2h_raster_writer_abort(struct r2h_raster_writer *w);

/* The GDAL name of the variable `variable` of container `name` (NetCDF, HDF4/HDF5): the
 * SUBDATASET_<n>_NAME whose variable (NETCDF:"f":VAR, HDF5:"f"://group/VAR: VAR or
 * group/VAR; else the name in SUBDATASET_<n>_DESC, "[dims] VAR (type)") is variable, into dst.
 * A NetCDF file holding one variable (no subdatasets, bands with NETCDF_VARNAME variable) is
 * its own name. R2H_ERR_INPUT with a message listing the variables when there is no such
 * variable, or none at all (not a container); R2H_ERR_TRANSIENT as r2h_raster_open. */
enum r2h_status r2h_raster_variable(const char *name, const char *variable, char *dst, size_t len,
                                    char *errbuf, size_t errbuf_len);

/* ---- CF time coordinates (cftime.c; pure) ---------------------------------------------------- */

/* The CF calendars: standard (= gregorian: Julian before 1582-10-15), proleptic_gregorian,
 * julian, noleap (= 365_day), all_leap (= 366_day), 360_day. */
enum r2h_calendar {
    R2H_CAL_STANDARD,
    R2H_CAL_PROLEPTIC_GREGORIAN,
    R2H_CAL_JULIAN,
    R2H_CAL_NOLEAP,
    R2H_CAL_ALL_LEAP,
    R2H_CAL_360_DAY
};

/* A time axis: "<unit> since <date>[ <time>]" (unit: days, hours, minutes, seconds, weeks and
 * their abbreviations; a time zone after the time is ignored) in a calendar. */
struct r2h_cftime {
    double unit_s; /* seconds per unit */
    enum r2h_calendar calendar;
    int64_t ref_day; /* the reference date's day number in the calendar */
    double ref_s;    /* seconds into that day */
};

struct r2h_cftime_date {
    int64_t year; /* astronomical: 0 is 1 BC */
    int month, day, hour, minute, second;
};

/* How much of a date names a step. */
enum r2h_cftime_level {
    R2H_TIME_YEAR,
    R2H_TIME_MONTH,
    R2H_TIME_DAY,
    R2H_TIME_HOUR,
    R2H_TIME_MINUTE,
    R2H_TIME_SECOND
};

/* 1 and *t if units (e.g. "days since 1950-01-01 00:00:00") and calendar (NULL or "":
 * standard) describe a CF time axis this decodes, else 0. */
int r2h_cftime_parse(const char *units, const char *calendar, struct r2h_cftime *t);

/* The date of value on axis t, to the nearest second; 0 if out of range (not finite). */
int r2h_cftime_decode(const struct r2h_cftime *t, double value, struct r2h_cftime_date *out);

/* The coarsest level at which the dates of the n values are told apart (equal values aside):
 * yearly steps give YEAR, monthly MONTH, daily DAY, hourly HOUR, ... */
enum r2h_cftime_level r2h_cftime_level_of(const struct r2h_cftime *t, const double *values,
                                          size_t n);

/* The date down to level: YYYY, YYYY_MM, YYYY_MM_DD, YYYY_MM_DDTHH, YYYY_MM_DDTHHMM,
 * YYYY_MM_DDTHHMMSS (a negative year as mYYYY). */
void r2h_cftime_format(const struct r2h_cftime_date *d, enum r2h_cftime_level level, char *dst,
                       size_t len);

#endif
