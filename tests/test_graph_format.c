/* tests/test_graph_format.c: the model-graph format of docs/models.md:
 * no state written during forward (two threads run one model at once and get
 * bit-identical results to one thread; DeconvNet's unpooling uses the
 * switches of its own pass), ports, model outputs, blocks, list values, and
 * graph errors that name file:line:column (and both shapes). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/autograd.h"
#include "../core/ops.h"
#include "../layers/init.h"
#include "../layers/model.h"
#include "test.h"

static mt_tensor *rand_input(int n, int c, int h, int w, uint64_t seed)
{
    int s[4] = {n, c, h, w};
    mt_tensor *x = mt_tensor_new(MT_REAL, mt_cpu(), 4, s);
    mt_rng r = {seed, 0};
    if (x && mt_init_uniform(x, -1, 1, &r) != MT_OK) {
        mt_tensor_release(x);
        return NULL;
    }
    return x;
}

typedef struct job {
    mt_model *m;
    mt_tensor *x, *y;
    mt_status s;
    char err[512];
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    int prev = mt_set_grad_enabled(0);
    j->s = mt_model_run(j->m, j->x, 0, NULL, &j->y);
    if (j->s != MT_OK) snprintf(j->err, sizeof j->err, "%s", mt_last_error());
    mt_set_grad_enabled(prev);
    return NULL;
}

/* sum of every state_dict value (a cheap fingerprint of the model's state) */
static double state_sum(mt_model *m)
{
    double s = 0;
    for (int i = 0; i < mt_model_state_count(m); i++) {
        mt_tensor *t = mt_model_state_tensor(m, i);
        for (size_t k = 0; k < mt_numel(t); k++) s += (double)MT_DATA(t)[k] * (double)(k % 7 + 1);
    }
    return s;
}

TEST(graph_two_threads_forward_bit_identical_deconvnet)
{
    char path[512];
    mt_model_arg args[1] = {{"fc_channels", "256"}}; /* the same graph, narrower fc6/fc7 to keep the test short */
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(mt_test_path("configs/models/deconvnet.yaml", path, sizeof path), 1, args, mt_cpu(), 3, &m));
    /* make BN statistics non-trivial so evaluation mode is not an identity */
    for (int i = 0; i < mt_model_state_count(m); i++) {
        const char *n = mt_model_state_name(m, i);
        mt_tensor *t = mt_model_state_tensor(m, i);
        mt_rng r = {17 + (uint64_t)i, 0};
        if (strstr(n, "running_mean")) CHECK_OK(mt_init_uniform(t, -0.1, 0.1, &r));
        if (strstr(n, "running_var")) CHECK_OK(mt_init_uniform(t, 0.5, 1.5, &r));
    }
    mt_tensor *xa = rand_input(1, 1, 150, 150, 1), *xb = rand_input(1, 1, 150, 150, 2);
    CHECK_NOTNULL(xa);
    CHECK_NOTNULL(xb);
    double before = state_sum(m);
    job a = {m, xa, NULL, MT_OK, ""}, b = {m, xb, NULL, MT_OK, ""};
    run_job(&a); /* one thread, one after the other: the reference */
    run_job(&b);
    CHECK(a.s == MT_OK && b.s == MT_OK, "sequential forward failed: %s %s", a.err, b.err);
    mt_tensor *ya = a.y, *yb = b.y;
    int identical = 1, rounds = 3;
    for (int r = 0; r < rounds && identical; r++) {
        job ca = {m, xa, NULL, MT_OK, ""}, cb = {m, xb, NULL, MT_OK, ""};
        pthread_t ta, tb;
        CHECK(pthread_create(&ta, NULL, run_job, &ca) == 0 && pthread_create(&tb, NULL, run_job, &cb) == 0,
              "pthread_create");
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK(ca.s == MT_OK && cb.s == MT_OK, "concurrent forward failed: %s %s", ca.err, cb.err);
        identical = !memcmp(mt_data(ca.y), mt_data(ya), mt_nbytes(ya)) && !memcmp(mt_data(cb.y), mt_data(yb), mt_nbytes(yb));
        mt_tensor_release(ca.y);
        mt_tensor_release(cb.y);
    }
    double after = state_sum(m);
    int differ = memcmp(mt_data(ya), mt_data(yb), mt_nbytes(ya)) != 0;
    mt_tensor_release(ya);
    mt_tensor_release(yb);
    mt_tensor_release(xa);
    mt_tensor_release(xb);
    mt_model_free(m);
    CHECK(differ, "the two inputs must give different outputs (else the test shows nothing)");
    CHECK(identical, "two threads running one model gave results that differ from one thread");
    CHECK(before == after, "an evaluation forward changed the model's state (%.17g -> %.17g)", before, after);
}

