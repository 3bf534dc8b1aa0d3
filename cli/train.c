/* cli/train.c: `medtrain train`: the training loop.
 *
 * For each epoch: batches from data/loader.h (seeded shuffle + augmentation),
 * forward in training mode, the configured loss, backward, optional gradient
 * clipping, optimizer step (optim/optim.h); then validation on the val split
 * (per-image metrics, mean over images), the lr schedule step, early stopping,
 * and checkpoints last.h5 (every checkpoint.every epochs) and best.h5 (when the
 * monitored metric improves), both written atomically. A run killed at any
 * point continues with `medtrain train --resume RUN` from the last checkpoint;
 * with train.deterministic on the CPU the resumed run ends with weights
 * bit-identical to an uninterrupted one (every random number is a function of
 * (seed, epoch, index) and the loader seeks to the saved position).
 *
 * Run directory: config.yaml (resolved), log.csv, last.h5, best.h5,
 * curves_loss.png / curves_metrics.png, metrics.json (test split, before/after
 * post-processing), overlays/ (test predictions over the windowed CT), .lock
 * (flock held for the whole run, holding its PID: a second `train --resume` or
 * `train --out` on the directory fails with "in use by PID N"). A new run
 * creates its directory with mkdir (an existing one is refused) and removes it
 * again if it fails before training starts; a run (re)starting or resuming
 * removes stale temporary files (*.tmp-XXXXXX, *.trainer-tmp, *.tmp) of an
 * interrupted run from it.
 * log.csv columns: step, epoch (1-based), phase (train: one row every
 * train.log_every steps with that step's loss; val: one row per epoch with the
 * epoch's mean training loss and the validation metrics, post-processed means),
 * loss, lr, images_per_s, val_loss, val_dsc, val_iou, val_accuracy,
 * val_precision, val_recall, val_specificity, val_auc (pixel ROC AUC),
 * loss_bce, loss_dice (the two terms of loss.kind bce_dice, else empty). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "cli.h"
#include "report.h"
#include "train.h"

static const cli_optspec k_spec[] = {
    {"set", 1, 1, "key.path=value: override a config value (repeatable), e.g. --set optimizer.lr=1e-4"},
    {"device", 1, 0, "cpu, cuda or cuda:N (default: train.device; auto = the GPU when there is one)"},
    {"out", 1, 0, "run directory to create (default runs/<name>-<UTC time>)"},
    {"resume", 1, 0, "RUN: continue the run in directory RUN from its last.h5"},
    {"quiet", 0, 0, "no progress output"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

static const char *k_log_header =
    "step,epoch,phase,loss,lr,images_per_s,val_loss,val_dsc,val_iou,val_accuracy,val_precision,val_recall,"
    "val_specificity,val_auc,loss_bce,loss_dice\n";

/* Maps the experiment's augmentation (in normalised units) to data/augment.h
 * parameters in the dataset's units (the loader augments raw images). */
static void augment_params(const mt_experiment *e, mt_augment_params *p)
{
    mt_augment_params_init(p);
    const mt_exp_augment *a = &e->data.augment;
    double scale = 1, centre = 0, fill = 0;
    if (e->data.normalize == MT_NORM_WINDOW) {
        scale = e->data.window[1] - e->data.window[0];
        centre = 0.5 * (e->data.window[0] + e->data.window[1]);
        fill = e->data.window[0];
    } else if (e->data.normalize == MT_NORM_ZSCORE) {
        scale = e->data.std;
        centre = e->data.mean;
        fill = e->data.mean;
    }
    p->affine_prob = 1;
    p->rotation_deg = (float)a->rotation_deg;
    p->translate_frac[0] = p->translate_frac[1] = (float)a->translate_frac;
    p->zoom[0] = (float)a->zoom[0];
    p->zoom[1] = (float)a->zoom[1];
    p->hflip_prob = (float)a->flip_h;
    p->vflip_prob = (float)a->flip_v;
    if (a->elastic_alpha > 0) {
        p->elastic_prob = 1;
        p->elastic_alpha = (float)a->elastic_alpha;
    }
    p->brightness = (float)(a->brightness * scale);
    p->contrast[0] = (float)(1 - a->contrast);
    p->contrast[1] = (float)(1 + a->contrast);
    p->contrast_center = (float)centre;
    if (a->noise_std > 0) {
        p->noise_prob = 1;
        p->noise_std = (float)(a->noise_std * scale);
    }
    if (a->salt_pepper > 0) {
        p->salt_pepper_prob = 1;
        p->salt_pepper_frac = (float)a->salt_pepper;
        p->salt_value = (float)(centre + 0.5 * scale);
        p->pepper_value = (float)(centre - 0.5 * scale);
    }
    p->fill_value = (float)fill;
}

