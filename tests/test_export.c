/* tests/test_export.c: `medtrain export` (cli/export.c, layers/export_onnx.c)
 * end to end, run as a program next to run_tests:
 *  - ONNX: shipped graphs (widths reduced through their params) with random
 *    weights and perturbed batch-norm running statistics are saved as a
 *    checkpoint, exported, checked with python3-onnx's onnx.checker
 *    (full_check) and run in ONNX Runtime (npm onnxruntime-node through
 *    tests/ort_run.js): every output within 1e-4 of max|medtrain output| on a
 *    random batch (fixed batch 2; with --dynamic-batch also batch 3).
 *    tests/export_check.py does the Python/Node side; the ORT part is
 *    skipped ("skipped: ...") without node / onnxruntime-node (make deps-node).
 *  - safetensors: exported, read back by an independent numpy + json reader,
 *    bit-exact vs the checkpoint's /state_dict, loaded by the PyTorch twin
 *    (experiments/twins/) with strict=True.
 *  - errors: a missing graph file, a graph that no longer matches the
 *    checkpoint, an unexportable option: non-zero exit, a clear message, no
 *    output file left. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <math.h>

#include "../core/device.h"
#include "../data/dataset.h"
#include "../train/checkpoint.h"
#include "../layers/export.h"
#include "../layers/layer.h"
#include "../layers/model.h"
#include "test.h"

static const char *bin_dir(void)
{
    static char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) return NULL;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash) return NULL;
    *slash = '\0';
    return dir;
}


static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static unsigned long long g_lcg = 12345;
static float urand(void)
{
    g_lcg = g_lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((g_lcg >> 40) & 0xFFFFFF) / 16777216.0f;
}

/* running_mean ~ U(-0.2, 0.2), running_var ~ U(0.5, 1.5), Keras normalization mean/variance too:
 * the export must use them (evaluation semantics), not batch statistics */
static mt_status perturb_stats(mt_model *m)
{
    for (int i = 0; i < mt_model_state_count(m); i++) {
        const char *n = mt_model_state_name(m, i);
        size_t l = strlen(n);
        int mean = (l > 13 && !strcmp(n + l - 13, ".running_mean")) || (l > 5 && !strcmp(n + l - 5, ".mean"));
        int var = (l > 12 && !strcmp(n + l - 12, ".running_var")) || (l > 9 && !strcmp(n + l - 9, ".variance"));
        if (!mean && !var) continue;
        mt_tensor *t = mt_model_state_tensor(m, i);
        size_t k = mt_numel(t);
        float *v = malloc(k * sizeof *v);
        if (!v) return MT_ERR_NOMEM;
        for (size_t j = 0; j < k; j++) v[j] = mean ? 0.4f * urand() - 0.2f : 0.5f + urand();
        mt_status s = mt_tensor_from_host_into(t, v, k * sizeof *v);
        free(v);
        MT_TRY(s);
    }
    return MT_OK;
}

static mt_status write_bin(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return MT_ERR(MT_ERR_IO, "cannot write %s", path);
    size_t w = fwrite(v, sizeof *v, n, f);
    int c = fclose(f);
    return w == n && c == 0 ? MT_OK : MT_ERR(MT_ERR_IO, "short write %s", path);
}

/* a random batch [n, c, h, w] -> x<tag>.bin, and medtrain's evaluation outputs -> ref<tag>_<i>.bin */
static mt_status reference(mt_model *m, const char *dir, const char *tag, int n, int c, int h, int w)
{
    char p[PATH_MAX];
    size_t k = (size_t)n * c * h * w;
    float *x = malloc(k * sizeof *x);
    if (!x) return MT_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) x[i] = 2.0f * urand() - 1.0f;
    snprintf(p, sizeof p, "%s/x%s.bin", dir, tag);
    mt_status s = write_bin(p, x, k);
    int shape[4] = {n, c, h, w};
    mt_tensor *xt = s == MT_OK ? mt_tensor_from_host(mt_cpu(), 4, shape, x) : NULL;
    free(x);
    if (s != MT_OK) return s;
    if (!xt) return mt_last_status();
    mt_tensor *outs[16] = {0};
    s = mt_model_run(m, xt, 0, NULL, outs);
    for (int i = 0; s == MT_OK && i < mt_model_output_count(m); i++) {
        size_t ko = mt_numel(outs[i]);
        float *y = malloc(ko * sizeof *y);
        if (!y) s = MT_ERR_NOMEM;
        if (s == MT_OK) s = mt_tensor_to_host(outs[i], y, ko * sizeof *y);
        snprintf(p, sizeof p, "%s/ref%s_%d.bin", dir, tag, i);
        if (s == MT_OK) s = write_bin(p, y, ko);
        free(y);
    }
    for (int i = 0; i < 16; i++) mt_tensor_release(outs[i]);
    mt_tensor_release(xt);
    return s;
}

