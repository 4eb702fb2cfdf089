/* io.c - locations, the failure classifier, the one GDAL error collector (reads, listings and
 * writes) and the GDAL message formatter. */
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>
#include <cpl_vsi_error.h>

#include "r2h_io.h"

int r2h_io_is_remote(const char *loc)
{
    return strncmp(loc, "s3://", 5) == 0 || strncmp(loc, "/vsi", 4) == 0;
}

int r2h_io_is_network(const char *name)
{
    return strncmp(name, "/vsi", 4) == 0 && strncmp(name, "/vsimem/", 8) != 0 &&
           strncmp(name, "/vsizip/", 8) != 0 && strncmp(name, "/vsigzip/", 9) != 0 &&
           strncmp(name, "/vsitar/", 8) != 0 && strncmp(name, "/vsisubfile/", 12) != 0;
}

const char *r2h_io_gdal_name(const char *loc, char *tmp, size_t len)
{
    if (strncmp(loc, "s3://", 5) == 0) {
        r2h_fmt(tmp, len, "/vsis3/%s", loc + 5);
        return tmp;
    }
    return loc;
}

void r2h_io_root(const char *loc, char *dst, size_t len)
{
    if (strncmp(loc, "s3://", 5) == 0)
        r2h_fmt(dst, len, "/vsis3/%s", loc + 5);
    else
        r2h_fmt(dst, len, "%s", loc);
    /* No double slashes in keys: collapse runs of '/' after the scheme, drop a trailing one. */
    char *w = dst;
    for (const char *r = dst; *r; r++)
        if (!(*r == '/' && w > dst && w[-1] == '/'))
            *w++ = *r;
    *w = 0;
    while (w - dst > 1 && w[-1] == '/')
        *--w = 0;
}

/* The number after "code" in one of GDAL's HTTP messages: "HTTP error code: 503",
 * "HTTP response code: 403", "response_code=404", "HTTP response code on URL: 0" (0: no
 * response at all). -1 if h does not start such a number. */
static int code_after(const char *h)
{
    const char *d = h + 4;
    if (strncmp(d, " on ", 4) == 0) { /* the URL holds ':' but never ": " */
        const char *c = strstr(d, ": ");
        d = c ? c : d;
    }
    while (*d == ':' || *d == ' ' || *d == '=')
        d++;
    if (*d < '0' || *d > '9')
        return -1;
    int code = atoi(d);
    return code == 0 || (code >= 100 && code < 600) ? code : -1;
}

enum r2h_io_kind r2h_io_classify(const char *msg, int *http_status)
{
    int code = -1;
    if (!msg)
        msg = "";
    for (const char *h = msg; (h = strstr(h, "code")); h += 4) {
        int c = code_after(h);
        if (c >= 0)
            code = c; /* the last one: earlier ones may be retried attempts */
    }
    if (http_status)
        *http_status = code;
    if (code == 0 || code == 408 || code == 429 || code >= 500 || strstr(msg, "imeout") ||
        strstr(msg, "imed out") || strstr(msg, "onnect") || strstr(msg, "SlowDown") ||
        strstr(msg, "Throttl") || strstr(msg, "Empty reply") || strstr(msg, "Recv failure") ||
        strstr(msg, "reset by peer") || strstr(msg, "transfer closed"))
        return R2H_IO_TRANSIENT;
    if (code == 401 || code == 403 || strstr(msg, "AccessDenied") ||
        strstr(msg, "InvalidAccessKeyId") || strstr(msg, "SignatureDoesNotMatch"))
        return R2H_IO_DENIED;
    if (code == 404 || strstr(msg, "NoSuchKey") || strstr(msg, "NoSuchBucket"))
        return R2H_IO_NOT_FOUND;
    return R2H_IO_OTHER;
}

