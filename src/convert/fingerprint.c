/* fingerprint.c - the run fingerprint: what determines a partition's content. */
#include <stdio.h>
#include <string.h>

#include "r2h_convert.h"

/* FNV-1a, 64-bit: stable across platforms and versions, enough to tell runs apart. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void r2h_fingerprint(const struct r2h_convert_options *o, const struct r2h_raster_info *in,
                     const struct r2h_bands *b, char *out, size_t outlen)
{
    /* The source by its canonical identity (r2h_raster_info: realpath, mtime in nanoseconds,
     * the files a VRT lists), not the name as typed. One band gives the band fields as before
     * multi-band runs existed; several: the lists, with the names as a JSON array. */
    char bands[512], nodata[2048], dtypes[512], names[4096], buf[8192];
    r2h_bands_list(b, in, R2H_LIST_BANDS, bands, sizeof bands);
    r2h_bands_list(b, in, R2H_LIST_NODATA_FP, nodata, sizeof nodata);
    r2h_bands_list(b, in, R2H_LIST_DTYPES, dtypes, sizeof dtypes);
    if (b->n == 1)
        r2h_fmt(names, sizeof names, "%s", b->name[0]);
    else
        r2h_bands_list(b, in, R2H_LIST_NAMES_JSON, names, sizeof names);
    r2h_fmt(buf, sizeof buf,
            "v2|src=%s|size=%llu|mtime_ns=%lld|etag=%s|files=%016llx|band=%s|res=%d|nodata=%s|"
            "value=%s|dtype=%s|tool=%s",
            in->source_path, (unsigned long long)in->source_size, (long long)in->source_mtime_ns,
            in->source_etag, (unsigned long long)in->source_files, bands, o->resolution, nodata,
            names, dtypes, R2H_VERSION_STRING);
    /* Options added later enter only when used. */
    size_t len = strlen(buf);
    if (o->unscale)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "|unscale=1");
    if (o->srs && *o->srs && len < sizeof buf)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "|srs=%s", o->srs);
    if (o->cell_type == R2H_CELL_INT64 && len < sizeof buf) /* string cells: in the column spec */
        snprintf(buf + len, sizeof buf - len, "|cells=int64");
    r2h_fmt(out, outlen, "%016llx", (unsigned long long)fnv1a(buf));
}

void r2h_fingerprint_mix(char *fp, size_t len, const char *text)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over the old fingerprint and the text */
    for (const char *p = fp; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    r2h_fmt(fp, len, "%016llx", (unsigned long long)h);
}
