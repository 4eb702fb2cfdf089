/* bands.c - the selected bands of a run: names, footer lists and the packed multi-band row key
 * (docs/design/0007-multi-band.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_convert.h"
#include "r2h_parquet.h"

/* ---- narrow order-preserving keys ---------------------------------------------------------- */

int r2h_key_width(enum r2h_dtype t)
{
    return 8 * (int)r2h_dtype_size(t);
}

uint64_t r2h_narrow_key(enum r2h_dtype t, const void *p)
{
    switch (t) {
    case R2H_DT_UINT8: return *(const uint8_t *)p;
    case R2H_DT_INT8: return (uint8_t) * (const int8_t *)p ^ 0x80u;
    case R2H_DT_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case R2H_DT_INT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v ^ 0x8000u;
    }
    case R2H_DT_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case R2H_DT_INT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v ^ 0x80000000u;
    }
    case R2H_DT_UINT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    case R2H_DT_INT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v ^ 0x8000000000000000ULL;
    }
    case R2H_DT_FLOAT32: { /* sign-magnitude to two's-complement order: -0.0 sorts below +0.0 */
        uint32_t b;
        memcpy(&b, p, 4);
        return (b & 0x80000000u) ? (uint32_t)~b : (b | 0x80000000u);
    }
    case R2H_DT_FLOAT64: {
        uint64_t b;
        memcpy(&b, p, 8);
        return (b & 0x8000000000000000ULL) ? ~b : (b | 0x8000000000000000ULL);
    }
    }
    return 0;
}

void r2h_narrow_value(enum r2h_dtype t, uint64_t k, void *p)
{
    switch (t) {
    case R2H_DT_UINT8: *(uint8_t *)p = (uint8_t)k; break;
    case R2H_DT_INT8: *(uint8_t *)p = (uint8_t)(k ^ 0x80u); break;
    case R2H_DT_UINT16: {
        uint16_t v = (uint16_t)k;
        memcpy(p, &v, 2);
        break;
    }
    case R2H_DT_INT16: {
        uint16_t v = (uint16_t)(k ^ 0x8000u);
        memcpy(p, &v, 2);
        break;
    }
    case R2H_DT_UINT32: {
        uint32_t v = (uint32_t)k;
        memcpy(p, &v, 4);
        break;
    }
    case R2H_DT_INT32: {
        uint32_t v = (uint32_t)k ^ 0x80000000u;
        memcpy(p, &v, 4);
        break;
    }
    case R2H_DT_UINT64: memcpy(p, &k, 8); break;
    case R2H_DT_INT64: {
        uint64_t v = k ^ 0x8000000000000000ULL;
        memcpy(p, &v, 8);
        break;
    }
    case R2H_DT_FLOAT32: {
        uint32_t b = (uint32_t)k;
        b = (b & 0x80000000u) ? (b & ~0x80000000u) : ~b;
        memcpy(p, &b, 4);
        break;
    }
    case R2H_DT_FLOAT64: {
        uint64_t b = (k & 0x8000000000000000ULL) ? (k & ~0x8000000000000000ULL) : ~k;
        memcpy(p, &b, 8);
        break;
    }
    }
}

/* ---- the packed key of a pixel ------------------------------------------------------------- */

uint64_t r2h_bands_key(const struct r2h_bands *b, const void *pixel)
{
    const unsigned char *p = pixel;
    uint64_t k = 0;
    for (int i = 0; i < b->n; i++)
        k |= r2h_narrow_key(b->dt[i], p + b->off[i]) << b->shift[i];
    return k;
}

void r2h_bands_keys(const struct r2h_bands *b, const void *pixels, size_t n, uint64_t *keys)
{
#define KEYS(T)                                                                                    \
    do {                                                                                           \
        const T *v = pixels;                                                                       \
        for (size_t j = 0; j < n; j++)                                                             \
            keys[j] = v[j];                                                                        \
    } while (0)
    /* One unsigned band: the key is the value (no per-pixel type dispatch). */
    const int one = b->n == 1 && b->pixel_size == r2h_dtype_size(b->dt[0]);
    if (one && b->dt[0] == R2H_DT_UINT8)
        KEYS(uint8_t);
    else if (one && b->dt[0] == R2H_DT_UINT16)
        KEYS(uint16_t);
    else if (one && b->dt[0] == R2H_DT_UINT32)
        KEYS(uint32_t);
    else
        for (size_t j = 0; j < n; j++)
            keys[j] = r2h_bands_key(b, (const unsigned char *)pixels + j * b->pixel_size);
#undef KEYS
}

