/* tests/test_net_irv2.c: InceptionResNetV2 (configs/models/inception_resnet_v2.yaml,
 * shared/design/models.md section 4, tf.keras.applications.InceptionResNetV2):
 *  - the exact Keras totals of models.md 4.4 (1000 classes: 55,873,736 =
 *    55,813,192 + 60,544; 5 classes: 54,344,421) and the layer inventory
 *    (204 conv2d_bn with beta-only BN, 40 block up-projections with bias);
 *  - Keras creation order: the k-th bias-free conv is Keras conv2d_k (k =
 *    1..203), then conv_7b, so an order-based map to the published weights works;
 *  - output shapes at 299 (and 75, Keras's minimum input);
 *  - a block layer that reads an earlier plain layer of the same block by its
 *    local name (the residual `add: [input, scale]`), which the graph builder
 *    once mis-resolved;
 *  - the forward output and every parameter gradient (and, training, every
 *    updated BN statistic) against the PyTorch twin
 *    experiments/twins/inception_resnet_v2.py at 299x299x3, batch 2,
 *    classes 5: evaluation in float32, training and evaluation in float64
 *    (see below why evaluation in both). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/device.h"
#include "../layers/model.h"
#include "net_check.h"
#include "test.h"

#define IRV2 "configs/models/inception_resnet_v2.yaml"

#ifndef MT_REAL_DOUBLE

static mt_status load_irv2(const char *classes, const char *init, mt_model **m)
{
    char path[512];
    mt_model_arg args[2] = {{"classes", classes}, {"init", init}};
    return mt_model_load_yaml(mt_test_path(IRV2, path, sizeof path), 2, args, mt_cpu(), 1234, m);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

TEST(net_irv2_counts_match_models_md)
{
    static const struct {
        const char *classes;
        size_t params, keras_total;
    } cases[] = {{"1000", 55813192, 55873736}, {"5", 54283877, 54344421}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        mt_model *m = NULL;
        CHECK_OK(load_irv2(cases[c].classes, "none", &m)); /* counting needs no random weights */
        size_t p = mt_model_param_count(m), b = mt_model_keras_buffer_count(m);
        int n_conv = 0, n_conv_bias = 0, n_bn = 0, n_gamma = 0;
        for (int i = 0; i < mt_model_state_count(m); i++) {
            const char *name = mt_model_state_name(m, i);
            if (ends_with(name, ".conv.weight")) n_conv++;
            if (ends_with(name, ".conv.bias")) n_conv_bias++;
            if (ends_with(name, ".bn.running_mean")) n_bn++;
            if (ends_with(name, ".bn.weight")) n_gamma++;
        }
        mt_model_free(m);
        CHECK(p == cases[c].params, "classes %s: %zu parameters, expected %zu", cases[c].classes, p, cases[c].params);
        CHECK(b == 60544, "classes %s: %zu BN statistics, expected 60,544", cases[c].classes, b);
        CHECK(p + b == cases[c].keras_total, "classes %s: Keras total %zu, expected %zu", cases[c].classes, p + b,
              cases[c].keras_total);
        CHECK(n_conv == 244 && n_conv_bias == 40, "%d convs (%d with bias), expected 244 (40)", n_conv, n_conv_bias);
        CHECK(n_bn == 204 && n_gamma == 0, "%d BN layers (%d with gamma), expected 204 (0: scale=False)", n_bn, n_gamma);
    }
}