/* writes text to a temporary graph file and returns its path */
static const char *graph_file(const char *name, const char *text, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", mt_test_tmpdir(), name);
    FILE *f = fopen(buf, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return buf;
}

static mt_status load_text(const char *name, const char *text, mt_model **m)
{
    char path[600];
    if (!graph_file(name, text, path, sizeof path)) return MT_ERR(MT_ERR_IO, "cannot write %s", name);
    return mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, m);
}

TEST(graph_blocks_lists_ports_outputs)
{
    const char *g = "name: t\n"
                    "params: {plan: [[4, 3], [8, 1]]}\n"
                    "input: {channels: 2, size: [8, 8]}\n"
                    "blocks:\n"
                    "  cbr:\n"
                    "    params: {out: 4, k: 3}\n"
                    "    layers:\n"
                    "      - {name: conv, type: conv2d, out: \"${out}\", kernel: \"${k}\", padding: same, bias: false}\n"
                    "      - {name: bn, type: batch_norm2d, activation: relu}\n"
                    "  res:\n"
                    "    params: {c: 4}\n"
                    "    layers:\n"
                    "      - {name: a, block: cbr, out: \"${c}\"}\n"
                    "      - {name: s, type: scale, factor: 0.5}\n"
                    "      - {name: sum, type: add, from: [input, s]}\n"
                    "layers:\n"
                    "  - repeat: {var: i, from: 0, to: len(plan) - 1}\n"
                    "    layers:\n"
                    "      - {name: \"c${i}\", block: cbr, out: \"${plan[i][0]}\", k: \"${plan[i][1]}\"}\n"
                    "  - {name: r, block: res, c: 8}\n"
                    "  - {name: pool, type: max_pool2d, kernel: 2}\n"
                    "  - {name: parts, type: split, sizes: [3, 5]}\n"
                    "  - {name: gate, type: sigmoid, from: parts.0}\n"
                    "  - {name: up, type: max_unpool2d, from: pool, indices: pool.indices}\n"
                    "outputs: [gate, up, r]\n";
    mt_model *m = NULL;
    CHECK_OK(load_text("blocks.yaml", g, &m));
    int ok_n = mt_model_output_count(m) == 3 && !strcmp(mt_model_output_name(m, 1), "up");
    int found_nested = 0, found_c1 = 0;
    for (int i = 0; i < mt_model_state_count(m); i++) {
        if (!strcmp(mt_model_state_name(m, i), "r.a.conv.weight")) found_nested = 1;
        if (!strcmp(mt_model_state_name(m, i), "c1.conv.weight")) found_c1 = mt_numel(mt_model_state_tensor(m, i)) == 8 * 4 * 1 * 1;
    }
    int nd, s[MT_MAX_DIMS], in[4] = {1, 2, 8, 8};
    mt_status st = mt_model_shape(m, "up", 4, in, &nd, s);
    int up_ok = st == MT_OK && nd == 4 && s[1] == 8 && s[2] == 8;
    st = st == MT_OK ? mt_model_shape(m, "pool.indices", 4, in, &nd, s) : st;
    int idx_ok = st == MT_OK && s[1] == 8 && s[2] == 4;
    mt_tensor *x = rand_input(2, 2, 8, 8, 5), *outs[3] = {0};
    mt_rng r = {1, 0};
    mt_status rs = x ? mt_model_run(m, x, 1, &r, outs) : MT_ERR_NOMEM;
    int shapes_ok = rs == MT_OK && outs[0]->shape[1] == 3 && outs[1]->shape[2] == 8 && outs[2]->shape[1] == 8;
    for (int i = 0; i < 3; i++) mt_tensor_release(outs[i]);
    mt_tensor_release(x);
    mt_model_free(m);
    CHECK(ok_n, "three named outputs expected");
    CHECK(found_nested, "nested block state must be named r.a.conv.weight");
    CHECK(found_c1, "c1 must take plan[1] = [8, 1]: a 1x1 conv to 8 channels");
    CHECK_OK(st);
    CHECK(up_ok && idx_ok, "port shapes wrong");
    CHECK(rs == MT_OK && shapes_ok, "run failed or wrong output shapes: %s", mt_last_error());
}

/* loads a broken graph and checks the error names file:line:column and the given fragments */
static void expect_error(mt_test_ctx *T_, const char *name, const char *text, const char *where, const char *frag1,
                         const char *frag2)
{
    mt_model *m = NULL;
    mt_status s = load_text(name, text, &m);
    mt_model_free(m);
    CHECK(s != MT_OK, "%s: a broken graph loaded", name);
    const char *e = mt_last_error();
    char loc[128];
    snprintf(loc, sizeof loc, "%s:%s", name, where);
    CHECK(strstr(e, loc), "%s: error does not name %s: %s", name, loc, e);
    CHECK(strstr(e, frag1), "%s: error lacks '%s': %s", name, frag1, e);
    CHECK(!frag2 || strstr(e, frag2), "%s: error lacks '%s': %s", name, frag2, e);
    mt_error_clear();
}