static mt_status setup_optim(cli_trainer *t)
{
    const mt_experiment *e = &t->s.exp;
    t->optim = mt_optim_new((mt_optim_kind)e->optimizer.kind);
    if (!t->optim) return mt_last_status();
    mt_optim_hparams h = mt_optim_defaults((mt_optim_kind)e->optimizer.kind);
    h.lr = e->optimizer.lr;
    h.momentum = e->optimizer.momentum;
    h.dampening = e->optimizer.dampening;
    h.nesterov = e->optimizer.nesterov;
    h.weight_decay = e->optimizer.weight_decay;
    h.beta1 = e->optimizer.betas[0];
    h.beta2 = e->optimizer.betas[1];
    if (e->optimizer.eps > 0) h.eps = e->optimizer.eps;
    h.amsgrad = e->optimizer.amsgrad;
    h.rho = e->optimizer.rho;
    int n = 0;
    mt_tensor **params = mt_model_params(t->s.model, &n);
    if (!params) return mt_last_status();
    if (mt_optim_add_group(t->optim, params, n, &h) < 0) return mt_last_status();
    mt_sched_params sp;
    memset(&sp, 0, sizeof sp);
    sp.kind = (mt_sched_kind)e->schedule.kind;
    sp.step_size = e->schedule.step_size;
    sp.gamma = e->schedule.gamma;
    sp.n_milestones = e->schedule.n_milestones;
    memcpy(sp.milestones, e->schedule.milestones, sizeof sp.milestones);
    sp.t_max = e->schedule.t_max > 0 ? e->schedule.t_max : e->train.epochs;
    sp.eta_min = e->schedule.eta_min;
    sp.mode_max = e->schedule.mode_max;
    sp.factor = e->schedule.factor;
    sp.patience = e->schedule.patience;
    sp.threshold = e->schedule.threshold;
    sp.cooldown = e->schedule.cooldown;
    sp.min_lr = e->schedule.min_lr;
    t->sched = mt_sched_new(t->optim, &sp);
    return t->sched ? MT_OK : mt_last_status();
}

static mt_status setup_data(cli_trainer *t)
{
    const mt_experiment *e = &t->s.exp;
    MT_TRY(mt_dataset_split_indices(t->s.ds, e->data.train_split, &t->train_idx, &t->n_train));
    MT_TRY(mt_dataset_split_indices(t->s.ds, e->data.val_split, &t->val_idx, &t->n_val));
    MT_TRY(mt_dataset_split_indices(t->s.ds, e->data.test_split, &t->test_idx, &t->n_test));
    if (t->n_train == 0)
        return MT_ERR(MT_ERR_INVALID, "dataset %s has no samples in split '%s' (data.train_split)", e->data.dataset,
                      e->data.train_split);
    mt_augment_params ap;
    augment_params(e, &ap);
    mt_loader_config lc;
    mt_loader_config_init(&lc);
    lc.batch_size = e->train.batch_size;
    lc.shuffle = e->data.shuffle;
    lc.drop_last = e->data.drop_last;
    lc.num_workers = e->data.num_workers > 0 ? e->data.num_workers : 1;
    lc.seed = e->train.seed;
    lc.augment = e->data.augment.enabled ? &ap : NULL;
    lc.device = t->s.dev;
    lc.indices = t->train_idx;
    lc.n_indices = t->n_train;
    return mt_loader_create(t->s.ds, &lc, &t->loader);
}

/* Resizes a batch to the network input when the dataset differs (bilinear
 * image, nearest mask, as torch interpolate). Takes ownership of *x / *m. */
