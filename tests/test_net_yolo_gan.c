/* tests/test_net_yolo_gan.c: YOLOv5s (configs/models/yolov5s.yaml, models.md
 * section 6) and the Skip-GANomaly generator and discriminator
 * (configs/models/skip_ganomaly_g.yaml / skip_ganomaly_d.yaml, section 5):
 *  - the exact parameter counts of models.md and the output shapes;
 *  - forward, every parameter gradient and (training) every BN buffer against
 *    the PyTorch twins (experiments/twins/yolov5s.py, skip_ganomaly.py) at
 *    the studies' sizes: YOLOv5s 512x512x1 nc 1, the GAN 256x256x1, batch 2,
 *    evaluation in run_tests (float32), training in run_gradcheck (the
 *    float64 build; tests/net_check.h);
 *  - the initialisations the graphs add: Detect's bias priors (conv2d
 *    bias_offset, models.md 6.5) and the GAN's N(0, 0.02) / BN gamma
 *    N(1, 0.02) (batch_norm2d init: normal, models.md 5.4);
 *  - the graph features they rely on: log() in expressions, a block layer
 *    reading an earlier plain layer of its block, and `input` inside a block
 *    instance that follows a plain layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/device.h"
#include "../layers/expr.h"
#include "../layers/model.h"
#include "net_check.h"
#include "test.h"

#ifndef MT_REAL_DOUBLE /* float32 only: counts, init, graph features (the float64 binary runs the training twin cases) */
static mt_status load(const char *rel, int n, const mt_model_arg *args, uint64_t seed, mt_model **m)
{
    char path[512];
    return mt_model_load_yaml(mt_test_path(rel, path, sizeof path), n, args, mt_cpu(), seed, m);
}

/* copies the named state tensor to a malloc'ed host array; NULL if absent */
static float *state_host(mt_model *m, const char *name, size_t *n)
{
    for (int i = 0; i < mt_model_state_count(m); i++) {
        if (strcmp(mt_model_state_name(m, i), name)) continue;
        mt_tensor *t = mt_model_state_tensor(m, i);
        *n = mt_numel(t);
        float *h = malloc(*n * sizeof *h);
        if (h && mt_tensor_to_host(t, h, *n * sizeof *h) != MT_OK) {
            free(h);
            return NULL;
        }
        return h;
    }
    return NULL;
}

static void mean_std(const float *v, size_t n, double *mean, double *std)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *std = sqrt(q / (double)n);
}

/* ------------------------------------------------------------ YOLOv5s --- */

TEST(net_yolov5s_counts_match_models_md)
{
    static const struct {
        const char *ch, *nc;
        size_t params;
    } cfg[] = {{"3", "80", 7235389}, {"3", "1", 7022326}, {"1", "1", 7020022}};
    for (size_t k = 0; k < sizeof cfg / sizeof *cfg; k++) {
        mt_model_arg a[3] = {{"in_channels", cfg[k].ch}, {"nc", cfg[k].nc}, {"img_size", "512"}};
        mt_model *m = NULL;
        CHECK_OK(load("configs/models/yolov5s.yaml", 3, a, 0, &m));
        size_t np = mt_model_param_count(m), nb = mt_model_keras_buffer_count(m);
        int no = mt_model_output_count(m), nd[3] = {0}, s[3][MT_MAX_DIMS], in[4] = {2, atoi(cfg[k].ch), 512, 512};
        mt_status st = MT_OK;
        for (int i = 0; i < 3 && st == MT_OK && no == 3; i++) st = mt_model_shape(m, mt_model_output_name(m, i), 4, in, &nd[i], s[i]);
        mt_model_free(m);
        CHECK(np == cfg[k].params, "yolov5s %s-ch nc %s: %zu parameters, models.md %zu", cfg[k].ch, cfg[k].nc, np,
              cfg[k].params);
        CHECK(nb == 19008, "yolov5s: %zu BN statistics, expected 19,008 (57 BN layers)", nb);
        CHECK(no == 3, "yolov5s has %d outputs, expected 3 (p3, p4, p5)", no);
        CHECK_OK(st);
        int no5 = 5 + atoi(cfg[k].nc);
        for (int i = 0; i < 3; i++) {
            int g = 64 >> i;
            CHECK(nd[i] == 5 && s[i][0] == 2 && s[i][1] == 3 && s[i][2] == g && s[i][3] == g && s[i][4] == no5,
                  "output %d: [%d, %d, %d, %d, %d], expected [2, 3, %d, %d, %d]", i, s[i][0], s[i][1], s[i][2], s[i][3],
                  s[i][4], g, g, no5);
        }
    }
}

