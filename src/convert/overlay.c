/* overlay.c - --method overlay in a convert run (docs/design/0010-overlay.md): the options'
 * checks, the output columns, and the statistics of each cell from the (pixel, fraction) pairs
 * the scan per cell (src/scan/cells_overlay.c) gives it, as one value record per cell for
 * sample.c's ordered writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert_internal.h"
#include "r2h_scan.h"

enum kind { K_COUNT, K_COVERAGE, K_AREA, K_SUM, K_MEAN, K_MIN, K_MAX, K_MODE, K_TOTAL, K_FRAC };

struct r2h_overlay {
    unsigned stats;
    double unit_m2; /* m2 of the density unit; 0 without one */
    int nclasses;
    double classes[R2H_RASTER_MAX_BANDS];
    enum r2h_dtype dt; /* the value in a pixel record */
    size_t off;
    double *row_area; /* geographic, unrotated: m2 of a pixel of each raster row */
    int height;
    int need_area; /* pixels' ellipsoidal areas (area, total) */
    struct run *run;
    struct r2h_bands out; /* the output's value columns: names, types, offsets in a record */
    enum kind kind[R2H_RASTER_MAX_BANDS];
    int arg[R2H_RASTER_MAX_BANDS];
    char spec[1024];
};

const struct r2h_bands *r2h_overlay_layout(const struct r2h_overlay *ov)
{
    return &ov->out;
}

const char *r2h_overlay_spec(const struct r2h_overlay *ov)
{
    return ov->spec;
}

static int add(struct r2h_overlay *ov, enum kind k, int arg, enum r2h_dtype dt, const char *name)
{
    struct r2h_bands *o = &ov->out;
    if (o->n == R2H_RASTER_MAX_BANDS)
        return 0;
    const int i = o->n++;
    ov->kind[i] = k;
    ov->arg[i] = arg;
    o->dt[i] = dt;
    o->off[i] = o->pixel_size;
    o->pixel_size += r2h_dtype_size(dt);
    r2h_fmt(o->name[i], sizeof o->name[i], "%s", name);
    return 1;
}

