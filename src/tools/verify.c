/* verify.c - check a dataset: partitions readable and routed right, manifest agrees, input counts
 * and content agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_pq_reader.h"

/* What a partition holds, for comparing with the input (verify --input): pixel datasets, the
 * sum of r2h_row_digest over its rows (cell 0 when cells are strings the reader cannot read);
 * aggregate datasets, the sums of <v>_sum and of <v>_mean x count, the least <v>_min and the
 * greatest <v>_max (each only if the column exists; the mean only without a density unit). */
struct content {
    int kind; /* 0: nothing to compare, 1: cells and values, 2: values only */
    uint64_t digest;
    int has_sum, has_mean, has_min, has_max;
    long double sum, mean_sum;
    double min, max;
};

struct verify {
    const struct r2h_verify_options *opt;
    void (*report)(void *ctx, const char *line);
    void *ctx;
    struct r2h_verify_result *res;
    char root[4096];
    int resolution; /* -1 until the first file tells */
    char value_name[256];
    struct r2h_manifest manifest;
    uint8_t present[R2H_NUM_BASE_CELLS];
    int aggregate;                              /* a partition says raster2h3:mode=aggregate */
    int no_counts;                              /* an aggregate partition has no count column */
    uint64_t pixels[R2H_NUM_BASE_CELLS];        /* pixels per partition: rows, or sum of count */
    int bands[R2H_RASTER_MAX_BANDS];            /* the bands the first partition records */
    int nbands;                                 /* 0 until then */
    struct content content[R2H_NUM_BASE_CELLS]; /* with --input: what each partition holds */
    struct r2h_valid_pixels input;              /* with --input: what the input gives */
    struct r2h_bands layout;                    /* key layout of a partition's value columns */
    char srs[1024];                             /* the --srs the dataset was made with, if any */
    int unscaled;                               /* the dataset was made with --unscale */
    char method[1024];                /* footer raster2h3:method ("" = one row per pixel) */
    char nodata[2048];                /* the first partition's raster2h3:nodata, or "" */
    char fp[R2H_NUM_BASE_CELLS][24];  /* each partition's raster2h3:fingerprint, or "none" */
    char *source[R2H_NUM_BASE_CELLS]; /* and raster2h3:source (owned) */
    char manifest_fp[64];             /* the manifest's fingerprint, "" without one */
    /* The dataset could not be read for a reason that is not a finding about it (transient
     * network failure, permission): verify stops with this status and message. */
    enum r2h_status fatal;
    char fatal_msg[1024];
};

/* Whether st (of fetching a file of the dataset) means verify cannot check: a transient
 * failure or missing permission is an error of the run (exit 75 / 4), not a problem found. */
static int cannot_check(struct verify *v, enum r2h_status st, const char *msg)
{
    if (st != R2H_ERR_TRANSIENT && st != R2H_ERR_IO)
        return 0;
    if (v->fatal == R2H_OK) {
        v->fatal = st;
        r2h_fmt(v->fatal_msg, sizeof v->fatal_msg, "verify cannot read the dataset: %s", msg);
    }
    return 1;
}

void r2h_verify_options_init(struct r2h_verify_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
    opt->work_unit = -1;
}

/* Band numbers of a footer's raster2h3:band list ("3" or "1,2,5") into v (first file only);
 * returns how many the list has (1 if there is none). */
static int footer_bands(struct verify *v, const char *list)
{
    int n = 0, b[R2H_RASTER_MAX_BANDS];
    for (const char *p = list; p && *p && n < R2H_RASTER_MAX_BANDS;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p)
            break;
        b[n++] = (int)x;
        p = *end == ',' ? end + 1 : end;
    }
    if (!v->nbands && n) {
        memcpy(v->bands, b, (size_t)n * sizeof b[0]);
        v->nbands = n;
    }
    return n ? n : 1;
}

