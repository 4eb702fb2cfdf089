/* part_meta.c - a partition file's footer metadata (raster2h3:* key-value pairs), written and
 * read in this one place. */
#include <stddef.h>
#include <string.h>

#include "r2h_dataset.h"
#include "r2h_parquet.h"
#include "r2h_pq_reader.h"

/* The keys in footer order; "cond" ones are written only when set (scale, offset, unit and
 * unscaled as a group, with scale). */
static const struct {
    const char *key;
    size_t off;
    int cond;
} keys[] = {
#define K(name, cond)                                                                              \
    {                                                                                              \
        "raster2h3:" #name, offsetof(struct r2h_part_meta, name), cond                             \
    }
    K(version, 0),       K(h3_version, 0),  K(gdal_version, 0), K(source, 0),
    K(band, 0),          K(nodata, 0),      K(dtype, 0),        K(crs, 0),
    K(partition, 0),     K(mode, 0),        K(fingerprint, 0),  K(value_column, 0),
    K(value_columns, 0), K(source_etag, 0), K(source_size, 0),  K(source_mtime, 0),
    K(aggregate, 1),     K(resolution, 0),  K(crs_wkt, 0),      K(srs, 1),
    K(scale, 2),         K(offset, 2),      K(unit, 2),         K(unscaled, 2),
    K(method, 1),
#undef K
};

static const char **field(const struct r2h_part_meta *m, size_t i)
{
    return (const char **)((char *)(uintptr_t)m + keys[i].off);
}

enum r2h_status r2h_part_meta_write(const struct r2h_part_meta *m, struct r2h_pq_writer *w)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = *field(m, i);
        if ((keys[i].cond == 1 && !v) || (keys[i].cond == 2 && !m->scale))
            continue;
        enum r2h_status st = r2h_pq_writer_add_kv(w, keys[i].key, v);
        if (st != R2H_OK)
            return st;
    }
    return R2H_OK;
}

void r2h_part_meta_read(const struct r2h_pq_reader *r, struct r2h_part_meta *m)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        *field(m, i) = r2h_pq_reader_kv(r, keys[i].key);
}

void r2h_partition_columns(const struct r2h_pq_reader *r, const struct r2h_part_meta *m, int res,
                           int *ccol, int *mincol, int *maxcol, int *overlay, int *agg)
{
    char cellname[8];
    r2h_cell_column_name(res, cellname, sizeof cellname);
    const int c = r2h_pq_reader_find_column(r, cellname);
    /* overlay: one row per cell, its statistics by name */
    const int ov = m->method && strncmp(m->method, "overlay", 7) == 0;
    const int ag = m->mode && strcmp(m->mode, "aggregate") == 0 && !ov;
    const int extended = ag || m->aggregate || ov;
    int vcol = extended ? -1 : c == 0 ? 1 : 0, lo = -1, hi = -1;
    if (extended && m->value_column) {
        char name[300];
        vcol = r2h_pq_reader_find_column(r, m->value_column);
        r2h_fmt(name, sizeof name, "%s_min", m->value_column);
        lo = r2h_pq_reader_find_column(r, name);
        r2h_fmt(name, sizeof name, "%s_max", m->value_column);
        hi = r2h_pq_reader_find_column(r, name);
    }
    if (vcol >= 0)
        lo = hi = vcol;
    if (ov) /* the manifest's range is the first statistic's */
        lo = hi = c == 0 ? 1 : 0;
    *ccol = c;
    *mincol = lo;
    *maxcol = hi;
    if (overlay)
        *overlay = ov;
    if (agg)
        *agg = ag;
}

int r2h_partition_default_column(const struct r2h_pq_reader *r, const struct r2h_part_meta *m)
{
    static const char *const suffix[] = {"", "_mean", "_mode", "_max"};
    char name[300];
    int c = -1;
    for (size_t i = 0; i < 4 && c < 0 && m->value_column; i++) {
        r2h_fmt(name, sizeof name, "%s%s", m->value_column, suffix[i]);
        c = r2h_pq_reader_find_column(r, name);
    }
    return c >= 0 ? c : r2h_pq_reader_find_column(r, "count");
}
