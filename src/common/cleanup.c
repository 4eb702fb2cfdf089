/* cleanup.c - registry of temporary paths removed from a signal handler (lock-free,
 * async-signal-safe). */
#include <stdatomic.h>
#include <unistd.h>

#include "r2h_common.h"

#define CLEANUP_SLOTS 8192 /* open file sinks, spilled runs, spill directories, lock files */

static _Atomic(const char *) slots[CLEANUP_SLOTS];
static atomic_char slot_is_dir[CLEANUP_SLOTS];

int r2h_cleanup_register(const char *path, int is_dir)
{
    for (int i = 0; i < CLEANUP_SLOTS; i++) {
        const char *expected = NULL;
        if (atomic_compare_exchange_strong(&slots[i], &expected, path)) {
            atomic_store(&slot_is_dir[i], (char)(is_dir != 0));
            return i;
        }
    }
    return -1;
}

void r2h_cleanup_unregister(int slot)
{
    if (slot >= 0 && slot < CLEANUP_SLOTS)
        atomic_store(&slots[slot], NULL);
}

void r2h_cleanup_run(void)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < CLEANUP_SLOTS; i++) {
            const char *p = atomic_load(&slots[i]);
            if (!p || atomic_load(&slot_is_dir[i]) != pass)
                continue;
            if (pass == 0)
                unlink(p);
            else
                rmdir(p);
        }
    }
}
