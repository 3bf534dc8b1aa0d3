/* tests/test_net_effnet.c: EfficientNet-B3 as tf.keras.applications.EfficientNetB3
 * (configs/models/efficientnet_b3.yaml, models.md section 3): forward, every
 * gradient and the updated BN statistics against the PyTorch twin
 * (experiments/twins/efficientnet_b3.py) at the study's 256x256x3, batch 2,
 * classes 1, in evaluation and training, and with 1000 classes at 300x300
 * (evaluation); the exact
 * counts (Keras total 12,320,535 with 1000 classes, 10,785,072 with the
 * study's 1-unit head) and those of the whole B0..B7 family built from the
 * same graph by its width/depth params (the Keras Applications totals, which
 * exercise round_filters/round_repeats); the block structure (Keras names,
 * correct_pad paddings at 256 and 300, drop-connect rates 0.2 * b / 26 only
 * where there is an identity skip); the Keras initialisers; drop-path
 * statistics (the Keras weight map is tested in tests/test_weights_keras_nets.c);
 * and the pieces added for this
 * graph: sum() in expressions, `pad` with padding: same, references between
 * layers of one block. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/autograd.h"
#include "../core/device.h"
#include "../core/ops.h"
#include "../layers/expr.h"
#include "../layers/layer.h"
#include "../layers/model.h"
#include "../layers/weights.h"
#include "net_check.h"
#include "test.h"

#define EFFNET "configs/models/efficientnet_b3.yaml"

/* Twin checks (net_check.h): the float32 binary runs the evaluation cases, the
 * float64 one (run_gradcheck) the training case; inputs are images in [0, 255]
 * (the graph rescales by 1/255). Training runs with drop_connect_rate 0 and
 * dropout 0 (random layers; drop_path's own statistics are tested below);
 * evaluation keeps the defaults 0.2 and 0.3, which it must ignore. */
TEST(net_effnet_matches_torch_twin)
{
    net_case c = {EFFNET, 3, {{"classes", "1"}, {"drop_connect_rate", NET_MODE ? "0" : "0.2"}, {"dropout", NET_MODE ? "0" : "0.3"}},
                  "efficientnet_b3", 2, 256, 256, 0, 255, NET_MODE, 1e-4};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("efficientnet_b3 classes 1, 256x256, " NET_MODE_NAME, &st);
}

#ifndef MT_REAL_DOUBLE
/* the 1000-class head at Keras's default 300x300, whose odd maps (75, 19) take symmetric correct_pad paddings */
TEST(net_effnet_1000_classes_300_matches_torch_twin_eval)
{
    net_case c = {EFFNET, 1, {{"classes", "1000"}}, "efficientnet_b3", 2, 300, 300, 0, 255, 0, 1e-4};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("efficientnet_b3 classes 1000, 300x300, eval", &st);
}

static mt_status load_effnet(int n, const mt_model_arg *args, mt_model **m)
{
    char path[512];
    return mt_model_load_yaml(mt_test_path(EFFNET, path, sizeof path), n, args, mt_cpu(), 1234, m);
}

