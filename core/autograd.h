/* core/autograd.h: reverse-mode automatic differentiation over a dynamic
 * graph (define-by-run, as in PyTorch). See docs/design.md for why.
 *
 * Every op output computed from a tensor that requires_grad gets a grad_fn
 * node holding its inputs. mt_backward(loss) walks the nodes reachable from
 * `loss` in reverse topological order and accumulates dL/dx into x->grad for
 * every leaf with requires_grad (and non-leaf tensors with retain_grad set).
 * Fan-out accumulates. Graphs are freed with the tensors that hold them.
 *
 * Layer (docs/design.md): the top of the tensor stack (includes op.h).
 */
#ifndef MT_AUTOGRAD_H
#define MT_AUTOGRAD_H

#include "op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Grad mode of this thread: mt_set_grad_enabled / mt_is_grad_enabled (op.h,
 * implemented in op.c, whose mt_op_apply is what records nodes). */

/* Back-propagates from `root`. `grad` is dL/droot (same shape), or NULL for a
 * scalar root (dL/droot = 1). With retain_graph = 0 the graph's saved tensors
 * are freed as it goes, and a second backward through it fails with
 * MT_ERR_STATE. Errors: root has no graph / does not require grad, kernel errors. */
mt_status mt_backward(mt_tensor *root, const mt_tensor *grad, int retain_graph);

/* Marks a leaf tensor as a parameter (requires_grad = 1). */
void mt_requires_grad(mt_tensor *t, int flag);

/* Zeroes t->grad if present (keeps the buffer) */
mt_status mt_zero_grad(mt_tensor *t);

/* Drops t->grad (sets it to NULL). */
void mt_clear_grad(mt_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
