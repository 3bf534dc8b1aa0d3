/* tests/test_optim_fused.c: flat gradients and the fused multi-tensor update
 * (optim/flat.c). Parameters laid out as a model's are (consecutive views of
 * one block), gradients from a real backward pass: the fused update must give
 * bit-identical parameters and state to the per-parameter update (the torch
 * fixtures of tests/test_optim.c check the fused arithmetic against torch.optim),
 * gradients must live in the group's flat buffer and never be reallocated, and
 * zero_grad must zero them in place. */
#include <math.h>
#include <string.h>

#include "../core/autograd.h"
#include "../core/ops.h"
#include "../optim/optim.h"
#include "test.h"

#define NP 4
#define N_STEPS 8
#define SKIP_STEP 3  /* parameter 3 has no gradient at this step (set to None, as zero_grad(set_to_none=True)) */
#define SKIP_STEP1 5 /* parameter 1 likewise: afterwards its Adam / Adadelta step count lags group 0's others */

static const int SHAPES[NP][2] = {{3, 4}, {5, 1}, {2, 2}, {7, 1}};

typedef struct fused_rig {
    mt_tensor *block;     /* [27]: the parameters' storage */
    mt_tensor *p[NP];     /* views into block */
    mt_tensor *w[NP];     /* loss weights */
    mt_optim *o;
} fused_rig;

static void frig_free(fused_rig *r)
{
    mt_optim_free(r->o);
    for (int i = 0; i < NP; i++) {
        mt_tensor_release(r->p[i]);
        mt_tensor_release(r->w[i]);
    }
    mt_tensor_release(r->block);
    memset(r, 0, sizeof *r);
}

static mt_status frig_init(fused_rig *r, mt_optim_kind kind, const mt_optim_hparams *h, int fused)
{
    memset(r, 0, sizeof *r);
    int total = 0;
    for (int i = 0; i < NP; i++) total += SHAPES[i][0] * SHAPES[i][1];
    if (!(r->block = mt_tensor_new(MT_REAL, mt_cpu(), 1, &total))) return mt_last_status();
    for (int k = 0; k < total; k++) MT_DATA(r->block)[k] = (mt_real)(0.3 * ((k * 7) % 11) - 1.4);
    size_t off = 0;
    for (int i = 0; i < NP; i++) {
        mt_tensor *v = mt_tensor_alias(r->block);
        if (!v) return mt_last_status();
        v->ndim = 2;
        v->shape[0] = SHAPES[i][0];
        v->shape[1] = SHAPES[i][1];
        v->offset = off * sizeof(mt_real);
        off += mt_numel(v);
        mt_requires_grad(v, 1);
        r->p[i] = v;
        if (!(r->w[i] = mt_tensor_like(v, 0))) return mt_last_status();
        for (size_t k = 0; k < mt_numel(v); k++) MT_DATA(r->w[i])[k] = (mt_real)(0.25 + 0.5 * (double)((k + i) % 5));
    }
    if (!(r->o = mt_optim_new(kind))) return mt_last_status();
    mt_optim_set_fused(r->o, fused);
    /* two groups: p0..p2 (lr) and p3 (another lr) */
    mt_optim_hparams h1 = *h;
    h1.lr = h->lr * 0.5;
    if (mt_optim_add_group(r->o, r->p, 3, h) != 0 || mt_optim_add_group(r->o, r->p + 3, 1, &h1) != 1)
        return mt_last_status();
    return MT_OK;
}

static int skipped(int i, int t) { return (i == 3 && t == SKIP_STEP) || (i == 1 && t == SKIP_STEP1); }

/* loss = sum_i sum(w_i * p_i * p_i) over the parameters that take part at step t; backward; step; zero_grad */
static mt_status frig_step(fused_rig *r, int t)
{
    mt_tensor *loss = NULL;
    for (int i = 0; i < NP; i++)
        if (skipped(i, t)) mt_clear_grad(r->p[i]);
    for (int i = 0; i < NP; i++) {
        if (skipped(i, t)) continue;
        mt_tensor *a = mt_mul(r->p[i], r->p[i]);
        mt_tensor *b = mt_mul(a, r->w[i]);
        mt_tensor *s = mt_sum_all(b);
        mt_tensor *l = loss ? mt_add(loss, s) : mt_tensor_retain(s);
        mt_tensor_release(a);
        mt_tensor_release(b);
        mt_tensor_release(s);
        mt_tensor_release(loss);
        if (!(loss = l)) return mt_last_status();
    }
    mt_status st = mt_backward(loss, NULL, 0);
    mt_tensor_release(loss);
    MT_TRY(st);
    MT_TRY(mt_optim_step(r->o));
    return mt_optim_zero_grad(r->o);
}

typedef struct fcase {
    const char *name;
    mt_optim_kind kind;
    double lr, momentum, weight_decay;
    int nesterov, amsgrad;
} fcase;

