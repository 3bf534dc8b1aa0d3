/* layers/max_unpool2d.c: `type: max_unpool2d` (torch.nn.MaxUnpool2d; the
 * DeconvNet / SegNet "unpooling" with switches). Attribute indices: the name of
 * the max_pool2d layer whose argmax positions are used; the output has that
 * pool's input size (DeconvNet's unpool_size), zeros except at the switches. */
#include "layer.h"

extern const mt_layer_kind mt_layer_max_pool2d;

static mt_status unpool_setup(mt_model *m, mt_layer *L)
{
    MT_TRY(mt_layer_lookup(m, L, "indices", &L->ref));
    if (L->ref == 0 || m->layers[L->ref - 1].kind != &mt_layer_max_pool2d)
        return mt_layer_error(L, "indices", "must name a max_pool2d layer");
    m->layers[L->ref - 1].keep_aux = 1;
    int pool_c = m->layers[L->ref - 1].cout;
    if (pool_c > 0 && L->cin[0] > 0 && pool_c != L->cin[0])
        return mt_layer_error(L, "indices", "pool '%s' has %d channels but the input has %d", m->layers[L->ref - 1].name,
                              pool_c, L->cin[0]);
    return MT_OK;
}

static mt_status unpool_shape(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *o)
{
    const mt_lshape *x = &vals[L->in[0]], *pooled = &vals[L->ref];
    const mt_lshape *before = &vals[m->layers[L->ref - 1].in[0]];
    if (x->ndim != 4 || x->d[2] != pooled->d[2] || x->d[3] != pooled->d[3])
        return mt_layer_error(L, NULL, "input %dx%d does not match the pool output %dx%d", x->d[2], x->d[3],
                              pooled->d[2], pooled->d[3]);
    *o = *x;
    o->d[2] = before->d[2];
    o->d[3] = before->d[3];
    return MT_OK;
}

static mt_tensor *unpool_forward(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training)
{
    const mt_layer *pool = &m->layers[L->ref - 1];
    mt_tensor *idx = m->aux[L->ref];
    if (!idx) {
        MT_ERR(MT_ERR_STATE, "max_unpool2d '%s': indices of '%s' not available", L->name, pool->name);
        return NULL;
    }
    return mt_max_unpool2d(vals[L->in[0]], idx, pool->aux_hw[0], pool->aux_hw[1]);
}

const mt_layer_kind mt_layer_max_unpool2d = {
    "max_unpool2d", "indices", 1, 1, unpool_setup, unpool_shape, NULL, unpool_forward,
};
