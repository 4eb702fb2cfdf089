/* test_dataset.c - unit tests of the dataset layout, its listing (a local tree with partitions,
 * temporaries and strays) and the manifest's parser (round trip with the writer, escapes,
 * malformed texts). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "r2h_dataset.h"
#include "r2h_index.h"
#include "test.h"

TEST(layout)
{
    char s[256];
    const int bc = 5;
    const unsigned long long c = r2h_index_res0_cell(bc);
    char want[64];
    snprintf(want, sizeof want, "h0=%015llx", c);
    r2h_dataset_part_dir(bc, s, sizeof s);
    t_assert(strcmp(s, want) == 0, "partition directory");
    t_assert(r2h_dataset_part_of(s) == bc, "directory name parses back");
    r2h_dataset_part_path("/out", bc, s, sizeof s);
    snprintf(want, sizeof want, "/out/h0=%015llx/data_0.parquet", c);
    t_assert(strcmp(s, want) == 0, "partition path");
    for (int i = 0; i < R2H_NUM_BASE_CELLS; i++) {
        r2h_dataset_part_dir(i, s, sizeof s);
        t_assert(r2h_dataset_part_of(s) == i, "every base cell round trips");
    }
    t_assert(r2h_dataset_part_of("h0=8101fffffffffff") < 0, "not a resolution-0 cell");
    t_assert(r2h_dataset_part_of("h0=8001FFFFFFFFFFF") < 0, "upper case is not the layout");
    t_assert(r2h_dataset_part_of("h0=08001fffffffffff") < 0, "too long");
    t_assert(r2h_dataset_part_of("x0=8001fffffffffff") < 0, "wrong key");
    t_assert(r2h_dataset_part_of("h0=") < 0, "empty");
    t_assert(r2h_dataset_is_temp(".data_0.parquet.tmp-12-3"), "a temporary");
    t_assert(!r2h_dataset_is_temp("data_0.parquet") && !r2h_dataset_is_temp(".other"),
             "not temporaries");
    int b = -2;
    r2h_dataset_part_dir(bc, s, sizeof s);
    t_assert(r2h_dataset_root_kind(s, &b) == R2H_DATASET_PARTITION && b == bc, "partition");
    t_assert(r2h_dataset_root_kind("h0=8101fffffffffff", &b) == R2H_DATASET_BAD_KEY && b == -1,
             "an h0= name that is no resolution-0 cell");
    t_assert(r2h_dataset_root_kind("_manifest.json", &b) == R2H_DATASET_MANIFEST_FILE, "manifest");
    t_assert(r2h_dataset_root_kind(".raster2h3.lock", &b) == R2H_DATASET_HIDDEN, "hidden");
    t_assert(r2h_dataset_root_kind("_notes.json", &b) == R2H_DATASET_FOREIGN, "foreign");
    t_assert(r2h_dataset_file_kind("data_0.parquet") == R2H_DATASET_DATA, "data file");
    t_assert(r2h_dataset_file_kind(".data_0.parquet.tmp-1-2") == R2H_DATASET_TEMP, "temporary");
    t_assert(r2h_dataset_file_kind(".other") == R2H_DATASET_HIDDEN, "hidden file");
    t_assert(r2h_dataset_file_kind("data_1.parquet") == R2H_DATASET_STRAY, "stray");
}

/* The files of the walker's test tree, relative to its root ("/" ends a directory). */
static const char *const tree[] = {
    "h0=800bfffffffffff/",
    "h0=800bfffffffffff/data_0.parquet",
    "h0=800bfffffffffff/.data_0.parquet.tmp-77-0",
    "h0=800bfffffffffff/.keep",
    "h0=800bfffffffffff/data_1.parquet",
    "h0=800bfffffffffff/sub/",
    "h0=800bfffffffffff/sub/deep.parquet",
    "h0=800ffffffffffff/",
    "h0=800ffffffffffff/data_0.parquet",
    "h0=junk/",
    "h0=junk/data_0.parquet",
    "_manifest.json",
    ".raster2h3.lock",
    "extra.parquet",
};

static const struct r2h_dataset_entry *entry_named(const struct r2h_dataset_entry *e, size_t n,
                                                   const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0)
            return &e[i];
    return NULL;
}

