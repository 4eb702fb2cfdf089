/* partition.c - writing one partition file of a convert run: directory, Parquet schema,
 * footer metadata, the merge of all runs into the writer, atomic commit. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "convert_internal.h"
#include "r2h_parquet.h"
#include "r2h_sink.h"

enum r2h_status r2h_conv_mkdir_p(const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    r2h_fmt(tmp, sizeof tmp, "%s", path);
    size_t len = strlen(tmp);
    while (len > 1 && tmp[len - 1] == '/')
        tmp[--len] = 0;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        goto fail;
    struct stat sb;
    if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        goto fail;
    }
    return R2H_OK;
fail:
    r2h_fmt(err, errlen, "%s: cannot create directory: %s", tmp, strerror(errno));
    return R2H_ERR_IO;
}

/* The footer: what produced the file, and what the input says beyond its values (the CRS as
 * WKT2 and the --srs that assigned it; when a band has them, per-band scale, offset and unit and
 * whether --unscale applied them). */
static enum r2h_status add_metadata(struct run *run, struct r2h_pq_writer *w, uint64_t h0)
{
    const struct r2h_convert_options *o = run->opt;
    const struct r2h_raster_info *in = run->info;
    char bands[512], nd[2048], dtypes[512], names[4096], cell[32], size[32], mtime[32], res[8];
    char scale[2048], offset[2048], units[4096];
    r2h_fmt(cell, sizeof cell, "%015llx", (unsigned long long)h0);
    r2h_bands_list(run->bands, in, R2H_LIST_BANDS, bands, sizeof bands);
    r2h_bands_list(run->bands, in, R2H_LIST_NODATA, nd, sizeof nd);
    r2h_bands_list(run->bands, in, R2H_LIST_DTYPES, dtypes, sizeof dtypes);
    r2h_bands_list(run->bands, in, R2H_LIST_NAMES_JSON, names, sizeof names);
    r2h_fmt(size, sizeof size, "%llu", (unsigned long long)in->source_size);
    r2h_fmt(mtime, sizeof mtime, "%lld", (long long)in->source_mtime);
    r2h_fmt(res, sizeof res, "%d", o->resolution);
    struct r2h_part_meta m = {
        .version = r2h_version(),
        .h3_version = r2h_h3_version(),
        .gdal_version = r2h_gdal_version(),
        .source = o->input,
        .band = bands,
        .nodata = nd,
        .dtype = dtypes,
        .crs = in->crs_name,
        .partition = cell,
        .mode = run->overlay || (run->agg && r2h_agg_grouped(run->agg)) ? "aggregate" : "pixel",
        .fingerprint = run->fingerprint,
        .value_column = run->value_name,
        .value_columns = names,
        .source_etag = in->source_etag,
        .source_size = size,
        .source_mtime = mtime,
        .aggregate = run->agg ? r2h_agg_spec(run->agg) : NULL,
        .resolution = res,
        .crs_wkt = r2h_raster_crs_wkt(run->raster),
        .srs = o->srs && *o->srs ? o->srs : NULL,
        .method = run->sampler ? r2h_conv_method_meta(run) : NULL,
    };
    if (r2h_bands_has_scale(in)) {
        r2h_bands_list(run->bands, in, R2H_LIST_SCALE, scale, sizeof scale);
        r2h_bands_list(run->bands, in, R2H_LIST_OFFSET, offset, sizeof offset);
        r2h_bands_list(run->bands, in, R2H_LIST_UNITS_JSON, units, sizeof units);
        m.scale = scale;
        m.offset = offset;
        m.unit = units;
        m.unscaled = o->unscale ? "true" : "false";
    }
    return r2h_part_meta_write(&m, w);
}

/* Discard a partition file after error st; msg gets the writer's message with the path. */
static enum r2h_status abort_writer(struct r2h_pq_writer *w, enum r2h_status st, const char *path,
                                    char *msg, size_t msglen)
{
    r2h_fmt(msg, msglen, "%s: %s", path,
            r2h_pq_writer_errmsg(w)[0] ? r2h_pq_writer_errmsg(w) : r2h_status_str(st));
    r2h_pq_writer_abort(w);
    return st;
}

/* Finish a partition file (footer, commit); on failure msg names the path once. */
static enum r2h_status close_writer(struct r2h_pq_writer *w, const char *path, char *msg,
                                    size_t msglen)
{
    char wmsg[768] = "";
    enum r2h_status st = r2h_pq_writer_close(w, wmsg, sizeof wmsg);
    if (st == R2H_OK)
        return R2H_OK;
    if (strstr(wmsg, path)) /* sink messages name the path already */
        r2h_fmt(msg, msglen, "%s", wmsg);
    else
        r2h_fmt(msg, msglen, "%s: %s", path, wmsg[0] ? wmsg : r2h_status_str(st));
    return st;
}

void r2h_conv_partition_path(const struct run *run, int bc, char *path, size_t len)
{
    r2h_dataset_part_path(run->root, bc, path, len);
}

