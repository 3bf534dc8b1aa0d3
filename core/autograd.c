/* core/autograd.c: the backward pass over the dynamic graph (autograd.h).
 *
 * Layer (docs/design.md, checked by tests/check_layers.sh): the top of the
 * tensor stack.
 *   calls: op (grad mode), tensor, device, error; the nodes' backward kernels
 *   (pointers);
 *   never: called by alloc, device, tensor or op. */
#include "autograd.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"

void mt_requires_grad(mt_tensor *t, int flag)
{
    if (t) t->requires_grad = flag ? 1 : 0;
}

mt_status mt_zero_grad(mt_tensor *t)
{
    if (!t || !t->grad) return MT_OK;
    const mt_backend *b = mt_backend_get(t->grad->storage->device.type);
    if (!b) return mt_last_status();
    return b->memset0(b->ctx, t->grad->storage->device.index, mt_data(t->grad), mt_nbytes(t->grad));
}

void mt_clear_grad(mt_tensor *t)
{
    if (!t) return;
    mt_tensor_release(t->grad);
    t->grad = NULL;
}

/* *slot += g  (takes a reference to g when *slot is empty) */
static mt_status accumulate(mt_tensor **slot, mt_tensor *g)
{
    if (!*slot) {
        *slot = mt_tensor_retain(g);
        return MT_OK;
    }
    if (!mt_same_shape(*slot, g)) {
        char a[64], b[64];
        return MT_ERR(MT_ERR_STATE, "gradient shape %s does not match %s", mt_shape_str(g, a, sizeof a),
                      mt_shape_str(*slot, b, sizeof b));
    }
    /* the slot may be shared with another holder (a leaf's grad handed to a node):
     * never add in place into a shared buffer */
    if ((*slot)->refcount > 1 || (*slot)->storage->refcount > 1) {
        mt_tensor *c = mt_tensor_like(*slot, 0);
        if (!c) return mt_last_status();
        mt_status s = mt_tensor_copy(c, *slot);
        if (s != MT_OK) {
            mt_tensor_release(c);
            return s;
        }
        mt_tensor_release(*slot);
        *slot = c;
    }
    const mt_backend *b = mt_backend_get(g->storage->device.type);
    if (!b) return mt_last_status();
    return b->axpy(b->ctx, g->storage->device.index, mt_numel(g), (mt_real)1, (const mt_real *)mt_data(g),
                   (mt_real *)mt_data(*slot));
}

/* accumulate g into a leaf's (or retained non-leaf's) .grad, in place: an
 * existing .grad (e.g. a view into an optimizer group's flat gradient buffer)
 * is never replaced; an unset one becomes x->grad_home when there is one. */
static mt_status accumulate_grad(mt_tensor *x, mt_tensor *g)
{
    mt_tensor *home = x->grad_home;
    if (!x->grad && home && mt_same_shape(home, g) && home->dtype == g->dtype &&
        mt_device_eq(home->storage->device, g->storage->device)) {
        /* the preallocated view into a flat gradient buffer (optim.h): copy into it, no allocation */
        MT_TRY(mt_tensor_copy(home, g));
        x->grad = mt_tensor_retain(home);
        return MT_OK;
    }
    if (!x->grad) {
        /* own a private copy so later in-place accumulation cannot touch g's holders */
        mt_tensor *c = mt_tensor_like(g, 0);
        if (!c) return mt_last_status();
        mt_status s = mt_tensor_copy(c, g);
        if (s != MT_OK) {
            mt_tensor_release(c);
            return s;
        }
        x->grad = c;
        return MT_OK;
    }
    if (!mt_same_shape(x->grad, g)) {
        char a[64], b[64];
        return MT_ERR(MT_ERR_STATE, "gradient shape %s does not match .grad %s", mt_shape_str(g, a, sizeof a),
                      mt_shape_str(x->grad, b, sizeof b));
    }
    const mt_backend *b = mt_backend_get(g->storage->device.type);
    if (!b) return mt_last_status();
    return b->axpy(b->ctx, g->storage->device.index, mt_numel(g), (mt_real)1, (const mt_real *)mt_data(g),
                   (mt_real *)mt_data(x->grad));
}

