/* configs/config.c: the experiment schema table and its loader (config.h).
 * One row per key: dotted path, type, default (YAML text; NULL = required),
 * allowed values, aliases used for "did you mean" and documentation. */
#include "config.h"


#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/yaml_tree.h"
static mt_status check_values(const mt_experiment *exp, const mt_yaml_node *root, const char *path);

typedef enum cfg_type {
    T_STR,    /* char *                                    */
    T_PATH,   /* char *, file must exist, stored absolute  */
    T_OPTPATH,/* char *, "" = none, else stored absolute; existence checked by the user of the file */
    T_INT,    /* int                                       */
    T_LONG,   /* long                                      */
    T_U64,    /* uint64_t                                  */
    T_FLOAT,  /* double                                    */
    T_BOOL,   /* int 0/1                                   */
    T_ENUM,   /* int index into `allowed`                  */
    T_FLOATS, /* double[len] (+ int count at n_off)        */
    T_INTS,   /* int[len] (+ int count at n_off)           */
    T_STRS,   /* char *[len] + int count at n_off          */
    T_PARAMS  /* map of scalars -> model.args              */
} cfg_type;

typedef struct cfg_key {
    const char *path;
    cfg_type type;
    const char *def;     /* default as YAML text; NULL = required */
    const char *allowed; /* T_ENUM / T_STRS: "a|b|c"; NULL = free */
    size_t off;
    long n_off;          /* offset of the element count (lists), -1: fixed length */
    int len;             /* list capacity (fixed length when n_off < 0 or `exact`) */
    int exact;           /* lists: empty or exactly `len` items */
    const char *aka;     /* other spellings users try ("learning_rate,learning-rate") */
    const char *doc;
} cfg_key;

#define OFF(f) offsetof(mt_experiment, f)
#define SCALAR(p, t, d, f, doc) {p, t, d, NULL, OFF(f), -1, 0, 0, NULL, doc}
#define SCALAR_AKA(p, t, d, f, aka, doc) {p, t, d, NULL, OFF(f), -1, 0, 0, aka, doc}
#define ENUM(p, d, allowed, f, doc) {p, T_ENUM, d, allowed, OFF(f), -1, 0, 0, NULL, doc}
#define FIXED(p, t, d, f, n, doc) {p, t, d, NULL, OFF(f), -1, n, 0, NULL, doc}
#define LIST(p, t, d, allowed, f, nf, n, doc) {p, t, d, allowed, OFF(f), (long)OFF(nf), n, 0, NULL, doc}
/* the keys of an extra network (mt_exp_model) of a task */
#define MODEL_KEYS(p, f, who)                                                                                     \
    {p ".graph", T_OPTPATH, "\"\"", NULL, OFF(f.graph), -1, 0, 0, NULL, who ": model graph YAML; empty = none."}, \
    {p ".params", T_PARAMS, "{}", NULL, OFF(f.args), (long)OFF(f.n_args), 0, 0, NULL, who ": graph params overrides."}, \
    {p ".init_from", T_OPTPATH, "\"\"", NULL, OFF(f.init_from), -1, 0, 0, NULL,                                 \
     who ": weights (a medtrain checkpoint such as an earlier run's best.h5, Keras .h5, .safetensors)."},          \
    {p ".init_map", T_OPTPATH, "\"\"", NULL, OFF(f.init_map), -1, 0, 0, NULL, who ": name map of init_from."},  \
    {p ".init_net", T_STR, "\"\"", NULL, OFF(f.init_net), -1, 0, 0, NULL,                                        \
     who ": which network of a multi-network checkpoint init_from holds (e.g. D of a G-D run's best.h5, stored "   \
     "under /nets/D); empty = the run's trained network."},                                                        \
    {p ".init_strict", T_BOOL, "true", NULL, OFF(f.init_strict), -1, 0, 0, NULL, who ": shape mismatches are errors."}, \
    {p ".input_scale", T_FLOAT, "1", NULL, OFF(f.input_scale), -1, 0, 0, NULL,                                    \
     who ": the task's (normalised) input is multiplied by this before the network (e.g. 255 for a Keras "      \
     "EfficientNet C trained on 0-255 crops while G works in [0, 1])."},                                          \
    {p ".input_channels", T_INT, "0", NULL, OFF(f.input_channels), -1, 0, 0, NULL,                                \
     who ": 3 replicates a grey input to 3 channels before the network (as data.channels); 0 = as is."}

