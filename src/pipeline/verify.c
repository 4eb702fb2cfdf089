/* verify.c - check a dataset: partitions readable and routed right, manifest and input counts agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "r2h_index.h"
#include "r2h_pipeline.h"
#include "r2h_pq_reader.h"

struct verify {
    const struct r2h_verify_options *opt;
    void (*report)(void *ctx, const char *line);
    void *ctx;
    struct r2h_verify_result *res;
    char root[4096];
    int resolution;          /* -1 until the first file tells */
    char value_name[256];
    struct r2h_manifest manifest;
    uint8_t present[R2H_NUM_BASE_CELLS];
    int aggregate;           /* a partition says raster2h3:mode=aggregate */
    int no_counts;           /* an aggregate partition has no count column */
    uint64_t pixels[R2H_NUM_BASE_CELLS]; /* pixels per partition: rows, or sum of count */
    int bands[R2H_RASTER_MAX_BANDS];     /* the bands the first partition records */
    int nbands;                          /* 0 until then */
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

/* Base cell of a directory name "h0=<15 hex>" naming a resolution-0 cell, else -1. */
static int partition_of(const char *name)
{
    if (strncmp(name, "h0=", 3) != 0 || strlen(name) != 18)
        return -1;
    char *end;
    unsigned long long c = strtoull(name + 3, &end, 16);
    if (*end || strspn(name + 3, "0123456789abcdef") != 15)
        return -1;
    int bc = r2h_index_base_cell(c);
    return bc < R2H_NUM_BASE_CELLS && r2h_index_res0_cell(bc) == c ? bc : -1;
}

/* Check the cells of one row group: valid, resolution, base cell, ascending after *last. */
static uint64_t check_cells(struct verify *v, const char *name, int bc, const uint64_t *c,
                            size_t n, uint64_t *last, int unique)
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

