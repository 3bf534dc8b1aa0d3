/* optim/optim.c: optimizers (optim.h): parameter groups, lazily created
 * per-parameter state with PyTorch state_dict names, and step() dispatching
 * to the CPU / CUDA update kernels of update.h.
 *
 * State per parameter (torch 1.13 names), created at the first step() in
 * which the parameter has a .grad, on the parameter's device:
 *   SGD      momentum_buffer (only when momentum != 0)
 *   Adam(W)  step (0-d, on the CPU), exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)
 *   Adadelta step (0-d, on the CPU), square_avg, acc_delta
 * Adam's bias corrections use that parameter's own step count, as torch's. */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/autograd.h"
#include "../core/device.h"
#include "update.h"

#define N_SLOTS 4

typedef struct opt_param {
    mt_tensor *p;             /* retained */
    int group;
    mt_tensor *slot[N_SLOTS]; /* state tensors (NULL until created), see slot_names */
} opt_param;

struct mt_optim {
    mt_optim_kind kind;
    mt_optim_hparams *groups;
    int n_groups;
    opt_param *params;
    int n_params;
    long steps;
    mt_tensor **index; /* flat list of existing state tensors, rebuilt by state_count */
    int n_index;
};

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
    if (o) o->kind = kind;
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
    for (int i = 0; i < o->n_params; i++) {
        free_state(&o->params[i]);
        mt_tensor_release(o->params[i].p);
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
    mt_optim_hparams *g = mt_realloc(o->groups, sizeof *g * (size_t)(o->n_groups + 1));
    if (!g) return -1;
    o->groups = g;
    opt_param *q = mt_realloc(o->params, sizeof *q * (size_t)(o->n_params + n + 1));
    if (!q) return -1;
    o->params = q;
    int gi = o->n_groups++;
    o->groups[gi] = *h;
    for (int i = 0; i < n; i++) {
        opt_param *e = &o->params[o->n_params++];
        memset(e, 0, sizeof *e);
        e->p = mt_tensor_retain(params[i]);
        e->group = gi;
    }
    return gi;
}

int mt_optim_group_count(const mt_optim *o) { return o ? o->n_groups : 0; }

double mt_optim_get_lr(const mt_optim *o, int group)
{
    if (!o || group < 0 || group >= o->n_groups) {
        MT_ERR(MT_ERR_INVALID, "optimizer get_lr: group %d does not exist (%d groups)", group, o ? o->n_groups : 0);
        return NAN;
    }
    return o->groups[group].lr;
}

void mt_optim_set_lr(mt_optim *o, int group, double lr)
{
    if (!o || group < 0 || group >= o->n_groups) {
        MT_ERR(MT_ERR_INVALID, "optimizer set_lr: group %d does not exist (%d groups)", group, o ? o->n_groups : 0);
        return;
    }
    o->groups[group].lr = lr;
}

long mt_optim_steps(const mt_optim *o) { return o ? o->steps : 0; }

