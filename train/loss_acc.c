/* train/loss_acc.c: the training loss summed on the device (loss_acc.h). */
#include "loss_acc.h"

#include <math.h>

mt_status mt_loss_acc_add(mt_loss_acc *a, const mt_tensor *loss, long step)
{
    MT_REQUIRE(a && loss && mt_numel(loss) == 1 && loss->dtype == MT_REAL,
               "training loss: the task's loss must be one %s value", mt_dtype_name(MT_REAL));
    mt_device dev = loss->storage->device;
    if (a->acc && !mt_device_eq(a->acc->storage->device, dev)) {
        mt_tensor_release(a->acc);
        a->acc = NULL;
        a->n = 0;
    }
    const mt_backend *b = mt_backend_get(dev.type);
    if (!b) return mt_last_status();
    if (!a->acc) {
        int two = 2;
        if (!(a->acc = mt_tensor_zeros(MT_REAL, dev, 1, &two))) return mt_last_status();
        a->n = 0;
    }
    mt_real *acc = MT_DATA(a->acc);
    const mt_real *l = MT_DATA(loss);
    MT_TRY(b->axpy(b->ctx, dev.index, 1, (mt_real)1, l, acc));
    MT_TRY(b->copy(b->ctx, dev.index, acc + 1, l, sizeof(mt_real), dev.type == MT_CPU ? MT_H2H : MT_D2D));
    if (a->n++ == 0) a->first_step = step;
    return MT_OK;
}

mt_status mt_loss_acc_read(mt_loss_acc *a, double *sum, double *last, long *n)
{
    *sum = 0;
    *last = NAN;
    *n = a ? a->n : 0;
    if (!a || a->n == 0) return MT_OK;
    mt_real v[2];
    MT_TRY(mt_tensor_to_host(a->acc, v, sizeof v));
    *sum = (double)v[0];
    *last = (double)v[1];
    a->n = 0;
    const mt_backend *b = mt_backend_get(a->acc->storage->device.type);
    if (!b) return mt_last_status();
    return b->memset0(b->ctx, a->acc->storage->device.index, mt_data(a->acc), sizeof(mt_real));
}

mt_status mt_loss_acc_count(mt_loss_acc *a, long step)
{
    if (!a || !a->acc) return MT_ERR(MT_ERR_STATE, "training loss: no device sum to count a replayed step's loss in");
    if (a->n++ == 0) a->first_step = step;
    return MT_OK;
}

void mt_loss_acc_free(mt_loss_acc *a)
{
    if (!a) return;
    mt_tensor_release(a->acc);
    a->acc = NULL;
    a->n = 0;
}
