/* tests/test_amp.c: mixed precision against PyTorch 1.13 (tests/fixtures/amp.h5,
 * written by tests/fixtures/gen_amp.py):
 *  - the cast op's bits equal torch's x.to(bfloat16) / x.to(float16) (ties to
 *    even, inf, float32 subnormals, overflow, f16 subnormals; a NaN stays a
 *    NaN, its payload bits aside), widening is
 *    exact, and the gradient of a round trip is the gradient rounded;
 *  - conv2d, conv_transpose2d and linear given bf16 / f16 inputs: output and
 *    gradients within bf16 / f16 tolerance of torch's CPU bf16 ops (or the
 *    wide-accumulation reference where torch has none), explicitly cast and
 *    under autocast (bit-identical);
 *  - autocast casts only the listed ops and leaves the others float32; a
 *    non-listed op refuses a bf16 input with a message naming op and dtype. */
#include "../core/device.h"
#include "../core/ops.h"
#include "fixture.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define AMP_H5 "tests/fixtures/amp.h5"

/* bits of a 16-bit tensor on the host */
static uint16_t *bits16(const mt_tensor *t)
{
    uint16_t *h = malloc(mt_nbytes(t));
    if (h && mt_tensor_to_host(t, h, mt_nbytes(t)) != MT_OK) {
        free(h);
        return NULL;
    }
    return h;
}

static void check_cast(mt_test_ctx *T_, mt_dtype dt, const char *bits_ds, const char *back_ds)
{
    mt_tensor *x = fx_load(AMP_H5, "cast/x"), *ref = fx_load(AMP_H5, bits_ds), *back = fx_load(AMP_H5, back_ds);
    CHECK_NOTNULL(x);
    CHECK_NOTNULL(ref);
    CHECK_NOTNULL(back);
    mt_tensor *y = mt_to_dtype(x, dt);
    CHECK_NOTNULL(y);
    CHECK(y->dtype == dt, "cast output is %s", mt_dtype_name(y->dtype));
    uint16_t *h = bits16(y);
    CHECK_NOTNULL(h);
    const int32_t *r = mt_data(ref);
    const mt_real *xv = MT_DATA(x);
    size_t n = mt_numel(x);
    /* a NaN may differ in its bits (torch's AVX2 path gives 0xFFFF, its scalar path 0x7FC0, ours 0x7FC0) */
    const unsigned exp_mask = dt == MT_BF16 ? 0x7f80u : 0x7c00u, man_mask = dt == MT_BF16 ? 0x7fu : 0x3ffu;
    for (size_t i = 0; i < n; i++) {
        const int nan_h = (h[i] & exp_mask) == exp_mask && (h[i] & man_mask);
        const int nan_r = ((unsigned)r[i] & exp_mask) == exp_mask && ((unsigned)r[i] & man_mask);
        CHECK(h[i] == (uint16_t)r[i] || (nan_h && nan_r), "%s of x[%zu] = %.9g: bits 0x%04x, torch 0x%04x",
              mt_dtype_name(dt), i, (double)xv[i], h[i], (unsigned)r[i]);
    }
    free(h);
    mt_tensor *w = mt_to_dtype(y, MT_F32); /* widening is exact, NaN stays NaN */
    CHECK_NOTNULL(w);
    const mt_real *wv = MT_DATA(w), *bv = MT_DATA(back);
    for (size_t i = 0; i < n; i++)
        CHECK((isnan(wv[i]) && isnan(bv[i])) || wv[i] == bv[i], "widened %s x[%zu]: %.9g, torch %.9g",
              mt_dtype_name(dt), i, (double)wv[i], (double)bv[i]);
    mt_tensor_release(w), mt_tensor_release(y);
    mt_tensor_release(x), mt_tensor_release(ref), mt_tensor_release(back);
}

TEST(amp_cast_bits_match_torch)
{
    check_cast(T_, MT_BF16, "cast/bf16_bits", "cast/bf16_back");
    if (!T_->failed) check_cast(T_, MT_F16, "cast/f16_bits", "cast/f16_back");
}

