/* train/trainer.c: the training loop shared by every task (trainer.h). */
#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "dist.h"
#include "progress.h"
#include "run_dir.h"
#include "trainer_dist.h"
#include "trainer_graph.h"

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
        p->elastic_grid = a->elastic_grid;
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

/* optimizer + schedule of session network i from the experiment (lr: task.d_lr for D when set) */
static mt_status setup_optim(mt_trainer *t, int i)
{
    const mt_experiment *e = &t->s.exp;
    mt_optim *o = t->optim[i] = mt_optim_new((mt_optim_kind)e->optimizer.kind);
    if (!o) return mt_last_status();
    mt_optim_hparams h = mt_optim_defaults((mt_optim_kind)e->optimizer.kind);
    h.lr = e->optimizer.lr;
    if (!strcmp(t->s.models[i].name, "D") && e->task.d_lr > 0) h.lr = e->task.d_lr;
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
    mt_tensor **params = mt_model_params(t->s.models[i].model, &n);
    if (!params) return mt_last_status();
    if (mt_optim_add_group(o, params, n, &h) < 0) return mt_last_status();
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
    t->sched[i] = mt_sched_new(o, &sp);
    return t->sched[i] ? MT_OK : mt_last_status();
}

static mt_status setup_data(mt_trainer *t)
{
    const mt_experiment *e = &t->s.exp;
    MT_TRY(mt_session_split_indices(&t->s, e->data.train_split, &t->train_idx, &t->n_train));
    MT_TRY(mt_session_split_indices(&t->s, e->data.val_split, &t->val_idx, &t->n_val));
    MT_TRY(mt_session_split_indices(&t->s, e->data.test_split, &t->test_idx, &t->n_test));
    if (t->n_train == 0)
        return MT_ERR(MT_ERR_INVALID, "dataset %s has no samples in split '%s' (data.train_split)", e->data.dataset,
                      e->data.train_split);
    MT_TRY(mt_trainer_dist_check_config(t)); /* data parallel: batches that split over the processes */
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
    lc.copy_stream = e->train.copy_stream;
    lc.indices = t->train_idx;
    lc.n_indices = t->n_train;
    lc.shard_index = t->rank; /* data parallel: this process's slice of every batch */
    lc.shard_count = mt_dist_size(t->dist);
    return mt_loader_create(t->s.ds, &lc, &t->loader);
}

mt_status mt_trainer_update(mt_trainer *t, int i)
{
    MT_REQUIRE(i >= 0 && i < t->s.n_models && t->optim[i], "network %d has no optimizer (frozen)", i);
    MT_TRY(mt_trainer_dist_grads(t, i));
    int n = 0;
    mt_tensor **p = mt_model_params(t->s.models[i].model, &n);
    if (t->s.exp.train.precision == MT_PRECISION_FP16 && t->scaler.dev) {
        /* state on the device (train.cuda_graph): unscale and update there, the optimizer skips the
         * step on the device when found_inf is set (mt_optim_set_found_inf), nothing is read back */
        const mt_optim *o = t->optim[i];
        mt_tensor *flat[64];
        int nf = 0;
        for (int g = 0; g < mt_optim_group_count(o) && nf < 64; g++) flat[nf++] = mt_optim_group_grads(o, g);
        MT_REQUIRE(nf == mt_optim_group_count(o), "fp16 on the device: more than 64 parameter groups");
        MT_TRY(mt_grad_scaler_unscale_device(&t->scaler, flat, nf));
        MT_TRY(mt_grad_scaler_update_device(&t->scaler));
    } else if (t->s.exp.train.precision == MT_PRECISION_FP16) { /* loss scaling: unscale before clipping */
        int found_inf = 0;
        MT_TRY(mt_grad_scaler_unscale(&t->scaler, p, n, &found_inf));
        mt_grad_scaler_update(&t->scaler, found_inf);
        if (found_inf) { /* GradScaler.step: skip the update; the scale was lowered */
            t->skipped_steps++;
            return mt_optim_zero_grad(t->optim[i]);
        }
    }
    if (t->s.exp.optimizer.clip_grad_norm > 0) MT_TRY(mt_clip_grad_norm(p, n, t->s.exp.optimizer.clip_grad_norm, NULL));
    MT_TRY(mt_optim_step(t->optim[i]));
    return mt_optim_zero_grad(t->optim[i]);
}