static void problem(struct verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct verify *v, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    v->res->problems++;
    if (v->report)
        v->report(v->ctx, line);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = r2h_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* What the footer says produced partition bc: fingerprint and source (mixed-run check), and the
 * NoData list of the first partition (verify --input counts with it). */
static void record_identity(struct verify *v, const struct r2h_pq_reader *r, int bc)
{
    struct r2h_part_meta pm;
    r2h_part_meta_read(r, &pm);
    const char *fp = pm.fingerprint;
    const char *src = pm.source;
    const char *nd = pm.nodata;
    r2h_fmt(v->fp[bc], sizeof v->fp[bc], "%s", fp ? fp : "none");
    r2h_free(v->source[bc]);
    v->source[bc] = dup_str(src ? src : "(unknown)");
    if (!v->nodata[0] && nd)
        r2h_fmt(v->nodata, sizeof v->nodata, "%s", nd);
}

/* Every partition must come from one run: a work unit rerun with another input, or a partition
 * copied in, leaves files whose fingerprint differs. The reference is the manifest's
 * fingerprint when partitions carry it, else the one most partitions carry (first on ties). */
static void check_fingerprints(struct verify *v)
{
    int ref = -1, best = 0;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        if (!v->present[bc])
            continue;
        int n = 0;
        for (int k = 0; k < R2H_NUM_BASE_CELLS; k++)
            n += v->present[k] && strcmp(v->fp[k], v->fp[bc]) == 0;
        if (strcmp(v->fp[bc], v->manifest_fp) == 0)
            n += R2H_NUM_BASE_CELLS; /* the manifest's run wins */
        if (n > best) {
            best = n;
            ref = bc;
        }
    }
    if (ref < 0)
        return;
    int nref = 0;
    for (int k = 0; k < R2H_NUM_BASE_CELLS; k++)
        nref += v->present[k] && strcmp(v->fp[k], v->fp[ref]) == 0;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        if (v->present[bc] && strcmp(v->fp[bc], v->fp[ref]) != 0)
            problem(v,
                    "h0=%015llx: fingerprint %s (source %s) differs from %s (source %s) of the "
                    "other %d partition%s: written by another run",
                    (unsigned long long)r2h_index_res0_cell(bc), v->fp[bc],
                    v->source[bc] ? v->source[bc] : "?", v->fp[ref],
                    v->source[ref] ? v->source[ref] : "?", nref, nref == 1 ? "" : "s");
}

/* Every visible file in a partition directory is read by pyarrow, DuckDB and Polars as part of
 * the partition: anything but data_0.parquet doubles or corrupts it. Hidden files are skipped by
 * the readers (and are a killed run's temporaries, removed by the next run). */
static void check_partition_dir(struct verify *v, const struct r2h_dataset_entry *dir)
{
    for (size_t k = 0; k < dir->nfiles; k++)
        if (dir->files[k].kind == R2H_DATASET_STRAY)
            problem(v, "%s/%s: unexpected file in a partition (readers include it in the data)",
                    dir->name, dir->files[k].name);
}

/* Check the cells of one row group: valid, resolution, base cell, ascending after *last. */
static uint64_t check_cells(struct verify *v, const char *name, int bc, const uint64_t *c, size_t n,
                            uint64_t *last, int unique)
{
    uint64_t bad = 0, unsorted = 0, dups = 0;
    for (size_t i = 0; i < n; i++) {
        const uint64_t x = c[i];
        int ok = ((x >> 59) & 0xf) == 1 && (int)((x >> 52) & 0xf) == v->resolution &&
                 r2h_index_base_cell(x) == bc && !(x >> 63);
        bad += !ok;
        unsorted += x < *last;
        dups += unique && x == *last;
        *last = x;
    }
    if (dups)
        problem(v, "%s: %llu duplicate cells in an aggregate dataset", name,
                (unsigned long long)dups);
    if (bad)
        problem(v, "%s: %llu rows whose cell is not a resolution-%d cell of this partition", name,
                (unsigned long long)bad, v->resolution);
    if (unsorted)
        problem(v, "%s: cells not sorted (%llu descents)", name, (unsigned long long)unsorted);
    return bad;
}