TEST(net_irv2_keras_creation_order)
{
    mt_model *m = NULL;
    CHECK_OK(load_irv2("5", "none", &m));
    /* bias-free convs in state order = Keras conv2d_1 .. conv2d_203, then conv_7b */
    static const struct {
        int k;
        const char *name;
    } expect[] = {
        {1, "stem.conv1.conv.weight"},        {5, "stem.conv5.conv.weight"},
        {8, "mixed_5b.branch1_2.conv.weight"}, {12, "mixed_5b.branch3.conv.weight"},
        {13, "block35_1.branch0.conv.weight"}, {18, "block35_1.branch2_3.conv.weight"},
        {72, "block35_10.branch2_3.conv.weight"}, {73, "mixed_6a.branch0.conv.weight"},
        {76, "mixed_6a.branch1_3.conv.weight"}, {77, "block17_1.branch0.conv.weight"},
        {156, "block17_20.branch1_3.conv.weight"}, {157, "mixed_7a.branch0_1.conv.weight"},
        {163, "mixed_7a.branch2_3.conv.weight"}, {164, "block8_1.branch0.conv.weight"},
        {203, "block8_10.branch1_3.conv.weight"}, {204, "conv_7b.conv.weight"},
    };
    int k = 0, e = 0, n_state = mt_model_state_count(m);
    char why[256] = "";
    for (int i = 0; i < n_state && !why[0]; i++) {
        const char *name = mt_model_state_name(m, i);
        if (!ends_with(name, ".conv.weight")) continue;
        /* the block up-projections (block35_1_conv, ...) carry a bias: not conv2d_k */
        char bias[256];
        snprintf(bias, sizeof bias, "%.*s.bias", (int)(strlen(name) - strlen(".weight")), name);
        int has_bias = 0;
        for (int j = 0; j < n_state; j++)
            if (!strcmp(mt_model_state_name(m, j), bias)) has_bias = 1;
        if (has_bias) continue;
        k++;
        if (e < (int)(sizeof expect / sizeof *expect) && expect[e].k == k) {
            if (strcmp(name, expect[e].name)) snprintf(why, sizeof why, "conv2d_%d is %s, expected %s", k, name, expect[e].name);
            e++;
        }
    }
    mt_model_free(m);
    CHECK(!why[0], "%s", why);
    CHECK(k == 204 && e == (int)(sizeof expect / sizeof *expect), "%d bias-free convs (expected 204), %d checked", k, e);
}

TEST(net_irv2_output_shapes)
{
    mt_model *m = NULL;
    CHECK_OK(load_irv2("5", "none", &m));
    int nd, s[4];
    static const struct {
        const char *layer;
        int c, h;
    } taps[] = {{"stem", 192, 35}, {"mixed_5b", 320, 35}, {"block35_10", 320, 35}, {"mixed_6a", 1088, 17},
                {"block17_20", 1088, 17}, {"mixed_7a", 2080, 8}, {"block8_10", 2080, 8}, {"conv_7b", 1536, 8}};
    for (size_t t = 0; t < sizeof taps / sizeof *taps; t++) {
        int in[4] = {2, 3, 299, 299}, sh[MT_MAX_DIMS];
        CHECK_OK(mt_model_shape(m, taps[t].layer, 4, in, &nd, sh));
        CHECK(nd == 4 && sh[1] == taps[t].c && sh[2] == taps[t].h && sh[3] == taps[t].h, "%s: %d x %d x %d, expected %d x %d",
              taps[t].layer, sh[1], sh[2], sh[3], taps[t].c, taps[t].h);
    }
    CHECK_OK(mt_model_output_shape(m, 2, 3, 299, 299, &nd, s));
    CHECK(nd == 2 && s[0] == 2 && s[1] == 5, "logits at 299: nd=%d [%d, %d]", nd, s[0], s[1]);
    CHECK_OK(mt_model_output_shape(m, 1, 3, 75, 75, &nd, s));
    CHECK(nd == 2 && s[0] == 1 && s[1] == 5, "logits at 75: nd=%d [%d, %d]", nd, s[0], s[1]);
    mt_model_free(m);
}

/* A block whose later layers read earlier plain layers of the same block by
 * their local names (IRv2's `add: [input, scale]`, Reduction-A's concat of a
 * max pool): the references must resolve inside the instance. */
