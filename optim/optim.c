/* optim/optim.c: optimizers (optim.h): parameter groups, lazily created
 * per-parameter state with PyTorch state_dict names, and step() dispatching
 * to the CPU / CUDA update kernels of update.h.
 *
 * State per parameter (torch 1.13 names), created at the first step() in
 * which the parameter has a .grad, on the parameter's device:
 *   SGD      momentum_buffer (only when momentum != 0)
 *   Adam(W)  step (0-d, on the CPU), exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)
 *   Adadelta step (0-d, on the CPU), square_avg, acc_delta
 * Adam's bias corrections use that parameter's own step count, as torch's.
 *
 * Each group keeps its gradients and state in flat buffers (optim/flat.c):
 * when a group's parameters are consecutive views of one block (a model's
 * parameters) and all of them have their gradient and state, step() runs one
 * update loop (CPU) or kernel (CUDA) over the whole group, bit-identical to
 * the per-tensor updates (the same element-wise arithmetic); otherwise it
 * updates each parameter on its own, as before. */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/autograd.h"
#include "../core/device.h"
#include "optim_internal.h"
#include "scalars.h"
#include "update.h"

/* State slot names by kind; "step" is a 0-d CPU tensor. NULL ends a list. */
static const char *const slot_names[4][N_SLOTS] = {
    [MT_OPTIM_SGD] = {"momentum_buffer", NULL, NULL, NULL},
    [MT_OPTIM_ADAM] = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    [MT_OPTIM_ADAMW] = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    [MT_OPTIM_ADADELTA] = {"step", "square_avg", "acc_delta", NULL},
};

static const char *kind_name(mt_optim_kind k)
{
    switch (k) {
    case MT_OPTIM_SGD: return "SGD";
    case MT_OPTIM_ADAM: return "Adam";
    case MT_OPTIM_ADAMW: return "AdamW";
    case MT_OPTIM_ADADELTA: return "Adadelta";
    }
    return "?";
}

/* Number of slots a parameter of group g uses. */
static int slots_used(const mt_optim *o, const mt_optim_hparams *h)
{
    switch (o->kind) {
    case MT_OPTIM_SGD: return h->momentum != 0 ? 1 : 0;
    case MT_OPTIM_ADAM:
    case MT_OPTIM_ADAMW: return h->amsgrad ? 4 : 3;
    case MT_OPTIM_ADADELTA: return 3;
    }
    return 0;
}

static int has_step_slot(const mt_optim *o) { return o->kind != MT_OPTIM_SGD; }

/* the hyper-parameters of parameter q's group */
static const mt_optim_hparams *hp(const mt_optim *o, const opt_param *q) { return &o->groups[q->group].h; }

mt_optim_hparams mt_optim_defaults(mt_optim_kind kind)
{
    mt_optim_hparams h;
    memset(&h, 0, sizeof h);
    h.beta1 = 0.9;
    h.beta2 = 0.999;
    h.rho = 0.9;
    switch (kind) {
    case MT_OPTIM_SGD: h.lr = 0.01; break;
    case MT_OPTIM_ADAM: h.lr = 1e-3; h.eps = 1e-8; break;
    case MT_OPTIM_ADAMW: h.lr = 1e-3; h.eps = 1e-8; h.weight_decay = 1e-2; break;
    case MT_OPTIM_ADADELTA: h.lr = 1.0; h.eps = 1e-6; break;
    }
    return h;
}

mt_optim *mt_optim_new(mt_optim_kind kind)
{
    if ((int)kind < MT_OPTIM_SGD || kind > MT_OPTIM_ADADELTA) {
        MT_ERR(MT_ERR_INVALID, "optimizer kind %d unknown (0 SGD, 1 Adam, 2 AdamW, 3 Adadelta)", (int)kind);
        return NULL;
    }
    mt_optim *o = mt_calloc(1, sizeof *o);
    if (o) {
        o->kind = kind;
        o->fused = 1;
    }
    return o;
}

static void free_state(opt_param *q)
{
    for (int k = 0; k < N_SLOTS; k++) {
        mt_tensor_release(q->slot[k]);
        q->slot[k] = NULL;
    }
}

