/* core/tensor.c: tensor and storage lifetime, shapes, copies (see tensor.h).
 *
 * Layer (docs/design.md, checked by tests/check_layers.sh):
 *   calls: alloc (mt_alloc/mt_free), device (backends, device values), error;
 *   never: op, autograd (a tensor's grad_fn node is released through the hook
 *   op.c installs, mt_tensor_set_grad_fn_release). */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "device.h"

size_t mt_dtype_size(mt_dtype dt)
{
    switch (dt) {
    case MT_F32: return 4;
    case MT_F64: return 8;
    case MT_F16: return 2;
    case MT_BF16: return 2;
    case MT_I32: return 4;
    case MT_U8: return 1;
    default: return 0;
    }
}

const char *mt_dtype_name(mt_dtype dt)
{
    static const char *names[] = {"float32", "float64", "float16", "bfloat16", "int32", "uint8"};
    return (dt >= 0 && dt < MT_DTYPE_COUNT) ? names[dt] : "unknown";
}

size_t mt_shape_numel(int ndim, const int *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}

size_t mt_numel(const mt_tensor *t) { return mt_shape_numel(t->ndim, t->shape); }
size_t mt_nbytes(const mt_tensor *t) { return mt_numel(t) * mt_dtype_size(t->dtype); }
void *mt_data(const mt_tensor *t) { return t->storage->meta ? NULL : (char *)t->storage->data + t->offset; }
int mt_tensor_is_meta(const mt_tensor *t) { return t && t->storage && t->storage->meta; }

static mt_storage *storage_new(mt_device dev, size_t bytes)
{
    mt_storage *s = mt_calloc(1, sizeof *s);
    if (!s) return NULL;
    if (mt_alloc(dev, bytes, &s->data) != MT_OK) {
        free(s);
        return NULL;
    }
    s->bytes = bytes;
    s->device = dev;
    s->refcount = 1;
    return s;
}

static void storage_release(mt_storage *s)
{
    if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) > 0) return;
    if (!s->external && !s->meta) mt_free(s->device, s->data, s->bytes);
    free(s);
}

mt_tensor *mt_tensor_new(mt_dtype dt, mt_device dev, int ndim, const int *shape)
{
    if (ndim < 0 || ndim > MT_MAX_DIMS) {
        MT_ERR(MT_ERR_INVALID, "tensor rank %d outside 0..%d", ndim, MT_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            MT_ERR(MT_ERR_INVALID, "negative size %d in dimension %d", shape[i], i);
            return NULL;
        }
    if (mt_dtype_size(dt) == 0) {
        MT_ERR(MT_ERR_INVALID, "unknown dtype %d", (int)dt);
        return NULL;
    }
    mt_tensor *t = mt_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->dtype = dt;
    t->refcount = 1;
    t->storage = storage_new(dev, mt_shape_numel(ndim, shape) * mt_dtype_size(dt));
    if (!t->storage) {
        free(t);
        return NULL;
    }
    return t;
}

mt_tensor *mt_tensor_new_meta(mt_dtype dt, int ndim, const int *shape)
{
    if (ndim < 0 || ndim > MT_MAX_DIMS || mt_dtype_size(dt) == 0) {
        MT_ERR(MT_ERR_INVALID, "meta tensor: rank %d outside 0..%d or unknown dtype %d", ndim, MT_MAX_DIMS, (int)dt);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            MT_ERR(MT_ERR_INVALID, "negative size %d in dimension %d", shape[i], i);
            return NULL;
        }
    mt_tensor *t = mt_calloc(1, sizeof *t);
    mt_storage *st = t ? mt_calloc(1, sizeof *st) : NULL;
    if (!st) {
        free(t);
        return NULL;
    }
    st->device = mt_cpu();
    st->refcount = 1;
    st->meta = 1;
    st->bytes = mt_shape_numel(ndim, shape) * mt_dtype_size(dt);
    t->storage = st;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->dtype = dt;
    t->refcount = 1;
    return t;
}

mt_tensor *mt_tensor_zeros(mt_dtype dt, mt_device dev, int ndim, const int *shape)
{
    mt_tensor *t = mt_tensor_new(dt, dev, ndim, shape);
    if (!t) return NULL;
    const mt_backend *b = mt_backend_get(dev.type);
    if (!b || b->memset0(b->ctx, dev.index, mt_data(t), mt_nbytes(t)) != MT_OK) {
        mt_tensor_release(t);
        return NULL;
    }
    return t;
}

mt_tensor *mt_tensor_like(const mt_tensor *like, int zero)
{
    if (!like) return NULL;
    return zero ? mt_tensor_zeros(like->dtype, like->storage->device, like->ndim, like->shape)
                : mt_tensor_new(like->dtype, like->storage->device, like->ndim, like->shape);
}

mt_tensor *mt_tensor_new4(mt_dtype dt, mt_device dev, int n, int c, int h, int w)
{
    int s[4] = {n, c, h, w};
    return mt_tensor_new(dt, dev, 4, s);
}

mt_tensor *mt_tensor_from_host(mt_device dev, int ndim, const int *shape, const mt_real *values)
{
    mt_tensor *t = mt_tensor_new(MT_REAL, dev, ndim, shape);
    if (!t) return NULL;
    if (mt_tensor_from_host_into(t, values, mt_nbytes(t)) != MT_OK) {
        mt_tensor_release(t);
        return NULL;
    }
    return t;
}

mt_tensor *mt_tensor_retain(mt_tensor *t)
{
    if (t) __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
    return t;
}

/* Set by op.c (mt_node_release) before the first grad_fn is recorded. */
static void (*g_grad_fn_release)(struct mt_node *n);

void mt_tensor_set_grad_fn_release(void (*release)(struct mt_node *n))
{
    __atomic_store_n(&g_grad_fn_release, release, __ATOMIC_RELEASE);
}

void mt_tensor_release(mt_tensor *t)
{
    if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) > 0) return;
    mt_tensor_release(t->grad);
    mt_tensor_release(t->grad_home);
    if (t->grad_fn) {
        void (*release)(struct mt_node *) = __atomic_load_n(&g_grad_fn_release, __ATOMIC_ACQUIRE);
        if (release) release(t->grad_fn);
    }
    storage_release(t->storage);
    free(t->name);
    free(t);
}