/* files go to <tmpdir>/test_net_effnet/ */
static const char *write_tmp(const char *name, const char *text, char *buf, size_t len)
{
    snprintf(buf, len, "%s/test_net_effnet", mt_test_tmpdir());
    mkdir(buf, 0700);
    snprintf(buf, len, "%s/test_net_effnet/%s", mt_test_tmpdir(), name);
    FILE *f = fopen(buf, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return buf;
}

static mt_tensor *state(mt_model *m, const char *name)
{
    for (int i = 0; i < mt_model_state_count(m); i++)
        if (!strcmp(mt_model_state_name(m, i), name)) return mt_model_state_tensor(m, i);
    return NULL;
}

TEST(net_effnet_counts_match_models_md)
{
    static const struct {
        const char *classes;
        size_t params, buffers, keras_total;
    } cases[] = {
        {"1000", 12233232, 87303, 12320535}, /* models.md 3.4, the Keras Applications table */
        {"1", 10697769, 87303, 10785072},    /* the study's sigmoid unit (S4) */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        mt_model_arg args[3] = {{"classes", cases[c].classes}, {"conv_init", "none"}, {"dense_init", "none"}};
        mt_model *m = NULL;
        CHECK_OK(load_effnet(3, args, &m));
        size_t np = mt_model_param_count(m), nb = mt_model_keras_buffer_count(m);
        int nd, s[MT_MAX_DIMS], in256[4] = {2, 3, 256, 256}, in300[4] = {1, 3, 300, 300};
        mt_status st = mt_model_shape(m, NULL, 4, in256, &nd, s);
        int ok256 = st == MT_OK && nd == 2 && s[0] == 2 && s[1] == atoi(cases[c].classes);
        int top[MT_MAX_DIMS], ndt = 0;
        if (st == MT_OK) st = mt_model_shape(m, "top_bn", 4, in256, &ndt, top);
        int ok_top = st == MT_OK && top[1] == 1536 && top[2] == 8 && top[3] == 8;
        if (st == MT_OK) st = mt_model_shape(m, "top_bn", 4, in300, &ndt, top);
        int ok_top300 = st == MT_OK && top[1] == 1536 && top[2] == 10 && top[3] == 10;
        mt_model_free(m);
        CHECK_OK(st);
        CHECK(np == cases[c].params, "classes %s: %zu parameters, models.md %zu", cases[c].classes, np, cases[c].params);
        CHECK(nb == cases[c].buffers, "classes %s: %zu Keras non-trainable, models.md %zu", cases[c].classes, nb,
              cases[c].buffers);
        CHECK(np + nb == cases[c].keras_total, "classes %s: Keras total %zu, models.md %zu", cases[c].classes, np + nb,
              cases[c].keras_total);
        CHECK(ok256, "classes %s: output of a 256 input [%d, %d]", cases[c].classes, s[0], s[1]);
        CHECK(ok_top && ok_top300, "top_bn must be 1536 x 8 x 8 at 256 and 1536 x 10 x 10 at 300");
    }
}

TEST(net_effnet_family_b0_to_b7_counts_match_keras)
{
    /* the same graph with each variant's width/depth coefficients gives the Keras
       Applications totals (model.summary() "Total params", 1000 classes) */
    static const struct {
        const char *width, *depth;
        size_t total, trainable;
    } v[] = {
        {"1.0", "1.0", 5330571, 5288548},   {"1.0", "1.1", 7856239, 7794184},   {"1.1", "1.2", 9177569, 9109994},
        {"1.2", "1.4", 12320535, 12233232}, {"1.4", "1.8", 19466823, 19341616}, {"1.6", "2.2", 30562527, 30389784},
        {"1.8", "2.6", 43265143, 43040704}, {"2.0", "3.1", 66658687, 66347960},
    };
    for (int k = 0; k < 8; k++) {
        mt_model_arg args[4] = {{"width", v[k].width}, {"depth", v[k].depth}, {"conv_init", "none"}, {"dense_init", "none"}};
        mt_model *m = NULL;
        CHECK_OK(load_effnet(4, args, &m));
        size_t np = mt_model_param_count(m), nb = mt_model_keras_buffer_count(m);
        mt_model_free(m);
        CHECK(np == v[k].trainable && np + nb == v[k].total, "EfficientNetB%d: %zu trainable, %zu total; Keras %zu, %zu", k,
              np, np + nb, v[k].trainable, v[k].total);
    }
}

/* the drop_path rate of a layer (its spec's p) */
static double layer_p(const mt_layer *L)
{
    double p = -1;
    return mt_layer_get_double(L, "p", 0, &p) == MT_OK ? p : -1;
}

TEST(net_effnet_blocks_keras_names_pads_and_drop_rates)
{
    mt_model_arg args[3] = {{"classes", "1"}, {"conv_init", "none"}, {"dense_init", "none"}};
    mt_model *m = NULL;
    CHECK_OK(load_effnet(3, args, &m));
    /* 26 blocks, Keras order and names; drop-connect 0.2 * b / 26 in the blocks with an identity skip */
    static const char *const blocks[26] = {"1a", "1b", "2a", "2b", "2c", "3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e",
                                           "5a", "5b", "5c", "5d", "5e", "6a", "6b", "6c", "6d", "6e", "6f", "7a", "7b"};
    int b = -1, n_drop = 0, n_add = 0;
    char prefix[16] = "";
    for (int i = 0; i < m->n_layers; i++) {
        const mt_layer *L = &m->layers[i];
        if (strncmp(L->name, "block", 5)) continue;
        if (strncmp(L->name, prefix, strlen(prefix)) || !prefix[0]) {
            b++;
            CHECK(b < 26, "more than 26 blocks (%s)", L->name);
            snprintf(prefix, sizeof prefix, "block%s.", blocks[b]);
            CHECK(!strncmp(L->name, prefix, strlen(prefix)), "block %d is %s, Keras block%s", b, L->name, blocks[b]);
        }
        int skip = blocks[b][1] != 'a'; /* the first block of a stage changes width or stride */
        if (!strcmp(L->kind->type, "drop_path")) {
            n_drop++;
            CHECK(skip, "%s: drop-connect in a block without an identity skip", L->name);
            double want = 0.2 * b / 26;
            CHECK(fabs(layer_p(L) - want) < 1e-15, "%s: rate %.17g, Keras 0.2 * %d / 26 = %.17g", L->name, layer_p(L), b, want);
        }
        if (!strcmp(L->kind->type, "add")) {
            n_add++;
            CHECK(skip, "%s: residual add in a block without an identity skip", L->name);
        }
    }
    CHECK(b == 25 && n_drop == 19 && n_add == 19, "%d blocks, %d drop_path, %d add (26, 19, 19 expected)", b + 1, n_drop, n_add);
    /* Keras weight names with the block's '_' made '.', PyTorch layouts (depthwise [C, 1, k, k]) */
    static const struct {
        const char *name;
        int ndim, shape[4];
    } names[] = {
        {"stem_conv.weight", 4, {40, 3, 3, 3}},        {"stem_bn.running_var", 1, {40}},
        {"block1a.dwconv.weight", 4, {40, 1, 3, 3}},   {"block1a.se_reduce.weight", 4, {10, 40, 1, 1}},
        {"block1a.se_reduce.bias", 1, {10}},           {"block1a.se_expand.bias", 1, {40}},
        {"block1a.project_conv.weight", 4, {24, 40, 1, 1}},
        {"block2a.expand_conv.weight", 4, {144, 24, 1, 1}}, {"block2a.expand_bn.weight", 1, {144}},
        {"block3a.dwconv.weight", 4, {192, 1, 5, 5}},  {"block3a.se_reduce.weight", 4, {8, 192, 1, 1}},
        {"block7b.project_bn.running_mean", 1, {384}}, {"top_conv.weight", 4, {1536, 384, 1, 1}},
        {"top_bn.bias", 1, {1536}},                    {"normalization.mean", 1, {3}},
        {"normalization.variance", 1, {3}},            {"normalization.count", 0, {0}},
        {"predictions.weight", 2, {1, 1536}},          {"predictions.bias", 1, {1}},
    };
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        mt_tensor *t = state(m, names[k].name);
        CHECK(t, "no state %s", names[k].name);
        int ok = t->ndim == names[k].ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = t->shape[d] == names[k].shape[d];
        CHECK(ok, "%s has the wrong shape (rank %d, [%d, ...])", names[k].name, t->ndim, t->ndim ? t->shape[0] : 0);
    }
    CHECK(!state(m, "block1a.expand_conv.weight"), "block1a (expand ratio 1) has no expand conv in Keras");
    /* correct_pad: (0, 1) for k3 and (1, 2) for k5 on even maps, (k//2, k//2) on odd ones */
    static const struct {
        const char *layer;
        int size, out;
    } pads[] = {
        {"stem_conv_pad", 256, 257},   {"block2a.dwconv_pad", 256, 129}, {"block3a.dwconv_pad", 256, 67},
        {"block4a.dwconv_pad", 256, 33}, {"block6a.dwconv_pad", 256, 19}, {"stem_conv_pad", 300, 301},
        {"block2a.dwconv_pad", 300, 151}, {"block3a.dwconv_pad", 300, 79}, /* 75 odd: (2, 2) */
        {"block4a.dwconv_pad", 300, 39},  {"block6a.dwconv_pad", 300, 23}, /* 19 odd: (2, 2) */
    };
    for (size_t k = 0; k < sizeof pads / sizeof *pads; k++) {
        int nd, s[MT_MAX_DIMS], in[4] = {1, 3, pads[k].size, pads[k].size};
        CHECK_OK(mt_model_shape(m, pads[k].layer, 4, in, &nd, s));
        CHECK(s[2] == pads[k].out && s[3] == pads[k].out, "%s at %d: %d x %d, expected %d", pads[k].layer, pads[k].size,
              s[2], s[3], pads[k].out);
    }
    mt_model_free(m);
}

