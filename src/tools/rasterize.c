/* rasterize.c - `raster2h3 rasterize`: a dataset drawn back onto a raster grid. Each pixel
 * takes the value of the cell holding its centre (docs/design/0011-rasterize.md). The output
 * is written in strips of rows; a strip's pixels are sorted by cell and looked up in the
 * partitions' row groups (sorted by cell), which a cache holds within a memory budget. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_dataset.h"
#include "r2h_index.h"
#include "r2h_pq_reader.h"
#include "r2h_raster.h"
#include "raster2h3.h"

#define DEFAULT_MEMORY ((uint64_t)1 << 30)
#define MAX_STRIP_ROWS 256

void r2h_rasterize_options_init(struct r2h_rasterize_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->memory = DEFAULT_MEMORY;
}

/* One unit of loading: row groups first .. first+count-1 of a partition, holding the cells
 * lo..hi (from the cell column's statistics; 0..UINT64_MAX without them). */
struct unit {
    uint64_t lo, hi, rows;
    size_t first, count;
    /* Loaded: the rows with a value, in file order. */
    uint64_t *cells;
    double *vals;
    size_t n;
    uint64_t used; /* tick of the last use (LRU) */
};

struct part {
    char path[4400];
    int ccol, vcol;
    struct unit *units;
    size_t nunits;
};

struct run {
    const struct r2h_rasterize_options *o;
    char *err;
    size_t errlen;
    int res;
    enum r2h_pq_type vtype;
    char vname[256];
    int has_stats; /* value statistics seen: vmin..vmax */
    double vmin, vmax;
    struct part *parts[R2H_NUM_BASE_CELLS];
    uint64_t budget, held, tick;
};

/* A cell column: h<digits>, cell_h0 or parent_h<digits>. */
static int is_cell_column(const char *name)
{
    if (strcmp(name, "cell_h0") == 0)
        return 1;
    if (strncmp(name, "parent_h", 8) == 0)
        name += 7;
    return name[0] == 'h' && name[1] && strspn(name + 1, "0123456789") == strlen(name + 1);
}

/* "a, b, c": the value columns of r, for a message. */
static void list_value_columns(const struct r2h_pq_reader *r, char *dst, size_t len)
{
    size_t at = 0;
    dst[0] = 0;
    for (size_t c = 0; c < r2h_pq_reader_num_columns(r) && at + 1 < len; c++) {
        const char *name = NULL;
        r2h_pq_reader_column(r, c, &name, NULL, NULL);
        if (is_cell_column(name))
            continue;
        r2h_fmt(dst + at, len - at, "%s%s", at ? ", " : "", name);
        at += strlen(dst + at);
    }
}

/* Read the footer of the partition of base cell bc at path: its resolution, columns, row
 * groups and value statistics, checked against what earlier partitions said. */