static const cfg_key g_keys[] = {
    SCALAR("name", T_STR, "\"\"", name, "Run name (run directory runs/<name>-<time>); empty: the config file's name."),
    /* model */
    SCALAR("model.graph", T_PATH, NULL, model.graph, "Model graph YAML (configs/models/*.yaml), relative to this file."),
    {"model.params", T_PARAMS, "{}", NULL, OFF(model.args), (long)OFF(model.n_args), 0, 0, NULL,
     "Overrides of the graph's `params:` (e.g. base: 16, in_channels: 1, padding: same)."},
    SCALAR("model.init_from", T_OPTPATH, "\"\"", model.init_from,
           "Pretrained weights loaded after the model is built, before training starts (a fresh run only: "
           "--resume, evaluate and predict do not read it): Keras .h5, .safetensors or a medtrain checkpoint "
           "(docs/weights.md); empty = none."),
    SCALAR("model.init_map", T_OPTPATH, "\"\"", model.init_map,
           "Name map YAML from the file's tensor names to the model's (docs/weights.md); empty = default names."),
    SCALAR("model.init_strict", T_BOOL, "true", model.init_strict,
           "true: a tensor whose shape differs from the model's is an error; false: it is left as initialised "
           "and reported (e.g. a classifier head with another class count)."),
    /* task */
    ENUM("task.kind", "segmentation", "segmentation|classification|detection|adversarial|gdc", task.kind,
         "What is trained (see Tasks above): masks, labels, boxes, G against D, or G against frozen D and C."),
    SCALAR("task.classes", T_INT, "0", task.classes, "classification: number of classes; 0 = the model's output size."),
    MODEL_KEYS("task.discriminator", task.discriminator, "D"),
    MODEL_KEYS("task.classifier", task.classifier, "C"),
    MODEL_KEYS("task.generator1", task.generator1, "G1 (the step-1 generator)"),
    SCALAR("task.w_adv", T_FLOAT, "1", task.w_adv, "adversarial: weight of L_adv,G = BCE(1, D(G(X)))."),
    SCALAR("task.w_con", T_FLOAT, "40", task.w_con, "adversarial: weight of L_con = |X - G(X)| (L1)."),
    SCALAR("task.w_lat", T_FLOAT, "1", task.w_lat, "adversarial: weight of L_lat = MSE(D_feat(X), D_feat(G(X))) in L_G and L_D."),
    SCALAR("task.w_g", T_FLOAT, "80", task.w_g, "gdc: weight of L_G = |M X - M G(X)|."),
    SCALAR("task.w_d", T_FLOAT, "1", task.w_d, "gdc: weight of L_D = BCE(1, D(G(Adjust(X))))."),
    SCALAR("task.w_c", T_FLOAT, "4", task.w_c, "gdc: weight of L_C = BCE(normal = 0, C(Adjust(X)))."),
    ENUM("task.gdc_step", "localize", "localize|restore", task.gdc_step,
         "gdc: localize = F from C's class-activation map; restore = F = |G1(X) - X| > task.change_threshold."),
    SCALAR("task.change_threshold", T_FLOAT, "0.06", task.change_threshold, "gdc restore: threshold on |G1(X) - X|."),
    ENUM("task.mask_polarity", "background", "background|literal", task.mask_literal,
         "gdc: background = M = 1 - F (only the fracture region may change); literal = M = F as printed."),
    SCALAR("task.cam_layer", T_STR, "\"\"", task.cam_layer,
           "gdc: the classifier's layer whose output is the CAM's activation (its last conv); required in localize, "
           "optional in restore (adds the `cam` localization scores)."),
    SCALAR("task.d_lr", T_FLOAT, "0", task.d_lr, "adversarial: D's learning rate; 0 = optimizer.lr."),
    SCALAR("task.box_gain", T_FLOAT, "0.05", task.box_gain, "detection: weight of the CIoU box loss (YOLOv5 hyp box)."),
    SCALAR("task.obj_gain", T_FLOAT, "1", task.obj_gain, "detection: weight of the objectness BCE (hyp obj)."),
    SCALAR("task.cls_gain", T_FLOAT, "0.5", task.cls_gain, "detection: weight of the class BCE (hyp cls)."),
    SCALAR("task.anchor_t", T_FLOAT, "4", task.anchor_t, "detection: anchor/target size ratio threshold."),
    FIXED("task.anchors", T_FLOATS, "[10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326]",
          task.anchors, 18,
          "detection: anchors (w, h) in pixels, 3 per level for P3, P4, P5 (YOLOv5s's); equal to the graph's anchors."),
    SCALAR("task.conf_threshold", T_FLOAT, "0.001", task.conf_threshold, "detection: score threshold before NMS."),
    SCALAR("task.nms_iou", T_FLOAT, "0.6", task.nms_iou, "detection: NMS IoU threshold."),
    /* data */
    SCALAR("data.dataset", T_PATH, NULL, data.dataset, "HDF5 dataset made by `medtrain import` (docs/dataset.md)."),
    SCALAR("data.train_split", T_STR, "train", data.train_split, "Split used for training."),
    SCALAR("data.val_split", T_STR, "val", data.val_split, "Split used for validation (early stopping, best.h5)."),
    SCALAR("data.test_split", T_STR, "test", data.test_split, "Split used by `medtrain evaluate`."),
    LIST("data.labels_keep", T_INTS, "[]", NULL, data.labels_keep, data.n_labels_keep, MT_CFG_MAX_LIST,
         "Only samples whose /labels value is listed take part in training, validation and evaluation "
         "(S4's G-D-C steps train on fracture crops: [1]); empty = all. Needs a dataset with /labels."),
    SCALAR("data.train_limit", T_INT, "0", data.train_limit,
           "Train on only the first N samples (in dataset order) of the training split, after data.labels_keep; 0 = "
           "all (S3's pseudo-label loop: model v1 on the k labelled slices, `medtrain pseudo-label --labelled k`)."),
    SCALAR("data.folds", T_INT, "0", data.folds,
           "K-fold cross-validation: K > 1 replaces the dataset's splits by K folds of whole patients (split groups "
           "as at import: patient id, else source file, else the sample; identical images together); 0 = the "
           "dataset's splits. A sweep's `folds: K` sets it (docs/sweep.md)."),
    SCALAR("data.fold", T_INT, "0", data.fold,
           "With data.folds K: this run's fold, 0..K-1: test = fold `fold`, val = fold (fold + 1) mod K, train = "
           "the other K - 2 folds."),
    SCALAR("data.fold_seed", T_U64, "0", data.fold_seed,
           "Seed of the fold assignment (Philox shuffle of the patient groups); independent of train.seed, so "
           "every seed of a sweep sees the same folds."),
    FIXED("data.input_size", T_INTS, "[0, 0]", data.input_size, 2, "Network input [H, W] in px; [0, 0] = the dataset's size."),
    ENUM("data.normalize", "none", "none|window|zscore|minmax", data.normalize,
         "Intensity mapping: window = clip to data.window and scale to [0, 1]; zscore = (x - mean) / std; "
         "minmax = per image."),
    FIXED("data.window", T_FLOATS, "[-1000, 1000]", data.window, 2, "[lo, hi] for normalize: window (HU for CT)."),
    SCALAR("data.output_scale", T_FLOAT, "1", data.output_scale,
           "Multiplies the normalised input: 255 gives the 0-255 range Keras EfficientNet expects."),
    SCALAR("data.channels", T_INT, "0", data.channels,
           "Network input channels; 0 = the dataset's; 3 with a 1-channel dataset = grey replicated to 3."),
    SCALAR("data.mean", T_FLOAT, "0", data.mean, "Mean for normalize: zscore."),
    SCALAR("data.std", T_FLOAT, "1", data.std, "Standard deviation for normalize: zscore."),
    SCALAR_AKA("data.num_workers", T_INT, "2", data.num_workers, "workers,threads", "Loader threads."),
    SCALAR("data.shuffle", T_BOOL, "true", data.shuffle, "Shuffle the training split every epoch (seeded)."),
    SCALAR("data.drop_last", T_BOOL, "false", data.drop_last, "Drop the last incomplete training batch."),
    SCALAR("data.augment.enabled", T_BOOL, "false", data.augment.enabled, "Apply random augmentation to training samples."),
    SCALAR("data.augment.flip_h", T_FLOAT, "0", data.augment.flip_h, "Probability of a horizontal flip."),
    SCALAR("data.augment.flip_v", T_FLOAT, "0", data.augment.flip_v, "Probability of a vertical flip."),
    SCALAR_AKA("data.augment.rotation_deg", T_FLOAT, "0", data.augment.rotation_deg, "rotation,rotation_range",
               "Rotation angle uniform in [-r, r] degrees."),
    SCALAR_AKA("data.augment.translate_frac", T_FLOAT, "0", data.augment.translate_frac, "translate,shift",
               "Shift uniform in [-t, t] times the image size."),
    FIXED("data.augment.zoom", T_FLOATS, "[1, 1]", data.augment.zoom, 2, "Scale factor range [min, max]."),
    SCALAR("data.augment.brightness", T_FLOAT, "0", data.augment.brightness, "Additive brightness uniform in [-b, b]."),
    SCALAR("data.augment.contrast", T_FLOAT, "0", data.augment.contrast, "Contrast factor uniform in [1-c, 1+c]."),
    SCALAR("data.augment.noise_std", T_FLOAT, "0", data.augment.noise_std, "Gaussian noise standard deviation."),
    SCALAR("data.augment.salt_pepper", T_FLOAT, "0", data.augment.salt_pepper, "Fraction of pixels set to min or max."),
    SCALAR("data.augment.elastic_alpha", T_FLOAT, "0", data.augment.elastic_alpha, "Elastic warping: largest displacement of a control point (px), uniform in [-a, a] per axis; 0 = off."),
    SCALAR("data.augment.elastic_sigma", T_FLOAT, "0", data.augment.elastic_sigma, "Deprecated and ignored (never used by the warp): kept so that run directories written before elastic_grid existed still load; set elastic_grid instead."),
    SCALAR("data.augment.elastic_grid", T_INT, "5", data.augment.elastic_grid, "Elastic warping: control points per axis of the cubic B-spline displacement grid spanning the image, 2-8 (TorchIO RandomElasticDeformation num_control_points); fewer = smoother."),
    /* loss */
    ENUM("loss.kind", "bce_with_logits", "bce_with_logits|cross_entropy|dice|bce_dice|mse|l1", loss.kind,
         "Loss on the model's logits."),
    SCALAR("loss.pos_weight", T_FLOAT, "1", loss.pos_weight, "BCE weight of the positive class (pos_weight)."),
    LIST("loss.class_weights", T_FLOATS, "[]", NULL, loss.class_weights, loss.n_class_weights, MT_CFG_MAX_LIST,
         "Cross-entropy class weights; empty = unweighted."),
    SCALAR("loss.bce_weight", T_FLOAT, "1", loss.bce_weight, "bce_dice: weight of the BCE term."),
    SCALAR("loss.dice_weight", T_FLOAT, "1", loss.dice_weight, "bce_dice: weight of the Dice term."),
    SCALAR("loss.dice_smooth", T_FLOAT, "1", loss.dice_smooth, "Smoothing constant of the soft Dice loss."),
    /* optimizer */
    ENUM("optimizer.kind", "adam", "sgd|adam|adamw|adadelta", optimizer.kind, "torch.optim algorithm."),
    SCALAR_AKA("optimizer.lr", T_FLOAT, "0.001", optimizer.lr, "learning_rate,learning-rate,lr_rate,rate", "Learning rate."),
    SCALAR("optimizer.momentum", T_FLOAT, "0", optimizer.momentum, "SGD momentum."),
    SCALAR("optimizer.dampening", T_FLOAT, "0", optimizer.dampening, "SGD dampening."),
    SCALAR("optimizer.nesterov", T_BOOL, "false", optimizer.nesterov, "SGD Nesterov momentum."),
    SCALAR_AKA("optimizer.weight_decay", T_FLOAT, "0", optimizer.weight_decay, "decay,l2,wd",
               "L2 penalty (decoupled for adamw)."),
    FIXED("optimizer.betas", T_FLOATS, "[0.9, 0.999]", optimizer.betas, 2, "Adam/AdamW (beta1, beta2)."),
    SCALAR_AKA("optimizer.eps", T_FLOAT, "0", optimizer.eps, "epsilon", "Epsilon; 0 = torch's default for the kind."),
    SCALAR("optimizer.amsgrad", T_BOOL, "false", optimizer.amsgrad, "Adam/AdamW AMSGrad variant."),
    SCALAR("optimizer.rho", T_FLOAT, "0.9", optimizer.rho, "Adadelta rho."),
    SCALAR_AKA("optimizer.clip_grad_norm", T_FLOAT, "0", optimizer.clip_grad_norm, "clipnorm,max_grad_norm,grad_clip",
               "Clip the global gradient L2 norm to this value; 0 = off."),
    /* schedule */
    ENUM("schedule.kind", "constant", "constant|step|multistep|cosine|plateau", schedule.kind,
         "torch.optim.lr_scheduler kind, stepped once per epoch."),
    SCALAR("schedule.step_size", T_INT, "30", schedule.step_size, "step: epochs between decays."),
    SCALAR("schedule.gamma", T_FLOAT, "0.1", schedule.gamma, "step/multistep: decay factor."),
    LIST("schedule.milestones", T_INTS, "[]", NULL, schedule.milestones, schedule.n_milestones, MT_CFG_MAX_LIST,
         "multistep: epochs at which lr is multiplied by gamma."),
    SCALAR("schedule.t_max", T_INT, "0", schedule.t_max, "cosine: period in epochs; 0 = train.epochs."),
    SCALAR("schedule.eta_min", T_FLOAT, "0", schedule.eta_min, "cosine: minimum lr."),
    SCALAR("schedule.monitor", T_STR, "val_loss", schedule.monitor, "plateau: metric watched (val_loss, val_dsc, ...)."),
    ENUM("schedule.mode", "min", "min|max", schedule.mode_max, "plateau: whether the metric should decrease or increase."),
    SCALAR("schedule.factor", T_FLOAT, "0.1", schedule.factor, "plateau: lr multiplier."),
    SCALAR("schedule.patience", T_INT, "10", schedule.patience, "plateau: epochs without improvement."),
    SCALAR("schedule.threshold", T_FLOAT, "0.0001", schedule.threshold, "plateau: relative improvement threshold."),
    SCALAR("schedule.cooldown", T_INT, "0", schedule.cooldown, "plateau: epochs to wait after a reduction."),
    SCALAR("schedule.min_lr", T_FLOAT, "0", schedule.min_lr, "plateau: lower bound of lr."),
    /* train */
    SCALAR("train.epochs", T_INT, "10", train.epochs, "Number of epochs (ignored when train.steps > 0)."),
    SCALAR_AKA("train.steps", T_LONG, "0", train.steps, "iterations,max_steps", "Total optimizer steps; 0 = use epochs."),
    SCALAR_AKA("train.batch_size", T_INT, "4", train.batch_size, "batch,batchsize", "Samples per step."),
    SCALAR("train.seed", T_U64, "0", train.seed, "Seed of every random stream (init, shuffling, augmentation, dropout)."),
    SCALAR("train.deterministic", T_BOOL, "false", train.deterministic,
           "Bit-reproducible runs (fixed reduction order; resume gives identical weights; on a GPU, deterministic "
           "cuDNN convolution algorithms only, and gathering instead of atomic backward kernels)."),
    SCALAR("train.cudnn_benchmark", T_BOOL, "false", train.cudnn_benchmark,
           "GPU: time cuDNN's convolution algorithms once per shape and keep the fastest (torch.backends.cudnn.benchmark)."),
    SCALAR("train.copy_stream", T_BOOL, "false", train.copy_stream,
           "GPU: copy batches to the device on a separate stream, overlapping the previous step (not yet verified on a GPU)."),
    SCALAR("train.cuda_graph", T_BOOL, "false", train.cuda_graph,
           "GPU: capture the whole training step (forward, loss, backward, optimizer) in a CUDA graph after 3 warm-up "
           "steps and replay it (static shapes; falls back to eager steps with a message otherwise; compiled, not yet "
           "run on a GPU)."),
    SCALAR("train.device", T_STR, "auto", train.device, "auto (GPU if present), cpu, cuda or cuda:N."),
    SCALAR("train.threads", T_INT, "0", train.threads, "CPU threads; 0 = library default."),
    SCALAR("train.val_every", T_INT, "1", train.val_every, "Validate every N epochs."),
    SCALAR("train.log_every", T_INT, "10", train.log_every, "Log a line every N steps."),
    ENUM("train.precision", "fp32", "fp32|bf16|fp16", train.precision,
         "Mixed precision (torch.autocast): conv/linear in bf16 or fp16 with float32 accumulation, the rest and "
         "the weights float32; fp16 adds dynamic loss scaling (GradScaler). Emulated on CPUs without bf16."),
    /* early stopping */
    SCALAR("early_stopping.enabled", T_BOOL, "false", early_stopping.enabled, "Stop when the monitored metric stalls."),
    SCALAR("early_stopping.monitor", T_STR, "val_loss", early_stopping.monitor, "Metric watched (val_loss, val_dsc, ...)."),
    ENUM("early_stopping.mode", "min", "min|max", early_stopping.mode_max, "Whether the metric should decrease or increase."),
    SCALAR("early_stopping.patience", T_INT, "10", early_stopping.patience, "Epochs without improvement before stopping."),
    SCALAR("early_stopping.min_delta", T_FLOAT, "0", early_stopping.min_delta, "Smallest change counted as improvement."),
    /* checkpoint */
    SCALAR("checkpoint.every", T_INT, "1", checkpoint.every, "Write last.h5 every N epochs."),
    SCALAR("checkpoint.save_best", T_BOOL, "true", checkpoint.save_best, "Keep best.h5 by checkpoint.monitor."),
    SCALAR("checkpoint.monitor", T_STR, "val_loss", checkpoint.monitor, "Metric that defines best.h5."),
    ENUM("checkpoint.mode", "min", "min|max", checkpoint.mode_max, "Whether lower or higher is better."),
    /* metrics */
    LIST("metrics.names", T_STRS, "[dsc, iou, accuracy]", "dsc|iou|accuracy|precision|recall|specificity|auc|map50|map50_95",
         metrics.names, metrics.n_names, MT_CFG_MAX_LIST, "Metrics computed on validation and test."),
    SCALAR("metrics.threshold", T_FLOAT, "0.5", metrics.threshold, "Probability threshold for binary masks."),
    /* post-processing */
    {"postprocess.hu_window", T_FLOATS, "[]", NULL, OFF(postprocess.hu_window), -1, 2, 1, NULL,
     "Keep predicted pixels whose input value lies in [lo, hi] (S1: [-29, 150] HU); empty = off."},
    LIST("postprocess.class_hu_windows", T_FLOATS, "[]", NULL, postprocess.class_hu, postprocess.n_class_hu,
         MT_CFG_MAX_LIST,
         "A window per mask channel, [lo_0, hi_0, lo_1, hi_1, ...] (S3: muscle [-29, 150], fat [-190, -30]); "
         "replaces hu_window; empty = off."),
    SCALAR("postprocess.largest_component", T_BOOL, "false", postprocess.largest_component,
           "Keep only the largest connected component of each predicted mask."),
};
#define N_KEYS ((int)(sizeof g_keys / sizeof *g_keys))

