/* resume.c - resume and dataset bookkeeping of a convert run: complete, stale and foreign
 * partitions, leftover temporary and stray files, the manifest, and the --dry-run plan. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>
#include <cpl_vsi.h>

#include "convert_internal.h"
#include "r2h_pq_reader.h"

static enum r2h_status refuse_foreign(struct run *run, const char *path)
{
    r2h_fmt(run->err, run->errlen,
            "%s: not written by raster2h3 (no raster2h3:fingerprint in a readable footer); "
            "move it away, or rerun with --overwrite to replace it",
            path);
    return R2H_ERR_IO;
}

/* One file of partition bc other than data_0.parquet: a hidden temporary of a killed run is
 * removed (only this run writes bc, so no live writer is disturbed); another hidden file is left
 * alone (readers skip it); a visible one is a stray that every reader would add to the partition:
 * the partition is redone and the stray removed if raster2h3 wrote it (or with --overwrite),
 * else the run is refused. */
static enum r2h_status partition_extra(struct run *run, int bc, enum r2h_dataset_kind kind,
                                       const char *path)
{
    const int dry = run->opt->dry_run;
    if (kind == R2H_DATASET_TEMP) {
        if (!dry)
            VSIUnlink(path);
        return R2H_OK;
    }
    if (kind != R2H_DATASET_STRAY)
        return R2H_OK;
    if (!run->opt->overwrite && !r2h_partition_is_ours(path))
        return refuse_foreign(run, path);
    run->stale[bc] = 1;
    if (!dry) {
        VSIUnlink(path);
        r2h_conv_warn(run, "%s: stray file in a partition, removed", path);
    }
    return R2H_OK;
}

/* One listing of the whole dataset (flat on object stores): handle every file of the partitions
 * this run owns other than data_0.parquet. Directories inside partitions are not looked into. A
 * listing that failed leaves nothing to handle here (the run's reads and writes meet the cause). */
static enum r2h_status scan_partitions(struct run *run)
{
    const int wu = run->opt->work_unit;
    struct r2h_dataset_listing ls;
    char err[512];
    enum r2h_status st = r2h_dataset_list(run->root, &ls, err, sizeof err);
    if (st == R2H_ERR_NOMEM)
        r2h_fmt(run->err, run->errlen, "%s", err);
    st = st == R2H_ERR_NOMEM ? st : R2H_OK;
    CPLPushErrorHandler(CPLQuietErrorHandler); /* removals that fail are met again later */
    for (size_t i = 0; i < ls.n && st == R2H_OK; i++) {
        const struct r2h_dataset_entry *p = &ls.entries[i];
        if (p->kind != R2H_DATASET_PARTITION || (wu >= 0 && p->bc != wu))
            continue;
        for (size_t k = 0; k < p->nfiles && st == R2H_OK; k++) {
            const struct r2h_dataset_entry *f = &p->files[k];
            if (f->is_dir || f->kind == R2H_DATASET_DATA)
                continue;
            char path[4600];
            r2h_fmt(path, sizeof path, "%s/%s/%s", run->root, p->name, f->name);
            st = partition_extra(run, p->bc, f->kind, path);
        }
    }
    CPLPopErrorHandler();
    r2h_dataset_listing_free(&ls);
    return st;
}

/* Which partitions of this run are complete already (left alone) or stale (redone, or removed
 * if this run gives them no rows). A work unit looks at its own partition only. Files raster2h3
 * did not write are never replaced or removed without --overwrite: R2H_ERR_IO names the first. */
enum r2h_status r2h_conv_plan_resume(struct run *run)
{
    const int wu = run->opt->work_unit;
    char path[4200];
    enum r2h_status st = scan_partitions(run);
    if (st != R2H_OK)
        return st;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        if (wu >= 0 && bc != wu)
            continue;
        r2h_conv_partition_path(run, bc, path, sizeof path);
        uint64_t rows = 0;
        enum r2h_part_state ps = r2h_partition_state(path, run->fingerprint, &rows);
        if (ps == R2H_PART_FOREIGN && !run->opt->overwrite)
            return refuse_foreign(run, path);
        if (ps == R2H_PART_COMPLETE && !run->opt->overwrite && !run->stale[bc]) {
            run->skip[bc] = 1;
            run->nskip++;
            run->manifest.parts[bc].rows = rows;
            run->res.partitions_skipped++;
        } else if (ps != R2H_PART_MISSING) {
            run->stale[bc] = 1;
        }
    }
    return R2H_OK;
}

/* A work unit that gives its partition no rows removes the stale one there (its own partition,
 * written by raster2h3 for another input: plan_resume refused anything else). */
void r2h_conv_finish_work_unit(struct run *run)
{
    const int bc = run->opt->work_unit;
    if (!run->stale[bc] || run->manifest.parts[bc].rows)
        return;
    char path[4200];
    r2h_conv_partition_path(run, bc, path, sizeof path);
    r2h_out_remove_partition(path);
    run->res.partitions_removed++;
}

/* Before any partition is written: the manifest with "complete": false and every partition the
 * run will leave (kept or written), so that an interrupted run is visibly incomplete. */