static enum r2h_status scan_part(struct run *ru, int bc, const char *path)
{
    struct r2h_pq_reader *r = NULL;
    enum r2h_status st = r2h_partition_fetch(path, &r, ru->err, ru->errlen);
    if (st != R2H_OK)
        return st == R2H_ERR_FORMAT ? R2H_ERR_INPUT : st;
    struct part *p = r2h_calloc(1, sizeof *p);
    if (!p) {
        st = R2H_ERR_NOMEM;
        goto out;
    }
    ru->parts[bc] = p;
    r2h_fmt(p->path, sizeof p->path, "%s", path);
    struct r2h_part_meta pm;
    r2h_part_meta_read(r, &pm);
    char *end = NULL;
    long res = pm.resolution ? strtol(pm.resolution, &end, 10) : -1;
    if (!pm.resolution || *end || res < 0 || res > R2H_MAX_RES) {
        r2h_fmt(ru->err, ru->errlen,
                "%s: not a raster2h3 partition (no raster2h3:resolution in its footer)", path);
        st = R2H_ERR_INPUT;
        goto out;
    }
    if (ru->res >= 0 && res != ru->res) {
        r2h_fmt(ru->err, ru->errlen, "%s: resolution %ld, other partitions have %d", path, res,
                ru->res);
        st = R2H_ERR_INPUT;
        goto out;
    }
    ru->res = (int)res;
    char cname[16];
    r2h_cell_column_name(ru->res, cname, sizeof cname);
    p->ccol = r2h_pq_reader_find_column(r, cname);
    enum r2h_pq_type ct = R2H_PQ_STRING, vt = R2H_PQ_STRING;
    if (p->ccol >= 0)
        r2h_pq_reader_column(r, (size_t)p->ccol, NULL, &ct, NULL);
    if (p->ccol < 0) {
        r2h_fmt(ru->err, ru->errlen, "%s: no cell column %s", path, cname);
        st = R2H_ERR_INPUT;
        goto out;
    }
    if (ct != R2H_PQ_UINT64 && ct != R2H_PQ_INT64) {
        r2h_fmt(ru->err, ru->errlen,
                "%s: cell column %s is not a 64-bit integer (datasets written with "
                "--cell-format string cannot be rasterized; convert with --cell-format uint64)",
                path, cname);
        st = R2H_ERR_INPUT;
        goto out;
    }
    const char *want = ru->o->column;
    p->vcol = -1;
    if (want) {
        p->vcol = r2h_pq_reader_find_column(r, want);
        if (p->vcol >= 0 && is_cell_column(want))
            p->vcol = -1;
    } else {
        /* as preview, else the first value column */
        p->vcol = r2h_partition_default_column(r, &pm);
        for (size_t c = 0; c < r2h_pq_reader_num_columns(r) && p->vcol < 0; c++) {
            const char *cn = NULL;
            r2h_pq_reader_column(r, c, &cn, NULL, NULL);
            if (!is_cell_column(cn))
                p->vcol = (int)c;
        }
    }
    if (p->vcol < 0) {
        char cols[1024];
        list_value_columns(r, cols, sizeof cols);
        if (want)
            r2h_fmt(ru->err, ru->errlen, "unknown column '%s'; the value columns are: %s", want,
                    cols[0] ? cols : "none");
        else
            r2h_fmt(ru->err, ru->errlen, "%s: no value column", path);
        st = want ? R2H_ERR_INVALID : R2H_ERR_INPUT;
        goto out;
    }
    const char *vn = NULL;
    r2h_pq_reader_column(r, (size_t)p->vcol, &vn, &vt, NULL);
    if (vt == R2H_PQ_STRING) {
        r2h_fmt(ru->err, ru->errlen, "column '%s' is not numeric", vn);
        st = R2H_ERR_INVALID;
        goto out;
    }
    if (ru->vname[0] && vt != ru->vtype) {
        r2h_fmt(ru->err, ru->errlen, "%s: column '%s' has another type than in other partitions",
                path, vn);
        st = R2H_ERR_INPUT;
        goto out;
    }
    ru->vtype = vt;
    r2h_fmt(ru->vname, sizeof ru->vname, "%s", vn);
    const size_t nrg = r2h_pq_reader_num_row_groups(r);
    int stats = 1;
    p->units = r2h_calloc(nrg ? nrg : 1, sizeof *p->units);
    if (!p->units) {
        st = R2H_ERR_NOMEM;
        goto out;
    }
    size_t nu = 0;
    for (size_t rg = 0; rg < nrg; rg++) {
        struct unit *u = &p->units[nu];
        int has = 0;
        uint64_t lo = 0, hi = 0;
        const uint64_t rows = r2h_pq_reader_row_group_rows(r, rg);
        if (r2h_pq_reader_stats_u64(r, rg, (size_t)p->ccol, &has, &lo, &hi) != R2H_OK || !has ||
            (nu && lo < u[-1].hi))
            stats = 0;              /* absent, or overlapping: not sorted by row group */
        if (nu && lo == u[-1].hi) { /* a cell's rows across the boundary: one unit holds them */
            u[-1].hi = hi;
            u[-1].count++;
            u[-1].rows += rows;
        } else {
            *u = (struct unit){.lo = lo, .hi = hi, .rows = rows, .first = rg, .count = 1};
            nu++;
        }
        double vlo, vhi;
        has = 0;
        if (r2h_pq_reader_stats(r, rg, (size_t)p->vcol, &has, &vlo, &vhi, NULL) == R2H_OK && has) {
            ru->vmin = ru->has_stats ? fmin(ru->vmin, vlo) : vlo;
            ru->vmax = ru->has_stats ? fmax(ru->vmax, vhi) : vhi;
            ru->has_stats = 1;
        }
    }
    p->nunits = nu;
    if (!stats && nrg) { /* one unit: every row group */
        uint64_t rows = r2h_pq_reader_num_rows(r);
        memset(p->units, 0, nrg * sizeof *p->units);
        p->units[0] = (struct unit){.lo = 0, .hi = UINT64_MAX, .rows = rows, .count = nrg};
        p->nunits = 1;
    }
out:
    r2h_pq_reader_close(r);
    if (st == R2H_ERR_NOMEM)
        r2h_fmt(ru->err, ru->errlen, "out of memory");
    return st;
}