static const char *g_section_doc[][2] = {
    {"model", "The network: a graph file and its parameters (docs/models.md)."},
    {"task", "What is trained: the task's targets, losses, metrics and pictures (train/task.h)."},
    {"task.discriminator", "adversarial / gdc: the discriminator D."},
    {"task.classifier", "gdc: the frozen classifier C."},
    {"task.generator1", "gdc restore: the frozen step-1 generator G1."},
    {"data", "Dataset, splits, input size and intensity pre-processing."},
    {"data.augment", "Random augmentation of training samples (data/augment.h)."},
    {"loss", "Training loss."},
    {"optimizer", "Optimizer (torch.optim names and defaults)."},
    {"schedule", "Learning-rate schedule."},
    {"train", "Training loop."},
    {"early_stopping", "Early stopping on a validation metric."},
    {"checkpoint", "HDF5 checkpoints last.h5 / best.h5 in the run directory."},
    {"metrics", "Evaluation metrics."},
    {"postprocess", "Post-processing of predicted masks."},
};

/* The tasks section of docs/config.md (train/task.h has the details). */
static const char *const k_tasks_doc =
    "## Tasks\n\n"
    "`task.kind` says what is trained; the training loop (train/trainer.h) is the same for all.\n\n"
    "| task.kind | dataset needs | model | loss | metrics (val_<name>) | pictures |\n"
    "|---|---|---|---|---|---|\n"
    "| `segmentation` (default) | `/masks` [N, K, H, W] | K logits (sigmoid) or K + 1 (softmax, channel 0 = "
    "background) | `loss.kind` bce_with_logits, dice, bce_dice, mse, l1; cross_entropy for K + 1 logits | dsc, iou, "
    "accuracy, precision, recall, specificity per image (mean over images), auc (pixels), dsc_<mask> per class "
    "| overlays/ |\n"
    "| `classification` | `/labels` | [N, K] logits (cross_entropy) or [N, 1] (bce_with_logits) | cross_entropy / "
    "bce_with_logits | accuracy, precision, recall (macro; binary: class 1), auc (one-vs-rest macro) | "
    "pictures/confusion_matrix.png, roc.png |\n"
    "| `detection` | `/boxes` | one output per level [N, A, H, W, 5 + classes] (yolov5s.yaml) | YOLOv5's CIoU + "
    "objectness + class BCE (`task.box_gain`, `obj_gain`, `cls_gain`, `anchor_t`, `anchors`) | map50, map50_95, "
    "precision, recall (`task.conf_threshold`, `nms_iou`), mean_iou (top-confidence box vs true box, per image) | pictures/boxes_*.png |\n"
    "| `adversarial` | images (labels optional: val_auc) | `model` = G; `task.discriminator` = D with outputs "
    "[logit, features] | L_G = w_adv BCE(1, D(G(X))) + w_con abs(X - G(X)) + w_lat MSE(f(X), f(G(X))); L_D = "
    "BCE(1, D(X)) + BCE(0, D(G(X))) + w_lat L_lat; G then D each step | con, adv, lat, d, auc | "
    "pictures/change_*.png |\n"
    "| `gdc` | images | `model` = G; frozen `task.discriminator`, `task.classifier`, `task.generator1` (restore) "
    "from earlier runs (`init_from`) | w_g L_G + w_d L_D + w_c L_C with M = 1 - F (`task.mask_polarity`), F = C's "
    "CAM (`task.cam_layer`) or abs(G1(X) - X) > `task.change_threshold` | g, d, c, changed; with /masks (S4's "
    "recorded `defect`): pointing_, iou_, tau_ of the maps change, cam, random (tau picked on val) | "
    "pictures/change_*.png (defect outlined) |\n\n"
    "`data.labels_keep` restricts every split to samples with those /labels values (S4's G-D-C: `[1]`, fracture "
    "crops). The gdc localization scores (train/localize.h, train/task_gdc_localize.c): per image three maps, each "
    "min-max normalised to [0, 1]: `change` = abs(G(X) - X) (mean over channels), `cam` = C's class-activation map "
    "(when `task.cam_layer` is set), `random` = uniform noise from (train.seed, sample); over the images whose defect "
    "mask is non-empty, `pointing_<map>` = the share whose argmax pixel (the first in row-major order) lies in the "
    "mask, `iou_<map>` = mean IoU of (map > tau) with the mask, tau = `tau_<map>` from 0.05, 0.10, ..., 0.95 "
    "maximising the mean IoU on the val split and applied unchanged to the evaluated split.\n\n"
    "Input normalisation: `data.normalize` (window / zscore / minmax / none), then x `data.output_scale` "
    "(255: Keras EfficientNet's 0-255 input), then `data.channels: 3` replicates a grey image to 3 channels.\n\n";

