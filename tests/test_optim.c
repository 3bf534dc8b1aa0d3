/* tests/test_optim.c: optimizers, gradient clipping and lr schedules against
 * torch.optim 1.13 (fixtures from tests/fixtures/gen_optim.py; the case
 * tables here mirror CASES / SCHEDS there).
 *
 * Every optimizer case: parameters p0 [3,4], p2 [2,2] in group 0 (lr) and
 * p1 [5] in group 1 (lr * 0.5); 10 steps with a fixed gradient sequence; p1
 * has no .grad at step 3 (skipped, so its Adam step count lags); p2 never has
 * one. The parameters after every step must equal torch's within 1e-6. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/autograd.h"
#include "../core/device.h"
#include "../optim/optim.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/optim.h5"
#define STEPS 10
#define NOGRAD_STEP 3
#define LR1_SCALE 0.5
#define EPOCHS 16
#define OPT_TOL 1e-6

typedef struct optim_case {
    const char *name;
    mt_optim_kind kind;
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps, rho;
    int nesterov, amsgrad;
} optim_case;

/* -1 = torch's default for the kind */
static const optim_case CASES[] = {
    {"sgd_plain", MT_OPTIM_SGD, 0.1, 0, 0, 0, -1, -1, -1, -1, 0, 0},
    {"sgd_momentum", MT_OPTIM_SGD, 0.1, 0.9, 0, 0, -1, -1, -1, -1, 0, 0},
    {"sgd_dampening", MT_OPTIM_SGD, 0.1, 0.9, 0.3, 0, -1, -1, -1, -1, 0, 0},
    {"sgd_nesterov", MT_OPTIM_SGD, 0.1, 0.9, 0, 0, -1, -1, -1, -1, 1, 0},
    {"sgd_weight_decay", MT_OPTIM_SGD, 0.1, 0.8, 0, 0.05, -1, -1, -1, -1, 0, 0},
    {"adam", MT_OPTIM_ADAM, 0.01, 0, 0, -1, -1, -1, -1, -1, 0, 0},
    {"adam_betas_wd", MT_OPTIM_ADAM, 0.02, 0, 0, 0.1, 0.5, 0.999, -1, -1, 0, 0},
    {"adam_amsgrad", MT_OPTIM_ADAM, 0.01, 0, 0, -1, -1, -1, -1, -1, 0, 1},
    {"adamw", MT_OPTIM_ADAMW, 0.01, 0, 0, 0.1, -1, -1, -1, -1, 0, 0},
    {"adamw_amsgrad", MT_OPTIM_ADAMW, 0.01, 0, 0, 0.05, -1, -1, -1, -1, 0, 1},
    {"adadelta", MT_OPTIM_ADADELTA, 1.0, 0, 0, -1, -1, -1, -1, -1, 0, 0},
    {"adadelta_wd", MT_OPTIM_ADADELTA, 0.5, 0, 0, 0.1, -1, -1, 1e-5, 0.8, 0, 0},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static mt_optim_hparams case_hparams(const optim_case *c)
{
    mt_optim_hparams h = mt_optim_defaults(c->kind);
    h.lr = c->lr;
    h.momentum = c->momentum;
    h.dampening = c->dampening;
    h.nesterov = c->nesterov;
    h.amsgrad = c->amsgrad;
    if (c->weight_decay >= 0) h.weight_decay = c->weight_decay;
    if (c->beta1 >= 0) h.beta1 = c->beta1;
    if (c->beta2 >= 0) h.beta2 = c->beta2;
    if (c->eps >= 0) h.eps = c->eps;
    if (c->rho >= 0) h.rho = c->rho;
    return h;
}

/* The three parameters on `dev`, an optimizer over them, and the fixtures. */
typedef struct rig {
    mt_tensor *p[3];         /* p0, p1, p2 */
    mt_tensor *g0, *g1;      /* [STEPS, ...] on the CPU */
    mt_tensor *want0, *want1;
    mt_optim *o;
    mt_device dev;
} rig;

static void rig_free(rig *r)
{
    mt_optim_free(r->o);
    for (int i = 0; i < 3; i++) mt_tensor_release(r->p[i]);
    mt_tensor_release(r->g0);
    mt_tensor_release(r->g1);
    mt_tensor_release(r->want0);
    mt_tensor_release(r->want1);
    memset(r, 0, sizeof *r);
}

static mt_tensor *load_to(const char *name, mt_device dev)
{
    mt_tensor *h = fx_load(FX, name);
    if (!h || dev.type == MT_CPU) return h;
    mt_tensor *d = mt_tensor_to(h, dev);
    mt_tensor_release(h);
    return d;
}

static mt_status rig_init(rig *r, const optim_case *c, mt_device dev)
{
    char name[128];
    memset(r, 0, sizeof *r);
    r->dev = dev;
    const char *pn[3] = {"optim/p0", "optim/p1", "optim/p2"};
    for (int i = 0; i < 3; i++) {
        if (!(r->p[i] = load_to(pn[i], dev))) return mt_last_status();
        mt_requires_grad(r->p[i], 1);
    }
    if (!(r->g0 = fx_load(FX, "optim/g0")) || !(r->g1 = fx_load(FX, "optim/g1"))) return mt_last_status();
    snprintf(name, sizeof name, "optim/%s/p0", c->name);
    if (!(r->want0 = fx_load(FX, name))) return mt_last_status();
    snprintf(name, sizeof name, "optim/%s/p1", c->name);
    if (!(r->want1 = fx_load(FX, name))) return mt_last_status();
    mt_optim_hparams h0 = case_hparams(c), h1 = h0;
    h1.lr = h0.lr * LR1_SCALE;
    if (!(r->o = mt_optim_new(c->kind))) return mt_last_status();
    mt_tensor *group0[2] = {r->p[0], r->p[2]}, *group1[1] = {r->p[1]};
    if (mt_optim_add_group(r->o, group0, 2, &h0) != 0) return mt_last_status();
    if (mt_optim_add_group(r->o, group1, 1, &h1) != 1) return mt_last_status();
    return MT_OK;
}

/* .grad of p = row t of the [STEPS, ...] tensor g: written into p's home in
 * the optimizer's flat gradient buffer (as backward does), so a group whose
 * parameters all have gradients takes the fused update; a fresh tensor on p's
 * device when p has no home. */
static mt_status set_grad(mt_tensor *p, const mt_tensor *g, int t)
{
    mt_clear_grad(p);
    if (p->grad_home) {
        MT_TRY(mt_tensor_from_host_into(p->grad_home, MT_DATA(g) + (size_t)t * mt_numel(p), mt_nbytes(p)));
        p->grad = mt_tensor_retain(p->grad_home);
        return MT_OK;
    }
    mt_tensor *gr = mt_tensor_like(p, 0);
    if (!gr) return mt_last_status();
    size_t n = mt_numel(p);
    mt_status s = mt_tensor_from_host_into(gr, MT_DATA(g) + (size_t)t * n, n * sizeof(mt_real));
    if (s != MT_OK) {
        mt_tensor_release(gr);
        return s;
    }
    p->grad = gr;
    return MT_OK;
}

static mt_status rig_step(rig *r, int t)
{
    MT_TRY(set_grad(r->p[0], r->g0, t));
    if (t == NOGRAD_STEP) mt_clear_grad(r->p[1]);
    else MT_TRY(set_grad(r->p[1], r->g1, t));
    return mt_optim_step(r->o);
}

/* copies p to host buf (numel values) */
static mt_status host_values(const mt_tensor *p, mt_real *buf)
{
    return mt_tensor_to_host(p, buf, mt_nbytes(p));
}

static void check_case(mt_test_ctx *T_, const optim_case *c, mt_device dev, double tol)
{
    rig r;
    CHECK_OK(rig_init(&r, c, dev));
    for (int t = 0; t < STEPS; t++) {
        CHECK_OK(rig_step(&r, t));
        mt_real got0[12], got1[5];
        CHECK_OK(host_values(r.p[0], got0));
        CHECK_OK(host_values(r.p[1], got1));
        char why[512];
        if (!mt_test_close_f(got0, MT_DATA(r.want0) + (size_t)t * 12, 12, 0, tol, why, sizeof why))
            CHECK(0, "%s step %d p0: %s", c->name, t + 1, why);
        if (!mt_test_close_f(got1, MT_DATA(r.want1) + (size_t)t * 5, 5, 0, tol, why, sizeof why))
            CHECK(0, "%s step %d p1: %s", c->name, t + 1, why);
    }
    /* p2 never had a gradient: unchanged and without state (it is parameter index 1) */
    mt_real p2[4];
    mt_tensor *p2_0 = fx_load(FX, "optim/p2");
    CHECK_NOTNULL(p2_0);
    CHECK_OK(host_values(r.p[2], p2));
    CHECK(!memcmp(p2, MT_DATA(p2_0), sizeof p2), "%s: p2 (no grad) changed", c->name);
    mt_tensor_release(p2_0);
    int n = mt_optim_state_count(r.o);
    for (int i = 0; i < n; i++)
        CHECK(strncmp(mt_optim_state_name(r.o, i), "state.1.", 8) != 0, "%s: p2 (no grad) has state %s", c->name,
              mt_optim_state_name(r.o, i));
    CHECK(mt_optim_steps(r.o) == STEPS, "%s: %ld steps counted", c->name, mt_optim_steps(r.o));
    /* group 1 (p1 alone) ran fused whenever p1 had its gradient; group 0 never (p2 has none) */
    CHECK(mt_optim_fused_updates(r.o) == STEPS - 1, "%s: %ld fused group updates, expected %d", c->name,
          mt_optim_fused_updates(r.o), STEPS - 1);
    rig_free(&r);
}

TEST(optim_matches_torch_all_cases)
{
    for (int i = 0; i < N_CASES; i++) {
        check_case(T_, &CASES[i], mt_cpu(), OPT_TOL);
        if (T_->failed) return;
    }
}

TEST(optim_adam_state_names_and_steps)
{
    rig r;
    CHECK_OK(rig_init(&r, &CASES[7], mt_cpu())); /* adam_amsgrad */
    for (int t = 0; t < STEPS; t++) CHECK_OK(rig_step(&r, t));
    /* p0 (index 0) and p1 (index 2): step, exp_avg, exp_avg_sq, max_exp_avg_sq each */
    CHECK(mt_optim_state_count(r.o) == 8, "expected 8 state entries, got %d", mt_optim_state_count(r.o));
    const char *want[8] = {"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq",
                           "state.2.step", "state.2.exp_avg", "state.2.exp_avg_sq", "state.2.max_exp_avg_sq"};
    for (int i = 0; i < 8; i++)
        CHECK(!strcmp(mt_optim_state_name(r.o, i), want[i]), "state %d named %s, expected %s", i,
              mt_optim_state_name(r.o, i), want[i]);
    /* per-parameter step counts: p1 skipped one step, as in torch */
    CHECK(MT_DATA(mt_optim_state_tensor(r.o, 0))[0] == 10 && MT_DATA(mt_optim_state_tensor(r.o, 4))[0] == 9,
          "step counts %g and %g, expected 10 and 9", (double)MT_DATA(mt_optim_state_tensor(r.o, 0))[0],
          (double)MT_DATA(mt_optim_state_tensor(r.o, 4))[0]);
    rig_free(&r);
}

/* Run 5 steps, save the state, restore into a fresh optimizer over fresh
 * parameters holding the same values, run the last 5 steps there. */
static void check_resume(mt_test_ctx *T_, const optim_case *c)
{
    const int half = 5;
    rig a, b;
    CHECK_OK(rig_init(&a, c, mt_cpu()));
    for (int t = 0; t < half; t++) CHECK_OK(rig_step(&a, t));
    CHECK_OK(rig_init(&b, c, mt_cpu()));
    for (int i = 0; i < 3; i++) CHECK_OK(mt_tensor_copy(b.p[i], a.p[i]));
    int n = mt_optim_state_count(a.o);
    const char *names[16];
    mt_tensor *vals[16];
    CHECK(n > 0 || c->kind == MT_OPTIM_SGD, "%s: no state after %d steps", c->name, half);
    for (int i = 0; i < n; i++) {
        names[i] = mt_optim_state_name(a.o, i);
        vals[i] = mt_tensor_to(mt_optim_state_tensor(a.o, i), mt_cpu());
        CHECK_NOTNULL(vals[i]);
    }
    CHECK_OK(mt_optim_state_load(b.o, n, names, vals, mt_optim_steps(a.o)));
    for (int i = 0; i < n; i++) mt_tensor_release(vals[i]);
    rig_free(&a);
    CHECK(mt_optim_steps(b.o) == half, "%s: restored step count %ld", c->name, mt_optim_steps(b.o));
    for (int t = half; t < STEPS; t++) {
        CHECK_OK(rig_step(&b, t));
        char why[512];
        mt_real got0[12], got1[5];
        CHECK_OK(host_values(b.p[0], got0));
        CHECK_OK(host_values(b.p[1], got1));
        if (!mt_test_close_f(got0, MT_DATA(b.want0) + (size_t)t * 12, 12, 0, OPT_TOL, why, sizeof why) ||
            !mt_test_close_f(got1, MT_DATA(b.want1) + (size_t)t * 5, 5, 0, OPT_TOL, why, sizeof why))
            CHECK(0, "%s resumed, step %d: %s", c->name, t + 1, why);
    }
    rig_free(&b);
}

TEST(optim_state_save_restore_continues_identically)
{
    for (int i = 0; i < N_CASES; i++) {
        check_resume(T_, &CASES[i]);
        if (T_->failed) return;
    }
}

TEST(optim_state_load_rejects_bad_entries)
{
    rig r;
    CHECK_OK(rig_init(&r, &CASES[5], mt_cpu())); /* adam */
    int s3[1] = {3};
    mt_tensor *wrong = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, s3);
    mt_tensor *step = mt_tensor_zeros(MT_REAL, mt_cpu(), 0, NULL);
    mt_tensor *good = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, (int[]){5});
    CHECK(wrong && step && good, "alloc");
    const char *n1[1] = {"state.2.exp_avg"};
    mt_tensor *v1[1] = {wrong};
    CHECK(mt_optim_state_load(r.o, 1, n1, v1, 1) == MT_ERR_FORMAT, "mis-shaped entry must be rejected");
    CHECK(strstr(mt_last_error(), "state.2.exp_avg") && strstr(mt_last_error(), "[3]"),
          "message must name the entry and its shape: %s", mt_last_error());
    mt_error_clear();
    const char *n2[2] = {"state.2.step", "state.2.exp_avg"};
    mt_tensor *v2[2] = {step, good};
    CHECK(mt_optim_state_load(r.o, 2, n2, v2, 1) == MT_ERR_FORMAT, "incomplete state must be rejected");
    CHECK(strstr(mt_last_error(), "state.2.exp_avg_sq"), "message must name the missing entry: %s", mt_last_error());
    mt_error_clear();
    const char *n3[1] = {"state.0.momentum_buffer"};
    CHECK(mt_optim_state_load(r.o, 1, n3, v1, 1) == MT_ERR_FORMAT, "foreign slot must be rejected");
    mt_error_clear();
    CHECK(mt_optim_state_count(r.o) == 0, "a failed load must leave the state untouched");
    mt_tensor_release(wrong);
    mt_tensor_release(step);
    mt_tensor_release(good);
    rig_free(&r);
}

