/* train/loss_acc.h: the training loss summed on the device between reads
 * (issue 13's lean step). A step adds its loss with one device axpy and one
 * device copy, no allocation and no read-back; the trainer reads the sum and
 * the last step's loss with one device-to-host copy at log steps and at the
 * end of an epoch (PyTorch's pattern of `running_loss += loss.detach()` and
 * `.item()` every log_every steps). The sum between reads is in float on the
 * device, then added to the trainer's double total. */
#ifndef MT_LOSS_ACC_H
#define MT_LOSS_ACC_H

#include "../core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_loss_acc {
    mt_tensor *acc;  /* [2] on the loss's device: sum of the losses since the last read, the last loss */
    long n;          /* losses summed since the last read */
    long first_step; /* 1-based step of the first of them (error messages) */
} mt_loss_acc;

/* Adds the one-element `loss` of 1-based step `step` (acc created on its device
 * at the first call). Errors: a loss that is not one value, a device change. */
mt_status mt_loss_acc_add(mt_loss_acc *a, const mt_tensor *loss, long step);
/* Reads (one device-to-host copy) and clears: *sum of the losses since the last
 * read, *last the latest one, *n how many (0: nothing read, *sum = 0, *last NaN). */
mt_status mt_loss_acc_read(mt_loss_acc *a, double *sum, double *last, long *n);
/* The host half of mt_loss_acc_add for a step whose device half ran inside a
 * replayed CUDA graph (the graph's axpy and copy into acc): counts the loss of
 * 1-based step `step`. MT_ERR_STATE when acc does not exist yet. */
mt_status mt_loss_acc_count(mt_loss_acc *a, long step);
void mt_loss_acc_free(mt_loss_acc *a);

#ifdef __cplusplus
}
#endif
#endif
