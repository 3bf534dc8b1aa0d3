/* data/import.c: `medtrain import` orchestration (see import.h). */
#include "import.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "dicom.h"
#include "idx.h"
#include "image_io.h"
#include "labels.h"
#include "nifti.h"
#include "preprocess.h"

/* ---------------------------------------------------------------- spec */

void mt_import_spec_init(mt_import_spec *s)
{
    memset(s, 0, sizeof *s);
    s->source = MT_IMPORT_IMAGES;
    s->plane = MT_PLANE_AXIAL;
    s->isotropic = 1;
    s->slice_first = s->slice_last = -1;
    s->reorient = -1; /* auto: on for single DICOM slices */
    s->roi_margin = 0.1;
    s->val_frac = 0.15;
    s->test_frac = 0.15;
}

static mt_status parse_double(const char *key, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    while (*end == ' ') end++;
    if (end == v || *end || errno) return MT_ERR(MT_ERR_INVALID, "import spec: %s = \"%s\" is not a number", key, v);
    *out = x;
    return MT_OK;
}

static mt_status parse_int(const char *key, const char *v, int *out)
{
    double x;
    MT_TRY(parse_double(key, v, &x));
    if (x != floor(x) || fabs(x) > 1e9) return MT_ERR(MT_ERR_INVALID, "import spec: %s = \"%s\" is not an integer", key, v);
    *out = (int)x;
    return MT_OK;
}

/* Splits "a,b,c" into list[*n...] (appending); errors on overflow or empty items. */
static mt_status parse_list(const char *key, const char *v, char (*list)[MT_IMPORT_NAME], int *n)
{
    const char *p = v;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        if (!len || len >= MT_IMPORT_NAME)
            return MT_ERR(MT_ERR_INVALID, "import spec: %s = \"%s\": empty or over-long item", key, v);
        if (*n >= MT_IMPORT_MAX) return MT_ERR(MT_ERR_INVALID, "import spec: %s: more than %d items", key, MT_IMPORT_MAX);
        memcpy(list[*n], p, len);
        list[*n][len] = '\0';
        (*n)++;
        if (!e) break;
        p = e + 1;
    }
    return MT_OK;
}

static mt_status set_path(const char *key, const char *v, char *dst)
{
    if (strlen(v) >= MT_IMPORT_PATH) return MT_ERR(MT_ERR_INVALID, "import spec: %s: path too long", key);
    strcpy(dst, v);
    return MT_OK;
}

static mt_status parse_pair(const char *key, const char *v, char sep, double *a, double *b)
{
    const char *c = strchr(v, sep);
    if (!c) return MT_ERR(MT_ERR_INVALID, "import spec: %s = \"%s\": expected two numbers separated by '%c'", key, v, sep);
    char first[64];
    size_t len = (size_t)(c - v);
    if (len >= sizeof first) return MT_ERR(MT_ERR_INVALID, "import spec: %s = \"%s\" is malformed", key, v);
    memcpy(first, v, len);
    first[len] = '\0';
    MT_TRY(parse_double(key, first, a));
    return parse_double(key, c + 1, b);
}

