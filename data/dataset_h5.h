/* data/dataset_h5.h: internal helpers shared by data/dataset.c (writer) and
 * data/dataset_read.c (reader). Not a public API. */
#ifndef MT_DATA_DATASET_H5_H
#define MT_DATA_DATASET_H5_H

#include <hdf5.h>
#include <pthread.h>

#include "dataset.h"

/* Debian's libhdf5 is the serial build: every HDF5 call of the dataset code holds this lock. */
extern pthread_mutex_t mt_dataset_h5_lock;

/* Records MT_ERR_IO "<path>: <what> failed: <HDF5's innermost message>" at file:line. */
mt_status mt_dataset_h5_fail(const char *file, int line, const char *path, const char *what);
/* Turns off HDF5's automatic error printing (errors are reported through MT_ERR). */
void mt_dataset_h5_quiet(void);
/* Closes any HDF5 id (file, group, dataset, space, type, attribute, property list); <0 is a no-op. */
void mt_dataset_h5_close(hid_t id);
/* A variable-length UTF-8 string type (close with H5Tclose); <0 on failure. */
hid_t mt_dataset_h5_vlen_str(void);
/* "channel_names", "mask_names", "class_names" -> 0, 1, 2; -1 otherwise. */
int mt_dataset_name_kind(const char *which);

extern const char *const mt_dataset_split_names[3];  /* "train", "val", "test" */

/* Inside a function with `mt_status st`, `const char *path_` and a `fail:` label. */
#define H5CHK(expr)                                                              \
    do {                                                                         \
        if ((expr) < 0) {                                                        \
            st = mt_dataset_h5_fail(__FILE__, __LINE__, path_, #expr);           \
            goto fail;                                                           \
        }                                                                        \
    } while (0)

#endif