TEST(walk)
{
    char root[] = "/tmp/r2h_test_walk_XXXXXX", path[512], err[512];
    t_assert(mkdtemp(root) != NULL, "temporary directory");
    const size_t nt = sizeof tree / sizeof tree[0];
    for (size_t i = 0; i < nt; i++) {
        snprintf(path, sizeof path, "%s/%s", root, tree[i]);
        if (path[strlen(path) - 1] == '/') {
            t_assert(mkdir(path, 0755) == 0, path);
        } else {
            FILE *f = fopen(path, "w");
            t_assert(f != NULL, path);
            if (f)
                fclose(f);
        }
    }
    struct r2h_dataset_listing ls;
    t_assert(r2h_dataset_list(root, &ls, err, sizeof err) == R2H_OK && !ls.missing, err);
    t_assert(ls.n == 6, "six root entries");
    const struct r2h_dataset_entry *p = entry_named(ls.entries, ls.n, "h0=800bfffffffffff");
    t_assert(p && p->kind == R2H_DATASET_PARTITION && p->bc == 5 && p->is_dir, "partition 5");
    t_assert(p && p->nfiles == 5, "its five entries, the subdirectory's file not among them");
    const struct {
        const char *name;
        enum r2h_dataset_kind kind;
        int is_dir;
    } want[] = {{"data_0.parquet", R2H_DATASET_DATA, 0},
                {".data_0.parquet.tmp-77-0", R2H_DATASET_TEMP, 0},
                {".keep", R2H_DATASET_HIDDEN, 0},
                {"data_1.parquet", R2H_DATASET_STRAY, 0},
                {"sub", R2H_DATASET_STRAY, 1}};
    for (size_t i = 0; p && i < sizeof want / sizeof want[0]; i++) {
        const struct r2h_dataset_entry *f = entry_named(p->files, p->nfiles, want[i].name);
        t_assert(f && f->kind == want[i].kind && f->is_dir == want[i].is_dir && f->bc == 5,
                 want[i].name);
    }
    p = entry_named(ls.entries, ls.n, "h0=800ffffffffffff");
    t_assert(p && p->kind == R2H_DATASET_PARTITION && p->bc == 7 && p->nfiles == 1 &&
                 p->files[0].kind == R2H_DATASET_DATA,
             "partition 7 with its data file");
    p = entry_named(ls.entries, ls.n, "h0=junk");
    t_assert(p && p->kind == R2H_DATASET_BAD_KEY && p->bc == -1 && p->nfiles == 0, "bad key");
    p = entry_named(ls.entries, ls.n, "_manifest.json");
    t_assert(p && p->kind == R2H_DATASET_MANIFEST_FILE && !p->is_dir, "manifest");
    p = entry_named(ls.entries, ls.n, ".raster2h3.lock");
    t_assert(p && p->kind == R2H_DATASET_HIDDEN, "lock file");
    p = entry_named(ls.entries, ls.n, "extra.parquet");
    t_assert(p && p->kind == R2H_DATASET_FOREIGN, "a stray at the root");
    r2h_dataset_listing_free(&ls);
    t_assert(ls.n == 0 && ls.entries == NULL, "freed and zeroed");

    for (size_t i = nt; i-- > 0;) {
        snprintf(path, sizeof path, "%s/%s", root, tree[i]);
        t_assert((path[strlen(path) - 1] == '/' ? rmdir(path) : unlink(path)) == 0, path);
    }
    t_assert(r2h_dataset_list(root, &ls, err, sizeof err) == R2H_OK && !ls.missing && ls.n == 0,
             "an empty root");
    r2h_dataset_listing_free(&ls);
    rmdir(root);
    t_assert(r2h_dataset_list(root, &ls, err, sizeof err) == R2H_OK && ls.missing && ls.n == 0,
             "a missing root");
    r2h_dataset_listing_free(&ls);
    t_assert(r2h_dataset_list_output(root, path, sizeof path, &ls, err, sizeof err) == R2H_ERR_IO &&
                 strstr(err, "cannot list the dataset"),
             "tools need the dataset to be there");
    r2h_dataset_listing_free(&ls);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    return buf;
}

