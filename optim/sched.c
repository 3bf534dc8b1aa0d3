/* optim/sched.c: learning-rate schedules with the recursive update rules of
 * torch.optim.lr_scheduler (PyTorch 1.13), so the lr sequence is torch's to
 * the last bit: each step() computes the new lr of every group from its
 * current lr (get_lr), like torch's chainable form.
 *   constant  lr unchanged (LambdaLR(lambda e: 1))
 *   StepLR    lr *= gamma when epoch > 0 and epoch % step_size == 0
 *   MultiStepLR lr *= gamma^(count of epoch in milestones)
 *   CosineAnnealingLR (recursive form; equals the closed form
 *     eta_min + (base - eta_min)(1 + cos(pi e / T_max))/2 to rounding)
 *   ReduceLROnPlateau (threshold_mode 'rel', eps 1e-8)
 * State (get/set_state, 8 doubles): [0] last_epoch, [1] best, [2] num_bad_epochs,
 * [3] cooldown_counter, [4] number of plateau reductions, [5] kind, [6..7] 0.
 * set_state also restores every group's lr by replaying the schedule from the
 * base lrs (the optimizer's state does not carry lr), which reproduces the
 * uninterrupted values exactly. */
#include <math.h>
#include <stdlib.h>

#include "optim.h"

struct mt_sched {
    mt_optim *o;
    mt_sched_params p;
    int n_groups;
    double *base_lrs;
    long last_epoch;
    double best;
    long num_bad_epochs;
    long cooldown_counter;
    long n_reductions;
};

/* Python's a % b for b > 0 (non-negative result) */
static long pymod(long a, long b)
{
    long r = a % b;
    return r < 0 ? r + b : r;
}

/* get_lr of the chainable schedules for epoch e, from the group's current lr */
static double chain_lr(const mt_sched *s, long e, double lr, double base)
{
    const mt_sched_params *p = &s->p;
    switch (p->kind) {
    case MT_SCHED_STEP:
        if (e == 0 || e % p->step_size != 0) return lr;
        return lr * p->gamma;
    case MT_SCHED_MULTISTEP: {
        int count = 0;
        for (int i = 0; i < p->n_milestones; i++) count += p->milestones[i] == e;
        return count ? lr * pow(p->gamma, count) : lr;
    }
    case MT_SCHED_COSINE: {
        double T = p->t_max, eta = p->eta_min;
        if (e == 0) return lr;
        if (pymod(e - 1 - p->t_max, 2L * p->t_max) == 0) return lr + (base - eta) * (1 - cos(M_PI / T)) / 2;
        return (1 + cos(M_PI * e / T)) / (1 + cos(M_PI * (e - 1) / T)) * (lr - eta) + eta;
    }
    default: return lr;
    }
}

static void apply_epoch(mt_sched *s, long e)
{
    for (int g = 0; g < s->n_groups; g++)
        mt_optim_set_lr(s->o, g, chain_lr(s, e, mt_optim_get_lr(s->o, g), s->base_lrs[g]));
}

/* ReduceLROnPlateau._reduce_lr */
static void reduce_lr(mt_sched *s)
{
    for (int g = 0; g < s->n_groups; g++) {
        double old_lr = mt_optim_get_lr(s->o, g);
        double new_lr = old_lr * s->p.factor;
        if (new_lr < s->p.min_lr) new_lr = s->p.min_lr;
        if (old_lr - new_lr > 1e-8) mt_optim_set_lr(s->o, g, new_lr);
    }
}

static mt_status check_params(const mt_sched_params *p)
{
    switch (p->kind) {
    case MT_SCHED_CONSTANT: return MT_OK;
    case MT_SCHED_STEP:
        MT_REQUIRE(p->step_size >= 1, "StepLR: step_size %d must be >= 1", p->step_size);
        return MT_OK;
    case MT_SCHED_MULTISTEP:
        MT_REQUIRE(p->n_milestones >= 0 && p->n_milestones <= 16, "MultiStepLR: %d milestones (at most 16)",
                   p->n_milestones);
        return MT_OK;
    case MT_SCHED_COSINE:
        MT_REQUIRE(p->t_max >= 1, "CosineAnnealingLR: T_max %d must be >= 1", p->t_max);
        return MT_OK;
    case MT_SCHED_PLATEAU:
        MT_REQUIRE(p->factor < 1.0 && p->factor >= 0, "ReduceLROnPlateau: factor %g must be in [0, 1)", p->factor);
        MT_REQUIRE(p->patience >= 0 && p->cooldown >= 0, "ReduceLROnPlateau: patience %d and cooldown %d must be >= 0",
                   p->patience, p->cooldown);
        MT_REQUIRE(p->min_lr >= 0, "ReduceLROnPlateau: min_lr %g must be >= 0", p->min_lr);
        return MT_OK;
    }
    return MT_ERR(MT_ERR_INVALID, "lr schedule: unknown kind %d (0 constant, 1 step, 2 multistep, 3 cosine, 4 plateau)",
                  (int)p->kind);
}

