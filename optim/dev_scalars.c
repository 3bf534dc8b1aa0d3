/* optim/dev_scalars.c: device-resident step scalars of the optimizers
 * (optim/scalars.h), for a training step captured in a CUDA graph: each group's
 * step count, learning rate and derived kernel scalars live in one block on the
 * parameters' device, advanced there by a prepare kernel, and the fused update
 * reads them from it; GradScaler's found_inf (a device tensor) skips the step
 * on the device. On the CPU backend the same blocks live in host memory and the
 * same prepare runs as a function, so the path is testable (and bit-identical
 * to the host-scalar path: the same scalars.h formulas, tests/test_optim_dev.c). */
#include <stddef.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/device.h"
#include "optim_internal.h"
#include "scalars.h"

/* copies `bytes` between host `h` and the block field at `dev_ptr` on device d */
static mt_status block_copy(mt_device d, void *dst, const void *src, size_t bytes, int to_device)
{
    const mt_backend *b = mt_backend_get(d.type);
    if (!b) return mt_last_status();
    mt_copy_kind k = d.type == MT_CPU ? MT_H2H : to_device ? MT_H2D : MT_D2H;
    return b->copy(b->ctx, d.index, dst, src, bytes, k);
}

static mt_device group_device(const mt_optim *o, int g) { return o->groups[g].grad_flat->storage->device; }

/* the step count of group g's first parameter's host state (0 before its first step) */
static double host_step(const mt_optim *o, int g)
{
    const opt_group *G = &o->groups[g];
    const opt_param *q = &o->params[G->first];
    return optim_is_step_slot(o, 0) && q->slot[0] ? (double)MT_DATA(q->slot[0])[0] : 0;
}

mt_status mt_optim_set_device_scalars(mt_optim *o, int on)
{
    MT_REQUIRE(o != NULL, "optimizer device scalars: NULL optimizer");
    if (!on) {
        if (o->dev_scalars) MT_TRY(mt_optim_sync_scalars(o));
        optim_dev_free(o);
        o->dev_scalars = 0;
        for (int g = 0; g < o->n_groups; g++) o->groups[g].dev_stale = 0;
        return MT_OK;
    }
    if (o->dev_scalars) return MT_OK;
    for (int g = 0; g < o->n_groups; g++) {
        const opt_group *G = &o->groups[g];
        if (G->count > 0 && (!G->grad_flat || !G->contiguous))
            return MT_ERR(MT_ERR_UNSUPPORTED, "optimizer device scalars: group %d's parameters are not one "
                          "contiguous block on one device (a model's parameters), so it has no fused update", g);
    }
    for (int g = 0; g < o->n_groups; g++) {
        opt_group *G = &o->groups[g];
        if (G->count == 0) continue;
        mt_optim_dev_scalars host;
        memset(&host, 0, sizeof host);
        host.h = G->h;
        host.kind = (int)o->kind;
        host.step = host_step(o, g);
        G->dev_stale = 1; /* the parameters' own counts stay current until the first fused update writes them */
        mt_device d = group_device(o, g);
        void *ptr = NULL;
        mt_status s = mt_alloc(d, sizeof host, &ptr);
        if (s == MT_OK) {
            G->dev = ptr;
            s = block_copy(d, G->dev, &host, sizeof host, 1);
        }
        if (s != MT_OK) {
            optim_dev_free(o);
            return s;
        }
    }
    o->dev_scalars = 1;
    return MT_OK;
}

int mt_optim_device_scalars(const mt_optim *o) { return o ? o->dev_scalars : 0; }

void mt_optim_set_found_inf(mt_optim *o, mt_tensor *found_inf)
{
    if (!o) return;
    if (found_inf) mt_tensor_retain(found_inf);
    mt_tensor_release(o->found_inf);
    o->found_inf = found_inf;
}

