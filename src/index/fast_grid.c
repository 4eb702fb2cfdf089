/* fast_grid.c - fast exact cells for geographic raster rows and for general point lists. */
#include <math.h>
#include <string.h>

#include <h3/h3api.h>

#include "fast_model.h"
#include "r2h_index_fast.h"

struct r2h_fast_grid {
    int width, height, res;
    double gt[6];
    /* Per column: cos, sin and value of the longitude in radians; per row the same for the
     * latitude. The reference's unit vector is (cos lng * cos lat, sin lng * cos lat, sin lat)
     * from exactly these doubles. */
    double *lng_cos, *lng_sin, *lng_rad;
    double *lat_cos, *lat_sin, *lat_rad;
};

/* Last cell found, keyed by its certified face and lattice coordinates: neighbouring pixels in
 * the same hex get the same cell without recomputing digits, and the ancestors of the last
 * hex shorten the digit computation of the next. */
struct cell_cache {
    int face, i, j; /* face -1: no last cell */
    uint64_t cell;
    struct r2h_fast_chain chain;
};

static uint64_t reference_cell(double lat_rad, double lng_rad, int res)
{
    const LatLng g = {lat_rad, lng_rad};
    H3Index h = 0;
    if (latLngToCell(&g, res, &h) != E_SUCCESS)
        h = 0;
    return h;
}

enum r2h_status r2h_fast_grid_create(const double gt[6], int width, int height, int res,
                                     struct r2h_fast_grid **out)
{
    if (!gt || !out || width <= 0 || height <= 0 || res < 0 || res > 15 || gt[2] != 0.0 ||
        gt[4] != 0.0)
        return R2H_ERR_INVALID;
    for (int k = 0; k < 6; k++)
        if (!isfinite(gt[k]))
            return R2H_ERR_INVALID;
    r2h_fast_model_init();
    struct r2h_fast_grid *g = r2h_calloc(1, sizeof *g);
    if (!g)
        return R2H_ERR_NOMEM;
    g->width = width;
    g->height = height;
    g->res = res;
    memcpy(g->gt, gt, sizeof g->gt);
    double *cols = r2h_malloc(3 * (size_t)width * sizeof *cols);
    double *rows = r2h_malloc(3 * (size_t)height * sizeof *rows);
    if (!cols || !rows) {
        r2h_free(cols);
        r2h_free(rows);
        r2h_free(g);
        return R2H_ERR_NOMEM;
    }
    g->lng_cos = cols;
    g->lng_sin = cols + width;
    g->lng_rad = cols + 2 * (size_t)width;
    g->lat_cos = rows;
    g->lat_sin = rows + height;
    g->lat_rad = rows + 2 * (size_t)height;
    /* Same expressions as r2h_raster_locate_row; the cross terms are products with zero, so
     * a column's longitude does not depend on the row (and vice versa). */
    for (int c = 0; c < width; c++) {
        const double cc = c + 0.5;
        const double lng = r2h_normalise_lng(gt[0] + cc * gt[1] + 0.5 * gt[2]);
        const double r = degsToRads(lng);
        g->lng_rad[c] = r;
        g->lng_cos[c] = cos(r);
        g->lng_sin[c] = sin(r);
    }
    for (int row = 0; row < height; row++) {
        const double rc = row + 0.5;
        const double lat = gt[3] + 0.5 * gt[4] + rc * gt[5];
        const double r = degsToRads(lat);
        g->lat_rad[row] = r;
        g->lat_cos[row] = cos(r);
        g->lat_sin[row] = sin(r);
    }
    *out = g;
    return R2H_OK;
}

void r2h_fast_grid_free(struct r2h_fast_grid *g)
{
    if (!g)
        return;
    r2h_free(g->lng_cos);
    r2h_free(g->lat_cos);
    r2h_free(g);
}

/* Cell of a certified key, with the reference (at the same radians) when the table does not
 * know it yet; returns 1 when the reference was called. */
static int cell_of_key(int res, struct r2h_fast_key *key, double lat_rad, double lng_rad,
                       struct cell_cache *cache, uint64_t *cell)
{
    if (key->face == cache->face && key->i == cache->i && key->j == cache->j) {
        *cell = cache->cell;
        return 0;
    }
    uint64_t h = 0;
    const int st = r2h_fast_cell_of(res, key, &cache->chain, &h);
    int fell = 0;
    if (st != R2H_FAST_OK) {
        h = reference_cell(lat_rad, lng_rad, res);
        fell = 1;
        if (st != R2H_FAST_LEARN) {
            cache->face = -1;
            *cell = h;
            return 1; /* not a certified key: do not cache */
        }
        r2h_fast_learn(res, key, h);
    }
    cache->face = key->face;
    cache->i = key->i;
    cache->j = key->j;
    cache->cell = h;
    *cell = h;
    return fell;
}

/* Unit vectors of a block of points (components), their certified keys and cells. */
#define BLOCK 64
struct block {
    double vx[BLOCK], vy[BLOCK], vz[BLOCK], lat[BLOCK], lng[BLOCK];
    int ci[BLOCK], cj[BLOCK];
    uint8_t ok[BLOCK];
};

/* Cells of the first m points of a block (vx/vy/vz/lat/lng filled; use[k] == 0 -> cell 0).
 * *hint is the face tried first. Returns the number of reference calls. */
