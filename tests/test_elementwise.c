/* tests/test_elementwise.c: unary activations, softmax/log_softmax,
 * broadcasting add/sub/mul/div, greater/where, and sum/mean/max reductions
 * against PyTorch (tests/fixtures/gen_elementwise.py -> elementwise.h5):
 * forward values and input gradients within 1e-5 relative, on awkward shapes
 * (broadcast [7,1,5] with [3,1], 0-d scalars, batch 1 and 7, negative dims,
 * logits of +-100). Also: error messages, determinism of sums across thread
 * counts, no leaked memory. */
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/elementwise.h5"

typedef struct fx_params {
    double p0, p1;
    int axes[MT_MAX_DIMS];
    int n_axes;
    int keepdim;
} fx_params;

typedef mt_tensor *(*build_fn)(mt_tensor **in, const fx_params *p);

static mt_tensor *b_leaky(mt_tensor **in, const fx_params *p) { return mt_leaky_relu(in[0], p->p0); }
static mt_tensor *b_sigmoid(mt_tensor **in, const fx_params *p) { return mt_sigmoid(in[0]); }
static mt_tensor *b_tanh(mt_tensor **in, const fx_params *p) { return mt_tanh(in[0]); }
static mt_tensor *b_silu(mt_tensor **in, const fx_params *p) { return mt_silu(in[0]); }
static mt_tensor *b_abs(mt_tensor **in, const fx_params *p) { return mt_abs(in[0]); }
static mt_tensor *b_clamp(mt_tensor **in, const fx_params *p) { return mt_clamp(in[0], p->p0, p->p1); }
static mt_tensor *b_exp(mt_tensor **in, const fx_params *p) { return mt_exp(in[0]); }
static mt_tensor *b_log(mt_tensor **in, const fx_params *p) { return mt_log(in[0]); }
static mt_tensor *b_sqrt(mt_tensor **in, const fx_params *p) { return mt_sqrt(in[0]); }
static mt_tensor *b_neg(mt_tensor **in, const fx_params *p) { return mt_neg(in[0]); }
static mt_tensor *b_square(mt_tensor **in, const fx_params *p) { return mt_square(in[0]); }
static mt_tensor *b_scale(mt_tensor **in, const fx_params *p) { return mt_scale(in[0], p->p0, p->p1); }
static mt_tensor *b_relu(mt_tensor **in, const fx_params *p) { return mt_relu(in[0]); }
static mt_tensor *b_softmax(mt_tensor **in, const fx_params *p) { return mt_softmax(in[0], (int)p->p0); }
static mt_tensor *b_log_softmax(mt_tensor **in, const fx_params *p) { return mt_log_softmax(in[0], (int)p->p0); }
static mt_tensor *b_add(mt_tensor **in, const fx_params *p) { return mt_add(in[0], in[1]); }
static mt_tensor *b_sub(mt_tensor **in, const fx_params *p) { return mt_sub(in[0], in[1]); }
static mt_tensor *b_mul(mt_tensor **in, const fx_params *p) { return mt_mul(in[0], in[1]); }
static mt_tensor *b_div(mt_tensor **in, const fx_params *p) { return mt_div(in[0], in[1]); }
static mt_tensor *b_where(mt_tensor **in, const fx_params *p) { return mt_where(in[0], in[1], in[2]); }
static mt_tensor *b_greater(mt_tensor **in, const fx_params *p) { return mt_greater(in[0], p->p0); }
static mt_tensor *b_sum(mt_tensor **in, const fx_params *p) { return mt_sum(in[0], p->n_axes, p->axes, p->keepdim); }
static mt_tensor *b_mean(mt_tensor **in, const fx_params *p) { return mt_mean(in[0], p->n_axes, p->axes, p->keepdim); }
static mt_tensor *b_max(mt_tensor **in, const fx_params *p) { return mt_max(in[0], p->n_axes, p->axes, p->keepdim); }
static mt_tensor *b_sum_all(mt_tensor **in, const fx_params *p) { return mt_sum_all(in[0]); }
static mt_tensor *b_mean_all(mt_tensor **in, const fx_params *p) { return mt_mean_all(in[0]); }

/* Loads case `name`, runs `fn`, compares out and every ginJ with PyTorch.
 * Returns 0 on success, else writes the reason into why. */
