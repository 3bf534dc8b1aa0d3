/* cli/args.c: option parsing, --device, error reporting for the subcommands. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "cli.h"

/* Levenshtein distance of two short strings (for "did you mean"). */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_optspec *spec, int n, cli_args *out)
{
    memset(out, 0, sizeof *out);
    out->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            out->help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (out->n_pos == CLI_MAX_ARGS) {
                fprintf(stderr, "medtrain %s: too many arguments (at most %d)\n", cmd, CLI_MAX_ARGS);
                return 2;
            }
            out->pos[out->n_pos++] = a;
            continue;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, a + 2, len);
        name[len] = '\0';
        const cli_optspec *s = NULL;
        for (int k = 0; k < n; k++)
            if (!strcmp(spec[k].name, name)) s = &spec[k];
        if (!s) {
            int best = -1, bd = 99;
            for (int k = 0; k < n; k++) {
                int d = edit_distance(name, spec[k].name);
                if (d < bd) bd = d, best = k;
            }
            fprintf(stderr, "medtrain %s: unknown option '--%s'", cmd, name);
            if (best >= 0 && bd <= 3) fprintf(stderr, "; did you mean '--%s'?", spec[best].name);
            fprintf(stderr, " (see medtrain %s --help)\n", cmd);
            return 2;
        }
        const char *value = NULL;
        if (s->has_value) {
            if (eq) value = eq + 1;
            else if (i + 1 < argc) value = argv[++i];
            else {
                fprintf(stderr, "medtrain %s: option '--%s' needs a value\n", cmd, name);
                return 2;
            }
        } else if (eq) {
            fprintf(stderr, "medtrain %s: option '--%s' takes no value\n", cmd, name);
            return 2;
        }
        if (!s->repeat && cli_has(out, s->name)) {
            fprintf(stderr, "medtrain %s: option '--%s' given twice\n", cmd, name);
            return 2;
        }
        if (out->n_opt == CLI_MAX_ARGS) {
            fprintf(stderr, "medtrain %s: too many options (at most %d)\n", cmd, CLI_MAX_ARGS);
            return 2;
        }
        out->opt_name[out->n_opt] = s->name;
        out->opt_value[out->n_opt++] = value;
    }
    return 0;
}

const char *cli_opt(const cli_args *a, const char *name, const char *def)
{
    const char *v = def;
    for (int i = 0; i < a->n_opt; i++)
        if (!strcmp(a->opt_name[i], name)) v = a->opt_value[i];
    return v;
}

int cli_has(const cli_args *a, const char *name)
{
    for (int i = 0; i < a->n_opt; i++)
        if (!strcmp(a->opt_name[i], name)) return 1;
    return 0;
}

void cli_print_help(FILE *f, const char *usage, const char *about, const cli_optspec *spec, int n)
{
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", usage, about);
    for (int i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", spec[i].name, spec[i].has_value ? " VALUE" : "");
        fprintf(f, "  %-24s %s\n", left, spec[i].help);
    }
    fprintf(f, "  %-24s %s\n", "--help", "show this help");
}

int cli_int(const cli_args *a, const char *name, int def, int *out)
{
    const char *s = cli_opt(a, name, NULL);
    *out = def;
    if (!s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < INT_MIN || v > INT_MAX) {
        fprintf(stderr, "medtrain %s: --%s '%s' is not an integer\n", a->cmd, name, s);
        return 2;
    }
    *out = (int)v;
    return 0;
}

int cli_double(const cli_args *a, const char *name, double def, double *out)
{
    const char *s = cli_opt(a, name, NULL);
    *out = def;
    if (!s) return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) {
        fprintf(stderr, "medtrain %s: --%s '%s' is not a number\n", a->cmd, name, s);
        return 2;
    }
    *out = v;
    return 0;
}

int cli_device(const cli_args *a, mt_device *dev)
{
    const char *s = cli_opt(a, "device", NULL);
    if (!s) {
        *dev = mt_default_device();
        mt_error_clear();
        return 0;
    }
    if (mt_device_parse(s, dev) != MT_OK) {
        fprintf(stderr, "medtrain %s: --device '%s': expected cpu, cuda or cuda:N\n", a->cmd, s);
        mt_error_clear();
        return 2;
    }
    if (!mt_device_available(*dev)) {
        fprintf(stderr, "medtrain %s: --device %s is not available on this machine%s\n", a->cmd, s,
                dev->type == MT_CUDA ? " (no CUDA build or no GPU); use --device cpu" : "");
        mt_error_clear();
        return 2;
    }
    return 0;
}

int cli_fail(const char *cmd)
{
    const char *m = mt_last_error();
    fprintf(stderr, "medtrain %s: %s\n", cmd, m[0] ? m : "failed (no message recorded)");
    mt_error_clear();
    return 1;
}
