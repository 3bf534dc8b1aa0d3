/* layers/h5_quiet.h: silences HDF5's own stderr error stack around calls whose
 * failures medtrain reports itself (with the file name and what to do), and
 * restores the previous handler afterwards. Used by the checkpoint and
 * pretrained-weight readers. */
#ifndef MT_H5_QUIET_H
#define MT_H5_QUIET_H

#include <hdf5.h>

typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static inline void quiet_on(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static inline void quiet_off(const h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

#endif