TEST(graph_errors_name_file_line_column_and_shapes)
{
    /* a reference to a later layer (what a cycle would need) */
    expect_error(T_, "cycle.yaml",
                 "input: {channels: 1}\nlayers:\n  - {name: a, type: relu, from: b}\n  - {name: b, type: relu, from: a}\n",
                 "3:33", "comes later", "no cycles");
    /* an unknown port */
    expect_error(T_, "port.yaml",
                 "input: {channels: 1}\nlayers:\n  - {name: p, type: max_pool2d}\n"
                 "  - {name: u, type: max_unpool2d, indices: p.switches}\n",
                 "4:44", "has no output 'switches'", "indices");
    /* concat of mismatched sizes, found at build time thanks to input size */
    expect_error(T_, "concat.yaml",
                 "input: {channels: 1, size: [8, 8]}\nlayers:\n  - {name: p, type: max_pool2d}\n"
                 "  - {name: c, type: concat, from: [input, p]}\n",
                 "4:5", "[1, 1, 4, 4]", "[1, 1, 8, 8]");
    /* add of mismatched channels */
    expect_error(T_, "add.yaml",
                 "input: {channels: 1, size: [8, 8]}\nlayers:\n  - {name: a, type: conv2d, out: 2, kernel: 1}\n"
                 "  - {name: s, type: add, from: [input, a]}\n",
                 "4:", "[1, 2, 8, 8]", "[1, 1, 8, 8]");
    /* mul that does not broadcast */
    expect_error(T_, "mul.yaml",
                 "input: {channels: 1, size: [8, 8]}\nlayers:\n  - {name: a, type: conv2d, out: 3, kernel: 1}\n"
                 "  - {name: b, type: conv2d, out: 2, kernel: 1, from: input}\n  - {name: m, type: mul, from: [a, b]}\n",
                 "5:5", "[1, 3, 8, 8]", "[1, 2, 8, 8]");
    /* an unknown block parameter */
    expect_error(T_, "blockarg.yaml",
                 "input: {channels: 1}\nblocks:\n  b: {params: {out: 1}, layers: [{name: c, type: conv2d, out: \"${out}\", kernel: 1}]}\n"
                 "layers:\n  - {name: x, block: b, outt: 3}\n",
                 "5:25", "no parameter 'outt'", "did you mean 'out'");
    /* a list index out of range */
    expect_error(T_, "index.yaml",
                 "params: {t: [1, 2]}\ninput: {channels: 1}\nlayers:\n  - {name: c, type: conv2d, out: \"${t[2]}\", kernel: 1}\n",
                 "4:", "out of range", NULL);
}

/* The model-graph files of ../shared/data/bad_inputs are refused cleanly (a message
 * naming file:line:column and the limit) or, for the long expression, read right. */
TEST(graph_bad_inputs_refused_or_read_right)
{
    static const struct {
        const char *file, *frag;
    } bad[] = {
        {"bad_inputs/oom-graph-repeat-1e9.yaml", "a repeat bound must be an integer in [-200000, 200000]"},
        {"bad_inputs/ubsan-float-cast-graph283-repeat-bound.yaml", "a repeat bound must be an integer"},
        {"bad_inputs/ubsan-float-cast-graph516-input-channels.yaml", "input channels must be an integer in [1, 1048576]"},
        {"bad_inputs/wrong-value-graph-kernel-int-wrap.yaml", "expected an integer in [-2^30, 2^30], got '4294967299'"},
    };
    char path[1024];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (!mt_test_shared_data(bad[i].file, path, sizeof path)) SKIP("skipped: ../shared/data/bad_inputs not present");
        mt_model *m = NULL;
        mt_status s = mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, &m);
        mt_model_free(m);
        CHECK(s != MT_OK, "%s loaded", bad[i].file);
        const char *e = mt_last_error(), *base = strrchr(bad[i].file, '/') + 1;
        char where[256];
        snprintf(where, sizeof where, "%s:", base);
        CHECK(strstr(e, where) && strstr(e, bad[i].frag), "%s: message lacks the file or '%s': %s", bad[i].file, bad[i].frag, e);
        mt_error_clear();
    }
    /* a 900-character expression is evaluated whole (it once stopped at 511 characters: 256 channels, not 300) */
    CHECK(mt_test_shared_data("bad_inputs/wrong-value-graph-expr-over-511-chars.yaml", path, sizeof path) != NULL, "missing file");
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, &m));
    int nd, s[MT_MAX_DIMS], in[4] = {1, 1, 32, 32};
    mt_status st = mt_model_shape(m, "a", 4, in, &nd, s);
    mt_model_free(m);
    CHECK_OK(st);
    CHECK(s[1] == 300, "layer a has %d channels, the expression says 300", s[1]);
}
