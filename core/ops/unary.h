/* core/ops/unary.h: internal attributes shared by unary.c and unary.cu. */
#ifndef MT_OPS_UNARY_H
#define MT_OPS_UNARY_H

#include "../ops.h"

typedef enum mt_unary_kind {
    MT_UNARY_LEAKY_RELU = 0, MT_UNARY_SIGMOID, MT_UNARY_TANH, MT_UNARY_SILU, MT_UNARY_ABS, MT_UNARY_CLAMP,
    MT_UNARY_EXP, MT_UNARY_LOG, MT_UNARY_SQRT, MT_UNARY_NEG, MT_UNARY_SQUARE, MT_UNARY_SCALE, MT_UNARY_ATAN
} mt_unary_kind;

/* a: leaky_relu slope / clamp min / scale factor; b: clamp max / scale shift. */
typedef struct mt_unary_attr {
    int kind;
    double a, b;
} mt_unary_attr;

#endif
