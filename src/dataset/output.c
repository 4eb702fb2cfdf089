/* output.c - where partitions go: local directories or remote object stores through GDAL VSI. */
#define _GNU_SOURCE /* struct stat64 behind VSIStatBufL */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>

#include "r2h_dataset.h"
#include "r2h_io.h"
#include "r2h_sink.h"

int r2h_out_is_remote(const char *path)
{
    return r2h_io_is_remote(path);
}

void r2h_out_root(const char *output, char *dst, size_t len)
{
    r2h_io_root(output, dst, len);
}

enum r2h_status r2h_out_open_sink(const char *path, struct r2h_sink **out, char *err, size_t errlen)
{
    if (r2h_out_is_remote(path))
        return r2h_sink_vsi_open(path, out, err, errlen);
    return r2h_sink_file_open(path, out, err, errlen);
}

int r2h_out_exists(const char *path, uint64_t *size)
{
    VSIStatBufL sb;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    int rc = VSIStatExL(path, &sb, VSI_STAT_EXISTS_FLAG | VSI_STAT_SIZE_FLAG);
    CPLPopErrorHandler();
    if (rc != 0)
        return 0;
    if (size)
        *size = (uint64_t)sb.st_size;
    return 1;
}

void r2h_out_configure_network(void)
{
    if (!CPLGetConfigOption("GDAL_HTTP_MAX_RETRY", NULL))
        CPLSetConfigOption("GDAL_HTTP_MAX_RETRY", "5");
    if (!CPLGetConfigOption("GDAL_HTTP_RETRY_DELAY", NULL))
        CPLSetConfigOption("GDAL_HTTP_RETRY_DELAY", "1");
}

enum r2h_status r2h_out_read_all(const char *path, uint64_t maxlen, uint8_t **data, size_t *len)
{
    char err[16];
    return r2h_out_fetch(path, maxlen, data, len, err, sizeof err);
}

enum r2h_status r2h_out_fetch(const char *path, uint64_t maxlen, uint8_t **data, size_t *len,
                              char *err, size_t errlen)
{
    GByte *buf = NULL;
    vsi_l_offset n = 0;
    struct r2h_io_errors e;
    r2h_io_errors_begin(&e, path);
    int ok = VSIIngestFile(NULL, path, &buf, &n, (GIntBig)maxlen);
    r2h_io_errors_end(&e);
    if (!ok)
        return r2h_io_failure(&e, path, "cannot read", err, errlen);
    *data = r2h_malloc(n ? (size_t)n : 1);
    if (!*data) {
        VSIFree(buf);
        return R2H_ERR_NOMEM;
    }
    memcpy(*data, buf, (size_t)n);
    *len = (size_t)n;
    VSIFree(buf);
    return R2H_OK;
}

void r2h_out_remove_partition(const char *path)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    if (VSIUnlink(path) == 0 && !r2h_out_is_remote(path)) {
        char dir[4200];
        r2h_fmt(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            rmdir(dir);
        }
    }
    CPLPopErrorHandler();
}
