/* raster_internal.h - private to src/raster: the handle behind struct r2h_raster, shared by
 * raster.c (open, bands, CRS) and raster_read.c (reads, validity, locating pixel centres). */
#ifndef R2H_RASTER_INTERNAL_H
#define R2H_RASTER_INTERNAL_H

#include <gdal.h>
#include <ogr_srs_api.h>

#include "r2h_io.h"
#include "r2h_raster.h"

struct r2h_raster {
    GDALDatasetH ds;
    GDALRasterBandH band[R2H_RASTER_MAX_BANDS]; /* the selected bands */
    GDALRasterBandH mask[R2H_RASTER_MAX_BANDS]; /* NULL unless that band's has_mask */
    uint8_t *mscratch;                          /* mask of a further band (multi-band reads) */
    size_t mcap;
    OGRSpatialReferenceH src_srs;
    OGRSpatialReferenceH wgs84;
    OGRCoordinateTransformationH ct;  /* NULL for geographic rasters */
    OGRCoordinateTransformationH ict; /* WGS84 -> raster CRS (r2h_raster_to_pixel), lazily */
    int ict_failed;                   /* creating ict failed */
    double inv_gt[6];                 /* inverse geotransform (valid when has_inv_gt) */
    int has_inv_gt;
    char *crs_wkt; /* WKT2 of src_srs (CPLMalloc'd), NULL if not exportable */
    int unscale;   /* r2h_raster_set_unscale was called */
    struct r2h_raster_info info;
    int *okbuf; /* scratch for projected locate_row */
    int bufcap;
    int may_leave_globe; /* some centre may be off the globe (drop_off_globe) */
};

/* GDAL's type for t (GDT_Byte for both 8-bit types). */
GDALDataType r2h_raster_gdal_type(enum r2h_dtype t);
/* A failed open or read of name: "name: <GDAL's messages>", R2H_ERR_TRANSIENT when they say the
 * failure is transient (network, throttling, 5xx; after GDAL's retries), else R2H_ERR_INPUT. */
enum r2h_status r2h_raster_read_failure(const struct r2h_io_errors *e, const char *name,
                                        const char *what, char *errbuf, size_t errbuf_len);

#endif
