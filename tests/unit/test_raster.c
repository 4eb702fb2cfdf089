/* test_raster.c - unit tests of the raster module on small rasters made with GDAL's MEM/GTiff
 * drivers. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include "r2h_raster.h"
#include "test.h"

/* Write a w x h GTiff at path with the given type, geotransform, EPSG code, values and nodata. */
static void make_tif(const char *path, GDALDataType t, int w, int h, const double gt[6], int epsg,
                     const void *values, const double *nodata, int with_mask)
{
    GDALAllRegister();
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, w, h, 1, t, NULL);
    GDALSetGeoTransform(ds, (double *)gt);
    if (epsg) {
        OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
        OSRImportFromEPSG(srs, epsg);
        GDALSetSpatialRef(ds, srs);
        OSRDestroySpatialReference(srs);
    }
    GDALRasterBandH b = GDALGetRasterBand(ds, 1);
    if (nodata)
        GDALSetRasterNoDataValue(b, *nodata);
    if (GDALRasterIO(b, GF_Write, 0, 0, w, h, (void *)values, w, h, t, 0, 0) != CE_None)
        fprintf(stderr, "write failed\n");
    if (with_mask) {
        GDALCreateMaskBand(b, GMF_PER_DATASET);
        GDALRasterBandH m = GDALGetMaskBand(b);
        unsigned char mv[64];
        for (int i = 0; i < w * h; i++)
            mv[i] = i % 2 ? 255 : 0;
        if (GDALRasterIO(m, GF_Write, 0, 0, w, h, mv, w, h, GDT_Byte, 0, 0) != CE_None)
            fprintf(stderr, "mask write failed\n");
    }
    GDALClose(ds);
}

TEST(nodata_and_validity)
{
    const char *p = "/tmp/r2h_test_raster_u16.tif";
    const double gt[6] = {10.0, 0.5, 0.0, 50.0, 0.0, -0.5};
    const uint16_t v[6] = {1, 65535, 3, 4, 65535, 6};
    const double nd = 65535;
    make_tif(p, GDT_UInt16, 3, 2, gt, 4326, v, &nd, 0);
    struct r2h_raster *r = NULL;
    char err[512];
    t_assert(r2h_raster_open(p, 1, &r, err, sizeof err) == R2H_OK, "open");
    if (!r)
        return;
    const struct r2h_raster_info *in = r2h_raster_get_info(r);
    t_assert(in->dtype == R2H_DT_UINT16 && in->geographic && !in->rotated, "info");
    uint16_t got[6];
    uint8_t valid[6];
    t_assert(r2h_raster_read(r, 0, 0, 3, 2, got, valid, err, sizeof err) == R2H_OK, "read");
    t_assert(memcmp(got, v, sizeof v) == 0, "values");
    const uint8_t want[6] = {1, 0, 1, 1, 0, 1};
    t_assert(memcmp(valid, want, 6) == 0, "nodata invalid");
    r2h_raster_set_nodata(r, 3);
    r2h_raster_read(r, 0, 0, 3, 2, got, valid, err, sizeof err);
    const uint8_t want2[6] = {1, 1, 0, 1, 1, 1};
    t_assert(memcmp(valid, want2, 6) == 0, "override nodata");
    r2h_raster_set_nodata(r, -1); /* not representable in uint16: matches nothing */
    r2h_raster_read(r, 0, 0, 3, 2, got, valid, err, sizeof err);
    t_assert(valid[0] && valid[1] && valid[4], "unrepresentable nodata matches nothing");
    double lat[3], lng[3];
    uint8_t ok[3];
    t_assert(r2h_raster_locate_row(r, 1, 0, 3, lat, lng, ok) == R2H_OK, "locate");
    t_assert(lng[0] == 10.25 && lng[2] == 11.25 && lat[1] == 49.25 && ok[0], "centres");
    r2h_raster_close(r);
    unlink(p);
}