/* Open partition bc's file for writing (its directory made when local): the path into path, a
 * Parquet writer of the given columns with the run's codec, row groups and footer metadata.
 * On failure msg names the problem and nothing is left behind. */
static enum r2h_status open_partition(struct run *run, int bc,
                                      const struct r2h_pq_column_spec *cols, size_t ncols,
                                      char *path, size_t pathlen, struct r2h_pq_writer **out,
                                      char *msg, size_t msglen)
{
    char dir[4096], name[32];
    enum r2h_status st;
    struct r2h_pq_options po;
    r2h_conv_pq_options(run, &po);
    if (run->arrow) { /* rows to Arrow batches: no file */
        r2h_fmt(path, pathlen, "%s", "");
        if ((st = r2h_pq_writer_open(NULL, cols, ncols, &po, out)) != R2H_OK)
            r2h_fmt(msg, msglen, "cannot start the Arrow batches: %s", r2h_status_str(st));
        return st;
    }
    r2h_dataset_part_dir(bc, name, sizeof name);
    r2h_fmt(dir, sizeof dir, "%s/%s", run->root, name);
    if (!run->remote && (st = r2h_conv_mkdir_p(dir, msg, msglen)) != R2H_OK)
        return st;
    r2h_fmt(path, pathlen, "%s/" R2H_DATASET_PART_FILE, dir);
    struct r2h_sink *sink = NULL;
    if ((st = r2h_out_open_sink(path, &sink, msg, msglen)) != R2H_OK)
        return st;
    struct r2h_pq_writer *w = NULL;
    if ((st = r2h_pq_writer_open(sink, cols, ncols, &po, &w)) != R2H_OK) {
        r2h_fmt(msg, msglen, "%s: cannot start Parquet writer: %s", path, r2h_status_str(st));
        return st;
    }
    if ((st = add_metadata(run, w, r2h_index_res0_cell(bc))) != R2H_OK)
        return abort_writer(w, st, path, msg, msglen);
    *out = w;
    return R2H_OK;
}

/* write_partition with aggregation or extra columns (aggregate.c does the rows). */
enum r2h_status r2h_conv_write_partition_agg(struct run *run, int bc, double *phase, char *msg,
                                             size_t msglen)
{
    char path[4200];
    double t1 = r2h_now();
    enum r2h_status st;
    const struct r2h_pq_column_spec *cols;
    size_t ncols;
    r2h_agg_columns(run->agg, &cols, &ncols);
    struct r2h_pq_writer *w = NULL;
    if ((st = open_partition(run, bc, cols, ncols, path, sizeof path, &w, msg, msglen)) != R2H_OK)
        return st;
    struct r2h_merge *merge = NULL;
    struct r2h_manifest_part *mp = &run->manifest.parts[bc];
    uint64_t nout = 0;
    char amsg[768] = "";
    if ((st = r2h_conv_open_rows(run, bc, &merge)) == R2H_OK)
        st = r2h_agg_write(run->agg, merge, w, &nout, &mp->min, &mp->max, amsg, sizeof amsg);
    r2h_merge_close(merge);
    if (st != R2H_OK) {
        if (amsg[0])
            r2h_fmt(msg, msglen, "%s: %s", path, amsg);
        r2h_pq_writer_abort(w);
        return st;
    }
    if ((st = close_writer(w, path, msg, msglen)) != R2H_OK)
        return st;
    phase[PHASE_WRITE] += r2h_now() - t1;
    mp->rows = nout;
    if (!run->arrow)
        r2h_out_exists(path, &mp->bytes);
    return R2H_OK;
}

/* Merge partition bc's rows from all runs and write them to OUTPUT/h0=<cell>/data_0.parquet
 * atomically. Thread-safe for distinct partitions. Timings go to phase (per thread). */