/* Value i of a column read as type t, as a double. */
static double value_at(const void *vals, enum r2h_pq_type t, size_t i)
{
    switch (t) {
    case R2H_PQ_INT8: return ((const int8_t *)vals)[i];
    case R2H_PQ_UINT8: return ((const uint8_t *)vals)[i];
    case R2H_PQ_INT16: return ((const int16_t *)vals)[i];
    case R2H_PQ_UINT16: return ((const uint16_t *)vals)[i];
    case R2H_PQ_INT32: return ((const int32_t *)vals)[i];
    case R2H_PQ_UINT32: return ((const uint32_t *)vals)[i];
    case R2H_PQ_INT64: return (double)((const int64_t *)vals)[i];
    case R2H_PQ_UINT64: return (double)((const uint64_t *)vals)[i];
    case R2H_PQ_FLOAT: return ((const float *)vals)[i];
    case R2H_PQ_DOUBLE: return ((const double *)vals)[i];
    case R2H_PQ_STRING: break;
    }
    return NAN;
}

static void unload(struct run *ru, struct unit *u)
{
    if (!u->cells)
        return;
    ru->held -= u->rows * 16; /* as allocated */
    r2h_free(u->cells);
    r2h_free(u->vals);
    u->cells = NULL;
    u->vals = NULL;
    u->n = 0;
}

/* Make room for a unit of rows rows: unload the least recently used units (never keep). */
static void make_room(struct run *ru, uint64_t rows, const struct unit *keep)
{
    while (ru->held && ru->held + rows * 16 > ru->budget) {
        struct unit *lru = NULL;
        for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
            struct part *p = ru->parts[bc];
            for (size_t k = 0; p && k < p->nunits; k++)
                if (p->units[k].cells && &p->units[k] != keep &&
                    (!lru || p->units[k].used < lru->used))
                    lru = &p->units[k];
        }
        if (!lru)
            return;
        unload(ru, lru);
    }
}

