/* main.c - the raster2h3 command line: subcommands, signals, exit codes (options: options.c,
 * the run's events: events.c). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "r2h_cli.h"
#include "raster2h3.h"

/* Exit codes (documented in README): permanent failures are 2-5, retryable ones 75. */
enum {
    EXIT_OK = 0,
    EXIT_INTERNAL = 1,
    EXIT_USAGE = 2,
    EXIT_INPUT = 3,
    EXIT_OUTPUT = 4,
    EXIT_INTERRUPTED = 5,
    EXIT_VERIFY_FAILED = 6,
    EXIT_RETRYABLE = 75
};

/* Signal-safe removal of temporary files (unfinished partitions, spilled runs, lock files): the
 * one cleanup registry (common module). */
void r2h_cleanup_run(void);

static int exit_code_of(enum r2h_status st)
{
    switch (st) {
    case R2H_OK: return EXIT_OK;
    case R2H_ERR_INVALID: return EXIT_USAGE;
    case R2H_ERR_INPUT:
    case R2H_ERR_CRS: return EXIT_INPUT;
    case R2H_ERR_IO:
    case R2H_ERR_FORMAT: return EXIT_OUTPUT;
    case R2H_ERR_INTERRUPTED: return EXIT_INTERRUPTED;
    case R2H_ERR_TRANSIENT: return EXIT_RETRYABLE;
    default: return EXIT_INTERNAL;
    }
}

/* SIGINT/SIGTERM: remove temporary files, say so in one line and exit 5 (interrupted), the
 * documented code, not 128+N. Only async-signal-safe calls. */
static void on_signal(int sig)
{
    static const char term[] = "raster2h3: interrupted by SIGTERM; temporary files removed\n";
    static const char intr[] = "raster2h3: interrupted by SIGINT; temporary files removed\n";
    r2h_cleanup_run();
    if (sig == SIGTERM)
        (void)!write(2, term, sizeof term - 1);
    else
        (void)!write(2, intr, sizeof intr - 1);
    _exit(EXIT_INTERRUPTED);
}

/* A usage error from the parser: its message on stderr, exit 2. */
static int usage_error(const char *msg)
{
    fprintf(stderr, "raster2h3: %s\n", msg);
    return EXIT_USAGE;
}

static int cmd_convert(int argc, char **argv)
{
    static struct r2h_cli_args a; /* large (name buffers); one parse per process */
    char msg[1024];
    if (r2h_cli_parse(R2H_CLI_CONVERT, argc, argv, getenv("JOB_COMPLETION_INDEX"), isatty(2), &a,
                      msg, sizeof msg) != R2H_OK)
        return usage_error(msg);
    if (a.help) {
        r2h_cli_usage(R2H_CLI_CONVERT, stdout);
        return EXIT_OK;
    }
    struct r2h_convert_options o = a.convert;
    struct r2h_cli_events draw = {o.progress};
    o.event = r2h_cli_event;
    o.event_ctx = &draw;
    char err[1024] = "";
    r2h_gdal_defaults(o.memory); /* the library sets no GDAL globals itself */
    if (a.res_auto) {
        int r = 0;
        double pa = 0, ca = 0;
        char sub[4096]; /* --variable: its subdataset */
        enum r2h_status ast =
            o.variable ? r2h_input_variable(o.input, o.variable, sub, sizeof sub, err, sizeof err)
                       : R2H_OK;
        if (ast == R2H_OK)
            ast = r2h_auto_resolution_srs(o.variable ? sub : o.input, o.srs, &r, &pa, &ca, err,
                                          sizeof err);
        if (ast != R2H_OK) {
            fprintf(stderr, "raster2h3: %s\n", err[0] ? err : r2h_status_str(ast));
            return exit_code_of(ast);
        }
        o.resolution = r;
        fprintf(stderr,
                "raster2h3: --resolution auto picked %d (centre pixel %.6g m2, cell there "
                "%.6g m2)\n",
                r, pa, ca);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct r2h_convert_result res;
    enum r2h_status st = r2h_convert(&o, &res, err, sizeof err);
    if (st != R2H_OK) {
        fprintf(stderr, "raster2h3: %s\n", err[0] ? err : r2h_status_str(st));
        return exit_code_of(st);
    }
    return EXIT_OK;
}

static void print_problem(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "raster2h3: verify: %s\n", line);
}

