/* core/op.c: runs an op from its descriptor and records autograd nodes (op.h):
 * the node lifetime (mt_node_release) and the thread's grad mode live here.
 *
 * Layer (docs/design.md, checked by tests/check_layers.sh): above tensor.
 *   calls: tensor, device, error; the op descriptors' kernels (pointers);
 *   never: autograd (it sits above: it calls the grad mode here and reads nodes). */
#include "op.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"

static _Thread_local int g_grad_disabled;

int mt_set_grad_enabled(int enabled)
{
    int prev = !g_grad_disabled;
    g_grad_disabled = !enabled;
    return prev;
}

int mt_is_grad_enabled(void) { return !g_grad_disabled; }

/* autocast: this thread's type, and the rules (set by core/ops/autocast.c) */
static _Thread_local mt_dtype g_autocast = MT_F32;
static const mt_op *g_cast_op;
static const mt_op *const *g_autocast_ops;
static int g_autocast_n;

mt_dtype mt_op_set_autocast(mt_dtype dt, const mt_op *cast, const mt_op *const *list, int n)
{
    mt_dtype prev = g_autocast;
    g_cast_op = cast;
    g_autocast_ops = list;
    g_autocast_n = n;
    g_autocast = dt;
    return prev;
}

mt_dtype mt_get_autocast(void) { return g_autocast; }

static int autocast_listed(const mt_op *op)
{
    for (int i = 0; i < g_autocast_n; i++)
        if (g_autocast_ops[i] == op) return 1;
    return 0;
}

static void node_free(mt_node *n)
{
    for (int i = 0; i < MT_MAX_IN; i++) {
        mt_tensor_release(n->in[i]);
        mt_tensor_release(n->gin[i]);
    }
    for (int i = 0; i < MT_MAX_OUT; i++) {
        mt_tensor_release(n->out[i]);
        mt_tensor_release(n->gout[i]);
    }
    for (int i = 0; i < MT_MAX_SAVED; i++) mt_tensor_release(n->saved[i]);
    free(n);
}

void mt_node_release(mt_node *n)
{
    if (n && --n->refcount <= 0) node_free(n);
}

static mt_status op_apply(const mt_op *op, int n_in, mt_tensor *const *in, const void *attr, size_t attr_bytes,
                         int n_out, mt_tensor **out);

/* A shape-only stand-in for t in a node (op.h backward_skips_*): same shape,
 * dtype and device, no data; for a non-leaf input also its place in the graph
 * (grad_fn, out_index), so backward still routes the input's gradient. NULL
 * when there is no memory for it (the caller keeps t). */
static mt_tensor *stand_in(const mt_tensor *t)
{
    mt_tensor *s = mt_tensor_new_meta(t->dtype, t->ndim, t->shape);
    if (!s) return NULL;
    s->storage->device = t->storage->device;
    s->requires_grad = t->requires_grad;
    if (t->grad_fn) {
        s->grad_fn = t->grad_fn;
        s->grad_fn->refcount++;
        s->out_index = t->out_index;
    }
    return s;
}

/* Swaps what backward never reads for stand-ins (a recorded node). Inputs
 * only when non-leaf without retain_grad: a leaf's gradient accumulates into
 * the tensor itself, and a leaf (parameter, batch) lives on anyway. */
static void drop_unread(mt_node *n)
{
    const mt_op *op = n->op;
    for (int i = 0; i < n->n_in; i++) {
        mt_tensor *x = n->in[i];
        if (!(op->backward_skips_in & (1u << i)) || !x || !x->grad_fn || x->retain_grad) continue;
        mt_tensor *s = stand_in(x);
        if (!s) {
            mt_error_clear();
            continue;
        }
        n->in[i] = s;
        mt_tensor_release(x);
    }
    for (int i = 0; op->backward_skips_out && i < n->n_out; i++) {
        mt_tensor *s = stand_in(n->out[i]); /* the alias has no grad_fn */
        if (!s) {
            mt_error_clear();
            continue;
        }
        mt_tensor_release(n->out[i]);
        n->out[i] = s;
    }
}

/* Autocast: a listed op gets its MT_F32 inputs through the differentiable cast op. */
mt_status mt_op_apply(const mt_op *op, int n_in, mt_tensor *const *in, const void *attr, size_t attr_bytes,
                      int n_out, mt_tensor **out)
{
    if (g_autocast == MT_F32 || !g_cast_op || n_in > MT_MAX_IN || !autocast_listed(op))
        return op_apply(op, n_in, in, attr, attr_bytes, n_out, out);
    for (int i = 0; i < n_in; i++)
        if (in[i] && mt_tensor_is_meta(in[i])) return op_apply(op, n_in, in, attr, attr_bytes, n_out, out);
    mt_tensor *cast[MT_MAX_IN] = {0};
    mt_status s = MT_OK;
    for (int i = 0; i < n_in && s == MT_OK; i++) {
        if (!in[i] || in[i]->dtype != MT_F32) {
            cast[i] = mt_tensor_retain(in[i]);
            continue;
        }
        mt_dtype dt = g_autocast;
        s = op_apply(g_cast_op, 1, &in[i], &dt, sizeof dt, 1, &cast[i]);
    }
    if (s == MT_OK) s = op_apply(op, n_in, cast, attr, attr_bytes, n_out, out);
    else
        for (int i = 0; i < n_out; i++) out[i] = NULL;
    for (int i = 0; i < n_in; i++) mt_tensor_release(cast[i]);
    return s;
}