/* Load unit u of partition p: its rows with a value, checked sorted by cell. */
static enum r2h_status load_unit(struct run *ru, struct part *p, struct unit *u)
{
    make_room(ru, u->rows, u);
    struct r2h_pq_reader *r = NULL;
    enum r2h_status st = r2h_partition_fetch(p->path, &r, ru->err, ru->errlen);
    if (st != R2H_OK)
        return st == R2H_ERR_FORMAT ? R2H_ERR_INPUT : st;
    uint64_t maxrows = 0, kcell = 0; /* kcell: rows of the last cell kept so far */
    for (size_t rg = u->first; rg < u->first + u->count; rg++) {
        uint64_t m = r2h_pq_reader_row_group_rows(r, rg);
        maxrows = m > maxrows ? m : maxrows;
    }
    uint64_t *cells = r2h_malloc((size_t)maxrows * 8 + 8);
    void *vals = r2h_malloc((size_t)maxrows * 8 + 8);
    uint8_t *valid = r2h_malloc((size_t)maxrows + 1);
    u->cells = r2h_malloc((size_t)u->rows * 8 + 8);
    u->vals = r2h_malloc((size_t)u->rows * 8 + 8);
    u->n = 0;
    if (!cells || !vals || !valid || !u->cells || !u->vals) {
        st = R2H_ERR_NOMEM;
        r2h_fmt(ru->err, ru->errlen, "out of memory");
        goto out;
    }
    for (size_t rg = u->first; rg < u->first + u->count && st == R2H_OK; rg++) {
        const size_t m = (size_t)r2h_pq_reader_row_group_rows(r, rg);
        if (u->n + m > u->rows) {
            r2h_fmt(ru->err, ru->errlen, "%s: more rows than its footer says", p->path);
            st = R2H_ERR_INPUT;
            break;
        }
        if (r2h_pq_reader_read_column(r, rg, (size_t)p->ccol, cells, NULL) != R2H_OK ||
            r2h_pq_reader_read_column(r, rg, (size_t)p->vcol, vals, valid) != R2H_OK) {
            r2h_fmt(ru->err, ru->errlen, "%s", r2h_pq_reader_errmsg(r));
            st = R2H_ERR_INPUT;
            break;
        }
        for (size_t i = 0; i < m; i++) {
            if (u->n && cells[i] < u->cells[u->n - 1]) {
                r2h_fmt(ru->err, ru->errlen,
                        "%s: rows are not sorted by cell (see raster2h3 verify)", p->path);
                st = R2H_ERR_INPUT;
                break;
            }
            const double d = value_at(vals, ru->vtype, i);
            if (!valid[i] || isnan(d))
                continue;
            if (u->n && cells[i] == u->cells[u->n - 1]) { /* another row of the same cell */
                double *v = &u->vals[u->n - 1];
                switch (ru->o->reduce) {
                case R2H_REDUCE_MEAN: /* running mean of the k rows so far */
                    *v += (d - *v) / (double)++kcell;
                    break;
                case R2H_REDUCE_MIN: *v = d < *v ? d : *v; break;
                case R2H_REDUCE_MAX: *v = d > *v ? d : *v; break;
                default:
                    r2h_fmt(ru->err, ru->errlen,
                            "%s: cell %015llx has several rows (pixel rows finer than cells?): "
                            "say how to combine them with --reduce mean, min or max",
                            p->path, (unsigned long long)cells[i]);
                    st = R2H_ERR_INVALID;
                }
                if (st != R2H_OK)
                    break;
                continue;
            }
            kcell = 1;
            u->cells[u->n] = cells[i];
            u->vals[u->n] = d;
            u->n++;
        }
    }
out:
    r2h_pq_reader_close(r);
    r2h_free(cells);
    r2h_free(vals);
    r2h_free(valid);
    if (st != R2H_OK) {
        r2h_free(u->cells);
        r2h_free(u->vals);
        u->cells = NULL;
        u->vals = NULL;
        u->n = 0;
        return st;
    }
    ru->held += u->rows * 16;
    return R2H_OK;
}

/* The unit of partition p that holds cell (the first whose range reaches it), NULL if none. */
static struct unit *unit_of(struct part *p, uint64_t cell)
{
    size_t lo = 0, hi = p->nunits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->units[mid].hi < cell)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nunits && p->units[lo].lo <= cell ? &p->units[lo] : NULL;
}

/* Index of the first of u's rows with a cell >= cell, from start on. */
static size_t lower_bound(const struct unit *u, size_t start, uint64_t cell)
{
    size_t lo = start, hi = u->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->cells[mid] < cell)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The output type of a value column type. */
static enum r2h_dtype out_type(enum r2h_pq_type t)
{
    switch (t) {
    case R2H_PQ_UINT8: return R2H_DT_UINT8;
    case R2H_PQ_INT8:
    case R2H_PQ_INT16: return R2H_DT_INT16;
    case R2H_PQ_UINT16: return R2H_DT_UINT16;
    case R2H_PQ_INT32: return R2H_DT_INT32;
    case R2H_PQ_UINT32: return R2H_DT_UINT32;
    case R2H_PQ_FLOAT: return R2H_DT_FLOAT32;
    default: return R2H_DT_FLOAT64;
    }
}

