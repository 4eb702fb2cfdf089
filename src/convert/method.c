/* method.c - how pixels become cells (docs/design/0009-cell-sampling.md): which method a run
 * takes (point, sample, auto), the point method's warning when cells are finer than pixels,
 * the sample method's checks, its fingerprint and footer text, and its --dry-run plan. */
#include <math.h>
#include <string.h>

#include "convert_internal.h"
#include "r2h_index.h"
#include "r2h_scan.h"

/* The area of the raster's centre pixel and of the cell at the resolution there (m2); 0 when
 * the pixel does not transform. */
static void local_areas(struct run *run, double *pixel, double *cell)
{
    double lat[4], lng[4];
    const struct r2h_raster_info *in = run->info;
    *pixel = *cell = 0;
    if (r2h_raster_pixel_corners(run->raster, in->height / 2, in->width / 2, lat, lng) != R2H_OK)
        return;
    double clat, clng;
    r2h_quad_centre(lat, lng, &clat, &clng);
    *pixel = r2h_quad_area_m2(lat, lng);
    *cell = r2h_index_cell_area_m2(clat, clng, run->opt->resolution);
}

int r2h_conv_method_sample(struct run *run)
{
    const struct r2h_convert_options *o = run->opt;
    if (o->method == R2H_METHOD_SAMPLE || o->method == R2H_METHOD_OVERLAY)
        return 1;
    double px, cell;
    local_areas(run, &px, &cell);
    run->pixel_area = px;
    run->cell_area = cell;
    /* AUTO: sample when the cell at the raster's centre is smaller than the pixel there. */
    return o->method == R2H_METHOD_AUTO && px > 0 && cell > 0 && cell < px;
}

const char *r2h_conv_method_spec(const struct run *run)
{
    static const char *const spec[] = {"method=sample;resample=nearest",
                                       "method=sample;resample=bilinear",
                                       "method=sample;resample=cubic"};
    const int k = run->opt->resample;
    if (run->overlay)
        return r2h_overlay_spec(run->overlay);
    return spec[k >= 0 && k <= 2 ? k : 0];
}

const char *r2h_conv_method_meta(const struct run *run)
{
    /* the spec without its "method=" (the overlay's has none) */
    const char *s = r2h_conv_method_spec(run);
    return strncmp(s, "method=", 7) == 0 ? s + 7 : s;
}

enum r2h_status r2h_conv_check_method(struct run *run, int sample)
{
    const struct r2h_convert_options *o = run->opt;
    if (o->method == R2H_METHOD_AUTO)
        r2h_conv_event_line(run, R2H_EVENT_NOTE,
                            "--method auto chose %s (cell at resolution %d %.4g m2, pixel %.4g m2)",
                            sample ? "sample" : "point", o->resolution, run->cell_area,
                            run->pixel_area);
    else if (!sample && run->cell_area > 0 && run->cell_area < 0.5 * run->pixel_area)
        r2h_conv_warn(run,
                      "at resolution %d cells (%.4g m2) are smaller than the pixels (%.4g m2): "
                      "most cells over the raster get no row; --method sample gives each one "
                      "the value at its centre",
                      o->resolution, run->cell_area, run->pixel_area);
    if (!sample)
        return R2H_OK;
    if (o->method == R2H_METHOD_OVERLAY)
        return r2h_overlay_create(run, &run->overlay);
    if (o->aggregate || o->density_unit != R2H_DENSITY_NONE || o->stats) {
        r2h_fmt(run->err, run->errlen,
                "--method sample gives one value per cell: --aggregate, --stat and "
                "--density-unit do not apply");
        return R2H_ERR_INVALID;
    }
    if (o->resample == R2H_RESAMPLE_NEAREST)
        return R2H_OK;
    struct r2h_bands *b = run->bands;
    if (b->n != 1) {
        r2h_fmt(run->err, run->errlen,
                "--resample bilinear and cubic take one band (--bands gives %d)", b->n);
        return R2H_ERR_INVALID;
    }
    /* One float64 value per cell: the value records handed to the writer are doubles. */
    b->dt[0] = R2H_DT_FLOAT64;
    b->off[0] = 0;
    b->pixel_size = sizeof(double);
    return r2h_bands_layout(b, run->err, run->errlen);
}

enum r2h_status r2h_conv_sample_plan_events(struct run *run)
{
    const struct r2h_convert_options *opt = run->opt;
    struct r2h_cells_options co = {.resolution = opt->resolution,
                                   .kernel = run->overlay ? R2H_KERNEL_OVERLAY : R2H_KERNEL_NEAREST,
                                   .work_unit = opt->work_unit,
                                   .skip = run->skip,
                                   .window_pixels = (size_t)4 << 20};
    struct r2h_cells_plan plan;
    enum r2h_status st = r2h_scan_cells_plan(run->raster, &co, &plan, run->err, run->errlen);
    if (st != R2H_OK)
        return st;
    run->cells_mode = 1;
    r2h_conv_plan_events(run); /* kept and redone partitions, or nothing to do */
    if (opt->work_unit >= 0 ? run->skip[opt->work_unit] : r2h_conv_manifest_done(run)) {
        r2h_scan_cells_plan_free(&plan);
        return R2H_OK;
    }
    int parts = 0;
    uint8_t seen[R2H_NUM_BASE_CELLS] = {0};
    for (size_t i = 0; i < plan.n; i++) {
        const int bc = r2h_index_base_cell(plan.chunks[i]);
        parts += !seen[bc];
        seen[bc] = 1;
    }
    if (run->overlay)
        r2h_conv_event_line(run, R2H_EVENT_PLAN_LINE,
                            "overlay %s on up to %llu cells of resolution %d (%zu chunks of "
                            "resolution %d in %d partitions), columns %s",
                            opt->input, (unsigned long long)plan.cells_total, opt->resolution,
                            plan.n, plan.chunk_res, parts,
                            strstr(r2h_overlay_spec(run->overlay), "columns=") + 8);
    else
        r2h_conv_event_line(run, R2H_EVENT_PLAN_LINE,
                            "sample %s at up to %llu cells of resolution %d (%zu chunks of "
                            "resolution %d in %d partitions), kernel %s",
                            opt->input, (unsigned long long)plan.cells_total, opt->resolution,
                            plan.n, plan.chunk_res, parts, r2h_conv_method_meta(run) + 16);
    r2h_scan_cells_plan_free(&plan);
    return R2H_OK;
}
