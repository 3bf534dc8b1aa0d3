/* tests/test_model.c: model graphs from YAML (layers/model.h): the U-Net
 * parameter counts of models.md §1.2 (exact), output shapes of the valid and
 * padded U-Nets (572 -> 388, 700 -> 516, 160 -> 160) and the skip crop
 * amounts (4, 16, 40, 88 px), state_dict names/layouts in one allocation,
 * a small forward/backward, dropout stream determinism, and error messages
 * with file:line:column. The forward values are checked against PyTorch in
 * tests/test_checkpoint.c (checkpoint -> torch -> same output). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/autograd.h"
#include "../core/device.h"
#include "../core/ops.h"
#include "../layers/expr.h"
#include "../layers/model.h"
#include "test.h"

static mt_status load(const char *rel, int n, const mt_model_arg *args, mt_model **m)
{
    char path[512];
    return mt_model_load_yaml(mt_test_path(rel, path, sizeof path), n, args, mt_cpu(), 1234, m);
}

/* sum of numel of state entries whose name ends with `suffix` */
static size_t count_suffix(mt_model *m, const char *suffix)
{
    size_t n = 0, ls = strlen(suffix);
    for (int i = 0; i < mt_model_state_count(m); i++) {
        const char *name = mt_model_state_name(m, i);
        size_t ln = strlen(name);
        if (ln >= ls && !strcmp(name + ln - ls, suffix)) n += mt_numel(mt_model_state_tensor(m, i));
    }
    return n;
}

TEST(model_unet_param_counts_match_models_md)
{
    static const struct {
        const char *file, *padding, *out;
        size_t expect;
    } cases[] = {
        {"configs/models/unet.yaml", "same", "1", 31030593},
        {"configs/models/unet.yaml", "valid", "1", 31030593},
        {"configs/models/unet.yaml", "same", "2", 31030658},
        {"configs/models/unet.yaml", "valid", "2", 31030658},
        {"configs/models/unet_bn.yaml", NULL, "1", 31036481},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        /* init none: counting needs no random weights (31M values per build) */
        mt_model_arg args[3] = {{"out_channels", cases[c].out}, {"init", "none"}, {"padding", cases[c].padding}};
        mt_model *m = NULL;
        CHECK_OK(load(cases[c].file, cases[c].padding ? 3 : 2, args, &m));
        size_t n = mt_model_param_count(m);
        size_t by_tensor = 0;
        int np = 0;
        mt_tensor **p = mt_model_params(m, &np);
        for (int i = 0; i < np; i++) by_tensor += mt_numel(p[i]);
        size_t bn_stats = count_suffix(m, ".running_mean") + count_suffix(m, ".running_var");
        mt_model_free(m);
        CHECK(n == cases[c].expect, "%s padding=%s out=%s: %zu params, expected %zu", cases[c].file,
              cases[c].padding ? cases[c].padding : "-", cases[c].out, n, cases[c].expect);
        CHECK(by_tensor == n, "params tensors sum %zu != count %zu", by_tensor, n);
        if (!cases[c].padding) CHECK(bn_stats == 11776, "milesial BN stats %zu, expected 11,776", bn_stats);
        else CHECK(bn_stats == 0, "plain U-Net has no BN stats, got %zu", bn_stats);
    }
}

