/* optim/optim_internal.h (internal to optim/): the optimizer's structure,
 * shared by optim/optim.c (groups, state, step) and optim/flat.c (each
 * group's flat gradient and state buffers, the fused multi-tensor update). */
#ifndef MT_OPTIM_INTERNAL_H
#define MT_OPTIM_INTERNAL_H

#include "optim.h"

#define N_SLOTS 4

typedef struct opt_param {
    mt_tensor *p;             /* retained */
    int group;
    size_t flat_off;          /* element offset of this parameter in its group's flat buffers */
    mt_tensor *slot[N_SLOTS]; /* state tensors (NULL until created), see slot_names */
} opt_param;

typedef struct opt_group {
    mt_optim_hparams h;
    int first, count;                /* the group's parameters: params[first .. first + count) */
    size_t numel;                    /* their total number of elements */
    mt_tensor *grad_flat;            /* [numel]: every parameter's grad_home is a view into it; NULL when
                                      * the parameters are not all on one device or one already had a home */
    mt_tensor *state_flat[N_SLOTS];  /* [numel] per state slot (not "step"), created with the first state */
    int contiguous;                  /* the parameters are consecutive views of one storage (a model's
                                      * parameter block), in order: one update can run over all of them */
    struct mt_optim_dev_scalars *dev; /* device-resident step scalars (optim/scalars.h) on the parameters'
                                       * device, from the caching allocator; NULL when they are off */
    int dev_stale;                    /* 1: the group was last updated per parameter from host scalars: its
                                       * parameters' host "step" states are current, the block's count is not */
} opt_group;

struct mt_optim {
    mt_optim_kind kind;
    opt_group *groups;
    int n_groups;
    opt_param *params;
    int n_params;
    long steps;
    int fused;         /* 1 (default): fused update of a group when possible (mt_optim_set_fused) */
    long fused_updates; /* group updates that ran fused (mt_optim_fused_updates) */
    mt_tensor **index; /* flat list of existing state tensors, rebuilt by state_count */
    int n_index;
    int dev_scalars;      /* 1: step scalars live in device memory (mt_optim_set_device_scalars) */
    mt_tensor *found_inf; /* retained; its value nonzero skips the step (mt_optim_set_found_inf); NULL = none */
};

/* 1 if slot k of this optimizer is the 0-d CPU "step" counter (Adam, AdamW, Adadelta slot 0). */
static inline int optim_is_step_slot(const mt_optim *o, int k) { return k == 0 && o->kind != MT_OPTIM_SGD; }

/* optim/flat.c */
/* Creates group g's flat gradient buffer and makes each parameter's grad_home a
 * view into it (an existing .grad is copied into its view, which becomes .grad). */
mt_status optim_flat_attach(mt_optim *o, int g);
/* Drops the grad_home views of o's parameters that point into o's buffers. */
void optim_flat_detach(mt_optim *o);
/* A new view [like's shape] at element offset `off` of the 1-d block. */
mt_tensor *optim_flat_view(mt_tensor *block, size_t off, const mt_tensor *like);
/* New zeroed state tensor for slot k of parameter q: a view into its group's
 * flat state buffer (created on first use) when the group has flat buffers. */
mt_tensor *optim_flat_new_slot(mt_optim *o, opt_param *q, int k);
/* 1 when group g can take one fused update this step: flat buffers, contiguous
 * parameters, every .grad its home view, state all present (same step count) or
 * all absent (*first = 1). */
int optim_flat_fusable(const mt_optim *o, int g, int *first);
/* Zeroes group g's gradients: one memset of the flat buffer, plus any .grad
 * that is not its home view. */
mt_status optim_flat_zero_grad(mt_optim *o, int g);


/* optim/dev_scalars.c (device-resident step scalars, optim/scalars.h) */
/* The fused update of group g from its device block: prepare (step count, found_inf) then
 * the element-wise kernel, no host read. first: SGD's momentum buffer was just created. */
mt_status optim_dev_step_group(mt_optim *o, int g, int first);
/* Writes group g's h.lr into its block (after mt_optim_set_lr). */
mt_status optim_dev_write_lr(mt_optim *o, int g);
/* Writes group g's step count (every group's for g = -1) from its first parameter's host
 * "step" state into its block (after a state load, or a per-parameter update). */
mt_status optim_dev_write_steps(mt_optim *o, int g);
/* Gives the blocks back to the allocator. */
void optim_dev_free(mt_optim *o);
#endif