/* ------------------------------------------------------------ helpers --- */

static void *field(mt_experiment *e, size_t off) { return (char *)e + off; }

/* index of the `i`-th '|' separated word of `allowed` equal to `v`, or -1 */
static int allowed_index(const char *allowed, const char *v)
{
    int i = 0;
    for (const char *p = allowed; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (strlen(v) == len && !strncmp(p, v, len)) return i;
        p += len + (bar ? 1 : 0);
    }
    return -1;
}

/* nearest word of a '|' list to v (edit distance), into buf; returns distance */
static int nearest_allowed(const char *allowed, const char *v, char *buf, size_t len)
{
    int best = INT_MAX;
    buf[0] = '\0';
    for (const char *p = allowed; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        char w[64];
        snprintf(w, sizeof w, "%.*s", (int)l, p);
        int d = mt_edit_distance(v, w);
        if (d < best) {
            best = d;
            snprintf(buf, len, "%s", w);
        }
        p += l + (bar ? 1 : 0);
    }
    return best;
}

static void list_words(const char *allowed, char *buf, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; allowed[i] && j + 3 < len; i++) {
        if (allowed[i] == '|') {
            buf[j++] = ',';
            buf[j++] = ' ';
        } else {
            buf[j++] = allowed[i];
        }
    }
    buf[j] = '\0';
}