TEST(model_unet_output_shapes_and_crops)
{
    mt_model_arg valid[2] = {{"padding", "valid"}, {"init", "none"}};
    mt_model *m = NULL;
    CHECK_OK(load("configs/models/unet.yaml", 2, valid, &m));
    int nd, s[4];
    int ok = mt_model_output_shape(m, 1, 1, 572, 572, &nd, s) == MT_OK;
    CHECK(ok && nd == 4 && s[0] == 1 && s[1] == 1 && s[2] == 388 && s[3] == 388, "valid 572 -> %dx%dx%d (expected 388)",
          s[1], s[2], s[3]);
    CHECK_OK(mt_model_output_shape(m, 2, 1, 700, 700, &nd, s));
    CHECK(s[0] == 2 && s[2] == 516 && s[3] == 516, "valid 700 -> %d (expected 516)", s[2]);
    CHECK_OK(mt_model_output_shape(m, 1, 1, 348, 348, &nd, s));
    CHECK(s[2] == 164, "valid 348 -> %d (expected 164)", s[2]);
    /* crop per side = (skip - up) / 2 at 572: 4, 16, 40, 88 px */
    static const int expect_crop[5] = {0, 88, 40, 16, 4};
    for (int lvl = 1; lvl <= 4; lvl++) {
        char skip[16], up[16];
        snprintf(skip, sizeof skip, lvl == 4 ? "drop%d" : "enc%db", lvl);
        snprintf(up, sizeof up, "up%d", lvl);
        int a[4], b[4];
        CHECK_OK(mt_model_layer_output_shape(m, skip, 1, 1, 572, 572, &nd, a));
        CHECK_OK(mt_model_layer_output_shape(m, up, 1, 1, 572, 572, &nd, b));
        CHECK((a[2] - b[2]) / 2 == expect_crop[lvl] && (a[2] - b[2]) % 2 == 0, "level %d: skip %d, up %d: crop %d, expected %d",
              lvl, a[2], b[2], (a[2] - b[2]) / 2, expect_crop[lvl]);
    }
    /* an input that is not 16n + 124 fails with the layer named */
    CHECK(mt_model_output_shape(m, 1, 1, 100, 100, &nd, s) != MT_OK, "100x100 must not fit a valid U-Net");
    CHECK(strstr(mt_last_error(), "layer '"), "error should name the layer: %s", mt_last_error());
    mt_error_clear();
    mt_model_free(m);

    CHECK_OK(load("configs/models/unet.yaml", 1, valid + 1, &m));
    CHECK_OK(mt_model_output_shape(m, 1, 1, 160, 160, &nd, s));
    CHECK(s[2] == 160 && s[3] == 160, "same 160 -> %d", s[2]);
    CHECK_OK(mt_model_output_shape(m, 1, 1, 512, 512, &nd, s));
    CHECK(s[2] == 512, "same 512 -> %d", s[2]);
    char *summary = NULL;
    CHECK_OK(mt_model_summary(m, 1, 160, 160, &summary));
    CHECK(strstr(summary, "total trainable parameters: 31030593"), "summary total wrong:\n%s", summary);
    CHECK(strstr(summary, "enc1a") && strstr(summary, "64 x 160 x 160"), "summary rows wrong:\n%s", summary);
    free(summary);
    mt_model_free(m);
}

TEST(model_state_dict_names_layouts_one_allocation)
{
    mt_model_arg args[1] = {{"base", "8"}};
    mt_model *m = NULL;
    CHECK_OK(load("configs/models/unet_bn.yaml", 1, args, &m));
    /* parameters first (declaration order), then buffers */
    CHECK(!strcmp(mt_model_state_name(m, 0), "enc1a.weight"), "first entry %s", mt_model_state_name(m, 0));
    mt_tensor *w = mt_model_state_tensor(m, 0);
    CHECK(w->ndim == 4 && w->shape[0] == 8 && w->shape[1] == 1 && w->shape[2] == 3 && w->shape[3] == 3,
          "enc1a.weight layout");
    CHECK(!strcmp(mt_model_state_name(m, 1), "enc1a_bn.weight"), "second entry %s", mt_model_state_name(m, 1));
    int n = mt_model_state_count(m), seen_buffer = 0, found_up = 0, found_nbt = 0;
    void *pblock = NULL, *bblock = NULL;
    for (int i = 0; i < n; i++) {
        const char *name = mt_model_state_name(m, i);
        mt_tensor *t = mt_model_state_tensor(m, i);
        int is_param = mt_model_state_is_param(m, i);
        CHECK(!is_param || !seen_buffer, "parameter %s after a buffer", name);
        if (!is_param) seen_buffer = 1;
        CHECK(t->requires_grad == is_param, "%s requires_grad %d", name, t->requires_grad);
        void **block = is_param ? &pblock : &bblock;
        if (!*block) *block = t->storage;
        CHECK(*block == (void *)t->storage, "%s is not in the shared %s allocation", name, is_param ? "parameter" : "buffer");
        if (!strcmp(name, "up4.weight")) {
            found_up = 1; /* ConvTranspose layout [in, out, kh, kw] */
            CHECK(t->shape[0] == 128 && t->shape[1] == 64 && t->shape[2] == 2, "up4.weight layout [%d,%d,%d,%d]",
                  t->shape[0], t->shape[1], t->shape[2], t->shape[3]);
        }
        if (!strcmp(name, "enc1a_bn.num_batches_tracked")) {
            found_nbt = 1;
            CHECK(t->ndim == 0, "num_batches_tracked rank");
        }
        if (!strcmp(name, "enc1a_bn.running_var")) CHECK(MT_DATA(t)[0] == 1, "running_var init 1");
    }
    CHECK(found_up && found_nbt, "missing up4.weight or num_batches_tracked");
    mt_model_free(m);
}

