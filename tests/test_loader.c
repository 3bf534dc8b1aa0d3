/* tests/test_loader.c: the data loader (data/loader.c): batch content equals the dataset
 * (plus the documented augmentation), same batches for 1 and 4 workers, per-epoch
 * permutations, drop_last and the end-of-epoch marker, exact resume from (epoch, batch),
 * clean shutdown mid-epoch without leaks, config errors, CPU vs CUDA. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/device.h"
#include "../data/loader.h"
#include "test.h"

enum { LC = 2, LH = 24, LW = 20, LK = 1, LP = 2 };

/* A dataset of n synthetic samples with masks, labels, points and boxes at tmpdir/name. */
static mt_status make_dataset(const char *name, int n, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", mt_test_tmpdir(), name);
    mt_dataset_spec spec = {LC, LH, LW, LK, LP, "test_loader", ""};
    mt_dataset_writer *w = NULL;
    MT_TRY(mt_dataset_writer_open(path, &spec, &w));
    static float img[LC * LH * LW], boxes[10], pts[2 * LP];
    static uint8_t mask[LK * LH * LW];
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < LC * LH * LW; j++) img[j] = (float)(cos(0.05 * j * (i + 1)) + i);
        for (int y = 0; y < LH; y++)
            for (int x = 0; x < LW; x++) mask[y * LW + x] = abs(x - 8 - i % 5) + abs(y - 12) < 6;
        mt_sample s;
        mt_sample_init(&s);
        s.c = LC, s.h = LH, s.w = LW, s.k = LK, s.image = img, s.mask = mask;
        s.label = i % 4 == 3 ? -1 : i % 3;
        s.n_boxes = i % 3;
        for (int b = 0; b < s.n_boxes; b++) {
            boxes[5 * b] = 3.0f + b, boxes[5 * b + 1] = 6.0f, boxes[5 * b + 2] = 14.0f, boxes[5 * b + 3] = 18.0f + b;
            boxes[5 * b + 4] = (float)b;
        }
        s.boxes = boxes;
        s.n_points = LP, s.points = pts;
        pts[0] = 9.0f + i % 5, pts[1] = 12.0f, pts[2] = 5.5f, pts[3] = i % 7 == 0 ? NAN : 20.0f;
        snprintf(s.meta.patient_id, sizeof s.meta.patient_id, "p%d", i % 6);
        mt_status st = mt_dataset_writer_add(w, &s);
        if (st) {
            mt_dataset_writer_close(w, 0, 0, 0, 0);
            return st;
        }
    }
    return mt_dataset_writer_close(w, 1, 0.0, 0.0, 0);
}

static void aug_params(mt_augment_params *p)
{
    mt_augment_params_init(p);
    p->rotation_deg = 20.0f;
    p->translate_frac[0] = p->translate_frac[1] = 0.1f;
    p->zoom[0] = 0.9f, p->zoom[1] = 1.1f;
    p->hflip_prob = 0.5f;
    p->elastic_prob = 0.5f, p->elastic_alpha = 1.5f, p->elastic_grid = 4;
    p->noise_prob = 0.5f, p->noise_std = 0.05f;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

/* Hash of everything a batch carries (host-side copies of its tensors). */
static uint64_t batch_hash(const mt_batch *b)
{
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, &b->n, sizeof b->n);
    h = fnv(h, &b->epoch, sizeof b->epoch);
    h = fnv(h, &b->index, sizeof b->index);
    if (b->n == 0) return h;
    const mt_tensor *ts[4] = {b->images, b->masks, b->labels, b->points};
    for (int i = 0; i < 4; i++) {
        if (!ts[i]) continue;
        size_t bytes = mt_nbytes(ts[i]);
        void *tmp = malloc(bytes);
        if (!tmp || mt_tensor_to_host(ts[i], tmp, bytes) != MT_OK) {
            free(tmp);
            return 0;
        }
        h = fnv(h, tmp, bytes);
        free(tmp);
    }
    h = fnv(h, b->sample_ids, sizeof(int) * (size_t)b->n);
    h = fnv(h, &b->n_boxes, sizeof b->n_boxes);
    return fnv(h, b->boxes, sizeof(float) * 6 * (size_t)b->n_boxes);
}