TEST(float_nan_and_mask)
{
    const char *p = "/tmp/r2h_test_raster_f32.tif";
    const double gt[6] = {-180.0, 1.0, 0.0, 90.0, 0.0, -1.0};
    const float v[4] = {NAN, -9999.0f, 2.5f, 7.0f};
    const double nd = -9999;
    make_tif(p, GDT_Float32, 2, 2, gt, 4326, v, &nd, 1);
    struct r2h_raster *r = NULL;
    char err[512];
    t_assert(r2h_raster_open(p, 1, &r, err, sizeof err) == R2H_OK, "open");
    if (!r)
        return;
    t_assert(r2h_raster_get_info(r)->has_mask, "mask detected");
    float got[4];
    uint8_t valid[4];
    r2h_raster_read(r, 0, 0, 2, 2, got, valid, err, sizeof err);
    /* mask: odd pixels valid; pixel 1 is NoData anyway, pixel 3 valid. */
    t_assert(!valid[0] && !valid[1] && !valid[2] && valid[3], "mask, NaN and nodata combine");
    r2h_raster_close(r);
    unlink(p);
}

TEST(windows_for_box)
{
    const char *p = "/tmp/r2h_test_raster_360.tif";
    /* 0..360 longitude at 1 degree: the box [170, 190] must select columns 170..189 at once,
     * and the box [-10, 10] columns 350..359 and 0..9 as two windows. */
    static uint8_t v[360 * 10];
    const double gt[6] = {0.0, 1.0, 0.0, 10.0, 0.0, -1.0};
    make_tif(p, GDT_Byte, 360, 10, gt, 4326, v, NULL, 0);
    struct r2h_raster *r = NULL;
    char err[512];
    t_assert(r2h_raster_open(p, 1, &r, err, sizeof err) == R2H_OK, "open");
    if (!r)
        return;
    int win[3][4], n = 0;
    t_assert(r2h_raster_window_for_box(r, 2.0, 4.0, -10.0, 10.0, win, &n) == 1, "supported");
    t_assert(n == 2, "two windows across the 0/360 seam");
    int cols = 0;
    for (int i = 0; i < n; i++)
        cols += win[i][2];
    t_assert(cols >= 20 && cols <= 26, "about 20 columns (with margins)");
    t_assert(win[0][1] <= 6 && win[0][1] + win[0][3] >= 8, "rows cover lat 2..4");
    t_assert(r2h_raster_window_for_box(r, -90, 90, -180, 180, win, &n) == 1 && n == 1 &&
                 win[0][2] == 360,
             "whole globe is one window, no column twice");
    r2h_raster_close(r);
    unlink(p);
}

/* Open a 1-band Byte raster of w x h with geotransform gt and CRS epsg (values 0). */
static struct r2h_raster *open_grid(const char *p, int w, int h, const double gt[6], int epsg)
{
    static uint8_t v[2048];
    make_tif(p, GDT_Byte, w, h, gt, epsg, v, NULL, 0);
    struct r2h_raster *r = NULL;
    char err[512];
    t_assert(r2h_raster_open(p, 1, &r, err, sizeof err) == R2H_OK, "open");
    return r;
}

/* Pixels (0 .. n-1, row) dropped by the off-globe rule, as a count; ok[] all 1 on entry. */
static int dropped(struct r2h_raster *r, int row, int n, uint64_t *pole, uint64_t *rep)
{
    uint8_t ok[2048];
    memset(ok, 1, (size_t)n);
    r2h_raster_drop_off_globe(r, row, 0, n, ok, pole, rep);
    int d = 0;
    for (int i = 0; i < n; i++)
        d += !ok[i];
    return d;
}

