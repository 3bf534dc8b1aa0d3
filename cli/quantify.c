/* cli/quantify.c: `medtrain quantify IMAGE --mask NAME=FILE[@IDS] ... --out DIR`: body
 * composition of CT slices (S3): per slice and label the area (pixels, cm^2) and HU mean,
 * SD, min, max; the sarcopenia indices of the muscle label and their T-scores. Writes
 * DIR/quantify.csv (one row per slice) and DIR/<stem>_z<K>_quant.png (overlay, legend,
 * figures). Library: data/ct_volume.h (reading, slices), data/bodycomp.h, data/sarcopenia.h. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../data/bodycomp.h"
#include "../data/ct_volume.h"
#include "../data/recon.h"
#include "../train/plot.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"mask", 1, 1, "NAME=FILE[@IDS]: a label mask (NIfTI on the image grid, or a PNG of one slice); IDS: label "
                   "values counted as inside (default any nonzero). Repeat per label, e.g. M=, SAT=, VAT="},
    {"out", 1, 0, "output directory (required): quantify.csv and one overlay PNG per slice"},
    {"slice", 1, 0, "only this axial slice (0-based, after reorientation as `import` / `predict` cut them)"},
    {"slices", 1, 0, "A:B, slices A..B inclusive (default: every slice)"},
    {"muscle", 1, 0, "the mask name holding skeletal muscle (default M, muscle, skeletal_muscle or SM; none: no "
                     "indices)"},
    {"sex", 1, 0, "M or F when the DICOM PatientSex / patients CSV has none"},
    {"height", 1, 0, "height in m when neither DICOM PatientSize nor the patients CSV has it"},
    {"weight", 1, 0, "weight in kg when neither DICOM PatientWeight nor the patients CSV has it"},
    {"patient_id", 1, 0, "patient id for the CSV lookup and the output (default DICOM PatientID, else the file stem)"},
    {"patients", 1, 0, "CSV with columns patient_id and sex, height_m, weight_kg (any of them)"},
    {"reference", 1, 0, "T-score reference: paper (default: the S3 men/women table) or a cohort CSV (sex, sma_cm2, "
                        "height_m, weight_kg)"},
    {"window", 1, 0, "display window of the overlays, level,width in HU (default 40,400)"},
    {"no_overlay", 0, 0, "write the CSV only"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

#define MAX_IDS 64

typedef struct qmask {
    char name[64];
    char path[1024];
    int ids[MAX_IDS], n_ids;
    int is_2d;
    mt_volume vol;     /* NIfTI: 0/1 volume on the image grid */
    uint8_t *plane;    /* the current slice's mask (h*w) */
} qmask;

static const uint8_t k_colours[MT_BODYCOMP_MAX_TISSUES][3] = {
    {230, 50, 50}, {250, 200, 30}, {40, 200, 90}, {60, 140, 250}, {200, 90, 230}, {250, 130, 40}, {40, 210, 210},
    {240, 240, 240}};

static mt_status parse_mask(const char *arg, qmask *m)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof m->name || !eq[1])
        return MT_ERR(MT_ERR_INVALID, "--mask '%s': expected NAME=FILE or NAME=FILE@IDS (e.g. M=muscle.nii.gz)", arg);
    memcpy(m->name, arg, (size_t)(eq - arg));
    m->name[eq - arg] = '\0';
    for (char *p = m->name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return MT_ERR(MT_ERR_INVALID, "--mask '%s': the name may hold letters, digits and _ only", arg);
    snprintf(m->path, sizeof m->path, "%s", eq + 1);
    char *at = strrchr(m->path, '@');
    m->n_ids = at ? mt_parse_ids(at + 1, m->ids, MAX_IDS) : 0;
    if (m->n_ids > 0) *at = '\0';
    else m->n_ids = 0; /* no "@1,2" suffix: an '@' belongs to the file name */
    m->is_2d = mt_path_is_image2d(m->path);
    return MT_OK;
}

static int muscle_index(const cli_args *a, int n, const qmask *m, int *out)
{
    const char *want = cli_opt(a, "muscle", NULL);
    *out = -1;
    if (want && !strcasecmp(want, "none")) return 0;
    static const char *k_default[] = {"M", "muscle", "skeletal_muscle", "SM"};
    for (int i = 0; i < n; i++) {
        if (want && !strcmp(m[i].name, want)) return *out = i, 0;
        for (int d = 0; !want && d < 4; d++)
            if (!strcasecmp(m[i].name, k_default[d]) && *out < 0) *out = i;
    }
    if (want) {
        fprintf(stderr, "medtrain quantify: --muscle %s names no --mask\n", want);
        return 2;
    }
    return 0;
}

