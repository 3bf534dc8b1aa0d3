/* tests/test_autograd_memory.c: what the autograd graph keeps alive (docs/design.md,
 * Autograd: memory), counted in bytes with the caching allocator's in-use counter:
 *   - a conv output that only feeds a relu is freed when the caller releases it
 *     (conv2d's backward does not read its output, relu's not its input: both
 *     nodes hold shape-only stand-ins), and the gradients equal those of a run
 *     where the caller keeps it;
 *   - backward without retain_graph frees every activation as it passes, while
 *     the caller still holds the loss: left are the parameters, the input, their
 *     gradients and the loss; a second backward fails cleanly. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/device.h"
#include "../core/ops.h"
#include "test.h"

static size_t block_of(size_t bytes) { return (bytes + 511) / 512 * 512; } /* core/alloc.c rounding */

static mt_tensor *filled(int ndim, const int *shape, unsigned seed)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    mt_real *v = malloc(n * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) v[i] = (mt_real)((int)((i * 2654435761u + seed) % 2001u) - 1000) / 1000;
    mt_tensor *t = mt_tensor_from_host(mt_cpu(), ndim, shape, v);
    free(v);
    return t;
}

/* relu(conv(x, w, b)) summed; keep_y: the caller holds the conv output until backward. */
static mt_status conv_relu_grads(mt_tensor *x, mt_tensor *w, mt_tensor *b, int keep_y, size_t *freed_on_release)
{
    mt_tensor *y = mt_conv2d(x, w, b, mt_conv2d_default());
    mt_tensor *r = y ? mt_relu(y) : NULL;
    if (!r) {
        mt_tensor_release(y);
        return mt_last_status();
    }
    size_t before = mt_alloc_in_use(MT_CPU);
    if (!keep_y) mt_tensor_release(y);
    *freed_on_release = before - mt_alloc_in_use(MT_CPU);
    mt_tensor *s = mt_sum_all(r);
    mt_status st = s ? mt_backward(s, NULL, 0) : mt_last_status();
    mt_tensor_release(s);
    mt_tensor_release(r);
    if (keep_y) mt_tensor_release(y);
    return st;
}

TEST(autograd_memory_conv_output_freed_before_backward)
{
    int xs[4] = {2, 3, 16, 16}, ws[4] = {4, 3, 3, 3}, bs[1] = {4};
    mt_tensor *x = filled(4, xs, 1), *w = filled(4, ws, 2), *b = filled(1, bs, 3);
    CHECK(x && w && b, "setup: %s", mt_last_error());
    mt_requires_grad(x, 1);
    mt_requires_grad(w, 1);
    mt_requires_grad(b, 1);
    size_t freed = 0;
    CHECK_OK(conv_relu_grads(x, w, b, 1, &freed));
    CHECK(freed == 0, "nothing is released yet, %zu bytes freed", freed);
    size_t nx = mt_numel(x), nw = mt_numel(w);
    mt_real *gx = malloc(nx * sizeof *gx), *gw = malloc(nw * sizeof *gw), gb[4];
    CHECK(gx && gw, "out of memory");
    memcpy(gx, MT_DATA(x->grad), nx * sizeof *gx);
    memcpy(gw, MT_DATA(w->grad), nw * sizeof *gw);
    memcpy(gb, MT_DATA(b->grad), sizeof gb);
    mt_clear_grad(x);
    mt_clear_grad(w);
    mt_clear_grad(b);
    mt_status st = conv_relu_grads(x, w, b, 0, &freed);
    const size_t y_bytes = block_of(2 * 4 * 14 * 14 * sizeof(mt_real));
    int same = st == MT_OK && !memcmp(gx, MT_DATA(x->grad), nx * sizeof *gx) &&
               !memcmp(gw, MT_DATA(w->grad), nw * sizeof *gw) && !memcmp(gb, MT_DATA(b->grad), sizeof gb);
    free(gx);
    free(gw);
    CHECK_OK(st);
    CHECK(freed == y_bytes, "releasing the conv output freed %zu bytes, expected its %zu (graph kept it)", freed,
          y_bytes);
    CHECK(same, "gradients differ when the conv output is not kept");
    mt_tensor_release(x);
    mt_tensor_release(w);
    mt_tensor_release(b);
}

TEST(autograd_memory_backward_frees_activations)
{
    enum { L = 3 };
    int xs[4] = {2, 4, 20, 20}, ws[4] = {4, 4, 3, 3}, bs[1] = {4};
    size_t base = mt_alloc_in_use(MT_CPU);
    mt_tensor *x = filled(4, xs, 5), *w[L], *b[L];
    CHECK_NOTNULL(x);
    for (int l = 0; l < L; l++) {
        w[l] = filled(4, ws, 10u + (unsigned)l);
        b[l] = filled(1, bs, 20u + (unsigned)l);
        CHECK(w[l] && b[l], "setup: %s", mt_last_error());
        mt_requires_grad(w[l], 1);
        mt_requires_grad(b[l], 1);
    }
    size_t leaves = mt_alloc_in_use(MT_CPU) - base;
    mt_conv2d_params p = mt_conv2d_default();
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    mt_tensor *h = mt_tensor_retain(x);
    for (int l = 0; l < L && h; l++) {
        mt_tensor *y = mt_conv2d(h, w[l], b[l], p);
        mt_tensor_release(h);
        h = y ? mt_relu(y) : NULL;
        mt_tensor_release(y);
    }
    CHECK_NOTNULL(h);
    mt_tensor *loss = mt_mean_all(h);
    mt_tensor_release(h);
    CHECK_NOTNULL(loss);
    const size_t act = block_of(2 * 4 * 20 * 20 * sizeof(mt_real));
    /* before backward: the leaves, the L relu outputs (conv outputs freed) and the loss */
    CHECK(mt_alloc_in_use(MT_CPU) - base == leaves + L * act + 512, "in use %zu before backward, expected %zu",
          mt_alloc_in_use(MT_CPU) - base, leaves + L * act + 512);
    CHECK_OK(mt_backward(loss, NULL, 0));
    size_t grads = 0;
    for (int l = 0; l < L; l++) {
        CHECK(w[l]->grad && b[l]->grad, "layer %d got no gradient", l);
        grads += block_of(mt_nbytes(w[l]->grad)) + block_of(mt_nbytes(b[l]->grad));
    }
    CHECK(mt_alloc_in_use(MT_CPU) - base == leaves + grads + 512,
          "in use %zu after backward with the loss still held, expected %zu (leaves %zu, grads %zu, loss 512)",
          mt_alloc_in_use(MT_CPU) - base, leaves + grads + 512, leaves, grads);
    CHECK_FAILS(mt_backward(loss, NULL, 0), MT_ERR_STATE, "second time");
    mt_tensor_release(loss);
    mt_tensor_release(x);
    for (int l = 0; l < L; l++) {
        mt_tensor_release(w[l]);
        mt_tensor_release(b[l]);
    }
    CHECK(mt_alloc_in_use(MT_CPU) == base, "%zu bytes leaked", mt_alloc_in_use(MT_CPU) - base);
}
