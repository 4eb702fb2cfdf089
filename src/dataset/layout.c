/* layout.c - the dataset's layout, spelled in one place: OUTPUT/h0=<15 hex>/data_0.parquet,
 * the hidden temporary a sink writes beside a partition file before renaming it, and what any
 * other name found in a dataset is. */
#include <stdlib.h>
#include <string.h>

#include "r2h_dataset.h"
#include "r2h_index.h"

void r2h_dataset_part_dir(int bc, char *dst, size_t len)
{
    r2h_fmt(dst, len, "h0=%015llx", (unsigned long long)r2h_index_res0_cell(bc));
}

void r2h_dataset_part_path(const char *root, int bc, char *dst, size_t len)
{
    r2h_fmt(dst, len, "%s/h0=%015llx/" R2H_DATASET_PART_FILE, root,
            (unsigned long long)r2h_index_res0_cell(bc));
}

int r2h_dataset_part_of(const char *name)
{
    if (strncmp(name, "h0=", 3) != 0 || strlen(name) != 18)
        return -1;
    char *end;
    unsigned long long c = strtoull(name + 3, &end, 16);
    if (*end || strspn(name + 3, "0123456789abcdef") != 15)
        return -1;
    int bc = r2h_index_base_cell(c);
    return bc >= 0 && bc < R2H_NUM_BASE_CELLS && r2h_index_res0_cell(bc) == c ? bc : -1;
}

int r2h_dataset_is_temp(const char *name)
{
    return strncmp(name, R2H_DATASET_TEMP_PREFIX, strlen(R2H_DATASET_TEMP_PREFIX)) == 0;
}

enum r2h_dataset_kind r2h_dataset_root_kind(const char *name, int *bc)
{
    *bc = r2h_dataset_part_of(name);
    if (*bc >= 0)
        return R2H_DATASET_PARTITION;
    if (strncmp(name, "h0=", 3) == 0)
        return R2H_DATASET_BAD_KEY;
    if (strcmp(name, R2H_DATASET_MANIFEST) == 0 || strcmp(name, R2H_DATASET_STAC) == 0)
        return R2H_DATASET_MANIFEST_FILE;
    return name[0] == '.' ? R2H_DATASET_HIDDEN : R2H_DATASET_FOREIGN;
}

enum r2h_dataset_kind r2h_dataset_file_kind(const char *name)
{
    if (strcmp(name, R2H_DATASET_PART_FILE) == 0)
        return R2H_DATASET_DATA;
    if (r2h_dataset_is_temp(name))
        return R2H_DATASET_TEMP;
    return name[0] == '.' ? R2H_DATASET_HIDDEN : R2H_DATASET_STRAY;
}
