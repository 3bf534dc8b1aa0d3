/* optim/optim.h: optimizers with the exact update rules of torch.optim,
 * parameter groups, gradient clipping, learning-rate schedules, and their
 * state as named tensors (for checkpoints).
 *
 * Usage:
 *   mt_optim *o = mt_optim_new(MT_OPTIM_ADAM);
 *   mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_ADAM); h.lr = 1e-4;
 *   mt_optim_add_group(o, params, n_params, &h);      // one group per model / lr
 *   ... mt_backward(loss) ... mt_clip_grad_norm(params, n, 1.0, &norm);
 *   mt_optim_step(o);  mt_optim_zero_grad(o);
 * Parameters and gradients may be on any one device; updates run there.
 */
#ifndef MT_OPTIM_H
#define MT_OPTIM_H

#include "../core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_optim_kind { MT_OPTIM_SGD = 0, MT_OPTIM_ADAM, MT_OPTIM_ADAMW, MT_OPTIM_ADADELTA } mt_optim_kind;

/* Hyper-parameters of one group (torch.optim names and defaults). */
typedef struct mt_optim_hparams {
    double lr;            /* SGD: required (default 0.01 here); Adam 1e-3; AdamW 1e-3; Adadelta 1.0 */
    double momentum;      /* SGD */
    double dampening;     /* SGD */
    int nesterov;         /* SGD */
    double weight_decay;  /* L2 added to the gradient (SGD, Adam, Adadelta); decoupled for AdamW (default 1e-2) */
    double beta1, beta2;  /* Adam/AdamW (0.9, 0.999) */
    double eps;           /* Adam/AdamW 1e-8, Adadelta 1e-6 */
    int amsgrad;          /* Adam/AdamW */
    double rho;           /* Adadelta 0.9 */
} mt_optim_hparams;

typedef struct mt_optim mt_optim;

/* torch.optim defaults for `kind`. */
mt_optim_hparams mt_optim_defaults(mt_optim_kind kind);
/* New optimizer with no groups; NULL on allocation failure. */
mt_optim *mt_optim_new(mt_optim_kind kind);
void mt_optim_free(mt_optim *o);
/* Adds a parameter group (params are retained). Returns the group index or -1. */
int mt_optim_add_group(mt_optim *o, mt_tensor *const *params, int n, const mt_optim_hparams *h);
int mt_optim_group_count(const mt_optim *o);
/* Per-group learning rate (what schedules change). */
double mt_optim_get_lr(const mt_optim *o, int group);
void mt_optim_set_lr(mt_optim *o, int group, double lr);
/* One update of every parameter whose .grad is set (torch.optim.*.step). */
mt_status mt_optim_step(mt_optim *o);
/* Zeroes (keeps) every parameter's .grad. */
mt_status mt_optim_zero_grad(mt_optim *o);
/* Number of step() calls made (Adam's t). */
long mt_optim_steps(const mt_optim *o);
/* Adds n (may be negative) to that count: steps whose update ran in a replayed CUDA
 * graph (train/trainer_graph.c), or one taken back after a failed capture. */
void mt_optim_add_steps(mt_optim *o, long n);

/* Flat buffers and the fused update (optim/flat.c). add_group gives each group one
 * gradient buffer on its parameters' device and makes every parameter's grad_home
 * a view into it (a .grad present then is copied there); backward fills those
 * views, so .grad stays NULL for a parameter that got no gradient (skipped, as
 * in torch) and zero_grad is one memset. When the group's parameters are
 * consecutive views of one block (a model's parameters: mt_model_params) and
 * each has its gradient there and its state at the same step, step() updates
 * the whole group with one loop / kernel over the flat buffers, bit-identical
 * to the per-parameter updates; otherwise (e.g. a .grad assigned by hand, a
 * parameter without gradient this step) it updates parameter by parameter.
 * set_fused(o, 0) forces the per-parameter path (tests, debugging). */
void mt_optim_set_fused(mt_optim *o, int on);
/* How many group updates ran fused since the optimizer was made. */
long mt_optim_fused_updates(const mt_optim *o);
/* Group `group`'s flat gradient buffer ([numel], borrowed; NULL when the group
 * has none: parameters on several devices, or already served by another
 * optimizer), e.g. to all-reduce a model's gradients in one call. */
mt_tensor *mt_optim_group_grads(const mt_optim *o, int group);

/* Device-resident step scalars (optim/dev_scalars.c; for a step captured in a
 * CUDA graph, train/cuda_graph.h). With on = 1 each group's step count, learning
 * rate and the update's derived scalars (Adam's bias corrections) move to one
 * block on the parameters' device: step() advances the count there (a one-thread
 * kernel on a GPU) and the fused update reads its scalars from it, so a replayed
 * step needs no new kernel arguments; set_lr writes the block (a host-to-device
 * copy, outside any capture). Every group must be one contiguous parameter block
 * (a model's parameters; else MT_ERR_UNSUPPORTED), and at each step every
 * parameter must have its gradient in its flat home (else step() fails with
 * MT_ERR_STATE). Results are bit-identical to the host-scalar path on the CPU
 * (the same formulas, optim/scalars.h). on = 0 reads the step counts back and
 * frees the blocks. State export (mt_optim_state_count) reads the counts back
 * into the "step" entries; mt_optim_state_load writes them to the device. */
