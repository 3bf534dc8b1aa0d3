/* layers/expr.c: recursive-descent evaluator for graph-file expressions (expr.h). */
#include "expr.h"

#include "../core/yaml_tree.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct P {
    const char *s, *start;
    const mt_expr_env *env;
    char *err;
    size_t errlen;
    int failed;
} P;

static void fail(P *p, const char *fmt, ...)
{
    if (p->failed) return;
    p->failed = 1;
    int n = snprintf(p->err, p->errlen, "column %d: ", (int)(p->s - p->start) + 1);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen) vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void skip(P *p)
{
    while (isspace((unsigned char)*p->s)) p->s++;
}

/* matches an operator/keyword token; keywords must not run into a name */
static int accept(P *p, const char *tok)
{
    skip(p);
    size_t l = strlen(tok);
    if (strncmp(p->s, tok, l)) return 0;
    if (isalpha((unsigned char)tok[0]) && (isalnum((unsigned char)p->s[l]) || p->s[l] == '_')) return 0;
    p->s += l;
    return 1;
}

static void num(mt_expr_value *v, double x)
{
    v->is_str = 0;
    v->num = x;
    v->str[0] = '\0';
    v->list = NULL;
}

/* 1 (after recording an error) if v is not a plain number or string */
static int is_list(P *p, const mt_expr_value *v)
{
    if (!v->list) return 0;
    fail(p, "a list cannot be used here; index it (name[i]) or take len(name)");
    return 1;
}

int mt_expr_from_node(const mt_yaml_node *n, mt_expr_value *out)
{
    if (n->kind == MT_YAML_SEQ) {
        num(out, 0);
        out->list = n;
        return 0;
    }
    if (n->kind != MT_YAML_SCALAR) return -1;
    mt_expr_from_text(n->value, out);
    return 0;
}

void mt_expr_format(const mt_expr_value *v, char *buf, size_t len)
{
    if (v->is_str) snprintf(buf, len, "%s", v->str);
    else if (v->num == floor(v->num) && fabs(v->num) < 1e15) snprintf(buf, len, "%.0f", v->num);
    else snprintf(buf, len, "%.17g", v->num);
}

void mt_expr_from_text(const char *text, mt_expr_value *out)
{
    out->list = NULL;
    char *end;
    double d = strtod(text, &end);
    if (*text && !*end && !isalpha((unsigned char)text[strlen(text) - 1])) num(out, d);
    else {
        out->is_str = 1;
        out->num = 0;
        snprintf(out->str, sizeof out->str, "%s", text);
    }
}

static int truthy(const mt_expr_value *v) { return v->list ? v->list->n > 0 : v->is_str ? v->str[0] != '\0' : v->num != 0; }

static void ternary(P *p, mt_expr_value *v);

static void primary(P *p, mt_expr_value *v);

/* primary followed by any number of [index] */
static void postfix(P *p, mt_expr_value *v)
{
    primary(p, v);
    while (!p->failed && accept(p, "[")) {
        mt_expr_value i;
        ternary(p, &i);
        if (p->failed) return;
        if (!accept(p, "]")) {
            fail(p, "expected ']'");
            return;
        }
        if (!v->list) {
            fail(p, "only a list can be indexed");
            return;
        }
        if (i.is_str || i.list || i.num != floor(i.num)) {
            fail(p, "a list index must be an integer");
            return;
        }
        int n = v->list->n;
        double k = i.num < 0 ? i.num + n : i.num;
        if (k < 0 || k >= n) {
            fail(p, "index %.0f out of range for a list of %d", i.num, n);
            return;
        }
        if (mt_expr_from_node(v->list->child[(int)k], v)) {
            fail(p, "list element %d is a map", (int)k);
            return;
        }
    }
}

/* sum(var, from, to, body): body evaluated with var = from, from + 1, ..., to
 * (inclusive, as repeat:; 0 when to < from), added up. p->s is just after
 * "sum(". The body is taken up to the matching ')' and evaluated once per
 * value with var bound in a copy of the environment (later entries shadow). */
