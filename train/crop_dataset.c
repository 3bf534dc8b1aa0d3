/* train/crop_dataset.c: a dataset of box-centred crops (crop_dataset.h). */
#include "crop_dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/crop.h"
#include "../data/dataset.h"
#include "detector.h"

static const char *const k_splits[3] = {"train", "val", "test"};
enum { PRE_LEN = 4096 };

/* split_of[i] = 0 train, 1 val, 2 test (-1: none) */
static mt_status splits_of(mt_dataset *d, int n, signed char *split_of)
{
    memset(split_of, -1, (size_t)n);
    for (int k = 0; k < 3; k++) {
        int *idx = NULL, m = 0;
        MT_TRY(mt_dataset_split_indices(d, k_splits[k], &idx, &m));
        for (int j = 0; j < m; j++) split_of[idx[j]] = (signed char)k;
        free(idx);
    }
    return MT_OK;
}

/* which[k] = 1 for the splits named in the comma list */
static mt_status parse_splits(const char *list, const char *option, int which[3])
{
    which[0] = which[1] = which[2] = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list ? list : "test");
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < 3 && strcmp(t, k_splits[k])) k++;
        if (k == 3) return MT_ERR(MT_ERR_INVALID, "crop: --%s \"%s\": \"%s\" is not train, val or test", option, list, t);
        which[k] = 1;
    }
    return MT_OK;
}

/* mean of the first box of every train sample that has one */
static mt_status train_mean_box(mt_dataset *d, const char *path, float mean[5])
{
    int *idx = NULL, m = 0, cnt = 0;
    MT_TRY(mt_dataset_split_indices(d, "train", &idx, &m));
    double s[4] = {0, 0, 0, 0};
    mt_status st = MT_OK;
    for (int j = 0; j < m && st == MT_OK; j++) {
        mt_sample smp;
        mt_sample_init(&smp);
        st = mt_dataset_read(d, idx[j], &smp);
        if (st == MT_OK && smp.n_boxes > 0) {
            for (int k = 0; k < 4; k++) s[k] += smp.boxes[k];
            if (cnt++ == 0) mean[4] = smp.boxes[4];
        }
        mt_sample_free(&smp);
    }
    free(idx);
    MT_TRY(st);
    if (cnt == 0)
        return MT_ERR(MT_ERR_INVALID, "%s: the detector found nothing on some images and the train split has no box "
                      "to fall back to (its mean box)", path);
    for (int k = 0; k < 4; k++) mean[k] = (float)(s[k] / cnt);
    return MT_OK;
}

/* appends ", src" to a growing list */
static mt_status append_source(char **list, const char *src)
{
    size_t old = *list ? strlen(*list) : 0, add = strlen(src) + 3;
    char *p = realloc(*list, old + add);
    if (!p) return MT_ERR(MT_ERR_NOMEM, "crop: fallback list");
    snprintf(p + old, add, "%s%s", old ? ", " : "", src);
    *list = p;
    return MT_OK;
}

/* boxes[5 * i] of every sample: detector top boxes for the detector splits (with the train mean as the
 * fallback), has[i] = 1 when set; counts into r */
static mt_status detector_boxes(const mt_crop_options *o, mt_dataset *d, int n, const signed char *split_of,
                                float *boxes, unsigned char *has, mt_crop_result *r, char *weights, size_t cap)
{
    int which[3];
    MT_TRY(parse_splits(o->detector_splits, "detector_splits", which));
    int *idx = mt_malloc(sizeof(int) * (size_t)(n ? n : 1)), m = 0;
    mt_top_box *top = mt_malloc(sizeof *top * (size_t)(n ? n : 1));
    mt_session s;
    memset(&s, 0, sizeof s);
    mt_status st = idx && top ? MT_OK : mt_last_status();
    for (int i = 0; i < n && st == MT_OK; i++)
        if (split_of[i] >= 0 && which[(int)split_of[i]]) idx[m++] = i;
    if (st == MT_OK && m > 0) st = mt_detector_open(&s, o->detector, o->input, o->dev, weights, cap);
    if (st == MT_OK && m > 0) st = mt_detector_top_boxes(&s, idx, m, o->batch_size > 0 ? o->batch_size : 4, top);
    float mean[5] = {0, 0, 0, 0, 0};
    int have_mean = 0;
    for (int j = 0; j < m && st == MT_OK; j++) {
        float *b = boxes + 5 * idx[j];
        if (top[j].found) {
            b[0] = top[j].x0, b[1] = top[j].y0, b[2] = top[j].x1, b[3] = top[j].y1, b[4] = (float)top[j].cls;
        } else {
            if (!have_mean && (st = train_mean_box(d, o->input, mean)) != MT_OK) break;
            have_mean = 1;
            memcpy(b, mean, sizeof mean);
            mt_sample smp;
            mt_sample_init(&smp);
            st = mt_dataset_read(d, idx[j], &smp);
            if (st == MT_OK) st = append_source(&r->fallback_sources, smp.meta.source);
            mt_sample_free(&smp);
            r->n_fallback++;
        }
        has[idx[j]] = 1;
        r->n_detector++;
    }
    mt_session_free(&s);
    free(idx);
    free(top);
    return st;
}

