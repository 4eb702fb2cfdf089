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

/* A failed call's message as "<what> <path>: <detail>" (one line) in dst; R2H_ERR_TRANSIENT when
 * the I/O layer's classifier says so, else R2H_ERR_IO. */
static enum r2h_status classify(const char *what, const char *path, const char *m, char *dst,
                                size_t len)
{
    if (!m || !*m)
        m = "unknown error";
    char one[400];
    r2h_fmt(one, sizeof one, "%s", m);
    r2h_io_one_line(one);
    r2h_fmt(dst, len, "%s %s: %s", what, path, one);
    /* One classifier for inputs and outputs (io module). */
    return r2h_io_classify(m, NULL) == R2H_IO_TRANSIENT ? R2H_ERR_TRANSIENT : R2H_ERR_IO;
}

static enum r2h_status vsi_write(struct r2h_sink *s, const void *p, size_t n)
{
    struct vsi_sink *v = s->impl;
    struct r2h_io_errors c;
    r2h_io_errors_begin_write(&c, v->tmp);
    size_t k = VSIFWriteL(p, 1, n, v->f);
    if (k != n)
        r2h_io_errors_add_vsi(&c);
    r2h_io_errors_end(&c);
    const char *m = r2h_io_errors_message(&c, "write failed");
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
    struct r2h_io_errors c;
    r2h_io_errors_begin_write(&c, v->tmp);
    int rc = VSIFCloseL(v->f), moved = -1;
    v->f = NULL;
    if (rc == 0)
        moved = VSIRename(v->tmp, v->path);
    if (rc != 0 || moved != 0)
        r2h_io_errors_add_vsi(&c);
    r2h_io_errors_end(&c);
    const char *m = r2h_io_errors_message(&c, rc != 0 ? "upload failed" : "rename failed");
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
    struct r2h_io_errors c;
    r2h_io_errors_begin_write(&c, v->tmp);
    v->f = VSIFOpenExL(v->tmp, "wb", TRUE);
    if (!v->f)
        r2h_io_errors_add_vsi(&c);
    r2h_io_errors_end(&c);
    const char *m = r2h_io_errors_message(&c, "open failed");
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
