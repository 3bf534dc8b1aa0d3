/* configs/config.h: the experiment configuration (one YAML file per run) and
 * its schema.
 *
 * The schema is a table (configs/config.c): for every key its type, default,
 * allowed values and documentation. mt_experiment_load parses the YAML file
 * (with `base:` composition, see yaml_tree.h), applies --set overrides, checks
 * every key against the table and fills an mt_experiment. Unknown keys, wrong
 * types, values outside the allowed set and missing files are reported as
 *   "configs/s1.yaml:12:3: unknown key 'lerning_rate' in optimizer; allowed:
 *    kind, lr, momentum, ...; did you mean 'lr'?"
 * The reference (docs/config.md) is generated from the same table by
 * mt_config_reference_markdown, so documentation and parser cannot drift.
 *
 * Relative paths in a config file are resolved against that file's directory
 * (paths given with --set against the current directory); files that must
 * exist (model.graph, data.dataset) are checked at load time and stored as
 * absolute paths, so the resolved config (mt_experiment.resolved_yaml, written
 * into each run directory) can be reloaded from anywhere.
 */
#ifndef MT_CONFIG_H
#define MT_CONFIG_H

#include <stdint.h>

#include "../core/error.h"
#include "../core/yaml_tree.h" /* mt_model_arg */