/* The autocast type of train.precision (MT_F32: off). */
static mt_dtype precision_dtype(int precision)
{
    return precision == MT_PRECISION_BF16 ? MT_BF16 : precision == MT_PRECISION_FP16 ? MT_F16 : MT_F32;
}

/* One training step of a single-model task: forward and the task's loss (under
 * train.precision's autocast), backward (of the scaled loss for fp16), update.
 * The loss is added to t->loss_acc on the device (read by read_loss); the task
 * reads its loss terms only when `terms` is not NULL (log steps). */
mt_status mt_trainer_single_step(mt_trainer *t, const mt_batch *b, double *terms)
{
    mt_session *s = &t->s;
    int n_out = mt_model_output_count(s->model);
    mt_tensor *outs[16] = {0};
    mt_tensor *x = mt_session_normalize(s, b->images), *loss = NULL;
    mt_status st = x ? MT_OK : mt_last_status();
    if (st == MT_OK && n_out > 16) st = MT_ERR(MT_ERR_UNSUPPORTED, "a model with %d outputs (at most 16)", n_out);
    const mt_dtype ac = mt_set_autocast(precision_dtype(s->exp.train.precision)); /* forward + loss */
    if (st == MT_OK) st = mt_model_forward_all(s->model, x, 1, outs);
    if (st == MT_OK) st = s->task->loss(s, outs, n_out, b, &loss, terms);
    mt_set_autocast(ac);
    if (st == MT_OK) st = mt_loss_acc_add(&t->loss_acc, loss, t->step + 1);
    if (st == MT_OK && s->exp.train.precision == MT_PRECISION_FP16) { /* backward of loss * scale */
        mt_tensor *scaled = mt_grad_scaler_scale(&t->scaler, loss);
        st = scaled ? mt_backward(scaled, NULL, 0) : mt_last_status();
        mt_tensor_release(scaled);
    } else if (st == MT_OK) {
        st = mt_backward(loss, NULL, 0);
    }
    if (st == MT_OK) st = mt_trainer_update(t, 0);
    for (int i = 0; i < n_out && i < 16; i++) mt_tensor_release(outs[i]);
    mt_tensor_release(x);
    mt_tensor_release(loss);
    return st;
}

/* Reads the losses summed since the last read (one device-to-host copy): *sum,
 * and *last, the latest step's. A non-finite sum stops the run. */
static mt_status read_loss(mt_trainer *t, double *sum, double *last)
{
    long n = 0, first = t->loss_acc.first_step;
    MT_TRY(mt_loss_acc_read(&t->loss_acc, sum, last, &n));
    if (n > 0 && !isfinite(*sum)) {
        if (n == 1)
            return MT_ERR(MT_ERR_INVALID, "loss is %g at step %ld (epoch %d): lower optimizer.lr or check "
                          "data.normalize", *sum, first, t->epoch + 1);
        return MT_ERR(MT_ERR_INVALID, "loss is %g in steps %ld-%ld (epoch %d; read every train.log_every steps): "
                      "lower optimizer.lr or check data.normalize", *sum, first, first + n - 1, t->epoch + 1);
    }
    return MT_OK;
}

static int improved(double v, double best, int mode_max, double min_delta)
{
    if (isnan(v)) return 0;
    if (isnan(best)) return 1;
    return mode_max ? v > best + min_delta : v < best - min_delta;
}

static void log_terms(FILE *log, const mt_task *task, const double *terms)
{
    for (int i = 0; i < task->n_terms; i++) {
        if (isfinite(terms[i])) fprintf(log, ",%.8g", terms[i]);
        else fprintf(log, ",");
    }
    fprintf(log, "\n");
}