static void sum_call(P *p, mt_expr_value *v)
{
    skip(p);
    const char *b = p->s;
    while (isalnum((unsigned char)*p->s) || *p->s == '_') p->s++;
    if (p->s == b || isdigit((unsigned char)*b)) {
        fail(p, "sum(var, from, to, expr): expected a variable name");
        return;
    }
    char var[64];
    snprintf(var, sizeof var, "%.*s", (int)(p->s - b), b);
    mt_expr_value lo, hi;
    if (!accept(p, ",")) {
        fail(p, "sum(var, from, to, expr): expected ','");
        return;
    }
    ternary(p, &lo);
    if (!p->failed && !accept(p, ",")) {
        fail(p, "sum(var, from, to, expr): expected ','");
        return;
    }
    ternary(p, &hi);
    if (!p->failed && !accept(p, ",")) {
        fail(p, "sum(var, from, to, expr): expected ','");
        return;
    }
    if (p->failed) return;
    if (lo.is_str || lo.list || hi.is_str || hi.list || lo.num != floor(lo.num) || hi.num != floor(hi.num) ||
        fabs(lo.num) > 1e6 || fabs(hi.num) > 1e6) {
        fail(p, "sum(): the bounds must be integers (at most 1e6 in magnitude)");
        return;
    }
    /* the body: up to the ')' that closes sum( */
    skip(p);
    const char *body = p->s, *e = p->s;
    int depth = 0;
    for (; *e; e++) {
        if (*e == '\'' || *e == '"') {
            const char *q = strchr(e + 1, *e);
            if (!q) break;
            e = q;
        } else if (*e == '(' || *e == '[') {
            depth++;
        } else if (*e == ')' || *e == ']') {
            if (depth == 0) break;
            depth--;
        }
    }
    if (*e != ')') {
        fail(p, "sum(): expected ')' after the expression");
        return;
    }
    char *text = malloc((size_t)(e - body) + 1);
    int n = p->env ? p->env->n : 0;
    mt_expr_var *vars = malloc(sizeof *vars * (size_t)(n + 1));
    if (!text || !vars) {
        free(text);
        free(vars);
        fail(p, "out of memory");
        return;
    }
    memcpy(text, body, (size_t)(e - body));
    text[e - body] = '\0';
    if (n) memcpy(vars, p->env->vars, sizeof *vars * (size_t)n);
    vars[n].name = var;
    mt_expr_env env = {n + 1, vars};
    double acc = 0;
    for (double k = lo.num; k <= hi.num && !p->failed; k++) {
        mt_expr_value kv, r;
        char err[256];
        num(&kv, k);
        vars[n].value = kv;
        if (mt_expr_eval(text, &env, &r, err, sizeof err)) fail(p, "in sum() with %s = %.0f: %s", var, k, err);
        else if (r.is_str || r.list) fail(p, "sum(): the expression must give a number");
        else acc += r.num;
    }
    free(text);
    free(vars);
    if (p->failed) return;
    p->s = e + 1;
    num(v, acc);
}