/* The pixel type a Parquet column type holds (0 for strings). */
static int dtype_of(enum r2h_pq_type t, enum r2h_dtype *dt)
{
    static const enum r2h_dtype m[] = {R2H_DT_INT8,    R2H_DT_UINT8,  R2H_DT_INT16, R2H_DT_UINT16,
                                       R2H_DT_INT32,   R2H_DT_UINT32, R2H_DT_INT64, R2H_DT_UINT64,
                                       R2H_DT_FLOAT32, R2H_DT_FLOAT64};
    if ((unsigned)t >= sizeof m / sizeof m[0])
        return 0;
    *dt = m[t];
    return 1;
}

/* Column col of row group rg (n rows) read through buf (n * 8 bytes) into out as doubles. */
static int read_doubles(struct r2h_pq_reader *r, size_t rg, int col, uint64_t n, void *buf,
                        double *out)
{
    enum r2h_pq_type t;
    enum r2h_dtype dt;
    if (r2h_pq_reader_column(r, (size_t)col, NULL, &t, NULL) != R2H_OK || !dtype_of(t, &dt) ||
        r2h_pq_reader_read_column(r, rg, (size_t)col, buf, NULL) != R2H_OK)
        return 0;
    const size_t sz = r2h_dtype_size(dt);
    for (uint64_t i = 0; i < n; i++) {
        union r2h_value x;
        memcpy(&x, (const unsigned char *)buf + i * sz, sz);
        out[i] = r2h_value_double(dt, &x);
    }
    return 1;
}

/* Pixel rows: the sum of r2h_row_digest(cell, key) with key rebuilt from the value columns (the
 * first nvals columns other than the cell column) as convert builds it (r2h_bands_key). */
static void pixel_content(struct verify *v, struct r2h_pq_reader *r, const char *dirname, int ccol,
                          int cells, int nvals, struct content *c)
{
    struct r2h_bands *b = &v->layout;
    int col[R2H_RASTER_MAX_BANDS];
    char err[256];
    b->n = 0;
    for (int i = 0; i < (int)r2h_pq_reader_num_columns(r) && b->n < nvals; i++) {
        enum r2h_pq_type t;
        if (i == ccol)
            continue;
        if (r2h_pq_reader_column(r, (size_t)i, NULL, &t, NULL) != R2H_OK ||
            !dtype_of(t, &b->dt[b->n]))
            break;
        col[b->n++] = i;
    }
    if (b->n != nvals || r2h_bands_layout(b, err, sizeof err) != R2H_OK) {
        problem(v, "%s: no %d numeric value column%s beside the cell column; content not compared",
                dirname, nvals, nvals == 1 ? "" : "s");
        return;
    }
    uint64_t sum = 0;
    int ok = 1;
    for (size_t rg = 0; ok && rg < r2h_pq_reader_num_row_groups(r); rg++) {
        const uint64_t n = r2h_pq_reader_row_group_rows(r, rg);
        uint64_t *cell = r2h_calloc((size_t)n + 1, 8), *key = r2h_calloc((size_t)n + 1, 8);
        unsigned char *buf = r2h_malloc((size_t)n * 8 + 8);
        ok = cell && key && buf &&
             (!cells || r2h_pq_reader_read_column(r, rg, (size_t)ccol, cell, NULL) == R2H_OK);
        for (int i = 0; ok && i < b->n; i++) {
            const size_t sz = r2h_dtype_size(b->dt[i]);
            ok = r2h_pq_reader_read_column(r, rg, (size_t)col[i], buf, NULL) == R2H_OK;
            for (uint64_t j = 0; ok && j < n; j++)
                key[j] |= r2h_narrow_key(b->dt[i], buf + j * sz) << b->shift[i];
        }
        for (uint64_t j = 0; ok && j < n; j++)
            sum += r2h_row_digest(cell[j], key[j]);
        r2h_free(cell);
        r2h_free(key);
        r2h_free(buf);
    }
    if (ok) { /* an unreadable row group is reported by check_partition */
        c->kind = cells ? 1 : 2;
        c->digest = sum;
    }
}