enum r2h_status r2h_conv_write_partition(struct run *run, int bc, double *phase, char *msg,
                                         size_t msglen)
{
    char path[4200], cellname[8];
    double t1 = r2h_now();
    enum r2h_status st;
    const struct r2h_bands *b = run->bands;
    struct r2h_pq_column_spec cols[R2H_RASTER_MAX_BANDS + 1];
    const size_t ncols = r2h_conv_point_columns(run, cols, cellname, sizeof cellname);
    struct r2h_pq_writer *w = NULL;
    if ((st = open_partition(run, bc, cols, ncols, path, sizeof path, &w, msg, msglen)) != R2H_OK)
        return st;
    enum { CHUNK = 65536 };
    unsigned char *vbuf = r2h_malloc((size_t)CHUNK * r2h_bands_value_bytes(b));
    uint64_t *cbuf = r2h_malloc(CHUNK * sizeof *cbuf);
    struct r2h_row *rbuf = r2h_malloc(CHUNK * sizeof *rbuf);
    struct r2h_merge *merge = NULL;
    if (!vbuf || !cbuf || !rbuf)
        st = R2H_ERR_NOMEM;
    else
        st = r2h_conv_open_rows(run, bc, &merge);
    size_t m;
    uint64_t kmin = UINT64_MAX, kmax = 0;
    while (st == R2H_OK && (m = r2h_merge_next(merge, rbuf, CHUNK, &st, msg, msglen)) > 0) {
        for (size_t j = 0; j < m; j++) {
            kmin = rbuf[j].key < kmin ? rbuf[j].key : kmin;
            kmax = rbuf[j].key > kmax ? rbuf[j].key : kmax;
            cbuf[j] = rbuf[j].cell;
        }
        struct r2h_pq_column_data data[R2H_RASTER_MAX_BANDS + 1] = {{0}};
        for (int i = 0, at = 0; i < b->n; at += CHUNK * (int)r2h_dtype_size(b->dt[i]), i++) {
            data[i].values = vbuf + at;
            r2h_bands_decode(b, rbuf, m, i, vbuf + at);
        }
        data[b->n].values = cbuf;
        st = r2h_pq_writer_write(w, data, m);
    }
    r2h_merge_close(merge);
    r2h_free(vbuf);
    r2h_free(cbuf);
    r2h_free(rbuf);
    if (st != R2H_OK)
        goto fail;
    if ((st = close_writer(w, path, msg, msglen)) != R2H_OK)
        return st;
    phase[PHASE_WRITE] += r2h_now() - t1;
    struct r2h_manifest_part *mp = &run->manifest.parts[bc];
    mp->min = r2h_bands_double(b, kmin, 0); /* the first band is the key's top field */
    mp->max = r2h_bands_double(b, kmax, 0);
    if (!run->arrow)
        r2h_out_exists(path, &mp->bytes);
    return R2H_OK;
fail:
    return abort_writer(w, st, path, msg, msglen);
}

/* The value columns of layout b, then the cell column (its type from the options; DELTA pages
 * cut at gaps when delta, else PLAIN) into cols; the cell column's name in cellname. */
static size_t value_and_cell_columns(const struct run *run, const struct r2h_bands *b, int delta,
                                     struct r2h_pq_column_spec *cols, char *cellname,
                                     size_t cellnamelen)
{
    r2h_cell_column_name(run->opt->resolution, cellname, cellnamelen);
    r2h_bands_columns(b, cols);
    cols[b->n] = (struct r2h_pq_column_spec){
        .name = cellname,
        .type = run->opt->cell_type == R2H_CELL_INT64 ? R2H_PQ_INT64 : R2H_PQ_UINT64,
        .sorted_ascending = 1,
        .encoding = delta ? R2H_PQ_ENC_DELTA : R2H_PQ_ENC_PLAIN,
        .delta_gaps = delta};
    return (size_t)b->n + 1;
}

int r2h_conv_sample_columns(const struct run *run, const struct r2h_bands *b,
                            struct r2h_pq_column_spec *cols, char *cellname, size_t cellnamelen)
{
    /* Sampled cells are distinct and close: DELTA pages (cut at gaps) are a quarter of PLAIN's
     * bytes for zstd to compress (docs/design/0009). */
    return (int)value_and_cell_columns(run, b, 1, cols, cellname, cellnamelen);
}

enum r2h_status r2h_conv_partition_open(struct run *run, int bc,
                                        const struct r2h_pq_column_spec *cols, size_t ncols,
                                        char *path, size_t pathlen, struct r2h_pq_writer **out,
                                        char *msg, size_t msglen)
{
    return open_partition(run, bc, cols, ncols, path, pathlen, out, msg, msglen);
}

enum r2h_status r2h_conv_partition_close(struct r2h_pq_writer *w, const char *path, char *msg,
                                         size_t msglen)
{
    return close_writer(w, path, msg, msglen);
}

void r2h_conv_pq_options(const struct run *run, struct r2h_pq_options *po)
{
    r2h_pq_options_init(po);
    po->codec = R2H_PQ_CODEC_ZSTD;
    po->level = run->opt->compression_level;
    po->row_group_rows = run->row_group_rows;
    po->rows = run->arrow ? &run->rows : NULL;
}

size_t r2h_conv_point_columns(const struct run *run, struct r2h_pq_column_spec *cols,
                              char *cellname, size_t cellnamelen)
{
    /* Pixel rows keep PLAIN (repeated cells compress well); sampled cells DELTA. */
    return value_and_cell_columns(run, run->bands, run->sampler != NULL, cols, cellname,
                                  cellnamelen);
}

enum r2h_status r2h_conv_announce_columns(struct run *run, const struct r2h_pq_column_spec *cols,
                                          size_t ncols)
{
    if (!run->arrow)
        return R2H_OK;
    enum r2h_status st = r2h_arrow_queue_schema(run->arrow, cols, ncols);
    if (st != R2H_OK)
        r2h_fmt(run->err, run->errlen, "out of memory");
    return st;
}
