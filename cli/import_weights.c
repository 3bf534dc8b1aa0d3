/* cli/import_weights.c: `medtrain import-weights`: builds a model (from a
 * graph YAML, an experiment YAML or a run directory's config.yaml), loads
 * pretrained weights into it (Keras .h5, safetensors or a medtrain
 * checkpoint, through a name map; layers/weights.h, docs/weights.md), prints
 * the loaded / skipped / missing / unexpected report and writes a medtrain
 * checkpoint usable as `model.init_from` (or a .safetensors file).
 * Example (S4: ImageNet EfficientNet-B3 into a 1-class head):
 *   medtrain import-weights configs/models/efficientnet_b3.yaml efficientnetb3_notop.h5 \
 *     --map configs/models/efficientnet_b3.keras_map.yaml --set-param classes=1 --skip-mismatched --output init.h5 */
#include <stdlib.h>
#include <string.h>

#include "../core/yaml_tree.h"
#include "../train/checkpoint.h"
#include "../layers/weights.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"map", 1, 0, "name map YAML (docs/weights.md); default: Keras <layer>.<suffix>, other formats as stored"},
    {"set-param", 1, 1, "k=v: override a graph parameter, e.g. classes=5 (repeatable)"},
    {"skip-mismatched", 0, 0, "leave tensors whose shape differs as initialised (strict: false)"},
    {"format", 1, 0, "keras-h5 | safetensors | checkpoint (default: from the file)"},
    {"output", 1, 0, "checkpoint to write (.h5), or a .safetensors file"},
    {"seed", 1, 0, "initialisation seed of the tensors not loaded (default 0)"},
    {"verbose", 0, 0, "list every loaded tensor too"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

typedef struct model_src {
    char *graph;           /* graph YAML path (owned) */
    int n_args;
    mt_model_arg args[CLI_MAX_ARGS * 2];
    mt_yaml_node *root;    /* keeps the experiment's param strings alive */
} model_src;

/* path relative to the directory of the file a node came from */
static char *relative_to(const mt_yaml_node *n, const char *rel)
{
    const char *slash = strrchr(n->file, '/');
    if (rel[0] == '/' || !slash) return mt_strdup(rel);
    size_t dl = (size_t)(slash - n->file) + 1, len = dl + strlen(rel) + 1;
    char *p = mt_malloc(len);
    if (p) snprintf(p, len, "%.*s%s", (int)dl, n->file, rel);
    return p;
}

/* A graph YAML, an experiment YAML (model.graph + model.params) or a run
 * directory (its config.yaml). */
static mt_status resolve_model(const char *arg, model_src *ms)
{
    char cfg[4096];
    snprintf(cfg, sizeof cfg, mt_path_is_dir(arg) ? "%s/config.yaml" : "%s", arg);
    if (!mt_path_exists(cfg)) return MT_ERR(MT_ERR_IO, "'%s' not found (expected a graph YAML, experiment YAML or run directory)", cfg);
    MT_TRY(mt_yaml_load_file(cfg, &ms->root));
    const mt_yaml_node *graph = mt_yaml_path(ms->root, "model.graph");
    if (!graph) return (ms->graph = mt_strdup(cfg)) ? MT_OK : MT_ERR_NOMEM; /* a graph file itself */
    if (graph->kind != MT_YAML_SCALAR || !graph->value[0]) {
        char w[512];
        return MT_ERR(MT_ERR_INVALID, "%s: model.graph must be a file path", mt_yaml_where(graph, w, sizeof w));
    }
    if (!(ms->graph = relative_to(graph, graph->value))) return MT_ERR_NOMEM;
    const mt_yaml_node *params = mt_yaml_path(ms->root, "model.params");
    for (int i = 0; params && params->kind == MT_YAML_MAP && i < params->n && ms->n_args < CLI_MAX_ARGS; i++) {
        if (params->child[i]->kind != MT_YAML_SCALAR) continue;
        ms->args[ms->n_args++] = (mt_model_arg){params->child[i]->key, params->child[i]->value};
    }
    return MT_OK;
}

static int usage(const cli_args *a)
{
    cli_print_help(a->help ? stdout : stderr,
                   "medtrain import-weights GRAPH.yaml|EXPERIMENT.yaml|RUN_DIR WEIGHTS [--map MAP.yaml]\n"
                   "       [--set-param k=v ...] [--skip-mismatched] --output CHECKPOINT.h5",
                   "Loads pretrained weights (Keras .h5 as keras.applications publishes them, safetensors from\n"
                   "PyTorch / timm / Hugging Face, or a medtrain checkpoint) into a freshly built model through\n"
                   "a name map (docs/weights.md), prints what was loaded, skipped for shape, missing and\n"
                   "unexpected, and writes a checkpoint to use as `model.init_from` (docs/config.md).\n"
                   "Tensors not loaded keep the graph's initialisation.",
                   k_spec, N_SPEC);
    return a->help ? 0 : 2;
}

int cli_import_weights(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("import-weights", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    const char *out = cli_opt(&a, "output", NULL);
    if (a.help || a.n_pos != 2 || !out) {
        if (!a.help && a.n_pos == 2 && !out) fprintf(stderr, "medtrain import-weights: --output is required\n");
        return usage(&a);
    }
    mt_weights_options opt = {MT_WEIGHTS_AUTO, cli_opt(&a, "map", NULL), cli_has(&a, "skip-mismatched")};
    const char *fmt = cli_opt(&a, "format", NULL);
    if (fmt) {
        static const mt_weights_format all[] = {MT_WEIGHTS_KERAS_H5, MT_WEIGHTS_SAFETENSORS, MT_WEIGHTS_CHECKPOINT};
        opt.format = (mt_weights_format)-1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(fmt, mt_weights_format_name(all[i]))) opt.format = all[i];
        if ((int)opt.format < 0) {
            fprintf(stderr, "medtrain import-weights: --format '%s': expected keras-h5, safetensors or checkpoint\n", fmt);
            return 2;
        }
    }
    char *end = NULL;
    const char *seed_text = cli_opt(&a, "seed", "0");
    unsigned long long seed = strtoull(seed_text, &end, 10);
    if (!*seed_text || *end) {
        fprintf(stderr, "medtrain import-weights: --seed '%s': expected a non-negative integer\n", seed_text);
        return 2;
    }
    model_src ms;
    memset(&ms, 0, sizeof ms);
    mt_model *m = NULL;
    mt_weights_report rep;
    memset(&rep, 0, sizeof rep);
    mt_status st = resolve_model(a.pos[0], &ms);
    char kv[CLI_MAX_ARGS][256];
    for (int i = 0; st == MT_OK && i < a.n_opt; i++) {
        if (strcmp(a.opt_name[i], "set-param")) continue;
        snprintf(kv[i], sizeof kv[i], "%s", a.opt_value[i]);
        char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i]) {
            fprintf(stderr, "medtrain import-weights: --set-param '%s': expected key=value\n", a.opt_value[i]);
            rc = 2;
            goto done;
        }
        *eq = '\0';
        ms.args[ms.n_args++] = (mt_model_arg){kv[i], eq + 1};
    }
    if (st == MT_OK) st = mt_model_load_yaml(ms.graph, ms.n_args, ms.args, mt_cpu(), seed, &m);
    if (st == MT_OK) st = mt_weights_load(m, a.pos[1], &opt, &rep);
    if (st == MT_OK) {
        mt_weights_report_print(stdout, &rep, a.pos[1], cli_has(&a, "verbose") ? 0 : 20, cli_has(&a, "verbose"));
        if (ends_with(out, ".safetensors")) {
            const char *keys[] = {"format", "source"}, *values[] = {"pt", a.pos[1]};
            st = mt_safetensors_save(out, m, 2, keys, values);
        } else {
            st = mt_checkpoint_save(out, m, NULL, NULL, NULL);
        }
    }
    if (st == MT_OK) printf("wrote %s (%zu parameters)\n", out, mt_model_param_count(m));
    rc = st == MT_OK ? 0 : cli_fail("import-weights");
done:
    mt_weights_report_free(&rep);
    if (m) mt_model_free(m);
    mt_yaml_free(ms.root);
    free(ms.graph);
    return rc;
}