mt_sched *mt_sched_new(mt_optim *o, const mt_sched_params *p)
{
    if (!o || !p) {
        MT_ERR(MT_ERR_INVALID, "lr schedule: NULL optimizer or parameters");
        return NULL;
    }
    if (check_params(p) != MT_OK) return NULL;
    mt_sched *s = mt_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->o = o;
    s->p = *p;
    s->n_groups = mt_optim_group_count(o);
    s->base_lrs = mt_calloc((size_t)s->n_groups + 1, sizeof *s->base_lrs);
    if (!s->base_lrs) {
        free(s);
        return NULL;
    }
    for (int g = 0; g < s->n_groups; g++) s->base_lrs[g] = mt_optim_get_lr(o, g);
    s->best = p->mode_max ? -INFINITY : INFINITY;
    /* torch's constructor performs step() for epoch 0 (a milestone at 0 applies at once) */
    s->last_epoch = 0;
    if (p->kind != MT_SCHED_PLATEAU) apply_epoch(s, 0);
    return s;
}

void mt_sched_free(mt_sched *s)
{
    if (!s) return;
    free(s->base_lrs);
    free(s);
}

static int is_better(const mt_sched *s, double a, double best)
{
    if (!s->p.mode_max) return a < best * (1.0 - s->p.threshold);
    return a > best * (s->p.threshold + 1.0);
}

mt_status mt_sched_step(mt_sched *s, double metric)
{
    MT_REQUIRE(s != NULL, "lr schedule step: NULL schedule");
    MT_REQUIRE(mt_optim_group_count(s->o) == s->n_groups, "lr schedule step: the optimizer has %d groups, "
               "the schedule was made for %d", mt_optim_group_count(s->o), s->n_groups);
    s->last_epoch++;
    if (s->p.kind != MT_SCHED_PLATEAU) {
        apply_epoch(s, s->last_epoch);
        return MT_OK;
    }
    if (is_better(s, metric, s->best)) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else {
        s->num_bad_epochs++;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0;
    }
    if (s->num_bad_epochs > s->p.patience) {
        reduce_lr(s);
        s->n_reductions++;
        s->cooldown_counter = s->p.cooldown;
        s->num_bad_epochs = 0;
    }
    return MT_OK;
}

mt_status mt_sched_get_state(const mt_sched *s, double out[8])
{
    MT_REQUIRE(s != NULL && out != NULL, "lr schedule get_state: NULL argument");
    out[0] = (double)s->last_epoch;
    out[1] = s->best;
    out[2] = (double)s->num_bad_epochs;
    out[3] = (double)s->cooldown_counter;
    out[4] = (double)s->n_reductions;
    out[5] = (double)s->p.kind;
    out[6] = out[7] = 0;
    return MT_OK;
}

mt_status mt_sched_set_state(mt_sched *s, const double in[8])
{
    MT_REQUIRE(s != NULL && in != NULL, "lr schedule set_state: NULL argument");
    MT_REQUIRE(in[5] == (double)s->p.kind, "lr schedule set_state: the state is of schedule kind %g, this "
               "schedule is of kind %d", in[5], (int)s->p.kind);
    MT_REQUIRE(in[0] >= 0 && in[0] == floor(in[0]) && in[2] >= 0 && in[3] >= 0 && in[4] >= 0,
               "lr schedule set_state: invalid counters (epoch %g, bad epochs %g, cooldown %g, reductions %g)",
               in[0], in[2], in[3], in[4]);
    MT_REQUIRE(mt_optim_group_count(s->o) == s->n_groups, "lr schedule set_state: the optimizer has %d groups, "
               "the schedule was made for %d", mt_optim_group_count(s->o), s->n_groups);
    s->last_epoch = (long)in[0];
    s->best = in[1];
    s->num_bad_epochs = (long)in[2];
    s->cooldown_counter = (long)in[3];
    s->n_reductions = (long)in[4];
    for (int g = 0; g < s->n_groups; g++) mt_optim_set_lr(s->o, g, s->base_lrs[g]);
    if (s->p.kind == MT_SCHED_PLATEAU) {
        for (long k = 0; k < s->n_reductions; k++) reduce_lr(s);
    } else {
        for (long e = 0; e <= s->last_epoch; e++) apply_epoch(s, e);
    }
    return MT_OK;
}