static void primary(P *p, mt_expr_value *v)
{
    skip(p);
    num(v, 0);
    if (p->failed) return;
    char c = *p->s;
    if (c == '(') {
        p->s++;
        ternary(p, v);
        if (!accept(p, ")")) fail(p, "expected ')'");
        return;
    }
    if (c == '\'' || c == '"') {
        const char *e = strchr(p->s + 1, c);
        if (!e) {
            fail(p, "unterminated string");
            return;
        }
        v->is_str = 1;
        snprintf(v->str, sizeof v->str, "%.*s", (int)(e - p->s - 1), p->s + 1);
        p->s = e + 1;
        return;
    }
    if (isdigit((unsigned char)c) || c == '.') {
        char *end;
        num(v, strtod(p->s, &end));
        p->s = end;
        return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        const char *b = p->s;
        while (isalnum((unsigned char)*p->s) || *p->s == '_') p->s++;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(p->s - b), b);
        skip(p);
        if (*p->s == '(') { /* function call */
            p->s++;
            if (!strcmp(name, "sum")) {
                sum_call(p, v);
                return;
            }
            mt_expr_value a, b2;
            ternary(p, &a);
            int two = accept(p, ",");
            if (two) ternary(p, &b2);
            if (!accept(p, ")")) {
                fail(p, "expected ')' after arguments of %s", name);
                return;
            }
            if (!strcmp(name, "len") && !two && (a.list || a.is_str)) {
                num(v, a.list ? a.list->n : (double)strlen(a.str));
                return;
            }
            if (a.is_str || a.list || (two && (b2.is_str || b2.list))) {
                fail(p, "%s() takes numbers", name);
                return;
            }
            if (!strcmp(name, "min") && two) num(v, a.num < b2.num ? a.num : b2.num);
            else if (!strcmp(name, "max") && two) num(v, a.num > b2.num ? a.num : b2.num);
            else if (!strcmp(name, "int") && !two) num(v, trunc(a.num));
            else if (!strcmp(name, "floor") && !two) num(v, floor(a.num));
            else if (!strcmp(name, "ceil") && !two) num(v, ceil(a.num));
            else if (!strcmp(name, "round") && !two) num(v, nearbyint(a.num)); /* ties to even, as Python */
            else if (!strcmp(name, "log") && !two) {
                if (a.num <= 0) {
                    fail(p, "log() of %g (needs a positive number)", a.num);
                    return;
                }
                num(v, log(a.num));
            } else if (!strcmp(name, "exp") && !two) num(v, exp(a.num));
            else if (!strcmp(name, "sqrt") && !two) {
                if (a.num < 0) {
                    fail(p, "sqrt() of %g (needs a number >= 0)", a.num);
                    return;
                }
                num(v, sqrt(a.num));
            } else fail(p, "unknown function %s() (min, max with 2 arguments; int, floor, ceil, round, log, exp, sqrt, "
                        "len with 1; sum(var, from, to, expr))", name);
            return;
        }
        if (!strcmp(name, "true")) return num(v, 1);
        if (!strcmp(name, "false")) return num(v, 0);
        for (int i = p->env ? p->env->n - 1 : -1; i >= 0; i--)
            if (!strcmp(p->env->vars[i].name, name)) {
                *v = p->env->vars[i].value;
                return;
            }
        char known[512] = "";
        size_t used = 0;
        for (int i = 0; p->env && i < p->env->n && used + 40 < sizeof known; i++)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", p->env->vars[i].name);
        fail(p, "unknown name '%s' (known: %s)", name, known);
        return;
    }
    fail(p, c ? "unexpected '%c'" : "unexpected end of expression", c);
}

static void unary(P *p, mt_expr_value *v)
{
    if (accept(p, "-")) {
        unary(p, v);
        if (is_list(p, v)) return;
        if (v->is_str) fail(p, "cannot negate a string");
        v->num = -v->num;
        return;
    }
    postfix(p, v);
}

static void power(P *p, mt_expr_value *v)
{
    unary(p, v);
    if (accept(p, "**")) {
        mt_expr_value r;
        power(p, &r);
        if (is_list(p, v) || is_list(p, &r)) return;
        if (v->is_str || r.is_str) fail(p, "'**' takes numbers");
        num(v, pow(v->num, r.num));
    }
}

