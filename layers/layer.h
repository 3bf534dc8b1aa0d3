/* layers/layer.h: internal interface between the graph builder
 * (layers/graph.c, layers/model.c) and the layer kinds (one file each:
 * layers/conv2d.c, layers/batch_norm2d.c, ...). Not a public API: users build
 * models through layers/model.h.
 *
 * A layer kind reads its attributes from the expanded YAML spec (every ${...}
 * already substituted) with the mt_layer_get_* helpers, infers its output
 * channels from its inputs' channels, declares its named parameters and
 * buffers (mt_layer_declare; the builder then places them all in one
 * allocation), initialises them, and runs its forward pass with the ops of
 * core/ops.h (autograd comes from the ops). It has no shape function: shapes
 * come from running the same forward pass on meta tensors, where each op
 * runs only its shape rule (mt_model_shape). A forward pass reads the values
 * it is given and writes only its outputs, never the model.
 */
#ifndef MT_LAYER_H
#define MT_LAYER_H

#include "../core/yaml_tree.h"
#include "../core/ops.h"
#include "../core/rng.h"
#include "model.h"

#define MT_LAYER_MAX_IN 8
#define MT_LAYER_MAX_OUT 8
#define MT_LAYER_MAX_STATE 6

typedef struct mt_layer mt_layer;

typedef enum mt_activation {
    MT_ACT_NONE = 0, MT_ACT_RELU, MT_ACT_LEAKY_RELU, MT_ACT_SIGMOID, MT_ACT_TANH, MT_ACT_SILU
} mt_activation;
#define MT_ACT_NAMES "none|relu|leaky_relu|sigmoid|tanh|silu"

/* The context of one forward pass. Layers read it and never write the model:
 * two threads may run the same model at once (evaluation mode; in training,
 * batch norm updates its running statistics, as in PyTorch). rng is this
 * pass's random stream (dropout, drop-path): a layer that draws takes
 * counters from it with mt_rng_next_offset. */
typedef struct mt_fwd {
    int training;
    mt_rng *rng;
} mt_fwd;

typedef struct mt_layer_kind {
    const char *type;   /* YAML `type:` */
    const char *attrs;  /* accepted attribute keys, '|' separated (besides name, type, from, when) */
    const char *ports;  /* names of the outputs after the first ("" = one output), '|' separated:
                           max_pool2d "indices" makes `pool1.indices` port 1 */
    int min_in, max_in; /* number of `from:` inputs */
    /* reads attributes, sets L->cout[] from L->cin[], declares state, may add
       references (mt_layer_ref) and set L->n_out (split) */
    mt_status (*setup)(mt_model *m, mt_layer *L);
    /* initialises declared state from the model's init stream (NULL: nothing to do) */
    mt_status (*init)(mt_model *m, mt_layer *L, mt_rng *rng);
    /* in[k]: the values the layer reads (from: inputs, then references), out[p]:
       new references to its n_out outputs. Tensors may be meta (shape-only):
       then only ops run (their shape rules), which is how shapes are found. */
    mt_status (*forward)(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f);
} mt_layer_kind;

struct mt_layer {
    const mt_layer_kind *kind;
    char *name;                       /* state_dict prefix; block layers are "<instance>.<name>" */
    mt_yaml_node *spec;               /* expanded spec (owned) */
    int index;                        /* position in the model */
    int n_in;                         /* values read: the `from:` inputs first, then references */
    int n_from;                       /* how many of in[] come from `from:` */
    int in[MT_LAYER_MAX_IN];          /* value indices (0 = model input) */
    int cin[MT_LAYER_MAX_IN];         /* channels (dimension 1) of each value read (-1 unknown) */
    int n_out;                        /* outputs (ports); 1 unless the kind has ports */
    int out;                          /* value index of output 0; output p is value out + p */
    int cout[MT_LAYER_MAX_OUT];       /* channels of each output (-1 unknown) */
    int spatial_1x1;                  /* output 0 is known to be [N, C, 1, 1] */
    int n_state;
    int state[MT_LAYER_MAX_STATE];    /* indices into the model's state table */
    MT_ALIGN16 unsigned char attr[256]; /* the kind's own attribute struct */
};

/* Returns y as output 0 of a single-output layer: MT_OK, or the pending error if y is NULL. */
static inline mt_status mt_layer_out1(mt_tensor **out, mt_tensor *y)
{
    out[0] = y;
    return y ? MT_OK : (mt_last_status() != MT_OK ? mt_last_status() : MT_ERR_INVALID);
}

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

/* A name that stands for a value: a block instance (its output) or a model output. */
typedef struct mt_alias {
    char *name;
    int value;
} mt_alias;