/* Range of an integer output type (floats: 0 and 0). */
static void type_range(enum r2h_dtype t, double *lo, double *hi)
{
    *lo = *hi = 0;
    switch (t) {
    case R2H_DT_UINT8: *hi = UINT8_MAX; break;
    case R2H_DT_UINT16: *hi = UINT16_MAX; break;
    case R2H_DT_UINT32: *hi = UINT32_MAX; break;
    case R2H_DT_INT16:
        *lo = INT16_MIN;
        *hi = INT16_MAX;
        break;
    case R2H_DT_INT32:
        *lo = INT32_MIN;
        *hi = INT32_MAX;
        break;
    default: break;
    }
}

static int is_float(enum r2h_dtype t)
{
    return t == R2H_DT_FLOAT32 || t == R2H_DT_FLOAT64;
}

/* The output type and NoData: the user's, else a default outside the data's range (the
 * statistics), widening the type when both ends of its range are taken. */
static enum r2h_status choose_nodata(struct run *ru, enum r2h_dtype *t, double *nodata)
{
    /* the mean of integers is not an integer */
    *t = ru->o->reduce == R2H_REDUCE_MEAN ? R2H_DT_FLOAT64 : out_type(ru->vtype);
    const struct r2h_rasterize_options *o = ru->o;
    double lo, hi;
    if (o->has_nodata) {
        type_range(*t, &lo, &hi);
        if (!is_float(*t) &&
            !(o->nodata >= lo && o->nodata <= hi && o->nodata == floor(o->nodata))) {
            r2h_fmt(ru->err, ru->errlen, "--nodata %.17g is not a %s value (column '%s')",
                    o->nodata, r2h_dtype_name(*t), ru->vname);
            return R2H_ERR_INVALID;
        }
        *nodata = o->nodata;
        return R2H_OK;
    }
    for (;;) {
        if (is_float(*t)) {
            *nodata = NAN;
            return R2H_OK;
        }
        type_range(*t, &lo, &hi);
        const int unsigned_t = lo == 0;
        const double first = unsigned_t ? hi : lo, second = unsigned_t ? lo : hi;
        const double cand[2] = {first, second};
        for (int i = 0; i < 2; i++)
            if (!ru->has_stats || cand[i] < ru->vmin || cand[i] > ru->vmax) {
                *nodata = cand[i];
                return R2H_OK;
            }
        *t = *t == R2H_DT_UINT8    ? R2H_DT_UINT16
             : *t == R2H_DT_UINT16 ? R2H_DT_UINT32
             : *t == R2H_DT_INT16  ? R2H_DT_INT32
                                   : R2H_DT_FLOAT64;
    }
}

/* Store v as pixel i of a buffer of type t. */
static void put_value(void *buf, enum r2h_dtype t, size_t i, double v)
{
    switch (t) {
    case R2H_DT_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
    case R2H_DT_UINT16: ((uint16_t *)buf)[i] = (uint16_t)v; break;
    case R2H_DT_INT16: ((int16_t *)buf)[i] = (int16_t)v; break;
    case R2H_DT_UINT32: ((uint32_t *)buf)[i] = (uint32_t)v; break;
    case R2H_DT_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case R2H_DT_FLOAT32: ((float *)buf)[i] = (float)v; break;
    default: ((double *)buf)[i] = v; break;
    }
}

struct pix {
    uint64_t cell;
    size_t i; /* index in the strip */
};