/* Read every row group of one partition file; record rows and value range in the manifest. */
static void check_partition(struct verify *v, int bc, const char *dirname)
{
    char path[4400], err[512];
    r2h_fmt(path, sizeof path, "%s/%s/data_0.parquet", v->root, dirname);
    struct r2h_pq_reader *r = NULL;
    enum r2h_status fst = r2h_partition_fetch(path, &r, err, sizeof err);
    if (fst != R2H_OK) {
        if (!cannot_check(v, fst, err))
            problem(v, "%s: unreadable: %s", dirname, err);
        return;
    }
    const char *res_s = r2h_pq_reader_kv(r, "raster2h3:resolution");
    int res = res_s ? atoi(res_s) : -1;
    if (v->resolution < 0)
        v->resolution = res;
    char cellname[8];
    r2h_cell_column_name(v->resolution, cellname, sizeof cellname);
    int ccol = r2h_pq_reader_find_column(r, cellname);
    const char *mode = r2h_pq_reader_kv(r, "raster2h3:mode");
    const int agg = mode && strcmp(mode, "aggregate") == 0;
    const int extended = agg || r2h_pq_reader_kv(r, "raster2h3:aggregate");
    if (agg)
        v->aggregate = 1;
    const int nvals = footer_bands(v, r2h_pq_reader_kv(r, "raster2h3:band"));
    if (res != v->resolution || ccol < 0 ||
        (!extended && r2h_pq_reader_num_columns(r) != (size_t)nvals + 1)) {
        problem(v, "%s: resolution %d / columns differ from the dataset's (resolution %d)",
                dirname, res, v->resolution);
        r2h_pq_reader_close(r);
        return;
    }
    const char *vcname = r2h_pq_reader_kv(r, "raster2h3:value_column");
    int vcol = extended ? -1 : ccol == 0 ? 1 : 0, mincol = -1, maxcol = -1, cntcol = -1;
    if (extended && vcname) {
        char name[300];
        vcol = r2h_pq_reader_find_column(r, vcname);
        r2h_fmt(name, sizeof name, "%s_min", vcname);
        mincol = r2h_pq_reader_find_column(r, name);
        r2h_fmt(name, sizeof name, "%s_max", vcname);
        maxcol = r2h_pq_reader_find_column(r, name);
        cntcol = agg ? r2h_pq_reader_find_column(r, "count") : -1;
    }
    if (vcol >= 0)
        mincol = maxcol = vcol;
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
        if (!cells || !vals || !valid) {
            problem(v, "%s: out of memory reading row group %zu", dirname, rg);
        } else if ((ctype != R2H_PQ_STRING &&
                    r2h_pq_reader_read_column(r, rg, (size_t)ccol, cells, NULL) != R2H_OK) ||
                   (vcol >= 0 &&
                    r2h_pq_reader_read_column(r, rg, (size_t)vcol, vals, valid) != R2H_OK) ||
                   (cntcol >= 0 &&
                    r2h_pq_reader_read_column(r, rg, (size_t)cntcol, vals, NULL) != R2H_OK)) {
            problem(v, "%s: row group %zu unreadable: %s", dirname, rg, r2h_pq_reader_errmsg(r));
        } else {
            if (ctype != R2H_PQ_STRING) /* string cells: the reader cannot check them */
                check_cells(v, dirname, bc, cells, (size_t)n, &last, agg);
            if (cntcol >= 0)
                for (uint64_t i = 0; i < n; i++)
                    pixels += (uint64_t)((const int64_t *)vals)[i];
            int has = 0;
            double lo, hi;
            uint64_t nulls;
            if (mincol >= 0 &&
                r2h_pq_reader_stats(r, rg, (size_t)mincol, &has, &lo, &hi, &nulls) == R2H_OK &&
                has)
                mp->min = fmin(mp->min, lo);
            if (maxcol >= 0 &&
                r2h_pq_reader_stats(r, rg, (size_t)maxcol, &has, &lo, &hi, &nulls) == R2H_OK &&
                has)
                mp->max = fmax(mp->max, hi);
        }
        r2h_free(cells);
        r2h_free(vals);
        r2h_free(valid);
    }
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
    char path[4200];
    r2h_fmt(path, sizeof path, "%s/_manifest.json", v->root);
    uint8_t *data = NULL;
    size_t len = 0;
    char err[1024];
    enum r2h_status st = r2h_out_fetch(path, 16 << 20, &data, &len, err, sizeof err);
    if (st != R2H_OK) {
        cannot_check(v, st, err);
        return; /* no manifest: datasets made by work units have none until verify writes it */
    }
    char *text = r2h_malloc(len + 1);
    if (!text) {
        r2h_free(data);
        return;
    }
    memcpy(text, data, len);
    text[len] = 0;
    r2h_free(data);
    uint8_t listed[R2H_NUM_BASE_CELLS] = {0};
    for (const char *p = text; (p = strstr(p, "{\"h0\": \"")); p++) {
        unsigned long long c = strtoull(p + 8, NULL, 16), rows = 0;
        const char *rp = strstr(p, "\"rows\": ");
        if (rp)
            rows = strtoull(rp + 8, NULL, 10);
        int bc = r2h_index_base_cell(c);
        if (bc >= R2H_NUM_BASE_CELLS)
            continue;
        listed[bc] = 1;
        if (!v->present[bc])
            problem(v, "manifest lists h0=%015llx but the partition is missing or unreadable", c);
        else if (rows != v->manifest.parts[bc].rows)
            problem(v, "manifest says h0=%015llx has %llu rows, the file has %llu", c, rows,
                    (unsigned long long)v->manifest.parts[bc].rows);
    }
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        if (v->present[bc] && !listed[bc])
            problem(v, "h0=%015llx is not in the manifest",
                    (unsigned long long)r2h_index_res0_cell(bc));
    r2h_free(text);
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
    co.work_unit = o->work_unit;
    co.threads = o->threads;
    co.resolution = v->resolution >= 0 ? v->resolution : 8;
    co.progress = R2H_PROGRESS_NONE;
    uint64_t counts[R2H_NUM_BASE_CELLS];
    enum r2h_status st = r2h_count_valid(&co, counts, err, errlen);
    if (st != R2H_OK)
        return st;
    if (v->no_counts)
        return R2H_OK; /* aggregate without a count column: nothing to compare with */
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        uint64_t have = v->present[bc] ? v->pixels[bc] : 0;
        if (have != counts[bc])
            problem(v, "h0=%015llx: %llu %s, the input has %llu valid pixels there",
                    (unsigned long long)r2h_index_res0_cell(bc), (unsigned long long)have,
                    v->aggregate ? "pixels counted" : "rows", (unsigned long long)counts[bc]);
    }
    return R2H_OK;
}

enum r2h_status r2h_verify(const struct r2h_verify_options *opt, struct r2h_verify_result *res,
                           void (*report)(void *ctx, const char *line), void *ctx, char *errbuf,
                           size_t errbuf_len)
{
    struct r2h_verify_result scratch;
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
    r2h_out_configure_network();
    char **entries = NULL;
    enum r2h_status st = r2h_out_readdir(v->root, &entries, errbuf, errbuf_len);
    if (st != R2H_OK)
        goto out;
    if (!entries && !r2h_out_is_remote(v->root)) {
        r2h_fmt(errbuf, errbuf_len, "%s: cannot list the dataset", opt->output);
        st = R2H_ERR_IO;
        goto out;
    }
    for (char **e = entries; e && *e; e++) {
        if (**e == '.' || **e == '_')
            continue; /* hidden temporaries, the manifest */
        int bc = partition_of(*e);
        if (bc < 0)
            problem(v, "%s: not a partition directory (h0=<resolution-0 cell>)", *e);
        else if (opt->work_unit >= 0 && bc != opt->work_unit)
            problem(v, "%s: outside work unit %d", *e, opt->work_unit);
        else
            check_partition(v, bc, *e);
        if (v->fatal != R2H_OK)
            break;
    }
    if (v->fatal == R2H_OK && !v->res->partitions && !opt->input)
        problem(v, "no partitions found under %s", opt->output);
    if (v->fatal == R2H_OK)
        check_manifest(v);
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
    }
out:
    CSLDestroy(entries);
    r2h_free(v);
    return st;
}
