/* cells.c - cells by enumeration rather than by point: the descendants of a cell in index order
 * with their positions in the cell's own plane, cell centres, and the test that tells when those
 * positions are a smooth map of the centres (one icosahedron face). For --method sample
 * (docs/design/0009-cell-sampling.md). */
#include <string.h>

#include <h3/h3api.h>

#include "r2h_index.h"

/* IJK coordinates (H3's coordijk.c conventions): unit vectors of the digits 0..6. */
static const int UNIT[7][3] = {{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1},
                               {1, 0, 0}, {1, 0, 1}, {1, 1, 0}};

/* One step to the next finer grid: counter-clockwise aperture 7 (Class III resolutions) or
 * clockwise (Class II), as H3's _downAp7 and _downAp7r, without normalising (positions are
 * what matter, and (i, j, k) and (i+1, j+1, k+1) are the same position). */
static void down(int64_t v[3], int level)
{
    static const int CCW[3][3] = {{3, 0, 1}, {1, 3, 0}, {0, 1, 3}};
    static const int CW[3][3] = {{3, 1, 0}, {0, 3, 1}, {1, 0, 3}};
    const int(*m)[3] = (level & 1) ? CCW : CW;
    int64_t o[3] = {0, 0, 0};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            o[b] += v[a] * m[a][b];
    memcpy(v, o, sizeof o);
}

void r2h_index_offsets(int res0, int res, double (*off)[7][2])
{
    for (int level = res0 + 1; level <= res; level++) {
        for (int d = 0; d < 7; d++) {
            int64_t v[3] = {UNIT[d][0], UNIT[d][1], UNIT[d][2]};
            for (int l = level + 1; l <= res; l++)
                down(v, l);
            /* Plane position in units of the res grid: (i - k, j - k) as H3's _ijkToHex2d
             * without its fixed linear map (the caller's model absorbs it). */
            off[level - res0 - 1][d][0] = (double)(v[0] - v[2]);
            off[level - res0 - 1][d][1] = (double)(v[1] - v[2]);
        }
    }
}

size_t r2h_index_descendants(uint64_t parent, int res, uint64_t *cells, double *u, double *v)
{
    return r2h_index_descendants_with(parent, res, NULL, cells, u, v);
}

size_t r2h_index_descendants_with(uint64_t parent, int res, const double (*given)[7][2],
                                  uint64_t *cells, double *u, double *v)
{
    const int pres = getResolution(parent);
    const int K = res - pres;
    if (K < 0 || K > R2H_INDEX_MAX_LEVELS || res > R2H_MAX_RES)
        return 0;
    /* The first descendant: resolution res, digits pres+1..res zero. */
    uint64_t h = (parent & ~((uint64_t)0xf << 52)) | ((uint64_t)res << 52);
    for (int l = pres + 1; l <= res; l++)
        h &= ~((uint64_t)7 << ((15 - l) * 3));
    if (K == 0) {
        cells[0] = h;
        if (u) {
            u[0] = 0;
            v[0] = 0;
        }
        return 1;
    }
    const int pent = isPentagon(parent);
    double own[R2H_INDEX_MAX_LEVELS][7][2];
    const double(*off)[7][2] = given;
    if (u && !given) {
        r2h_index_offsets(pres, res, own);
        off = (const double(*)[7][2])own;
    }
    int dig[R2H_INDEX_MAX_LEVELS + 1] = {0};
    double pu[R2H_INDEX_MAX_LEVELS + 1] = {0}, pv[R2H_INDEX_MAX_LEVELS + 1] = {0};
    const int last = K - 1; /* index of the innermost level */
    const int lshift = (15 - res) * 3;
    size_t n = 0;
    for (;;) {
        /* Outer digits dig[0..last-1] fixed: pu/pv[last] is their position, h their index. */
        int lead = 0; /* first non-zero outer digit (pentagons: 1 is a deleted subsequence) */
        if (pent)
            for (int i = 0; i < last && !lead; i++)
                lead = dig[i];
        if (!(pent && lead == 1)) {
            for (int d = 0; d < 7; d++) {
                if (pent && lead == 0 && d == 1)
                    continue;
                cells[n] = h | ((uint64_t)d << lshift);
                if (u) {
                    u[n] = pu[last] + off[last][d][0];
                    v[n] = pv[last] + off[last][d][1];
                }
                n++;
            }
        }
        /* Odometer over the outer digits. */
        int i = last - 1;
        while (i >= 0 && dig[i] == 6) {
            h &= ~((uint64_t)7 << ((15 - (pres + 1 + i)) * 3));
            dig[i--] = 0;
        }
        if (i < 0)
            break;
        dig[i]++;
        h = (h & ~((uint64_t)7 << ((15 - (pres + 1 + i)) * 3))) |
            ((uint64_t)dig[i] << ((15 - (pres + 1 + i)) * 3));
        if (u)
            for (int j = i; j < last; j++) {
                pu[j + 1] = pu[j] + off[j][dig[j]][0];
                pv[j + 1] = pv[j] + off[j][dig[j]][1];
            }
    }
    return n;
}

