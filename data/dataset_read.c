/* data/dataset_read.c: the reader of medtrain's HDF5 datasets (layout in data/dataset.h and
 * docs/dataset.md). Small per-sample arrays (labels, splits, boxes) are loaded at open; images,
 * masks, points and metadata are read per sample by hyperslab. All HDF5 calls hold
 * mt_dataset_h5_lock, so one handle can serve several loader threads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_h5.h"

struct mt_dataset {
    char *path;
    hid_t file, d_images, d_masks, d_points;
    hid_t m_source, m_patient, m_sex, m_age, m_height, m_weight, m_spacing, m_slice, m_origin, m_direction, m_pseudo;
    mt_dataset_spec spec;
    int n;
    int *labels;
    uint8_t *split;     /* 0 train, 1 val, 2 test, 3 none */
    float *boxes;       /* [B,6] sorted by sample */
    int *box_start;     /* n + 1 */
};

static hid_t open_opt(hid_t loc, const char *name)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    return H5Dopen2(loc, name, H5P_DEFAULT);
}

void mt_dataset_close(mt_dataset *d)
{
    if (!d) return;
    pthread_mutex_lock(&mt_dataset_h5_lock);
    hid_t ids[] = {d->d_images, d->d_masks, d->d_points, d->m_source, d->m_patient, d->m_sex, d->m_age,
                   d->m_height, d->m_weight, d->m_spacing, d->m_slice, d->m_origin, d->m_direction, d->m_pseudo, d->file};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) mt_dataset_h5_close(ids[i]);
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    free(d->labels);
    free(d->split);
    free(d->boxes);
    free(d->box_start);
    free(d->path);
    free(d);
}

/* Reads a whole 1-D/2-D dataset into buf (count elements of memtype); missing -> fill by caller. */
static mt_status read_full(hid_t d, hid_t memtype, void *buf, const char *path_)
{
    mt_status st = MT_OK;
    H5CHK(H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
fail:
    return st;
}

static int dims_of(hid_t d, hsize_t *dims, int maxrank)
{
    hid_t s = H5Dget_space(d);
    if (s < 0) return -1;
    int r = H5Sget_simple_extent_ndims(s);
    if (r > 0 && r <= maxrank) H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    return r;
}

static mt_status read_split(mt_dataset *d, const char *path_)
{
    mt_status st = MT_OK;
    hid_t ds = -1, t = -1;
    char **s = NULL;
    memset(d->split, 3, (size_t)d->n);
    if (H5Lexists(d->file, "meta/split", H5P_DEFAULT) <= 0) return MT_OK;
    H5CHK(ds = H5Dopen2(d->file, "meta/split", H5P_DEFAULT));
    hsize_t dims[1] = {0};
    if (dims_of(ds, dims, 1) != 1 || dims[0] != (hsize_t)d->n) { /* else H5Dread over- or under-fills the buffer */
        st = MT_ERR(MT_ERR_FORMAT, "dataset '%s': /meta/split has %llu entries for %d images; re-import it", path_,
                    (unsigned long long)dims[0], d->n);
        goto fail;
    }
    H5CHK(t = mt_dataset_h5_vlen_str());
    s = mt_calloc((size_t)d->n, sizeof *s);
    if (!s) {
        st = MT_ERR_NOMEM;
        goto fail;
    }
    H5CHK(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s));
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < 3; k++)
            if (s[i] && !strcmp(s[i], mt_dataset_split_names[k])) d->split[i] = (uint8_t)k;
    hid_t sp = H5Dget_space(ds);
    if (sp >= 0) {
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, s);
        H5Sclose(sp);
    }
fail:
    free(s);
    mt_dataset_h5_close(t);
    mt_dataset_h5_close(ds);
    return st;
}

/* Opens the file and /images (required, [N,C,H,W]), /masks and /points
 * (optional, matching N/H/W): the sample count and geometry. */
