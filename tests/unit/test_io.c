/* test_io.c - the I/O layer: locations, the failure classifier, the GDAL error collector with
 * synthetic CPL errors, the GDAL message formatter, sources over a local file and /vsimem/; the
 * JSON writer (common). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>

#include "r2h_io.h"
#include "test.h"

TEST(locations)
{
    char tmp[256];
    t_assert(r2h_io_is_remote("s3://b/k"), "s3 is remote");
    t_assert(r2h_io_is_remote("/vsis3/b/k"), "vsis3 is remote");
    t_assert(r2h_io_is_remote("/vsimem/x"), "vsimem goes through VSI");
    t_assert(!r2h_io_is_remote("/tmp/out"), "local path");
    t_assert(!r2h_io_is_remote("out"), "relative path");
    t_assert(r2h_io_is_network("/vsis3/b/k"), "vsis3 is network");
    t_assert(r2h_io_is_network("/vsicurl/http://h/x.tif"), "vsicurl is network");
    t_assert(!r2h_io_is_network("/vsimem/x"), "vsimem is not network");
    t_assert(!r2h_io_is_network("/vsizip/a.zip/x"), "vsizip is not network");
    t_assert(!r2h_io_is_network("/tmp/x"), "local is not network");
    t_assert(strcmp(r2h_io_gdal_name("s3://b/k.tif", tmp, sizeof tmp), "/vsis3/b/k.tif") == 0,
             "s3 mapped");
    const char *local = "/data/x.tif";
    t_assert(r2h_io_gdal_name(local, tmp, sizeof tmp) == local, "others returned as they are");
    r2h_io_root("s3://bucket//prefix///", tmp, sizeof tmp);
    t_assert(strcmp(tmp, "/vsis3/bucket/prefix") == 0, "root: s3 mapped, slashes collapsed");
    r2h_io_root("/", tmp, sizeof tmp);
    t_assert(strcmp(tmp, "/") == 0, "root: / stays");
    r2h_io_root("out/", tmp, sizeof tmp);
    t_assert(strcmp(tmp, "out") == 0, "root: trailing slash dropped");
}

TEST(classify)
{
    int code = 7;
    t_assert(r2h_io_classify(NULL, &code) == R2H_IO_OTHER && code == -1, "NULL");
    t_assert(r2h_io_classify("HTTP error code: 503", &code) == R2H_IO_TRANSIENT && code == 503,
             "503");
    t_assert(r2h_io_classify("HTTP response code on URL: 0", &code) == R2H_IO_TRANSIENT &&
                 code == 0,
             "no response");
    t_assert(r2h_io_classify("response_code=429, msg=x", NULL) == R2H_IO_TRANSIENT, "429");
    t_assert(r2h_io_classify("Operation timed out", NULL) == R2H_IO_TRANSIENT, "timeout");
    t_assert(r2h_io_classify("S3 SlowDown", NULL) == R2H_IO_TRANSIENT, "SlowDown");
    t_assert(r2h_io_classify("HTTP response code: 403", &code) == R2H_IO_DENIED && code == 403,
             "403");
    t_assert(r2h_io_classify("AccessDenied: no", NULL) == R2H_IO_DENIED, "AccessDenied");
    t_assert(r2h_io_classify("HTTP response code: 404", NULL) == R2H_IO_NOT_FOUND, "404");
    t_assert(r2h_io_classify("NoSuchBucket", NULL) == R2H_IO_NOT_FOUND, "NoSuchBucket");
    /* The last status wins: earlier ones may be attempts GDAL retried. */
    t_assert(r2h_io_classify("HTTP error code: 503; HTTP response code: 404", &code) ==
                     R2H_IO_NOT_FOUND &&
                 code == 404,
             "last status wins");
    t_assert(r2h_io_classify("not a GeoTIFF", NULL) == R2H_IO_OTHER, "other");
}