static double parse_positive(const char *s, const char *opt, int *bad)
{
    char *end;
    double v = s ? strtod(s, &end) : NAN;
    if (s && (*end || !(v > 0) || !isfinite(v))) {
        fprintf(stderr, "medtrain quantify: --%s '%s' must be a positive number\n", opt, s);
        *bad = 1;
    }
    return v;
}

/* Height, weight, sex: DICOM tags first, then the patients CSV, then the flags. */
static mt_status body_info(const cli_args *a, const mt_meta *meta, const char *pid, mt_body_info *b, int *usage)
{
    memset(b, 0, sizeof *b);
    b->height_m = b->weight_kg = NAN;
    if (meta->height_m > 0) b->height_m = meta->height_m, strcpy(b->height_source, "dicom");
    if (meta->weight_kg > 0) b->weight_kg = meta->weight_kg, strcpy(b->weight_source, "dicom");
    if (mt_sex_normalize(meta->sex, b->sex) == 0) strcpy(b->sex_source, "dicom");
    if (cli_has(a, "patients")) MT_TRY(mt_body_info_from_csv(cli_opt(a, "patients", ""), pid, b));
    double h = parse_positive(cli_opt(a, "height", NULL), "height", usage);
    double w = parse_positive(cli_opt(a, "weight", NULL), "weight", usage);
    if (isnan(b->height_m) && !isnan(h)) b->height_m = h, strcpy(b->height_source, "flag");
    if (isnan(b->weight_kg) && !isnan(w)) b->weight_kg = w, strcpy(b->weight_source, "flag");
    const char *sex = cli_opt(a, "sex", NULL);
    if (sex) {
        char s[8];
        if (mt_sex_normalize(sex, s) != 0) {
            fprintf(stderr, "medtrain quantify: --sex '%s': expected M or F\n", sex);
            *usage = 1;
        } else if (!b->sex[0]) strcpy(b->sex, s), strcpy(b->sex_source, "flag");
    }
    return MT_OK;
}

static void stem_of(const char *path, char *out, size_t len)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *b = path;
    for (size_t i = 0; i < n; i++)
        if (path[i] == '/') b = path + i + 1;
    snprintf(out, len, "%.*s", (int)(path + n - b), b);
    static const char *ext[] = {".nii.gz", ".nii", ".dcm"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(out), e = strlen(ext[i]);
        if (l > e && !strcmp(out + l - e, ext[i])) out[l - e] = '\0';
    }
}

static mt_status write_overlay(const char *out_dir, const char *stem, const mt_bodycomp_case *c, const qmask *m,
                               const mt_sample *img, const mt_bodycomp_slice *r, double level, double width)
{
    char path[2600], legend[MT_BODYCOMP_MAX_TISSUES][160], lines[6][1200];
    mt_plot_mask pm[MT_BODYCOMP_MAX_TISSUES];
    for (int t = 0; t < c->n_tissues; t++) {
        const mt_tissue_stats *s = &r->tissue[t];
        snprintf(legend[t], sizeof legend[t], "%s  %lld px, %.2f cm2, %.1f +- %.1f HU", m[t].name, s->area_px,
                 s->area_cm2, s->hu_mean, s->hu_sd);
        pm[t] = (mt_plot_mask){m[t].plane, k_colours[t][0], k_colours[t][1], k_colours[t][2], legend[t]};
    }
    const mt_body_info *b = &c->body;
    int n = 0;
    snprintf(lines[n++], sizeof lines[0], "%s slice %d, pixel %.3f x %.3f mm", c->patient_id, r->slice, r->spacing[0],
             r->spacing[1]);
    snprintf(lines[n++], sizeof lines[0], "sex %s%s%s%s, height %.2f m (%s), weight %.1f kg (%s)", b->sex[0] ? b->sex : "?",
             b->sex_source[0] ? " (" : "", b->sex_source, b->sex_source[0] ? ")" : "", b->height_m, b->height_source,
             b->weight_kg, b->weight_source);
    static const char *label[MT_SARC_N] = {"SMA", "SMA/Ht2", "SMA/Wt", "SMA/BMI"};
    for (int i = 0; c->sma_tissue >= 0 && i < MT_SARC_N; i += 2) {
        char part[2][140];
        for (int j = 0; j < 2; j++)
            snprintf(part[j], sizeof part[j], "%s %.2f  T %.2f %s", label[i + j], r->index[i + j], r->tscore[i + j],
                     mt_tscore_class_name(r->tclass[i + j]));
        snprintf(lines[n++], sizeof lines[0], "%s  |  %s", part[0], part[1]);
    }
    if (c->sma_tissue >= 0 && c->ref) snprintf(lines[n++], sizeof lines[0], "T-score reference: %s", c->ref->source);
    const char *lp[6];
    for (int i = 0; i < n; i++) lp[i] = lines[i];
    snprintf(path, sizeof path, "%s/%s_z%03d_quant.png", out_dir, stem, r->slice);
    return mt_plot_overlay_lines(path, img->image, img->h, img->w, level - width / 2, level + width / 2, c->n_tissues,
                                 pm, n, lp);
}

