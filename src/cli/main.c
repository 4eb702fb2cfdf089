/* main.c - the raster2h3 command line: option parsing, job-array environment, exit codes. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

struct opt_doc {
    struct option opt;
    const char *arg;
    const char *help;
};

enum {
    OPT_RES = 'r',
    OPT_I = 1000,
    OPT_BAND,
    OPT_VALUE_NAME,
    OPT_NODATA,
    OPT_PROFILE,
    OPT_QUIET,
    OPT_INPUT_URL,
    OPT_HELP,
    OPT_VERSION,
    OPT_LEVEL,
    OPT_THREADS,
    OPT_MEMORY,
    OPT_TMPDIR,
    OPT_PROGRESS,
    OPT_OVERWRITE,
    OPT_DRY_RUN,
    OPT_INDEX,
    OPT_AGGREGATE,
    OPT_STAT,
    OPT_CLASSES,
    OPT_DENSITY,
    OPT_PARENTS,
    OPT_CELL_FORMAT,
    OPT_BANDS,
    OPT_UNSCALE,
    OPT_SRS
};

static const struct opt_doc options[] = {
    {{"resolution", required_argument, NULL, OPT_RES},
     "N",
     "H3 resolution 0..15 (default 8), or auto: the one nearest the pixel area"},
    {{"zoom", required_argument, NULL, OPT_RES}, "N", "same as --resolution (seed compatibility)"},
    {{"i", required_argument, NULL, OPT_I},
     "N",
     "work unit: base cell N (0..121); default $JOB_COMPLETION_INDEX, else the whole raster"},
    {{"band", required_argument, NULL, OPT_BAND}, "B", "band number, 1-based (default 1)"},
    {{"bands", required_argument, NULL, OPT_BANDS},
     "LIST",
     "several bands (1,3,5, or all: every band but alpha bands, which still\n"
     "                             mask): one value column each, in order; a pixel\n"
     "                             is written when valid in every band. At most 64 bits per\n"
     "                             pixel: 8 Byte, 4 Int16/UInt16, 2 Float32/Int32/UInt32 bands\n"
     "                             or 1 64-bit band"},
    {{"value-name", required_argument, NULL, OPT_VALUE_NAME},
     "NAME",
     "value column name (default: the band's GRIB element and level, description\n"
     "                             or NetCDF variable as an identifier, else 'value');\n"
     "                             with --bands a list a,b,c (default: those names, else\n"
     "                             band_<n>)"},
    {{"nodata", required_argument, NULL, OPT_NODATA},
     "V",
     "NoData value (overrides the band's; with --bands every band's)"},
    {{"unscale", no_argument, NULL, OPT_UNSCALE},
     NULL,
     "write bands that have a scale/offset as float64 value * scale + offset\n"
     "                             (default: raw values, with a warning; NoData is tested on\n"
     "                             the raw value)"},
    {{"srs", required_argument, NULL, OPT_SRS},
     "SRS",
     "assign this CRS to the input (EPSG:4326, WKT, PROJ string; replaces the input's)"},
    {{"input-url", required_argument, NULL, OPT_INPUT_URL}, "URL", "input (instead of INPUT)"},
    {{"aggregate", no_argument, NULL, OPT_AGGREGATE},
     NULL,
     "one row per cell with statistics (--stat) instead of one row per pixel"},
    {{"stat", required_argument, NULL, OPT_STAT},
     "LIST",
     "statistics of --aggregate: count,sum,mean,min,max,mode,fractions,area,total\n"
     "                             (default count,mean,min,max; with --density-unit\n"
     "                             count,area,total,mean)"},
    {{"classes", required_argument, NULL, OPT_CLASSES},
     "V1,V2,..",
     "class values of --stat fractions: one frac_<V> column each"},
    {{"density-unit", required_argument, NULL, OPT_DENSITY},
     "UNIT",
     "per-m2 | per-ha | per-km2: values are densities; <value>_total = sum of value x\n"
     "                             pixel area, mean and fractions area-weighted (WGS84 areas)"},
    {{"parents", required_argument, NULL, OPT_PARENTS},
     "R1,R2,..",
     "extra parent cell columns h<R> (parent_h0 for 0), resolutions below --resolution"},
    {{"cell-format", required_argument, NULL, OPT_CELL_FORMAT},
     "FMT",
     "uint64 (default) | string: 15-digit lowercase hex like h3-py"},
    {{"threads", required_argument, NULL, OPT_THREADS},
     "N",
     "worker threads (default: all cores); output is identical for any N"},
    {{"memory", required_argument, NULL, OPT_MEMORY},
     "SIZE",
     "memory budget for buffered rows, e.g. 512M, 4G (default 1G); rows beyond it are\n"
     "                             spilled as sorted runs to --tmpdir"},
    {{"tmpdir", required_argument, NULL, OPT_TMPDIR},
     "DIR",
     "directory for spilled runs (default $TMPDIR, else /tmp); removed at exit"},
    {{"progress", required_argument, NULL, OPT_PROGRESS},
     "MODE",
     "bar | lines | json | none (default: bar on a TTY, else lines every 5 s)"},
    {{"compression-level", required_argument, NULL, OPT_LEVEL}, "N", "zstd level (default 3)"},
    {{"index", required_argument, NULL, OPT_INDEX},
     "PATH",
     "fast (default: exact, many times faster) | reference (H3 latLngToCell per pixel)"},
    {{"overwrite", no_argument, NULL, OPT_OVERWRITE},
     NULL,
     "redo every partition (default: keep partitions complete for this input and options)"},
    {{"dry-run", no_argument, NULL, OPT_DRY_RUN}, NULL, "print what would be done, write nothing"},
    {{"profile", no_argument, NULL, OPT_PROFILE}, NULL, "print phase times and peak RSS to stderr"},
    {{"quiet", no_argument, NULL, OPT_QUIET}, NULL, "no progress output (--progress none)"},
    {{"help", no_argument, NULL, OPT_HELP}, NULL, "show this help"},
    {{"version", no_argument, NULL, OPT_VERSION}, NULL, "show versions of raster2h3, H3 and GDAL"},
};
#define NOPTS (sizeof options / sizeof options[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: raster2h3 convert INPUT OUTPUT [options]\n"
               "       raster2h3 verify OUTPUT [--input INPUT] (see raster2h3 verify --help)\n"
               "       raster2h3 info OUTPUT [--json]\n"
               "       raster2h3 preview OUTPUT OUT.png [--width N] [--extent world|data]\n"
               "                 [--column NAME]\n"
               "       raster2h3 --version | --help\n\n"
               "Convert a raster (any GDAL dataset; s3://bucket/key is read as /vsis3/bucket/key)\n"
               "to H3-indexed Parquet partitioned as OUTPUT/h0=<cell>/data_0.parquet.\n"
               "Settings resolve flag > environment > default.\n\noptions:\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", options[i].opt.name, options[i].arg ? " " : "",
                 options[i].arg ? options[i].arg : "");
        fprintf(f, "  %-26s %s\n", left, options[i].help);
    }
    fprintf(f,
            "\nexit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 output error,\n"
            "            5 interrupted, 6 verify found problems, 75 retryable (transient I/O)\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "raster2h3: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see raster2h3 --help)\n");
    return EXIT_USAGE;
}

/* Size with an optional K/M/G/T suffix (powers of 1024); 0 on error. */
static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || errno || v <= 0 || end == s)
        return 0;
    const char *units = "KMGT";
    if (*end) {
        const char *u = strchr(units, *end == 'k' ? 'K' : *end);
        if (!u || !*u || (end[1] && !(end[1] == 'B' || end[1] == 'i')) ||
            (end[1] == 'i' && end[2] != 'B') || (end[1] && end[2] && end[1] != 'i'))
            return 0;
        for (int i = 0; i <= u - units; i++)
            v *= 1024;
    }
    return v >= 1 && v < 1.8e19 ? (uint64_t)v : 0;
}