enum r2h_status r2h_overlay_create(struct run *run, struct r2h_overlay **out)
{
    const struct r2h_convert_options *o = run->opt;
    const struct r2h_raster_info *in = run->info;
    const struct r2h_bands *b = run->bands;
    *out = NULL;
    if (o->aggregate) {
        r2h_fmt(run->err, run->errlen,
                "--method overlay gives one row per cell already: drop --aggregate");
        return R2H_ERR_INVALID;
    }
    if (b->n != 1) {
        r2h_fmt(run->err, run->errlen, "--method overlay takes one band (--bands gives %d)", b->n);
        return R2H_ERR_INVALID;
    }
    if (o->parents >> o->resolution) {
        r2h_fmt(run->err, run->errlen, "--parents must be resolutions below --resolution %d",
                o->resolution);
        return R2H_ERR_INVALID;
    }
    if (!(o->min_coverage >= 0 && o->min_coverage <= 1)) {
        r2h_fmt(run->err, run->errlen, "--min-coverage must be between 0 and 1");
        return R2H_ERR_INVALID;
    }
    unsigned s = o->stats;
    if (!s)
        s = o->density_unit ? R2H_STAT_TOTAL | R2H_STAT_MEAN | R2H_STAT_COVERAGE
                            : R2H_STAT_MEAN | R2H_STAT_COVERAGE;
    if ((s & R2H_STAT_TOTAL) && !o->density_unit) {
        r2h_fmt(run->err, run->errlen, "--stat total needs --density-unit per-m2|per-ha|per-km2");
        return R2H_ERR_INVALID;
    }
    if ((s & R2H_STAT_FRACTIONS) && (o->nclasses <= 0 || !o->classes)) {
        r2h_fmt(run->err, run->errlen, "--stat fractions needs --classes V1,V2,...");
        return R2H_ERR_INVALID;
    }
    if (o->min_coverage > 0 && (s & (R2H_STAT_SUM | R2H_STAT_TOTAL | R2H_STAT_AREA))) {
        r2h_fmt(run->err, run->errlen,
                "--min-coverage would drop cells and lose mass from sum, total and area: use "
                "it with mean, min, max, mode, fractions, count or coverage");
        return R2H_ERR_INVALID;
    }
    struct r2h_overlay *ov = r2h_calloc(1, sizeof *ov);
    if (!ov) {
        r2h_fmt(run->err, run->errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    ov->run = run;
    ov->stats = s;
    static const double unit_m2[] = {0, 1, 1e4, 1e6};
    ov->unit_m2 = unit_m2[o->density_unit];
    ov->dt = b->dt[0];
    ov->off = b->off[0];
    ov->height = in->height;
    ov->need_area = (s & (R2H_STAT_TOTAL | R2H_STAT_AREA)) != 0;
    const char *vn = b->name[0];
    char name[300];
    int ok = 1;
    if (s & R2H_STAT_COUNT)
        ok = ok && add(ov, K_COUNT, 0, R2H_DT_INT64, "count");
    if (s & R2H_STAT_COVERAGE)
        ok = ok && add(ov, K_COVERAGE, 0, R2H_DT_FLOAT64, "coverage");
    if (s & R2H_STAT_AREA)
        ok = ok && add(ov, K_AREA, 0, R2H_DT_FLOAT64, "area");
    static const struct {
        unsigned bit;
        enum kind k;
        const char *suffix;
        int typed;
    } per_value[] = {{R2H_STAT_SUM, K_SUM, "sum", 0},    {R2H_STAT_MEAN, K_MEAN, "mean", 0},
                     {R2H_STAT_MIN, K_MIN, "min", 1},    {R2H_STAT_MAX, K_MAX, "max", 1},
                     {R2H_STAT_MODE, K_MODE, "mode", 1}, {R2H_STAT_TOTAL, K_TOTAL, "total", 0}};
    for (size_t i = 0; i < sizeof per_value / sizeof per_value[0]; i++)
        if (s & per_value[i].bit) {
            r2h_fmt(name, sizeof name, "%s_%s", vn, per_value[i].suffix);
            ok = ok &&
                 add(ov, per_value[i].k, 0, per_value[i].typed ? ov->dt : R2H_DT_FLOAT64, name);
        }
    if (s & R2H_STAT_FRACTIONS) {
        ov->nclasses = o->nclasses;
        for (int c = 0; c < o->nclasses && ok; c++) {
            ov->classes[c] = o->classes[c];
            r2h_fmt(name, sizeof name, "frac_%.17g", o->classes[c]);
            ok = add(ov, K_FRAC, c, R2H_DT_FLOAT64, name);
        }
        ok = ok && add(ov, K_FRAC, -1, R2H_DT_FLOAT64, "frac_nodata");
    }
    if (!ok) {
        r2h_overlay_destroy(ov);
        r2h_fmt(run->err, run->errlen, "too many output columns (at most %d)",
                R2H_RASTER_MAX_BANDS);
        return R2H_ERR_INVALID;
    }
    for (int i = 0; i < ov->out.n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(ov->out.name[i], ov->out.name[j]) == 0) {
                r2h_fmt(run->err, run->errlen, "two output columns would be named '%s'",
                        ov->out.name[i]);
                r2h_overlay_destroy(ov);
                return R2H_ERR_INVALID;
            }
    /* Pixel areas per row: geographic, north-up rasters (also the mean's weights). */
    if (r2h_row_areas_m2(in, &ov->row_area) != R2H_OK) {
        r2h_overlay_destroy(ov);
        r2h_fmt(run->err, run->errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    /* The canonical text (fingerprint, footer). */
    static const char *const units[] = {"none", "per-m2", "per-ha", "per-km2"};
    size_t n = (size_t)snprintf(
        ov->spec, sizeof ov->spec,
        "overlay;min_coverage=%.17g;density=%s;cells=%s;parents=%u;columns=", o->min_coverage,
        units[o->density_unit], r2h_cell_type_name(o->cell_type), o->parents);
    for (int i = 0; i < ov->out.n && n < sizeof ov->spec; i++)
        n += (size_t)snprintf(ov->spec + n, sizeof ov->spec - n, "%s%s", i ? "," : "",
                              ov->out.name[i]);
    *out = ov;
    return R2H_OK;
}

void r2h_overlay_destroy(struct r2h_overlay *ov)
{
    if (!ov)
        return;
    r2h_free(ov->row_area);
    r2h_free(ov);
}

/* Areas of pixels already computed (projected rasters: four corners through PROJ each): a
 * direct-mapped table by pixel; a cell's pixels are mostly its neighbours' too. */
enum { AREA_SLOTS = 1 << 16 };
struct r2h_overlay_areas {
    uint64_t key[AREA_SLOTS]; /* pixel index + 1; 0: empty */
    double m2[AREA_SLOTS];
};

/* The ellipsoidal area in m2 of pixel (row, col). */
static double pixel_m2(const struct r2h_overlay *ov, struct r2h_raster *raster,
                       struct r2h_overlay_areas *memo, int row, int col)
{
    if (ov->row_area)
        return row >= 0 && row < ov->height ? ov->row_area[row] : 0;
    const uint64_t key = (uint64_t)row * (uint64_t)ov->run->info->width + (uint64_t)col + 1;
    const size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 48);
    if (memo && memo->key[slot] == key)
        return memo->m2[slot];
    double lat[4], lng[4], m2 = 0;
    if (r2h_raster_pixel_corners(raster, row, col, lat, lng) == R2H_OK)
        m2 = r2h_quad_area_m2(lat, lng);
    if (memo) {
        memo->key[slot] = key;
        memo->m2[slot] = m2;
    }
    return m2;
}

struct vw {
    double v, w;
};

static int by_value(const void *a, const void *b)
{
    const double x = ((const struct vw *)a)->v, y = ((const struct vw *)b)->v;
    return (x > y) - (x < y);
}

/* The values of n pixel records as doubles. */
static void decode(enum r2h_dtype t, const unsigned char *p, size_t ps, size_t n, double *out)
{
#define DECODE(T)                                                                                  \
    for (size_t k = 0; k < n; k++) {                                                               \
        T x;                                                                                       \
        memcpy(&x, p + k * ps, sizeof x);                                                          \
        out[k] = (double)x;                                                                        \
    }
    switch (t) {
    case R2H_DT_UINT8: DECODE(uint8_t) break;
    case R2H_DT_INT8: DECODE(int8_t) break;
    case R2H_DT_UINT16: DECODE(uint16_t) break;
    case R2H_DT_INT16: DECODE(int16_t) break;
    case R2H_DT_UINT32: DECODE(uint32_t) break;
    case R2H_DT_INT32: DECODE(int32_t) break;
    case R2H_DT_UINT64: DECODE(uint64_t) break;
    case R2H_DT_INT64: DECODE(int64_t) break;
    case R2H_DT_FLOAT32: DECODE(float) break;
    case R2H_DT_FLOAT64: DECODE(double) break;
    }
#undef DECODE
}

static int grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    void *q = r2h_realloc(*p, need * 2);
    if (!q)
        return 0;
    *p = q;
    *cap = need * 2;
    return 1;
}

/* The value with the most weight among t[0..m) (sorted here), ties to the smallest. */
static double mode_of(struct vw *t, size_t m)
{
    qsort(t, m, sizeof *t, by_value);
    double best = -1, bestv = 0;
    for (size_t j = 0; j < m;) {
        double w = 0;
        size_t e = j;
        for (; e < m && t[e].v == t[j].v; e++)
            w += t[e].w;
        if (w > best) {
            best = w;
            bestv = t[j].v;
        }
        j = e;
    }
    return bestv;
}

enum r2h_status r2h_overlay_fold(const struct r2h_overlay *ov, struct r2h_raster *raster,
                                 const struct r2h_cells_batch *b, unsigned char *out,
                                 void **scratch, size_t *scratch_n, struct r2h_overlay_areas **memo)
{
    if (ov->need_area && !ov->row_area && !*memo && !(*memo = r2h_calloc(1, sizeof **memo)))
        return R2H_ERR_NOMEM;
    const struct r2h_bands *o = &ov->out;
    const size_t ps = b->pixel_size, vsz = r2h_dtype_size(ov->dt), rs = o->pixel_size;
    const size_t npairs = b->n ? b->pstart[b->n] : 0;
    /* scratch: the pairs' values, their weights, then the mode's (value, weight) of a cell */
    if (!grow(scratch, scratch_n, npairs * (2 * sizeof(double) + sizeof(struct vw))))
        return R2H_ERR_NOMEM;
    double *val = *scratch, *wt = val + npairs;
    struct vw *t = (struct vw *)(wt + npairs);
    decode(ov->dt, b->pvals + ov->off, ps, npairs, val);
    for (size_t k = 0; k < npairs; k++)
        wt[k] = ov->row_area ? b->pfrac[k] * ov->row_area[b->prow[k]] : b->pfrac[k];
    double cls[R2H_RASTER_MAX_BANDS];
    for (size_t i = 0; i < b->n; i++) {
        const uint32_t k0 = b->pstart[i], k1 = b->pstart[i + 1];
        double sum = 0, vw = 0, wsum = 0, tot = 0, area = 0;
        size_t imin = k0, imax = k0;
        for (uint32_t k = k0; k < k1; k++) {
            const double f = b->pfrac[k], v = val[k];
            sum += v * f;
            vw += v * wt[k];
            wsum += wt[k];
            imin = v < val[imin] ? k : imin;
            imax = v > val[imax] ? k : imax;
        }
        if (ov->need_area)
            for (uint32_t k = k0; k < k1; k++) {
                const double a = b->pfrac[k] * pixel_m2(ov, raster, *memo, b->prow[k], b->pcol[k]);
                area += a;
                tot += val[k] * a;
            }
        for (int c = 0; c < ov->nclasses; c++) {
            cls[c] = 0;
            for (uint32_t k = k0; k < k1; k++)
                cls[c] += val[k] == ov->classes[c] ? b->pfrac[k] : 0;
        }
        size_t imode = k0;
        if (ov->stats & R2H_STAT_MODE) {
            for (uint32_t k = k0; k < k1; k++)
                t[k - k0] = (struct vw){val[k], wt[k]};
            const double m = mode_of(t, k1 - k0);
            while (imode < k1 && val[imode] != m)
                imode++;
        }
        unsigned char *rec = out + i * rs;
        for (int c = 0; c < o->n; c++) {
            unsigned char *p = rec + o->off[c];
            double d = 0;
            int64_t cnt;
            switch (ov->kind[c]) {
            case K_COUNT:
                cnt = (int64_t)(k1 - k0);
                memcpy(p, &cnt, 8);
                continue;
            case K_MIN: memcpy(p, b->pvals + imin * ps + ov->off, vsz); continue;
            case K_MAX: memcpy(p, b->pvals + imax * ps + ov->off, vsz); continue;
            case K_MODE: memcpy(p, b->pvals + imode * ps + ov->off, vsz); continue;
            case K_COVERAGE: d = b->cover[i]; break;
            case K_AREA: d = area; break;
            case K_SUM: d = sum; break;
            case K_MEAN: d = vw / wsum; break;
            case K_TOTAL: d = tot / ov->unit_m2; break;
            case K_FRAC:
                d = ov->arg[c] < 0   ? 1 - b->cover[i]
                    : b->area[i] > 0 ? cls[ov->arg[c]] / b->area[i]
                                     : 0;
                break;
            }
            memcpy(p, &d, 8);
        }
    }
    return R2H_OK;
}