static void log_epoch_row(mt_trainer *t, double train_loss, double lr, double ips, const mt_eval *v,
                          const double *terms)
{
    const mt_task *task = t->s.task;
    if (!t->log) return; /* not rank 0 */
    fprintf(t->log, "%ld,%d,val,%.8g,%.8g,%.2f", t->step, t->epoch, train_loss, lr, ips);
    if (v) {
        fprintf(t->log, ",%.8g", v->loss);
        for (int i = 0; i < task->n_log_metrics; i++) {
            double m = NAN;
            if (mt_eval_get(v, task->log_metrics[i], &m) != MT_OK) mt_error_clear();
            if (isfinite(m)) fprintf(t->log, ",%.8g", m);
            else fprintf(t->log, ",");
        }
    } else {
        for (int i = 0; i <= task->n_log_metrics; i++) fprintf(t->log, ",");
    }
    log_terms(t->log, task, terms);
    fflush(t->log);
}

/* The epochs of the run: train.epochs, or enough to reach train.steps. */
static int total_epochs(const mt_trainer *t)
{
    const mt_experiment *e = &t->s.exp;
    if (e->train.steps <= 0) return e->train.epochs;
    long per = mt_loader_batches_per_epoch(t->loader);
    return per > 0 ? (int)((e->train.steps + per - 1) / per) : 0;
}

/* One pass over the training split; mean loss and terms of its steps. */
static mt_status train_epoch(mt_trainer *t, int epochs, double *mean_loss, double *mean_terms, double *ips_out)
{
    const mt_experiment *e = &t->s.exp;
    const mt_task *task = t->s.task;
    mt_progress pr = {0};
    pr.every = e->train.log_every > 0 ? e->train.log_every : 10;
    if (!t->quiet) mt_progress_start(&pr, mt_loader_batches_per_epoch(t->loader));
    double loss_sum = 0, term_sum[MT_TASK_MAX_TERMS] = {0}, t0 = mt_now(), lv = NAN;
    long images = 0, nb = 0, term_steps = 0;
    /* single-network tasks on one process read the loss (and its terms) back only at log steps */
    int deferred = !task->train_step && mt_dist_size(t->dist) < 2;
    for (;;) {
        if (e->train.steps > 0 && t->step >= e->train.steps) break;
        mt_batch b;
        memset(&b, 0, sizeof b);
        MT_TRY(mt_loader_next(t->loader, &b));
        if (b.n == 0) break;
        if (t->step_hook) t->step_hook(t, 0, t->step_hook_user);
        int log_step = e->train.log_every > 0 && (t->step + 1) % e->train.log_every == 0;
        int read = !deferred || log_step;
        double terms[MT_TASK_MAX_TERMS], acc_sum = 0;
        for (int i = 0; i < MT_TASK_MAX_TERMS; i++) terms[i] = NAN;
        int n = mt_trainer_dist_batch(t, &b); /* the global batch's size */
        mt_status st = mt_session_fit_batch(&t->s, &b);
        if (st == MT_OK && task->train_step) { /* several networks: bf16 autocast around the task's whole step */
            const mt_dtype ac = mt_set_autocast(precision_dtype(e->train.precision));
            st = task->train_step(t, &b, &lv, terms);
            mt_set_autocast(ac);
        } else if (st == MT_OK) {
            /* train.cuda_graph: warm-up, capture and replays (train/trainer_graph.c) */
            double *tm = read ? terms : NULL;
            st = t->graph ? mt_trainer_graph_step(t, &b, tm) : mt_trainer_single_step(t, &b, tm);
        }
        if (st == MT_OK && !task->train_step && read) st = read_loss(t, &acc_sum, &lv);
        if (st == MT_OK) st = mt_trainer_dist_loss(t, &lv, terms, task->n_terms);
        mt_batch_free(&b);
        MT_TRY(st);
        t->step++;
        nb++;
        images += n;
        loss_sum += deferred ? acc_sum : lv;
        if (read) {
            term_steps++;
            for (int i = 0; i < task->n_terms; i++) term_sum[i] += terms[i];
        }
        double ips = images / (mt_now() - t0 + 1e-9);
        if (!t->quiet) mt_progress_update(&pr, t->epoch + 1, epochs, nb, lv, ips);
        if (t->log && e->train.log_every > 0 && t->step % e->train.log_every == 0) {
            fprintf(t->log, "%ld,%d,train,%.8g,%.8g,%.2f", t->step, t->epoch + 1, lv, mt_optim_get_lr(t->optim[0], 0), ips);
            for (int i = 0; i <= task->n_log_metrics; i++) fprintf(t->log, ",");
            log_terms(t->log, task, terms);
            fflush(t->log);
        }
        if (t->step_hook) t->step_hook(t, 1, t->step_hook_user);
    }
    if (deferred) { /* the steps since the last log step */
        double rest = 0, last = NAN;
        MT_TRY(read_loss(t, &rest, &last));
        loss_sum += rest;
    }
    if (!t->quiet) mt_progress_end(&pr);
    *ips_out = images / (mt_now() - t0 + 1e-9);
    *mean_loss = nb ? loss_sum / nb : NAN;
    for (int i = 0; i < task->n_terms; i++) mean_terms[i] = term_steps ? term_sum[i] / term_steps : NAN;
    return MT_OK;
}