/* mean, standard deviation and largest magnitude of a tensor */
static void moments(mt_tensor *t, double *mean, double *sd, double *amax)
{
    size_t n = mt_numel(t);
    double s = 0, s2 = 0, a = 0;
    for (size_t i = 0; i < n; i++) {
        double v = MT_DATA(t)[i];
        s += v, s2 += v * v, a = fabs(v) > a ? fabs(v) : a;
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
    *amax = a;
}

TEST(net_effnet_keras_initialisers)
{
    /* convs VarianceScaling(2, fan_out, truncated normal): std sqrt(2 / fan_out), |w| < 2 sqrt(2 / fan_out) / .8796;
       depthwise fan_out = k * k (Keras (k, k, C, 1) kernel), not C * k * k; dense U(+-sqrt(1 / units)); biases 0 */
    mt_model *m = NULL;
    CHECK_OK(load_effnet(0, NULL, &m));
    static const struct {
        const char *name;
        double fan_out;
    } convs[] = {
        {"stem_conv.weight", 9 * 40},     {"block7b.dwconv.weight", 9}, {"block6a.dwconv.weight", 25},
        {"top_conv.weight", 1536},        {"block7b.expand_conv.weight", 2304}, {"block7b.se_reduce.weight", 96},
    };
    for (size_t k = 0; k < sizeof convs / sizeof *convs; k++) {
        double mean, sd, amax, want = sqrt(2.0 / convs[k].fan_out);
        mt_tensor *t = state(m, convs[k].name);
        CHECK(t, "no %s", convs[k].name);
        moments(t, &mean, &sd, &amax);
        CHECK(fabs(sd / want - 1) < 0.05 && fabs(mean) < 0.05 * want, "%s: mean %g std %g, Keras std %g", convs[k].name,
              mean, sd, want);
        CHECK(amax <= 2 * want / .87962566103423978 + 1e-6, "%s: |w| %g beyond the truncation", convs[k].name, amax);
    }
    double mean, sd, amax, bound = sqrt(1.0 / 1000);
    moments(state(m, "predictions.weight"), &mean, &sd, &amax);
    CHECK(amax <= bound && amax > 0.99 * bound && fabs(sd / (bound / sqrt(3.0)) - 1) < 0.02,
          "predictions: max %g std %g, Keras U(+-%g)", amax, sd, bound);
    static const char *const zeros[] = {"predictions.bias", "block3b.se_reduce.bias", "block3b.se_expand.bias",
                                        "top_bn.bias", "normalization.mean", "normalization.count"};
    for (size_t k = 0; k < sizeof zeros / sizeof *zeros; k++) {
        moments(state(m, zeros[k]), &mean, &sd, &amax);
        CHECK(amax == 0, "%s must start at 0 (max %g)", zeros[k], amax);
    }
    moments(state(m, "normalization.variance"), &mean, &sd, &amax);
    CHECK(mean == 1 && sd == 0, "normalization.variance must start at 1");
    moments(state(m, "block2a.bn.weight"), &mean, &sd, &amax);
    CHECK(mean == 1 && sd == 0, "BN gamma must start at 1");
    mt_model_free(m);
}

TEST(net_effnet_drop_path_zeroes_whole_samples)
{
    /* training: each sample kept whole and scaled by 1 / (1 - p), or zeroed whole, with probability p;
       the gradient is the same mask; evaluation and p = 0 are the identity */
    const char *g = "params: {p: 0.25}\ninput: {channels: 3}\nlayers:\n"
                    "  - {name: drop, type: drop_path, p: \"${p}\"}\n";
    char path[512];
    CHECK_NOTNULL(write_tmp("drop_path.yaml", g, path, sizeof path));
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 5, &m));
    enum { N = 4000, C = 3, H = 2, W = 3, S = C * H * W };
    int shape[4] = {N, C, H, W};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, shape);
    CHECK_NOTNULL(x);
    for (int i = 0; i < N * S; i++) MT_DATA(x)[i] = (mt_real)(1 + (i % 7));
    mt_requires_grad(x, 1);
    mt_rng rng = {99, 0};
    mt_tensor *y = NULL;
    CHECK_OK(mt_model_run(m, x, 1, &rng, &y));
    CHECK_OK(mt_backward(mt_sum_all(y), NULL, 0));
    int dropped = 0;
    const double scale = 1 / (1 - 0.25);
    for (int n = 0; n < N; n++) {
        const mt_real *yn = MT_DATA(y) + (size_t)n * S, *xn = MT_DATA(x) + (size_t)n * S, *gn = MT_DATA(x->grad) + (size_t)n * S;
        int zero = yn[0] == 0;
        dropped += zero;
        for (int k = 0; k < S; k++) {
            double want = zero ? 0 : xn[k] * scale;
            CHECK(fabs(yn[k] - want) <= 1e-6 * fabs(want), "sample %d element %d: %g, expected %g (whole sample %s)", n, k,
                  yn[k], want, zero ? "dropped" : "kept");
            CHECK(fabs(gn[k] - (zero ? 0 : scale)) <= 1e-6, "sample %d: gradient %g, expected the mask %g", n, gn[k],
                  zero ? 0 : scale);
        }
    }
    /* binomial(4000, 0.25): mean 1000, sd 27.4; 5 sd */
    CHECK(abs(dropped - 1000) < 137, "%d of %d samples dropped, expected about 1000 (p 0.25)", dropped, N);
    CHECK(rng.offset > 0, "drop_path did not advance the stream");
    mt_tensor_release(y);
    /* evaluation: identity */
    CHECK_OK(mt_model_run(m, x, 0, NULL, &y));
    CHECK(!memcmp(MT_DATA(y), MT_DATA(x), mt_nbytes(x)), "evaluation drop_path must be the identity");
    mt_tensor_release(y);
    mt_model_free(m);
    /* p = 0 in training: identity, no draws (the twin checks run training with drop_connect_rate 0) */
    mt_model_arg zero = {"p", "0"};
    CHECK_OK(mt_model_load_yaml(path, 1, &zero, mt_cpu(), 5, &m));
    mt_rng r0 = {99, 0};
    CHECK_OK(mt_model_run(m, x, 1, &r0, &y));
    CHECK(!memcmp(MT_DATA(y), MT_DATA(x), mt_nbytes(x)) && r0.offset == 0, "p = 0 must be the identity");
    mt_tensor_release(y);
    mt_tensor_release(x);
    mt_model_free(m);
}