typedef struct net_case {
    const char *graph;
    const char *sets;      /* " --set k=v ..." for the CLI */
    int n_args;
    mt_model_arg args[8];  /* the same for the C build */
    int c, h, w;
    const char *twin;      /* experiments/twins module or NULL */
    const char *twin_args; /* its build(**json) */
    const char *onnx_extra; /* more options of the ONNX export (e.g. " --opset 17") */
} net_case;

/* Exports `nc` as ONNX (fixed batch 2, and dynamic batch run at 2 and 3) and
 * safetensors, and checks both. Returns via CHECK on failure. */
static void check_net(mt_test_ctx *T_, const net_case *nc)
{
    const char *bd = bin_dir();
    char exe[PATH_MAX + 16], ort[PATH_MAX + 64], dir[] = "/tmp/mt_export_XXXXXX", cmd[8192], out[65536], p[PATH_MAX];
    CHECK(bd != NULL, "no binary directory");
    snprintf(exe, sizeof exe, "%s/medtrain", bd);
    if (access(exe, X_OK) != 0) {
        T_->skipped = 1;
        snprintf(T_->msg, sizeof T_->msg, "skipped: medtrain CLI not built next to run_tests");
        return;
    }
    if (mt_test_run("/usr/bin/python3 -c 'import onnx, numpy, h5py, torch'", out, sizeof out) != 0) {
        T_->skipped = 1;
        snprintf(T_->msg, sizeof T_->msg, "skipped: /usr/bin/python3 with onnx (python3-onnx), numpy, h5py, torch missing");
        return;
    }
    snprintf(ort, sizeof ort, "%s/node/node_modules/onnxruntime-node", bd);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(nc->graph, nc->n_args, nc->args, mt_cpu(), 7, &m));
    mt_status s = perturb_stats(m);
    snprintf(p, sizeof p, "%s/ckpt.h5", dir);
    if (s == MT_OK) s = mt_checkpoint_save(p, m, NULL, NULL, NULL);
    if (s == MT_OK) s = reference(m, dir, "2", 2, nc->c, nc->h, nc->w);
    if (s == MT_OK) s = reference(m, dir, "3", 3, nc->c, nc->h, nc->w);
    int n_out = mt_model_output_count(m);
    mt_model_free(m);
    CHECK_OK(s);

    int skipped_ort = 0;
    for (int dyn = 0; dyn < 2; dyn++) {
        snprintf(cmd, sizeof cmd,
                 "%s export %s/ckpt.h5 --graph %s%s --format onnx --output %s/m%d.onnx --input %d,%d,%d %s%s", exe, dir,
                 nc->graph, nc->sets, dir, dyn, nc->c, nc->h, nc->w, dyn ? "--dynamic-batch" : "--batch 2",
                 nc->onnx_extra ? nc->onnx_extra : "");
        int rc = mt_test_run(cmd, out, sizeof out);
        CHECK(rc == 0, "%s\nfailed (%d):\n%s", cmd, rc, out);
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 tests/export_check.py check-onnx %s/m%d.onnx %s %s/x2.bin 2,%d,%d,%d %s/ref2_ %d", dir,
                 dyn, ort, dir, nc->c, nc->h, nc->w, dir, n_out);
        if (dyn) {
            size_t l = strlen(cmd);
            snprintf(cmd + l, sizeof cmd - l, " %s/x3.bin 3,%d,%d,%d %s/ref3_", dir, nc->c, nc->h, nc->w, dir);
        }
        rc = mt_test_run(cmd, out, sizeof out);
        printf("    %s %s:\n%s", nc->graph, dyn ? "dynamic batch" : "batch 2", out);
        if (rc == 77) skipped_ort = 1;
        else CHECK(rc == 0, "%s\nfailed (%d):\n%s", cmd, rc, out);
    }
    snprintf(cmd, sizeof cmd, "%s export %s/ckpt.h5 --graph %s%s --format safetensors --output %s/m.safetensors", exe,
             dir, nc->graph, nc->sets, dir);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "%s\nfailed (%d):\n%s", cmd, rc, out);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/export_check.py check-safetensors %s/m.safetensors %s/ckpt.h5 %s '%s'",
             dir, dir, nc->twin ? nc->twin : "-", nc->twin_args ? nc->twin_args : "{}");
    rc = mt_test_run(cmd, out, sizeof out);
    printf("    %s", out);
    CHECK(rc == 0, "%s\nfailed (%d):\n%s", cmd, rc, out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    if (skipped_ort) {
        T_->skipped = 1;
        snprintf(T_->msg, sizeof T_->msg, "skipped: ONNX Runtime part (node / onnxruntime-node missing: make deps-node)");
    }
}