/* Detect._initialize_biases: per anchor, obj += log(8 / (640 / s)^2), classes
 * += log(0.6 / (nc - 0.99999)) on top of PyTorch's U(+-1/sqrt(fan_in)). */
TEST(net_yolov5s_detect_bias_priors)
{
    static const char *const ncs[] = {"1", "80"};
    for (int c = 0; c < 2; c++) {
        mt_model_arg a[1] = {{"nc", ncs[c]}};
        mt_model *m = NULL;
        CHECK_OK(load("configs/models/yolov5s.yaml", 1, a, 5, &m));
        int nc = atoi(ncs[c]), no = 5 + nc, fan[3] = {128, 256, 512}, stride[3] = {8, 16, 32};
        double cls = log(0.6 / (nc - 0.99999));
        int bad = 0;
        char why[200] = "";
        for (int l = 0; l < 3 && !bad; l++) {
            char name[32];
            snprintf(name, sizeof name, "p%d.conv.bias", l + 3);
            size_t n = 0;
            float *b = state_host(m, name, &n);
            if (!b || n != (size_t)(3 * no)) {
                bad = 1;
                snprintf(why, sizeof why, "%s missing or of size %zu", name, n);
                free(b);
                break;
            }
            double bound = 1 / sqrt((double)fan[l]), obj = log(8.0 / pow(640.0 / stride[l], 2));
            for (int i = 0; i < 3 * no && !bad; i++) {
                int j = i % no;
                double off = j == 4 ? obj : j >= 5 ? cls : 0, d = b[i] - off;
                if (fabs(d) > bound + 1e-6) {
                    bad = 1;
                    snprintf(why, sizeof why, "%s[%d] = %.6f, expected %.6f +- %.4f", name, i, b[i], off, bound);
                }
            }
            free(b);
        }
        mt_model_free(m);
        CHECK(!bad, "nc %d: %s", nc, why);
    }
}

#endif

/* float32 binary: evaluation mode; float64 binary (run_gradcheck): training mode (net_check.h) */
TEST(net_yolov5s_matches_torch_twin)
{
    net_case c = {"configs/models/yolov5s.yaml", 3, {{"in_channels", "1"}, {"nc", "1"}, {"img_size", "512"}},
                  "yolov5s", 2, 512, 512, 0, 1, NET_MODE, 1e-4};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("yolov5s " NET_MODE_NAME, &st);
}

#ifndef MT_REAL_DOUBLE

/* ------------------------------------------------------- Skip-GANomaly --- */

TEST(net_skip_ganomaly_counts_match_models_md)
{
    mt_model *m = NULL;
    int nd, s[MT_MAX_DIMS], in[4] = {2, 1, 256, 256};
    mt_model_arg none[3] = {{"init", "none"}, {"in_channels", "3"}, {"out_channels", "3"}}; /* counting: no random init */
    /* generator */
    CHECK_OK(load("configs/models/skip_ganomaly_g.yaml", 1, none, 0, &m));
    size_t np = mt_model_param_count(m), nb = mt_model_keras_buffer_count(m);
    mt_status st = mt_model_shape(m, NULL, 4, in, &nd, s);
    mt_model_free(m);
    CHECK(np == 54407809, "G: %zu parameters, models.md 54,407,809", np);
    CHECK(nb == 9856, "G: %zu BN statistics, models.md 9,856", nb);
    CHECK_OK(st);
    CHECK(nd == 4 && s[0] == 2 && s[1] == 1 && s[2] == 256 && s[3] == 256, "G output [%d, %d, %d, %d]", s[0], s[1], s[2], s[3]);
    CHECK_OK(load("configs/models/skip_ganomaly_g.yaml", 3, none, 0, &m));
    np = mt_model_param_count(m);
    mt_model_free(m);
    CHECK(np == 54413955, "G with 3 channels: %zu parameters, models.md 54,413,955", np);
    /* discriminator */
    CHECK_OK(load("configs/models/skip_ganomaly_d.yaml", 1, none, 0, &m));
    np = mt_model_param_count(m), nb = mt_model_keras_buffer_count(m);
    int no = mt_model_output_count(m), nd2, s2[MT_MAX_DIMS];
    st = mt_model_shape(m, "logit", 4, in, &nd, s);
    if (st == MT_OK) st = mt_model_shape(m, "features", 4, in, &nd2, s2);
    int names_ok = no == 2 && !strcmp(mt_model_output_name(m, 0), "logit") && !strcmp(mt_model_output_name(m, 1), "features");
    mt_model_free(m);
    CHECK(np == 47982212, "D: %zu parameters, models.md 47,982,212", np);
    CHECK(nb == 7936, "D: %zu BN statistics, models.md 7,936", nb);
    CHECK(names_ok, "D outputs must be [logit, features]");
    CHECK_OK(st);
    CHECK(nd == 1 && s[0] == 2, "D logit must be [N] = [2]");
    CHECK(nd2 == 4 && s2[0] == 2 && s2[1] == 100 && s2[2] == 1 && s2[3] == 1, "D features [%d, %d, %d, %d], expected [2, 100, 1, 1]",
          s2[0], s2[1], s2[2], s2[3]);
    CHECK_OK(load("configs/models/skip_ganomaly_d.yaml", 2, none, 0, &m));
    np = mt_model_param_count(m);
    mt_model_free(m);
    CHECK(np == 47984260, "D with 3 channels: %zu parameters, models.md 47,984,260", np);
}

