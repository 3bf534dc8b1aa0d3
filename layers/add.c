/* layers/add.c: `type: add` (residual sum, Keras Add): elementwise sum of its
 * `from:` inputs, which must have equal shapes (no broadcasting in graphs). */
#include <string.h>

#include "layer.h"

/* shapes are checked where they are known (the forward pass, or the build-time
 * trace of a graph with an input size), so the error names both shapes */
static mt_status add_setup(mt_model *m, mt_layer *L) { return MT_OK; }

static mt_status add_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    for (int k = 1; k < L->n_in; k++)
        if (!mt_same_shape(in[k], in[0])) {
            char a[96], b[96];
            return mt_layer_error(L, "from", "input %d is %s but input 0 is %s (add takes equal shapes)", k,
                                  mt_shape_str(in[k], a, sizeof a), mt_shape_str(in[0], b, sizeof b));
        }
    mt_tensor *acc = mt_add(in[0], in[1]);
    for (int k = 2; k < L->n_in && acc; k++) {
        mt_tensor *next = mt_add(acc, in[k]);
        mt_tensor_release(acc);
        acc = next;
    }
    return mt_layer_out1(out, acc);
}

const mt_layer_kind mt_layer_add = {"add", "", "", 2, MT_LAYER_MAX_IN, add_setup, NULL, add_forward};