TEST(export_unet_onnx_ort_and_safetensors)
{
    net_case nc = {"configs/models/unet.yaml", " --set base=8", 1, {{"base", "8"}}, 1, 64, 64, "unet", "{\"base\": 8}"};
    check_net(T_, &nc);
}

TEST(export_deconvnet_onnx_ort_and_safetensors)
{
    /* 72 -> 36 -> 18 -> 9 -> 5 -> 3 (ceil_mode pools, unpool to odd sizes), fc_kernel 3 */
    net_case nc = {"configs/models/deconvnet.yaml",
                   " --set fc_channels=64 --set fc_kernel=3",
                   2,
                   {{"fc_channels", "64"}, {"fc_kernel", "3"}},
                   1, 72, 72,
                   "deconvnet",
                   "{\"fc_channels\": 64, \"fc_kernel\": 3}"};
    check_net(T_, &nc);
}

TEST(export_unet_bn_onnx_ort)
{
    net_case nc = {"configs/models/unet_bn.yaml", " --set base=8", 1, {{"base", "8"}}, 1, 48, 48, NULL, NULL};
    check_net(T_, &nc);
}

/* the valid U-Net of S5: overlap-tile reflect padding (pad), centre crops of the skips (Slice), opset 17 */
TEST(export_unet_s5_valid_tile_opset17_onnx_ort)
{
    net_case nc = {"configs/models/unet_s5.yaml", " --set base=8", 1, {{"base", "8"}}, 1, 160, 160, "unet",
                   "{\"base\": 8, \"padding\": \"valid\", \"out_channels\": 2, \"tile\": 94}", " --opset 17"};
    check_net(T_, &nc);
}

TEST(export_skip_ganomaly_onnx_ort)
{
    net_case g = {"configs/models/skip_ganomaly_g.yaml", " --set ngf=8 --set num_downs=5 --set img_size=32", 3,
                  {{"ngf", "8"}, {"num_downs", "5"}, {"img_size", "32"}}, 1, 32, 32, "skip_ganomaly_g",
                  "{\"ngf\": 8, \"num_downs\": 5, \"img_size\": 32}"};
    check_net(T_, &g);
    if (T_->failed) return;
    net_case d = {"configs/models/skip_ganomaly_d.yaml", " --set ndf=8 --set img_size=32", 2,
                  {{"ndf", "8"}, {"img_size", "32"}}, 1, 32, 32, "skip_ganomaly_d", "{\"ndf\": 8, \"img_size\": 32}"};
    check_net(T_, &d);
}

TEST(export_yolov5s_onnx_ort)
{
    net_case nc = {"configs/models/yolov5s.yaml", " --set width_multiple=0.125 --set nc=2 --set img_size=64", 3,
                   {{"width_multiple", "0.125"}, {"nc", "2"}, {"img_size", "64"}}, 3, 64, 64, "yolov5s",
                   "{\"width_multiple\": 0.125, \"nc\": 2, \"img_size\": 64}"};
    check_net(T_, &nc);
}

