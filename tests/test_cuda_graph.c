/* tests/test_cuda_graph.c: train.cuda_graph (train/cuda_graph.h,
 * train/trainer_graph.c) and the allocator's private pool (core/alloc.h).
 * On the CPU: every reason mt_cuda_graph_eligible gives, the pool's
 * reservation of the blocks freed during a capture, the config key, and a
 * CPU run with train.cuda_graph: true that trains eagerly and says why, and
 * the trainer's fp16 step with the GradScaler and optimizer scalars on the
 * device (as a captured step runs it) bit-identical to the host run. With a
 * GPU: a U-Net trained with the step captured and replayed ends with the
 * parameters of the same run trained eagerly, and the replays allocate nothing
 * and read nothing back between log steps ("skipped: no GPU" here). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../layers/model.h"
#include "../train/cuda_graph.h"
#include "../train/trainer_graph.h"
#include "test.h"

/* facts of a run that qualifies (on a GPU machine) */
static mt_cuda_graph_facts good_facts(void)
{
    mt_cuda_graph_facts f;
    mt_cuda_graph_facts_init(&f);
    f.device = mt_cuda(0);
    f.n_train = 12;
    f.batch_size = 4;
    f.optim_ok = 1;
    f.d2h_reads = f.backend_allocs = f.rng_draws = 0;
    return f;
}