#ifdef __cplusplus
extern "C" {
#endif

#define MT_CFG_MAX_LIST 16

/* loss.kind */
typedef enum mt_loss_kind {
    MT_LOSS_BCE_WITH_LOGITS = 0, /* torch.nn.BCEWithLogitsLoss (sigmoid + BCE, fused) */
    MT_LOSS_CROSS_ENTROPY = 1,   /* torch.nn.CrossEntropyLoss over class logits */
    MT_LOSS_DICE = 2,            /* soft Dice 1 - (2|XY| + s)/(|X| + |Y| + s) on sigmoid(logits) */
    MT_LOSS_BCE_DICE = 3,        /* bce_weight * BCE + dice_weight * Dice */
    MT_LOSS_MSE = 4,
    MT_LOSS_L1 = 5
} mt_loss_kind;

/* data.normalize: how image intensities are mapped before the network */
typedef enum mt_norm_kind {
    MT_NORM_NONE = 0,    /* as stored in the dataset */
    MT_NORM_WINDOW = 1,  /* clip to data.window [lo, hi] (e.g. HU) and scale to [0, 1] */
    MT_NORM_ZSCORE = 2,  /* (x - mean) / std with data.mean, data.std */
    MT_NORM_MINMAX = 3   /* per image (x - min) / (max - min) */
} mt_norm_kind;

/* train.precision: float32, or mixed precision with autocast to bfloat16 / float16
 * (float16 with dynamic loss scaling, optim/grad_scaler.h). Order = the enum's values. */
enum { MT_PRECISION_FP32 = 0, MT_PRECISION_BF16 = 1, MT_PRECISION_FP16 = 2 };

typedef struct mt_exp_augment {
    int enabled;
    double flip_h, flip_v;          /* probabilities */
    double rotation_deg;            /* uniform in [-r, r] */
    double translate_frac;          /* uniform shift in [-t, t] of the size */
    double zoom[2];                 /* scale factor range [min, max] */
    double brightness;              /* additive, uniform in [-b, b] (normalised units) */
    double contrast;                /* multiplicative, uniform in [1-c, 1+c] */
    double noise_std;               /* Gaussian noise std (normalised units) */
    double salt_pepper;             /* fraction of pixels set to min/max */
    double elastic_alpha;           /* elastic displacement magnitude in px (0 = off) */
    int elastic_grid;               /* control points per axis of the B-spline grid (2..8) */
    double elastic_sigma;           /* deprecated, ignored (old run directories carry it) */
} mt_exp_augment;

/* A network of the experiment: its graph and where its initial weights come from. */
typedef struct mt_exp_model {
    char *graph;            /* absolute path of the model graph YAML ("" = none, for optional models) */
    int n_args;             /* params: overrides of the graph's params */
    mt_model_arg *args;     /* keys/values owned by the experiment */
    char *init_from;        /* absolute path of pretrained weights or a checkpoint, "" = none (layers/weights.h) */
    char *init_map;         /* absolute path of their name map, "" = default names */
    char *init_net;         /* extra networks: which network of a multi-network checkpoint ("" = its network 0) */
    int init_strict;        /* 0: shape mismatches are skipped and reported */
    double input_scale;     /* extra networks: the task's input x this before the network (1 = as is) */
    int input_channels;     /* extra networks: 3 replicates a grey input to 3 channels (0 = as is) */
} mt_exp_model;

/* task.kind: what is trained (train/task.h) */
typedef enum mt_task_kind {
    MT_TASK_SEGMENTATION = 0,  /* masks: sigmoid + BCE (binary) or softmax + CE (one-hot masks), Dice */
    MT_TASK_CLASSIFICATION = 1,/* /labels: softmax + CE (K classes) or sigmoid + BCE (one logit) */
    MT_TASK_DETECTION = 2,     /* /boxes: YOLOv5 loss, NMS, mAP */
    MT_TASK_ADVERSARIAL = 3,   /* G and D trained alternately (Skip-GANomaly, S4 model 3) */
    MT_TASK_GDC = 4            /* G trained against frozen D and C (S4 steps 1 and 2) */
} mt_task_kind;

typedef struct mt_experiment {
    char *name;            /* run name (used for the run directory) */
    char *config_path;     /* the file it was loaded from */
    char *resolved_yaml;   /* the whole config, defaults filled in, as YAML text */

    mt_exp_model model;     /* the trained network (G for adversarial and gdc) */

    struct {
        mt_task_kind kind;
        int classes;            /* classification: class count (0 = the model's output size) */
        /* adversarial / gdc */
        mt_exp_model discriminator; /* D (adversarial: trained; gdc: frozen, from the G-D run) */
        mt_exp_model classifier;    /* C (gdc: frozen, from the classifier run) */
        mt_exp_model generator1;    /* G1 (gdc restore step: frozen step-1 generator) */
        double w_adv, w_con, w_lat; /* adversarial: L_G = w_adv L_adv + w_con L_con + w_lat L_lat */
        double w_g, w_d, w_c;       /* gdc: L = w_g L_G + w_d L_D + w_c L_C */
        int gdc_step;               /* gdc: 0 localize (mask from C's CAM), 1 restore (mask from |G1(X) - X|) */
        double change_threshold;    /* gdc restore: F = |G1(X) - X| > threshold */
        int mask_literal;           /* gdc: 0 M = 1 - F (background 1, as papers.md argues), 1 M = F literally */
        char *cam_layer;            /* gdc: C's last conv layer output used for the CAM */
        double d_lr;                /* adversarial: D's learning rate (0 = optimizer.lr) */
        /* detection */
        double box_gain, obj_gain, cls_gain, anchor_t;
        double anchors[18];         /* detection: (w, h) x 3 anchors x 3 levels in pixels, as the graph's anchors */
        double conf_threshold, nms_iou;
    } task;

    struct {
        char *dataset;          /* absolute path of the HDF5 dataset (data/dataset.h) */
        char *train_split, *val_split, *test_split; /* split names in the dataset */
        int n_labels_keep;      /* 0 = every sample */
        int labels_keep[MT_CFG_MAX_LIST]; /* only samples whose /labels value is listed (S4 G-D-C: [1]) */
        int train_limit;        /* > 0: only the first N samples (dataset order) of the training split */
        int folds;              /* K > 1: K-fold cross-validation by patient instead of the dataset's splits */
        int fold;               /* 0..K-1: test = fold `fold`, val = fold (fold + 1) % K, train = the rest */
        uint64_t fold_seed;     /* seed of the fold assignment (independent of train.seed) */
        int input_size[2];      /* network input [H, W] ([0, 0] = the dataset's) */
        mt_norm_kind normalize;
        double window[2];       /* MT_NORM_WINDOW: [lo, hi] in stored units (HU for CT) */
        double output_scale;    /* multiplies the normalised input (255: Keras EfficientNet's 0-255 range) */
        int channels;           /* network input channels: 0 = the dataset's; 3 from 1 = grey replicated */
        double mean, std;       /* MT_NORM_ZSCORE */
        int num_workers;        /* loader threads */
        int shuffle, drop_last;
        mt_exp_augment augment;
    } data;

    struct {
        mt_loss_kind kind;
        double pos_weight;      /* BCE positive-class weight (1 = none) */
        int n_class_weights;
        double class_weights[MT_CFG_MAX_LIST]; /* cross-entropy class weights (empty = none) */
        double bce_weight, dice_weight;        /* BCE_DICE mix */
        double dice_smooth;
    } loss;

    struct {
        int kind;               /* mt_optim_kind: 0 sgd, 1 adam, 2 adamw, 3 adadelta */
        double lr, momentum, dampening, weight_decay;
        int nesterov, amsgrad;
        double betas[2];
        double eps;             /* <= 0: the optimizer's torch default */
        double rho;
        double clip_grad_norm;  /* 0 = no clipping */
    } optimizer;

    struct {
        int kind;               /* mt_sched_kind: 0 constant, 1 step, 2 multistep, 3 cosine, 4 plateau */
        int step_size;
        double gamma;
        int n_milestones;
        int milestones[MT_CFG_MAX_LIST];
        int t_max;              /* 0 = train.epochs */
        double eta_min;
        char *monitor;          /* plateau: metric name (e.g. val_loss, val_dsc) */
        int mode_max;           /* plateau: 0 min, 1 max */
        double factor, threshold, min_lr;
        int patience, cooldown;
    } schedule;

    struct {
        int epochs;             /* number of epochs (ignored if steps > 0) */
        long steps;             /* total optimizer steps; 0 = use epochs */
        int batch_size;
        uint64_t seed;
        int deterministic;      /* 1: fixed reduction order, single-stream, reproducible; cuDNN: deterministic algorithms */
        int cudnn_benchmark;    /* 1: time cuDNN's convolution algorithms once per shape */
        int copy_stream;        /* 1: the loader's host-to-device copies on a separate CUDA stream */
        int cuda_graph;         /* 1: capture the training step in a CUDA graph when shapes are static (train/cuda_graph.h) */
        char *device;           /* "auto", "cpu", "cuda", "cuda:N" */
        int threads;            /* CPU threads (0 = library default) */
        int val_every;          /* validate every N epochs */
        int log_every;          /* log a line every N steps */
        int precision;          /* MT_PRECISION_FP32 / BF16 / FP16: autocast of forward + loss (train/trainer.c) */
    } train;

    struct {
        int enabled;
        char *monitor;          /* e.g. val_loss, val_dsc */
        int mode_max;           /* 0 min, 1 max */
        int patience;           /* epochs without improvement before stopping */
        double min_delta;
    } early_stopping;

    struct {
        int every;              /* save last.h5 every N epochs */
        int save_best;          /* keep best.h5 by checkpoint.monitor */
        char *monitor;
        int mode_max;
    } checkpoint;

    struct {
        int n_names;
        char *names[MT_CFG_MAX_LIST]; /* dsc, iou, accuracy, precision, recall, specificity, auc */
        double threshold;       /* probability threshold for binary masks */
    } metrics;

    struct {
        int hu_window_enabled;  /* 1 when postprocess.hu_window is given */
        double hu_window[2];    /* keep predicted pixels whose input value is within [lo, hi] (S1: -29, 150 HU) */
        int n_class_hu;         /* 2 x mask channels when postprocess.class_hu_windows is given, else 0 */
        double class_hu[MT_CFG_MAX_LIST]; /* [lo_0, hi_0, lo_1, hi_1, ...]: a window per mask channel (S3) */
        int largest_component;  /* keep only the largest connected component */
    } postprocess;
} mt_experiment;

/* Loads an experiment: parses `path`, applies `n_sets` overrides ("a.b=value",
 * the CLI's --set), validates everything against the schema and fills *exp.
 * On error nothing needs freeing and the message names file:line:column. */
mt_status mt_experiment_load(const char *path, int n_sets, const char *const *sets, mt_experiment *exp);
void mt_experiment_free(mt_experiment *exp);

/* The config reference in Markdown (what docs/config.md contains), generated
 * from the schema table. *text_out is malloc'ed. */
mt_status mt_config_reference_markdown(char **text_out);

/* Name of a metric/optimizer/schedule/loss enum value as written in YAML ("adam"). */
const char *mt_config_optimizer_name(int kind);
const char *mt_config_schedule_name(int kind);
const char *mt_config_loss_name(mt_loss_kind kind);
const char *mt_config_task_name(mt_task_kind kind);

#ifdef __cplusplus
}
#endif
#endif
