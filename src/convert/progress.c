/* progress.c - progress of a convert run on stderr (bar, lines, JSON) and the --profile report. */
#include <stdio.h>

#include "convert_internal.h"

static const char *const phase_names[NPHASES] = {
    "read", "locate", "index", "route", "sort", "spill", "merge+encode+write"};

static void fmt_duration(char *dst, size_t len, double s)
{
    if (s < 0 || s > 1e7)
        r2h_fmt(dst, len, "?");
    else if (s >= 3600)
        r2h_fmt(dst, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        r2h_fmt(dst, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

/* Progress on stderr: a live bar (TTY), plain lines or JSON lines (log collectors), the latter
 * at most every 5 s. Called with run->mu held. */
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
    double el = now - run->t_start;
    double frac = run->pixels_total ? (double)run->pixels_done / (double)run->pixels_total : 1.0;
    double rate = el > 0 ? (double)run->pixels_done / el : 0.0;
    double eta = rate > 0 ? (double)(run->pixels_total - run->pixels_done) / rate : -1;
    char etas[32];
    fmt_duration(etas, sizeof etas, eta);
    if (mode == R2H_PROGRESS_JSON) {
        fprintf(stderr,
                "{\"event\":\"progress\",\"pixels_done\":%llu,\"pixels_total\":%llu,"
                "\"fraction\":%.4f,\"pixels_per_s\":%.0f,\"elapsed_s\":%.1f,\"eta_s\":%.1f}\n",
                (unsigned long long)run->pixels_done, (unsigned long long)run->pixels_total, frac,
                rate, el, eta < 0 ? -1.0 : eta);
    } else if (mode == R2H_PROGRESS_BAR) {
        char bar[31];
        int fill = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %5.1f%% %.1f Mpixel/s ETA %s   %s", bar, 100 * frac, rate / 1e6,
                etas, final ? "\n" : "");
    } else {
        fprintf(stderr, "raster2h3: %5.1f%% %llu/%llu pixels, %.1f Mpixel/s, %.0f s, ETA %s\n",
                100 * frac, (unsigned long long)run->pixels_done,
                (unsigned long long)run->pixels_total, rate / 1e6, el, etas);
    }
}

void r2h_conv_print_profile(const struct run *run)
{
    double total = r2h_now() - run->t_start;
    fprintf(stderr, "raster2h3: profile (thread-seconds):");
    for (int i = 0; i < NPHASES; i++)
        fprintf(stderr, " %s %.3f,", phase_names[i], run->phase[i]);
    fprintf(stderr, " wall %.3f s, %d thread%s\n", total, run->nworkers,
            run->nworkers == 1 ? "" : "s");
    fprintf(stderr, "raster2h3: profile: index path %s, %llu fallbacks to latLngToCell\n",
            run->opt->reference_index ? "reference latLngToCell"
            : run->grid               ? "fast grid"
                                      : "fast points",
            (unsigned long long)run->res.index_fallbacks);
    fprintf(stderr,
            "raster2h3: profile: %llu pixels read, %llu valid, %.2f Mpixel/s read, "
            "%.2f M valid/s, spilled %.1f MiB, peak RSS %.1f MiB\n",
            (unsigned long long)run->res.pixels_read, (unsigned long long)run->res.pixels_valid,
            total > 0 ? (double)run->res.pixels_read / total / 1e6 : 0.0,
            total > 0 ? (double)run->res.pixels_valid / total / 1e6 : 0.0,
            (double)run->res.spilled_bytes / (1024.0 * 1024.0),
            (double)r2h_peak_rss() / (1024.0 * 1024.0));
}
