/* test_aggregate.c - unit tests of aggregation (src/convert/aggregate.c): pixel areas against
 * known answers, the rows a plan asks for, and the statistics written from a merged stream of
 * rows (one run spilled, one in memory) read back from the Parquet file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_parquet.h"
#include "r2h_pq_reader.h"
#include "r2h_sink.h"
#include "test.h"

static int close_rel(double got, double want, double rel)
{
    return fabs(got - want) <= rel * fabs(want);
}

/* ---- pixel areas ------------------------------------------------------------------------- */

/* Areas of lat/lng rectangles on the WGS84 ellipsoid: 40-digit numerical integration (mpmath)
 * of a^2 (1 - e^2) cos(phi) / (1 - e^2 sin^2 phi)^2 over the latitudes, times the width. */
TEST(quad_area_known_answers)
{
    static const struct {
        double lat0, lat1, m2;
    } known[] = {{0, 1, 12308463893.97535211297951},
                 {45, 46, 8686494956.670400768386468},
                 {-60, -59.5, 3131694881.858399020877476}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const double lat[4] = {known[i].lat1, known[i].lat1, known[i].lat0, known[i].lat0};
        const double lng[4] = {0, 1, 1, 0}, rlng[4] = {0, 0, 1, 1},
                     rlat[4] = {lat[0], lat[3], lat[2], lat[1]};
        t_assert(close_rel(r2h_quad_area_m2(lat, lng), known[i].m2, 1e-12),
                 "1 degree wide rectangle");
        t_assert(close_rel(r2h_quad_area_m2(rlat, rlng), known[i].m2, 1e-12),
                 "the other orientation");
    }
    /* Across the antimeridian: the same degree of longitude. */
    const double lat[4] = {1, 1, 0, 0}, lng[4] = {179.5, -179.5, -179.5, 179.5};
    t_assert(close_rel(r2h_quad_area_m2(lat, lng), known[0].m2, 1e-12), "across the antimeridian");
}

/* ---- plans ------------------------------------------------------------------------------- */

static void one_band(struct r2h_bands *b, enum r2h_dtype t)
{
    char err[128];
    memset(b, 0, sizeof *b);
    b->n = 1;
    b->band[0] = 1;
    b->dt[0] = t;
    b->pixel_size = r2h_dtype_size(t);
    r2h_fmt(b->name[0], sizeof b->name[0], "v");
    t_assert(r2h_bands_layout(b, err, sizeof err) == R2H_OK, "band layout");
}

static void raster_info(struct r2h_raster_info *in, int geographic, int w, int h,
                        const double gt[6])
{
    memset(in, 0, sizeof *in);
    in->width = w;
    in->height = h;
    in->geographic = geographic;
    memcpy(in->gt, gt, sizeof in->gt);
}

static struct r2h_agg *plan(const struct r2h_convert_options *o, const struct r2h_raster_info *in,
                            const struct r2h_bands *b)
{
    char err[256] = "";
    struct r2h_agg *a = NULL;
    enum r2h_status st = r2h_agg_create(o, in, b, &a, err, sizeof err);
    if (st != R2H_OK)
        fprintf(stderr, "r2h_agg_create: %s\n", err);
    t_assert(st == R2H_OK && a, "plan created");
    return a;
}

static const double GEO_GT[6] = {10.0, 0.01, 0, 20.0, 0, -0.01};

