/* core/op.h: one descriptor per op: its shape rule, and its CPU and CUDA
 * forward and backward kernels. mt_op_apply() is the single way an op runs:
 * it checks devices, asks the shape rule for output shapes, allocates the
 * outputs, calls the forward kernel of the inputs' device, and records an
 * autograd node when gradients are needed (autograd.h).
 *
 * Writing an op (see core/ops/relu.c for a short complete one):
 *   static mt_status relu_shape(mt_node *n, mt_shape *out) { ... }
 *   static mt_status relu_forward_cpu(mt_node *n)  { reads n->in[], writes n->out[] }
 *   static mt_status relu_backward_cpu(mt_node *n) { reads n->gout[], n->in[], n->out[],
 *                                                    n->saved[]; writes n->gin[] }
 *   const mt_op mt_op_relu = { "relu", relu_shape,
 *       { relu_forward_cpu, MT_CUDA_FN(relu_forward_cuda) },
 *       { relu_backward_cpu, MT_CUDA_FN(relu_backward_cuda) } };
 * and the CUDA twin in core/ops/relu.cu defines relu_forward_cuda/backward_cuda.
 *
 * Kernel contract
 *  - forward: n->out[i] are allocated (uninitialised) with the shapes from the
 *    shape rule. Extra tensors needed by backward (argmax indices, batch
 *    statistics, dropout masks) are created by the kernel into n->saved[k]
 *    (and released by the engine).
 *  - backward: n->gout[i] holds dL/d out[i] (never NULL: the engine supplies
 *    zeros for an unused output). n->gin[j] is a zero-filled tensor shaped like
 *    in[j] when input j needs a gradient, else NULL; the kernel writes (or
 *    accumulates into, since it starts at zero) dL/d in[j].
 *  - n->attr holds the op's parameters (its own struct, copied in by
 *    mt_op_apply); read it with MT_ATTR(n, type).
 *  - Return MT_OK or an error made with MT_ERR naming the problem.
 *
 * Layer (docs/design.md): above tensor.h, below autograd.h.
 */
#ifndef MT_OP_H
#define MT_OP_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
#define MT_ALIGN16 alignas(16)
#else
#define MT_ALIGN16 _Alignas(16)
#endif

#define MT_MAX_IN 8
#define MT_MAX_OUT 8
#define MT_MAX_SAVED 4
#define MT_ATTR_BYTES 256

typedef struct mt_shape {
    int ndim;
    int shape[MT_MAX_DIMS];
    mt_dtype dtype; /* output dtype; shape rules set it (usually in[0]->dtype) */
} mt_shape;

struct mt_op;

/* An autograd node: one application of an op. */
typedef struct mt_node {
    const struct mt_op *op;
    int n_in, n_out;
    mt_tensor *in[MT_MAX_IN];      /* strong refs to the inputs (graph edges) */
    mt_tensor *out[MT_MAX_OUT];    /* aliases of the outputs' storage (no cycle) */
    mt_tensor *saved[MT_MAX_SAVED];/* extra tensors kept for backward */
    mt_tensor *gout[MT_MAX_OUT];   /* backward: incoming grads (engine-owned) */
    mt_tensor *gin[MT_MAX_IN];     /* backward: grads to write (engine-owned) */
    int refcount;                  /* held by output tensors */
    int released;                  /* backward ran without retain_graph */
    int topo_mark;                 /* engine scratch */
    MT_ALIGN16 unsigned char attr[MT_ATTR_BYTES];
} mt_node;

typedef mt_status (*mt_kernel_fn)(mt_node *n);
typedef mt_status (*mt_shape_fn)(mt_node *n, mt_shape *out);

