/* Compiled with the sort module's include directories: must compile (tests/layers). */
#include "r2h_sort.h"

int r2h_layers_probe(void);
int r2h_layers_probe(void)
{
    return (int)sizeof(struct r2h_row);
}