static uint64_t block_cells(struct block *b, int m, const uint8_t *use, int res, int *hint,
                            struct cell_cache *cache, uint64_t *cells)
{
    const struct r2h_fast_frame *fr = &r2h_fast_model_g.frame[res];
    const int mm = (m + 3) & ~3;
    for (int k = m; k < mm; k++)
        b->vx[k] = b->vy[k] = b->vz[k] = 0.0; /* d = 0: never certified */
    r2h_fast_locate_block(fr, *hint, b->vx, b->vy, b->vz, mm, b->ci, b->cj, b->ok);
    uint64_t fell = 0;
    for (int k = 0; k < m; k++) {
        if (use && !use[k]) {
            cells[k] = 0;
            continue;
        }
        struct r2h_fast_key key;
        if (b->ok[k]) {
            key.face = *hint;
            key.i = b->ci[k];
            key.j = b->cj[k];
        } else {
            const double v[3] = {b->vx[k], b->vy[k], b->vz[k]};
            int h = *hint;
            if (!r2h_fast_locate(fr, v, &h, &key)) {
                cells[k] = reference_cell(b->lat[k], b->lng[k], res);
                fell++;
                continue;
            }
        }
        fell += (uint64_t)cell_of_key(res, &key, b->lat[k], b->lng[k], cache, &cells[k]);
    }
    if (cache->face >= 0)
        *hint = cache->face;
    return fell;
}

/* 1 if any of the n flags is non-zero. */
static int any_set(const uint8_t *f, int n)
{
    for (int i = 0; i < n; i++)
        if (f[i])
            return 1;
    return 0;
}

void r2h_fast_grid_cells(const struct r2h_fast_grid *g, int row, int col0, int n, const uint8_t *ok,
                         uint64_t *cells, uint64_t *fallbacks)
{
    if (n <= 0)
        return;
    if (row < 0 || row >= g->height || col0 < 0 || col0 > g->width - n) {
        /* Outside the precomputed tables: same centres, general path. */
        double lat[256], lng[256];
        const double rc = row + 0.5;
        for (int i0 = 0; i0 < n; i0 += 256) {
            const int m = n - i0 < 256 ? n - i0 : 256;
            for (int i = 0; i < m; i++) {
                const double cc = (col0 + i0 + i) + 0.5;
                lng[i] = r2h_normalise_lng(g->gt[0] + cc * g->gt[1] + rc * g->gt[2]);
                lat[i] = g->gt[3] + cc * g->gt[4] + rc * g->gt[5];
            }
            r2h_index_cells_fast(lat, lng, ok ? ok + i0 : NULL, (size_t)m, g->res, cells + i0,
                                 fallbacks);
        }
        return;
    }
    const struct r2h_fast_model *m = &r2h_fast_model_g;
    const double cr = g->lat_cos[row], sr = g->lat_sin[row], lat_rad = g->lat_rad[row];
    struct cell_cache cache = {.face = -1, .chain = {.face = -1}};
    struct block b;
    uint64_t fell = 0;
    int hint = 0;
    for (int i0 = 0; i0 < n; i0 += BLOCK) {
        const int mb = n - i0 < BLOCK ? n - i0 : BLOCK;
        if (ok && !any_set(ok + i0, mb)) {
            memset(cells + i0, 0, (size_t)mb * sizeof *cells); /* no valid pixel (NoData runs) */
            continue;
        }
        if (!m->ok) {
            for (int k = 0; k < mb; k++) {
                const int c = col0 + i0 + k;
                cells[i0 + k] =
                    ok && !ok[i0 + k] ? 0 : reference_cell(lat_rad, g->lng_rad[c], g->res);
                fell += !ok || ok[i0 + k];
            }
            continue;
        }
        for (int k = 0; k < mb; k++) {
            const int c = col0 + i0 + k;
            /* Bit-identical to the reference's vector: cos(lng) * cos(lat) etc. */
            b.vx[k] = g->lng_cos[c] * cr;
            b.vy[k] = g->lng_sin[c] * cr;
            b.vz[k] = sr;
            b.lat[k] = lat_rad;
            b.lng[k] = g->lng_rad[c];
        }
        fell += block_cells(&b, mb, ok ? ok + i0 : NULL, g->res, &hint, &cache, cells + i0);
    }
    if (fallbacks)
        *fallbacks += fell;
}

void r2h_index_cells_fast(const double *lat_deg, const double *lng_deg, const uint8_t *ok, size_t n,
                          int res, uint64_t *cells, uint64_t *fallbacks)
{
    if (res < 0 || res > 15) {
        for (size_t i = 0; i < n; i++)
            cells[i] = 0;
        return;
    }
    r2h_fast_model_init();
    const struct r2h_fast_model *m = &r2h_fast_model_g;
    struct cell_cache cache = {.face = -1, .chain = {.face = -1}};
    struct block b;
    uint8_t use[BLOCK];
    uint64_t fell = 0;
    int hint = 0;
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        const int mb = n - i0 < BLOCK ? (int)(n - i0) : BLOCK;
        for (int k = 0; k < mb; k++) {
            const size_t i = i0 + (size_t)k;
            /* lat * k_deg is exactly degsToRads(lat): one multiplication by the same constant. */
            const double lat = lat_deg[i] * m->k_deg, lng = lng_deg[i] * m->k_deg;
            b.lat[k] = lat;
            b.lng[k] = lng;
            use[k] = !ok || ok[i];
            if (!use[k] || !m->ok || !isfinite(lat) || !isfinite(lng)) {
                b.vx[k] = b.vy[k] = b.vz[k] = NAN; /* never certified: reference or 0 */
                continue;
            }
            const double cl = cos(lat);
            b.vx[k] = cos(lng) * cl;
            b.vy[k] = sin(lng) * cl;
            b.vz[k] = sin(lat);
        }
        fell += block_cells(&b, mb, use, res, &hint, &cache, cells + i0);
    }
    if (fallbacks)
        *fallbacks += fell;
}