/* Aggregate rows: sums of <v>_sum and <v>_mean x count, extremes of <v>_min and <v>_max. */
static void aggregate_content(struct verify *v, struct r2h_pq_reader *r, struct content *c)
{
    struct r2h_part_meta pm;
    r2h_part_meta_read(r, &pm);
    const char *vn = v->value_name, *spec = pm.aggregate;
    const int density = !spec || !strstr(spec, "density=none");
    static const char *const suffix[] = {"sum", "mean", "min", "max"};
    int col[4], cnt = r2h_pq_reader_find_column(r, "count");
    for (int k = 0; k < 4; k++) {
        char name[300];
        r2h_fmt(name, sizeof name, "%s_%s", vn, suffix[k]);
        col[k] = r2h_pq_reader_find_column(r, name);
    }
    if (density || cnt < 0)
        col[1] = -1; /* an area-weighted mean, or no count to weigh it with */
    c->min = INFINITY;
    c->max = -INFINITY;
    int ok = 1;
    for (size_t rg = 0; ok && rg < r2h_pq_reader_num_row_groups(r); rg++) {
        const uint64_t n = r2h_pq_reader_row_group_rows(r, rg);
        double *x = r2h_malloc((size_t)n * 8 + 8), *w = r2h_malloc((size_t)n * 8 + 8);
        void *buf = r2h_malloc((size_t)n * 8 + 8);
        ok = x && w && buf && (col[1] < 0 || read_doubles(r, rg, cnt, n, buf, w));
        for (int k = 0; ok && k < 4; k++) {
            if (col[k] < 0)
                continue;
            ok = read_doubles(r, rg, col[k], n, buf, x);
            for (uint64_t i = 0; ok && i < n; i++) {
                if (k == 0)
                    c->sum += x[i];
                else if (k == 1)
                    c->mean_sum += (long double)x[i] * w[i];
                else if (k == 2)
                    c->min = fmin(c->min, x[i]);
                else
                    c->max = fmax(c->max, x[i]);
            }
        }
        r2h_free(x);
        r2h_free(w);
        r2h_free(buf);
    }
    c->has_sum = ok && col[0] >= 0;
    c->has_mean = ok && col[1] >= 0;
    c->has_min = ok && col[2] >= 0;
    c->has_max = ok && col[3] >= 0;
}