TEST(collector)
{
    struct r2h_io_errors e;
    r2h_io_errors_begin(&e, "/tmp/x.tif");
    t_assert(!e.debug, "local name: no debug channel");
    CPLError(CE_Warning, CPLE_AppDefined, "plain warning");
    t_assert(!e.failed && e.text[0] == 0, "a plain warning is not kept");
    CPLError(CE_Warning, CPLE_AppDefined, "HTTP response code: 503");
    CPLError(CE_Failure, CPLE_OpenFailed, "cannot open");
    CPLError(CE_Failure, CPLE_OpenFailed, "cannot open");
    CPLError(CE_Failure, CPLE_OpenFailed, "two\nlines");
    r2h_io_errors_end(&e);
    t_assert(e.failed, "failure seen");
    t_assert(strcmp(e.text, "HTTP response code: 503; cannot open; two lines") == 0,
             "joined on one line, repeats dropped");
    t_assert(r2h_io_classify(e.text, NULL) == R2H_IO_TRANSIENT, "classified transient");

    r2h_io_errors_begin(&e, "/vsis3/b/k");
    t_assert(e.debug, "network name: debug channel on");
    t_assert(CPLGetThreadLocalConfigOption("CPL_DEBUG", NULL) != NULL, "CPL_DEBUG set");
    CPLDebug("S3", "DownloadRegion(u): response_code=200, msg=ok");
    CPLDebug("S3", "DownloadRegion(u): response_code=0, msg=Empty reply from server");
    r2h_io_errors_end(&e);
    t_assert(CPLGetThreadLocalConfigOption("CPL_DEBUG", NULL) == NULL, "CPL_DEBUG restored");
    t_assert(!e.failed, "debug lines are no failure");
    t_assert(strstr(e.text, "Empty reply") && !strstr(e.text, "=200"),
             "only failed transfers kept");

    /* The same collector for writes: every warning, repeats too, and the S3 error body first. */
    r2h_io_errors_begin_write(&e, "/vsis3/b/.k.tmp-1");
    CPLDebug("S3", "DownloadRegion(u): response_code=0, msg=Empty reply from server");
    CPLDebug("S3", "<?xml?><Error><Code>SlowDown</Code><Message>slow down</Message></Error>");
    CPLError(CE_Warning, CPLE_AppDefined, "plain warning");
    CPLError(CE_Warning, CPLE_AppDefined, "plain warning");
    r2h_io_errors_end(&e);
    t_assert(CPLGetThreadLocalConfigOption("CPL_DEBUG", NULL) == NULL, "CPL_DEBUG restored");
    t_assert(strcmp(r2h_io_errors_message(&e, "upload failed"),
                    "HTTP 503 SlowDown: slow down; plain warning; plain warning") == 0,
             "S3 error first, then every warning");
    r2h_io_errors_begin_write(&e, "/vsis3/b/.k.tmp-2");
    r2h_io_errors_end(&e);
    t_assert(strcmp(r2h_io_errors_message(&e, "upload failed"), "upload failed") == 0,
             "fallback when nothing was raised");
}

TEST(messages)
{
    char buf[128];
    CPLErrorReset();
    r2h_io_gdal_message(buf, sizeof buf, "read failed", "a.tif");
    t_assert(strcmp(buf, "a.tif: read failed") == 0, "fallback when GDAL has no message");
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLError(CE_Failure, CPLE_AppDefined, "bad\r\nblock");
    CPLPopErrorHandler();
    r2h_io_gdal_message(buf, sizeof buf, "read failed", "a.tif");
    t_assert(strcmp(buf, "a.tif: bad  block") == 0, "GDAL's message on one line");
    char s[] = "a\nb\rc";
    r2h_io_one_line(s);
    t_assert(strcmp(s, "a b c") == 0, "one line");
}

