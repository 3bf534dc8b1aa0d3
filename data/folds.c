/* data/folds.c: K-fold cross-validation by patient (mt_dataset_kfold, dataset.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "dataset.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int uf_find(int *parent, int a)
{
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
}

/* The split key of every sample (mt_dataset_group_key, as the import split them). */
static mt_status group_keys(mt_dataset *d, char **key)
{
    int n = mt_dataset_size(d);
    char *split_by = NULL;
    MT_TRY(mt_dataset_attr_string(d, "split_by", &split_by));
    int by_sample = split_by && !strcmp(split_by, "sample");
    free(split_by);
    mt_meta *m = mt_malloc(sizeof *m);
    if (!m) return MT_ERR_NOMEM;
    mt_status st = MT_OK;
    for (int i = 0; i < n && st == MT_OK; i++) {
        char buf[1200];
        if (!by_sample && (st = mt_dataset_read_meta(d, i, m)) != MT_OK) break;
        mt_dataset_group_key(by_sample ? NULL : m->patient_id, by_sample ? NULL : m->source, i, by_sample, buf, sizeof buf);
        if (!(key[i] = mt_strdup(buf))) st = MT_ERR_NOMEM;
    }
    free(m);
    return st;
}

mt_status mt_dataset_kfold(mt_dataset *d, int k, uint64_t seed, int *fold_of)
{
    MT_REQUIRE(d && fold_of && k >= 2, "mt_dataset_kfold: needs a dataset, an output and k >= 2 (k = %d)", k);
    int n = mt_dataset_size(d);
    char **key = mt_calloc((size_t)n + 1, sizeof *key), **uniq = mt_calloc((size_t)n + 1, sizeof *uniq);
    int *group = mt_calloc((size_t)n + 1, sizeof *group), *parent = mt_calloc((size_t)n + 1, sizeof *parent);
    int *dup = mt_calloc((size_t)n + 1, sizeof *dup), *size = mt_calloc((size_t)n + 1, sizeof *size);
    int *perm = mt_calloc((size_t)n + 1, sizeof *perm), *gfold = mt_calloc((size_t)n + 1, sizeof *gfold);
    long *fill = mt_calloc((size_t)k, sizeof *fill);
    mt_status st = MT_OK;
    if (!key || !uniq || !group || !parent || !dup || !size || !perm || !gfold || !fill) {
        st = MT_ERR_NOMEM;
        goto done;
    }
    if ((st = group_keys(d, key)) != MT_OK || (st = mt_dataset_duplicate_of(d, dup)) != MT_OK) goto done;
    memcpy(uniq, key, sizeof *key * (size_t)n);
    qsort(uniq, (size_t)n, sizeof *uniq, cmp_str);
    int g = 0;
    for (int i = 0; i < n; i++)
        if (g == 0 || strcmp(uniq[g - 1], uniq[i])) uniq[g++] = uniq[i];
    for (int i = 0; i < n; i++) group[i] = (int)((char **)bsearch(&key[i], uniq, (size_t)g, sizeof *uniq, cmp_str) - uniq);
    for (int a = 0; a < g; a++) parent[a] = a;
    for (int i = 0; i < n; i++) /* identical images: one group */
        if (dup[i] >= 0) {
            int a = uf_find(parent, group[i]), b = uf_find(parent, group[dup[i]]);
            if (a != b) parent[a > b ? a : b] = a < b ? a : b;
        }
    int n_roots = 0;
    for (int i = 0; i < n; i++) size[uf_find(parent, group[i])]++;
    for (int a = 0; a < g; a++)
        if (parent[a] == a) perm[n_roots++] = a;
    if (n_roots < k) {
        st = MT_ERR(MT_ERR_INVALID, "dataset '%s': %d-fold cross-validation needs at least %d patient groups, it has %d "
                    "(lower data.folds, or import with split_by sample)", mt_dataset_path(d), k, k, n_roots);
        goto done;
    }
    for (int i = n_roots - 1; i > 0; i--) { /* Fisher-Yates with counter-based draws */
        int j = (int)(mt_philox_uniform_d(seed ^ 0x464f4c44ull /* "FOLD" */, (uint64_t)i) * (i + 1));
        if (j > i) j = i;
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int r = 0; r < n_roots; r++) { /* deal: each group to the emptiest fold */
        int best = 0;
        for (int f = 1; f < k; f++)
            if (fill[f] < fill[best]) best = f;
        gfold[perm[r]] = best;
        fill[best] += size[perm[r]];
    }
    for (int i = 0; i < n; i++) fold_of[i] = gfold[uf_find(parent, group[i])];
done:
    if (key)
        for (int i = 0; i < n; i++) free(key[i]);
    free(key), free(uniq), free(group), free(parent), free(dup), free(size), free(perm), free(gfold), free(fill);
    return st;
}
