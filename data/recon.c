/* data/recon.c: reorientation, display slices, MIP/AIP/mid-plane (see recon.h). */
#include "recon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


mt_status mt_volume_reorient(mt_volume *v)
{
    MT_REQUIRE(v && v->data && v->nx > 0 && v->ny > 0 && v->nz > 0, "mt_volume_reorient: empty volume");
    const double target[3] = {-1.0, -1.0, 1.0}; /* RAS sign of the wanted index direction per world axis */
    int n[3] = {v->nx, v->ny, v->nz}, world[3], flip[3], used[3] = {0, 0, 0};
    for (int a = 0; a < 3; a++) {
        int best = 0;
        for (int w = 1; w < 3; w++)
            if (fabs(v->meta.direction[w * 3 + a]) > fabs(v->meta.direction[best * 3 + a])) best = w;
        if (used[best])
            return MT_ERR(MT_ERR_FORMAT, "%s: voxel axes %d and another both point along world axis %d; "
                          "cannot reorient", v->meta.source, a, best);
        used[best] = 1;
        world[a] = best;
        flip[a] = (v->meta.direction[best * 3 + a] > 0) != (target[best] > 0);
    }
    int m[3]; /* new extents */
    for (int a = 0; a < 3; a++) m[world[a]] = n[a];
    size_t total = (size_t)n[0] * n[1] * n[2];
    float *d = mt_malloc(sizeof(float) * total);
    if (!d) return MT_ERR_NOMEM;
    int idx[3];
    for (idx[2] = 0; idx[2] < n[2]; idx[2]++)
        for (idx[1] = 0; idx[1] < n[1]; idx[1]++)
            for (idx[0] = 0; idx[0] < n[0]; idx[0]++) {
                int o[3];
                for (int a = 0; a < 3; a++) o[world[a]] = flip[a] ? n[a] - 1 - idx[a] : idx[a];
                d[((size_t)o[2] * m[1] + o[1]) * m[0] + o[0]] =
                    v->data[((size_t)idx[2] * n[1] + idx[1]) * n[0] + idx[0]];
            }
    mt_meta old = v->meta;
    /* new origin = world position of the old voxel that lands on new (0,0,0) */
    for (int r = 0; r < 3; r++) {
        double p = old.origin[r];
        for (int a = 0; a < 3; a++)
            if (flip[a]) p += old.direction[r * 3 + a] * old.spacing[a] * (n[a] - 1);
        v->meta.origin[r] = p;
    }
    for (int a = 0; a < 3; a++) {
        int b = world[a];
        v->meta.spacing[b] = old.spacing[a];
        for (int r = 0; r < 3; r++) v->meta.direction[r * 3 + b] = (flip[a] ? -1.0 : 1.0) * old.direction[r * 3 + a];
    }
    free(v->data);
    v->data = d;
    v->nx = m[0], v->ny = m[1], v->nz = m[2];
    return MT_OK;
}

/* Linear-interpolation taps along one axis (torch align_corners=False, upsample_linear's
 * clamping): output index o of n_out reads in[i0] * (1 - f) + in[i1] * f of n_in. */
typedef struct lin_tap {
    int i0, i1;
    float f;
} lin_tap;

static lin_tap *linear_taps(int n_in, int n_out)
{
    lin_tap *t = mt_malloc(sizeof *t * (size_t)n_out);
    if (!t) return NULL;
    double scale = (double)n_in / n_out;
    for (int o = 0; o < n_out; o++) {
        double src = (o + 0.5) * scale - 0.5;
        if (src < 0) src = 0;
        int i0 = (int)src;
        if (i0 > n_in - 1) i0 = n_in - 1;
        t[o].i0 = i0;
        t[o].i1 = i0 + 1 < n_in ? i0 + 1 : n_in - 1;
        t[o].f = (float)(src - i0);
    }
    return t;
}

