/* cli/session.h: what train, evaluate and predict share: an experiment
 * (configs/config.h) made concrete on a device: the dataset, the model, input
 * normalisation, the loss, and evaluation of a split (per-image metrics
 * before and after post-processing). */
#ifndef MT_CLI_SESSION_H
#define MT_CLI_SESSION_H

#include "../configs/config.h"
#include "../core/metrics.h"
#include "../data/dataset.h"
#include "../layers/model.h"

typedef struct cli_session {
    mt_experiment exp;
    int exp_loaded;
    mt_device dev;
    mt_dataset *ds;        /* NULL until cli_session_open_dataset */
    mt_dataset_spec geo;   /* dataset geometry */
    mt_model *model;
    int in_h, in_w;        /* network input size */
} cli_session;

/* Loads the experiment (file + --set overrides). Error messages name file:line:column. */
mt_status cli_session_load(cli_session *s, const char *config_path, int n_sets, const char *const *sets);
/* Opens the dataset and checks it against the config (mask channels for the loss, input size). */
mt_status cli_session_open_dataset(cli_session *s);
/* Builds the model on s->dev, initialised from `seed`. */
mt_status cli_session_build_model(cli_session *s, uint64_t seed);
/* Loads model.init_from (with model.init_map, model.init_strict) into the
 * built model and prints the report (layers/weights.h); nothing when
 * init_from is empty. For a fresh run only: a resumed one restores last.h5. */
mt_status cli_session_init_weights(cli_session *s);
void cli_session_free(cli_session *s);

/* A batch on the device: raw images (dataset units, e.g. HU) [N,C,H,W], masks
 * [N,K,H,W] 0/1 (NULL if the dataset has none), at the network input size. */
typedef struct cli_batch {
    int n;
    mt_tensor *raw;
    mt_tensor *mask;
} cli_batch;
void cli_batch_free(cli_batch *b);

/* Reads samples idx[0..n-1] of the dataset (no augmentation) into a batch on
 * s->dev, resized to the input size (bilinear image, nearest mask). */
mt_status cli_session_read_batch(cli_session *s, const int *idx, int n, cli_batch *b);

/* Network input from raw images: data.normalize (window -> [0,1], z-score, min-max
 * per image, none). New tensor without grad; NULL on error. */
mt_tensor *cli_session_normalize(cli_session *s, mt_tensor *raw);

/* The configured loss of logits vs target (scalar, with autograd). NULL on error.
 * terms (may be NULL) receives the values of the two terms of bce_dice
 * ([0] BCE, [1] soft Dice, before weighting); NaN for the other kinds. */
mt_tensor *cli_session_loss(cli_session *s, mt_tensor *logits, mt_tensor *target, double terms[2]);

/* Evaluation of a split with the current weights (eval mode, no grad):
 * per-image metrics at metrics.threshold on sigmoid(logits), before (raw) and
 * after post-processing (postprocess.hu_window on the raw input), mean loss,
 * pixel AUC. Arrays are malloc'ed [n_images * K]; free with cli_eval_free. */
typedef struct cli_eval {
    int n;                 /* images * mask channels */
    double loss;           /* mean over images of the configured loss */
    double auc;            /* pixel-level ROC AUC over the split (NaN if undefined) */
    mt_seg_metrics *raw;   /* per image, no post-processing */
    mt_seg_metrics *post;  /* per image, after post-processing (== raw if none configured) */
    mt_seg_metrics raw_mean, raw_sd, post_mean, post_sd;
} cli_eval;
mt_status cli_session_evaluate(cli_session *s, const int *idx, int n, int batch_size, cli_eval *out);
void cli_eval_free(cli_eval *e);
/* Value of a monitored name: "val_loss", "val_dsc", "val_iou", ... ("val_" optional)
 * from an evaluation (post-processed means when post-processing is configured).
 * MT_ERR_INVALID listing the accepted names if unknown. */
mt_status cli_eval_monitor(const cli_eval *e, const char *name, double *out);

/* Sigmoid probabilities of the model for a batch of raw images (eval mode). NULL on error. */
mt_tensor *cli_session_predict(cli_session *s, mt_tensor *raw);

#endif
