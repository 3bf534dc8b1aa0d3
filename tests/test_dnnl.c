/* tests/test_dnnl.c: the oneDNN convolution path (core/ops/dnnl.h,
 * conv_dnnl.c) against the im2col + OpenBLAS path on a grid of conv2d and
 * conv_transpose2d shapes (groups 1, 2 and depthwise, stride 2, dilation 2,
 * asymmetric padding, 1x1, output_padding, bias / no bias, odd sizes, batch 1
 * and 3): forward output and the gradients of x, w and b for loss = sum(y * gy),
 * with both oneDNN layouts (blocked "any" and plain nchw). Tolerance as the
 * PyTorch-fixture tests: |a - ref| <= 1e-5 |ref| + 1e-5 max|ref|.
 * Also: the primitive cache (hits, LRU bound, release), the MT_CONV_IMPL
 * switch, and a oneDNN failure reported as an error naming the primitive. */
#include "../core/alloc.h"
#include "../core/device.h"
#include "../core/ops.h"
#include "../core/ops/dnnl.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if MT_HAVE_DNNL

typedef struct conv_case {
    const char *name;
    int transposed, N, C, H, W, O, KH, KW;
    int stride, dil, groups, bias;
    int pt, pb, pl, pr, out_pad;
} conv_case;

static const conv_case CASES[] = {
    /* name                       T  N  C   H   W   O  KH KW  s  d  g  b  pt pb pl pr op */
    {"3x3 pad1 odd",              0, 3, 5, 9, 11, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {"3x3 stride2 tf-same even",  0, 3, 4, 10, 8, 6, 3, 3, 2, 1, 1, 1, 0, 1, 0, 1, 0},
    {"3x3 stride2 odd no bias",   0, 1, 3, 9, 7, 5, 3, 3, 2, 1, 1, 0, 1, 1, 1, 1, 0},
    {"dilation2 groups2",         0, 2, 6, 12, 9, 4, 3, 3, 1, 2, 2, 1, 2, 2, 2, 2, 0},
    {"depthwise 3x3 stride2",     0, 2, 8, 11, 11, 8, 3, 3, 2, 1, 8, 1, 1, 1, 1, 1, 0},
    {"depthwise x2 5x5 asym",     0, 2, 4, 9, 10, 8, 5, 5, 1, 1, 4, 0, 1, 3, 2, 2, 0},
    {"1x1",                       0, 3, 16, 7, 5, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    {"1x1 stride2 no bias",       0, 2, 8, 9, 9, 12, 1, 1, 2, 1, 1, 0, 0, 0, 0, 0, 0},
    {"rect 3x5 asym pad",         0, 2, 5, 8, 13, 6, 3, 5, 1, 1, 1, 1, 0, 2, 1, 3, 0},
    {"7x7 stride2 pad3 C3",       0, 2, 3, 17, 15, 16, 7, 7, 2, 1, 1, 1, 3, 3, 3, 3, 0},
    {"64->64 3x3 16x16",          0, 2, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {"convT 2x2 s2 (U-Net up)",   1, 2, 8, 5, 6, 4, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0},
    {"convT 3x3 s2 pad1 outpad1", 1, 3, 4, 5, 5, 6, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},
    {"convT groups2 dil2 no bias", 1, 2, 6, 6, 7, 4, 3, 3, 1, 2, 2, 0, 1, 1, 1, 1, 0},
    {"convT asym pad",            1, 2, 5, 7, 6, 3, 4, 3, 2, 1, 1, 1, 1, 2, 0, 1, 0},
    {"convT depthwise s2",        1, 2, 6, 5, 5, 6, 3, 3, 2, 1, 6, 1, 1, 1, 1, 1, 1},
    {"convT 1x1",                 1, 2, 12, 5, 7, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

static mt_tensor *random_tensor(int ndim, const int *shape, uint64_t *state)
{
    mt_tensor *t = mt_tensor_new(MT_REAL, mt_cpu(), ndim, shape);
    if (!t) return NULL;
    mt_real *v = MT_DATA(t);
    for (size_t i = 0; i < mt_numel(t); i++) {
        *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = (mt_real)((double)(*state >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
    }
    return t;
}

/* y, gx, gw, gb of one case (gb NULL without bias); the same seed gives the same data. */
typedef struct conv_result {
    mt_tensor *y, *gx, *gw, *gb;
} conv_result;

static void result_release(conv_result *r)
{
    mt_tensor_release(r->y), mt_tensor_release(r->gx), mt_tensor_release(r->gw), mt_tensor_release(r->gb);
    memset(r, 0, sizeof *r);
}

static mt_status run_conv(const conv_case *c, conv_result *r)
{
    uint64_t st = 12345;
    memset(r, 0, sizeof *r);
    int xs[4] = {c->N, c->C, c->H, c->W};
    int ws[4] = {c->transposed ? c->C : c->O, c->transposed ? c->O / c->groups : c->C / c->groups, c->KH, c->KW};
    int bs[1] = {c->O};
    mt_tensor *x = random_tensor(4, xs, &st), *w = random_tensor(4, ws, &st);
    mt_tensor *b = c->bias ? random_tensor(1, bs, &st) : NULL;
    mt_status s = MT_ERR_NOMEM;
    if (!x || !w || (c->bias && !b)) goto done;
    mt_requires_grad(x, 1);
    mt_requires_grad(w, 1);
    if (b) mt_requires_grad(b, 1);
    if (c->transposed) {
        mt_conv_transpose2d_params p = mt_conv_transpose2d_default();
        p.stride_h = p.stride_w = c->stride;
        p.dil_h = p.dil_w = c->dil;
        p.groups = c->groups;
        p.pad_top = c->pt, p.pad_bottom = c->pb, p.pad_left = c->pl, p.pad_right = c->pr;
        p.out_pad_h = p.out_pad_w = c->out_pad;
        r->y = mt_conv_transpose2d(x, w, b, p);
    } else {
        mt_conv2d_params p = mt_conv2d_default();
        p.stride_h = p.stride_w = c->stride;
        p.dil_h = p.dil_w = c->dil;
        p.groups = c->groups;
        p.pad_top = c->pt, p.pad_bottom = c->pb, p.pad_left = c->pl, p.pad_right = c->pr;
        r->y = mt_conv2d(x, w, b, p);
    }
    if (!r->y) {
        s = mt_last_status();
        goto done;
    }
    mt_tensor *gy = random_tensor(4, r->y->shape, &st);
    s = gy ? mt_backward(r->y, gy, 0) : MT_ERR_NOMEM;
    mt_tensor_release(gy);
    if (s != MT_OK) goto done;
    r->gx = mt_tensor_alias(x->grad);
    r->gw = mt_tensor_alias(w->grad);
    r->gb = b ? mt_tensor_alias(b->grad) : NULL;
done:
    mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b);
    return s;
}

static void check_close(mt_test_ctx *T_, const char *cs, const char *what, const mt_tensor *got, const mt_tensor *ref)
{
    CHECK(got && ref, "%s: %s missing", cs, what);
    CHECK(mt_same_shape(got, ref), "%s: %s shape differs", cs, what);
    char why[256];
    int ok = mt_test_close_f(MT_DATA(got), MT_DATA(ref), mt_numel(ref), 1e-5, 1e-5 * mt_test_max_abs(ref), why, sizeof why);
    CHECK(ok, "%s: %s: oneDNN vs im2col: %s", cs, what, why);
}

/* Every case through oneDNN (layout `plain`) against im2col. */
static void grid(mt_test_ctx *T_, int plain)
{
    int prev_plain = mt_dnnl_set_plain_layout(plain);
    mt_conv_impl prev = mt_conv_get_impl();
    for (int i = 0; i < N_CASES && !T_->failed; i++) {
        conv_result ref, got;
        mt_conv_set_impl(MT_CONV_IMPL_IM2COL);
        mt_status s1 = run_conv(&CASES[i], &ref);
        mt_conv_set_impl(MT_CONV_IMPL_DNNL);
        unsigned long long m0 = mt_dnnl_cache_misses();
        mt_status s2 = run_conv(&CASES[i], &got);
        int built = (int)(mt_dnnl_cache_misses() - m0);
        if (s1 == MT_OK && s2 == MT_OK) {
            /* forward, backward data, backward weights: one primitive each, unless a transposed
             * conv with output_padding beyond its padding stays on im2col (none in this grid) */
            CHECK(built == 3, "%s: %d oneDNN primitives built, expected 3", CASES[i].name, built);
            check_close(T_, CASES[i].name, "y", got.y, ref.y);
            if (!T_->failed) check_close(T_, CASES[i].name, "dL/dx", got.gx, ref.gx);
            if (!T_->failed) check_close(T_, CASES[i].name, "dL/dw", got.gw, ref.gw);
            if (!T_->failed && ref.gb) check_close(T_, CASES[i].name, "dL/db", got.gb, ref.gb);
        }
        result_release(&ref);
        result_release(&got);
        CHECK(s1 == MT_OK && s2 == MT_OK, "%s: %s", CASES[i].name, mt_last_error());
    }
    mt_conv_set_impl(prev);
    mt_dnnl_set_plain_layout(prev_plain);
}

TEST(dnnl_conv_grid_matches_im2col)
{
    grid(T_, 0);
}

TEST(dnnl_conv_grid_plain_layout_matches_im2col)
{
    grid(T_, 1);
}

/* Same shape again: no new primitive; capacity 2: at most 2 held, still right; release empties. */
TEST(dnnl_primitive_cache_reuses_and_bounds)
{
    mt_conv_impl prev = mt_conv_set_impl(MT_CONV_IMPL_DNNL);
    conv_result a, b;
    CHECK_OK(run_conv(&CASES[0], &a));
    unsigned long long m0 = mt_dnnl_cache_misses();
    CHECK_OK(run_conv(&CASES[0], &b));
    CHECK(mt_dnnl_cache_misses() == m0, "a second run of the same shape built %llu primitives",
          mt_dnnl_cache_misses() - m0);
    CHECK(!memcmp(MT_DATA(a.y), MT_DATA(b.y), mt_numel(a.y) * sizeof(mt_real)), "cached primitive: y differs");
    result_release(&b);
    int cap = mt_dnnl_cache_set_capacity(2);
    CHECK(mt_dnnl_cache_size() <= 2, "capacity 2 left %d entries", mt_dnnl_cache_size());
    for (int i = 1; i < 5 && !T_->failed; i++) {
        CHECK_OK(run_conv(&CASES[i], &b));
        result_release(&b);
        CHECK(mt_dnnl_cache_size() <= 2, "capacity 2 holds %d entries", mt_dnnl_cache_size());
    }
    CHECK_OK(run_conv(&CASES[0], &b)); /* evicted, rebuilt: the same numbers */
    CHECK(!memcmp(MT_DATA(a.y), MT_DATA(b.y), mt_numel(a.y) * sizeof(mt_real)), "rebuilt primitive: y differs");
    result_release(&b);
    mt_dnnl_cache_set_capacity(cap);
    mt_dnnl_release();
    CHECK(mt_dnnl_cache_size() == 0, "release left %d entries", mt_dnnl_cache_size());
    CHECK_OK(run_conv(&CASES[0], &b)); /* the engine comes back after a release */
    CHECK(!memcmp(MT_DATA(a.y), MT_DATA(b.y), mt_numel(a.y) * sizeof(mt_real)), "after release: y differs");
    result_release(&a);
    result_release(&b);
    mt_conv_set_impl(prev);
}

/* MT_CONV_IMPL=im2col builds no oneDNN primitive; dnnl does. */
TEST(dnnl_conv_impl_switch)
{
    mt_conv_impl prev = mt_conv_set_impl(MT_CONV_IMPL_IM2COL);
    mt_dnnl_release();
    conv_result r;
    unsigned long long m0 = mt_dnnl_cache_misses();
    CHECK_OK(run_conv(&CASES[1], &r));
    result_release(&r);
    CHECK(mt_dnnl_cache_misses() == m0 && mt_dnnl_cache_size() == 0, "im2col built %llu oneDNN primitives",
          mt_dnnl_cache_misses() - m0);
    mt_conv_set_impl(MT_CONV_IMPL_DNNL);
    CHECK_OK(run_conv(&CASES[1], &r));
    result_release(&r);
    CHECK(mt_dnnl_cache_size() == 3, "dnnl: %d cached primitives, expected 3", mt_dnnl_cache_size());
    mt_conv_set_impl(prev);
}

/* After a warm-up, oneDNN convolutions (reorder scratch and scratchpads included) take
 * nothing from the backend: all from medtrain's caching allocator (the lean step). */
TEST(dnnl_conv_steps_allocate_nothing_after_warmup)
{
    mt_conv_impl prev = mt_conv_set_impl(MT_CONV_IMPL_DNNL);
    conv_result r;
    for (int i = 0; i < N_CASES && !T_->failed; i++) { /* warm-up */
        CHECK_OK(run_conv(&CASES[i], &r));
        result_release(&r);
    }
    unsigned long long before = mt_alloc_backend_count(MT_CPU);
    for (int rep = 0; rep < 2; rep++)
        for (int i = 0; i < N_CASES && !T_->failed; i++) {
            CHECK_OK(run_conv(&CASES[i], &r));
            result_release(&r);
        }
    CHECK(mt_alloc_backend_count(MT_CPU) == before, "%llu backend allocations after the warm-up",
          mt_alloc_backend_count(MT_CPU) - before);
    mt_conv_set_impl(prev);
}

/* A primitive oneDNN cannot build: the error names the call, the status and the primitive. */
static mt_status bad_build(const void *ctx, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                           dnnl_primitive_desc_t *pd, mt_dnnl_args *args)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {-3, 4};
    MT_DNNL_TRY(dnnl_memory_desc_init_by_tag(&md, 2, d, dnnl_f32, dnnl_ab), (const char *)ctx);
    return MT_OK;
}

TEST(dnnl_failure_names_the_primitive)
{
    int key = 424242;
    void *ptr[1] = {NULL};
    CHECK_FAILS(mt_dnnl_run(&key, sizeof key, "test primitive [-3, 4]", bad_build, "test primitive [-3, 4]", ptr),
                MT_ERR_INVALID, "test primitive [-3, 4]");
    CHECK(strstr(mt_last_error(), "dnnl_memory_desc_init_by_tag") && strstr(mt_last_error(), "invalid_arguments"),
          "message: %s", mt_last_error());
    mt_error_clear();
}

#endif
