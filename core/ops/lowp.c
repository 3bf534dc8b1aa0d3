/* core/ops/lowp.c: the widening wrappers of lowp.h: a kernel given MT_BF16 /
 * MT_F16 inputs runs its float32 body on MT_REAL copies and rounds what it
 * produces back to the inputs' precision. Scratch tensors come from the
 * caching allocator (core/alloc.h), so a training step allocates nothing from
 * the backend after its first step. */
#include "lowp.h"

static int is_low(const mt_tensor *t) { return t && mt_lowp_dtype(t->dtype); }

mt_dtype mt_lowp_node_dtype(const mt_node *n)
{
    for (int j = 0; j < n->n_in; j++)
        if (is_low(n->in[j])) return n->in[j]->dtype;
    return MT_REAL;
}

/* an MT_REAL tensor of t's shape and device holding t's values (or, with
 * `via`, t's MT_REAL values rounded to via's precision) */
static mt_tensor *widened(const mt_tensor *t, mt_dtype via)
{
    mt_tensor *w = mt_tensor_new(MT_REAL, t->storage->device, t->ndim, t->shape);
    if (!w) return NULL;
    mt_status s = via == MT_REAL ? mt_cast_buffer(t->storage->device, mt_data(w), MT_REAL, mt_data(t), t->dtype, mt_numel(t))
                                 : mt_round_buffer(t->storage->device, mt_data(w), mt_data(t), via, mt_numel(t));
    if (s != MT_OK) {
        mt_tensor_release(w);
        return NULL;
    }
    return w;
}

/* swaps the low-precision inputs (and, in backward, the incoming gradients)
 * for MT_REAL copies; `orig_*` receive what was there */
static mt_status widen_node(mt_node *n, mt_dtype dt, int backward, mt_tensor **orig_in, mt_tensor **orig_gout)
{
    for (int j = 0; j < n->n_in; j++) {
        orig_in[j] = NULL;
        if (!is_low(n->in[j])) continue;
        MT_REQUIRE(n->in[j]->dtype == dt, "%s: input %d is %s but another input is %s; cast all to one type",
                   n->op->name, j, mt_dtype_name(n->in[j]->dtype), mt_dtype_name(dt));
        mt_tensor *w = widened(n->in[j], MT_REAL);
        if (!w) return mt_last_status();
        orig_in[j] = n->in[j];
        n->in[j] = w;
    }
    for (int k = 0; backward && k < n->n_out; k++) {
        orig_gout[k] = NULL;
        if (!n->gout[k] || n->gout[k]->dtype != MT_REAL) continue;
        mt_tensor *r = widened(n->gout[k], dt);
        if (!r) return mt_last_status();
        orig_gout[k] = n->gout[k];
        n->gout[k] = r;
    }
    return MT_OK;
}

static void restore_node(mt_node *n, int backward, mt_tensor **orig_in, mt_tensor **orig_gout)
{
    for (int j = 0; j < n->n_in; j++)
        if (orig_in[j]) {
            mt_tensor_release(n->in[j]);
            n->in[j] = orig_in[j];
        }
    for (int k = 0; backward && k < n->n_out; k++)
        if (orig_gout[k]) {
            mt_tensor_release(n->gout[k]);
            n->gout[k] = orig_gout[k];
        }
}

static mt_status run_widened(mt_node *n, mt_kernel_fn body, int backward)
{
    const mt_dtype dt = mt_lowp_node_dtype(n);
    if (dt == MT_REAL) return body(n);
    mt_tensor *orig_in[MT_MAX_IN] = {0}, *orig_gout[MT_MAX_OUT] = {0};
    mt_status s = widen_node(n, dt, backward, orig_in, orig_gout);
    if (s == MT_OK) s = body(n);
    restore_node(n, backward, orig_in, orig_gout);
    MT_TRY(s);
    if (!backward) {
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k]->dtype == MT_REAL)
                MT_TRY(mt_round_buffer(n->out[k]->storage->device, mt_data(n->out[k]), mt_data(n->out[k]), dt,
                                       mt_numel(n->out[k])));
    } else {
        for (int j = 0; j < n->n_in; j++)
            if (is_low(n->in[j]) && n->gin[j] && n->gin[j]->dtype == MT_REAL)
                MT_TRY(mt_round_buffer(n->gin[j]->storage->device, mt_data(n->gin[j]), mt_data(n->gin[j]),
                                       n->in[j]->dtype, mt_numel(n->gin[j])));
    }
    return MT_OK;
}

mt_status mt_lowp_forward(mt_node *n, mt_kernel_fn body) { return run_widened(n, body, 0); }

mt_status mt_lowp_backward(mt_node *n, mt_kernel_fn body) { return run_widened(n, body, 1); }
