/* tests/test_shape.c: upsample2d (nearest, bilinear with align_corners 0/1),
 * pad2d (constant/reflect/replicate), concat, split, slice, crop2d, permute
 * forward and backward against tests/fixtures/shape.h5
 * (tests/fixtures/gen_shape.py, PyTorch), plus reshape/flatten views. */
#include <string.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/shape.h5"
#define RTOL 1e-5
#define ATOL 1e-6
#define MAXT 8

static int cmp(mt_test_ctx *T_, const mt_tensor *t, const char *group, const char *name)
{
    char path[256], why[512] = "";
    snprintf(path, sizeof path, "%s/%s", group, name);
    if (!t) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: tensor is NULL: %s", path, mt_last_error());
        return 0;
    }
    mt_tensor *ref = fx_load(FX, path);
    mt_tensor *h = ref ? mt_tensor_to(t, mt_cpu()) : NULL;
    int ok = 0;
    if (!ref || !h) snprintf(why, sizeof why, "%s", mt_last_error());
    else if (mt_numel(ref) != mt_numel(t)) snprintf(why, sizeof why, "%zu elements, expected %zu", mt_numel(t), mt_numel(ref));
    else ok = mt_test_close_f(MT_DATA(h), MT_DATA(ref), mt_numel(t), RTOL, ATOL, why, sizeof why);
    if (ok && ref->ndim == t->ndim)
        for (int d = 0; d < t->ndim; d++)
            if (ref->shape[d] != t->shape[d]) {
                ok = 0;
                snprintf(why, sizeof why, "dimension %d is %d, expected %d", d, t->shape[d], ref->shape[d]);
            }
    if (!ok) mt_test_fail(T_, __FILE__, __LINE__, "%s: %s", path, why);
    mt_tensor_release(ref);
    mt_tensor_release(h);
    return ok;
}

typedef enum { UPSAMPLE, PAD, CONCAT, SPLIT, SLICE, CROP, PERMUTE } kind;

/* Runs fixture case `g` of `kind` on `dev`: forward, compare, backward, compare. */
static int run_case(mt_test_ctx *T_, const char *g, kind k, mt_device dev)
{
    int pv[MAXT] = {0}, np = fx_attr_ints(FX, g, "params", pv, MAXT);
    mt_tensor *x[MAXT] = {0}, *y[MAXT] = {0}, *gy[MAXT] = {0};
    int nx = 0, ny = 0, ok = 1;
    char name[32];
    for (; nx < MAXT; nx++) {
        snprintf(name, sizeof name, "%s/x%d", g, nx);
        if (!fx_exists(FX, name)) break;
        mt_tensor *h = fx_load(FX, name);
        x[nx] = mt_tensor_to(h, dev);
        mt_tensor_release(h);
        mt_requires_grad(x[nx], 1);
    }
    if (np < 1 || nx < 1) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: fixture case missing: %s", g, mt_last_error());
        return 0;
    }
    switch (k) {
    case UPSAMPLE: y[ny++] = mt_upsample2d(x[0], pv[0], pv[1], (mt_upsample_mode)pv[2], pv[3]); break;
    case PAD: y[ny++] = mt_pad2d(x[0], pv[0], pv[1], pv[2], pv[3], (mt_pad_mode)pv[4], 1.5); break;
    case CONCAT: y[ny++] = mt_concat(nx, x, pv[0]); break;
    case SPLIT:
        ny = np - 1;
        if (mt_split(x[0], pv[0], ny, pv + 1, y) != MT_OK) ok = 0;
        break;
    case SLICE: y[ny++] = mt_slice(x[0], pv[0], pv[1], pv[2]); break;
    case CROP: y[ny++] = mt_crop2d(x[0], pv[0], pv[1], pv[2], pv[3]); break;
    case PERMUTE: y[ny++] = mt_permute(x[0], np, pv); break;
    }
    for (int i = 0; i < ny && ok; i++) {
        snprintf(name, sizeof name, "y%d", i);
        ok = cmp(T_, y[i], g, name);
    }
    for (int i = 0; i < ny && ok; i++) {
        snprintf(name, sizeof name, "%s/gy%d", g, i);
        mt_tensor *h = fx_load(FX, name);
        gy[i] = mt_tensor_to(h, dev);
        mt_tensor_release(h);
        if (mt_backward(y[i], gy[i], i < ny - 1) != MT_OK) {
            mt_test_fail(T_, __FILE__, __LINE__, "%s backward %d: %s", g, i, mt_last_error());
            ok = 0;
        }
    }
    for (int i = 0; i < nx && ok; i++) {
        snprintf(name, sizeof name, "gx%d", i);
        ok = cmp(T_, x[i]->grad, g, name);
    }
    if (!ok && !T_->failed) mt_test_fail(T_, __FILE__, __LINE__, "%s: %s", g, mt_last_error());
    for (int i = 0; i < MAXT; i++) {
        mt_tensor_release(x[i]);
        mt_tensor_release(y[i]);
        mt_tensor_release(gy[i]);
    }
    return ok;
}

