/* data/synth_fracture_dataset.c: the S4 synthetic fracture benchmark as a dataset: every crop of
 * a crops dataset copied in order, round(fraction n) crops per split given a defect
 * (data/synth_fracture.c), labels normal / fracture and the defect masks written atomically.
 * docs/synthetic.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "dataset.h"
#include "synth_fracture.h"

#define TAG_SELECT 0x53594e4653454cULL /* sub-stream tag of the selection keys */

static const char *const k_splits[3] = {"train", "val", "test"};

typedef struct sel_key {
    double key;
    int index;
} sel_key;

static int cmp_key(const void *a, const void *b)
{
    const sel_key *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* group[i] = split (0..2, 3 none); chosen[i] = 1 for the round(fraction n_g) crops of each group
 * with the smallest keys U(seed, i). */
static mt_status choose(mt_dataset *in, const mt_synth_fracture_params *p, int n, uint8_t *group, uint8_t *chosen,
                        mt_synth_fracture_report *rep)
{
    for (int i = 0; i < n; i++) group[i] = 3;
    for (int k = 0; k < 3; k++) {
        int *idx = NULL, m = 0;
        MT_TRY(mt_dataset_split_indices(in, k_splits[k], &idx, &m));
        for (int j = 0; j < m; j++) group[idx[j]] = (uint8_t)k;
        free(idx);
    }
    sel_key *keys = mt_malloc(sizeof *keys * ((size_t)n + 1));
    if (!keys) return MT_ERR_NOMEM;
    for (int g = 0; g < 4; g++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (group[i] == g)
                keys[m++] = (sel_key){mt_philox_uniform_d(mt_rng_derive(p->seed, TAG_SELECT, (uint64_t)i), 0), i};
        qsort(keys, (size_t)m, sizeof *keys, cmp_key);
        int take = (int)floor(p->fraction * m + 0.5);
        for (int j = 0; j < m; j++) chosen[keys[j].index] = j < take;
        rep->n[g] = m;
        rep->n_fracture[g] = take;
    }
    free(keys);
    return MT_OK;
}

/* index of `name` in names, -1 if absent */
static int find_name(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

static mt_status check_inputs(const char *crops_path, const mt_synth_fracture_params *p, const mt_dataset_spec *sp,
                              char **pn, int npn, int *ia, int *ib)
{
    MT_REQUIRE(p->strength >= 0 && p->strength <= 1, "synth-fracture: --strength %g outside [0, 1]", p->strength);
    MT_REQUIRE(p->fraction >= 0 && p->fraction <= 1, "synth-fracture: --fraction %g outside [0, 1]", p->fraction);
    MT_REQUIRE(sp->c == 1, "synth-fracture: %s has %d image channels; crops must be grey (C = 1)", crops_path, sp->c);
    MT_REQUIRE(sp->n_points > 0 && npn == sp->n_points,
               "synth-fracture: %s has %d landmarks and %d point_names; it needs /points with a point_names "
               "attribute (medtrain import --points ...)", crops_path, sp->n_points, npn);
    MT_REQUIRE(p->point_a && p->point_b, "synth-fracture: NULL bone point name");
    *ia = find_name(pn, npn, p->point_a);
    *ib = find_name(pn, npn, p->point_b);
    if (*ia < 0 || *ib < 0) {
        char list[512] = "";
        for (int i = 0; i < npn; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? "," : "", pn[i]);
        }
        return MT_ERR(MT_ERR_INVALID, "synth-fracture: --bone_points %s,%s: '%s' is not among the point_names of %s (%s)",
                      p->point_a, p->point_b, *ia < 0 ? p->point_a : p->point_b, crops_path, list);
    }
    return MT_OK;
}

/* the parameter record appended to the preprocess attribute */
static void params_text(const mt_synth_fracture_params *p, char *buf, size_t len)
{
    snprintf(buf, len,
             "synth-fracture (S4 synthetic nasal-bone fracture): strength %g, fraction %g, seed %llu; bone A=%s, "
             "B=%s, tip T = A + (%g, %g) L, L = |B - A|; segment across A->T at t~U(0.25,0.85), bone normal "
             "+-U(-30,30) deg, length U(0.06,0.12) L; dark line sigma 1.2 px, step 3 px along the bone normal "
             "(at 256 px), mask d <= max(1.5 sigma, 1 px); mean and std matched to the crop",
             p->strength, p->fraction, (unsigned long long)p->seed, p->point_a, p->point_b, p->tip[0], p->tip[1]);
}

/* One sample: read, defect or not, add with its split. */
static mt_status copy_sample(mt_dataset *in, mt_dataset_writer *w, const mt_synth_fracture_params *p, int i,
                             int fracture, int group, int ia, int ib)
{
    mt_sample s;
    MT_TRY(mt_dataset_read(in, i, &s));
    mt_status st = MT_OK;
    size_t hw = (size_t)s.h * s.w;
    const float *a = s.points + 2 * ia, *b = s.points + 2 * ib;
    float *img = NULL;
    uint8_t *mask = mt_calloc(hw, 1);
    if (!mask) {
        st = MT_ERR_NOMEM;
        goto done;
    }
    if (!(isfinite(a[0]) && isfinite(a[1]) && isfinite(b[0]) && isfinite(b[1]))) {
        st = MT_ERR(MT_ERR_INVALID, "synth-fracture: sample %d (%s) has no %s landmark (NaN); drop it or add the point",
                    i, s.meta.source, !(isfinite(a[0]) && isfinite(a[1])) ? p->point_a : p->point_b);
        goto done;
    }
    if (fracture) {
        mt_synth_fracture_defect d;
        if ((st = mt_synth_fracture_draw(p, i, a, b, s.h, s.w, &d))) goto done;
        if (!(d.centre[0] >= 0 && d.centre[0] <= s.w - 1 && d.centre[1] >= 0 && d.centre[1] <= s.h - 1)) {
            st = MT_ERR(MT_ERR_INVALID, "synth-fracture: sample %d (%s): the defect centre (%.1f, %.1f) on the bone %s->tip "
                        "lies outside the %dx%d crop; check --bone_points and --tip", i, s.meta.source, d.centre[0],
                        d.centre[1], p->point_a, s.w, s.h);
            goto done;
        }
        if (!(img = mt_malloc(sizeof(float) * hw))) {
            st = MT_ERR_NOMEM;
            goto done;
        }
        if ((st = mt_synth_fracture_apply(&d, p->strength, s.image, s.h, s.w, img, mask))) goto done;
        memcpy(s.image, img, sizeof(float) * hw);
    }
    free(s.mask);
    s.mask = mask;
    mask = NULL;
    s.k = 1;
    s.label = fracture;
    if ((st = mt_dataset_writer_add(w, &s))) goto done;
    if (group < 3) st = mt_dataset_writer_set_split(w, mt_dataset_writer_count(w) - 1, k_splits[group]);
done:
    free(img);
    free(mask);
    mt_sample_free(&s);
    return st;
}

/* copies channel_names and point_names, sets the class and mask names */
static mt_status copy_names(mt_dataset *in, mt_dataset_writer *w, char **pn, int npn)
{
    char **cn = NULL;
    int ncn = 0;
    MT_TRY(mt_dataset_names(in, "channel_names", &cn, &ncn));
    mt_status st = ncn ? mt_dataset_writer_set_names(w, "channel_names", (const char *const *)cn, ncn) : MT_OK;
    mt_dataset_free_names(cn, ncn);
    MT_TRY(st);
    MT_TRY(mt_dataset_writer_set_names(w, "point_names", (const char *const *)pn, npn));
    static const char *const classes[2] = {"normal", "fracture"}, *const masks[1] = {"defect"};
    MT_TRY(mt_dataset_writer_set_names(w, "class_names", classes, 2));
    return mt_dataset_writer_set_names(w, "mask_names", masks, 1);
}

static mt_status write_all(mt_dataset *in, const char *crops_path, const char *out_path,
                           const mt_synth_fracture_params *p, mt_synth_fracture_report *rep, char **pn, int npn)
{
    mt_dataset_spec sp;
    mt_dataset_geometry(in, &sp);
    int ia = -1, ib = -1, n = mt_dataset_size(in);
    MT_TRY(check_inputs(crops_path, p, &sp, pn, npn, &ia, &ib));
    char *pre = NULL, *split_by = NULL, *text = NULL, *desc = NULL;
    uint8_t *group = mt_calloc((size_t)n + 1, 1), *chosen = mt_calloc((size_t)n + 1, 1);
    mt_dataset_writer *w = NULL;
    mt_status st = MT_OK;
    if (!group || !chosen || !(text = mt_malloc(4096)) || !(desc = mt_malloc(8192))) {
        st = MT_ERR_NOMEM;
        goto done;
    }
    if ((st = choose(in, p, n, group, chosen, rep))) goto done;
    if ((st = mt_dataset_attr_string(in, "preprocess", &pre)) || (st = mt_dataset_attr_string(in, "split_by", &split_by)))
        goto done;
    params_text(p, text, 4096);
    snprintf(desc, 8192, "%s%s%s", pre && pre[0] ? pre : "", pre && pre[0] ? "; " : "", text);
    mt_dataset_spec out = {.c = 1, .h = sp.h, .w = sp.w, .k = 1, .n_points = sp.n_points,
                           .description = p->description ? p->description : text, .preprocess = desc};
    if ((st = mt_dataset_writer_open(out_path, &out, &w))) goto done;
    if ((st = copy_names(in, w, pn, npn))) goto done;
    if (split_by && !strcmp(split_by, "sample") && (st = mt_dataset_writer_set_split_by_sample(w, 1))) goto done;
    for (int i = 0; i < n && st == MT_OK; i++) st = copy_sample(in, w, p, i, chosen[i], group[i], ia, ib);
    if (st == MT_OK) st = mt_dataset_writer_close(w, 1, 0.0, 0.0, p->seed);
    else mt_dataset_writer_close(w, 0, 0, 0, 0);
    w = NULL;
done:
    if (w) mt_dataset_writer_close(w, 0, 0, 0, 0);
    free(pre);
    free(split_by);
    free(text);
    free(desc);
    free(group);
    free(chosen);
    return st;
}

mt_status mt_synth_fracture_dataset(const char *crops_path, const char *out_path, const mt_synth_fracture_params *p,
                                    mt_synth_fracture_report *report)
{
    MT_REQUIRE(crops_path && out_path && p, "mt_synth_fracture_dataset: NULL argument");
    MT_REQUIRE(strcmp(crops_path, out_path), "synth-fracture: the output %s must differ from the input", out_path);
    mt_synth_fracture_report rep;
    memset(&rep, 0, sizeof rep);
    mt_dataset *in = NULL;
    MT_TRY(mt_dataset_open(crops_path, &in));
    char **pn = NULL;
    int npn = 0;
    mt_status st = mt_dataset_names(in, "point_names", &pn, &npn);
    if (st == MT_OK) st = write_all(in, crops_path, out_path, p, &rep, pn, npn);
    mt_dataset_free_names(pn, npn);
    mt_dataset_close(in);
    if (st == MT_OK && report) *report = rep;
    return st;
}
