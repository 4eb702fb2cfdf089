/* options.c - the command line's one option table and its parser: every flag of every
 * subcommand (name, argument, help, which subcommands), parsed by one getopt_long loop into
 * the library's option structs. No exits and no printing: the parser returns a status and a
 * message, so it can be fuzzed (tests/fuzz/fuzz_cli_options.c). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "r2h_cli.h"

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
    OPT_CELL_TYPE,
    OPT_BANDS,
    OPT_UNSCALE,
    OPT_SRS,
    OPT_INPUT,
    OPT_WRITE_MANIFEST,
    OPT_JSON,
    OPT_WIDTH,
    OPT_EXTENT,
    OPT_COLUMN,
    OPT_METHOD,
    OPT_MIN_COVERAGE,
    OPT_RESAMPLE,
    OPT_LIKE,
    OPT_BBOX,
    OPT_RES_XY,
    OPT_CO,
    OPT_REDUCE,
    OPT_VARIABLE
};

enum {
    C = R2H_CLI_CONVERT,
    V = R2H_CLI_VERIFY,
    I = R2H_CLI_INFO,
    P = R2H_CLI_PREVIEW,
    R = R2H_CLI_RASTERIZE
};

/* One flag: its long name, whether it takes a value, the subcommands that accept it, and the
 * argument name and help line of convert's --help (in this order). */
struct cli_opt {
    const char *name;
    int has_arg;
    int id;
    unsigned cmds;
    const char *arg;
    const char *help;
};