TEST(optim_rejects_invalid_hparams)
{
    mt_optim *o = mt_optim_new(MT_OPTIM_SGD);
    CHECK_NOTNULL(o);
    mt_tensor *p = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, (int[]){2});
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_SGD);
    h.nesterov = 1;
    h.momentum = 0.9;
    h.dampening = 0.1;
    CHECK(mt_optim_add_group(o, &p, 1, &h) == -1, "nesterov with dampening must be rejected (as torch)");
    CHECK(strstr(mt_last_error(), "Nesterov"), "message: %s", mt_last_error());
    mt_error_clear();
    h = mt_optim_defaults(MT_OPTIM_SGD);
    CHECK(mt_optim_add_group(o, &p, 1, &h) == 0, "valid group: %s", mt_last_error());
    CHECK(mt_optim_add_group(o, &p, 1, &h) == -1, "a parameter in two groups must be rejected");
    mt_error_clear();
    mt_optim_free(o);
    o = mt_optim_new(MT_OPTIM_ADAM);
    h = mt_optim_defaults(MT_OPTIM_ADAM);
    h.beta2 = 1.0;
    CHECK(mt_optim_add_group(o, &p, 1, &h) == -1, "beta2 = 1 must be rejected");
    mt_error_clear();
    mt_optim_free(o);
    mt_tensor_release(p);
}