static mt_status load_geometry(mt_dataset *d)
{
    mt_status st = MT_OK;
    const char *path_ = d->path;
    hsize_t dims[4];
    H5CHK(d->file = H5Fopen(d->path, H5F_ACC_RDONLY, H5P_DEFAULT));
    if (H5Lexists(d->file, "images", H5P_DEFAULT) <= 0)
        return MT_ERR(MT_ERR_FORMAT, "%s: no /images dataset (not a medtrain dataset?)", d->path);
    H5CHK(d->d_images = H5Dopen2(d->file, "images", H5P_DEFAULT));
    if (dims_of(d->d_images, dims, 4) != 4)
        return MT_ERR(MT_ERR_FORMAT, "%s: /images must be 4-D [N,C,H,W]", d->path);
    if (!dims[0] || !dims[1] || !dims[2] || !dims[3]) /* checked before /masks, which would be blamed for it */
        return MT_ERR(MT_ERR_FORMAT, "%s: /images has shape [%llu,%llu,%llu,%llu] (N,C,H,W); every dimension must be "
                      "> 0 (empty or broken import? re-import it)", d->path, (unsigned long long)dims[0],
                      (unsigned long long)dims[1], (unsigned long long)dims[2], (unsigned long long)dims[3]);
    d->n = (int)dims[0];
    d->spec.c = (int)dims[1], d->spec.h = (int)dims[2], d->spec.w = (int)dims[3];
    d->d_masks = open_opt(d->file, "masks");
    if (d->d_masks >= 0) {
        hsize_t md[4] = {0, 0, 0, 0};
        int mr = dims_of(d->d_masks, md, 4);
        if (mr != 4 || md[0] != dims[0] || md[2] != dims[2] || md[3] != dims[3])
            return MT_ERR(MT_ERR_FORMAT, "%s: /masks has shape [%llu,%llu,%llu,%llu] (rank %d) but must be [N,K,H,W] "
                          "matching /images [%llu,%llu,%llu,%llu]", d->path, (unsigned long long)md[0],
                          (unsigned long long)md[1], (unsigned long long)md[2], (unsigned long long)md[3], mr,
                          (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2],
                          (unsigned long long)dims[3]);
        d->spec.k = (int)md[1];
    }
    d->d_points = open_opt(d->file, "points");
    if (d->d_points >= 0) {
        hsize_t pd[3];
        if (dims_of(d->d_points, pd, 3) != 3 || pd[0] != dims[0] || pd[2] != 2)
            return MT_ERR(MT_ERR_FORMAT, "%s: /points must be [N,P,2]", d->path);
        d->spec.n_points = (int)pd[1];
    }
    return MT_OK;
fail:
    return st;
}

/* /labels [N] into d->labels (-1 each when absent). */
static mt_status load_labels(mt_dataset *d)
{
    int n = d->n;
    hid_t dl = open_opt(d->file, "labels");
    if (dl < 0) {
        for (int i = 0; i < n; i++) d->labels[i] = -1;
        return MT_OK;
    }
    hsize_t ld[1];
    mt_status st = dims_of(dl, ld, 1) == 1 && ld[0] == (hsize_t)n
                       ? read_full(dl, H5T_NATIVE_INT, d->labels, d->path)
                       : MT_ERR(MT_ERR_FORMAT, "%s: /labels must be [N] = [%d]", d->path, n);
    H5Dclose(dl);
    return st;
}

/* The nb rows [sample, ...] of raw into d->boxes sorted by sample index
 * (counting sort, stable), with d->box_start[s] .. [s + 1] the rows of sample s. */