TEST(model_unet_small_forward_backward)
{
    mt_model_arg args[2] = {{"base", "4"}, {"depth", "2"}};
    mt_model *m = NULL;
    CHECK_OK(load("configs/models/unet.yaml", 2, args, &m));
    CHECK(mt_model_param_count(m) > 0, "no params");
    int shape[4] = {2, 1, 16, 16};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, shape);
    CHECK_NOTNULL(x);
    for (int i = 0; i < 2 * 16 * 16; i++) MT_DATA(x)[i] = (mt_real)((i * 37 % 101) / 101.0 - 0.5);
    mt_tensor *y = mt_model_forward(m, x, 0);
    CHECK_NOTNULL(y);
    CHECK(y->ndim == 4 && y->shape[0] == 2 && y->shape[1] == 1 && y->shape[2] == 16 && y->shape[3] == 16, "output shape");
    mt_tensor *loss = mt_mean_all(y);
    CHECK_NOTNULL(loss);
    CHECK_OK(mt_backward(loss, NULL, 0));
    int np = 0;
    mt_tensor **p = mt_model_params(m, &np);
    int with_grad = 0;
    for (int i = 0; i < np; i++) with_grad += p[i]->grad != NULL;
    CHECK(with_grad == np, "%d of %d parameters got a gradient", with_grad, np);
    /* evaluation is deterministic: same input, same output */
    mt_tensor *y2 = mt_model_forward(m, x, 0);
    CHECK_NOTNULL(y2);
    CHECK(!memcmp(MT_DATA(y), MT_DATA(y2), mt_nbytes(y)), "eval forward not repeatable");
    mt_tensor_release(loss);
    mt_tensor_release(y);
    mt_tensor_release(y2);
    /* training: dropout masks come from the model's stream; same (seed, offset) -> same output */
    uint64_t seed, off0, off1;
    mt_model_get_rng(m, &seed, &off0);
    mt_tensor *t1 = mt_model_forward(m, x, 1);
    CHECK_NOTNULL(t1);
    mt_model_get_rng(m, &seed, &off1);
    CHECK(off1 > off0, "dropout stream did not advance");
    mt_model_set_rng(m, seed, off0);
    mt_tensor *t2 = mt_model_forward(m, x, 1);
    CHECK_NOTNULL(t2);
    CHECK(!memcmp(MT_DATA(t1), MT_DATA(t2), mt_nbytes(t1)), "training forward with the same dropout state differs");
    mt_tensor *t3 = mt_model_forward(m, x, 1);
    CHECK(t3 && memcmp(MT_DATA(t1), MT_DATA(t3), mt_nbytes(t1)) != 0, "next dropout masks should differ");
    mt_tensor_release(t1);
    mt_tensor_release(t2);
    mt_tensor_release(t3);
    /* seeds: same seed same weights, other seed other weights */
    mt_model *m2 = NULL, *m3 = NULL;
    char path[512];
    mt_test_path("configs/models/unet.yaml", path, sizeof path);
    CHECK_OK(mt_model_load_yaml(path, 2, args, mt_cpu(), 1234, &m2));
    CHECK_OK(mt_model_load_yaml(path, 2, args, mt_cpu(), 99, &m3));
    mt_tensor *w1 = mt_model_state_tensor(m, 0), *w2 = mt_model_state_tensor(m2, 0), *w3 = mt_model_state_tensor(m3, 0);
    CHECK(!memcmp(MT_DATA(w1), MT_DATA(w2), mt_nbytes(w1)), "same seed gave different weights");
    CHECK(memcmp(MT_DATA(w1), MT_DATA(w3), mt_nbytes(w1)) != 0, "different seeds gave the same weights");
    mt_model_free(m2);
    mt_model_free(m3);
    mt_tensor_release(x);
    mt_model_free(m);
}

