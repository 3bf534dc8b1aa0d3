/* cli/evaluate.c: `medtrain evaluate RUN_DIR|CHECKPOINT.h5`: per-image
 * segmentation metrics (DSC, IoU, accuracy, precision, recall, specificity;
 * mean +- sample SD over images) of a split, before and after the
 * post-processing of the config (S1: keep predicted pixels whose input HU is
 * within [-29, 150]), plus pixel ROC AUC. Writes eval_<split>.json,
 * eval_<split>_images.csv and bland_altman_<split>.png (per-image metrics and
 * areas, train/segment.h) and overlays/ into --out (default: the run directory). */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "../train/segment.h"
#include "../train/trainer.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"split", 1, 0, "split to evaluate (default: data.test_split, usually test)"},
    {"config", 1, 0, "experiment YAML (default: RUN_DIR/config.yaml, or config.yaml next to the checkpoint)"},
    {"set", 1, 1, "key.path=value: override a config value (e.g. postprocess.hu_window=[-29,150])"},
    {"device", 1, 0, "cpu, cuda or cuda:N (default: the GPU when there is one)"},
    {"out", 1, 0, "directory for eval_<split>.json and overlays (default: the run directory)"},
    {"overlays", 1, 0, "number of overlay PNGs to write (default 8; 0 = none)"},
    {"ensemble", 0, 0, "average the probabilities of several runs (RUN_DIR ... or a sweep directory: its finished trials)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

enum { PATH_LEN = 2300, CFG_LEN = 2400, RUN_LEN = 2200 }; /* sizes of the weights / run directory and config path buffers */

/* The checkpoint (best.h5, else last.h5, of a run directory), its config.yaml (or --config) and the default --out. */
static void resolve_paths(const char *target, const char *config_opt, char weights[PATH_LEN], char cfg[CFG_LEN],
                          char dir[PATH_LEN])
{
    if (mt_path_is_dir(target)) {
        snprintf(dir, PATH_LEN, "%s", target);
        snprintf(weights, PATH_LEN, "%s/best.h5", target);
        if (!mt_path_exists(weights)) snprintf(weights, PATH_LEN, "%s/last.h5", target);
        snprintf(cfg, CFG_LEN, "%s/config.yaml", target);
    } else {
        snprintf(weights, PATH_LEN, "%s", target);
        char tmp[PATH_LEN];
        snprintf(tmp, sizeof tmp, "%s", target);
        snprintf(dir, PATH_LEN, "%s", dirname(tmp));
        snprintf(cfg, CFG_LEN, "%s/config.yaml", dir);
    }
    if (config_opt) snprintf(cfg, CFG_LEN, "%s", config_opt);
}

/* Writes <out>/eval_<split>.json (weights, split, task, threshold and the task's metrics) atomically. */
static mt_status write_eval_json(const mt_session *s, const mt_eval *ev, const char *weights, const char *split, const char *out)
{
    char path[2600];
    snprintf(path, sizeof path, "%s/eval_%s.json", out, split);
    char *buf = NULL;
    size_t len = 0;
    mt_status st;
    FILE *f = open_memstream(&buf, &len);
    if (!f) st = MT_ERR(MT_ERR_NOMEM, "eval json text");
    else {
        fprintf(f, "{\n  \"weights\": \"%s\",\n  \"split\": \"%s\",\n  \"task\": \"%s\",\n  \"threshold\": %g,\n",
                weights, split, s->task->kind, s->exp.metrics.threshold);
        s->task->json(f, s, ev, 2);
        fprintf(f, "}\n");
        st = fclose(f) == 0 ? mt_write_file_atomic(path, buf, len) : MT_ERR(MT_ERR_NOMEM, "eval json text");
        free(buf);
    }
    if (st == MT_OK) printf("wrote %s\n", path);
    return st;
}

/* Prints the evaluation, writes eval_<split>.json and n_over overlay pictures into out. */
static mt_status report(mt_session *s, const mt_eval *ev, const char *weights, const char *split, const char *out,
                        const int *idx, int n, int n_over)
{
    char title[2600];
    snprintf(title, sizeof title, "%s split of %s, weights %s", split, s->exp.data.dataset, weights);
    s->task->print(stdout, s, title, ev);
    if (s->exp.postprocess.hu_window_enabled)
        printf("post-processing: predicted pixels kept where input is within [%g, %g]\n",
               s->exp.postprocess.hu_window[0], s->exp.postprocess.hu_window[1]);
    mt_status st = write_eval_json(s, ev, weights, split, out);
    /* segmentation: per-image CSV and the Bland-Altman plot of the mask area */
    if (st == MT_OK && s->task == &mt_task_segmentation) {
        mt_plot_bland_altman_stats ba;
        st = mt_segmentation_write_images(s, ev, idx, n, out, split, &ba);
        if (st == MT_OK)
            printf("Bland-Altman of the mask area (gold - predicted, px, %d images): mean difference %.3f, "
                   "limits of agreement %.3f and %.3f\n", ba.n, ba.mean_diff, ba.lo, ba.hi);
    }
    if (st == MT_OK && n_over > 0) {
        char path[2600];
        snprintf(path, sizeof path, "%s/overlays_%s", out, split);
        st = s->task->pictures(s, ev, idx, n, n_over, path);
    }
    return st;
}

/* The runs of --ensemble: each positional argument, a sweep directory giving its finished trials. */
static int ensemble_runs(const cli_args *a, char runs[][RUN_LEN], int *n)
{
    for (int i = 0; i < a->n_pos; i++) {
        char probe[PATH_LEN + 32];
        snprintf(probe, sizeof probe, "%s/sweep.yaml", a->pos[i]);
        if (!mt_path_exists(probe)) {
            if (*n > MT_SESSION_MAX_ENSEMBLE) break;
            snprintf(runs[(*n)++], RUN_LEN, "%s", a->pos[i]);
            continue;
        }
        for (int t = 0; t < 100000; t++) { /* SWEEP_DIR/trials/NNN with metrics.json and sweep_trial.json */
            char tdir[RUN_LEN];
            snprintf(tdir, sizeof tdir, "%.2150s/trials/%03d", a->pos[i], t);
            if (!mt_path_exists(tdir)) break;
            snprintf(probe, sizeof probe, "%s/sweep_trial.json", tdir);
            if (!mt_path_exists(probe)) continue;
            if (*n > MT_SESSION_MAX_ENSEMBLE) break;
            snprintf(runs[(*n)++], RUN_LEN, "%s", tdir);
        }
    }
    if (*n < 2 || *n > MT_SESSION_MAX_ENSEMBLE) {
        fprintf(stderr, "medtrain evaluate: --ensemble needs 2 to %d finished runs; got %d%s\n", MT_SESSION_MAX_ENSEMBLE + 1,
                *n, *n > MT_SESSION_MAX_ENSEMBLE ? " or more" : "");
        return 2;
    }
    return 0;
}

int cli_evaluate(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("evaluate", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    int ensemble = cli_has(&a, "ensemble");
    if (a.help || a.n_pos < 1 || (a.n_pos > 1 && !ensemble)) {
        cli_print_help(a.help ? stdout : stderr, "medtrain evaluate RUN_DIR|CHECKPOINT.h5 [--split test] [--out DIR]\n"
                       "       medtrain evaluate --ensemble RUN_DIR... | SWEEP_DIR [--split test] [--out DIR]",
                       "Test-split DSC / IoU / accuracy / precision / recall / specificity (mean +- SD per image)\n"
                       "before and after post-processing, and pixel ROC AUC. RUN_DIR uses best.h5 (else last.h5).\n"
                       "Segmentation runs also get eval_<split>_images.csv (per-image figures and areas) and\n"
                       "bland_altman_<split>.png (mask area, gold vs predicted). --ensemble averages the\n"
                       "probabilities of several runs (e.g. the K fold models of a sweep: SWEEP_DIR) and scores\n"
                       "the mean like one model; the first run's config and splits are used (data.folds off).",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    static char runs[MT_SESSION_MAX_ENSEMBLE + 1][RUN_LEN];
    int n_runs = 0;
    if (ensemble && (rc = ensemble_runs(&a, runs, &n_runs)) != 0) return rc;
    char weights[PATH_LEN], cfg[CFG_LEN], dir[PATH_LEN];
    resolve_paths(ensemble ? runs[0] : a.pos[0], cli_opt(&a, "config", NULL), weights, cfg, dir);
    if (ensemble) { /* default --out: SWEEP_DIR/ensemble or FIRST_RUN/ensemble */
        snprintf(dir, sizeof dir, "%.2200s/ensemble", a.pos[0]);
        if (mt_mkdirs(dir) != MT_OK) return cli_fail("evaluate");
    }
    if (!mt_path_exists(weights)) {
        fprintf(stderr, "medtrain evaluate: no checkpoint at %s\n", weights);
        return 1;
    }
    /* evaluate writes eval_*.json and overlays into --out (default: the run directory): not while a
     * `medtrain train` holds that directory's .lock */
    if (mt_run_check_unlocked(cli_opt(&a, "out", dir)) != MT_OK) return cli_fail("evaluate");
    const char *sets[CLI_MAX_ARGS + 1];
    int n_sets = 0, folds_set = 0;
    for (int i = 0; i < a.n_opt; i++)
        if (!strcmp(a.opt_name[i], "set")) {
            folds_set |= !strncmp(a.opt_value[i], "data.folds=", 11);
            sets[n_sets++] = a.opt_value[i];
        }
    if (ensemble && !folds_set) sets[n_sets++] = "data.folds=0"; /* the dataset's own splits, not one fold's */
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
    for (int r = 1; st == MT_OK && r < n_runs; r++) st = mt_session_add_ensemble(&s, runs[r]);
    if (st == MT_OK && ensemble) {
        printf("ensemble of %d runs (mean of probabilities), first %s\n", n_runs, runs[0]);
        if (s.exp.data.folds == 0 && !folds_set)
            printf("note: K-fold models have each seen most of every split of %s; score an ensemble on data none of "
                   "them trained on (--set data.dataset=HELD_OUT.h5)\n", s.exp.data.dataset);
        snprintf(weights, sizeof weights, "ensemble of %d runs", n_runs);
    }
    if (st == MT_OK) st = mt_session_split_indices(&s, split, &idx, &n);
    if (st == MT_OK && n == 0)
        st = MT_ERR(MT_ERR_INVALID, "split '%s' of %s is empty (splits: train, val, test)", split, s.exp.data.dataset);
    if (st == MT_OK) st = s.task->evaluate(&s, idx, n, s.exp.train.batch_size > 0 ? s.exp.train.batch_size : 4, &ev);
    if (st == MT_OK) st = mt_mkdirs(out);
    if (st == MT_OK) st = report(&s, &ev, weights, split, out, idx, n, n_over);
    mt_eval_free(&ev);
    free(idx);
    mt_session_free(&s);
    return st == MT_OK ? 0 : cli_fail("evaluate");
}