/* x (f32, grad) -> bf16 -> f32: x.grad is the incoming gradient rounded to bf16 (torch) */
TEST(amp_cast_gradient_rounds)
{
    const mt_real xs[4] = {1, 2, 3, 4}, gs[4] = {1.00390625f, 1.01171875f, -3.3e-3f, 70000.f};
    int shape[1] = {4};
    mt_tensor *x = mt_tensor_from_host(mt_cpu(), 1, shape, xs), *g = mt_tensor_from_host(mt_cpu(), 1, shape, gs);
    CHECK_NOTNULL(x);
    mt_requires_grad(x, 1);
    mt_tensor *b = mt_to_dtype(x, MT_BF16), *f = mt_to_dtype(b, MT_F32);
    CHECK_NOTNULL(f);
    CHECK(b->dtype == MT_BF16 && f->dtype == MT_F32 && f->requires_grad, "dtypes %d %d", b->dtype, f->dtype);
    CHECK_OK(mt_backward(f, g, 0));
    CHECK_NOTNULL(x->grad);
    CHECK(x->grad->dtype == MT_F32, "x.grad is %s", mt_dtype_name(x->grad->dtype));
    const mt_real *gx = MT_DATA(x->grad);
    const float want[4] = {1.0f, 1.015625f, -0.0032958984375f, 70144.f}; /* torch g.bfloat16().float() */
    for (int i = 0; i < 4; i++) CHECK(gx[i] == want[i], "x.grad[%d] = %.9g, want %.9g", i, (double)gx[i], want[i]);
    mt_tensor_release(f), mt_tensor_release(b), mt_tensor_release(x), mt_tensor_release(g);
}

typedef enum { OP_CONV2D, OP_CONVT, OP_LINEAR } op_kind;

static mt_tensor *load_case(const char *path, const char *name)
{
    char ds[256];
    snprintf(ds, sizeof ds, "%s/%s", path, name);
    return fx_exists(AMP_H5, ds) ? fx_load(AMP_H5, ds) : NULL;
}

static mt_tensor *apply(op_kind k, const char *path, mt_tensor *x, mt_tensor *w, mt_tensor *b)
{
    int stride[2] = {1, 1}, pad[4] = {0}, groups = 1, out_pad[2] = {0, 0};
    if (k != OP_LINEAR &&
        (fx_attr_ints(AMP_H5, path, "stride", stride, 2) != 2 || fx_attr_ints(AMP_H5, path, "pad", pad, 4) != 4 ||
         fx_attr_ints(AMP_H5, path, "groups", &groups, 1) != 1 ||
         fx_attr_ints(AMP_H5, path, "out_pad", out_pad, 2) != 2))
        return NULL;
    if (k == OP_CONV2D) {
        mt_conv2d_params p = mt_conv2d_default();
        p.stride_h = stride[0], p.stride_w = stride[1];
        p.pad_top = pad[0], p.pad_bottom = pad[1], p.pad_left = pad[2], p.pad_right = pad[3];
        p.groups = groups;
        return mt_conv2d(x, w, b, p);
    }
    if (k == OP_CONVT) {
        mt_conv_transpose2d_params p = mt_conv_transpose2d_default();
        p.stride_h = stride[0], p.stride_w = stride[1];
        p.pad_top = pad[0], p.pad_bottom = pad[1], p.pad_left = pad[2], p.pad_right = pad[3];
        p.out_pad_h = out_pad[0], p.out_pad_w = out_pad[1];
        p.groups = groups;
        return mt_conv_transpose2d(x, w, b, p);
    }
    return mt_linear(x, w, b);
}

typedef struct run_out {
    mt_tensor *y, *gx, *gw, *gb;
} run_out;

static void run_free(run_out *r)
{
    mt_tensor_release(r->y), mt_tensor_release(r->gx), mt_tensor_release(r->gw), mt_tensor_release(r->gb);
    memset(r, 0, sizeof *r);
}