TEST(cuda_graph_eligible_gives_each_reason)
{
    char why[512];
    mt_cuda_graph_facts f;
    mt_cuda_graph_facts_init(&f);
    CHECK(!mt_cuda_graph_eligible(&f, why, sizeof why) && strstr(why, "is cpu") && strstr(why, "train.device"),
          "CPU device: '%s'", why);
    struct {
        const char *what, *want;
    } cases[] = {
        {"multi", "several networks"},   {"dist", "3 processes"},         {"partial", "has 2 samples, not train.batch_size 4"},
        {"boxes", "host-side targets"}, {"optim", "contiguous block"},
        {"d2h", "reads 2 values back"}, {"alloc", "allocated 5 blocks"}, {"rng", "dropout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        f = good_facts();
        const char *w = cases[i].what;
        if (!strcmp(w, "multi")) f.multi_network = 1;
        if (!strcmp(w, "dist")) f.processes = 3;
        if (!strcmp(w, "partial")) f.n_train = 14;
        if (!strcmp(w, "boxes")) f.host_targets = 1;
        if (!strcmp(w, "optim")) f.optim_ok = 0;
        if (!strcmp(w, "d2h")) f.d2h_reads = 2;
        if (!strcmp(w, "alloc")) f.backend_allocs = 5;
        if (!strcmp(w, "rng")) f.rng_draws = 96;
        CHECK(!mt_cuda_graph_eligible(&f, why, sizeof why) && strstr(why, cases[i].want), "%s: '%s', expected '%s'", w,
              why, cases[i].want);
    }
    /* drop_last removes the partial batch; unmeasured (-1) facts are not judged */
    f = good_facts();
    f.n_train = 14;
    f.drop_last = 1;
    f.d2h_reads = f.backend_allocs = f.rng_draws = -1;
    f.optim_ok = -1;
    int ok = mt_cuda_graph_eligible(&f, why, sizeof why);
    if (mt_device_available(mt_cuda(0))) CHECK(ok && why[0] == 0, "a qualifying run refused: '%s'", why);
    else CHECK(!ok && strstr(why, "no CUDA backend"), "without a GPU: '%s'", why);
}

TEST(cuda_graph_alloc_pool_reserves_blocks_freed_in_a_capture)
{
    const size_t bytes = 3 << 20; /* a size class no other test leaves in the cache by chance */
    void *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    CHECK_OK(mt_alloc_pool_begin());
    CHECK(mt_alloc_pool_begin() == MT_ERR_STATE, "a second pool on the same thread was opened");
    mt_error_clear();
    CHECK_OK(mt_alloc(mt_cpu(), bytes, &a));
    mt_free(mt_cpu(), a, bytes); /* freed during the capture: into the pool */
    CHECK_OK(mt_alloc(mt_cpu(), bytes, &b));
    CHECK(b == a, "an allocation during the capture did not reuse the pool's block");
    mt_free(mt_cpu(), b, bytes);
    mt_alloc_pool *p = mt_alloc_pool_end();
    CHECK(p && mt_alloc_pool_bytes(p) >= bytes, "the pool holds %zu bytes, expected >= %zu", mt_alloc_pool_bytes(p), bytes);
    CHECK(mt_alloc_pool_end() == NULL, "a pool still open after pool_end");
    /* while the graph lives, its block is not handed out */
    CHECK_OK(mt_alloc(mt_cpu(), bytes, &c));
    CHECK(c != a, "the graph's reserved block was handed out again");
    mt_free(mt_cpu(), c, bytes);
    mt_alloc_pool_release(p);
    /* given back: the shared cache serves it again (both blocks are now cached, either may come) */
    CHECK_OK(mt_alloc(mt_cpu(), bytes, &d));
    CHECK(d == a || d == c, "after the release the cache served a new block");
    mt_free(mt_cpu(), d, bytes);
}

/* the small U-Net run of tests/test_lean_step.c, without dropout and with drop_last (static shapes) */
static const char *write_config(const char *name, int graph_on, int dropout, const char *precision, char *cfg,
                                size_t cap)
{
    const char *tmp = mt_test_tmpdir();
    char ds[PATH_MAX], graph[PATH_MAX], rel[PATH_MAX];
    snprintf(ds, sizeof ds, "%s/%s.h5", tmp, name);
    if (!mt_test_disc_dataset(ds, 18, 32, 41, NULL, 0.2, 0.2)) return "dataset not written";
    if (!realpath(mt_test_path("configs/models/unet.yaml", rel, sizeof rel), graph)) return "no unet.yaml";
    snprintf(cfg, cap, "%s/%s.yaml", tmp, name);
    FILE *f = fopen(cfg, "w");
    if (!f) return "cannot write the config";
    fprintf(f,
            "model:\n  graph: %s\n  params: {base: 4, depth: 2, in_channels: 1, out_channels: 1, dropout: %s}\n"
            "data:\n  dataset: %s\n  normalize: window\n  window: [-200, 200]\n  num_workers: 2\n  drop_last: true\n"
            "loss:\n  kind: bce_with_logits\n"
            "optimizer:\n  kind: adam\n  lr: 0.01\n  clip_grad_norm: 1.0\n"
            "schedule:\n  kind: step\n  step_size: 1\n  gamma: 0.5\n"
            "train:\n  epochs: 4\n  batch_size: 4\n  seed: 3\n  log_every: 3\n  deterministic: true\n"
            "  cuda_graph: %s\n  precision: %s\n",
            graph, dropout ? "0.2" : "0", ds, graph_on ? "true" : "false", precision);
    return fclose(f) == 0 ? "" : "cannot write the config";
}

TEST(cuda_graph_cpu_run_trains_eagerly_and_says_why)
{
    char cfg[PATH_MAX], run[PATH_MAX];
    const char *w = write_config("graph_cpu", 1, 0, "fp32", cfg, sizeof cfg);
    CHECK(!w[0], "%s", w);
    snprintf(run, sizeof run, "%s/graph_cpu_run", mt_test_tmpdir());
    mt_train_options o = {.config = cfg, .out_dir = run, .device = "cpu", .quiet = 1};
    mt_trainer *t = NULL;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) {
        t->s.exp.train.epochs = 1;
        st = mt_trainer_fit(t);
    }
    CHECK(st == MT_OK, "training with train.cuda_graph on the CPU failed: %s", mt_last_error());
    long replays = -1;
    const char *reason = NULL;
    int state = mt_trainer_graph_state(t, &replays, &reason);
    CHECK(state == -1 && replays == 0 && reason && strstr(reason, "is cpu"), "state %d, %ld replays, reason '%s'", state,
          replays, reason ? reason : "(null)");
    CHECK(t->step >= 2, "only %ld steps", t->step);
    mt_trainer_close(t, 0);
    /* the key is validated as a boolean */
    const char *sets[] = {"train.cuda_graph=maybe"};
    snprintf(run, sizeof run, "%s/graph_cpu_bad", mt_test_tmpdir());
    mt_train_options bad = {.config = cfg, .out_dir = run, .device = "cpu", .quiet = 1, .n_sets = 1, .sets = sets};
    st = mt_trainer_open(&bad, &t);
    CHECK(st != MT_OK && strstr(mt_last_error(), "train.cuda_graph"), "train.cuda_graph=maybe: %s", mt_last_error());
    mt_error_clear();
    mt_trainer_close(t, 1);
}