static const char *UP_NAMES[] = {"up2x", "odd", "down", "mixed"};

static int all_upsample(mt_test_ctx *T_, mt_device dev)
{
    char g[64];
    for (int i = 0; i < 4; i++) {
        snprintf(g, sizeof g, "upsample/nearest_%s", UP_NAMES[i]);
        if (!run_case(T_, g, UPSAMPLE, dev)) return 0;
        for (int ac = 0; ac < 2; ac++) {
            snprintf(g, sizeof g, "upsample/bilinear%d_%s", ac, UP_NAMES[i]);
            if (!run_case(T_, g, UPSAMPLE, dev)) return 0;
        }
    }
    return 1;
}

static int all_pad(mt_test_ctx *T_, mt_device dev)
{
    const char *modes[3] = {"constant", "reflect", "replicate"}, *cases[2] = {"a", "b"};
    char g[64];
    for (int m = 0; m < 3; m++)
        for (int c = 0; c < 2; c++) {
            snprintf(g, sizeof g, "pad/%s_%s", modes[m], cases[c]);
            if (!run_case(T_, g, PAD, dev)) return 0;
        }
    return 1;
}

static int all_copy_ops(mt_test_ctx *T_, mt_device dev)
{
    return run_case(T_, "concat/dim1", CONCAT, dev) && run_case(T_, "concat/dim3", CONCAT, dev) &&
           run_case(T_, "concat/dim0", CONCAT, dev) && run_case(T_, "split/dim1", SPLIT, dev) &&
           run_case(T_, "split/dim2", SPLIT, dev) && run_case(T_, "slice/dim1", SLICE, dev) &&
           run_case(T_, "slice/dim3", SLICE, dev) && run_case(T_, "crop/centre", CROP, dev) &&
           run_case(T_, "permute/nhwc", PERMUTE, dev) && run_case(T_, "permute/3d", PERMUTE, dev);
}

TEST(upsample2d_matches_torch)
{
    all_upsample(T_, mt_cpu());
}

TEST(pad2d_matches_torch)
{
    all_pad(T_, mt_cpu());
}

TEST(concat_split_slice_crop_permute_match_torch)
{
    all_copy_ops(T_, mt_cpu());
}