/* t moved to dev (released; NULL stays NULL) */
static mt_tensor *moved(mt_tensor *t, mt_device dev)
{
    if (!t || mt_device_eq(t->storage->device, dev)) return t;
    mt_tensor *m = mt_tensor_to(t, dev);
    mt_tensor_release(t);
    return m;
}

/* One case in dtype dt on `dev`: explicit casts (autocast 0) or under mt_set_autocast(dt) (autocast 1);
 * the results in *r on the CPU. */
static void run_lowp_on(mt_test_ctx *T_, op_kind k, const char *path, mt_dtype dt, int autocast, mt_device dev,
                        run_out *r)
{
    memset(r, 0, sizeof *r);
    mt_tensor *x = load_case(path, "x"), *w = load_case(path, "w"), *b = load_case(path, "b");
    mt_tensor *gy = load_case(path, "gy");
    CHECK(x && w && gy, "%s: fixture missing (run tests/fixtures/gen_amp.py): %s", path, mt_last_error());
    x = moved(x, dev), w = moved(w, dev), b = moved(b, dev), gy = moved(gy, dev);
    CHECK(x && w && gy, "%s: to the device: %s", path, mt_last_error());
    mt_requires_grad(x, 1), mt_requires_grad(w, 1), mt_requires_grad(b, 1);
    mt_tensor *y;
    if (autocast) {
        mt_dtype prev = mt_set_autocast(dt);
        y = apply(k, path, x, w, b);
        mt_set_autocast(prev);
    } else {
        mt_tensor *xl = mt_to_dtype(x, dt), *wl = mt_to_dtype(w, dt), *bl = b ? mt_to_dtype(b, dt) : NULL;
        y = apply(k, path, xl, wl, bl);
        mt_tensor_release(xl), mt_tensor_release(wl), mt_tensor_release(bl);
    }
    CHECK_NOTNULL(y);
    CHECK(y->dtype == MT_F32, "%s: output is %s, expected float32 holding %s values", path, mt_dtype_name(y->dtype),
          mt_dtype_name(dt));
    CHECK_OK(mt_backward(y, gy, 0));
    r->y = y;
    r->gx = mt_tensor_retain(x->grad), r->gw = mt_tensor_retain(w->grad), r->gb = b ? mt_tensor_retain(b->grad) : NULL;
    CHECK(r->gx && r->gw && (!b || r->gb), "%s: a gradient is missing", path);
    r->y = moved(r->y, mt_cpu()), r->gx = moved(r->gx, mt_cpu()), r->gw = moved(r->gw, mt_cpu());
    r->gb = moved(r->gb, mt_cpu());
    mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b), mt_tensor_release(gy);
}

static void run_lowp(mt_test_ctx *T_, op_kind k, const char *path, mt_dtype dt, int autocast, run_out *r)
{
    run_lowp_on(T_, k, path, dt, autocast, mt_cpu(), r);
}

/* |a - ref| <= rtol |ref| + rtol/2 max|ref| */
static void check_ref(mt_test_ctx *T_, const char *path, const char *name, const mt_tensor *got, double rtol)
{
    mt_tensor *ref = load_case(path, name);
    CHECK_NOTNULL(ref);
    CHECK(mt_same_shape(ref, got), "%s/%s: shape mismatch", path, name);
    char why[512];
    int ok = mt_test_close_f(MT_DATA(got), MT_DATA(ref), mt_numel(ref), rtol, rtol * 0.5 * mt_test_max_abs(ref), why,
                             sizeof why);
    mt_tensor_release(ref);
    CHECK(ok, "%s/%s: %s", path, name, why);
}

static void check_same(mt_test_ctx *T_, const char *what, const mt_tensor *a, const mt_tensor *b)
{
    if (!a && !b) return;
    CHECK(a && b && mt_same_shape(a, b), "%s: missing or shape differs", what);
    CHECK(memcmp(mt_data(a), mt_data(b), mt_nbytes(a)) == 0, "%s: autocast differs from explicit casts", what);
}