/* Runs `count` next() calls and stores each batch's hash (and its ids in order, if ids != NULL). */
static mt_status run_hashes(mt_loader *l, int count, uint64_t *hashes, int *ids)
{
    int k = 0;
    for (int i = 0; i < count; i++) {
        mt_batch b;
        MT_TRY(mt_loader_next(l, &b));
        hashes[i] = batch_hash(&b);
        for (int j = 0; ids && j < b.n; j++) ids[k++] = b.sample_ids[j];
        mt_batch_free(&b);
    }
    return MT_OK;
}

TEST(loader_same_batches_for_1_and_4_workers)
{
    char path[600];
    enum { N = 23, BS = 4, PER = 6 + 1, EPOCHS = 2 }; /* 6 batches + end marker per epoch */
    CHECK_OK(make_dataset("workers.h5", N, path, sizeof path));
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    mt_augment_params p;
    aug_params(&p);
    uint64_t h[2][PER * EPOCHS];
    int ids[2][N * EPOCHS];
    int workers[2] = {1, 4};
    for (int r = 0; r < 2; r++) {
        mt_loader_config c;
        mt_loader_config_init(&c);
        c.batch_size = BS, c.shuffle = 1, c.seed = 2024, c.augment = &p, c.num_workers = workers[r];
        c.prefetch = r ? 3 : 0;
        mt_loader *l = NULL;
        CHECK_OK(mt_loader_create(d, &c, &l));
        CHECK(mt_loader_batches_per_epoch(l) == 6, "batches per epoch %d", mt_loader_batches_per_epoch(l));
        mt_status st = run_hashes(l, PER * EPOCHS, h[r], ids[r]);
        mt_loader_destroy(l);
        CHECK_OK(st);
    }
    for (int i = 0; i < PER * EPOCHS; i++) CHECK(h[0][i] == h[1][i], "batch %d differs between 1 and 4 workers", i);
    for (int e = 0; e < EPOCHS; e++) { /* each epoch visits every sample once */
        int seen[N] = {0};
        for (int i = 0; i < N; i++) seen[ids[0][e * N + i]]++;
        for (int i = 0; i < N; i++) CHECK(seen[i] == 1, "epoch %d: sample %d seen %d times", e, i, seen[i]);
    }
    CHECK(memcmp(ids[0], ids[0] + N, sizeof(int) * N) != 0, "epochs 0 and 1 have the same order");
    int identity = 1;
    for (int i = 0; i < N; i++) identity &= ids[0][i] == i;
    CHECK(!identity, "shuffle=1 gave the identity order");
    mt_dataset_close(d);
}

TEST(loader_batch_content_matches_dataset)
{
    char path[600];
    CHECK_OK(make_dataset("content.h5", 10, path, sizeof path));
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    mt_augment_params p;
    aug_params(&p);
    for (int with_aug = 0; with_aug < 2; with_aug++) {
        mt_loader_config c;
        mt_loader_config_init(&c);
        c.batch_size = 4, c.shuffle = 1, c.seed = 5, c.augment = with_aug ? &p : NULL;
        mt_loader *l = NULL;
        CHECK_OK(mt_loader_create(d, &c, &l));
        for (int bi = 0; bi < 3; bi++) {
            mt_batch b;
            CHECK_OK(mt_loader_next(l, &b));
            int n = bi < 2 ? 4 : 2;
            CHECK(b.n == n && b.epoch == 0 && b.index == bi, "batch %d: n %d epoch %d index %d", bi, b.n, b.epoch,
                  b.index);
            CHECK(b.images->dtype == MT_REAL && b.images->ndim == 4 && b.images->shape[0] == n &&
                      b.images->shape[1] == LC && b.images->shape[2] == LH && b.images->shape[3] == LW,
                  "images shape");
            CHECK(b.masks && b.masks->dtype == MT_REAL && b.masks->shape[1] == LK, "masks");
            CHECK(b.labels->dtype == MT_I32 && b.labels->shape[0] == n, "labels");
            CHECK(b.points && b.points->shape[1] == LP && b.points->shape[2] == 2, "points");
            int nbox = 0;
            for (int r = 0; r < n; r++) {
                int id = b.sample_ids[r];
                mt_sample s;
                CHECK_OK(mt_dataset_read(d, id, &s));
                if (with_aug) {
                    mt_augment_draw dr;
                    CHECK_OK(mt_augment_draw_sample(&p, LH, LW, 5, 0, (uint64_t)id, &dr));
                    CHECK_OK(mt_augment_apply(&dr, &s));
                }
                const float *im = MT_DATA(b.images) + (size_t)r * LC * LH * LW;
                const float *mk = MT_DATA(b.masks) + (size_t)r * LK * LH * LW;
                const float *pt = MT_DATA(b.points) + (size_t)r * LP * 2;
                int ok = !memcmp(im, s.image, sizeof(float) * LC * LH * LW);
                for (int j = 0; ok && j < LK * LH * LW; j++) ok = mk[j] == (s.mask[j] ? 1.0f : 0.0f);
                ok = ok && ((const int32_t *)mt_data(b.labels))[r] == s.label;
                for (int j = 0; ok && j < 2 * LP; j++)
                    ok = (isnan(pt[j]) && isnan(s.points[j])) || pt[j] == s.points[j];
                for (int k = 0; ok && k < s.n_boxes; k++, nbox++)
                    ok = nbox < b.n_boxes && b.boxes[6 * nbox] == (float)r &&
                         !memcmp(b.boxes + 6 * nbox + 1, s.boxes + 5 * k, 5 * sizeof(float));
                mt_sample_free(&s);
                CHECK(ok, "aug %d batch %d row %d (sample %d) differs from the dataset", with_aug, bi, r, id);
            }
            CHECK(nbox == b.n_boxes, "batch has %d boxes, samples %d", b.n_boxes, nbox);
            mt_batch_free(&b);
        }
        mt_loader_destroy(l);
    }
    mt_dataset_close(d);
}

