/* sink_vsi.c - remote sink through GDAL VSI (S3 and friends): hidden temporary key, rename on
 * commit. */
#define _GNU_SOURCE /* gethostname, clock_gettime */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>
#include <cpl_vsi_error.h>

#include "r2h_io.h"
#include "r2h_sink.h"

/* Collects every GDAL error message raised while a VSI call runs (GDAL reports the HTTP status
 * of a failed request in an earlier message than the final "failed"). Per thread. */
struct collector {
    char text[768];
    char s3code[64];   /* <Code> of an S3 error body, seen in GDAL's debug output */
    char s3msg[160];   /* its <Message> */
    char *saved_debug; /* CPL_DEBUG before collect_begin */
};

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

static void CPL_STDCALL collect(CPLErr cls, CPLErrorNum no, const char *msg);

static void collect_begin(struct collector *c)
{
    const char *d = CPLGetThreadLocalConfigOption("CPL_DEBUG", NULL);
    c->saved_debug = d ? CPLStrdup(d) : NULL;
    CPLSetThreadLocalConfigOption("CPL_DEBUG", "ON");
    VSIErrorReset();
    CPLPushErrorHandlerEx(collect, c);
}

/* Stop collecting; returns the collected text with the S3 error (code, HTTP status) first. */
static const char *collect_end(struct collector *c, const char *fallback)
{
    CPLPopErrorHandler();
    CPLSetThreadLocalConfigOption("CPL_DEBUG", c->saved_debug);
    CPLFree(c->saved_debug);
    c->saved_debug = NULL;
    if (c->s3code[0]) {
        char t[sizeof c->text];
        int st = s3_status(c->s3code);
        r2h_fmt(t, sizeof t, "HTTP %d %s: %s; %s", st, c->s3code, c->s3msg, c->text);
        if (!st)
            r2h_fmt(t, sizeof t, "S3 error %s: %s; %s", c->s3code, c->s3msg, c->text);
        memcpy(c->text, t, sizeof t);
    }
    return c->text[0] ? c->text : fallback;
}

/* Append the VSI error (GDAL maps S3 XML errors such as AccessDenied to it) to c's text. */
static void add_vsi_error(struct collector *c)
{
    const char *m = VSIGetLastErrorMsg();
    size_t n = strlen(c->text);
    if (m && *m && !strstr(c->text, m) && n + 3 < sizeof c->text)
        r2h_fmt(c->text + n, sizeof c->text - n, "%s%s", n ? "; " : "", m);
}

static void CPL_STDCALL collect(CPLErr cls, CPLErrorNum no, const char *msg)
{
    (void)no;
    struct collector *c = CPLGetErrorHandlerUserData();
    if (!c || !msg)
        return;
    if (cls == CE_Debug) {
        /* Only the error code and message of S3 error bodies are kept: debug output may hold
         * request details that have no place in logs. */
        if (strstr(msg, "<Error>") && strstr(msg, "<Code>")) {
            xml_field(msg, "Code", c->s3code, sizeof c->s3code);
            xml_field(msg, "Message", c->s3msg, sizeof c->s3msg);
        }
        return;
    }
    if (cls < CE_Warning)
        return;
    size_t n = strlen(c->text);
    if (n + 3 < sizeof c->text)
        r2h_fmt(c->text + n, sizeof c->text - n, "%s%s", n ? "; " : "", msg);
}

struct vsi_sink {
    VSILFILE *f;
    char *path; /* final key */
    char *tmp;  /* hidden temporary key */
};

static atomic_uint vsi_counter;
static atomic_uint vsi_token;

/* A per-process token for temporary keys: pids repeat across hosts (every container's main
 * process may be pid 1), and two runs writing one partition must never share a temporary key
 * (each deletes only its own). Host name, clock and pid, hashed once. */
static unsigned process_token(void)
{
    unsigned t = atomic_load(&vsi_token);
    if (t)
        return t;
    struct timespec ts = {0};
    clock_gettime(CLOCK_REALTIME, &ts);
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    uint32_t h = 2166136261u;
    for (const char *p = host; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ (uint32_t)ts.tv_nsec) * 16777619u;
    h = (h ^ (uint32_t)ts.tv_sec) * 16777619u;
    t = ((h ^ (uint32_t)getpid()) * 16777619u) | 1u;
    unsigned expected = 0;
    atomic_compare_exchange_strong(&vsi_token, &expected, t);
    return atomic_load(&vsi_token);
}

static enum r2h_status classify(const char *what, const char *path, const char *m, char *dst,
                                size_t len);