/* Read every row group of one partition file; record rows and value range in the manifest. */
static void check_partition(struct verify *v, int bc, const char *dirname)
{
    char path[4400], err[512];
    r2h_fmt(path, sizeof path, "%s/%s/" R2H_DATASET_PART_FILE, v->root, dirname);
    struct r2h_pq_reader *r = NULL;
    enum r2h_status fst = r2h_partition_fetch(path, &r, err, sizeof err);
    if (fst != R2H_OK) {
        if (!cannot_check(v, fst, err))
            problem(v, "%s: unreadable: %s", dirname, err);
        return;
    }
    struct r2h_part_meta pm;
    r2h_part_meta_read(r, &pm);
    const char *res_s = pm.resolution;
    int res = res_s ? atoi(res_s) : -1;
    if (v->resolution < 0)
        v->resolution = res;
    /* overlay: one row per cell, its statistics by name; rows are what the input recounts */
    int ccol, mincol, maxcol, overlay, agg;
    r2h_partition_columns(r, &pm, v->resolution, &ccol, &mincol, &maxcol, &overlay, &agg);
    const int extended = agg || pm.aggregate || overlay;
    if (agg)
        v->aggregate = 1;
    const int nvals = footer_bands(v, pm.band);
    const char *srs = pm.srs;
    if (srs && !v->srs[0])
        r2h_fmt(v->srs, sizeof v->srs, "%s", srs);
    const char *unscaled = pm.unscaled;
    if (unscaled && strcmp(unscaled, "true") == 0)
        v->unscaled = 1;
    if (pm.method && !v->method[0])
        r2h_fmt(v->method, sizeof v->method, "%s", pm.method);
    record_identity(v, r, bc);
    if (res != v->resolution || ccol < 0 ||
        (!extended && r2h_pq_reader_num_columns(r) != (size_t)nvals + 1)) {
        problem(v, "%s: resolution %d / columns differ from the dataset's (resolution %d)", dirname,
                res, v->resolution);
        r2h_pq_reader_close(r);
        return;
    }
    const char *vcname = pm.value_column;
    int vcol = extended ? -1 : ccol == 0 ? 1 : 0, cntcol = -1;
    if (extended && vcname) {
        vcol = r2h_pq_reader_find_column(r, vcname);
        cntcol = agg ? r2h_pq_reader_find_column(r, "count") : -1;
    }
    if (agg && cntcol < 0)
        v->no_counts = 1;
    const char *vname = NULL;
    enum r2h_pq_type vtype, ctype = R2H_PQ_UINT64;
    int optional = 0;
    r2h_pq_reader_column(r, (size_t)ccol, NULL, &ctype, NULL);
    if (vcol >= 0)
        r2h_pq_reader_column(r, (size_t)vcol, &vname, &vtype, &optional);
    if (!v->value_name[0])
        r2h_fmt(v->value_name, sizeof v->value_name, "%s", vname ? vname : vcname ? vcname : "");
    uint64_t pixels = 0;
    struct r2h_manifest_part *mp = &v->manifest.parts[bc];
    r2h_out_exists(path, &mp->bytes);
    mp->min = INFINITY;
    mp->max = -INFINITY;
    uint64_t last = 0;
    for (size_t rg = 0; rg < r2h_pq_reader_num_row_groups(r); rg++) {
        uint64_t n = r2h_pq_reader_row_group_rows(r, rg);
        uint64_t *cells = r2h_malloc((size_t)n * 8 + 8);
        double *vals = r2h_malloc((size_t)n * 8 + 8);
        uint8_t *valid = r2h_malloc((size_t)n + 1);
        enum r2h_status rst = R2H_OK;
        if (cells && vals && valid) {
            if (ctype != R2H_PQ_STRING)
                rst = r2h_pq_reader_read_column(r, rg, (size_t)ccol, cells, NULL);
            if (rst == R2H_OK && vcol >= 0)
                rst = r2h_pq_reader_read_column(r, rg, (size_t)vcol, vals, valid);
            if (rst == R2H_OK && cntcol >= 0)
                rst = r2h_pq_reader_read_column(r, rg, (size_t)cntcol, vals, NULL);
        }
        if (!cells || !vals || !valid) {
            problem(v, "%s: out of memory reading row group %zu", dirname, rg);
        } else if (rst == R2H_ERR_TRANSIENT) { /* a remote partition is read range by range */
            cannot_check(v, rst, r2h_pq_reader_errmsg(r));
        } else if (rst != R2H_OK) {
            problem(v, "%s: row group %zu unreadable: %s", dirname, rg, r2h_pq_reader_errmsg(r));
        } else {
            if (ctype != R2H_PQ_STRING) /* string cells: the reader cannot check them */
                check_cells(v, dirname, bc, cells, (size_t)n, &last, agg || overlay);
            if (cntcol >= 0)
                for (uint64_t i = 0; i < n; i++)
                    pixels += (uint64_t)((const int64_t *)vals)[i];
            int has = 0;
            double lo, hi;
            uint64_t nulls;
            if (mincol >= 0 &&
                r2h_pq_reader_stats(r, rg, (size_t)mincol, &has, &lo, &hi, &nulls) == R2H_OK && has)
                mp->min = fmin(mp->min, lo);
            if (maxcol >= 0 &&
                r2h_pq_reader_stats(r, rg, (size_t)maxcol, &has, &lo, &hi, &nulls) == R2H_OK && has)
                mp->max = fmax(mp->max, hi);
        }
        r2h_free(cells);
        r2h_free(vals);
        r2h_free(valid);
    }
    if (v->opt->input && agg)
        aggregate_content(v, r, &v->content[bc]);
    else if (v->opt->input && !overlay) /* overlay: the input recounts its rows */
        pixel_content(v, r, dirname, ccol, ctype != R2H_PQ_STRING, nvals, &v->content[bc]);
    mp->rows = r2h_pq_reader_num_rows(r);
    v->pixels[bc] = agg ? pixels : mp->rows;
    v->res->rows += mp->rows;
    v->res->partitions++;
    v->present[bc] = 1;
    r2h_pq_reader_close(r);
}

