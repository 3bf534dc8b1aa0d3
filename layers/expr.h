/* layers/expr.h: the small expression language of model graph files:
 * "${base * 2 ** (i - 1)}", "${'enc' + i + 'a'}", "${i == depth ? dropout : 0}".
 *
 * Values are numbers (double) or strings. Operators, lowest precedence first:
 *   c ? a : b | or || | and && | not ! | == != < <= > >= | + - | * / // % | ** | unary -
 * '+' concatenates when either side is a string (numbers print as integers
 * when integral). Functions: min(a, b), max(a, b), int(x) (truncation),
 * floor(x), ceil(x), round(x) (Python's, halves to even), log(x) (natural;
 * x > 0), exp(x), sqrt(x) (x >= 0), len(list or string),
 * sum(var, from, to, expr): expr added up over var = from..to (inclusive, as
 * repeat:; 0 when to < from), e.g. the blocks before stage s,
 * "sum(t, 0, s - 1, ceil(depth * stages[t][5]))".
 * Names are looked up in the environment (graph params, block arguments and
 * repeat variables). Strings are written '...' or "...". A param whose YAML
 * value is a list (a table such as EfficientNet's stage list) is a list
 * value: index it with name[i] (0-based; negative counts from the end),
 * nested lists with name[i][j].
 */
#ifndef MT_EXPR_H
#define MT_EXPR_H

#include <stddef.h>

struct mt_yaml_node;

typedef struct mt_expr_value {
    int is_str;
    double num;
    char str[256];
    const struct mt_yaml_node *list; /* non-NULL: a list value (a YAML sequence, not owned) */
} mt_expr_value;

typedef struct mt_expr_var {
    const char *name;
    mt_expr_value value;
} mt_expr_var;

typedef struct mt_expr_env {
    int n;
    const mt_expr_var *vars; /* searched from the end (later entries shadow earlier ones) */
} mt_expr_env;

/* Evaluates `text`. Returns 0 on success, -1 with a message in err on error
 * (unknown name, syntax error at column c, division by zero, type mismatch). */
int mt_expr_eval(const char *text, const mt_expr_env *env, mt_expr_value *out, char *err, size_t errlen);
/* Formats a value as text (integral numbers without a decimal point). */
void mt_expr_format(const mt_expr_value *v, char *buf, size_t len);
/* Parses scalar text into a value: a number if it reads as one, else a string. */
void mt_expr_from_text(const char *text, mt_expr_value *out);
/* Value of a YAML node: a sequence becomes a list value, a scalar as mt_expr_from_text.
 * Returns -1 for a map. */
int mt_expr_from_node(const struct mt_yaml_node *n, mt_expr_value *out);

#endif
