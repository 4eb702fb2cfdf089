/* cftime.c - CF time coordinates ("days since 1950-01-01" in a calendar) to dates, for the
 * names of NetCDF time steps (docs/design/0007-multi-band.md, "NetCDF variables and time
 * steps"). Pure: no GDAL. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "r2h_raster.h"

/* Floor division and modulo (day numbers before the epoch are negative). */
static int64_t fdiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t fmodi(int64_t a, int64_t b)
{
    return a - fdiv(a, b) * b;
}

static const int cum365[13] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
static const int cum366[13] = {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366};

/* Julian Day Numbers of the Gregorian and Julian calendars (astronomical years: 1 BC is 0). */
static int64_t jdn_gregorian(int64_t y, int m, int d)
{
    const int64_t a = (14 - m) / 12, yy = y + 4800 - a, mm = m + 12 * a - 3;
    return d + (153 * mm + 2) / 5 + 365 * yy + fdiv(yy, 4) - fdiv(yy, 100) + fdiv(yy, 400) - 32045;
}

static int64_t jdn_julian(int64_t y, int m, int d)
{
    const int64_t a = (14 - m) / 12, yy = y + 4800 - a, mm = m + 12 * a - 3;
    return d + (153 * mm + 2) / 5 + 365 * yy + fdiv(yy, 4) - 32083;
}

static void from_jdn(int64_t j, int gregorian, struct r2h_cftime_date *t)
{
    int64_t b = 0, c;
    if (gregorian) {
        const int64_t a = j + 32044;
        b = fdiv(4 * a + 3, 146097);
        c = a - fdiv(146097 * b, 4);
    } else {
        c = j + 32082;
    }
    const int64_t d = fdiv(4 * c + 3, 1461), e = c - fdiv(1461 * d, 4), m = (5 * e + 2) / 153;
    t->day = (int)(e - (153 * m + 2) / 5 + 1);
    t->month = (int)(m + 3 - 12 * (m / 10));
    t->year = 100 * b + d - 4800 + m / 10;
}

/* The first day of the Gregorian calendar in the standard (mixed) calendar: 1582-10-15. */
#define GREGORIAN_START 2299161

/* Day number of a date in calendar cal. */
static int64_t day_number(enum r2h_calendar cal, int64_t y, int m, int d)
{
    switch (cal) {
    case R2H_CAL_STANDARD: {
        const int64_t g = jdn_gregorian(y, m, d);
        return g >= GREGORIAN_START ? g : jdn_julian(y, m, d);
    }
    case R2H_CAL_PROLEPTIC_GREGORIAN: return jdn_gregorian(y, m, d);
    case R2H_CAL_JULIAN: return jdn_julian(y, m, d);
    case R2H_CAL_NOLEAP: return y * 365 + cum365[m - 1] + d - 1;
    case R2H_CAL_ALL_LEAP: return y * 366 + cum366[m - 1] + d - 1;
    case R2H_CAL_360_DAY: return y * 360 + (m - 1) * 30 + d - 1;
    }
    return 0;
}

static void from_day_number(enum r2h_calendar cal, int64_t n, struct r2h_cftime_date *t)
{
    const int *cum = cal == R2H_CAL_ALL_LEAP ? cum366 : cum365;
    const int ylen = cal == R2H_CAL_ALL_LEAP ? 366 : 365;
    switch (cal) {
    case R2H_CAL_STANDARD: from_jdn(n, n >= GREGORIAN_START, t); return;
    case R2H_CAL_PROLEPTIC_GREGORIAN: from_jdn(n, 1, t); return;
    case R2H_CAL_JULIAN: from_jdn(n, 0, t); return;
    case R2H_CAL_360_DAY:
        t->year = fdiv(n, 360);
        t->month = (int)(fmodi(n, 360) / 30) + 1;
        t->day = (int)(fmodi(n, 30)) + 1;
        return;
    case R2H_CAL_NOLEAP:
    case R2H_CAL_ALL_LEAP: {
        t->year = fdiv(n, ylen);
        const int doy = (int)fmodi(n, ylen);
        int m = 1;
        while (m < 12 && doy >= cum[m])
            m++;
        t->month = m;
        t->day = doy - cum[m - 1] + 1;
        return;
    }
    }
}

