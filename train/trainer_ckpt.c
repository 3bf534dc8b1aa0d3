/* train/trainer_ckpt.c: training checkpoints last.h5 / best.h5 through
 * layers/checkpoint.h (model state_dict, optimizer, schedule, dropout RNG,
 * loader position, config text; layout in that header), plus the loop's own
 * scalars as root attributes:
 *   trainer_es_best       early stopping: best monitored value (NaN = none yet)
 *   trainer_best_epoch    epoch (1-based) whose weights are in best.h5, 0 = none
 *   trainer_stopped_early 1 when early stopping ended the run
 * (mt_checkpoint_info.best_metric holds best.h5's value of checkpoint.monitor and
 * bad_epochs the early-stopping counter.) mt_checkpoint_save writes PATH.trainer-tmp
 * atomically; the attributes are added to it, it is flushed and renamed over PATH,
 * so a kill at any moment leaves either the previous or the new complete file. */
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../layers/checkpoint.h"
#include "trainer.h"

static const char *k_attr[3] = {"trainer_es_best", "trainer_best_epoch", "trainer_stopped_early"};

static mt_status write_extra(const char *tmp, const double v[3])
{
    hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return MT_ERR(MT_ERR_IO, "checkpoint %s: cannot reopen to add the trainer state", tmp);
    mt_status st = MT_OK;
    for (int i = 0; i < 3 && st == MT_OK; i++) {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = sp >= 0 ? H5Acreate2(f, k_attr[i], H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
        if (a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &v[i]) < 0)
            st = MT_ERR(MT_ERR_IO, "checkpoint %s: cannot write attribute %s", tmp, k_attr[i]);
        if (a >= 0) H5Aclose(a);
        if (sp >= 0) H5Sclose(sp);
    }
    if (H5Fclose(f) < 0 && st == MT_OK) st = MT_ERR(MT_ERR_IO, "checkpoint %s: closing failed (disk full?)", tmp);
    return st;
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
    info.config_yaml = t->s.exp.resolved_yaml;
    char tmp[2300];
    snprintf(tmp, sizeof tmp, "%s.trainer-tmp", path);
    MT_TRY(mt_checkpoint_save(tmp, t->s.model, t->optim[0], t->sched[0], &info));
    double extra[3] = {t->es_best, (double)t->best_epoch, (double)t->stopped_early};
    mt_status st = write_extra(tmp, extra);
    if (st == MT_OK) {
        int fd = open(tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0) st = MT_ERR(MT_ERR_IO, "checkpoint %s: fsync failed", tmp);
        if (fd >= 0) close(fd);
    }
    if (st == MT_OK && rename(tmp, path) != 0) st = MT_ERR(MT_ERR_IO, "cannot rename %s to %s", tmp, path);
    if (st != MT_OK) unlink(tmp);
    return st;
}

mt_status mt_session_load_weights(mt_session *s, const char *path)
{
    return mt_checkpoint_load(path, s->model, NULL, NULL, NULL);
}

mt_status mt_trainer_load(mt_trainer *t, const char *path)
{
    mt_checkpoint_info info;
    memset(&info, 0, sizeof info);
    MT_TRY(mt_checkpoint_load(path, t->s.model, t->optim[0], t->sched[0], &info));
    free(info.config_yaml);
    double extra[3] = {NAN, 0, 0};
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return MT_ERR(MT_ERR_IO, "cannot open checkpoint %s", path);
    mt_status st = MT_OK;
    for (int i = 0; i < 3 && st == MT_OK; i++) {
        hid_t a = H5Aopen(f, k_attr[i], H5P_DEFAULT);
        if (a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, &extra[i]) < 0)
            st = MT_ERR(MT_ERR_FORMAT, "checkpoint %s: attribute %s missing (not written by medtrain train?)", path,
                        k_attr[i]);
        if (a >= 0) H5Aclose(a);
    }
    H5Fclose(f);
    MT_TRY(st);
    t->epoch = info.epoch;
    t->step = info.step;
    t->ckpt_best = info.best_metric;
    t->es_bad = info.bad_epochs;
    t->es_best = extra[0];
    t->best_epoch = (int)extra[1];
    t->stopped_early = (int)extra[2];
    return mt_loader_seek(t->loader, info.data_epoch, (int)info.data_batch);
}