TEST(rows_carry_what_the_plan_needs)
{
    struct r2h_convert_options o;
    struct r2h_raster_info geo, utm;
    struct r2h_bands u16, f64;
    struct r2h_rowfmt f;
    const double utm_gt[6] = {500000.0, 250.0, 0, 5200000.0, 0, -250.0};
    raster_info(&geo, 1, 9000, 7000, GEO_GT);
    raster_info(&utm, 0, 100, 100, utm_gt);
    one_band(&u16, R2H_DT_UINT16);
    one_band(&f64, R2H_DT_FLOAT64);
    r2h_convert_options_init(&o);
    o.aggregate = 1;
    struct r2h_agg *a = plan(&o, &geo, &u16);
    t_assert(r2h_agg_rows(a) == R2H_AGG_ROWS_VALUE && r2h_agg_row_bits(a) == 0, "no areas");
    r2h_agg_destroy(a);
    t_assert(r2h_agg_rows(NULL) == R2H_AGG_ROWS_VALUE, "pixel rows");
    o.density_unit = R2H_DENSITY_PER_HA;
    a = plan(&o, &geo, &u16);
    t_assert(r2h_agg_rows(a) == R2H_AGG_ROWS_ROW && r2h_agg_row_bits(a) == 13,
             "geographic: the row (13 bits for 7000 rows) below the value key");
    r2h_agg_rowfmt(a, &u16, 8, &f);
    t_assert(f.packed && f.key_bits == 29, "carbon-like rows pack into 8 bytes");
    /* A geographic pixel's area is its row's: the closed form against its corners. */
    double m2 = 0, lat[4], lng[4];
    for (int row = 0; row < 7000; row += 997) {
        t_assert(r2h_agg_pixel_area(a, NULL, row, 17, &m2) == R2H_OK, "row area");
        for (int i = 0; i < 4; i++) {
            lng[i] = GEO_GT[0] + (17 + (i == 1 || i == 2)) * GEO_GT[1];
            lat[i] = GEO_GT[3] + (row + (i >= 2)) * GEO_GT[5];
        }
        t_assert(close_rel(m2, r2h_quad_area_m2(lat, lng), 1e-12), "row area = corner area");
    }
    r2h_agg_destroy(a);
    a = plan(&o, &geo, &f64);
    t_assert(r2h_agg_rows(a) == R2H_AGG_ROWS_AREA, "64-bit values: areas in wide rows");
    r2h_agg_rowfmt(a, &f64, 8, &f);
    t_assert(f.wide && r2h_rowfmt_size(&f) == 32, "wide layout");
    r2h_agg_destroy(a);
    a = plan(&o, &utm, &u16);
    t_assert(r2h_agg_rows(a) == R2H_AGG_ROWS_AREA, "projected: areas in wide rows");
    r2h_agg_destroy(a);
}

/* ---- statistics from a merged stream ------------------------------------------------------ */

/* One pixel of a test stream. */
struct px {
    double lat, lng; /* its centre */
    double value;
    int row, col;
    double area; /* payload of wide rows */
    uint64_t cell;
};

/* Sort wide rows by (cell, key, ord). */
static int cmp_wide(const void *x, const void *y)
{
    const struct r2h_wide_row *a = x, *b = y;
    if (a->cell != b->cell)
        return a->cell < b->cell ? -1 : 1;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->ord > b->ord) - (a->ord < b->ord);
}

/* Rows of layout f from sorted wide rows (in place: pairs and packed rows are smaller). */
static void to_layout(const struct r2h_rowfmt *f, struct r2h_wide_row *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct r2h_wide_row r = w[i];
        if (f->packed)
            ((uint64_t *)(void *)w)[i] = r2h_row_pack(f, r.cell, r.key);
        else if (!f->wide)
            ((struct r2h_row *)(void *)w)[i] = (struct r2h_row){r.cell, r.key};
    }
}

/* Write the plan's partition of base cell bc from the pixels (rows as the read pass builds
 * them: half spilled, half in memory) to path; returns the cells written. */
