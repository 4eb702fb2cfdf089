/* raster_read.c - reading windows of the selected bands with validity (NoData, masks, NaN),
 * unscaling, and pixel centres and corners to WGS84 (moved from raster.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include "r2h_io.h"
#include "r2h_raster.h"
#include "raster_internal.h"

/* Is a pixel whose centre lies `along` degrees from its row's first centre (measured in the
 * direction of increasing column) in a longitude the row has covered already? The row covers
 * from the outer edge of its first pixel, half a step before that pixel's centre; a centre 360
 * degrees or more beyond that edge is a repeat. The half step also absorbs rounding in
 * geotransforms such as ETOPO20's 0.3333333 degrees (column 1080 is 359.99996 from column 0). */
static int repeats_longitude(double along, double step)
{
    return along >= 360.0 - 0.5 * fabs(step);
}

/* Mark NoData (as the band's type sees it) and NaN invalid. A NoData value that the type cannot
 * represent matches no pixel. Values are `stride` bytes apart (pixel records), naturally aligned.
 */
#define VAL(T, i) (*(const T *)(const void *)(base + (i)*stride))
#define MARK_INT(T, lo, hi)                                                                        \
    do {                                                                                           \
        if (!b->has_nodata || isnan(b->nodata) || b->nodata < (lo) || b->nodata > (hi) ||          \
            b->nodata != floor(b->nodata))                                                         \
            break;                                                                                 \
        T nd = (T)b->nodata;                                                                       \
        for (size_t i = 0; i < n; i++)                                                             \
            valid[i] &= VAL(T, i) != nd;                                                           \
    } while (0)

static void mark_invalid(const struct r2h_band_info *b, const void *values, size_t stride,
                         uint8_t *valid, size_t n)
{
    const unsigned char *base = (const unsigned char *)values + b->offset;
    switch (b->dtype) {
    case R2H_DT_UINT8: MARK_INT(uint8_t, 0, 255); break;
    case R2H_DT_INT8: MARK_INT(int8_t, -128, 127); break;
    case R2H_DT_UINT16: MARK_INT(uint16_t, 0, 65535); break;
    case R2H_DT_INT16: MARK_INT(int16_t, -32768, 32767); break;
    case R2H_DT_UINT32: MARK_INT(uint32_t, 0, 4294967295.0); break;
    case R2H_DT_INT32: MARK_INT(int32_t, -2147483648.0, 2147483647.0); break;
    case R2H_DT_UINT64: MARK_INT(uint64_t, 0, 18446744073709549568.0); break;
    case R2H_DT_INT64: MARK_INT(int64_t, -9223372036854775808.0, 9223372036854774784.0); break;
    case R2H_DT_FLOAT32: {
        float nd = (float)b->nodata;
        int use = b->has_nodata && !isnan(b->nodata);
        for (size_t i = 0; i < n; i++)
            valid[i] &= !isnan(VAL(float, i)) && !(use && VAL(float, i) == nd);
        break;
    }
    case R2H_DT_FLOAT64: {
        int use = b->has_nodata && !isnan(b->nodata);
        for (size_t i = 0; i < n; i++)
            valid[i] &= !isnan(VAL(double, i)) && !(use && VAL(double, i) == b->nodata);
        break;
    }
    }
}
#undef VAL

/* Raw values of band b (of type b->raw_dtype, in 8-byte slots of the pixel records) into
 * float64 raw * scale + offset, in place. */
static void unscale_values(const struct r2h_band_info *b, void *values, size_t stride, size_t n)
{
    unsigned char *base = (unsigned char *)values + b->offset;
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = base + i * stride;
        double v = 0;
        switch (b->raw_dtype) {
        case R2H_DT_UINT8: v = *(const uint8_t *)p; break;
        case R2H_DT_INT8: v = *(const int8_t *)p; break;
        case R2H_DT_UINT16: {
            uint16_t x;
            memcpy(&x, p, 2);
            v = x;
            break;
        }
        case R2H_DT_INT16: {
            int16_t x;
            memcpy(&x, p, 2);
            v = x;
            break;
        }
        case R2H_DT_UINT32: {
            uint32_t x;
            memcpy(&x, p, 4);
            v = x;
            break;
        }
        case R2H_DT_INT32: {
            int32_t x;
            memcpy(&x, p, 4);
            v = x;
            break;
        }
        case R2H_DT_UINT64: {
            uint64_t x;
            memcpy(&x, p, 8);
            v = (double)x;
            break;
        }
        case R2H_DT_INT64: {
            int64_t x;
            memcpy(&x, p, 8);
            v = (double)x;
            break;
        }
        case R2H_DT_FLOAT32: {
            float x;
            memcpy(&x, p, 4);
            v = x;
            break;
        }
        case R2H_DT_FLOAT64: memcpy(&v, p, 8); break;
        }
        v = v * b->scale + b->add_offset;
        memcpy(p, &v, 8);
    }
}