static int run_case(const char *name, build_fn fn, char *why, size_t len)
{
    char key[128];
    mt_tensor *in[4] = {0}, *out = NULL, *ref = NULL, *gout = NULL;
    int n_in = 0, rc = 1;
    fx_params p;
    memset(&p, 0, sizeof p);
    fx_attr(FX, name, "p0", &p.p0);
    fx_attr(FX, name, "p1", &p.p1);
    double kd = 0;
    fx_attr(FX, name, "keepdim", &kd);
    p.keepdim = (int)kd;
    p.n_axes = fx_attr_ints(FX, name, "axes", p.axes, MT_MAX_DIMS);
    if (p.n_axes < 0) p.n_axes = 0, mt_error_clear(); /* empty axes attribute: all axes */
    for (; n_in < 4; n_in++) {
        snprintf(key, sizeof key, "%s/in%d", name, n_in);
        if (!fx_exists(FX, key)) break;
        if (!(in[n_in] = fx_load(FX, key))) goto fail;
        snprintf(key, sizeof key, "%s/gin%d", name, n_in);
        mt_requires_grad(in[n_in], fx_exists(FX, key));
    }
    snprintf(key, sizeof key, "%s/out", name);
    if (!(ref = fx_load(FX, key))) goto fail;
    out = fn(in, &p);
    if (!out) goto fail;
    if (!mt_same_shape(out, ref)) {
        char a[64], b[64];
        snprintf(why, len, "%s: output shape %s, PyTorch %s", name, mt_shape_str(out, a, sizeof a),
                 mt_shape_str(ref, b, sizeof b));
        goto done;
    }
    char w[512];
    if (!mt_test_close_f(MT_DATA(out), MT_DATA(ref), mt_numel(ref), 1e-5, 1e-6, w, sizeof w)) {
        snprintf(why, len, "%s forward: %s", name, w);
        goto done;
    }
    snprintf(key, sizeof key, "%s/gout", name);
    if (fx_exists(FX, key)) {
        if (!(gout = fx_load(FX, key))) goto fail;
        if (mt_backward(out, gout, 0) != MT_OK) goto fail;
        for (int j = 0; j < n_in; j++) {
            if (!in[j]->requires_grad) continue;
            snprintf(key, sizeof key, "%s/gin%d", name, j);
            mt_tensor *g = fx_load(FX, key);
            if (!g) goto fail;
            int ok = in[j]->grad && mt_same_shape(in[j]->grad, g) &&
                     mt_test_close_f(MT_DATA(in[j]->grad), MT_DATA(g), mt_numel(g), 1e-5, 1e-6, w, sizeof w);
            if (!ok) snprintf(why, len, "%s grad of input %d: %s", name, j, in[j]->grad ? w : "missing");
            mt_tensor_release(g);
            if (!ok) goto done;
        }
    }
    rc = 0;
    goto done;
fail:
    snprintf(why, len, "%s: %s", name, mt_last_error());
done:
    mt_tensor_release(out);
    mt_tensor_release(ref);
    mt_tensor_release(gout);
    for (int j = 0; j < n_in; j++) mt_tensor_release(in[j]);
    return rc;
}

typedef struct fx_case {
    const char *name;
    build_fn fn;
} fx_case;

static int run_table(const fx_case *cases, int n, char *why, size_t len)
{
    for (int i = 0; i < n; i++)
        if (run_case(cases[i].name, cases[i].fn, why, len)) return 1;
    return 0;
}

#define RUN_TABLE(cases)                                                                        \
    do {                                                                                        \
        char why_[1024];                                                                        \
        CHECK(!run_table(cases, (int)(sizeof cases / sizeof cases[0]), why_, sizeof why_), "%s", why_); \
    } while (0)

TEST(elementwise_unary_match_torch)
{
    static const fx_case cases[] = {
        {"leaky_relu", b_leaky}, {"sigmoid", b_sigmoid}, {"tanh", b_tanh},     {"silu", b_silu},
        {"abs", b_abs},          {"clamp", b_clamp},     {"exp", b_exp},       {"log", b_log},
        {"sqrt", b_sqrt},        {"neg", b_neg},         {"square", b_square}, {"scale", b_scale},
        {"relu", b_relu},
    };
    RUN_TABLE(cases);
}

TEST(elementwise_softmax_match_torch)
{
    static const fx_case cases[] = {
        {"softmax_dim1", b_softmax},         {"softmax_last_extreme", b_softmax},
        {"softmax_nchw", b_softmax},         {"log_softmax_dim0", b_log_softmax},
        {"log_softmax_extreme", b_log_softmax}, {"log_softmax_mid", b_log_softmax},
    };
    RUN_TABLE(cases);
}

TEST(elementwise_binary_broadcast_match_torch)
{
    static const fx_case cases[] = {
        {"add_bcast", b_add},          {"sub_bcast", b_sub},           {"mul_bcast", b_mul},
        {"div_bcast", b_div},          {"add_scalar", b_add},          {"mul_scalar_lhs", b_mul},
        {"mul_batch1_channel", b_mul}, {"div_same", b_div},            {"sub_both_bcast", b_sub},
    };
    RUN_TABLE(cases);
}

TEST(elementwise_masks_match_torch)
{
    static const fx_case cases[] = {{"where_bcast", b_where}, {"where_same", b_where}, {"greater", b_greater}};
    RUN_TABLE(cases);
}