TEST(loader_drop_last_and_epoch_end)
{
    char path[600];
    CHECK_OK(make_dataset("droplast.h5", 11, path, sizeof path));
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    int subset[7] = {10, 0, 3, 4, 8, 9, 1};
    for (int drop = 0; drop < 2; drop++) {
        mt_loader_config c;
        mt_loader_config_init(&c);
        c.batch_size = 3, c.drop_last = drop, c.indices = subset, c.n_indices = 7, c.num_workers = 3;
        mt_loader *l = NULL;
        CHECK_OK(mt_loader_create(d, &c, &l));
        int want_nb = drop ? 2 : 3;
        CHECK(mt_loader_batches_per_epoch(l) == want_nb, "drop %d: %d batches", drop, mt_loader_batches_per_epoch(l));
        for (int e = 0; e < 2; e++) {
            int k = 0;
            for (int bi = 0; bi <= want_nb; bi++) {
                mt_batch b;
                CHECK_OK(mt_loader_next(l, &b));
                int want_n = bi == want_nb ? 0 : (bi < 2 ? 3 : 1);
                CHECK(b.n == want_n && b.epoch == e && b.index == bi, "drop %d: epoch %d batch %d has n %d", drop, e,
                      bi, b.n);
                for (int j = 0; j < b.n; j++, k++)
                    CHECK(b.sample_ids[j] == subset[k], "no shuffle: order must follow indices");
                CHECK(b.n || (!b.images && !b.labels), "end marker carries tensors");
                mt_batch_free(&b);
            }
            int pe, pb;
            mt_loader_position(l, &pe, &pb);
            CHECK(pe == e + 1 && pb == 0, "position after epoch %d: (%d, %d)", e, pe, pb);
        }
        mt_loader_destroy(l);
    }
    mt_dataset_close(d);
}

TEST(loader_resume_is_exact)
{
    char path[600];
    enum { N = 17, PER = 5 + 1 }; /* batch 4: 5 batches + marker */
    CHECK_OK(make_dataset("resume.h5", N, path, sizeof path));
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    mt_augment_params p;
    aug_params(&p);
    mt_loader_config c;
    mt_loader_config_init(&c);
    c.batch_size = 4, c.shuffle = 1, c.seed = 11, c.augment = &p, c.num_workers = 2;
    uint64_t ref[3 * PER], got[3 * PER];
    mt_loader *l = NULL;
    CHECK_OK(mt_loader_create(d, &c, &l));
    mt_status st = run_hashes(l, 3 * PER, ref, NULL);
    mt_loader_destroy(l);
    CHECK_OK(st);
    /* a fresh loader (as after a restart) seeking to a checkpoint's position (epoch 1, batch 2) */
    CHECK_OK(mt_loader_create(d, &c, &l));
    CHECK_OK(mt_loader_seek(l, 1, 2));
    st = run_hashes(l, 2 * PER - 2, got, NULL);
    if (st == MT_OK)
        for (int i = 0; i < 2 * PER - 2; i++)
            if (got[i] != ref[PER + 2 + i]) st = MT_ERR(MT_ERR_STATE, "resumed batch %d differs", i);
    /* seeking back on a running loader, with batches already prefetched */
    if (st == MT_OK) st = mt_loader_seek(l, 0, 4);
    if (st == MT_OK) st = run_hashes(l, 3, got, NULL);
    if (st == MT_OK)
        for (int i = 0; i < 3; i++)
            if (got[i] != ref[4 + i]) st = MT_ERR(MT_ERR_STATE, "batch %d after seek back differs", i);
    mt_loader_destroy(l);
    CHECK_OK(st);
    CHECK_OK(mt_loader_create(d, &c, &l));
    CHECK(mt_loader_seek(l, 0, 6) == MT_ERR_INVALID, "seek past the epoch end accepted");
    mt_error_clear();
    mt_loader_destroy(l);
    mt_dataset_close(d);
}