mt_status mt_import_spec_set(mt_import_spec *s, const char *key, const char *v)
{
    MT_REQUIRE(s && key && v, "mt_import_spec_set: NULL argument");
    if (!strcmp(key, "source")) {
        static const char *names[] = {"dicom", "dicom-series", "nifti", "images", "idx"};
        for (int i = 0; i < 5; i++)
            if (!strcmp(v, names[i])) return s->source = (mt_import_source)i, MT_OK;
        return MT_ERR(MT_ERR_INVALID, "import spec: source = \"%s\" (dicom, dicom-series, nifti, images or idx)", v);
    }
    if (!strcmp(key, "input")) {
        if (s->n_inputs >= MT_IMPORT_MAX) return MT_ERR(MT_ERR_INVALID, "import spec: more than %d inputs", MT_IMPORT_MAX);
        return set_path(key, v, s->inputs[s->n_inputs++]);
    }
    if (!strcmp(key, "mask")) {
        if (s->n_masks >= MT_IMPORT_MAX) return MT_ERR(MT_ERR_INVALID, "import spec: more than %d masks", MT_IMPORT_MAX);
        return set_path(key, v, s->masks[s->n_masks++]);
    }
    if (!strcmp(key, "output")) return set_path(key, v, s->output);
    if (!strcmp(key, "labels_csv")) return set_path(key, v, s->labels_csv);
    if (!strcmp(key, "mias_info")) return set_path(key, v, s->mias_info);
    if (!strcmp(key, "labelme_dir")) return set_path(key, v, s->labelme_dir);
    if (!strcmp(key, "mask_dir")) return set_path(key, v, s->mask_dir);
    if (!strcmp(key, "description")) return set_path(key, v, s->description);
    if (!strcmp(key, "idx_labels")) return set_path(key, v, s->idx_labels);
    if (!strcmp(key, "test_input")) return set_path(key, v, s->test_input);
    if (!strcmp(key, "test_labels")) return set_path(key, v, s->test_labels);
    if (!strcmp(key, "patient_id")) {
        if (strlen(v) >= MT_META_STR) return MT_ERR(MT_ERR_INVALID, "import spec: patient_id too long");
        strcpy(s->patient_id, v);
        return MT_OK;
    }
    if (!strcmp(key, "csv_key") || !strcmp(key, "csv_label")) {
        if (strlen(v) >= MT_IMPORT_NAME) return MT_ERR(MT_ERR_INVALID, "import spec: %s too long", key);
        strcpy(key[4] == 'k' ? s->csv_key : s->csv_label, v);
        return MT_OK;
    }
    if (!strcmp(key, "plane")) return mt_plane_parse(v, &s->plane);
    if (!strcmp(key, "recon")) {
        char items[MT_IMPORT_MAX][MT_IMPORT_NAME];
        int n = 0;
        MT_TRY(parse_list(key, v, items, &n));
        if (n > 3) return MT_ERR(MT_ERR_INVALID, "import spec: recon = \"%s\": at most 3 of mip,aip,mid", v);
        for (int i = 0; i < n; i++) MT_TRY(mt_recon_kind_parse(items[i], &s->recon[i]));
        s->n_recon = n;
        return MT_OK;
    }
    if (!strcmp(key, "mask_names")) return s->n_mask_names = 0, parse_list(key, v, s->mask_names, &s->n_mask_names);
    if (!strcmp(key, "classes")) return s->n_classes = 0, parse_list(key, v, s->classes, &s->n_classes);
    if (!strcmp(key, "points")) return s->n_points = 0, parse_list(key, v, s->points, &s->n_points);
    if (!strcmp(key, "box_points")) {
        int n = 0;
        char items[MT_IMPORT_MAX][MT_IMPORT_NAME];
        MT_TRY(parse_list(key, v, items, &n));
        if (n != 2) return MT_ERR(MT_ERR_INVALID, "import spec: box_points = \"%s\": give two point labels A,B", v);
        memcpy(s->box_names, items, sizeof s->box_names); /* resolved against `points` in mt_import_run */
        return MT_OK;
    }
    if (!strcmp(key, "box_offsets")) {
        double o[4];
        int n = sscanf(v, "%lf,%lf,%lf,%lf", &o[0], &o[1], &o[2], &o[3]);
        if (n != 4 || !(o[0] < o[2]) || !(o[1] < o[3]))
            return MT_ERR(MT_ERR_INVALID, "import spec: box_offsets = \"%s\": give x0,y0,x1,y1 with x0 < x1 and y0 < y1", v);
        memcpy(s->box_offsets, o, sizeof o);
        return MT_OK;
    }
    if (!strcmp(key, "box_class")) return parse_int(key, v, &s->box_class);
    if (!strcmp(key, "isotropic")) return parse_int(key, v, &s->isotropic);
    if (!strcmp(key, "isotropic_mm")) {
        double mm;
        MT_TRY(parse_double(key, v, &mm));
        MT_REQUIRE(mm >= 0, "import spec: isotropic_mm = %s must be >= 0 (0 = smallest spacing)", v);
        return s->isotropic_mm = mm, MT_OK;
    }
    if (!strcmp(key, "mask_classes")) return parse_int(key, v, &s->mask_classes);
    if (!strcmp(key, "roi_crop")) return parse_int(key, v, &s->roi_crop);
    if (!strcmp(key, "reorient")) {
        if (!strcmp(v, "auto")) return s->reorient = -1, MT_OK;
        MT_TRY(parse_int(key, v, &s->reorient));
        MT_REQUIRE(s->reorient == 0 || s->reorient == 1, "import spec: reorient = \"%s\" (0, 1 or auto)", v);
        return MT_OK;
    }
    if (!strcmp(key, "pad_multiple")) return parse_int(key, v, &s->pad_multiple);
    if (!strcmp(key, "roi_margin")) return parse_double(key, v, &s->roi_margin);
    if (!strcmp(key, "val_frac")) return parse_double(key, v, &s->val_frac);
    if (!strcmp(key, "test_frac")) return s->test_frac_set = 1, parse_double(key, v, &s->test_frac);
    if (!strcmp(key, "seed")) {
        double x;
        MT_TRY(parse_double(key, v, &x));
        if (x < 0) return MT_ERR(MT_ERR_INVALID, "import spec: seed must be >= 0");
        s->seed = (uint64_t)x;
        return MT_OK;
    }
    if (!strcmp(key, "window")) return s->window = 1, parse_pair(key, v, ',', &s->level, &s->width);
    if (!strcmp(key, "scale")) return s->scale = 1, parse_pair(key, v, ',', &s->scale_lo, &s->scale_hi);
    if (!strcmp(key, "resize")) {
        double h, w;
        MT_TRY(parse_pair(key, v, 'x', &h, &w));
        if (h < 1 || w < 1 || h != floor(h) || w != floor(w))
            return MT_ERR(MT_ERR_INVALID, "import spec: resize = \"%s\": need HxW positive integers", v);
        s->resize_h = (int)h, s->resize_w = (int)w;
        return MT_OK;
    }
    if (!strcmp(key, "slices")) {
        double a, b;
        MT_TRY(parse_pair(key, v, ':', &a, &b));
        if (a < 0 || b < a) return MT_ERR(MT_ERR_INVALID, "import spec: slices = \"%s\": need first:last, 0 <= first <= last", v);
        s->slice_first = (int)a, s->slice_last = (int)b;
        return MT_OK;
    }
    if (!strcmp(key, "split_by")) {
        if (!strcmp(v, "patient")) return s->split_by_sample = 0, MT_OK;
        if (!strcmp(v, "sample")) return s->split_by_sample = 1, MT_OK;
        return MT_ERR(MT_ERR_INVALID, "import spec: split_by = \"%s\" (patient or sample)", v);
    }
    return MT_ERR(MT_ERR_INVALID, "import spec: unknown key \"%s\"", key);
}

/* ---------------------------------------------------------------- inputs */

typedef struct path_list {
    int n, cap;
    char **p;
} path_list;

static mt_status list_add(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **np = mt_realloc(l->p, sizeof(char *) * (size_t)cap);
        if (!np) return MT_ERR_NOMEM;
        l->p = np, l->cap = cap;
    }
    if (!(l->p[l->n] = mt_strdup(p))) return MT_ERR_NOMEM;
    l->n++;
    return MT_OK;
}

static void list_free(path_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->p[i]);
    free(l->p);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Adds `p` (a series folder for dicom-series, else: a file, or every file in a folder). */
static mt_status add_input(path_list *l, const char *p, int series)
{
    if (series || !is_dir(p)) {
        struct stat st;
        if (stat(p, &st) != 0) return MT_ERR(MT_ERR_IO, "import: input %s does not exist", p);
        return list_add(l, p);
    }
    DIR *d = opendir(p);
    if (!d) return MT_ERR(MT_ERR_IO, "import: cannot open input folder %s: %s", p, strerror(errno));
    mt_status s = MT_OK;
    char buf[MT_IMPORT_PATH + 256];
    for (struct dirent *e; s == MT_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(buf, sizeof buf, "%s/%s", p, e->d_name);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) s = list_add(l, buf);
    }
    closedir(d);
    return s;
}

