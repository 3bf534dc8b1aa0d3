/* layers/model.c: running a built model (forward pass over the layer list),
 * the state_dict accessors, symbolic output shapes and the summary table
 * (layers/model.h). Building is in layers/graph.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "layer.h"

/* Runs the layers in order. vals has m->n_values entries (all NULL but
 * vals[0] = x on entry); with keep_all every value stays (summaries), else a
 * value is released after its last reader (autograd keeps what backward needs). */
static mt_status run_layers(mt_model *m, mt_tensor **vals, mt_fwd *f, int keep_all)
{
    mt_tensor *in[MT_LAYER_MAX_IN];
    for (int i = 0; i < m->n_layers; i++) {
        mt_layer *L = &m->layers[i];
        for (int k = 0; k < L->n_in; k++) in[k] = vals[L->in[k]];
        mt_tensor **out = &vals[L->out];
        mt_status s = L->kind->forward(m, L, in, out, f);
        for (int p = 0; s == MT_OK && p < L->n_out; p++)
            if (!out[p]) s = MT_ERR(MT_ERR_INVALID, "output %d missing", p);
        for (int p = 0; s == MT_OK && p < L->n_out; p++)
            for (int d = 0; d < out[p]->ndim; d++)
                if (out[p]->shape[d] <= 0) {
                    char b1[96], b2[96];
                    s = MT_ERR(MT_ERR_INVALID, "output %d would be empty: %s (input %s)", p,
                               mt_shape_str(out[p], b1, sizeof b1), mt_shape_str(vals[0], b2, sizeof b2));
                    break;
                }
        if (s != MT_OK) {
            char w[600], prev[1500];
            mt_yaml_where(L->spec, w, sizeof w);
            snprintf(prev, sizeof prev, "%s", mt_last_error());
            return mt_error_replace(s, __FILE__, __LINE__, "%s: layer '%s' (%s) failed: %s", w, L->name, L->kind->type, prev);
        }
        if (keep_all) continue;
        for (int k = 0; k < L->n_in; k++) {
            int v = L->in[k];
            if (m->last_use[v] == i && vals[v]) {
                mt_tensor_release(vals[v]);
                vals[v] = NULL;
            }
        }
    }
    return MT_OK;
}

static mt_status check_input(const mt_model *m, const mt_tensor *x)
{
    if (!m) return MT_ERR(MT_ERR_INVALID, "model is NULL");
    if (!x) return mt_last_status() != MT_OK ? mt_last_status() : MT_ERR(MT_ERR_INVALID, "input is NULL");
    if (x->ndim < 2 || x->shape[1] != m->in_channels) {
        char b[96];
        return MT_ERR(MT_ERR_INVALID, "%s: input must be [N, %d, ...] (NCHW), got %s", m->file, m->in_channels,
                      mt_shape_str(x, b, sizeof b));
    }
    if (!mt_tensor_is_meta(x) && !mt_device_eq(x->storage->device, m->dev)) {
        char a[32], b[32];
        return MT_ERR(MT_ERR_INVALID, "%s: input is on %s but the model is on %s", m->file,
                      mt_device_str(x->storage->device, a, sizeof a), mt_device_str(m->dev, b, sizeof b));
    }
    return MT_OK;
}

mt_status mt_model_run(mt_model *m, mt_tensor *x, int training, mt_rng *rng, mt_tensor **outputs)
{
    for (int i = 0; m && i < m->n_outputs; i++) outputs[i] = NULL;
    MT_TRY(check_input(m, x));
    mt_rng none = {0, 0};
    mt_fwd f = {training, rng ? rng : &none};
    if (training && !rng) return MT_ERR(MT_ERR_INVALID, "%s: a training forward needs a random stream", m->file);
    mt_tensor **vals = mt_calloc((size_t)m->n_values, sizeof *vals);
    if (!vals) return MT_ERR_NOMEM;
    vals[0] = mt_tensor_retain(x);
    /* model outputs are read "after" the last layer */
    mt_status s = run_layers(m, vals, &f, 0);
    for (int i = 0; s == MT_OK && i < m->n_outputs; i++) outputs[i] = mt_tensor_retain(vals[m->outputs[i]]);
    for (int v = 0; v < m->n_values; v++) mt_tensor_release(vals[v]);
    free(vals);
    return s;
}

