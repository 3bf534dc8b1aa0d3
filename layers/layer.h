/* layers/layer.h: internal interface between the graph builder
 * (layers/graph.c, layers/model.c) and the layer kinds (one file each:
 * layers/conv2d.c, layers/batch_norm2d.c, ...). Not a public API: users build
 * models through layers/model.h.
 *
 * A layer kind reads its attributes from the expanded YAML spec (every ${...}
 * already substituted) with the mt_layer_get_* helpers, infers its output
 * channels from its inputs' channels, declares its named parameters and
 * buffers (mt_layer_declare; the builder then places them all in one
 * allocation), initialises them, computes its output shape symbolically
 * (for summaries and shape checks without running the network) and runs its
 * forward pass with the ops of core/ops.h (autograd comes from the ops).
 */
#ifndef MT_LAYER_H
#define MT_LAYER_H

#include "../configs/yaml_tree.h"
#include "../core/ops.h"
#include "../core/rng.h"
#include "model.h"

#define MT_LAYER_MAX_IN 8
#define MT_LAYER_MAX_STATE 6

/* Symbolic tensor shape [N, C, H, W] (ndim 4) or [N, F] (ndim 2). */
typedef struct mt_lshape {
    int ndim;
    int d[4];
} mt_lshape;

typedef struct mt_layer mt_layer;

typedef enum mt_activation {
    MT_ACT_NONE = 0, MT_ACT_RELU, MT_ACT_LEAKY_RELU, MT_ACT_SIGMOID, MT_ACT_TANH, MT_ACT_SILU
} mt_activation;
#define MT_ACT_NAMES "none|relu|leaky_relu|sigmoid|tanh|silu"

typedef struct mt_layer_kind {
    const char *type;   /* YAML `type:` */
    const char *attrs;  /* accepted attribute keys, '|' separated (besides name, type, from, when) */
    int min_in, max_in; /* number of `from:` inputs */
    /* reads attributes, sets L->cout from L->cin[], declares state; may set L->ref */
    mt_status (*setup)(mt_model *m, mt_layer *L);
    /* output shape from the shapes of all values (vals[L->in[k]], vals[L->ref]) */
    mt_status (*shape)(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *out);
    /* initialises declared state from the model's init stream (NULL: nothing to do) */
    mt_status (*init)(mt_model *m, mt_layer *L, mt_rng *rng);
    /* new reference to the output; vals indexed like L->in (vals[0] = model input) */
    mt_tensor *(*forward)(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training);
} mt_layer_kind;

struct mt_layer {
    const mt_layer_kind *kind;
    char *name;
    mt_yaml_node *spec;               /* expanded spec (owned) */
    int index;                        /* position in the model; its output is value index + 1 */
    int n_in;
    int in[MT_LAYER_MAX_IN];          /* value indices: 0 = model input, i + 1 = output of layer i */
    int cin[MT_LAYER_MAX_IN];         /* channels of each input (-1 unknown) */
    int cout;                         /* output channels / features (-1 unknown) */
    int spatial_1x1;                  /* output is known to be [N, C, 1, 1] */
    int ref;                          /* extra referenced value (crop like:, unpool indices:), -1 none */
    int keep_aux;                     /* max_pool2d: keep argmax indices for a max_unpool2d */
    int aux_hw[2];                    /* max_pool2d: input H, W of the last forward (unpool size) */
    int n_state;
    int state[MT_LAYER_MAX_STATE];    /* indices into the model's state table */
    MT_ALIGN16 unsigned char attr[256]; /* the kind's own attribute struct */
};

#define MT_LAYER_ATTR(L, type) ((type *)(void *)(L)->attr)

/* One named state_dict entry (parameter or buffer), a view into the model's
 * parameter block or buffer block. */
typedef struct mt_state_entry {
    char *name;
    int ndim;
    int shape[MT_MAX_DIMS];
    int is_param;
    size_t offset;       /* elements into its block */
    mt_tensor *t;        /* view (created after all layers are set up) */
    int layer;           /* owning layer */
} mt_state_entry;

struct mt_model {
    char *file;                /* graph file */
    mt_device dev;
    int in_channels;
    mt_layer *layers;
    int n_layers;
    int output;                /* value index of the output */
    int *last_use;             /* per value: last layer index reading it */
    mt_state_entry *state;
    int n_state, cap_state;
    mt_tensor *param_block;    /* one allocation for every parameter */
    mt_tensor *buffer_block;   /* one allocation for every buffer */
    mt_tensor **params;        /* parameter views, state_dict order */
    int n_params;
    mt_tensor *one;            /* constant 1 (num_batches_tracked increments) */
    mt_rng dropout_rng;
    mt_tensor **aux;           /* per value, during forward: max-pool indices */
};