static int eval_num(const char *text, int n, const mt_expr_var *vars, double *out, char *err, size_t errlen)
{
    mt_expr_env env = {n, vars};
    mt_expr_value v;
    if (mt_expr_eval(text, &env, &v, err, errlen)) return -1;
    *out = v.num;
    return v.is_str || v.list ? -1 : 0;
}

TEST(net_effnet_expression_sum)
{
    mt_expr_var vars[2] = {{"s", {0, 3, "", NULL}}, {"t", {0, 100, "", NULL}}};
    static const struct {
        const char *text;
        double want;
    } ok[] = {
        {"sum(t, 1, 4, t * t)", 30},                    /* inclusive bounds */
        {"sum(t, 3, 2, t)", 0},                         /* empty */
        {"sum(t, 0, s - 1, max(t, 1) * (t + 1)) + t", 109}, /* parentheses in the body; t shadowed only inside */
        {"sum(i, 1, 3, sum(j, 1, i, j))", 10},          /* nested */
        {"2 * sum(k, 0, 2, k == s - 2 ? 5 : 1)", 14},   /* ternary in the body, outer names visible */
        {"sum(k, 0, 1, len('a)b'))", 6},                /* quotes hide brackets */
    };
    char err[256];
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        double v = -1;
        CHECK(eval_num(ok[k].text, 2, vars, &v, err, sizeof err) == 0, "%s: %s", ok[k].text, err);
        CHECK(v == ok[k].want, "%s = %g, expected %g", ok[k].text, v, ok[k].want);
    }
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"sum(1, 0, 2, 3)", "variable name"},
        {"sum(t, 0, 2)", "expected ','"},
        {"sum(t, 0, 2, t", "expected ')'"},
        {"sum(t, 0.5, 2, t)", "integers"},
        {"sum(t, 0, 2, u)", "unknown name 'u'"},
        {"sum(t, 0, 2, 'a')", "must give a number"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        double v;
        CHECK(eval_num(bad[k].text, 2, vars, &v, err, sizeof err) != 0, "%s must fail", bad[k].text);
        CHECK(strstr(err, bad[k].msg), "%s: message '%s' lacks '%s'", bad[k].text, err, bad[k].msg);
    }
    /* the graph's use: blocks before stage s and in all, for B3's depth 1.4 */
    const char *g = "params:\n  depth: 1.4\n  stages: [[1], [2], [2], [3], [3], [4], [1]]\ninput: {channels: 1}\nlayers:\n"
                    "  - repeat: {var: s, from: 0, to: len(stages) - 1}\n    layers:\n"
                    "      - {name: \"c${s}\", type: conv2d, kernel: 1, out: \"${sum(t, 0, s - 1, ceil(depth * stages[t][0])) * "
                    "100 + sum(t, 0, len(stages) - 1, ceil(depth * stages[t][0]))}\"}\n";
    char path[512];
    CHECK_NOTNULL(write_tmp("sum.yaml", g, path, sizeof path));
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 1, &m));
    static const int first[7] = {0, 2, 5, 8, 13, 18, 24};
    for (int s = 0; s < 7; s++)
        CHECK(m->layers[s].cout[0] == first[s] * 100 + 26, "stage %d: %d (first block %d of 26)", s, m->layers[s].cout[0],
              first[s]);
    mt_model_free(m);
}