static mt_status sort_boxes(mt_dataset *d, const float *raw, hsize_t nb)
{
    int n = d->n;
    for (hsize_t b = 0; b < nb; b++) {
        int s = (int)raw[b * 6];
        if (s < 0 || s >= n || (float)s != raw[b * 6])
            return MT_ERR(MT_ERR_FORMAT, "%s: /boxes row %llu has sample index %g outside [0,%d)", d->path,
                          (unsigned long long)b, raw[b * 6], n);
        d->box_start[s + 1]++;
    }
    for (int i = 0; i < n; i++) d->box_start[i + 1] += d->box_start[i];
    int *fillp = mt_calloc((size_t)n + 1, sizeof(int));
    if (!fillp) return MT_ERR_NOMEM;
    for (hsize_t b = 0; b < nb; b++) {
        int s = (int)raw[b * 6];
        memcpy(d->boxes + 6 * (size_t)(d->box_start[s] + fillp[s]++), raw + 6 * b, 6 * sizeof(float));
    }
    free(fillp);
    return MT_OK;
}

/* /boxes [B,6] (optional) into d->boxes / d->box_start. */
static mt_status load_boxes(mt_dataset *d)
{
    hid_t dbx = open_opt(d->file, "boxes");
    if (dbx < 0) return MT_OK;
    hsize_t bd[2] = {0, 0};
    int r = dims_of(dbx, bd, 2);
    if (r != 2 || bd[1] != 6) {
        H5Dclose(dbx);
        return MT_ERR(MT_ERR_FORMAT, "%s: /boxes must be [B,6]", d->path);
    }
    float *raw = mt_malloc(sizeof(float) * 6 * (size_t)bd[0] + 4);
    d->boxes = mt_malloc(sizeof(float) * 6 * (size_t)bd[0] + 4);
    mt_status st = raw && d->boxes ? (bd[0] ? read_full(dbx, H5T_NATIVE_FLOAT, raw, d->path) : MT_OK) : MT_ERR_NOMEM;
    H5Dclose(dbx);
    if (st == MT_OK) st = sort_boxes(d, raw, bd[0]);
    free(raw);
    return st;
}

/* Handles of the per-sample /meta datasets (each -1 when absent). */
static void open_meta(mt_dataset *d)
{
    d->m_source = open_opt(d->file, "meta/source");
    d->m_patient = open_opt(d->file, "meta/patient_id");
    d->m_sex = open_opt(d->file, "meta/sex");
    d->m_age = open_opt(d->file, "meta/age_years");
    d->m_height = open_opt(d->file, "meta/height_m");
    d->m_weight = open_opt(d->file, "meta/weight_kg");
    d->m_spacing = open_opt(d->file, "meta/spacing");
    d->m_slice = open_opt(d->file, "meta/slice_position");
    d->m_origin = open_opt(d->file, "meta/origin");
    d->m_direction = open_opt(d->file, "meta/direction");
    d->m_pseudo = open_opt(d->file, "meta/pseudo_label"); /* only in pseudo-labelled datasets */
}