enum r2h_status r2h_sink_vsi_error(const char *what, const char *path, char *dst, size_t len)
{
    const char *m = VSIGetLastErrorMsg();
    if (!m || !*m)
        m = CPLGetLastErrorMsg();
    return classify(what, path, m, dst, len);
}

static enum r2h_status classify(const char *what, const char *path, const char *m, char *dst,
                                size_t len)
{
    if (!m || !*m)
        m = "unknown error";
    char one[400];
    r2h_fmt(one, sizeof one, "%s", m);
    r2h_io_one_line(one);
    r2h_fmt(dst, len, "%s %s: %s", what, path, one);
    /* One classifier for inputs and outputs (common module). */
    return r2h_io_classify(m, NULL) == R2H_IO_TRANSIENT ? R2H_ERR_TRANSIENT : R2H_ERR_IO;
}

static enum r2h_status vsi_write(struct r2h_sink *s, const void *p, size_t n)
{
    struct vsi_sink *v = s->impl;
    struct collector c = {0};
    collect_begin(&c);
    size_t k = VSIFWriteL(p, 1, n, v->f);
    if (k != n)
        add_vsi_error(&c);
    const char *m = collect_end(&c, "write failed");
    if (k != n)
        return classify("cannot write", v->path, m, s->errmsg, sizeof s->errmsg);
    return R2H_OK;
}

static void vsi_release(struct vsi_sink *v)
{
    r2h_free(v->path);
    r2h_free(v->tmp);
    r2h_free(v);
}

static enum r2h_status vsi_commit(struct r2h_sink *s)
{
    struct vsi_sink *v = s->impl;
    enum r2h_status st = R2H_OK;
    struct collector c = {0};
    collect_begin(&c);
    int rc = VSIFCloseL(v->f), moved = -1;
    v->f = NULL;
    if (rc == 0)
        moved = VSIRename(v->tmp, v->path);
    if (rc != 0 || moved != 0)
        add_vsi_error(&c);
    const char *m = collect_end(&c, rc != 0 ? "upload failed" : "rename failed");
    if (rc != 0)
        st = classify("cannot upload", v->path, m, s->errmsg, sizeof s->errmsg);
    else if (moved != 0)
        st = classify("cannot move into place", v->path, m, s->errmsg, sizeof s->errmsg);
    if (st != R2H_OK) {
        CPLPushErrorHandler(CPLQuietErrorHandler);
        VSIUnlink(v->tmp);
        CPLPopErrorHandler();
    }
    vsi_release(v);
    s->impl = NULL;
    return st;
}

static void vsi_abort(struct r2h_sink *s)
{
    struct vsi_sink *v = s->impl;
    if (!v)
        return;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    if (v->f)
        VSIFCloseL(v->f);
    VSIUnlink(v->tmp);
    CPLPopErrorHandler();
    vsi_release(v);
    s->impl = NULL;
}

static const struct r2h_sink_ops vsi_ops = {vsi_write, vsi_commit, vsi_abort};

enum r2h_status r2h_sink_vsi_open(const char *path, struct r2h_sink **out, char *errbuf,
                                  size_t errbuf_len)
{
    struct r2h_sink *s = r2h_calloc(1, sizeof *s);
    struct vsi_sink *v = r2h_calloc(1, sizeof *v);
    const char *slash = strrchr(path, '/');
    size_t len = strlen(path) + 64;
    if (!s || !v || !slash || !(v->path = r2h_strdup(path)) || !(v->tmp = r2h_malloc(len))) {
        r2h_fmt(errbuf, errbuf_len, "%s: %s", path, slash ? "out of memory" : "not a file path");
        goto fail;
    }
    r2h_fmt(v->tmp, len, "%.*s.%s.tmp-%ld-%08x-%u", (int)(slash + 1 - path), path, slash + 1,
            (long)getpid(), process_token(), atomic_fetch_add(&vsi_counter, 1));
    struct collector c = {0};
    collect_begin(&c);
    v->f = VSIFOpenExL(v->tmp, "wb", TRUE);
    if (!v->f)
        add_vsi_error(&c);
    const char *m = collect_end(&c, "open failed");
    if (!v->f) {
        enum r2h_status st = classify("cannot create", v->path, m, errbuf, errbuf_len);
        vsi_release(v);
        r2h_free(s);
        return st;
    }
    s->ops = &vsi_ops;
    s->impl = v;
    *out = s;
    return R2H_OK;
fail:
    if (v)
        vsi_release(v);
    r2h_free(s);
    return R2H_ERR_NOMEM;
}
