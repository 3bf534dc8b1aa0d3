/* data/synth_fracture.c: one synthetic nasal-bone fracture: its draw from the Philox stream of
 * (seed, sample) and its application to a crop (step displacement, dark line, local intensity
 * match, mask). The model is described in data/synth_fracture.h and docs/synthetic.md; the
 * dataset-level generator is data/synth_fracture_dataset.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "synth_fracture.h"

#define PI 3.14159265358979323846
#define TAG_DEFECT 0x53594e46445546ULL /* sub-stream tag of the defect draws */

/* constants at a 256-pixel crop (scaled by min(H, W) / 256) */
#define SIGMA_256 1.2
#define SHIFT_256 3.0
#define CUT_SIGMAS 5.0  /* the line, the step band and the intensity window end at 5 sigma */

void mt_synth_fracture_params_init(mt_synth_fracture_params *p)
{
    memset(p, 0, sizeof *p);
    p->strength = 0.5;
    p->fraction = 0.5;
    p->point_a = "l2";
    p->point_b = "l15";
    p->tip[0] = 0.22;
    p->tip[1] = 0.39;
}

mt_status mt_synth_fracture_draw(const mt_synth_fracture_params *p, int64_t index, const float a[2],
                                 const float b[2], int h, int w, mt_synth_fracture_defect *out)
{
    MT_REQUIRE(p && a && b && out, "mt_synth_fracture_draw: NULL argument");
    MT_REQUIRE(h > 0 && w > 0, "mt_synth_fracture_draw: crop size %dx%d", h, w);
    MT_REQUIRE(isfinite(a[0]) && isfinite(a[1]) && isfinite(b[0]) && isfinite(b[1]),
               "mt_synth_fracture_draw: missing (NaN) bone landmark");
    MT_REQUIRE(isfinite(p->tip[0]) && isfinite(p->tip[1]) && (p->tip[0] != 0 || p->tip[1] != 0),
               "synth-fracture: tip offset (%g, %g) must be finite and non-zero", p->tip[0], p->tip[1]);
    memset(out, 0, sizeof *out);
    double L = hypot((double)b[0] - a[0], (double)b[1] - a[1]);
    MT_REQUIRE(L > 0, "mt_synth_fracture_draw: bone points A and B coincide at (%g, %g)", a[0], a[1]);
    uint64_t s = mt_rng_derive(p->seed, TAG_DEFECT, (uint64_t)index);
    double k = (h < w ? h : w) / 256.0;
    out->a[0] = a[0], out->a[1] = a[1];
    out->tip[0] = a[0] + p->tip[0] * L, out->tip[1] = a[1] + p->tip[1] * L;
    out->bone_length = L;
    out->t = 0.25 + 0.60 * mt_philox_uniform_d(s, 0);
    out->angle_deg = -30.0 + 60.0 * mt_philox_uniform_d(s, 1);
    out->length = (0.06 + 0.06 * mt_philox_uniform_d(s, 2)) * L;
    double sign = mt_philox_uniform_d(s, 3) < 0.5 ? -1.0 : 1.0;
    out->side = mt_philox_uniform_d(s, 4) < 0.5 ? -1 : 1;
    double ux = out->tip[0] - out->a[0], uy = out->tip[1] - out->a[1], ul = hypot(ux, uy);
    ux /= ul, uy /= ul;
    double nx = -uy, ny = ux; /* bone normal */
    out->normal[0] = sign * nx, out->normal[1] = sign * ny;
    out->centre[0] = out->a[0] + out->t * (out->tip[0] - out->a[0]);
    out->centre[1] = out->a[1] + out->t * (out->tip[1] - out->a[1]);
    double th = out->angle_deg * PI / 180.0, c = cos(th), sn = sin(th);
    double dx = c * nx - sn * ny, dy = sn * nx + c * ny; /* the normal turned by the angle */
    out->p0[0] = out->centre[0] - 0.5 * out->length * dx, out->p0[1] = out->centre[1] - 0.5 * out->length * dy;
    out->p1[0] = out->centre[0] + 0.5 * out->length * dx, out->p1[1] = out->centre[1] + 0.5 * out->length * dy;
    out->sigma = SIGMA_256 * k;
    out->shift = SHIFT_256 * k;
    out->mask_radius = fmax(1.5 * out->sigma, 1.0);
    return MT_OK;
}

/* 1 for r <= 0.6 R, a raised cosine down to 0 at R (a smooth edge: no seam) */
static double falloff(double r, double R)
{
    if (r <= 0.6 * R) return 1.0;
    if (r >= R) return 0.0;
    return 0.5 * (1.0 + cos(PI * (r - 0.6 * R) / (0.4 * R)));
}