static const struct cli_opt options[] = {
    {"resolution", required_argument, OPT_RES, C, "N",
     "H3 resolution 0..15 (default 8), or auto: the one nearest the pixel area"},
    {"zoom", required_argument, OPT_RES, C, "N", "same as --resolution (seed compatibility)"},
    {"i", required_argument, OPT_I, C | V, "N",
     "work unit: base cell N (0..121); default $JOB_COMPLETION_INDEX, else the whole raster"},
    {"band", required_argument, OPT_BAND, C | V, "B", "band number, 1-based (default 1)"},
    {"bands", required_argument, OPT_BANDS, C | V, "LIST",
     "several bands (1,3,5, or all: every band but alpha bands, which still\n"
     "                             mask): one value column each, in order; a pixel\n"
     "                             is written when valid in every band. At most 64 bits per\n"
     "                             pixel: 8 Byte, 4 Int16/UInt16, 2 Float32/Int32/UInt32 bands\n"
     "                             or 1 64-bit band"},
    {"value-name", required_argument, OPT_VALUE_NAME, C, "NAME",
     "value column name (default: the band's GRIB element and level, description\n"
     "                             or NetCDF variable as an identifier, else 'value');\n"
     "                             with --bands a list a,b,c (default: those names, else\n"
     "                             band_<n>)"},
    {"nodata", required_argument, OPT_NODATA, C | V | R, "V",
     "NoData value (overrides the band's; with --bands every band's)"},
    {"unscale", no_argument, OPT_UNSCALE, C, NULL,
     "write bands that have a scale/offset as float64 value * scale + offset\n"
     "                             (default: raw values, with a warning; NoData is tested on\n"
     "                             the raw value)"},
    {"srs", required_argument, OPT_SRS, C | V | R, "SRS",
     "assign this CRS to the input (EPSG:4326, WKT, PROJ string; replaces the input's)"},
    {"variable", required_argument, OPT_VARIABLE, C | V, "NAME",
     "NetCDF/HDF: the variable to convert (a subdataset); with --bands its\n"
     "                             time steps are columns <var>_<time> (sst_2010_01)"},
    {"input-url", required_argument, OPT_INPUT_URL, C, "URL", "input (instead of INPUT)"},
    {"method", required_argument, OPT_METHOD, C, "M",
     "point (default): a row per valid pixel, in the cell of its centre | sample: a row\n"
     "                             per cell whose centre is on a valid pixel, the raster sampled\n"
     "                             there (cells finer than pixels) | overlay: a row per cell\n"
     "                             covering valid pixels, --stat weighted by the share of each\n"
     "                             pixel's area in the cell (densities, classes) | auto: sample\n"
     "                             when cells are smaller than the pixels, else point"},
    {"min-coverage", required_argument, OPT_MIN_COVERAGE, C, "F",
     "--method overlay: no row for a cell less than F (0..1) covered by valid pixels\n"
     "                             (not with sum, total or area: it would lose mass)"},
    {"resample", required_argument, OPT_RESAMPLE, C, "K",
     "kernel of --method sample: nearest (default; the band's type) | bilinear | cubic\n"
     "                             (float64; no row where the kernel meets an invalid pixel)"},
    {"aggregate", no_argument, OPT_AGGREGATE, C, NULL,
     "one row per cell with statistics (--stat) instead of one row per pixel"},
    {"stat", required_argument, OPT_STAT, C, "LIST",
     "statistics of --aggregate: count,sum,mean,min,max,mode,fractions,area,total\n"
     "                             (default count,mean,min,max; with --density-unit\n"
     "                             count,area,total,mean); of --method overlay also coverage\n"
     "                             (default mean,coverage; with --density-unit total,mean,\n"
     "                             coverage)"},
    {"classes", required_argument, OPT_CLASSES, C, "V1,V2,..",
     "class values of --stat fractions: one frac_<V> column each"},
    {"density-unit", required_argument, OPT_DENSITY, C, "UNIT",
     "per-m2 | per-ha | per-km2: values are densities; <value>_total = sum of value x\n"
     "                             pixel area, mean and fractions area-weighted (WGS84 areas)"},
    {"parents", required_argument, OPT_PARENTS, C, "R1,R2,..",
     "extra parent cell columns h<R> (parent_h0 for 0), resolutions below --resolution"},
    {"cell-type", required_argument, OPT_CELL_TYPE, C, "TYPE",
     "type of the cell and parent columns: uint64 (default) | int64 (signed: Spark,\n"
     "                             Databricks, BigQuery, Snowflake) | string (15-digit\n"
     "                             lowercase hex like h3-py)"},
    {"cell-format", required_argument, OPT_CELL_FORMAT, C, "FMT",
     "uint64 | string: the same as --cell-type uint64 | string"},
    {"threads", required_argument, OPT_THREADS, C | V, "N",
     "worker threads (default: all cores); output is identical for any N"},
    {"memory", required_argument, OPT_MEMORY, C | R, "SIZE",
     "memory budget for buffered rows, e.g. 512M, 4G (default 1G); rows beyond it are\n"
     "                             spilled as sorted runs to --tmpdir"},
    {"tmpdir", required_argument, OPT_TMPDIR, C, "DIR",
     "directory for spilled runs (default $TMPDIR, else /tmp); removed at exit"},
    {"progress", required_argument, OPT_PROGRESS, C, "MODE",
     "bar | lines | json | none (default: bar on a TTY, else lines every 5 s)"},
    {"compression-level", required_argument, OPT_LEVEL, C, "N", "zstd level (default 3)"},
    {"index", required_argument, OPT_INDEX, C, "PATH",
     "fast (default: exact, many times faster) | reference (H3 latLngToCell per pixel)"},
    {"overwrite", no_argument, OPT_OVERWRITE, C, NULL,
     "redo every partition (default: keep partitions complete for this input and options)"},
    {"dry-run", no_argument, OPT_DRY_RUN, C, NULL, "print what would be done, write nothing"},
    {"profile", no_argument, OPT_PROFILE, C, NULL, "print phase times and peak RSS to stderr"},
    {"quiet", no_argument, OPT_QUIET, C, NULL, "no progress output (--progress none)"},
    {"help", no_argument, OPT_HELP, C | V | I | P | R, NULL, "show this help"},
    {"version", no_argument, OPT_VERSION, C, NULL, "show versions of raster2h3, H3 and GDAL"},
    /* Not in convert's help: verify's, info's and preview's own help texts describe them. */
    {"input", required_argument, OPT_INPUT, V, "INPUT", NULL},
    {"write-manifest", no_argument, OPT_WRITE_MANIFEST, V, NULL, NULL},
    {"json", no_argument, OPT_JSON, I, NULL, NULL},
    {"width", required_argument, OPT_WIDTH, P, "N", NULL},
    {"extent", required_argument, OPT_EXTENT, P, "world|data", NULL},
    {"column", required_argument, OPT_COLUMN, P | R, "NAME", NULL},
    {"like", required_argument, OPT_LIKE, R, "RASTER", NULL},
    {"bbox", required_argument, OPT_BBOX, R, "W,S,E,N", NULL},
    {"res", required_argument, OPT_RES_XY, R, "DX[,DY]", NULL},
    {"co", required_argument, OPT_CO, R, "KEY=VALUE", NULL},
    {"reduce", required_argument, OPT_REDUCE, R, "mean|min|max", NULL},
};
#define NOPTS (sizeof options / sizeof options[0])