static uint64_t part_of(const struct r2h_bands *b, uint64_t key, int i)
{
    const uint64_t mask = b->bits[i] == 64 ? ~0ULL : ((1ULL << b->bits[i]) - 1);
    return (key >> b->shift[i]) & mask;
}

void r2h_bands_value(const struct r2h_bands *b, uint64_t key, int i, void *out)
{
    r2h_narrow_value(b->dt[i], part_of(b, key, i), out);
}

double r2h_bands_double(const struct r2h_bands *b, uint64_t key, int i)
{
    union r2h_value v;
    r2h_bands_value(b, key, i, &v);
    return r2h_value_double(b->dt[i], &v);
}

int r2h_bands_key_bits(const struct r2h_bands *b)
{
    return b->key_bits;
}

size_t r2h_bands_value_bytes(const struct r2h_bands *b)
{
    size_t n = 0;
    for (int i = 0; i < b->n; i++)
        n += r2h_dtype_size(b->dt[i]);
    return n;
}

void r2h_bands_decode(const struct r2h_bands *b, const struct r2h_row *rows, size_t n, int i,
                      void *out)
{
    const size_t sz = r2h_dtype_size(b->dt[i]);
    unsigned char *o = out;
#define VALUES(T)                                                                                  \
    do {                                                                                           \
        T *v = out;                                                                                \
        for (size_t j = 0; j < n; j++)                                                             \
            v[j] = (T)rows[j].key;                                                                 \
    } while (0)
    /* One unsigned band: the key is the value. */
    if (b->n == 1 && b->dt[0] == R2H_DT_UINT8)
        VALUES(uint8_t);
    else if (b->n == 1 && b->dt[0] == R2H_DT_UINT16)
        VALUES(uint16_t);
    else if (b->n == 1 && b->dt[0] == R2H_DT_UINT32)
        VALUES(uint32_t);
    else
        for (size_t j = 0; j < n; j++)
            r2h_narrow_value(b->dt[i], part_of(b, rows[j].key, i), o + j * sz);
#undef VALUES
}

/* ---- the plan ------------------------------------------------------------------------------ */

enum r2h_status r2h_bands_layout(struct r2h_bands *b, char *err, size_t errlen)
{
    int total = 0;
    for (int i = 0; i < b->n; i++) {
        b->bits[i] = r2h_key_width(b->dt[i]);
        total += b->bits[i];
    }
    if (total > 64) {
        int same = 1;
        for (int i = 1; i < b->n; i++)
            same &= b->dt[i] == b->dt[0];
        char what[64];
        if (same)
            r2h_fmt(what, sizeof what, "%d %s bands", b->n, r2h_dtype_name(b->dt[0]));
        else
            r2h_fmt(what, sizeof what, "%d bands", b->n);
        r2h_fmt(err, errlen,
                "--bands: %s need %d bits per pixel; at most 64 bits (8 Byte, 4 UInt16/Int16, "
                "2 Float32/Int32/UInt32 bands, or 1 64-bit band)",
                what, total);
        return R2H_ERR_INVALID;
    }
    b->key_bits = total;
    for (int i = 0, s = total; i < b->n; i++) { /* the first band in the most significant bits */
        s -= b->bits[i];
        b->shift[i] = s;
    }
    return R2H_OK;
}

/* The selection asked for: --bands, "all" (every band but alpha bands, which stay the other
 * bands' mask) or the single --band. */