static void print_row(const mt_bodycomp_case *c, const qmask *m, const mt_bodycomp_slice *r)
{
    printf("slice %d:", r->slice);
    for (int t = 0; t < c->n_tissues; t++)
        printf(" %s %lld px %.2f cm2 %.1f+-%.1f HU;", m[t].name, r->tissue[t].area_px, r->tissue[t].area_cm2,
               r->tissue[t].hu_mean, r->tissue[t].hu_sd);
    if (c->sma_tissue >= 0)
        for (int i = 0; i < MT_SARC_N; i++)
            printf(" %s %.3f (T %.2f %s)", mt_sarc_index_names[i], r->index[i], r->tscore[i],
                   mt_tscore_class_name(r->tclass[i]));
    printf("\n");
}

typedef struct qrun {
    const cli_args *a;
    const char *out;
    char stem[512];
    mt_volume img;
    int n;
    qmask m[MT_BODYCOMP_MAX_TISSUES];
    mt_bodycomp_case c;
    int z0, z1;
    double level, width;
} qrun;

static mt_status quantify_slices(qrun *q, mt_bodycomp_slice *rows)
{
    for (int z = q->z0; z <= q->z1; z++) {
        mt_sample s;
        mt_sample_init(&s);
        MT_TRY(mt_volume_slice(&q->img, MT_PLANE_AXIAL, z, &s));
        mt_status st = MT_OK;
        const uint8_t *planes[MT_BODYCOMP_MAX_TISSUES];
        for (int t = 0; st == MT_OK && t < q->n; t++) {
            if (!q->m[t].plane) q->m[t].plane = mt_malloc((size_t)s.h * s.w);
            if (!q->m[t].plane) st = mt_last_status();
            else if (q->m[t].is_2d) st = mt_mask_image_read(q->m[t].path, q->m[t].ids, q->m[t].n_ids, s.h, s.w, q->m[t].plane);
            else st = mt_mask_volume_slice(&q->m[t].vol, z, s.h, s.w, q->m[t].plane);
            planes[t] = q->m[t].plane;
        }
        mt_bodycomp_slice *r = &rows[z - q->z0];
        if (st == MT_OK)
            st = mt_bodycomp_measure(&q->c, s.image, s.h, s.w, s.meta.spacing, z, s.meta.slice_position, planes, r);
        if (st == MT_OK) print_row(&q->c, q->m, r);
        if (st == MT_OK && !cli_has(q->a, "no_overlay"))
            st = write_overlay(q->out, q->stem, &q->c, q->m, &s, r, q->level, q->width);
        mt_sample_free(&s);
        MT_TRY(st);
    }
    return MT_OK;
}