/* route the gradient of tensor x to its producer node and/or its .grad */
static mt_status deliver(mt_tensor *x, mt_tensor *g)
{
    if (!x->requires_grad) return MT_OK;
    if (x->grad_fn) MT_TRY(accumulate(&x->grad_fn->gout[x->out_index], g));
    if (!x->grad_fn || x->retain_grad) MT_TRY(accumulate_grad(x, g));
    return MT_OK;
}

/* A zero gradient buffer for t: its shape and device; MT_REAL for a bf16/f16
 * tensor (core/ops/lowp.h: gradients of low-precision tensors are float32
 * holding rounded values), else t's dtype. */
static mt_tensor *grad_zeros(const mt_tensor *t)
{
    if (t->dtype != MT_BF16 && t->dtype != MT_F16) return mt_tensor_like(t, 1);
    return mt_tensor_zeros(MT_REAL, t->storage->device, t->ndim, t->shape);
}

/* post-order DFS over nodes reachable from root (iterative) */
static mt_status topo_sort(mt_node *root, mt_node ***order_out, int *count_out)
{
    int cap = 64, count = 0, sp = 0, scap = 64;
    mt_node **order = mt_malloc(sizeof *order * (size_t)cap);
    struct frame { mt_node *n; int next; } *stack = mt_malloc(sizeof *stack * (size_t)scap);
    if (!order || !stack) {
        free(order);
        free(stack);
        return MT_ERR_NOMEM;
    }
    root->topo_mark = 1;
    stack[sp++] = (struct frame){root, 0};
    while (sp) {
        struct frame *f = &stack[sp - 1];
        if (f->next < f->n->n_in) {
            mt_tensor *x = f->n->in[f->next++];
            if (x && x->requires_grad && x->grad_fn && !x->grad_fn->topo_mark) {
                x->grad_fn->topo_mark = 1;
                if (sp == scap) {
                    scap *= 2;
                    void *p = mt_realloc(stack, sizeof *stack * (size_t)scap);
                    if (!p) goto nomem;
                    stack = p;
                }
                stack[sp++] = (struct frame){x->grad_fn, 0};
            }
        } else {
            if (count == cap) {
                cap *= 2;
                void *p = mt_realloc(order, sizeof *order * (size_t)cap);
                if (!p) goto nomem;
                order = p;
            }
            order[count++] = f->n;
            sp--;
        }
    }
    free(stack);
    for (int i = 0; i < count; i++) order[i]->topo_mark = 0;
    *order_out = order;
    *count_out = count;
    return MT_OK;
nomem:
    for (int i = 0; i < count; i++) order[i]->topo_mark = 0;
    for (int i = 0; i < sp; i++) stack[i].n->topo_mark = 0;
    free(order);
    free(stack);
    return MT_ERR_NOMEM;
}

/* After a node's backward: its gradient buffers go; without retain_graph also
 * what it kept for backward (saved tensors, and its references to the inputs
 * and outputs), as PyTorch frees saved variables, so the forward's activations
 * are freed one by one as backward consumes them instead of when the graph's
 * last tensor is released. The node stays (marked released) while its
 * outputs hold it: a second backward through it fails with a clear message. */
static void drop_node_buffers(mt_node *n, int retain_graph)
{
    for (int i = 0; i < MT_MAX_OUT; i++) {
        mt_tensor_release(n->gout[i]);
        n->gout[i] = NULL;
    }
    for (int i = 0; i < MT_MAX_IN; i++) {
        mt_tensor_release(n->gin[i]);
        n->gin[i] = NULL;
    }
    if (!retain_graph) {
        for (int i = 0; i < MT_MAX_SAVED; i++) {
            mt_tensor_release(n->saved[i]);
            n->saved[i] = NULL;
        }
        for (int i = 0; i < MT_MAX_IN; i++) {
            mt_tensor_release(n->in[i]);
            n->in[i] = NULL;
        }
        for (int i = 0; i < MT_MAX_OUT; i++) {
            mt_tensor_release(n->out[i]);
            n->out[i] = NULL;
        }
        n->released = 1;
    }
}

