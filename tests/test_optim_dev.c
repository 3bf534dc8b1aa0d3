/* tests/test_optim_dev.c: device-resident step scalars (optim/dev_scalars.c,
 * optim/scalars.h), the optimizer path a CUDA-graph-captured step uses: the step
 * count, learning rate and bias corrections read from a block in the parameters'
 * device memory (host memory on the CPU backend) instead of kernel arguments.
 * On the CPU it must give bit-identical parameters and state to the host-scalar
 * (fused) path for every optimizer, with learning rates changed between steps
 * (a schedule), switched on after some host steps and off again, and a step
 * skipped on the device by a nonzero found_inf (fp16 GradScaler) must leave the
 * parameters and the step count as not calling step() does. A step in which a
 * parameter has no gradient (no fused update possible) goes through the host
 * path with the counts read back, and later fused steps write them again. */
#include <math.h>
#include <string.h>

#include "../core/autograd.h"
#include "../core/ops.h"
#include "../optim/grad_scaler.h"
#include "../optim/optim.h"
#include "test.h"

#define NP 3
#define N_STEPS 9
#define DEV_FROM 2   /* the device-scalar optimizer runs its first steps on the host path */
#define DEV_UNTIL 7  /* ... and goes back to it from this step */
#define INF_STEP 4   /* found_inf = 1 at this step: skipped */
#define NOGRAD_STEP 5 /* p1 has no gradient at this step: its group is updated per parameter, and Adam's
                       * and Adadelta's afterwards too (p1's step count lags) */

static const int SIZES[NP] = {6, 5, 4};

typedef struct drig {
    mt_tensor *block, *p[NP], *w[NP];
    mt_optim *o;
} drig;

static void drig_free(drig *r)
{
    mt_optim_free(r->o);
    for (int i = 0; i < NP; i++) {
        mt_tensor_release(r->p[i]);
        mt_tensor_release(r->w[i]);
    }
    mt_tensor_release(r->block);
    memset(r, 0, sizeof *r);
}

/* three parameters as consecutive views of one block (a model's layout), two groups: p0,p1 and p2 */
static mt_status drig_init(drig *r, mt_optim_kind kind, const mt_optim_hparams *h)
{
    memset(r, 0, sizeof *r);
    int total = 0;
    for (int i = 0; i < NP; i++) total += SIZES[i];
    if (!(r->block = mt_tensor_new(MT_REAL, mt_cpu(), 1, &total))) return mt_last_status();
    for (int k = 0; k < total; k++) MT_DATA(r->block)[k] = (mt_real)(0.37 * ((k * 5) % 13) - 2.1);
    size_t off = 0;
    for (int i = 0; i < NP; i++) {
        mt_tensor *v = mt_tensor_alias(r->block);
        if (!v) return mt_last_status();
        v->ndim = 1;
        v->shape[0] = SIZES[i];
        v->offset = off * sizeof(mt_real);
        off += (size_t)SIZES[i];
        mt_requires_grad(v, 1);
        r->p[i] = v;
        if (!(r->w[i] = mt_tensor_like(v, 0))) return mt_last_status();
        for (int k = 0; k < SIZES[i]; k++) MT_DATA(r->w[i])[k] = (mt_real)(0.3 + 0.45 * ((k + 2 * i) % 4));
    }
    if (!(r->o = mt_optim_new(kind))) return mt_last_status();
    mt_optim_hparams h1 = *h;
    h1.lr = h->lr * 0.25;
    if (mt_optim_add_group(r->o, r->p, 2, h) != 0 || mt_optim_add_group(r->o, r->p + 2, 1, &h1) != 1)
        return mt_last_status();
    return MT_OK;
}

/* gradients of sum_i sum(w_i p_i^3) (so they change with the parameters) */
static mt_status drig_backward(drig *r)
{
    mt_tensor *loss = NULL;
    for (int i = 0; i < NP; i++) {
        mt_tensor *a = mt_mul(r->p[i], r->p[i]);
        mt_tensor *b = a ? mt_mul(a, r->p[i]) : NULL;
        mt_tensor *c = b ? mt_mul(b, r->w[i]) : NULL;
        mt_tensor *s = c ? mt_sum_all(c) : NULL;
        mt_tensor *l = !s ? NULL : loss ? mt_add(loss, s) : mt_tensor_retain(s);
        mt_tensor_release(a);
        mt_tensor_release(b);
        mt_tensor_release(c);
        mt_tensor_release(s);
        mt_tensor_release(loss);
        if (!(loss = l)) return mt_last_status();
    }
    mt_status st = mt_backward(loss, NULL, 0);
    mt_tensor_release(loss);
    return st;
}

