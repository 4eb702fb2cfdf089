/* raster.c - GDAL access: open and validate a band, read windows with validity, pixel centres to
 * WGS84. */
#define _GNU_SOURCE /* struct stat64 behind VSIStatBufL */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include "r2h_io.h"
#include "r2h_raster.h"
#include "raster_internal.h"

const char *r2h_raster_gdal_version(void)
{
    return GDALVersionInfo("RELEASE_NAME");
}

size_t r2h_dtype_size(enum r2h_dtype t)
{
    switch (t) {
    case R2H_DT_UINT8:
    case R2H_DT_INT8: return 1;
    case R2H_DT_UINT16:
    case R2H_DT_INT16: return 2;
    case R2H_DT_UINT32:
    case R2H_DT_INT32:
    case R2H_DT_FLOAT32: return 4;
    case R2H_DT_UINT64:
    case R2H_DT_INT64:
    case R2H_DT_FLOAT64: return 8;
    }
    return 0;
}

const char *r2h_dtype_name(enum r2h_dtype t)
{
    static const char *const names[] = {"uint8", "int8",   "uint16", "int16",   "uint32",
                                        "int32", "uint64", "int64",  "float32", "float64"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

GDALDataType r2h_raster_gdal_type(enum r2h_dtype t)
{
    switch (t) {
    case R2H_DT_UINT8:
    case R2H_DT_INT8: return GDT_Byte;
    case R2H_DT_UINT16: return GDT_UInt16;
    case R2H_DT_INT16: return GDT_Int16;
    case R2H_DT_UINT32: return GDT_UInt32;
    case R2H_DT_INT32: return GDT_Int32;
    case R2H_DT_UINT64: return GDT_UInt64;
    case R2H_DT_INT64: return GDT_Int64;
    case R2H_DT_FLOAT32: return GDT_Float32;
    case R2H_DT_FLOAT64: return GDT_Float64;
    }
    return GDT_Unknown;
}

static int map_type(GDALRasterBandH band, enum r2h_dtype *out)
{
    switch (GDALGetRasterDataType(band)) {
    case GDT_Byte: {
        const char *pt = GDALGetMetadataItem(band, "PIXELTYPE", "IMAGE_STRUCTURE");
        *out = (pt && strcmp(pt, "SIGNEDBYTE") == 0) ? R2H_DT_INT8 : R2H_DT_UINT8;
        return 1;
    }
    case GDT_UInt16: *out = R2H_DT_UINT16; return 1;
    case GDT_Int16: *out = R2H_DT_INT16; return 1;
    case GDT_UInt32: *out = R2H_DT_UINT32; return 1;
    case GDT_Int32: *out = R2H_DT_INT32; return 1;
    case GDT_UInt64: *out = R2H_DT_UINT64; return 1;
    case GDT_Int64: *out = R2H_DT_INT64; return 1;
    case GDT_Float32: *out = R2H_DT_FLOAT32; return 1;
    case GDT_Float64: *out = R2H_DT_FLOAT64; return 1;
    default: return 0;
    }
}

/* A failed open or read of name: "name: <GDAL's messages>", R2H_ERR_TRANSIENT when they say the
 * failure is transient (network, throttling, 5xx; after GDAL's retries), else R2H_ERR_INPUT. */
enum r2h_status r2h_raster_read_failure(const struct r2h_io_errors *e, const char *name,
                                        const char *what, char *errbuf, size_t errbuf_len)
{
    r2h_fmt(errbuf, errbuf_len, "%s: %s", name, e->text[0] ? e->text : what);
    return r2h_io_classify(e->text, NULL) == R2H_IO_TRANSIENT ? R2H_ERR_TRANSIENT : R2H_ERR_INPUT;
}

/* FNV-1a, 64-bit, continued from h over n bytes (the identity digest of multi-file sources). */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    for (const unsigned char *c = p; n--; c++) {
        h ^= *c;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The canonical name of a file: realpath for local files (./a.tif and /abs/a.tif agree), the
 * name as given for /vsi... names and anything realpath cannot resolve (driver prefixes). */
static void canonical_name(const char *path, char *dst, size_t len)
{
    char *real = strncmp(path, "/vsi", 4) != 0 ? realpath(path, NULL) : NULL;
    r2h_fmt(dst, len, "%s", real ? real : path);
    free(real);
}

/* One file's size, mtime (seconds and nanoseconds) and, for network files, ETag. Local files
 * are stat()ed for the nanoseconds (VSIStat has whole seconds only). Unknown fields stay 0/"". */
static void file_identity(const char *path, uint64_t *size, int64_t *mtime, int64_t *mtime_ns,
                          char *etag, size_t etaglen)
{
    *size = 0;
    *mtime = *mtime_ns = 0;
    etag[0] = 0;
    struct stat st;
    VSIStatBufL sb;
    if (strncmp(path, "/vsi", 4) != 0) {
        if (stat(path, &st) == 0) {
            *size = (uint64_t)st.st_size;
            *mtime = (int64_t)st.st_mtim.tv_sec;
            *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + (int64_t)st.st_mtim.tv_nsec;
        }
        return;
    }
    if (VSIStatExL(path, &sb, VSI_STAT_SIZE_FLAG | VSI_STAT_EXISTS_FLAG) == 0) {
        *size = (uint64_t)sb.st_size;
        *mtime = (int64_t)sb.st_mtime;
        *mtime_ns = (int64_t)sb.st_mtime * 1000000000;
    }
    char **md = VSIGetFileMetadata(path, "HEADERS", NULL);
    const char *e = md ? CSLFetchNameValue(md, "ETag") : NULL;
    if (e)
        r2h_fmt(etag, etaglen, "%s", e);
    CSLDestroy(md);
}

/* The source's identity (docs/design/0006-resume-and-s3.md): the dataset name's canonical form,
 * size, mtime and ETag, and a digest over every file GDAL lists for the dataset (a VRT's
 * sources, sidecar files) with theirs, so editing any of them changes the identity. */
static void source_identity(struct r2h_raster *r, const char *path)
{
    struct r2h_raster_info *in = &r->info;
    canonical_name(path, in->source_path, sizeof in->source_path);
    file_identity(path, &in->source_size, &in->source_mtime, &in->source_mtime_ns, in->source_etag,
                  sizeof in->source_etag);
    char **files = GDALGetFileList(r->ds);
    uint64_t h = 1469598103934665603ULL;
    for (char **f = files; f && *f; f++) {
        char name[4096], etag[128], line[4400];
        uint64_t size;
        int64_t mtime, mtime_ns;
        canonical_name(*f, name, sizeof name);
        file_identity(*f, &size, &mtime, &mtime_ns, etag, sizeof etag);
        r2h_fmt(line, sizeof line, "%s|%llu|%lld|%s\n", name, (unsigned long long)size,
                (long long)mtime_ns, etag);
        h = fnv1a(h, line, strlen(line));
    }
    in->source_files = files && *files ? h : 0;
    CSLDestroy(files);
}

/* The identity computed when first was opened, for another handle on the same source. */
static void copy_identity(struct r2h_raster_info *to, const struct r2h_raster_info *from)
{
    memcpy(to->source_path, from->source_path, sizeof to->source_path);
    to->source_size = from->source_size;
    to->source_mtime = from->source_mtime;
    to->source_mtime_ns = from->source_mtime_ns;
    memcpy(to->source_etag, from->source_etag, sizeof to->source_etag);
    to->source_files = from->source_files;
}

/* The CRS given by the caller (OSRSetFromUserInput) into r->src_srs. */
static enum r2h_status assign_crs(struct r2h_raster *r, const char *srs, char *errbuf,
                                  size_t errbuf_len)
{
    r->src_srs = OSRNewSpatialReference(NULL);
    CPLErrorReset();
    if (!r->src_srs || OSRSetFromUserInput(r->src_srs, srs) != OGRERR_NONE) {
        char flag[512];
        r2h_fmt(flag, sizeof flag, "--srs '%s'", srs);
        r2h_io_gdal_message(errbuf, errbuf_len, "not a CRS GDAL/PROJ understands", flag);
        return R2H_ERR_INVALID;
    }
    return R2H_OK;
}

static void export_wkt(struct r2h_raster *r)
{
    const char *const wkt_opts[] = {"FORMAT=WKT2_2019", "MULTILINE=NO", NULL};
    char *wkt = NULL;
    if (OSRExportToWktEx(r->src_srs, &wkt, wkt_opts) == OGRERR_NONE)
        r->crs_wkt = wkt;
    else
        CPLFree(wkt);
}

static enum r2h_status setup_crs(struct r2h_raster *r, const char *name, const char *srs_in,
                                 char *errbuf, size_t errbuf_len)
{
    if (srs_in && *srs_in) {
        enum r2h_status st = assign_crs(r, srs_in, errbuf, errbuf_len);
        if (st != R2H_OK)
            return st;
    } else {
        OGRSpatialReferenceH srs = GDALGetSpatialRef(r->ds);
        if (!srs) {
            r2h_fmt(errbuf, errbuf_len,
                    "%s: raster has no CRS; assign one with --srs (e.g. --srs EPSG:4326 for "
                    "longitude/latitude degrees)",
                    name);
            return R2H_ERR_CRS;
        }
        r->src_srs = OSRClone(srs);
    }
    export_wkt(r);
    r->wgs84 = OSRNewSpatialReference(NULL);
    if (!r->src_srs || !r->wgs84 || OSRImportFromEPSG(r->wgs84, 4326) != OGRERR_NONE) {
        r2h_fmt(errbuf, errbuf_len, "%s: cannot set up WGS84 (PROJ data missing?)", name);
        return R2H_ERR_CRS;
    }
    OSRSetAxisMappingStrategy(r->src_srs, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(r->wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    const char *crs_name = OSRGetName(r->src_srs);
    r2h_fmt(r->info.crs_name, sizeof r->info.crs_name, "%s", crs_name ? crs_name : "unknown");
    if (OSRIsGeographic(r->src_srs) && OSRIsSameGeogCS(r->src_srs, r->wgs84) &&
        fabs(OSRGetAngularUnits(r->src_srs, NULL) - M_PI / 180.0) < 1e-12) {
        r->info.geographic = 1;
        return R2H_OK;
    }
    r->ct = OCTNewCoordinateTransformation(r->src_srs, r->wgs84);
    if (!r->ct) {
        r2h_io_gdal_message(errbuf, errbuf_len, "CRS cannot be transformed to WGS84", name);
        return R2H_ERR_CRS;
    }
    return R2H_OK;
}

/* The name a column of band hb takes by default (struct r2h_band_info's name). */
static void band_name(GDALRasterBandH hb, struct r2h_band_info *bi)
{
    const char *element = GDALGetMetadataItem(hb, "GRIB_ELEMENT", NULL);
    const char *level = GDALGetMetadataItem(hb, "GRIB_SHORT_NAME", NULL);
    const char *var = GDALGetMetadataItem(hb, "NETCDF_VARNAME", NULL);
    if (element && *element)
        r2h_fmt(bi->name, sizeof bi->name, "%s%s%s", element, level && *level ? "_" : "",
                level ? level : "");
    else if (bi->description[0])
        r2h_fmt(bi->name, sizeof bi->name, "%s", bi->description);
    else
        r2h_fmt(bi->name, sizeof bi->name, "%s", var ? var : "");
}

/* The values of NetCDF dimension dim (NETCDF_DIM_<dim>_VALUES: "{a,b,c}", or "a" for one) in
 * an array the caller frees; *n their count (0 and NULL if none). */
static double *dim_values(GDALDatasetH ds, const char *dim, size_t *n)
{
    char key[320];
    r2h_fmt(key, sizeof key, "NETCDF_DIM_%s_VALUES", dim);
    const char *list = GDALGetMetadataItem(ds, key, NULL);
    *n = 0;
    if (!list)
        return NULL;
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    double *v = r2h_calloc(cap, sizeof *v);
    if (!v)
        return NULL;
    for (const char *p = *list == '{' ? list + 1 : list; *p && *n < cap;) {
        char *end;
        v[*n] = strtod(p, &end);
        if (end == p)
            break;
        (*n)++;
        p = *end == ',' ? end + 1 : end;
    }
    return v;
}

/* A value of a dimension other than time for a name: %.10g with '-' as m and '.' as p. */
static void dim_value_text(const char *dim, double v, char *dst, size_t len)
{
    char num[64];
    r2h_fmt(num, sizeof num, "%.10g", v);
    for (char *c = num; *c; c++)
        *c = *c == '-' ? 'm' : *c == '.' ? 'p' : *c;
    const size_t dl = strlen(dim);
    const int digit_end = dl && dim[dl - 1] >= '0' && dim[dl - 1] <= '9';
    r2h_fmt(dst, len, "%s%s%s", dim, digit_end ? "_" : "", num);
}

/* bi->step of a NetCDF band (struct r2h_band_info): its value on each extra dimension that has
 * more than one, a CF time axis as a date at the precision that separates its steps. */
static void band_step(GDALDatasetH ds, GDALRasterBandH hb, struct r2h_band_info *bi)
{
    const char *extra = GDALGetMetadataItem(ds, "NETCDF_DIM_EXTRA", NULL);
    if (!extra || !GDALGetMetadataItem(hb, "NETCDF_VARNAME", NULL))
        return;
    char dims[512];
    r2h_fmt(dims, sizeof dims, "%s", *extra == '{' ? extra + 1 : extra);
    dims[strcspn(dims, "}")] = 0;
    size_t used = 0;
    for (char *dim = dims, *next; dim && *dim; dim = next) {
        next = strchr(dim, ',');
        if (next)
            *next++ = 0;
        char key[320], units_key[320], cal_key[320], part[96];
        r2h_fmt(key, sizeof key, "NETCDF_DIM_%s", dim);
        const char *val = GDALGetMetadataItem(hb, key, NULL);
        size_t n = 0;
        double *values = val ? dim_values(ds, dim, &n) : NULL;
        if (n >= 2) {
            const double v = strtod(val, NULL);
            r2h_fmt(units_key, sizeof units_key, "%s#units", dim);
            r2h_fmt(cal_key, sizeof cal_key, "%s#calendar", dim);
            struct r2h_cftime t;
            struct r2h_cftime_date d;
            if (r2h_cftime_parse(GDALGetMetadataItem(ds, units_key, NULL),
                                 GDALGetMetadataItem(ds, cal_key, NULL), &t) &&
                r2h_cftime_decode(&t, v, &d))
                r2h_cftime_format(&d, r2h_cftime_level_of(&t, values, n), part, sizeof part);
            else
                dim_value_text(dim, v, part, sizeof part);
            r2h_fmt(bi->step + used, sizeof bi->step - used, "%s%s", used ? "_" : "", part);
            used = strlen(bi->step);
        }
        r2h_free(values);
    }
}

/* Scale, offset and unit of band hb; with unscale, bands that have them deliver float64. */
static void band_scale(GDALRasterBandH hb, struct r2h_band_info *bi, int unscale)
{
    int has_s = 0, has_o = 0;
    double scale = GDALGetRasterScale(hb, &has_s), offset = GDALGetRasterOffset(hb, &has_o);
    bi->scale = has_s && isfinite(scale) ? scale : 1.0;
    bi->add_offset = has_o && isfinite(offset) ? offset : 0.0;
    bi->has_scale = bi->scale != 1.0 || bi->add_offset != 0.0;
    const char *unit = GDALGetRasterUnitType(hb);
    r2h_fmt(bi->unit, sizeof bi->unit, "%s", unit ? unit : "");
    bi->unscaled = unscale && bi->has_scale;
    if (bi->unscaled)
        bi->dtype = R2H_DT_FLOAT64;
}

/* Band number `band` of r's dataset into *bi, *hb and *hm (its mask, or NULL). */
static enum r2h_status describe_band(struct r2h_raster *r, const char *name, int band,
                                     struct r2h_band_info *bi, GDALRasterBandH *hb,
                                     GDALRasterBandH *hm, char *errbuf, size_t errbuf_len)
{
    const int count = GDALGetRasterCount(r->ds);
    if (band < 1 || band > count) {
        r2h_fmt(errbuf, errbuf_len, "%s: band %d out of range (raster has %d band%s)", name, band,
                count, count == 1 ? "" : "s");
        return R2H_ERR_INPUT;
    }
    memset(bi, 0, sizeof *bi);
    *hb = GDALGetRasterBand(r->ds, band);
    *hm = NULL;
    bi->band = band;
    if (!map_type(*hb, &bi->dtype)) {
        r2h_fmt(errbuf, errbuf_len, "%s: band %d has unsupported data type %s", name, band,
                GDALGetDataTypeName(GDALGetRasterDataType(*hb)));
        return R2H_ERR_INPUT;
    }
    bi->raw_dtype = bi->dtype;
    /* Some drivers fill in band metadata, NoData included, only when the metadata is first
     * asked for (GDAL 3.6's GRIB driver: the bitmap's fill value); ask before anything else. */
    (void)GDALGetMetadata(*hb, NULL);
    int has = 0;
    double nd = GDALGetRasterNoDataValue(*hb, &has);
    bi->has_nodata = has;
    bi->nodata = nd;
    const char *desc = GDALGetDescription(*hb);
    r2h_fmt(bi->description, sizeof bi->description, "%s", desc ? desc : "");
    band_name(*hb, bi);
    band_step(r->ds, *hb, bi);
    band_scale(*hb, bi, r->unscale);
    int flags = GDALGetMaskFlags(*hb);
    if (!(flags & GMF_ALL_VALID) && !(flags & GMF_NODATA)) {
        *hm = GDALGetMaskBand(*hb);
        bi->has_mask = *hm != NULL;
    }
    return R2H_OK;
}

/* The info's single-band fields from the first selected band; the pixel record layout. */
static void sync_info(struct r2h_raster *r)
{
    struct r2h_raster_info *in = &r->info;
    const struct r2h_band_info *b0 = &in->sel[0];
    in->band = b0->band;
    in->dtype = b0->dtype;
    in->has_nodata = b0->has_nodata;
    in->nodata = b0->nodata;
    in->has_mask = b0->has_mask;
    r2h_fmt(in->description, sizeof in->description, "%s", b0->description);
    GDALGetBlockSize(r->band[0], &in->block_w, &in->block_h);
    size_t off = 0, align = 1;
    for (int i = 0; i < in->nsel; i++) {
        size_t sz = r2h_dtype_size(in->sel[i].dtype);
        off = (off + sz - 1) / sz * sz;
        in->sel[i].offset = off;
        off += sz;
        align = sz > align ? sz : align;
    }
    in->pixel_size = (off + align - 1) / align * align;
}

/* item appended to the ", "-separated list (cap bytes, *n used); a list that is full ends in
 * ", ..." and keeps whole items only. */
static void list_add(char *list, size_t cap, size_t *n, const char *item)
{
    if (*n + 1 >= cap)
        return;
    int k = snprintf(list + *n, cap - *n, "%s%s", *n ? ", " : "", item);
    if (k < 0 || (size_t)k >= cap - *n) {
        list[*n] = 0;
        r2h_fmt(list + *n, cap - *n, ", ...");
        *n = cap - 1;
    } else {
        *n += (size_t)k;
    }
}

/* The variable of subdataset sd (a SUBDATASET_<n>_NAME) into var: what follows the quoted file
 * name and its ':', without leading '/' (NETCDF:"f":SST: SST; HDF5:"f"://g/T: g/T); when that
 * is a number (HDF4_SDS:UNKNOWN:"f":0) or empty, the name in desc ("[dims] NAME (type)"). */
static void sub_variable(const char *sd, const char *desc, char *var, size_t len)
{
    const char *q = strrchr(sd, '"');
    const char *rest = q ? q + 1 : strrchr(sd, ':');
    rest = rest ? rest : sd;
    if (*rest == ':')
        rest++;
    while (*rest == '/')
        rest++;
    if (*rest && strspn(rest, "0123456789") != strlen(rest)) {
        r2h_fmt(var, len, "%s", rest);
        return;
    }
    const char *b = desc ? strchr(desc, ']') : NULL, *p = desc ? strrchr(desc, '(') : NULL;
    if (!b || !p || p <= b + 1) {
        r2h_fmt(var, len, "%s", rest);
        return;
    }
    for (b++; *b == ' ' || *b == '/'; b++)
        ;
    size_t n = p > b ? (size_t)(p - b) : 0;
    while (n && b[n - 1] == ' ')
        n--;
    r2h_fmt(var, len, "%.*s", (int)n, b);
}

/* 2 if --variable name is var as a whole (leading '/' aside), 1 if it is var's last '/'
 * component (a variable in a group), else 0. */
static int variable_is(const char *name, const char *var)
{
    while (*name == '/')
        name++;
    const char *slash = strrchr(var, '/');
    return strcmp(name, var) == 0 ? 2 : slash && strcmp(name, slash + 1) == 0;
}

/* Subdataset n (1-based) of ds: its name (NULL after the last) and description. */
static const char *subdataset(GDALDatasetH ds, int n, const char **desc)
{
    char key[64];
    char **sub = GDALGetMetadata(ds, "SUBDATASETS");
    r2h_fmt(key, sizeof key, "SUBDATASET_%d_DESC", n);
    *desc = CSLFetchNameValue(sub, key);
    r2h_fmt(key, sizeof key, "SUBDATASET_%d_NAME", n);
    return CSLFetchNameValue(sub, key);
}

/* The variables of ds's subdatasets as a list into vars; *first the first one's; the count. */
static int variable_list(GDALDatasetH ds, char *vars, size_t cap, char *first, size_t first_len)
{
    size_t n = 0;
    int count = 0;
    const char *desc, *sd;
    vars[0] = first[0] = 0;
    while ((sd = subdataset(ds, count + 1, &desc)) != NULL) {
        char var[256];
        sub_variable(sd, desc, var, sizeof var);
        list_add(vars, cap, &n, var);
        if (!count++)
            r2h_fmt(first, first_len, "%s", var);
    }
    return count;
}

/* A dataset without bands: an error listing its subdatasets (NetCDF, HDF) and their variables
 * for --variable, if any. */
static enum r2h_status no_bands(struct r2h_raster *r, const char *name, char *errbuf,
                                size_t errbuf_len)
{
    char list[768] = "", vars[400], first[256];
    size_t n = 0;
    const char *desc, *sd;
    const int count = variable_list(r->ds, vars, sizeof vars, first, sizeof first);
    for (int i = 1; (sd = subdataset(r->ds, i, &desc)) != NULL; i++)
        list_add(list, sizeof list, &n, sd);
    if (!count) {
        r2h_fmt(errbuf, errbuf_len, "%s: raster has no bands", name);
        return R2H_ERR_INPUT;
    }
    r2h_fmt(errbuf, errbuf_len,
            "%s has no bands but %d subdataset%s (variable%s %s): pass --variable NAME "
            "(e.g. --variable %s) or one of them as the input: %s",
            name, count, count == 1 ? "" : "s", count == 1 ? "" : "s", vars, first, list);
    return R2H_ERR_INPUT;
}

enum r2h_status r2h_raster_variable(const char *name, const char *variable, char *dst, size_t len,
                                    char *errbuf, size_t errbuf_len)
{
    char tmp[4096], vars[400], first[256];
    enum r2h_status st = R2H_ERR_INPUT;
    struct r2h_io_errors e;
    GDALAllRegister();
    const char *path = r2h_io_gdal_name(name, tmp, sizeof tmp);
    r2h_io_errors_begin(&e, path);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) {
        st = r2h_raster_read_failure(&e, name, "cannot open raster", errbuf, errbuf_len);
        goto out_pop;
    }
    /* The subdataset of that whole name, else the only one of that last component. */
    const char *desc, *sd, *found = NULL;
    char candidates[400] = "";
    size_t nc = 0;
    int how = 0, nfound = 0;
    for (int i = 1; (sd = subdataset(ds, i, &desc)) != NULL; i++) {
        char var[256];
        sub_variable(sd, desc, var, sizeof var);
        const int is = variable_is(variable, var);
        if (is > how) {
            found = sd;
            how = is;
            nfound = 0;
            nc = 0;
        }
        if (is && is == how) {
            nfound++;
            list_add(candidates, sizeof candidates, &nc, var);
        }
    }
    if (found && how == 1 && nfound > 1) {
        r2h_fmt(errbuf, errbuf_len, "%s: --variable %s is ambiguous: %s (give the group)", name,
                variable, candidates);
        goto out_close;
    }
    if (found) {
        r2h_fmt(dst, len, "%s", found);
        st = strlen(found) < len ? R2H_OK : R2H_ERR_INPUT;
        if (st != R2H_OK)
            r2h_fmt(errbuf, errbuf_len, "%s: subdataset name too long", name);
        goto out_close;
    }
    const int count = variable_list(ds, vars, sizeof vars, first, sizeof first);
    const char *own = GDALGetRasterCount(ds) > 0
                          ? GDALGetMetadataItem(GDALGetRasterBand(ds, 1), "NETCDF_VARNAME", NULL)
                          : NULL;
    if (!count && own && variable_is(variable, own)) { /* a NetCDF file of one variable */
        r2h_fmt(dst, len, "%s", name);
        st = strlen(name) < len ? R2H_OK : R2H_ERR_INPUT;
    } else if (count) {
        r2h_fmt(errbuf, errbuf_len, "%s has no variable '%s'; its variables: %s", name, variable,
                vars);
    } else if (own) {
        r2h_fmt(errbuf, errbuf_len, "%s has no variable '%s'; it holds only '%s'", name, variable,
                own);
    } else {
        r2h_fmt(errbuf, errbuf_len,
                "%s has no variables to choose from (no subdatasets): --variable is for "
                "NetCDF and HDF files with several variables",
                name);
    }
out_close:
    GDALClose(ds);
out_pop:
    r2h_io_errors_end(&e);
    return st;
}

static enum r2h_status setup_band(struct r2h_raster *r, const char *name, int band, char *errbuf,
                                  size_t errbuf_len)
{
    struct r2h_raster_info *in = &r->info;
    in->band_count = GDALGetRasterCount(r->ds);
    if (in->band_count == 0)
        return no_bands(r, name, errbuf, errbuf_len);
    in->width = GDALGetRasterXSize(r->ds);
    in->height = GDALGetRasterYSize(r->ds);
    enum r2h_status st =
        describe_band(r, name, band, &in->sel[0], &r->band[0], &r->mask[0], errbuf, errbuf_len);
    if (st != R2H_OK)
        return st;
    in->nsel = 1;
    sync_info(r);
    return R2H_OK;
}

enum r2h_status r2h_raster_select(struct r2h_raster *r, const int *bands, int n, char *errbuf,
                                  size_t errbuf_len)
{
    if (n < 1 || n > R2H_RASTER_MAX_BANDS) {
        r2h_fmt(errbuf, errbuf_len, "%s: cannot read %d bands at once (at most %d)",
                GDALGetDescription(r->ds), n, R2H_RASTER_MAX_BANDS);
        return R2H_ERR_INVALID;
    }
    struct r2h_band_info bi[R2H_RASTER_MAX_BANDS];
    GDALRasterBandH hb[R2H_RASTER_MAX_BANDS], hm[R2H_RASTER_MAX_BANDS];
    CPLPushErrorHandler(CPLQuietErrorHandler);
    enum r2h_status st = R2H_OK;
    for (int i = 0; i < n && st == R2H_OK; i++)
        st = describe_band(r, GDALGetDescription(r->ds), bands[i], &bi[i], &hb[i], &hm[i], errbuf,
                           errbuf_len);
    CPLPopErrorHandler();
    if (st != R2H_OK)
        return st;
    memcpy(r->info.sel, bi, (size_t)n * sizeof bi[0]);
    memcpy(r->band, hb, (size_t)n * sizeof hb[0]);
    memcpy(r->mask, hm, (size_t)n * sizeof hm[0]);
    r->info.nsel = n;
    sync_info(r);
    return R2H_OK;
}

/* 1 if a pixel centre of a geographic raster may be off the globe: a corner centre beyond
 * (or within 1e-6 degrees of) +-90, or a row spanning nearly 360 degrees. Conservative: the
 * exact test is per pixel, in r2h_raster_drop_off_globe. */
static int may_leave_globe(const struct r2h_raster_info *in)
{
    if (!in->geographic)
        return 0;
    const double *gt = in->gt;
    const double cc[2] = {0.5, in->width - 0.5}, rc[2] = {0.5, in->height - 0.5};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            const double lat = gt[3] + cc[i] * gt[4] + rc[j] * gt[5];
            if (!(fabs(lat) < 90.0 - 1e-6))
                return 1;
        }
    return !((in->width - 1.0) * fabs(gt[1]) < 360.0 - 0.5 * fabs(gt[1]) - 1e-6);
}

enum r2h_status r2h_raster_open(const char *name, int band, struct r2h_raster **out, char *errbuf,
                                size_t errbuf_len)
{
    return r2h_raster_open_srs(name, band, NULL, out, errbuf, errbuf_len);
}

/* Open name; the source identity is computed, or copied from first when given. */
static enum r2h_status open_raster(const char *name, int band, const char *srs,
                                   const struct r2h_raster *first, struct r2h_raster **out,
                                   char *errbuf, size_t errbuf_len)
{
    char tmp[4096];
    enum r2h_status st = R2H_ERR_INPUT;
    struct r2h_io_errors e;
    GDALAllRegister();
    const char *path = r2h_io_gdal_name(name, tmp, sizeof tmp);
    r2h_io_errors_begin(&e, path);
    struct r2h_raster *r = r2h_calloc(1, sizeof *r);
    if (!r) {
        st = R2H_ERR_NOMEM;
        r2h_fmt(errbuf, errbuf_len, "%s: out of memory", name);
        goto out_pop;
    }
    r->ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!r->ds) {
        st = r2h_raster_read_failure(&e, name, "cannot open raster", errbuf, errbuf_len);
        goto out_free;
    }
    if ((st = setup_band(r, name, band, errbuf, errbuf_len)) != R2H_OK)
        goto out_free;
    if (GDALGetGeoTransform(r->ds, r->info.gt) != CE_None) {
        r2h_fmt(errbuf, errbuf_len, "%s: raster has no geotransform", name);
        st = R2H_ERR_INPUT;
        goto out_free;
    }
    r->info.rotated = r->info.gt[2] != 0.0 || r->info.gt[4] != 0.0;
    if ((st = setup_crs(r, name, srs, errbuf, errbuf_len)) != R2H_OK)
        goto out_free;
    r->may_leave_globe = may_leave_globe(&r->info);
    if (first)
        copy_identity(&r->info, &first->info);
    else
        source_identity(r, path);
    *out = r;
    st = R2H_OK;
    goto out_pop;
out_free:
    r2h_raster_close(r);
out_pop:
    r2h_io_errors_end(&e);
    return st;
}

enum r2h_status r2h_raster_open_srs(const char *name, int band, const char *srs,
                                    struct r2h_raster **out, char *errbuf, size_t errbuf_len)
{
    return open_raster(name, band, srs, NULL, out, errbuf, errbuf_len);
}

enum r2h_status r2h_raster_open_another(const struct r2h_raster *first, const char *name, int band,
                                        const char *srs, struct r2h_raster **out, char *errbuf,
                                        size_t errbuf_len)
{
    return open_raster(name, band, srs, first, out, errbuf, errbuf_len);
}

enum r2h_status r2h_raster_open_grid(int width, int height, const double gt[6], const char *srs,
                                     struct r2h_raster **out, char *errbuf, size_t errbuf_len)
{
    if (width <= 0 || height <= 0 || !srs || !*srs || !(gt[1] != 0.0 || gt[2] != 0.0) ||
        !(gt[4] != 0.0 || gt[5] != 0.0)) {
        r2h_fmt(errbuf, errbuf_len, "a grid needs a size, a geotransform and a CRS");
        return R2H_ERR_INVALID;
    }
    struct r2h_io_errors e;
    r2h_io_errors_begin(&e, "grid");
    enum r2h_status st = R2H_OK;
    struct r2h_raster *r = r2h_calloc(1, sizeof *r);
    if (!r) {
        r2h_fmt(errbuf, errbuf_len, "out of memory");
        st = R2H_ERR_NOMEM;
        goto out_pop;
    }
    r->info.width = width;
    r->info.height = height;
    memcpy(r->info.gt, gt, sizeof r->info.gt);
    r->info.rotated = gt[2] != 0.0 || gt[4] != 0.0;
    if ((st = setup_crs(r, "grid", srs, errbuf, errbuf_len)) != R2H_OK) {
        r2h_raster_close(r);
        goto out_pop;
    }
    r->may_leave_globe = may_leave_globe(&r->info);
    *out = r;
out_pop:
    r2h_io_errors_end(&e);
    return st;
}

void r2h_raster_close(struct r2h_raster *r)
{
    if (!r)
        return;
    if (r->ct)
        OCTDestroyCoordinateTransformation(r->ct);
    if (r->ict)
        OCTDestroyCoordinateTransformation(r->ict);
    if (r->src_srs)
        OSRDestroySpatialReference(r->src_srs);
    if (r->wgs84)
        OSRDestroySpatialReference(r->wgs84);
    CPLFree(r->crs_wkt);
    if (r->ds)
        GDALClose(r->ds);
    r2h_free(r->okbuf);
    r2h_free(r->mscratch);
    r2h_free(r);
}

const struct r2h_raster_info *r2h_raster_get_info(const struct r2h_raster *r)
{
    return &r->info;
}

const char *r2h_raster_crs_wkt(const struct r2h_raster *r)
{
    return r->crs_wkt ? r->crs_wkt : "";
}

int r2h_raster_band_is_alpha(const struct r2h_raster *r, int band)
{
    if (!r->ds || band < 1 || band > GDALGetRasterCount(r->ds))
        return 0;
    return GDALGetRasterColorInterpretation(GDALGetRasterBand(r->ds, band)) == GCI_AlphaBand;
}

void r2h_raster_mask_with(struct r2h_raster *r, int band)
{
    if (band < 1 || band > GDALGetRasterCount(r->ds))
        return;
    GDALRasterBandH alpha = GDALGetRasterBand(r->ds, band);
    for (int i = 0; i < r->info.nsel; i++)
        if (!r->info.sel[i].has_mask) {
            r->mask[i] = alpha;
            r->info.sel[i].has_mask = 1;
        }
    sync_info(r);
}

void r2h_raster_set_unscale(struct r2h_raster *r)
{
    r->unscale = 1;
    for (int i = 0; i < r->info.nsel; i++) {
        struct r2h_band_info *b = &r->info.sel[i];
        b->unscaled = b->has_scale;
        b->dtype = b->unscaled ? R2H_DT_FLOAT64 : b->raw_dtype;
    }
    sync_info(r);
}

void r2h_raster_set_nodata(struct r2h_raster *r, double nodata)
{
    for (int i = 0; i < r->info.nsel; i++) {
        r->info.sel[i].has_nodata = 1;
        r->info.sel[i].nodata = nodata;
    }
    r->info.has_nodata = 1;
    r->info.nodata = nodata;
}

enum r2h_status r2h_raster_wgs84_bounds(const struct r2h_raster *r, double b[4])
{
    const double *gt = r->info.gt;
    const double W = r->info.width, H = r->info.height;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    const double cx[4] = {0, W, 0, W}, cy[4] = {0, 0, H, H};
    for (int k = 0; k < 4; k++) { /* the corners' envelope (a rotated grid's too) */
        const double x = gt[0] + cx[k] * gt[1] + cy[k] * gt[2];
        const double y = gt[3] + cx[k] * gt[4] + cy[k] * gt[5];
        x0 = fmin(x0, x);
        x1 = fmax(x1, x);
        y0 = fmin(y0, y);
        y1 = fmax(y1, y);
    }
    if (!r->info.geographic) {
        double w, s, e, n;
        if (!r->ct || !OCTTransformBounds(r->ct, x0, y0, x1, y1, &w, &s, &e, &n, 21))
            return R2H_ERR_CRS;
        x0 = w;
        x1 = e < w ? e + 360 : e; /* crossing: unwrapped here, wrapped back below */
        y0 = s;
        y1 = n;
    }
    b[1] = fmax(y0, -90.0);
    b[3] = fmin(y1, 90.0);
    if (x1 - x0 >= 360) {
        b[0] = -180;
        b[2] = 180;
        return R2H_OK;
    }
    const double shift = 360.0 * floor((x0 + 180.0) / 360.0); /* west into [-180, 180) */
    b[0] = x0 - shift;
    b[2] = x1 - shift;
    if (b[2] > 180)
        b[2] -= 360; /* crosses the antimeridian: east < west */
    return R2H_OK;
}