static int cmd_verify(int argc, char **argv)
{
    static struct r2h_cli_args a;
    char msg[1024];
    if (r2h_cli_parse(R2H_CLI_VERIFY, argc, argv, NULL, 0, &a, msg, sizeof msg) != R2H_OK)
        return usage_error(msg);
    if (a.help) {
        r2h_cli_usage(R2H_CLI_VERIFY, stdout);
        return EXIT_OK;
    }
    struct r2h_verify_options o = a.verify;
    char err[1024] = "";
    struct r2h_verify_result res;
    r2h_gdal_defaults(0);
    enum r2h_status st = r2h_verify(&o, &res, print_problem, NULL, err, sizeof err);
    if (st != R2H_OK) {
        fprintf(stderr, "raster2h3: %s\n", err[0] ? err : r2h_status_str(st));
        return exit_code_of(st);
    }
    printf("%s: %d partitions, %llu rows, %d problem%s\n", o.output, res.partitions,
           (unsigned long long)res.rows, res.problems, res.problems == 1 ? "" : "s");
    return res.problems ? EXIT_VERIFY_FAILED : EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
    static struct r2h_cli_args a;
    char msg[1024];
    if (r2h_cli_parse(R2H_CLI_INFO, argc, argv, NULL, 0, &a, msg, sizeof msg) != R2H_OK)
        return usage_error(msg);
    if (a.help) {
        r2h_cli_usage(R2H_CLI_INFO, stdout);
        return EXIT_OK;
    }
    const char *out = a.info_output;
    const int json = a.info_json;
    char err[1024] = "", *text = NULL;
    r2h_gdal_defaults(0);
    enum r2h_status st = r2h_info(out, json, &text, err, sizeof err);
    if (st != R2H_OK) {
        fprintf(stderr, "raster2h3: %s\n", err[0] ? err : r2h_status_str(st));
        return exit_code_of(st);
    }
    fputs(text, stdout);
    r2h_info_free(text);
    return EXIT_OK;
}

static int cmd_preview(int argc, char **argv)
{
    static struct r2h_cli_args a;
    char msg[1024];
    if (r2h_cli_parse(R2H_CLI_PREVIEW, argc, argv, NULL, 0, &a, msg, sizeof msg) != R2H_OK)
        return usage_error(msg);
    if (a.help) {
        r2h_cli_usage(R2H_CLI_PREVIEW, stdout);
        return EXIT_OK;
    }
    struct r2h_preview_options o = a.preview;
    char err[1024] = "";
    r2h_gdal_defaults(0);
    enum r2h_status st = r2h_preview(&o, err, sizeof err);
    if (st != R2H_OK) {
        fprintf(stderr, "raster2h3: %s\n", err[0] ? err : r2h_status_str(st));
        return exit_code_of(st);
    }
    return EXIT_OK;
}

static int cmd_rasterize(int argc, char **argv)
{
    static struct r2h_cli_args a;
    char msg[1024];
    if (r2h_cli_parse(R2H_CLI_RASTERIZE, argc, argv, NULL, 0, &a, msg, sizeof msg) != R2H_OK)
        return usage_error(msg);
    if (a.help) {
        r2h_cli_usage(R2H_CLI_RASTERIZE, stdout);
        return EXIT_OK;
    }
    struct r2h_rasterize_options o = a.rasterize;
    char err[1024] = "";
    r2h_gdal_defaults(o.memory);
    signal(SIGINT, on_signal); /* the temporary OUT is removed */
    signal(SIGTERM, on_signal);
    enum r2h_status st = r2h_rasterize(&o, err, sizeof err);
    if (st != R2H_OK) {
        fprintf(stderr, "raster2h3: %s\n", err[0] ? err : r2h_status_str(st));
        return exit_code_of(st);
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
#ifdef M_MMAP_THRESHOLD
    /* Buffers up to 32 MiB (GDAL's decoded blocks, read chunks, Parquet pages and row groups)
     * come from the heap and are reused after free instead of being mapped and faulted in
     * afresh each time: about a fifth less system time on the carbon tile (docs/benchmarks.md).
     * Larger buffers (row buffers) are still mapped and given back when freed. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
    if (argc < 2) {
        r2h_cli_usage(R2H_CLI_CONVERT, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        r2h_cli_usage(R2H_CLI_CONVERT, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("raster2h3 %s\nH3 %s\nGDAL %s\n", r2h_version(), r2h_h3_version(),
               r2h_gdal_version());
        return EXIT_OK;
    }
    if (strcmp(argv[1], "convert") == 0)
        return cmd_convert(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "preview") == 0)
        return cmd_preview(argc - 1, argv + 1);
    if (strcmp(argv[1], "rasterize") == 0)
        return cmd_rasterize(argc - 1, argv + 1);
    fprintf(stderr, "raster2h3: unknown command '%s' (see raster2h3 --help)\n", argv[1]);
    return EXIT_USAGE;
}