TEST(export_efficientnet_b3_onnx_ort)
{
    net_case nc = {"configs/models/efficientnet_b3.yaml", " --set width=0.25 --set depth=0.5 --set classes=3 --set size=64",
                   4, {{"width", "0.25"}, {"depth", "0.5"}, {"classes", "3"}, {"size", "64"}}, 3, 64, 64, "efficientnet_b3",
                   "{\"width\": 0.25, \"depth\": 0.5, \"classes\": 3, \"size\": 64}"};
    check_net(T_, &nc);
}

/* the kinds and options the shipped networks leave out (tests/data/export_kinds.yaml) */
TEST(export_layer_kinds_onnx_ort)
{
    net_case nc = {"tests/data/export_kinds.yaml", "", 0, {{NULL, NULL}}, 2, 20, 24, NULL, NULL};
    check_net(T_, &nc);
}

/* full width (no width parameter): ~54M parameters; the smallest Keras input, 75 x 75 */
TEST(export_inception_resnet_v2_onnx_ort)
{
    net_case nc = {"configs/models/inception_resnet_v2.yaml", " --set classes=3 --set size=75", 2,
                   {{"classes", "3"}, {"size", "75"}}, 3, 75, 75, "inception_resnet_v2", "{\"classes\": 3, \"size\": 75}"};
    check_net(T_, &nc);
}

/* a missing or changed graph, bad options: non-zero exit, a clear message, no output file */
TEST(export_errors_missing_or_changed_graph)
{
    const char *bd = bin_dir();
    char exe[PATH_MAX + 16], dir[] = "/tmp/mt_export_err_XXXXXX", cmd[4 * PATH_MAX], out[16384], p[PATH_MAX + 8],
        o[PATH_MAX];
    CHECK(bd != NULL, "no binary directory");
    snprintf(exe, sizeof exe, "%s/medtrain", bd);
    if (access(exe, X_OK) != 0) {
        T_->skipped = 1;
        snprintf(T_->msg, sizeof T_->msg, "skipped: medtrain CLI not built next to run_tests");
        return;
    }
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    mt_model_arg args[1] = {{"base", "4"}};
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml("configs/models/unet.yaml", 1, args, mt_cpu(), 1, &m));
    snprintf(p, sizeof p, "%s/ckpt.h5", dir);
    mt_status s = mt_checkpoint_save(p, m, NULL, NULL, NULL);
    mt_model_free(m);
    CHECK_OK(s);
    snprintf(o, sizeof o, "%s/out.onnx", dir);
    /* missing graph */
    snprintf(cmd, sizeof cmd, "%s export %s --graph %s/gone.yaml --set base=4 --output %s", exe, p, dir, o);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "gone.yaml' not found") && !file_exists(o), "missing graph: rc %d\n%s", rc, out);
    /* changed graph: base 8 no longer matches the base-4 checkpoint */
    snprintf(cmd, sizeof cmd, "%s export %s --graph configs/models/unet.yaml --set base=8 --output %s", exe, p, o);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "does not match checkpoint") && strstr(out, "enc1") && !file_exists(o),
          "changed graph: rc %d\n%s", rc, out);
    /* safetensors too */
    snprintf(cmd, sizeof cmd, "%s export %s --graph configs/models/unet.yaml --set base=8 --format safetensors --output %s.st",
             exe, p, o);
    rc = mt_test_run(cmd, out, sizeof out);
    snprintf(p, sizeof p, "%s.st", o);
    CHECK(rc == 1 && strstr(out, "does not match checkpoint") && !file_exists(p), "changed graph (safetensors): rc %d\n%s",
          rc, out);
    /* bad opset / input channels: no file */
    snprintf(p, sizeof p, "%s/ckpt.h5", dir);
    snprintf(cmd, sizeof cmd, "%s export %s --graph configs/models/unet.yaml --set base=4 --opset 11 --input 1,32,32 --output %s",
             exe, p, o);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "opset 11 is not supported") && !file_exists(o), "opset: rc %d\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s export %s --graph configs/models/unet.yaml --set base=4 --input 3,32,32 --output %s", exe, p, o);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "takes 1 channels, not 3") && !file_exists(o), "channels: rc %d\n%s", rc, out);
    /* no input size known (unet.yaml gives none) */
    snprintf(cmd, sizeof cmd, "%s export %s --graph configs/models/unet.yaml --set base=4 --output %s", exe, p, o);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "--input C,H,W") && !file_exists(o), "no input size: rc %d\n%s", rc, out);
    /* a directory with nothing left over (no temporary files) */
    snprintf(cmd, sizeof cmd, "ls %s", dir);
    mt_test_run(cmd, out, sizeof out);
    CHECK(!strcmp(out, "ckpt.h5\n"), "files left in %s: %s", dir, out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
}

