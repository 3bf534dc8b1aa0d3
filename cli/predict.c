/* cli/predict.c: `medtrain predict RUN_DIR|CHECKPOINT.h5 INPUT... --out DIR`:
 * for each DICOM slice (.dcm or DICOM file), NIfTI volume (.nii/.nii.gz; every
 * axial slice, or --slice K, oriented as the importer does) or 2D image
 * (PNG/TIFF/PGM/JPEG), writes <name>_mask.png (0/255; a multi-class run:
 * <name>_classes.png holding class ids 0 = background, 1..K in mask order) and
 * <name>_overlay.png (prediction over the windowed image) at the input's resolution.
 * Inputs must be in the dataset's units (HU for CT datasets imported without
 * a window); the config's post-processing (HU window) is applied. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dicom.h"
#include "../data/image_io.h"
#include "../data/nifti.h"
#include "../data/preprocess.h"
#include "../core/metrics.h"
#include "../core/ops.h"
#include "../data/recon.h"
#include "../train/plot.h"
#include "../train/segment.h"
#include "../train/trainer.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"out", 1, 0, "output directory (required)"},
    {"config", 1, 0, "experiment YAML (default: RUN_DIR/config.yaml or next to the checkpoint)"},
    {"set", 1, 1, "key.path=value: override a config value (e.g. metrics.threshold=0.4)"},
    {"device", 1, 0, "cpu, cuda or cuda:N (default: the GPU when there is one)"},
    {"slice", 1, 0, "NIfTI: only this axial slice (0-based, after reorientation)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* File stem: basename without a known image extension (DICOM names such as
 * "CT.1.3.12.2..." keep their dots). */
static void stem_of(const char *path, char *out, size_t len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, len, "%s", b);
    static const char *ext[] = {".nii.gz", ".nii", ".dcm", ".png", ".tif", ".tiff", ".pgm", ".jpg", ".jpeg"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (ends_with(out, ext[i]) && strlen(out) > strlen(ext[i])) {
            out[strlen(out) - strlen(ext[i])] = '\0';
            break;
        }
}

/* one line per mask: pixels and mm^2 */
static void print_area(const char *name, const char *what, const uint8_t *m, size_t n, const mt_sample *smp)
{
    size_t area = 0;
    for (size_t i = 0; i < n; i++) area += m[i] != 0;
    double px = smp->meta.spacing[0] * smp->meta.spacing[1];
    printf("%s: %s%zu mask pixels", name, what, area);
    if (px > 0) printf(" (%.1f mm^2)", (double)area * px);
    printf("\n");
}

static mt_status predict_sample(mt_session *s, const mt_sample *smp, const char *name, const char *out_dir)
{
    MT_REQUIRE(smp->c == s->geo.c, "%s: image has %d channels, the model was trained on %d", smp->meta.source, smp->c,
               s->geo.c);
    int h = smp->h, w = smp->w, c = smp->c, ih = s->in_h, iw = s->in_w, k = s->geo.k;
    size_t plane = (size_t)ih * iw, hw = (size_t)h * w;
    float *rs = mt_malloc(sizeof(float) * (size_t)c * plane);
    mt_real *buf = mt_malloc(sizeof(mt_real) * (size_t)c * plane);
    uint8_t *m_in = mt_malloc((size_t)k * plane), *m_out = mt_malloc((size_t)k * hw), *ids = mt_calloc(hw, 1);
    mt_status st = (rs && buf && m_in && m_out && ids) ? MT_OK : mt_last_status();
    if (st == MT_OK) st = mt_resize_bilinear(smp->image, c, h, w, rs, ih, iw);
    mt_tensor *x = NULL;
    if (st == MT_OK) {
        for (size_t i = 0; i < (size_t)c * plane; i++) buf[i] = rs[i];
        int shape[4] = {1, c, ih, iw};
        x = mt_tensor_from_host(s->dev, 4, shape, buf);
        st = x ? mt_segmentation_masks(s, x, m_in) : mt_last_status();
    }
    if (st == MT_OK) st = mt_resize_nearest_u8(m_in, k, ih, iw, m_out, h, w);
    char **names = NULL;
    int nn = 0;
    if (st == MT_OK && k > 1 && mt_dataset_names(s->ds, "mask_names", &names, &nn) != MT_OK) mt_error_clear();
    char path[2600];
    if (st == MT_OK && k == 1) {
        snprintf(path, sizeof path, "%s/%s_mask.png", out_dir, name);
        st = mt_plot_mask_png(path, m_out, h, w);
    } else if (st == MT_OK) { /* class ids: 1 + the first set channel */
        for (size_t i = 0; i < hw; i++)
            for (int j = k - 1; j >= 0; j--)
                if (m_out[(size_t)j * hw + i]) ids[i] = (uint8_t)(j + 1);
        snprintf(path, sizeof path, "%s/%s_classes.png", out_dir, name);
        st = mt_plot_label_png(path, ids, h, w);
    }
    if (st == MT_OK) {
        static const uint8_t rgb[6][3] = {{255, 230, 0}, {0, 200, 255}, {255, 80, 200}, {80, 255, 80}, {255, 140, 0}, {160, 120, 255}};
        mt_plot_mask mk[6];
        int nm = k < 6 ? k : 6;
        for (int j = 0; j < nm; j++)
            mk[j] = (mt_plot_mask){m_out + (size_t)j * hw, rgb[j][0], rgb[j][1], rgb[j][2],
                                   k == 1 ? "prediction" : j < nn ? names[j] : NULL};
        double lo, hi;
        mt_display_window(s, smp->image, hw, &lo, &hi);
        snprintf(path, sizeof path, "%s/%s_overlay.png", out_dir, name);
        st = mt_plot_overlay(path, smp->image, h, w, lo, hi, nm, mk, NULL);
    }
    if (st == MT_OK) {
        for (int j = 0; j < k; j++) {
            char what[80] = "";
            if (k > 1) snprintf(what, sizeof what, "class %d %s: ", j + 1, j < nn ? names[j] : "");
            print_area(name, what, m_out + (size_t)j * hw, hw, smp);
        }
        printf("%s -> %s/%s_%s.png, %s_overlay.png\n", name, out_dir, name, k == 1 ? "mask" : "classes", name);
    }
    mt_dataset_free_names(names, nn);
    mt_tensor_release(x);
    free(rs);
    free(buf);
    free(m_in);
    free(m_out);
    free(ids);
    return st;
}