/* the geometry of a pixel relative to the segment */
typedef struct seg_geom {
    double dseg;  /* distance to the segment (rounded ends) */
    double dline; /* signed distance to the segment's infinite line */
    double r;     /* distance to the centre */
} seg_geom;

static seg_geom geom_at(const mt_synth_fracture_defect *d, double x, double y)
{
    double vx = d->p1[0] - d->p0[0], vy = d->p1[1] - d->p0[1], vv = vx * vx + vy * vy;
    double q = vv > 0 ? ((x - d->p0[0]) * vx + (y - d->p0[1]) * vy) / vv : 0.5;
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    double ex = x - (d->p0[0] + q * vx), ey = y - (d->p0[1] + q * vy);
    double len = sqrt(vv);
    seg_geom g;
    g.dseg = hypot(ex, ey);
    g.dline = len > 0 ? ((x - d->centre[0]) * -vy + (y - d->centre[1]) * vx) / len : 0;
    g.r = hypot(x - d->centre[0], y - d->centre[1]);
    return g;
}

/* bilinear sample with edge clamping */
static double bilinear(const float *im, int h, int w, double x, double y)
{
    x = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
    y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
    int x0 = (int)floor(x), y0 = (int)floor(y);
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    double fx = x - x0, fy = y - y0;
    double top = im[(size_t)y0 * w + x0] * (1 - fx) + im[(size_t)y0 * w + x1] * fx;
    double bot = im[(size_t)y1 * w + x0] * (1 - fx) + im[(size_t)y1 * w + x1] * fx;
    return top * (1 - fy) + bot * fy;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* 10th percentile (nearest rank) of the pixels within `radius` of the centre; the image mean
 * when no pixel centre is that close (a defect off the crop). */
static mt_status soft_tissue_level(const mt_synth_fracture_defect *d, const float *im, int h, int w,
                                   double radius, double *level)
{
    int x0 = (int)fmax(0, floor(d->centre[0] - radius)), x1 = (int)fmin(w - 1, ceil(d->centre[0] + radius));
    int y0 = (int)fmax(0, floor(d->centre[1] - radius)), y1 = (int)fmin(h - 1, ceil(d->centre[1] + radius));
    size_t cap = x1 >= x0 && y1 >= y0 ? (size_t)(x1 - x0 + 1) * (size_t)(y1 - y0 + 1) : 0, n = 0;
    float *v = mt_malloc(sizeof(float) * (cap + 1));
    if (!v) return MT_ERR_NOMEM;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            if (hypot(x - d->centre[0], y - d->centre[1]) <= radius) v[n++] = im[(size_t)y * w + x];
    if (n == 0) {
        double s = 0;
        for (size_t i = 0; i < (size_t)h * w; i++) s += im[i];
        *level = s / ((double)h * w);
    } else {
        qsort(v, n, sizeof *v, cmp_float);
        *level = v[(size_t)floor(0.1 * (double)(n - 1) + 0.5)];
    }
    free(v);
    return MT_OK;
}

/* Solves x'' = y + wc (alpha y + beta) for mean(x'') = m0 and sum(x''^2) = q0 (n pixels),
 * wc[i] the window; the root of least |alpha|. Returns 0 when there is none. */
static int solve_match(const double *y, const double *wc, size_t n, double m0, double q0, double *alpha,
                       double *beta)
{
    double Y1 = 0, Y2 = 0, W0 = 0, W1 = 0, W2 = 0, U0 = 0, V1 = 0, V2 = 0;
    for (size_t i = 0; i < n; i++) {
        double v = y[i], c = wc[i];
        Y1 += v, Y2 += v * v;
        if (c == 0) continue;
        W0 += c, W1 += c * v, W2 += c * v * v;
        U0 += c * c, V1 += c * c * v, V2 += c * c * v * v;
    }
    if (!(W0 > 0)) return 0;
    double b0 = ((double)n * m0 - Y1) / W0, b1 = -W1 / W0;
    double A = V2 + 2 * b1 * V1 + b1 * b1 * U0;
    double B = 2 * W2 + 2 * b1 * W1 + 2 * b0 * V1 + 2 * b0 * b1 * U0;
    double C = Y2 + 2 * b0 * W1 + b0 * b0 * U0 - q0;
    double al;
    if (fabs(A) < 1e-300) {
        if (B == 0) return C == 0 ? (*alpha = 0, *beta = b0, 1) : 0;
        al = -C / B;
    } else {
        double disc = B * B - 4 * A * C;
        if (disc < 0) return 0;
        double sq = sqrt(disc);
        /* numerically stable roots; pick the one of least magnitude */
        double qq = -0.5 * (B + (B >= 0 ? sq : -sq));
        double r1 = qq / A, r2 = qq != 0 ? C / qq : r1;
        al = fabs(r1) < fabs(r2) ? r1 : r2;
    }
    *alpha = al;
    *beta = b0 + b1 * al;
    return 1;
}

/* Matches mean and standard deviation of y (in place) to the original image's, correcting within
 * the window wc (widened, then global, when the window cannot reach the target), keeping values in
 * [lo, hi]. */
static mt_status match_statistics(const mt_synth_fracture_defect *d, const float *in, int h, int w, double *y,
                                  double *wc)
{
    size_t n = (size_t)h * w;
    double m0 = 0, q0 = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = in[i];
        m0 += v, q0 += v * v;
        lo = fmin(lo, v), hi = fmax(hi, v);
    }
    m0 /= (double)n;
    static const double widen[4] = {1, 2, 4, 0}; /* 0: the whole image */
    for (int wi = 0; wi < 4; wi++) {
        double inner = 3 * d->sigma * widen[wi], outer = CUT_SIGMAS * d->sigma * widen[wi];
        int ok = 1;
        for (int iter = 0; iter < 12 && ok; iter++) {
            for (int py = 0; py < h; py++)
                for (int px = 0; px < w; px++) {
                    size_t i = (size_t)py * w + px;
                    double c = 1.0;
                    if (widen[wi] > 0) {
                        double ds = geom_at(d, px, py).dseg;
                        c = ds <= inner ? 1.0 : ds >= outer ? 0.0 : 0.5 * (1 + cos(PI * (ds - inner) / (outer - inner)));
                    }
                    wc[i] = (y[i] <= lo || y[i] >= hi) && iter > 0 ? 0.0 : c; /* clamped pixels stay */
                }
            double al, be;
            if (!solve_match(y, wc, n, m0, q0, &al, &be)) {
                ok = 0;
                break;
            }
            int clamped = 0;
            for (size_t i = 0; i < n; i++) {
                if (wc[i] == 0) continue;
                double v = y[i] + wc[i] * (al * y[i] + be);
                if (v < lo) v = lo, clamped = 1;
                if (v > hi) v = hi, clamped = 1;
                y[i] = v;
            }
            if (!clamped) return MT_OK;
        }
        if (ok) return MT_OK; /* clamping did not settle in 12 rounds: within rounding of the target */
    }
    return MT_ERR(MT_ERR_INVALID, "synth-fracture: the defect image's mean and standard deviation cannot be matched "
                                  "to the crop's (a constant crop?)");
}