TEST(off_globe)
{
    const char *p = "/tmp/r2h_test_raster_globe.tif";
    uint64_t pole = 0, rep = 0;
    /* Rows centred on 90.5, 90 and -90, -90.5: the outer ones are dropped, +-90 kept. */
    const double gt_lat[6] = {0.0, 1.0, 0.0, 90.75, 0.0, -0.5};
    struct r2h_raster *r = open_grid(p, 4, 363, gt_lat, 4326);
    if (r) {
        t_assert(dropped(r, 0, 4, &pole, &rep) == 4 && pole == 4, "lat 90.5 dropped");
        t_assert(dropped(r, 1, 4, &pole, &rep) == 0, "lat 90 kept");
        t_assert(dropped(r, 361, 4, &pole, &rep) == 0, "lat -90 kept");
        t_assert(dropped(r, 362, 4, &pole, &rep) == 4 && pole == 8 && rep == 0,
                 "lat -90.5 dropped");
        uint8_t ok[4] = {1, 0, 1, 0};
        r2h_raster_drop_off_globe(r, 0, 0, 4, ok, &pole, &rep);
        t_assert(pole == 10 && !ok[0] && !ok[2], "only valid pixels are counted");
        r2h_raster_close(r);
    }
    /* ETOPO20's rounded step: column 1080 is 359.99996 degrees from column 0 and repeats it. */
    const double gt_etopo[6] = {20.00000005, 0.3333333, 0.0, 10.0, 0.0, -0.3333333};
    if ((r = open_grid(p, 1081, 1, gt_etopo, 4326))) {
        pole = rep = 0;
        uint8_t ok[1081];
        memset(ok, 1, sizeof ok);
        r2h_raster_drop_off_globe(r, 0, 0, 1081, ok, &pole, &rep);
        t_assert(rep == 1 && pole == 0 && !ok[1080] && ok[1079] && ok[0], "last column repeats");
        r2h_raster_close(r);
    }
    /* East to west (negative step), 361 columns of 1 degree: the last repeats the first. */
    const double gt_west[6] = {180.5, -1.0, 0.0, 10.0, 0.0, -1.0};
    if ((r = open_grid(p, 361, 1, gt_west, 4326))) {
        pole = rep = 0;
        t_assert(dropped(r, 0, 361, &pole, &rep) == 1 && rep == 1, "negative step");
        r2h_raster_close(r);
    }
    /* Exactly 360 degrees wide, and a projected raster: nothing to drop. */
    const double gt_360[6] = {-180.0, 1.0, 0.0, 10.0, 0.0, -1.0};
    if ((r = open_grid(p, 360, 1, gt_360, 4326))) {
        t_assert(dropped(r, 0, 360, &pole, &rep) == 0, "360 wide: none");
        r2h_raster_close(r);
    }
    const double gt_utm[6] = {500000.0, 1e5, 0.0, 2e7, 0.0, -1e5};
    if ((r = open_grid(p, 8, 1, gt_utm, 32633))) {
        t_assert(dropped(r, 0, 8, &pole, &rep) == 0, "projected: not this rule");
        r2h_raster_close(r);
    }
    unlink(p);
}

TEST(errors)
{
    struct r2h_raster *r = NULL;
    char err[512] = "";
    t_assert(r2h_raster_open("/nonexistent/x.tif", 1, &r, err, sizeof err) == R2H_ERR_INPUT,
             "missing file");
    t_assert(strstr(err, "/nonexistent/x.tif") != NULL && !strchr(err, '\n'), "message names it");
    const char *p = "/tmp/r2h_test_raster_band.tif";
    const double gt[6] = {0, 1, 0, 0, 0, -1};
    uint8_t v[1] = {0};
    make_tif(p, GDT_Byte, 1, 1, gt, 4326, v, NULL, 0);
    t_assert(r2h_raster_open(p, 2, &r, err, sizeof err) == R2H_ERR_INPUT, "band out of range");
    t_assert(strstr(err, "band 2") != NULL, "message names the band");
    make_tif(p, GDT_Byte, 1, 1, gt, 0, v, NULL, 0);
    t_assert(r2h_raster_open(p, 1, &r, err, sizeof err) == R2H_ERR_CRS, "no CRS");
    t_assert(r == NULL, "no handle on error");
    unlink(p);
}

/* Set path's access and modification times to sec + nsec nanoseconds. */
static void set_mtime(const char *path, long long sec, long nsec)
{
    struct timespec ts[2] = {{.tv_sec = (time_t)sec, .tv_nsec = nsec},
                             {.tv_sec = (time_t)sec, .tv_nsec = nsec}};
    if (utimensat(AT_FDCWD, path, ts, 0) != 0)
        fprintf(stderr, "utimensat %s failed\n", path);
}

