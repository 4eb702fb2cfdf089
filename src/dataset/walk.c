/* walk.c - the one listing of a dataset: the root's entries and each partition directory's
 * files, classified by the layout, from one recursive GDAL listing (flat on object stores). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_vsi.h>

#include "r2h_dataset.h"
#include "r2h_io.h"

/* Room for one more entry in *arr (n used, *cap allocated); 0 when out of memory. */
static int reserve(struct r2h_dataset_entry **arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return 1;
    size_t nc = *cap ? 2 * *cap : 16;
    struct r2h_dataset_entry *p = r2h_realloc(*arr, nc * sizeof *p);
    if (!p)
        return 0;
    *arr = p;
    *cap = nc;
    return 1;
}

/* The entry named name[0..len) among arr[0..n), looking at the last one first (listings give a
 * directory's entries together), or NULL. */
static struct r2h_dataset_entry *find(struct r2h_dataset_entry *arr, size_t n, const char *name,
                                      size_t len)
{
    for (size_t k = n; k-- > 0;)
        if (strncmp(arr[k].name, name, len) == 0 && arr[k].name[len] == 0)
            return &arr[k];
    return NULL;
}

/* A new entry named name[0..len) at the end of *arr; NULL when out of memory. */
static struct r2h_dataset_entry *append(struct r2h_dataset_entry **arr, size_t *n, size_t *cap,
                                        const char *name, size_t len)
{
    char *copy = r2h_malloc(len + 1);
    if (!copy || !reserve(arr, *n, cap)) {
        r2h_free(copy);
        return NULL;
    }
    memcpy(copy, name, len);
    copy[len] = 0;
    struct r2h_dataset_entry *e = &(*arr)[(*n)++];
    memset(e, 0, sizeof *e);
    e->name = copy;
    e->bc = -1;
    return e;
}

/* One path of the listing, relative to the root: its root entry (made when a deeper path comes
 * first, as on object stores, which list keys and no directories), and within a partition
 * directory the entry directly inside it. Deeper paths only mark those entries directories. */
static enum r2h_status add_path(struct r2h_dataset_listing *ls, const char *path, int is_dir)
{
    const char *slash = strchr(path, '/');
    const size_t len = slash ? (size_t)(slash - path) : strlen(path);
    if (!len)
        return R2H_OK;
    /* A path without '/' is listed once; a deeper one may belong to a root entry seen before. */
    struct r2h_dataset_entry *r = slash ? find(ls->entries, ls->n, path, len) : NULL;
    if (!r) {
        r = append(&ls->entries, &ls->n, &ls->cap, path, len);
        if (!r)
            return R2H_ERR_NOMEM;
        r->kind = r2h_dataset_root_kind(r->name, &r->bc);
    }
    r->is_dir |= slash != NULL || is_dir;
    if (!slash || r->kind != R2H_DATASET_PARTITION)
        return R2H_OK;
    const char *name = slash + 1, *deeper = strchr(name, '/');
    const size_t flen = deeper ? (size_t)(deeper - name) : strlen(name);
    if (!flen)
        return R2H_OK;
    struct r2h_dataset_entry *f = deeper ? find(r->files, r->nfiles, name, flen) : NULL;
    if (!f) {
        f = append(&r->files, &r->nfiles, &r->files_cap, name, flen);
        if (!f)
            return R2H_ERR_NOMEM;
        f->kind = r2h_dataset_file_kind(f->name);
        f->bc = r->bc;
    }
    f->is_dir |= deeper != NULL || is_dir;
    return R2H_OK;
}

enum r2h_status r2h_dataset_list(const char *root, struct r2h_dataset_listing *ls, char *err,
                                 size_t errlen)
{
    memset(ls, 0, sizeof *ls);
    struct r2h_io_errors e;
    r2h_io_errors_begin(&e, root);
    VSIDIR *dir = VSIOpenDir(root, -1, NULL);
    enum r2h_status st = R2H_OK;
    const VSIDIREntry *d;
    while (dir && st == R2H_OK && (d = VSIGetNextDirEntry(dir)))
        st = add_path(ls, d->pszName, VSI_ISDIR(d->nMode));
    if (dir)
        VSICloseDir(dir);
    r2h_io_errors_end(&e);
    if (st != R2H_OK) {
        r2h_fmt(err, errlen, "%s: cannot list: out of memory", root);
        return st;
    }
    /* A root that did not open, or a listing that broke off (a later page of an object store's
     * listing), is a failure when GDAL says why; "not found" is a missing root. */
    if (dir && !e.failed)
        return R2H_OK;
    if (e.text[0])
        st = r2h_io_failure(&e, root, "cannot list", err, errlen);
    if (st == R2H_ERR_INPUT)
        st = R2H_OK;
    ls->missing = !dir && st == R2H_OK;
    return st;
}

enum r2h_status r2h_dataset_list_output(const char *output, char *root, size_t rootlen,
                                        struct r2h_dataset_listing *ls, char *err, size_t errlen)
{
    r2h_out_root(output, root, rootlen);
    enum r2h_status st = r2h_dataset_list(root, ls, err, errlen);
    if (st == R2H_ERR_NOMEM)
        return st;
    if (st != R2H_OK || ls->missing) {
        r2h_fmt(err, errlen, "%s: cannot list the dataset", output);
        return R2H_ERR_IO;
    }
    return R2H_OK;
}

void r2h_dataset_listing_free(struct r2h_dataset_listing *ls)
{
    if (!ls)
        return;
    for (size_t i = 0; i < ls->n; i++) {
        struct r2h_dataset_entry *r = &ls->entries[i];
        for (size_t k = 0; k < r->nfiles; k++)
            r2h_free(r->files[k].name);
        r2h_free(r->files);
        r2h_free(r->name);
    }
    r2h_free(ls->entries);
    memset(ls, 0, sizeof *ls);
}