/* After an epoch: schedules, early stopping, last.h5 then best.h5. */
static mt_status end_epoch(mt_trainer *t, int epochs, int validated, const mt_eval *v)
{
    const mt_experiment *e = &t->s.exp;
    double sched_metric = NAN, es_v = NAN, ck_v = NAN;
    if (validated) {
        if (e->schedule.kind == MT_SCHED_PLATEAU) MT_TRY(mt_eval_get(v, e->schedule.monitor, &sched_metric));
        if (e->early_stopping.enabled) MT_TRY(mt_eval_get(v, e->early_stopping.monitor, &es_v));
        if (e->checkpoint.save_best) MT_TRY(mt_eval_get(v, e->checkpoint.monitor, &ck_v));
    }
    for (int i = 0; i < t->s.n_models; i++)
        if (t->sched[i] && (e->schedule.kind != MT_SCHED_PLATEAU || validated)) MT_TRY(mt_sched_step(t->sched[i], sched_metric));
    if (e->early_stopping.enabled && validated) {
        if (improved(es_v, t->es_best, e->early_stopping.mode_max, e->early_stopping.min_delta)) {
            t->es_best = es_v;
            t->es_bad = 0;
        } else if (++t->es_bad >= e->early_stopping.patience) {
            t->stopped_early = 1;
            if (!t->quiet)
                printf("early stopping: %s did not improve for %d epochs (best %.6g)\n", e->early_stopping.monitor,
                       t->es_bad, t->es_best);
        }
    }
    /* last.h5 before best.h5: a kill between the two never leaves best.h5 ahead of last.h5 */
    int new_best = e->checkpoint.save_best && validated && improved(ck_v, t->ckpt_best, e->checkpoint.mode_max, 0);
    if (new_best) {
        t->ckpt_best = ck_v;
        t->best_epoch = t->epoch;
    }
    char path[2200];
    int save_last = t->epoch % (e->checkpoint.every > 0 ? e->checkpoint.every : 1) == 0 || t->epoch == epochs ||
                    t->stopped_early;
    if (save_last || new_best) MT_TRY(mt_trainer_dist_check_replicas(t));
    if (t->rank > 0) return MT_OK; /* rank 0 writes the checkpoints */
    if (save_last) {
        snprintf(path, sizeof path, "%s/last.h5", t->run_dir);
        MT_TRY(mt_trainer_save(t, path));
    }
    if (new_best) {
        snprintf(path, sizeof path, "%s/best.h5", t->run_dir);
        MT_TRY(mt_trainer_save(t, path));
    }
    return MT_OK;
}

static void print_epoch(const mt_trainer *t, int epochs, double train_loss, const mt_eval *v)
{
    if (t->quiet) return;
    printf("epoch %d/%d: train loss %.5f", t->epoch, epochs, train_loss);
    if (v) {
        printf(", val loss %.5f", v->loss);
        const mt_task *task = t->s.task;
        for (int i = 0; i < task->n_log_metrics && i < 3; i++) {
            double m = NAN;
            if (mt_eval_get(v, task->log_metrics[i], &m) != MT_OK) mt_error_clear();
            printf(", %s %.4f", task->log_metrics[i], m);
        }
    }
    printf("\n");
    fflush(stdout);
}