TEST(model_unet_bn_training_updates_buffers)
{
    mt_model_arg args[2] = {{"base", "4"}, {"depth", "1"}};
    mt_model *m = NULL;
    CHECK_OK(load("configs/models/unet_bn.yaml", 2, args, &m));
    int shape[4] = {2, 1, 8, 8};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, shape);
    for (int i = 0; i < 128; i++) MT_DATA(x)[i] = (mt_real)(i % 7) - 3;
    mt_tensor *y = mt_model_forward(m, x, 1);
    CHECK_NOTNULL(y);
    int found = 0;
    for (int i = 0; i < mt_model_state_count(m); i++) {
        if (!strcmp(mt_model_state_name(m, i), "enc1a_bn.num_batches_tracked")) {
            found = 1;
            CHECK(MT_DATA(mt_model_state_tensor(m, i))[0] == 1, "num_batches_tracked not incremented");
        }
        if (!strcmp(mt_model_state_name(m, i), "enc1a_bn.running_var"))
            CHECK(MT_DATA(mt_model_state_tensor(m, i))[0] != 1, "running_var not updated in training");
    }
    CHECK(found, "no num_batches_tracked");
    mt_tensor_release(y);
    mt_tensor_release(x);
    mt_model_free(m);
}

/* files go to <tmpdir>/test_model/ so names cannot collide with other test files */
static const char *write_tmp(const char *name, const char *text, char *buf, size_t len)
{
    snprintf(buf, len, "%s/test_model", mt_test_tmpdir());
    mkdir(buf, 0700);
    snprintf(buf, len, "%s/test_model/%s", mt_test_tmpdir(), name);
    FILE *f = fopen(buf, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return buf;
}

TEST(model_graph_errors_name_file_line_column)
{
    char path[512];
    mt_model *m = NULL;
    const char *g1 = "params: {c: 4}\ninput: {channels: 1}\nlayers:\n"
                     "  - {name: a, type: conv2d, out: c, kernel: 3}\n"
                     "  - {name: b, type: conv2e, out: 4, kernel: 3}\n";
    CHECK_NOTNULL(write_tmp("g1.yaml", g1, path, sizeof path));
    CHECK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, &m) != MT_OK, "bad 'out: c' (not substituted) must fail");
    CHECK(strstr(mt_last_error(), "g1.yaml:4:"), "error should point at line 4: %s", mt_last_error());
    mt_error_clear();
    const char *g2 = "params: {c: 4}\ninput: {channels: 1}\nlayers:\n"
                     "  - {name: a, type: conv2d, out: \"${c}\", kernel: 3}\n"
                     "  - {name: b, type: conv2e, out: 4, kernel: 3}\n";
    CHECK_NOTNULL(write_tmp("g2.yaml", g2, path, sizeof path));
    CHECK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, &m) != MT_OK, "unknown type must fail");
    CHECK(strstr(mt_last_error(), "g2.yaml:5:") && strstr(mt_last_error(), "did you mean 'conv2d'"),
          "unknown type message: %s", mt_last_error());
    mt_error_clear();
    const char *g3 = "input: {channels: 1}\nlayers:\n"
                     "  - {name: a, type: conv2d, out: 4, kernal: 3}\n";
    CHECK_NOTNULL(write_tmp("g3.yaml", g3, path, sizeof path));
    CHECK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, &m) != MT_OK, "misspelt attribute must fail");
    CHECK(strstr(mt_last_error(), "g3.yaml:3:") && strstr(mt_last_error(), "did you mean 'kernel'"),
          "attribute message: %s", mt_last_error());
    mt_error_clear();
    const char *g4 = "input: {channels: 1}\nlayers:\n"
                     "  - {name: a, type: conv2d, out: 4, kernel: 3}\n"
                     "  - {name: b, type: concat, from: [a, skp]}\n";
    CHECK_NOTNULL(write_tmp("g4.yaml", g4, path, sizeof path));
    CHECK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, &m) != MT_OK, "unknown reference must fail");
    CHECK(strstr(mt_last_error(), "g4.yaml:4:") && strstr(mt_last_error(), "'skp'"), "reference message: %s",
          mt_last_error());
    mt_error_clear();
    mt_model_arg bad[1] = {{"bse", "16"}};
    mt_test_path("configs/models/unet.yaml", path, sizeof path);
    CHECK(mt_model_load_yaml(path, 1, bad, mt_cpu(), 0, &m) != MT_OK, "unknown parameter must fail");
    CHECK(strstr(mt_last_error(), "did you mean 'base'"), "parameter message: %s", mt_last_error());
    mt_error_clear();
    CHECK(m == NULL, "model must stay NULL on error");
}