TEST(source)
{
    char path[] = "/tmp/r2h_test_io.XXXXXX", err[600], detail[400], buf[16];
    int fd = mkstemp(path);
    t_assert(fd >= 0 && write(fd, "0123456789", 10) == 10, "temporary file");
    close(fd);
    struct r2h_source *s = NULL;
    t_assert(r2h_source_open(path, &s, err, sizeof err) == R2H_OK, err);
    t_assert(r2h_source_size(s) == 10, "size");
    t_assert(r2h_source_pread(s, buf, 4, 3, detail, sizeof detail) == R2H_OK &&
                 memcmp(buf, "3456", 4) == 0,
             "pread at an offset");
    t_assert(r2h_source_pread(s, buf, 4, 8, detail, sizeof detail) == R2H_ERR_FORMAT &&
                 strcmp(detail, "unexpected end of file at 10") == 0,
             "short read");
    r2h_source_close(s);
    unlink(path);
    s = NULL;
    t_assert(r2h_source_open(path, &s, err, sizeof err) == R2H_ERR_IO && !s &&
                 strstr(err, "cannot open: No such file"),
             "missing local file");
    t_assert(r2h_source_open("/tmp", &s, err, sizeof err) == R2H_ERR_IO &&
                 strstr(err, "not a regular file"),
             "a directory");
    /* Through GDAL's virtual file systems: /vsimem/. */
    VSILFILE *f = VSIFileFromMemBuffer("/vsimem/r2h_test_io", (GByte *)"abcdefgh", 8, FALSE);
    VSIFCloseL(f);
    t_assert(r2h_source_open("/vsimem/r2h_test_io", &s, err, sizeof err) == R2H_OK, err);
    t_assert(r2h_source_size(s) == 8, "vsi size");
    t_assert(r2h_source_pread(s, buf, 3, 5, detail, sizeof detail) == R2H_OK &&
                 memcmp(buf, "fgh", 3) == 0,
             "vsi pread");
    t_assert(r2h_source_pread(s, buf, 3, 6, detail, sizeof detail) == R2H_ERR_FORMAT,
             "vsi short read");
    r2h_source_close(s);
    VSIUnlink("/vsimem/r2h_test_io");
    t_assert(r2h_source_open("/vsimem/r2h_missing", &s, err, sizeof err) == R2H_ERR_INPUT,
             "missing vsi file");
    r2h_source_close(NULL);
}

TEST(json)
{
    struct r2h_buf b = {0};
    t_assert(r2h_buf_printf(&b, "{\"n\": %d, ", 42) == R2H_OK, "printf");
    t_assert(r2h_json_string(&b, "a\"b\\c\n\x01\xc3\xa9") == R2H_OK, "string");
    r2h_buf_printf(&b, ", ");
    r2h_json_string(&b, NULL);
    r2h_buf_printf(&b, ", ");
    r2h_json_number(&b, 0.1);
    r2h_buf_printf(&b, ", ");
    r2h_json_number(&b, 1.0 / 0.0);
    r2h_buf_printf(&b, "}");
    const char *want = "{\"n\": 42, \"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\", \"\", "
                       "0.10000000000000001, null}";
    t_assert(b.len == strlen(want) && strcmp((const char *)b.data, want) == 0,
             "escapes, NUL-terminated, %.17g, null");
    char e[8];
    t_assert(r2h_json_escape_byte('"', e) == 2 && strcmp(e, "\\\"") == 0, "escape quote");
    t_assert(r2h_json_escape_byte(0x1f, e) == 6 && strcmp(e, "\\u001f") == 0, "escape control");
    t_assert(r2h_json_escape_byte('x', e) == 1 && strcmp(e, "x") == 0, "plain byte");
    r2h_buf_clear(&b);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    t_assert(r2h_buf_printf(&b, "%s", big) == R2H_OK && b.len == 999 &&
                 strcmp((const char *)b.data, big) == 0,
             "long appends are not truncated");
    r2h_buf_free(&b);
}

int main(void)
{
    fprintf(stderr, "test_io\n");
    RUN(locations);
    RUN(classify);
    RUN(collector);
    RUN(messages);
    RUN(source);
    RUN(json);
    TEST_MAIN_END();
}
