/* source.c - reading a file at offsets: local files through pread, anything else through GDAL's
 * virtual file systems (a remote object is read range by range, never fetched whole). */
#define _GNU_SOURCE /* pread, struct stat64 behind VSIStatBufL */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>

#include "r2h_io.h"

struct r2h_source {
    int fd;      /* local file, else -1 */
    VSILFILE *f; /* GDAL virtual file, else NULL */
    uint64_t size;
    char *name; /* the GDAL name of a remote location */
};

enum r2h_status r2h_io_failure(const struct r2h_io_errors *e, const char *path, const char *what,
                               char *err, size_t errlen)
{
    r2h_fmt(err, errlen, "%s: %s: %s", path, what, e->text[0] ? e->text : "failed");
    switch (r2h_io_classify(e->text, NULL)) {
    case R2H_IO_TRANSIENT: return R2H_ERR_TRANSIENT;
    case R2H_IO_DENIED: return R2H_ERR_IO;
    default: return R2H_ERR_INPUT;
    }
}

void r2h_source_close(struct r2h_source *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->f) {
        CPLPushErrorHandler(CPLQuietErrorHandler);
        VSIFCloseL(s->f);
        CPLPopErrorHandler();
    }
    r2h_free(s->name);
    r2h_free(s);
}

static enum r2h_status open_local(struct r2h_source *s, const char *loc, char *err, size_t errlen)
{
    struct stat sb;
    s->fd = open(loc, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &sb) != 0) {
        r2h_fmt(err, errlen, "%s: cannot open: %s", loc, strerror(errno));
        return R2H_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        r2h_fmt(err, errlen, "%s: not a regular file", loc);
        return R2H_ERR_IO;
    }
    s->size = (uint64_t)sb.st_size;
    return R2H_OK;
}

static enum r2h_status open_vsi(struct r2h_source *s, const char *loc, char *err, size_t errlen)
{
    char tmp[4200];
    s->name = r2h_strdup(r2h_io_gdal_name(loc, tmp, sizeof tmp));
    if (!s->name) {
        r2h_fmt(err, errlen, "%s: out of memory", loc);
        return R2H_ERR_NOMEM;
    }
    struct r2h_io_errors e;
    r2h_io_errors_begin(&e, s->name);
    s->f = VSIFOpenExL(s->name, "rb", TRUE);
    int ok = s->f && VSIFSeekL(s->f, 0, SEEK_END) == 0;
    if (ok)
        s->size = (uint64_t)VSIFTellL(s->f);
    r2h_io_errors_end(&e);
    return ok ? R2H_OK : r2h_io_failure(&e, loc, "cannot read", err, errlen);
}

enum r2h_status r2h_source_open(const char *loc, struct r2h_source **out, char *err, size_t errlen)
{
    struct r2h_source *s = r2h_calloc(1, sizeof *s);
    if (!s) {
        r2h_fmt(err, errlen, "%s: out of memory", loc);
        return R2H_ERR_NOMEM;
    }
    s->fd = -1;
    enum r2h_status st =
        r2h_io_is_remote(loc) ? open_vsi(s, loc, err, errlen) : open_local(s, loc, err, errlen);
    if (st != R2H_OK) {
        r2h_source_close(s);
        return st;
    }
    *out = s;
    return R2H_OK;
}

uint64_t r2h_source_size(const struct r2h_source *s)
{
    return s ? s->size : 0;
}

static enum r2h_status pread_vsi(struct r2h_source *s, void *dst, size_t n, uint64_t off,
                                 char *detail, size_t detail_len)
{
    struct r2h_io_errors e;
    r2h_io_errors_begin(&e, s->name);
    size_t got = VSIFSeekL(s->f, (vsi_l_offset)off, SEEK_SET) == 0 ? VSIFReadL(dst, 1, n, s->f) : 0;
    r2h_io_errors_end(&e);
    if (got == n)
        return R2H_OK;
    if (!e.text[0]) {
        r2h_fmt(detail, detail_len, "unexpected end of file at %llu",
                (unsigned long long)(off + got));
        return R2H_ERR_FORMAT;
    }
    r2h_fmt(detail, detail_len, "read failed: %s", e.text);
    return r2h_io_failure(&e, s->name, "read failed", NULL, 0);
}

enum r2h_status r2h_source_pread(struct r2h_source *s, void *dst, size_t n, uint64_t off,
                                 char *detail, size_t detail_len)
{
    if (s->f)
        return pread_vsi(s, dst, n, off, detail, detail_len);
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(s->fd, (char *)dst + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r2h_fmt(detail, detail_len, "read failed: %s", strerror(errno));
            return R2H_ERR_IO;
        }
        if (k == 0) {
            r2h_fmt(detail, detail_len, "unexpected end of file at %llu",
                    (unsigned long long)(off + got));
            return R2H_ERR_FORMAT;
        }
        got += (size_t)k;
    }
    return R2H_OK;
}
