/* cli/export.c: `medtrain export`: a trained model as an ONNX file (the
 * evaluation graph with its weights, layers/export.h) or as safetensors (the
 * state_dict with PyTorch names and layouts, for the twins in
 * experiments/twins/). docs/export.md.
 *   medtrain export runs/unet-... --format onnx --output unet.onnx --dynamic-batch
 *   medtrain export best.h5 --graph configs/models/unet.yaml --set base=16 --format safetensors
 * A run directory gives its config.yaml (model.graph, model.params) and best.h5
 * (else last.h5); a checkpoint needs --graph unless it stores its config. A
 * missing graph file, or a graph whose state_dict no longer matches the
 * checkpoint, is an error (exit 1) and nothing is written. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/yaml_tree.h"
#include "../train/checkpoint.h"
#include "../layers/export.h"
#include "../layers/weights.h"
#include "cli.h"

#ifndef MT_GIT_DESCRIBE
#define MT_GIT_DESCRIBE "unknown"
#endif

static const cli_optspec k_spec[] = {
    {"format", 1, 0, "onnx | safetensors (default onnx)"},
    {"output", 1, 0, "file to write (default: <run dir>/model.onnx|.safetensors, or next to the checkpoint)"},
    {"graph", 1, 0, "model graph YAML (required with a checkpoint that stores no config)"},
    {"set", 1, 1, "k=v: a graph parameter, e.g. base=16 (repeatable; after the run's model.params)"},
    {"opset", 1, 0, "ONNX operator set, 13 (default) to 17"},
    {"dynamic-batch", 0, 0, "ONNX input [N, C, H, W] with a symbolic batch N"},
    {"batch", 1, 0, "fixed ONNX batch size N (default 1)"},
    {"input", 1, 0, "C,H,W of the ONNX input (default: the graph's input size)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

typedef struct export_src {
    char *graph;        /* graph YAML (owned) */
    char *ckpt;         /* checkpoint (owned) */
    char *run_dir;      /* run directory or NULL (owned) */
    int n_args;
    mt_model_arg args[CLI_MAX_ARGS * 2];
    mt_yaml_node *root; /* keeps the param strings alive */
    char params[4096];  /* "k=v, ..." for the metadata */
} export_src;

static char *relative_to(const char *file, const char *rel)
{
    const char *slash = strrchr(file, '/');
    if (rel[0] == '/' || !slash) return mt_strdup(rel);
    size_t dl = (size_t)(slash - file) + 1, len = dl + strlen(rel) + 1;
    char *p = mt_malloc(len);
    if (p) snprintf(p, len, "%.*s%s", (int)dl, file, rel);
    return p;
}

static void add_param(export_src *es, const char *k, const char *v)
{
    if (es->n_args >= (int)(sizeof es->args / sizeof *es->args)) return;
    es->args[es->n_args++] = (mt_model_arg){k, v};
    size_t l = strlen(es->params);
    snprintf(es->params + l, sizeof es->params - l, "%s%s=%s", l ? ", " : "", k, v);
}

/* model.graph (relative to the config's file) and model.params of an experiment config */
static mt_status from_config(export_src *es, const mt_yaml_node *root, const char *where)
{
    const mt_yaml_node *graph = mt_yaml_path(root, "model.graph");
    if (!graph || graph->kind != MT_YAML_SCALAR || !graph->value[0])
        return MT_ERR(MT_ERR_INVALID, "%s: no model.graph in the config", where);
    if (!es->graph && !(es->graph = relative_to(graph->file ? graph->file : where, graph->value))) return MT_ERR_NOMEM;
    const mt_yaml_node *params = mt_yaml_path(root, "model.params");
    for (int i = 0; params && params->kind == MT_YAML_MAP && i < params->n; i++)
        if (params->child[i]->kind == MT_YAML_SCALAR) add_param(es, params->child[i]->key, params->child[i]->value);
    return MT_OK;
}

