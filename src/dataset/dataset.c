/* dataset.c - dataset-level state: run fingerprints, partition completeness, the manifest. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "r2h_dataset.h"
#include "r2h_index.h"
#include "r2h_io.h"
#include "r2h_pq_reader.h"
#include "r2h_sink.h"

void r2h_cell_column_name(int res, char *dst, size_t len)
{
    r2h_fmt(dst, len, res == 0 ? "cell_h0" : "h%d", res);
}

struct r2h_pq_reader *r2h_partition_open(const char *path, char *err, size_t errlen)
{
    struct r2h_pq_reader *r = NULL;
    return r2h_partition_fetch(path, &r, err, errlen) == R2H_OK ? r : NULL;
}

enum r2h_status r2h_partition_fetch(const char *path, struct r2h_pq_reader **out, char *err,
                                    size_t errlen)
{
    struct r2h_pq_reader *r = NULL;
    if (!r2h_out_is_remote(path)) {
        if (r2h_pq_reader_open(path, &r, err, errlen) != R2H_OK)
            return R2H_ERR_FORMAT;
        *out = r;
        return R2H_OK;
    }
    /* Remote: read through a source, range by range (the footer, then one column chunk at a
     * time as columns are read), within the reader's bound and never staged whole. A failed
     * open or read keeps its class (transient, denied, missing); anything else is a format
     * problem. */
    struct r2h_source *src = NULL;
    enum r2h_status st = r2h_source_open(path, &src, err, errlen);
    if (st != R2H_OK)
        return st;
    st = r2h_pq_reader_open_source(src, path, &r, err, errlen);
    if (st != R2H_OK)
        return st == R2H_ERR_TRANSIENT || st == R2H_ERR_IO || st == R2H_ERR_INPUT ? st
                                                                                  : R2H_ERR_FORMAT;
    r2h_fmt(err, errlen, "%s", "");
    *out = r;
    return R2H_OK;
}

/* 1 when the footer's raster2h3:partition names the h0= directory the file is in. Files moved
 * between partitions keep their footer, so the directory alone is not to be trusted. */
static int partition_key_matches(const char *path, const char *key)
{
    const char *end = strrchr(path, '/'), *dir = end;
    while (dir && dir > path && dir[-1] != '/')
        dir--;
    return key && dir && end - dir == 18 && strncmp(dir, "h0=", 3) == 0 &&
           strncmp(dir + 3, key, 15) == 0 && strlen(key) == 15;
}

enum r2h_part_state r2h_partition_state(const char *path, const char *fingerprint, uint64_t *rows)
{
    if (!r2h_out_exists(path, NULL))
        return R2H_PART_MISSING;
    char err[256];
    struct r2h_pq_reader *r = r2h_partition_open(path, err, sizeof err);
    if (!r)
        return R2H_PART_FOREIGN; /* raster2h3 never leaves a partial data_0.parquet */
    struct r2h_part_meta pm;
    r2h_part_meta_read(r, &pm);
    const char *fp = pm.fingerprint;
    enum r2h_part_state st =
        !fp ? R2H_PART_FOREIGN
        : strcmp(fp, fingerprint) == 0 && partition_key_matches(path, pm.partition)
            ? R2H_PART_COMPLETE
            : R2H_PART_STALE;
    if (rows)
        *rows = r2h_pq_reader_num_rows(r);
    r2h_pq_reader_close(r);
    return st;
}

int r2h_partition_is_ours(const char *path)
{
    char err[256];
    struct r2h_pq_reader *r = r2h_partition_open(path, err, sizeof err);
    if (!r)
        return 0;
    struct r2h_part_meta pm;
    r2h_part_meta_read(r, &pm);
    const int ours = pm.fingerprint != NULL;
    r2h_pq_reader_close(r);
    return ours;
}

