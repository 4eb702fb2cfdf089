/* info.c - `raster2h3 info`: a dataset summary from the partition footers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_convert.h"
#include "r2h_index.h"
#include "r2h_pq_reader.h"

#define MAX_INFO_COLS 96

/* The text being built; oom once an append failed (later appends are skipped). */
struct sbuf {
    struct r2h_buf b;
    int oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    b->oom = r2h_buf_vprintf(&b->b, fmt, ap) != R2H_OK;
    va_end(ap);
}

static void sb_json_str(struct sbuf *b, const char *s)
{
    if (!b->oom)
        b->oom = r2h_json_string(&b->b, s) != R2H_OK;
}

static const char *type_name(enum r2h_pq_type t)
{
    static const char *const n[] = {"int8",  "uint8",  "int16", "uint16", "int32", "uint32",
                                    "int64", "uint64", "float", "double", "string"};
    return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "?";
}

struct col_info {
    char name[128];
    enum r2h_pq_type type;
    int has;
    double min, max;
};

/* Column statistics print -0 as 0 (a float column's min may be -0.0). */
static double no_neg_zero(double v)
{
    return v == 0.0 ? 0.0 : v;
}

/* The distinct runs (fingerprint, source) that wrote the partitions: more than one means the
 * dataset mixes runs (a work unit rerun with another input, a partition copied in). */
struct runs_seen {
    int n;
    struct {
        char fp[24];
        char source[1024];
    } run[122];
};

static void note_run(struct runs_seen *rs, const char *fp, const char *source)
{
    fp = fp ? fp : "none";
    source = source ? source : "";
    for (int i = 0; i < rs->n; i++)
        if (strcmp(rs->run[i].fp, fp) == 0 && strcmp(rs->run[i].source, source) == 0)
            return;
    if (rs->n == 122)
        return;
    r2h_fmt(rs->run[rs->n].fp, sizeof rs->run[rs->n].fp, "%s", fp);
    r2h_fmt(rs->run[rs->n].source, sizeof rs->run[rs->n].source, "%s", source);
    rs->n++;
}

static void json_num(struct sbuf *b, double v)
{
    if (!b->oom)
        b->oom = r2h_json_number(&b->b, no_neg_zero(v)) != R2H_OK;
}

