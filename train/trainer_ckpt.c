/* train/trainer_ckpt.c: the run state of a trainer in one checkpoint
 * (train/checkpoint.h): every session network with its optimizer and
 * schedule (the trained one at the root, the others under /nets/<name>;
 * frozen networks are stored too, so a checkpoint is the whole experiment),
 * the loader position, early stopping and the resolved config. Written
 * atomically by mt_checkpoint_save_nets (temporary file, fsync, rename). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "trainer.h"

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
    return mt_loader_seek(t->loader, info.data_epoch, (int)info.data_batch);
}