static const char *type_name(cfg_type t)
{
    switch (t) {
    case T_STR: return "string";
    case T_PATH: return "file path";
    case T_OPTPATH: return "file path or empty";
    case T_INT: case T_LONG: return "integer";
    case T_U64: return "non-negative integer";
    case T_FLOAT: return "number";
    case T_BOOL: return "true/false";
    case T_ENUM: return "one of";
    case T_FLOATS: return "list of numbers";
    case T_INTS: return "list of integers";
    case T_STRS: return "list of names";
    case T_PARAMS: return "map";
    }
    return "?";
}

/* ------------------------------------------------------------ decoding --- */

typedef struct load_ctx {
    mt_experiment *e;
    mt_yaml_node *root;
} load_ctx;

static mt_status type_error(const mt_yaml_node *n, const cfg_key *k, const char *what)
{
    char w[600];
    mt_yaml_where(n, w, sizeof w);
    const char *val = n->kind == MT_YAML_SCALAR ? n->value : (n->kind == MT_YAML_MAP ? "a map" : "a list");
    return MT_ERR(MT_ERR_INVALID, "%s: %s: expected %s%s, got '%s'", w, k->path, what ? what : type_name(k->type),
                  "", val);
}

/* directory of a node's file joined with rel (for paths), malloc'ed */
static char *resolve_path(const mt_yaml_node *n, const char *rel)
{
    const char *file = n->file;
    const char *slash = strrchr(file, '/');
    if (rel[0] == '/' || !strncmp(file, "--set", 5) || !strncmp(file, "<", 1) || !slash) return mt_strdup(rel);
    size_t dl = (size_t)(slash - file) + 1, rl = strlen(rel);
    char *p = mt_malloc(dl + rl + 1);
    if (!p) return NULL;
    memcpy(p, file, dl);
    memcpy(p + dl, rel, rl + 1);
    return p;
}

static mt_status decode_number_list(const mt_yaml_node *n, const cfg_key *k, mt_experiment *e)
{
    if (n->kind != MT_YAML_SEQ) return type_error(n, k, NULL);
    int cap = k->len;
    if ((k->n_off < 0 && !k->exact && n->n != cap) || (k->exact && n->n != 0 && n->n != cap)) {
        char w[600];
        mt_yaml_where(n, w, sizeof w);
        return MT_ERR(MT_ERR_INVALID, "%s: %s: expected %s%d values, got %d", w, k->path, k->exact ? "no or " : "",
                      cap, n->n);
    }
    if (n->n > cap) {
        char w[600];
        mt_yaml_where(n, w, sizeof w);
        return MT_ERR(MT_ERR_INVALID, "%s: %s: at most %d values allowed, got %d", w, k->path, cap, n->n);
    }
    for (int i = 0; i < n->n; i++) {
        const mt_yaml_node *c = n->child[i];
        if (k->type == T_FLOATS) {
            double v;
            if (!mt_yaml_as_double(c, &v)) return type_error(c, k, "a number");
            ((double *)field(e, k->off))[i] = v;
        } else if (k->type == T_INTS) {
            long v;
            if (!mt_yaml_as_int(c, &v) || v < INT_MIN || v > INT_MAX) return type_error(c, k, "an integer");
            ((int *)field(e, k->off))[i] = (int)v;
        } else {
            if (c->kind != MT_YAML_SCALAR) return type_error(c, k, "a name");
            if (k->allowed && allowed_index(k->allowed, c->value) < 0) {
                char w[600], words[512], near[64];
                mt_yaml_where(c, w, sizeof w);
                list_words(k->allowed, words, sizeof words);
                nearest_allowed(k->allowed, c->value, near, sizeof near);
                return MT_ERR(MT_ERR_INVALID, "%s: %s: unknown value '%s'; allowed: %s; did you mean '%s'?", w,
                              k->path, c->value, words, near);
            }
            char **arr = field(e, k->off);
            if (!(arr[i] = mt_strdup(c->value))) return MT_ERR_NOMEM;
        }
    }
    if (k->n_off >= 0) *(int *)field(e, (size_t)k->n_off) = n->n;
    return MT_OK;
}

