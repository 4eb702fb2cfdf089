/* progress.c - the events of a convert run: progress (rate-limited by the options' progress
 * mode) and the --profile report, passed to the options' event callback. */
#include <stdio.h>
#include <string.h>

#include "convert_internal.h"

static const char *const phase_names[NPHASES] = {
    "read", "locate", "index", "route", "sort", "spill", "merge+encode+write"};
/* --method sample: chunk planning and cell centres, window reads, kernels and rows, hand-over
 * to the writer (waits included), and the writer thread (waits included). */
static const char *const cell_phase_names[NPHASES] = {"read", "centres", "sample",      "hand-over",
                                                      "-",    "-",       "encode+write"};
static const char *const overlay_phase_names[NPHASES] = {
    "read", "polygons", "cover", "statistics", "collect", "-", "encode+write"};

_Static_assert(NPHASES == R2H_EVENT_NPHASES, "the public phase count matches the run's");

void r2h_conv_event(const struct run *run, struct r2h_event *ev)
{
    if (run->opt->event)
        run->opt->event(run->opt->event_ctx, ev);
}

void r2h_conv_event_line(const struct run *run, enum r2h_event_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r2h_conv_event_vline(run, kind, fmt, ap);
    va_end(ap);
}

void r2h_conv_event_vline(const struct run *run, enum r2h_event_kind kind, const char *fmt,
                          va_list ap)
{
    if (!run->opt->event)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    struct r2h_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.line = line;
    r2h_conv_event(run, &ev);
}

/* A progress event: every 0.2 s (bar) or 5 s (lines, JSON), and a final one. Called with
 * run->mu held, so events from the workers reach the callback one at a time. */
void r2h_conv_progress_locked(struct run *run, int final)
{
    const enum r2h_progress mode = run->opt->progress;
    if (mode == R2H_PROGRESS_NONE)
        return;
    double now = r2h_now();
    double every = mode == R2H_PROGRESS_BAR ? 0.2 : 5.0;
    if (!final && now - run->t_last_progress < every)
        return;
    run->t_last_progress = now;
    struct r2h_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = R2H_EVENT_PROGRESS;
    ev.pixels_done = run->pixels_done;
    ev.pixels_total = run->pixels_total;
    ev.elapsed_s = now - run->t_start;
    ev.final = final;
    ev.cells = run->cells_mode;
    r2h_conv_event(run, &ev);
}

void r2h_conv_profile_event(const struct run *run)
{
    struct r2h_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = R2H_EVENT_PROFILE;
    ev.elapsed_s = r2h_now() - run->t_start;
    ev.phase_names = run->overlay      ? overlay_phase_names
                     : run->cells_mode ? cell_phase_names
                                       : phase_names;
    ev.cells = run->cells_mode;
    ev.phase_s = run->phase;
    ev.threads = run->nworkers;
    ev.index_path = run->cells_mode ? (run->opt->reference_index ? "cell centres by cellToLatLng"
                                                                 : "cell centres by a checked "
                                                                   "model, cellToLatLng near "
                                                                   "pixel edges")
                    : run->opt->reference_index ? "reference latLngToCell"
                    : run->grid                 ? "fast grid"
                                                : "fast points";
    char path[200];
    if (run->overlay) {
        r2h_fmt(path, sizeof path,
                "cell polygons from H3's boundaries (cellToBoundary for a third of the cells, "
                "the others assembled from their vertices), %llu (cell, valid pixel) pairs, %llu "
                "blocks of cells without valid pixels skipped",
                (unsigned long long)run->pairs, (unsigned long long)run->void_blocks);
        ev.index_path = path;
    }
    ev.pixels_read = run->res.pixels_read;
    ev.pixels_valid = run->res.pixels_valid;
    ev.index_fallbacks = run->res.index_fallbacks;
    ev.spilled_bytes = run->res.spilled_bytes;
    ev.rows_written = run->res.rows_written;
    ev.partitions_written = run->res.partitions_written;
    ev.peak_rss = r2h_peak_rss();
    r2h_conv_event(run, &ev);
}