/* Refuses a file whose format_version is newer than this reader. */
static mt_status check_format_version(const mt_dataset *d)
{
    hid_t a = H5Aexists(d->file, "format_version") > 0 ? H5Aopen(d->file, "format_version", H5P_DEFAULT) : -1;
    if (a < 0) return MT_OK;
    int v = 0;
    herr_t e = H5Aread(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    if (e >= 0 && v > MT_DATASET_FORMAT_VERSION)
        return MT_ERR(MT_ERR_FORMAT, "%s: format_version %d is newer than this medtrain supports (%d)", d->path, v,
                      MT_DATASET_FORMAT_VERSION);
    return MT_OK;
}

static mt_status dataset_load(mt_dataset *d)
{
    MT_TRY(load_geometry(d));
    int n = d->n;
    d->labels = mt_malloc(sizeof(int) * (size_t)n + 4);
    d->split = mt_malloc((size_t)n + 4);
    d->box_start = mt_calloc((size_t)n + 1, sizeof(int));
    if (!d->labels || !d->split || !d->box_start) return MT_ERR_NOMEM;
    MT_TRY(load_labels(d));
    MT_TRY(load_boxes(d));
    MT_TRY(read_split(d, d->path));
    open_meta(d);
    return check_format_version(d);
}

mt_status mt_dataset_open(const char *path, mt_dataset **out)
{
    MT_REQUIRE(path && out, "mt_dataset_open: NULL argument");
    *out = NULL;
    if (access(path, R_OK) != 0) return MT_ERR(MT_ERR_IO, "cannot read dataset %s (missing or no permission)", path);
    mt_dataset *d = mt_calloc(1, sizeof *d);
    if (!d) return MT_ERR_NOMEM;
    d->file = d->d_images = d->d_masks = d->d_points = -1;
    d->m_source = d->m_patient = d->m_sex = d->m_age = d->m_height = d->m_weight = -1;
    d->m_spacing = d->m_slice = d->m_origin = d->m_direction = d->m_pseudo = -1;
    d->path = mt_strdup(path);
    if (!d->path) {
        free(d);
        return MT_ERR_NOMEM;
    }
    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_dataset_h5_quiet();
    mt_status st = dataset_load(d);
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    if (st != MT_OK) {
        mt_dataset_close(d);
        return st;
    }
    *out = d;
    return MT_OK;
}

int mt_dataset_size(const mt_dataset *d) { return d ? d->n : 0; }

void mt_dataset_geometry(const mt_dataset *d, mt_dataset_spec *spec)
{
    if (d && spec) *spec = d->spec;
}

int mt_dataset_label(const mt_dataset *d, int i) { return d && i >= 0 && i < d->n ? d->labels[i] : -1; }

/* Reads row i (count elements per row of the given rank) of dataset `ds` into buf. */
static mt_status read_row(hid_t ds, int rank, const hsize_t *row_dims, hsize_t i, hid_t memtype, void *buf,
                          const char *path_)
{
    mt_status st = MT_OK;
    hid_t fs = -1, ms = -1;
    hsize_t start[4] = {i, 0, 0, 0};
    H5CHK(fs = H5Dget_space(ds));
    H5CHK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, row_dims, NULL));
    H5CHK(ms = H5Screate_simple(rank, row_dims, NULL));
    H5CHK(H5Dread(ds, memtype, ms, fs, H5P_DEFAULT, buf));
fail:
    mt_dataset_h5_close(fs);
    mt_dataset_h5_close(ms);
    return st;
}

static mt_status read_str_row(hid_t ds, hsize_t i, char *dst, size_t len, const char *path_)
{
    if (ds < 0) return MT_OK;
    mt_status st = MT_OK;
    hid_t t = -1, ms = -1;
    char *s = NULL;
    hsize_t one = 1;
    H5CHK(t = mt_dataset_h5_vlen_str());
    st = read_row(ds, 1, &one, i, t, &s, path_);
    if (st == MT_OK) {
        snprintf(dst, len, "%s", s ? s : "");
        H5CHK(ms = H5Screate_simple(1, &one, NULL));
        H5Dvlen_reclaim(t, ms, H5P_DEFAULT, &s);
    }
fail:
    mt_dataset_h5_close(ms);
    mt_dataset_h5_close(t);
    return st;
}

static mt_status read_meta(mt_dataset *d, hsize_t i, mt_meta *m)
{
    const char *path_ = d->path;
    hsize_t one = 1, three[2] = {1, 3}, nine[2] = {1, 9};
    MT_TRY(read_str_row(d->m_source, i, m->source, sizeof m->source, path_));
    MT_TRY(read_str_row(d->m_patient, i, m->patient_id, sizeof m->patient_id, path_));
    MT_TRY(read_str_row(d->m_sex, i, m->sex, sizeof m->sex, path_));
    if (d->m_age >= 0) MT_TRY(read_row(d->m_age, 1, &one, i, H5T_NATIVE_FLOAT, &m->age_years, path_));
    if (d->m_height >= 0) MT_TRY(read_row(d->m_height, 1, &one, i, H5T_NATIVE_FLOAT, &m->height_m, path_));
    if (d->m_weight >= 0) MT_TRY(read_row(d->m_weight, 1, &one, i, H5T_NATIVE_FLOAT, &m->weight_kg, path_));
    if (d->m_slice >= 0) MT_TRY(read_row(d->m_slice, 1, &one, i, H5T_NATIVE_DOUBLE, &m->slice_position, path_));
    if (d->m_spacing >= 0) MT_TRY(read_row(d->m_spacing, 2, three, i, H5T_NATIVE_DOUBLE, m->spacing, path_));
    if (d->m_origin >= 0) MT_TRY(read_row(d->m_origin, 2, three, i, H5T_NATIVE_DOUBLE, m->origin, path_));
    if (d->m_direction >= 0) MT_TRY(read_row(d->m_direction, 2, nine, i, H5T_NATIVE_DOUBLE, m->direction, path_));
    if (d->m_pseudo >= 0) MT_TRY(read_row(d->m_pseudo, 1, &one, i, H5T_NATIVE_UINT8, &m->pseudo_label, path_));
    if (d->split[i] < 3) snprintf(m->split, sizeof m->split, "%s", mt_dataset_split_names[d->split[i]]);
    return MT_OK;
}