static mt_status expand_inputs(const mt_import_spec *s, path_list *l)
{
    int series = s->source == MT_IMPORT_DICOM_SERIES;
    for (int i = 0; i < s->n_inputs; i++) {
        const char *in = s->inputs[i];
        struct stat st_in;
        /* an existing file or folder is taken literally (names may contain '[', '*', '?');
         * only a path that does not exist is expanded as a glob pattern */
        if (stat(in, &st_in) != 0 && strpbrk(in, "*?[")) {
            glob_t g;
            int r = glob(in, 0, NULL, &g);
            if (r == GLOB_NOMATCH) return MT_ERR(MT_ERR_IO, "import: input pattern %s matches no file", in);
            if (r != 0) return MT_ERR(MT_ERR_IO, "import: cannot expand input pattern %s", in);
            mt_status st = MT_OK;
            for (size_t k = 0; k < g.gl_pathc && st == MT_OK; k++) st = add_input(l, g.gl_pathv[k], series);
            globfree(&g);
            MT_TRY(st);
        } else {
            MT_TRY(add_input(l, in, series));
        }
    }
    if (!l->n) return MT_ERR(MT_ERR_INVALID, "import: no input files (set `input`)");
    qsort(l->p, (size_t)l->n, sizeof(char *), cmp_str);
    return MT_OK;
}

/* basename without folders ("a/b/mdb001.pgm" -> "mdb001.pgm"; trailing '/' ignored). */
static void base_name(const char *p, char *out, size_t cap)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && p[b - 1] != '/') b--;
    snprintf(out, cap, "%.*s", (int)(n - b), p + b);
}

/* file stem: basename without extension(s) ".nii.gz", ".xyz" */
static void stem_name(const char *p, char *out, size_t cap)
{
    base_name(p, out, cap);
    size_t n = strlen(out);
    if (n > 7 && !strcmp(out + n - 7, ".nii.gz")) out[n - 7] = '\0';
    else {
        char *dot = strrchr(out, '.');
        if (dot && dot != out) *dot = '\0';
    }
}

/* ---------------------------------------------------------------- labels */

typedef struct label_ctx {
    mt_label_table csv;
    mt_mias_table mias;
    int have_csv, have_mias;
    /* LabelMe: annotations read, hits per wanted point, distinct labels seen in them */
    int n_json, point_hits[MT_IMPORT_MAX], n_seen;
    char seen[256][MT_LABELME_NAME];
} label_ctx;

/* Mask image for `img_path` from spec->mask_dir -> s->mask ([K,H,W]). */
static mt_status attach_mask_image(const mt_import_spec *spec, const char *img_path, mt_sample *s)
{
    static const char *ext[] = {"png", "tif", "tiff", "pgm", "jpg", "jpeg", "bmp"};
    char stem[512], path[MT_IMPORT_PATH + 600] = "";
    stem_name(img_path, stem, sizeof stem);
    int found = 0;
    for (size_t i = 0; i < sizeof ext / sizeof *ext && !found; i++) {
        snprintf(path, sizeof path, "%s/%s.%s", spec->mask_dir, stem, ext[i]);
        found = access(path, R_OK) == 0;
    }
    if (!found)
        return MT_ERR(MT_ERR_IO, "%s: no mask for this image in %s (looked for %s.png/.tif/.pgm/.jpg)", img_path,
                      spec->mask_dir, stem);
    mt_sample m;
    mt_sample_init(&m);
    MT_TRY(mt_image_read(path, &m));
    if (m.h != s->h || m.w != s->w) {
        mt_status e = MT_ERR(MT_ERR_FORMAT, "%s: mask is %dx%d but image %s is %dx%d (wrong mask?)", path, m.w, m.h,
                             img_path, s->w, s->h);
        mt_sample_free(&m);
        return e;
    }
    int k = spec->mask_classes > 0 ? spec->mask_classes : 1;
    size_t hw = (size_t)s->h * s->w;
    s->mask = mt_calloc((size_t)k * hw, 1);
    if (!s->mask) {
        mt_sample_free(&m);
        return MT_ERR_NOMEM;
    }
    s->k = k;
    for (size_t i = 0; i < hw; i++) {
        int v = (int)lrintf(m.image[i]); /* first channel */
        if (spec->mask_classes <= 0) s->mask[i] = v != 0;
        else if (v >= 1 && v <= k) s->mask[(size_t)(v - 1) * hw + i] = 1;
        else if (v != 0) {
            mt_sample_free(&m);
            return MT_ERR(MT_ERR_FORMAT, "%s: mask value %d at pixel %zu is outside 0..%d (mask_classes)", path, v, i, k);
        }
    }
    mt_sample_free(&m);
    return MT_OK;
}

static mt_status attach_labels(const mt_import_spec *spec, label_ctx *lc, const char *path, mt_sample *s)
{
    char base[512], stem[512];
    base_name(path, base, sizeof base);
    stem_name(path, stem, sizeof stem);
    if (lc->have_csv) {
        if (spec->n_classes > 0) {
            const char *names[MT_IMPORT_MAX];
            for (int i = 0; i < spec->n_classes; i++) names[i] = spec->classes[i];
            mt_status st = mt_label_table_class(&lc->csv, base, names, spec->n_classes, &s->label);
            if (st) return mt_error_replace(st, __FILE__, __LINE__, "%s: %s", path, mt_last_error());
        } else {
            const char *v = mt_label_table_get(&lc->csv, base);
            char *end;
            long x = v ? strtol(v, &end, 10) : 0;
            if (!v) return MT_ERR(MT_ERR_FORMAT, "%s: missing label for \"%s\" in %s", path, base, spec->labels_csv);
            if (end == v || *end) return MT_ERR(MT_ERR_FORMAT, "%s: label \"%s\" in %s is not an integer (set `classes`)",
                                                path, v, spec->labels_csv);
            s->label = (int)x;
        }
    }
    if (lc->have_mias) {
        s->mask = mt_malloc((size_t)s->h * s->w);
        if (!s->mask) return MT_ERR_NOMEM;
        s->k = 1;
        int nc;
        mt_status st = mt_mias_mask(&lc->mias, stem, s->h, s->w, s->mask, &nc);
        if (st) return mt_error_replace(st, __FILE__, __LINE__, "%s: no label row for %s in %s", path, stem,
                                        spec->mias_info);
        MT_TRY(mt_mias_boxes(&lc->mias, stem, s->h, s->w, &s->boxes, &s->n_boxes));
        for (int i = 0; i < lc->mias.n; i++)
            if (!strcmp(lc->mias.rows[i].refnum, stem) && lc->mias.rows[i].severity)
                s->label = lc->mias.rows[i].severity == 'M' ? 1 : (s->label < 0 ? 0 : s->label);
        /* a woman's left/right films (mdb(2k-1), mdb(2k)) share a patient id, hence a split */
        if (!s->meta.patient_id[0] && mt_mias_woman(stem, s->meta.patient_id, sizeof s->meta.patient_id) != MT_OK)
            mt_error_clear(); /* not an mdbNNN name: grouped by its file */
    }
    if (spec->labelme_dir[0]) {
        char jp[MT_IMPORT_PATH + 600];
        snprintf(jp, sizeof jp, "%s/%s.json", spec->labelme_dir, stem);
        if (access(jp, R_OK) != 0) return MT_ERR(MT_ERR_IO, "%s: no LabelMe annotation %s", path, jp);
        const char *names[MT_IMPORT_MAX];
        for (int i = 0; i < spec->n_points; i++) names[i] = spec->points[i];
        s->points = mt_malloc(sizeof(float) * 2 * (size_t)(spec->n_points ? spec->n_points : 1));
        if (!s->points) return MT_ERR_NOMEM;
        s->n_points = spec->n_points;
        int found, ih, iw;
        MT_TRY(mt_labelme_read_points(jp, names, spec->n_points, s->points, &found, &ih, &iw));
        MT_TRY(mt_labelme_labels(jp, lc->seen, (int)(sizeof lc->seen / sizeof *lc->seen), &lc->n_seen));
        lc->n_json++;
        for (int i = 0; i < spec->n_points; i++) lc->point_hits[i] += !isnan(s->points[2 * i]);
        if ((ih > 0 && ih != s->h) || (iw > 0 && iw != s->w))
            return MT_ERR(MT_ERR_FORMAT, "%s: annotation is for a %dx%d image but %s is %dx%d", jp, iw, ih, path, s->w,
                          s->h);
    }
    if (spec->mask_dir[0]) MT_TRY(attach_mask_image(spec, path, s));
    return MT_OK;
}