static enum r2h_status resolve_selection(const struct r2h_convert_options *o,
                                         const struct r2h_raster *r, int *sel, int *n, int *alpha,
                                         char *err, size_t errlen)
{
    const struct r2h_raster_info *in = r2h_raster_get_info(r);
    if (o->nbands == R2H_BANDS_ALL) {
        *n = 0;
        for (int band = 1; band <= in->band_count; band++) {
            if (r2h_raster_band_is_alpha(r, band)) {
                *alpha = *alpha ? *alpha : band;
                continue;
            }
            if (*n < R2H_RASTER_MAX_BANDS)
                sel[*n] = band;
            (*n)++;
        }
        if (*n == 0) {
            r2h_fmt(err, errlen, "--bands all: %s has only alpha bands", o->input);
            return R2H_ERR_INPUT;
        }
    } else if (o->nbands > 0 && o->bands) {
        *n = o->nbands;
        for (int i = 0; i < *n && i < R2H_RASTER_MAX_BANDS; i++)
            sel[i] = o->bands[i];
    } else if (o->nbands == 0) {
        sel[0] = o->band;
        *n = 1;
        return R2H_OK;
    } else {
        r2h_fmt(err, errlen, "--bands: empty band list");
        return R2H_ERR_INVALID;
    }
    if (*n > R2H_RASTER_MAX_BANDS) {
        r2h_fmt(err, errlen,
                "--bands: %d bands need at least %d bits per pixel; at most 64 bits "
                "(8 Byte, 4 UInt16/Int16, 2 Float32/Int32/UInt32 bands, or 1 64-bit band)",
                *n, 8 * *n);
        return R2H_ERR_INVALID;
    }
    for (int i = 0; i < *n; i++) {
        if (sel[i] < 1 || sel[i] > in->band_count) {
            r2h_fmt(err, errlen, "--bands: band %d does not exist, %s has %d band%s", sel[i],
                    o->input, in->band_count, in->band_count == 1 ? "" : "s");
            return R2H_ERR_INPUT;
        }
        for (int j = 0; j < i; j++)
            if (sel[j] == sel[i]) {
                r2h_fmt(err, errlen, "--bands: band %d is listed twice", sel[i]);
                return R2H_ERR_INVALID;
            }
    }
    return R2H_OK;
}

/* s as an identifier [A-Za-z_][A-Za-z0-9_]* into dst: every run of other characters becomes
 * one '_', leading and trailing ones are dropped, a leading digit gets a '_' before it; ""
 * if nothing is left. Names that are identifiers already are unchanged. */
static void identifier(const char *s, char *dst, size_t len)
{
    size_t n = 0;
    int gap = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 2 < len; p++) {
        const int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                       (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok) {
            gap = n > 0;
            continue;
        }
        if (n == 0 && *p >= '0' && *p <= '9')
            dst[n++] = '_';
        if (gap)
            dst[n++] = '_';
        gap = 0;
        dst[n++] = (char)*p;
    }
    dst[n] = 0;
}

/* Column names: --value-name(s), else the band's name (GRIB element and level, description or
 * NetCDF variable; with --bands a NetCDF variable's band as <var>_<step>, its time step or
 * other extra dimensions: sst_2010_01, temp_depth10) as an identifier, else "value" (one band)
 * or band_<n>; names shared by several selected bands get _<n> appended. */