/* ---- attribute access (errors name file:line:col of the spec) ---- */
/* 1 if the attribute is present */
int mt_layer_has(const mt_layer *L, const char *key);
mt_status mt_layer_get_int(const mt_layer *L, const char *key, int def, int *out);
mt_status mt_layer_get_double(const mt_layer *L, const char *key, double def, double *out);
mt_status mt_layer_get_bool(const mt_layer *L, const char *key, int def, int *out);
/* One of the '|' separated names in `allowed` (index), default `def`. */
mt_status mt_layer_get_enum(const mt_layer *L, const char *key, const char *allowed, int def, int *out);
/* An int or a list of n ints (an int x expands to n copies); required when def_all < 0. */
mt_status mt_layer_get_ints(const mt_layer *L, const char *key, int n, int def_all, int *out);
/* Scalar text of the attribute or NULL if absent. */
const char *mt_layer_get_str(const mt_layer *L, const char *key);
/* Records an error located at the attribute (or the layer) and returns it. */
mt_status mt_layer_error(const mt_layer *L, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Resolves a layer name (or "input") to its value index; error if unknown or not earlier. */
mt_status mt_layer_lookup(const mt_model *m, const mt_layer *L, const char *key, int *value);

/* Declares state "<layer>.<suffix>" of the given shape; returns its index in *idx. */
mt_status mt_layer_declare(mt_model *m, mt_layer *L, const char *suffix, int ndim, const int *shape, int is_param);
/* The tensor of the layer's k-th declared state. */
mt_tensor *mt_layer_state(mt_model *m, const mt_layer *L, int k);

/* Applies an activation (consumes nothing; returns a new reference). */
mt_tensor *mt_layer_activate(mt_tensor *x, mt_activation act, double negative_slope);
/* Initialises a weight (and bias, may be NULL) by the name in `init`
 * (pytorch | kaiming_normal | kaiming_uniform | xavier_uniform | xavier_normal |
 * keras_glorot_uniform | keras_he_normal | keras_he_uniform | normal), with
 * `std` for normal. Non-pytorch schemes set the bias to 0 (Caffe/Keras).
 * none leaves the zeros of the allocation (weights about to be loaded from a
 * checkpoint; parameter counting) and draws no random numbers. */
#define MT_INIT_NAMES "pytorch|kaiming_normal|kaiming_uniform|xavier_uniform|xavier_normal|keras_glorot_uniform|keras_he_normal|keras_he_uniform|normal|none"
mt_status mt_layer_init_weight(mt_tensor *w, mt_tensor *b, int init, double std, int transposed, mt_rng *rng);

/* Attributes shared by the conv2d and conv_transpose2d layers. */
typedef struct mt_conv_layer_attr {
    int out, k[2], stride[2], dil[2], opad[2], groups, bias, pad_mode, pad[4], act, init;
    double slope, std;
} mt_conv_layer_attr;
/* Reads out (required), kernel (required), stride, dilation, groups, bias,
 * padding (allow_same: the "same" mode is accepted), activation,
 * negative_slope, init and init_std, and checks that groups divide the input
 * and output channels and that kernel, stride and dilation are >= 1.
 * output_padding (opad) is left 0: conv_transpose2d reads it itself.
 * Errors name the layer, key and file:line:column. */
mt_status mt_layer_get_conv_attr(const mt_layer *L, int allow_same, mt_conv_layer_attr *a);

/* Padding attribute: "same" (TF/Keras rule, mt_same_padding, resolved per input
 * size), "valid" (0), an int p (all sides), [ph, pw] or [top, bottom, left, right].
 * mode: 0 explicit (pad[] set), 1 same, 2 valid. */
mt_status mt_layer_get_padding(const mt_layer *L, const char *key, int allow_same, int *mode, int pad[4]);
/* Resolves a padding mode for an input h x w into explicit [top, bottom, left, right]. */
void mt_layer_resolve_padding(int mode, const int pad[4], int h, int w, int kh, int kw, int sh, int sw, int dh, int dw,
                              int out[4]);

/* Output spatial size of a conv/pool window (floor or ceil mode, PyTorch rule). */
int mt_layer_window_out(int in, int k, int stride, int pad_total, int dil, int ceil_mode);

#endif