/* root name attributes copied from the source */
static mt_status copy_names(mt_dataset *d, mt_dataset_writer *w)
{
    static const char *const which[4] = {"channel_names", "mask_names", "class_names", "point_names"};
    for (int k = 0; k < 4; k++) {
        char **names = NULL;
        int nn = 0;
        MT_TRY(mt_dataset_names(d, which[k], &names, &nn));
        mt_status st = nn > 0 ? mt_dataset_writer_set_names(w, which[k], (const char *const *)names, nn) : MT_OK;
        mt_dataset_free_names(names, nn);
        MT_TRY(st);
    }
    return MT_OK;
}

/* every variant of sample i with box `box` into the writer */
static mt_status crop_sample(const mt_crop_options *o, mt_dataset_writer *w, mt_sample *smp, int i, const float box[5],
                             const char *split, int count, int *written)
{
    /* the crop's own box is the one it is centred on */
    float *nb = realloc(smp->boxes, sizeof(float) * 5);
    if (!nb) return MT_ERR(MT_ERR_NOMEM, "crop: box");
    smp->boxes = nb;
    memcpy(smp->boxes, box, sizeof(float) * 5);
    smp->n_boxes = 1;
    mt_crop_window plain;
    MT_TRY(mt_crop_window_of_box(box, o->margin, &plain));
    char src[sizeof smp->meta.source];
    snprintf(src, sizeof src, "%s", smp->meta.source);
    for (int v = 0; v < count; v++) {
        mt_crop_window win;
        mt_sample out;
        MT_TRY(mt_crop_variant(&plain, o->seed, i, v + (o->jitter_all != 0), o->jitter, o->scale_jitter, &win));
        MT_TRY(mt_sample_crop_square(smp, &win, o->size, &out));
        snprintf(out.meta.source, sizeof out.meta.source, "%.1000s#crop%d", src, v);
        mt_status st = mt_dataset_writer_add(w, &out);
        if (st == MT_OK) st = mt_dataset_writer_set_split(w, mt_dataset_writer_count(w) - 1, split);
        mt_sample_free(&out);
        MT_TRY(st);
    }
    *written += count;
    return MT_OK;
}

static void describe(const mt_crop_options *o, const mt_crop_result *r, const char *weights, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "crop of %s: square on the box centre, side = max(box w, h) * (1 + 2 * %g), resampled to %dx%d "
                     "(image bilinear, align_corners=False, 0 outside the film; mask nearest); variants %d, jitter %g, "
                     "scale_jitter %g, seed %llu%s%s%s",
                     o->input, o->margin, o->size, o->size, o->variants, o->jitter, o->scale_jitter,
                     (unsigned long long)o->seed, o->jitter_all ? ", every crop jittered (no plain crop)" : "",
                     o->variant_splits ? ", variants only for splits " : "", o->variant_splits ? o->variant_splits : "");
    if (o->detector && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n,
                 "; splits %s: boxes from detector %s (%s), %d samples, %d without a detection fell back to the "
                 "train-split mean box%s%.1500s",
                 o->detector_splits ? o->detector_splits : "test", o->detector, weights[0] ? weights : "no sample",
                 r->n_detector, r->n_fallback, r->fallback_sources ? ": " : "",
                 r->fallback_sources ? r->fallback_sources : "");
}

