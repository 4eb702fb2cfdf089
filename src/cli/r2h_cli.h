/* r2h_cli.h - pieces of the raster2h3 command shared by its files. */
#ifndef R2H_CLI_H
#define R2H_CLI_H

#include <stdio.h>

#include "raster2h3.h"

/* How the command draws a convert run's events on stderr/stdout. */
struct r2h_cli_events {
    enum r2h_progress progress; /* bar, lines, JSON or none */
};

/* The event callback of convert (ctx: struct r2h_cli_events): progress as a bar, lines or
 * JSON lines on stderr, the --dry-run plan on stdout, "nothing to do", warnings and the
 * --profile report on stderr. */
void r2h_cli_event(void *ctx, const struct r2h_event *ev);

/* The subcommands (bits: the option table says which accept a flag). */
enum r2h_cli_cmd {
    R2H_CLI_CONVERT = 1,
    R2H_CLI_VERIFY = 2,
    R2H_CLI_INFO = 4,
    R2H_CLI_PREVIEW = 8,
    R2H_CLI_RASTERIZE = 16
};

/* What the command line asks for. The option structs borrow argv's strings and the arrays
 * below. */
struct r2h_cli_args {
    int cmd;  /* enum r2h_cli_cmd */
    int help; /* --help: show the subcommand's usage and exit 0 */
    struct r2h_convert_options convert;
    struct r2h_verify_options verify;
    struct r2h_preview_options preview;
    struct r2h_rasterize_options rasterize;
    const char *co[64]; /* rasterize --co KEY=VALUE */
    const char *info_output;
    int info_json;
    int res_auto; /* convert --resolution auto: pick it from the input */
    int bbox_set; /* rasterize --bbox given */
    int bands[64];
    const char *names[65];
    char namebuf[4096];
    double classes[64];
};

/* Parse the arguments of subcommand cmd (argv[0] is its name) with the one option table into
 * *a; job_index: $JOB_COMPLETION_INDEX (NULL if unset), stderr_tty: stderr is a terminal
 * (progress bar by default). R2H_OK, or R2H_ERR_INVALID with the message (without the
 * "raster2h3: " prefix) in msg. Never prints or exits; argv may be permuted (getopt). */
enum r2h_status r2h_cli_parse(int cmd, int argc, char **argv, const char *job_index, int stderr_tty,
                              struct r2h_cli_args *a, char *msg, size_t len);

/* The --help text of subcommand cmd (convert's lists the option table) on f. */
void r2h_cli_usage(int cmd, FILE *f);

#endif