static const fcase FCASES[] = {
    {"sgd", MT_OPTIM_SGD, 0.05, 0, 0, 0, 0},
    {"sgd_nesterov_wd", MT_OPTIM_SGD, 0.05, 0.9, 0.01, 1, 0},
    {"adam_wd", MT_OPTIM_ADAM, 0.01, 0, 0.1, 0, 0},
    {"adam_amsgrad", MT_OPTIM_ADAM, 0.01, 0, 0, 0, 1},
    {"adamw", MT_OPTIM_ADAMW, 0.01, 0, 0.05, 0, 0},
    {"adadelta_wd", MT_OPTIM_ADADELTA, 0.5, 0, 0.1, 0, 0},
};

TEST(optim_fused_bit_identical_to_per_parameter)
{
    for (size_t c = 0; c < sizeof FCASES / sizeof *FCASES; c++) {
        const fcase *fc = &FCASES[c];
        mt_optim_hparams h = mt_optim_defaults(fc->kind);
        h.lr = fc->lr;
        h.momentum = fc->momentum;
        h.weight_decay = fc->weight_decay;
        h.nesterov = fc->nesterov;
        h.amsgrad = fc->amsgrad;
        fused_rig a, b;
        CHECK_OK(frig_init(&a, fc->kind, &h, 1));
        CHECK_OK(frig_init(&b, fc->kind, &h, 0));
        for (int t = 0; t < N_STEPS; t++) {
            CHECK_OK(frig_step(&a, t));
            CHECK_OK(frig_step(&b, t));
            CHECK(!memcmp(MT_DATA(a.block), MT_DATA(b.block), mt_nbytes(a.block)),
                  "%s step %d: fused and per-parameter parameters differ", fc->name, t + 1);
        }
        int ns = mt_optim_state_count(a.o);
        CHECK(ns == mt_optim_state_count(b.o), "%s: %d vs %d state entries", fc->name, ns, mt_optim_state_count(b.o));
        for (int i = 0; i < ns; i++) {
            mt_tensor *sa = mt_optim_state_tensor(a.o, i), *sb = mt_optim_state_tensor(b.o, i);
            CHECK(!strcmp(mt_optim_state_name(a.o, i), mt_optim_state_name(b.o, i)) && mt_same_shape(sa, sb) &&
                      !memcmp(MT_DATA(sa), MT_DATA(sb), mt_nbytes(sa)),
                  "%s: state %s differs", fc->name, mt_optim_state_name(a.o, i));
        }
        /* group 1 (p3 alone) fuses at every step but the one without its gradient. Group 0 fuses until
         * p1 misses one; then p1's Adam / Adadelta step count lags p0's and p2's, so that group is updated
         * per parameter from then on (SGD keeps no count: it fuses again) */
        int want = (N_STEPS - 1) + (fc->kind == MT_OPTIM_SGD ? N_STEPS - 1 : SKIP_STEP1);
        CHECK(mt_optim_fused_updates(a.o) == want, "%s: %ld fused group updates, expected %d", fc->name,
              mt_optim_fused_updates(a.o), want);
        CHECK(mt_optim_fused_updates(b.o) == 0, "%s: set_fused(0) still fused", fc->name);
        frig_free(&a);
        frig_free(&b);
    }
}

TEST(optim_flat_gradients_live_in_one_buffer)
{
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_ADAM);
    fused_rig r;
    CHECK_OK(frig_init(&r, MT_OPTIM_ADAM, &h, 1));
    mt_tensor *flat = mt_optim_group_grads(r.o, 0);
    CHECK_NOTNULL(flat);
    CHECK(mt_numel(flat) == 12 + 5 + 4, "group 0's flat gradient has %zu elements, expected 21", mt_numel(flat));
    CHECK(r.p[0]->grad == NULL, "a gradient before any backward");
    CHECK_OK(frig_step(&r, 0));
    mt_tensor *g0[NP];
    for (int i = 0; i < NP; i++) {
        g0[i] = r.p[i]->grad;
        CHECK(g0[i] && g0[i] == r.p[i]->grad_home, "parameter %d: .grad is not its view into the flat buffer", i);
    }
    for (int i = 0; i < 3; i++)
        CHECK(g0[i]->storage == flat->storage, "parameter %d's gradient is outside group 0's buffer", i);
    CHECK(g0[1]->offset == flat->offset + 12 * sizeof(mt_real), "parameter 1's gradient at byte %zu, expected 48",
          g0[1]->offset - flat->offset);
    /* zero_grad zeroed the buffer in place */
    for (size_t k = 0; k < mt_numel(flat); k++) CHECK(MT_DATA(flat)[k] == 0, "gradient %zu not zeroed", k);
    /* the next backward writes 2 w p into the same views */
    mt_tensor *a = mt_mul(r.p[0], r.p[0]), *b = mt_mul(a, r.w[0]), *l = mt_sum_all(b);
    CHECK_NOTNULL(l);
    CHECK_OK(mt_backward(l, NULL, 0));
    CHECK(r.p[0]->grad == g0[0], "backward replaced the .grad tensor");
    for (size_t k = 0; k < 12; k++) {
        mt_real want = 2 * MT_DATA(r.w[0])[k] * MT_DATA(r.p[0])[k];
        CHECK(MT_DATA(flat)[k] == want, "gradient %zu = %g, expected %g", k, (double)MT_DATA(flat)[k], (double)want);
    }
    for (size_t k = 12; k < mt_numel(flat); k++) CHECK(MT_DATA(flat)[k] == 0, "gradient %zu of an unused parameter", k);
    mt_tensor_release(a);
    mt_tensor_release(b);
    mt_tensor_release(l);
    frig_free(&r);
}

