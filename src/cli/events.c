/* events.c - the raster2h3 command draws a convert run's events: progress (bar, lines, JSON),
 * the --dry-run plan, "nothing to do", warnings and the --profile report. */
#include <stdio.h>
#include <string.h>

#include "r2h_cli.h"

static void fmt_duration(char *dst, size_t len, double s)
{
    if (s < 0 || s > 1e7)
        snprintf(dst, len, "?");
    else if (s >= 3600)
        snprintf(dst, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(dst, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

/* Progress on stderr: a live bar (TTY), plain lines or JSON lines (log collectors); the
 * library sends them at the rate of the mode. */
static void progress(enum r2h_progress mode, const struct r2h_event *ev)
{
    double el = ev->elapsed_s;
    double frac = ev->pixels_total ? (double)ev->pixels_done / (double)ev->pixels_total : 1.0;
    double rate = el > 0 ? (double)ev->pixels_done / el : 0.0;
    double eta = rate > 0 ? (double)(ev->pixels_total - ev->pixels_done) / rate : -1;
    char etas[32];
    fmt_duration(etas, sizeof etas, eta);
    if (mode == R2H_PROGRESS_JSON) {
        fprintf(stderr,
                "{\"event\":\"progress\",\"pixels_done\":%llu,\"pixels_total\":%llu,"
                "\"fraction\":%.4f,\"pixels_per_s\":%.0f,\"elapsed_s\":%.1f,\"eta_s\":%.1f}\n",
                (unsigned long long)ev->pixels_done, (unsigned long long)ev->pixels_total, frac,
                rate, el, eta < 0 ? -1.0 : eta);
    } else if (mode == R2H_PROGRESS_BAR) {
        char bar[31];
        int fill = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %5.1f%% %.1f M%s/s ETA %s   %s", bar, 100 * frac, rate / 1e6,
                ev->cells ? "cell" : "pixel", etas, ev->final ? "\n" : "");
    } else if (mode == R2H_PROGRESS_LINES) {
        const char *u = ev->cells ? "cell" : "pixel";
        fprintf(stderr, "raster2h3: %5.1f%% %llu/%llu %ss, %.1f M%s/s, %.0f s, ETA %s\n",
                100 * frac, (unsigned long long)ev->pixels_done,
                (unsigned long long)ev->pixels_total, u, rate / 1e6, u, el, etas);
    }
}

static void profile(const struct r2h_event *ev)
{
    double total = ev->elapsed_s;
    fprintf(stderr, "raster2h3: profile (thread-seconds):");
    for (int i = 0; i < R2H_EVENT_NPHASES; i++)
        fprintf(stderr, " %s %.3f,", ev->phase_names[i], ev->phase_s[i]);
    fprintf(stderr, " wall %.3f s, %d thread%s\n", total, ev->threads, ev->threads == 1 ? "" : "s");
    if (ev->cells && strncmp(ev->index_path, "cell polygons", 13) == 0) {
        fprintf(stderr, "raster2h3: profile: %s\n", ev->index_path);
    } else if (ev->cells) {
        fprintf(stderr, "raster2h3: profile: %s, %llu centres by cellToLatLng\n", ev->index_path,
                (unsigned long long)ev->index_fallbacks);
    }
    if (ev->cells) {
        fprintf(stderr,
                "raster2h3: profile: %llu cells examined, %llu written, %.2f M cells/s "
                "written, peak RSS %.1f MiB\n",
                (unsigned long long)ev->pixels_read, (unsigned long long)ev->pixels_valid,
                total > 0 ? (double)ev->pixels_valid / total / 1e6 : 0.0,
                (double)ev->peak_rss / (1024.0 * 1024.0));
        return;
    }
    fprintf(stderr, "raster2h3: profile: index path %s, %llu fallbacks to latLngToCell\n",
            ev->index_path, (unsigned long long)ev->index_fallbacks);
    fprintf(stderr,
            "raster2h3: profile: %llu pixels read, %llu valid, %.2f Mpixel/s read, "
            "%.2f M valid/s, spilled %.1f MiB, peak RSS %.1f MiB\n",
            (unsigned long long)ev->pixels_read, (unsigned long long)ev->pixels_valid,
            total > 0 ? (double)ev->pixels_read / total / 1e6 : 0.0,
            total > 0 ? (double)ev->pixels_valid / total / 1e6 : 0.0,
            (double)ev->spilled_bytes / (1024.0 * 1024.0),
            (double)ev->peak_rss / (1024.0 * 1024.0));
}

void r2h_cli_event(void *ctx, const struct r2h_event *ev)
{
    const struct r2h_cli_events *c = ctx;
    switch (ev->kind) {
    case R2H_EVENT_PROGRESS: progress(c->progress, ev); break;
    case R2H_EVENT_PLAN_LINE: printf("%s\n", ev->line); break;
    case R2H_EVENT_NOTHING_TO_DO:
        if (c->progress != R2H_PROGRESS_NONE)
            fprintf(stderr, "raster2h3: %s is complete; nothing to do\n", ev->line);
        break;
    case R2H_EVENT_WARNING: fprintf(stderr, "raster2h3: warning: %s\n", ev->line); break;
    case R2H_EVENT_NOTE:
        if (c->progress != R2H_PROGRESS_NONE)
            fprintf(stderr, "raster2h3: %s\n", ev->line);
        break;
    case R2H_EVENT_PROFILE: profile(ev); break;
    }
}