void r2h_index_centres(const uint64_t *cells, size_t n, double *lat, double *lng)
{
    for (size_t i = 0; i < n; i++) {
        LatLng g = {0, 0};
        cellToLatLng(cells[i], &g);
        lat[i] = radsToDegs(g.lat);
        lng[i] = radsToDegs(g.lng);
    }
}

int r2h_index_one_face(uint64_t cell)
{
    int max = 0, faces[20];
    if (maxFaceCount(cell, &max) != E_SUCCESS || max > 20)
        return -1;
    for (int i = 0; i < max; i++)
        faces[i] = -1;
    if (getIcosahedronFaces(cell, faces) != E_SUCCESS)
        return -1;
    int f = -1;
    for (int i = 0; i < max; i++) {
        if (faces[i] < 0)
            continue;
        if (f >= 0 && faces[i] != f)
            return -1;
        f = faces[i];
    }
    return f;
}

int r2h_index_planar(uint64_t cell)
{
    /* The descendants' centres lie within the cell and its neighbours; when those all touch
     * one face only, every descendant is on that face and its centre is the face's gnomonic
     * projection of its position (an affine image of r2h_index_descendants' u, v): smooth.
     * Under a pentagon base cell H3 rotates the subsequences by their leading non-zero digit,
     * which is the same for all descendants of a cell that is not a pentagon itself (a
     * rotation is affine too); pentagons are left out. */
    if (isPentagon(cell))
        return 0;
    H3Index disk[7] = {0};
    if (gridDisk(cell, 1, disk) != E_SUCCESS)
        return 0;
    const int f = r2h_index_one_face(cell);
    if (f < 0)
        return 0;
    for (int i = 0; i < 7; i++)
        if (disk[i] && r2h_index_one_face(disk[i]) != f)
            return 0;
    return 1;
}

size_t r2h_index_children(uint64_t cell, uint64_t out[7])
{
    int64_t n = 0;
    const int res = getResolution(cell);
    if (res >= R2H_MAX_RES || cellToChildrenSize(cell, res + 1, &n) != E_SUCCESS || n > 7)
        return 0;
    H3Index kids[7] = {0};
    if (cellToChildren(cell, res + 1, kids) != E_SUCCESS)
        return 0;
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (kids[i])
            out[k++] = kids[i];
    return k;
}

int r2h_index_resolution(uint64_t cell)
{
    return getResolution(cell);
}

double r2h_index_edge_km(int res)
{
    double e = 0;
    return getHexagonEdgeLengthAvgKm(res, &e) == E_SUCCESS ? e : 0;
}

uint64_t r2h_index_cell_at(double lat, double lng, int res)
{
    LatLng g = {degsToRads(lat), degsToRads(lng)};
    H3Index h = 0;
    return latLngToCell(&g, res, &h) == E_SUCCESS ? h : 0;
}

uint64_t r2h_index_descendant(uint64_t parent, int res, uint64_t i, double (*off)[7][2], double *u,
                              double *v)
{
    const int pres = getResolution(parent);
    uint64_t h = (parent & ~((uint64_t)0xf << 52)) | ((uint64_t)res << 52);
    double su = 0, sv = 0;
    for (int l = res; l > pres; l--) {
        const int d = (int)(i % 7);
        i /= 7;
        const int shift = (15 - l) * 3;
        h = (h & ~((uint64_t)7 << shift)) | ((uint64_t)d << shift);
        if (off) {
            su += off[l - pres - 1][d][0];
            sv += off[l - pres - 1][d][1];
        }
    }
    if (u) {
        *u = su;
        *v = sv;
    }
    return h;
}

double r2h_index_cell_area_m2(double lat, double lng, int res)
{
    LatLng g = {degsToRads(lat), degsToRads(lng)};
    H3Index h = 0;
    double a = 0;
    if (latLngToCell(&g, res, &h) != E_SUCCESS || cellAreaM2(h, &a) != E_SUCCESS)
        return 0;
    return a;
}
