/* test_api.c - the public API's contracts that need no data: options structs carry their size
 * (set by the init functions; too small is R2H_ERR_INVALID with a message), and a caller's
 * struct is read only within its struct_size. */
#include <stddef.h>
#include <string.h>

#include "raster2h3.h"
#include "test.h"

TEST(init_sets_struct_size)
{
    struct r2h_convert_options c;
    struct r2h_verify_options v;
    struct r2h_preview_options p;
    r2h_convert_options_init(&c);
    r2h_verify_options_init(&v);
    r2h_preview_options_init(&p);
    t_assert(c.struct_size == sizeof c, "convert options size");
    t_assert(v.struct_size == sizeof v, "verify options size");
    t_assert(p.struct_size == sizeof p, "preview options size");
    t_assert(c.event == NULL && c.progress == R2H_PROGRESS_LINES, "convert defaults");
}

TEST(too_small_is_invalid)
{
    char err[256];
    struct r2h_convert_options c;
    r2h_convert_options_init(&c);
    c.struct_size = 0; /* not initialised */
    c.input = "in.tif";
    c.output = "out";
    err[0] = 0;
    t_assert(r2h_convert(&c, NULL, err, sizeof err) == R2H_ERR_INVALID, "convert size 0");
    t_assert(strstr(err, "r2h_convert_options_init") != NULL, "convert message names init");
    /* The first versioned struct ended with event_ctx: anything shorter is refused. */
    c.struct_size = offsetof(struct r2h_convert_options, event_ctx) + sizeof(void *) - 1;
    t_assert(r2h_convert(&c, NULL, err, sizeof err) == R2H_ERR_INVALID, "convert size - 1");
    t_assert(r2h_convert(NULL, NULL, err, sizeof err) == R2H_ERR_INVALID, "convert NULL");

    struct r2h_verify_options v;
    r2h_verify_options_init(&v);
    v.struct_size = sizeof(size_t);
    v.output = "out";
    err[0] = 0;
    t_assert(r2h_verify(&v, NULL, NULL, NULL, err, sizeof err) == R2H_ERR_INVALID, "verify");
    t_assert(strstr(err, "r2h_verify_options_init") != NULL, "verify message names init");

    struct r2h_preview_options p;
    r2h_preview_options_init(&p);
    p.struct_size = 1;
    p.output = "out";
    p.png = "out.png";
    err[0] = 0;
    t_assert(r2h_preview(&p, err, sizeof err) == R2H_ERR_INVALID, "preview");
    t_assert(strstr(err, "r2h_preview_options_init") != NULL, "preview message names init");

    struct r2h_rasterize_options z;
    r2h_rasterize_options_init(&z);
    t_assert(z.struct_size == sizeof z && z.memory == (uint64_t)1 << 30, "rasterize defaults");
    z.struct_size = offsetof(struct r2h_rasterize_options, memory);
    z.dataset = "ds";
    z.out = "o.tif";
    err[0] = 0;
    t_assert(r2h_rasterize(&z, err, sizeof err) == R2H_ERR_INVALID, "rasterize");
    t_assert(strstr(err, "r2h_rasterize_options_init") != NULL, "rasterize message names init");
}

/* A caller built against a newer header passes a larger struct: the fields this library knows
 * are read, the rest ignored (the run then fails on its missing input, not on the size). */
TEST(larger_is_read_within_our_size)
{
    struct {
        struct r2h_preview_options o;
        char newer_fields[64];
    } big;
    memset(&big, 0x5a, sizeof big);
    r2h_preview_options_init(&big.o);
    big.o.struct_size = sizeof big;
    big.o.output = "/nonexistent/raster2h3-test-dataset";
    big.o.png = "/nonexistent/raster2h3-test.png";
    char err[256] = "";
    enum r2h_status st = r2h_preview(&big.o, err, sizeof err);
    t_assert(st != R2H_OK, "preview of a missing dataset fails");
    t_assert(strstr(err, "struct_size") == NULL, "not on the size");
}

/* cell_type: checked before the run (a bad value, or string cell_string with int64), and read
 * only when struct_size covers it (an older caller's struct ends before it). */
TEST(cell_type_checked_within_size)
{
    char err[256] = "";
    struct r2h_convert_options c;
    r2h_convert_options_init(&c);
    t_assert(c.cell_type == R2H_CELL_UINT64 && c.cell_string == 0, "default uint64");
    c.input = "/nonexistent/raster2h3-test.tif";
    c.output = "/nonexistent/raster2h3-test-out";
    c.progress = R2H_PROGRESS_NONE;
    c.cell_type = (enum r2h_cell_type)7;
    t_assert(r2h_convert(&c, NULL, err, sizeof err) == R2H_ERR_INVALID, "bad cell_type");
    t_assert(strstr(err, "cell_type") != NULL, "message names cell_type");
    c.cell_type = R2H_CELL_INT64;
    c.cell_string = 1;
    err[0] = 0;
    t_assert(r2h_convert(&c, NULL, err, sizeof err) == R2H_ERR_INVALID, "string and int64");
    t_assert(strstr(err, "conflicts") != NULL, "message says conflict");
    c.cell_type = (enum r2h_cell_type)7; /* beyond struct_size: not read */
    c.cell_string = 0;
    c.struct_size = offsetof(struct r2h_convert_options, cell_type);
    err[0] = 0;
    t_assert(r2h_convert(&c, NULL, err, sizeof err) != R2H_OK, "missing input fails");
    t_assert(strstr(err, "cell_type") == NULL, "cell_type not read");
}

/* A caller built before `variable` passes a struct_size that ends before it: the field is not
 * read (here it holds a pointer that would crash if it were). */
TEST(variable_beyond_struct_size_is_not_read)
{
    struct r2h_convert_options c;
    r2h_convert_options_init(&c);
    c.struct_size = offsetof(struct r2h_convert_options, variable);
    c.input = "/nonexistent/raster2h3-test.nc";
    c.output = "/nonexistent/raster2h3-test-out";
    c.progress = R2H_PROGRESS_NONE;
    memset((void *)&c.variable, 0x5a, sizeof c.variable);
    char err[256] = "";
    t_assert(r2h_convert(&c, NULL, err, sizeof err) == R2H_ERR_INPUT, "missing input");
    t_assert(strstr(err, "struct_size") == NULL, "not on the size");
    t_assert(r2h_input_variable(NULL, "x", err, sizeof err, err, sizeof err) == R2H_ERR_INVALID,
             "no input");
    char name[64];
    t_assert(r2h_input_variable("/nonexistent/raster2h3-test.nc", "x", name, sizeof name, err,
                                sizeof err) == R2H_ERR_INPUT,
             "missing container");
}

int main(void)
{
    RUN(init_sets_struct_size);
    RUN(too_small_is_invalid);
    RUN(larger_is_read_within_our_size);
    RUN(cell_type_checked_within_size);
    RUN(variable_beyond_struct_size_is_not_read);
    TEST_MAIN_END();
}