mt_status mt_trainer_fit(mt_trainer *t)
{
    const mt_experiment *e = &t->s.exp;
    int epochs = total_epochs(t);
    MT_TRY(mt_loader_seek(t->loader, t->epoch, 0));
    double t0 = mt_now();
    while (t->epoch < epochs && !t->stopped_early) {
        double train_loss, terms[MT_TASK_MAX_TERMS], ips;
        MT_TRY(train_epoch(t, epochs, &train_loss, terms, &ips));
        double lr = mt_optim_get_lr(t->optim[0], 0);
        t->epoch++;
        MT_TRY(mt_trainer_dist_sync_buffers(t)); /* BatchNorm running statistics: rank 0's */
        int validate = t->n_val > 0 && (e->train.val_every <= 1 || t->epoch % e->train.val_every == 0 ||
                                        t->epoch == epochs);
        mt_eval v;
        memset(&v, 0, sizeof v);
        if (validate) MT_TRY(t->s.task->evaluate(&t->s, t->val_idx, t->n_val, e->train.batch_size, &v));
        log_epoch_row(t, train_loss, lr, ips, validate ? &v : NULL, terms);
        print_epoch(t, epochs, train_loss, validate ? &v : NULL);
        double now = mt_now();
        t->train_seconds += now - t0; /* before end_epoch: the checkpoints carry it */
        t0 = now;
        mt_status st = end_epoch(t, epochs, validate, &v);
        mt_eval_free(&v);
        MT_TRY(st);
        if (t->rank == 0 && mt_plot_run_curves(t->run_dir) != MT_OK) mt_error_clear(); /* never stops training */
        if (e->train.steps > 0 && t->step >= e->train.steps) break;
    }
    t->train_seconds += mt_now() - t0;
    return MT_OK;
}

/* Keeps the header and the rows of log.csv up to `step` (a resumed run
 * rewrites what came after its checkpoint). */
static mt_status truncate_log(const char *path, long step)
{
    char *text = NULL;
    size_t len = 0;
    MT_TRY(mt_read_file(path, &text, &len));
    size_t keep = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) + 1 : strlen(line);
        if (line != text && strtol(line, NULL, 10) > step) break;
        keep += ll;
        line += ll;
    }
    mt_status st = mt_write_file_atomic(path, text, keep);
    free(text);
    return st;
}

static mt_status pick_device(mt_trainer *t, const char *device)
{
    const char *d = device ? device : t->s.exp.train.device;
    if (!device && !strcmp(d, "auto")) {
        t->s.dev = mt_default_device();
        return MT_OK;
    }
    if (mt_device_parse(d, &t->s.dev) != MT_OK || !mt_device_available(t->s.dev)) {
        mt_error_clear();
        return MT_ERR(MT_ERR_INVALID, "%s '%s' is not available here; use cpu", device ? "--device" : "train.device", d);
    }
    return MT_OK;
}

/* Data parallel on GPUs: "cuda" / auto without an index means one GPU per
 * process of a machine, cuda:(local rank mod GPUs); an explicit cuda:N is kept. */
static void pick_rank_gpu(mt_trainer *t, const char *device)
{
    const char *d = device ? device : t->s.exp.train.device;
    const mt_backend *be = mt_backend_peek(MT_CUDA);
    if (mt_dist_size(t->dist) < 2 || t->s.dev.type != MT_CUDA || strchr(d, ':') || !be) return;
    int count = be->device_count(be->ctx);
    if (count > 1) t->s.dev.index = mt_dist_local_rank(t->dist) % count;
}