/* the learning rates a schedule would set before step t */
static void set_lrs(drig *r, int t, double lr)
{
    double f = t < 3 ? 1.0 : t < 6 ? 0.3 : 0.07;
    mt_optim_set_lr(r->o, 0, lr * f);
    mt_optim_set_lr(r->o, 1, lr * f * 0.25);
}

typedef struct dcase {
    const char *name;
    mt_optim_kind kind;
    double lr, momentum, weight_decay;
    int nesterov, amsgrad;
} dcase;

static const dcase DCASES[] = {
    {"sgd_momentum", MT_OPTIM_SGD, 0.02, 0.9, 0.01, 0, 0},
    {"sgd_nesterov", MT_OPTIM_SGD, 0.02, 0.8, 0, 1, 0},
    {"adam_wd", MT_OPTIM_ADAM, 0.01, 0, 0.1, 0, 0},
    {"adam_amsgrad", MT_OPTIM_ADAM, 0.01, 0, 0, 0, 1},
    {"adamw", MT_OPTIM_ADAMW, 0.01, 0, 0.05, 0, 0},
    {"adadelta", MT_OPTIM_ADADELTA, 0.5, 0, 0.1, 0, 0},
};

static int same_state(mt_optim *a, mt_optim *b, char *why, size_t cap)
{
    int n = mt_optim_state_count(a);
    if (n != mt_optim_state_count(b) || n == 0) {
        snprintf(why, cap, "%d vs %d state entries", n, mt_optim_state_count(b));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        mt_tensor *sa = mt_optim_state_tensor(a, i), *sb = mt_optim_state_tensor(b, i);
        if (strcmp(mt_optim_state_name(a, i), mt_optim_state_name(b, i)) || !mt_same_shape(sa, sb) ||
            memcmp(MT_DATA(sa), MT_DATA(sb), mt_nbytes(sa))) {
            snprintf(why, cap, "state %s differs (first value %.9g vs %.9g)", mt_optim_state_name(a, i),
                     (double)MT_DATA(sa)[0], (double)MT_DATA(sb)[0]);
            return 0;
        }
    }
    return 1;
}

TEST(optim_device_scalars_bit_identical_to_host_scalars_cpu)
{
    for (size_t c = 0; c < sizeof DCASES / sizeof *DCASES; c++) {
        const dcase *dc = &DCASES[c];
        mt_optim_hparams h = mt_optim_defaults(dc->kind);
        h.lr = dc->lr;
        h.momentum = dc->momentum;
        h.weight_decay = dc->weight_decay;
        h.nesterov = dc->nesterov;
        h.amsgrad = dc->amsgrad;
        drig host, dev;
        CHECK_OK(drig_init(&host, dc->kind, &h));
        CHECK_OK(drig_init(&dev, dc->kind, &h));
        int one = 1;
        mt_tensor *found_inf = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, &one);
        CHECK_NOTNULL(found_inf);
        for (int t = 0; t < N_STEPS; t++) {
            if (t == DEV_FROM) {
                CHECK_OK(mt_optim_set_device_scalars(dev.o, 1));
                mt_optim_set_found_inf(dev.o, found_inf);
            }
            if (t == DEV_UNTIL) CHECK_OK(mt_optim_set_device_scalars(dev.o, 0));
            CHECK(mt_optim_device_scalars(dev.o) == (t >= DEV_FROM && t < DEV_UNTIL), "%s step %d: device scalars %s",
                  dc->name, t + 1, mt_optim_device_scalars(dev.o) ? "on" : "off");
            set_lrs(&host, t, dc->lr);
            set_lrs(&dev, t, dc->lr);
            MT_DATA(found_inf)[0] = t == INF_STEP ? (mt_real)1 : (mt_real)0;
            CHECK_OK(drig_backward(&host));
            CHECK_OK(drig_backward(&dev));
            if (t == NOGRAD_STEP || t == NOGRAD_STEP + 2) { /* torch: .grad None, skipped by step() */
                mt_clear_grad(host.p[1]);
                mt_clear_grad(dev.p[1]);
            }
            if (t != INF_STEP) CHECK_OK(mt_optim_step(host.o)); /* GradScaler skips optimizer.step */
            mt_real before[16];
            memcpy(before, MT_DATA(dev.block), mt_nbytes(dev.block));
            CHECK_OK(mt_optim_step(dev.o));
            if (t == INF_STEP)
                CHECK(!memcmp(before, MT_DATA(dev.block), mt_nbytes(dev.block)),
                      "%s: the step with found_inf changed the parameters", dc->name);
            else
                CHECK(memcmp(before, MT_DATA(dev.block), mt_nbytes(dev.block)), "%s step %d: nothing was updated",
                      dc->name, t + 1);
            CHECK_OK(mt_optim_zero_grad(host.o));
            CHECK_OK(mt_optim_zero_grad(dev.o));
            CHECK(!memcmp(MT_DATA(host.block), MT_DATA(dev.block), mt_nbytes(dev.block)),
                  "%s step %d: device-scalar parameters differ from the host path's (first %.9g vs %.9g)", dc->name,
                  t + 1, (double)MT_DATA(dev.block)[0], (double)MT_DATA(host.block)[0]);
            if (t == DEV_UNTIL - 1) { /* the step counts read back while still on the device */
                char why[256];
                CHECK(same_state(host.o, dev.o, why, sizeof why), "%s after step %d (device scalars on): %s", dc->name,
                      t + 1, why);
            }
        }
        char why[256];
        CHECK(same_state(host.o, dev.o, why, sizeof why), "%s at the end: %s", dc->name, why);
        mt_tensor_release(found_inf);
        drig_free(&host);
        drig_free(&dev);
    }
}