TEST(loader_shutdown_mid_epoch_without_leaks)
{
    char path[600];
    CHECK_OK(make_dataset("shutdown.h5", 40, path, sizeof path));
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    mt_augment_params p;
    aug_params(&p);
    size_t base = mt_alloc_in_use(MT_CPU);
    for (int rep = 0; rep < 12; rep++) {
        mt_loader_config c;
        mt_loader_config_init(&c);
        c.batch_size = 2, c.shuffle = 1, c.seed = (uint64_t)rep, c.augment = &p, c.num_workers = 4;
        c.prefetch = 1 + rep % 5;
        mt_loader *l = NULL;
        CHECK_OK(mt_loader_create(d, &c, &l));
        for (int i = 0; i < rep % 3; i++) {
            mt_batch b;
            CHECK_OK(mt_loader_next(l, &b));
            mt_batch_free(&b);
        }
        mt_loader_destroy(l); /* workers are mid-epoch, some mid-batch */
    }
    CHECK(mt_alloc_in_use(MT_CPU) == base, "tensor memory in use %zu after shutdown, %zu before",
          mt_alloc_in_use(MT_CPU), base);
    mt_dataset_close(d);
}

TEST(loader_reports_worker_errors)
{
    if (access("/usr/bin/python3", X_OK) != 0) SKIP("skipped: /usr/bin/python3 (python3-h5py) not installed");
    char path[600], cmd[1200];
    CHECK_OK(make_dataset("corrupt.h5", 4, path, sizeof path));
    /* overwrite the middle of sample 2's compressed image chunk (offset from h5py) */
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys, h5py\n"
             "with h5py.File(sys.argv[1], \"r\") as f: i = f[\"images\"].id.get_chunk_info(2)\n"
             "with open(sys.argv[1], \"r+b\") as g: g.seek(i.byte_offset + i.size // 2); g.write(bytes(64))\n' '%s'",
             path);
    CHECK(system(cmd) == 0, "python could not corrupt the chunk: %s", cmd);
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    mt_loader_config c;
    mt_loader_config_init(&c);
    c.num_workers = 2;
    mt_loader *l = NULL;
    CHECK_OK(mt_loader_create(d, &c, &l));
    mt_batch b;
    mt_status st = MT_OK;
    for (int i = 0; i < 2 && st == MT_OK; i++) {
        st = mt_loader_next(l, &b);
        mt_batch_free(&b);
    }
    int ok2 = st == MT_OK;
    mt_status bad = ok2 ? mt_loader_next(l, &b) : MT_OK;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mt_last_error());
    mt_error_clear();
    int pe = -1, pb = -1;
    mt_loader_position(l, &pe, &pb);
    mt_status after = ok2 ? mt_loader_seek(l, 0, 3) : MT_OK;
    if (after == MT_OK && ok2) after = mt_loader_next(l, &b);
    int id3 = after == MT_OK && ok2 && b.n == 1 ? b.sample_ids[0] : -1;
    if (ok2 && after == MT_OK) mt_batch_free(&b);
    mt_loader_destroy(l);
    mt_dataset_close(d);
    CHECK(ok2, "batches before the corrupt sample failed: %s", mt_last_error());
    CHECK(bad == MT_ERR_IO, "corrupt sample gave status %d, want MT_ERR_IO (%s)", (int)bad, msg);
    CHECK(strstr(msg, "epoch 0, batch 2") && strstr(msg, "corrupt.h5"), "message lacks position or file: %s", msg);
    CHECK(pe == 0 && pb == 2, "position advanced past the failed batch: (%d, %d)", pe, pb);
    CHECK(after == MT_OK && id3 == 3, "the loader did not continue after seeking past the bad sample");
}