/* Physical memory of this machine in bytes (0 if unknown). */
static uint64_t machine_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

/* s without surrounding whitespace, copied into buf (job-array indexes come from YAML and
 * shells; " 5" and "5 " mean the same). */
static const char *trim(const char *s, char *buf, size_t len)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), s);
    return buf;
}

/* Strict number parse (the whole string); 1 on success. */
static int parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return *s && !*end;
}

/* Strict integer parse: the whole string, base 10, within [lo, hi]. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* A --bands list: "all" (*n = R2H_BANDS_ALL) or up to max distinct positive band numbers.
 * NULL on success, else the problem (for a usage error). */
static const char *parse_bands(const char *s, int *bands, int max, int *n)
{
    *n = 0;
    if (strcmp(s, "all") == 0) {
        *n = R2H_BANDS_ALL;
        return NULL;
    }
    if (!*s)
        return "--bands needs a list of band numbers (1,2,3) or all";
    for (const char *p = s;;) {
        char *end;
        errno = 0;
        long b = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || errno || b < 1 || b > INT_MAX || *p == '+' ||
            *p == ' ')
            return "--bands must be band numbers 1,2,3 (positive integers) or all, got '%s'";
        if (*n == max)
            return "--bands: too many bands in '%s' (at most 64 bits per pixel: 8 Byte bands)";
        for (int i = 0; i < *n; i++)
            if (bands[i] == b)
                return "--bands lists a band twice: '%s'";
        bands[(*n)++] = (int)b;
        if (!*end)
            return NULL;
        p = end + 1;
    }
}

