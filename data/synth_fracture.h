/* data/synth_fracture.h: the S4 synthetic nasal-fracture benchmark (docs/synthetic.md).
 *
 * S4 (../shared/design/papers.md) classifies nasal-bone fractures on 256x256 crops of lateral
 * skull X-rays; no public fracture labels exist, so a seeded generator draws a fracture-like
 * defect across the nasal bone of a share of the crops and records its mask.
 *
 * Geometry (lateral view, face to the right; measured on the Hamedan films): the nasal bone runs
 * from the nasion A (point `point_a`, default l2) to its tip T = A + tip * L, L = |B - A| with
 * B = point `point_b` (default l15, subnasale), tip = (0.22, 0.39) in units of L. Pixel
 * coordinates as data/sample.h (x = column, y = row down, pixel centres at integers).
 *
 * Defect model (one per fracture crop; pixel constants scale with k = min(H, W) / 256):
 *   - a segment crossing A->T at C = A + t (T - A), t ~ U(0.25, 0.85), its direction the bone
 *     normal turned by U(-30, 30) deg, length l ~ U(0.06, 0.12) L, centred on C;
 *   - sigma = 1.2 k px (line width), d(p) = distance of pixel p to the segment (rounded ends);
 *   - (b) step displacement: on one side of the segment's line (chosen at random), the image is
 *     resampled (bilinear, edge clamped) at p - w(p) s 3k n, n = the bone normal with a random
 *     sign, w(p) = side(p) f(|p - C|; l / 2) f(dist to the line; 5 sigma): side(p) a smoothstep
 *     over +-sigma / 2 across the line, f(r; R) = 1 for r <= 0.6 R, a raised cosine down to 0 at
 *     R. The displaced fragment's bone edges show a step of s 3k px at the line that returns
 *     smoothly to place within 5 sigma (no seam at the disc edge, change kept local);
 *   - (a) dark line on the displaced image: x' = x - s (x - b) g(d), g(d) = exp(-d^2 / (2 sigma^2))
 *     (cut at d = 5 sigma), b = the 10th percentile of the original pixels within l / 2 + 3 sigma
 *     of C (the local soft-tissue level);
 *   - intensity match: x'' = x' + w_c(p) (alpha x' + beta), w_c = 1 for d <= 3 sigma, a raised
 *     cosine to 0 at 5 sigma; alpha, beta solve mean(x'') = mean(x) and std(x'') = std(x)
 *     exactly (a quadratic in alpha; the root of least |alpha|). When no root exists the window is
 *     widened (x2, x4) and finally the whole image (a global affine map). Values are kept within
 *     the original's [min, max] (clamped, then the match re-solved on the unclamped pixels).
 *     A global affine map would spread as much change over the whole crop as the defect itself
 *     holds; the local one keeps every pixel farther than 5 sigma from the segment (and outside
 *     the step band) bit-identical.
 *   - mask: 1 where d <= max(1.5 sigma, 1 px), else 0.
 * Strength s in [0, 1] scales both effects; s = 0 leaves the image bit-identical and the mask
 * empty (the label is still "fracture": a control for label leaks).
 *
 * Randomness: Philox (core/rng.h) keyed by mt_rng_derive(seed, tag, sample index): a sample's
 * defect and its selection key depend on (seed, index) only.
 */
#ifndef MT_DATA_SYNTH_FRACTURE_H
#define MT_DATA_SYNTH_FRACTURE_H

#include <stdint.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options of the generator (mt_synth_fracture_params_init gives the defaults). */
typedef struct mt_synth_fracture_params {
    double strength;         /* s in [0, 1]; default 0.5 */
    double fraction;         /* share of each split's crops that get a defect, [0, 1]; default 0.5 */
    uint64_t seed;           /* default 0 */
    const char *point_a;     /* name of A (nasion) in point_names; default "l2" */
    const char *point_b;     /* name of B (subnasale) in point_names; default "l15" */
    double tip[2];           /* T - A in units of L = |B - A|; default (0.22, 0.39) */
    const char *description; /* stored as the description attribute (NULL: a generated text) */
} mt_synth_fracture_params;

void mt_synth_fracture_params_init(mt_synth_fracture_params *p);

/* One drawn defect, in the pixel coordinates of its crop. */
typedef struct mt_synth_fracture_defect {
    double a[2], tip[2];     /* nasion A and bone tip T */
    double bone_length;      /* L = |B - A| */
    double t;                /* crossing fraction along A->T */
    double angle_deg;        /* turn of the segment from the bone normal */
    double length;           /* segment length (px) */
    double centre[2];        /* C = A + t (T - A) */
    double p0[2], p1[2];     /* segment ends */
    double normal[2];        /* unit bone normal, signed: the direction the fragment moves */
    int side;                /* +1 / -1: which side of the segment's line is displaced */
    double sigma;            /* line width (px), 1.2 k */
    double shift;            /* step displacement at s = 1 (px), 3 k */
    double mask_radius;      /* max(1.5 sigma, 1) px */
} mt_synth_fracture_defect;

/* Draws the defect of sample `index` of a crop of h x w pixels whose A and B landmarks are
 * a[2] and b[2] (pixels), from the stream (p->seed, index).
 * Errors: MT_ERR_INVALID (non-finite landmarks, A == B, bad tip, h or w < 1). */
mt_status mt_synth_fracture_draw(const mt_synth_fracture_params *p, int64_t index, const float a[2],
                                 const float b[2], int h, int w, mt_synth_fracture_defect *out);

/* Applies a defect with strength s to a grey image in[h][w] (one channel): out[h][w] receives the
 * defect image (same mean and standard deviation as in, to float rounding), mask[h][w] (may be
 * NULL) the 0/1 defect mask. in and out must not overlap.
 * Errors: MT_ERR_INVALID (s outside [0, 1], NULL buffers, a constant image whose statistics
 * cannot be matched), MT_ERR_NOMEM. */
mt_status mt_synth_fracture_apply(const mt_synth_fracture_defect *d, double strength, const float *in, int h,
                                  int w, float *out, uint8_t *mask);

/* Counts per split (0 train, 1 val, 2 test, 3 none). */
typedef struct mt_synth_fracture_report {
    int n[4];
    int n_fracture[4];
} mt_synth_fracture_report;

/* Writes the benchmark: every crop of `crops_path` (layout docs/dataset.md; C = 1, /points with
 * a point_names attribute) in the same order, with the same points, boxes, metadata and splits
 * (each sample keeps its split), exactly round(fraction n_split) crops of each split with a
 * defect, chosen by their Philox keys; /labels 0 normal / 1 fracture (class_names
 * normal,fracture; input labels are replaced), /masks one channel "defect" (input masks are
 * replaced), the preprocess attribute extended with the generator's parameters. Written
 * atomically (data/dataset.h writer). `report` (may be NULL) receives the counts.
 * Errors: MT_ERR_INVALID (C != 1, no /points or point_names, a bone point name not in
 * point_names, a NaN landmark: the sample's index and source, strength or fraction outside
 * [0, 1], a defect centre outside its crop), MT_ERR_IO / MT_ERR_FORMAT from the dataset code. */
mt_status mt_synth_fracture_dataset(const char *crops_path, const char *out_path, const mt_synth_fracture_params *p,
                                    mt_synth_fracture_report *report);

#ifdef __cplusplus
}
#endif
#endif