/* a run directory (config.yaml + best.h5) without --graph; a checkpoint that stores its config;
 * a run whose config names a graph that is gone */
TEST(export_run_dir_and_stored_config)
{
    const char *bd = bin_dir();
    char exe[PATH_MAX + 16], dir[] = "/tmp/mt_export_run_XXXXXX", cmd[4 * PATH_MAX], out[16384], p[PATH_MAX + 32],
        cwd[PATH_MAX], cfg[2 * PATH_MAX];
    CHECK(bd != NULL && getcwd(cwd, sizeof cwd), "no binary directory / cwd");
    snprintf(exe, sizeof exe, "%s/medtrain", bd);
    if (access(exe, X_OK) != 0) {
        T_->skipped = 1;
        snprintf(T_->msg, sizeof T_->msg, "skipped: medtrain CLI not built next to run_tests");
        return;
    }
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    snprintf(cfg, sizeof cfg, "model:\n  graph: %s/configs/models/unet.yaml\n  params: {base: 4, depth: 2}\n", cwd);
    snprintf(p, sizeof p, "%s/config.yaml", dir);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL, "cannot write %s", p);
    fputs(cfg, f);
    fclose(f);
    mt_model_arg args[2] = {{"base", "4"}, {"depth", "2"}};
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml("configs/models/unet.yaml", 2, args, mt_cpu(), 1, &m));
    mt_checkpoint_info info;
    memset(&info, 0, sizeof info);
    info.config_yaml = cfg;
    snprintf(p, sizeof p, "%s/best.h5", dir);
    mt_status s = mt_checkpoint_save(p, m, NULL, NULL, &info);
    mt_model_free(m);
    CHECK_OK(s);
    /* the run directory: config.yaml's graph and params, best.h5, default output <run>/model.onnx */
    snprintf(cmd, sizeof cmd, "%s export %s --input 1,32,32", exe, dir);
    int rc = mt_test_run(cmd, out, sizeof out);
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    CHECK(rc == 0 && file_exists(p) && strstr(out, "wrote"), "run dir export: rc %d\n%s", rc, out);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m);"
             " d={p.key:p.value for p in m.metadata_props}; print(d['medtrain.graph_params'], d['medtrain.config_fnv1a64'])\" %s",
             p);
    rc = mt_test_run(cmd, out, sizeof out);
    if (rc == 0) CHECK(strstr(out, "base=4, depth=2") != NULL, "metadata: %s", out);
    /* the checkpoint alone: its stored config names the graph */
    snprintf(cmd, sizeof cmd, "%s export %s/best.h5 --format safetensors", exe, dir);
    rc = mt_test_run(cmd, out, sizeof out);
    snprintf(p, sizeof p, "%s/best.safetensors", dir);
    CHECK(rc == 0 && file_exists(p), "stored-config export: rc %d\n%s", rc, out);
    /* the run's graph is gone */
    snprintf(p, sizeof p, "%s/config.yaml", dir);
    f = fopen(p, "w");
    CHECK(f != NULL, "cannot write %s", p);
    fprintf(f, "model:\n  graph: %s/gone/unet.yaml\n  params: {base: 4}\n", dir);
    fclose(f);
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    remove(p);
    snprintf(cmd, sizeof cmd, "%s export %s --input 1,32,32", exe, dir);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "not found") && strstr(out, "gone/unet.yaml") && !file_exists(p), "gone graph: rc %d\n%s",
          rc, out);
    printf("    %s", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
}

/* the C entry point: a layer kind the mapping does not know is an error naming the layer and
 * its file:line:column, and nothing is written; a bad opset likewise */
