/* train/pseudo_label.c: a dataset whose unlabelled training slices carry a run's
 * predicted masks, flagged as pseudo labels (pseudo_label.h). */
#include "pseudo_label.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/metrics.h"
#include "../data/preprocess.h"
#include "segment.h"
#include "trainer.h"

static const char *const k_name_attrs[4] = {"channel_names", "mask_names", "class_names", "point_names"};

static mt_status copy_names(mt_dataset *in, mt_dataset_writer *w)
{
    for (int a = 0; a < 4; a++) {
        char **names = NULL;
        int n = 0;
        MT_TRY(mt_dataset_names(in, k_name_attrs[a], &names, &n));
        mt_status st = n ? mt_dataset_writer_set_names(w, k_name_attrs[a], (const char *const *)names, n) : MT_OK;
        mt_dataset_free_names(names, n);
        MT_TRY(st);
    }
    return MT_OK;
}

/* v1's masks of sample i at the dataset's size into mask [K, H, W] */
static mt_status predict_one(mt_session *s, int i, uint8_t *mask)
{
    mt_batch b;
    MT_TRY(mt_session_read_batch(s, &i, 1, &b));
    const mt_dataset_spec *g = &s->geo;
    uint8_t *m = mt_malloc((size_t)g->k * s->in_h * s->in_w);
    mt_status st = m ? mt_segmentation_masks(s, b.images, m) : mt_last_status();
    if (st == MT_OK) st = mt_resize_nearest_u8(m, g->k, s->in_h, s->in_w, mask, g->h, g->w);
    free(m);
    mt_batch_free(&b);
    return st;
}

/* mean DSC over the K channels of a prediction against the reference it replaces */
static double mean_dsc(const uint8_t *pred, const uint8_t *ref, int k, size_t plane)
{
    double sum = 0;
    for (int j = 0; j < k; j++) {
        mt_confusion c = {0, 0, 0, 0};
        for (size_t q = 0; q < plane; q++) {
            int p = pred[j * plane + q] != 0, t = ref[j * plane + q] != 0;
            c.tp += p && t;
            c.fp += p && !t;
            c.fn += !p && t;
            c.tn += !p && !t;
        }
        sum += mt_seg_metrics_from_confusion(c).dsc;
    }
    return sum / k;
}

/* split index of each sample (0 train, 1 val, 2 test, 3 none) */
static mt_status split_of(mt_dataset *d, uint8_t *group)
{
    static const char *const splits[3] = {"train", "val", "test"};
    for (int i = 0; i < mt_dataset_size(d); i++) group[i] = 3;
    for (int k = 0; k < 3; k++) {
        int *idx = NULL, m = 0;
        MT_TRY(mt_dataset_split_indices(d, splits[k], &idx, &m));
        for (int j = 0; j < m; j++) group[idx[j]] = (uint8_t)k;
        free(idx);
    }
    return MT_OK;
}

static mt_status write_all(mt_session *s, const char *dataset, const char *out, int labelled,
                           mt_pseudo_label_report *rep)
{
    static const char *const splits[3] = {"train", "val", "test"};
    mt_dataset *in = s->ds;
    const mt_dataset_spec *g = &s->geo;
    int n = mt_dataset_size(in), n_train = 0;
    uint8_t *group = mt_malloc((size_t)n + 1), *pred = mt_malloc((size_t)g->k * g->h * g->w);
    char *pre = NULL, *split_by = NULL, desc[3 * PATH_MAX];
    mt_dataset_writer *w = NULL;
    mt_status st = group && pred ? split_of(in, group) : mt_last_status();
    for (int i = 0; st == MT_OK && i < n; i++) n_train += group[i] == 0;
    if (st == MT_OK && labelled >= n_train)
        st = MT_ERR(MT_ERR_INVALID,
                    "pseudo-label: --labelled %d leaves nothing to label: the training split of %s has %d sample(s); "
                    "give k < %d",
                    labelled, dataset, n_train, n_train);
    if (st == MT_OK && !(st = mt_dataset_attr_string(in, "preprocess", &pre)))
        st = mt_dataset_attr_string(in, "split_by", &split_by);
    snprintf(desc, sizeof desc, "medtrain pseudo-label: %s; the masks of the training split's samples after the "
             "first %d predicted by %s (/meta/pseudo_label = 1)", dataset, labelled, rep->weights);
    mt_dataset_spec spec = *g;
    spec.description = desc;
    spec.preprocess = pre ? pre : "";
    if (st == MT_OK) st = mt_dataset_writer_open(out, &spec, &w);
    if (st == MT_OK) st = copy_names(in, w);
    if (st == MT_OK && split_by && !strcmp(split_by, "sample")) st = mt_dataset_writer_set_split_by_sample(w, 1);
    double dsc_sum = 0;
    for (int i = 0, seen = 0; st == MT_OK && i < n; i++) {
        mt_sample smp;
        if ((st = mt_dataset_read(in, i, &smp))) break;
        int pseudo = group[i] == 0 && seen++ >= labelled;
        if (pseudo && (st = predict_one(s, i, pred)) == MT_OK) {
            dsc_sum += mean_dsc(pred, smp.mask, g->k, (size_t)g->h * g->w);
            memcpy(smp.mask, pred, (size_t)g->k * g->h * g->w);
            smp.meta.pseudo_label = 1;
        }
        if (st == MT_OK) st = mt_dataset_writer_add(w, &smp);
        if (st == MT_OK && group[i] < 3) st = mt_dataset_writer_set_split(w, mt_dataset_writer_count(w) - 1, splits[group[i]]);
        mt_sample_free(&smp);
        rep->n_pseudo += pseudo;
        rep->n_labelled += group[i] == 0 && !pseudo;
        rep->n_other += group[i] != 0;
    }
    rep->dsc_replaced = rep->n_pseudo > 0 ? dsc_sum / rep->n_pseudo : NAN;
    if (w) {
        mt_status cs = mt_dataset_writer_close(w, st == MT_OK, 0.0, 0.0, 0);
        if (st == MT_OK) st = cs;
    }
    free(group);
    free(pred);
    free(pre);
    free(split_by);
    return st;
}

mt_status mt_pseudo_label_dataset(const char *run, const char *dataset, const char *out, int labelled, mt_device dev,
                                  mt_pseudo_label_report *report)
{
    MT_REQUIRE(run && dataset && out, "mt_pseudo_label_dataset: NULL argument");
    MT_REQUIRE(labelled >= 1, "pseudo-label: --labelled %d: k must be at least 1 (the labelled slices v1 trained on)",
               labelled);
    char a[PATH_MAX], b[PATH_MAX];
    MT_REQUIRE(strcmp(dataset, out) && !(realpath(dataset, a) && realpath(out, b) && !strcmp(a, b)),
               "pseudo-label: the output %s must differ from the input dataset", out);
    mt_pseudo_label_report rep;
    memset(&rep, 0, sizeof rep);
    mt_session s;
    memset(&s, 0, sizeof s);
    mt_status st = mt_session_open_run(&s, "pseudo-label", "segmentation", run, dataset, dev, rep.weights,
                                       sizeof rep.weights);
    if (st == MT_OK) st = write_all(&s, dataset, out, labelled, &rep);
    mt_session_free(&s);
    if (st == MT_OK && report) *report = rep;
    return st;
}