TEST(optim_device_scalars_state_load_and_errors)
{
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_ADAM);
    drig a, b;
    CHECK_OK(drig_init(&a, MT_OPTIM_ADAM, &h));
    CHECK_OK(drig_init(&b, MT_OPTIM_ADAM, &h));
    CHECK_OK(mt_optim_set_device_scalars(a.o, 1));
    for (int t = 0; t < 3; t++) {
        CHECK_OK(drig_backward(&a));
        CHECK_OK(mt_optim_step(a.o));
        CHECK_OK(mt_optim_zero_grad(a.o));
    }
    /* a checkpoint of the device-scalar optimizer names step 3, and loads into another one on the device */
    int n = mt_optim_state_count(a.o);
    CHECK(n == 9, "%d state entries, expected 9", n);
    const char *names[9];
    mt_tensor *ts[9];
    for (int i = 0; i < n; i++) {
        names[i] = mt_optim_state_name(a.o, i);
        ts[i] = mt_optim_state_tensor(a.o, i);
    }
    CHECK(!strcmp(names[0], "state.0.step") && MT_DATA(ts[0])[0] == 3, "%s = %g, expected state.0.step = 3", names[0],
          (double)MT_DATA(ts[0])[0]);
    CHECK_OK(mt_optim_set_device_scalars(b.o, 1));
    memcpy(MT_DATA(b.block), MT_DATA(a.block), mt_nbytes(a.block));
    CHECK_OK(mt_optim_state_load(b.o, n, names, ts, 3));
    CHECK_OK(drig_backward(&a));
    CHECK_OK(drig_backward(&b));
    CHECK_OK(mt_optim_step(a.o));
    CHECK_OK(mt_optim_step(b.o));
    CHECK(!memcmp(MT_DATA(a.block), MT_DATA(b.block), mt_nbytes(a.block)),
          "step 4 after loading the state differs (the loaded step count did not reach the device block)");
    CHECK_OK(mt_optim_zero_grad(a.o));
    CHECK_OK(mt_optim_zero_grad(b.o));
    drig_free(&a);
    drig_free(&b);
    /* parameters that are not one block: refused with the reason */
    int three = 3;
    mt_tensor *p = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, &three), *q = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, &three);
    CHECK(p && q, "tensors: %s", mt_last_error());
    mt_tensor *pq[2] = {p, q};
    mt_optim *o = mt_optim_new(MT_OPTIM_SGD);
    CHECK(o && mt_optim_add_group(o, pq, 2, &h) == 0, "optimizer: %s", mt_last_error());
    mt_status st = mt_optim_set_device_scalars(o, 1);
    CHECK(st == MT_ERR_UNSUPPORTED && strstr(mt_last_error(), "contiguous"), "separate parameters: %s", mt_last_error());
    CHECK(!mt_optim_device_scalars(o), "device scalars on after a refusal");
    mt_error_clear();
    mt_optim_free(o);
    mt_tensor_release(p);
    mt_tensor_release(q);
}