/* Identity of a source: canonical name, nanosecond mtime, the files a VRT lists. */
TEST(source_identity)
{
    const char *p = "/tmp/r2h_test_raster_id.tif", *alias = "/tmp/./r2h_test_raster_id.tif";
    const char *vrt = "/tmp/r2h_test_raster_id.vrt";
    const double gt[6] = {0, 1, 0, 0, 0, -1};
    uint8_t v[4] = {1, 2, 3, 4};
    make_tif(p, GDT_Byte, 2, 2, gt, 4326, v, NULL, 0);
    set_mtime(p, 1700000000, 123456789);
    GDALDatasetH src = GDALOpen(p, GA_ReadOnly);
    GDALClose(GDALCreateCopy(GDALGetDriverByName("VRT"), vrt, src, 0, NULL, NULL, NULL));
    GDALClose(src);
    struct r2h_raster *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    char err[512];
    t_assert(r2h_raster_open(p, 1, &a, err, sizeof err) == R2H_OK, "open");
    t_assert(r2h_raster_open(alias, 1, &b, err, sizeof err) == R2H_OK, "open by another name");
    t_assert(r2h_raster_open(vrt, 1, &c, err, sizeof err) == R2H_OK, "open the VRT");
    if (!a || !b || !c)
        goto out;
    const struct r2h_raster_info *ia = r2h_raster_get_info(a), *ib = r2h_raster_get_info(b);
    char *real = realpath(p, NULL);
    t_assert(real && strcmp(ia->source_path, real) == 0 && strcmp(ib->source_path, real) == 0,
             "canonical name");
    free(real);
    t_assert(ia->source_mtime == 1700000000 &&
                 ia->source_mtime_ns == 1700000000LL * 1000000000 + 123456789,
             "mtime in seconds and nanoseconds");
    t_assert(ia->source_files == ib->source_files && ia->source_files != 0, "file digest");
    const struct r2h_raster_info *ic = r2h_raster_get_info(c);
    const uint64_t before = ic->source_files, vrt_mtime = (uint64_t)ic->source_mtime_ns;
    set_mtime(p, 1700000000, 123456790); /* the file the VRT points to, 1 ns later */
    t_assert(r2h_raster_open(vrt, 1, &d, err, sizeof err) == R2H_OK, "reopen the VRT");
    if (d) {
        const struct r2h_raster_info *id = r2h_raster_get_info(d);
        t_assert((uint64_t)id->source_mtime_ns == vrt_mtime, "the VRT itself is unchanged");
        t_assert(id->source_files != before, "its source file changed: the digest changes");
    }
out:
    r2h_raster_close(a);
    r2h_raster_close(b);
    r2h_raster_close(c);
    r2h_raster_close(d);
    unlink(p);
    unlink(vrt);
}

/* A grid without a dataset locates centres as a raster on it would; the writer leaves nothing
 * at the target until commit, and nothing at all after abort. */