static int cmp_pix(const void *a, const void *b)
{
    const struct pix *x = a, *y = b;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* The grid: --like's raster, or the bbox at the resolution in srs. */
static enum r2h_status open_grid(const struct r2h_rasterize_options *o, struct r2h_raster **g,
                                 char *err, size_t errlen)
{
    if (o->like)
        return r2h_raster_open_srs(o->like, 1, o->srs, g, err, errlen);
    const double *b = o->bbox;
    const double dx = o->res_x, dy = o->res_y > 0 ? o->res_y : o->res_x;
    if (!(isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) && b[2] > b[0] &&
          b[3] > b[1])) {
        r2h_fmt(err, errlen, "bad bbox %.17g,%.17g,%.17g,%.17g: W,S,E,N with W < E and S < N", b[0],
                b[1], b[2], b[3]);
        return R2H_ERR_INVALID;
    }
    if (!(isfinite(dx) && dx > 0 && isfinite(dy) && dy > 0)) {
        r2h_fmt(err, errlen, "the resolution must be positive");
        return R2H_ERR_INVALID;
    }
    const double w = ceil((b[2] - b[0]) / dx - 1e-9), h = ceil((b[3] - b[1]) / dy - 1e-9);
    if (!(w >= 1 && h >= 1 && w <= INT_MAX && h <= INT_MAX && w * h <= 1e12)) {
        r2h_fmt(err, errlen, "a grid of %.0f x %.0f pixels is out of range", w, h);
        return R2H_ERR_INVALID;
    }
    const double gt[6] = {b[0], dx, 0, b[3], 0, -dy};
    return r2h_raster_open_grid((int)w, (int)h, gt, o->srs ? o->srs : "EPSG:4326", g, err, errlen);
}

