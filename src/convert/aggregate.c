/* aggregate.c - per-cell statistics from the merged (cell, key) stream, pixel areas, parents and
 * string cells (docs/design/0005-aggregation.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_parquet.h"

#define MAX_CLASSES 64
#define MAX_COLS (16 + MAX_CLASSES)

/* Output column kinds. */
enum col_kind {
    C_CELL,
    C_PARENT,
    C_VALUE,
    C_COUNT,
    C_AREA,
    C_SUM,
    C_MEAN,
    C_MIN,
    C_MAX,
    C_MODE,
    C_TOTAL,
    C_FRAC
};

struct r2h_agg {
    const struct r2h_bands *bands; /* borrowed from the run */
    enum r2h_dtype dt;             /* of the (first) band */
    int grouped;                   /* --aggregate */
    unsigned stats;
    enum r2h_agg_rows rows; /* what the rows carry (r2h_agg_rows) */
    int row_bits;           /* R2H_AGG_ROWS_ROW: key = value key << row_bits | raster row */
    int width, height;
    double *row_area; /* m2 of a pixel of each raster row (geographic, unrotated) */
    double unit_m2;   /* m2 per density-unit denominator; 0: no density unit */
    double classes[MAX_CLASSES];
    int nclasses;
    int res;
    enum r2h_cell_type cell_type;
    unsigned parents;
    struct r2h_pq_column_spec cols[MAX_COLS];
    enum col_kind kind[MAX_COLS];
    int arg[MAX_COLS]; /* parent resolution or class index */
    char names[MAX_COLS][96];
    size_t ncols;
    char spec[1024];
};

/* ---- WGS84 ellipsoidal areas ------------------------------------------------------------ */

#define WGS84_A 6378137.0
#define WGS84_F (1 / 298.257223563)

/* q(phi) of the authalic latitude (Snyder 3-12): the area between the equator and latitude phi
 * over dlambda radians of longitude is a^2 * dlambda * q(phi) / 2. */
static double auth_q(double lat_deg)
{
    const double e2 = WGS84_F * (2 - WGS84_F), e = sqrt(e2);
    const double s = sin(lat_deg * (M_PI / 180));
    return (1 - e2) * (s / (1 - e2 * s * s) + atanh(e * s) / e);
}

void r2h_quad_centre(const double lat[4], const double lng[4], double *clat, double *clng)
{
    double a = 0, o = 0;
    for (int i = 0; i < 4; i++) { /* longitudes unwrapped relative to corner 0 */
        double d = lng[i] - lng[0];
        d -= 360.0 * floor((d + 180.0) / 360.0);
        a += lat[i] / 4;
        o += (lng[0] + d) / 4;
    }
    *clat = a;
    *clng = o - 360.0 * floor((o + 180.0) / 360.0);
}

double r2h_quad_area_m2(const double lat[4], const double lng[4])
{
    /* Lambert cylindrical equal-area coordinates x = a*lambda, y = a*q/2; longitudes unwrapped
     * relative to the first corner; shoelace. */
    double x[4], y[4];
    for (int i = 0; i < 4; i++) {
        double d = lng[i] - lng[0];
        d -= 360.0 * floor((d + 180.0) / 360.0);
        x[i] = WGS84_A * d * (M_PI / 180); /* relative to corner 0: no cancellation */
        y[i] = WGS84_A * (auth_q(lat[i]) - auth_q(lat[0])) / 2;
    }
    double s = 0;
    for (int i = 0; i < 4; i++) {
        int j = (i + 1) & 3;
        s += x[i] * y[j] - x[j] * y[i];
    }
    return fabs(s) / 2;
}

/* ---- rows ------------------------------------------------------------------------------- */

/* The value of a value key in the source type into p. */
static void value_of(const struct r2h_agg *a, uint64_t vkey, void *p)
{
    r2h_bands_value(a->bands, vkey, 0, p);
}

static double value_double(const struct r2h_agg *a, uint64_t vkey)
{
    union r2h_value v;
    value_of(a, vkey, &v);
    return r2h_value_double(a->dt, &v);
}