static mt_status decode_key(mt_yaml_node *n, const cfg_key *k, mt_experiment *e)
{
    void *f = field(e, k->off);
    char w[600];
    mt_yaml_where(n, w, sizeof w);
    if (k->type == T_FLOATS || k->type == T_INTS || k->type == T_STRS) return decode_number_list(n, k, e);
    if (k->type == T_PARAMS) {
        if (n->kind != MT_YAML_MAP) return type_error(n, k, "a map of name: value");
        if (n->n == 0) return MT_OK;
        mt_model_arg *args = mt_calloc((size_t)n->n, sizeof *args);
        if (!args) return MT_ERR_NOMEM;
        *(mt_model_arg **)f = args;
        int *count = field(e, (size_t)k->n_off);
        for (int i = 0; i < n->n; i++) {
            const mt_yaml_node *c = n->child[i];
            if (c->kind != MT_YAML_SCALAR) return type_error(c, k, "a scalar parameter value");
            if (!(args[i].key = mt_strdup(c->key)) || !(args[i].value = mt_strdup(c->value))) return MT_ERR_NOMEM;
            *count = i + 1;
        }
        return MT_OK;
    }
    if (n->kind != MT_YAML_SCALAR) return type_error(n, k, NULL);
    switch (k->type) {
    case T_STR:
        return (*(char **)f = mt_strdup(n->value)) ? MT_OK : MT_ERR_NOMEM;
    case T_OPTPATH:
    case T_PATH: {
        if (!n->value[0] && k->type == T_OPTPATH) return (*(char **)f = mt_strdup("")) ? MT_OK : MT_ERR_NOMEM;
        if (!n->value[0]) return MT_ERR(MT_ERR_INVALID, "%s: %s: a file path is required", w, k->path);
        char *p = resolve_path(n, n->value);
        if (!p) return MT_ERR_NOMEM;
        char *abs = realpath(p, NULL);
        if (!abs && k->type == T_OPTPATH) { /* absolute without requiring the file (checked where it is used) */
            char cwd[PATH_MAX];
            if (p[0] != '/' && getcwd(cwd, sizeof cwd)) {
                size_t len = strlen(cwd) + strlen(p) + 2;
                if ((abs = mt_malloc(len)) != NULL) snprintf(abs, len, "%s/%s", cwd, p);
            } else {
                abs = mt_strdup(p);
            }
            if (!abs) {
                free(p);
                return MT_ERR_NOMEM;
            }
        }
        if (!abs) {
            mt_status s = MT_ERR(MT_ERR_IO, "%s: %s: file '%s' not found (resolved to '%s')", w, k->path, n->value, p);
            free(p);
            return s;
        }
        free(p);
        *(char **)f = abs;
        /* the resolved config keeps the absolute path */
        char *v = mt_strdup(abs);
        if (!v) return MT_ERR_NOMEM;
        free(n->value);
        n->value = v;
        return MT_OK;
    }
    case T_INT: case T_LONG: case T_U64: {
        long v;
        if (!mt_yaml_as_int(n, &v)) return type_error(n, k, "an integer");
        if (k->type == T_INT && (v < INT_MIN || v > INT_MAX)) return type_error(n, k, "a 32-bit integer");
        if (k->type == T_U64 && v < 0) return type_error(n, k, NULL);
        if (k->type == T_INT) *(int *)f = (int)v;
        else if (k->type == T_LONG) *(long *)f = v;
        else *(uint64_t *)f = (uint64_t)v;
        return MT_OK;
    }
    case T_FLOAT:
        return mt_yaml_as_double(n, (double *)f) ? MT_OK : type_error(n, k, "a number");
    case T_BOOL:
        return mt_yaml_as_bool(n, (int *)f) ? MT_OK : type_error(n, k, "true or false");
    case T_ENUM: {
        int i = allowed_index(k->allowed, n->value);
        if (i < 0) {
            char words[512], near[64];
            list_words(k->allowed, words, sizeof words);
            nearest_allowed(k->allowed, n->value, near, sizeof near);
            return MT_ERR(MT_ERR_INVALID, "%s: %s: unknown value '%s'; allowed: %s; did you mean '%s'?", w, k->path,
                          n->value, words, near);
        }
        *(int *)f = i;
        return MT_OK;
    }
    default: break;
    }
    return MT_ERR(MT_ERR_INVALID, "%s: %s: unsupported key type", w, k->path);
}

/* ----------------------------------------------------------- validation --- */

static const cfg_key *find_key(const char *path)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(g_keys[i].path, path)) return &g_keys[i];
    return NULL;
}

/* 1 if some key lives under "prefix." */
static int is_section(const char *prefix)
{
    size_t l = strlen(prefix);
    for (int i = 0; i < N_KEYS; i++)
        if (!strncmp(g_keys[i].path, prefix, l) && g_keys[i].path[l] == '.') return 1;
    return 0;
}

/* The names allowed directly under `prefix` ("" = top level), ", "-separated,
 * and the one nearest to `bad` (aliases count as their key). */
static void allowed_under(const char *prefix, const char *bad, char *list, size_t len, char *near, size_t nlen)
{
    size_t pl = strlen(prefix), used = 0;
    int best = INT_MAX;
    list[0] = near[0] = '\0';
    for (int i = 0; i < N_KEYS; i++) {
        const char *p = g_keys[i].path;
        if (pl && (strncmp(p, prefix, pl) || p[pl] != '.')) continue;
        const char *rest = pl ? p + pl + 1 : p;
        const char *dot = strchr(rest, '.');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(dot ? (size_t)(dot - rest) : strlen(rest)), rest);
        char probe[80];
        snprintf(probe, sizeof probe, ", %s,", name);
        char padded[1100];
        snprintf(padded, sizeof padded, ", %s,", list);
        if (strstr(padded, probe)) continue;
        if (used + strlen(name) + 3 < len) used += (size_t)snprintf(list + used, len - used, "%s%s", used ? ", " : "", name);
        int d = mt_edit_distance(bad, name);
        if (!dot && g_keys[i].aka) { /* aliases */
            char aka[256];
            snprintf(aka, sizeof aka, "%s", g_keys[i].aka);
            for (char *tok = strtok(aka, ","); tok; tok = strtok(NULL, ",")) {
                int da = mt_edit_distance(bad, tok);
                if (da < d) d = da;
            }
        }
        if (d < best) {
            best = d;
            snprintf(near, nlen, "%s", name);
        }
    }
}