/* Levenshtein distance of two short names (for "did you mean"). */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

/* After all LabelMe files were read: a `points` name found in none of them is a typo or a
 * wrong annotation set (a label missing in some files only stays NaN there). Refuses naming
 * the unknown names, the ones found, the labels the annotations do have, and the nearest. */
static mt_status check_points_exist(const mt_import_spec *spec, const label_ctx *lc)
{
    if (!spec->labelme_dir[0] || !lc->n_json) return MT_OK;
    char unknown[1024] = "", known[1024] = "", have[1024] = "", hint[1024] = "";
    size_t nu = 0, nk = 0, nh = 0, ni = 0;
#define CAT(buf, n, ...) \
    if (n < sizeof buf) n += (size_t)snprintf(buf + n, sizeof buf - n, __VA_ARGS__)
    for (int i = 0; i < spec->n_points; i++) {
        const char *p = spec->points[i];
        if (lc->point_hits[i]) {
            CAT(known, nk, "%s%s", nk ? "," : "", p);
            continue;
        }
        CAT(unknown, nu, "%s%s", nu ? "," : "", p);
        int best = -1, bd = 1 << 30;
        for (int k = 0; k < lc->n_seen; k++) {
            int d = edit_distance(p, lc->seen[k]);
            if (d < bd) bd = d, best = k;
        }
        if (best >= 0 && bd <= 2 && bd <= (int)strlen(p) / 2) CAT(hint, ni, "%s%s -> %s", ni ? ", " : "; did you mean ", p, lc->seen[best]);
    }
    if (!nu) return MT_OK;
    for (int k = 0; k < lc->n_seen; k++) CAT(have, nh, "%s%s", nh ? "," : "", lc->seen[k]);
#undef CAT
    return MT_ERR(MT_ERR_INVALID,
                  "import: points %s: no such label in any of the %d LabelMe annotations in %s (labelme_dir); "
                  "points found: %s; labels in the annotations: %s%s",
                  unknown, lc->n_json, spec->labelme_dir, nk ? known : "none", nh ? have : "none", hint);
}

/* ---------------------------------------------------------------- pre-processing */

/* box_points: one box anchored at point A, scaled by L = |B - A|, in the final pixel frame */
static int point_index(const mt_import_spec *spec, int which)
{
    for (int i = 0; i < spec->n_points; i++)
        if (!strcmp(spec->points[i], spec->box_names[which])) return i;
    return -1;
}

static mt_status add_keypoint_box(const mt_import_spec *spec, mt_sample *s)
{
    int ia = point_index(spec, 0), ib = point_index(spec, 1);
    MT_REQUIRE(ia >= 0 && ib >= 0 && s->points, "%s: box_points: the sample has no landmarks", s->meta.source);
    const float *a = s->points + 2 * ia, *b = s->points + 2 * ib;
    if (isnan(a[0]) || isnan(b[0]))
        return MT_ERR(MT_ERR_FORMAT, "%s: box_points: landmark %s is missing in its annotation", s->meta.source,
                      isnan(a[0]) ? spec->box_names[0] : spec->box_names[1]);
    double l = hypot((double)b[0] - a[0], (double)b[1] - a[1]);
    if (!(l > 0))
        return MT_ERR(MT_ERR_FORMAT, "%s: box_points: %s and %s coincide, the box has no size", s->meta.source,
                      spec->box_names[0], spec->box_names[1]);
    float q[5];
    for (int i = 0; i < 4; i++) {
        double v = (i % 2 ? a[1] : a[0]) + spec->box_offsets[i] * l, hi = i % 2 ? s->h - 1 : s->w - 1;
        q[i] = (float)(v < 0 ? 0 : v > hi ? hi : v);
    }
    q[4] = (float)spec->box_class;
    if (!(q[2] > q[0] && q[3] > q[1]))
        return MT_ERR(MT_ERR_FORMAT, "%s: box_points: the box lies outside the %dx%d image", s->meta.source, s->h, s->w);
    float *nb = realloc(s->boxes, sizeof(float) * 5 * (size_t)(s->n_boxes + 1));
    if (!nb) return MT_ERR_NOMEM;
    s->boxes = nb;
    memcpy(s->boxes + 5 * s->n_boxes++, q, sizeof q);
    return MT_OK;
}

