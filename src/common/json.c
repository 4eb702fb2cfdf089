/* json.c - the one JSON writer: formatted appends to a byte buffer, strings with JSON escapes,
 * numbers that read back exactly. Used by the manifest, info --json and the band lists. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "r2h_common.h"

enum r2h_status r2h_buf_vprintf(struct r2h_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    enum r2h_status st = n < 0 ? R2H_ERR_INVALID : r2h_buf_reserve(b, (size_t)n + 1);
    if (st == R2H_OK) {
        if ((size_t)n < sizeof small)
            memcpy(b->data + b->len, small, (size_t)n + 1);
        else
            vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return st;
}

enum r2h_status r2h_buf_printf(struct r2h_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum r2h_status st = r2h_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

size_t r2h_json_escape_byte(unsigned char c, char out[8])
{
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        out[2] = 0;
        return 2;
    }
    if (c < 0x20) {
        r2h_fmt(out, 8, "\\u%04x", c);
        return 6;
    }
    out[0] = (char)c;
    out[1] = 0;
    return 1;
}

enum r2h_status r2h_json_string(struct r2h_buf *b, const char *s)
{
    enum r2h_status st = r2h_buf_push_byte(b, '"');
    for (; st == R2H_OK && s && *s; s++) {
        char e[8];
        size_t n = r2h_json_escape_byte((unsigned char)*s, e);
        st = r2h_buf_append(b, e, n);
    }
    if (st == R2H_OK)
        st = r2h_buf_printf(b, "\"");
    return st;
}

enum r2h_status r2h_json_number(struct r2h_buf *b, double v)
{
    return isfinite(v) ? r2h_buf_printf(b, "%.17g", v) : r2h_buf_printf(b, "null");
}