static void mul(P *p, mt_expr_value *v)
{
    power(p, v);
    for (;;) {
        int op;
        skip(p);
        if (p->s[0] == '*' && p->s[1] != '*') op = '*', p->s++;
        else if (p->s[0] == '/' && p->s[1] == '/') op = 'f', p->s += 2;
        else if (p->s[0] == '/') op = '/', p->s++;
        else if (p->s[0] == '%') op = '%', p->s++;
        else return;
        mt_expr_value r;
        power(p, &r);
        if (is_list(p, v) || is_list(p, &r)) return;
        if (v->is_str || r.is_str) {
            fail(p, "arithmetic on a string");
            return;
        }
        if (op != '*' && r.num == 0) {
            fail(p, "division by zero");
            return;
        }
        if (op == '*') v->num *= r.num;
        else if (op == '/') v->num /= r.num;
        else if (op == 'f') v->num = floor(v->num / r.num);
        else v->num = v->num - r.num * floor(v->num / r.num);
    }
}

static void add(P *p, mt_expr_value *v)
{
    mul(p, v);
    for (;;) {
        int plus;
        if (accept(p, "+")) plus = 1;
        else if (accept(p, "-")) plus = 0;
        else return;
        mt_expr_value r;
        mul(p, &r);
        if (is_list(p, v) || is_list(p, &r)) return;
        if (plus && (v->is_str || r.is_str)) {
            char a[256], b[256];
            mt_expr_format(v, a, sizeof a);
            mt_expr_format(&r, b, sizeof b);
            v->is_str = 1;
            size_t la = strlen(a), lb = strlen(b);
            if (la + lb >= sizeof v->str) {
                fail(p, "string too long");
                return;
            }
            memcpy(v->str, a, la);
            memcpy(v->str + la, b, lb + 1);
        } else if (v->is_str || r.is_str) {
            fail(p, "cannot subtract strings");
        } else {
            v->num = plus ? v->num + r.num : v->num - r.num;
        }
    }
}

static void cmp(P *p, mt_expr_value *v)
{
    add(p, v);
    static const char *ops[] = {"==", "!=", "<=", ">=", "<", ">"};
    for (int i = 0; i < 6; i++) {
        if (!accept(p, ops[i])) continue;
        mt_expr_value r;
        add(p, &r);
        if (is_list(p, v) || is_list(p, &r)) return;
        double c;
        if (v->is_str != r.is_str) {
            if (i > 1) fail(p, "cannot order a string and a number");
            c = 1; /* unequal */
        } else {
            c = v->is_str ? strcmp(v->str, r.str) : (v->num > r.num) - (v->num < r.num);
        }
        int res = i == 0 ? c == 0 : i == 1 ? c != 0 : i == 2 ? c <= 0 : i == 3 ? c >= 0 : i == 4 ? c < 0 : c > 0;
        num(v, res);
        return;
    }
}

static void notx(P *p, mt_expr_value *v)
{
    if (accept(p, "not") || (skip(p), p->s[0] == '!' && p->s[1] != '=' && (p->s++, 1))) {
        notx(p, v);
        num(v, !truthy(v));
        return;
    }
    cmp(p, v);
}

static void andx(P *p, mt_expr_value *v)
{
    notx(p, v);
    while (accept(p, "and") || accept(p, "&&")) {
        mt_expr_value r;
        notx(p, &r);
        num(v, truthy(v) && truthy(&r));
    }
}

static void orx(P *p, mt_expr_value *v)
{
    andx(p, v);
    while (accept(p, "or") || accept(p, "||")) {
        mt_expr_value r;
        andx(p, &r);
        num(v, truthy(v) || truthy(&r));
    }
}

static void ternary(P *p, mt_expr_value *v)
{
    orx(p, v);
    if (accept(p, "?")) {
        mt_expr_value a, b;
        ternary(p, &a);
        if (!accept(p, ":")) {
            fail(p, "expected ':' in c ? a : b");
            return;
        }
        ternary(p, &b);
        *v = truthy(v) ? a : b;
    }
}

int mt_expr_eval(const char *text, const mt_expr_env *env, mt_expr_value *out, char *err, size_t errlen)
{
    P p = {text, text, env, err, errlen, 0};
    if (errlen) err[0] = '\0';
    ternary(&p, out);
    skip(&p);
    if (!p.failed && *p.s) fail(&p, "unexpected '%s'", p.s);
    return p.failed ? -1 : 0;
}
