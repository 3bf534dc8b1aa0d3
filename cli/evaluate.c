/* cli/evaluate.c: `medtrain evaluate RUN_DIR|CHECKPOINT.h5`: per-image
 * segmentation metrics (DSC, IoU, accuracy, precision, recall, specificity;
 * mean +- sample SD over images) of a split, before and after the
 * post-processing of the config (S1: keep predicted pixels whose input HU is
 * within [-29, 150]), plus pixel ROC AUC. Writes eval_<split>.json and
 * overlays/ into --out (default: the run directory). */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "../train/trainer.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"split", 1, 0, "split to evaluate (default: data.test_split, usually test)"},
    {"config", 1, 0, "experiment YAML (default: RUN_DIR/config.yaml, or config.yaml next to the checkpoint)"},
    {"set", 1, 1, "key.path=value: override a config value (e.g. postprocess.hu_window=[-29,150])"},
    {"device", 1, 0, "cpu, cuda or cuda:N (default: the GPU when there is one)"},
    {"out", 1, 0, "directory for eval_<split>.json and overlays (default: the run directory)"},
    {"overlays", 1, 0, "number of overlay PNGs to write (default 8; 0 = none)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

int cli_evaluate(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("evaluate", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 1) {
        cli_print_help(a.help ? stdout : stderr, "medtrain evaluate RUN_DIR|CHECKPOINT.h5 [--split test] [--out DIR]",
                       "Test-split DSC / IoU / accuracy / precision / recall / specificity (mean +- SD per image)\n"
                       "before and after post-processing, and pixel ROC AUC. RUN_DIR uses best.h5 (else last.h5).",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    const char *target = a.pos[0];
    char weights[2300], cfg[2400], dir[2300];
    if (mt_path_is_dir(target)) {
        snprintf(dir, sizeof dir, "%s", target);
        snprintf(weights, sizeof weights, "%s/best.h5", target);
        if (!mt_path_exists(weights)) snprintf(weights, sizeof weights, "%s/last.h5", target);
        snprintf(cfg, sizeof cfg, "%s/config.yaml", target);
    } else {
        snprintf(weights, sizeof weights, "%s", target);
        char tmp[2300];
        snprintf(tmp, sizeof tmp, "%s", target);
        snprintf(dir, sizeof dir, "%s", dirname(tmp));
        snprintf(cfg, sizeof cfg, "%s/config.yaml", dir);
    }
    const char *c = cli_opt(&a, "config", NULL);
    if (c) snprintf(cfg, sizeof cfg, "%s", c);
    if (!mt_path_exists(weights)) {
        fprintf(stderr, "medtrain evaluate: no checkpoint at %s\n", weights);
        return 1;
    }
    /* evaluate writes eval_*.json and overlays into --out (default: the run directory): not while a
     * `medtrain train` holds that directory's .lock */
    if (mt_run_check_unlocked(cli_opt(&a, "out", dir)) != MT_OK) return cli_fail("evaluate");
    const char *sets[CLI_MAX_ARGS];
    int n_sets = 0;
    for (int i = 0; i < a.n_opt; i++)
        if (!strcmp(a.opt_name[i], "set")) sets[n_sets++] = a.opt_value[i];
    int n_over = atoi(cli_opt(&a, "overlays", "8"));
    mt_session s;
    memset(&s, 0, sizeof s);
    if (mt_session_load(&s, cfg, n_sets, sets) != MT_OK) return cli_fail("evaluate");
    if ((rc = cli_device(&a, &s.dev)) != 0) {
        mt_session_free(&s);
        return rc;
    }
    const char *split = cli_opt(&a, "split", s.exp.data.test_split);
    const char *out = cli_opt(&a, "out", dir);
    int *idx = NULL, n = 0;
    mt_eval ev;
    memset(&ev, 0, sizeof ev);
    mt_status st = mt_session_open_dataset(&s);
    if (st == MT_OK) st = mt_session_build_models(&s, s.exp.train.seed, 0);
    if (st == MT_OK) st = mt_session_load_weights(&s, weights);
    if (st == MT_OK) st = mt_dataset_split_indices(s.ds, split, &idx, &n);
    if (st == MT_OK && n == 0)
        st = MT_ERR(MT_ERR_INVALID, "split '%s' of %s is empty (splits: train, val, test)", split, s.exp.data.dataset);
    if (st == MT_OK) st = s.task->evaluate(&s, idx, n, s.exp.train.batch_size > 0 ? s.exp.train.batch_size : 4, &ev);
    if (st == MT_OK) st = mt_mkdirs(out);
    if (st == MT_OK) {
        char title[2600];
        snprintf(title, sizeof title, "%s split of %s, weights %s", split, s.exp.data.dataset, weights);
        s.task->print(stdout, &s, title, &ev);
        if (s.exp.postprocess.hu_window_enabled)
            printf("post-processing: predicted pixels kept where input is within [%g, %g]\n",
                   s.exp.postprocess.hu_window[0], s.exp.postprocess.hu_window[1]);
        char path[2600];
        snprintf(path, sizeof path, "%s/eval_%s.json", out, split);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) st = MT_ERR(MT_ERR_NOMEM, "eval json text");
        else {
            fprintf(f, "{\n  \"weights\": \"%s\",\n  \"split\": \"%s\",\n  \"task\": \"%s\",\n  \"threshold\": %g,\n",
                    weights, split, s.task->kind, s.exp.metrics.threshold);
            s.task->json(f, &s, &ev, 2);
            fprintf(f, "}\n");
            st = fclose(f) == 0 ? mt_write_file_atomic(path, buf, len) : MT_ERR(MT_ERR_NOMEM, "eval json text");
            free(buf);
        }
        if (st == MT_OK) printf("wrote %s\n", path);
        if (st == MT_OK && n_over > 0) {
            snprintf(path, sizeof path, "%s/overlays_%s", out, split);
            st = s.task->pictures(&s, &ev, idx, n, n_over, path);
        }
    }
    mt_eval_free(&ev);
    free(idx);
    mt_session_free(&s);
    return st == MT_OK ? 0 : cli_fail("evaluate");
}