/* rtol_torch: against torch's own kernels; rtol_exact: against the correctly rounded
 * wide reference, which a float32 accumulation misses by at most one step */
static void run_dtype(mt_test_ctx *T_, mt_dtype dt, const char *dname, double rtol_torch, double rtol_exact)
{
    static const struct { op_kind k; const char *op, *name; } cases[] = {
        {OP_CONV2D, "conv2d", "k3_pad1"},
        {OP_CONV2D, "conv2d", "k3_s2_groups2_nobias"},
        {OP_CONVT, "conv_transpose2d", "unet_up_k2_s2"},
        {OP_CONVT, "conv_transpose2d", "k3_s2_pad1_outpad1"},
        {OP_LINEAR, "linear", "batch5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !T_->failed; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s/%s", dname, cases[i].op, cases[i].name);
        run_out e, a;
        run_lowp(T_, cases[i].k, path, dt, 0, &e);
        if (!T_->failed) check_ref(T_, path, "y", e.y, rtol_torch);
        if (!T_->failed) check_ref(T_, path, "gx", e.gx, rtol_torch);
        if (!T_->failed) check_ref(T_, path, "gw", e.gw, rtol_torch);
        if (!T_->failed && e.gb) check_ref(T_, path, "gb", e.gb, rtol_torch);
        if (!T_->failed) check_ref(T_, path, "y_exact", e.y, rtol_exact);
        if (!T_->failed) check_ref(T_, path, "gx_exact", e.gx, rtol_exact);
        if (!T_->failed) check_ref(T_, path, "gw_exact", e.gw, rtol_exact);
        if (!T_->failed && e.gb) check_ref(T_, path, "gb_exact", e.gb, rtol_exact);
        if (!T_->failed) run_lowp(T_, cases[i].k, path, dt, 1, &a);
        if (!T_->failed) check_same(T_, "y", e.y, a.y);
        if (!T_->failed) check_same(T_, "gx", e.gx, a.gx);
        if (!T_->failed) check_same(T_, "gw", e.gw, a.gw);
        if (!T_->failed) check_same(T_, "gb", e.gb, a.gb);
        run_free(&e), run_free(&a);
    }
}

/* bf16 has 8 significant bits: one step is 2^-8..2^-7 of the value. torch's CPU bf16
 * conv rounds partial results (up to 3 steps off the correctly rounded value here). */
TEST(amp_bf16_conv_linear_match_torch) { run_dtype(T_, MT_BF16, "bf16", 1.0 / 32, 1.0 / 128); }

/* f16: 11 significant bits; the reference is the correctly rounded one */
TEST(amp_f16_conv_linear_match_reference) { run_dtype(T_, MT_F16, "f16", 1.0 / 1024, 1.0 / 1024); }

/* Under autocast only the listed ops see bf16; relu, add and the sum stay exact float32. */
/* The CUDA backend's native cuDNN bf16 / fp16 convolutions (core/ops/conv_lowp.cu: low-precision
 * descriptors, float32 compute, tensor-op math) against torch's and the exact references, under
 * autocast; the cases with asymmetric padding take the widening path. */
static void run_dtype_cuda(mt_test_ctx *T_, mt_dtype dt, const char *dname, double rtol)
{
    static const struct { op_kind k; const char *op, *name; } cases[] = {
        {OP_CONV2D, "conv2d", "k3_pad1"},
        {OP_CONV2D, "conv2d", "k3_s2_groups2_nobias"},
        {OP_CONVT, "conv_transpose2d", "unet_up_k2_s2"},
        {OP_CONVT, "conv_transpose2d", "k3_s2_pad1_outpad1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !T_->failed; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s/%s", dname, cases[i].op, cases[i].name);
        run_out g;
        run_lowp_on(T_, cases[i].k, path, dt, 1, mt_cuda(0), &g);
        if (!T_->failed) check_ref(T_, path, "y", g.y, rtol);
        if (!T_->failed) check_ref(T_, path, "gx", g.gx, rtol);
        if (!T_->failed) check_ref(T_, path, "gw", g.gw, rtol);
        if (!T_->failed && g.gb) check_ref(T_, path, "gb", g.gb, rtol);
        run_free(&g);
    }
}