static mt_status preprocess(const mt_import_spec *spec, mt_sample *s)
{
    size_t n = (size_t)s->c * s->h * s->w;
    if (spec->window) MT_TRY(mt_hu_window(s->image, n, spec->level, spec->width, 1));
    if (spec->scale) MT_TRY(mt_scale_range(s->image, n, spec->scale_lo, spec->scale_hi));
    if (spec->roi_crop) {
        float roi[4];
        int b[4];
        if (s->mask && s->k && mt_mask_bbox(s->mask, s->k, s->h, s->w, b) == MT_OK) {
            for (int i = 0; i < 4; i++) roi[i] = (float)b[i];
        } else if (s->n_boxes > 0) {
            roi[0] = roi[1] = INFINITY, roi[2] = roi[3] = -INFINITY;
            for (int i = 0; i < s->n_boxes; i++) {
                const float *q = s->boxes + 5 * i;
                roi[0] = fminf(roi[0], q[0]), roi[1] = fminf(roi[1], q[1]);
                roi[2] = fmaxf(roi[2], q[2]), roi[3] = fmaxf(roi[3], q[3]);
            }
        } else if (s->n_points > 0) {
            int idx[MT_IMPORT_MAX], m = 0;
            for (int i = 0; i < s->n_points; i++)
                if (!isnan(s->points[2 * i])) idx[m++] = i;
            if (!m) return MT_ERR(MT_ERR_FORMAT, "%s: roi_crop: no points to crop around", s->meta.source);
            MT_TRY(mt_box_from_points(s->points, idx, m, 0.0, s->h, s->w, roi));
        } else {
            mt_error_clear();
            return MT_ERR(MT_ERR_FORMAT, "%s: roi_crop: the sample has no mask, boxes or points to crop around",
                          s->meta.source);
        }
        mt_error_clear(); /* an empty-mask probe above is not an error */
        MT_TRY(mt_sample_crop_roi(s, roi, spec->roi_margin));
    }
    if (spec->resize_h > 0) MT_TRY(mt_sample_resize(s, spec->resize_h, spec->resize_w));
    if (spec->pad_multiple > 1) MT_TRY(mt_sample_pad_multiple(s, spec->pad_multiple, 0.0f));
    if (spec->box_names[0][0]) MT_TRY(add_keypoint_box(spec, s));
    return MT_OK;
}

static void describe_preprocess(const mt_import_spec *s, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "source=%s", (const char *[]){"dicom", "dicom-series", "nifti", "images", "idx"}[s->source]);
#define ADD(...) \
    if (n >= 0 && (size_t)n < cap) n += snprintf(buf + n, cap - (size_t)n, __VA_ARGS__)
    if (s->source == MT_IMPORT_NIFTI || s->source == MT_IMPORT_DICOM_SERIES) {
        ADD("; plane=%s; reoriented to radiological display (patient right on image left, anterior/superior at top)",
            (const char *[]){"axial", "coronal", "sagittal"}[s->plane]);
        if (s->n_recon) ADD("; recon=%d channel(s) (mip/aip/mid), isotropic=%d (%g mm voxels, 0 = smallest spacing)", s->n_recon,
                          s->isotropic, s->isotropic_mm);
    }
    if (s->reorient == 1 || (s->reorient < 0 && s->source == MT_IMPORT_DICOM))
        ADD("; axial slices reoriented to the standard layout from Image Orientation (Patient)");
    if (s->window) ADD("; HU window level %g width %g, scaled to [0,1]", s->level, s->width);
    if (s->scale) ADD("; scaled (x-%g)/(%g-%g) clipped to [0,1]", s->scale_lo, s->scale_hi, s->scale_lo);
    if (s->mias_info[0]) ADD("; MIAS circles rasterised as masks (approximation of the mass outline)");
    if (s->roi_crop) ADD("; ROI crop margin %g", s->roi_margin);
    if (s->resize_h) ADD("; resize %dx%d (image bilinear, mask nearest)", s->resize_h, s->resize_w);
    if (s->pad_multiple > 1) ADD("; pad bottom/right to a multiple of %d", s->pad_multiple);
    if (s->box_names[0][0])
        ADD("; box from points %s,%s: A + [%g, %g, %g, %g] |B - A| (class %d)", s->box_names[0], s->box_names[1],
            s->box_offsets[0], s->box_offsets[1], s->box_offsets[2], s->box_offsets[3], s->box_class);
    if (s->test_input[0]) ADD("; test split = %s", s->test_input);
    ADD("; split_by=%s", s->split_by_sample || s->source == MT_IMPORT_IDX ? "sample" : "patient");
#undef ADD
}

/* ---------------------------------------------------------------- writing */

typedef struct writer_ctx {
    mt_dataset_writer *w;
    char preprocess[2048];
    const char *channel_names[3];
    int n_channel_names;
} writer_ctx;

static mt_status emit(const mt_import_spec *spec, writer_ctx *wc, mt_sample *s, mt_import_result *res)
{
    if (spec->reorient == 1 || (spec->reorient < 0 && spec->source == MT_IMPORT_DICOM)) {
        int changed = 0;
        MT_TRY(mt_sample_reorient_axial(s, spec->reorient == 1, &changed));
        res->n_reoriented += changed;
    }
    MT_TRY(preprocess(spec, s));
    if (!wc->w) {
        mt_dataset_spec ds = {s->c, s->h, s->w, s->k, s->n_points, spec->description, wc->preprocess};
        MT_TRY(mt_dataset_writer_open(spec->output, &ds, &wc->w));
        if (spec->split_by_sample || spec->source == MT_IMPORT_IDX)
            MT_TRY(mt_dataset_writer_set_split_by_sample(wc->w, 1));
        if (spec->n_classes) {
            const char *names[MT_IMPORT_MAX];
            for (int i = 0; i < spec->n_classes; i++) names[i] = spec->classes[i];
            MT_TRY(mt_dataset_writer_set_names(wc->w, "class_names", names, spec->n_classes));
        }
        if (spec->n_points > 0) {
            const char *names[MT_IMPORT_MAX];
            for (int i = 0; i < spec->n_points; i++) names[i] = spec->points[i];
            MT_TRY(mt_dataset_writer_set_names(wc->w, "point_names", names, spec->n_points));
        }
        if (s->k > 0) {
            const char *names[MT_IMPORT_MAX];
            char gen[MT_IMPORT_MAX][16];
            for (int i = 0; i < s->k && i < MT_IMPORT_MAX; i++) {
                if (i < spec->n_mask_names) names[i] = spec->mask_names[i];
                else if (spec->mias_info[0] && s->k == 1) names[i] = "mass";
                else snprintf(gen[i], sizeof gen[i], "mask%d", i), names[i] = gen[i];
            }
            MT_TRY(mt_dataset_writer_set_names(wc->w, "mask_names", names, s->k < MT_IMPORT_MAX ? s->k : MT_IMPORT_MAX));
        }
        if (wc->n_channel_names) MT_TRY(mt_dataset_writer_set_names(wc->w, "channel_names", wc->channel_names,
                                                                   wc->n_channel_names));
        res->c = s->c, res->h = s->h, res->w = s->w, res->k = s->k, res->n_points = s->n_points;
    }
    if (spec->patient_id[0]) snprintf(s->meta.patient_id, sizeof s->meta.patient_id, "%s", spec->patient_id);
    if (!s->meta.patient_id[0]) res->n_no_patient_id++; /* grouped by its source file for the split */
    MT_TRY(mt_dataset_writer_add(wc->w, s));
    res->n_samples++;
    return MT_OK;
}