TEST(export_onnx_c_api_unknown_kind_error)
{
    char dir[] = "/tmp/mt_export_api_XXXXXX", path[PATH_MAX];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    mt_model_arg args[2] = {{"base", "4"}, {"depth", "1"}};
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml("configs/models/unet.yaml", 2, args, mt_cpu(), 1, &m));
    mt_export_options o;
    memset(&o, 0, sizeof o);
    o.in_h = o.in_w = 16;
    mt_status s = mt_export_onnx(m, path, &o);
    int ok_written = s == MT_OK && file_exists(path);
    remove(path);
    o.opset = 18;
    mt_status s_opset = mt_export_onnx(m, path, &o);
    char msg_opset[512];
    snprintf(msg_opset, sizeof msg_opset, "%s", mt_last_error());
    mt_error_clear();
    o.opset = 0;
    mt_layer_kind fancy = *m->layers[1].kind;
    fancy.type = "fancy_conv";
    const mt_layer_kind *saved = m->layers[1].kind;
    m->layers[1].kind = &fancy;
    mt_status s_kind = mt_export_onnx(m, path, &o);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mt_last_error());
    m->layers[1].kind = saved;
    char layer[256];
    snprintf(layer, sizeof layer, "layer '%s' (fancy_conv)", m->layers[1].name);
    mt_model_free(m);
    int left = file_exists(path);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    CHECK(ok_written, "plain export failed: %s", mt_last_error());
    CHECK(s_opset != MT_OK && strstr(msg_opset, "opset 18 is not supported"), "opset 18: %s", msg_opset);
    CHECK(s_kind != MT_OK && strstr(msg, layer) && strstr(msg, "unet.yaml:") && strstr(msg, "cannot be exported to ONNX"),
          "unknown kind: %s", msg);
    CHECK(!left, "a file was left at %s", path);
    printf("    %s\n", msg);
}

/* A trained S1 run (configs/s1_demo.yaml, 30 epochs, on the real CT sample shipped in
 * data/samples/s1, imported as the demo does) exported from its run directory to ONNX
 * segments the CT slices in ONNX Runtime like medtrain itself: the masks (logit > 0)
 * of all 30 slices, windowed as the run's config does ([-1024, 1024] -> [0, 1]), have
 * DSC >= 0.999 against medtrain's own masks (issue 11). */