TEST(amp_bf16_conv_native_cudnn_cuda)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    run_dtype_cuda(T_, MT_BF16, "bf16", 1.0 / 32);
}

TEST(amp_f16_conv_native_cudnn_cuda)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    run_dtype_cuda(T_, MT_F16, "f16", 1.0 / 256);
}

TEST(amp_autocast_only_listed_ops)
{
    CHECK(mt_autocast_listed(&mt_op_conv2d) && mt_autocast_listed(&mt_op_conv_transpose2d) &&
              mt_autocast_listed(&mt_op_linear) && !mt_autocast_listed(&mt_op_to_dtype),
          "lower-precision list");
    const mt_real v[6] = {1.0009765625f, -2.0001f, 3.3333333f, 0.1f, -0.2f, 7.000001f};
    int shape[2] = {2, 3};
    mt_tensor *a = mt_tensor_from_host(mt_cpu(), 2, shape, v), *w = NULL;
    CHECK_NOTNULL(a);
    int ws[2] = {3, 3};
    const mt_real wv[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    w = mt_tensor_from_host(mt_cpu(), 2, ws, wv);
    CHECK(mt_get_autocast() == MT_F32, "autocast on at start");
    mt_dtype prev = mt_set_autocast(MT_BF16);
    CHECK(prev == MT_F32 && mt_get_autocast() == MT_BF16, "set/get autocast");
    mt_tensor *r = mt_relu(a), *s = mt_add(a, a), *l = mt_linear(a, w, NULL);
    mt_set_autocast(prev);
    CHECK(mt_get_autocast() == MT_F32, "autocast not restored");
    CHECK(r && s && l, "ops under autocast: %s", mt_last_error());
    CHECK(r->dtype == MT_F32 && s->dtype == MT_F32 && l->dtype == MT_F32, "dtypes %d %d %d", r->dtype, s->dtype,
          l->dtype);
    const mt_real *rv = MT_DATA(r), *sv = MT_DATA(s), *lv = MT_DATA(l);
    for (int i = 0; i < 6; i++) {
        CHECK(rv[i] == (v[i] > 0 ? v[i] : 0), "relu[%d] = %.9g was rounded", i, (double)rv[i]);
        CHECK(sv[i] == v[i] + v[i], "add[%d] = %.9g was rounded", i, (double)sv[i]);
        /* linear with the identity: x rounded to bf16 (8 significant bits) */
        float want = v[i];
        uint32_t u;
        memcpy(&u, &want, 4);
        u += 0x7fffu + ((u >> 16) & 1u);
        u &= 0xffff0000u;
        memcpy(&want, &u, 4);
        CHECK(lv[i] == want, "linear[%d] = %.9g, want bf16(x) = %.9g", i, (double)lv[i], (double)want);
    }
    mt_tensor_release(r), mt_tensor_release(s), mt_tensor_release(l);
    /* a non-listed op given bf16 fails, naming op and dtype */
    mt_tensor *b = mt_to_dtype(a, MT_BF16);
    CHECK_NOTNULL(b);
    mt_error_clear();
    mt_tensor *bad = mt_relu(b);
    CHECK(!bad, "relu accepted a bfloat16 tensor");
    CHECK(strstr(mt_last_error(), "relu") && strstr(mt_last_error(), "bfloat16"), "message: %s", mt_last_error());
    mt_error_clear();
    int ish[1] = {6};
    mt_tensor *iv = mt_tensor_zeros(MT_I32, mt_cpu(), 1, ish);
    CHECK(iv && !mt_to_dtype(iv, MT_BF16), "casting int32 must fail");
    CHECK(strstr(mt_last_error(), "to_dtype") && strstr(mt_last_error(), "int32"), "message: %s", mt_last_error());
    mt_error_clear();
    mt_tensor_release(iv), mt_tensor_release(b), mt_tensor_release(a), mt_tensor_release(w);
}