enum r2h_status r2h_rasterize(const struct r2h_rasterize_options *opt, char *errbuf,
                              size_t errbuf_len)
{
    struct r2h_rasterize_options sized;
    r2h_rasterize_options_init(&sized);
    enum r2h_status st =
        r2h_options_copy(&sized, sizeof sized, opt, opt ? opt->struct_size : 0,
                         offsetof(struct r2h_rasterize_options, memory) + sizeof(uint64_t),
                         "r2h_rasterize_options_init", errbuf, errbuf_len);
    if (st != R2H_OK)
        return st;
    sized.struct_size = sizeof sized;
    const struct r2h_rasterize_options *o = &sized;
    if (!o->dataset || !o->out || (o->ncreation_options > 0 && !o->creation_options)) {
        r2h_fmt(errbuf, errbuf_len, "rasterize needs a dataset and an output path");
        return R2H_ERR_INVALID;
    }
    struct run ru = {.o = o, .err = errbuf, .errlen = errbuf_len, .res = -1};
    ru.budget = o->memory ? o->memory : DEFAULT_MEMORY;
    struct r2h_raster *g = NULL;
    struct r2h_raster_writer *w = NULL;
    struct pix *px = NULL;
    void *buf = NULL;
    double *lat = NULL, *lng = NULL;
    uint64_t *rowcells = NULL;
    uint8_t *ok = NULL;
    char root[4096];
    struct r2h_dataset_listing ls;
    st = r2h_dataset_list_output(o->dataset, root, sizeof root, &ls, errbuf, errbuf_len);
    if (st != R2H_OK)
        goto out;
    int nparts = 0;
    for (size_t j = 0; j < ls.n && st == R2H_OK; j++) {
        const struct r2h_dataset_entry *e = &ls.entries[j];
        if (e->kind != R2H_DATASET_PARTITION || e->bc < 0 || e->bc >= R2H_NUM_BASE_CELLS)
            continue;
        char path[4400];
        r2h_fmt(path, sizeof path, "%s/%s/" R2H_DATASET_PART_FILE, root, e->name);
        st = scan_part(&ru, e->bc, path);
        nparts++;
    }
    if (st != R2H_OK)
        goto out;
    if (!nparts) {
        r2h_fmt(errbuf, errbuf_len, "%s: not a raster2h3 dataset (no h0=<cell> partitions)",
                o->dataset);
        st = R2H_ERR_INPUT;
        goto out;
    }
    enum r2h_dtype t;
    double nodata;
    if ((st = choose_nodata(&ru, &t, &nodata)) != R2H_OK)
        goto out;
    if ((st = open_grid(o, &g, errbuf, errbuf_len)) != R2H_OK)
        goto out;
    const struct r2h_raster_info *gi = r2h_raster_get_info(g);
    const int W = gi->width, H = gi->height;
    const size_t tsize = r2h_dtype_size(t);
    /* Strips: up to MAX_STRIP_ROWS rows (a row of 256 x 256 tiles), within an eighth of the
     * budget; the partitions' rows get the rest. */
    const uint64_t per_row = (uint64_t)W * (sizeof(struct pix) + tsize);
    uint64_t rows = ru.budget / 8 / per_row;
    const int strip = rows < 1 ? 1 : rows > MAX_STRIP_ROWS ? MAX_STRIP_ROWS : (int)rows;
    ru.budget -= ru.budget / 8;
    if ((st = r2h_raster_writer_open(o->out, g, t, nodata, o->creation_options,
                                     o->ncreation_options, &w, errbuf, errbuf_len)) != R2H_OK)
        goto out;
    px = r2h_malloc((size_t)W * strip * sizeof *px);
    buf = r2h_malloc((size_t)W * strip * tsize);
    lat = r2h_malloc((size_t)W * sizeof *lat);
    lng = r2h_malloc((size_t)W * sizeof *lng);
    rowcells = r2h_malloc((size_t)W * sizeof *rowcells);
    ok = r2h_malloc((size_t)W);
    if (!px || !buf || !lat || !lng || !rowcells || !ok) {
        st = R2H_ERR_NOMEM;
        r2h_fmt(errbuf, errbuf_len, "out of memory");
        goto out;
    }
    for (int y0 = 0; y0 < H && st == R2H_OK; y0 += strip) {
        const int h = H - y0 < strip ? H - y0 : strip;
        size_t np = 0;
        for (int r = 0; r < h; r++) {
            uint64_t pole = 0, rep = 0;
            if ((st = r2h_raster_locate_row(g, y0 + r, 0, W, lat, lng, ok)) != R2H_OK) {
                r2h_fmt(errbuf, errbuf_len, "out of memory");
                goto out;
            }
            r2h_raster_drop_off_globe(g, y0 + r, 0, W, ok, &pole, &rep);
            r2h_index_cells(lat, lng, ok, (size_t)W, ru.res, rowcells);
            for (int c = 0; c < W; c++) {
                const size_t i = (size_t)r * W + c;
                put_value(buf, t, i, nodata);
                if (rowcells[c] && ru.parts[r2h_index_base_cell(rowcells[c])])
                    px[np++] = (struct pix){rowcells[c], i};
            }
        }
        qsort(px, np, sizeof *px, cmp_pix);
        struct unit *u = NULL;
        struct part *up = NULL; /* u's partition */
        size_t at = 0;
        for (size_t k = 0; k < np && st == R2H_OK; k++) {
            const uint64_t cell = px[k].cell;
            struct part *p = ru.parts[r2h_index_base_cell(cell)];
            if (!u || p != up || cell > u->hi) {
                up = p;
                u = unit_of(p, cell);
                at = 0;
                if (!u)
                    continue;
                if (!u->cells && (st = load_unit(&ru, p, u)) != R2H_OK)
                    break;
                u->used = ++ru.tick;
            }
            if (cell < u->lo)
                continue;
            at = lower_bound(u, at, cell);
            if (at < u->n && u->cells[at] == cell)
                put_value(buf, t, px[k].i, u->vals[at]);
        }
        if (st == R2H_OK)
            st = r2h_raster_writer_write(w, y0, h, buf, errbuf, errbuf_len);
    }
    if (st == R2H_OK) {
        st = r2h_raster_writer_commit(w, errbuf, errbuf_len);
        w = NULL;
    }
out:
    r2h_raster_writer_abort(w);
    r2h_raster_close(g);
    r2h_dataset_listing_free(&ls);
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        struct part *p = ru.parts[bc];
        for (size_t k = 0; p && k < p->nunits; k++)
            unload(&ru, &p->units[k]);
        if (p)
            r2h_free(p->units);
        r2h_free(p);
    }
    r2h_free(px);
    r2h_free(buf);
    r2h_free(lat);
    r2h_free(lng);
    r2h_free(rowcells);
    r2h_free(ok);
    return st;
}
