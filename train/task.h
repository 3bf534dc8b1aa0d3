/* train/task.h: what a task (the experiment's `task:` section) adds to the
 * shared training loop (trainer.h): which dataset keys it needs, how a batch's
 * targets feed which loss terms with which weights, which metrics and which
 * pictures a run produces. A task is a small vtable (ggml-style backend idea):
 *
 *   segmentation   masks [N,K,H,W]: sigmoid + BCE / Dice / BCE+Dice (binary, S1),
 *                  softmax + CE over K one-hot channels (S3, S5); per-image and
 *                  per-class DSC, IoU, sensitivity, specificity, accuracy; HU-window
 *                  post-processing; overlays (task_segmentation.c)
 *   classification /labels: softmax + CE (K logits, S2) or sigmoid + BCE (one logit,
 *                  S4's C); accuracy, macro precision/recall, AUC, confusion matrix
 *                  and ROC PNGs (task_classification.c)
 *   detection      /boxes: YOLOv5 loss, decoding + NMS, mAP (task_detection.c)
 *   adversarial    G and D alternately, Skip-GANomaly losses (task_adversarial.c)
 *   gdc            G against frozen D and C, masks from C's CAM or |G1(X) - X|
 *                  (task_gdc.c)
 *
 * Single-model tasks give `loss`; the loop does backward and the optimizer
 * step. Multi-model tasks give `train_step` and drive their optimizers through
 * mt_trainer_update (trainer.h).
 */
#ifndef MT_TRAIN_TASK_H
#define MT_TRAIN_TASK_H

#include <stdio.h>

#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_EVAL_MAX 64
#define MT_TASK_MAX_TERMS 4

/* Result of evaluating a split: named scalar metrics (what log.csv, early
 * stopping and best.h5 monitor, as "val_<name>"), plus the task's details. */
typedef struct mt_eval {
    int n_samples;
    double loss;                    /* mean loss over the split's samples */
    int n;
    char names[MT_EVAL_MAX][32];    /* "dsc", "accuracy", "map50", "dsc_muscle", ... */
    double values[MT_EVAL_MAX];
    void *detail;                   /* task-owned (per-image metrics, scores, ...) */
    void (*detail_free)(void *);
} mt_eval;

/* Adds (or replaces) a named metric. */
void mt_eval_set(mt_eval *e, const char *name, double v);
/* Value of a monitored name: "val_loss", "val_dsc", "loss", "dsc" ("val_" optional).
 * MT_ERR_INVALID listing the accepted names when unknown. */
mt_status mt_eval_get(const mt_eval *e, const char *name, double *out);
void mt_eval_free(mt_eval *e);

struct mt_trainer;

typedef struct mt_task {
    const char *kind;
    /* metrics logged to log.csv as val_<name> columns, in this order (the first
     * two after loss are drawn in curves_metrics.png) */
    int n_log_metrics;
    const char *const *log_metrics;
    /* loss terms logged as loss_<name> columns (before weighting) */
    int n_terms;
    const char *const *terms;
    /* Checks the experiment and the dataset: the keys the task needs, the loss
     * kinds it supports, monitors. Errors name the key and the file. */
    mt_status (*check)(mt_session *s);
    /* Optional: the networks besides the trained model (D, C, G1) as entries of
     * s->models; called by mt_session_build_models before any is built. */
    mt_status (*declare_models)(mt_session *s);
    /* Single-model tasks: the loss of the model's outputs `outs` (n_outs, the
     * graph's outputs in order) for the batch (loader units, fitted to the input
     * size); terms[n_terms] receive the unweighted term values (NaN = unused). */
    mt_status (*loss)(mt_session *s, mt_tensor *const *outs, int n_outs, const mt_batch *b, mt_tensor **loss,
                      double *terms);
    /* Multi-model tasks: one training step (all forward/backward passes and
     * optimizer updates through mt_trainer_update); *loss = the logged total. */
    mt_status (*train_step)(struct mt_trainer *t, const mt_batch *b, double *loss, double *terms);
    /* Metrics of a split with the current weights (eval mode, no grad). */
    mt_status (*evaluate)(mt_session *s, const int *idx, int n, int batch_size, mt_eval *out);
    /* Prints the evaluation as a table. */
    void (*print)(FILE *f, const mt_session *s, const char *title, const mt_eval *e);
    /* Writes the evaluation's JSON members (no braces; each line starting with
     * `indent` spaces, the last without a trailing comma). */
    void (*json)(FILE *f, const mt_session *s, const mt_eval *e, int indent);
    /* Pictures of a split into dir (overlays, ROC, confusion matrix, boxes,
     * change maps), at most n_max per-image pictures. */
    mt_status (*pictures)(mt_session *s, const mt_eval *e, const int *idx, int n, int n_max, const char *dir);
    void (*free)(mt_session *s);
    /* Data parallel (docs/distributed.md): 0 = the loss is a mean over the batch's
     * samples, so each process's gradients are weighted by its share of the global
     * batch; 1 = it grows with the batch (YOLOv5: means times the batch size), so
     * the processes' gradients are summed (YOLOv5's DDP `loss *= WORLD_SIZE`). */
    int loss_scales_with_batch;
} mt_task;

/* The task of a kind; NULL when the kind is not built in. */
const mt_task *mt_task_for(mt_task_kind kind);

extern const mt_task mt_task_segmentation;
extern const mt_task mt_task_classification;
extern const mt_task mt_task_detection;
extern const mt_task mt_task_adversarial;
extern const mt_task mt_task_gdc;

/* Helpers shared by the tasks (task.c). */
/* A JSON number with %.8g, or null when v is not finite. */
void mt_json_number(FILE *f, double v);
/* Writes ",\n<indent>\"name\": value" for every named metric of e (null when not finite). */
void mt_eval_json_members(FILE *f, const mt_eval *e, int indent);
/* Prints "  name  value" lines for every named metric of e. */
void mt_eval_print_members(FILE *f, const mt_eval *e);
/* change maps |G(X) - X| (heat maps over the input) of the first n_max images of idx into
 * dir/change_<index>.png, with the first mask channel outlined (S4: the recorded defect)
 * when the dataset has /masks; G = the session's trained model (adversarial, gdc). */
mt_status mt_task_change_maps(mt_session *s, const int *idx, int n, int n_max, const char *dir);
/* Host copy of a tensor's values as float (n = numel); caller frees. NULL on error. */
float *mt_task_host_floats(const mt_tensor *t);
/* Scalar tensor value; NaN (error cleared) when unreadable. */
double mt_task_scalar(const mt_tensor *t);
/* a*x + b*y with autograd (either may be NULL = 0); releases nothing. */
mt_tensor *mt_task_weighted_sum(mt_tensor *x, double a, mt_tensor *y, double b);
/* BCE with logits of x against a constant target value (0 or 1), mean. */
mt_tensor *mt_task_bce_const(mt_tensor *logits, double target);

#ifdef __cplusplus
}
#endif
#endif