TEST(net_effnet_pad_same_is_keras_correct_pad)
{
    /* pad `same` for kernel k, stride 2 = Keras ZeroPadding2D(correct_pad): even n (k//2 - 1, k//2), odd n (k//2, k//2) */
    const char *g = "params: {k: 3}\ninput: {channels: 1}\nlayers:\n"
                    "  - {name: p, type: pad, padding: same, kernel: \"${k}\", stride: 2, value: 0}\n";
    char path[512];
    CHECK_NOTNULL(write_tmp("pad_same.yaml", g, path, sizeof path));
    static const struct {
        const char *k;
        int h, w, top, bottom, left, right;
    } cases[] = {
        {"3", 4, 5, 0, 1, 1, 1}, {"5", 6, 7, 1, 2, 2, 2}, {"5", 7, 6, 2, 2, 1, 2}, {"3", 1, 2, 1, 1, 0, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        mt_model_arg arg = {"k", cases[c].k};
        mt_model *m = NULL;
        CHECK_OK(mt_model_load_yaml(path, 1, &arg, mt_cpu(), 1, &m));
        int shape[4] = {1, 1, cases[c].h, cases[c].w};
        mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, shape), *y = NULL;
        CHECK_NOTNULL(x);
        for (int i = 0; i < cases[c].h * cases[c].w; i++) MT_DATA(x)[i] = (mt_real)(i + 1);
        CHECK_OK(mt_model_run(m, x, 0, NULL, &y));
        int oh = cases[c].h + cases[c].top + cases[c].bottom, ow = cases[c].w + cases[c].left + cases[c].right;
        CHECK(y->shape[2] == oh && y->shape[3] == ow, "k%s %dx%d: %dx%d, expected %dx%d", cases[c].k, cases[c].h,
              cases[c].w, y->shape[2], y->shape[3], oh, ow);
        /* the first input pixel lands at (top, left) */
        CHECK(MT_DATA(y)[cases[c].top * ow + cases[c].left] == 1, "k%s %dx%d: input origin not at (%d, %d)", cases[c].k,
              cases[c].h, cases[c].w, cases[c].top, cases[c].left);
        mt_tensor_release(x);
        mt_tensor_release(y);
        mt_model_free(m);
    }
    /* errors: same without kernel; kernel with explicit pixels */
    const char *g2 = "input: {channels: 1}\nlayers:\n  - {name: p, type: pad, padding: same}\n";
    const char *g3 = "input: {channels: 1}\nlayers:\n  - {name: p, type: pad, padding: 1, kernel: 3}\n";
    mt_model *m = NULL;
    CHECK_NOTNULL(write_tmp("pad_bad2.yaml", g2, path, sizeof path));
    CHECK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 1, &m) != MT_OK && strstr(mt_last_error(), "kernel"),
          "padding: same without kernel must fail naming it: %s", mt_last_error());
    mt_error_clear();
    CHECK_NOTNULL(write_tmp("pad_bad3.yaml", g3, path, sizeof path));
    CHECK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 1, &m) != MT_OK && strstr(mt_last_error(), "only used with"),
          "kernel with pixel padding must fail: %s", mt_last_error());
    mt_error_clear();
}