static mt_status resolve(const char *arg, const char *graph_opt, export_src *es)
{
    if (graph_opt && !(es->graph = mt_strdup(graph_opt))) return MT_ERR_NOMEM;
    if (mt_path_is_dir(arg)) {
        char p[4096];
        if (!(es->run_dir = mt_strdup(arg))) return MT_ERR_NOMEM;
        snprintf(p, sizeof p, "%s/best.h5", arg);
        if (!mt_path_exists(p)) snprintf(p, sizeof p, "%s/last.h5", arg);
        if (!mt_path_exists(p)) return MT_ERR(MT_ERR_IO, "run directory '%s' has no best.h5 or last.h5", arg);
        if (!(es->ckpt = mt_strdup(p))) return MT_ERR_NOMEM;
        snprintf(p, sizeof p, "%s/config.yaml", arg);
        if (!mt_path_exists(p)) {
            if (es->graph) return MT_OK;
            return MT_ERR(MT_ERR_IO, "run directory '%s' has no config.yaml (give --graph)", arg);
        }
        MT_TRY(mt_yaml_load_file(p, &es->root));
        return from_config(es, es->root, p);
    }
    if (!mt_path_exists(arg)) return MT_ERR(MT_ERR_IO, "'%s' not found (expected a run directory or a checkpoint .h5)", arg);
    if (!(es->ckpt = mt_strdup(arg))) return MT_ERR_NOMEM;
    if (es->graph) return MT_OK;
    char *text = NULL;
    MT_TRY(mt_checkpoint_read_config(arg, &text));
    if (!text) return MT_ERR(MT_ERR_INVALID, "checkpoint '%s' stores no config: give --graph GRAPH.yaml", arg);
    mt_status s = mt_yaml_load_string(text, arg, &es->root);
    free(text);
    return s == MT_OK ? from_config(es, es->root, arg) : s;
}

/* 64-bit FNV-1a of a text, as 16 hex digits */
static void fnv1a(const char *s, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int usage(const cli_args *a)
{
    cli_print_help(a->help ? stdout : stderr,
                   "medtrain export RUN_DIR | CHECKPOINT.h5 [--graph GRAPH.yaml] [--set k=v ...]\n"
                   "       [--format onnx|safetensors] [--output FILE] [--opset N] [--dynamic-batch] [--input C,H,W]",
                   "Exports a trained model: ONNX (the evaluation graph, opset 13 by default, input \"input\"\n"
                   "[N, C, H, W], outputs named as the graph's outputs, initializers named as the state_dict;\n"
                   "runs in ONNX Runtime) or safetensors (the state_dict with PyTorch names and layouts, which\n"
                   "the twins in experiments/twins/ load with strict=True). A run directory gives its\n"
                   "config.yaml and best.h5 (else last.h5). The file is written atomically. See docs/export.md.",
                   k_spec, N_SPEC);
    return a->help ? 0 : 2;
}

static int parse_int(const char *s, int lo, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

/* --format, --opset, --batch, --input and --dynamic-batch into *onnx, *eo and *in_c; 0, or 2 after a message. */
static int parse_options(const cli_args *a, int *onnx, mt_export_options *eo, int *in_c)
{
    const char *fmt = cli_opt(a, "format", "onnx");
    *onnx = !strcmp(fmt, "onnx");
    if (!*onnx && strcmp(fmt, "safetensors")) {
        fprintf(stderr, "medtrain export: --format '%s': expected onnx or safetensors\n", fmt);
        return 2;
    }
    memset(eo, 0, sizeof *eo);
    *in_c = 0;
    if (cli_has(a, "opset") && !parse_int(cli_opt(a, "opset", ""), 1, &eo->opset)) {
        fprintf(stderr, "medtrain export: --opset '%s': expected an integer\n", cli_opt(a, "opset", ""));
        return 2;
    }
    if (cli_has(a, "batch") && !parse_int(cli_opt(a, "batch", ""), 1, &eo->batch)) {
        fprintf(stderr, "medtrain export: --batch '%s': expected an integer >= 1\n", cli_opt(a, "batch", ""));
        return 2;
    }
    if (cli_has(a, "input") &&
        (sscanf(cli_opt(a, "input", ""), "%d,%d,%d", in_c, &eo->in_h, &eo->in_w) != 3 || *in_c < 1 || eo->in_h < 1 ||
         eo->in_w < 1)) {
        fprintf(stderr, "medtrain export: --input '%s': expected C,H,W (positive integers)\n", cli_opt(a, "input", ""));
        return 2;
    }
    eo->dynamic_batch = cli_has(a, "dynamic-batch");
    return 0;
}

/* The --set k=v options as graph parameters (kv keeps their text); 0, or 2 after a message. */
static int add_set_options(const cli_args *a, export_src *es, char kv[][256])
{
    for (int i = 0; i < a->n_opt; i++) {
        if (strcmp(a->opt_name[i], "set")) continue;
        snprintf(kv[i], sizeof kv[i], "%s", a->opt_value[i]);
        char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i]) {
            fprintf(stderr, "medtrain export: --set '%s': expected key=value\n", a->opt_value[i]);
            return 2;
        }
        *eq = '\0';
        add_param(es, kv[i], eq + 1);
    }
    return 0;
}