/* A new run directory: --out (mkdir decides: an existing one is refused) or runs/<name>-<time>. */
static mt_status make_run_dir(mt_trainer *t, const char *out)
{
    const mt_experiment *e = &t->s.exp;
    if (!out) {
        const char *stem = e->name && e->name[0] ? e->name : "run";
        MT_TRY(mt_run_dir_new("runs", stem, t->run_dir, sizeof t->run_dir));
        t->new_dir = 1;
        return MT_OK;
    }
    char parent[2200];
    snprintf(parent, sizeof parent, "%s", out);
    size_t pl = strlen(parent);
    while (pl > 1 && parent[pl - 1] == '/') parent[--pl] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        MT_TRY(mt_mkdirs(parent));
    }
    if (mkdir(out, 0777) != 0) {
        int err = errno;
        if (err == EEXIST) {
            MT_TRY(mt_run_check_unlocked(out));
            return MT_ERR(MT_ERR_INVALID,
                          "--out %s already exists; choose a new run directory (or continue that run with --resume %s)",
                          out, out);
        }
        return MT_ERR(MT_ERR_IO, "cannot create the run directory %s: %s", out, strerror(err));
    }
    snprintf(t->run_dir, sizeof t->run_dir, "%s", out);
    t->new_dir = 1;
    return MT_OK;
}

static mt_status start_new(mt_trainer *t, const char *out)
{
    static const char *fixed = "step,epoch,phase,loss,lr,images_per_s,val_loss";
    const mt_task *task = t->s.task;
    MT_TRY(make_run_dir(t, out)); /* rank 0 only: the others get its name (mt_trainer_dist_start) */
    MT_TRY(mt_run_lock(t->run_dir, &t->lock_fd));
    char path[2300], header[1024];
    size_t len = (size_t)snprintf(header, sizeof header, "%s", fixed);
    for (int i = 0; i < task->n_log_metrics; i++)
        len += (size_t)snprintf(header + len, sizeof header - len, ",val_%s", task->log_metrics[i]);
    for (int i = 0; i < task->n_terms; i++)
        len += (size_t)snprintf(header + len, sizeof header - len, ",loss_%s", task->terms[i]);
    snprintf(header + len, sizeof header - len, "\n");
    snprintf(path, sizeof path, "%s/config.yaml", t->run_dir);
    MT_TRY(mt_write_file_atomic(path, t->s.exp.resolved_yaml, strlen(t->s.exp.resolved_yaml)));
    snprintf(path, sizeof path, "%s/log.csv", t->run_dir);
    MT_TRY(mt_write_file_atomic(path, header, strlen(header)));
    char dv[32], procs[96] = "";
    if (mt_dist_size(t->dist) > 1)
        snprintf(procs, sizeof procs, " x %d processes (%s, global batch %d)", mt_dist_size(t->dist),
                 mt_dist_name(t->dist), t->s.exp.train.batch_size);
    printf("run %s: %s, %zu parameters on %s%s, %d train / %d val / %d test samples\n", t->run_dir, task->kind,
           mt_model_param_count(t->s.model), mt_device_str(t->s.dev, dv, sizeof dv), procs, t->n_train, t->n_val,
           t->n_test);
    return MT_OK;
}

static mt_status start_resumed(mt_trainer *t, const char *dir)
{
    snprintf(t->run_dir, sizeof t->run_dir, "%s", dir);
    MT_TRY(mt_run_lock(dir, &t->lock_fd)); /* before anything in it is read or changed */
    mt_run_remove_temps(dir);
    char path[2300];
    snprintf(path, sizeof path, "%s/last.h5", dir);
    if (!mt_path_exists(path))
        return MT_ERR(MT_ERR_INVALID,
                      "%s has no last.h5 (no epoch finished yet): nothing to resume; start the run again with "
                      "`medtrain train CONFIG --out NEW_DIR` (or remove %s first)", dir, dir);
    MT_TRY(mt_trainer_load(t, path));
    mt_trainer_dist_dropout_streams(t); /* a no-op on rank 0 */
    /* best.h5 is saved right after last.h5: a kill between the two leaves last.h5
     * recording this epoch as the best while best.h5 is older or missing, and
     * nothing would write it again (the epoch is not re-run); the state just
     * loaded is that best, so write it now */
    if (t->s.exp.checkpoint.save_best && t->best_epoch > 0 && t->best_epoch == t->epoch) {
        snprintf(path, sizeof path, "%s/best.h5", dir);
        MT_TRY(mt_trainer_save(t, path));
    }
    snprintf(path, sizeof path, "%s/log.csv", dir);
    if (mt_path_exists(path)) MT_TRY(truncate_log(path, t->step));
    printf("resuming %s at epoch %d (step %ld)\n", dir, t->epoch, t->step);
    return MT_OK;
}

