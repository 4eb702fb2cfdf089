/* raster_write.c - writing a one-band GeoTIFF on a grid (raster2h3 rasterize): created under a
 * hidden temporary name beside the target, written in strips of rows, renamed over the target
 * when complete and removed otherwise. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cpl_string.h>
#include <gdal.h>

#include "raster_internal.h"

struct r2h_raster_writer {
    GDALDatasetH ds;
    GDALRasterBandH band;
    enum r2h_dtype dtype;
    int width, height;
    char path[4096], tmp[4200];
    int slot; /* cleanup registry slot of tmp */
};

/* Key of a KEY=VALUE creation option equals key (case-insensitive). */
static int same_key(const char *kv, const char *key)
{
    const char *eq = strchr(kv, '=');
    size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
    return n == strlen(key) && strncasecmp(kv, key, n) == 0;
}

enum r2h_status r2h_raster_writer_open(const char *path, const struct r2h_raster *grid,
                                       enum r2h_dtype dtype, double nodata, const char *const *co,
                                       int nco, struct r2h_raster_writer **out, char *errbuf,
                                       size_t errbuf_len)
{
    static const char *const defaults[] = {"TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"};
    GDALAllRegister();
    GDALDriverH drv = GDALGetDriverByName("GTiff");
    if (!drv) {
        r2h_fmt(errbuf, errbuf_len, "GDAL has no GTiff driver");
        return R2H_ERR_INTERNAL;
    }
    struct r2h_raster_writer *w = r2h_calloc(1, sizeof *w);
    if (!w) {
        r2h_fmt(errbuf, errbuf_len, "out of memory");
        return R2H_ERR_NOMEM;
    }
    w->slot = -1;
    w->dtype = dtype;
    w->width = grid->info.width;
    w->height = grid->info.height;
    r2h_fmt(w->path, sizeof w->path, "%s", path);
    const char *slash = strrchr(path, '/');
    const size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    r2h_fmt(w->tmp, sizeof w->tmp, "%.*s.%s.tmp-%ld", (int)dirlen, path, slash ? slash + 1 : path,
            (long)getpid());
    char **opts = NULL;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        char key[32];
        r2h_fmt(key, sizeof key, "%.*s", (int)(strchr(defaults[i], '=') - defaults[i]),
                defaults[i]);
        int given = 0; /* the caller's --co KEY=VALUE replaces our KEY */
        for (int j = 0; j < nco; j++)
            given |= same_key(co[j], key);
        if (!given)
            opts = CSLAddString(opts, defaults[i]);
    }
    for (int j = 0; j < nco; j++)
        opts = CSLAddString(opts, co[j]);
    struct r2h_io_errors e;
    r2h_io_errors_begin_write(&e, w->tmp);
    w->ds = GDALCreate(drv, w->tmp, w->width, w->height, 1, r2h_raster_gdal_type(dtype), opts);
    CSLDestroy(opts);
    if (!w->ds) {
        r2h_io_errors_end(&e);
        r2h_fmt(errbuf, errbuf_len, "%s: cannot create: %s", path,
                r2h_io_errors_message(&e, "failed"));
        r2h_free(w);
        return R2H_ERR_IO;
    }
    w->slot = r2h_cleanup_register(w->tmp, 0);
    w->band = GDALGetRasterBand(w->ds, 1);
    double gt[6];
    memcpy(gt, grid->info.gt, sizeof gt);
    if (GDALSetGeoTransform(w->ds, gt) != CE_None ||
        (grid->src_srs && GDALSetSpatialRef(w->ds, grid->src_srs) != CE_None) ||
        GDALSetRasterNoDataValue(w->band, nodata) != CE_None) {
        r2h_io_errors_end(&e);
        r2h_fmt(errbuf, errbuf_len, "%s: cannot set the grid: %s", path,
                r2h_io_errors_message(&e, "failed"));
        r2h_raster_writer_abort(w);
        return R2H_ERR_IO;
    }
    r2h_io_errors_end(&e);
    *out = w;
    return R2H_OK;
}

enum r2h_status r2h_raster_writer_write(struct r2h_raster_writer *w, int y0, int h,
                                        const void *values, char *errbuf, size_t errbuf_len)
{
    struct r2h_io_errors e;
    r2h_io_errors_begin_write(&e, w->tmp);
    CPLErr ce = GDALRasterIO(w->band, GF_Write, 0, y0, w->width, h, (void *)values, w->width, h,
                             r2h_raster_gdal_type(w->dtype), 0, 0);
    r2h_io_errors_end(&e);
    if (ce != CE_None) {
        r2h_fmt(errbuf, errbuf_len, "%s: write failed: %s", w->path,
                r2h_io_errors_message(&e, "failed"));
        return R2H_ERR_IO;
    }
    return R2H_OK;
}

enum r2h_status r2h_raster_writer_commit(struct r2h_raster_writer *w, char *errbuf,
                                         size_t errbuf_len)
{
    struct r2h_io_errors e;
    r2h_io_errors_begin_write(&e, w->tmp);
    GDALClose(w->ds); /* void in GDAL 3.6: failures are what e collected */
    w->ds = NULL;
    r2h_io_errors_end(&e);
    enum r2h_status st = R2H_OK;
    if (e.failed) {
        r2h_fmt(errbuf, errbuf_len, "%s: write failed: %s", w->path,
                r2h_io_errors_message(&e, "failed"));
        st = R2H_ERR_IO;
    } else if (rename(w->tmp, w->path) != 0) {
        r2h_fmt(errbuf, errbuf_len, "%s: cannot rename %s into place: %s", w->path, w->tmp,
                strerror(errno));
        st = R2H_ERR_IO;
    }
    if (st != R2H_OK)
        unlink(w->tmp);
    r2h_cleanup_unregister(w->slot);
    r2h_free(w);
    return st;
}

void r2h_raster_writer_abort(struct r2h_raster_writer *w)
{
    if (!w)
        return;
    if (w->ds) {
        CPLPushErrorHandler(CPLQuietErrorHandler);
        GDALClose(w->ds);
        CPLPopErrorHandler();
    }
    unlink(w->tmp);
    r2h_cleanup_unregister(w->slot);
    r2h_free(w);
}
