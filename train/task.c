/* train/task.c: the task registry, mt_eval, and helpers the tasks share (task.h). */
#include "task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ops.h"

const mt_task *mt_task_for(mt_task_kind kind)
{
    switch (kind) {
    case MT_TASK_SEGMENTATION: return &mt_task_segmentation;
    case MT_TASK_CLASSIFICATION: return &mt_task_classification;
    case MT_TASK_DETECTION: return &mt_task_detection;
    case MT_TASK_ADVERSARIAL: return &mt_task_adversarial;
    case MT_TASK_GDC: return &mt_task_gdc;
    }
    return NULL;
}

void mt_eval_set(mt_eval *e, const char *name, double v)
{
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->names[i], name)) {
            e->values[i] = v;
            return;
        }
    if (e->n >= MT_EVAL_MAX) return;
    snprintf(e->names[e->n], sizeof e->names[e->n], "%s", name);
    e->values[e->n++] = v;
}

mt_status mt_eval_get(const mt_eval *e, const char *name, double *out)
{
    const char *m = !strncmp(name, "val_", 4) ? name + 4 : name;
    if (!strcmp(m, "loss")) {
        *out = e->loss;
        return MT_OK;
    }
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->names[i], m)) {
            *out = e->values[i];
            return MT_OK;
        }
    char list[1024] = "val_loss";
    size_t len = strlen(list);
    for (int i = 0; i < e->n && len + 40 < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, ", val_%s", e->names[i]);
    return MT_ERR(MT_ERR_INVALID, "unknown monitored metric '%s'; allowed: %s", name, list);
}

void mt_eval_free(mt_eval *e)
{
    if (e->detail && e->detail_free) e->detail_free(e->detail);
    memset(e, 0, sizeof *e);
}

float *mt_task_host_floats(const mt_tensor *t)
{
    size_t n = mt_numel(t);
    mt_real *r = mt_malloc(sizeof(mt_real) * (n ? n : 1));
    float *f = mt_malloc(sizeof(float) * (n ? n : 1));
    if (!r || !f || mt_tensor_to_host(t, r, sizeof(mt_real) * n) != MT_OK) {
        free(r);
        free(f);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) f[i] = (float)r[i];
    free(r);
    return f;
}

double mt_task_scalar(const mt_tensor *t)
{
    mt_real v = 0;
    if (!t || mt_tensor_to_host(t, &v, sizeof v) != MT_OK) {
        mt_error_clear();
        return NAN;
    }
    return (double)v;
}

mt_tensor *mt_task_weighted_sum(mt_tensor *x, double a, mt_tensor *y, double b)
{
    if (!x && !y) return NULL;
    if (!y) return mt_scale(x, a, 0);
    if (!x) return mt_scale(y, b, 0);
    mt_tensor *ax = mt_scale(x, a, 0), *by = mt_scale(y, b, 0);
    mt_tensor *s = ax && by ? mt_add(ax, by) : NULL;
    mt_tensor_release(ax);
    mt_tensor_release(by);
    return s;
}

mt_tensor *mt_task_bce_const(mt_tensor *logits, double target)
{
    if (!logits) return NULL;
    int prev = mt_set_grad_enabled(0);
    mt_tensor *z = mt_scale(logits, 0, target); /* same shape, every value = target, no grad */
    mt_set_grad_enabled(prev);
    if (!z) return NULL;
    mt_tensor *l = mt_bce_with_logits(logits, z, NULL, NULL, MT_REDUCE_MEAN);
    mt_tensor_release(z);
    return l;
}

void mt_json_number(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.8g", v);
    else fprintf(f, "null");
}

void mt_eval_json_members(FILE *f, const mt_eval *e, int indent)
{
    for (int i = 0; i < e->n; i++) {
        fprintf(f, ",\n%*s\"%s\": ", indent, "", e->names[i]);
        mt_json_number(f, e->values[i]);
    }
}

void mt_eval_print_members(FILE *f, const mt_eval *e)
{
    for (int i = 0; i < e->n; i++) fprintf(f, "  %-12s %.5f\n", e->names[i], e->values[i]);
}
