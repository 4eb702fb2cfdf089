/* r2h_cli.h - pieces of the raster2h3 command shared by its files. */
#ifndef R2H_CLI_H
#define R2H_CLI_H

#include "raster2h3.h"

/* How the command draws a convert run's events on stderr/stdout. */
struct r2h_cli_events {
    enum r2h_progress progress; /* bar, lines, JSON or none */
};

/* The event callback of convert (ctx: struct r2h_cli_events): progress as a bar, lines or
 * JSON lines on stderr, the --dry-run plan on stdout, "nothing to do", warnings and the
 * --profile report on stderr. */
void r2h_cli_event(void *ctx, const struct r2h_event *ev);

#endif
