/* layers/max_unpool2d.c: `type: max_unpool2d` (torch.nn.MaxUnpool2d with
 * output_size; the DeconvNet / SegNet "unpooling" with switches). Attribute
 * indices: the `indices` port of the max_pool2d whose argmax positions are
 * used ("pool1.indices"; a bare pool name means its indices too). The output
 * has that pool's input size (DeconvNet's unpool_size: 75, 38, 19 are not 2x
 * the pooled size), zeros except at the switches. The switches are values of
 * this forward pass (not state of the model), so one model can run several
 * forwards at once. */
#include <string.h>

#include "layer.h"

extern const mt_layer_kind mt_layer_max_pool2d;

static mt_status unpool_setup(mt_model *m, mt_layer *L)
{
    const char *r = mt_layer_get_str(L, "indices");
    if (!r) return mt_layer_error(L, NULL, "needs indices: <max_pool2d layer>.indices");
    int slot, port;
    MT_TRY(mt_layer_ref(m, L, "indices", &slot));
    int v = L->in[slot];
    const mt_layer *pool = mt_value_layer(m, v, &port);
    if (!pool || pool->kind != &mt_layer_max_pool2d)
        return mt_layer_error(L, "indices", "must name the indices of a max_pool2d layer (e.g. pool1.indices)");
    if (port == 0) L->in[slot] = pool->out + 1; /* "pool1" -> "pool1.indices" */
    /* the pool's input: its H, W are the output size */
    MT_TRY(mt_layer_read_value(m, L, pool->in[0], NULL));
    if (pool->cout[0] > 0 && L->cin[0] > 0 && pool->cout[0] != L->cin[0])
        return mt_layer_error(L, "indices", "pool '%s' has %d channels but the input has %d", pool->name, pool->cout[0],
                              L->cin[0]);
    return MT_OK;
}

static mt_status unpool_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const mt_tensor *x = in[0], *idx = in[1], *before = in[2];
    if (x->ndim != 4 || idx->ndim != 4 || x->shape[2] != idx->shape[2] || x->shape[3] != idx->shape[3]) {
        char a[96], b[96];
        return mt_layer_error(L, "indices", "input %s does not match the pool output %s", mt_shape_str(x, a, sizeof a),
                              mt_shape_str(idx, b, sizeof b));
    }
    return mt_layer_out1(out, mt_max_unpool2d(in[0], in[1], before->shape[2], before->shape[3]));
}

const mt_layer_kind mt_layer_max_unpool2d = {
    "max_unpool2d", "indices", "", 1, 1, unpool_setup, NULL, unpool_forward,
};
