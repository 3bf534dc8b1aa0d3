/* core/tensor.h: N-dimensional tensors on a device, reference-counted.
 *
 * Layout: contiguous, row-major (NCHW for images). A tensor is a view
 * (shape + byte offset) into a reference-counted storage; several tensors may
 * share one storage (reshape, detach, parameter tables). Tensors themselves are
 * reference counted too: mt_tensor_retain / mt_tensor_release.
 *
 * Element type: `mt_real` is the floating type of this build: float normally,
 * double when compiled with -DMT_REAL_DOUBLE (the float64 build used by the
 * finite-difference gradient checks). MT_REAL is its dtype. The dtype field
 * is there for fp16/bf16 later; kernels today accept MT_REAL (and MT_I32 /
 * MT_U8 for index and mask tensors).
 *
 * Layer (docs/design.md): above alloc.h and device.h (which it includes, so
 * a tensor user sees devices and the allocator too), below op.h.
 */
#ifndef MT_TENSOR_H
#define MT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "device.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MT_REAL: the dtype of mt_real (device.h) in this build. */
#ifdef MT_REAL_DOUBLE
#define MT_REAL MT_F64
#else
#define MT_REAL MT_F32
#endif

#define MT_MAX_DIMS 8

typedef enum mt_dtype { MT_F32 = 0, MT_F64, MT_F16, MT_BF16, MT_I32, MT_U8, MT_DTYPE_COUNT } mt_dtype;

/* A reference-counted buffer on one device (allocated through the device's
 * caching allocator, see device.h). */
typedef struct mt_storage {
    void *data;
    size_t bytes;
    mt_device device;
    int refcount;
    int external; /* 1: memory not owned (wrapping a user buffer); not freed */
    int meta;     /* 1: shape-only storage (data NULL, nothing allocated), see mt_tensor_new_meta */
} mt_storage;

struct mt_node;

typedef struct mt_tensor {
    int ndim;
    int shape[MT_MAX_DIMS];
    mt_dtype dtype;
    mt_storage *storage;
    size_t offset;             /* bytes into storage->data */
    int refcount;
    /* autograd */
    int requires_grad;         /* leaf parameters and anything computed from them */
    int retain_grad;           /* keep .grad on a non-leaf tensor (e.g. CAM feature maps) */
    struct mt_tensor *grad;    /* accumulated gradient, same shape/device, or NULL */
    struct mt_tensor *grad_home; /* optional, owned: a preallocated view (into an optimizer group's flat
                                  * gradient buffer, optim.h) that backward makes .grad when .grad is NULL */
    struct mt_node *grad_fn;   /* node that produced it (NULL for leaves) */
    int out_index;             /* which output of grad_fn */
    char *name;                /* optional, owned (parameter name in a state_dict) */
} mt_tensor;

/* Size in bytes of one element of `dt`. */
size_t mt_dtype_size(mt_dtype dt);
/* "float32", "float64", "int32", ... */
const char *mt_dtype_name(mt_dtype dt);

/* New uninitialised tensor of the given shape on `dev`. NULL on error (MT_ERR_NOMEM, bad shape). */
mt_tensor *mt_tensor_new(mt_dtype dt, mt_device dev, int ndim, const int *shape);
/* New shape-only ("meta") tensor: shape and dtype, no memory (data NULL),
 * like PyTorch's device="meta". An op given a meta input (op.h) runs only its
 * shape rule and returns meta outputs, so a whole model can be traced for its
 * shapes without allocating (mt_model_shape). Reading its data is an error. */
mt_tensor *mt_tensor_new_meta(mt_dtype dt, int ndim, const int *shape);
/* 1 if t is a meta tensor. */
int mt_tensor_is_meta(const mt_tensor *t);
/* New tensor filled with zeros. */
mt_tensor *mt_tensor_zeros(mt_dtype dt, mt_device dev, int ndim, const int *shape);
/* New tensor of the same shape/dtype/device as `like`, uninitialised (zeros if `zero`). */
mt_tensor *mt_tensor_like(const mt_tensor *like, int zero);
/* New MT_REAL tensor on `dev` with a copy of `n` host values (n must equal the shape's numel). */
mt_tensor *mt_tensor_from_host(mt_device dev, int ndim, const int *shape, const mt_real *values);
/* Convenience: shape given as arguments, e.g. mt_shape4(n,c,h,w). */
mt_tensor *mt_tensor_new4(mt_dtype dt, mt_device dev, int n, int c, int h, int w);

/* Reference counting (atomic: threads may share tensors, e.g. two forward
 * passes of one model reading its parameters). release(NULL) is a no-op. */
mt_tensor *mt_tensor_retain(mt_tensor *t);
void mt_tensor_release(mt_tensor *t);
/* Internal: how mt_tensor_release drops the tensor's grad_fn node. tensor.c
 * knows nothing of nodes; op.c (which creates them and is the only place that
 * sets grad_fn) installs mt_node_release here before it records a node. */
void mt_tensor_set_grad_fn_release(void (*release)(struct mt_node *n));

/* A new tensor object sharing t's storage and shape, with no autograd history
 * (torch.Tensor.detach). requires_grad = 0. */
mt_tensor *mt_tensor_alias(const mt_tensor *t);

/* Number of elements; bytes of data. */
size_t mt_numel(const mt_tensor *t);
size_t mt_nbytes(const mt_tensor *t);
size_t mt_shape_numel(int ndim, const int *shape);
/* Pointer to the first element (device pointer for CUDA tensors). */
void *mt_data(const mt_tensor *t);
#define MT_DATA(t) ((mt_real *)mt_data(t))

/* 1 if shapes equal. */
int mt_same_shape(const mt_tensor *a, const mt_tensor *b);
/* Writes "[2, 3, 4]" into buf. Returns buf. */
char *mt_shape_str(const mt_tensor *t, char *buf, size_t len);

/* Copies between tensors and host memory (synchronous). Sizes must match. */
mt_status mt_tensor_copy(mt_tensor *dst, const mt_tensor *src);
mt_status mt_tensor_to_host(const mt_tensor *t, void *host, size_t bytes);
mt_status mt_tensor_from_host_into(mt_tensor *t, const void *host, size_t bytes);
/* New tensor with the same values on another device (no autograd history). */
mt_tensor *mt_tensor_to(const mt_tensor *t, mt_device dev);
/* Fill all elements (MT_REAL tensors) with v. */
mt_status mt_tensor_fill(mt_tensor *t, double v);

#ifdef __cplusplus
}
#endif
#endif