static mt_status validate_map(mt_yaml_node *map, const char *prefix, mt_experiment *e)
{
    for (int i = 0; i < map->n; i++) {
        mt_yaml_node *c = map->child[i];
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", c->key);
        const cfg_key *k = find_key(path);
        if (k) {
            MT_TRY(decode_key(c, k, e));
            continue;
        }
        if (is_section(path)) {
            if (c->kind != MT_YAML_MAP) {
                char w[600];
                mt_yaml_where(c, w, sizeof w);
                return MT_ERR(MT_ERR_INVALID, "%s: '%s' must be a map of settings", w, path);
            }
            MT_TRY(validate_map(c, path, e));
            continue;
        }
        char w[600], list[1024], near[64];
        mt_yaml_key_where(c, w, sizeof w);
        allowed_under(prefix, c->key, list, sizeof list, near, sizeof near);
        return MT_ERR(MT_ERR_INVALID, "%s: unknown key '%s' in %s; allowed: %s; did you mean '%s'?", w, c->key,
                      prefix[0] ? prefix : "the top level", list, near);
    }
    return MT_OK;
}

/* The defaults of every key with one, as a tree (file "<default>"). */
static mt_status defaults_tree(mt_yaml_node **out)
{
    mt_yaml_node *root = NULL;
    MT_TRY(mt_yaml_load_string("{}", "<default>", &root));
    for (int i = 0; i < N_KEYS; i++) {
        if (!g_keys[i].def) continue;
        char assign[512];
        snprintf(assign, sizeof assign, "%s=%s", g_keys[i].path, g_keys[i].def);
        mt_status s = mt_yaml_set(root, assign);
        if (s != MT_OK) {
            mt_yaml_free(root);
            return s;
        }
    }
    *out = root;
    return MT_OK;
}

/* Marks every node of the defaults tree as "<default>" so paths resolve from the cwd. */
static void mark_default(mt_yaml_node *n)
{
    if (!strncmp(n->file, "--set", 5)) {
        char *f = mt_strdup("<default>");
        if (f) {
            free(n->file);
            n->file = f;
        }
    }
    for (int i = 0; i < n->n; i++) mark_default(n->child[i]);
}

mt_status mt_experiment_load(const char *path, int n_sets, const char *const *sets, mt_experiment *exp)
{
    memset(exp, 0, sizeof *exp);
    mt_yaml_node *user = NULL, *root = NULL;
    mt_status s = mt_yaml_load_file(path, &user);
    if (s != MT_OK) return s;
    if (user->kind != MT_YAML_MAP) {
        char w[600];
        mt_yaml_where(user, w, sizeof w);
        mt_yaml_free(user);
        return MT_ERR(MT_ERR_INVALID, "%s: an experiment config must be a map of sections", w);
    }
    for (int i = 0; i < n_sets && s == MT_OK; i++) s = mt_yaml_set(user, sets[i]);
    if (s == MT_OK) s = defaults_tree(&root);
    if (s == MT_OK) {
        mark_default(root);
        s = mt_yaml_merge(root, user);
    }
    if (s == MT_OK) {
        /* required keys (no default) must be present */
        for (int i = 0; i < N_KEYS && s == MT_OK; i++)
            if (!g_keys[i].def && !mt_yaml_path(root, g_keys[i].path))
                s = MT_ERR(MT_ERR_INVALID, "%s:1:1: missing required key '%s' (%s)", path, g_keys[i].path, g_keys[i].doc);
    }
    if (s == MT_OK) s = validate_map(root, "", exp);
    if (s == MT_OK) {
        if (!exp->name[0]) {
            const char *base = strrchr(path, '/');
            base = base ? base + 1 : path;
            size_t l = strcspn(base, ".");
            char *nm = mt_malloc(l + 1);
            if (!nm) s = MT_ERR_NOMEM;
            else {
                memcpy(nm, base, l);
                nm[l] = '\0';
                free(exp->name);
                exp->name = nm;
                mt_yaml_node *nn = mt_yaml_map_get(root, "name");
                char *v = nn ? mt_strdup(nm) : NULL;
                if (v) {
                    free(nn->value);
                    nn->value = v;
                    nn->quoted = 1;
                }
            }
        }
        exp->postprocess.hu_window_enabled = mt_yaml_path(root, "postprocess.hu_window") &&
                                             mt_yaml_path(root, "postprocess.hu_window")->n == 2;
        if (exp->postprocess.hu_window_enabled && exp->postprocess.hu_window[0] >= exp->postprocess.hu_window[1]) {
            char w[600];
            mt_yaml_where(mt_yaml_path(root, "postprocess.hu_window"), w, sizeof w);
            s = MT_ERR(MT_ERR_INVALID, "%s: postprocess.hu_window: lo must be below hi", w);
        }
    }
    if (s == MT_OK && exp->train.batch_size <= 0) {
        char w[600];
        mt_yaml_where(mt_yaml_path(root, "train.batch_size"), w, sizeof w);
        s = MT_ERR(MT_ERR_INVALID, "%s: train.batch_size must be positive, got %d", w, exp->train.batch_size);
    }
    if (s == MT_OK) s = check_values(exp, root, path);
    if (s == MT_OK && !(exp->config_path = mt_strdup(path))) s = MT_ERR_NOMEM;
    if (s == MT_OK) s = mt_yaml_dump(root, &exp->resolved_yaml);
    mt_yaml_free(user);
    mt_yaml_free(root);
    if (s != MT_OK) mt_experiment_free(exp);
    return s;
}