/* Image row i: every value finite (a NaN / Inf would poison the loss and every weight). */
static mt_status check_image_row(const mt_dataset *d, int i, const float *x)
{
    const mt_dataset_spec *sp = &d->spec;
    size_t hw = (size_t)sp->h * sp->w, n = (size_t)sp->c * hw;
    for (size_t j = 0; j < n; j++)
        if (!isfinite(x[j]))
            return MT_ERR(MT_ERR_FORMAT, "%s: /images sample %d holds %g at channel %d, y %d, x %d; images must be "
                          "finite (fix or drop that sample and re-import)", d->path, i, (double)x[j], (int)(j / hw),
                          (int)(j % hw / (size_t)sp->w), (int)(j % (size_t)sp->w));
    return MT_OK;
}

/* Mask row i, read as double whatever the stored type (so 7.5, 0.5, -1 or 200 are seen as stored,
 * not after a conversion to uint8), into s->mask: every value must be 0 or 1 (docs/dataset.md). */
static mt_status read_mask_row(mt_dataset *d, int i, mt_sample *s)
{
    const mt_dataset_spec *sp = &d->spec;
    size_t hw = (size_t)sp->h * sp->w, n = (size_t)sp->k * hw;
    double *buf = mt_malloc(sizeof(double) * n);
    if (!buf) return MT_ERR_NOMEM;
    hsize_t rm[4] = {1, (hsize_t)sp->k, (hsize_t)sp->h, (hsize_t)sp->w};
    mt_status st = read_row(d->d_masks, 4, rm, (hsize_t)i, H5T_NATIVE_DOUBLE, buf, d->path);
    for (size_t j = 0; st == MT_OK && j < n; j++) {
        if (buf[j] == 0.0 || buf[j] == 1.0) s->mask[j] = (uint8_t)buf[j];
        else
            st = MT_ERR(MT_ERR_FORMAT, "%s: /masks sample %d holds %g at mask %d, y %d, x %d; masks must be 0 or 1 "
                        "(a label map or probability map? binarise it and re-import)", d->path, i, buf[j],
                        (int)(j / hw), (int)(j % hw / (size_t)sp->w), (int)(j % (size_t)sp->w));
    }
    free(buf);
    return st;
}

static mt_status dataset_read_locked(mt_dataset *d, int i, mt_sample *s)
{
    const mt_dataset_spec *sp = &d->spec;
    hsize_t ri[4] = {1, (hsize_t)sp->c, (hsize_t)sp->h, (hsize_t)sp->w};
    MT_TRY(read_row(d->d_images, 4, ri, (hsize_t)i, H5T_NATIVE_FLOAT, s->image, d->path));
    MT_TRY(check_image_row(d, i, s->image));
    if (sp->k > 0) MT_TRY(read_mask_row(d, i, s));
    if (sp->n_points > 0) {
        hsize_t rp[3] = {1, (hsize_t)sp->n_points, 2};
        MT_TRY(read_row(d->d_points, 3, rp, (hsize_t)i, H5T_NATIVE_FLOAT, s->points, d->path));
    }
    return read_meta(d, (hsize_t)i, &s->meta);
}