TEST(model_graph_residual_linear_head)
{
    /* a small classifier exercising add, pad, avg/global pool, flatten, linear, leaky_relu, upsample, crop */
    const char *g = "params: {w: 4}\ninput: {channels: 2}\nlayers:\n"
                    "  - {name: stem, type: conv2d, out: \"${w}\", kernel: 3, stride: 2, padding: same}\n"
                    "  - {name: c1, type: conv2d, out: \"${w}\", kernel: 3, padding: 1, activation: leaky_relu, negative_slope: 0.2}\n"
                    "  - {name: res, type: add, from: [stem, c1]}\n"
                    "  - {name: up, type: upsample, scale: 2}\n"
                    "  - {name: padded, type: pad, padding: [1, 1, 2, 2], mode: reflect}\n"
                    "  - {name: cropped, type: crop, margin: [1, 1, 2, 2]}\n"
                    "  - {name: avg, type: avg_pool2d, kernel: 2}\n"
                    "  - {name: gap, type: global_avg_pool2d}\n"
                    "  - {name: flat, type: flatten}\n"
                    "  - {name: fc, type: linear, out: 3}\n";
    char path[512];
    CHECK_NOTNULL(write_tmp("res.yaml", g, path, sizeof path));
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 7, &m));
    CHECK(mt_model_param_count(m) == (size_t)(4 * 2 * 9 + 4 + 4 * 4 * 9 + 4 + 3 * 4 + 3), "param count %zu",
          mt_model_param_count(m));
    int nd, s[4];
    CHECK_OK(mt_model_output_shape(m, 3, 2, 15, 15, &nd, s));
    CHECK(nd == 2 && s[0] == 3 && s[1] == 3, "head shape nd=%d [%d, %d]", nd, s[0], s[1]);
    int shape[4] = {3, 2, 15, 15};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, shape);
    for (int i = 0; i < 3 * 2 * 225; i++) MT_DATA(x)[i] = (mt_real)((i * 13 % 17) / 17.0);
    mt_tensor *y = mt_model_forward(m, x, 1);
    CHECK_NOTNULL(y);
    CHECK(y->ndim == 2 && y->shape[0] == 3 && y->shape[1] == 3, "forward shape");
    mt_tensor_release(y);
    mt_tensor_release(x);
    mt_model_free(m);
}