TEST(optim_cuda_matches_torch)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    for (int i = 0; i < N_CASES; i++) {
        check_case(T_, &CASES[i], mt_cuda(0), 1e-5);
        if (T_->failed) return;
    }
}

/* ------------------------------------------------------------ clipping --- */

static void check_clip(mt_test_ctx *T_, const char *which, mt_device dev)
{
    char name[64];
    mt_tensor *p[4] = {0};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "clip/g%d", i);
        mt_tensor *g = load_to(name, dev);
        CHECK_NOTNULL(g);
        p[i] = mt_tensor_like(g, 1);
        CHECK_NOTNULL(p[i]);
        mt_requires_grad(p[i], 1);
        p[i]->grad = g;
    }
    p[3] = mt_tensor_zeros(MT_REAL, dev, 1, (int[]){3}); /* no grad: ignored */
    mt_requires_grad(p[3], 1);
    double want_total = 0, max_norm = 0, total = -1;
    snprintf(name, sizeof name, "clip/%s", which);
    CHECK(fx_attr(FX, name, "total_norm", &want_total) && fx_attr(FX, name, "max_norm", &max_norm),
          "fixture attrs of %s", name);
    CHECK_OK(mt_clip_grad_norm(p, 4, max_norm, &total));
    CHECK(fabs(total - want_total) <= 1e-6 * want_total, "%s: total norm %.9g, torch %.9g", which, total, want_total);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "clip/%s/g%d", which, i);
        mt_tensor *want = fx_load(FX, name);
        CHECK_NOTNULL(want);
        mt_real got[16];
        CHECK_OK(mt_tensor_to_host(p[i]->grad, got, mt_nbytes(p[i]->grad)));
        CHECK_CLOSE_F(got, MT_DATA(want), mt_numel(want), 1e-6, 1e-7);
        mt_tensor_release(want);
    }
    CHECK(p[3]->grad == NULL, "a parameter without grad must stay without");
    for (int i = 0; i < 4; i++) mt_tensor_release(p[i]);
}

