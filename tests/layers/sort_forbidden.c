/* Compiled with the sort module's include directories: must NOT compile, sort may not use
 * convert (tests/layers, docs/design/0001-architecture.md). */
#include "r2h_convert.h"
#include "r2h_sort.h"

int r2h_layers_probe(void);
int r2h_layers_probe(void)
{
    return (int)sizeof(struct r2h_row);
}
