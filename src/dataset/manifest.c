/* manifest.c - reading the dataset manifest, OUTPUT/_manifest.json, back: a small JSON parser
 * (objects, arrays, strings with escapes, numbers, true/false/null) for what
 * r2h_manifest_write (dataset.c) writes. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_dataset.h"
#include "r2h_index.h"

enum { MAX_DEPTH = 16 };

struct parser {
    const char *start, *p, *end;
    char *store; /* decoded strings go here (never longer than their source) */
    char *err;
    size_t errlen;
    int failed;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...)
{
    if (!ps->failed) {
        char what[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        r2h_fmt(ps->err, ps->errlen, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
    }
    ps->failed = 1;
    return -1;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* The next non-blank byte is c: consume it and return 1; else 0 (nothing consumed). */
static int accept(struct parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

static int expect(struct parser *ps, char c)
{
    return accept(ps, c) ? 0 : fail(ps, "expected '%c'", c);
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(char **d, unsigned cp)
{
    unsigned char *o = (unsigned char *)*d;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xc0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xe0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (unsigned char)(0xf0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *d = (char *)o;
}

/* A string; its decoded bytes (NUL-terminated) into the store when out is not NULL. A \u escape
 * of six source bytes decodes to at most three, a surrogate pair of twelve to four, so the
 * store, as large as the text, never overflows. */
static int parse_string(struct parser *ps, const char **out)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"')
        return fail(ps, "expected a string");
    ps->p++;
    char *d = ps->store;
    for (;;) {
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(ps, "control character in a string");
        if (c != '\\') {
            *d++ = (char)c;
            continue;
        }
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        char e = *ps->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            *d++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || ps->end - ps->p < 4 || hex4(ps->p, &cp) != 0)
            return fail(ps, "bad escape in a string");
        ps->p += 4;
        if (cp >= 0xd800 && cp < 0xdc00) {
            if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                hex4(ps->p + 2, &lo) != 0 || lo < 0xdc00 || lo >= 0xe000)
                return fail(ps, "unpaired surrogate in a string");
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp < 0xe000) {
            return fail(ps, "unpaired surrogate in a string");
        } else if (cp == 0) {
            return fail(ps, "NUL in a string");
        }
        put_utf8(&d, cp);
    }
    *d++ = 0;
    if (out)
        *out = ps->store;
    ps->store = d;
    return 0;
}

/* A number (JSON's grammar, plus the bare inf, -inf, nan and -nan printf gives for doubles
 * that are not finite) into *out; its text span into *s, *n. */
static int parse_number(struct parser *ps, double *out, const char **s, size_t *n)
{
    skip_ws(ps);
    const char *b = ps->p, *q = b;
    if (q < ps->end && *q == '-')
        q++;
    if (ps->end - q >= 3 && (strncmp(q, "inf", 3) == 0 || strncmp(q, "nan", 3) == 0)) {
        q += 3;
    } else {
        const char *digits = q;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
        if (q == digits || (*digits == '0' && q - digits > 1))
            return fail(ps, "expected a number");
        if (q < ps->end && *q == '.') {
            const char *f = ++q;
            while (q < ps->end && *q >= '0' && *q <= '9')
                q++;
            if (q == f)
                return fail(ps, "expected a number");
        }
        if (q < ps->end && (*q == 'e' || *q == 'E')) {
            q++;
            if (q < ps->end && (*q == '+' || *q == '-'))
                q++;
            const char *x = q;
            while (q < ps->end && *q >= '0' && *q <= '9')
                q++;
            if (q == x)
                return fail(ps, "expected a number");
        }
    }
    char tmp[64];
    if (q - b >= (ptrdiff_t)sizeof tmp)
        return fail(ps, "number too long");
    memcpy(tmp, b, (size_t)(q - b));
    tmp[q - b] = 0;
    *out = strtod(tmp, NULL);
    if (s) {
        *s = b;
        *n = (size_t)(q - b);
    }
    ps->p = q;
    return 0;
}

/* A number that is a whole count 0..2^64-1. */
static int parse_count(struct parser *ps, uint64_t *out)
{
    double d;
    const char *s;
    size_t n;
    if (parse_number(ps, &d, &s, &n) != 0)
        return -1;
    if (strspn(s, "0123456789") != n || n > 20)
        return fail(ps, "expected a count");
    char tmp[24];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    errno = 0;
    unsigned long long v = strtoull(tmp, NULL, 10);
    if (errno)
        return fail(ps, "count out of range");
    *out = v;
    return 0;
}

static int parse_word(struct parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || strncmp(ps->p, w, n) != 0)
        return fail(ps, "unexpected character");
    ps->p += n;
    return 0;
}

static int parse_bool(struct parser *ps, int *out)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == 't') {
        *out = 1;
        return parse_word(ps, "true");
    }
    *out = 0;
    if (ps->p < ps->end && *ps->p == 'f')
        return parse_word(ps, "false");
    return fail(ps, "expected true or false");
}