static mt_status fit_input(cli_trainer *t, mt_tensor **x, mt_tensor **m)
{
    if ((*x)->shape[2] == t->s.in_h && (*x)->shape[3] == t->s.in_w) return MT_OK;
    mt_tensor *rx = mt_upsample2d(*x, t->s.in_h, t->s.in_w, MT_UPSAMPLE_BILINEAR, 0);
    mt_tensor *rm = *m ? mt_upsample2d(*m, t->s.in_h, t->s.in_w, MT_UPSAMPLE_NEAREST, 0) : NULL;
    mt_tensor_release(*x);
    mt_tensor_release(*m);
    *x = rx;
    *m = rm;
    return rx ? MT_OK : mt_last_status();
}

/* One optimizer step on a batch; returns the loss value in *loss and the
 * bce_dice terms in terms[2] (NaN for single-term losses). */
static mt_status train_step(cli_trainer *t, mt_batch *b, double *loss_out, double terms[2])
{
    mt_tensor *raw = mt_tensor_retain(b->images), *mask = mt_tensor_retain(b->masks);
    MT_TRY(fit_input(t, &raw, &mask));
    mt_tensor *x = cli_session_normalize(&t->s, raw);
    mt_tensor *logits = mt_model_forward(t->s.model, x, 1);
    mt_tensor *loss = cli_session_loss(&t->s, logits, mask, terms);
    mt_status st = loss ? MT_OK : mt_last_status();
    mt_real lv = 0;
    if (st == MT_OK) st = mt_tensor_to_host(loss, &lv, sizeof lv);
    if (st == MT_OK && !isfinite((double)lv))
        st = MT_ERR(MT_ERR_INVALID, "loss is %g at step %ld (epoch %d): lower optimizer.lr or check data.normalize",
                    (double)lv, t->step + 1, t->epoch + 1);
    if (st == MT_OK) st = mt_backward(loss, NULL, 0);
    if (st == MT_OK && t->s.exp.optimizer.clip_grad_norm > 0) {
        int n = 0;
        mt_tensor **p = mt_model_params(t->s.model, &n);
        st = mt_clip_grad_norm(p, n, t->s.exp.optimizer.clip_grad_norm, NULL);
    }
    if (st == MT_OK) st = mt_optim_step(t->optim);
    if (st == MT_OK) st = mt_optim_zero_grad(t->optim);
    mt_tensor *tmp[] = {raw, mask, x, logits, loss};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    *loss_out = (double)lv;
    return st;
}

static int improved(double v, double best, int mode_max, double min_delta)
{
    if (isnan(v)) return 0;
    if (isnan(best)) return 1;
    return mode_max ? v > best + min_delta : v < best - min_delta;
}

/* ",<bce>,<dice>" (empty fields for NaN), the last two log.csv columns. */
static void log_terms(FILE *log, const double terms[2])
{
    for (int i = 0; i < 2; i++) {
        if (isfinite(terms[i])) fprintf(log, ",%.8g", terms[i]);
        else fprintf(log, ",");
    }
    fprintf(log, "\n");
}

static void log_epoch_row(FILE *log, const cli_trainer *t, double train_loss, double lr, double ips, const cli_eval *v,
                          const double terms[2])
{
    fprintf(log, "%ld,%d,val,%.8g,%.8g,%.2f", t->step, t->epoch, train_loss, lr, ips);
    if (v) {
        const mt_seg_metrics *m = &v->post_mean;
        fprintf(log, ",%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g", v->loss, m->dsc, m->iou, m->accuracy, m->precision,
                m->recall, m->specificity, v->auc);
    } else {
        fprintf(log, ",,,,,,,,");
    }
    log_terms(log, terms);
    fflush(log);
}

/* The epochs of the run: train.epochs, or enough to reach train.steps. */
static int total_epochs(const cli_trainer *t)
{
    const mt_experiment *e = &t->s.exp;
    if (e->train.steps <= 0) return e->train.epochs;
    long per = mt_loader_batches_per_epoch(t->loader);
    return per > 0 ? (int)((e->train.steps + per - 1) / per) : 0;
}