TEST(export_s1_run_onnx_segments_ct_like_medtrain)
{
    const char *bd = bin_dir();
    char exe[PATH_MAX + 16], ort[PATH_MAX + 64], dir[] = "/tmp/mt_export_s1_XXXXXX", cmd[16384], out[65536],
        p[PATH_MAX + 64], run[PATH_MAX], ds[PATH_MAX];
    CHECK(bd != NULL, "no binary directory");
    snprintf(exe, sizeof exe, "%s/medtrain", bd);
    snprintf(ort, sizeof ort, "%s/node/node_modules/onnxruntime-node", bd);
    if (access(exe, X_OK) != 0) SKIP("skipped: medtrain CLI not built next to run_tests");
    if (access(ort, F_OK) != 0 || mt_test_run("node --version", out, sizeof out) != 0)
        SKIP("skipped: ONNX Runtime (node / onnxruntime-node missing: make deps-node)");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    snprintf(ds, sizeof ds, "%s/s1.h5", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(cmd, sizeof cmd,
             "%s import --source nifti --input data/samples/s1/example_ct_sm.nii.gz --mask data/samples/s1/skeletal_muscle.nii.gz"
             " --mask_names muscle --resize 96x96 --split_by sample --val_frac 0.15 --test_frac 0.15 --seed 0 --output %s",
             exe, ds);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    snprintf(cmd, sizeof cmd, "%s train configs/s1_demo.yaml --device cpu --out %s --set data.dataset=%s --set train.epochs=30 --quiet",
             exe, run, ds);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    snprintf(cmd, sizeof cmd, "%s export %s --format onnx --input 1,96,96 --batch 30 --output %s/s1.onnx", exe, run, dir);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    /* the 30 slices, windowed as the run normalises them */
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(ds, &d));
    int n = mt_dataset_size(d);
    float *x = n == 30 ? malloc(sizeof *x * 30 * 96 * 96) : NULL;
    mt_status s = x ? MT_OK : MT_ERR(MT_ERR_INVALID, "expected 30 slices, got %d", n);
    for (int i = 0; s == MT_OK && i < 30; i++) {
        mt_sample smp;
        mt_sample_init(&smp);
        s = mt_dataset_read(d, i, &smp);
        if (s == MT_OK && (smp.c != 1 || smp.h != 96 || smp.w != 96)) s = MT_ERR(MT_ERR_INVALID, "slice %d is not 1x96x96", i);
        for (int k = 0; s == MT_OK && k < 96 * 96; k++) {
            float v = smp.image[k] < -1024 ? -1024 : smp.image[k] > 1024 ? 1024 : smp.image[k];
            x[i * 96 * 96 + k] = (v + 1024.0f) / 2048.0f;
        }
        mt_sample_free(&smp);
    }
    mt_dataset_close(d);
    if (s == MT_OK) {
        snprintf(p, sizeof p, "%s/x.bin", dir);
        s = write_bin(p, x, 30 * 96 * 96);
    }
    /* medtrain's own evaluation output from the run's best checkpoint */
    mt_model_arg args[4] = {{"base", "16"}, {"in_channels", "1"}, {"out_channels", "1"}, {"padding", "same"}};
    mt_model *m = NULL;
    if (s == MT_OK) s = mt_model_load_yaml("configs/models/unet.yaml", 4, args, mt_cpu(), 1, &m);
    snprintf(p, sizeof p, "%s/best.h5", run);
    if (s == MT_OK) s = mt_checkpoint_load(p, m, NULL, NULL, NULL);
    int shape[4] = {30, 1, 96, 96};
    mt_tensor *xt = s == MT_OK ? mt_tensor_from_host(mt_cpu(), 4, shape, x) : NULL, *y = NULL;
    if (s == MT_OK && !xt) s = mt_last_status();
    if (s == MT_OK) s = mt_model_run(m, xt, 0, NULL, &y);
    float *ours = s == MT_OK ? malloc(sizeof *ours * 30 * 96 * 96) : NULL;
    if (s == MT_OK) s = ours ? mt_tensor_to_host(y, ours, sizeof *ours * 30 * 96 * 96) : MT_ERR_NOMEM;
    mt_tensor_release(xt);
    mt_tensor_release(y);
    mt_model_free(m);
    free(x);
    if (s != MT_OK) free(ours);
    CHECK_OK(s);
    snprintf(cmd, sizeof cmd, "node tests/ort_run.js %s %s/s1.onnx %s/x.bin 30,1,96,96 %s/ort", ort, dir, dir, dir);
    int rc = mt_test_run(cmd, out, sizeof out);
    float *theirs = malloc(sizeof *theirs * 30 * 96 * 96);
    snprintf(p, sizeof p, "%s/ort0.bin", dir);
    FILE *f = rc == 0 && theirs ? fopen(p, "rb") : NULL;
    size_t got = f ? fread(theirs, sizeof *theirs, 30 * 96 * 96, f) : 0;
    if (f) fclose(f);
    long inter = 0, a = 0, b = 0;
    double maxd = 0;
    for (size_t i = 0; got == 30 * 96 * 96 && i < got; i++) {
        int mo = ours[i] > 0, mr = theirs[i] > 0;
        inter += mo && mr, a += mo, b += mr;
        maxd = fmax(maxd, fabs((double)ours[i] - theirs[i]));
    }
    free(ours);
    free(theirs);
    CHECK(rc == 0 && got == 30 * 96 * 96, "ONNX Runtime failed (%d): %s", rc, out);
    double dsc = a + b ? 2.0 * inter / (double)(a + b) : 1.0;
    printf("     S1 run -> ONNX Runtime: %ld / %ld muscle pixels (medtrain / ORT), DSC %.6f, max |logit difference| %.2g\n", a, b,
           dsc, maxd);
    CHECK(a > 1000, "the 30-epoch run segments only %ld muscle pixels: the check would show nothing", a);
    CHECK(dsc >= 0.999, "DSC %.6f < 0.999 between medtrain's and ONNX Runtime's masks", dsc);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
}