mt_tensor *mt_tensor_alias(const mt_tensor *t)
{
    if (!t) return NULL;
    mt_tensor *a = mt_calloc(1, sizeof *a);
    if (!a) return NULL;
    a->ndim = t->ndim;
    memcpy(a->shape, t->shape, sizeof a->shape);
    a->dtype = t->dtype;
    a->storage = t->storage;
    __atomic_add_fetch(&a->storage->refcount, 1, __ATOMIC_RELAXED);
    a->offset = t->offset;
    a->refcount = 1;
    return a;
}

int mt_same_shape(const mt_tensor *a, const mt_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *mt_shape_str(const mt_tensor *t, char *buf, size_t len)
{
    size_t used = 0;
    int n = snprintf(buf, len, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < t->ndim && used < len; i++) {
        n = snprintf(buf + used, len - used, i ? ", %d" : "%d", t->shape[i]);
        if (n > 0) used += (size_t)n;
    }
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}

static mt_status copy_bytes(mt_device dst_dev, void *dst, mt_device src_dev, const void *src, size_t bytes)
{
    if (bytes == 0) return MT_OK;
    if (!dst || !src) return MT_ERR(MT_ERR_INVALID, "copy: a meta (shape-only) tensor has no data");
    if (dst_dev.type == MT_CPU && src_dev.type == MT_CPU) {
        memcpy(dst, src, bytes);
        return MT_OK;
    }
    if (dst_dev.type != MT_CPU && src_dev.type != MT_CPU) {
        if (dst_dev.index != src_dev.index)
            return MT_ERR(MT_ERR_UNSUPPORTED, "copy between two different GPUs is not supported");
        const mt_backend *b = mt_backend_get(dst_dev.type);
        if (!b) return mt_last_status();
        return b->copy(b->ctx, dst_dev.index, dst, src, bytes, MT_D2D);
    }
    mt_device dev = dst_dev.type == MT_CPU ? src_dev : dst_dev;
    const mt_backend *b = mt_backend_get(dev.type);
    if (!b) return mt_last_status();
    if (dst_dev.type == MT_CPU) mt_d2h_note(src_dev.type);
    return b->copy(b->ctx, dev.index, dst, src, bytes, dst_dev.type == MT_CPU ? MT_D2H : MT_H2D);
}

mt_status mt_tensor_copy(mt_tensor *dst, const mt_tensor *src)
{
    if (!dst || !src) return MT_ERR(MT_ERR_INVALID, "mt_tensor_copy: NULL tensor");
    if (mt_nbytes(dst) != mt_nbytes(src) || dst->dtype != src->dtype) {
        char a[64], b[64];
        return MT_ERR(MT_ERR_INVALID, "copy: size mismatch %s %s vs %s %s", mt_shape_str(dst, a, sizeof a),
                      mt_dtype_name(dst->dtype), mt_shape_str(src, b, sizeof b), mt_dtype_name(src->dtype));
    }
    return copy_bytes(dst->storage->device, mt_data(dst), src->storage->device, mt_data(src), mt_nbytes(src));
}

mt_status mt_tensor_to_host(const mt_tensor *t, void *host, size_t bytes)
{
    if (bytes != mt_nbytes(t))
        return MT_ERR(MT_ERR_INVALID, "to_host: buffer of %zu bytes for a tensor of %zu", bytes, mt_nbytes(t));
    if (t->storage->device.type == MT_CPU) mt_d2h_note(MT_CPU); /* a GPU tensor's read counts in copy_bytes */
    return copy_bytes(mt_cpu(), host, t->storage->device, mt_data(t), bytes);
}

mt_status mt_tensor_from_host_into(mt_tensor *t, const void *host, size_t bytes)
{
    if (bytes != mt_nbytes(t))
        return MT_ERR(MT_ERR_INVALID, "from_host: buffer of %zu bytes for a tensor of %zu", bytes, mt_nbytes(t));
    return copy_bytes(t->storage->device, mt_data(t), mt_cpu(), host, bytes);
}

mt_tensor *mt_tensor_to(const mt_tensor *t, mt_device dev)
{
    if (!t) return NULL;
    mt_tensor *o = mt_tensor_new(t->dtype, dev, t->ndim, t->shape);
    if (!o) return NULL;
    if (mt_tensor_copy(o, t) != MT_OK) {
        mt_tensor_release(o);
        return NULL;
    }
    return o;
}

mt_status mt_tensor_fill(mt_tensor *t, double v)
{
    if (t->dtype != MT_REAL) return MT_ERR(MT_ERR_UNSUPPORTED, "fill: dtype %s", mt_dtype_name(t->dtype));
    const mt_backend *b = mt_backend_get(t->storage->device.type);
    if (!b) return mt_last_status();
    return b->fill(b->ctx, t->storage->device.index, (mt_real *)mt_data(t), mt_numel(t), (mt_real)v);
}
