/* dataset.c - dataset-level state: run fingerprints, partition completeness, the manifest. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "r2h_dataset.h"
#include "r2h_index.h"
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
    /* Remote: fetch the object into an unlinked local temporary file and read that. */
    uint8_t *data = NULL;
    size_t len = 0;
    enum r2h_status st = r2h_out_fetch(path, (uint64_t)4 << 30, &data, &len, err, errlen);
    if (st != R2H_OK)
        return st;
    const char *tmpdir = getenv("TMPDIR");
    char tmp[4096];
    r2h_fmt(tmp, sizeof tmp, "%s/raster2h3-remote-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(tmp);
    int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;
    if (fd >= 0)
        close(fd);
    r2h_free(data);
    if (ok && r2h_pq_reader_open(tmp, &r, err, errlen) != R2H_OK)
        r = NULL;
    else if (!ok)
        r2h_fmt(err, errlen, "%s: cannot stage a local copy", path);
    if (fd >= 0)
        unlink(tmp);
    if (!r)
        return R2H_ERR_FORMAT;
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

static void json_string(struct r2h_buf *b, const char *s)
{
    r2h_buf_push_byte(b, '"');
    for (; *s; s++) {
        char esc[8];
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            r2h_buf_append(b, esc, 2);
        } else if (c < 0x20) {
            r2h_fmt(esc, sizeof esc, "\\u%04x", c);
            r2h_buf_append(b, esc, 6);
        } else {
            r2h_buf_push_byte(b, c);
        }
    }
    r2h_buf_push_byte(b, '"');
}

static void json_printf(struct r2h_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void json_printf(struct r2h_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        r2h_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

enum r2h_status r2h_manifest_write(const char *output, const struct r2h_manifest *m, char *err,
                                   size_t errlen)
{
    struct r2h_buf b = {0};
    json_printf(&b, "{\n  \"tool\": \"raster2h3\",\n  \"version\": \"%s\",\n", R2H_VERSION_STRING);
    json_printf(&b, "  \"complete\": %s,\n", m->incomplete ? "false" : "true");
    json_printf(&b, "  \"fingerprint\": \"%s\",\n  \"source\": ", m->fingerprint);
    json_string(&b, m->source);
    json_printf(&b, ",\n  \"band\": %d,\n  \"resolution\": %d,\n  \"value_column\": ", m->band,
                m->resolution);
    json_string(&b, m->value_name);
    if (m->bands && m->value_names_json) {
        json_printf(&b, ",\n  \"bands\": [%s],\n  \"value_columns\": ", m->bands);
        r2h_buf_append(&b, m->value_names_json, strlen(m->value_names_json));
    }
    char cellname[8];
    r2h_cell_column_name(m->resolution, cellname, sizeof cellname);
    json_printf(&b, ",\n  \"cell_column\": \"%s\",\n  \"rows\": %llu,\n  \"partitions\": [",
                cellname, (unsigned long long)m->total_rows);
    int first = 1;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        const struct r2h_manifest_part *p = &m->parts[bc];
        if (!p->rows)
            continue;
        if (m->incomplete) { /* expected partitions: rows and ranges are not known yet */
            json_printf(&b,
                        "%s\n    {\"h0\": \"%015llx\", \"path\": \"h0=%015llx/data_0.parquet\"}",
                        first ? "" : ",", (unsigned long long)r2h_index_res0_cell(bc),
                        (unsigned long long)r2h_index_res0_cell(bc));
            first = 0;
            continue;
        }
        json_printf(&b,
                    "%s\n    {\"h0\": \"%015llx\", \"path\": \"h0=%015llx/data_0.parquet\", "
                    "\"rows\": %llu, \"bytes\": %llu, \"min\": %.17g, \"max\": %.17g}",
                    first ? "" : ",", (unsigned long long)r2h_index_res0_cell(bc),
                    (unsigned long long)r2h_index_res0_cell(bc), (unsigned long long)p->rows,
                    (unsigned long long)p->bytes, p->min, p->max);
        first = 0;
    }
    json_printf(&b, "\n  ]\n}\n");
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