/* Reads a volume input (NIfTI file or DICOM series folder), reoriented. A .nii / .nii.gz file
 * given to source dicom-series is read as NIfTI, so one dataset can mix both (S2's volumes). */
static mt_status read_volume(const mt_import_spec *spec, const char *path, mt_volume *v)
{
    size_t n = strlen(path);
    int nifti = spec->source == MT_IMPORT_NIFTI ||
                (!is_dir(path) && ((n > 4 && !strcmp(path + n - 4, ".nii")) || (n > 7 && !strcmp(path + n - 7, ".nii.gz"))));
    MT_TRY(nifti ? mt_nifti_read(path, v) : mt_dicom_read_series(path, v));
    mt_status st = mt_volume_reorient(v);
    if (st) mt_volume_free(v);
    return st;
}

/* A mask volume is inside where > 0.5: one with non-zero values but none above 0.5 would import as
 * all background, so it is refused (almost surely a probability map, e.g. 0.5 everywhere). */
static mt_status check_mask_volume(const char *path, const mt_volume *v)
{
    size_t n = (size_t)v->nx * v->ny * v->nz, nonzero = 0;
    float hi = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float x = v->data[i];
        if (!isfinite(x))
            return MT_ERR(MT_ERR_FORMAT, "%s: mask volume holds %g at voxel %zu; a mask must be finite", path,
                          (double)x, i);
        if (x > 0.5f) return MT_OK;
        if (x != 0.0f) nonzero++, hi = x > hi ? x : hi;
    }
    if (nonzero)
        return MT_ERR(MT_ERR_FORMAT, "%s: mask volume has %zu non-zero voxels but none above the threshold 0.5 "
                      "(largest %g), so it would import as empty; this looks like a probability map: threshold "
                      "it into a 0/1 mask first", path, nonzero, (double)hi);
    return MT_OK;
}

static mt_status import_volume(const mt_import_spec *spec, writer_ctx *wc, label_ctx *lc, const char *path,
                               mt_import_result *res)
{
    mt_volume vol, masks[MT_IMPORT_MAX];
    memset(masks, 0, sizeof masks);
    mt_sample s;
    mt_sample_init(&s);
    MT_TRY(read_volume(spec, path, &vol));
    mt_status st = MT_OK;
    char stem[512];
    stem_name(path, stem, sizeof stem);
    if (!vol.meta.patient_id[0]) snprintf(vol.meta.patient_id, sizeof vol.meta.patient_id, "%.200s", stem);
    for (int m = 0; m < spec->n_masks && st == MT_OK; m++) {
        if ((st = mt_nifti_read(spec->masks[m], &masks[m])) || (st = mt_volume_reorient(&masks[m]))) break;
        if ((st = check_mask_volume(spec->masks[m], &masks[m]))) break;
        const mt_volume *a = &vol, *b = &masks[m];
        int same = a->nx == b->nx && a->ny == b->ny && a->nz == b->nz;
        for (int i = 0; i < 3 && same; i++)
            same = fabs(a->meta.spacing[i] - b->meta.spacing[i]) < 1e-3 && fabs(a->meta.origin[i] - b->meta.origin[i]) < 0.5;
        if (!same)
            st = MT_ERR(MT_ERR_FORMAT, "%s: mask grid %dx%dx%d (spacing %.3g,%.3g,%.3g mm) does not match the volume %s "
                        "%dx%dx%d (%.3g,%.3g,%.3g mm) (wrong mask file?)", spec->masks[m], b->nx, b->ny, b->nz,
                        b->meta.spacing[0], b->meta.spacing[1], b->meta.spacing[2], path, a->nx, a->ny, a->nz,
                        a->meta.spacing[0], a->meta.spacing[1], a->meta.spacing[2]);
    }
    if (st == MT_OK && spec->n_recon > 0) {
        mt_sample r;
        mt_sample_init(&r);
        if (spec->isotropic) { /* cubic voxels first, then the projections (papers.md S2) */
            mt_volume iso;
            if ((st = mt_volume_resample_isotropic(&vol, spec->isotropic_mm, &iso)) == MT_OK) {
                mt_volume_free(&vol);
                vol = iso;
            }
        }
        for (int i = 0; i < spec->n_recon && st == MT_OK; i++) {
            if ((st = mt_recon(&vol, spec->plane, spec->recon[i], &r))) break;
            if (i == 0) {
                s.image = mt_malloc(sizeof(float) * (size_t)spec->n_recon * r.h * r.w);
                if (!s.image) st = MT_ERR_NOMEM;
                s.c = spec->n_recon, s.h = r.h, s.w = r.w, s.meta = r.meta;
            }
            if (st == MT_OK) memcpy(s.image + (size_t)i * r.h * r.w, r.image, sizeof(float) * (size_t)r.h * r.w);
        }
        mt_sample_free(&r);
        if (st == MT_OK) st = attach_labels(spec, lc, path, &s);
        if (st == MT_OK) st = emit(spec, wc, &s, res);
        mt_sample_free(&s);
    } else if (st == MT_OK) {
        int depth = spec->plane == MT_PLANE_AXIAL ? vol.nz : spec->plane == MT_PLANE_CORONAL ? vol.ny : vol.nx;
        int first = spec->slice_first >= 0 ? spec->slice_first : 0;
        int last = spec->slice_last >= 0 ? spec->slice_last : depth - 1;
        if (last >= depth)
            st = MT_ERR(MT_ERR_INVALID, "%s: slices %d:%d but the volume has %d along the chosen plane", path, first,
                        last, depth);
        for (int z = first; st == MT_OK && z <= last; z++) {
            if ((st = mt_volume_slice(&vol, spec->plane, z, &s))) break;
            if (spec->n_masks) {
                size_t hw = (size_t)s.h * s.w;
                s.mask = mt_malloc((size_t)spec->n_masks * hw);
                if (!s.mask) st = MT_ERR_NOMEM;
                s.k = spec->n_masks;
                mt_sample ms;
                mt_sample_init(&ms);
                for (int m = 0; m < spec->n_masks && st == MT_OK; m++) {
                    if ((st = mt_volume_slice(&masks[m], spec->plane, z, &ms))) break;
                    for (size_t i = 0; i < hw; i++) s.mask[(size_t)m * hw + i] = ms.image[i] > 0.5f;
                }
                mt_sample_free(&ms);
            }
            snprintf(s.meta.source, sizeof s.meta.source, "%.990s#%s%d", path,
                     (const char *[]){"z", "y", "x"}[spec->plane], z); /* which slice it came from */
            if (st == MT_OK) st = attach_labels(spec, lc, path, &s);
            if (st == MT_OK) st = emit(spec, wc, &s, res);
            mt_sample_free(&s);
        }
    }
    mt_volume_free(&vol);
    for (int m = 0; m < spec->n_masks; m++) mt_volume_free(&masks[m]);
    return st;
}