enum r2h_agg_rows r2h_agg_rows(const struct r2h_agg *a)
{
    return a ? a->rows : R2H_AGG_ROWS_VALUE;
}

int r2h_agg_row_bits(const struct r2h_agg *a)
{
    return a && a->rows == R2H_AGG_ROWS_ROW ? a->row_bits : 0;
}

void r2h_agg_rowfmt(const struct r2h_agg *a, const struct r2h_bands *b, int res,
                    struct r2h_rowfmt *f)
{
    if (r2h_agg_rows(a) == R2H_AGG_ROWS_AREA)
        r2h_rowfmt_init_wide(f, res);
    else
        r2h_rowfmt_init(f, res, r2h_bands_key_bits(b) + r2h_agg_row_bits(a));
}

enum r2h_status r2h_agg_pixel_area(const struct r2h_agg *a, struct r2h_raster *raster, int row,
                                   int col, double *m2)
{
    if (a->row_area) {
        *m2 = row >= 0 && row < a->height ? a->row_area[row] : 0;
        return R2H_OK;
    }
    double lat[4], lng[4];
    if (r2h_raster_pixel_corners(raster, row, col, lat, lng) != R2H_OK)
        return R2H_ERR_CRS;
    *m2 = r2h_quad_area_m2(lat, lng);
    return R2H_OK;
}

int r2h_agg_grouped(const struct r2h_agg *a)
{
    return a->grouped;
}
const char *r2h_agg_spec(const struct r2h_agg *a)
{
    return a->spec;
}

void r2h_agg_fingerprint(const struct r2h_agg *a, char *fp, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over the old fingerprint and the spec */
    for (const char *p = fp; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (const char *p = a->spec; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    r2h_fmt(fp, len, "%016llx", (unsigned long long)h);
}

/* ---- plan ------------------------------------------------------------------------------- */

static enum r2h_pq_type pq_type(enum r2h_dtype t)
{
    static const enum r2h_pq_type m[] = {R2H_PQ_UINT8,  R2H_PQ_INT8,  R2H_PQ_UINT16, R2H_PQ_INT16,
                                         R2H_PQ_UINT32, R2H_PQ_INT32, R2H_PQ_UINT64, R2H_PQ_INT64,
                                         R2H_PQ_FLOAT,  R2H_PQ_DOUBLE};
    return m[t];
}

static void add_col(struct r2h_agg *a, enum col_kind k, int arg, enum r2h_pq_type t,
                    const char *name)
{
    size_t i = a->ncols++;
    a->kind[i] = k;
    a->arg[i] = arg;
    r2h_fmt(a->names[i], sizeof a->names[i], "%s", name);
    a->cols[i] = (struct r2h_pq_column_spec){.name = a->names[i], .type = t};
}

static void add_stat(struct r2h_agg *a, enum col_kind k, enum r2h_pq_type t, const char *vname,
                     const char *suffix)
{
    char name[96];
    r2h_fmt(name, sizeof name, "%s_%s", vname, suffix);
    add_col(a, k, 0, t, name);
}

static void add_cell_cols(struct r2h_agg *a)
{
    char name[16];
    const enum r2h_pq_type ct = a->cell_type == R2H_CELL_STRING  ? R2H_PQ_STRING
                                : a->cell_type == R2H_CELL_INT64 ? R2H_PQ_INT64
                                                                 : R2H_PQ_UINT64;
    r2h_cell_column_name(a->res, name, sizeof name);
    add_col(a, C_CELL, a->res, ct, name);
    a->cols[a->ncols - 1].sorted_ascending = a->cell_type != R2H_CELL_STRING;
    for (int r = 0; r < a->res; r++) {
        if (!(a->parents & (1u << r)))
            continue;
        /* h0 would clash with the Hive partition column h0 (a string in the path). */
        r2h_fmt(name, sizeof name, r == 0 ? "parent_h%d" : "h%d", r);
        add_col(a, C_PARENT, r, ct, name);
    }
}

const char *r2h_cell_type_name(enum r2h_cell_type t)
{
    return t == R2H_CELL_STRING ? "string" : t == R2H_CELL_INT64 ? "int64" : "uint64";
}

unsigned r2h_stats_parse(const char *list)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"count", R2H_STAT_COUNT},
                 {"sum", R2H_STAT_SUM},
                 {"mean", R2H_STAT_MEAN},
                 {"min", R2H_STAT_MIN},
                 {"max", R2H_STAT_MAX},
                 {"mode", R2H_STAT_MODE},
                 {"fractions", R2H_STAT_FRACTIONS},
                 {"area", R2H_STAT_AREA},
                 {"total", R2H_STAT_TOTAL},
                 {"coverage", R2H_STAT_COVERAGE}};
    unsigned bits = 0;
    if (!list)
        return 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == n && strncmp(p, names[i].name, n) == 0)
                bit = names[i].bit;
        if (!bit)
            return 0;
        bits |= bit;
        p += n;
        if (*p == ',')
            p++;
    }
    return bits;
}