mt_status mt_optim_set_device_scalars(mt_optim *o, int on);
int mt_optim_device_scalars(const mt_optim *o);
/* fp16 loss scaling on the device: a one-element MT_REAL tensor on the parameters'
 * device (retained; NULL removes it) whose value, when nonzero at a device-scalar
 * step, skips that step on the device: no update, step count unchanged
 * (GradScaler.step skipping optimizer.step for an inf/NaN gradient). */
void mt_optim_set_found_inf(mt_optim *o, mt_tensor *found_inf);
/* Reads the device step counts back into every parameter's "step" state (one
 * device-to-host copy per group; nothing when device scalars are off). */
mt_status mt_optim_sync_scalars(mt_optim *o);

/* State for checkpoints: named tensors ("state.<param index>.exp_avg", ...,
 * PyTorch state_dict names) plus the step count. The tensors are owned by the
 * optimizer; load copies values into the matching ones (creating them on the
 * parameters' device if missing) and fails with a message naming the first
 * missing or mis-shaped entry.
 * Entries (torch 1.13 names; <i> counts parameters over all groups in the
 * order added): SGD "state.<i>.momentum_buffer" (momentum != 0 only);
 * Adam/AdamW "state.<i>.step" (0-d tensor on the CPU: that parameter's own
 * step count, which Adam's bias corrections use), ".exp_avg", ".exp_avg_sq",
 * ".max_exp_avg_sq" (amsgrad); Adadelta ".step", ".square_avg", ".acc_delta".
 * As in torch, a parameter gets state at the first step in which it has a
 * .grad. Load replaces the whole state (torch load_state_dict); a parameter
 * that has any entry must have all of its entries. Learning rates are not
 * part of this state: mt_sched_set_state restores them. */
int mt_optim_state_count(mt_optim *o);
const char *mt_optim_state_name(mt_optim *o, int i);
mt_tensor *mt_optim_state_tensor(mt_optim *o, int i);
mt_status mt_optim_state_load(mt_optim *o, int n, const char *const *names, mt_tensor *const *tensors, long steps);

/* Clips the global L2 norm of all gradients to max_norm (torch.nn.utils.clip_grad_norm_);
 * writes the norm before clipping to *total_norm if not NULL. */
mt_status mt_clip_grad_norm(mt_tensor *const *params, int n, double max_norm, double *total_norm);

/* ---- learning-rate schedules (torch.optim.lr_scheduler) ---- */
typedef enum mt_sched_kind {
    MT_SCHED_CONSTANT = 0,
    MT_SCHED_STEP,            /* lr = base * gamma^(epoch // step_size) */
    MT_SCHED_MULTISTEP,       /* lr = base * gamma^(number of milestones <= epoch) */
    MT_SCHED_COSINE,          /* CosineAnnealingLR(T_max, eta_min) */
    MT_SCHED_PLATEAU          /* ReduceLROnPlateau(mode, factor, patience, threshold, cooldown, min_lr) */
} mt_sched_kind;

typedef struct mt_sched_params {
    mt_sched_kind kind;
    int step_size;            /* STEP */
    double gamma;             /* STEP, MULTISTEP (0.1) */
    int milestones[16];       /* MULTISTEP */
    int n_milestones;
    int t_max;                /* COSINE */
    double eta_min;           /* COSINE */
    int mode_max;             /* PLATEAU: 0 = 'min', 1 = 'max' */
    double factor;            /* PLATEAU 0.1 */
    int patience;             /* PLATEAU 10 */
    double threshold;         /* PLATEAU 1e-4, threshold_mode 'rel' */
    int cooldown;             /* PLATEAU 0 */
    double min_lr;            /* PLATEAU 0 */
} mt_sched_params;

typedef struct mt_sched mt_sched;
/* Schedule over all groups of `o`, starting from their current lr as base. */
mt_sched *mt_sched_new(mt_optim *o, const mt_sched_params *p);
void mt_sched_free(mt_sched *s);
/* Advance one epoch (scheduler.step()); `metric` is used by PLATEAU only. */
mt_status mt_sched_step(mt_sched *s, double metric);
/* State (epoch counter, plateau best/bad-epochs/cooldown) for checkpoints:
 * [0] last_epoch, [1] best, [2] num_bad_epochs, [3] cooldown_counter,
 * [4] number of plateau reductions, [5] kind, [6..7] 0. set_state checks the
 * kind and also sets every group's lr to the value the schedule had reached
 * (replayed from the base lrs, bit-identical to an uninterrupted run).
 * Schedules use torch's recursive (chainable) rules; see optim/sched.c. */
mt_status mt_sched_get_state(const mt_sched *s, double out[8]);
mt_status mt_sched_set_state(mt_sched *s, const double in[8]);

#ifdef __cplusplus
}
#endif
#endif
