/* resume.c - resume and dataset bookkeeping of a convert run: complete and stale partitions,
 * leftover temporary files, the manifest, and the --dry-run plan. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "convert_internal.h"
#include "r2h_pq_reader.h"

/* Remove hidden temporary files that a killed run left in partition bc's directory (local
 * outputs; remote temporary keys are removed by the run that made them, or are hidden). Only this
 * run writes bc, so no live writer is disturbed. */
static void remove_leftovers(const struct run *run, int bc)
{
    char dir[4200], path[4500];
    r2h_fmt(dir, sizeof dir, "%s/h0=%015llx", run->root, (unsigned long long)r2h_index_res0_cell(bc));
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, ".data_0.parquet.tmp-", 20) == 0) {
            r2h_fmt(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

/* Which partitions of this run are complete already (left alone) or stale (redone, or removed
 * if this run gives them no rows). A work unit looks at its own partition only. */
void r2h_conv_plan_resume(struct run *run)
{
    const int wu = run->opt->work_unit;
    char path[4200];
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        if (wu >= 0 && bc != wu)
            continue;
        if (!run->remote && !run->opt->dry_run)
            remove_leftovers(run, bc);
        r2h_conv_partition_path(run, bc, path, sizeof path);
        uint64_t rows = 0;
        enum r2h_part_state ps = r2h_partition_state(path, run->fingerprint, &rows);
        if (ps == R2H_PART_COMPLETE && !run->opt->overwrite) {
            run->skip[bc] = 1;
            run->nskip++;
            run->manifest.parts[bc].rows = rows;
            run->res.partitions_skipped++;
        } else if (ps != R2H_PART_MISSING) {
            run->stale[bc] = 1;
        }
    }
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
    mp->min = INFINITY;
    mp->max = -INFINITY;
    for (size_t rg = 0; rg < r2h_pq_reader_num_row_groups(r); rg++) {
        int has = 0;
        double lo, hi;
        uint64_t nulls;
        if (r2h_pq_reader_stats(r, rg, 0, &has, &lo, &hi, &nulls) == R2H_OK && has) {
            mp->min = fmin(mp->min, lo);
            mp->max = fmax(mp->max, hi);
        }
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
    return r2h_manifest_write(run->root, m, run->err, run->errlen);
}

/* A whole run is done when its manifest has this run's fingerprint and every partition it lists
 * is complete (and nothing stale is around). */
int r2h_conv_manifest_done(const struct run *run)
{
    char path[4200];
    r2h_fmt(path, sizeof path, "%s/_manifest.json", run->root);
    uint8_t *data = NULL;
    size_t n = 0;
    if (r2h_out_read_all(path, 1 << 20, &data, &n) != R2H_OK)
        return 0;
    char buf[65536];
    n = n < sizeof buf - 1 ? n : sizeof buf - 1;
    memcpy(buf, data, n);
    buf[n] = 0;
    r2h_free(data);
    char want[64];
    r2h_fmt(want, sizeof want, "\"fingerprint\": \"%s\"", run->fingerprint);
    if (!strstr(buf, want))
        return 0;
    int listed = 0;
    for (const char *p = buf; (p = strstr(p, "\"h0\": ")); p++)
        listed++;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        if (run->stale[bc])
            return 0;
    return listed == run->res.partitions_skipped;
}

/* --dry-run: the plan on stdout, one line per partition decision plus the read. */
void r2h_conv_print_plan(const struct run *run)
{
    uint64_t px = 0;
    for (size_t i = 0; i < run->nchunks; i++)
        px += (uint64_t)run->chunks[i].w * run->chunks[i].h;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++) {
        if (run->skip[bc] || run->stale[bc])
            printf("%s h0=%015llx (%s)\n", run->skip[bc] ? "skip" : "redo",
                   (unsigned long long)r2h_index_res0_cell(bc),
                   run->skip[bc] ? "complete" : "stale");
    }
    if (run->opt->work_unit >= 0 ? run->skip[run->opt->work_unit] : r2h_conv_manifest_done(run))
        printf("nothing to do\n");
    else
        printf("read %llu pixels in %zu chunks of %s, write the other partitions\n",
               (unsigned long long)px, run->nchunks, run->opt->input);
}