/* mean and std of a state tensor within tolerances; *why explains a failure */
typedef struct init_expect {
    const char *name;
    double mean, std, tol_mean, tol_std;
} init_expect;

static int check_init(mt_model *m, const char *net, const init_expect *e, char *why, size_t len)
{
    size_t n = 0;
    float *v = state_host(m, e->name, &n);
    double mu = 0, sd = 0;
    if (!v) return snprintf(why, len, "%s has no %s", net, e->name), 0;
    mean_std(v, n, &mu, &sd);
    free(v);
    if (fabs(mu - e->mean) <= e->tol_mean && fabs(sd - e->std) <= e->tol_std) return 1;
    snprintf(why, len, "%s %s: mean %.5f std %.5f, expected %g, %g", net, e->name, mu, sd, e->mean, e->std);
    return 0;
}

/* init_weights 'normal': conv weights N(0, 0.02), BN gamma N(1, 0.02), beta 0, the outermost convT bias 0 */
TEST(net_skip_ganomaly_init_normal)
{
    static const init_expect d[] = {{"f6.conv.weight", 0, 0.02, 1e-4, 2e-4}, {"f7.weight", 0, 0.02, 2e-4, 4e-4},
                                    {"f6.bn.weight", 1, 0.02, 2.5e-3, 2.5e-3}, {"f5.bn.weight", 1, 0.02, 3e-3, 3e-3},
                                    {"f6.bn.bias", 0, 0, 0, 0}};
    static const init_expect g[] = {{"up7.convt.weight", 0, 0.02, 1e-4, 2e-4}, {"down5.conv.weight", 0, 0.02, 1e-4, 2e-4},
                                    {"up5.bn.weight", 1, 0.02, 3e-3, 3e-3}, {"up1.convt.bias", 0, 0, 0, 0}};
    char why[300] = "";
    int ok = 1;
    mt_model *m = NULL;
    CHECK_OK(load("configs/models/skip_ganomaly_d.yaml", 0, NULL, 3, &m));
    for (size_t k = 0; ok && k < sizeof d / sizeof *d; k++) ok = check_init(m, "D", &d[k], why, sizeof why);
    mt_model_free(m);
    CHECK(ok, "%s", why);
    CHECK_OK(load("configs/models/skip_ganomaly_g.yaml", 0, NULL, 3, &m));
    for (size_t k = 0; ok && k < sizeof g / sizeof *g; k++) ok = check_init(m, "G", &g[k], why, sizeof why);
    mt_model_free(m);
    CHECK(ok, "%s", why);
}

#endif