static mt_status run_loop(cli_trainer *t, FILE *log, int quiet)
{
    const mt_experiment *e = &t->s.exp;
    int epochs = total_epochs(t);
    long per_epoch = mt_loader_batches_per_epoch(t->loader);
    MT_TRY(mt_loader_seek(t->loader, t->epoch, 0));
    char path[2200];
    while (t->epoch < epochs && !t->stopped_early) {
        cli_progress pr = {0};
        pr.every = e->train.log_every > 0 ? e->train.log_every : 10;
        if (!quiet) cli_progress_start(&pr, per_epoch);
        double loss_sum = 0, term_sum[2] = {0, 0}, t0 = cli_now();
        long images = 0, nb = 0;
        for (;;) {
            if (e->train.steps > 0 && t->step >= e->train.steps) break;
            mt_batch b;
            memset(&b, 0, sizeof b);
            MT_TRY(mt_loader_next(t->loader, &b));
            if (b.n == 0) break;
            double lv = 0, terms[2];
            mt_status st = train_step(t, &b, &lv, terms);
            int n = b.n;
            mt_batch_free(&b);
            MT_TRY(st);
            t->step++;
            nb++;
            images += n;
            loss_sum += lv;
            term_sum[0] += terms[0];
            term_sum[1] += terms[1];
            double ips = images / (cli_now() - t0 + 1e-9);
            if (!quiet) cli_progress_update(&pr, t->epoch + 1, epochs, nb, lv, ips);
            if (e->train.log_every > 0 && t->step % e->train.log_every == 0) {
                fprintf(log, "%ld,%d,train,%.8g,%.8g,%.2f,,,,,,,,", t->step, t->epoch + 1, lv,
                        mt_optim_get_lr(t->optim, 0), ips);
                log_terms(log, terms);
                fflush(log);
            }
        }
        if (!quiet) cli_progress_end(&pr);
        double ips = images / (cli_now() - t0 + 1e-9);
        double lr = mt_optim_get_lr(t->optim, 0);
        t->epoch++;
        /* the loader is at (epoch, 0) or mid-epoch when train.steps ended it */
        int validate = t->n_val > 0 && (e->train.val_every <= 1 || t->epoch % e->train.val_every == 0 ||
                                        t->epoch == epochs);
        cli_eval v;
        memset(&v, 0, sizeof v);
        if (validate) MT_TRY(cli_session_evaluate(&t->s, t->val_idx, t->n_val, e->train.batch_size, &v));
        double train_loss = nb ? loss_sum / nb : NAN;
        double mean_terms[2] = {nb ? term_sum[0] / nb : NAN, nb ? term_sum[1] / nb : NAN};
        log_epoch_row(log, t, train_loss, lr, ips, validate ? &v : NULL, mean_terms);
        if (!quiet) {
            printf("epoch %d/%d: train loss %.5f", t->epoch, epochs, train_loss);
            if (validate)
                printf(", val loss %.5f, val DSC %.4f +- %.4f, IoU %.4f", v.loss, v.post_mean.dsc, v.post_sd.dsc,
                       v.post_mean.iou);
            printf("\n");
            fflush(stdout);
        }
        double sched_metric = NAN, es_v = NAN, ck_v = NAN;
        mt_status st = MT_OK;
        if (validate) {
            st = cli_eval_monitor(&v, e->schedule.monitor, &sched_metric);
            if (st == MT_OK && e->early_stopping.enabled) st = cli_eval_monitor(&v, e->early_stopping.monitor, &es_v);
            if (st == MT_OK) st = cli_eval_monitor(&v, e->checkpoint.monitor, &ck_v);
        }
        cli_eval_free(&v);
        MT_TRY(st);
        if (e->schedule.kind != MT_SCHED_PLATEAU || validate) MT_TRY(mt_sched_step(t->sched, sched_metric));
        if (e->early_stopping.enabled && validate) {
            if (improved(es_v, t->es_best, e->early_stopping.mode_max, e->early_stopping.min_delta)) {
                t->es_best = es_v;
                t->es_bad = 0;
            } else if (++t->es_bad >= e->early_stopping.patience) {
                t->stopped_early = 1;
                if (!quiet)
                    printf("early stopping: %s did not improve for %d epochs (best %.6g)\n",
                           e->early_stopping.monitor, t->es_bad, t->es_best);
            }
        }
        /* last.h5 before best.h5: a kill between the two never leaves best.h5 ahead of last.h5 */
        int new_best = e->checkpoint.save_best && validate && improved(ck_v, t->ckpt_best, e->checkpoint.mode_max, 0);
        if (new_best) {
            t->ckpt_best = ck_v;
            t->best_epoch = t->epoch;
        }
        if (t->epoch % (e->checkpoint.every > 0 ? e->checkpoint.every : 1) == 0 || t->epoch == epochs ||
            t->stopped_early) {
            snprintf(path, sizeof path, "%s/last.h5", t->run_dir);
            MT_TRY(cli_trainer_save(t, path));
        }
        if (new_best) {
            snprintf(path, sizeof path, "%s/best.h5", t->run_dir);
            MT_TRY(cli_trainer_save(t, path));
        }
        if (cli_plot_run_curves(t->run_dir) != MT_OK) mt_error_clear(); /* a plot never stops training */
        if (e->train.steps > 0 && t->step >= e->train.steps) break;
    }
    return MT_OK;
}