static enum r2h_status name_columns(struct r2h_bands *b, const struct r2h_convert_options *o,
                                    const struct r2h_raster_info *in, char *err, size_t errlen)
{
    const int multi = o->nbands != 0;
    if (multi && o->value_names && o->nvalue_names != b->n) {
        r2h_fmt(err, errlen, "--value-name: %d name%s for %d band%s", o->nvalue_names,
                o->nvalue_names == 1 ? "" : "s", b->n, b->n == 1 ? "" : "s");
        return R2H_ERR_INVALID;
    }
    for (int i = 0; i < b->n; i++) {
        const char *given = multi && o->value_names                     ? o->value_names[i]
                            : !multi && o->value_name && *o->value_name ? o->value_name
                                                                        : NULL;
        if (given && !*given) {
            r2h_fmt(err, errlen, "--value-name: empty name for band %d", b->band[i]);
            return R2H_ERR_INVALID;
        }
        if (given && strcmp(given, "h0") == 0) {
            r2h_fmt(err, errlen,
                    "--value-name: a column cannot be named h0 (the partition "
                    "column h0= of the directory names)");
            return R2H_ERR_INVALID;
        }
        b->given[i] = given != NULL;
        /* room for a _<n> suffix below */
        if (multi && in->sel[i].step[0] && in->sel[i].name[0]) { /* NetCDF: <var>_<step> */
            char full[sizeof in->sel[i].name + sizeof in->sel[i].step + 1];
            r2h_fmt(full, sizeof full, "%s_%s", in->sel[i].name, in->sel[i].step);
            identifier(full, b->name[i], sizeof b->name[i] - 16);
        } else {
            identifier(in->sel[i].name, b->name[i], sizeof b->name[i] - 16);
        }
        if (given)
            r2h_fmt(b->name[i], sizeof b->name[i], "%s", given);
        else if (!b->name[i][0] && b->n == 1)
            r2h_fmt(b->name[i], sizeof b->name[i], "value");
        else if (!b->name[i][0])
            r2h_fmt(b->name[i], sizeof b->name[i], "band_%d", b->band[i]);
    }
    int dup[R2H_RASTER_MAX_BANDS] = {0};
    for (int i = 0; i < b->n; i++) {
        /* A description h0 would clash with the partition column: it gets _<n> too. */
        dup[i] = !b->given[i] && strcmp(b->name[i], "h0") == 0;
        for (int j = 0; j < b->n; j++)
            dup[i] |= j != i && !b->given[i] && !b->given[j] && strcmp(b->name[i], b->name[j]) == 0;
    }
    for (int i = 0; i < b->n; i++)
        if (dup[i]) {
            char tmp[sizeof b->name[i]];
            r2h_fmt(tmp, sizeof tmp, "%s", b->name[i]);
            r2h_fmt(b->name[i], sizeof b->name[i], "%.240s_%d", tmp, b->band[i]);
        }
    char cellname[8];
    r2h_cell_column_name(o->resolution, cellname, sizeof cellname);
    for (int i = 0; i < b->n; i++) {
        if (strcmp(b->name[i], cellname) == 0) {
            r2h_fmt(err, errlen, "value column name '%s' clashes with the cell column", cellname);
            return R2H_ERR_INVALID;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(b->name[i], b->name[j]) == 0) {
                r2h_fmt(err, errlen, "two value columns would be named '%s'%s", b->name[i],
                        b->given[i] && b->given[j] ? "" : " (use --value-name)");
                return R2H_ERR_INVALID;
            }
    }
    return R2H_OK;
}