TEST(model_unet_cuda_matches_cpu)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    mt_model_arg args[2] = {{"base", "8"}, {"depth", "2"}};
    char path[512];
    mt_test_path("configs/models/unet_bn.yaml", path, sizeof path);
    mt_model *mc = NULL, *mg = NULL;
    CHECK_OK(mt_model_load_yaml(path, 2, args, mt_cpu(), 3, &mc));
    CHECK_OK(mt_model_load_yaml(path, 2, args, mt_cuda(0), 3, &mg));
    /* same seed -> the same weights on both devices (host-generated init) */
    for (int i = 0; i < mt_model_state_count(mc); i++) {
        mt_tensor *a = mt_model_state_tensor(mc, i), *g = mt_model_state_tensor(mg, i);
        mt_tensor *b = mt_tensor_to(g, mt_cpu());
        CHECK_NOTNULL(b);
        int same = !memcmp(MT_DATA(a), MT_DATA(b), mt_nbytes(a));
        mt_tensor_release(b);
        CHECK(same, "initial %s differs between CPU and CUDA", mt_model_state_name(mc, i));
    }
    int shape[4] = {2, 1, 32, 32};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, shape);
    for (int i = 0; i < 2 * 32 * 32; i++) MT_DATA(x)[i] = (mt_real)((i * 29 % 53) / 53.0 - 0.5);
    mt_tensor *xg = mt_tensor_to(x, mt_cuda(0));
    for (int training = 0; training <= 1; training++) {
        mt_tensor *yc = mt_model_forward(mc, x, training), *yg = mt_model_forward(mg, xg, training);
        CHECK_NOTNULL(yc);
        CHECK_NOTNULL(yg);
        mt_tensor *yh = mt_tensor_to(yg, mt_cpu());
        CHECK_NOTNULL(yh);
        CHECK_CLOSE_F(MT_DATA(yh), MT_DATA(yc), mt_numel(yc), 1e-4, 1e-4);
        mt_tensor_release(yc);
        mt_tensor_release(yg);
        mt_tensor_release(yh);
    }
    mt_tensor_release(xg);
    mt_tensor_release(x);
    mt_model_free(mc);
    mt_model_free(mg);
}

TEST(model_graph_expressions)
{
    mt_expr_var vars[3] = {{"base", {0, 64, ""}}, {"i", {0, 3, ""}}, {"padding", {1, 0, "valid"}}};
    mt_expr_env env = {3, vars};
    static const struct {
        const char *expr, *expect;
    } ok[] = {
        {"base * 2 ** (i - 1)", "256"},
        {"'enc' + i + 'a'", "enc3a"},
        {"i == 3 ? 'drop' + i : 'enc' + i + 'b'", "drop3"},
        {"padding == 'valid' and not (i > 3)", "1"},
        {"7 // 2 + 7 % 2 - -1", "5"},
        {"min(i, 2) + max(1.5, 0.5) * 2", "5"},
        {"int(7 / 2) + floor(-0.5) + ceil(0.2)", "3"},
        {"1 < 2 || 0", "1"},
        {"0.25 * 2", "0.5"},
    };
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        mt_expr_value v;
        char err[256], text[300];
        CHECK(mt_expr_eval(ok[k].expr, &env, &v, err, sizeof err) == 0, "'%s' failed: %s", ok[k].expr, err);
        mt_expr_format(&v, text, sizeof text);
        CHECK(!strcmp(text, ok[k].expect), "'%s' = '%s', expected '%s'", ok[k].expr, text, ok[k].expect);
    }
    static const struct {
        const char *expr, *msg;
    } bad[] = {
        {"bse * 2", "unknown name 'bse'"},
        {"(1 + 2", "expected ')'"},
        {"4 / 0", "division by zero"},
        {"'a' - 1", "cannot subtract strings"},
        {"1 2", "unexpected '2'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        mt_expr_value v;
        char err[256];
        CHECK(mt_expr_eval(bad[k].expr, &env, &v, err, sizeof err) != 0, "'%s' should fail", bad[k].expr);
        CHECK(strstr(err, bad[k].msg), "'%s': message '%s' lacks '%s'", bad[k].expr, err, bad[k].msg);
    }
}