/* Values that parse but cannot train: refused before anything runs, naming the key and where it was set. */
static mt_status check_values(const mt_experiment *exp, const mt_yaml_node *root, const char *path)
{
    char w[600];
    const char *key = NULL, *why = NULL;
    if (exp->train.steps <= 0 && exp->train.epochs < 1) key = "train.epochs", why = "must be at least 1 (or give train.steps)";
    else if (!(exp->optimizer.lr >= 0 && exp->optimizer.lr < 1e6)) key = "optimizer.lr", why = "must be a finite number >= 0 (below 1e6)";
    else if (exp->data.normalize == MT_NORM_WINDOW && !(exp->data.window[0] < exp->data.window[1]))
        key = "data.window", why = "must be [lo, hi] with lo < hi";
    else if (exp->data.augment.elastic_grid < 2 || exp->data.augment.elastic_grid > 8)
        key = "data.augment.elastic_grid", why = "must be 2..8 control points per axis";
    else if (exp->data.folds != 0 && (exp->data.folds < 3 || exp->data.folds > 1000))
        key = "data.folds", why = "must be 0 (the dataset's splits) or 3..1000 (a test, a val and at least one train fold)";
    else if (exp->data.folds && (exp->data.fold < 0 || exp->data.fold >= exp->data.folds))
        key = "data.fold", why = "must be in 0..data.folds - 1";
    if (!key) return MT_OK;
    const mt_yaml_node *n = mt_yaml_path(root, key);
    if (n) mt_yaml_where(n, w, sizeof w);
    else snprintf(w, sizeof w, "%s", path);
    return MT_ERR(MT_ERR_INVALID, "%s: %s %s", w, key, why);
}

void mt_experiment_free(mt_experiment *e)
{
    if (!e) return;
    for (int i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &g_keys[i];
        if (k->type == T_STR || k->type == T_PATH || k->type == T_OPTPATH) free(*(char **)field(e, k->off));
        if (k->type == T_STRS) {
            char **arr = field(e, k->off);
            for (int j = 0; j < k->len; j++) free(arr[j]);
        }
    }
    for (int i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &g_keys[i];
        if (k->type != T_PARAMS) continue;
        mt_model_arg *args = *(mt_model_arg **)field(e, k->off);
        int n = *(int *)field(e, (size_t)k->n_off);
        for (int j = 0; j < n; j++) {
            free((char *)args[j].key);
            free((char *)args[j].value);
        }
        free(args);
    }
    free(e->config_path);
    free(e->resolved_yaml);
    memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------- reference --- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 8192;
        while (cap < b->n + (size_t)need + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

mt_status mt_config_reference_markdown(char **text_out)
{
    sbuf b = {0};
    sb_printf(&b, "# Experiment configuration reference\n\n"
                  "<!-- Generated by mt_config_reference_markdown() in configs/config.c from the schema table; do not\n"
                  "     edit by hand. tests/test_config.c fails when this file and the table differ; regenerate with\n"
                  "     MEDTRAIN_WRITE_DOCS=1 ./build/run_tests config_reference -->\n\n"
                  "An experiment is one YAML file (see configs/s1_unet_muscle.yaml). Every key below is optional\n"
                  "unless marked **required**; omitted keys take the default shown. A top-level `base: other.yaml`\n"
                  "loads another config first and deep-merges this one over it. `medtrain train CONFIG --set\n"
                  "optimizer.lr=1e-4 --set data.input_size=[128,128]` overrides single keys (the value is parsed as\n"
                  "YAML). Relative paths are resolved against the directory of the file that contains them.\n"
                  "Unknown keys, wrong types and missing files stop the run before training, naming\n"
                  "file:line:column and the nearest valid key. The resolved config (defaults filled in, paths\n"
                  "absolute) is written to `config.yaml` in every run directory.\n\n"
                  "Limits on every YAML file read (configs, model graphs, weight maps), against malformed or\n"
                  "hostile files: maps/sequences may nest at most 256 levels (raise with the environment\n"
                  "variable `MEDTRAIN_YAML_MAX_DEPTH=N`, at most 4096), and aliases (`*name`, copies of an\n"
                  "anchored `&name` value) may produce at most 1,000,000 nodes per file (raise with\n"
                  "`MEDTRAIN_YAML_MAX_ALIAS_NODES=N`). A file over a limit is refused naming\n"
                  "file:line:column and the limit.\n\n");
    sb_printf(&b, "%s", k_tasks_doc);
    sb_printf(&b, "| key | type | default | description |\n|---|---|---|---|\n");
    char last_section[128] = "", section[128];
    for (int i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &g_keys[i];
        const char *dot = strrchr(k->path, '.');
        snprintf(section, sizeof section, "%.*s", dot ? (int)(dot - k->path) : 0, k->path);
        if (strcmp(section, last_section)) {
            for (size_t j = 0; j < sizeof g_section_doc / sizeof *g_section_doc; j++)
                if (!strcmp(g_section_doc[j][0], section))
                    sb_printf(&b, "| **%s** | section | | %s |\n", section, g_section_doc[j][1]);
            snprintf(last_section, sizeof last_section, "%s", section);
        }
        char type[512];
        if (k->type == T_ENUM) {
            char words[400];
            list_words(k->allowed, words, sizeof words);
            snprintf(type, sizeof type, "one of: %s", words);
        } else if (k->type == T_STRS && k->allowed) {
            char words[400];
            list_words(k->allowed, words, sizeof words);
            snprintf(type, sizeof type, "list of: %s", words);
        } else if ((k->type == T_FLOATS || k->type == T_INTS) && (k->n_off < 0 || k->exact)) {
            snprintf(type, sizeof type, "%s (%d)", type_name(k->type), k->len);
        } else {
            snprintf(type, sizeof type, "%s", type_name(k->type));
        }
        sb_printf(&b, "| `%s` | %s | %s%s%s | %s |\n", k->path, type, k->def ? "`" : "**required**",
                  k->def ? k->def : "", k->def ? "`" : "", k->doc);
    }
    if (b.failed) {
        free(b.p);
        return MT_ERR(MT_ERR_NOMEM, "out of memory writing the config reference");
    }
    *text_out = b.p;
    return MT_OK;
}

const char *mt_config_optimizer_name(int kind)
{
    static const char *n[] = {"sgd", "adam", "adamw", "adadelta"};
    return kind >= 0 && kind < 4 ? n[kind] : "?";
}

const char *mt_config_schedule_name(int kind)
{
    static const char *n[] = {"constant", "step", "multistep", "cosine", "plateau"};
    return kind >= 0 && kind < 5 ? n[kind] : "?";
}

const char *mt_config_loss_name(mt_loss_kind kind)
{
    static const char *n[] = {"bce_with_logits", "cross_entropy", "dice", "bce_dice", "mse", "l1"};
    return (int)kind >= 0 && (int)kind < 6 ? n[kind] : "?";
}

const char *mt_config_task_name(mt_task_kind kind)
{
    static const char *n[] = {"segmentation", "classification", "detection", "adversarial", "gdc"};
    return (int)kind >= 0 && (int)kind < 5 ? n[kind] : "?";
}