static uint64_t write_partition(const struct r2h_agg *a, const struct r2h_bands *b, int res,
                                int width, struct px *p, size_t n, const char *path)
{
    char err[512] = "";
    struct r2h_rowfmt f;
    r2h_agg_rowfmt(a, b, res, &f);
    struct r2h_runs *rs = NULL;
    t_assert(r2h_runs_create(NULL, &f, &rs, err, sizeof err) == R2H_OK, "runs");
    struct r2h_wide_row *half[2] = {calloc(n + 1, sizeof **half), calloc(n + 1, sizeof **half)};
    size_t k[2] = {0, 0};
    const int rb = r2h_agg_row_bits(a);
    int bc = -1;
    for (size_t i = 0; i < n; i++) {
        union r2h_value v;
        if (b->dt[0] == R2H_DT_FLOAT64)
            v.d = p[i].value;
        else if (b->dt[0] == R2H_DT_UINT16)
            v.u16 = (uint16_t)p[i].value;
        else
            v.u8 = (uint8_t)p[i].value;
        struct r2h_wide_row r = {.cell = p[i].cell,
                                 .key = r2h_bands_key(b, &v) << rb | (rb ? (uint64_t)p[i].row : 0),
                                 .ord = (uint64_t)p[i].row * (uint64_t)width + (uint64_t)p[i].col};
        memcpy(&r.payload, &p[i].area, sizeof r.payload);
        half[i % 2][k[i % 2]++] = r;
        t_assert(bc < 0 || bc == r2h_index_base_cell(p[i].cell), "one base cell");
        bc = r2h_index_base_cell(p[i].cell);
    }
    for (int h = 0; h < 2; h++) {
        qsort(half[h], k[h], sizeof *half[h], cmp_wide);
        to_layout(&f, half[h], k[h]);
    }
    t_assert(r2h_runs_spill(rs, half[0], k[0], err, sizeof err) == R2H_OK, "spilled run");
    t_assert(r2h_runs_add_memory(rs, half[1], k[1]) == R2H_OK, "memory run");
    const struct r2h_pq_column_spec *cols;
    size_t ncols;
    r2h_agg_columns(a, &cols, &ncols);
    struct r2h_sink *sink = NULL;
    struct r2h_pq_writer *w = NULL;
    struct r2h_merge *m = NULL;
    struct r2h_pq_options po;
    r2h_pq_options_init(&po);
    uint64_t nout = 0;
    double vmin = NAN, vmax = NAN;
    t_assert(r2h_sink_file_open(path, &sink, err, sizeof err) == R2H_OK, "sink");
    t_assert(r2h_pq_writer_open(sink, cols, ncols, &po, &w) == R2H_OK, "writer");
    t_assert(r2h_merge_open(rs, bc, 3, &m) == R2H_OK, "merge");
    t_assert(r2h_agg_write(a, m, w, &nout, &vmin, &vmax, err, sizeof err) == R2H_OK, err);
    r2h_merge_close(m);
    t_assert(r2h_pq_writer_close(w, err, sizeof err) == R2H_OK, err);
    r2h_runs_destroy(rs);
    free(half[0]);
    free(half[1]);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = p[i].value < lo ? p[i].value : lo;
        hi = p[i].value > hi ? p[i].value : hi;
    }
    t_assert(vmin == lo && vmax == hi, "value range of the partition");
    return nout;
}

/* A written partition read back: its cells and any double/int64/value column by name. */
struct table {
    struct r2h_pq_reader *r;
    size_t n;
    uint64_t cells[64];
};

static void open_table(struct table *t, const char *path, const char *cellcol)
{
    char err[256];
    t_assert(r2h_pq_reader_open(path, &t->r, err, sizeof err) == R2H_OK, "reader");
    t->n = (size_t)r2h_pq_reader_num_rows(t->r);
    t_assert(t->n <= 64 && r2h_pq_reader_num_row_groups(t->r) == 1, "one small row group");
    int c = r2h_pq_reader_find_column(t->r, cellcol);
    t_assert(c == 0, "cell column first");
    r2h_pq_reader_read_column(t->r, 0, 0, t->cells, NULL);
}

/* Column name as doubles (count: int64, min/max/mode: the value type) into out[64]. */
static void column(struct table *t, const char *name, double *out)
{
    enum r2h_pq_type type;
    int c = r2h_pq_reader_find_column(t->r, name);
    t_assert(c >= 0, name);
    if (c < 0)
        return;
    r2h_pq_reader_column(t->r, (size_t)c, NULL, &type, NULL);
    union {
        double d[64];
        int64_t i[64];
        uint8_t u8[64];
        uint16_t u16[64];
    } buf;
    t_assert(r2h_pq_reader_read_column(t->r, 0, (size_t)c, &buf, NULL) == R2H_OK, name);
    for (size_t i = 0; i < t->n; i++)
        out[i] = type == R2H_PQ_DOUBLE  ? buf.d[i]
                 : type == R2H_PQ_INT64 ? (double)buf.i[i]
                 : type == R2H_PQ_UINT8 ? buf.u8[i]
                                        : buf.u16[i];
}