/* Compare the manifest (if any) with the partitions found. */
static void check_manifest(struct verify *v)
{
    char err[1024];
    struct r2h_manifest *m = r2h_calloc(1, sizeof *m);
    if (!m) {
        cannot_check(v, R2H_ERR_IO, "out of memory");
        return;
    }
    enum r2h_status st = r2h_manifest_read(v->root, m, err, sizeof err);
    if (st == R2H_ERR_FORMAT) {
        problem(v, "_manifest.json: malformed (%s): rerun convert, or verify --write-manifest",
                err);
        goto out;
    }
    if (st != R2H_OK) {
        if (cannot_check(v, st, err))
            goto out;
        /* Work units write none, and a run killed before its first partition leaves none: the
         * partitions alone cannot say whether some are missing. */
        if (!v->opt->input && v->opt->work_unit < 0)
            problem(v,
                    "no _manifest.json: completeness unknown; run raster2h3 verify %s --input "
                    "INPUT",
                    v->opt->output);
        goto out;
    }
    if (m->fingerprint)
        r2h_fmt(v->manifest_fp, sizeof v->manifest_fp, "%.40s", m->fingerprint);
    if (m->incomplete)
        problem(v, "_manifest.json: incomplete (\"complete\": false): the run that wrote it did "
                   "not finish; rerun convert");
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        const struct r2h_manifest_part *p = &m->parts[bc];
        const unsigned long long c = r2h_index_res0_cell(bc);
        if (v->opt->work_unit >= 0 && bc != v->opt->work_unit)
            continue;
        if (p->listed && !v->present[bc])
            problem(v, "manifest lists h0=%015llx but the partition is missing or unreadable", c);
        else if (p->listed && !m->incomplete && p->rows != v->manifest.parts[bc].rows)
            problem(v, "manifest says h0=%015llx has %llu rows, the file has %llu", c,
                    (unsigned long long)p->rows, (unsigned long long)v->manifest.parts[bc].rows);
    }
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        if (!m->parts[bc].listed && v->present[bc] &&
            (v->opt->work_unit < 0 || bc == v->opt->work_unit))
            problem(v, "h0=%015llx is not in the manifest",
                    (unsigned long long)r2h_index_res0_cell(bc));
out:
    r2h_manifest_clear(m);
    r2h_free(m);
}

/* Partition bc's content against the input's (its counts agree, or an aggregate has no count
 * column); the first difference found is the partition's one problem line. Sums agree to 1e-9
 * of the sum of the values' magnitudes (they are added in other orders); digests and extremes
 * exactly. */
static void check_content(struct verify *v, int bc)
{
    const struct content *c = &v->content[bc];
    const struct r2h_valid_pixels *in = &v->input;
    const unsigned long long h0 = (unsigned long long)r2h_index_res0_cell(bc);
    const char *vn = v->value_name;
    const long double tol = 1e-9L * in->abs_sum[bc];
    if (c->kind == 1 && c->digest != in->digest[bc])
        problem(v,
                "h0=%015llx: the rows' cells and values differ from the input's valid pixels "
                "there (checksum %016llx, the input's %016llx)",
                h0, (unsigned long long)c->digest, (unsigned long long)in->digest[bc]);
    else if (c->kind == 2 && c->digest != in->value_digest[bc])
        problem(v,
                "h0=%015llx: the rows' values differ from the input's valid pixels there "
                "(checksum %016llx, the input's %016llx)",
                h0, (unsigned long long)c->digest, (unsigned long long)in->value_digest[bc]);
    else if (c->has_sum && fabsl(c->sum - in->sum[bc]) > tol)
        problem(v, "h0=%015llx: %s_sum adds up to %.17g, the input's values there to %.17g", h0, vn,
                (double)c->sum, (double)in->sum[bc]);
    else if (c->has_mean && fabsl(c->mean_sum - in->sum[bc]) > tol)
        problem(v,
                "h0=%015llx: %s_mean x count adds up to %.17g, the input's values there to "
                "%.17g",
                h0, vn, (double)c->mean_sum, (double)in->sum[bc]);
    else if (c->has_min && in->pixels[bc] && c->min != in->min[bc])
        problem(v, "h0=%015llx: the least %s_min is %.17g, the input's least value there %.17g", h0,
                vn, c->min, in->min[bc]);
    else if (c->has_max && in->pixels[bc] && c->max != in->max[bc])
        problem(v,
                "h0=%015llx: the greatest %s_max is %.17g, the input's greatest value there "
                "%.17g",
                h0, vn, c->max, in->max[bc]);
}