/* valid &= band i's mask over the window (a mask shared with an earlier band is not re-read). */
static enum r2h_status and_mask(struct r2h_raster *r, int i, int x0, int y0, int w, int h,
                                uint8_t *valid, char *errbuf, size_t errbuf_len)
{
    for (int j = 0; j < i; j++)
        if (r->mask[j] == r->mask[i])
            return R2H_OK;
    const size_t n = (size_t)w * (size_t)h;
    if (n > r->mcap) {
        uint8_t *m = r2h_realloc(r->mscratch, n);
        if (!m) {
            r2h_fmt(errbuf, errbuf_len, "%s: out of memory reading a mask",
                    GDALGetDescription(r->ds));
            return R2H_ERR_NOMEM;
        }
        r->mscratch = m;
        r->mcap = n;
    }
    if (GDALRasterIO(r->mask[i], GF_Read, x0, y0, w, h, r->mscratch, w, h, GDT_Byte, 0, 0) !=
        CE_None) {
        r2h_io_gdal_message(errbuf, errbuf_len, "mask read failed", GDALGetDescription(r->ds));
        return R2H_ERR_INPUT;
    }
    for (size_t k = 0; k < n; k++)
        valid[k] &= r->mscratch[k] != 0;
    return R2H_OK;
}

/* Band i of the selection into its slot of the pixel records. */
static enum r2h_status read_band(struct r2h_raster *r, int i, int x0, int y0, int w, int h,
                                 void *values, char *errbuf, size_t errbuf_len)
{
    const struct r2h_raster_info *in = &r->info;
    const int ps = (int)in->pixel_size;
    if (GDALRasterIO(r->band[i], GF_Read, x0, y0, w, h, (char *)values + in->sel[i].offset, w, h,
                     r2h_raster_gdal_type(in->sel[i].raw_dtype), ps, ps * w) != CE_None) {
        r2h_io_gdal_message(errbuf, errbuf_len, "read failed", GDALGetDescription(r->ds));
        return R2H_ERR_INPUT;
    }
    return R2H_OK;
}