/* Any value, checked and skipped. */
/* A partition's min or max: a number, or null (unknown: NaN). */
static int parse_range(struct parser *ps, double *out)
{
    skip_ws(ps);
    if (ps->end - ps->p >= 4 && strncmp(ps->p, "null", 4) == 0) {
        *out = NAN;
        return parse_word(ps, "null");
    }
    return parse_number(ps, out, NULL, NULL);
}

static int skip_value(struct parser *ps, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(ps, "nesting too deep");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end");
    double d;
    switch (*ps->p) {
    case '"': return parse_string(ps, NULL);
    case 't': return parse_word(ps, "true");
    case 'f': return parse_word(ps, "false");
    case 'n': return parse_word(ps, "null");
    case '[':
        ps->p++;
        if (accept(ps, ']'))
            return 0;
        do {
            if (skip_value(ps, depth + 1) != 0)
                return -1;
        } while (accept(ps, ','));
        return expect(ps, ']');
    case '{':
        ps->p++;
        if (accept(ps, '}'))
            return 0;
        do {
            if (parse_string(ps, NULL) != 0 || expect(ps, ':') != 0 ||
                skip_value(ps, depth + 1) != 0)
                return -1;
        } while (accept(ps, ','));
        return expect(ps, '}');
    default: return parse_number(ps, &d, NULL, NULL);
    }
}

/* {"h0": "<cell>", "path": "...", "rows": N, "bytes": N, "min": x, "max": x} */
static int parse_part(struct parser *ps, struct r2h_manifest *m)
{
    if (expect(ps, '{') != 0)
        return -1;
    struct r2h_manifest_part part = {0};
    int bc = -1;
    if (!accept(ps, '}')) {
        do {
            const char *key, *s;
            if (parse_string(ps, &key) != 0 || expect(ps, ':') != 0)
                return -1;
            int r;
            if (strcmp(key, "h0") == 0) {
                char dir[32];
                if ((r = parse_string(ps, &s)) == 0) {
                    r2h_fmt(dir, sizeof dir, "h0=%s", s);
                    if ((bc = r2h_dataset_part_of(dir)) < 0)
                        return fail(ps, "h0 \"%.20s\" is not a resolution-0 cell", s);
                }
            } else if (strcmp(key, "rows") == 0) {
                r = parse_count(ps, &part.rows);
            } else if (strcmp(key, "bytes") == 0) {
                r = parse_count(ps, &part.bytes);
            } else if (strcmp(key, "min") == 0) {
                r = parse_range(ps, &part.min);
            } else if (strcmp(key, "max") == 0) {
                r = parse_range(ps, &part.max);
            } else {
                r = skip_value(ps, 3);
            }
            if (r != 0)
                return -1;
        } while (accept(ps, ','));
        if (expect(ps, '}') != 0)
            return -1;
    }
    if (bc < 0)
        return fail(ps, "a partition without h0");
    if (m->parts[bc].listed)
        return fail(ps, "h0=%015llx listed twice", (unsigned long long)r2h_index_res0_cell(bc));
    part.listed = 1;
    m->parts[bc] = part;
    return 0;
}