static mt_status predict_file(mt_session *s, const char *path, int slice, const char *out_dir)
{
    char stem[512], name[600];
    stem_of(path, stem, sizeof stem);
    if (ends_with(path, ".nii") || ends_with(path, ".nii.gz")) {
        mt_volume v;
        memset(&v, 0, sizeof v);
        MT_TRY(mt_nifti_read(path, &v));
        mt_status st = mt_volume_reorient(&v);
        int first = slice >= 0 ? slice : 0, last = slice >= 0 ? slice : v.nz - 1;
        if (st == MT_OK && (first < 0 || last >= v.nz))
            st = MT_ERR(MT_ERR_INVALID, "%s: --slice %d outside 0..%d", path, slice, v.nz - 1);
        for (int z = first; st == MT_OK && z <= last; z++) {
            mt_sample smp;
            mt_sample_init(&smp);
            st = mt_volume_slice(&v, MT_PLANE_AXIAL, z, &smp);
            snprintf(name, sizeof name, "%s_z%03d", stem, z);
            if (st == MT_OK) st = predict_sample(s, &smp, name, out_dir);
            mt_sample_free(&smp);
        }
        mt_volume_free(&v);
        return st;
    }
    mt_sample smp;
    mt_sample_init(&smp);
    mt_status st;
    if (ends_with(path, ".png") || ends_with(path, ".tif") || ends_with(path, ".tiff") || ends_with(path, ".pgm") ||
        ends_with(path, ".jpg") || ends_with(path, ".jpeg"))
        st = mt_image_read(path, &smp);
    else st = mt_dicom_read_slice(path, &smp);
    if (st == MT_OK) st = predict_sample(s, &smp, stem, out_dir);
    mt_sample_free(&smp);
    return st;
}

int cli_predict(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("predict", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    const char *out = cli_opt(&a, "out", NULL);
    if (a.help || a.n_pos < 2 || !out) {
        cli_print_help(a.help ? stdout : stderr, "medtrain predict RUN_DIR|CHECKPOINT.h5 INPUT... --out DIR",
                       "Segments DICOM slices, NIfTI volumes (each axial slice) or PNG/TIFF/PGM/JPEG images and\n"
                       "writes <name>_mask.png and <name>_overlay.png per slice into DIR. It only reads RUN_DIR, so it\n"
                       "also works on a run a `medtrain train` still holds (evaluate refuses that).",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    const char *target = a.pos[0];
    char weights[2300], cfg[2300];
    if (mt_path_is_dir(target)) {
        snprintf(weights, sizeof weights, "%s/best.h5", target);
        if (!mt_path_exists(weights)) snprintf(weights, sizeof weights, "%s/last.h5", target);
        snprintf(cfg, sizeof cfg, "%s/config.yaml", target);
    } else {
        char tmp[2300];
        snprintf(weights, sizeof weights, "%s", target);
        snprintf(tmp, sizeof tmp, "%s", target);
        snprintf(cfg, sizeof cfg, "%s/config.yaml", dirname(tmp));
    }
    if (cli_has(&a, "config")) snprintf(cfg, sizeof cfg, "%s", cli_opt(&a, "config", ""));
    if (!mt_path_exists(weights)) {
        fprintf(stderr, "medtrain predict: no checkpoint at %s\n", weights);
        return 1;
    }
    const char *sets[CLI_MAX_ARGS];
    int n_sets = 0;
    for (int i = 0; i < a.n_opt; i++)
        if (!strcmp(a.opt_name[i], "set")) sets[n_sets++] = a.opt_value[i];
    int slice = cli_has(&a, "slice") ? atoi(cli_opt(&a, "slice", "0")) : -1;
    mt_session s;
    memset(&s, 0, sizeof s);
    if (mt_session_load(&s, cfg, n_sets, sets) != MT_OK) return cli_fail("predict");
    if ((rc = cli_device(&a, &s.dev)) != 0) {
        mt_session_free(&s);
        return rc;
    }
    mt_status st = mt_session_open_dataset(&s); /* geometry: channels, input size */
    if (st == MT_OK && s.exp.task.kind != MT_TASK_SEGMENTATION)
        st = MT_ERR(MT_ERR_UNSUPPORTED, "medtrain predict writes masks: %s is a %s experiment (use evaluate)", cfg,
                    s.task->kind);
    if (st == MT_OK) st = mt_session_build_models(&s, s.exp.train.seed, 0);
    if (st == MT_OK) st = mt_session_load_weights(&s, weights);
    if (st == MT_OK) st = mt_mkdirs(out);
    for (int i = 1; st == MT_OK && i < a.n_pos; i++) st = predict_file(&s, a.pos[i], slice, out);
    mt_session_free(&s);
    return st == MT_OK ? 0 : cli_fail("predict");
}