mt_status mt_optim_sync_scalars(mt_optim *o)
{
    MT_REQUIRE(o != NULL, "optimizer sync scalars: NULL optimizer");
    if (!o->dev_scalars || !optim_is_step_slot(o, 0)) return MT_OK;
    for (int g = 0; g < o->n_groups; g++) {
        const opt_group *G = &o->groups[g];
        if (!G->dev || G->dev_stale) continue; /* stale: the host states are the current ones */
        double step = 0;
        MT_TRY(block_copy(group_device(o, g), &step, (const char *)G->dev + offsetof(mt_optim_dev_scalars, step),
                          sizeof step, 0));
        for (int i = G->first; i < G->first + G->count; i++)
            if (o->params[i].slot[0]) MT_DATA(o->params[i].slot[0])[0] = (mt_real)step;
    }
    return MT_OK;
}

mt_status optim_dev_write_lr(mt_optim *o, int g)
{
    opt_group *G = &o->groups[g];
    if (!o->dev_scalars || !G->dev) return MT_OK;
    double lr = G->h.lr;
    return block_copy(group_device(o, g), (char *)G->dev + offsetof(mt_optim_dev_scalars, h) +
                      offsetof(mt_optim_hparams, lr), &lr, sizeof lr, 1);
}

mt_status optim_dev_write_steps(mt_optim *o, int only)
{
    if (!o->dev_scalars) return MT_OK;
    for (int g = 0; g < o->n_groups; g++) {
        opt_group *G = &o->groups[g];
        if (!G->dev || (only >= 0 && g != only)) continue;
        G->dev_stale = 0;
        double step = host_step(o, g);
        MT_TRY(block_copy(group_device(o, g), (char *)G->dev + offsetof(mt_optim_dev_scalars, step), &step,
                          sizeof step, 1));
    }
    return MT_OK;
}

void optim_dev_free(mt_optim *o)
{
    for (int g = 0; g < o->n_groups; g++) {
        opt_group *G = &o->groups[g];
        if (G->dev) mt_free(group_device(o, g), G->dev, sizeof(mt_optim_dev_scalars));
        G->dev = NULL;
    }
}

mt_status optim_dev_step_group(mt_optim *o, int g, int first)
{
    opt_group *G = &o->groups[g];
    MT_REQUIRE(G->dev != NULL, "optimizer step: group %d has no device scalars", g);
    if (G->dev_stale) MT_TRY(optim_dev_write_steps(o, g)); /* back from per-parameter updates */
    mt_device d = group_device(o, g);
    const mt_real *found_inf = NULL;
    if (o->found_inf) {
        MT_REQUIRE(mt_device_eq(o->found_inf->storage->device, d) && o->found_inf->dtype == MT_REAL,
                   "optimizer step: found_inf must be a %s tensor on the parameters' device", mt_dtype_name(MT_REAL));
        found_inf = MT_DATA(o->found_inf);
    }
    mt_real *slot[N_SLOTS] = {0};
    for (int k = 0; k < N_SLOTS; k++)
        if (G->state_flat[k] && !optim_is_step_slot(o, k)) slot[k] = MT_DATA(G->state_flat[k]);
    mt_real *p = MT_DATA(o->params[G->first].p);
    const mt_real *gr = MT_DATA(G->grad_flat);
    size_t n = G->numel;
    if (d.type == MT_CPU) {
        mt_optim_dev_scalars *b = G->dev;
        mt_optim_dev_prepare(b, found_inf, first);
        if (b->skipped) return MT_OK;
        switch (o->kind) {
        case MT_OPTIM_SGD: mt_sgd_update_cpu(n, p, gr, b->sgd.has_momentum ? slot[0] : NULL, b->sgd); break;
        case MT_OPTIM_ADADELTA: mt_adadelta_update_cpu(n, p, gr, slot[1], slot[2], b->adadelta); break;
        default: mt_adam_update_cpu(n, p, gr, slot[1], slot[2], b->adam.amsgrad ? slot[3] : NULL, b->adam);
        }
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (d.type == MT_CUDA) {
        MT_TRY(mt_optim_dev_prepare_cuda(d.index, G->dev, found_inf, first));
        return mt_optim_dev_update_cuda(d.index, (int)o->kind, n, p, gr, slot, G->dev);
    }
#endif
    char b[32];
    return MT_ERR(MT_ERR_UNSUPPORTED, "optimizer step: parameters on %s are not supported by this build",
                  mt_device_str(d, b, sizeof b));
}