enum r2h_status r2h_manifest_write(const char *output, const struct r2h_manifest *m, char *err,
                                   size_t errlen)
{
    struct r2h_buf b = {0};
    r2h_buf_printf(&b, "{\n  \"tool\": \"raster2h3\",\n  \"version\": \"%s\",\n",
                   R2H_VERSION_STRING);
    r2h_buf_printf(&b, "  \"complete\": %s,\n", m->incomplete ? "false" : "true");
    r2h_buf_printf(&b, "  \"fingerprint\": \"%s\",\n  \"source\": ", m->fingerprint);
    r2h_json_string(&b, m->source);
    r2h_buf_printf(&b, ",\n  \"band\": %d,\n  \"resolution\": %d,\n  \"value_column\": ", m->band,
                   m->resolution);
    r2h_json_string(&b, m->value_name);
    if (m->bands && m->value_names_json) {
        r2h_buf_printf(&b, ",\n  \"bands\": [%s],\n  \"value_columns\": ", m->bands);
        r2h_buf_append(&b, m->value_names_json, strlen(m->value_names_json));
    }
    char cellname[8];
    r2h_cell_column_name(m->resolution, cellname, sizeof cellname);
    r2h_buf_printf(&b, ",\n  \"cell_column\": \"%s\",\n  \"rows\": %llu,\n  \"partitions\": [",
                   cellname, (unsigned long long)m->total_rows);
    int first = 1;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        const struct r2h_manifest_part *p = &m->parts[bc];
        if (!p->rows)
            continue;
        if (m->incomplete) { /* expected partitions: rows and ranges are not known yet */
            r2h_buf_printf(&b,
                           "%s\n    {\"h0\": \"%015llx\", \"path\": \"h0=%015llx/data_0.parquet\"}",
                           first ? "" : ",", (unsigned long long)r2h_index_res0_cell(bc),
                           (unsigned long long)r2h_index_res0_cell(bc));
            first = 0;
            continue;
        }
        /* a range the files cannot give (an aggregate without <v>_min/_max, resumed or
         * verified) is null: JSON has no inf */
        char lo[32] = "null", hi[32] = "null";
        if (isfinite(p->min))
            r2h_fmt(lo, sizeof lo, "%.17g", p->min);
        if (isfinite(p->max))
            r2h_fmt(hi, sizeof hi, "%.17g", p->max);
        r2h_buf_printf(&b,
                       "%s\n    {\"h0\": \"%015llx\", \"path\": \"h0=%015llx/data_0.parquet\", "
                       "\"rows\": %llu, \"bytes\": %llu, \"min\": %s, \"max\": %s}",
                       first ? "" : ",", (unsigned long long)r2h_index_res0_cell(bc),
                       (unsigned long long)r2h_index_res0_cell(bc), (unsigned long long)p->rows,
                       (unsigned long long)p->bytes, lo, hi);
        first = 0;
    }
    r2h_buf_printf(&b, "\n  ]\n}\n");
    char path[4200];
    r2h_fmt(path, sizeof path, "%s/_manifest.json", output);
    struct r2h_sink *s = NULL;
    enum r2h_status st = b.data ? r2h_out_open_sink(path, &s, err, errlen) : R2H_ERR_NOMEM;
    if (st == R2H_OK) {
        r2h_sink_write(s, b.data, b.len);
        st = r2h_sink_close(s, err, errlen);
    } else if (st == R2H_ERR_NOMEM) {
        r2h_fmt(err, errlen, "out of memory writing the manifest");
    }
    r2h_buf_free(&b);
    return st;
}

/* ---- the STAC item ------------------------------------------------------------------------ */

/* A ring of the box w..e x s..n as GeoJSON coordinates. */
static void stac_ring(struct r2h_buf *b, double w, double s, double e, double n)
{
    r2h_buf_printf(b,
                   "[[[%.17g, %.17g], [%.17g, %.17g], [%.17g, %.17g], [%.17g, %.17g], "
                   "[%.17g, %.17g]]]",
                   w, s, e, s, e, n, w, n, w, s);
}