void mt_optim_free(mt_optim *o)
{
    if (!o) return;
    optim_dev_free(o);
    mt_tensor_release(o->found_inf);
    optim_flat_detach(o);
    for (int i = 0; i < o->n_params; i++) {
        free_state(&o->params[i]);
        mt_tensor_release(o->params[i].p);
    }
    for (int g = 0; g < o->n_groups; g++) {
        mt_tensor_release(o->groups[g].grad_flat);
        for (int k = 0; k < N_SLOTS; k++) mt_tensor_release(o->groups[g].state_flat[k]);
    }
    free(o->params);
    free(o->groups);
    free(o->index);
    free(o);
}

/* torch.optim constructors' argument checks */
static mt_status check_hparams(mt_optim_kind kind, const mt_optim_hparams *h)
{
    MT_REQUIRE(h->lr >= 0 && isfinite(h->lr), "%s: invalid learning rate %g (must be >= 0)", kind_name(kind), h->lr);
    MT_REQUIRE(h->weight_decay >= 0, "%s: invalid weight_decay %g (must be >= 0)", kind_name(kind), h->weight_decay);
    if (kind == MT_OPTIM_SGD) {
        MT_REQUIRE(h->momentum >= 0, "SGD: invalid momentum %g (must be >= 0)", h->momentum);
        MT_REQUIRE(!h->nesterov || (h->momentum > 0 && h->dampening == 0),
                   "SGD: Nesterov momentum requires a momentum > 0 and zero dampening (momentum %g, dampening %g)",
                   h->momentum, h->dampening);
    } else if (kind == MT_OPTIM_ADADELTA) {
        MT_REQUIRE(h->rho >= 0 && h->rho <= 1, "Adadelta: invalid rho %g (must be in [0, 1])", h->rho);
        MT_REQUIRE(h->eps >= 0, "Adadelta: invalid eps %g (must be >= 0)", h->eps);
    } else {
        MT_REQUIRE(h->eps >= 0, "%s: invalid eps %g (must be >= 0)", kind_name(kind), h->eps);
        MT_REQUIRE(h->beta1 >= 0 && h->beta1 < 1, "%s: invalid beta1 %g (must be in [0, 1))", kind_name(kind), h->beta1);
        MT_REQUIRE(h->beta2 >= 0 && h->beta2 < 1, "%s: invalid beta2 %g (must be in [0, 1))", kind_name(kind), h->beta2);
    }
    return MT_OK;
}

int mt_optim_add_group(mt_optim *o, mt_tensor *const *params, int n, const mt_optim_hparams *h)
{
    if (!o || !h || n < 0 || (n > 0 && !params)) {
        MT_ERR(MT_ERR_INVALID, "optimizer add_group: NULL optimizer, hyper-parameters or parameter list");
        return -1;
    }
    if (check_hparams(o->kind, h) != MT_OK) return -1;
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            if (!mt_last_status()) MT_ERR(MT_ERR_INVALID, "optimizer add_group: parameter %d is NULL", i);
            return -1;
        }
        if (params[i]->dtype != MT_REAL) {
            MT_ERR(MT_ERR_INVALID, "optimizer add_group: parameter %d is %s, expected %s", i,
                   mt_dtype_name(params[i]->dtype), mt_dtype_name(MT_REAL));
            return -1;
        }
        for (int j = 0; j < o->n_params; j++)
            if (o->params[j].p == params[i]) {
                MT_ERR(MT_ERR_INVALID, "optimizer add_group: parameter %d already belongs to group %d "
                       "(some parameters appear in more than one parameter group)", i, o->params[j].group);
                return -1;
            }
        for (int j = 0; j < i; j++)
            if (params[j] == params[i]) {
                MT_ERR(MT_ERR_INVALID, "optimizer add_group: parameter %d is listed twice (also at %d)", i, j);
                return -1;
            }
    }
    opt_group *g = mt_realloc(o->groups, sizeof *g * (size_t)(o->n_groups + 1));
    if (!g) return -1;
    o->groups = g;
    opt_param *q = mt_realloc(o->params, sizeof *q * (size_t)(o->n_params + n + 1));
    if (!q) return -1;
    o->params = q;
    int gi = o->n_groups++;
    opt_group *G = &o->groups[gi];
    memset(G, 0, sizeof *G);
    G->h = *h;
    G->first = o->n_params;
    G->count = n;
    for (int i = 0; i < n; i++) {
        opt_param *e = &o->params[o->n_params++];
        memset(e, 0, sizeof *e);
        e->p = mt_tensor_retain(params[i]);
        e->group = gi;
        e->flat_off = G->numel;
        G->numel += mt_numel(params[i]);
    }
    if (optim_flat_attach(o, gi) != MT_OK) return -1;
    return gi;
}

