/* tests/test_autograd.c: the autograd engine on relu graphs: fan-out
 * accumulation, frozen inputs, retain_grad on intermediates, no-grad mode,
 * double backward without retain_graph failing cleanly. */
#include "../core/device.h"
#include "../core/ops.h"
#include <string.h>

#include "test.h"

static mt_tensor *vec(const mt_real *v, int n)
{
    int s[1] = {n};
    return mt_tensor_from_host(mt_cpu(), 1, s, v);
}

TEST(autograd_relu_forward_backward)
{
    mt_real xv[5] = {-2, -0.5, 0, 0.5, 3};
    mt_tensor *x = vec(xv, 5);
    CHECK_NOTNULL(x);
    mt_requires_grad(x, 1);
    mt_tensor *y = mt_relu(x);
    CHECK_NOTNULL(y);
    mt_real *yv = MT_DATA(y);
    CHECK(yv[0] == 0 && yv[2] == 0 && yv[3] == (mt_real)0.5 && yv[4] == 3, "relu values wrong");
    mt_real gv[5] = {1, 2, 3, 4, 5};
    mt_tensor *g = vec(gv, 5);
    CHECK_OK(mt_backward(y, g, 0));
    CHECK_NOTNULL(x->grad);
    mt_real *dx = MT_DATA(x->grad);
    CHECK(dx[0] == 0 && dx[1] == 0 && dx[2] == 0 && dx[3] == 4 && dx[4] == 5, "relu grad wrong: %g %g %g %g %g",
          (double)dx[0], (double)dx[1], (double)dx[2], (double)dx[3], (double)dx[4]);
    /* second backward through a released graph must fail, not crash */
    CHECK(mt_backward(y, g, 0) == MT_ERR_STATE, "double backward should fail with MT_ERR_STATE");
    mt_error_clear();
    mt_tensor_release(y);
    mt_tensor_release(g);
    mt_tensor_release(x);
}

TEST(autograd_fan_out_accumulates)
{
    /* y = relu(x) used twice: z1 = relu(y), z2 = relu(y); backward both with retain */
    mt_real xv[3] = {1, -1, 2};
    mt_tensor *x = vec(xv, 3);
    mt_requires_grad(x, 1);
    mt_tensor *y = mt_relu(x);
    y->retain_grad = 1;
    mt_tensor *z1 = mt_relu(y), *z2 = mt_relu(y);
    mt_real ones[3] = {1, 1, 1};
    mt_tensor *g = vec(ones, 3);
    CHECK_OK(mt_backward(z1, g, 1));
    CHECK_OK(mt_backward(z2, g, 1));
    mt_real *dx = MT_DATA(x->grad), *dy = MT_DATA(y->grad);
    CHECK(dx[0] == 2 && dx[1] == 0 && dx[2] == 2, "fan-out grad should accumulate to 2: %g %g %g", (double)dx[0],
          (double)dx[1], (double)dx[2]);
    CHECK(dy[0] == 2 && dy[2] == 2, "retained intermediate grad wrong");
    mt_tensor_release(z1);
    mt_tensor_release(z2);
    mt_tensor_release(y);
    mt_tensor_release(g);
    mt_tensor_release(x);
}

TEST(autograd_no_grad_and_frozen)
{
    mt_real xv[2] = {1, 2};
    mt_tensor *x = vec(xv, 2);
    mt_requires_grad(x, 1);
    int prev = mt_set_grad_enabled(0);
    mt_tensor *y = mt_relu(x);
    mt_set_grad_enabled(prev);
    CHECK(y && !y->requires_grad && !y->grad_fn, "no-grad mode must not record a graph");
    mt_tensor *frozen = vec(xv, 2); /* requires_grad = 0 */
    mt_tensor *z = mt_relu(frozen);
    CHECK(z && !z->requires_grad, "output of frozen input must not require grad");
    mt_tensor_release(y);
    mt_tensor_release(z);
    mt_tensor_release(frozen);
    mt_tensor_release(x);
    CHECK(mt_alloc_in_use(MT_CPU) < (1u << 20), "tensors leaked: %zu bytes in use", mt_alloc_in_use(MT_CPU));
}

TEST(autograd_sticky_null_propagates)
{
    mt_error_clear();
    MT_ERR(MT_ERR_IO, "first failure");
    mt_tensor *y = mt_relu(NULL);
    CHECK(y == NULL, "NULL input must give NULL");
    CHECK(strstr(mt_last_error(), "first failure") != NULL, "first error must be kept: %s", mt_last_error());
    mt_error_clear();
}

TEST(device_parse)
{
    mt_device d;
    CHECK_OK(mt_device_parse("cuda:3", &d));
    CHECK(d.type == MT_CUDA && d.index == 3, "cuda:3 parsed wrong");
    CHECK_OK(mt_device_parse("cpu", &d));
    CHECK(d.type == MT_CPU, "cpu parsed wrong");
    CHECK(mt_device_parse("gpu", &d) == MT_ERR_INVALID, "gpu must be rejected");
    CHECK(strstr(mt_last_error(), "cuda:N") != NULL, "message must list the allowed forms");
    mt_error_clear();
}