static int parse_manifest(struct parser *ps, struct r2h_manifest *m)
{
    int complete = 1;
    if (expect(ps, '{') != 0)
        return -1;
    if (accept(ps, '}'))
        goto done;
    do {
        const char *key, *s;
        size_t n;
        double d;
        if (parse_string(ps, &key) != 0 || expect(ps, ':') != 0)
            return -1;
        int r;
        if (strcmp(key, "complete") == 0) {
            r = parse_bool(ps, &complete);
        } else if (strcmp(key, "fingerprint") == 0) {
            r = parse_string(ps, &m->fingerprint);
        } else if (strcmp(key, "source") == 0) {
            r = parse_string(ps, &m->source);
        } else if (strcmp(key, "value_column") == 0) {
            r = parse_string(ps, &m->value_name);
        } else if (strcmp(key, "band") == 0 || strcmp(key, "resolution") == 0) {
            r = parse_number(ps, &d, &s, &n);
            if (r == 0 && (d != floor(d) || d < -1e9 || d > 1e9))
                return fail(ps, "%s is not an integer", key);
            *(key[0] == 'b' ? &m->band : &m->resolution) = (int)d;
        } else if (strcmp(key, "rows") == 0) {
            r = parse_count(ps, &m->total_rows);
        } else if (strcmp(key, "bands") == 0) {
            /* [1, 2, 3] -> "1,2,3" (the writer's form) */
            char *list = ps->store, *o = list;
            r = expect(ps, '[');
            if (r == 0 && !accept(ps, ']')) {
                do {
                    if ((r = parse_number(ps, &d, &s, &n)) != 0)
                        break;
                    if (o != list)
                        *o++ = ',';
                    memcpy(o, s, n);
                    o += n;
                } while (accept(ps, ','));
                if (r == 0)
                    r = expect(ps, ']');
            }
            *o++ = 0;
            ps->store = o;
            m->bands = list;
        } else if (strcmp(key, "value_columns") == 0) {
            /* kept as the array's text, the form the writer takes */
            skip_ws(ps);
            const char *b = ps->p;
            if (ps->p >= ps->end || *ps->p != '[')
                return fail(ps, "value_columns is not an array");
            char *save = ps->store;
            r = skip_value(ps, 1);
            ps->store = save;
            if (r == 0) {
                memcpy(save, b, (size_t)(ps->p - b));
                save[ps->p - b] = 0;
                ps->store = save + (ps->p - b) + 1;
                m->value_names_json = save;
            }
        } else if (strcmp(key, "partitions") == 0) {
            r = expect(ps, '[');
            if (r == 0 && !accept(ps, ']')) {
                do {
                    if ((r = parse_part(ps, m)) != 0)
                        break;
                } while (accept(ps, ','));
                if (r == 0)
                    r = expect(ps, ']');
            }
        } else {
            r = skip_value(ps, 1);
        }
        if (r != 0)
            return -1;
    } while (accept(ps, ','));
    if (expect(ps, '}') != 0)
        return -1;
done:
    skip_ws(ps);
    if (ps->p != ps->end)
        return fail(ps, "text after the manifest");
    m->incomplete = !complete;
    return 0;
}

enum r2h_status r2h_manifest_parse(const char *text, size_t len, struct r2h_manifest *m, char *err,
                                   size_t errlen)
{
    memset(m, 0, sizeof *m);
    /* Strings decode to at most their source's length; the bands list to at most the array's. */
    m->storage = r2h_malloc(len + 1);
    if (!m->storage) {
        r2h_fmt(err, errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    struct parser ps = {.start = text,
                        .p = text,
                        .end = text + len,
                        .store = m->storage,
                        .err = err,
                        .errlen = errlen};
    if (parse_manifest(&ps, m) != 0) {
        r2h_manifest_clear(m);
        return R2H_ERR_FORMAT;
    }
    return R2H_OK;
}

enum r2h_status r2h_manifest_read(const char *output, struct r2h_manifest *m, char *err,
                                  size_t errlen)
{
    char path[4200];
    r2h_fmt(path, sizeof path, "%s/" R2H_DATASET_MANIFEST, output);
    uint8_t *data = NULL;
    size_t len = 0;
    memset(m, 0, sizeof *m);
    enum r2h_status st = r2h_out_fetch(path, 16 << 20, &data, &len, err, errlen);
    if (st != R2H_OK)
        return st;
    char why[256];
    st = r2h_manifest_parse((const char *)data, len, m, why, sizeof why);
    if (st != R2H_OK)
        r2h_fmt(err, errlen, "%s: %s", path, why);
    r2h_free(data);
    return st;
}

void r2h_manifest_clear(struct r2h_manifest *m)
{
    r2h_free(m->storage);
    memset(m, 0, sizeof *m);
}