enum r2h_status r2h_row_areas_m2(const struct r2h_raster_info *in, double **out)
{
    *out = NULL;
    if (!in->geographic || in->rotated)
        return R2H_OK;
    double *t = r2h_malloc((size_t)(in->height > 0 ? in->height : 1) * sizeof(double));
    if (!t)
        return R2H_ERR_NOMEM;
    const double *gt = in->gt;
    const double dl = fabs(gt[1]) * (M_PI / 180);
    for (int y = 0; y < in->height; y++) {
        double p0 = gt[3] + y * gt[5], p1 = gt[3] + (y + 1) * gt[5];
        p0 = p0 > 90 ? 90 : p0 < -90 ? -90 : p0;
        p1 = p1 > 90 ? 90 : p1 < -90 ? -90 : p1;
        t[y] = WGS84_A * WGS84_A * dl * fabs(auth_q(p0) - auth_q(p1)) / 2;
    }
    *out = t;
    return R2H_OK;
}

/* Pixel areas: how the rows carry them (r2h_agg_rows) and, for geographic unrotated rasters,
 * the table of areas per raster row. */
static enum r2h_status plan_areas(struct r2h_agg *a, const struct r2h_raster_info *in, char *err,
                                  size_t errlen)
{
    a->rows = R2H_AGG_ROWS_AREA;
    if (r2h_row_areas_m2(in, &a->row_area) != R2H_OK) {
        r2h_fmt(err, errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    if (!a->row_area)
        return R2H_OK; /* areas from the pixel corners, in the read pass */
    /* The row is the area's reference and the pixel order at once (pixels of one row have one
     * area): it goes below the value key when both fit in 64 bits. */
    int bits = 0;
    while (bits < 31 && ((int64_t)1 << bits) < in->height)
        bits++;
    if (r2h_bands_key_bits(a->bands) + bits <= 64) {
        a->rows = R2H_AGG_ROWS_ROW;
        a->row_bits = bits;
    }
    return R2H_OK;
}

enum r2h_status r2h_agg_create(const struct r2h_convert_options *o,
                               const struct r2h_raster_info *in, const struct r2h_bands *bands,
                               struct r2h_agg **out, char *err, size_t errlen)
{
    const char *value_name = bands->name[0];
    *out = NULL;
    if (!o->aggregate && !o->parents && !o->cell_string) {
        if (o->stats || o->density_unit || o->nclasses) {
            r2h_fmt(err, errlen, "--stat, --classes and --density-unit need --aggregate");
            return R2H_ERR_INVALID;
        }
        return R2H_OK;
    }
    struct r2h_agg *a = r2h_calloc(1, sizeof *a);
    if (!a) {
        r2h_fmt(err, errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    a->bands = bands;
    a->dt = bands->dt[0];
    a->grouped = o->aggregate;
    a->res = o->resolution;
    a->cell_type = o->cell_type;
    a->parents = o->parents;
    a->width = in->width;
    a->height = in->height;
    static const double unit_m2[] = {0, 1, 1e4, 1e6};
    a->unit_m2 = unit_m2[o->density_unit];
    unsigned s = o->stats;
    if (!s)
        s = o->density_unit ? R2H_STAT_COUNT | R2H_STAT_AREA | R2H_STAT_TOTAL | R2H_STAT_MEAN
                            : R2H_STAT_COUNT | R2H_STAT_MEAN | R2H_STAT_MIN | R2H_STAT_MAX;
    a->stats = a->grouped ? s : 0;
    enum r2h_status st = R2H_ERR_INVALID;
    if (s & R2H_STAT_COVERAGE) {
        r2h_fmt(err, errlen, "--stat coverage needs --method overlay");
        goto fail;
    }
    if (o->parents >> o->resolution) {
        r2h_fmt(err, errlen, "--parents must be resolutions below --resolution %d", o->resolution);
        goto fail;
    }
    if (!a->grouped && (o->stats || o->density_unit || o->nclasses)) {
        r2h_fmt(err, errlen, "--stat, --classes and --density-unit need --aggregate");
        goto fail;
    }
    if ((a->stats & R2H_STAT_TOTAL) && !o->density_unit) {
        r2h_fmt(err, errlen, "--stat total needs --density-unit per-m2|per-ha|per-km2");
        goto fail;
    }
    if ((a->stats & R2H_STAT_FRACTIONS) && (o->nclasses <= 0 || !o->classes)) {
        r2h_fmt(err, errlen, "--stat fractions needs --classes V1,V2,...");
        goto fail;
    }
    if (o->nclasses > MAX_CLASSES) {
        r2h_fmt(err, errlen, "at most %d --classes", MAX_CLASSES);
        goto fail;
    }
    if (a->stats & R2H_STAT_FRACTIONS) {
        a->nclasses = o->nclasses;
        memcpy(a->classes, o->classes, (size_t)o->nclasses * sizeof *a->classes);
    }
    if (a->grouped && (o->density_unit || (a->stats & (R2H_STAT_AREA | R2H_STAT_TOTAL))) &&
        (st = plan_areas(a, in, err, errlen)) != R2H_OK)
        goto fail;
    st = R2H_ERR_INVALID;
    /* Columns and spec. */
    if (a->grouped) {
        add_cell_cols(a);
        const enum r2h_pq_type vt = pq_type(a->dt);
        if (a->stats & R2H_STAT_COUNT)
            add_col(a, C_COUNT, 0, R2H_PQ_INT64, "count");
        if (a->stats & R2H_STAT_AREA)
            add_col(a, C_AREA, 0, R2H_PQ_DOUBLE, "area");
        if (a->stats & R2H_STAT_SUM)
            add_stat(a, C_SUM, R2H_PQ_DOUBLE, value_name, "sum");
        if (a->stats & R2H_STAT_MEAN)
            add_stat(a, C_MEAN, R2H_PQ_DOUBLE, value_name, "mean");
        if (a->stats & R2H_STAT_MIN)
            add_stat(a, C_MIN, vt, value_name, "min");
        if (a->stats & R2H_STAT_MAX)
            add_stat(a, C_MAX, vt, value_name, "max");
        if (a->stats & R2H_STAT_MODE)
            add_stat(a, C_MODE, vt, value_name, "mode");
        if (a->stats & R2H_STAT_TOTAL)
            add_stat(a, C_TOTAL, R2H_PQ_DOUBLE, value_name, "total");
        for (int i = 0; i < a->nclasses; i++) {
            char name[96];
            r2h_fmt(name, sizeof name, "frac_%.17g", a->classes[i]);
            add_col(a, C_FRAC, i, R2H_PQ_DOUBLE, name);
        }
    } else {
        for (int i = 0; i < bands->n; i++)
            add_col(a, C_VALUE, i, pq_type(bands->dt[i]), bands->name[i]);
        add_cell_cols(a);
    }
    for (size_t i = 0; i < a->ncols; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(a->names[i], a->names[j]) == 0) {
                r2h_fmt(err, errlen, "two output columns would be named '%s'", a->names[i]);
                goto fail;
            }
    static const char *const units[] = {"none", "per-m2", "per-ha", "per-km2"};
    size_t n =
        (size_t)snprintf(a->spec, sizeof a->spec,
                         "mode=%s;density=%s;cells=%s;columns=", a->grouped ? "aggregate" : "pixel",
                         units[o->density_unit], r2h_cell_type_name(a->cell_type));
    for (size_t i = 0; i < a->ncols && n < sizeof a->spec; i++)
        n += (size_t)snprintf(a->spec + n, sizeof a->spec - n, "%s%s", i ? "," : "", a->names[i]);
    *out = a;
    return R2H_OK;
fail:
    r2h_agg_destroy(a);
    return st;
}

void r2h_agg_destroy(struct r2h_agg *a)
{
    if (!a)
        return;
    r2h_free(a->row_area);
    r2h_free(a);
}

enum r2h_status r2h_agg_columns(const struct r2h_agg *a, const struct r2h_pq_column_spec **cols,
                                size_t *ncols)
{
    *cols = a->cols;
    *ncols = a->ncols;
    return R2H_OK;
}

/* ---- writing ---------------------------------------------------------------------------- */

enum { OUT_ROWS = 8192 };

/* One cell's accumulators. */
struct group {
    uint64_t cell, n;
    uint64_t vmin, vmax; /* value keys */
    uint64_t mode, mode_len, run_key, run_len;
    long double sum, wsum, asum;
    long double cls[MAX_CLASSES]; /* count or area per class */
};

struct out {
    const struct r2h_agg *a;
    struct r2h_pq_writer *w;
    void *buf[MAX_COLS];
    char *strbuf; /* 16 bytes per row per string column */
    const char **strs[MAX_COLS];
    size_t n;
    uint64_t total;
};

static enum r2h_status flush(struct out *o)
{
    if (!o->n)
        return R2H_OK;
    struct r2h_pq_column_data data[MAX_COLS];
    for (size_t i = 0; i < o->a->ncols; i++)
        data[i] = (struct r2h_pq_column_data){
            .values = o->a->cols[i].type == R2H_PQ_STRING ? (const void *)o->strs[i] : o->buf[i]};
    enum r2h_status st = r2h_pq_writer_write(o->w, data, o->n);
    o->total += o->n;
    o->n = 0;
    return st;
}

static void put_cell(struct out *o, size_t i, uint64_t cell)
{
    if (o->a->cols[i].type == R2H_PQ_STRING) {
        char *s = o->strbuf + (i * OUT_ROWS + o->n) * 16;
        r2h_fmt(s, 16, "%015llx", (unsigned long long)cell);
        o->strs[i][o->n] = s;
    } else {
        ((uint64_t *)o->buf[i])[o->n] = cell;
    }
}

static void emit_common(struct out *o, uint64_t cell)
{
    const struct r2h_agg *a = o->a;
    for (size_t i = 0; i < a->ncols; i++) {
        if (a->kind[i] == C_CELL)
            put_cell(o, i, cell);
        else if (a->kind[i] == C_PARENT)
            put_cell(o, i, r2h_index_parent(cell, a->arg[i]));
    }
}

static enum r2h_status emit_group(struct out *o, struct group *g)
{
    const struct r2h_agg *a = o->a;
    if (g->run_len > g->mode_len) {
        g->mode = g->run_key;
        g->mode_len = g->run_len;
    }
    const size_t vsz = r2h_dtype_size(a->dt), r = o->n;
    emit_common(o, g->cell);
    for (size_t i = 0; i < a->ncols; i++) {
        double *d = o->buf[i];
        switch (a->kind[i]) {
        case C_CELL:
        case C_PARENT:
        case C_VALUE: break;
        case C_COUNT: ((int64_t *)o->buf[i])[r] = (int64_t)g->n; break;
        case C_AREA: d[r] = (double)g->asum; break;
        case C_SUM: d[r] = (double)g->sum; break;
        case C_MEAN:
            d[r] = a->unit_m2 ? (double)(g->wsum / g->asum) : (double)(g->sum / (long double)g->n);
            break;
        case C_TOTAL: d[r] = (double)(g->wsum / a->unit_m2); break;
        case C_MIN: value_of(a, g->vmin, (char *)o->buf[i] + r * vsz); break;
        case C_MAX: value_of(a, g->vmax, (char *)o->buf[i] + r * vsz); break;
        case C_MODE: value_of(a, g->mode, (char *)o->buf[i] + r * vsz); break;
        case C_FRAC:
            d[r] = (double)(g->cls[a->arg[i]] / (a->unit_m2 ? g->asum : (long double)g->n));
            break;
        }
    }
    if (++o->n == OUT_ROWS)
        return flush(o);
    return R2H_OK;
}

/* The area in m2 of a merged row's pixel: from the row table (R2H_AGG_ROWS_ROW) or the payload
 * (R2H_AGG_ROWS_AREA); 1 without areas. */
static inline double row_area(const struct r2h_agg *a, const struct r2h_wide_row *r)
{
    if (a->rows == R2H_AGG_ROWS_ROW) {
        const uint64_t y = r->key & (((uint64_t)1 << a->row_bits) - 1);
        return y < (uint64_t)a->height ? a->row_area[y] : 0;
    }
    if (a->rows == R2H_AGG_ROWS_AREA) {
        double m2;
        memcpy(&m2, &r->payload, sizeof m2);
        return m2;
    }
    return 1;
}

/* Fold one merged row of value key vk into the cell's accumulators g. */
static void fold_row(const struct r2h_agg *a, struct group *g, uint64_t vk, double area)
{
    g->n++;
    g->vmax = vk;
    if (vk == g->run_key) {
        g->run_len++;
    } else {
        if (g->run_len > g->mode_len) {
            g->mode = g->run_key;
            g->mode_len = g->run_len;
        }
        g->run_key = vk;
        g->run_len = 1;
    }
    const double v = value_double(a, vk);
    g->sum += v;
    if (a->rows != R2H_AGG_ROWS_VALUE) {
        g->asum += area;
        g->wsum += (long double)v * area;
    }
    for (int c = 0; c < a->nclasses; c++)
        if (v == a->classes[c])
            g->cls[c] += a->unit_m2 ? area : 1;
}

/* One pixel row with extra columns (no --aggregate). */
static enum r2h_status pixel_row(struct out *o, uint64_t cell, uint64_t vk)
{
    const struct r2h_agg *a = o->a;
    emit_common(o, cell);
    for (size_t i = 0; i < a->ncols; i++)
        if (a->kind[i] == C_VALUE)
            r2h_bands_value(a->bands, vk, a->arg[i],
                            (char *)o->buf[i] + o->n * r2h_dtype_size(a->bands->dt[a->arg[i]]));
    if (++o->n == OUT_ROWS)
        return flush(o);
    return R2H_OK;
}

/* Output buffers of o: one column of OUT_ROWS values (strings: pointers into strbuf). */
static enum r2h_status open_out(struct out *o)
{
    const struct r2h_agg *a = o->a;
    int nstr = 0;
    for (size_t i = 0; i < a->ncols; i++) {
        if (a->cols[i].type == R2H_PQ_STRING) {
            nstr = 1;
            if (!(o->strs[i] = r2h_malloc(OUT_ROWS * sizeof(char *))))
                return R2H_ERR_NOMEM;
        } else if (!(o->buf[i] = r2h_malloc(OUT_ROWS * 8))) {
            return R2H_ERR_NOMEM;
        }
    }
    if (nstr && !(o->strbuf = r2h_malloc(a->ncols * OUT_ROWS * 16)))
        return R2H_ERR_NOMEM;
    return R2H_OK;
}

static void close_out(struct out *o)
{
    for (size_t i = 0; i < o->a->ncols; i++) {
        r2h_free(o->buf[i]);
        r2h_free(o->strs[i]);
    }
    r2h_free(o->strbuf);
}

enum r2h_status r2h_agg_write(const struct r2h_agg *a, struct r2h_merge *m, struct r2h_pq_writer *w,
                              uint64_t *nout, double *vmin, double *vmax, char *msg, size_t msglen)
{
    enum { CHUNK = 32768 };
    struct out o = {.a = a, .w = w};
    msg[0] = 0;
    struct r2h_wide_row *rows = r2h_malloc(CHUNK * sizeof *rows);
    struct group *g = r2h_calloc(1, sizeof *g);
    enum r2h_status st = open_out(&o);
    if (!rows || !g)
        st = R2H_ERR_NOMEM;
    const int shift = r2h_agg_row_bits(a);
    uint64_t kmin = UINT64_MAX, kmax = 0;
    int have = 0;
    size_t n;
    while (st == R2H_OK && (n = r2h_merge_next_wide(m, rows, CHUNK, &st, msg, msglen)) > 0) {
        for (size_t j = 0; j < n && st == R2H_OK; j++) {
            const uint64_t vk = rows[j].key >> shift;
            kmin = vk < kmin ? vk : kmin;
            kmax = vk > kmax ? vk : kmax;
            if (!a->grouped) {
                st = pixel_row(&o, rows[j].cell, vk);
                continue;
            }
            if (have && rows[j].cell != g->cell) {
                if ((st = emit_group(&o, g)) != R2H_OK)
                    break;
                have = 0;
            }
            if (!have) {
                memset(g, 0, sizeof *g);
                g->cell = rows[j].cell;
                g->vmin = vk;
                g->run_key = vk;
                have = 1;
            }
            fold_row(a, g, vk, row_area(a, &rows[j]));
        }
    }
    if (st == R2H_OK && have)
        st = emit_group(&o, g);
    if (st == R2H_OK)
        st = flush(&o);
    *nout = o.total;
    if (kmin <= kmax) {
        *vmin = value_double(a, kmin);
        *vmax = value_double(a, kmax);
    }
    if (st != R2H_OK && !msg[0])
        r2h_fmt(msg, msglen, "%s", r2h_status_str(st));
    close_out(&o);
    r2h_free(rows);
    r2h_free(g);
    return st;
}

/* ---- --resolution auto ------------------------------------------------------------------ */

enum r2h_status r2h_auto_resolution(const char *input, int *res, double *pixel_area_m2,
                                    double *cell_area_m2, char *errbuf, size_t errbuf_len)
{
    return r2h_auto_resolution_srs(input, NULL, res, pixel_area_m2, cell_area_m2, errbuf,
                                   errbuf_len);
}

enum r2h_status r2h_auto_resolution_srs(const char *input, const char *srs, int *res,
                                        double *pixel_area_m2, double *cell_area_m2, char *errbuf,
                                        size_t errbuf_len)
{
    struct r2h_raster *r = NULL;
    enum r2h_status st = r2h_raster_open_srs(input, 1, srs, &r, errbuf, errbuf_len);
    if (st != R2H_OK)
        return st;
    const struct r2h_raster_info *in = r2h_raster_get_info(r);
    double lat[4], lng[4];
    st = r2h_raster_pixel_corners(r, in->height / 2, in->width / 2, lat, lng);
    r2h_raster_close(r);
    if (st != R2H_OK) {
        r2h_fmt(errbuf, errbuf_len, "%s: the centre pixel does not transform to WGS84", input);
        return st;
    }
    const double pa = r2h_quad_area_m2(lat, lng);
    /* The cells where the raster is (its centre pixel's centre), not the global average: H3
     * cells are up to twice the average near the base cells' centres, half near pentagons. */
    double clat, clng;
    r2h_quad_centre(lat, lng, &clat, &clng);
    int best = 0;
    double bestd = INFINITY, besta = 0;
    for (int k = 0; k <= R2H_MAX_RES; k++) {
        const double ca = r2h_index_cell_area_m2(clat, clng, k);
        const double d = ca > 0 ? fabs(log(ca / pa)) : INFINITY;
        if (d < bestd) {
            bestd = d;
            best = k;
            besta = ca;
        }
    }
    *res = best;
    if (pixel_area_m2)
        *pixel_area_m2 = pa;
    if (cell_area_m2)
        *cell_area_m2 = besta;
    return R2H_OK;
}

/* ---- --variable ------------------------------------------------------------------------- */

enum r2h_status r2h_input_variable(const char *input, const char *variable, char *name, size_t len,
                                   char *errbuf, size_t errbuf_len)
{
    if (!input || !variable || !*variable || !name || !len) {
        r2h_fmt(errbuf, errbuf_len, "--variable needs an input and a variable name");
        return R2H_ERR_INVALID;
    }
    return r2h_raster_variable(input, variable, name, len, errbuf, errbuf_len);
}