static mt_status quantify_run(qrun *q, mt_sarc_reference *ref, int *usage)
{
    const cli_args *a = q->a;
    MT_TRY(mt_ct_volume_read(a->pos[0], &q->img));
    int n2d = 0;
    for (int t = 0; t < q->n; t++) {
        if (q->m[t].is_2d) n2d++;
        else MT_TRY(mt_mask_volume_read(q->m[t].path, q->m[t].ids, q->m[t].n_ids, &q->img, &q->m[t].vol));
    }
    q->z0 = 0, q->z1 = q->img.nz - 1;
    char tail;
    if (cli_has(a, "slice") && sscanf(cli_opt(a, "slice", ""), "%d%c", &q->z0, &tail) != 1)
        return MT_ERR(MT_ERR_INVALID, "--slice '%s': expected a slice index", cli_opt(a, "slice", ""));
    if (cli_has(a, "slice")) q->z1 = q->z0;
    if (cli_has(a, "slices") && sscanf(cli_opt(a, "slices", ""), "%d:%d%c", &q->z0, &q->z1, &tail) != 2)
        return MT_ERR(MT_ERR_INVALID, "--slices '%s': expected A:B", cli_opt(a, "slices", ""));
    if (q->z0 < 0 || q->z1 >= q->img.nz || q->z0 > q->z1)
        return MT_ERR(MT_ERR_INVALID, "slices %d..%d: %s has axial slices 0..%d", q->z0, q->z1, a->pos[0], q->img.nz - 1);
    if (n2d && q->z0 != q->z1)
        return MT_ERR(MT_ERR_INVALID, "a PNG mask covers one slice: give --slice K (%s has %d slices)", a->pos[0],
                      q->img.nz);
    char pid[MT_META_STR];
    snprintf(pid, sizeof pid, "%s", cli_opt(a, "patient_id", q->img.meta.patient_id[0] ? q->img.meta.patient_id : q->stem));
    MT_TRY(body_info(a, &q->img.meta, pid, &q->c.body, usage));
    if (*usage) return MT_OK;
    const char *rs = cli_opt(a, "reference", "paper");
    if (!strcmp(rs, "paper")) mt_sarc_reference_paper(ref);
    else MT_TRY(mt_sarc_reference_csv(rs, ref));
    q->c.source = a->pos[0];
    q->c.patient_id = pid;
    q->c.ref = ref;
    int nrow = q->z1 - q->z0 + 1;
    mt_bodycomp_slice *rows = mt_calloc((size_t)nrow, sizeof *rows);
    if (!rows) return mt_last_status();
    mt_status st = mt_mkdirs(q->out);
    if (st == MT_OK) st = quantify_slices(q, rows);
    char *csv = st == MT_OK ? mt_bodycomp_csv(&q->c, nrow, rows) : NULL;
    char path[2300];
    snprintf(path, sizeof path, "%s/quantify.csv", q->out);
    if (st == MT_OK) st = csv ? mt_write_file_atomic(path, csv, strlen(csv)) : mt_last_status();
    if (st == MT_OK) printf("%d slice%s -> %s%s\n", nrow, nrow > 1 ? "s" : "", path,
                            cli_has(a, "no_overlay") ? "" : " and *_quant.png overlays");
    free(csv);
    free(rows);
    return st;
}

int cli_quantify(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("quantify", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    const char *out = cli_opt(&a, "out", NULL);
    if (a.help || a.n_pos != 1 || !out || !cli_has(&a, "mask")) {
        cli_print_help(a.help ? stdout : stderr, "medtrain quantify IMAGE --mask NAME=FILE[@IDS] ... --out DIR",
                       "Body composition of CT slices (S3). IMAGE: a DICOM series folder, a DICOM file or a NIfTI\n"
                       "volume. Per slice and mask: area (pixels, cm^2 from the pixel spacing), HU mean, SD (n-1),\n"
                       "min, max; from the muscle mask SMA, SMA/Ht^2, SMA/Wt, SMA/BMI and their T-scores (flags at\n"
                       "T = -1 and -2). Height/weight/sex: DICOM tags, else --patients CSV, else the flags.\n"
                       "Writes DIR/quantify.csv and DIR/<stem>_z<K>_quant.png (docs/quantify.md).",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    qrun q;
    memset(&q, 0, sizeof q);
    q.a = &a;
    q.out = out;
    stem_of(a.pos[0], q.stem, sizeof q.stem);
    mt_status st = MT_OK;
    const char *names[MT_BODYCOMP_MAX_TISSUES];
    for (int i = 0; st == MT_OK && i < a.n_opt; i++) {
        if (strcmp(a.opt_name[i], "mask")) continue;
        if (q.n == MT_BODYCOMP_MAX_TISSUES) {
            fprintf(stderr, "medtrain quantify: at most %d --mask options\n", MT_BODYCOMP_MAX_TISSUES);
            return 2;
        }
        st = parse_mask(a.opt_value[i], &q.m[q.n]);
        names[q.n] = q.m[q.n].name;
        q.n++;
    }
    if (st != MT_OK) return cli_fail("quantify");
    if ((rc = muscle_index(&a, q.n, q.m, &q.c.sma_tissue)) != 0) return rc;
    q.c.n_tissues = q.n;
    q.c.tissue_names = names;
    q.level = 40, q.width = 400;
    if (cli_has(&a, "window") && (sscanf(cli_opt(&a, "window", ""), "%lf,%lf", &q.level, &q.width) != 2 || !(q.width > 0))) {
        fprintf(stderr, "medtrain quantify: --window '%s': expected level,width in HU (width > 0)\n",
                cli_opt(&a, "window", ""));
        return 2;
    }
    mt_sarc_reference ref;
    int usage = 0;
    st = quantify_run(&q, &ref, &usage);
    mt_volume_free(&q.img);
    for (int t = 0; t < q.n; t++) mt_volume_free(&q.m[t].vol), free(q.m[t].plane);
    if (usage) return 2;
    return st == MT_OK ? 0 : cli_fail("quantify");
}