mt_tensor *mt_model_forward(mt_model *m, mt_tensor *x, int training)
{
    mt_tensor *outs[MT_LAYER_MAX_OUT * 4] = {0}, **o = outs;
    if (m && m->n_outputs > (int)(sizeof outs / sizeof *outs) && !(o = mt_calloc((size_t)m->n_outputs, sizeof *o)))
        return NULL;
    mt_status s = mt_model_run(m, x, training, m ? &m->dropout_rng : NULL, o);
    mt_tensor *y = s == MT_OK ? o[0] : NULL;
    for (int i = 1; s == MT_OK && i < m->n_outputs; i++) mt_tensor_release(o[i]);
    if (o != outs) free(o);
    return y;
}

static int find_value(const mt_model *m, const char *name)
{
    for (int i = 0; i < m->n_outputs; i++)
        if (!strcmp(m->output_names[i], name)) return m->outputs[i];
    for (int i = 0; i < m->n_alias; i++)
        if (!strcmp(m->alias[i].name, name)) return m->alias[i].value;
    if (!strcmp(name, "input")) return 0;
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i].name, name)) return m->layers[i].out;
    const char *dot = strrchr(name, '.');
    if (!dot) return -1;
    for (int i = 0; i < m->n_layers; i++) {
        const mt_layer *L = &m->layers[i];
        if (strlen(L->name) != (size_t)(dot - name) || strncmp(L->name, name, (size_t)(dot - name))) continue;
        int p = mt_layer_port(L, dot + 1);
        if (p >= 0) return L->out + p;
    }
    return -1;
}

mt_status mt_model_run_values(mt_model *m, mt_tensor *x, int training, mt_rng *rng, int n, const char *const *names,
                              mt_tensor **values)
{
    for (int i = 0; i < n; i++) values[i] = NULL;
    MT_TRY(check_input(m, x));
    int idx[64];
    MT_REQUIRE(n <= 64, "at most 64 values");
    for (int i = 0; i < n; i++)
        if ((idx[i] = find_value(m, names[i])) < 0)
            return MT_ERR(MT_ERR_INVALID, "%s: no value named '%s' (a layer, layer.port or output)", m->file, names[i]);
    if (training && !rng) return MT_ERR(MT_ERR_INVALID, "%s: a training forward needs a random stream", m->file);
    mt_rng none = {0, 0};
    mt_fwd f = {training, rng ? rng : &none};
    mt_tensor **vals = mt_calloc((size_t)m->n_values, sizeof *vals);
    if (!vals) return MT_ERR_NOMEM;
    vals[0] = mt_tensor_retain(x);
    mt_status s = run_layers(m, vals, &f, 1);
    for (int i = 0; s == MT_OK && i < n; i++) values[i] = mt_tensor_retain(vals[idx[i]]);
    for (int v = 0; v < m->n_values; v++) mt_tensor_release(vals[v]);
    free(vals);
    return s;
}

mt_status mt_model_forward_all(mt_model *m, mt_tensor *x, int training, mt_tensor **outputs)
{
    MT_REQUIRE(m, "mt_model_forward_all: NULL model");
    return mt_model_run(m, x, training, &m->dropout_rng, outputs);
}