/* The NoData the dataset was made with, when the footer's list (one value per band, "none" for
 * a band without) gives one number for every band: then it is what --nodata was, or what every
 * band has itself, and overriding with it counts the same pixels convert wrote. */
static int recorded_nodata(const char *list, double *out)
{
    int n = 0;
    double first = 0;
    for (const char *p = list; *p;) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || (*end && *end != ','))
            return 0;
        if (n++ == 0)
            first = x;
        else if (!(x == first || (isnan(x) && isnan(first))))
            return 0;
        p = *end ? end + 1 : end;
    }
    if (n)
        *out = first;
    return n > 0;
}

static enum r2h_status check_input(struct verify *v, char *err, size_t errlen)
{
    const struct r2h_verify_options *o = v->opt;
    struct r2h_convert_options co;
    r2h_convert_options_init(&co);
    co.input = o->input;
    co.output = "-";
    /* The bands asked for, else those the dataset records. Column names do not matter here. */
    static const char *const names[] = {"v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"};
    co.band = o->band > 0 ? o->band : v->nbands == 1 ? v->bands[0] : 1;
    if (o->nbands > 0 || (o->band <= 0 && v->nbands > 1)) {
        co.bands = o->nbands > 0 ? o->bands : v->bands;
        co.nbands = o->nbands > 0 ? o->nbands : v->nbands;
        co.value_names = co.nbands <= 8 ? names : NULL;
        co.nvalue_names = co.nbands;
    }
    co.has_nodata = o->has_nodata;
    co.nodata = o->nodata;
    co.srs = o->srs && *o->srs ? o->srs : v->srs[0] ? v->srs : NULL; /* else as converted */
    co.unscale = v->unscaled; /* values were written as value * scale + offset */
    if (strncmp(v->method, "overlay", 7) == 0) {
        co.method = R2H_METHOD_OVERLAY;
        const char *m = strstr(v->method, "min_coverage=");
        co.min_coverage = m ? strtod(m + 13, NULL) : 0;
    }
    if (strncmp(v->method, "sample", 6) == 0) {
        co.method = R2H_METHOD_SAMPLE;
        const char *k = strstr(v->method, "resample=");
        k = k ? k + 9 : "nearest";
        co.resample = strcmp(k, "bilinear") == 0 ? R2H_RESAMPLE_BILINEAR
                      : strcmp(k, "cubic") == 0  ? R2H_RESAMPLE_CUBIC
                                                 : R2H_RESAMPLE_NEAREST;
    }
    if (!o->has_nodata)
        co.has_nodata = recorded_nodata(v->nodata, &co.nodata);
    co.work_unit = o->work_unit;
    co.threads = o->threads;
    co.resolution = v->resolution >= 0 ? v->resolution : 8;
    co.progress = R2H_PROGRESS_NONE;
    const struct r2h_valid_pixels *in = &v->input;
    enum r2h_status st = r2h_count_valid(&co, &v->input, err, errlen);
    if (st != R2H_OK)
        return st;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        uint64_t have = v->present[bc] ? v->pixels[bc] : 0;
        if (!v->no_counts && have != in->pixels[bc])
            problem(v, "h0=%015llx: %llu %s, the input has %llu valid pixels there",
                    (unsigned long long)r2h_index_res0_cell(bc), (unsigned long long)have,
                    v->aggregate ? "pixels counted" : "rows", (unsigned long long)in->pixels[bc]);
        else if (v->present[bc])
            check_content(v, bc);
    }
    return R2H_OK;
}