TEST(elementwise_reductions_match_torch)
{
    static const fx_case cases[] = {
        {"sum_dim1", b_sum},   {"sum_dims02_keep", b_sum}, {"mean_last", b_mean}, {"mean_nchw_hw_keep", b_mean},
        {"sum_all", b_sum_all}, {"mean_all", b_mean_all},  {"max_dim1", b_max},   {"max_all", b_max},
        {"max_neg_keep", b_max}, {"sum_scalar", b_sum_all},
    };
    RUN_TABLE(cases);
}

TEST(elementwise_sum_all_is_0d_scalar)
{
    int s[2] = {3, 4};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 2, s);
    CHECK_NOTNULL(x);
    mt_tensor *y = mt_sum_all(x), *m = mt_mean_all(x);
    CHECK_NOTNULL(y);
    CHECK_NOTNULL(m);
    CHECK(y->ndim == 0 && mt_numel(y) == 1 && m->ndim == 0, "sum_all/mean_all must be 0-d, got ndim %d / %d", y->ndim,
          m->ndim);
    mt_tensor_release(y);
    mt_tensor_release(m);
    mt_tensor_release(x);
}

TEST(elementwise_errors_are_actionable)
{
    int sa[2] = {3, 4}, sb[2] = {2, 4};
    mt_tensor *a = mt_tensor_zeros(MT_REAL, mt_cpu(), 2, sa), *b = mt_tensor_zeros(MT_REAL, mt_cpu(), 2, sb);
    CHECK(a && b, "alloc");
    mt_error_clear();
    CHECK(mt_add(a, b) == NULL, "[3,4] + [2,4] must fail");
    CHECK(mt_last_status() == MT_ERR_INVALID && strstr(mt_last_error(), "[3, 4]") && strstr(mt_last_error(), "[2, 4]"),
          "message must name both shapes: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_softmax(a, 2) == NULL && strstr(mt_last_error(), "dim 2"), "softmax dim 2 of 2-d: %s", mt_last_error());
    mt_error_clear();
    int axes[2] = {1, -1};
    CHECK(mt_sum(a, 2, axes, 0) == NULL && strstr(mt_last_error(), "more than once"), "repeated axis: %s",
          mt_last_error());
    mt_error_clear();
    CHECK(mt_clamp(a, 1.0, -1.0) == NULL && mt_last_status() == MT_ERR_INVALID, "clamp min > max must fail");
    mt_error_clear();
    mt_tensor_release(a);
    mt_tensor_release(b);
}

/* Sums of a 1M-element tensor must be bit-identical for 1 and 2 threads, and
 * the gradient of a broadcast add reduced over 1M elements too. */
TEST(elementwise_reductions_deterministic_across_threads)
{
    int s[3] = {64, 128, 128}, sb[1] = {128};
    size_t n = (size_t)64 * 128 * 128;
    mt_real *v = malloc(n * sizeof *v);
    CHECK(v != NULL, "alloc");
    double ref = 0; /* plain double sum as the reference for the chunked parallel sum */
    for (size_t i = 0; i < n; i++) {
        v[i] = (mt_real)(((i * 2654435761u) % 1000003) / 1000003.0 - 0.4);
        ref += v[i];
    }
    mt_tensor *x = mt_tensor_from_host(mt_cpu(), 3, s, v);
    free(v);
    mt_tensor *bias = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, sb);
    CHECK(x && bias, "alloc");
    mt_requires_grad(bias, 1);
    mt_real r[2], g[2];
    int prev = mt_get_num_threads();
    for (int k = 0; k < 2; k++) {
        mt_set_num_threads(k + 1);
        mt_tensor *y = mt_sum_all(x);
        CHECK_NOTNULL(y);
        r[k] = MT_DATA(y)[0];
        mt_tensor *z = mt_add(x, bias);
        mt_tensor *l = mt_sum_all(mt_square(z));
        CHECK_NOTNULL(l);
        mt_clear_grad(bias);
        CHECK_OK(mt_backward(l, NULL, 0));
        g[k] = MT_DATA(bias->grad)[7];
        mt_tensor_release(l);
        mt_tensor_release(z);
        mt_tensor_release(y);
    }
    mt_set_num_threads(prev);
    CHECK(fabs(r[0] - ref) <= 1e-5 * fabs(ref), "sum_all %.9g vs double reference %.9g", (double)r[0], ref);
    CHECK(r[0] == r[1], "sum differs between 1 and 2 threads: %.9g vs %.9g", (double)r[0], (double)r[1]);
    CHECK(g[0] == g[1], "broadcast grad differs between 1 and 2 threads: %.9g vs %.9g", (double)g[0], (double)g[1]);
    mt_tensor_release(x);
    mt_tensor_release(bias);
}

TEST(elementwise_no_leaks)
{
    size_t before = mt_alloc_in_use(MT_CPU);
    char why[1024];
    CHECK(!run_case("add_bcast", b_add, why, sizeof why), "%s", why);
    CHECK(!run_case("max_dim1", b_max, why, sizeof why), "%s", why);
    CHECK(mt_alloc_in_use(MT_CPU) == before, "%zu bytes leaked", mt_alloc_in_use(MT_CPU) - before);
}