void r2h_cli_usage(int cmd, FILE *f)
{
    if (cmd == R2H_CLI_VERIFY) {
        fprintf(f,
                "usage: raster2h3 verify OUTPUT [--input INPUT [--variable NAME]]\n"
                "                        [--band B | --bands LIST] [--nodata V] [--srs SRS]\n"
                "                        [--i N] [--threads N] [--write-manifest]\n\n"
                "Check a dataset: every partition readable, under the h0= of its rows' cells,\n"
                "cells sorted and of one resolution, manifest consistent; with --input, rows per\n"
                "partition equal to the raster's valid pixels there (in every band of --bands;\n"
                "default: the bands the dataset was made from; NoData as recorded unless\n"
                "--nodata). Also: one fingerprint across partitions, no stray files, a complete\n"
                "manifest (without one, only --input can tell completeness). --i N checks\n"
                "partition N only. --write-manifest needs --input and no --i. Problems go to\n"
                "stderr, one per line; exit 0 if none, 6 if any; 75 (transient) or 4\n"
                "(permission) if the dataset cannot be read.\n");
        return;
    }
    if (cmd == R2H_CLI_INFO) {
        fprintf(f, "usage: raster2h3 info OUTPUT [--json]\n\nSummary of a dataset from its "
                   "partition footers: partitions, rows, bytes,\nresolution, mode, columns "
                   "with min/max, source and versions.\n");
        return;
    }
    if (cmd == R2H_CLI_RASTERIZE) {
        fprintf(f,
                "usage: raster2h3 rasterize DATASET OUT.tif (--like RASTER | --bbox W,S,E,N\n"
                "                           --res DX[,DY] [--srs CRS]) [--column NAME]\n"
                "                           [--nodata V] [--co KEY=VALUE]... [--memory SIZE]\n"
                "                           [--reduce mean|min|max]\n\n"
                "Draw a dataset back onto a raster grid: each pixel takes the value of the\n"
                "dataset's cell (at its resolution) holding the pixel's centre, NoData where\n"
                "that cell has no row. One-band GeoTIFF, tiled, DEFLATE, written under a\n"
                "temporary name and renamed when complete.\n\n"
                "  --like RASTER        copy the grid (size, geotransform, CRS) of RASTER\n"
                "  --bbox W,S,E,N       extent in --srs units (with --res)\n"
                "  --res DX[,DY]        pixel size in --srs units (DY default DX)\n"
                "  --srs CRS            CRS of --bbox (default EPSG:4326); with --like, assigned\n"
                "                       to RASTER as convert --srs does\n"
                "  --column NAME        value column (default: the band's value column, else\n"
                "                       its _mean, _mode or _max, else count, as preview)\n"
                "  --nodata V           NoData value (default: NaN for floats; for integers the\n"
                "                       type's max (unsigned) or min (signed), else the other\n"
                "                       end, else a wider type, whichever the data leaves free)\n"
                "  --co KEY=VALUE       GDAL GTiff creation option (repeatable; replaces the\n"
                "                       default of that key: TILED=YES COMPRESS=DEFLATE\n"
                "                       BIGTIFF=IF_SAFER)\n"
                "  --memory SIZE        budget for the partitions' rows held at once (default\n"
                "                       1G): peak memory is about the largest row group (16\n"
                "                       bytes a row) or this budget, plus a strip of up to 256\n"
                "                       rows of the output (24 bytes a pixel)\n"
                "  --reduce mean|min|max  a cell with several rows (pixel rows of --method\n"
                "                       point, pixels finer than cells): their mean (float64\n"
                "                       output), least or greatest value; without it such a\n"
                "                       dataset is an error (exit 2), not one value picked\n\n"
                "Output type: the column's (uint8, uint16, int16, int32, uint32, float32,\n"
                "float64); int8 as int16; int64 and uint64 as float64 (exact up to 2^53).\n");
        return;
    }
    if (cmd == R2H_CLI_PREVIEW) {
        fprintf(f, "usage: raster2h3 preview OUTPUT OUT.png [--width N] [--extent world|data]"
                   " [--column NAME]\n\nAn equirectangular map of the dataset's cells coloured"
                   " by value (viridis),\nwith a min/max legend; transparent where no data.\n");
        return;
    }
    fprintf(f,
            "usage: raster2h3 convert INPUT OUTPUT [options]\n"
            "       raster2h3 verify OUTPUT [--input INPUT] (see raster2h3 verify --help)\n"
            "       raster2h3 info OUTPUT [--json]\n"
            "       raster2h3 preview OUTPUT OUT.png [--width N] [--extent world|data]\n"
            "                 [--column NAME]\n"
            "       raster2h3 rasterize DATASET OUT.tif (--like RASTER | --bbox W,S,E,N --res DX)\n"
            "                 (see raster2h3 rasterize --help)\n"
            "       raster2h3 --version | --help\n\n"
            "Convert a raster (any GDAL dataset; s3://bucket/key is read as /vsis3/bucket/key)\n"
            "to H3-indexed Parquet partitioned as OUTPUT/h0=<cell>/data_0.parquet.\n"
            "Settings resolve flag > environment > default.\n\noptions:\n");
    for (size_t i = 0; i < NOPTS; i++) {
        if (!(options[i].cmds & R2H_CLI_CONVERT))
            continue;
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", options[i].name, options[i].arg ? " " : "",
                 options[i].arg ? options[i].arg : "");
        fprintf(f, "  %-26s %s\n", left, options[i].help);
    }
    fprintf(f,
            "\nexit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 output error,\n"
            "            5 interrupted, 6 verify found problems, 75 retryable (transient I/O)\n");
}