enum r2h_status r2h_raster_read(struct r2h_raster *r, int x0, int y0, int w, int h, void *values,
                                uint8_t *valid, char *errbuf, size_t errbuf_len)
{
    const struct r2h_raster_info *in = &r->info;
    size_t n = (size_t)w * (size_t)h;
    enum r2h_status st = R2H_OK;
    struct r2h_io_errors e;
    r2h_io_errors_begin(&e, GDALGetDescription(r->ds));
    for (int i = 0; i < in->nsel && st == R2H_OK; i++)
        st = read_band(r, i, x0, y0, w, h, values, errbuf, errbuf_len);
    if (st != R2H_OK)
        goto out;
    if (in->sel[0].has_mask) {
        if (GDALRasterIO(r->mask[0], GF_Read, x0, y0, w, h, valid, w, h, GDT_Byte, 0, 0) !=
            CE_None) {
            r2h_io_gdal_message(errbuf, errbuf_len, "mask read failed", GDALGetDescription(r->ds));
            st = R2H_ERR_INPUT;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            valid[i] = valid[i] != 0;
    } else {
        memset(valid, 1, n);
    }
    for (int i = 1; i < in->nsel && st == R2H_OK; i++)
        if (in->sel[i].has_mask)
            st = and_mask(r, i, x0, y0, w, h, valid, errbuf, errbuf_len);
    for (int i = 0; i < in->nsel && st == R2H_OK; i++) {
        struct r2h_band_info raw = in->sel[i];
        raw.dtype = raw.raw_dtype; /* NoData is a raw value */
        mark_invalid(&raw, values, in->pixel_size, valid, n);
        if (raw.unscaled)
            unscale_values(&raw, values, in->pixel_size, n);
    }
out:
    /* A failure raised during a read that GDAL reports as successful still fails it: GTiff
     * fills a block whose offsets could not be fetched (an HTTP error mid-read) with NoData. */
    if (st == R2H_ERR_INPUT || (st == R2H_OK && e.failed))
        st = r2h_raster_read_failure(&e, GDALGetDescription(r->ds), "read failed", errbuf,
                                     errbuf_len);
    r2h_io_errors_end(&e);
    return st;
}

enum r2h_status r2h_raster_locate_row(struct r2h_raster *r, int row, int col0, int n, double *lat,
                                      double *lng, uint8_t *ok)
{
    const double *gt = r->info.gt;
    const double rc = row + 0.5;
    if (n <= 0)
        return R2H_OK;
    for (int i = 0; i < n; i++) {
        const double cc = (col0 + i) + 0.5;
        lng[i] = gt[0] + cc * gt[1] + rc * gt[2];
        lat[i] = gt[3] + cc * gt[4] + rc * gt[5];
    }
    if (r->ct) {
        if (n > r->bufcap) {
            int *okb = r2h_realloc(r->okbuf, (size_t)n * sizeof *okb);
            if (!okb)
                return R2H_ERR_NOMEM;
            r->okbuf = okb;
            r->bufcap = n;
        }
        CPLPushErrorHandler(CPLQuietErrorHandler);
        /* The return value is not used: per-point success flags are what matter. */
        (void)OCTTransformEx(r->ct, n, lng, lat, NULL, r->okbuf);
        CPLPopErrorHandler();
        for (int i = 0; i < n; i++)
            ok[i] = r->okbuf[i] && isfinite(lng[i]) && isfinite(lat[i]);
    } else {
        memset(ok, 1, (size_t)n);
    }
    for (int i = 0; i < n; i++)
        lng[i] = r2h_normalise_lng(lng[i]);
    return R2H_OK;
}

void r2h_raster_drop_off_globe(const struct r2h_raster *r, int row, int col0, int n, uint8_t *ok,
                               uint64_t *beyond_pole, uint64_t *repeated)
{
    if (!r->may_leave_globe || n <= 0)
        return;
    const double *gt = r->info.gt;
    const double rc = row + 0.5;
    const double lng_first = gt[0] + 0.5 * gt[1] + rc * gt[2];
    uint64_t pole = 0, rep = 0;
    for (int i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        const double cc = (col0 + i) + 0.5;
        /* Same expressions as r2h_raster_locate_row. */
        const double lng = gt[0] + cc * gt[1] + rc * gt[2];
        const double lat = gt[3] + cc * gt[4] + rc * gt[5];
        if (!(lat >= -90.0 && lat <= 90.0)) {
            ok[i] = 0;
            pole++;
        } else if (repeats_longitude(gt[1] >= 0 ? lng - lng_first : lng_first - lng, gt[1])) {
            ok[i] = 0;
            rep++;
        }
    }
    *beyond_pole += pole;
    *repeated += rep;
}

/* Column (or row) index range of centres within [a, b] along an axis with origin o and step s. */
static void axis_range(double o, double s, double a, double b, long *lo, long *hi)
{
    double ca = (a - o) / s - 0.5, cb = (b - o) / s - 0.5;
    if (ca > cb) {
        double t = ca;
        ca = cb;
        cb = t;
    }
    *lo = (long)floor(ca) - 1;
    *hi = (long)ceil(cb) + 1;
}

static int cmp_range(const void *a, const void *b)
{
    const long *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

int r2h_raster_window_for_box(const struct r2h_raster *r, double lat0, double lat1, double lng0,
                              double lng1, int win[][4], int *nwin)
{
    const struct r2h_raster_info *in = &r->info;
    *nwin = 0;
    if (!in->geographic || in->rotated || in->gt[1] == 0.0 || in->gt[5] == 0.0)
        return 0;
    long rlo, rhi;
    axis_range(in->gt[3], in->gt[5], lat0, lat1, &rlo, &rhi);
    if (rlo < 0)
        rlo = 0;
    if (rhi > in->height - 1)
        rhi = in->height - 1;
    if (rlo > rhi)
        return 1;
    long cols[3][2];
    int nc = 0;
    for (int k = -1; k <= 1; k++) {
        long clo, chi;
        axis_range(in->gt[0], in->gt[1], lng0 + 360.0 * k, lng1 + 360.0 * k, &clo, &chi);
        if (clo < 0)
            clo = 0;
        if (chi > in->width - 1)
            chi = in->width - 1;
        if (clo <= chi) {
            cols[nc][0] = clo;
            cols[nc][1] = chi;
            nc++;
        }
    }
    qsort(cols, (size_t)nc, sizeof cols[0], cmp_range);
    for (int i = 0; i < nc; i++) {
        if (*nwin > 0 && cols[i][0] <= win[*nwin - 1][0] + win[*nwin - 1][2]) {
            long end = cols[i][1] + 1;
            if (end > win[*nwin - 1][0] + win[*nwin - 1][2])
                win[*nwin - 1][2] = (int)(end - win[*nwin - 1][0]);
            continue;
        }
        win[*nwin][0] = (int)cols[i][0];
        win[*nwin][1] = (int)rlo;
        win[*nwin][2] = (int)(cols[i][1] - cols[i][0] + 1);
        win[*nwin][3] = (int)(rhi - rlo + 1);
        (*nwin)++;
    }
    return 1;
}

enum r2h_status r2h_raster_pixel_corners(struct r2h_raster *r, int row, int col, double lat[4],
                                         double lng[4])
{
    const double *gt = r->info.gt;
    static const double dc[4] = {0, 1, 1, 0}, dr[4] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++) {
        const double cc = col + dc[i], rc = row + dr[i];
        lng[i] = gt[0] + cc * gt[1] + rc * gt[2];
        lat[i] = gt[3] + cc * gt[4] + rc * gt[5];
    }
    if (!r->ct)
        return R2H_OK;
    int ok[4] = {0, 0, 0, 0};
    CPLPushErrorHandler(CPLQuietErrorHandler);
    (void)OCTTransformEx(r->ct, 4, lng, lat, NULL, ok);
    CPLPopErrorHandler();
    for (int i = 0; i < 4; i++)
        if (!ok[i] || !isfinite(lat[i]) || !isfinite(lng[i]))
            return R2H_ERR_CRS;
    return R2H_OK;
}

/* The inverse geotransform, and for projected rasters the WGS84 -> raster CRS transformation,
 * made on first use. */
static enum r2h_status inverse_ready(struct r2h_raster *r)
{
    if (!r->has_inv_gt) {
        if (!GDALInvGeoTransform(r->info.gt, r->inv_gt))
            return R2H_ERR_CRS;
        r->has_inv_gt = 1;
    }
    if (r->ct && !r->ict) {
        if (r->ict_failed)
            return R2H_ERR_CRS;
        CPLPushErrorHandler(CPLQuietErrorHandler);
        r->ict = OCTNewCoordinateTransformation(r->wgs84, r->src_srs);
        CPLPopErrorHandler();
        if (!r->ict) {
            r->ict_failed = 1;
            return R2H_ERR_CRS;
        }
    }
    return R2H_OK;
}

enum r2h_status r2h_raster_to_pixel(struct r2h_raster *r, size_t n, const double *lat,
                                    const double *lng, double *px, double *py, uint8_t *ok)
{
    enum r2h_status st = inverse_ready(r);
    if (st != R2H_OK || n == 0)
        return st;
    const double *gt = r->info.gt, *iv = r->inv_gt;
    if (!r->ct) {
        const int plain = gt[2] == 0 && gt[4] == 0 && gt[1] > 0;
        const double west = gt[1] > 0 ? gt[0] : gt[0] + r->info.width * gt[1];
        for (size_t i = 0; i < n; i++) {
            /* The longitude east of the raster's west edge, in [0, 360). */
            double d = lng[i] - west;
            if (d < 0)
                d += 360.0;
            if (d >= 360.0)
                d -= 360.0;
            if (plain) {
                px[i] = d / gt[1];
                py[i] = (lat[i] - gt[3]) / gt[5];
            } else {
                const double x = west + d;
                px[i] = iv[0] + iv[1] * x + iv[2] * lat[i];
                py[i] = iv[3] + iv[4] * x + iv[5] * lat[i];
            }
            ok[i] = 1;
        }
        return R2H_OK;
    }
    if (n > (size_t)r->bufcap) {
        int *okb = r2h_realloc(r->okbuf, n * sizeof *okb);
        if (!okb)
            return R2H_ERR_NOMEM;
        r->okbuf = okb;
        r->bufcap = (int)n;
    }
    for (size_t i = 0; i < n; i++) {
        px[i] = lng[i];
        py[i] = lat[i];
    }
    CPLPushErrorHandler(CPLQuietErrorHandler);
    (void)OCTTransformEx(r->ict, (int)n, px, py, NULL, r->okbuf);
    CPLPopErrorHandler();
    const int plain = gt[2] == 0 && gt[4] == 0;
    for (size_t i = 0; i < n; i++) {
        const double x = px[i], y = py[i];
        ok[i] = r->okbuf[i] && isfinite(x) && isfinite(y);
        if (plain) {
            px[i] = (x - gt[0]) / gt[1];
            py[i] = (y - gt[3]) / gt[5];
        } else {
            px[i] = iv[0] + iv[1] * x + iv[2] * y;
            py[i] = iv[3] + iv[4] * x + iv[5] * y;
        }
    }
    return R2H_OK;
}