static mt_status check_options(const mt_crop_options *o)
{
    MT_REQUIRE(o && o->input && o->output, "crop: input and output datasets are required");
    MT_REQUIRE(o->size >= 1 && o->size <= 8192, "crop: --size %d must be in [1, 8192]", o->size);
    MT_REQUIRE(o->variants >= 1, "crop: --variants %d must be >= 1", o->variants);
    MT_REQUIRE(o->margin > -0.5, "crop: --margin %g must be > -0.5 (negative: a window tighter than the box)", o->margin);
    MT_REQUIRE(o->jitter >= 0, "crop: --jitter %g must be >= 0", o->jitter);
    MT_REQUIRE(o->scale_jitter >= 0 && o->scale_jitter < 1, "crop: --scale_jitter %g must be in [0, 1)",
               o->scale_jitter);
    return MT_OK;
}

mt_status mt_crop_dataset(const mt_crop_options *o, mt_crop_result *r)
{
    MT_REQUIRE(r, "mt_crop_dataset: NULL result");
    memset(r, 0, sizeof *r);
    MT_TRY(check_options(o));
    mt_dataset *d = NULL;
    MT_TRY(mt_dataset_open(o->input, &d));
    mt_dataset_spec g;
    mt_dataset_geometry(d, &g);
    const int n = mt_dataset_size(d);
    signed char *split_of = mt_malloc((size_t)(n ? n : 1));
    float *dboxes = mt_calloc((size_t)(n ? n : 1) * 5, sizeof(float));
    unsigned char *has = mt_calloc((size_t)(n ? n : 1), 1);
    char *pre = mt_malloc(PRE_LEN), weights[2048] = "";
    mt_dataset_writer *w = NULL;
    int written = 0, varied[3] = {1, 1, 1};
    mt_status st = split_of && dboxes && has && pre ? MT_OK : mt_last_status();
    if (st == MT_OK && o->variant_splits) st = parse_splits(o->variant_splits, "variant_splits", varied);
    if (st == MT_OK) st = splits_of(d, n, split_of);
    if (st == MT_OK && o->detector) st = detector_boxes(o, d, n, split_of, dboxes, has, r, weights, sizeof weights);
    if (st == MT_OK) {
        describe(o, r, weights, pre, PRE_LEN);
        mt_dataset_spec spec = {g.c, o->size, o->size, g.k, g.n_points, o->description ? o->description : "medtrain crop",
                                pre};
        st = mt_dataset_writer_open(o->output, &spec, &w);
    }
    if (st == MT_OK) st = copy_names(d, w);
    for (int i = 0; i < n && st == MT_OK; i++) {
        mt_sample smp;
        mt_sample_init(&smp);
        st = mt_dataset_read(d, i, &smp);
        if (st == MT_OK && split_of[i] < 0)
            st = MT_ERR(MT_ERR_INVALID, "%s: sample %d (%s) has no train/val/test split", o->input, i, smp.meta.source);
        if (st == MT_OK && !has[i]) {
            if (smp.n_boxes > 0)
                memcpy(dboxes + 5 * i, smp.boxes, sizeof(float) * 5);
            else
                st = MT_ERR(MT_ERR_INVALID,
                            "%s: sample %d (%s, split %s) has no box to crop around; import it with boxes "
                            "(e.g. --box_points) or give --detector with --detector_splits %s",
                            o->input, i, smp.meta.source, k_splits[(int)split_of[i]], k_splits[(int)split_of[i]]);
        }
        if (st == MT_OK) st = crop_sample(o, w, &smp, i, dboxes + 5 * i, k_splits[(int)split_of[i]],
                                          varied[(int)split_of[i]] ? o->variants : 1, &written);
        mt_sample_free(&smp);
        if (st == MT_OK && o->progress) o->progress(o->progress_user, i + 1, n);
    }
    if (w) {
        mt_status cs = mt_dataset_writer_close(w, st == MT_OK, 0, 0, 0);
        if (st == MT_OK) st = cs;
    }
    if (st == MT_OK) {
        r->n_samples = n;
        r->n_written = written;
    }
    free(split_of);
    free(dboxes);
    free(has);
    free(pre);
    mt_dataset_close(d);
    return st;
}

void mt_crop_result_free(mt_crop_result *r)
{
    if (!r) return;
    free(r->fallback_sources);
    r->fallback_sources = NULL;
}
