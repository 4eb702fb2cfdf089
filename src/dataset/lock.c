/* lock.c - one writer per local OUTPUT (per partition for work units): flock on lock files. */
#define _GNU_SOURCE /* gethostname, dprintf */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "r2h_dataset.h"

/* A whole-raster run holds OUTPUT/.raster2h3.lock exclusively; a work unit holds it shared and
 * OUTPUT/.raster2h3.lock-<base cell> exclusively. So work units of different base cells run
 * side by side, and a whole run conflicts with any other run. The lock is the flock, not the
 * file: the kernel releases it when the process ends, however it ends. */
struct r2h_lock {
    int fd_main, fd_unit; /* -1 when not held */
    int excl_main;        /* 1: whole run (may remove the file when done) */
    int slot_main, slot_unit;
    char main_path[4200], unit_path[4200];
};

/* flock path in mode without waiting. The file is reopened when it was replaced or removed
 * between open and flock (a releasing holder removes it), so the lock held is on the file
 * that the path names. 1: held, 0: someone else holds it, -1: error (errno). */
static int take(const char *path, int mode, int *fd_out)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            return -1;
        if (flock(fd, mode | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            errno = e;
            return e == EWOULDBLOCK ? 0 : -1;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            *fd_out = fd;
            return 1;
        }
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}

/* Who holds it, as the holder wrote it into the file ("pid 123 on host, since ..."). */
static void read_holder(const char *path, char *dst, size_t len)
{
    r2h_fmt(dst, len, "holder unknown");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    r2h_fmt(dst, len, "%s", buf);
}

static void write_holder(int fd, int work_unit)
{
    char host[128] = "?", when[32] = "?";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char unit[32] = "the whole raster";
    if (work_unit >= 0)
        r2h_fmt(unit, sizeof unit, "work unit %d", work_unit);
    if (ftruncate(fd, 0) == 0)
        (void)!dprintf(fd, "pid %ld on %s, %s, since %s\n", (long)getpid(), host, unit, when);
}

/* The holder of a work-unit lock under output, for the message of a whole run that found the
 * main lock shared (0 if none is held any more). */
static int find_unit_holder(const char *output, char *path, size_t plen, char *holder, size_t hlen)
{
    DIR *d = opendir(output);
    if (!d)
        return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (strncmp(e->d_name, ".raster2h3.lock-", 16) != 0)
            continue;
        r2h_fmt(path, plen, "%s/%s", output, e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
            found = 1;
            read_holder(path, holder, hlen);
        }
        close(fd);
    }
    closedir(d);
    return found;
}

static enum r2h_status busy(const char *output, const char *path, const char *holder, char *err,
                            size_t errlen)
{
    r2h_fmt(err, errlen,
            "%s: another raster2h3 run is writing this output (lock %s held by %s); retry when "
            "it has finished",
            output, path, holder);
    return R2H_ERR_TRANSIENT;
}

/* A lock that could not be taken. A filesystem without flock (some FUSE and network mounts)
 * is not an error: the run goes on unlocked, R2H_OK with the reason in err for a warning. */
static enum r2h_status lock_error(const char *path, char *err, size_t errlen)
{
    const int unsupported = errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS;
    r2h_fmt(err, errlen, "%s: cannot lock%s: %s", path,
            unsupported ? " (running without a lock)" : "", strerror(errno));
    return unsupported ? R2H_OK : R2H_ERR_IO;
}

enum r2h_status r2h_lock_acquire(const char *output, int work_unit, struct r2h_lock **out,
                                 char *err, size_t errlen)
{
    struct r2h_lock *l = r2h_calloc(1, sizeof *l);
    if (!l) {
        r2h_fmt(err, errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    l->fd_main = l->fd_unit = -1;
    l->slot_main = l->slot_unit = -1;
    l->excl_main = work_unit < 0;
    r2h_fmt(l->main_path, sizeof l->main_path, "%s/.raster2h3.lock", output);
    char holder[256], path[4200];
    enum r2h_status st;
    int got = take(l->main_path, l->excl_main ? LOCK_EX : LOCK_SH, &l->fd_main);
    if (got < 0) {
        st = lock_error(l->main_path, err, errlen);
        goto out_fail;
    }
    if (got == 0) {
        if (!l->excl_main || !find_unit_holder(output, path, sizeof path, holder, sizeof holder)) {
            r2h_fmt(path, sizeof path, "%s", l->main_path);
            read_holder(l->main_path, holder, sizeof holder);
        }
        st = busy(output, path, holder, err, errlen);
        goto out_fail;
    }
    if (l->excl_main) {
        write_holder(l->fd_main, -1);
        l->slot_main = r2h_cleanup_register(l->main_path, 0);
        *out = l;
        return R2H_OK;
    }
    r2h_fmt(l->unit_path, sizeof l->unit_path, "%s/.raster2h3.lock-%d", output, work_unit);
    got = take(l->unit_path, LOCK_EX, &l->fd_unit);
    if (got < 0) {
        st = lock_error(l->unit_path, err, errlen);
        goto out_fail;
    }
    if (got == 0) {
        read_holder(l->unit_path, holder, sizeof holder);
        st = busy(output, l->unit_path, holder, err, errlen);
        goto out_fail;
    }
    write_holder(l->fd_unit, work_unit);
    l->slot_unit = r2h_cleanup_register(l->unit_path, 0);
    *out = l;
    return R2H_OK;
out_fail:
    r2h_lock_release(l);
    *out = NULL;
    return st;
}

void r2h_lock_release(struct r2h_lock *l)
{
    if (!l)
        return;
    /* Only an exclusive holder removes its file (a shared holder would pull the file from
     * under the other holders); the remover's successor reopens it (take). */
    if (l->fd_unit >= 0) {
        r2h_cleanup_unregister(l->slot_unit);
        unlink(l->unit_path);
        close(l->fd_unit);
    }
    if (l->fd_main >= 0) {
        r2h_cleanup_unregister(l->slot_main);
        if (l->excl_main)
            unlink(l->main_path);
        close(l->fd_main);
    }
    r2h_free(l);
}