/* New zero state tensor for slot k of parameter q (step: 0-d on the CPU). */
static mt_tensor *new_slot(const mt_optim *o, const opt_param *q, int k)
{
    mt_tensor *t = (k == 0 && has_step_slot(o)) ? mt_tensor_zeros(MT_REAL, mt_cpu(), 0, NULL) : mt_tensor_like(q->p, 1);
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
    int used = slots_used(o, &o->groups[q->group]);
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

static mt_status step_sgd(opt_param *q, const mt_optim_hparams *h, int first)
{
    mt_sgd_scalars s;
    s.wd = (mt_real)h->weight_decay;
    s.momentum = (mt_real)h->momentum;
    s.one_minus_dampening = (mt_real)(1 - h->dampening);
    s.neg_lr = (mt_real)(-h->lr);
    s.has_wd = h->weight_decay != 0;
    s.has_momentum = h->momentum != 0;
    s.nesterov = h->nesterov;
    s.first = first;
    mt_device d = q->p->storage->device;
    size_t n = mt_numel(q->p);
    mt_real *buf = s.has_momentum ? MT_DATA(q->slot[0]) : NULL;
    if (d.type == MT_CPU) {
        mt_sgd_update_cpu(n, MT_DATA(q->p), MT_DATA(q->p->grad), buf, s);
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (d.type == MT_CUDA) return mt_sgd_update_cuda(d.index, n, MT_DATA(q->p), MT_DATA(q->p->grad), buf, s);
#endif
    return unsupported_device(d);
}

static mt_status step_adam(const mt_optim *o, opt_param *q, const mt_optim_hparams *h)
{
    mt_real *stepv = MT_DATA(q->slot[0]);
    stepv[0] = stepv[0] + 1; /* torch: step_t += 1 on a float tensor, then step_t.item() */
    double step = (double)stepv[0];
    double bias_correction1 = 1 - pow(h->beta1, step);
    double bias_correction2 = 1 - pow(h->beta2, step);
    double step_size = h->lr / bias_correction1;
    mt_adam_scalars s;
    s.beta1 = (mt_real)h->beta1;
    s.one_minus_beta1 = (mt_real)(1 - h->beta1);
    s.beta2 = (mt_real)h->beta2;
    s.one_minus_beta2 = (mt_real)(1 - h->beta2);
    s.bias_correction2_sqrt = (mt_real)sqrt(bias_correction2);
    s.eps = (mt_real)h->eps;
    s.neg_step_size = (mt_real)(-step_size);
    s.decoupled = o->kind == MT_OPTIM_ADAMW;
    s.wd = (mt_real)h->weight_decay;
    s.decay = (mt_real)(1 - h->lr * h->weight_decay);
    s.has_wd = h->weight_decay != 0;
    s.amsgrad = h->amsgrad;
    mt_device d = q->p->storage->device;
    size_t n = mt_numel(q->p);
    mt_real *vmax = h->amsgrad ? MT_DATA(q->slot[3]) : NULL;
    if (d.type == MT_CPU) {
        mt_adam_update_cpu(n, MT_DATA(q->p), MT_DATA(q->p->grad), MT_DATA(q->slot[1]), MT_DATA(q->slot[2]), vmax, s);
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (d.type == MT_CUDA)
        return mt_adam_update_cuda(d.index, n, MT_DATA(q->p), MT_DATA(q->p->grad), MT_DATA(q->slot[1]),
                                   MT_DATA(q->slot[2]), vmax, s);
#endif
    return unsupported_device(d);
}

static mt_status step_adadelta(opt_param *q, const mt_optim_hparams *h)
{
    mt_real *stepv = MT_DATA(q->slot[0]);
    stepv[0] = stepv[0] + 1;
    mt_adadelta_scalars s;
    s.rho = (mt_real)h->rho;
    s.one_minus_rho = (mt_real)(1 - h->rho);
    s.eps = (mt_real)h->eps;
    s.wd = (mt_real)h->weight_decay;
    s.neg_lr = (mt_real)(-h->lr);
    s.has_wd = h->weight_decay != 0;
    mt_device d = q->p->storage->device;
    size_t n = mt_numel(q->p);
    if (d.type == MT_CPU) {
        mt_adadelta_update_cpu(n, MT_DATA(q->p), MT_DATA(q->p->grad), MT_DATA(q->slot[1]), MT_DATA(q->slot[2]), s);
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (d.type == MT_CUDA)
        return mt_adadelta_update_cuda(d.index, n, MT_DATA(q->p), MT_DATA(q->p->grad), MT_DATA(q->slot[1]),
                                       MT_DATA(q->slot[2]), s);
#endif
    return unsupported_device(d);
}

mt_status mt_optim_step(mt_optim *o)
{
    MT_REQUIRE(o != NULL, "optimizer step: NULL optimizer");
    for (int i = 0; i < o->n_params; i++) {
        opt_param *q = &o->params[i];
        const mt_tensor *g = q->p->grad;
        if (!g) continue; /* torch skips parameters whose .grad is None */
        if (!mt_same_shape(g, q->p) || g->dtype != q->p->dtype ||
            !mt_device_eq(g->storage->device, q->p->storage->device)) {
            char a[64], b[64];
            return MT_ERR(MT_ERR_STATE, "optimizer step: parameter %d%s%s has a gradient %s that does not match "
                          "its shape %s / dtype / device", i, q->p->name ? " " : "", q->p->name ? q->p->name : "",
                          mt_shape_str(g, a, sizeof a), mt_shape_str(q->p, b, sizeof b));
        }
        const mt_optim_hparams *h = &o->groups[q->group];
        int created;
        MT_TRY(ensure_state(o, q, &created));
        switch (o->kind) {
        case MT_OPTIM_SGD: MT_TRY(step_sgd(q, h, created)); break;
        case MT_OPTIM_ADAM:
        case MT_OPTIM_ADAMW: MT_TRY(step_adam(o, q, h)); break;
        case MT_OPTIM_ADADELTA: MT_TRY(step_adadelta(q, h)); break;
        }
    }
    o->steps++;
    return MT_OK;
}

mt_status mt_optim_zero_grad(mt_optim *o)
{
    MT_REQUIRE(o != NULL, "optimizer zero_grad: NULL optimizer");
    for (int i = 0; i < o->n_params; i++) MT_TRY(mt_zero_grad(o->params[i].p));
    return MT_OK;
}

/* ------------------------------------------------------------ state --- */

int mt_optim_state_count(mt_optim *o)
{
    if (!o) return 0;
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
    int nslots = slots_used(o, &o->groups[o->params[pi].group]);
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
        int used = slots_used(o, &o->groups[o->params[i].group]), have = 0;
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
    return MT_OK;
}