TEST(clip_grad_norm_matches_torch)
{
    check_clip(T_, "clipped", mt_cpu());
    if (T_->failed) return;
    check_clip(T_, "unclipped", mt_cpu());
}

TEST(clip_grad_norm_cuda_matches_torch)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    check_clip(T_, "clipped", mt_cuda(0));
    if (T_->failed) return;
    check_clip(T_, "unclipped", mt_cuda(0));
}

/* ----------------------------------------------------------- schedules --- */

typedef struct sched_case {
    const char *name;
    mt_sched_params p;
} sched_case;

static sched_case sched_case_get(int i)
{
    sched_case c;
    memset(&c, 0, sizeof c);
    mt_sched_params *p = &c.p;
    switch (i) {
    case 0: c.name = "constant"; p->kind = MT_SCHED_CONSTANT; break;
    case 1: c.name = "step"; p->kind = MT_SCHED_STEP; p->step_size = 3; p->gamma = 0.5; break;
    case 2:
        c.name = "multistep";
        p->kind = MT_SCHED_MULTISTEP;
        p->gamma = 0.1;
        p->n_milestones = 4;
        p->milestones[0] = 2, p->milestones[1] = 5, p->milestones[2] = 5, p->milestones[3] = 9;
        break;
    case 3: c.name = "cosine"; p->kind = MT_SCHED_COSINE; p->t_max = 10; p->eta_min = 0; break;
    case 4: c.name = "cosine_restart"; p->kind = MT_SCHED_COSINE; p->t_max = 4; p->eta_min = 1e-3; break;
    case 5:
        c.name = "plateau_min";
        p->kind = MT_SCHED_PLATEAU;
        p->mode_max = 0, p->factor = 0.5, p->patience = 1, p->threshold = 1e-2, p->cooldown = 1, p->min_lr = 0.02;
        break;
    default:
        c.name = "plateau_max";
        p->kind = MT_SCHED_PLATEAU;
        p->mode_max = 1, p->factor = 0.1, p->patience = 2, p->threshold = 1e-4, p->cooldown = 0, p->min_lr = 0;
        break;
    }
    return c;
}
#define N_SCHEDS 7