mt_status mt_dataset_read(mt_dataset *d, int i, mt_sample *s)
{
    MT_REQUIRE(d && s, "mt_dataset_read: NULL argument");
    MT_REQUIRE(i >= 0 && i < d->n, "%s: sample index %d outside [0,%d)", d->path, i, d->n);
    const mt_dataset_spec *sp = &d->spec;
    mt_sample_init(s);
    s->c = sp->c, s->h = sp->h, s->w = sp->w, s->k = sp->k, s->n_points = sp->n_points;
    s->label = d->labels[i];
    s->n_boxes = d->box_start[i + 1] - d->box_start[i];
    s->image = mt_malloc(sizeof(float) * (size_t)sp->c * sp->h * sp->w);
    if (sp->k) s->mask = mt_malloc((size_t)sp->k * sp->h * sp->w);
    if (sp->n_points) s->points = mt_malloc(sizeof(float) * 2 * (size_t)sp->n_points);
    if (s->n_boxes) s->boxes = mt_malloc(sizeof(float) * 5 * (size_t)s->n_boxes);
    if (!s->image || (sp->k && !s->mask) || (sp->n_points && !s->points) || (s->n_boxes && !s->boxes)) {
        mt_sample_free(s);
        return MT_ERR_NOMEM;
    }
    for (int b = 0; b < s->n_boxes; b++)
        memcpy(s->boxes + 5 * b, d->boxes + 6 * (size_t)(d->box_start[i] + b) + 1, 5 * sizeof(float));
    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_dataset_h5_quiet();
    mt_status st = dataset_read_locked(d, i, s);
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    if (st != MT_OK) mt_sample_free(s);
    return st;
}

mt_status mt_dataset_split_indices(mt_dataset *d, const char *split, int **idx, int *n)
{
    MT_REQUIRE(d && split && idx && n, "mt_dataset_split_indices: NULL argument");
    int k = -1;
    for (int j = 0; j < 3; j++)
        if (!strcmp(split, mt_dataset_split_names[j])) k = j;
    MT_REQUIRE(k >= 0, "unknown split '%s' (expected train, val or test)", split);
    *idx = mt_malloc(sizeof(int) * (size_t)d->n + 4);
    if (!*idx) return MT_ERR_NOMEM;
    int c = 0;
    for (int i = 0; i < d->n; i++)
        if (d->split[i] == k) (*idx)[c++] = i;
    *n = c;
    return MT_OK;
}

void mt_dataset_free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names ? names[i] : NULL);
    free(names);
}

mt_status mt_dataset_names(mt_dataset *d, const char *which, char ***names, int *n)
{
    MT_REQUIRE(d && names && n, "mt_dataset_names: NULL argument");
    MT_REQUIRE(mt_dataset_name_kind(which) >= 0, "mt_dataset_names: '%s' is not channel_names, mask_names, class_names or point_names",
               which ? which : "(null)");
    *names = NULL;
    *n = 0;
    mt_status st = MT_OK;
    const char *path_ = d->path;
    hid_t a = -1, sp = -1, t = -1;
    char **raw = NULL;
    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_dataset_h5_quiet();
    if (H5Aexists(d->file, which) <= 0) goto fail;
    H5CHK(a = H5Aopen(d->file, which, H5P_DEFAULT));
    H5CHK(sp = H5Aget_space(a));
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    H5CHK(cnt);
    H5CHK(t = mt_dataset_h5_vlen_str());
    raw = mt_calloc((size_t)cnt + 1, sizeof *raw);
    char **copy = mt_calloc((size_t)cnt + 1, sizeof *copy);
    if (!raw || !copy) {
        free(copy);
        st = MT_ERR_NOMEM;
        goto fail;
    }
    if (H5Aread(a, t, raw) < 0) {
        free(copy);
        st = mt_dataset_h5_fail(__FILE__, __LINE__, path_, "H5Aread(names)");
        goto fail;
    }
    for (hssize_t i = 0; i < cnt; i++)
        if (!(copy[i] = mt_strdup(raw[i] ? raw[i] : ""))) st = MT_ERR_NOMEM;
    H5Dvlen_reclaim(t, sp, H5P_DEFAULT, raw);
    if (st != MT_OK) mt_dataset_free_names(copy, (int)cnt);
    else *names = copy, *n = (int)cnt;
fail:
    free(raw);
    mt_dataset_h5_close(t);
    mt_dataset_h5_close(sp);
    mt_dataset_h5_close(a);
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    return st;
}