enum r2h_status r2h_bands_plan(const struct r2h_convert_options *o, struct r2h_raster *r,
                               struct r2h_bands **out, char *err, size_t errlen)
{
    *out = NULL;
    struct r2h_bands *b = r2h_calloc(1, sizeof *b);
    if (!b) {
        r2h_fmt(err, errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    int sel[R2H_RASTER_MAX_BANDS];
    enum r2h_status st = resolve_selection(o, r, sel, &b->n, &b->alpha_mask, err, errlen);
    if (st == R2H_OK && o->nbands != 0)
        st = r2h_raster_select(r, sel, b->n, err, errlen);
    if (st != R2H_OK)
        goto fail;
    if (b->alpha_mask)
        r2h_raster_mask_with(r, b->alpha_mask);
    if (o->unscale)
        r2h_raster_set_unscale(r);
    const struct r2h_raster_info *in = r2h_raster_get_info(r);
    for (int i = 0; i < b->n; i++) {
        b->band[i] = in->sel[i].band;
        b->dt[i] = in->sel[i].dtype;
        b->off[i] = in->sel[i].offset;
    }
    b->pixel_size = in->pixel_size;
    if ((st = r2h_bands_layout(b, err, errlen)) != R2H_OK ||
        (st = name_columns(b, o, in, err, errlen)) != R2H_OK)
        goto fail;
    if (b->n > 1 && o->aggregate) {
        r2h_fmt(err, errlen,
                "--aggregate with several bands is not supported yet; aggregate one "
                "band at a time (--band B)");
        st = R2H_ERR_INVALID;
        goto fail;
    }
    *out = b;
    return R2H_OK;
fail:
    r2h_free(b);
    return st;
}

void r2h_bands_free(struct r2h_bands *b)
{
    r2h_free(b);
}

/* ---- lists for footers, fingerprints and the manifest -------------------------------------- */

static void append(char *dst, size_t len, size_t *n, const char *s)
{
    int k = snprintf(dst + *n, *n < len ? len - *n : 0, "%s", s);
    if (k > 0)
        *n += (size_t)k;
    if (*n >= len)
        *n = len - 1;
}

/* v with the fewest digits that read back as v (0.01, not 0.01000000000000000021). */
static void shortest(char *dst, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        r2h_fmt(dst, len, "%.*g", prec, v);
        if (strtod(dst, NULL) == v)
            return;
    }
}

int r2h_bands_has_scale(const struct r2h_raster_info *in)
{
    for (int i = 0; i < in->nsel; i++)
        if (in->sel[i].has_scale || in->sel[i].unit[0])
            return 1;
    return 0;
}

void r2h_bands_list(const struct r2h_bands *b, const struct r2h_raster_info *in,
                    enum r2h_bands_what what, char *dst, size_t len)
{
    size_t n = 0;
    dst[0] = 0;
    for (int i = 0; i < b->n; i++) {
        char item[300];
        const struct r2h_band_info *bi = &in->sel[i];
        switch (what) {
        case R2H_LIST_BANDS: r2h_fmt(item, sizeof item, "%d", b->band[i]); break;
        case R2H_LIST_DTYPES: r2h_fmt(item, sizeof item, "%s", r2h_dtype_name(b->dt[i])); break;
        case R2H_LIST_NODATA:
            if (bi->has_nodata)
                r2h_fmt(item, sizeof item, "%.17g", bi->nodata);
            else
                r2h_fmt(item, sizeof item, "none");
            break;
        case R2H_LIST_NODATA_FP: /* has:value, as the single-band fingerprint always had */
            r2h_fmt(item, sizeof item, "%d:%.17g", bi->has_nodata, bi->nodata);
            break;
        case R2H_LIST_SCALE: shortest(item, sizeof item, bi->scale); break;
        case R2H_LIST_OFFSET: shortest(item, sizeof item, bi->add_offset); break;
        case R2H_LIST_NAMES_JSON:
        case R2H_LIST_UNITS_JSON:
            append(dst, len, &n, i ? ",\"" : "[\"");
            for (const char *p = what == R2H_LIST_UNITS_JSON ? bi->unit : b->name[i]; *p; p++) {
                char e[8];
                r2h_json_escape_byte((unsigned char)*p, e);
                append(dst, len, &n, e);
            }
            append(dst, len, &n, i + 1 == b->n ? "\"]" : "\"");
            continue;
        }
        if (i)
            append(dst, len, &n, ",");
        append(dst, len, &n, item);
    }
}

static enum r2h_pq_type pq_type(enum r2h_dtype t)
{
    static const enum r2h_pq_type m[] = {R2H_PQ_UINT8,  R2H_PQ_INT8,  R2H_PQ_UINT16, R2H_PQ_INT16,
                                         R2H_PQ_UINT32, R2H_PQ_INT32, R2H_PQ_UINT64, R2H_PQ_INT64,
                                         R2H_PQ_FLOAT,  R2H_PQ_DOUBLE};
    return m[t];
}

void r2h_bands_columns(const struct r2h_bands *b, struct r2h_pq_column_spec *cols)
{
    for (int i = 0; i < b->n; i++)
        cols[i] = (struct r2h_pq_column_spec){.name = b->name[i], .type = pq_type(b->dt[i])};
}

double r2h_value_double(enum r2h_dtype t, const union r2h_value *v)
{
    switch (t) {
    case R2H_DT_UINT8: return v->u8;
    case R2H_DT_INT8: return v->i8;
    case R2H_DT_UINT16: return v->u16;
    case R2H_DT_INT16: return v->i16;
    case R2H_DT_UINT32: return v->u32;
    case R2H_DT_INT32: return v->i32;
    case R2H_DT_UINT64: return (double)v->u64;
    case R2H_DT_INT64: return (double)v->i64;
    case R2H_DT_FLOAT32: return v->f;
    case R2H_DT_FLOAT64: return v->d;
    }
    return 0;
}
