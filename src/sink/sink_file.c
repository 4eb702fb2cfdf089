/* sink_file.c - crash-safe local file sink: hidden temp file, fsync, rename, fsync directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "r2h_sink.h"

#define FILE_SINK_BUF (1u << 20)

static atomic_uint temp_counter;

struct file_sink {
    int fd;
    int slot;     /* slot in the cleanup registry (common), -1 if not registered */
    int created;  /* the temporary file exists and is ours */
    char *path;   /* final path */
    char *tmp;    /* temporary path (registered) */
    char *dir;    /* directory to fsync after rename */
    uint8_t *buf; /* write-behind buffer of FILE_SINK_BUF bytes */
    size_t len;
};

static void set_errno_msg(struct r2h_sink *s, const char *what, const char *path, int err)
{
    r2h_fmt(s->errmsg, sizeof s->errmsg, "%s %s: %s", what, path, strerror(err));
}

static enum r2h_status write_all(struct r2h_sink *s, const uint8_t *p, size_t n)
{
    struct file_sink *f = s->impl;
    while (n > 0) {
        ssize_t k = write(f->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            set_errno_msg(s, "cannot write", f->path, errno);
            return R2H_ERR_IO;
        }
        p += k;
        n -= (size_t)k;
    }
    return R2H_OK;
}

static enum r2h_status file_write(struct r2h_sink *s, const void *p, size_t n)
{
    struct file_sink *f = s->impl;
    if (f->len + n > FILE_SINK_BUF) {
        enum r2h_status st = write_all(s, f->buf, f->len);
        f->len = 0;
        if (st != R2H_OK)
            return st;
        if (n >= FILE_SINK_BUF)
            return write_all(s, p, n);
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    return R2H_OK;
}

static void file_release(struct r2h_sink *s, int unlink_tmp)
{
    struct file_sink *f = s->impl;
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    if (unlink_tmp && f->created)
        unlink(f->tmp);
    r2h_cleanup_unregister(f->slot);
    r2h_free(f->buf);
    r2h_free(f->tmp);
    r2h_free(f->path);
    r2h_free(f->dir);
    r2h_free(f);
    s->impl = NULL;
}

static void file_abort(struct r2h_sink *s)
{
    file_release(s, 1);
}

static enum r2h_status fsync_dir(struct r2h_sink *s, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        set_errno_msg(s, "cannot open directory", dir, errno);
        return R2H_ERR_IO;
    }
    /* Some file systems cannot fsync a directory (EINVAL): nothing more we can do there. */
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
        set_errno_msg(s, "cannot fsync directory", dir, errno);
        close(fd);
        return R2H_ERR_IO;
    }
    close(fd);
    return R2H_OK;
}

static enum r2h_status file_commit(struct r2h_sink *s)
{
    struct file_sink *f = s->impl;
    enum r2h_status st = write_all(s, f->buf, f->len);
    f->len = 0;
    if (st != R2H_OK)
        goto out_abort;
    if (fsync(f->fd) != 0) {
        set_errno_msg(s, "cannot fsync", f->path, errno);
        st = R2H_ERR_IO;
        goto out_abort;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) {
        set_errno_msg(s, "cannot close", f->path, errno);
        st = R2H_ERR_IO;
        goto out_abort;
    }
    if (rename(f->tmp, f->path) != 0) {
        set_errno_msg(s, "cannot rename temporary file onto", f->path, errno);
        st = R2H_ERR_IO;
        goto out_abort;
    }
    f->created = 0; /* renamed: no longer ours to unlink */
    st = fsync_dir(s, f->dir);
    file_release(s, 0);
    return st;
out_abort:
    file_release(s, 1);
    return st;
}

static const struct r2h_sink_ops file_ops = {file_write, file_commit, file_abort};

/* Split path into a directory (for the temp file and the fsync) and a base name. */
static enum r2h_status split_path(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = r2h_strdup(".");
        *base = path;
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        *dir = r2h_malloc(n + 1);
        if (*dir) {
            memcpy(*dir, path, n);
            (*dir)[n] = '\0';
        }
        *base = slash + 1;
    }
    return *dir ? R2H_OK : R2H_ERR_NOMEM;
}

static enum r2h_status make_temp(struct r2h_sink *s, struct file_sink *f, const char *base)
{
    size_t n = strlen(f->dir) + strlen(base) + 64;
    f->tmp = r2h_malloc(n);
    if (!f->tmp)
        return R2H_ERR_NOMEM;
    unsigned k = atomic_fetch_add(&temp_counter, 1);
    r2h_fmt(f->tmp, n, "%s/.%s.tmp-%ld-%u", f->dir, base, (long)getpid(), k);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        set_errno_msg(s, "cannot create temporary file for", f->path, errno);
        return R2H_ERR_IO;
    }
    f->created = 1;
    f->slot = r2h_cleanup_register(f->tmp, 0);
    if (f->slot < 0) {
        r2h_fmt(s->errmsg, sizeof s->errmsg, "%s: too many temporary files open", f->path);
        return R2H_ERR_INVALID;
    }
    return R2H_OK;
}

enum r2h_status r2h_sink_file_open(const char *path, struct r2h_sink **out, char *errbuf,
                                   size_t errbuf_len)
{
    const char *base;
    enum r2h_status st = R2H_ERR_NOMEM;
    if (!path || !out || !*path || path[strlen(path) - 1] == '/') {
        r2h_fmt(errbuf, errbuf_len, "invalid output path '%s'", path ? path : "(null)");
        return R2H_ERR_INVALID;
    }
    struct r2h_sink *s = r2h_calloc(1, sizeof *s);
    if (!s)
        goto out_nomem;
    struct file_sink *f = r2h_calloc(1, sizeof *f);
    if (!f)
        goto out_free_sink;
    f->fd = -1;
    f->slot = -1;
    s->impl = f;
    s->ops = &file_ops;
    f->path = r2h_strdup(path);
    f->buf = r2h_malloc(FILE_SINK_BUF);
    if (!f->path || !f->buf || split_path(path, &f->dir, &base) != R2H_OK)
        goto out_release;
    st = make_temp(s, f, base);
    if (st != R2H_OK)
        goto out_release;
    *out = s;
    return R2H_OK;
out_release:
    if (st == R2H_ERR_NOMEM)
        r2h_fmt(s->errmsg, sizeof s->errmsg, "%s: out of memory", path);
    r2h_fmt(errbuf, errbuf_len, "%s", s->errmsg);
    file_release(s, 1);
    r2h_free(s);
    return st;
out_free_sink:
    r2h_free(s);
out_nomem:
    r2h_fmt(errbuf, errbuf_len, "%s: out of memory", path);
    return R2H_ERR_NOMEM;
}
