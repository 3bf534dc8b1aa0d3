/* tests/gradcheck_detect.c: float64 central finite differences for the ops the
 * YOLOv5 loss added: atan and index_select (repeated indices: scatter-add).
 * (The loss itself is checked against torch autograd in tests/test_detect.c:
 * its detached parts, CIoU's alpha and the objectness targets, make a finite
 * difference of the loss differ from its gradient by design.) */
#include "../core/ops.h"
#include "gradcheck.h"
#include "test.h"

static mt_tensor *run_atan(mt_tensor **in, const void *ctx) { return mt_atan(in[0]); }
static mt_tensor *run_index_select(mt_tensor **in, const void *ctx) { return mt_index_select(in[0], in[1]); }

TEST(gradcheck_detect_atan)
{
    int shape[2] = {6, 5};
    mt_tensor *x = gc_randu(2, shape, 901, -4, 4, NULL, 0, 1);
    CHECK_NOTNULL(x);
    gc_check1(T_, "atan", run_atan, NULL, &x, 1, 902);
    mt_tensor_release(x);
}

TEST(gradcheck_detect_index_select)
{
    int shape[3] = {5, 3, 2}, ishape[1] = {8};
    const int32_t idx[8] = {4, 0, 4, 1, 4, 2, 0, 3};
    mt_tensor *x = gc_randu(3, shape, 903, -2, 2, NULL, 0, 1);
    mt_tensor *ix = mt_tensor_new(MT_I32, mt_cpu(), 1, ishape);
    CHECK_NOTNULL(x);
    CHECK_NOTNULL(ix);
    CHECK_OK(mt_tensor_from_host_into(ix, idx, sizeof idx));
    mt_tensor *in[2] = {x, ix};
    gc_check1(T_, "index_select", run_index_select, NULL, in, 2, 904);
    mt_tensor_release(x);
    mt_tensor_release(ix);
}
