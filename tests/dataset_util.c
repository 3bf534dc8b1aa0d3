/* tests/dataset_util.c: dataset helpers the float32 test files share (test.h); not in the
 * float64 gradient-check binary, which has no data/ layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/rng.h"
#include "../core/autograd.h"
#include "../data/dataset.h"
#include "../train/session.h"
#include "../train/task.h"
#include "test.h"

int mt_test_dataset_close(struct mt_dataset_writer *w, int ok, double val_frac, double test_frac)
{
    if (!ok) {
        mt_dataset_writer_close(w, 0, 0, 0, 0);
        return 0;
    }
    return mt_dataset_writer_close(w, 1, val_frac, test_frac, 0) == MT_OK;
}

int mt_test_box_dataset(const char *path, int n, int size, int classes, uint64_t seed)
{
    mt_dataset_spec spec = {1, size, size, 0, 0, "test boxes", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    if (mt_dataset_writer_set_split_by_sample(w, 1) != MT_OK) return mt_test_dataset_close(w, 0, 0, 0);
    float *img = malloc(sizeof(float) * size * size), box[5];
    int ok = img != NULL;
    for (int i = 0; ok && i < n; i++) {
        int side = size / 4 + (int)(size / 4 * mt_philox_uniform(seed, (uint64_t)i));
        int x0 = (int)((size - side) * mt_philox_uniform(seed + 1, (uint64_t)i));
        int y0 = (int)((size - side) * mt_philox_uniform(seed + 2, (uint64_t)i));
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                img[y * size + x] = (x >= x0 && x < x0 + side && y >= y0 && y < y0 + side) ? 200.f : 40.f;
        box[0] = (float)x0, box[1] = (float)y0, box[2] = (float)(x0 + side - 1), box[3] = (float)(y0 + side - 1);
        box[4] = (float)(i % classes);
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = size, s.w = size;
        s.image = img;
        s.n_boxes = 1;
        s.boxes = box;
        snprintf(s.meta.source, sizeof s.meta.source, "boxes-%d", i);
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
    }
    free(img);
    return mt_test_dataset_close(w, ok, 0.25, 0.25);
}

int mt_test_disc_dataset(const char *path, int n, int size, uint64_t seed, const char *patient, double val_frac,
                         double test_frac)
{
    mt_dataset_spec spec = {1, size, size, 1, 0, "test discs", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    if (mt_dataset_writer_set_split_by_sample(w, 1) != MT_OK) return mt_test_dataset_close(w, 0, 0, 0);
    float *img = malloc(sizeof(float) * size * size);
    uint8_t *msk = malloc((size_t)size * size);
    int ok = img && msk;
    for (int i = 0; ok && i < n; i++) {
        float cx = size * (0.3f + 0.4f * mt_philox_uniform(seed, (uint64_t)i));
        float cy = size * (0.3f + 0.4f * mt_philox_uniform(seed + 1, (uint64_t)i));
        float r = size * (0.12f + 0.1f * mt_philox_uniform(seed + 2, (uint64_t)i));
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int in = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
                float noise = 40 * (mt_philox_uniform(seed + 3, (uint64_t)(i * size * size + y * size + x)) - 0.5f);
                img[y * size + x] = (in ? 50.f : -100.f) + noise;
                msk[y * size + x] = (uint8_t)in;
            }
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = size, s.w = size, s.k = 1;
        s.image = img, s.mask = msk;
        snprintf(s.meta.source, sizeof s.meta.source, "synthetic-%d", i);
        if (patient) snprintf(s.meta.patient_id, sizeof s.meta.patient_id, "%s", patient);
        else snprintf(s.meta.patient_id, sizeof s.meta.patient_id, "p%d", i);
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
    }
    free(img);
    free(msk);
    return mt_test_dataset_close(w, ok, val_frac, test_frac);
}

float *mt_test_session_logits(mt_session *s, const int *idx, int n, size_t *count, int *k)
{
    mt_batch b;
    if (mt_session_read_batch(s, idx, n, &b) != MT_OK) return NULL;
    int prev = mt_set_grad_enabled(0);
    mt_tensor *x = mt_session_normalize(s, b.images), *z = x ? mt_session_forward(s, x) : NULL;
    float *h = z ? mt_task_host_floats(z) : NULL;
    if (h) {
        *count = mt_shape_numel(z->ndim, z->shape);
        *k = z->ndim > 1 ? z->shape[1] : 1;
    }
    mt_set_grad_enabled(prev);
    mt_tensor_release(z);
    mt_tensor_release(x);
    mt_batch_free(&b);
    return h;
}

double mt_test_max_abs(const mt_tensor *t)
{
    double m = 0;
    for (size_t i = 0; i < mt_numel(t); i++) m = fmax(m, fabs((double)MT_DATA(t)[i]));
    return m;
}
