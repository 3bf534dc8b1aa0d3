/* optim/scalars.h (internal to optim/): the per-step scalars of the update
 * kernels (update.h) computed from a group's hyper-parameters and step count,
 * in one definition shared by the host path (optim/optim.c) and the
 * device-scalar path (optim/dev_scalars.c on the CPU, optim/update.cu on a
 * GPU), so the two give bit-identical updates.
 *
 * Device scalars (issue 13, CUDA graphs): a graph replays its kernels with the
 * arguments they were captured with, so whatever changes from step to step
 * (Adam's step count and bias corrections, the learning rate a schedule sets,
 * GradScaler's found_inf) must be read from device memory. Each group then
 * keeps one mt_optim_dev_scalars block on its parameters' device; a one-thread
 * "prepare" (a kernel on a GPU, a function on the CPU) advances the step count
 * there and derives the kernel scalars, and the update kernels read them from
 * the block (PyTorch's capturable Adam keeps `step` on the device the same way).
 */
#ifndef MT_OPTIM_SCALARS_H
#define MT_OPTIM_SCALARS_H

#include <math.h>

#include "optim.h"
#include "update.h"

#ifdef __CUDACC__
#define MT_HD __host__ __device__
#else
#define MT_HD
#endif

/* torch.optim.SGD's scalars; first = the momentum buffer was just created. */
static inline MT_HD mt_sgd_scalars mt_sgd_scalars_of(const mt_optim_hparams *h, int first)
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
    return s;
}

/* torch.optim.Adam / AdamW's scalars at step t = `step` (already advanced); the bias
 * corrections in double, then rounded to mt_real as torch rounds its Python floats. */
static inline MT_HD mt_adam_scalars mt_adam_scalars_of(const mt_optim_hparams *h, int decoupled, double step)
{
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
    s.decoupled = decoupled;
    s.wd = (mt_real)h->weight_decay;
    s.decay = (mt_real)(1 - h->lr * h->weight_decay);
    s.has_wd = h->weight_decay != 0;
    s.amsgrad = h->amsgrad;
    return s;
}

/* torch.optim.Adadelta's scalars. */
static inline MT_HD mt_adadelta_scalars mt_adadelta_scalars_of(const mt_optim_hparams *h)
{
    mt_adadelta_scalars s;
    s.rho = (mt_real)h->rho;
    s.one_minus_rho = (mt_real)(1 - h->rho);
    s.eps = (mt_real)h->eps;
    s.wd = (mt_real)h->weight_decay;
    s.neg_lr = (mt_real)(-h->lr);
    s.has_wd = h->weight_decay != 0;
    return s;
}

/* One group's scalars in device memory (plain data: copied to and from the
 * device byte for byte). The host writes h (h.lr when a schedule changes it)
 * and step (enabling, loading a checkpoint); prepare writes the rest. */
typedef struct mt_optim_dev_scalars {
    mt_optim_hparams h;   /* the group's hyper-parameters, h.lr the current learning rate */
    double step;          /* Adam/AdamW/Adadelta: steps taken (torch's state "step"); SGD: unused */
    int kind;             /* mt_optim_kind */
    int skipped;          /* 1: the last prepare saw found_inf != 0, the update kernels change nothing */
    mt_sgd_scalars sgd;
    mt_adam_scalars adam;
    mt_adadelta_scalars adadelta;
} mt_optim_dev_scalars;

/* The step's prepare: when *found_inf (may be NULL) is nonzero (fp16 GradScaler: a gradient
 * holds an inf/NaN) the step is skipped, as torch's GradScaler.step skips optimizer.step;
 * otherwise the step count advances (as a float32 tensor's would, exact below 2^24) and
 * the kernel scalars are derived from it and h. `first`: SGD's momentum buffer is new. */
static inline MT_HD void mt_optim_dev_prepare(mt_optim_dev_scalars *b, const mt_real *found_inf, int first)
{
    b->skipped = found_inf && *found_inf != 0;
    if (b->skipped) return;
    if (b->kind != MT_OPTIM_SGD) b->step = b->step + 1;
    if (b->kind == MT_OPTIM_SGD) b->sgd = mt_sgd_scalars_of(&b->h, first);
    else if (b->kind == MT_OPTIM_ADADELTA) b->adadelta = mt_adadelta_scalars_of(&b->h);
    else b->adam = mt_adam_scalars_of(&b->h, b->kind == MT_OPTIM_ADAMW, b->step);
}

#ifdef MT_WITH_CUDA
#ifdef __cplusplus
extern "C" {
#endif
/* CUDA twins (optim/update.cu), on GPU `device`'s stream, no host sync: prepare as one
 * one-thread kernel on the block `b` (device memory); the update of n elements reading
 * its scalars from `b` (slot[k]: the group's flat state buffers, NULL when unused). */
mt_status mt_optim_dev_prepare_cuda(int device, mt_optim_dev_scalars *b, const mt_real *found_inf, int first);
mt_status mt_optim_dev_update_cuda(int device, int kind, size_t n, mt_real *p, const mt_real *g, mt_real *const *slot,
                                   const mt_optim_dev_scalars *b);
#ifdef __cplusplus
}
#endif
#endif

#endif