/* Split a --value-name list at commas into names (pointers into buf, a copy). */
static int split_names(const char *s, char *buf, size_t len, const char **names, int max)
{
    snprintf(buf, len, "%s", s);
    int n = 0;
    for (char *p = buf; n < max;) {
        names[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

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

static void print_warning(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "raster2h3: warning: %s\n", line);
}

static int cmd_convert(int argc, char **argv)
{
    struct r2h_convert_options o;
    r2h_convert_options_init(&o);
    o.warn = print_warning;
    struct option longopts[NOPTS + 1];
    for (size_t i = 0; i < NOPTS; i++)
        longopts[i] = options[i].opt;
    memset(&longopts[NOPTS], 0, sizeof longopts[NOPTS]);
    const char *input_url = NULL, *i_flag = NULL, *names[65];
    int quiet = 0, progress_set = 0, res_auto = 0, band_set = 0, bands[64];
    char namebuf[4096];
    double classes[64];
    long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_RES:
            if (strcmp(optarg, "auto") == 0) {
                res_auto = 1;
                break;
            }
            res_auto = 0;
            if (!parse_int(optarg, 0, 15, &v))
                return usage_error("--resolution must be an integer 0..15, got '%s'", optarg);
            o.resolution = (int)v;
            break;
        case OPT_I: i_flag = optarg; break;
        case OPT_BAND:
            if (!parse_int(optarg, 1, INT_MAX, &v))
                return usage_error("--band must be a positive integer, got '%s'", optarg);
            o.band = (int)v;
            band_set = 1;
            break;
        case OPT_BANDS: {
            const char *bad = parse_bands(optarg, bands, 64, &o.nbands);
            if (bad)
                return usage_error(bad, optarg);
            o.bands = o.nbands > 0 ? bands : NULL;
            if (!o.nbands)
                return usage_error("%s", "--bands needs a list of band numbers (1,2,3) or all");
            break;
        }
        case OPT_VALUE_NAME: o.value_name = optarg; break;
        case OPT_UNSCALE: o.unscale = 1; break;
        case OPT_SRS:
            if (!*optarg)
                return usage_error("%s", "--srs needs a CRS, e.g. EPSG:4326");
            o.srs = optarg;
            break;
        case OPT_NODATA:
            if (!(o.has_nodata = parse_double(optarg, &o.nodata)))
                return usage_error("--nodata must be a number, got '%s'", optarg);
            break;
        case OPT_LEVEL:
            if (!parse_int(optarg, 1, 22, &v))
                return usage_error("--compression-level must be 1..22, got '%s'", optarg);
            o.compression_level = (int)v;
            break;
        case OPT_THREADS:
            if (!parse_int(optarg, 1, 1024, &v))
                return usage_error("--threads must be an integer 1..1024, got '%s'", optarg);
            o.threads = (int)v;
            break;
        case OPT_MEMORY:
            if (!(o.memory = parse_size(optarg)) || o.memory < ((uint64_t)16 << 20))
                return usage_error("--memory must be a size of at least 16M, got '%s'", optarg);
            if (machine_memory() && o.memory > machine_memory()) {
                fprintf(stderr,
                        "raster2h3: --memory %s exceeds this machine's memory (%.1f GiB)"
                        " (see raster2h3 --help)\n",
                        optarg, (double)machine_memory() / (1 << 30));
                return EXIT_USAGE;
            }
            break;
        case OPT_TMPDIR: o.tmpdir = optarg; break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "bar") == 0)
                o.progress = R2H_PROGRESS_BAR;
            else if (strcmp(optarg, "lines") == 0)
                o.progress = R2H_PROGRESS_LINES;
            else if (strcmp(optarg, "json") == 0)
                o.progress = R2H_PROGRESS_JSON;
            else if (strcmp(optarg, "none") == 0)
                o.progress = R2H_PROGRESS_NONE;
            else
                return usage_error("--progress must be bar, lines, json or none, got '%s'", optarg);
            progress_set = 1;
            break;
        case OPT_AGGREGATE: o.aggregate = 1; break;
        case OPT_STAT:
            if (!(o.stats = r2h_stats_parse(optarg)))
                return usage_error("--stat must list count,sum,mean,min,max,mode,fractions,area,"
                                   "total; got '%s'",
                                   optarg);
            break;
        case OPT_CLASSES: {
            o.nclasses = 0;
            for (char *p = optarg; *p;) {
                char *end;
                double d = strtod(p, &end);
                if (end == p || (*end && *end != ',') || o.nclasses == 64)
                    return usage_error("--classes must be up to 64 numbers V1,V2,..., got '%s'",
                                       optarg);
                classes[o.nclasses++] = d;
                p = *end ? end + 1 : end;
            }
            o.classes = classes;
            break;
        }
        case OPT_DENSITY:
            if (strcmp(optarg, "per-m2") == 0)
                o.density_unit = R2H_DENSITY_PER_M2;
            else if (strcmp(optarg, "per-ha") == 0)
                o.density_unit = R2H_DENSITY_PER_HA;
            else if (strcmp(optarg, "per-km2") == 0)
                o.density_unit = R2H_DENSITY_PER_KM2;
            else
                return usage_error("--density-unit must be per-m2, per-ha or per-km2, got '%s'",
                                   optarg);
            break;
        case OPT_PARENTS: {
            o.parents = 0;
            for (char *p = optarg; *p;) {
                char *end;
                errno = 0;
                long r = strtol(p, &end, 10);
                if (end == p || (*end && *end != ',') || r < 0 || r > 15)
                    return usage_error("--parents must be resolutions R1,R2,... in 0..15, got '%s'",
                                       optarg);
                o.parents |= 1u << r;
                p = *end ? end + 1 : end;
            }
            break;
        }
        case OPT_CELL_FORMAT:
            if (strcmp(optarg, "uint64") == 0)
                o.cell_string = 0;
            else if (strcmp(optarg, "string") == 0)
                o.cell_string = 1;
            else
                return usage_error("--cell-format must be uint64 or string, got '%s'", optarg);
            break;
        case OPT_INPUT_URL: input_url = optarg; break;
        case OPT_PROFILE: o.profile = 1; break;
        case OPT_OVERWRITE: o.overwrite = 1; break;
        case OPT_INDEX:
            if (strcmp(optarg, "fast") != 0 && strcmp(optarg, "reference") != 0)
                return usage_error("--index must be fast or reference, got '%s'", optarg);
            o.reference_index = strcmp(optarg, "reference") == 0;
            break;
        case OPT_DRY_RUN: o.dry_run = 1; break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_HELP: usage(stdout); return EXIT_OK;
        case ':': return usage_error("option %s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (band_set && o.nbands)
        return usage_error("%s", "--band and --bands cannot be combined (use --bands B1,B2,...)");
    if (o.nbands && o.value_name) { /* a list, one name per band */
        o.nvalue_names = split_names(o.value_name, namebuf, sizeof namebuf, names, 65);
        o.value_names = names;
        o.value_name = NULL;
    }
    int npos = argc - optind;
    if (input_url) {
        if (npos != 1)
            return usage_error("%s", "with --input-url give exactly one positional OUTPUT");
        o.input = input_url;
        o.output = argv[optind];
    } else {
        if (npos != 2)
            return usage_error("%s", "convert needs INPUT and OUTPUT");
        o.input = argv[optind];
        o.output = argv[optind + 1];
    }
    if (quiet)
        o.progress = R2H_PROGRESS_NONE;
    else if (!progress_set)
        o.progress = isatty(2) ? R2H_PROGRESS_BAR : R2H_PROGRESS_LINES;
    const char *env = getenv("JOB_COMPLETION_INDEX");
    const char *src = i_flag ? "--i" : "JOB_COMPLETION_INDEX";
    char wubuf[64];
    const char *wu = i_flag ? i_flag : (env && *env ? env : NULL);
    if (wu) {
        if (strlen(wu) >= sizeof wubuf || !parse_int(trim(wu, wubuf, sizeof wubuf), 0, 121, &v)) {
            fprintf(stderr, "raster2h3: %s must be an integer 0..121, got '%s'\n", src, wu);
            return EXIT_USAGE;
        }
        o.work_unit = (int)v;
    }
    char err[1024] = "";
    if (res_auto) {
        int r = 0;
        double pa = 0, ca = 0;
        enum r2h_status ast =
            r2h_auto_resolution_srs(o.input, o.srs, &r, &pa, &ca, err, sizeof err);
        if (ast != R2H_OK) {
            fprintf(stderr, "raster2h3: %s\n", err[0] ? err : r2h_status_str(ast));
            return exit_code_of(ast);
        }
        o.resolution = r;
        fprintf(stderr,
                "raster2h3: --resolution auto picked %d (centre pixel %.6g m2, average cell "
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

static void verify_usage(FILE *f)
{
    fprintf(f, "usage: raster2h3 verify OUTPUT [--input INPUT] [--band B | --bands LIST]\n"
               "                        [--nodata V] [--srs SRS] [--i N] [--threads N]\n"
               "                        [--write-manifest]\n\n"
               "Check a dataset: every partition readable, under the h0= of its rows' cells,\n"
               "cells sorted and of one resolution, manifest consistent; with --input, rows per\n"
               "partition equal to the raster's valid pixels there (in every band of --bands;\n"
               "default: the bands the dataset was made from; NoData as recorded unless\n"
               "--nodata). Also: one fingerprint across partitions, no stray files, a complete\n"
               "manifest (without one, only --input can tell completeness). --i N checks\n"
               "partition N only. --write-manifest needs --input and no --i. Problems go to\n"
               "stderr, one per line; exit 0 if none, 6 if any; 75 (transient) or 4\n"
               "(permission) if the dataset cannot be read.\n");
}

static int cmd_verify(int argc, char **argv)
{
    struct r2h_verify_options o;
    r2h_verify_options_init(&o);
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'I'},   {"band", required_argument, NULL, 'b'},
        {"bands", required_argument, NULL, 'B'},   {"nodata", required_argument, NULL, 'n'},
        {"i", required_argument, NULL, 'i'},       {"srs", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'}, {"write-manifest", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    long v;
    int c, bands[64];
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'I': o.input = optarg; break;
        case 'B': {
            const char *bad = parse_bands(optarg, bands, 64, &o.nbands);
            if (bad)
                return usage_error(bad, optarg);
            if (o.nbands == R2H_BANDS_ALL)
                return usage_error("%s", "verify --bands needs band numbers, not all");
            o.bands = bands;
            break;
        }
        case 'b':
            if (!parse_int(optarg, 1, INT_MAX, &v))
                return usage_error("--band must be a positive integer, got '%s'", optarg);
            o.band = (int)v;
            break;
        case 'n':
            if (!(o.has_nodata = parse_double(optarg, &o.nodata)))
                return usage_error("--nodata must be a number, got '%s'", optarg);
            break;
        case 'i':
            if (!parse_int(optarg, 0, 121, &v))
                return usage_error("--i must be an integer 0..121, got '%s'", optarg);
            o.work_unit = (int)v;
            break;
        case 't':
            if (!parse_int(optarg, 1, 1024, &v))
                return usage_error("--threads must be an integer 1..1024, got '%s'", optarg);
            o.threads = (int)v;
            break;
        case 's': o.srs = optarg; break;
        case 'w': o.write_manifest = 1; break;
        case 'h': verify_usage(stdout); return EXIT_OK;
        case ':': return usage_error("option %s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return usage_error("%s", "verify needs OUTPUT");
    if (o.band && o.nbands)
        return usage_error("%s", "--band and --bands cannot be combined");
    o.output = argv[optind];
    char err[1024] = "";
    struct r2h_verify_result res;
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
    int json = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: raster2h3 info OUTPUT [--json]\n\nSummary of a dataset from its "
                   "partition footers: partitions, rows, bytes,\nresolution, mode, columns "
                   "with min/max, source and versions.\n");
            return EXIT_OK;
        } else if (argv[i][0] == '-' || out)
            return usage_error("info: unexpected argument '%s'", argv[i]);
        else
            out = argv[i];
    }
    if (!out)
        return usage_error("%s", "info needs OUTPUT");
    char err[1024] = "", *text = NULL;
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
    struct r2h_preview_options o;
    r2h_preview_options_init(&o);
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            printf("usage: raster2h3 preview OUTPUT OUT.png [--width N] [--extent world|data]"
                   " [--column NAME]\n\nAn equirectangular map of the dataset's cells coloured"
                   " by value (viridis),\nwith a min/max legend; transparent where no data.\n");
            return EXIT_OK;
        } else if ((strcmp(a, "--width") == 0 || strcmp(a, "--extent") == 0 ||
                    strcmp(a, "--column") == 0) &&
                   i + 1 >= argc) {
            return usage_error("option %s needs a value", a);
        } else if (strcmp(a, "--width") == 0) {
            if (!parse_int(argv[++i], 64, 16384, &v))
                return usage_error("--width must be 64..16384, got '%s'", argv[i]);
            o.width = (int)v;
        } else if (strcmp(a, "--extent") == 0) {
            ++i;
            if (strcmp(argv[i], "world") == 0)
                o.extent_data = 0;
            else if (strcmp(argv[i], "data") == 0)
                o.extent_data = 1;
            else
                return usage_error("--extent must be world or data, got '%s'", argv[i]);
        } else if (strcmp(a, "--column") == 0) {
            o.column = argv[++i];
        } else if (a[0] == '-' || npos == 2) {
            return usage_error("preview: unexpected argument '%s'", a);
        } else {
            pos[npos++] = a;
        }
    }
    if (npos != 2)
        return usage_error("%s", "preview needs OUTPUT and OUT.png");
    o.output = pos[0];
    o.png = pos[1];
    char err[1024] = "";
    enum r2h_status st = r2h_preview(&o, err, sizeof err);
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
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
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
    fprintf(stderr, "raster2h3: unknown command '%s' (see raster2h3 --help)\n", argv[1]);
    return EXIT_USAGE;
}