/* G in float32 evaluation mode is ill-conditioned at its initial weights: batch norm
 * uses the initial running statistics (0, 1) while the activations have std ~0.03,
 * and a ReLU / LeakyReLU input that lies within float32 rounding of 0 (1 in ~1e7 of
 * the 0.5-2 M values per level) flips; a weight gradient of a 32x32 level is a sum
 * over only 2,048 positions, so one flip moves it by up to ~1e-2 of its largest
 * element. Measured in float64 on the twin: perturbing the weights by 1e-7 relative
 * moves the gradients by up to 2e-2 (down3.conv.weight). With an earlier input draw
 * of the harness, PyTorch's own float32 run differed from its float64 run by up to
 * 1.6e-2 (39 tensors beyond 1e-4) and medtrain's by 3.8e-3; with the current one
 * medtrain's differs by 1.2e-4 to 5.2e-3 from run to run (the threads' summation
 * order decides which values flip). So the float32 binary checks G's evaluation mode
 * at 5e-2 only (a smoke test: a wrong layer gives O(1)), and the float64 binary checks
 * evaluation (below) as well as training at 1e-4. */
TEST(net_skip_ganomaly_g_matches_torch_twin)
{
#ifdef MT_REAL_DOUBLE
    double tol = 1e-4;
#else
    double tol = 5e-2;
#endif
    net_case c = {"configs/models/skip_ganomaly_g.yaml", 0, {{0}}, "skip_ganomaly_g", 2, 256, 256, -1, 1, NET_MODE, tol};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("skip-ganomaly G " NET_MODE_NAME, &st);
}

#ifdef MT_REAL_DOUBLE
TEST(net_skip_ganomaly_g_matches_torch_twin_eval_float64)
{
    net_case c = {"configs/models/skip_ganomaly_g.yaml", 0, {{0}}, "skip_ganomaly_g", 2, 256, 256, -1, 1, 0, 1e-4};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("skip-ganomaly G eval", &st);
}
#endif

TEST(net_skip_ganomaly_d_matches_torch_twin)
{
    net_case c = {"configs/models/skip_ganomaly_d.yaml", 0, {{0}}, "skip_ganomaly_d", 2, 256, 256, -1, 1, NET_MODE, 1e-4};
    net_stats st;
    net_check(T_, &c, &st);
    if (!T_->failed && !T_->skipped) net_report("skip-ganomaly D " NET_MODE_NAME, &st);
}

#ifndef MT_REAL_DOUBLE

/* ------------------------------------------------- graph features used --- */

TEST(net_yolo_gan_graph_log_and_block_references)
{
    char err[256];
    mt_expr_value v;
    CHECK(mt_expr_eval("log(8 / (640 / 8) ** 2)", NULL, &v, err, sizeof err) == 0, "%s", err);
    CHECK(fabs(v.num - log(8.0 / 6400)) < 1e-12, "log(8/6400) = %.17g", v.num);
    CHECK(mt_expr_eval("exp(log(3)) + sqrt(16)", NULL, &v, err, sizeof err) == 0, "%s", err);
    CHECK(fabs(v.num - 7) < 1e-12, "exp(log(3)) + sqrt(16) = %.17g", v.num);
    CHECK(mt_expr_eval("log(0)", NULL, &v, err, sizeof err) != 0, "log(0) must be an error");

    /* blk: its cat reads two plain layers of the block (p1, p2) and `input`, the instance's input */
    const char *g = "input: {channels: 2, size: [8, 8]}\n"
                    "blocks:\n"
                    "  blk:\n"
                    "    layers:\n"
                    "      - {name: c1, type: conv2d, out: 3, kernel: 1}\n"
                    "      - {name: p1, type: max_pool2d, kernel: 3, stride: 1, padding: 1}\n"
                    "      - {name: p2, type: max_pool2d, kernel: 3, stride: 1, padding: 1}\n"
                    "      - {name: cat, type: concat, from: [input, p1, p2]}\n"
                    "layers:\n"
                    "  - {name: a, type: conv2d, out: 4, kernel: 1}\n"
                    "  - {name: r, type: relu}\n"
                    "  - {name: b, block: blk}\n";
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/test_net_yolo_gan", mt_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/blockrefs.yaml", dir);
    FILE *f = fopen(path, "w");
    CHECK(f, "cannot write %s", path);
    fputs(g, f);
    fclose(f);
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, &m));
    int nd, s[MT_MAX_DIMS], in[4] = {1, 2, 8, 8};
    mt_status st = mt_model_shape(m, NULL, 4, in, &nd, s);
    mt_model_free(m);
    CHECK_OK(st);
    /* input = r (4 channels), not the model input (2): 4 + 3 + 3 */
    CHECK(nd == 4 && s[1] == 10, "block output has %d channels, expected 10 (`input` must be the layer r)", s[1]);
}
#endif