/* A usage error: fmt (one %s: arg) and the pointer to --help, into msg. */
static enum r2h_status bad(char *msg, size_t len, const char *fmt, const char *arg)
{
    char line[1024];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(line, sizeof line, fmt, arg);
#pragma GCC diagnostic pop
    snprintf(msg, len, "%s (see raster2h3 --help)", line);
    return R2H_ERR_INVALID;
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

/* One parser per value kind: each rule and its usage error in one place, for every subcommand
 * that takes the value. An integer in [lo, hi] into *out, else fmt (one %s: arg). */
static enum r2h_status int_value(const char *arg, long lo, long hi, const char *fmt, int *out,
                                 char *msg, size_t len)
{
    long v;
    if (!parse_int(arg, lo, hi, &v))
        return bad(msg, len, fmt, arg);
    *out = (int)v;
    return R2H_OK;
}

/* --band B: a band number. */
static enum r2h_status band_value(const char *arg, int *out, char *msg, size_t len)
{
    return int_value(arg, 1, INT_MAX, "--band must be a positive integer, got '%s'", out, msg, len);
}

/* --threads N: a thread count. */
static enum r2h_status threads_value(const char *arg, int *out, char *msg, size_t len)
{
    return int_value(arg, 1, 1024, "--threads must be an integer 1..1024, got '%s'", out, msg, len);
}

/* --nodata V: a number; *has is 1 once one was given. */
static enum r2h_status nodata_value(const char *arg, int *has, double *out, char *msg, size_t len)
{
    if (!(*has = parse_double(arg, out)))
        return bad(msg, len, "--nodata must be a number, got '%s'", arg);
    return R2H_OK;
}

/* --memory SIZE: at least 16M and at most this machine's memory. */
static enum r2h_status memory_value(const char *arg, uint64_t *out, char *msg, size_t len)
{
    if (!(*out = parse_size(arg)) || *out < ((uint64_t)16 << 20))
        return bad(msg, len, "--memory must be a size of at least 16M, got '%s'", arg);
    if (machine_memory() && *out > machine_memory()) {
        snprintf(msg, len,
                 "--memory %s exceeds this machine's memory (%.1f GiB)"
                 " (see raster2h3 --help)",
                 arg, (double)machine_memory() / (1 << 30));
        return R2H_ERR_INVALID;
    }
    return R2H_OK;
}

/* A list of up to n numbers a,b,c (the whole string): their count, or 0 if it is not one. */
static int parse_numbers(const char *s, double *out, int n)
{
    int k = 0;
    for (const char *p = s;;) {
        char *end;
        if (k == n)
            return 0;
        out[k++] = strtod(p, &end);
        if (end == p || (*end && *end != ','))
            return 0;
        if (!*end)
            return k;
        p = end + 1;
    }
}

/* --srs SRS: a CRS, which the empty string is not. */
static enum r2h_status srs_value(const char *arg, const char **out, char *msg, size_t len)
{
    if (!*arg)
        return bad(msg, len, "%s", "--srs needs a CRS, e.g. EPSG:4326");
    *out = arg;
    return R2H_OK;
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

/* State of one parse beyond the option structs. */
struct parse {
    const char *input_url, *i_flag;
    int resample_given;
    int min_coverage_given;
    int quiet, progress_set, band_set;
    int cell_format, cell_type; /* given: 1 + the enum r2h_cell_type asked for; 0: not given */
};

/* One flag of convert (o: a->convert). */
static enum r2h_status convert_flag(struct r2h_cli_args *a, struct parse *ps, int id,
                                    const char *arg, char *msg, size_t len)
{
    struct r2h_convert_options *o = &a->convert;
    switch (id) {
    case OPT_RES:
        if (strcmp(arg, "auto") == 0) {
            a->res_auto = 1;
            break;
        }
        a->res_auto = 0;
        return int_value(arg, 0, 15, "--resolution must be an integer 0..15, got '%s'",
                         &o->resolution, msg, len);
    case OPT_I: ps->i_flag = arg; break;
    case OPT_BAND: ps->band_set = 1; return band_value(arg, &o->band, msg, len);
    case OPT_BANDS: {
        const char *problem = parse_bands(arg, a->bands, 64, &o->nbands);
        if (problem)
            return bad(msg, len, problem, arg);
        o->bands = o->nbands > 0 ? a->bands : NULL;
        if (!o->nbands)
            return bad(msg, len, "%s", "--bands needs a list of band numbers (1,2,3) or all");
        break;
    }
    case OPT_VALUE_NAME: o->value_name = arg; break;
    case OPT_UNSCALE: o->unscale = 1; break;
    case OPT_SRS: return srs_value(arg, &o->srs, msg, len);
    case OPT_NODATA: return nodata_value(arg, &o->has_nodata, &o->nodata, msg, len);
    case OPT_LEVEL:
        return int_value(arg, 1, 22, "--compression-level must be 1..22, got '%s'",
                         &o->compression_level, msg, len);
    case OPT_THREADS: return threads_value(arg, &o->threads, msg, len);
    case OPT_MEMORY: return memory_value(arg, &o->memory, msg, len);
    case OPT_TMPDIR: o->tmpdir = arg; break;
    case OPT_PROGRESS:
        if (strcmp(arg, "bar") == 0)
            o->progress = R2H_PROGRESS_BAR;
        else if (strcmp(arg, "lines") == 0)
            o->progress = R2H_PROGRESS_LINES;
        else if (strcmp(arg, "json") == 0)
            o->progress = R2H_PROGRESS_JSON;
        else if (strcmp(arg, "none") == 0)
            o->progress = R2H_PROGRESS_NONE;
        else
            return bad(msg, len, "--progress must be bar, lines, json or none, got '%s'", arg);
        ps->progress_set = 1;
        break;
    case OPT_AGGREGATE: o->aggregate = 1; break;
    case OPT_STAT:
        if (!(o->stats = r2h_stats_parse(arg)))
            return bad(msg, len,
                       "--stat must list count,sum,mean,min,max,mode,fractions,area,"
                       "total,coverage; got '%s'",
                       arg);
        break;
    case OPT_CLASSES:
        o->nclasses = 0;
        for (const char *p = arg; *p;) {
            char *end;
            double d = strtod(p, &end);
            if (end == p || (*end && *end != ',') || o->nclasses == 64)
                return bad(msg, len, "--classes must be up to 64 numbers V1,V2,..., got '%s'", arg);
            a->classes[o->nclasses++] = d;
            p = *end ? end + 1 : end;
        }
        o->classes = a->classes;
        break;
    case OPT_DENSITY:
        if (strcmp(arg, "per-m2") == 0)
            o->density_unit = R2H_DENSITY_PER_M2;
        else if (strcmp(arg, "per-ha") == 0)
            o->density_unit = R2H_DENSITY_PER_HA;
        else if (strcmp(arg, "per-km2") == 0)
            o->density_unit = R2H_DENSITY_PER_KM2;
        else
            return bad(msg, len, "--density-unit must be per-m2, per-ha or per-km2, got '%s'", arg);
        break;
    case OPT_PARENTS:
        o->parents = 0;
        for (const char *p = arg; *p;) {
            char *end;
            errno = 0;
            long r = strtol(p, &end, 10);
            if (end == p || (*end && *end != ',') || r < 0 || r > 15)
                return bad(msg, len, "--parents must be resolutions R1,R2,... in 0..15, got '%s'",
                           arg);
            o->parents |= 1u << r;
            p = *end ? end + 1 : end;
        }
        break;
    case OPT_CELL_FORMAT:
        if (strcmp(arg, "uint64") == 0)
            ps->cell_format = 1 + R2H_CELL_UINT64;
        else if (strcmp(arg, "string") == 0)
            ps->cell_format = 1 + R2H_CELL_STRING;
        else
            return bad(msg, len, "--cell-format must be uint64 or string, got '%s'", arg);
        break;
    case OPT_CELL_TYPE:
        if (strcmp(arg, "uint64") == 0)
            ps->cell_type = 1 + R2H_CELL_UINT64;
        else if (strcmp(arg, "int64") == 0)
            ps->cell_type = 1 + R2H_CELL_INT64;
        else if (strcmp(arg, "string") == 0)
            ps->cell_type = 1 + R2H_CELL_STRING;
        else
            return bad(msg, len, "--cell-type must be uint64, int64 or string, got '%s'", arg);
        break;
    case OPT_METHOD:
        if (strcmp(arg, "point") == 0)
            o->method = R2H_METHOD_POINT;
        else if (strcmp(arg, "sample") == 0)
            o->method = R2H_METHOD_SAMPLE;
        else if (strcmp(arg, "auto") == 0)
            o->method = R2H_METHOD_AUTO;
        else if (strcmp(arg, "overlay") == 0)
            o->method = R2H_METHOD_OVERLAY;
        else
            return bad(msg, len, "--method must be point, sample, overlay or auto, got '%s'", arg);
        break;
    case OPT_MIN_COVERAGE: {
        char *end;
        const double f = strtod(arg, &end);
        if (end == arg || *end || !(f >= 0 && f <= 1))
            return bad(msg, len, "--min-coverage must be a number from 0 to 1, got '%s'", arg);
        o->min_coverage = f;
        ps->min_coverage_given = 1;
        break;
    }
    case OPT_RESAMPLE:
        if (strcmp(arg, "nearest") == 0)
            o->resample = R2H_RESAMPLE_NEAREST;
        else if (strcmp(arg, "bilinear") == 0)
            o->resample = R2H_RESAMPLE_BILINEAR;
        else if (strcmp(arg, "cubic") == 0)
            o->resample = R2H_RESAMPLE_CUBIC;
        else
            return bad(msg, len, "--resample must be nearest, bilinear or cubic, got '%s'", arg);
        ps->resample_given = 1;
        break;
    case OPT_VARIABLE:
        if (!*arg)
            return bad(msg, len, "%s", "--variable needs a variable name");
        o->variable = arg;
        break;
    case OPT_INPUT_URL: ps->input_url = arg; break;
    case OPT_PROFILE: o->profile = 1; break;
    case OPT_OVERWRITE: o->overwrite = 1; break;
    case OPT_INDEX:
        if (strcmp(arg, "fast") != 0 && strcmp(arg, "reference") != 0)
            return bad(msg, len, "--index must be fast or reference, got '%s'", arg);
        o->reference_index = strcmp(arg, "reference") == 0;
        break;
    case OPT_DRY_RUN: o->dry_run = 1; break;
    case OPT_QUIET: ps->quiet = 1; break;
    default: return R2H_ERR_INTERNAL;
    }
    return R2H_OK;
}

/* One flag of verify (o: a->verify). */
static enum r2h_status verify_flag(struct r2h_cli_args *a, int id, const char *arg, char *msg,
                                   size_t len)
{
    struct r2h_verify_options *o = &a->verify;
    switch (id) {
    case OPT_INPUT: o->input = arg; break;
    case OPT_BANDS: {
        const char *problem = parse_bands(arg, a->bands, 64, &o->nbands);
        if (problem)
            return bad(msg, len, problem, arg);
        if (o->nbands == R2H_BANDS_ALL)
            return bad(msg, len, "%s", "verify --bands needs band numbers, not all");
        o->bands = a->bands;
        break;
    }
    case OPT_BAND: return band_value(arg, &o->band, msg, len);
    case OPT_NODATA: return nodata_value(arg, &o->has_nodata, &o->nodata, msg, len);
    case OPT_I:
        return int_value(arg, 0, 121, "--i must be an integer 0..121, got '%s'", &o->work_unit, msg,
                         len);
    case OPT_THREADS: return threads_value(arg, &o->threads, msg, len);
    case OPT_SRS: return srs_value(arg, &o->srs, msg, len);
    case OPT_WRITE_MANIFEST: o->write_manifest = 1; break;
    case OPT_VARIABLE:
        if (!*arg)
            return bad(msg, len, "%s", "--variable needs a variable name");
        o->variable = arg;
        break;
    default: return R2H_ERR_INTERNAL;
    }
    return R2H_OK;
}

/* One flag of info or preview. */
static enum r2h_status view_flag(struct r2h_cli_args *a, int id, const char *arg, char *msg,
                                 size_t len)
{
    switch (id) {
    case OPT_JSON: a->info_json = 1; break;
    case OPT_WIDTH:
        return int_value(arg, 64, 16384, "--width must be 64..16384, got '%s'", &a->preview.width,
                         msg, len);
    case OPT_EXTENT:
        if (strcmp(arg, "world") == 0)
            a->preview.extent_data = 0;
        else if (strcmp(arg, "data") == 0)
            a->preview.extent_data = 1;
        else
            return bad(msg, len, "--extent must be world or data, got '%s'", arg);
        break;
    case OPT_COLUMN: a->preview.column = arg; break;
    default: return R2H_ERR_INTERNAL;
    }
    return R2H_OK;
}

/* One flag of rasterize (o: a->rasterize). */
static enum r2h_status rasterize_flag(struct r2h_cli_args *a, int id, const char *arg, char *msg,
                                      size_t len)
{
    struct r2h_rasterize_options *o = &a->rasterize;
    double v[4];
    switch (id) {
    case OPT_LIKE: o->like = arg; break;
    case OPT_BBOX:
        if (parse_numbers(arg, v, 4) != 4 || !(v[0] < v[2] && v[1] < v[3]))
            return bad(msg, len, "--bbox must be W,S,E,N with W < E and S < N, got '%s'", arg);
        memcpy(o->bbox, v, sizeof o->bbox);
        a->bbox_set = 1;
        break;
    case OPT_RES_XY: {
        const int n = parse_numbers(arg, v, 2);
        if (n < 1 || !(v[0] > 0) || (n == 2 && !(v[1] > 0)))
            return bad(msg, len, "--res must be DX or DX,DY (positive numbers), got '%s'", arg);
        o->res_x = v[0];
        o->res_y = n == 2 ? v[1] : v[0];
        break;
    }
    case OPT_SRS: return srs_value(arg, &o->srs, msg, len);
    case OPT_COLUMN: o->column = arg; break;
    case OPT_NODATA: return nodata_value(arg, &o->has_nodata, &o->nodata, msg, len);
    case OPT_MEMORY: return memory_value(arg, &o->memory, msg, len);
    case OPT_CO:
        if (!strchr(arg, '=') || arg[0] == '=')
            return bad(msg, len, "--co must be KEY=VALUE, got '%s'", arg);
        if (o->ncreation_options == (int)(sizeof a->co / sizeof a->co[0]))
            return bad(msg, len, "too many --co options at '%s'", arg);
        a->co[o->ncreation_options++] = arg;
        o->creation_options = a->co;
        break;
    case OPT_REDUCE:
        if (strcmp(arg, "mean") == 0)
            o->reduce = R2H_REDUCE_MEAN;
        else if (strcmp(arg, "min") == 0)
            o->reduce = R2H_REDUCE_MIN;
        else if (strcmp(arg, "max") == 0)
            o->reduce = R2H_REDUCE_MAX;
        else
            return bad(msg, len, "--reduce must be mean, min or max, got '%s'", arg);
        break;
    default: return R2H_ERR_INTERNAL;
    }
    return R2H_OK;
}

/* After the flags: positional arguments and the checks across flags. */
static enum r2h_status finish(struct r2h_cli_args *a, struct parse *ps, int argc, char **argv,
                              const char *job_index, int stderr_tty, char *msg, size_t len)
{
    const int npos = argc - optind;
    char **pos = argv + optind;
    if (a->cmd == R2H_CLI_INFO) {
        if (npos > 1)
            return bad(msg, len, "info: unexpected argument '%s'", pos[1]);
        if (npos < 1)
            return bad(msg, len, "%s", "info needs OUTPUT");
        a->info_output = pos[0];
        return R2H_OK;
    }
    if (a->cmd == R2H_CLI_PREVIEW) {
        if (npos > 2)
            return bad(msg, len, "preview: unexpected argument '%s'", pos[2]);
        if (npos < 2)
            return bad(msg, len, "%s", "preview needs OUTPUT and OUT.png");
        a->preview.output = pos[0];
        a->preview.png = pos[1];
        return R2H_OK;
    }
    if (a->cmd == R2H_CLI_RASTERIZE) {
        struct r2h_rasterize_options *o = &a->rasterize;
        if (npos > 2)
            return bad(msg, len, "rasterize: unexpected argument '%s'", pos[2]);
        if (npos < 2)
            return bad(msg, len, "%s", "rasterize needs DATASET and OUT.tif");
        if (o->like && (a->bbox_set || o->res_x > 0))
            return bad(msg, len, "%s", "--like and --bbox/--res cannot be combined");
        if (!o->like && (!a->bbox_set || !(o->res_x > 0)))
            return bad(msg, len, "%s", "rasterize needs --like RASTER or --bbox W,S,E,N --res DX");
        o->dataset = pos[0];
        o->out = pos[1];
        return R2H_OK;
    }
    if (a->cmd == R2H_CLI_VERIFY) {
        if (npos != 1)
            return bad(msg, len, "%s", "verify needs OUTPUT");
        if (a->verify.band && a->verify.nbands)
            return bad(msg, len, "%s", "--band and --bands cannot be combined");
        if (a->verify.variable && !a->verify.input)
            return bad(msg, len, "%s", "verify --variable needs --input");
        a->verify.output = pos[0];
        return R2H_OK;
    }
    struct r2h_convert_options *o = &a->convert;
    if (ps->resample_given && (o->method == R2H_METHOD_POINT || o->method == R2H_METHOD_OVERLAY))
        return bad(msg, len, "%s", "--resample needs --method sample (or auto)");
    if (ps->min_coverage_given && o->method != R2H_METHOD_OVERLAY)
        return bad(msg, len, "%s", "--min-coverage needs --method overlay");
    if (ps->band_set && o->nbands)
        return bad(msg, len, "%s", "--band and --bands cannot be combined (use --bands B1,B2,...)");
    if (ps->cell_format && ps->cell_type && ps->cell_format != ps->cell_type) {
        static const char *const types[] = {"uint64", "int64", "string"};
        char both[64];
        snprintf(both, sizeof both, "--cell-format %s conflicts with --cell-type %s",
                 types[ps->cell_format - 1], types[ps->cell_type - 1]);
        return bad(msg, len, "%s", both);
    }
    if (ps->cell_format || ps->cell_type)
        o->cell_type = (enum r2h_cell_type)((ps->cell_type ? ps->cell_type : ps->cell_format) - 1);
    if (o->nbands && o->value_name) { /* a list, one name per band */
        o->nvalue_names = split_names(o->value_name, a->namebuf, sizeof a->namebuf, a->names, 65);
        o->value_names = a->names;
        o->value_name = NULL;
    }
    if (ps->input_url) {
        if (npos != 1)
            return bad(msg, len, "%s", "with --input-url give exactly one positional OUTPUT");
        o->input = ps->input_url;
        o->output = pos[0];
    } else {
        if (npos != 2)
            return bad(msg, len, "%s", "convert needs INPUT and OUTPUT");
        o->input = pos[0];
        o->output = pos[1];
    }
    if (ps->quiet)
        o->progress = R2H_PROGRESS_NONE;
    else if (!ps->progress_set)
        o->progress = stderr_tty ? R2H_PROGRESS_BAR : R2H_PROGRESS_LINES;
    const char *src = ps->i_flag ? "--i" : "JOB_COMPLETION_INDEX";
    const char *wu = ps->i_flag ? ps->i_flag : (job_index && *job_index ? job_index : NULL);
    if (wu) {
        char wubuf[64];
        long v;
        if (strlen(wu) >= sizeof wubuf || !parse_int(trim(wu, wubuf, sizeof wubuf), 0, 121, &v)) {
            snprintf(msg, len, "%s must be an integer 0..121, got '%s'", src, wu);
            return R2H_ERR_INVALID;
        }
        o->work_unit = (int)v;
    }
    return R2H_OK;
}

enum r2h_status r2h_cli_parse(int cmd, int argc, char **argv, const char *job_index, int stderr_tty,
                              struct r2h_cli_args *a, char *msg, size_t len)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    r2h_convert_options_init(&a->convert);
    r2h_verify_options_init(&a->verify);
    r2h_preview_options_init(&a->preview);
    r2h_rasterize_options_init(&a->rasterize);
    if (len)
        msg[0] = 0;
    struct option longopts[NOPTS + 1];
    size_t n = 0;
    for (size_t i = 0; i < NOPTS; i++)
        if (options[i].cmds & (unsigned)cmd) {
            longopts[n].name = options[i].name;
            longopts[n].has_arg = options[i].has_arg;
            longopts[n].flag = NULL;
            longopts[n].val = options[i].id;
            n++;
        }
    memset(&longopts[n], 0, sizeof longopts[n]);
    struct parse ps = {0};
    int c;
    opterr = 0;
    optind = 0; /* a fresh scan (GNU getopt), also for a second parse in one process */
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        enum r2h_status st = R2H_OK;
        if (c == OPT_HELP) {
            a->help = 1;
            return R2H_OK;
        } else if (c == ':') {
            return bad(msg, len, "option %s needs a value", argv[optind - 1]);
        } else if (c == '?' || (c == OPT_VERSION && cmd == R2H_CLI_CONVERT)) {
            /* convert --version: an unknown option, as it always was (only the command's
             * first argument --version shows versions) */
            if (cmd == R2H_CLI_INFO || cmd == R2H_CLI_PREVIEW)
                snprintf(msg, len, "%s: unexpected argument '%s' (see raster2h3 --help)",
                         cmd == R2H_CLI_INFO ? "info" : "preview", argv[optind - 1]);
            else
                bad(msg, len, "unknown option '%s'", argv[optind - 1]);
            return R2H_ERR_INVALID;
        } else if (cmd == R2H_CLI_CONVERT) {
            st = convert_flag(a, &ps, c, optarg, msg, len);
        } else if (cmd == R2H_CLI_VERIFY) {
            st = verify_flag(a, c, optarg, msg, len);
        } else if (cmd == R2H_CLI_RASTERIZE) {
            st = rasterize_flag(a, c, optarg, msg, len);
        } else {
            st = view_flag(a, c, optarg, msg, len);
        }
        if (st != R2H_OK)
            return st;
    }
    return finish(a, &ps, argc, argv, job_index, stderr_tty, msg, len);
}