/* A run on cuda:0 to its end; its parameters copied to host[] (n values). "" or why not. */
static const char *gpu_run(const char *name, int graph_on, int dropout, float *host, size_t cap, size_t *n,
                           int *state, long *replays, long *optim_steps)
{
    static char why[600];
    char cfg[PATH_MAX], run[PATH_MAX];
    const char *w = write_config(name, graph_on, dropout, "fp32", cfg, sizeof cfg);
    if (w[0]) return w;
    snprintf(run, sizeof run, "%s/%s_run", mt_test_tmpdir(), name);
    mt_train_options o = {.config = cfg, .out_dir = run, .device = "cuda", .quiet = 1};
    mt_trainer *t = NULL;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) st = mt_trainer_fit(t);
    why[0] = 0;
    *n = 0;
    if (st == MT_OK) {
        int np = 0;
        mt_tensor **p = mt_model_params(t->s.model, &np);
        for (int i = 0; i < np && st == MT_OK; i++) {
            size_t k = mt_numel(p[i]);
            if (*n + k > cap) {
                snprintf(why, sizeof why, "more than %zu parameters", cap);
                break;
            }
            st = mt_tensor_to_host(p[i], host + *n, k * sizeof(float));
            *n += k;
        }
        const char *reason = NULL;
        *state = mt_trainer_graph_state(t, replays, &reason);
        *optim_steps = mt_optim_steps(t->optim[0]);
        if (graph_on && !dropout && *state != 1) snprintf(why, sizeof why, "not captured: %s", reason);
    }
    if (st != MT_OK) snprintf(why, sizeof why, "training failed: %.500s", mt_last_error());
    mt_trainer_close(t, 0);
    return why;
}

TEST(cuda_graph_replayed_training_equals_eager_cuda)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    enum { CAP = 1 << 20 };
    float *a = malloc(CAP * sizeof *a), *b = malloc(CAP * sizeof *b);
    CHECK(a && b, "no memory");
    size_t na = 0, nb = 0;
    int sa = 0, sb = 0;
    long ra = 0, rb = 0, oa = 0, ob = 0;
    const char *w = gpu_run("graph_gpu_on", 1, 0, a, CAP, &na, &sa, &ra, &oa);
    CHECK(!w[0], "graph run: %s", w);
    w = gpu_run("graph_gpu_off", 0, 0, b, CAP, &nb, &sb, &rb, &ob);
    CHECK(!w[0], "eager run: %s", w);
    /* 4 epochs of 2 batches: 3 warm-up steps, the capture, then replays (log steps without terms replay too) */
    CHECK(sa == 1 && ra >= 4, "graph state %d with %ld replays, expected captured with >= 4", sa, ra);
    CHECK(na == nb && na > 0, "%zu vs %zu parameters", na, nb);
    CHECK(oa == ob && ob == 8, "optimizer step counts %ld (graph) vs %ld (eager), expected 8", oa, ob);
    double worst = 0;
    for (size_t i = 0; i < na; i++) {
        double d = a[i] - b[i], m = b[i] < 0 ? -b[i] : b[i];
        d = d < 0 ? -d : d;
        if (d / (m > 1 ? m : 1) > worst) worst = d / (m > 1 ? m : 1);
    }
    CHECK(worst <= 1e-5, "replayed and eager parameters differ by %g (relative), expected <= 1e-5", worst);
    /* with dropout the run falls back (the mask's seed is a kernel argument) and still trains */
    w = gpu_run("graph_gpu_dropout", 1, 1, a, CAP, &na, &sa, &ra, &oa);
    CHECK(!w[0] && sa == -1 && ra == 0, "dropout run: '%s', state %d", w, sa);
    free(a);
    free(b);
}