/* Keeps the header and the rows of log.csv up to `step` (a resumed run
 * rewrites what came after its checkpoint). */
static mt_status truncate_log(const char *path, long step)
{
    char *text = NULL;
    size_t len = 0;
    MT_TRY(cli_read_file(path, &text, &len));
    size_t keep = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) + 1 : strlen(line);
        if (line != text && strtol(line, NULL, 10) > step) break;
        keep += ll;
        line += ll;
    }
    mt_status st = cli_write_file_atomic(path, text, keep);
    free(text);
    return st;
}

static void trainer_free(cli_trainer *t)
{
    mt_loader_destroy(t->loader);
    if (t->sched) mt_sched_free(t->sched);
    if (t->optim) mt_optim_free(t->optim);
    free(t->train_idx);
    free(t->val_idx);
    free(t->test_idx);
    cli_session_free(&t->s);
}

int cli_train(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("train", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    const char *resume = cli_opt(&a, "resume", NULL);
    if (a.help || (a.n_pos != 1 && !resume) || (resume && a.n_pos > 0)) {
        cli_print_help(a.help ? stdout : stderr,
                       "medtrain train CONFIG.yaml [--set key.path=value ...] [--device D] [--out RUN_DIR]\n"
                       "       medtrain train --resume RUN_DIR [--device D]",
                       "Trains the model of an experiment config (docs/config.md). The run directory gets\n"
                       "config.yaml (resolved), log.csv, last.h5, best.h5, curves.png, metrics.json and\n"
                       "overlays/. --resume continues a stopped or killed run from its last.h5.",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    const char *sets[CLI_MAX_ARGS];
    int n_sets = 0;
    for (int i = 0; i < a.n_opt; i++)
        if (!strcmp(a.opt_name[i], "set")) sets[n_sets++] = a.opt_value[i];
    if (resume && n_sets) {
        fprintf(stderr, "medtrain train: --set cannot change a resumed run (its config is %s/config.yaml)\n", resume);
        return 2;
    }
    cli_trainer t;
    memset(&t, 0, sizeof t);
    t.es_best = t.ckpt_best = NAN;
    int lock_fd = -1, new_dir = 0; /* new_dir: this run made t.run_dir (removed again if setup fails) */
    char cfg_path[2200];
    if (resume) snprintf(cfg_path, sizeof cfg_path, "%s/config.yaml", resume);
    else snprintf(cfg_path, sizeof cfg_path, "%s", a.pos[0]);
    /* 1. everything that can be checked before training: config, device, dataset, model */
    if (cli_session_load(&t.s, cfg_path, n_sets, sets) != MT_OK) return cli_fail("train");
    const mt_experiment *e = &t.s.exp;
    if (cli_has(&a, "device")) {
        if ((rc = cli_device(&a, &t.s.dev)) != 0) goto done;
    } else if (!strcmp(e->train.device, "auto")) {
        t.s.dev = mt_default_device();
    } else {
        if (mt_device_parse(e->train.device, &t.s.dev) != MT_OK || !mt_device_available(t.s.dev)) {
            fprintf(stderr, "medtrain train: train.device '%s' is not available here; use --device cpu\n",
                    e->train.device);
            mt_error_clear();
            rc = 2;
            goto done;
        }
    }
    if (e->train.threads > 0) mt_set_num_threads(e->train.threads);
    if (cli_session_open_dataset(&t.s) != MT_OK || cli_session_build_model(&t.s, e->train.seed) != MT_OK ||
        (!resume && cli_session_init_weights(&t.s) != MT_OK) || setup_optim(&t) != MT_OK || setup_data(&t) != MT_OK) {
        rc = cli_fail("train");
        goto done;
    }
    /* 2. the run directory */
    char path[2300];
    if (resume) {
        snprintf(t.run_dir, sizeof t.run_dir, "%s", resume);
        if (cli_run_lock(resume, &lock_fd) != MT_OK) { /* before anything in it is read or changed */
            rc = cli_fail("train");
            goto done;
        }
        cli_run_remove_temps(resume);
        snprintf(path, sizeof path, "%s/last.h5", resume);
        if (!cli_exists(path)) {
            fprintf(stderr, "medtrain train: %s has no last.h5 (no epoch finished yet): start it again\n", resume);
            rc = 1;
            goto done;
        }
        if (cli_trainer_load(&t, path) != MT_OK) {
            rc = cli_fail("train");
            goto done;
        }
        snprintf(path, sizeof path, "%s/log.csv", resume);
        if (cli_exists(path) && truncate_log(path, t.step) != MT_OK) {
            rc = cli_fail("train");
            goto done;
        }
        printf("resuming %s at epoch %d (step %ld)\n", resume, t.epoch, t.step);
    } else {
        const char *out = cli_opt(&a, "out", NULL);
        mt_status st;
        if (out) {
            /* mkdir itself decides (no check-then-create gap): EEXIST means another run's directory */
            char parent[2200];
            snprintf(parent, sizeof parent, "%s", out);
            size_t pl = strlen(parent);
            while (pl > 1 && parent[pl - 1] == '/') parent[--pl] = '\0';
            char *slash = strrchr(parent, '/');
            st = MT_OK;
            if (slash && slash != parent) {
                *slash = '\0';
                st = cli_mkdirs(parent);
            }
            if (st != MT_OK) {
                rc = cli_fail("train");
                goto done;
            }
            if (mkdir(out, 0777) != 0) {
                int err = errno;
                if (err == EEXIST && cli_run_check_unlocked(out) != MT_OK) {
                    rc = cli_fail("train");
                } else if (err == EEXIST) {
                    fprintf(stderr, "medtrain train: --out %s already exists; choose a new run directory (or "
                            "continue that run with --resume %s)\n", out, out);
                    rc = 2;
                } else {
                    fprintf(stderr, "medtrain train: cannot create the run directory %s: %s\n", out, strerror(err));
                    rc = 1;
                }
                goto done;
            }
            snprintf(t.run_dir, sizeof t.run_dir, "%s", out);
        } else {
            const char *stem = e->name && e->name[0] ? e->name : "run";
            st = cli_new_run_dir("runs", stem, t.run_dir, sizeof t.run_dir);
        }
        new_dir = st == MT_OK;
        if (st == MT_OK) st = cli_run_lock(t.run_dir, &lock_fd);
        snprintf(path, sizeof path, "%s/config.yaml", t.run_dir);
        if (st == MT_OK) st = cli_write_file_atomic(path, e->resolved_yaml, strlen(e->resolved_yaml));
        snprintf(path, sizeof path, "%s/log.csv", t.run_dir);
        if (st == MT_OK) st = cli_write_file_atomic(path, k_log_header, strlen(k_log_header));
        if (st != MT_OK) {
            rc = cli_fail("train");
            goto done;
        }
        char dv[32];
        printf("run %s: %zu parameters on %s, %d train / %d val / %d test images\n", t.run_dir,
               mt_model_param_count(t.s.model), mt_device_str(t.s.dev, dv, sizeof dv), t.n_train, t.n_val,
               t.n_test);
    }
    fflush(stdout);
    snprintf(path, sizeof path, "%s/log.csv", t.run_dir);
    FILE *log = fopen(path, "a");
    if (!log) {
        fprintf(stderr, "medtrain train: cannot append to %s\n", path);
        rc = 1;
        goto done;
    }
    new_dir = 0; /* from here the run's files are kept, even when it fails */
    double t0 = cli_now();
    mt_status st = run_loop(&t, log, cli_has(&a, "quiet"));
    fclose(log);
    if (st == MT_OK) st = cli_report_run(&t, cli_now() - t0);
    rc = st == MT_OK ? 0 : cli_fail("train");
done:
    if (rc != 0 && new_dir) cli_run_dir_discard(t.run_dir); /* no empty or half-made run directory */
    cli_run_unlock(lock_fd);
    trainer_free(&t);
    return rc;
}