TEST(loader_rejects_bad_config)
{
    char path[600];
    CHECK_OK(make_dataset("badcfg.h5", 5, path, sizeof path));
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    mt_loader *l = NULL;
    mt_loader_config c;
    mt_loader_config_init(&c);
    int bad_idx[2] = {1, 5};
    c.indices = bad_idx, c.n_indices = 2;
    CHECK(mt_loader_create(d, &c, &l) == MT_ERR_INVALID && strstr(mt_last_error(), "indices[1] = 5"), "index: %s",
          mt_last_error());
    mt_error_clear();
    mt_loader_config_init(&c);
    c.batch_size = 6, c.drop_last = 1;
    CHECK(mt_loader_create(d, &c, &l) == MT_ERR_INVALID && strstr(mt_last_error(), "no batch"), "drop_last: %s",
          mt_last_error());
    mt_error_clear();
    mt_loader_config_init(&c);
    c.augment_on_device = 1;
    CHECK(mt_loader_create(d, &c, &l) == MT_ERR_INVALID, "GPU augmentation on the CPU accepted");
    mt_error_clear();
    if (!mt_device_available(mt_cuda(0))) {
        mt_loader_config_init(&c);
        c.device = mt_cuda(0);
        CHECK(mt_loader_create(d, &c, &l) != MT_OK && l == NULL, "CUDA loader without a GPU accepted");
        mt_error_clear();
    }
    mt_dataset_close(d);
}

TEST(loader_cuda_matches_cpu)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    char path[600];
    CHECK_OK(make_dataset("cuda.h5", 9, path, sizeof path));
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    mt_augment_params p;
    aug_params(&p);
    for (int mode = 0; mode < 2; mode++) { /* 0: CPU augmentation + pinned upload, 1: GPU augmentation */
        mt_loader_config c;
        mt_loader_config_init(&c);
        c.batch_size = 4, c.shuffle = 1, c.seed = 8, c.augment = &p;
        mt_loader *lc = NULL, *lg = NULL;
        CHECK_OK(mt_loader_create(d, &c, &lc));
        c.device = mt_cuda(0), c.augment_on_device = mode;
        CHECK_OK(mt_loader_create(d, &c, &lg));
        for (int bi = 0; bi < 3; bi++) {
            mt_batch a, b;
            CHECK_OK(mt_loader_next(lc, &a));
            CHECK_OK(mt_loader_next(lg, &b));
            CHECK(a.n == b.n && !memcmp(a.sample_ids, b.sample_ids, sizeof(int) * (size_t)a.n), "ids differ");
            size_t ni = mt_numel(a.images), nm = mt_numel(a.masks);
            float *gi = malloc(ni * sizeof(float)), *gm = malloc(nm * sizeof(float));
            CHECK(gi && gm, "oom");
            CHECK_OK(mt_tensor_to_host(b.images, gi, ni * sizeof(float)));
            CHECK_OK(mt_tensor_to_host(b.masks, gm, nm * sizeof(float)));
            if (mode == 0) CHECK(!memcmp(gi, MT_DATA(a.images), ni * sizeof(float)), "pinned upload changed images");
            else CHECK_CLOSE_F(gi, MT_DATA(a.images), ni, 1e-4, 1e-4);
            int bad = 0;
            for (size_t j = 0; j < nm; j++) bad += gm[j] != MT_DATA(a.masks)[j];
            CHECK(bad <= (int)(nm / 1000), "%d mask values differ", bad);
            free(gi), free(gm);
            mt_batch_free(&a), mt_batch_free(&b);
        }
        mt_loader_destroy(lc);
        mt_loader_destroy(lg);
    }
    mt_dataset_close(d);
}

/* host copy of a batch tensor (NULL tensor: NULL, bytes 0) */
static void *host_copy(const mt_tensor *t, size_t *bytes)
{
    *bytes = t ? mt_nbytes(t) : 0;
    void *p = *bytes ? malloc(*bytes) : NULL;
    if (p && mt_tensor_to_host(t, p, *bytes) != MT_OK) {
        free(p);
        p = NULL;
    }
    return p;
}

/* Data-parallel shards (train/dist.h): S loaders with shard_index 0..S-1 deliver
 * contiguous slices of every batch, together exactly the unsharded batches
 * (images with their augmentation, masks, labels, points, ids, boxes), uneven
 * slices included (8 -> 2 + 3 + 3, the last 7 -> 2 + 2 + 3). */