/* Cells of resolution res of the pixels' centres. */
static void locate(struct px *p, size_t n, int res)
{
    for (size_t i = 0; i < n; i++)
        r2h_index_cells(&p[i].lat, &p[i].lng, NULL, 1, res, &p[i].cell);
}

static void temp_path(char *path, size_t len, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    r2h_fmt(path, len, "%s/r2h-test-aggregate-%ld-%s.parquet", tmp && *tmp ? tmp : "/tmp",
            (long)getpid(), name);
}

TEST(statistics_mode_ties_and_fractions)
{
    /* Three cells far apart in one base cell; values in an order the sort must fix. */
    static const double vals[3][6] = {{5, 3, 7, 5, 3, -1}, {4, 2, 1, 4, 2, 4}, {9, -1}};
    struct px p[16];
    size_t n = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 6 && vals[c][i] >= 0; i++)
            p[n++] = (struct px){.lat = 20 + c, .lng = 10 + c, .value = vals[c][i], .col = i};
    locate(p, n, 5);
    struct r2h_bands b;
    struct r2h_raster_info in;
    struct r2h_convert_options o;
    const double classes[] = {3, 7, 4};
    one_band(&b, R2H_DT_UINT8);
    raster_info(&in, 1, 10, 10, GEO_GT);
    r2h_convert_options_init(&o);
    o.aggregate = 1;
    o.resolution = 5;
    o.stats = R2H_STAT_COUNT | R2H_STAT_SUM | R2H_STAT_MEAN | R2H_STAT_MIN | R2H_STAT_MAX |
              R2H_STAT_MODE | R2H_STAT_FRACTIONS;
    o.classes = classes;
    o.nclasses = 3;
    struct r2h_agg *a = plan(&o, &in, &b);
    char path[4096];
    temp_path(path, sizeof path, "stats");
    t_assert(write_partition(a, &b, 5, 10, p, n, path) == 3, "one row per cell");
    struct table t;
    double cnt[64], sum[64], mean[64], mn[64], mx[64], mode[64], f3[64], f7[64], f4[64];
    open_table(&t, path, "h5");
    column(&t, "count", cnt);
    column(&t, "v_sum", sum);
    column(&t, "v_mean", mean);
    column(&t, "v_min", mn);
    column(&t, "v_max", mx);
    column(&t, "v_mode", mode);
    column(&t, "frac_3", f3);
    column(&t, "frac_7", f7);
    column(&t, "frac_4", f4);
    for (size_t r = 0; r < t.n; r++) {
        const int c = t.cells[r] == p[0].cell ? 0 : t.cells[r] == p[5].cell ? 1 : 2;
        t_assert(r == 0 || t.cells[r] > t.cells[r - 1], "cells ascending");
        if (c == 0) { /* 5 3 7 5 3: the tie between 3 and 5 goes to the smaller value */
            t_assert(cnt[r] == 5 && sum[r] == 23 && mean[r] == 23.0 / 5, "count, sum, mean");
            t_assert(mn[r] == 3 && mx[r] == 7 && mode[r] == 3, "min, max, mode tie");
            t_assert(f3[r] == 2.0 / 5 && f7[r] == 1.0 / 5 && f4[r] == 0, "fractions");
        } else if (c == 1) { /* 4 2 1 4 2 4: the longest run is the largest value */
            t_assert(cnt[r] == 6 && sum[r] == 17 && mn[r] == 1 && mx[r] == 4, "cell 2");
            t_assert(mode[r] == 4 && f4[r] == 0.5 && f3[r] == 0, "cell 2 mode and fraction");
        } else {
            t_assert(cnt[r] == 1 && sum[r] == 9 && mode[r] == 9 && f3[r] == 0, "one pixel");
        }
    }
    r2h_pq_reader_close(t.r);
    unlink(path);
    r2h_agg_destroy(a);
}