/* ---------------------------------------------------------------- idx */

/* Reads one IDX images/labels pair and checks it: images [N, rows, cols], labels [N] of an
 * integer dtype, each in [0, n_classes) (or >= 0 without `classes`). */
static mt_status idx_read_pair(const mt_import_spec *spec, const char *img_path, const char *lab_path, mt_idx *img,
                               mt_idx *lab)
{
    MT_TRY(mt_idx_read(img_path, img));
    if (img->ndim != 3 || img->dims[1] < 1 || img->dims[2] < 1)
        return MT_ERR(MT_ERR_FORMAT, "%s: IDX images must be [N, rows, cols] (idx3) with rows, cols > 0; this file has "
                      "%d dimensions", img_path, img->ndim);
    MT_TRY(mt_idx_read(lab_path, lab));
    if (lab->ndim != 1)
        return MT_ERR(MT_ERR_FORMAT, "%s: IDX labels must be one-dimensional [N] (idx1); this file has %d dimensions",
                      lab_path, lab->ndim);
    if (lab->dtype == MT_IDX_F32 || lab->dtype == MT_IDX_F64)
        return MT_ERR(MT_ERR_FORMAT, "%s: IDX labels must be integers; this file holds %s", lab_path,
                      mt_idx_dtype_name(lab->dtype));
    if (lab->dims[0] != img->dims[0])
        return MT_ERR(MT_ERR_FORMAT, "%s: %lld labels but %s has %lld images", lab_path, (long long)lab->dims[0],
                      img_path, (long long)img->dims[0]);
    for (size_t i = 0; i < lab->count; i++) {
        double v = mt_idx_get(lab, i);
        if (v < 0 || (spec->n_classes > 0 && v >= spec->n_classes))
            return spec->n_classes > 0
                       ? MT_ERR(MT_ERR_FORMAT, "%s: label %g of item %zu is outside 0..%d (%d names in `classes`)",
                                lab_path, v, i, spec->n_classes - 1, spec->n_classes)
                       : MT_ERR(MT_ERR_FORMAT, "%s: label %g of item %zu is negative", lab_path, v, i);
    }
    return MT_OK;
}

/* Writes the items of one checked pair as samples [1, rows, cols] (grey levels as stored, then
 * pre-processing); `split` non-NULL fixes their split. */
static mt_status idx_emit_pair(const mt_import_spec *spec, writer_ctx *wc, const char *img_path, const mt_idx *img,
                               const mt_idx *lab, const char *split, long *done, long total, mt_import_result *res)
{
    int h = (int)img->dims[1], w = (int)img->dims[2];
    size_t hw = (size_t)h * w;
    char base[512];
    base_name(img_path, base, sizeof base);
    for (long i = 0; i < (long)img->dims[0]; i++) {
        mt_sample s;
        mt_sample_init(&s);
        s.image = mt_malloc(sizeof(float) * hw);
        if (!s.image) return MT_ERR_NOMEM;
        s.c = 1, s.h = h, s.w = w;
        for (size_t j = 0; j < hw; j++) s.image[j] = (float)mt_idx_get(img, (size_t)i * hw + j);
        s.label = (int)mt_idx_get(lab, (size_t)i);
        snprintf(s.meta.source, sizeof s.meta.source, "%.900s#%ld", base, i);
        mt_status st = emit(spec, wc, &s, res);
        mt_sample_free(&s);
        if (st == MT_OK && split) st = mt_dataset_writer_set_split(wc->w, mt_dataset_writer_count(wc->w) - 1, split);
        MT_TRY(st);
        ++*done;
        if (spec->progress && (*done % 1000 == 0 || *done == total)) spec->progress(spec->progress_user, *done, total);
    }
    return MT_OK;
}

/* source idx: the input pair (train/val by val_frac) and the optional test pair (split "test"). */
static mt_status import_idx(const mt_import_spec *spec, writer_ctx *wc, mt_import_result *res)
{
    const char *img_path = spec->inputs[0];
    mt_idx img[2], lab[2];
    memset(img, 0, sizeof img);
    memset(lab, 0, sizeof lab);
    mt_status st = idx_read_pair(spec, img_path, spec->idx_labels, &img[0], &lab[0]);
    if (st == MT_OK && spec->test_input[0]) {
        st = idx_read_pair(spec, spec->test_input, spec->test_labels, &img[1], &lab[1]);
        if (st == MT_OK && (img[1].dims[1] != img[0].dims[1] || img[1].dims[2] != img[0].dims[2]))
            st = MT_ERR(MT_ERR_FORMAT, "%s: test images are %lldx%lld but %s has %lldx%lld", spec->test_input,
                        (long long)img[1].dims[1], (long long)img[1].dims[2], img_path, (long long)img[0].dims[1],
                        (long long)img[0].dims[2]);
    }
    long done = 0, total = (long)(img[0].dims[0] + img[1].dims[0]);
    if (st == MT_OK) st = idx_emit_pair(spec, wc, img_path, &img[0], &lab[0], NULL, &done, total, res);
    if (st == MT_OK && spec->test_input[0])
        st = idx_emit_pair(spec, wc, spec->test_input, &img[1], &lab[1], "test", &done, total, res);
    res->n_files = spec->test_input[0] ? 4 : 2;
    for (int k = 0; k < 2; k++) {
        mt_idx_free(&img[k]);
        mt_idx_free(&lab[k]);
    }
    return st;
}