static mt_status op_apply(const mt_op *op, int n_in, mt_tensor *const *in, const void *attr, size_t attr_bytes,
                          int n_out, mt_tensor **out)
{
    for (int i = 0; i < n_out; i++) out[i] = NULL;
    if (n_in > MT_MAX_IN || n_out > MT_MAX_OUT || n_out < 1 || attr_bytes > MT_ATTR_BYTES)
        return MT_ERR(MT_ERR_INVALID, "%s: %d inputs / %d outputs / %zu attribute bytes exceed the op limits",
                      op->name, n_in, n_out, attr_bytes);
    /* all inputs on one device */
    mt_device dev = mt_cpu();
    int have_dev = 0, needs_grad = 0, meta = 0;
    for (int i = 0; i < n_in; i++)
        if (in[i] && mt_tensor_is_meta(in[i])) meta = 1;
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) continue;
        if (meta) { /* shape-only run: devices do not matter, nothing is computed or recorded */
            have_dev = 1;
            continue;
        }
        mt_device d = in[i]->storage->device;
        if (!have_dev) {
            dev = d;
            have_dev = 1;
        } else if (!mt_device_eq(d, dev)) {
            char a[32], b[32];
            return MT_ERR(MT_ERR_INVALID, "%s: input %d is on %s but input 0 is on %s; move tensors with mt_tensor_to",
                          op->name, i, mt_device_str(d, a, sizeof a), mt_device_str(dev, b, sizeof b));
        }
        if (in[i]->requires_grad) needs_grad = 1;
        if ((in[i]->dtype == MT_BF16 || in[i]->dtype == MT_F16) && !op->low_precision && !op->view)
            return MT_ERR(MT_ERR_UNSUPPORTED,
                          "op %s does not take %s input (input %d): only conv2d, conv_transpose2d, linear and "
                          "to_dtype do; cast with mt_to_dtype or run the model under autocast (train.precision)",
                          op->name, mt_dtype_name(in[i]->dtype), i);
    }
    if (!have_dev) return MT_ERR(MT_ERR_INVALID, "%s: no input tensor", op->name);
    mt_kernel_fn fwd = meta ? NULL : op->forward[dev.type];
    if (!meta && !fwd && !op->view) {
        char a[32];
        return MT_ERR(MT_ERR_UNSUPPORTED, "op %s has no forward kernel for device %s", op->name,
                      mt_device_str(dev, a, sizeof a));
    }

    mt_node *n = mt_calloc(1, sizeof *n);
    if (!n) return MT_ERR_NOMEM;
    n->op = op;
    n->n_in = n_in;
    n->n_out = n_out;
    n->refcount = 0;
    if (attr_bytes) memcpy(n->attr, attr, attr_bytes);
    for (int i = 0; i < n_in; i++) n->in[i] = mt_tensor_retain(in[i]);

    mt_shape shp[MT_MAX_OUT];
    memset(shp, 0, sizeof shp);
    for (int i = 0; i < n_out; i++) { /* low-precision inputs give float32 outputs unless the rule says otherwise */
        shp[i].dtype = in[0] ? in[0]->dtype : MT_REAL;
        if (shp[i].dtype == MT_BF16 || shp[i].dtype == MT_F16) shp[i].dtype = MT_REAL;
    }
    mt_status s = op->shape(n, shp);
    if (s != MT_OK) {
        node_free(n);
        return s;
    }
    for (int i = 0; i < n_out; i++) {
        if (op->view && i == 0) {
            mt_tensor *v = mt_tensor_alias(in[0]);
            if (v) {
                v->ndim = shp[0].ndim;
                memcpy(v->shape, shp[0].shape, sizeof v->shape);
            }
            out[0] = v;
        } else if (meta) {
            out[i] = mt_tensor_new_meta(shp[i].dtype, shp[i].ndim, shp[i].shape);
        } else {
            out[i] = mt_tensor_new(shp[i].dtype, dev, shp[i].ndim, shp[i].shape);
        }
        if (!out[i]) {
            for (int j = 0; j < i; j++) mt_tensor_release(out[j]), out[j] = NULL;
            node_free(n);
            return mt_last_status() ? mt_last_status() : MT_ERR_NOMEM;
        }
        n->out[i] = mt_tensor_alias(out[i]);
    }
    if (fwd) s = fwd(n);
    if (s != MT_OK) {
        for (int i = 0; i < n_out; i++) mt_tensor_release(out[i]), out[i] = NULL;
        node_free(n);
        return s;
    }
    if (needs_grad && !meta && mt_is_grad_enabled() && op->backward[MT_CPU]) {
        mt_tensor_set_grad_fn_release(mt_node_release);
        n->refcount = n_out;
        for (int i = 0; i < n_out; i++) {
            out[i]->requires_grad = 1;
            out[i]->grad_fn = n;
            out[i]->out_index = i;
        }
        if (op->backward_skips_in || op->backward_skips_out) drop_unread(n);
    } else {
        node_free(n);
    }
    return MT_OK;
}

mt_tensor *mt_op1(const mt_op *op, int n_in, int n_required, mt_tensor *const *in, const void *attr,
                  size_t attr_bytes)
{
    for (int i = 0; i < n_required; i++)
        if (!in[i]) {
            if (mt_last_status() == MT_OK) MT_ERR(MT_ERR_INVALID, "%s: input %d is NULL", op->name, i);
            return NULL;
        }
    mt_tensor *out = NULL;
    if (mt_op_apply(op, n_in, in, attr, attr_bytes, 1, &out) != MT_OK) return NULL;
    return out;
}
