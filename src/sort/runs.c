/* runs.c - sorted runs of rows (spilled to temporary files or held in memory) and k-way merges. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "r2h_index.h"
#include "r2h_sort.h"

struct run {
    char *path; /* NULL for an in-memory run */
    int slot;   /* cleanup registry slot of path */
    const void *mem;
    uint64_t off[R2H_NUM_BASE_CELLS + 1];  /* first row of each base cell; off[122] = n */
    uint64_t boff[R2H_NUM_BASE_CELLS + 1]; /* packed spill files: first byte of each base cell */
};

struct r2h_runs {
    struct r2h_rowfmt fmt;
    size_t rowsize;
    char *dir;
    int dir_slot;
    char *lock; /* dir/lock, flock-ed while this run lives */
    int lock_fd, lock_slot;
    pthread_mutex_t mu;
    struct run *runs;
    size_t n, cap;
    unsigned next_id;
    uint64_t spilled;
};

/* Remove the files of a dead run's spill directory dir (whose lock we hold): its lock and its
 * runs only, then the directory if that left it empty. */
static void remove_spill_dir(const char *dir)
{
    char path[4200];
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "run-", 4) == 0) {
            r2h_fmt(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    r2h_fmt(path, sizeof path, "%s/lock", dir);
    unlink(path);
    rmdir(dir);
}

/* Spill directories of runs killed with SIGKILL (no handler ran): raster2h3-XXXXXX directories
 * in base, ours (same user), whose lock file exists and can be locked (a live run holds its lock
 * for its whole life; the kernel drops it when the process dies). Directories without a lock
 * file are left alone: they are not ours, or their run is still starting. */
static void remove_dead_spill_dirs(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    char dir[4200], lock[4300];
    while ((e = readdir(d))) {
        struct stat sb;
        if (strncmp(e->d_name, "raster2h3-", 10) != 0 || strlen(e->d_name) != 16)
            continue;
        r2h_fmt(dir, sizeof dir, "%s/%s", base, e->d_name);
        if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
            continue;
        r2h_fmt(lock, sizeof lock, "%s/lock", dir);
        int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            remove_spill_dir(dir);
        close(fd);
    }
    closedir(d);
}

/* Lock file of a new spill directory: created under another name, locked, then renamed to
 * "lock", so that no other run ever finds a "lock" it could take while this run lives. Where
 * that fails (a file system without flock) the directory simply has no lock: later runs leave
 * it alone, as before dead runs' directories were cleaned. */
static void lock_spill_dir(struct r2h_runs *rs)
{
    size_t len = strlen(rs->dir) + 16;
    char tmp[4200];
    if (!(rs->lock = r2h_malloc(len)))
        return;
    r2h_fmt(rs->lock, len, "%s/lock", rs->dir);
    r2h_fmt(tmp, sizeof tmp, "%s/.lock", rs->dir);
    rs->lock_fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (rs->lock_fd < 0 || flock(rs->lock_fd, LOCK_EX) != 0 || rename(tmp, rs->lock) != 0) {
        unlink(tmp);
        r2h_free(rs->lock);
        rs->lock = NULL;
        return;
    }
    rs->lock_slot = r2h_cleanup_register(rs->lock, 0);
}

enum r2h_status r2h_runs_create(const char *tmpdir, const struct r2h_rowfmt *fmt,
                                struct r2h_runs **out, char *err, size_t errlen)
{
    const char *base = tmpdir && *tmpdir ? tmpdir : getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    struct r2h_runs *rs = r2h_calloc(1, sizeof *rs);
    size_t len = strlen(base) + 32;
    char *dir = r2h_malloc(len);
    if (!rs || !dir) {
        r2h_free(rs);
        r2h_free(dir);
        r2h_fmt(err, errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    remove_dead_spill_dirs(base);
    r2h_fmt(dir, len, "%s/raster2h3-XXXXXX", base);
    if (!mkdtemp(dir)) {
        r2h_fmt(err, errlen, "%s: cannot create temporary directory: %s", base, strerror(errno));
        r2h_free(rs);
        r2h_free(dir);
        return R2H_ERR_IO;
    }
    rs->fmt = *fmt;
    rs->rowsize = r2h_rowfmt_size(fmt);
    rs->dir = dir;
    rs->dir_slot = r2h_cleanup_register(dir, 1);
    rs->lock_fd = rs->lock_slot = -1;
    pthread_mutex_init(&rs->mu, NULL);
    lock_spill_dir(rs);
    *out = rs;
    return R2H_OK;
}

/* Base cell of row i of sorted rows of layout f (pairs and wide rows start with the cell). */
static int row_base_cell(const struct r2h_rowfmt *f, const void *rows, size_t i)
{
    if (f->packed)
        return r2h_packed_base_cell(f, ((const uint64_t *)rows)[i]);
    uint64_t cell;
    memcpy(&cell, (const unsigned char *)rows + i * r2h_rowfmt_size(f), sizeof cell);
    return r2h_index_base_cell(cell);
}

/* Offsets of each base cell's rows in sorted rows of layout f (binary searches). */
static void index_run(const struct r2h_rowfmt *f, struct run *r, const void *rows, size_t n)
{
    for (int bc = 0; bc <= R2H_NUM_BASE_CELLS; bc++) {
        size_t lo = bc ? (size_t)r->off[bc - 1] : 0, hi = n; /* first row with base cell >= bc */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (row_base_cell(f, rows, mid) < bc)
                lo = mid + 1;
            else
                hi = mid;
        }
        r->off[bc] = lo;
    }
}

static enum r2h_status add_run(struct r2h_runs *rs, const struct run *r)
{
    enum r2h_status st = R2H_OK;
    pthread_mutex_lock(&rs->mu);
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        struct run *p = r2h_realloc(rs->runs, cap * sizeof *p);
        if (!p)
            st = R2H_ERR_NOMEM;
        else {
            rs->runs = p;
            rs->cap = cap;
        }
    }
    if (st == R2H_OK)
        rs->runs[rs->n++] = *r;
    pthread_mutex_unlock(&rs->mu);
    return st;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Packed rows are spilled delta-encoded: per base cell, each row as the LEB128 varint of its
 * difference to the previous row (the first: to 0). Sorted rows of one base cell are close
 * together, so a row takes 2-3 bytes instead of 8 (less disk traffic, less page cache). */
static int write_packed(int fd, struct run *r, const uint64_t *rows)
{
    enum { CAP = 1 << 20 };
    unsigned char *buf = r2h_malloc(CAP + 16);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    size_t len = 0;
    uint64_t total = 0;
    int rc = 0;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS && rc == 0; bc++) {
        r->boff[bc] = total + len;
        uint64_t prev = 0;
        for (uint64_t i = r->off[bc]; i < r->off[bc + 1]; i++) {
            uint64_t d = rows[i] - prev;
            prev = rows[i];
            while (d >= 0x80) {
                buf[len++] = (unsigned char)(d | 0x80);
                d >>= 7;
            }
            buf[len++] = (unsigned char)d;
            if (len >= CAP) {
                if ((rc = write_all(fd, buf, len)) != 0)
                    break;
                total += len;
                len = 0;
            }
        }
    }
    if (rc == 0 && len > 0 && (rc = write_all(fd, buf, len)) == 0)
        total += len;
    r->boff[R2H_NUM_BASE_CELLS] = total;
    r2h_free(buf);
    return rc;
}

enum r2h_status r2h_runs_spill(struct r2h_runs *rs, const void *rows, size_t n, char *err,
                               size_t errlen)
{
    struct run r = {.slot = -1};
    index_run(&rs->fmt, &r, rows, n);
    pthread_mutex_lock(&rs->mu);
    unsigned id = rs->next_id++;
    pthread_mutex_unlock(&rs->mu);
    size_t len = strlen(rs->dir) + 32;
    if (!(r.path = r2h_malloc(len))) {
        r2h_fmt(err, errlen, "out of memory");
        return R2H_ERR_NOMEM;
    }
    r2h_fmt(r.path, len, "%s/run-%06u", rs->dir, id);
    r.slot = r2h_cleanup_register(r.path, 0);
    int fd = open(r.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 ||
        (rs->fmt.packed ? write_packed(fd, &r, rows) : write_all(fd, rows, n * rs->rowsize)) != 0) {
        r2h_fmt(err, errlen, "%s: cannot write spill file: %s", r.path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        r2h_fmt(err, errlen, "%s: cannot write spill file: %s", r.path, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (add_run(rs, &r) != R2H_OK) {
        r2h_fmt(err, errlen, "out of memory");
        goto fail;
    }
    pthread_mutex_lock(&rs->mu);
    rs->spilled += rs->fmt.packed ? r.boff[R2H_NUM_BASE_CELLS] : n * rs->rowsize;
    pthread_mutex_unlock(&rs->mu);
    return R2H_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(r.path);
    r2h_cleanup_unregister(r.slot);
    r2h_free(r.path);
    return R2H_ERR_IO;
}

enum r2h_status r2h_runs_add_memory(struct r2h_runs *rs, const void *rows, size_t n)
{
    struct run r = {.slot = -1, .mem = rows};
    index_run(&rs->fmt, &r, rows, n);
    return add_run(rs, &r);
}

uint64_t r2h_runs_rows(const struct r2h_runs *rs, int bc)
{
    uint64_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        n += rs->runs[i].off[bc + 1] - rs->runs[i].off[bc];
    return n;
}

size_t r2h_runs_count(const struct r2h_runs *rs)
{
    return rs->n;
}

uint64_t r2h_runs_spilled_bytes(const struct r2h_runs *rs)
{
    return rs->spilled;
}

void r2h_runs_destroy(struct r2h_runs *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++) {
        if (!rs->runs[i].path)
            continue;
        unlink(rs->runs[i].path);
        r2h_cleanup_unregister(rs->runs[i].slot);
        r2h_free(rs->runs[i].path);
    }
    if (rs->lock) {
        unlink(rs->lock);
        r2h_cleanup_unregister(rs->lock_slot);
    }
    if (rs->lock_fd >= 0)
        close(rs->lock_fd);
    r2h_free(rs->lock);
    rmdir(rs->dir);
    r2h_cleanup_unregister(rs->dir_slot);
    pthread_mutex_destroy(&rs->mu);
    r2h_free(rs->runs);
    r2h_free(rs->dir);
    r2h_free(rs);
}

/* One input of a merge: a segment of a run, read through a buffer when it is a file. */
struct cursor {
    const unsigned char *buf; /* current rows */
    unsigned char *own;       /* file buffer */
    size_t pos, len;          /* position and length in buf, in rows */
    uint64_t next, end;       /* file rows [next, end) not yet read */
    int fd;
    /* packed (delta-encoded) files: bytes [bnext, bend) not yet read, bytes read but not yet
     * decoded in bytes[bpos, blen), the last row decoded */
    unsigned char *bytes;
    size_t bpos, blen;
    uint64_t bnext, bend, prev;
};

struct r2h_merge {
    r2h_row_pull pull; /* a merge over one pulled stream (r2h_merge_open_pull) */
    void *pull_ctx;
    struct r2h_rowfmt fmt;
    size_t rowsize;
    struct cursor *cur;
    int *heap; /* indices of cursors with rows, a min-heap on their current row */
    int nheap, ncur;
    size_t bufrows;
};

static int cur_less(const struct r2h_merge *m, int a, int b)
{
    const struct cursor *x = &m->cur[a], *y = &m->cur[b];
    if (m->fmt.packed)
        return ((const uint64_t *)x->buf)[x->pos] < ((const uint64_t *)y->buf)[y->pos];
    if (m->fmt.wide) {
        const struct r2h_wide_row *p = (const struct r2h_wide_row *)x->buf + x->pos;
        const struct r2h_wide_row *q = (const struct r2h_wide_row *)y->buf + y->pos;
        if (p->cell != q->cell)
            return p->cell < q->cell;
        return p->key < q->key || (p->key == q->key && p->ord < q->ord);
    }
    const struct r2h_row *p = (const struct r2h_row *)x->buf + x->pos;
    const struct r2h_row *q = (const struct r2h_row *)y->buf + y->pos;
    return p->cell < q->cell || (p->cell == q->cell && p->key < q->key);
}

static void sift_down(struct r2h_merge *m, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->nheap && cur_less(m, m->heap[l], m->heap[s]))
            s = l;
        if (r < m->nheap && cur_less(m, m->heap[r], m->heap[s]))
            s = r;
        if (s == i)
            return;
        int t = m->heap[i];
        m->heap[i] = m->heap[s];
        m->heap[s] = t;
        i = s;
    }
}

/* Refill a file cursor; returns 0 at its end, -1 on a read error. */
/* Refill a delta-encoded cursor: decode up to bufrows rows (docs at write_packed). */
static int refill_packed(const struct r2h_merge *m, struct cursor *c)
{
    const size_t bcap = m->bufrows * 8 + 16;
    uint64_t *out = (uint64_t *)(void *)c->own;
    size_t want = c->end - c->next < m->bufrows ? (size_t)(c->end - c->next) : m->bufrows, k = 0;
    while (k < want) {
        if (c->blen - c->bpos < 10 && c->bnext < c->bend) { /* a varint may cross: read more */
            memmove(c->bytes, c->bytes + c->bpos, c->blen - c->bpos);
            c->blen -= c->bpos;
            c->bpos = 0;
            size_t room = bcap - c->blen;
            if (room > c->bend - c->bnext)
                room = (size_t)(c->bend - c->bnext);
            ssize_t got = pread(c->fd, c->bytes + c->blen, room, (off_t)c->bnext);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return -1;
            c->blen += (size_t)got;
            c->bnext += (uint64_t)got;
        }
        uint64_t d = 0;
        int sh = 0;
        for (;;) {
            if (c->bpos >= c->blen || sh > 63)
                return -1; /* truncated or corrupt spill file */
            const unsigned char b = c->bytes[c->bpos++];
            d |= (uint64_t)(b & 0x7f) << sh;
            if (!(b & 0x80))
                break;
            sh += 7;
        }
        c->prev += d;
        out[k++] = c->prev;
    }
    c->buf = c->own;
    c->pos = 0;
    c->len = want;
    c->next += want;
    return 1;
}

static int refill(const struct r2h_merge *m, struct cursor *c)
{
    if (c->next >= c->end)
        return 0;
    if (c->bytes)
        return refill_packed(m, c);
    size_t want = c->end - c->next < m->bufrows ? (size_t)(c->end - c->next) : m->bufrows;
    size_t bytes = want * m->rowsize, got = 0;
    while (got < bytes) {
        ssize_t k = pread(c->fd, c->own + got, bytes - got, (off_t)(c->next * m->rowsize + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    c->buf = c->own;
    c->pos = 0;
    c->len = want;
    c->next += want;
    return 1;
}

enum r2h_status r2h_merge_open_pull(r2h_row_pull pull, void *ctx, struct r2h_merge **out)
{
    struct r2h_merge *m = r2h_calloc(1, sizeof *m);
    if (!m)
        return R2H_ERR_NOMEM;
    m->pull = pull;
    m->pull_ctx = ctx;
    *out = m;
    return R2H_OK;
}

enum r2h_status r2h_merge_open(const struct r2h_runs *rs, int bc, size_t bufrows,
                               struct r2h_merge **out)
{
    struct r2h_merge *m = r2h_calloc(1, sizeof *m);
    if (!m)
        return R2H_ERR_NOMEM;
    m->fmt = rs->fmt;
    m->rowsize = rs->rowsize;
    m->cur = r2h_calloc(rs->n + 1, sizeof *m->cur);
    m->heap = r2h_calloc(rs->n + 1, sizeof *m->heap);
    m->bufrows = bufrows ? bufrows : 65536;
    if (!m->cur || !m->heap)
        goto fail;
    for (size_t i = 0; i < rs->n; i++) {
        const struct run *r = &rs->runs[i];
        uint64_t a = r->off[bc], b = r->off[bc + 1];
        if (a == b)
            continue;
        struct cursor *c = &m->cur[m->ncur++];
        c->fd = -1;
        if (r->mem) {
            c->buf = (const unsigned char *)r->mem + a * m->rowsize;
            c->len = (size_t)(b - a);
        } else {
            c->fd = open(r->path, O_RDONLY | O_CLOEXEC);
            c->own = r2h_malloc(m->bufrows * m->rowsize);
            if (c->fd < 0 || !c->own)
                goto fail;
            c->next = a;
            c->end = b;
            if (m->fmt.packed) {
                if (!(c->bytes = r2h_malloc(m->bufrows * 8 + 16)))
                    goto fail;
                c->bnext = r->boff[bc];
                c->bend = r->boff[bc + 1];
            }
            if (refill(m, c) != 1)
                goto fail;
        }
        m->heap[m->nheap++] = m->ncur - 1;
    }
    for (int i = m->nheap / 2 - 1; i >= 0; i--)
        sift_down(m, i);
    *out = m;
    return R2H_OK;
fail:
    r2h_merge_close(m);
    return R2H_ERR_IO;
}

/* Copy k rows of cursor c from its position into out, unpacked: struct r2h_row, or with wide
 * struct r2h_wide_row (ord and payload 0 from narrower layouts). */
static void take_rows(const struct r2h_merge *m, struct cursor *c, void *out, int wide, size_t k)
{
    if (m->fmt.packed) {
        const uint64_t *p = (const uint64_t *)c->buf + c->pos;
        if (wide) {
            struct r2h_wide_row *o = out;
            for (size_t i = 0; i < k; i++)
                o[i] = (struct r2h_wide_row){r2h_packed_cell(&m->fmt, p[i]), p[i] & m->fmt.key_mask,
                                             0, 0};
        } else {
            struct r2h_row *o = out;
            for (size_t i = 0; i < k; i++) {
                o[i].cell = r2h_packed_cell(&m->fmt, p[i]);
                o[i].key = p[i] & m->fmt.key_mask;
            }
        }
    } else if (m->fmt.wide == wide) {
        memcpy(out, c->buf + c->pos * m->rowsize, k * m->rowsize);
    } else if (wide) { /* pairs as wide rows */
        const struct r2h_row *p = (const struct r2h_row *)c->buf + c->pos;
        struct r2h_wide_row *o = out;
        for (size_t i = 0; i < k; i++)
            o[i] = (struct r2h_wide_row){p[i].cell, p[i].key, 0, 0};
    } else { /* wide rows as pairs */
        const struct r2h_wide_row *p = (const struct r2h_wide_row *)c->buf + c->pos;
        struct r2h_row *o = out;
        for (size_t i = 0; i < k; i++)
            o[i] = (struct r2h_row){p[i].cell, p[i].key};
    }
    c->pos += k;
}

/* r2h_merge_next into rows of struct r2h_row, or with wide struct r2h_wide_row. */
static size_t merge_next(struct r2h_merge *m, void *out, int wide, size_t max, enum r2h_status *st,
                         char *err, size_t errlen)
{
    if (m->pull) { /* one pulled stream of (cell, key) rows */
        if (!wide)
            return m->pull(m->pull_ctx, out, max, st, err, errlen);
        struct r2h_row tmp[1024];
        struct r2h_wide_row *o = out;
        size_t n = 0, k;
        while (n < max &&
               (k = m->pull(m->pull_ctx, tmp, max - n < 1024 ? max - n : 1024, st, err, errlen)))
            for (size_t i = 0; i < k; i++)
                o[n++] = (struct r2h_wide_row){tmp[i].cell, tmp[i].key, 0, 0};
        return n;
    }
    const size_t osz = wide ? sizeof(struct r2h_wide_row) : sizeof(struct r2h_row);
    size_t n = 0;
    while (n < max && m->nheap > 0) {
        int top = m->heap[0];
        struct cursor *c = &m->cur[top];
        size_t k = 1, avail = c->len - c->pos < max - n ? c->len - c->pos : max - n;
        if (m->nheap == 1) { /* one input left: no comparisons */
            k = avail;
        } else if (m->fmt.packed) { /* take the top's rows up to the next input's row */
            const struct cursor *c1 = &m->cur[m->heap[1]];
            uint64_t lim = ((const uint64_t *)c1->buf)[c1->pos];
            if (m->nheap > 2) {
                const struct cursor *c2 = &m->cur[m->heap[2]];
                uint64_t l2 = ((const uint64_t *)c2->buf)[c2->pos];
                lim = l2 < lim ? l2 : lim;
            }
            const uint64_t *p = (const uint64_t *)c->buf + c->pos;
            while (k < avail && p[k] <= lim)
                k++;
        }
        take_rows(m, c, (unsigned char *)out + n * osz, wide, k);
        n += k;
        if (c->pos == c->len) {
            int more = c->fd >= 0 ? refill(m, c) : 0;
            if (more < 0) {
                r2h_fmt(err, errlen, "cannot read spill file: %s", strerror(errno));
                *st = R2H_ERR_IO;
                return 0;
            }
            if (!more)
                m->heap[0] = m->heap[--m->nheap];
        }
        if (m->nheap > 1)
            sift_down(m, 0);
    }
    return n;
}

size_t r2h_merge_next(struct r2h_merge *m, struct r2h_row *out, size_t max, enum r2h_status *st,
                      char *err, size_t errlen)
{
    return merge_next(m, out, 0, max, st, err, errlen);
}

size_t r2h_merge_next_wide(struct r2h_merge *m, struct r2h_wide_row *out, size_t max,
                           enum r2h_status *st, char *err, size_t errlen)
{
    return merge_next(m, out, 1, max, st, err, errlen);
}

void r2h_merge_close(struct r2h_merge *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->ncur; i++) {
        if (m->cur[i].fd >= 0)
            close(m->cur[i].fd);
        r2h_free(m->cur[i].own);
        r2h_free(m->cur[i].bytes);
    }
    r2h_free(m->cur);
    r2h_free(m->heap);
    r2h_free(m);
}
