/* train/ensemble.c: the evaluation forward pass of a session, with ensemble
 * members averaged as probabilities (session.h: mt_session_forward,
 * mt_session_add_ensemble). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ops.h"
#include "task.h"
#include "trainer.h"

/* softmax over dim 1 (loss.kind cross_entropy with K > 1), else an elementwise sigmoid */
static int softmax_outputs(const mt_session *s, const mt_tensor *logits)
{
    return s->exp.loss.kind == MT_LOSS_CROSS_ENTROPY && logits->ndim >= 2 && logits->shape[1] > 1;
}

/* probabilities of logits [N, K, ...] into p (host) */
static void probabilities(const float *z, int soft, int n, int k, size_t inner, double *p)
{
    if (!soft) {
        for (size_t i = 0; i < (size_t)n * k * inner; i++) p[i] += 1.0 / (1.0 + exp(-(double)z[i]));
        return;
    }
    for (int b = 0; b < n; b++)
        for (size_t j = 0; j < inner; j++) {
            const float *zz = z + (size_t)b * k * inner + j;
            double m = -INFINITY, sum = 0;
            for (int c = 0; c < k; c++) m = fmax(m, zz[(size_t)c * inner]);
            for (int c = 0; c < k; c++) sum += exp(zz[(size_t)c * inner] - m);
            for (int c = 0; c < k; c++) p[(size_t)b * k * inner + (size_t)c * inner + j] += exp(zz[(size_t)c * inner] - m) / sum;
        }
}

mt_tensor *mt_session_forward(mt_session *s, mt_tensor *x)
{
    mt_tensor *first = mt_model_forward(s->model, x, 0);
    if (!first || s->n_ensemble == 0) return first;
    int soft = softmax_outputs(s, first), n = first->shape[0], k = first->ndim >= 2 ? first->shape[1] : 1;
    size_t total = mt_shape_numel(first->ndim, first->shape), inner = total / ((size_t)n * k);
    double *p = mt_calloc(total, sizeof *p);
    mt_real *z = mt_malloc(sizeof *z * total + 16);
    mt_status st = p && z ? MT_OK : MT_ERR_NOMEM;
    for (int m = -1; st == MT_OK && m < s->n_ensemble; m++) {
        mt_tensor *out = m < 0 ? mt_tensor_retain(first) : mt_model_forward(s->ensemble[m], x, 0);
        float *h = out ? mt_task_host_floats(out) : NULL;
        if (!h) st = mt_last_status() ? mt_last_status() : MT_ERR_NOMEM;
        else if (mt_shape_numel(out->ndim, out->shape) != total)
            st = MT_ERR(MT_ERR_INVALID, "ensemble member %d gives %zu outputs for %zu of the first model", m + 1,
                        mt_shape_numel(out->ndim, out->shape), total);
        else probabilities(h, soft, n, k, inner, p);
        free(h);
        mt_tensor_release(out);
    }
    mt_tensor *logits = NULL;
    if (st == MT_OK) {
        double members = s->n_ensemble + 1;
        for (size_t i = 0; i < total; i++) {
            double q = p[i] / members;
            if (soft) z[i] = (mt_real)log(fmax(q, 1e-12));
            else {
                q = fmin(fmax(q, 1e-7), 1 - 1e-7);
                z[i] = (mt_real)log(q / (1 - q));
            }
        }
        logits = mt_tensor_from_host(first->storage->device, first->ndim, first->shape, z);
    }
    mt_tensor_release(first);
    free(p);
    free(z);
    return logits;
}

/* the keys of the input pipeline that ensemble members must share */
static const char *input_difference(const mt_experiment *a, const mt_experiment *b)
{
    if (a->data.normalize != b->data.normalize) return "data.normalize";
    if (a->data.window[0] != b->data.window[0] || a->data.window[1] != b->data.window[1]) return "data.window";
    if (a->data.mean != b->data.mean || a->data.std != b->data.std) return "data.mean / data.std";
    if (a->data.output_scale != b->data.output_scale) return "data.output_scale";
    if (a->data.channels != b->data.channels) return "data.channels";
    if (a->data.input_size[0] != b->data.input_size[0] || a->data.input_size[1] != b->data.input_size[1])
        return "data.input_size";
    if (a->task.kind != b->task.kind) return "task.kind";
    if (a->loss.kind != b->loss.kind) return "loss.kind";
    return NULL;
}

mt_status mt_session_add_ensemble(mt_session *s, const char *run)
{
    MT_REQUIRE(s && s->model && s->ds && run, "mt_session_add_ensemble: open the session and build its model first");
    MT_REQUIRE(s->n_ensemble < MT_SESSION_MAX_ENSEMBLE, "an ensemble has at most %d members",
               MT_SESSION_MAX_ENSEMBLE + 1);
    mt_session m;
    memset(&m, 0, sizeof m);
    mt_status st = mt_session_open_run(&m, "ensemble member", NULL, run, s->exp.data.dataset, s->dev, NULL, 0);
    const char *diff = st == MT_OK ? input_difference(&s->exp, &m.exp) : NULL;
    if (st == MT_OK && diff)
        st = MT_ERR(MT_ERR_INVALID, "ensemble member %s differs from the first run (%s) in %s: members must share "
                    "the input pipeline and the task", run, s->exp.config_path, diff);
    if (st == MT_OK) { /* keep its network, drop the rest */
        s->ensemble[s->n_ensemble++] = m.models[0].model;
        m.models[0].model = NULL;
        m.model = NULL;
    }
    mt_session_free(&m);
    return st;
}
