/* layers/reshape.c: layers that rearrange a value without computing.
 *  - `type: reshape` (ONNX Reshape / torch.reshape): `shape:` a list where 0
 *    copies the input's size at the same position and -1 is inferred
 *    ([0, -1] flattens, [0] turns [N, 1, 1, 1] into [N]).
 *  - `type: unflatten` (torch.unflatten): splits dimension `dim` into `sizes`
 *    (YOLO's head: [N, 18, H, W], dim 1, sizes [3, 6] -> [N, 3, 6, H, W]).
 *  - `type: permute` (torch.permute): `dims:` the new order.
 *  - `type: split` (torch.split): `sizes:` along `dim` (1); one output per
 *    size, read as "<name>.0", "<name>.1", ...
 * Output shapes come from the ops' own shape rules (core/ops.h). */
#include "layer.h"

typedef struct shape_attr {
    int n, v[MT_MAX_DIMS], dim;
} shape_attr;

/* a list of up to MT_MAX_DIMS integers */
static mt_status get_list(const mt_layer *L, const char *key, int lo, shape_attr *a)
{
    const mt_yaml_node *n = mt_yaml_map_get(L->spec, key);
    long v;
    if (!n) return mt_layer_error(L, NULL, "missing required attribute '%s' (a list)", key);
    if (n->kind != MT_YAML_SEQ || n->n < 1 || n->n > MT_MAX_DIMS)
        return mt_layer_error(L, key, "expected a list of 1 to %d integers", MT_MAX_DIMS);
    for (int i = 0; i < n->n; i++) {
        if (!mt_yaml_as_int(n->child[i], &v) || v < lo || v > (1L << 30))
            return mt_layer_error(L, key, "entry %d must be an integer >= %d", i, lo);
        a->v[i] = (int)v;
    }
    a->n = n->n;
    return MT_OK;
}

static mt_status reshape_setup(mt_model *m, mt_layer *L)
{
    shape_attr *a = MT_LAYER_ATTR(L, shape_attr);
    MT_TRY(get_list(L, "shape", -1, a));
    int inferred = 0;
    for (int i = 0; i < a->n; i++) inferred += a->v[i] == -1;
    if (inferred > 1) return mt_layer_error(L, "shape", "at most one -1");
    L->cout[0] = a->n > 1 && a->v[1] > 0 ? a->v[1] : a->n > 1 && a->v[1] == 0 ? L->cin[0] : -1;
    return MT_OK;
}

static mt_status reshape_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const shape_attr *a = MT_LAYER_ATTR(L, shape_attr);
    int s[MT_MAX_DIMS];
    for (int i = 0; i < a->n; i++) {
        if (a->v[i] == 0 && i >= in[0]->ndim) return mt_layer_error(L, "shape", "0 at position %d copies a dimension the input lacks", i);
        s[i] = a->v[i] == 0 ? in[0]->shape[i] : a->v[i];
    }
    return mt_layer_out1(out, mt_reshape(in[0], a->n, s));
}

static mt_status unflatten_setup(mt_model *m, mt_layer *L)
{
    shape_attr *a = MT_LAYER_ATTR(L, shape_attr);
    MT_TRY(get_list(L, "sizes", -1, a));
    MT_TRY(mt_layer_get_int(L, "dim", 1, &a->dim));
    L->cout[0] = a->dim == 1 ? a->v[0] : a->dim > 1 ? L->cin[0] : -1;
    return MT_OK;
}

static mt_status unflatten_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const shape_attr *a = MT_LAYER_ATTR(L, shape_attr);
    const mt_tensor *x = in[0];
    int d = a->dim < 0 ? a->dim + x->ndim : a->dim, s[MT_MAX_DIMS], n = 0;
    if (d < 0 || d >= x->ndim || x->ndim - 1 + a->n > MT_MAX_DIMS)
        return mt_layer_error(L, "dim", "%d is out of range for a %d-D input", a->dim, x->ndim);
    for (int i = 0; i < d; i++) s[n++] = x->shape[i];
    for (int i = 0; i < a->n; i++) s[n++] = a->v[i];
    for (int i = d + 1; i < x->ndim; i++) s[n++] = x->shape[i];
    return mt_layer_out1(out, mt_reshape(in[0], n, s));
}

static mt_status permute_setup(mt_model *m, mt_layer *L)
{
    shape_attr *a = MT_LAYER_ATTR(L, shape_attr);
    MT_TRY(get_list(L, "dims", 0, a));
    L->cout[0] = -1;
    return MT_OK;
}

static mt_status permute_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const shape_attr *a = MT_LAYER_ATTR(L, shape_attr);
    return mt_layer_out1(out, mt_permute(in[0], a->n, a->v));
}

static mt_status split_setup(mt_model *m, mt_layer *L)
{
    shape_attr *a = MT_LAYER_ATTR(L, shape_attr);
    MT_TRY(get_list(L, "sizes", 1, a));
    MT_TRY(mt_layer_get_int(L, "dim", 1, &a->dim));
    if (a->n > MT_LAYER_MAX_OUT) return mt_layer_error(L, "sizes", "at most %d parts", MT_LAYER_MAX_OUT);
    L->n_out = a->n;
    for (int i = 0; i < a->n; i++) L->cout[i] = a->dim == 1 ? a->v[i] : L->cin[0];
    return MT_OK;
}

static mt_status split_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const shape_attr *a = MT_LAYER_ATTR(L, shape_attr);
    return mt_split(in[0], a->dim, a->n, a->v, out);
}

const mt_layer_kind mt_layer_reshape = {"reshape", "shape", "", 1, 1, reshape_setup, NULL, reshape_forward};
const mt_layer_kind mt_layer_unflatten = {"unflatten", "dim|sizes", "", 1, 1, unflatten_setup, NULL, unflatten_forward};
const mt_layer_kind mt_layer_permute = {"permute", "dims", "", 1, 1, permute_setup, NULL, permute_forward};
const mt_layer_kind mt_layer_split = {"split", "dim|sizes", "", 1, 1, split_setup, NULL, split_forward};