TEST(manifest_round_trip)
{
    char d1[] = "/tmp/r2h_test_dataset_XXXXXX", d2[] = "/tmp/r2h_test_dataset_XXXXXX";
    t_assert(mkdtemp(d1) && mkdtemp(d2), "temporary directories");
    struct r2h_manifest *m = calloc(1, sizeof *m), *back = calloc(1, sizeof *back);
    m->fingerprint = "0123456789abcdef";
    m->source = "in \"q\" \\ \x01 t\xc3\xa9st.tif";
    m->value_name = "v";
    m->bands = "1,3";
    m->value_names_json = "[\"a\",\"b\"]";
    m->band = 1;
    m->resolution = 7;
    m->total_rows = 123;
    m->parts[0] = (struct r2h_manifest_part){100, 2000, -1.5, 2.25, 0};
    m->parts[121] = (struct r2h_manifest_part){23, 99, INFINITY, -INFINITY, 0};
    char err[512] = "";
    t_assert(r2h_manifest_write(d1, m, err, sizeof err) == R2H_OK, "write");
    t_assert(r2h_manifest_read(d1, back, err, sizeof err) == R2H_OK, err);
    t_assert(back->fingerprint && strcmp(back->fingerprint, m->fingerprint) == 0, "fingerprint");
    t_assert(back->source && strcmp(back->source, m->source) == 0, "escaped source");
    t_assert(back->bands && strcmp(back->bands, "1,3") == 0, "bands");
    t_assert(back->value_names_json && strcmp(back->value_names_json, "[\"a\",\"b\"]") == 0,
             "value columns");
    t_assert(back->resolution == 7 && back->band == 1 && back->total_rows == 123, "numbers");
    t_assert(!back->incomplete, "complete");
    t_assert(back->parts[0].listed && back->parts[121].listed && !back->parts[1].listed, "listed");
    t_assert(back->parts[0].rows == 100 && back->parts[0].bytes == 2000 &&
                 back->parts[0].min == -1.5 && back->parts[0].max == 2.25,
             "partition 0");
    /* an unknown range (nothing to take it from) is written null, JSON having no inf, and
     * read back as NaN */
    t_assert(isnan(back->parts[121].min) && isnan(back->parts[121].max), "null range");
    /* What was read writes the same bytes. */
    t_assert(r2h_manifest_write(d2, back, err, sizeof err) == R2H_OK, "write back");
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "%s/_manifest.json", d1);
    snprintf(p2, sizeof p2, "%s/_manifest.json", d2);
    size_t n1 = 0, n2 = 0;
    char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
    t_assert(a && b && n1 == n2 && memcmp(a, b, n1) == 0, "byte-identical round trip");
    r2h_manifest_clear(back);
    /* The "complete": false form. */
    m->incomplete = 1;
    t_assert(r2h_manifest_write(d1, m, err, sizeof err) == R2H_OK, "write incomplete");
    t_assert(r2h_manifest_read(d1, back, err, sizeof err) == R2H_OK, err);
    t_assert(back->incomplete && back->parts[0].listed && back->parts[0].rows == 0, "incomplete");
    r2h_manifest_clear(back);
    unlink(p1);
    unlink(p2);
    rmdir(d1);
    rmdir(d2);
    t_assert(r2h_manifest_read(d1, back, err, sizeof err) == R2H_ERR_INPUT, "missing manifest");
    free(a);
    free(b);
    free(m);
    free(back);
}

TEST(manifest_parse)
{
    struct r2h_manifest *m = calloc(1, sizeof *m);
    char err[256];
    const char *good = " {\"source\": \"a\\u00e9\\ud83d\\ude00\\n\\/\", \"x\": [1, {\"y\": null}, "
                       "true, -0.5e+3], \"partitions\": []} ";
    t_assert(r2h_manifest_parse(good, strlen(good), m, err, sizeof err) == R2H_OK, err);
    t_assert(m->source && strcmp(m->source, "a\xc3\xa9\xf0\x9f\x98\x80\n/") == 0, "escapes");
    r2h_manifest_clear(m);
    const char *bad[] = {
        "",
        "{",
        "{\"a\": 1,}",
        "{\"a\" 1}",
        "{\"a\": 01}",
        "{\"a\": \"x}",
        "{\"a\": \"\\x\"}",
        "{\"a\": \"\\ud800\"}",
        "{\"a\": \"\\u0000\"}",
        "{\"a\": tru}",
        "{} {}",
        "{\"complete\": 1}",
        "{\"rows\": -1}",
        "{\"rows\": 1.5}",
        "{\"rows\": 99999999999999999999}",
        "{\"partitions\": [{\"h0\": \"8101fffffffffff\"}]}",
        "{\"partitions\": [{\"rows\": 1}]}",
        "{\"partitions\": [{\"h0\": \"8001fffffffffff\"}, {\"h0\": \"8001fffffffffff\"}]}",
        "{\"partitions\": [{\"h0\": \"zz\"}]}",
        "{\"value_columns\": 3}",
        "{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "{\"a\": \"\x01\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        enum r2h_status st = r2h_manifest_parse(bad[i], strlen(bad[i]), m, err, sizeof err);
        if (st != R2H_ERR_FORMAT)
            fprintf(stderr, "    accepted: %s\n", bad[i]);
        t_assert(st == R2H_ERR_FORMAT && err[0], "malformed text refused with a reason");
        t_assert(m->storage == NULL, "nothing kept");
    }
    free(m);
}

int main(void)
{
    fprintf(stderr, "test_dataset\n");
    RUN(layout);
    RUN(walk);
    RUN(manifest_round_trip);
    RUN(manifest_parse);
    TEST_MAIN_END();
}