/* The GradScaler's device-resident state (optim/grad_scaler.h) on the CPU backend against the host
 * scaler over steps with and without an inf gradient, growth every 3 good steps: the same unscaled
 * gradients, found_inf, scale, tracker and skipped count; the scaled loss and its gradient read S
 * from the state. */
TEST(grad_scaler_device_state_equals_host_scaler_cpu)
{
    mt_grad_scaler host, dev;
    mt_grad_scaler_init(&host);
    mt_grad_scaler_init(&dev);
    host.growth_interval = dev.growth_interval = 3;
    CHECK_OK(mt_grad_scaler_to_device(&dev, mt_cpu()));
    int n = 5, one = 1;
    mt_tensor *gh = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, &n), *gd = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, &n);
    mt_tensor *p = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, &n), *found = mt_grad_scaler_found_inf(&dev);
    CHECK(gh && gd && p && found && mt_numel(found) == 1, "tensors: %s", mt_last_error());
    long skipped_host = 0;
    for (int t = 0; t < 9; t++) {
        for (int k = 0; k < n; k++) MT_DATA(gh)[k] = (mt_real)((k - 2) * 1.75e3 * (t + 1));
        if (t == 2 || t == 6) MT_DATA(gh)[3] = t == 2 ? (mt_real)INFINITY : (mt_real)NAN;
        memcpy(MT_DATA(gd), MT_DATA(gh), mt_nbytes(gh));
        p->grad = gh;
        int inf = 0;
        CHECK_OK(mt_grad_scaler_unscale(&host, &p, 1, &inf));
        p->grad = NULL;
        mt_grad_scaler_update(&host, inf);
        skipped_host += inf;
        CHECK_OK(mt_grad_scaler_unscale_device(&dev, &gd, 1));
        CHECK(MT_DATA(found)[0] == (mt_real)inf, "step %d: found_inf %g on the device, %d on the host", t + 1,
              (double)MT_DATA(found)[0], inf);
        CHECK_OK(mt_grad_scaler_update_device(&dev));
        if (!inf)
            CHECK(!memcmp(MT_DATA(gh), MT_DATA(gd), mt_nbytes(gh)), "step %d: unscaled gradients differ", t + 1);
        mt_grad_scaler probe = dev;
        long sk = 0;
        CHECK_OK(mt_grad_scaler_sync(&probe, &sk));
        CHECK(probe.scale == host.scale && probe.growth_tracker == host.growth_tracker,
              "step %d: device scale %g tracker %ld, host %g %ld", t + 1, probe.scale, probe.growth_tracker, host.scale,
              host.growth_tracker);
        CHECK(sk == inf, "step %d: %ld skipped steps since the last sync, expected %d", t + 1, sk, inf);
    }
    CHECK(skipped_host == 2 && host.scale == 65536.0 * 0.5 * 2 * 0.5, "host scaler ended at %g", host.scale);
    /* loss * S with S read from the state: value and gradient */
    mt_real lv = 0.75f;
    mt_tensor *loss = mt_tensor_from_host(mt_cpu(), 1, &one, &lv);
    CHECK_NOTNULL(loss);
    mt_requires_grad(loss, 1);
    mt_tensor *scaled = mt_grad_scaler_scale(&dev, loss);
    CHECK_NOTNULL(scaled);
    CHECK(MT_DATA(scaled)[0] == (mt_real)(0.75 * host.scale), "scaled loss %g, expected %g", (double)MT_DATA(scaled)[0],
          0.75 * host.scale);
    CHECK_OK(mt_backward(scaled, NULL, 0));
    CHECK(loss->grad && MT_DATA(loss->grad)[0] == (mt_real)host.scale, "d(scaled)/d(loss) = %g, expected %g",
          loss->grad ? (double)MT_DATA(loss->grad)[0] : NAN, host.scale);
    mt_tensor_release(scaled);
    mt_tensor_release(loss);
    mt_tensor_release(found);
    mt_tensor_release(gh);
    mt_tensor_release(gd);
    mt_tensor_release(p);
    mt_grad_scaler_free(&dev);
}