/* The trainer's fp16 step with the GradScaler and optimizer scalars on the device, as a captured step
 * runs it (train/trainer_graph.c switches them on; here by hand on the CPU backend): the same weights,
 * bit for bit, as the host-scalar fp16 run, and the same final loss scale. */
TEST(cuda_graph_fp16_device_scaler_step_equals_host_cpu)
{
    float *w[2] = {NULL, NULL};
    size_t nw[2] = {0, 0};
    double scale[2] = {0, 0};
    long skips[2] = {0, 0};
    for (int dev = 0; dev < 2; dev++) {
        char cfg[PATH_MAX], run[PATH_MAX], name[32];
        snprintf(name, sizeof name, "graph_fp16_%d", dev);
        const char *why = write_config(name, 0, 0, "fp16", cfg, sizeof cfg);
        CHECK(!why[0], "%s", why);
        snprintf(run, sizeof run, "%s/%s_run", mt_test_tmpdir(), name);
        mt_train_options o = {.config = cfg, .out_dir = run, .device = "cpu", .quiet = 1};
        mt_trainer *t = NULL;
        mt_status st = mt_trainer_open(&o, &t);
        if (st == MT_OK && dev) {
            t->scaler.growth_interval = 2; /* growth inside the run */
            st = mt_optim_set_device_scalars(t->optim[0], 1);
            if (st == MT_OK) st = mt_grad_scaler_to_device(&t->scaler, mt_cpu());
            mt_tensor *found = st == MT_OK ? mt_grad_scaler_found_inf(&t->scaler) : NULL;
            if (found) mt_optim_set_found_inf(t->optim[0], found);
            mt_tensor_release(found);
        } else if (st == MT_OK) {
            t->scaler.growth_interval = 2;
        }
        if (st == MT_OK) {
            t->s.exp.train.epochs = 2;
            st = mt_trainer_fit(t);
        }
        CHECK(st == MT_OK, "fp16 run (%s scalars): %s", dev ? "device" : "host", mt_last_error());
        long skipped = 0;
        CHECK_OK(mt_grad_scaler_sync(&t->scaler, &skipped));
        scale[dev] = t->scaler.scale;
        skips[dev] = t->skipped_steps + skipped;
        int np = 0;
        mt_tensor **p = mt_model_params(t->s.model, &np);
        for (int i = 0; i < np; i++) nw[dev] += mt_numel(p[i]);
        w[dev] = malloc(nw[dev] * sizeof(float));
        CHECK_NOTNULL(w[dev]);
        size_t off = 0;
        for (int i = 0; i < np; i++) {
            memcpy(w[dev] + off, MT_DATA(p[i]), mt_nbytes(p[i]));
            off += mt_numel(p[i]);
        }
        CHECK(t->step == 4, "%ld steps, expected 4", t->step);
        mt_trainer_close(t, 0);
    }
    CHECK(nw[0] == nw[1] && !memcmp(w[0], w[1], nw[0] * sizeof(float)),
          "device-scalar fp16 weights differ from the host-scalar run");
    CHECK(scale[0] == scale[1] && skips[0] == skips[1], "loss scale %g and %ld skipped steps (device) vs %g and %ld (host)",
          scale[1], skips[1], scale[0], skips[0]);
    /* 4 steps with growth every 2 good ones: the scale moved (grew, or backed off on an overflow) */
    CHECK(scale[0] != 65536.0 || skips[0] > 0, "the loss scale never changed (%g, %ld skipped)", scale[0], skips[0]);
    free(w[0]);
    free(w[1]);
}