TEST(net_effnet_block_layers_read_earlier_layers_of_their_block)
{
    /* a block layer may read any earlier layer of its own instance (SE's `mul` of bn and se_expand) */
    const char *g = "input: {channels: 2}\n"
                    "blocks:\n  two:\n    params: {c: 3}\n    layers:\n"
                    "      - {name: a, type: conv2d, out: \"${c}\", kernel: 1}\n"
                    "      - {name: b, type: conv2d, out: 5, kernel: 1}\n"
                    "      - {name: cat, type: concat, from: [a, b, input]}\n"
                    "layers:\n"
                    "  - {name: i1, block: two}\n"
                    "  - {name: i2, block: two, c: 4}\n"
                    "  - {name: a, type: identity, from: i1}\n";
    char path[512];
    CHECK_NOTNULL(write_tmp("block_refs.yaml", g, path, sizeof path));
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 1, &m));
    /* i1.cat = [i1.a (3), i1.b (5), input (2)] = 10; i2.cat = [i2.a (4), i2.b (5), i1.cat (10)] = 19 */
    int nd, s[MT_MAX_DIMS], in[4] = {1, 2, 4, 4};
    CHECK_OK(mt_model_shape(m, "i1", 4, in, &nd, s));
    CHECK(s[1] == 10, "i1 has %d channels, expected 10", s[1]);
    CHECK_OK(mt_model_shape(m, "i2", 4, in, &nd, s));
    CHECK(s[1] == 19, "i2 has %d channels, expected 19", s[1]);
    const mt_layer *cat2 = &m->layers[5];
    CHECK(!strcmp(cat2->name, "i2.cat") && cat2->n_from == 3, "layer 5 is %s", cat2->name);
    CHECK(!strcmp(m->layers[m->value_layer[cat2->in[0]]].name, "i2.a") &&
              !strcmp(m->layers[m->value_layer[cat2->in[1]]].name, "i2.b") &&
              !strcmp(m->layers[m->value_layer[cat2->in[2]]].name, "i1.cat"),
          "i2.cat must read i2.a, i2.b and i1's output");
    mt_model_free(m);
}
#endif