enum r2h_status r2h_info(const char *output, int json, char **out, char *errbuf, size_t errbuf_len)
{
    char root[4096];
    *out = NULL;
    struct r2h_dataset_listing ls;
    enum r2h_status lst =
        r2h_dataset_list_output(output, root, sizeof root, &ls, errbuf, errbuf_len);
    if (lst != R2H_OK) {
        r2h_dataset_listing_free(&ls);
        return lst;
    }
    struct col_info *cols = r2h_calloc(MAX_INFO_COLS, sizeof *cols);
    struct runs_seen *seen = r2h_calloc(1, sizeof *seen);
    size_t ncols = 0;
    int parts = 0, unreadable = 0;
    uint64_t rows = 0, bytes = 0;
    char resolution[16] = "?", mode[32] = "?", source[1024] = "", version[64] = "", h3v[32] = "",
         spec[1024] = "", value[256] = "", scale[2048] = "", offset[2048] = "", unit[4096] = "",
         unscaled[16] = "", method[1024] = "";
    enum r2h_status st = R2H_OK;
    if (!cols || !seen) {
        st = R2H_ERR_NOMEM;
        goto out;
    }
    for (size_t j = 0; j < ls.n; j++) {
        const struct r2h_dataset_entry *e = &ls.entries[j];
        if (e->kind != R2H_DATASET_PARTITION && e->kind != R2H_DATASET_BAD_KEY)
            continue; /* what the readers take for partitions: every h0= directory */
        char path[4400], err[512];
        r2h_fmt(path, sizeof path, "%s/%s/" R2H_DATASET_PART_FILE, root, e->name);
        struct r2h_pq_reader *r = r2h_partition_open(path, err, sizeof err);
        if (!r) {
            unreadable++;
            continue;
        }
        parts++;
        struct r2h_part_meta pm;
        r2h_part_meta_read(r, &pm);
        note_run(seen, pm.fingerprint, pm.source);
        rows += r2h_pq_reader_num_rows(r);
        bytes += r2h_pq_reader_file_size(r);
        struct {
            const char *v;
            char *dst;
            size_t len;
        } kv[] = {{pm.resolution, resolution, sizeof resolution},
                  {pm.mode, mode, sizeof mode},
                  {pm.method, method, sizeof method},
                  {pm.source, source, sizeof source},
                  {pm.version, version, sizeof version},
                  {pm.h3_version, h3v, sizeof h3v},
                  {pm.aggregate, spec, sizeof spec},
                  {pm.value_column, value, sizeof value},
                  {pm.scale, scale, sizeof scale},
                  {pm.offset, offset, sizeof offset},
                  {pm.unit, unit, sizeof unit},
                  {pm.unscaled, unscaled, sizeof unscaled}};
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
            const char *v = kv[i].v;
            if (v)
                r2h_fmt(kv[i].dst, kv[i].len, "%s", v);
        }
        for (size_t c = 0; c < r2h_pq_reader_num_columns(r); c++) {
            const char *name = NULL;
            enum r2h_pq_type t;
            r2h_pq_reader_column(r, c, &name, &t, NULL);
            size_t k = 0;
            while (k < ncols && strcmp(cols[k].name, name) != 0)
                k++;
            if (k == ncols) {
                if (ncols == MAX_INFO_COLS)
                    continue;
                ncols++;
                r2h_fmt(cols[k].name, sizeof cols[k].name, "%s", name);
                cols[k].type = t;
                cols[k].min = INFINITY;
                cols[k].max = -INFINITY;
            }
            const int is_cell =
                (name[0] == 'h' && strspn(name + 1, "0123456789") == strlen(name + 1)) ||
                strncmp(name, "parent_h", 8) == 0 || strcmp(name, "cell_h0") == 0;
            for (size_t rg = 0; !is_cell && rg < r2h_pq_reader_num_row_groups(r); rg++) {
                int has = 0;
                double lo, hi;
                if (r2h_pq_reader_stats(r, rg, c, &has, &lo, &hi, NULL) == R2H_OK && has) {
                    cols[k].has = 1;
                    cols[k].min = fmin(cols[k].min, lo);
                    cols[k].max = fmax(cols[k].max, hi);
                }
            }
        }
        r2h_pq_reader_close(r);
    }
    struct sbuf b = {0};
    if (json) {
        sb_printf(&b, "{\"dataset\": ");
        sb_json_str(&b, output);
        sb_printf(&b,
                  ", \"partitions\": %d, \"unreadable_partitions\": %d, \"rows\": %llu, "
                  "\"bytes\": %llu, \"resolution\": %s, \"mode\": ",
                  parts, unreadable, (unsigned long long)rows, (unsigned long long)bytes,
                  strcmp(resolution, "?") ? resolution : "null");
        sb_json_str(&b, mode);
        sb_printf(&b, ", \"method\": ");
        sb_json_str(&b, method[0] ? method : "point");
        sb_printf(&b, ", \"value_column\": ");
        sb_json_str(&b, value);
        sb_printf(&b, ", \"aggregate\": ");
        sb_json_str(&b, spec);
        sb_printf(&b, ", \"source\": ");
        sb_json_str(&b, source);
        sb_printf(&b, ", \"fingerprints\": %d, \"sources\": [", seen->n);
        for (int i = 0; i < seen->n; i++) {
            sb_printf(&b, "%s", i ? ", " : "");
            sb_json_str(&b, seen->run[i].source);
        }
        sb_printf(&b, "]");
        sb_printf(&b, ", \"version\": ");
        sb_json_str(&b, version);
        sb_printf(&b, ", \"h3_version\": ");
        sb_json_str(&b, h3v);
        if (scale[0]) { /* lists as in the footer: per band, units a JSON array */
            sb_printf(&b, ", \"scale\": ");
            sb_json_str(&b, scale);
            sb_printf(&b, ", \"offset\": ");
            sb_json_str(&b, offset);
            sb_printf(&b, ", \"unit\": %s, \"unscaled\": %s", unit[0] ? unit : "[]",
                      strcmp(unscaled, "true") == 0 ? "true" : "false");
        }
        sb_printf(&b, ", \"columns\": [");
        for (size_t k = 0; k < ncols; k++) {
            sb_printf(&b, "%s{\"name\": ", k ? ", " : "");
            sb_json_str(&b, cols[k].name);
            sb_printf(&b, ", \"type\": \"%s\", \"min\": ", type_name(cols[k].type));
            json_num(&b, cols[k].has ? cols[k].min : NAN);
            sb_printf(&b, ", \"max\": ");
            json_num(&b, cols[k].has ? cols[k].max : NAN);
            sb_printf(&b, "}");
        }
        sb_printf(&b, "]}\n");
    } else {
        sb_printf(&b,
                  "dataset:     %s\npartitions:  %d%s\nrows:        %llu\nbytes:       %llu\n"
                  "resolution:  %s\nmode:        %s\n",
                  output, parts, unreadable ? " (some unreadable)" : "", (unsigned long long)rows,
                  (unsigned long long)bytes, resolution, mode);
        if (method[0])
            sb_printf(&b, "method:      %s\n", method);
        if (spec[0])
            sb_printf(&b, "options:     %s\n", spec);
        sb_printf(&b, "source:      %s\n", source);
        if (scale[0])
            sb_printf(&b, "scale:       %s  offset %s  unit %s  (%s)\n", scale, offset, unit,
                      strcmp(unscaled, "true") == 0 ? "values are value * scale + offset"
                                                    : "values are raw");
        if (seen->n > 1) {
            sb_printf(&b,
                      "mixed:       partitions from %d different runs (raster2h3 verify "
                      "names them):\n",
                      seen->n);
            for (int i = 0; i < seen->n; i++)
                sb_printf(&b, "  fingerprint %s  source %s\n", seen->run[i].fp,
                          seen->run[i].source);
        }
        sb_printf(&b, "written by:  raster2h3 %s (H3 %s)\ncolumns:\n", version, h3v);
        for (size_t k = 0; k < ncols; k++) {
            sb_printf(&b, "  %-20s %-7s", cols[k].name, type_name(cols[k].type));
            if (cols[k].has)
                sb_printf(&b, " min %.17g max %.17g", no_neg_zero(cols[k].min),
                          no_neg_zero(cols[k].max));
            sb_printf(&b, "\n");
        }
    }
    if (b.oom) {
        r2h_buf_free(&b.b);
        st = R2H_ERR_NOMEM;
        goto out;
    }
    *out = (char *)b.b.data;
    if (!parts) {
        r2h_fmt(errbuf, errbuf_len, "%s: no readable partitions", output);
        st = R2H_ERR_INPUT;
        r2h_buf_free(&b.b);
        *out = NULL;
    }
out:
    r2h_dataset_listing_free(&ls);
    r2h_free(cols);
    r2h_free(seen);
    if (st == R2H_ERR_NOMEM)
        r2h_fmt(errbuf, errbuf_len, "out of memory");
    return st;
}

void r2h_info_free(char *text)
{
    r2h_free(text);
}
