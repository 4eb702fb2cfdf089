/* fuzz_cli_options.c - fuzz target: bytes -> a subcommand and an argument vector -> the CLI
 * option parser (src/cli/options.c); checks that it never crashes and that a failure always
 * comes with a message. Input: the first byte picks the subcommand (bits 0-1; bit 4: rasterize),
 * the rest are arguments separated by NUL bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "r2h_cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int cmds[5] = {R2H_CLI_CONVERT, R2H_CLI_VERIFY, R2H_CLI_INFO, R2H_CLI_PREVIEW,
                                R2H_CLI_RASTERIZE};
    static const char *const names[5] = {"convert", "verify", "info", "preview", "rasterize"};
    if (size < 1)
        return 0;
    const int k = (data[0] & 0x10) ? 4 : data[0] & 3;
    char *text = malloc(size); /* the arguments, NUL-terminated */
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)names[k];
    for (size_t i = 0; i < size - 1 && argc <= MAX_ARGS; i += strlen(text + i) + 1)
        argv[argc++] = text + i;
    argv[argc] = NULL;
    static struct r2h_cli_args a;
    char msg[256];
    enum r2h_status st =
        r2h_cli_parse(cmds[k], argc, argv, (data[0] & 4) ? "7" : NULL, 0, &a, msg, sizeof msg);
    if (st != R2H_OK && !msg[0])
        abort();
    free(text);
    return 0;
}
