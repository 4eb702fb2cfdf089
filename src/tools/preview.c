/* preview.c - `raster2h3 preview`: an equirectangular PNG map of a dataset's cells. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_parquet.h"
#include "r2h_pq_reader.h"

#define LEGEND_H 28

void r2h_preview_options_init(struct r2h_preview_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->width = 1024;
}

/* viridis at 0, 1/8, ..., 1 (matplotlib's colormap, sampled). */
static const uint8_t VIRIDIS[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                      {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                      {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};

static void ramp(double t, uint8_t rgb[3])
{
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double x = t * 8;
    int i = (int)x;
    if (i >= 8)
        i = 7;
    double f = x - i;
    for (int k = 0; k < 3; k++)
        rgb[k] = (uint8_t)lround(VIRIDIS[i][k] + f * (VIRIDIS[i + 1][k] - VIRIDIS[i][k]));
}

/* 3x5 bitmap font for numbers: rows top to bottom, 3 bits each (MSB left). */
static const char FONT_CHARS[] = "0123456789.-+e";
static const uint8_t FONT[14][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    {0, 0, 0, 0, 2}, {0, 0, 7, 0, 0}, {0, 2, 7, 2, 0}, {0, 7, 5, 6, 7}};

struct image {
    int w, h;
    uint8_t *px; /* RGBA */
};

static void put(struct image *im, int x, int y, const uint8_t rgb[3])
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h)
        return;
    uint8_t *p = im->px + ((size_t)y * im->w + x) * 4;
    p[0] = rgb[0];
    p[1] = rgb[1];
    p[2] = rgb[2];
    p[3] = 255;
}

/* Text at (x, y) top-left, each font pixel scale x scale. Returns the width drawn. */
static int text(struct image *im, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    int x0 = x;
    for (; *s; s++) {
        const char *f = strchr(FONT_CHARS, *s);
        if (f && *s) {
            const uint8_t *g = FONT[f - FONT_CHARS];
            for (int r = 0; r < 5; r++)
                for (int c = 0; c < 3; c++)
                    if (g[r] & (4 >> c))
                        for (int dy = 0; dy < scale; dy++)
                            for (int dx = 0; dx < scale; dx++)
                                put(im, x + c * scale + dx, y + r * scale + dy, rgb);
        }
        x += 4 * scale;
    }
    return x - x0;
}

/* Fill a polygon (pixel coordinates) by scanlines through pixel centres; a polygon smaller
 * than a pixel gets the pixel of its centre. */
static void fill_poly(struct image *im, int maph, const double *x, const double *y, int n,
                      double cx, double cy, const uint8_t rgb[3])
{
    double ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n; i++) {
        ymin = fmin(ymin, y[i]);
        ymax = fmax(ymax, y[i]);
    }
    int filled = 0;
    int r0 = (int)ceil(ymin - 0.5), r1 = (int)floor(ymax - 0.5);
    if (r0 < 0)
        r0 = 0;
    if (r1 >= maph)
        r1 = maph - 1;
    for (int r = r0; r <= r1; r++) {
        double yc = r + 0.5, xs[24];
        int k = 0;
        for (int i = 0; i < n && k < 24; i++) {
            int j = (i + 1) % n;
            if ((y[i] <= yc) != (y[j] <= yc))
                xs[k++] = x[i] + (yc - y[i]) * (x[j] - x[i]) / (y[j] - y[i]);
        }
        for (int a = 1; a < k; a++) /* insertion sort */
            for (int b = a; b > 0 && xs[b - 1] > xs[b]; b--) {
                double t = xs[b];
                xs[b] = xs[b - 1];
                xs[b - 1] = t;
            }
        for (int a = 0; a + 1 < k; a += 2) {
            int c0 = (int)ceil(xs[a] - 0.5), c1 = (int)floor(xs[a + 1] - 0.5);
            for (int c = c0; c <= c1; c++) {
                put(im, c, r, rgb);
                filled = 1;
            }
        }
    }
    if (!filled && cy >= 0 && cy < maph)
        put(im, (int)floor(cx), (int)floor(cy), rgb);
}

struct cellval {
    uint64_t cell;
    double v;
};