mt_status mt_volume_resample_isotropic(const mt_volume *in, double spacing_mm, mt_volume *out)
{
    MT_REQUIRE(in && in->data && out && in->nx > 0 && in->ny > 0 && in->nz > 0,
               "mt_volume_resample_isotropic: empty volume");
    const double *sp = in->meta.spacing;
    MT_REQUIRE(sp[0] > 0 && sp[1] > 0 && sp[2] > 0,
               "%s: voxel spacing %g x %g x %g mm; cannot resample to isotropic voxels", in->meta.source, sp[0], sp[1],
               sp[2]);
    double s = spacing_mm > 0 ? spacing_mm : fmin(sp[0], fmin(sp[1], sp[2]));
    int n_in[3] = {in->nx, in->ny, in->nz}, n[3];
    double total = 1;
    for (int a = 0; a < 3; a++) {
        double m = floor(n_in[a] * sp[a] / s + 0.5);
        MT_REQUIRE(m < 1e6, "%s: resampling to %g mm gives %.0f voxels along axis %d", in->meta.source, s, m, a);
        n[a] = m < 1 ? 1 : (int)m;
        total *= n[a];
    }
    MT_REQUIRE(total < 2147483648.0,
               "%s: resampling %dx%dx%d voxels to %g mm would make %.0f voxels (over 2^31); choose a larger "
               "isotropic_mm", in->meta.source, in->nx, in->ny, in->nz, s, total);
    memset(out, 0, sizeof *out);
    lin_tap *tx = linear_taps(n_in[0], n[0]), *ty = linear_taps(n_in[1], n[1]), *tz = linear_taps(n_in[2], n[2]);
    float *d = mt_malloc(sizeof(float) * (size_t)total);
    if (!tx || !ty || !tz || !d) {
        free(tx), free(ty), free(tz), free(d);
        return MT_ERR_NOMEM;
    }
    const float *v = in->data;
    size_t sx = 1, sy = (size_t)n_in[0], sz = (size_t)n_in[0] * n_in[1];
#pragma omp parallel for schedule(static)
    for (int z = 0; z < n[2]; z++)
        for (int y = 0; y < n[1]; y++) {
            float *row = d + ((size_t)z * n[1] + y) * n[0];
            size_t z0 = tz[z].i0 * sz, z1 = tz[z].i1 * sz, y0 = ty[y].i0 * sy, y1 = ty[y].i1 * sy;
            float fz = tz[z].f, fy = ty[y].f;
            for (int x = 0; x < n[0]; x++) {
                size_t x0 = tx[x].i0 * sx, x1 = tx[x].i1 * sx;
                float fx = tx[x].f;
                float c00 = v[z0 + y0 + x0] * (1 - fx) + v[z0 + y0 + x1] * fx;
                float c01 = v[z0 + y1 + x0] * (1 - fx) + v[z0 + y1 + x1] * fx;
                float c10 = v[z1 + y0 + x0] * (1 - fx) + v[z1 + y0 + x1] * fx;
                float c11 = v[z1 + y1 + x0] * (1 - fx) + v[z1 + y1 + x1] * fx;
                float c0 = c00 * (1 - fy) + c01 * fy, c1 = c10 * (1 - fy) + c11 * fy;
                row[x] = c0 * (1 - fz) + c1 * fz;
            }
        }
    free(tx), free(ty), free(tz);
    out->nx = n[0], out->ny = n[1], out->nz = n[2];
    out->data = d;
    out->meta = in->meta;
    for (int a = 0; a < 3; a++) out->meta.spacing[a] = s;
    /* the first output voxel centre lies at old index 0.5 * n_in / n - 0.5 along each axis */
    for (int r = 0; r < 3; r++)
        for (int a = 0; a < 3; a++)
            out->meta.origin[r] += in->meta.direction[r * 3 + a] * sp[a] * (0.5 * n_in[a] / n[a] - 0.5);
    return MT_OK;
}

/* Geometry of the display image of a plane: extents, strides and spacings.
 * Display pixel (row r, col c) at depth t maps to voxel index base + r*rs + c*cs + t*ts. */
typedef struct plane_map {
    int rows, cols, depth;
    ptrdiff_t base, rs, cs, ts;
    double row_mm, col_mm, depth_mm;
    int col_axis, row_axis, depth_axis; /* voxel axis of each display axis */
    int row_flip;                       /* 1 when rows run from the last voxel (superior at the top) */
} plane_map;

static plane_map plane_geometry(const mt_volume *v, mt_plane p)
{
    plane_map g;
    ptrdiff_t sx = 1, sy = v->nx, sz = (ptrdiff_t)v->nx * v->ny;
    const double *sp = v->meta.spacing;
    if (p == MT_PLANE_AXIAL) {
        g = (plane_map){v->ny, v->nx, v->nz, 0, sy, sx, sz, sp[1], sp[0], sp[2], 0, 1, 2, 0};
    } else if (p == MT_PLANE_CORONAL) {
        g = (plane_map){v->nz, v->nx, v->ny, (v->nz - 1) * sz, -sz, sx, sy, sp[2], sp[0], sp[1], 0, 2, 1, 1};
    } else {
        g = (plane_map){v->nz, v->ny, v->nx, (v->nz - 1) * sz, -sz, sy, sx, sp[2], sp[1], sp[0], 1, 2, 0, 1};
    }
    return g;
}