enum r2h_status r2h_stac_write(const char *output, const struct r2h_manifest *m,
                               const double bbox[4], char *err, size_t errlen)
{
    static const char *const types[] = {"int8",  "uint8",  "int16",   "uint16",  "int32", "uint32",
                                        "int64", "uint64", "float32", "float64", "string"};
    struct r2h_pq_reader *r = NULL;
    char path[4200], perr[256];
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS && !r; bc++)
        if (m->parts[bc].listed || m->parts[bc].rows) {
            r2h_dataset_part_path(output, bc, path, sizeof path);
            r = r2h_partition_open(path, perr, sizeof perr);
        }
    struct r2h_buf b = {0};
    char when[32] = "1970-01-01T00:00:00Z";
    const time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const double w = bbox[0], s = bbox[1], e = bbox[2], n = bbox[3];
    r2h_buf_printf(&b, "{\n  \"type\": \"Feature\",\n  \"stac_version\": \"1.0.0\",\n"
                       "  \"stac_extensions\": "
                       "[\"https://stac-extensions.github.io/table/v1.2.0/schema.json\"],\n"
                       "  \"id\": ");
    r2h_json_string(&b, m->fingerprint);
    r2h_buf_printf(&b, ",\n  \"bbox\": [%.17g, %.17g, %.17g, %.17g],\n  \"geometry\": ", w, s, e,
                   n);
    if (w <= e) {
        r2h_buf_printf(&b, "{\"type\": \"Polygon\", \"coordinates\": ");
        stac_ring(&b, w, s, e, n);
    } else { /* across the antimeridian: the two sides */
        r2h_buf_printf(&b, "{\"type\": \"MultiPolygon\", \"coordinates\": [");
        stac_ring(&b, w, s, 180, n);
        r2h_buf_printf(&b, ", ");
        stac_ring(&b, -180, s, e, n);
        r2h_buf_printf(&b, "]");
    }
    r2h_buf_printf(&b,
                   "},\n  \"properties\": {\n    \"datetime\": \"%s\",\n"
                   "    \"h3:resolution\": %d,\n    \"table:row_count\": %llu,\n"
                   "    \"table:columns\": [",
                   when, m->resolution, (unsigned long long)m->total_rows);
    for (size_t c = 0; r && c < r2h_pq_reader_num_columns(r); c++) {
        const char *name = NULL;
        enum r2h_pq_type t = R2H_PQ_STRING;
        r2h_pq_reader_column(r, c, &name, &t, NULL);
        r2h_buf_printf(&b, "%s\n      {\"name\": ", c ? "," : "");
        r2h_json_string(&b, name ? name : "");
        r2h_buf_printf(&b, ", \"type\": \"%s\"}", (unsigned)t <= R2H_PQ_STRING ? types[t] : "");
    }
    r2h_buf_printf(&b, "\n    ],\n    \"raster2h3:source\": ");
    r2h_json_string(&b, m->source);
    r2h_buf_printf(&b,
                   ",\n    \"raster2h3:version\": \"%s\"\n  },\n  \"links\": [],\n"
                   "  \"assets\": {\n"
                   "    \"data\": {\"href\": \"./\", \"type\": "
                   "\"application/vnd.apache.parquet\", \"title\": \"H3-indexed Parquet, "
                   "Hive-partitioned by h0 (h0=<cell>/data_0.parquet)\", \"roles\": "
                   "[\"data\"]},\n"
                   "    \"manifest\": {\"href\": \"./_manifest.json\", \"type\": "
                   "\"application/json\", \"roles\": [\"metadata\"]}\n  }\n}\n",
                   R2H_VERSION_STRING);
    r2h_pq_reader_close(r);
    r2h_fmt(path, sizeof path, "%s/" R2H_DATASET_STAC, output);
    struct r2h_sink *sk = NULL;
    enum r2h_status st = b.data ? r2h_out_open_sink(path, &sk, err, errlen) : R2H_ERR_NOMEM;
    if (st == R2H_OK) {
        r2h_sink_write(sk, b.data, b.len);
        st = r2h_sink_close(sk, err, errlen);
    } else if (st == R2H_ERR_NOMEM) {
        r2h_fmt(err, errlen, "out of memory writing the STAC item");
    }
    r2h_buf_free(&b);
    return st;
}