void r2h_io_one_line(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

void r2h_io_gdal_message(char *dst, size_t len, const char *what, const char *name)
{
    const char *m = CPLGetLastErrorMsg();
    r2h_fmt(dst, len, "%s: %s", name, (m && *m) ? m : what);
    r2h_io_one_line(dst);
}

/* --- The collector of GDAL errors --- */

/* Copy the text of <tag>...</tag> in xml to dst (empty if absent). */
static void xml_field(const char *xml, const char *tag, char *dst, size_t len)
{
    char open[32], close[32];
    r2h_fmt(open, sizeof open, "<%s>", tag);
    r2h_fmt(close, sizeof close, "</%s>", tag);
    const char *a = strstr(xml, open), *b = a ? strstr(a, close) : NULL;
    dst[0] = 0;
    if (a && b)
        r2h_fmt(dst, len, "%.*s", (int)(b - a - strlen(open)), a + strlen(open));
}

/* HTTP status of well-known S3 error codes (GDAL does not report the status itself). */
static int s3_status(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {
        {"AccessDenied", 403},       {"InvalidAccessKeyId", 403}, {"SignatureDoesNotMatch", 403},
        {"AllAccessDisabled", 403},  {"NoSuchBucket", 404},       {"NoSuchKey", 404},
        {"InvalidBucketName", 400},  {"EntityTooLarge", 400},     {"SlowDown", 503},
        {"ServiceUnavailable", 503}, {"InternalError", 500},      {"RequestTimeout", 400},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].status;
    return 0;
}

/* A debug line of a failed network read ("DownloadRegion(url): response_code=0, msg=Empty reply
 * from server": a dropped connection is reported on the debug channel only). */
static int failed_transfer(const char *msg)
{
    const char *rc = strstr(msg, "response_code=");
    return rc && rc[14] != '2' && strstr(msg, "msg=");
}

static void CPL_STDCALL gather(CPLErr cls, CPLErrorNum no, const char *msg)
{
    (void)no;
    struct r2h_io_errors *e = CPLGetErrorHandlerUserData();
    if (!e || !msg)
        return;
    if (cls == CE_Debug) {
        /* Writes keep only the code and message of an S3 error body: debug output may hold
         * request details that have no place in logs. */
        if (e->writes && strstr(msg, "<Error>") && strstr(msg, "<Code>")) {
            xml_field(msg, "Code", e->s3code, sizeof e->s3code);
            xml_field(msg, "Message", e->s3msg, sizeof e->s3msg);
        }
        if (e->writes || !failed_transfer(msg))
            return;
    } else if (cls < CE_Warning) {
        return;
    }
    /* Reads keep warnings only when they carry an HTTP status or a transfer error: GDAL reports
     * the status of a failed request as a warning before the failure (or instead of one). */
    if (!e->writes && cls == CE_Warning && !strstr(msg, "HTTP") && !strstr(msg, "curl"))
        return;
    if (cls >= CE_Failure)
        e->failed = 1;
    size_t n = strlen(e->text);
    if ((!e->writes && strstr(e->text, msg)) || n + 8 >= sizeof e->text)
        return;
    r2h_fmt(e->text + n, sizeof e->text - n, "%s%s", n ? "; " : "", msg);
    r2h_io_one_line(e->text + n);
}

static void begin(struct r2h_io_errors *e, const char *name, int writes)
{
    e->text[0] = e->s3code[0] = e->s3msg[0] = 0;
    e->failed = 0;
    e->saved_debug = NULL;
    e->writes = writes;
    e->debug = name && r2h_io_is_network(name);
    if (e->debug) {
        const char *d = CPLGetThreadLocalConfigOption("CPL_DEBUG", NULL);
        e->saved_debug = d ? CPLStrdup(d) : NULL;
        CPLSetThreadLocalConfigOption("CPL_DEBUG", "ON");
    }
    CPLErrorReset();
    VSIErrorReset();
    CPLPushErrorHandlerEx(gather, e);
}

void r2h_io_errors_begin(struct r2h_io_errors *e, const char *name)
{
    begin(e, name, 0);
}

void r2h_io_errors_begin_write(struct r2h_io_errors *e, const char *name)
{
    begin(e, name, 1);
}

void r2h_io_errors_end(struct r2h_io_errors *e)
{
    CPLPopErrorHandler();
    if (e->debug) {
        CPLSetThreadLocalConfigOption("CPL_DEBUG", e->saved_debug);
        CPLFree(e->saved_debug);
        e->saved_debug = NULL;
    }
}

void r2h_io_errors_add_vsi(struct r2h_io_errors *e)
{
    const char *m = VSIGetLastErrorMsg();
    size_t n = strlen(e->text);
    if (m && *m && !strstr(e->text, m) && n + 3 < sizeof e->text) {
        r2h_fmt(e->text + n, sizeof e->text - n, "%s%s", n ? "; " : "", m);
        r2h_io_one_line(e->text + n);
    }
}

const char *r2h_io_errors_message(struct r2h_io_errors *e, const char *fallback)
{
    if (e->s3code[0]) {
        char t[sizeof e->text];
        int st = s3_status(e->s3code);
        if (st)
            r2h_fmt(t, sizeof t, "HTTP %d %s: %s; %s", st, e->s3code, e->s3msg, e->text);
        else
            r2h_fmt(t, sizeof t, "S3 error %s: %s; %s", e->s3code, e->s3msg, e->text);
        memcpy(e->text, t, sizeof t);
        e->s3code[0] = 0; /* the text holds it now */
    }
    return e->text[0] ? e->text : fallback;
}