mt_status mt_backward(mt_tensor *root, const mt_tensor *grad, int retain_graph)
{
    if (!root) return mt_last_status() ? mt_last_status() : MT_ERR(MT_ERR_INVALID, "backward: NULL root");
    if (!root->requires_grad)
        return MT_ERR(MT_ERR_STATE, "backward: the tensor does not require grad (no parameter with "
                                    "requires_grad contributed to it, or it was computed with grad mode off)");
    mt_tensor *g0;
    if (grad) {
        if (!mt_same_shape(grad, root)) return MT_ERR(MT_ERR_INVALID, "backward: gradient shape differs from the root's");
        g0 = mt_tensor_like(root, 0);
        if (!g0 || mt_tensor_copy(g0, grad) != MT_OK) {
            mt_tensor_release(g0);
            return mt_last_status();
        }
    } else {
        if (mt_numel(root) != 1)
            return MT_ERR(MT_ERR_INVALID, "backward: a gradient must be given for a non-scalar root (%zu elements)",
                          mt_numel(root));
        g0 = mt_tensor_like(root, 0);
        if (!g0 || mt_tensor_fill(g0, 1.0) != MT_OK) {
            mt_tensor_release(g0);
            return mt_last_status();
        }
    }
    int prev = mt_set_grad_enabled(0);
    mt_status s = MT_OK;
    mt_node **order = NULL;
    int count = 0;
    if (root->grad_fn) s = topo_sort(root->grad_fn, &order, &count);
    /* releasing a node's inputs may free the nodes that produced them: hold every node until the end */
    for (int k = 0; k < count; k++) order[k]->refcount++;
    if (s == MT_OK) s = deliver(root, g0);
    mt_tensor_release(g0);
    for (int k = count - 1; k >= 0 && s == MT_OK; k--) {
        mt_node *n = order[k];
        int any = 0;
        for (int i = 0; i < n->n_out; i++) any |= n->gout[i] != NULL;
        if (!any) continue;
        if (n->released) {
            s = MT_ERR(MT_ERR_STATE, "backward through op %s a second time: its saved tensors were freed; "
                                     "pass retain_graph=1 to the first mt_backward", n->op->name);
            break;
        }
        mt_device dev = n->out[0]->storage->device;
        mt_kernel_fn bwd = n->op->backward[dev.type];
        if (!bwd) {
            char a[32];
            s = MT_ERR(MT_ERR_UNSUPPORTED, "op %s has no backward kernel for device %s", n->op->name,
                       mt_device_str(dev, a, sizeof a));
            break;
        }
        for (int i = 0; i < n->n_out && s == MT_OK; i++)
            if (!n->gout[i] && !(n->gout[i] = grad_zeros(n->out[i]))) s = mt_last_status();
        for (int j = 0; j < n->n_in && s == MT_OK; j++)
            if (n->in[j] && n->in[j]->requires_grad && !(n->gin[j] = grad_zeros(n->in[j])))
                s = mt_last_status();
        if (s == MT_OK) s = bwd(n);
        for (int j = 0; j < n->n_in && s == MT_OK; j++)
            if (n->gin[j]) s = deliver(n->in[j], n->gin[j]);
        drop_node_buffers(n, retain_graph);
    }
    if (s != MT_OK)
        for (int k = 0; k < count; k++) drop_node_buffers(order[k], 1);
    for (int k = 0; k < count; k++) mt_node_release(order[k]);
    free(order);
    mt_set_grad_enabled(prev);
    return s;
}