/* All (cell, value) pairs of the dataset; the column picked as documented. */
static enum r2h_status load(const char *output, const char *want, struct cellval **out,
                            size_t *nout, char *colname, size_t collen, char *err, size_t errlen)
{
    char root[4096];
    struct r2h_dataset_listing ls;
    enum r2h_status lst = r2h_dataset_list_output(output, root, sizeof root, &ls, err, errlen);
    if (lst != R2H_OK) {
        r2h_dataset_listing_free(&ls);
        return lst;
    }
    struct cellval *cv = NULL;
    size_t n = 0, cap = 0;
    enum r2h_status st = R2H_OK;
    for (size_t j = 0; j < ls.n && st == R2H_OK; j++) {
        const struct r2h_dataset_entry *e = &ls.entries[j];
        if (e->kind != R2H_DATASET_PARTITION && e->kind != R2H_DATASET_BAD_KEY)
            continue; /* what the readers take for partitions: every h0= directory */
        char path[4400];
        r2h_fmt(path, sizeof path, "%s/%s/" R2H_DATASET_PART_FILE, root, e->name);
        struct r2h_pq_reader *r = r2h_partition_open(path, err, errlen);
        if (!r) {
            st = R2H_ERR_INPUT;
            break;
        }
        struct r2h_part_meta pm;
        r2h_part_meta_read(r, &pm);
        const char *res = pm.resolution;
        char cname[16];
        r2h_cell_column_name(res ? atoi(res) : -1, cname, sizeof cname);
        int ccol = r2h_pq_reader_find_column(r, cname), vcol = -1;
        if (want) {
            vcol = r2h_pq_reader_find_column(r, want);
        } else {
            vcol = r2h_partition_default_column(r, &pm);
        }
        enum r2h_pq_type ct = R2H_PQ_STRING, vt = R2H_PQ_STRING;
        if (ccol >= 0)
            r2h_pq_reader_column(r, (size_t)ccol, NULL, &ct, NULL);
        const char *vn = NULL;
        if (vcol >= 0)
            r2h_pq_reader_column(r, (size_t)vcol, &vn, &vt, NULL);
        /* cells as uint64 or int64 (--cell-type int64: the same bits, bit 63 clear) */
        if (ccol < 0 || (ct != R2H_PQ_UINT64 && ct != R2H_PQ_INT64) || vcol < 0 ||
            vt == R2H_PQ_STRING) {
            r2h_fmt(err, errlen,
                    "%s: no 64-bit integer cell column %s or no numeric value column%s%s", path,
                    cname, want ? " " : "", want ? want : "");
            r2h_pq_reader_close(r);
            st = R2H_ERR_INVALID;
            break;
        }
        r2h_fmt(colname, collen, "%s", vn);
        for (size_t rg = 0; rg < r2h_pq_reader_num_row_groups(r) && st == R2H_OK; rg++) {
            size_t m = (size_t)r2h_pq_reader_row_group_rows(r, rg);
            uint64_t *cells = r2h_malloc(m * 8 + 8);
            union {
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
            } *vals = r2h_malloc(m * 8 + 8);
            uint8_t *valid = r2h_malloc(m + 1);
            if (n + m > cap) {
                size_t nc = (n + m) * 2;
                struct cellval *p = r2h_realloc(cv, nc * sizeof *cv);
                if (p) {
                    cv = p;
                    cap = nc;
                }
            }
            if (!cells || !vals || !valid || n + m > cap) {
                st = R2H_ERR_NOMEM;
                r2h_fmt(err, errlen, "out of memory");
            } else if (r2h_pq_reader_read_column(r, rg, (size_t)ccol, cells, NULL) != R2H_OK ||
                       r2h_pq_reader_read_column(r, rg, (size_t)vcol, vals, valid) != R2H_OK) {
                st = R2H_ERR_INPUT;
                r2h_fmt(err, errlen, "%s", r2h_pq_reader_errmsg(r));
            } else {
                const size_t sz = vt == R2H_PQ_INT8 || vt == R2H_PQ_UINT8     ? 1
                                  : vt == R2H_PQ_INT16 || vt == R2H_PQ_UINT16 ? 2
                                  : vt == R2H_PQ_INT32 || vt == R2H_PQ_UINT32 || vt == R2H_PQ_FLOAT
                                      ? 4
                                      : 8;
                for (size_t i = 0; i < m; i++) {
                    const void *p = (const char *)vals + i * sz;
                    double d = 0;
                    switch (vt) {
                    case R2H_PQ_INT8: d = *(const int8_t *)p; break;
                    case R2H_PQ_UINT8: d = *(const uint8_t *)p; break;
                    case R2H_PQ_INT16: d = *(const int16_t *)p; break;
                    case R2H_PQ_UINT16: d = *(const uint16_t *)p; break;
                    case R2H_PQ_INT32: d = *(const int32_t *)p; break;
                    case R2H_PQ_UINT32: d = *(const uint32_t *)p; break;
                    case R2H_PQ_INT64: d = (double)*(const int64_t *)p; break;
                    case R2H_PQ_UINT64: d = (double)*(const uint64_t *)p; break;
                    case R2H_PQ_FLOAT: d = *(const float *)p; break;
                    case R2H_PQ_DOUBLE: d = *(const double *)p; break;
                    case R2H_PQ_STRING: break;
                    }
                    if (!valid[i] || !isfinite(d))
                        continue;
                    cv[n].cell = cells[i];
                    cv[n].v = d;
                    n++;
                }
            }
            r2h_free(cells);
            r2h_free(vals);
            r2h_free(valid);
        }
        r2h_pq_reader_close(r);
    }
    r2h_dataset_listing_free(&ls);
    if (st == R2H_OK && n == 0) {
        r2h_fmt(err, errlen, "%s: no data to draw", output);
        st = R2H_ERR_INPUT;
    }
    if (st != R2H_OK) {
        r2h_free(cv);
        return st;
    }
    *out = cv;
    *nout = n;
    return R2H_OK;
}