int mt_optim_group_count(const mt_optim *o) { return o ? o->n_groups : 0; }

double mt_optim_get_lr(const mt_optim *o, int group)
{
    if (!o || group < 0 || group >= o->n_groups) {
        MT_ERR(MT_ERR_INVALID, "optimizer get_lr: group %d does not exist (%d groups)", group, o ? o->n_groups : 0);
        return NAN;
    }
    return o->groups[group].h.lr;
}

void mt_optim_set_lr(mt_optim *o, int group, double lr)
{
    if (!o || group < 0 || group >= o->n_groups) {
        MT_ERR(MT_ERR_INVALID, "optimizer set_lr: group %d does not exist (%d groups)", group, o ? o->n_groups : 0);
        return;
    }
    o->groups[group].h.lr = lr;
    if (optim_dev_write_lr(o, group) != MT_OK) return; /* the error stays recorded */
}

long mt_optim_steps(const mt_optim *o) { return o ? o->steps : 0; }

void mt_optim_add_steps(mt_optim *o, long n)
{
    if (o) o->steps += n;
}

void mt_optim_set_fused(mt_optim *o, int on)
{
    if (o) o->fused = on ? 1 : 0;
}

long mt_optim_fused_updates(const mt_optim *o) { return o ? o->fused_updates : 0; }

mt_tensor *mt_optim_group_grads(const mt_optim *o, int group)
{
    if (!o || group < 0 || group >= o->n_groups) {
        MT_ERR(MT_ERR_INVALID, "optimizer group_grads: group %d does not exist (%d groups)", group, o ? o->n_groups : 0);
        return NULL;
    }
    return o->groups[group].grad_flat;
}

/* New zero state tensor for slot k of parameter q (step: 0-d on the CPU; the
 * others views into the group's flat state buffers when it has them). */
static mt_tensor *new_slot(mt_optim *o, opt_param *q, int k)
{
    mt_tensor *t = optim_is_step_slot(o, k) ? mt_tensor_zeros(MT_REAL, mt_cpu(), 0, NULL) : optim_flat_new_slot(o, q, k);
    if (!t) return NULL;
    char name[96];
    snprintf(name, sizeof name, "state.%d.%s", (int)(q - o->params), slot_names[o->kind][k]);
    t->name = mt_strdup(name);
    if (!t->name) {
        mt_tensor_release(t);
        return NULL;
    }
    return t;
}

static mt_status ensure_state(mt_optim *o, opt_param *q, int *created)
{
    int used = slots_used(o, hp(o, q));
    *created = 0;
    for (int k = 0; k < used; k++)
        if (!q->slot[k]) {
            if (!(q->slot[k] = new_slot(o, q, k))) return mt_last_status();
            *created = 1;
        }
    return MT_OK;
}

static mt_status unsupported_device(mt_device d)
{
    char b[32];
    return MT_ERR(MT_ERR_UNSUPPORTED, "optimizer step: parameters on %s are not supported by this build",
                  mt_device_str(d, b, sizeof b));
}

/* The update of n elements on device d: p (parameters), g (gradients) and the
 * state slots (slot[k] for the non-step slots, NULL when unused), with group
 * hyper-parameters h at `step` (Adam's t, already advanced) and SGD's `first`
 * (momentum buffer just created). Called per parameter or, fused, once over a
 * group's flat buffers: the same scalars and the same element-wise kernels. */