/* Fills out's metadata for a display image of plane map g (slice `t`, or NAN position). */
static void plane_meta(const mt_volume *v, const plane_map *g, double t, mt_meta *m)
{
    *m = v->meta;
    const mt_meta *vm = &v->meta;
    m->spacing[0] = g->col_mm;
    m->spacing[1] = g->row_mm;
    m->spacing[2] = g->depth_mm;
    int ax[3] = {g->col_axis, g->row_axis, g->depth_axis};
    for (int r = 0; r < 3; r++) {
        m->direction[r * 3 + 0] = vm->direction[r * 3 + ax[0]];
        m->direction[r * 3 + 1] = vm->direction[r * 3 + ax[1]] * (g->row_flip ? -1.0 : 1.0);
        m->direction[r * 3 + 2] = vm->direction[r * 3 + ax[2]];
        double o = vm->origin[r];
        if (g->row_flip) o += vm->direction[r * 3 + ax[1]] * vm->spacing[ax[1]] * (g->rows - 1);
        if (!isnan(t)) o += vm->direction[r * 3 + ax[2]] * vm->spacing[ax[2]] * t;
        m->origin[r] = o;
    }
    m->slice_position = isnan(t) ? NAN
                                 : m->origin[0] * m->direction[2] + m->origin[1] * m->direction[5] +
                                       m->origin[2] * m->direction[8];
}

static mt_status make_image(mt_sample *out, int h, int w)
{
    mt_sample_free(out);
    out->image = mt_malloc(sizeof(float) * (size_t)h * w);
    if (!out->image) return MT_ERR_NOMEM;
    out->c = 1, out->h = h, out->w = w;
    return MT_OK;
}

mt_status mt_volume_slice(const mt_volume *v, mt_plane plane, int index, mt_sample *out)
{
    MT_REQUIRE(v && v->data && out, "mt_volume_slice: NULL argument");
    plane_map g = plane_geometry(v, plane);
    MT_REQUIRE(index >= 0 && index < g.depth, "mt_volume_slice: slice %d outside 0..%d of %s", index, g.depth - 1,
               v->meta.source);
    MT_TRY(make_image(out, g.rows, g.cols));
    for (int r = 0; r < g.rows; r++)
        for (int c = 0; c < g.cols; c++)
            out->image[(size_t)r * g.cols + c] = v->data[g.base + r * g.rs + c * g.cs + index * g.ts];
    plane_meta(v, &g, index, &out->meta);
    return MT_OK;
}

mt_status mt_recon(const mt_volume *v, mt_plane plane, mt_recon_kind kind, mt_sample *out)
{
    MT_REQUIRE(v && v->data && out, "mt_recon: NULL argument");
    plane_map g = plane_geometry(v, plane);
    if (kind == MT_RECON_MID) {
        MT_TRY(mt_volume_slice(v, plane, g.depth / 2, out));
    } else {
        MT_TRY(make_image(out, g.rows, g.cols));
        for (int r = 0; r < g.rows; r++)
            for (int c = 0; c < g.cols; c++) {
                const float *p = v->data + g.base + r * g.rs + c * g.cs;
                double acc = kind == MT_RECON_MIP ? -INFINITY : 0.0;
                for (int t = 0; t < g.depth; t++) {
                    double x = p[t * g.ts];
                    acc = kind == MT_RECON_MIP ? (x > acc ? x : acc) : acc + x;
                }
                out->image[(size_t)r * g.cols + c] = (float)(kind == MT_RECON_MIP ? acc : acc / g.depth);
            }
        plane_meta(v, &g, NAN, &out->meta);
    }
    return MT_OK;
}

mt_status mt_recon_nine(const mt_volume *v, double iso_mm, mt_sample out[9])
{
    MT_REQUIRE(v && out, "mt_recon_nine: NULL argument");
    mt_volume iso;
    MT_TRY(mt_volume_resample_isotropic(v, iso_mm, &iso));
    mt_status st = MT_OK;
    for (int i = 0; i < 9 && st == MT_OK; i++) st = mt_recon(&iso, (mt_plane)(i / 3), (mt_recon_kind)(i % 3), &out[i]);
    if (st != MT_OK)
        for (int i = 0; i < 9; i++) mt_sample_free(&out[i]);
    mt_volume_free(&iso);
    return st;
}

mt_status mt_plane_parse(const char *s, mt_plane *p)
{
    static const char *names[] = {"axial", "coronal", "sagittal"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) return *p = (mt_plane)i, MT_OK;
    return MT_ERR(MT_ERR_INVALID, "unknown plane \"%s\" (axial, coronal or sagittal)", s ? s : "(null)");
}

mt_status mt_recon_kind_parse(const char *s, mt_recon_kind *k)
{
    static const char *names[] = {"mip", "aip", "mid"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) return *k = (mt_recon_kind)i, MT_OK;
    return MT_ERR(MT_ERR_INVALID, "unknown reconstruction \"%s\" (mip, aip or mid)", s ? s : "(null)");
}
