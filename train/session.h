/* train/session.h: an experiment (configs/config.h) made concrete on a
 * device: the dataset, the networks of the task (the trained model, and for
 * the adversarial / G-D-C tasks D, C and G1), batches read at the network
 * input size, and input normalisation. Shared by training (trainer.h),
 * evaluation and prediction; the CLI is a thin shell over it.
 *
 * Input normalisation (mt_session_normalize), in this order:
 *   1. data.normalize: window (clip to data.window [lo, hi], scale to [0, 1]),
 *      zscore ((x - data.mean) / data.std), minmax (per image), none;
 *   2. x data.output_scale (255: Keras EfficientNet takes raw 0-255 values);
 *   3. data.channels 3 with a 1-channel dataset: grey replicated to 3 channels
 *      (S4's C: the grey crop replicated to 256x256x3).
 */
#ifndef MT_TRAIN_SESSION_H
#define MT_TRAIN_SESSION_H

#include "../configs/config.h"
#include "../data/dataset.h"
#include "../data/loader.h"
#include "../layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_SESSION_MAX_MODELS 4
#define MT_SESSION_MAX_ENSEMBLE 64

/* One network of a session. */
typedef struct mt_session_model {
    const char *name;        /* "model" (the trained one), "D", "C", "G1" */
    const char *section;     /* its config section: "model", "task.discriminator", ... */
    const mt_exp_model *cfg;
    mt_model *model;
    int trainable;           /* 1: has an optimizer in training; 0: frozen (no gradients kept) */
} mt_session_model;

typedef struct mt_session {
    mt_experiment exp;
    int exp_loaded;
    mt_device dev;
    mt_dataset *ds;          /* NULL until mt_session_open_dataset */
    mt_dataset_spec geo;     /* dataset geometry */
    mt_model *model;         /* == models[0].model: the trained network (G for adversarial / gdc) */
    mt_session_model models[MT_SESSION_MAX_MODELS];
    int n_models;
    int in_h, in_w;          /* network input size */
    int in_c;                /* network input channels (data.channels or the dataset's) */
    mt_model *ensemble[MT_SESSION_MAX_ENSEMBLE]; /* more trained networks whose probabilities are averaged
                                                    with the model's (mt_session_forward; owned) */
    int n_ensemble;
    const struct mt_task *task; /* train/task.h, from task.kind */
    void *task_state;        /* the task's own data (freed by task->free) */
} mt_session;

/* Loads the experiment (file + --set overrides "a.b=value") and picks its task.
 * Error messages name file:line:column. */
mt_status mt_session_load(mt_session *s, const char *config_path, int n_sets, const char *const *sets);
/* Opens the dataset and lets the task check it has what it needs (masks,
 * /labels, /boxes); errors name the missing key and the dataset file. */
mt_status mt_session_open_dataset(mt_session *s);
/* Indices of the samples of a split ("train", "val", "test") that take part in
 * this experiment: the dataset's split, then only the samples whose /labels
 * value is in data.labels_keep (when that list is not empty). The one place
 * training and evaluation get their indices. Caller frees *idx. Errors: an
 * unknown split; MT_ERR_INVALID naming data.labels_keep and the split when the
 * split has samples but none is kept. An empty split stays empty (no error). */
mt_status mt_session_split_indices(mt_session *s, const char *split, int **idx, int *n);
/* Builds the task's networks on s->dev, initialised from `seed` (the trained
 * one first); frozen networks and `with_init` = 1 also load their init_from
 * weights (a fresh run: 1; resume, evaluate and predict: 0 for the trained
 * model, whose weights come from a checkpoint; frozen ones always load). */
mt_status mt_session_build_models(mt_session *s, uint64_t seed, int with_init);
/* The session network called `name` ("model", "D", "C", "G1"), or NULL. */
mt_model *mt_session_find_model(const mt_session *s, const char *name);
void mt_session_free(mt_session *s);

/* The trained network's evaluation forward pass (no dropout, BN running statistics): its
 * first output, logits [N, K, ...]. With ensemble members (mt_session_add_ensemble) the
 * probabilities of the model and every member are averaged and returned as the logits that
 * give that mean back: log(p / (1 - p)) for sigmoid outputs, log(p) for softmax outputs
 * (loss.kind cross_entropy and K > 1), p clamped to [1e-7, 1 - 1e-7] (sigmoid) and
 * [1e-12, 1] (softmax). So every task's metrics, thresholds and losses apply to the mean of
 * probabilities unchanged (MONAI / nnU-Net ensembling). NULL on error. */
mt_tensor *mt_session_forward(mt_session *s, mt_tensor *x);
/* Adds the trained network of run directory (or checkpoint) `run` as an ensemble member:
 * its own config.yaml and weights (mt_session_open_run on this session's dataset). Its
 * input (data.normalize, window, mean / std, input size, channels), output size and task
 * must equal this session's. Errors: those of mt_session_open_run; MT_ERR_INVALID naming
 * the differing key, or more than MT_SESSION_MAX_ENSEMBLE members. */
mt_status mt_session_add_ensemble(mt_session *s, const char *run);

/* Reads samples idx[0..n-1] (no augmentation) into a batch on s->dev like the
 * loader delivers (data/loader.h: images, masks, labels, boxes), resized to the
 * input size (bilinear image, nearest mask, boxes scaled). */
mt_status mt_session_read_batch(mt_session *s, const int *idx, int n, mt_batch *b);
/* Resizes a loader batch in place to the input size when the dataset's differs
 * (bilinear image, nearest mask, boxes scaled, as torch interpolate). */
mt_status mt_session_fit_batch(mt_session *s, mt_batch *b);

/* Network input [N, in_c, H, W] from raw images [N, C, H, W] (dataset units, e.g.
 * HU): the normalisation above. New tensor without grad; NULL on error. */
mt_tensor *mt_session_normalize(mt_session *s, mt_tensor *raw);

/* The input of session network `name` from the task's input x [N, C, H, W]: x times its
 * section's input_scale, replicated to 3 channels when input_channels is 3 and C is 1
 * (e.g. a frozen Keras EfficientNet C trained on 0-255 RGB crops fed G's [0, 1] grey
 * images). Differentiable (gradients flow back into x); a new reference to x when the
 * section asks for nothing. NULL on error (unknown name, other channel counts). */
mt_tensor *mt_session_model_input(mt_session *s, const char *name, mt_tensor *x);

/* Display window of an image for pictures: soft tissue [-160, 240] HU (L 40 W
 * 400) when the values look like CT in HU, else data.window for normalize:
 * window, else the image's own range. */
void mt_display_window(const mt_session *s, const float *img, size_t n, double *lo, double *hi);

#ifdef __cplusplus
}
#endif
#endif
