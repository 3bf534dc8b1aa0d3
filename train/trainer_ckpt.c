/* train/trainer_ckpt.c: the run state of a trainer in one checkpoint
 * (train/checkpoint.h): every session network with its optimizer and
 * schedule (the trained one at the root, the others under /nets/<name>;
 * frozen networks are stored too, so a checkpoint is the whole experiment),
 * the loader position, early stopping and the resolved config. Written
 * atomically by mt_checkpoint_save_nets (temporary file, fsync, rename). */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "run_dir.h"
#include "trainer.h"

mt_status mt_session_open_run(mt_session *s, const char *what, const char *kind, const char *run_or_ckpt,
                              const char *dataset, mt_device dev, char *weights_used, size_t cap)
{
    MT_REQUIRE(s && what && run_or_ckpt && dataset, "mt_session_open_run: NULL argument");
    char weights[PATH_MAX + 16], cfg[PATH_MAX + 16], tmp[PATH_MAX];
    if (mt_path_is_dir(run_or_ckpt)) {
        snprintf(weights, sizeof weights, "%s/best.h5", run_or_ckpt);
        if (!mt_path_exists(weights)) snprintf(weights, sizeof weights, "%s/last.h5", run_or_ckpt);
        snprintf(cfg, sizeof cfg, "%s/config.yaml", run_or_ckpt);
    } else {
        snprintf(weights, sizeof weights, "%s", run_or_ckpt);
        snprintf(tmp, sizeof tmp, "%s", run_or_ckpt);
        snprintf(cfg, sizeof cfg, "%s/config.yaml", dirname(tmp));
    }
    if (!mt_path_exists(weights))
        return MT_ERR(MT_ERR_IO, "%s %s: no checkpoint (best.h5 / last.h5 of a run directory, or a .h5 file)", what,
                      run_or_ckpt);
    if (!mt_path_exists(cfg))
        return MT_ERR(MT_ERR_IO, "%s %s: no config.yaml at %s (the run's resolved config)", what, run_or_ckpt, cfg);
    char abs[PATH_MAX], set[PATH_MAX + 32];
    if (!realpath(dataset, abs)) return MT_ERR(MT_ERR_IO, "dataset %s: cannot resolve the path", dataset);
    snprintf(set, sizeof set, "data.dataset=%s", abs);
    const char *sets[1] = {set};
    MT_TRY(mt_session_load(s, cfg, 1, sets));
    if (kind && strcmp(s->task->kind, kind))
        return MT_ERR(MT_ERR_INVALID, "%s %s: its config %s has task.kind %s, not %s", what, run_or_ckpt, cfg,
                      s->task->kind, kind);
    s->dev = dev;
    MT_TRY(mt_session_open_dataset(s));
    MT_TRY(mt_session_build_models(s, s->exp.train.seed, 0));
    MT_TRY(mt_session_load_weights(s, weights));
    if (weights_used && cap) snprintf(weights_used, cap, "%s", weights);
    return MT_OK;
}

static int nets_of(mt_trainer *t, mt_checkpoint_net *nets, int with_optim)
{
    for (int i = 0; i < t->s.n_models; i++)
        nets[i] = (mt_checkpoint_net){t->s.models[i].name, t->s.models[i].model, with_optim ? t->optim[i] : NULL,
                                      with_optim ? t->sched[i] : NULL};
    return t->s.n_models;
}

mt_status mt_trainer_save(mt_trainer *t, const char *path)
{
    mt_checkpoint_info info;
    memset(&info, 0, sizeof info);
    info.step = t->step;
    info.epoch = t->epoch;
    int le = 0, lb = 0;
    mt_loader_position(t->loader, &le, &lb);
    info.data_epoch = le;
    info.data_batch = lb;
    info.seed = t->s.exp.train.seed;
    info.best_metric = t->ckpt_best;
    info.bad_epochs = t->es_bad;
    info.es_best = t->es_best;
    info.best_epoch = t->best_epoch;
    info.stopped_early = t->stopped_early;
    info.train_seconds = t->train_seconds;
    if (t->s.exp.train.precision == MT_PRECISION_FP16) {
        long skipped = 0; /* the scale on the device (train.cuda_graph) read back */
        MT_TRY(mt_grad_scaler_sync(&t->scaler, &skipped));
        t->skipped_steps += skipped;
        info.loss_scale = t->scaler.scale;
        info.loss_scale_tracker = t->scaler.growth_tracker;
    }
    info.config_yaml = t->s.exp.resolved_yaml;
    mt_checkpoint_net nets[MT_SESSION_MAX_MODELS];
    int n = nets_of(t, nets, 1);
    return mt_checkpoint_save_nets(path, n, nets, &info);
}

mt_status mt_session_load_weights(mt_session *s, const char *path)
{
    return mt_checkpoint_load(path, s->model, NULL, NULL, NULL);
}

mt_status mt_trainer_load(mt_trainer *t, const char *path)
{
    mt_checkpoint_info info;
    memset(&info, 0, sizeof info);
    mt_checkpoint_net nets[MT_SESSION_MAX_MODELS];
    int n = nets_of(t, nets, 1);
    MT_TRY(mt_checkpoint_load_nets(path, n, nets, &info));
    free(info.config_yaml);
    t->epoch = info.epoch;
    t->step = info.step;
    t->ckpt_best = info.best_metric;
    t->es_bad = info.bad_epochs;
    t->es_best = info.es_best;
    t->best_epoch = info.best_epoch;
    t->stopped_early = info.stopped_early;
    t->train_seconds = info.train_seconds;
    if (info.loss_scale > 0) {
        t->scaler.scale = info.loss_scale;
        t->scaler.growth_tracker = info.loss_scale_tracker;
        if (t->scaler.dev) MT_TRY(mt_grad_scaler_to_device(&t->scaler, t->scaler.dev->storage->device));
    }
    return mt_loader_seek(t->loader, info.data_epoch, (int)info.data_batch);
}