/* Builds the graph and loads the checkpoint into *m (info: the checkpoint's), checking the --input channels. */
static mt_status load_model(const export_src *es, int in_c, mt_model **m, mt_checkpoint_info *info)
{
    mt_status st = MT_OK;
    if (!mt_path_exists(es->graph))
        st = MT_ERR(MT_ERR_IO, "graph file '%s' not found: cannot rebuild the model of '%s' (restore the graph or give --graph)",
                    es->graph, es->ckpt);
    if (st == MT_OK) st = mt_model_load_yaml(es->graph, es->n_args, es->args, mt_cpu(), 0, m);
    if (st == MT_OK && (st = mt_checkpoint_load(es->ckpt, *m, NULL, NULL, info)) != MT_OK) {
        char prev[1500];
        snprintf(prev, sizeof prev, "%s", mt_last_error());
        st = mt_error_replace(st, __FILE__, __LINE__,
                              "graph '%s' does not match checkpoint '%s' (has the graph changed since training?): %s",
                              es->graph, es->ckpt, prev);
    }
    if (st == MT_OK && in_c && in_c != mt_model_in_channels(*m))
        st = MT_ERR(MT_ERR_INVALID, "--input: the model takes %d channels, not %d", mt_model_in_channels(*m), in_c);
    return st;
}

/* The default output: <run dir>/model.<ext>, else the checkpoint's path with .h5 replaced by .<ext>. */
static void default_output(const export_src *es, int onnx, char *out_buf, size_t len)
{
    const char *ext = onnx ? "onnx" : "safetensors";
    if (es->run_dir) snprintf(out_buf, len, "%s/model.%s", es->run_dir, ext);
    else {
        size_t l = strlen(es->ckpt);
        int cut = l > 3 && !strcmp(es->ckpt + l - 3, ".h5") ? 3 : 0;
        snprintf(out_buf, len, "%.*s.%s", (int)(l - (size_t)cut), es->ckpt, ext);
    }
}

/* Writes m to out as ONNX or safetensors with the medtrain metadata (version, source, params, config hash). */
static mt_status write_model(mt_model *m, const export_src *es, const mt_checkpoint_info *info, int onnx,
                             mt_export_options *eo, const char *out)
{
    char hash[17] = "";
    if (info->config_yaml) fnv1a(info->config_yaml, hash);
    const char *keys[6] = {"medtrain.version", "medtrain.source_checkpoint", "medtrain.graph_params"};
    const char *vals[6] = {MT_GIT_DESCRIBE, es->ckpt, es->params};
    int n_meta = 3;
    if (hash[0]) keys[n_meta] = "medtrain.config_fnv1a64", vals[n_meta++] = hash;
    if (onnx) {
        eo->producer_version = MT_GIT_DESCRIBE;
        eo->n_meta = n_meta, eo->meta_keys = keys, eo->meta_values = vals;
        return mt_export_onnx(m, out, eo);
    }
    keys[n_meta] = "format", vals[n_meta++] = "pt";
    keys[n_meta] = "medtrain.graph_name", vals[n_meta++] = mt_model_name(m);
    return mt_safetensors_save(out, m, n_meta, keys, vals);
}

int cli_export(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("export", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 1) return usage(&a);
    int onnx = 0, in_c = 0;
    mt_export_options eo;
    if ((rc = parse_options(&a, &onnx, &eo, &in_c)) != 0) return rc;

    export_src es;
    memset(&es, 0, sizeof es);
    mt_model *m = NULL;
    mt_checkpoint_info info;
    memset(&info, 0, sizeof info);
    char kv[CLI_MAX_ARGS][256], out_buf[4200];
    mt_status st = resolve(a.pos[0], cli_opt(&a, "graph", NULL), &es);
    if (st == MT_OK && (rc = add_set_options(&a, &es, kv)) != 0) goto done;
    if (st == MT_OK) st = load_model(&es, in_c, &m, &info);
    if (st != MT_OK) goto fail;

    const char *out = cli_opt(&a, "output", NULL);
    if (!out) {
        default_output(&es, onnx, out_buf, sizeof out_buf);
        out = out_buf;
    }
    if ((st = write_model(m, &es, &info, onnx, &eo, out)) != MT_OK) goto fail;
    printf("wrote %s (%s, graph %s, %zu parameters, from %s)\n", out, onnx ? "ONNX" : "safetensors", mt_model_name(m),
           mt_model_param_count(m), es.ckpt);
    rc = 0;
    goto done;
fail:
    rc = cli_fail("export");
done:
    free(info.config_yaml);
    if (m) mt_model_free(m);
    mt_yaml_free(es.root);
    free(es.graph);
    free(es.ckpt);
    free(es.run_dir);
    return rc;
}