enum r2h_status r2h_verify(const struct r2h_verify_options *opt, struct r2h_verify_result *res,
                           void (*report)(void *ctx, const char *line), void *ctx, char *errbuf,
                           size_t errbuf_len)
{
    struct r2h_verify_result scratch;
    struct r2h_verify_options o;
    r2h_verify_options_init(&o);
    enum r2h_status st0 =
        r2h_options_copy(&o, sizeof o, opt, opt ? opt->struct_size : 0,
                         offsetof(struct r2h_verify_options, write_manifest) + sizeof(int),
                         "r2h_verify_options_init", errbuf, errbuf_len);
    if (st0 != R2H_OK)
        return st0;
    o.struct_size = sizeof o;
    char sub[4096]; /* --variable: the subdataset is the input */
    if (o.variable && o.input && *o.input) {
        st0 = r2h_input_variable(o.input, o.variable, sub, sizeof sub, errbuf, errbuf_len);
        if (st0 != R2H_OK)
            return st0;
        o.input = sub;
    }
    opt = &o;
    struct verify *v = r2h_calloc(1, sizeof *v);
    if (!v) {
        r2h_fmt(errbuf, errbuf_len, "out of memory");
        return R2H_ERR_NOMEM;
    }
    v->opt = opt;
    v->report = report;
    v->ctx = ctx;
    v->res = res ? res : &scratch;
    memset(v->res, 0, sizeof *v->res);
    v->resolution = -1;
    r2h_out_root(opt->output, v->root, sizeof v->root);
    enum r2h_status st = R2H_OK;
    struct r2h_dataset_listing ls = {0};
    if (opt->write_manifest && (!opt->input || opt->work_unit >= 0)) {
        /* Without the input, or for one work unit, a partial dataset would be recorded as whole. */
        r2h_fmt(errbuf, errbuf_len,
                "verify --write-manifest needs --input INPUT and no --i: the "
                "manifest records the whole dataset as complete");
        st = R2H_ERR_INVALID;
        goto out;
    }
    st = r2h_dataset_list(v->root, &ls, errbuf, errbuf_len);
    if (st != R2H_OK)
        goto out;
    if (ls.missing && !r2h_out_is_remote(v->root)) {
        r2h_fmt(errbuf, errbuf_len, "%s: cannot list the dataset", opt->output);
        st = R2H_ERR_IO;
        goto out;
    }
    for (size_t i = 0; i < ls.n; i++) {
        const struct r2h_dataset_entry *e = &ls.entries[i];
        if (e->kind == R2H_DATASET_HIDDEN || e->kind == R2H_DATASET_MANIFEST_FILE)
            continue; /* hidden temporaries, the manifest */
        if (opt->work_unit >= 0 && e->bc != opt->work_unit)
            continue; /* verify --i N checks partition N only */
        if (e->kind != R2H_DATASET_PARTITION) {
            problem(v, "%s: not a partition directory (h0=<resolution-0 cell>)", e->name);
        } else {
            check_partition_dir(v, e);
            check_partition(v, e->bc, e->name);
        }
        if (v->fatal != R2H_OK)
            break;
    }
    if (v->fatal == R2H_OK && !v->res->partitions && !opt->input)
        problem(v, "no partitions found under %s", opt->output);
    if (v->fatal == R2H_OK) {
        check_manifest(v);
        check_fingerprints(v);
    }
    if (v->fatal != R2H_OK) {
        r2h_fmt(errbuf, errbuf_len, "%s", v->fatal_msg);
        st = v->fatal;
        goto out;
    }
    if (opt->input && (st = check_input(v, errbuf, errbuf_len)) != R2H_OK)
        goto out;
    if (opt->write_manifest && !v->res->problems) {
        struct r2h_manifest *m = &v->manifest;
        m->fingerprint = "verified";
        m->source = opt->input ? opt->input : "";
        m->value_name = v->value_name;
        m->band = opt->band > 0 ? opt->band : v->nbands ? v->bands[0] : 1;
        m->resolution = v->resolution;
        m->total_rows = v->res->rows;
        st = r2h_manifest_write(v->root, m, errbuf, errbuf_len);
        struct r2h_raster *in = NULL;
        double bbox[4];
        if (st == R2H_OK &&
            (st = r2h_raster_open_srs(opt->input, 1, opt->srs, &in, errbuf, errbuf_len)) ==
                R2H_OK &&
            r2h_raster_wgs84_bounds(in, bbox) == R2H_OK)
            st = r2h_stac_write(v->root, m, bbox, errbuf, errbuf_len);
        r2h_raster_close(in);
    }
out:
    r2h_dataset_listing_free(&ls);
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        r2h_free(v->source[bc]);
    r2h_free(v);
    return st;
}