TEST(reshape_is_a_view_and_flatten)
{
    mt_real v[24];
    for (int i = 0; i < 24; i++) v[i] = (mt_real)i;
    int s[4] = {2, 3, 2, 2};
    mt_tensor *x = mt_tensor_from_host(mt_cpu(), 4, s, v);
    mt_requires_grad(x, 1);
    int ns[2] = {-1, 6};
    mt_tensor *r = mt_reshape(x, 2, ns);
    CHECK_NOTNULL(r);
    CHECK(r->ndim == 2 && r->shape[0] == 4 && r->shape[1] == 6, "reshape -1 inferred wrong");
    CHECK(r->storage == x->storage, "reshape must share storage (a view)");
    mt_tensor *f = mt_flatten(x, 1);
    CHECK(f && f->ndim == 2 && f->shape[0] == 2 && f->shape[1] == 12, "flatten(x, 1) must give [2, 12]");
    /* backward of a view: gradient reshaped back */
    mt_real gv[24];
    for (int i = 0; i < 24; i++) gv[i] = (mt_real)(100 + i);
    mt_tensor *g = mt_tensor_from_host(mt_cpu(), 2, r->shape, gv);
    CHECK_OK(mt_backward(r, g, 0));
    CHECK(x->grad && mt_same_shape(x->grad, x), "grad shape must be x's");
    for (int i = 0; i < 24; i++) CHECK(MT_DATA(x->grad)[i] == gv[i], "reshape grad[%d] wrong", i);
    int bad[2] = {5, 5};
    CHECK(mt_reshape(x, 2, bad) == NULL, "24 elements into [5, 5] must fail");
    CHECK(strstr(mt_last_error(), "24 elements") != NULL, "message: %s", mt_last_error());
    mt_error_clear();
    mt_tensor_release(r);
    mt_tensor_release(f);
    mt_tensor_release(g);
    mt_tensor_release(x);
}

TEST(shape_ops_reject_bad_arguments)
{
    int s[4] = {1, 2, 3, 4}, s2[4] = {1, 2, 5, 4};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, s), *z = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, s2);
    mt_tensor *xs[2] = {x, z};
    CHECK(mt_concat(2, xs, 1) == NULL, "concat with mismatched H must fail");
    mt_error_clear();
    CHECK(mt_pad2d(x, 3, 0, 0, 0, MT_PAD_REFLECT, 0) == NULL, "reflect pad >= size must fail");
    mt_error_clear();
    CHECK(mt_crop2d(x, 1, 0, 3, 4) == NULL, "crop outside must fail");
    mt_error_clear();
    int sizes[2] = {1, 2};
    mt_tensor *out[2];
    CHECK(mt_split(x, 1, 2, sizes, out) == MT_ERR_INVALID, "split sizes not summing to the dim must fail");
    mt_error_clear();
    int perm[4] = {0, 1, 1, 2};
    CHECK(mt_permute(x, 4, perm) == NULL, "a non-permutation must fail");
    mt_error_clear();
    mt_tensor_release(x);
    mt_tensor_release(z);
}

TEST(concat_more_than_max_inputs_and_split_many)
{
    /* 11 inputs (> MT_MAX_IN) concatenated, then split back into 11 pieces */
    enum { K = 11 };
    mt_tensor *xs[K], *parts[K];
    int sizes[K];
    for (int i = 0; i < K; i++) {
        int s[2] = {2, i % 3 + 1};
        mt_real v[6];
        for (int j = 0; j < 6; j++) v[j] = (mt_real)(10 * i + j);
        xs[i] = mt_tensor_from_host(mt_cpu(), 2, s, v);
        sizes[i] = s[1];
    }
    mt_tensor *y = mt_concat(K, xs, -1);
    CHECK_NOTNULL(y);
    CHECK_OK(mt_split(y, 1, K, sizes, parts));
    for (int i = 0; i < K; i++) {
        CHECK(mt_same_shape(parts[i], xs[i]), "piece %d shape wrong", i);
        CHECK(!memcmp(MT_DATA(parts[i]), MT_DATA(xs[i]), mt_nbytes(xs[i])), "piece %d values wrong", i);
        mt_tensor_release(parts[i]);
        mt_tensor_release(xs[i]);
    }
    mt_tensor_release(y);
}

TEST(shape_cuda_matches_fixtures)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    if (!all_upsample(T_, mt_cuda(0)) || !all_pad(T_, mt_cuda(0))) return;
    all_copy_ops(T_, mt_cuda(0));
}