mt_status mt_import_run(const mt_import_spec *spec, mt_import_result *res)
{
    MT_REQUIRE(spec && res, "mt_import_run: NULL argument");
    memset(res, 0, sizeof *res);
    MT_REQUIRE(spec->output[0], "import: no output dataset path (set `output`)");
    MT_REQUIRE(!spec->n_masks || spec->source == MT_IMPORT_NIFTI || spec->source == MT_IMPORT_DICOM_SERIES,
               "import: `mask` (NIfTI masks) needs source nifti or dicom-series; use mask_dir for images");
    MT_REQUIRE(!spec->labels_csv[0] || (spec->csv_key[0] && spec->csv_label[0]),
               "import: labels_csv needs csv_key and csv_label");
    MT_REQUIRE(!spec->labelme_dir[0] || spec->n_points > 0, "import: labelme_dir needs `points` (the labels to keep)");
    if (spec->box_names[0][0]) {
        MT_REQUIRE(point_index(spec, 0) >= 0 && point_index(spec, 1) >= 0, "import: box_points %s,%s must both be listed in `points` (%d given)",
                   spec->box_names[0], spec->box_names[1], spec->n_points);
        MT_REQUIRE(spec->box_offsets[0] < spec->box_offsets[2] && spec->box_offsets[1] < spec->box_offsets[3],
                   "import: box_points needs box_offsets x0,y0,x1,y1 (in units of |B - A|, e.g. -0.15,-0.12,0.45,0.48)");
    }
    int is_vol = spec->source == MT_IMPORT_NIFTI || spec->source == MT_IMPORT_DICOM_SERIES;
    MT_REQUIRE(spec->reorient != 1 || spec->source == MT_IMPORT_DICOM,
               "import: reorient applies to source dicom (single slices; volumes are always reoriented)");
    MT_REQUIRE(!is_vol || !(spec->mias_info[0] || spec->labelme_dir[0] || spec->mask_dir[0]),
               "import: mias_info / labelme_dir / mask_dir apply to 2D sources (dicom, images)");
    MT_REQUIRE(!spec->n_recon || !spec->n_masks, "import: `recon` samples cannot carry slice masks");
    int is_idx = spec->source == MT_IMPORT_IDX;
    MT_REQUIRE(is_idx || !(spec->idx_labels[0] || spec->test_input[0] || spec->test_labels[0]),
               "import: idx_labels / test_input / test_labels need source idx");
    MT_REQUIRE(!is_idx || (spec->n_inputs == 1 && spec->idx_labels[0]),
               "import: source idx needs one `input` (images idx3 file) and `idx_labels` (labels idx1 file)");
    MT_REQUIRE(!spec->test_input[0] == !spec->test_labels[0], "import: test_input and test_labels go together");
    MT_REQUIRE(!spec->test_input[0] || !spec->test_frac_set,
               "import: test_frac cannot be combined with test_input (the test split is that file)");
    MT_REQUIRE(!is_idx || !(spec->n_masks || spec->n_recon || spec->labels_csv[0] || spec->mias_info[0] ||
                            spec->labelme_dir[0] || spec->mask_dir[0] || spec->roi_crop),
               "import: source idx takes its labels from idx_labels (no masks, recon, CSV, MIAS, LabelMe or roi_crop)");
    label_ctx lc;
    memset(&lc, 0, sizeof lc);
    writer_ctx wc;
    memset(&wc, 0, sizeof wc);
    describe_preprocess(spec, wc.preprocess, sizeof wc.preprocess);
    static const char *recon_names[] = {"mip", "aip", "mid"};
    for (int i = 0; i < spec->n_recon; i++) wc.channel_names[wc.n_channel_names++] = recon_names[spec->recon[i]];
    path_list in = {0};
    mt_status st = is_idx ? import_idx(spec, &wc, res) : expand_inputs(spec, &in);
    if (st == MT_OK && spec->labels_csv[0]) {
        st = mt_labels_csv_read(spec->labels_csv, spec->csv_key, spec->csv_label, &lc.csv);
        lc.have_csv = st == MT_OK;
    }
    if (st == MT_OK && spec->mias_info[0]) {
        st = mt_mias_read(spec->mias_info, &lc.mias);
        lc.have_mias = st == MT_OK;
    }
    for (int i = 0; st == MT_OK && i < in.n; i++) {
        const char *p = in.p[i];
        if (is_vol) {
            st = import_volume(spec, &wc, &lc, p, res);
        } else {
            mt_sample s;
            mt_sample_init(&s);
            st = spec->source == MT_IMPORT_DICOM ? mt_dicom_read_slice(p, &s) : mt_image_read(p, &s);
            if (st == MT_OK) st = attach_labels(spec, &lc, p, &s);
            if (st == MT_OK) st = emit(spec, &wc, &s, res);
            mt_sample_free(&s);
        }
        res->n_files++;
        if (spec->progress) spec->progress(spec->progress_user, i + 1, in.n);
    }
    if (st == MT_OK && !wc.w) st = MT_ERR(MT_ERR_INVALID, "import: no samples were produced");
    if (st == MT_OK) st = check_points_exist(spec, &lc);
    if (wc.w) {
        mt_dataset_write_stats ws;
        if (st == MT_OK && (st = mt_dataset_writer_stats(wc.w, &ws)) == MT_OK)
            res->n_duplicates = ws.n_duplicates, res->n_mixed_label_patients = ws.n_mixed_label_patients;
        double test_frac = spec->test_input[0] ? 0.0 : spec->test_frac;
        mt_status cs = mt_dataset_writer_close(wc.w, st == MT_OK, spec->val_frac, test_frac, spec->seed);
        if (st == MT_OK) st = cs;
    }
    if (lc.have_csv) mt_label_table_free(&lc.csv);
    if (lc.have_mias) mt_mias_free(&lc.mias);
    list_free(&in);
    return st;
}