/* Reads an unsigned integer of 1 to maxd digits at *p; -1 if there is none. */
static long digits(const char **p, int maxd)
{
    long v = 0;
    int n = 0;
    while (n < maxd && isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n ? v : -1;
}

int r2h_cftime_parse(const char *units, const char *calendar, struct r2h_cftime *t)
{
    static const struct {
        const char *name;
        double seconds;
    } unit[] = {{"days", 86400}, {"day", 86400}, {"d", 86400},      {"hours", 3600}, {"hour", 3600},
                {"hrs", 3600},   {"hr", 3600},   {"h", 3600},       {"minutes", 60}, {"minute", 60},
                {"mins", 60},    {"min", 60},    {"seconds", 1},    {"second", 1},   {"secs", 1},
                {"sec", 1},      {"s", 1},       {"weeks", 604800}, {"week", 604800}};
    static const struct {
        const char *name;
        enum r2h_calendar cal;
    } cals[] = {{"standard", R2H_CAL_STANDARD},
                {"gregorian", R2H_CAL_STANDARD},
                {"proleptic_gregorian", R2H_CAL_PROLEPTIC_GREGORIAN},
                {"julian", R2H_CAL_JULIAN},
                {"noleap", R2H_CAL_NOLEAP},
                {"365_day", R2H_CAL_NOLEAP},
                {"all_leap", R2H_CAL_ALL_LEAP},
                {"366_day", R2H_CAL_ALL_LEAP},
                {"360_day", R2H_CAL_360_DAY}};
    memset(t, 0, sizeof *t);
    if (!units)
        return 0;
    const char *p = units;
    while (*p == ' ')
        p++;
    const char *w = p;
    while (isalpha((unsigned char)*p))
        p++;
    const size_t wl = (size_t)(p - w);
    t->unit_s = 0;
    for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
        if (strlen(unit[i].name) == wl && strncasecmp(w, unit[i].name, wl) == 0)
            t->unit_s = unit[i].seconds;
    while (*p == ' ')
        p++;
    if (!t->unit_s || strncasecmp(p, "since", 5) != 0 || p[5] != ' ')
        return 0;
    p += 6;
    while (*p == ' ')
        p++;
    int neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    long y = digits(&p, 6), mo = 1, d = 1, hh = 0, mi = 0;
    double ss = 0;
    if (y < 0)
        return 0;
    if (*p == '-') {
        p++;
        mo = digits(&p, 2);
        if (*p == '-') {
            p++;
            d = digits(&p, 2);
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return 0;
    if (*p == ' ' || *p == 'T') {
        const char *q = p + 1;
        while (*q == ' ')
            q++;
        if (isdigit((unsigned char)*q)) {
            hh = digits(&q, 2);
            if (*q == ':') {
                q++;
                mi = digits(&q, 2);
                if (*q == ':') {
                    q++;
                    char *end;
                    ss = strtod(q, &end);
                }
            }
            if (hh < 0 || hh > 24 || mi < 0 || mi > 59 || !(ss >= 0 && ss < 61))
                return 0;
        }
    }
    t->calendar = R2H_CAL_STANDARD;
    if (calendar && *calendar) {
        int known = 0;
        for (size_t i = 0; i < sizeof cals / sizeof cals[0]; i++)
            if (strcasecmp(calendar, cals[i].name) == 0) {
                t->calendar = cals[i].cal;
                known = 1;
            }
        if (!known)
            return 0;
    }
    if (t->calendar == R2H_CAL_360_DAY && d > 30)
        return 0;
    t->ref_day = day_number(t->calendar, neg ? -y : y, (int)mo, (int)d);
    t->ref_s = hh * 3600.0 + mi * 60.0 + ss;
    return 1;
}

int r2h_cftime_decode(const struct r2h_cftime *t, double value, struct r2h_cftime_date *out)
{
    const double s = t->ref_s + value * t->unit_s;
    if (!isfinite(s) || fabs(s) > 1e15)
        return 0;
    const int64_t secs = (int64_t)llround(s); /* whole seconds: 23:59:59.9999 is midnight */
    from_day_number(t->calendar, t->ref_day + fdiv(secs, 86400), out);
    const int64_t sod = fmodi(secs, 86400);
    out->hour = (int)(sod / 3600);
    out->minute = (int)(sod / 60 % 60);
    out->second = (int)(sod % 60);
    return 1;
}

void r2h_cftime_format(const struct r2h_cftime_date *d, enum r2h_cftime_level level, char *dst,
                       size_t len)
{
    char y[32];
    snprintf(y, sizeof y, "%s%04lld", d->year < 0 ? "m" : "",
             (long long)(d->year < 0 ? -d->year : d->year));
    switch (level) {
    case R2H_TIME_YEAR: r2h_fmt(dst, len, "%s", y); break;
    case R2H_TIME_MONTH: r2h_fmt(dst, len, "%s_%02d", y, d->month); break;
    case R2H_TIME_DAY: r2h_fmt(dst, len, "%s_%02d_%02d", y, d->month, d->day); break;
    case R2H_TIME_HOUR: r2h_fmt(dst, len, "%s_%02d_%02dT%02d", y, d->month, d->day, d->hour); break;
    case R2H_TIME_MINUTE:
        r2h_fmt(dst, len, "%s_%02d_%02dT%02d%02d", y, d->month, d->day, d->hour, d->minute);
        break;
    case R2H_TIME_SECOND:
        r2h_fmt(dst, len, "%s_%02d_%02dT%02d%02d%02d", y, d->month, d->day, d->hour, d->minute,
                d->second);
        break;
    }
}

/* The date's fields down to level as one number (ordered like the dates). */
static int64_t truncated(const struct r2h_cftime_date *d, enum r2h_cftime_level level)
{
    const int64_t f[6] = {d->year, d->month, d->day, d->hour, d->minute, d->second};
    static const int64_t radix[6] = {1, 13, 32, 24, 60, 60};
    int64_t v = 0;
    for (int i = 0; i <= (int)level; i++)
        v = v * radix[i] + f[i];
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum r2h_cftime_level r2h_cftime_level_of(const struct r2h_cftime *t, const double *values,
                                          size_t n)
{
    double *v = n ? malloc(n * sizeof *v) : NULL;
    if (!v)
        return n ? R2H_TIME_SECOND : R2H_TIME_YEAR;
    memcpy(v, values, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    enum r2h_cftime_level level = R2H_TIME_YEAR;
    /* Dates grow with the values: equal names at a level are neighbours once sorted. */
    for (size_t i = 1; i < n; i++) {
        if (v[i] == v[i - 1])
            continue;
        struct r2h_cftime_date a, b;
        if (!r2h_cftime_decode(t, v[i - 1], &a) || !r2h_cftime_decode(t, v[i], &b))
            continue;
        while (level < R2H_TIME_SECOND && truncated(&a, level) == truncated(&b, level))
            level++;
    }
    free(v);
    return level;
}