int mt_model_output_count(const mt_model *m) { return m->n_outputs; }
const char *mt_model_output_name(const mt_model *m, int i)
{
    return i >= 0 && i < m->n_outputs ? m->output_names[i] : NULL;
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

size_t mt_model_keras_buffer_count(const mt_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n_state; i++) {
        const char *nm = m->state[i].name, *dot = strrchr(nm, '.');
        if (!m->state[i].is_param && !(dot && !strcmp(dot + 1, "num_batches_tracked")))
            n += mt_shape_numel(m->state[i].ndim, m->state[i].shape);
    }
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
void mt_model_nominal_size(const mt_model *m, int *h, int *w)
{
    *h = m->nominal_hw[0];
    *w = m->nominal_hw[1];
}
const char *mt_model_name(const mt_model *m) { return m->name ? m->name : ""; }

/* Runs the graph on a meta input and keeps every value (vals: n_values entries). */
mt_status mt_model_trace(mt_model *m, int in_ndim, const int *in_shape, mt_tensor **vals)
{
    if (in_ndim < 2 || in_shape[1] != m->in_channels)
        return MT_ERR(MT_ERR_INVALID, "%s: the model takes %d input channels, not %d", m->file, m->in_channels,
                      in_ndim >= 2 ? in_shape[1] : 0);
    vals[0] = mt_tensor_new_meta(MT_REAL, in_ndim, in_shape);
    if (!vals[0]) return mt_last_status();
    mt_rng none = {0, 0};
    mt_fwd f = {0, &none};
    return run_layers(m, vals, &f, 1);
}

/* Value index of a name: an output name, alias (block instance), layer or "layer.port". */

mt_status mt_model_shape(mt_model *m, const char *value, int in_ndim, const int *in_shape, int *ndim,
                         int shape[MT_MAX_DIMS])
{
    int v = value ? find_value(m, value) : m->outputs[0];
    if (v < 0) return MT_ERR(MT_ERR_INVALID, "%s: no value named '%s' (a layer, layer.port or output)", m->file, value);
    mt_tensor **vals = mt_calloc((size_t)m->n_values, sizeof *vals);
    if (!vals) return MT_ERR_NOMEM;
    mt_status s = mt_model_trace(m, in_ndim, in_shape, vals);
    if (s == MT_OK) {
        *ndim = vals[v]->ndim;
        for (int i = 0; i < MT_MAX_DIMS; i++) shape[i] = i < *ndim ? vals[v]->shape[i] : 0;
    }
    for (int i = 0; i < m->n_values; i++) mt_tensor_release(vals[i]);
    free(vals);
    return s;
}

static mt_status shape4(const mt_model *m, const char *value, int n, int c, int h, int w, int *ndim, int shape[4])
{
    int in[4] = {n, c, h, w}, s[MT_MAX_DIMS];
    MT_TRY(mt_model_shape((mt_model *)m, value, 4, in, ndim, s));
    if (*ndim > 4) return MT_ERR(MT_ERR_INVALID, "%s: value has rank %d; use mt_model_shape", m->file, *ndim);
    for (int i = 0; i < 4; i++) shape[i] = i < *ndim ? s[i] : 0;
    return MT_OK;
}

mt_status mt_model_output_shape(const mt_model *m, int n, int c, int h, int w, int *ndim, int shape[4])
{
    return shape4(m, NULL, n, c, h, w, ndim, shape);
}

mt_status mt_model_layer_output_shape(const mt_model *m, const char *layer, int n, int c, int h, int w, int *ndim,
                                      int shape[4])
{
    return shape4(m, layer, n, c, h, w, ndim, shape);
}

static size_t layer_params(const mt_model *m, const mt_layer *L)
{
    size_t np = 0;
    for (int k = 0; k < L->n_state; k++)
        if (m->state[L->state[k]].is_param) np += mt_shape_numel(m->state[L->state[k]].ndim, m->state[L->state[k]].shape);
    return np;
}

mt_status mt_model_summary(const mt_model *m, int in_c, int in_h, int in_w, char **text_out)
{
    *text_out = NULL;
    mt_tensor **vals = mt_calloc((size_t)m->n_values, sizeof *vals);
    if (!vals) return MT_ERR_NOMEM;
    int in_shape[4] = {1, in_c, in_h, in_w};
    mt_status s = mt_model_trace((mt_model *)m, 4, in_shape, vals);
    size_t cap = 512 + (size_t)m->n_layers * 160 + (size_t)m->n_outputs * 160, used = 0;
    char *t = s == MT_OK ? mt_malloc(cap) : NULL;
    if (s == MT_OK && !t) s = MT_ERR_NOMEM;
    if (s == MT_OK) {
        used += (size_t)snprintf(t + used, cap - used, "%-4s %-28s %-18s %-22s %12s\n", "#", "layer", "type",
                                 "output (C,H,W)", "params");
        for (int i = 0; i < m->n_layers; i++) {
            const mt_layer *L = &m->layers[i];
            const mt_tensor *o = vals[L->out];
            char shp[64] = "";
            size_t u = 0;
            for (int d = 1; d < o->ndim && u < sizeof shp; d++)
                u += (size_t)snprintf(shp + u, sizeof shp - u, d > 1 ? " x %d" : "%d", o->shape[d]);
            if (L->n_out > 1 && u < sizeof shp) snprintf(shp + u, sizeof shp - u, " (+%d)", L->n_out - 1);
            used += (size_t)snprintf(t + used, cap - used, "%-4d %-28s %-18s %-22s %12zu\n", i + 1, L->name,
                                     L->kind->type, shp, layer_params(m, L));
        }
        for (int i = 0; i < m->n_outputs; i++) {
            char b[96];
            used += (size_t)snprintf(t + used, cap - used, "output %-21s %s\n", m->output_names[i],
                                     mt_shape_str(vals[m->outputs[i]], b, sizeof b));
        }
        size_t np = mt_model_param_count(m), nb = mt_model_keras_buffer_count(m);
        snprintf(t + used, cap - used,
                 "total trainable parameters: %zu\nbuffers (batch-norm statistics etc.): %zu\n"
                 "Keras total (parameters + buffers): %zu\n",
                 np, nb, np + nb);
    }
    for (int i = 0; i < m->n_values; i++) mt_tensor_release(vals[i]);
    free(vals);
    if (s != MT_OK) {
        free(t);
        return s;
    }
    *text_out = t;
    return MT_OK;
}
