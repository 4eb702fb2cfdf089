/* test_index.c - unit tests of the index module against H3's own known-answer files. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "r2h_index.h"
#include "test.h"

/* Check every line "<hex> <lat> <lng>" of a known-answer file; returns lines checked. */
static int check_vectors(const char *path, int res)
{
    FILE *f = fopen(path, "r");
    t_assert(f != NULL, "known-answer file present (tests/data/h3-vectors)");
    if (!f)
        return 0;
    char line[256];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long want;
        double lat, lng;
        if (sscanf(line, "%llx %lf %lf", &want, &lat, &lng) != 3)
            continue;
        if (lng > 180.0)
            lng -= 360.0;
        else if (lng < -180.0)
            lng += 360.0;
        uint64_t got;
        r2h_index_cells(&lat, &lng, NULL, 1, res, &got);
        bad += got != want;
        n++;
    }
    fclose(f);
    t_assert(bad == 0, "every known-answer vector matches");
    return n;
}

TEST(known_answers)
{
    static const struct {
        const char *file;
        int res;
    } files[] = {
        {"rand05centers.txt", 5},  {"rand08centers.txt", 8},  {"rand10centers.txt", 10},
        {"rand12centers.txt", 12}, {"rand15centers.txt", 15}, {"bc05r08centers.txt", 8},
        {"bc14r08centers.txt", 8}, {"bc19r08centers.txt", 8}, {"res00ic.txt", 0},
    };
    int total = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "tests/data/h3-vectors/%s", files[i].file);
        total += check_vectors(path, files[i].res);
    }
    t_assert(total > 1000, "vectors were read");
}

TEST(res0_cells)
{
    t_assert(r2h_index_res0_cell(0) == 0x8001fffffffffffULL, "base cell 0");
    t_assert(r2h_index_res0_cell(121) == 0x80f3fffffffffffULL, "base cell 121");
    for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
        t_assert(r2h_index_base_cell(r2h_index_res0_cell(bc)) == bc, "base cell round trip");
}

/* Count samples of [lat_a, lat_b] x [-180, 180] that fall outside their base cell's box. */
static long outside_boxes(const struct r2h_box *box, int res, double lat_a, double lat_b,
                          double dlat, double dlng, long *n)
{
    long outside = 0;
    for (double lat = lat_a; lat <= lat_b; lat += dlat) {
        for (double lng = -180.0; lng <= 180.0; lng += dlng) {
            uint64_t c;
            r2h_index_cells(&lat, &lng, NULL, 1, res, &c);
            const struct r2h_box *b = &box[r2h_index_base_cell(c)];
            int in_lng = 0;
            for (int k = -1; k <= 1; k++)
                in_lng |= lng + 360.0 * k >= b->lng0 && lng + 360.0 * k <= b->lng1;
            outside += !(lat >= b->lat0 && lat <= b->lat1 && in_lng);
            (*n)++;
        }
    }
    return outside;
}

/* Every point lies inside the box of its cell's base cell, at every resolution (finer cells
 * spill outside the resolution-0 polygon): sample the sphere, and the polar caps more densely
 * (there a small distance spans a wide range of longitudes). */
TEST(base_cell_boxes)
{
    static const int resolutions[] = {0, 1, 2, 3, 5, 9};
    struct r2h_box box[R2H_NUM_BASE_CELLS];
    t_assert(r2h_index_base_cell_box(122, 0, &box[0]) == R2H_ERR_INVALID, "122 rejected");
    t_assert(r2h_index_base_cell_box(0, 16, &box[0]) == R2H_ERR_INVALID, "res 16 rejected");
    long n = 0;
    double mean_area = 0;
    for (size_t i = 0; i < sizeof resolutions / sizeof resolutions[0]; i++) {
        const int res = resolutions[i];
        for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
            t_assert(r2h_index_base_cell_box(bc, res, &box[bc]) == R2H_OK, "box computed");
        const double step = res <= 2 ? 0.15 : 0.3;
        t_assert(outside_boxes(box, res, -90.0, 90.0, step, step, &n) == 0, "globe inside boxes");
        t_assert(outside_boxes(box, res, 88.0, 90.0, 0.01, 0.3, &n) == 0, "north cap inside");
        t_assert(outside_boxes(box, res, -90.0, -88.0, 0.01, 0.3, &n) == 0, "south cap inside");
        double area = 0;
        for (int bc = 0; bc < R2H_NUM_BASE_CELLS; bc++)
            area += (box[bc].lat1 - box[bc].lat0) * (box[bc].lng1 - box[bc].lng0);
        mean_area = area / R2H_NUM_BASE_CELLS;
    }
    t_assert(n > 8000000, "sampled");
    /* Boxes are tight enough to be worth it: on average a small part of the globe. */
    t_assert(mean_area < 0.06 * 360 * 180, "boxes are small");
}

int main(void)
{
    RUN(known_answers);
    RUN(res0_cells);
    RUN(base_cell_boxes);
    TEST_MAIN_END();
}