enum r2h_status r2h_conv_begin_dataset(struct run *run)
{
    struct r2h_manifest *m = r2h_calloc(1, sizeof *m);
    if (!m) {
        r2h_fmt(run->err, run->errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    m->incomplete = 1;
    m->fingerprint = run->fingerprint;
    m->source = run->opt->input;
    m->value_name = run->value_name;
    m->band = run->info->band;
    m->resolution = run->opt->resolution;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        m->parts[bc].rows =
            run->skip[bc] || (run->runs ? r2h_runs_rows(run->runs, bc) > 0 : run->planned[bc]);
    enum r2h_status st = r2h_manifest_write(run->root, m, run->err, run->errlen);
    r2h_free(m);
    return st;
}

/* Fill the manifest entry of a partition left alone from its footer. */
static void manifest_from_file(struct run *run, int bc)
{
    char path[4200], err[256];
    r2h_conv_partition_path(run, bc, path, sizeof path);
    struct r2h_manifest_part *mp = &run->manifest.parts[bc];
    r2h_out_exists(path, &mp->bytes);
    struct r2h_pq_reader *r = r2h_partition_open(path, err, sizeof err);
    if (!r)
        return;
    /* the range verify records: the first band's values (column 0 is the cell column of
     * aggregates, whose ids are no value range) */
    struct r2h_part_meta pm;
    r2h_part_meta_read(r, &pm);
    int ccol, mincol, maxcol;
    r2h_partition_columns(r, &pm, run->opt->resolution, &ccol, &mincol, &maxcol, NULL, NULL);
    mp->min = INFINITY;
    mp->max = -INFINITY;
    for (size_t rg = 0; rg < r2h_pq_reader_num_row_groups(r); rg++) {
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
    r2h_pq_reader_close(r);
}

/* After a whole-raster run: remove stale partitions this run gave no rows (they belong to
 * another input), then write the manifest last. */
enum r2h_status r2h_conv_finish_dataset(struct run *run)
{
    char path[4200];
    uint64_t total = 0;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        struct r2h_manifest_part *mp = &run->manifest.parts[bc];
        if (run->stale[bc] && !mp->rows) {
            r2h_conv_partition_path(run, bc, path, sizeof path);
            r2h_out_remove_partition(path);
            run->res.partitions_removed++;
        }
        if (run->skip[bc])
            manifest_from_file(run, bc);
        total += mp->rows;
    }
    struct r2h_manifest *m = &run->manifest;
    m->fingerprint = run->fingerprint;
    m->source = run->opt->input;
    m->value_name = run->value_name;
    char bands[512], names[4096];
    r2h_bands_list(run->bands, run->info, R2H_LIST_BANDS, bands, sizeof bands);
    r2h_bands_list(run->bands, run->info, R2H_LIST_NAMES_JSON, names, sizeof names);
    m->bands = bands;
    m->value_names_json = names;
    m->band = run->info->band;
    m->resolution = run->opt->resolution;
    m->total_rows = total;
    enum r2h_status st = r2h_manifest_write(run->root, m, run->err, run->errlen);
    double bbox[4];
    if (st == R2H_OK && r2h_raster_wgs84_bounds(run->raster, bbox) == R2H_OK)
        st = r2h_stac_write(run->root, m, bbox, run->err, run->errlen);
    return st;
}

/* A whole run is done when its manifest has this run's fingerprint and every partition it lists
 * is complete (and nothing stale is around). */
int r2h_conv_manifest_done(const struct run *run)
{
    struct r2h_manifest *m = r2h_calloc(1, sizeof *m);
    char err[512];
    if (!m || r2h_manifest_read(run->root, m, err, sizeof err) != R2H_OK) {
        r2h_free(m); /* unreadable or malformed: not complete */
        return 0;
    }
    int done = !m->incomplete && m->fingerprint && strcmp(m->fingerprint, run->fingerprint) == 0;
    int listed = 0;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        listed += m->parts[bc].listed;
        if (run->stale[bc])
            done = 0;
    }
    r2h_manifest_clear(m);
    r2h_free(m);
    return done && listed == run->res.partitions_skipped;
}

/* --dry-run: the plan as PLAN_LINE events, one per partition decision plus the read. */
void r2h_conv_plan_events(const struct run *run)
{
    uint64_t px = 0;
    for (size_t i = 0; i < run->nchunks; i++)
        px += (uint64_t)run->chunks[i].w * run->chunks[i].h;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        if (run->skip[bc] || run->stale[bc])
            r2h_conv_event_line(
                run, R2H_EVENT_PLAN_LINE, "%s h0=%015llx (%s)", run->skip[bc] ? "skip" : "redo",
                (unsigned long long)r2h_index_res0_cell(bc), run->skip[bc] ? "complete" : "stale");
    }
    if (run->opt->work_unit >= 0 ? run->skip[run->opt->work_unit] : r2h_conv_manifest_done(run))
        r2h_conv_event_line(run, R2H_EVENT_PLAN_LINE, "nothing to do");
    else if (!run->cells_mode) /* a sample run says its own plan (sample.c) */
        r2h_conv_event_line(run, R2H_EVENT_PLAN_LINE,
                            "read %llu pixels in %zu chunks of %s, write the other partitions",
                            (unsigned long long)px, run->nchunks, run->opt->input);
}