/* SGD over two dummy parameters, groups with lr 0.1 and 0.3 (as the fixture) */
static mt_optim *two_group_sgd(mt_tensor **p)
{
    mt_optim *o = mt_optim_new(MT_OPTIM_SGD);
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_SGD);
    h.lr = 0.1;
    mt_optim_add_group(o, &p[0], 1, &h);
    h.lr = 0.3;
    mt_optim_add_group(o, &p[1], 1, &h);
    return o;
}

TEST(sched_lr_sequences_match_torch)
{
    mt_tensor *p[2] = {mt_tensor_zeros(MT_REAL, mt_cpu(), 1, (int[]){1}), mt_tensor_zeros(MT_REAL, mt_cpu(), 1, (int[]){1})};
    for (int ci = 0; ci < N_SCHEDS; ci++) {
        sched_case c = sched_case_get(ci);
        char name[96];
        snprintf(name, sizeof name, "sched/%s/lr", c.name);
        mt_tensor *want = fx_load(FX, name);
        CHECK_NOTNULL(want);
        mt_tensor *metric = NULL, *closed = NULL;
        if (c.p.kind == MT_SCHED_PLATEAU) {
            snprintf(name, sizeof name, "sched/%s/metric", c.name);
            CHECK_NOTNULL(metric = fx_load(FX, name));
        }
        if (c.p.kind == MT_SCHED_COSINE) {
            snprintf(name, sizeof name, "sched/%s/closed", c.name);
            CHECK_NOTNULL(closed = fx_load(FX, name));
        }
        mt_optim *o = two_group_sgd(p);
        CHECK_NOTNULL(o);
        mt_sched *s = mt_sched_new(o, &c.p);
        CHECK_NOTNULL(s);
        /* a second optimizer/schedule pair restored from s's state at epoch 7 */
        mt_optim *o2 = NULL;
        mt_sched *s2 = NULL;
        for (int e = 0; e < EPOCHS; e++) {
            if (e > 0) CHECK_OK(mt_sched_step(s, metric ? (double)MT_DATA(metric)[e - 1] : 0));
            if (s2 && e > 0) CHECK_OK(mt_sched_step(s2, metric ? (double)MT_DATA(metric)[e - 1] : 0));
            for (int g = 0; g < 2; g++) {
                /* fixtures are float64 but read as mt_real: compare at that precision */
                double w = (double)MT_DATA(want)[e * 2 + g];
                double got = (double)(mt_real)mt_optim_get_lr(o, g);
                CHECK(got == w, "%s epoch %d group %d: lr %.17g, torch %.17g", c.name, e, g, got, w);
                if (s2) {
                    double got2 = mt_optim_get_lr(o2, g);
                    CHECK(got2 == mt_optim_get_lr(o, g), "%s epoch %d group %d: resumed lr %.17g, uninterrupted %.17g",
                          c.name, e, g, got2, mt_optim_get_lr(o, g));
                }
            }
            if (closed) {
                double cf = (double)MT_DATA(closed)[e];
                CHECK(fabs(mt_optim_get_lr(o, 0) - cf) <= 1e-6, "%s epoch %d: recursive %.12g vs closed form %.12g",
                      c.name, e, mt_optim_get_lr(o, 0), cf);
            }
            if (e == 7) {
                double st[8];
                CHECK_OK(mt_sched_get_state(s, st));
                CHECK_NOTNULL(o2 = two_group_sgd(p));
                CHECK_NOTNULL(s2 = mt_sched_new(o2, &c.p));
                CHECK_OK(mt_sched_set_state(s2, st));
                for (int g = 0; g < 2; g++)
                    CHECK(mt_optim_get_lr(o2, g) == mt_optim_get_lr(o, g), "%s: lr not restored by set_state", c.name);
            }
        }
        mt_sched_free(s);
        mt_sched_free(s2);
        mt_optim_free(o);
        mt_optim_free(o2);
        mt_tensor_release(want);
        mt_tensor_release(metric);
        mt_tensor_release(closed);
    }
    mt_tensor_release(p[0]);
    mt_tensor_release(p[1]);
}

TEST(sched_rejects_invalid_params)
{
    mt_tensor *p[2] = {mt_tensor_zeros(MT_REAL, mt_cpu(), 1, (int[]){1}), mt_tensor_zeros(MT_REAL, mt_cpu(), 1, (int[]){1})};
    mt_optim *o = two_group_sgd(p);
    mt_sched_params sp;
    memset(&sp, 0, sizeof sp);
    sp.kind = MT_SCHED_COSINE;
    CHECK(mt_sched_new(o, &sp) == NULL, "T_max 0 must be rejected");
    CHECK(strstr(mt_last_error(), "T_max"), "message: %s", mt_last_error());
    mt_error_clear();
    sp.kind = MT_SCHED_PLATEAU;
    sp.factor = 1.0;
    CHECK(mt_sched_new(o, &sp) == NULL, "factor 1 must be rejected");
    mt_error_clear();
    mt_optim_free(o);
    mt_tensor_release(p[0]);
    mt_tensor_release(p[1]);
}