TEST(loader_shards_make_the_whole_batches)
{
    char path[600];
    enum { N = 23, BS = 8, S = 3, STEPS = 2 * (3 + 1) }; /* 3 batches + end marker, 2 epochs */
    CHECK_OK(make_dataset("shards.h5", N, path, sizeof path));
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    mt_augment_params p;
    aug_params(&p);
    mt_loader *l[S + 1] = {0};
    mt_status st = MT_OK;
    for (int r = 0; r <= S && st == MT_OK; r++) { /* l[S]: unsharded */
        mt_loader_config c;
        mt_loader_config_init(&c);
        c.batch_size = BS, c.shuffle = 1, c.seed = 77, c.augment = &p, c.num_workers = 2;
        c.shard_index = r < S ? r : 0, c.shard_count = r < S ? S : 1;
        st = mt_loader_create(d, &c, &l[r]);
    }
    for (int step = 0; step < STEPS && st == MT_OK; step++) {
        mt_batch b[S + 1];
        memset(b, 0, sizeof b);
        for (int r = 0; r <= S && st == MT_OK; r++) st = mt_loader_next(l[r], &b[r]);
        int rows = 0, boxes = 0, m = b[S].n;
        for (int r = 0; r < S && st == MT_OK; r++) {
            int lo = m * r / S, hi = m * (r + 1) / S;
            if (b[r].n != hi - lo || b[r].index != b[S].index || b[r].epoch != b[S].epoch) {
                st = MT_ERR(MT_ERR_STATE, "step %d shard %d: %d rows at (%d, %d), want %d at (%d, %d)", step, r,
                            b[r].n, b[r].epoch, b[r].index, hi - lo, b[S].epoch, b[S].index);
                break;
            }
            if (m == 0) continue;
            const mt_tensor *whole[4] = {b[S].images, b[S].masks, b[S].labels, b[S].points};
            const mt_tensor *part[4] = {b[r].images, b[r].masks, b[r].labels, b[r].points};
            for (int k = 0; k < 4 && st == MT_OK; k++) {
                size_t wb = 0, pb = 0;
                unsigned char *w = host_copy(whole[k], &wb), *q = host_copy(part[k], &pb);
                size_t row = wb / (size_t)m;
                if (!w || !q || pb != row * (size_t)(hi - lo) || memcmp(w + row * (size_t)lo, q, pb) != 0)
                    st = MT_ERR(MT_ERR_STATE, "step %d shard %d: tensor %d differs from rows %d..%d of the batch", step,
                                r, k, lo, hi);
                free(w);
                free(q);
            }
            for (int i = 0; i < b[r].n && st == MT_OK; i++)
                if (b[r].sample_ids[i] != b[S].sample_ids[lo + i])
                    st = MT_ERR(MT_ERR_STATE, "step %d shard %d: sample %d is %d, want %d", step, r, i,
                                b[r].sample_ids[i], b[S].sample_ids[lo + i]);
            for (int i = 0; i < b[r].n_boxes && st == MT_OK; i++) {
                float want[6];
                memcpy(want, b[S].boxes + 6 * (boxes + i), sizeof want);
                want[0] -= (float)lo;
                if (memcmp(want, b[r].boxes + 6 * i, sizeof want) != 0)
                    st = MT_ERR(MT_ERR_STATE, "step %d shard %d: box %d differs", step, r, i);
            }
            rows += b[r].n;
            boxes += b[r].n_boxes;
        }
        if (st == MT_OK && (rows != m || boxes != b[S].n_boxes))
            st = MT_ERR(MT_ERR_STATE, "step %d: shards hold %d rows / %d boxes, the batch %d / %d", step, rows, boxes, m,
                        b[S].n_boxes);
        for (int r = 0; r <= S; r++) mt_batch_free(&b[r]);
    }
    for (int r = 0; r <= S; r++) mt_loader_destroy(l[r]);
    /* a last batch (23 % 8 = 7) smaller than the shards cannot be split */
    mt_loader_config c;
    mt_loader_config_init(&c);
    c.batch_size = BS, c.shard_count = 8;
    mt_loader *bad = NULL;
    mt_status st_bad = mt_loader_create(d, &c, &bad);
    mt_loader_destroy(bad);
    mt_dataset_close(d);
    CHECK_OK(st);
    CHECK(st_bad == MT_ERR_INVALID && strstr(mt_last_error(), "fewer than the 8 shards"),
          "7-sample last batch over 8 shards: status %d (%s)", st_bad, mt_last_error());
}
