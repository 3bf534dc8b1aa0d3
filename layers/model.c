/* layers/model.c: running a built model (forward pass over the layer list),
 * the state_dict accessors, symbolic output shapes and the summary table
 * (layers/model.h). Building is in layers/graph.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "layer.h"

mt_tensor *mt_model_forward(mt_model *m, mt_tensor *x, int training)
{
    if (!m || !x) {
        if (!m) MT_ERR(MT_ERR_INVALID, "mt_model_forward: model is NULL");
        return NULL;
    }
    if (x->ndim != 4 || x->shape[1] != m->in_channels) {
        char b[96];
        MT_ERR(MT_ERR_INVALID, "%s: input must be [N, %d, H, W], got %s", m->file, m->in_channels,
               mt_shape_str(x, b, sizeof b));
        return NULL;
    }
    if (!mt_device_eq(x->storage->device, m->dev)) {
        char a[32], b[32];
        MT_ERR(MT_ERR_INVALID, "%s: input is on %s but the model is on %s", m->file,
               mt_device_str(x->storage->device, a, sizeof a), mt_device_str(m->dev, b, sizeof b));
        return NULL;
    }
    int nv = m->n_layers + 1;
    mt_tensor **vals = mt_calloc((size_t)nv, sizeof *vals);
    if (!vals) return NULL;
    vals[0] = mt_tensor_retain(x);
    mt_tensor *result = NULL;
    int ok = 1;
    for (int i = 0; i < m->n_layers && ok; i++) {
        mt_layer *L = &m->layers[i];
        mt_tensor *y = L->kind->forward(m, L, vals, training);
        if (!y) {
            char w[600];
            mt_yaml_where(L->spec, w, sizeof w);
            char prev[1500];
            snprintf(prev, sizeof prev, "%s", mt_last_error());
            mt_error_replace(mt_last_status() ? mt_last_status() : MT_ERR_INVALID, __FILE__, __LINE__,
                             "%s: layer '%s' (%s) failed: %s", w, L->name, L->kind->type, prev);
            ok = 0;
            break;
        }
        vals[i + 1] = y;
        /* drop values no later layer reads (autograd keeps what backward needs) */
        for (int k = 0; k < L->n_in; k++) {
            int v = L->in[k];
            if (m->last_use[v] == i && v != m->output && vals[v]) {
                mt_tensor_release(vals[v]);
                vals[v] = NULL;
            }
        }
        if (L->ref >= 0 && m->last_use[L->ref] == i && L->ref != m->output && vals[L->ref]) {
            mt_tensor_release(vals[L->ref]);
            vals[L->ref] = NULL;
        }
    }
    if (ok) result = mt_tensor_retain(vals[m->output]);
    for (int i = 0; i < nv; i++) {
        mt_tensor_release(vals[i]);
        mt_tensor_release(m->aux[i]);
        m->aux[i] = NULL;
    }
    free(vals);
    return result;
}

mt_tensor **mt_model_params(mt_model *m, int *n)
{
    *n = m->n_params;
    return m->params;
}

size_t mt_model_param_count(const mt_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n_state; i++)
        if (m->state[i].is_param) n += mt_shape_numel(m->state[i].ndim, m->state[i].shape);
    return n;
}

int mt_model_state_count(const mt_model *m) { return m->n_state; }

/* state_dict order: parameters then buffers, each in declaration order */
static int state_order(const mt_model *m, int i)
{
    int k = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int j = 0; j < m->n_state; j++)
            if (m->state[j].is_param == pass && k++ == i) return j;
    return -1;
}

const char *mt_model_state_name(const mt_model *m, int i)
{
    int j = state_order(m, i);
    return j < 0 ? NULL : m->state[j].name;
}

mt_tensor *mt_model_state_tensor(mt_model *m, int i)
{
    int j = state_order(m, i);
    return j < 0 ? NULL : m->state[j].t;
}

int mt_model_state_is_param(const mt_model *m, int i)
{
    int j = state_order(m, i);
    return j >= 0 && m->state[j].is_param;
}

void mt_model_set_trainable(mt_model *m, int trainable)
{
    for (int i = 0; i < m->n_params; i++) mt_requires_grad(m->params[i], trainable);
}

void mt_model_get_rng(const mt_model *m, uint64_t *seed, uint64_t *offset)
{
    *seed = m->dropout_rng.seed;
    *offset = m->dropout_rng.offset;
}

void mt_model_set_rng(mt_model *m, uint64_t seed, uint64_t offset)
{
    m->dropout_rng.seed = seed;
    m->dropout_rng.offset = offset;
}