int mt_dataset_box_count(const mt_dataset *d) { return d && d->box_start ? d->box_start[d->n] : 0; }

mt_status mt_dataset_attr_string(mt_dataset *d, const char *name, char **value)
{
    MT_REQUIRE(d && name && value, "mt_dataset_attr_string: NULL argument");
    *value = NULL;
    mt_status st = MT_OK;
    const char *path_ = d->path;
    hid_t a = -1, t = -1, ft = -1;
    char *raw = NULL;
    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_dataset_h5_quiet();
    if (H5Aexists(d->file, name) <= 0) goto fail;
    H5CHK(a = H5Aopen(d->file, name, H5P_DEFAULT));
    H5CHK(ft = H5Aget_type(a));
    if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0) {
        st = MT_ERR(MT_ERR_FORMAT, "%s: attribute '%s' is not a variable-length string", d->path, name);
        goto fail;
    }
    H5CHK(t = mt_dataset_h5_vlen_str());
    H5CHK(H5Aread(a, t, &raw));
    if (!(*value = mt_strdup(raw ? raw : ""))) st = MT_ERR_NOMEM;
    H5free_memory(raw);
fail:
    mt_dataset_h5_close(t);
    mt_dataset_h5_close(ft);
    mt_dataset_h5_close(a);
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    return st;
}

mt_status mt_dataset_read_meta(mt_dataset *d, int i, mt_meta *m)
{
    MT_REQUIRE(d && m, "mt_dataset_read_meta: NULL argument");
    MT_REQUIRE(i >= 0 && i < d->n, "%s: sample index %d outside [0,%d)", d->path, i, d->n);
    memset(m, 0, sizeof *m);
    m->age_years = m->height_m = m->weight_kg = -1;
    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_status st = read_meta(d, (hsize_t)i, m);
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    return st;
}

mt_status mt_dataset_duplicate_of(mt_dataset *d, int *dup_of)
{
    MT_REQUIRE(d && dup_of, "mt_dataset_duplicate_of: NULL argument");
    for (int i = 0; i < d->n; i++) dup_of[i] = -1;
    mt_status st = MT_OK;
    const char *path_ = d->path;
    hsize_t dims[2] = {0, 0};
    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_dataset_h5_quiet();
    hid_t ds = open_opt(d->file, "meta/duplicate_of");
    if (ds >= 0 && (dims_of(ds, dims, 1) != 1 || dims[0] != (hsize_t)d->n))
        st = MT_ERR(MT_ERR_FORMAT, "dataset '%s': /meta/duplicate_of has %llu entries for %d images; re-import it",
                    path_, (unsigned long long)dims[0], d->n);
    else if (ds >= 0) st = read_full(ds, H5T_NATIVE_INT, dup_of, path_);
    mt_dataset_h5_close(ds);
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    for (int i = 0; st == MT_OK && i < d->n; i++)
        if (dup_of[i] < -1 || dup_of[i] >= d->n || dup_of[i] == i)
            st = MT_ERR(MT_ERR_FORMAT, "dataset '%s': /meta/duplicate_of[%d] = %d is not a sample index; re-import it",
                        path_, i, dup_of[i]);
    return st;
}

const char *mt_dataset_path(const mt_dataset *d) { return d && d->path ? d->path : "(no dataset)"; }