TEST(grid_and_writer)
{
    const char *p = "/tmp/r2h_test_raster_grid.tif";
    char err[512], tmp[128];
    unlink(p);
    const double gt[6] = {1000.0, 500.0, 0.0, 6000000.0, 0.0, -250.0};
    struct r2h_raster *g = NULL;
    t_assert(r2h_raster_open_grid(4, 3, gt, "EPSG:3857", &g, err, sizeof err) == R2H_OK, "grid");
    t_assert(r2h_raster_open_grid(4, 3, gt, "EPSG:nope", &g, err, sizeof err) == R2H_ERR_INVALID,
             "bad srs");
    t_assert(r2h_raster_open_grid(0, 3, gt, "EPSG:3857", &g, err, sizeof err) == R2H_ERR_INVALID,
             "bad size");
    if (!g)
        return;
    double lat[4], lng[4];
    uint8_t ok[4];
    t_assert(r2h_raster_locate_row(g, 1, 0, 4, lat, lng, ok) == R2H_OK && ok[0] && ok[3], "locate");
    t_assert(fabs(lng[0] - 1250.0 / 6378137.0 * 180.0 / M_PI) < 1e-9, "centre longitude");
    t_assert(lat[0] > 47 && lat[0] < 48, "centre latitude");
    struct r2h_raster_writer *w = NULL;
    const int16_t v[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const char *co[] = {"COMPRESS=LZW"};
    t_assert(r2h_raster_writer_open(p, g, R2H_DT_INT16, -1, co, 1, &w, err, sizeof err) == R2H_OK,
             "writer");
    if (!w) {
        r2h_raster_close(g);
        return;
    }
    t_assert(access(p, F_OK) != 0, "nothing at the target before commit");
    t_assert(r2h_raster_writer_write(w, 0, 3, v, err, sizeof err) == R2H_OK, "write");
    t_assert(r2h_raster_writer_commit(w, err, sizeof err) == R2H_OK, "commit");
    struct r2h_raster *r = NULL;
    t_assert(r2h_raster_open(p, 1, &r, err, sizeof err) == R2H_OK, "reopen");
    if (r) {
        const struct r2h_raster_info *in = r2h_raster_get_info(r);
        int16_t back[12];
        uint8_t valid[12];
        t_assert(in->width == 4 && in->height == 3 && in->dtype == R2H_DT_INT16 && in->has_nodata &&
                     in->nodata == -1 && memcmp(in->gt, gt, sizeof gt) == 0,
                 "grid copied");
        t_assert(r2h_raster_read(r, 0, 0, 4, 3, back, valid, err, sizeof err) == R2H_OK &&
                     memcmp(back, v, sizeof v) == 0,
                 "values");
        r2h_raster_close(r);
    }
    unlink(p);
    t_assert(r2h_raster_writer_open(p, g, R2H_DT_FLOAT32, NAN, NULL, 0, &w, err, sizeof err) ==
                 R2H_OK,
             "writer 2");
    snprintf(tmp, sizeof tmp, "/tmp/.r2h_test_raster_grid.tif.tmp-%ld", (long)getpid());
    t_assert(access(tmp, F_OK) == 0, "the temporary beside the target");
    r2h_raster_writer_abort(w);
    t_assert(access(tmp, F_OK) != 0 && access(p, F_OK) != 0, "abort leaves nothing");
    t_assert(r2h_raster_writer_open("/tmp/r2h_no_such_dir/x.tif", g, R2H_DT_UINT8, 0, NULL, 0, &w,
                                    err, sizeof err) == R2H_ERR_IO &&
                 strstr(err, "cannot create"),
             "missing directory");
    r2h_raster_close(g);
}

/* The date of value on axis (units, calendar), formatted to level, into buf. */
static const char *cf(const char *units, const char *calendar, double value,
                      enum r2h_cftime_level level, char *buf, size_t len)
{
    struct r2h_cftime t;
    struct r2h_cftime_date d;
    if (!r2h_cftime_parse(units, calendar, &t) || !r2h_cftime_decode(&t, value, &d))
        return "(not a time)";
    r2h_cftime_format(&d, level, buf, len);
    return buf;
}

TEST(cf_time)
{
    char b[64];
    const enum r2h_cftime_level S = R2H_TIME_SECOND;
    /* standard: Gregorian from 1582-10-15, Julian before (10 days skipped) */
    t_assert(!strcmp(cf("days since 1950-01-01 00:00:00", "standard", 17927, S, b, sizeof b),
                     "1999_01_31T000000"),
             b);
    t_assert(!strcmp(cf("days since 1582-10-04", NULL, 1, R2H_TIME_DAY, b, sizeof b), "1582_10_15"),
             b);
    t_assert(
        !strcmp(cf("days since 1582-10-04", "proleptic_gregorian", 1, R2H_TIME_DAY, b, sizeof b),
                "1582_10_05"),
        b);
    t_assert(
        !strcmp(cf("days since 1900-03-01", "julian", -1, R2H_TIME_DAY, b, sizeof b), "1900_02_29"),
        b);
    /* 360_day: 30-day months */
    t_assert(!strcmp(cf("days since 2000-01-01", "360_day", 30, R2H_TIME_DAY, b, sizeof b),
                     "2000_02_01"),
             b);
    t_assert(!strcmp(cf("days since 2000-01-01", "360_day", 359, R2H_TIME_DAY, b, sizeof b),
                     "2000_12_30"),
             b);
    t_assert(!strcmp(cf("days since 2000-01-01", "360_day", 360, R2H_TIME_DAY, b, sizeof b),
                     "2001_01_01"),
             b);
    t_assert(!strcmp(cf("days since 2000-02-30", "360_day", 45.5, R2H_TIME_HOUR, b, sizeof b),
                     "2000_04_15T12"),
             b);
    t_assert(!strcmp(cf("days since 2000-01-01", "360_day", -1, R2H_TIME_DAY, b, sizeof b),
                     "1999_12_30"),
             b);
    /* noleap / 365_day: no 29 February; all_leap / 366_day: always one */
    t_assert(
        !strcmp(cf("days since 2000-01-01", "noleap", 59, R2H_TIME_DAY, b, sizeof b), "2000_03_01"),
        b);
    t_assert(!strcmp(cf("days since 2000-01-01", "365_day", 365, R2H_TIME_DAY, b, sizeof b),
                     "2001_01_01"),
             b);
    t_assert(!strcmp(cf("days since 2001-01-01", "all_leap", 59, R2H_TIME_DAY, b, sizeof b),
                     "2001_02_29"),
             b);
    t_assert(!strcmp(cf("days since 2001-01-01", "noleap", -365, R2H_TIME_DAY, b, sizeof b),
                     "2000_01_01"),
             b);
    /* units, reference times, rounding to the second */
    t_assert(
        !strcmp(cf("Hour since 2001-12-31T23:00:00Z", "proleptic_gregorian", 1, S, b, sizeof b),
                "2002_01_01T000000"),
        b);
    t_assert(
        !strcmp(cf("seconds since 1970-01-01 00:00:00 +00:00", NULL, 1566482400, S, b, sizeof b),
                "2019_08_22T140000"),
        b);
    t_assert(
        !strcmp(cf("minutes since 2020-1-1 6:30", NULL, 29.99999999, R2H_TIME_MINUTE, b, sizeof b),
                "2020_01_01T0700"),
        b);
    /* ferret's climatology: year 0 (Julian, leap), mid-month hours */
    t_assert(!strcmp(cf("hour since 0000-01-01 00:00:00", NULL, 366, S, b, sizeof b),
                     "0000_01_16T060000"),
             b);
    t_assert(
        !strcmp(cf("hour since 0000-01-01 00:00:00", NULL, 8401.335, R2H_TIME_MONTH, b, sizeof b),
                "0000_12"),
        b);
    /* not time axes */
    struct r2h_cftime t;
    t_assert(!r2h_cftime_parse("hours", NULL, &t), "no since");
    t_assert(!r2h_cftime_parse("m", NULL, &t), "metres");
    t_assert(!r2h_cftime_parse("months since 2000-01-01", NULL, &t), "months");
    t_assert(!r2h_cftime_parse("days since 2000-01-01", "bogus", &t), "calendar");
    t_assert(!r2h_cftime_parse("days since 2000-13-01", NULL, &t), "month 13");
    t_assert(!r2h_cftime_parse(NULL, NULL, &t), "NULL");
    /* the precision that tells the steps apart */
    const double coads[12] = {366,     1096.485, 1826.97, 2557.455, 3287.94, 4018.425,
                              4748.91, 5479.395, 6209.88, 6940.365, 7670.85, 8401.335};
    r2h_cftime_parse("hour since 0000-01-01 00:00:00", NULL, &t);
    t_assert(r2h_cftime_level_of(&t, coads, 12) == R2H_TIME_MONTH, "monthly");
    r2h_cftime_parse("days since 2000-01-01", "360_day", &t);
    const double yearly[3] = {720, 0, 360}, daily[3] = {2, 0, 1}, sub[3] = {0, 0.25, 0.5},
                 minutes[2] = {0, 1.0 / 1440}, same[2] = {5, 5};
    t_assert(r2h_cftime_level_of(&t, yearly, 3) == R2H_TIME_YEAR, "yearly");
    t_assert(r2h_cftime_level_of(&t, daily, 3) == R2H_TIME_DAY, "daily");
    t_assert(r2h_cftime_level_of(&t, sub, 3) == R2H_TIME_HOUR, "6-hourly");
    t_assert(r2h_cftime_level_of(&t, minutes, 2) == R2H_TIME_MINUTE, "minutes");
    t_assert(r2h_cftime_level_of(&t, same, 2) == R2H_TIME_YEAR, "equal values");
    t_assert(r2h_cftime_level_of(&t, same, 1) == R2H_TIME_YEAR, "one value");
    struct r2h_cftime_date d = {.year = -44, .month = 3, .day = 15};
    r2h_cftime_format(&d, R2H_TIME_DAY, b, sizeof b);
    t_assert(!strcmp(b, "m0044_03_15"), b);
}

int main(void)
{
    RUN(nodata_and_validity);
    RUN(float_nan_and_mask);
    RUN(windows_for_box);
    RUN(off_globe);
    RUN(errors);
    RUN(source_identity);
    RUN(grid_and_writer);
    RUN(cf_time);
    TEST_MAIN_END();
}