static mt_status update(const mt_optim *o, const mt_optim_hparams *h, mt_device d, size_t n, mt_real *p,
                        const mt_real *g, mt_real *const *slot, double step, int first)
{
    if (o->kind == MT_OPTIM_SGD) {
        mt_sgd_scalars s = mt_sgd_scalars_of(h, first);
        mt_real *buf = s.has_momentum ? slot[0] : NULL;
        if (d.type == MT_CPU) {
            mt_sgd_update_cpu(n, p, g, buf, s);
            return MT_OK;
        }
#ifdef MT_WITH_CUDA
        if (d.type == MT_CUDA) return mt_sgd_update_cuda(d.index, n, p, g, buf, s);
#endif
        return unsupported_device(d);
    }
    if (o->kind == MT_OPTIM_ADADELTA) {
        mt_adadelta_scalars s = mt_adadelta_scalars_of(h);
        if (d.type == MT_CPU) {
            mt_adadelta_update_cpu(n, p, g, slot[1], slot[2], s);
            return MT_OK;
        }
#ifdef MT_WITH_CUDA
        if (d.type == MT_CUDA) return mt_adadelta_update_cuda(d.index, n, p, g, slot[1], slot[2], s);
#endif
        return unsupported_device(d);
    }
    mt_adam_scalars s = mt_adam_scalars_of(h, o->kind == MT_OPTIM_ADAMW, step);
    mt_real *vmax = h->amsgrad ? slot[3] : NULL;
    if (d.type == MT_CPU) {
        mt_adam_update_cpu(n, p, g, slot[1], slot[2], vmax, s);
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (d.type == MT_CUDA) return mt_adam_update_cuda(d.index, n, p, g, slot[1], slot[2], vmax, s);
#endif
    return unsupported_device(d);
}

/* Advances the 0-d "step" state of q (torch: step_t += 1 on a float tensor, then
 * step_t.item()) and returns it; 0 for SGD, which has none. */
static double advance_step(const mt_optim *o, opt_param *q)
{
    if (!has_step_slot(o)) return 0;
    mt_real *stepv = MT_DATA(q->slot[0]);
    stepv[0] = stepv[0] + 1;
    return (double)stepv[0];
}

/* Per-parameter update of q (its .grad is set and matches). */
static mt_status step_param(mt_optim *o, opt_param *q)
{
    int created;
    MT_TRY(ensure_state(o, q, &created));
    double step = advance_step(o, q);
    mt_real *slot[N_SLOTS] = {0};
    for (int k = 0; k < N_SLOTS; k++)
        if (q->slot[k] && !optim_is_step_slot(o, k)) slot[k] = MT_DATA(q->slot[k]);
    return update(o, hp(o, q), q->p->storage->device, mt_numel(q->p), MT_DATA(q->p), MT_DATA(q->p->grad), slot, step,
                  created);
}

/* One update over group g's flat buffers (optim_flat_fusable said yes). */
static mt_status step_group_fused(mt_optim *o, int g, int first)
{
    opt_group *G = &o->groups[g];
    double step = 0;
    for (int i = G->first; i < G->first + G->count; i++) {
        int created;
        MT_TRY(ensure_state(o, &o->params[i], &created));
        step = advance_step(o, &o->params[i]); /* the same for all (checked by optim_flat_fusable) */
    }
    mt_real *slot[N_SLOTS] = {0};
    for (int k = 0; k < N_SLOTS; k++)
        if (G->state_flat[k] && !optim_is_step_slot(o, k)) slot[k] = MT_DATA(G->state_flat[k]);
    mt_tensor *p0 = o->params[G->first].p;
    return update(o, &G->h, p0->storage->device, G->numel, MT_DATA(p0), MT_DATA(G->grad_flat), slot, step, first);
}

mt_status mt_optim_step(mt_optim *o)
{
    MT_REQUIRE(o != NULL, "optimizer step: NULL optimizer");
    for (int g = 0; g < o->n_groups; g++) {
        int first = 0;
        int dev_host = 0; /* device scalars, but this group is updated per parameter from host scalars */
        if (o->dev_scalars && o->groups[g].count > 0) { /* device-resident scalars: the fused update */
            if (optim_flat_fusable(o, g, &first)) {
                for (int i = o->groups[g].first; i < o->groups[g].first + o->groups[g].count; i++) {
                    int created;
                    MT_TRY(ensure_state(o, &o->params[i], &created));
                }
                MT_TRY(optim_dev_step_group(o, g, first));
                o->fused_updates++;
                continue;
            }
            /* not fusable this step (a parameter without its gradient, a .grad set by hand): the host path with
             * the step counts read back (a host sync: never inside a captured step, whose capture then fails) */
            if (o->found_inf) { /* the skip decision read back */
                mt_real inf = 0;
                MT_TRY(mt_tensor_to_host(o->found_inf, &inf, sizeof inf));
                if (inf != 0) continue;
            }
            MT_TRY(mt_optim_sync_scalars(o));
            dev_host = 1;
        }
        if (o->fused && optim_flat_fusable(o, g, &first)) {
            MT_TRY(step_group_fused(o, g, first));
            o->fused_updates++;
            continue;
        }
        const opt_group *G = &o->groups[g];
        for (int i = G->first; i < G->first + G->count; i++) {
            opt_param *q = &o->params[i];
            const mt_tensor *gr = q->p->grad;
            if (!gr) continue; /* torch skips parameters whose .grad is None */
            if (!mt_same_shape(gr, q->p) || gr->dtype != q->p->dtype ||
                !mt_device_eq(gr->storage->device, q->p->storage->device)) {
                char a[64], b[64];
                return MT_ERR(MT_ERR_STATE, "optimizer step: parameter %d%s%s has a gradient %s that does not match "
                              "its shape %s / dtype / device", i, q->p->name ? " " : "", q->p->name ? q->p->name : "",
                              mt_shape_str(gr, a, sizeof a), mt_shape_str(q->p, b, sizeof b));
            }
            MT_TRY(step_param(o, q));
        }
        if (dev_host) o->groups[g].dev_stale = 1;
    }
    o->steps++;
    return MT_OK;
}

mt_status mt_optim_zero_grad(mt_optim *o)
{
    MT_REQUIRE(o != NULL, "optimizer zero_grad: NULL optimizer");
    for (int g = 0; g < o->n_groups; g++) MT_TRY(optim_flat_zero_grad(o, g));
    return MT_OK;
}

/* ------------------------------------------------------------ state --- */

int mt_optim_state_count(mt_optim *o)
{
    if (!o) return 0;
    if (mt_optim_sync_scalars(o) != MT_OK) return 0; /* device-resident step counts into the "step" states */
    int n = 0;
    for (int i = 0; i < o->n_params; i++)
        for (int k = 0; k < N_SLOTS; k++) n += o->params[i].slot[k] != NULL;
    mt_tensor **idx = mt_realloc(o->index, sizeof *idx * (size_t)(n + 1));
    if (!idx) return 0;
    o->index = idx;
    o->n_index = 0;
    for (int i = 0; i < o->n_params; i++)
        for (int k = 0; k < N_SLOTS; k++)
            if (o->params[i].slot[k]) o->index[o->n_index++] = o->params[i].slot[k];
    return o->n_index;
}

const char *mt_optim_state_name(mt_optim *o, int i)
{
    mt_tensor *t = mt_optim_state_tensor(o, i);
    return t ? t->name : NULL;
}

mt_tensor *mt_optim_state_tensor(mt_optim *o, int i)
{
    if (!o) return NULL;
    mt_optim_state_count(o);
    if (i < 0 || i >= o->n_index) {
        MT_ERR(MT_ERR_INVALID, "optimizer state: entry %d does not exist (%d entries)", i, o->n_index);
        return NULL;
    }
    return o->index[i];
}

/* Parses "state.<param>.<slot>" into param index and slot. */
static mt_status parse_state_name(const mt_optim *o, const char *name, int *param, int *slot)
{
    int pi = -1, used = 0;
    if (!name || sscanf(name, "state.%d.%n", &pi, &used) != 1 || used == 0)
        return MT_ERR(MT_ERR_FORMAT, "%s optimizer state: entry '%s' is not named state.<param>.<slot>",
                      kind_name(o->kind), name ? name : "(null)");
    if (pi < 0 || pi >= o->n_params)
        return MT_ERR(MT_ERR_FORMAT, "%s optimizer state: entry '%s' names parameter %d, but the optimizer has %d",
                      kind_name(o->kind), name, pi, o->n_params);
    const char *s = name + used;
    int nslots = slots_used(o, hp(o, &o->params[pi]));
    for (int k = 0; k < nslots; k++)
        if (!strcmp(s, slot_names[o->kind][k])) {
            *param = pi;
            *slot = k;
            return MT_OK;
        }
    return MT_ERR(MT_ERR_FORMAT, "%s optimizer state: entry '%s': '%s' is not a state of this optimizer's "
                  "parameter %d (check momentum / amsgrad match the checkpoint)", kind_name(o->kind), name, s, pi);
}

mt_status mt_optim_state_load(mt_optim *o, int n, const char *const *names, mt_tensor *const *tensors, long steps)
{
    MT_REQUIRE(o != NULL && n >= 0 && (n == 0 || (names && tensors)), "optimizer state load: NULL argument");
    MT_REQUIRE(steps >= 0, "optimizer state load: step count %ld must be >= 0", steps);
    /* validate everything before touching the optimizer */
    int *seen = mt_calloc((size_t)o->n_params * N_SLOTS + 1, sizeof *seen);
    if (!seen) return MT_ERR_NOMEM;
    mt_status s = MT_OK;
    for (int j = 0; j < n && s == MT_OK; j++) {
        int pi, k;
        if ((s = parse_state_name(o, names[j], &pi, &k)) != MT_OK) break;
        const mt_tensor *t = tensors[j];
        const mt_tensor *p = o->params[pi].p;
        int is_step = k == 0 && has_step_slot(o);
        char a[64], b[64];
        if (!t) s = MT_ERR(MT_ERR_INVALID, "optimizer state load: tensor of '%s' is NULL", names[j]);
        else if (t->dtype != MT_REAL)
            s = MT_ERR(MT_ERR_FORMAT, "optimizer state load: '%s' is %s, expected %s", names[j], mt_dtype_name(t->dtype),
                       mt_dtype_name(MT_REAL));
        else if (is_step ? mt_numel(t) != 1 : !mt_same_shape(t, p))
            s = MT_ERR(MT_ERR_FORMAT, "optimizer state load: '%s' has shape %s, expected %s", names[j],
                       mt_shape_str(t, a, sizeof a), is_step ? "[] (one value)" : mt_shape_str(p, b, sizeof b));
        else if (seen[pi * N_SLOTS + k]++)
            s = MT_ERR(MT_ERR_FORMAT, "optimizer state load: '%s' appears twice", names[j]);
    }
    /* a parameter with any state must have all of it */
    for (int i = 0; i < o->n_params && s == MT_OK; i++) {
        int used = slots_used(o, hp(o, &o->params[i])), have = 0;
        for (int k = 0; k < used; k++) have += seen[i * N_SLOTS + k] != 0;
        for (int k = 0; k < used && have > 0 && s == MT_OK; k++)
            if (!seen[i * N_SLOTS + k])
                s = MT_ERR(MT_ERR_FORMAT, "optimizer state load: entry 'state.%d.%s' is missing", i,
                           slot_names[o->kind][k]);
    }
    free(seen);
    if (s != MT_OK) return s;
    /* replace the whole state (torch load_state_dict semantics) */
    for (int i = 0; i < o->n_params; i++) free_state(&o->params[i]);
    for (int j = 0; j < n; j++) {
        int pi, k;
        MT_TRY(parse_state_name(o, names[j], &pi, &k));
        opt_param *q = &o->params[pi];
        if (!(q->slot[k] = new_slot(o, q, k))) return mt_last_status();
        if (k == 0 && has_step_slot(o)) {
            mt_real v;
            MT_TRY(mt_tensor_to_host(tensors[j], &v, sizeof v));
            MT_DATA(q->slot[k])[0] = v;
        } else {
            MT_TRY(mt_tensor_copy(q->slot[k], tensors[j]));
        }
    }
    o->steps = steps;
    return optim_dev_write_steps(o, -1);
}