static enum r2h_status write_png(const char *path, const struct image *im, char *err, size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        r2h_fmt(err, errlen, "%s: cannot create", path);
        return R2H_ERR_IO;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(path);
        r2h_fmt(err, errlen, "%s: PNG encoding failed", path);
        return R2H_ERR_IO;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8, PNG_COLOR_TYPE_RGBA,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 9);
    png_write_info(png, info);
    for (int y = 0; y < im->h; y++)
        png_write_row(png, im->px + (size_t)y * im->w * 4);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        r2h_fmt(err, errlen, "%s: write failed", path);
        return R2H_ERR_IO;
    }
    return R2H_OK;
}

enum r2h_status r2h_preview(const struct r2h_preview_options *opt, char *errbuf, size_t errbuf_len)
{
    struct r2h_preview_options sized;
    r2h_preview_options_init(&sized);
    enum r2h_status st0 =
        r2h_options_copy(&sized, sizeof sized, opt, opt ? opt->struct_size : 0,
                         offsetof(struct r2h_preview_options, column) + sizeof(char *),
                         "r2h_preview_options_init", errbuf, errbuf_len);
    if (st0 != R2H_OK)
        return st0;
    sized.struct_size = sizeof sized;
    const struct r2h_preview_options *o = &sized;
    if (!o || !o->output || !o->png || o->width < 64 || o->width > 16384) {
        r2h_fmt(errbuf, errbuf_len, "preview needs OUTPUT, a PNG path and a width 64..16384");
        return R2H_ERR_INVALID;
    }
    struct cellval *cv = NULL;
    size_t n = 0;
    char colname[256] = "";
    enum r2h_status st =
        load(o->output, o->column, &cv, &n, colname, sizeof colname, errbuf, errbuf_len);
    if (st != R2H_OK)
        return st;
    double vmin = INFINITY, vmax = -INFINITY;
    double lat0 = 90, lat1 = -90, lng0 = 180, lng1 = -180, elng0 = 360, elng1 = 0;
    double blat[10], blng[10], clat, clng;
    for (size_t i = 0; i < n; i++) {
        vmin = fmin(vmin, cv[i].v);
        vmax = fmax(vmax, cv[i].v);
        if (o->extent_data && r2h_index_cell_boundary(cv[i].cell, blat, blng, &clat, &clng)) {
            const double e = clng < 0 ? clng + 360 : clng; /* the 0..360 frame */
            lat0 = fmin(lat0, clat);
            lat1 = fmax(lat1, clat);
            lng0 = fmin(lng0, clng);
            lng1 = fmax(lng1, clng);
            elng0 = fmin(elng0, e);
            elng1 = fmax(elng1, e);
        }
    }
    /* Data across the antimeridian is narrower in the 0..360 frame: draw it there (longitudes
     * of the map then run past 180; cells west of 0 are shifted by a turn). */
    int east = o->extent_data && elng1 - elng0 < lng1 - lng0;
    if (east)
        lng0 = elng0, lng1 = elng1;
    if (!o->extent_data || lat1 <= lat0 || lng1 <= lng0) {
        lat0 = -90, lat1 = 90, lng0 = -180, lng1 = 180;
        east = 0;
    } else { /* a margin of 5% */
        double ml = (lat1 - lat0) * 0.05 + 1e-3, mg = (lng1 - lng0) * 0.05 + 1e-3;
        lat0 -= ml, lat1 += ml, lng0 -= mg, lng1 += mg;
    }
    const int w = o->width;
    int mh = (int)lround(w * (lat1 - lat0) / (lng1 - lng0));
    mh = mh < 16 ? 16 : mh > 16384 ? 16384 : mh;
    struct image im = {.w = w, .h = mh + LEGEND_H};
    im.px = r2h_calloc((size_t)im.w * im.h, 4);
    if (!im.px) {
        r2h_free(cv);
        r2h_fmt(errbuf, errbuf_len, "out of memory");
        return R2H_ERR_NOMEM;
    }
    const double sx = w / (lng1 - lng0), sy = mh / (lat1 - lat0);
    for (size_t i = 0; i < n; i++) {
        int nv = r2h_index_cell_boundary(cv[i].cell, blat, blng, &clat, &clng);
        if (!nv)
            continue;
        uint8_t rgb[3];
        ramp(vmax > vmin ? (cv[i].v - vmin) / (vmax - vmin) : 0.5, rgb);
        if (east && clng < 0) { /* into the 0..360 frame, boundary with it */
            clng += 360;
            for (int k = 0; k < nv; k++)
                blng[k] += 360;
        }
        double x[10], y[10];
        int wrap = 0;
        for (int k = 0; k < nv; k++)
            wrap |= fabs(blng[k] - clng) > 180;
        for (int shift = -1; shift <= 1; shift++) { /* copies across the antimeridian */
            if (shift && !wrap)
                continue;
            for (int k = 0; k < nv; k++) {
                double g = blng[k];
                if (wrap && g - clng > 180)
                    g -= 360;
                else if (wrap && clng - g > 180)
                    g += 360;
                x[k] = (g + 360.0 * shift - lng0) * sx;
                y[k] = (lat1 - blat[k]) * sy;
            }
            fill_poly(&im, mh, x, y, nv, (clng + 360.0 * shift - lng0) * sx, (lat1 - clat) * sy,
                      rgb);
        }
    }
    /* Legend: dark band, min label, gradient, max label. */
    static const uint8_t dark[3] = {32, 32, 32}, white[3] = {255, 255, 255};
    for (int y = mh; y < im.h; y++)
        for (int x = 0; x < w; x++)
            put(&im, x, y, dark);
    char lo[32], hi[32];
    r2h_fmt(lo, sizeof lo, "%.4g", vmin);
    r2h_fmt(hi, sizeof hi, "%.4g", vmax);
    const int scale = 2, ty = mh + (LEGEND_H - 5 * scale) / 2;
    int lw = text(&im, 6, ty, lo, scale, white);
    int hw = (int)strlen(hi) * 4 * scale;
    int g0 = 6 + lw + 8, g1 = w - hw - 14;
    text(&im, g1 + 8, ty, hi, scale, white);
    for (int x = g0; x < g1; x++) {
        uint8_t rgb[3];
        ramp((double)(x - g0) / (g1 - g0 > 1 ? g1 - g0 - 1 : 1), rgb);
        for (int y = mh + 6; y < im.h - 6; y++)
            put(&im, x, y, rgb);
    }
    st = write_png(o->png, &im, errbuf, errbuf_len);
    r2h_free(im.px);
    r2h_free(cv);
    return st;
}