/* Expected per-cell area statistics of pixels p: sums in pixel order (rows sorted by value,
 * then pixel order), as the writer accumulates them. */
struct expect {
    long double area, wsum, cls;
};

static struct expect expect_cell(const struct px *p, size_t n, uint64_t cell, double cls)
{
    struct expect e = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        if (p[i].cell == cell) {
            e.area += p[i].area;
            e.wsum += (long double)p[i].value * p[i].area;
            e.cls += p[i].value == cls ? p[i].area : 0;
        }
    return e;
}

/* Densities of a geographic raster: areas from the row (R2H_AGG_ROWS_ROW), checked against each
 * pixel's corners; totals conserve the mass. */
TEST(density_totals_from_row_areas)
{
    enum { W = 40, H = 30 };
    static struct px p[W * H];
    size_t n = 0;
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) {
            double lat[4], lng[4];
            for (int i = 0; i < 4; i++) {
                lng[i] = GEO_GT[0] + (c + (i == 1 || i == 2)) * 0.1;
                lat[i] = GEO_GT[3] + (r + (i >= 2)) * -0.1;
            }
            p[n++] = (struct px){.lat = GEO_GT[3] - (r + 0.5) * 0.1,
                                 .lng = GEO_GT[0] + (c + 0.5) * 0.1,
                                 .value = (double)((r * 7 + c * 3) % 13 + 5),
                                 .row = r,
                                 .col = c,
                                 .area = r2h_quad_area_m2(lat, lng)};
        }
    locate(p, n, 3);
    const int bc = r2h_index_base_cell(p[0].cell);
    size_t m = 0; /* the pixels of p[0]'s base cell */
    for (size_t i = 0; i < n; i++)
        if (r2h_index_base_cell(p[i].cell) == bc)
            p[m++] = p[i];
    struct r2h_bands b;
    struct r2h_raster_info in;
    struct r2h_convert_options o;
    const double cls[] = {9};
    const double gt[6] = {GEO_GT[0], 0.1, 0, GEO_GT[3], 0, -0.1};
    one_band(&b, R2H_DT_UINT16);
    raster_info(&in, 1, W, H, gt);
    r2h_convert_options_init(&o);
    o.aggregate = 1;
    o.resolution = 3;
    o.density_unit = R2H_DENSITY_PER_HA;
    o.stats = R2H_STAT_COUNT | R2H_STAT_AREA | R2H_STAT_TOTAL | R2H_STAT_MEAN | R2H_STAT_FRACTIONS;
    o.classes = cls;
    o.nclasses = 1;
    struct r2h_agg *a = plan(&o, &in, &b);
    t_assert(r2h_agg_rows(a) == R2H_AGG_ROWS_ROW, "row areas");
    char path[4096];
    temp_path(path, sizeof path, "rows");
    const uint64_t cells = write_partition(a, &b, 3, W, p, m, path);
    t_assert(cells >= 2, "several cells");
    struct table t;
    double cnt[64], area[64], total[64], mean[64], f9[64];
    open_table(&t, path, "h3");
    column(&t, "count", cnt);
    column(&t, "area", area);
    column(&t, "v_total", total);
    column(&t, "v_mean", mean);
    column(&t, "frac_9", f9);
    long double mass = 0, want_mass = 0, count = 0;
    for (size_t r = 0; r < t.n; r++) {
        const struct expect e = expect_cell(p, m, t.cells[r], 9);
        t_assert(close_rel(area[r], (double)e.area, 1e-12), "area = sum of pixel areas");
        t_assert(close_rel(total[r], (double)(e.wsum / 1e4), 1e-12), "total = sum(v a) / ha");
        t_assert(close_rel(mean[r], (double)(e.wsum / e.area), 1e-12), "area-weighted mean");
        t_assert(fabs(f9[r] - (double)(e.cls / e.area)) <= 1e-12, "area-weighted fraction");
        mass += total[r];
        count += cnt[r];
    }
    for (size_t i = 0; i < m; i++)
        want_mass += (long double)p[i].value * p[i].area / 1e4;
    t_assert(count == (long double)m, "every pixel counted once");
    t_assert(close_rel((double)mass, (double)want_mass, 1e-12), "mass conserved");
    r2h_pq_reader_close(t.r);
    unlink(path);
    r2h_agg_destroy(a);
}