struct mt_model {
    char *file;                /* graph file */
    char *name;                /* graph name: */
    mt_device dev;
    int in_channels;
    int nominal_hw[2];         /* input: {size: [h, w]} (0 if not given): summaries and the build-time shape check */
    mt_layer *layers;
    int n_layers;
    int n_values;              /* 1 (the input) + every layer's outputs */
    int *value_layer;          /* per value: producing layer (-1 for the input) */
    int *value_port;           /* per value: which output of that layer */
    int *last_use;             /* per value: last layer index reading it */
    int n_outputs;             /* model outputs, in order */
    int *outputs;              /* their value indices */
    char **output_names;       /* and names (the `outputs:` entries) */
    mt_alias *alias;
    int n_alias;
    mt_state_entry *state;
    int n_state, cap_state;
    mt_tensor *param_block;    /* one allocation for every parameter */
    mt_tensor *buffer_block;   /* one allocation for every buffer */
    mt_tensor **params;        /* parameter views, state_dict order */
    int n_params;
    mt_tensor *one;            /* constant 1 (num_batches_tracked increments) */
    mt_rng dropout_rng;        /* the stream mt_model_forward uses (mt_model_run takes its own) */
    const void *build_specs;   /* during the build only: the expanded specs and aliases (graph.c) */
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
/* Resolves the value named by attribute `key` ("layer", "layer.port", a block
 * instance, or "input") and adds it to the values the layer reads: *slot is its
 * index in L->in[] / the forward's in[]. Errors (unknown name or port, not an
 * earlier layer) name file:line:column and the nearest name. */
mt_status mt_layer_ref(mt_model *m, mt_layer *L, const char *key, int *slot);
/* Adds value v to the values the layer reads; *slot as above. */
mt_status mt_layer_read_value(mt_model *m, mt_layer *L, int v, int *slot);
/* Index of the output named `port` of layer L (a name from its kind's ports,
 * or a number for split outputs), or -1. */
int mt_layer_port(const mt_layer *L, const char *port);
/* Layer that produced value v (NULL for the model input) and its port. */
const mt_layer *mt_value_layer(const mt_model *m, int v, int *port);

/* Declares state "<layer>.<suffix>" of the given shape; returns its index in *idx. */
mt_status mt_layer_declare(mt_model *m, mt_layer *L, const char *suffix, int ndim, const int *shape, int is_param);
/* The tensor of the layer's k-th declared state. */
mt_tensor *mt_layer_state(mt_model *m, const mt_layer *L, int k);

/* Applies an activation (consumes nothing; returns a new reference). */
mt_tensor *mt_layer_activate(mt_tensor *x, mt_activation act, double negative_slope);
/* Initialises a weight (and bias, may be NULL) by the name in `init`
 * (pytorch | kaiming_normal | kaiming_uniform | xavier_uniform | xavier_normal |
 * keras_glorot_uniform | keras_he_normal | keras_he_uniform | normal | none |
 * keras_effnet_conv | keras_effnet_dense), with `std` for normal. Non-pytorch
 * schemes set the bias to 0 (Caffe/Keras).
 * none leaves the zeros of the allocation (weights about to be loaded from a
 * checkpoint; parameter counting) and draws no random numbers.
 * keras_effnet_conv: Keras EfficientNet's CONV_KERNEL_INITIALIZER,
 * VarianceScaling(2, fan_out, truncated_normal); depth_multiplier m > 0 marks
 * a DepthwiseConv2D weight [C*m, 1, kh, kw], whose Keras fan_out is m*kh*kw
 * (mt_init_keras_fans); 0 for any other weight (ignored by other schemes).
 * keras_effnet_dense: DENSE_KERNEL_INITIALIZER, VarianceScaling(1/3, fan_out,
 * uniform) = U(+-sqrt(1/units)). */
#define MT_INIT_NAMES "pytorch|kaiming_normal|kaiming_uniform|xavier_uniform|xavier_normal|keras_glorot_uniform|keras_he_normal|keras_he_uniform|normal|none|keras_effnet_conv|keras_effnet_dense"
mt_status mt_layer_init_weight(mt_tensor *w, mt_tensor *b, int init, double std, int transposed, int depth_multiplier,
                               mt_rng *rng);

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

/* Runs the graph on a meta input of shape in_shape (evaluation mode) and keeps
 * every value: vals (m->n_values entries, all NULL on entry) get new
 * references the caller releases (also on error). Used by mt_model_shape and
 * the ONNX export (layers/export_onnx.c), which needs every value's shape. */
mt_status mt_model_trace(mt_model *m, int in_ndim, const int *in_shape, mt_tensor **vals);

/* Output spatial size of a conv/pool window (floor or ceil mode, PyTorch rule). */
int mt_layer_window_out(int in, int k, int stride, int pad_total, int dil, int ceil_mode);

#endif
