/* tests/dataset_util.c: dataset helpers the float32 test files share (test.h); not in the
 * float64 gradient-check binary, which has no data/ layer. */
#include "../data/dataset.h"
#include "test.h"

int mt_test_dataset_close(struct mt_dataset_writer *w, int ok, double val_frac, double test_frac)
{
    if (!ok) {
        mt_dataset_writer_close(w, 0, 0, 0, 0);
        return 0;
    }
    return mt_dataset_writer_close(w, 1, val_frac, test_frac, 0) == MT_OK;
}