mt_device mt_model_device(const mt_model *m) { return m->dev; }
int mt_model_in_channels(const mt_model *m) { return m->in_channels; }

/* shapes of every value for an input [n, c, h, w]; vals has n_layers + 1 entries */
static mt_status symbolic_shapes(const mt_model *m, int n, int c, int h, int w, mt_lshape *vals)
{
    vals[0].ndim = 4;
    vals[0].d[0] = n, vals[0].d[1] = c, vals[0].d[2] = h, vals[0].d[3] = w;
    if (c != m->in_channels)
        return MT_ERR(MT_ERR_INVALID, "%s: the model takes %d input channels, not %d", m->file, m->in_channels, c);
    for (int i = 0; i < m->n_layers; i++) {
        const mt_layer *L = &m->layers[i];
        mt_lshape *o = &vals[i + 1];
        memset(o, 0, sizeof *o);
        mt_status s = L->kind->shape(m, L, vals, o);
        if (s != MT_OK) return s;
        for (int d = 0; d < o->ndim; d++)
            if (o->d[d] <= 0) {
                char wb[600];
                return MT_ERR(MT_ERR_INVALID, "%s: layer '%s' (%s) would produce an empty output (dimension %d is %d) for input %dx%d",
                              mt_yaml_where(L->spec, wb, sizeof wb), L->name, L->kind->type, d, o->d[d], h, w);
            }
    }
    return MT_OK;
}

mt_status mt_model_output_shape(const mt_model *m, int n, int c, int h, int w, int *ndim, int shape[4])
{
    mt_lshape *vals = mt_calloc((size_t)m->n_layers + 1, sizeof *vals);
    if (!vals) return MT_ERR_NOMEM;
    mt_status s = symbolic_shapes(m, n, c, h, w, vals);
    if (s == MT_OK) {
        *ndim = vals[m->output].ndim;
        for (int i = 0; i < 4; i++) shape[i] = i < *ndim ? vals[m->output].d[i] : 0;
    }
    free(vals);
    return s;
}

mt_status mt_model_layer_output_shape(const mt_model *m, const char *layer, int n, int c, int h, int w, int *ndim,
                                      int shape[4])
{
    int idx = -1;
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i].name, layer)) idx = i + 1;
    if (idx < 0) return MT_ERR(MT_ERR_INVALID, "%s: no layer named '%s'", m->file, layer);
    mt_lshape *vals = mt_calloc((size_t)m->n_layers + 1, sizeof *vals);
    if (!vals) return MT_ERR_NOMEM;
    mt_status s = symbolic_shapes(m, n, c, h, w, vals);
    if (s == MT_OK) {
        *ndim = vals[idx].ndim;
        for (int i = 0; i < 4; i++) shape[i] = i < *ndim ? vals[idx].d[i] : 0;
    }
    free(vals);
    return s;
}

mt_status mt_model_summary(const mt_model *m, int in_c, int in_h, int in_w, char **text_out)
{
    *text_out = NULL;
    mt_lshape *vals = mt_calloc((size_t)m->n_layers + 1, sizeof *vals);
    if (!vals) return MT_ERR_NOMEM;
    mt_status s = symbolic_shapes(m, 1, in_c, in_h, in_w, vals);
    size_t cap = 256 + (size_t)m->n_layers * 128, used = 0;
    char *t = s == MT_OK ? mt_malloc(cap) : NULL;
    if (s == MT_OK && !t) s = MT_ERR_NOMEM;
    if (s == MT_OK) {
        used += (size_t)snprintf(t + used, cap - used, "%-4s %-16s %-18s %-20s %14s\n", "#", "layer", "type", "output (C,H,W)", "params");
        size_t total = 0;
        for (int i = 0; i < m->n_layers; i++) {
            const mt_layer *L = &m->layers[i];
            size_t np = 0;
            for (int k = 0; k < L->n_state; k++)
                if (m->state[L->state[k]].is_param) np += mt_shape_numel(m->state[L->state[k]].ndim, m->state[L->state[k]].shape);
            total += np;
            const mt_lshape *o = &vals[i + 1];
            char shp[64];
            if (o->ndim == 4) snprintf(shp, sizeof shp, "%d x %d x %d", o->d[1], o->d[2], o->d[3]);
            else snprintf(shp, sizeof shp, "%d", o->d[1]);
            used += (size_t)snprintf(t + used, cap - used, "%-4d %-16s %-18s %-20s %14zu\n", i + 1, L->name, L->kind->type, shp, np);
        }
        snprintf(t + used, cap - used, "total trainable parameters: %zu\n", total);
    }
    free(vals);
    if (s != MT_OK) {
        free(t);
        return s;
    }
    *text_out = t;
    return MT_OK;
}