typedef struct mt_op {
    const char *name;
    mt_shape_fn shape;                       /* fills out[0..n_out-1]; validates inputs */
    mt_kernel_fn forward[MT_DEVICE_TYPES];   /* [MT_CPU], [MT_CUDA] */
    mt_kernel_fn backward[MT_DEVICE_TYPES];  /* NULL: op is not differentiable */
    int view;  /* 1: out[0] shares in[0]'s storage (reshape); forward may be a no-op */
    /* 1: the kernels take MT_BF16 / MT_F16 floating inputs (core/ops/lowp.h).
     * mt_op_apply refuses such inputs to any other op (MT_ERR_UNSUPPORTED
     * naming the op and the dtype). Outputs of an op given low-precision inputs
     * default to MT_REAL (float32 holding low-precision-rounded values) unless
     * its shape rule sets another dtype (the cast op). */
    int low_precision;
    /* What the backward kernels (CPU and CUDA) never read the data of: bit i of
     * backward_skips_in for input i, backward_skips_out for all outputs (shapes,
     * dtypes and devices they may still read). When grad is recorded the node
     * keeps a shape-only stand-in for those (op.c), so an activation no backward
     * needs (a conv's output that only feeds a relu) is freed as soon as the
     * forward is done with it, as PyTorch saves only what each backward uses.
     * A non-leaf input's retain_grad must be set before this op consumes it. */
    unsigned backward_skips_in;
    int backward_skips_out;
} mt_op;

#define MT_ATTR(n, type) ((type *)(void *)(n)->attr)

#ifdef MT_WITH_CUDA
#define MT_CUDA_FN(f) f
#else
#define MT_CUDA_FN(f) NULL
#endif

/* Runs `op` on inputs in[0..n_in-1] (NULL entries are optional inputs, e.g. a
 * missing bias) with parameters `attr` (attr_bytes <= MT_ATTR_BYTES), producing
 * n_out outputs into out[]. Returns MT_OK, or an error if an input is NULL
 * where required (propagated quietly), devices differ, shapes are invalid, or
 * the device has no kernel for this op (MT_ERR_UNSUPPORTED names op and device).
 * Gradients are recorded when grad mode is on and any input requires_grad.
 * If any input is a meta (shape-only) tensor, only the shape rule runs: the
 * outputs are meta tensors, no kernel runs and nothing is recorded (this is
 * how model graphs get their shapes: one shape system, the ops' own). */
mt_status mt_op_apply(const mt_op *op, int n_in, mt_tensor *const *in,
                      const void *attr, size_t attr_bytes, int n_out, mt_tensor **out);

/* Grad mode of this thread (torch.set_grad_enabled): whether mt_op_apply
 * records nodes. Returns the previous value. With grad mode off no graph is
 * kept (inference, optimizer updates). Declared here because mt_op_apply is
 * the one reader; autograd.h (which includes this header) is where users
 * find it. */
int mt_set_grad_enabled(int enabled);
int mt_is_grad_enabled(void);

/* Autocast of this thread (torch.autocast): MT_F32 when off, else MT_BF16 or
 * MT_F16, the type the lower-precision ops' float32 inputs are cast to. Set it
 * with mt_set_autocast (core/ops.h, where the list of those ops lives). */
mt_dtype mt_get_autocast(void);
/* Internal, for mt_set_autocast: sets this thread's autocast type and the
 * rules mt_op_apply follows (the cast op and the ops whose MT_F32 floating
 * inputs it casts: `n` descriptors in `list`, which must stay valid). Returns
 * the previous type. */
mt_dtype mt_op_set_autocast(mt_dtype dt, const mt_op *cast, const mt_op *const *list, int n);

/* Internal: releases a node reference (a tensor's grad_fn; tensor.c calls it
 * through mt_tensor_set_grad_fn_release). */
void mt_node_release(mt_node *n);

/* Single-output convenience wrapper: returns the output, or NULL on error.
 * Inputs that are NULL propagate a pending error (sticky errors). The `n_required`
 * first inputs must be non-NULL; later ones are optional. */
mt_tensor *mt_op1(const mt_op *op, int n_in, int n_required, mt_tensor *const *in,
                  const void *attr, size_t attr_bytes);

#ifdef __cplusplus
}
#endif
#endif