/* Densities of 64-bit values on a projected raster: wide rows whose payload is the area (here
 * given, as the read pass would have computed it); ties of value are summed in pixel order. */
TEST(density_from_payload_areas)
{
    struct px p[12];
    size_t n = 0;
    for (int i = 0; i < 12; i++) /* two cells; values 0.5, 1.5, 2.5 with ties */
        p[n++] = (struct px){.lat = 20 + (i % 2) * 0.5,
                             .lng = 10,
                             .value = 0.5 + (double)(i * 5 % 3),
                             .row = i / 4,
                             .col = 11 - i,
                             .area = 1e4 * (1 + 0.1 * i)};
    locate(p, n, 5);
    t_assert(p[0].cell != p[1].cell, "two cells");
    struct r2h_bands b;
    struct r2h_raster_info in;
    struct r2h_convert_options o;
    const double cls[] = {1.5};
    const double gt[6] = {500000.0, 250.0, 0, 5200000.0, 0, -250.0};
    one_band(&b, R2H_DT_FLOAT64);
    raster_info(&in, 0, 12, 3, gt);
    r2h_convert_options_init(&o);
    o.aggregate = 1;
    o.resolution = 5;
    o.density_unit = R2H_DENSITY_PER_KM2;
    o.stats = R2H_STAT_COUNT | R2H_STAT_AREA | R2H_STAT_TOTAL | R2H_STAT_MEAN | R2H_STAT_SUM |
              R2H_STAT_FRACTIONS;
    o.classes = cls;
    o.nclasses = 1;
    struct r2h_agg *a = plan(&o, &in, &b);
    t_assert(r2h_agg_rows(a) == R2H_AGG_ROWS_AREA, "wide rows");
    char path[4096];
    temp_path(path, sizeof path, "wide");
    t_assert(write_partition(a, &b, 5, 12, p, n, path) == 2, "two cells");
    struct table t;
    double cnt[64], area[64], total[64], mean[64], sum[64], f15[64];
    open_table(&t, path, "h5");
    column(&t, "count", cnt);
    column(&t, "area", area);
    column(&t, "v_total", total);
    column(&t, "v_mean", mean);
    column(&t, "v_sum", sum);
    column(&t, "frac_1.5", f15);
    for (size_t r = 0; r < t.n; r++) {
        const struct expect e = expect_cell(p, n, t.cells[r], 1.5);
        t_assert(cnt[r] == 6, "count");
        t_assert(close_rel(area[r], (double)e.area, 1e-15), "area from the payloads");
        t_assert(close_rel(total[r], (double)(e.wsum / 1e6), 1e-15), "total per km2");
        t_assert(close_rel(mean[r], (double)(e.wsum / e.area), 1e-15), "area-weighted mean");
        t_assert(close_rel(f15[r], (double)(e.cls / e.area), 1e-15), "area-weighted fraction");
    }
    t_assert(sum[0] + sum[1] == 0.5 * 4 + 1.5 * 4 + 2.5 * 4, "plain sums");
    r2h_pq_reader_close(t.r);
    unlink(path);
    r2h_agg_destroy(a);
}

int main(void)
{
    RUN(quad_area_known_answers);
    RUN(rows_carry_what_the_plan_needs);
    RUN(statistics_mode_ties_and_fractions);
    RUN(density_totals_from_row_areas);
    RUN(density_from_payload_areas);
    TEST_MAIN_END();
}