TEST(optim_flat_keeps_a_gradient_given_before_the_optimizer)
{
    int shape[1] = {3};
    mt_tensor *p = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, shape);
    CHECK_NOTNULL(p);
    mt_requires_grad(p, 1);
    mt_real gv[3] = {1, -2, 3};
    CHECK_NOTNULL(p->grad = mt_tensor_from_host(mt_cpu(), 1, shape, gv));
    mt_optim *o = mt_optim_new(MT_OPTIM_SGD);
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_SGD);
    h.lr = 0.5;
    CHECK(mt_optim_add_group(o, &p, 1, &h) == 0, "add_group: %s", mt_last_error());
    CHECK(p->grad == p->grad_home, "the existing .grad was not moved into the flat buffer");
    CHECK(!memcmp(MT_DATA(p->grad), gv, sizeof gv), "the existing gradient's values were lost");
    CHECK_OK(mt_optim_step(o));
    CHECK(MT_DATA(p)[0] == -0.5f && MT_DATA(p)[1] == 1.0f && MT_DATA(p)[2] == -1.5f, "SGD step gave %g %g %g",
          (double)MT_DATA(p)[0], (double)MT_DATA(p)[1], (double)MT_DATA(p)[2]);
    mt_optim_free(o);
    CHECK(p->grad_home == NULL, "the optimizer left its grad_home on the parameter");
    CHECK(p->grad && MT_DATA(p->grad)[2] == 3, "the gradient did not outlive the optimizer");
    mt_tensor_release(p);
}

/* Clipping over a group's flat gradients (one pass, one scaling of the span) equals clipping the
 * same gradients held in separate tensors (torch.nn.utils.clip_grad_norm_'s per-tensor path). */
TEST(clip_grad_norm_flat_equals_per_tensor)
{
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_SGD);
    fused_rig r;
    CHECK_OK(frig_init(&r, MT_OPTIM_SGD, &h, 1));
    mt_tensor *loss = NULL;
    for (int i = 0; i < 3; i++) {
        mt_tensor *a = mt_mul(r.p[i], r.p[i]), *b = mt_mul(a, r.w[i]), *s = mt_sum_all(b);
        mt_tensor *l = loss ? mt_add(loss, s) : mt_tensor_retain(s);
        mt_tensor_release(a);
        mt_tensor_release(b);
        mt_tensor_release(s);
        mt_tensor_release(loss);
        CHECK_NOTNULL(loss = l);
    }
    CHECK_OK(mt_backward(loss, NULL, 0));
    mt_tensor_release(loss);
    /* the same gradients in separate tensors, on parameters that are not views of one block */
    mt_tensor *q[3];
    double want_sq = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_NOTNULL(q[i] = mt_tensor_like(r.p[i], 1));
        CHECK_NOTNULL(q[i]->grad = mt_tensor_like(r.p[i], 0));
        CHECK_OK(mt_tensor_copy(q[i]->grad, r.p[i]->grad));
        for (size_t k = 0; k < mt_numel(q[i]); k++) want_sq += (double)MT_DATA(q[i]->grad)[k] * MT_DATA(q[i]->grad)[k];
    }
    double norm_flat = 0, norm_sep = 0;
    CHECK_OK(mt_clip_grad_norm(r.p, 3, 0.5, &norm_flat));
    CHECK_OK(mt_clip_grad_norm(q, 3, 0.5, &norm_sep));
    CHECK(norm_flat == norm_sep, "total norm %.9g (flat) vs %.9g (per tensor)", norm_flat, norm_sep);
    CHECK(fabs(norm_flat - sqrt(want_sq)) <= 1e-6 * sqrt(want_sq), "total norm %.9g, expected %.9g", norm_flat,
          sqrt(want_sq));
    CHECK(norm_flat > 0.5, "the gradients were not large enough to be clipped (norm %g)", norm_flat);
    double after = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(!memcmp(MT_DATA(r.p[i]->grad), MT_DATA(q[i]->grad), mt_nbytes(q[i])),
              "clipped gradient %d differs between the flat and per-tensor paths", i);
        for (size_t k = 0; k < mt_numel(q[i]); k++) after += (double)MT_DATA(q[i]->grad)[k] * MT_DATA(q[i]->grad)[k];
        mt_tensor_release(q[i]);
    }
    CHECK(fabs(sqrt(after) - 0.5) < 1e-5, "norm after clipping %.7g, expected 0.5", sqrt(after));
    frig_free(&r);
}