mt_status mt_trainer_open(const mt_train_options *o, mt_trainer **out)
{
    mt_trainer *t = *out = mt_calloc(1, sizeof *t);
    if (!t) return mt_last_status();
    t->es_best = t->ckpt_best = NAN;
    t->lock_fd = -1;
    t->dist = o->dist;
    t->rank = mt_dist_rank(o->dist);
    t->shard_weight = 1;
    t->quiet = o->quiet || t->rank > 0; /* one progress display: rank 0's */
    if (o->resume && o->n_sets)
        return MT_ERR(MT_ERR_INVALID, "--set cannot change a resumed run (its config is %s/config.yaml)", o->resume);
    char cfg[2200];
    snprintf(cfg, sizeof cfg, "%s%s", o->resume ? o->resume : o->config, o->resume ? "/config.yaml" : "");
    /* 1. everything that can be checked before training */
    MT_TRY(mt_session_load(&t->s, cfg, o->n_sets, o->sets));
    MT_TRY(pick_device(t, o->device));
    pick_rank_gpu(t, o->device);
    MT_TRY(mt_dist_use_device(t->dist, t->s.dev)); /* NCCL on a GPU */
    if (t->s.exp.train.threads > 0) mt_set_num_threads(t->s.exp.train.threads);
    mt_set_conv_options(t->s.exp.train.cudnn_benchmark, t->s.exp.train.deterministic);
    MT_TRY(mt_session_open_dataset(&t->s));
    MT_TRY(mt_session_build_models(&t->s, t->s.exp.train.seed, !o->resume));
    mt_trainer_dist_dropout_streams(t);
    MT_TRY(t->s.task->check(&t->s)); /* again, now with the networks: output shapes */
    mt_grad_scaler_init(&t->scaler);
    if (t->s.exp.train.precision == MT_PRECISION_FP16 && t->s.task->train_step)
        return MT_ERR(MT_ERR_UNSUPPORTED, "train.precision fp16 (loss scaling) supports single-network tasks; task "
                      "'%s' trains several networks: use train.precision bf16 or fp32", t->s.task->kind);
    for (int i = 0; i < t->s.n_models; i++)
        if (t->s.models[i].trainable) MT_TRY(setup_optim(t, i));
    MT_TRY(setup_data(t));
    if (t->s.exp.train.cuda_graph) MT_TRY(mt_trainer_graph_open(t));
    /* 2. the run directory (rank 0; the others follow it) */
    if (t->rank == 0) MT_TRY(o->resume ? start_resumed(t, o->resume) : start_new(t, o->out_dir));
    else if (o->resume) snprintf(t->run_dir, sizeof t->run_dir, "%s", o->resume);
    MT_TRY(mt_trainer_dist_start(t, o->resume != NULL));
    fflush(stdout);
    char path[2300];
    snprintf(path, sizeof path, "%s/log.csv", t->run_dir);
    if (t->rank == 0 && !(t->log = fopen(path, "a"))) return MT_ERR(MT_ERR_IO, "cannot append to %s", path);
    t->new_dir = 0; /* from here the run's files are kept, even when it fails */
    return MT_OK;
}

void mt_trainer_close(mt_trainer *t, int failed)
{
    if (!t) return;
    if (t->log) fclose(t->log);
    if (failed && t->new_dir) mt_run_dir_discard(t->run_dir); /* no empty or half-made run directory */
    mt_run_unlock(t->lock_fd);
    mt_loader_destroy(t->loader);
    mt_trainer_graph_close(t);
    mt_grad_scaler_free(&t->scaler);
    mt_loss_acc_free(&t->loss_acc);
    for (int i = 0; i < MT_SESSION_MAX_MODELS; i++) {
        if (t->sched[i]) mt_sched_free(t->sched[i]);
        if (t->optim[i]) mt_optim_free(t->optim[i]);
    }
    free(t->train_idx);
    free(t->val_idx);
    free(t->test_idx);
    mt_session_free(&t->s);
    free(t);
}
