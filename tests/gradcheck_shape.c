/* tests/gradcheck_shape.c: float64 (mt_real = double) central finite
 * differences for upsample2d (nearest, bilinear align_corners 0/1), pad2d
 * (constant/reflect/replicate), concat, split (several outputs), slice,
 * crop2d, reshape/flatten and permute. Loss and harness: tests/gradcheck.h. */
#include <string.h>

#include "../core/ops.h"
#include "../core/rng.h"
#include "gradcheck.h"
#include "test.h"

/* ---------------------------------------------------------------- ops --- */

typedef struct up_ctx {
    int oh, ow, mode, ac;
} up_ctx;

static int f_up(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    const up_ctx *c = ctx;
    out[0] = mt_upsample2d(in[0], c->oh, c->ow, (mt_upsample_mode)c->mode, c->ac);
    return out[0] ? 1 : 0;
}

static int f_pad(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    const int *v = ctx; /* top, bottom, left, right, mode */
    out[0] = mt_pad2d(in[0], v[0], v[1], v[2], v[3], (mt_pad_mode)v[4], 0.25);
    return out[0] ? 1 : 0;
}

static int f_concat(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_concat(3, in, *(const int *)ctx);
    return out[0] ? 1 : 0;
}

static int f_split(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    int sizes[3] = {1, 3, 2};
    return mt_split(in[0], *(const int *)ctx, 3, sizes, out) == MT_OK ? 3 : 0;
}

static int f_slice_crop(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_slice(in[0], 1, 1, 3);
    out[1] = mt_crop2d(in[0], 1, 1, 3, 2);
    return out[0] && out[1] ? 2 : 0;
}

static int f_permute_reshape(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    int perm[4] = {3, 0, 2, 1}, shape[3] = {2, -1, 5};
    out[0] = mt_permute(in[0], 4, perm);
    out[1] = mt_reshape(in[0], 3, shape);
    out[2] = mt_flatten(in[0], 1);
    return out[0] && out[1] && out[2] ? 3 : 0;
}

TEST(gradcheck_upsample2d)
{
    int s[4] = {2, 2, 3, 4};
    mt_tensor *x = gc_randn(4, s, 21, 1, 0);
    mt_requires_grad(x, 1);
    const up_ctx cases[] = {{6, 8, 0, 0}, {5, 7, 0, 0}, {5, 7, 1, 0}, {5, 7, 1, 1}, {2, 3, 1, 0}, {2, 3, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char what[64];
        snprintf(what, sizeof what, "upsample2d -> %dx%d mode %d ac %d", cases[i].oh, cases[i].ow, cases[i].mode,
                 cases[i].ac);
        if (!gc_check(T_, what, f_up, &cases[i], &x, 1, 99)) return;
    }
    mt_tensor_release(x);
}

TEST(gradcheck_pad2d)
{
    int s[4] = {1, 2, 4, 5};
    mt_tensor *x = gc_randn(4, s, 22, 1, 0);
    mt_requires_grad(x, 1);
    for (int m = 0; m < 3; m++) {
        int v[5] = {2, 1, 3, 4, m};
        char what[32];
        snprintf(what, sizeof what, "pad2d mode %d", m);
        if (!gc_check(T_, what, f_pad, v, &x, 1, 99)) return;
    }
    mt_tensor_release(x);
}

TEST(gradcheck_concat_split)
{
    int a[3] = {2, 1, 3}, b[3] = {2, 3, 3}, c[3] = {2, 2, 3}, s[3] = {2, 6, 3};
    mt_tensor *in[3] = {gc_randn(3, a, 23, 1, 0), gc_randn(3, b, 24, 1, 0), gc_randn(3, c, 25, 1, 0)};
    for (int i = 0; i < 3; i++) mt_requires_grad(in[i], 1);
    int dim = 1;
    if (!gc_check(T_, "concat dim 1", f_concat, &dim, in, 3, 99)) return;
    mt_tensor *x = gc_randn(3, s, 26, 1, 0);
    mt_requires_grad(x, 1);
    gc_check(T_, "split [1, 3, 2] dim 1", f_split, &dim, &x, 1, 99);
    for (int i = 0; i < 3; i++) mt_tensor_release(in[i]);
    mt_tensor_release(x);
}

TEST(gradcheck_slice_crop_permute_reshape)
{
    int s[4] = {2, 4, 5, 3};
    mt_tensor *x = gc_randn(4, s, 27, 1, 0);
    mt_requires_grad(x, 1);
    if (!gc_check(T_, "slice + crop2d", f_slice_crop, NULL, &x, 1, 99)) return;
    gc_check(T_, "permute + reshape + flatten", f_permute_reshape, NULL, &x, 1, 99);
    mt_tensor_release(x);
}