TEST(net_irv2_block_reads_local_plain_layer)
{
    const char *g = "input: {channels: 2, size: [6, 6]}\n"
                    "blocks:\n"
                    "  res:\n"
                    "    params: {s: 0.5}\n"
                    "    layers:\n"
                    "      - {name: conv, type: conv2d, from: input, out: 2, kernel: 1}\n"
                    "      - {name: scale, type: scale, factor: \"${s}\"}\n"
                    "      - {name: pool, type: max_pool2d, from: input, kernel: 1}\n"
                    "      - {name: add, type: add, from: [pool, scale]}\n"
                    "layers:\n"
                    "  - {name: b1, block: res, from: input}\n"
                    "  - {name: b2, block: res, from: b1, s: 2}\n";
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/test_net_irv2", mt_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/local.yaml", dir);
    FILE *f = fopen(path, "w");
    CHECK(f, "cannot write %s", path);
    fputs(g, f);
    fclose(f);
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 3, &m));
    /* y = pool(x) + s * conv(x) per block: check b1 numerically with weights set by hand */
    for (int i = 0; i < mt_model_state_count(m); i++) {
        mt_tensor *t = mt_model_state_tensor(m, i);
        const char *name = mt_model_state_name(m, i);
        for (size_t j = 0; j < mt_numel(t); j++)
            MT_DATA(t)[j] = ends_with(name, ".weight") ? (j == 0 || j == 3 ? 1.0f : 0.0f) : 0.0f; /* identity 1x1 */
    }
    int shape[4] = {1, 2, 6, 6};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, shape);
    for (int i = 0; i < 72; i++) MT_DATA(x)[i] = (mt_real)(i % 7) - 3.0f;
    mt_tensor *y = mt_model_forward(m, x, 0);
    CHECK_NOTNULL(y);
    /* b1 = 1.5 x, b2 = b1 + 2 b1 = 4.5 x */
    int bad = -1;
    for (int i = 0; i < 72 && bad < 0; i++)
        if (fabs(MT_DATA(y)[i] - 4.5 * MT_DATA(x)[i]) > 1e-5) bad = i;
    double got = bad >= 0 ? MT_DATA(y)[bad] : 0, want = bad >= 0 ? 4.5 * MT_DATA(x)[bad] : 0;
    mt_tensor_release(y);
    mt_tensor_release(x);
    mt_model_free(m);
    CHECK(bad < 0, "element %d: %g, expected %g", bad, got, want);
}
#endif

/* Twin checks (net_check.h): evaluation in the float32 binary, training in
 * the float64 one (run_gradcheck), and evaluation in float64 as well. The
 * float32 evaluation gradients hinge on ReLU kinks: among the ~10^7 ReLU
 * inputs of a 299x299 batch of 2, one sits within float32 rounding of 0
 * (block17_3.branch1_2.bn, element 45848: 1.5e-8 in exact arithmetic against
 * ~1e-7 rounding). float32 medtrain puts it on the other side of the kink, so
 * block17_3's branch gradients differ from the float64 twin by up to 8.3e-3
 * relative, inside net_check's float32 gradient tolerance (1e-2) but not
 * 1e-4; flipping that one unit in the float64 twin brings every float32
 * gradient to within 1e-6 of it. Which unit flips depends on summation order
 * (BLAS blocking, threads), so the float64 evaluation case is the one that
 * holds evaluation mode to 1e-4. */
static void irv2_twin(mt_test_ctx *T_, int train)
{
    /* input in [-1, 1]: the range of Keras's preprocess_input (mode 'tf') */
    net_case c = {IRV2, 1, {{"classes", "5"}}, "inception_resnet_v2", 2, 299, 299, -1, 1, train, 1e-4};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report(train ? "inception_resnet_v2 train" : "inception_resnet_v2 eval", &st);
}

/* float32 binary: evaluation; float64 binary: training */
TEST(net_irv2_matches_torch_twin) { irv2_twin(T_, NET_MODE); }

#ifdef MT_REAL_DOUBLE
TEST(net_irv2_eval_matches_torch_twin_float64) { irv2_twin(T_, 0); }
#endif
