/* optim/flat.c: each optimizer group's flat buffers (llm.c style) and the test
 * of whether a group can take one fused update.
 *
 * At mt_optim_add_group the group gets one gradient buffer [numel] on its
 * parameters' device, and each parameter's grad_home becomes a view into it:
 * backward copies a parameter's first gradient into that view and makes it
 * .grad (core/autograd.c), so .grad stays NULL for a parameter that received
 * none (torch's None, which step() skips) and no gradient is allocated per
 * step. State tensors (momentum, exp_avg, ...) are views into one buffer per
 * slot, created with the first state. zero_grad is then one memset per group,
 * and when the parameters themselves are consecutive views of one block (a
 * model's parameter block, layers/graph.c) the update runs once over the
 * group: one OpenMP loop on the CPU, one kernel launch on CUDA. */
#include <string.h>

#include "../core/autograd.h"
#include "../core/device.h"
#include "optim_internal.h"

mt_tensor *optim_flat_view(mt_tensor *block, size_t off, const mt_tensor *like)
{
    mt_tensor *t = mt_tensor_alias(block);
    if (!t) return NULL;
    t->ndim = like->ndim;
    memcpy(t->shape, like->shape, sizeof t->shape);
    t->offset = block->offset + off * mt_dtype_size(block->dtype);
    return t;
}

/* 1 if the group's parameters are consecutive views of one storage, in order */
static int params_contiguous(const mt_optim *o, const opt_group *G)
{
    for (int i = G->first + 1; i < G->first + G->count; i++) {
        const mt_tensor *a = o->params[i - 1].p, *b = o->params[i].p;
        if (a->storage != b->storage || b->offset != a->offset + mt_nbytes(a)) return 0;
    }
    return G->count > 0;
}

mt_status optim_flat_attach(mt_optim *o, int g)
{
    opt_group *G = &o->groups[g];
    if (G->count == 0) return MT_OK;
    mt_device dev = o->params[G->first].p->storage->device;
    for (int i = G->first; i < G->first + G->count; i++) {
        const mt_tensor *p = o->params[i].p;
        /* meta parameters, several devices, or a parameter already served by another optimizer: per tensor */
        if (mt_tensor_is_meta(p) || !mt_device_eq(p->storage->device, dev) || p->grad_home) return MT_OK;
    }
    if (G->numel > (size_t)0x7fffffff)
        return MT_OK; /* one dimension holds at most INT_MAX elements: such a group is updated per tensor */
    int n = (int)G->numel;
    if (!(G->grad_flat = mt_tensor_zeros(MT_REAL, dev, 1, &n))) return mt_last_status();
    for (int i = G->first; i < G->first + G->count; i++) {
        opt_param *q = &o->params[i];
        mt_tensor *home = optim_flat_view(G->grad_flat, q->flat_off, q->p);
        if (!home) return mt_last_status();
        mt_tensor *old = q->p->grad;
        if (old) { /* keep the values of a gradient given before the optimizer existed */
            mt_status s = mt_same_shape(old, home) && old->dtype == home->dtype ? mt_tensor_copy(home, old)
                                                                                : MT_ERR_INVALID;
            if (s != MT_OK) {
                mt_tensor_release(home);
                if (s == MT_ERR_INVALID)
                    MT_ERR(MT_ERR_STATE, "optimizer add_group: parameter %d has a .grad whose shape or dtype "
                           "differs from the parameter's", i - G->first);
                return mt_last_status();
            }
            q->p->grad = mt_tensor_retain(home);
            mt_tensor_release(old);
        }
        q->p->grad_home = home;
    }
    G->contiguous = params_contiguous(o, G);
    return MT_OK;
}

void optim_flat_detach(mt_optim *o)
{
    for (int g = 0; g < o->n_groups; g++) {
        const opt_group *G = &o->groups[g];
        if (!G->grad_flat) continue;
        for (int i = G->first; i < G->first + G->count; i++) {
            mt_tensor *p = o->params[i].p;
            if (p->grad_home && p->grad_home->storage == G->grad_flat->storage) {
                mt_tensor_release(p->grad_home); /* .grad, if it is that view, keeps its own reference */
                p->grad_home = NULL;
            }
        }
    }
}

mt_tensor *optim_flat_new_slot(mt_optim *o, opt_param *q, int k)
{
    opt_group *G = &o->groups[q->group];
    if (!G->grad_flat) return mt_tensor_like(q->p, 1);
    if (!G->state_flat[k]) {
        int n = (int)G->numel;
        if (!(G->state_flat[k] = mt_tensor_zeros(MT_REAL, G->grad_flat->storage->device, 1, &n))) return NULL;
    }
    mt_tensor *t = optim_flat_view(G->state_flat[k], q->flat_off, q->p);
    if (!t) return NULL;
    const mt_backend *b = mt_backend_get(t->storage->device.type); /* a state reloaded over an older one */
    if (!b || b->memset0(b->ctx, t->storage->device.index, mt_data(t), mt_nbytes(t)) != MT_OK) {
        mt_tensor_release(t);
        return NULL;
    }
    return t;
}

int optim_flat_fusable(const mt_optim *o, int g, int *first)
{
    const opt_group *G = &o->groups[g];
    if (!G->grad_flat || !G->contiguous) return 0;
    int have = 0;
    mt_real step0 = 0;
    for (int i = G->first; i < G->first + G->count; i++) {
        const opt_param *q = &o->params[i];
        if (!q->p->grad || q->p->grad != q->p->grad_home) return 0; /* no gradient, or one given by hand */
        if (q->slot[0] || q->slot[1]) {
            /* the step counts (Adam's bias corrections) must agree: CPU 0-d tensors, read directly */
            mt_real st = optim_is_step_slot(o, 0) && q->slot[0] ? MT_DATA(q->slot[0])[0] : 0;
            if (have++ == 0) step0 = st;
            else if (st != step0) return 0;
        }
    }
    if (have != 0 && have != G->count) return 0;
    *first = have == 0;
    return 1;
}

mt_status optim_flat_zero_grad(mt_optim *o, int g)
{
    const opt_group *G = &o->groups[g];
    if (G->grad_flat) {
        const mt_backend *b = mt_backend_get(G->grad_flat->storage->device.type);
        if (!b) return mt_last_status();
        MT_TRY(b->memset0(b->ctx, G->grad_flat->storage->device.index, mt_data(G->grad_flat), mt_nbytes(G->grad_flat)));
    }
    for (int i = G->first; i < G->first + G->count; i++) {
        mt_tensor *p = o->params[i].p;
        if (p->grad && (!G->grad_flat || p->grad != p->grad_home)) MT_TRY(mt_zero_grad(p));
    }
    return MT_OK;
}