mt_status mt_synth_fracture_apply(const mt_synth_fracture_defect *d, double s, const float *in, int h, int w,
                                  float *out, uint8_t *mask)
{
    MT_REQUIRE(d && in && out && h > 0 && w > 0, "mt_synth_fracture_apply: bad arguments");
    MT_REQUIRE(s >= 0 && s <= 1, "synth-fracture: strength %g outside [0, 1]", s);
    size_t n = (size_t)h * w;
    memcpy(out, in, n * sizeof *out);
    if (mask) memset(mask, 0, n);
    if (s == 0) return MT_OK; /* bit-identical, empty mask */
    double level;
    MT_TRY(soft_tissue_level(d, in, h, w, 0.5 * d->length + 3 * d->sigma, &level));
    double *y = mt_malloc(sizeof(double) * n), *wc = mt_malloc(sizeof(double) * n);
    if (!y || !wc) {
        free(y);
        free(wc);
        return MT_ERR_NOMEM;
    }
    double R = 0.5 * d->length, band = CUT_SIGMAS * d->sigma, shift = s * d->shift;
    for (int py = 0; py < h; py++)
        for (int px = 0; px < w; px++) {
            size_t i = (size_t)py * w + px;
            seg_geom g = geom_at(d, px, py);
            double v = in[i];
            /* (b) step displacement of one side, a smoothstep over +-sigma/2 across the line */
            double t = (d->side * g.dline) / d->sigma + 0.5;
            double side = t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t);
            double ws = side * falloff(g.r, R) * falloff(fabs(g.dline), band);
            if (ws > 0) v = bilinear(in, h, w, px - ws * shift * d->normal[0], py - ws * shift * d->normal[1]);
            /* (a) dark line towards the soft-tissue level */
            if (g.dseg < CUT_SIGMAS * d->sigma)
                v -= s * (v - level) * exp(-g.dseg * g.dseg / (2 * d->sigma * d->sigma));
            y[i] = v;
            if (mask) mask[i] = g.dseg <= d->mask_radius;
        }
    mt_status st = match_statistics(d, in, h, w, y, wc);
    if (st == MT_OK)
        for (size_t i = 0; i < n; i++) out[i] = (float)y[i];
    free(y);
    free(wc);
    return st;
}
