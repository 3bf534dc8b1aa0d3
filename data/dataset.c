/* data/dataset.c: the HDF5 dataset writer (layout in data/dataset.h and docs/dataset.md;
 * the reader is data/dataset_read.c) and the HDF5 helpers both share (dataset_h5.h).
 * HDF5 C API (libhdf5 1.10+); every H5 call is checked. Debian's libhdf5 is the serial
 * (non thread-safe) build, so all HDF5 calls of the dataset code run under one
 * process-wide mutex: concurrent loader workers and importers are safe.
 *
 * Writer: /images and /masks are extendible, chunked one sample per chunk
 * ([1,C,H,W]) with shuffle + deflate (gzip level 4) and written as samples arrive;
 * per-sample labels, points, boxes and metadata are kept in memory and written at
 * close. The file is created as "<path>.tmp-XXXXXX" in the target directory and renamed
 * onto <path> only after a successful commit (rename(2) is atomic on POSIX).
 */
#include "dataset_h5.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/rng.h"
#include "../core/file.h"

pthread_mutex_t mt_dataset_h5_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------ errors */

/* HDF5 error stack walk (outermost first): keeps the API function's message and the
 * innermost, most specific one (e.g. "file signature not found"). */
typedef struct h5_err_msgs { char outer[160], inner[160]; } h5_err_msgs;

static herr_t error_walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    h5_err_msgs *m = data;
    const char *desc = e->desc ? e->desc : "?";
    if (n == 0) snprintf(m->outer, sizeof m->outer, "%s (in %s)", desc, e->func_name ? e->func_name : "?");
    else snprintf(m->inner, sizeof m->inner, "%s", desc);
    return 0;
}

mt_status mt_dataset_h5_fail(const char *file, int line, const char *path, const char *what)
{
    h5_err_msgs m = {"unknown HDF5 error", ""};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, error_walk_cb, &m);
    H5Eclear2(H5E_DEFAULT);
    return mt_error_set(MT_ERR_IO, file, line, "%s: %s failed: %s%s%s", path ? path : "dataset", what, m.outer,
                        m.inner[0] ? ": " : "", m.inner);
}

void mt_dataset_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

void mt_dataset_h5_close(hid_t id)
{
    if (id < 0) return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

hid_t mt_dataset_h5_vlen_str(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}
/* ------------------------------------------------------------------ writer */

typedef struct meta_rec {
    char *source, *patient_id;
    char sex[8];
    float age_years, height_m, weight_kg;
    double spacing[3], slice_position, origin[3], direction[9];
    uint8_t fixed_split; /* 0: assigned at close; 1 + k: split k set by mt_dataset_writer_set_split */
    uint8_t pseudo_label; /* 1: the mask is a model's prediction */
    uint64_t pixel_hash;  /* FNV-1a of the stored image's bytes (duplicate detection) */
} meta_rec;

struct mt_dataset_writer {
    char *path, *tmp_path;
    mt_dataset_spec spec;
    char *description, *preprocess;
    hid_t file, d_images, d_masks;
    int n, cap;
    int *labels;
    float *points;   /* n * n_points * 2 */
    meta_rec *meta;
    float *boxes;    /* n_boxes * 6 */
    int n_boxes, cap_boxes;
    int split_by_sample;
    char **names[4];
    int n_names[4];
};

static const char *const k_name_attrs[4] = {"channel_names", "mask_names", "class_names", "point_names"};

static hid_t create_chunked(hid_t file, const char *name, hid_t type, int rank, const hsize_t *chunk,
                            int gzip, int shuffle)
{
    hsize_t dims[4], maxd[4];
    for (int i = 0; i < rank; i++) dims[i] = chunk[i], maxd[i] = chunk[i];
    dims[0] = 0;
    maxd[0] = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 &&
        (!shuffle || H5Pset_shuffle(dcpl) >= 0) && (!gzip || H5Pset_deflate(dcpl, 4) >= 0))
        d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    return d;
}

/* 64-bit FNV-1a of n bytes (Fowler-Noll-Vo): equal images hash equal; two different images
 * collide with probability about 2^-64 per pair. */
static uint64_t fnv1a64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static void writer_free(mt_dataset_writer *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->meta[i].source);
        free(w->meta[i].patient_id);
    }
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < w->n_names[k]; i++) free(w->names[k][i]);
        free(w->names[k]);
    }
    free(w->meta);
    free(w->labels);
    free(w->points);
    free(w->boxes);
    free(w->description);
    free(w->preprocess);
    free(w->path);
    free(w->tmp_path);
    free(w);
}

mt_status mt_dataset_writer_open(const char *path, const mt_dataset_spec *spec, mt_dataset_writer **out)
{
    MT_REQUIRE(path && spec && out, "mt_dataset_writer_open: NULL argument");
    MT_REQUIRE(spec->c > 0 && spec->h > 0 && spec->w > 0, "dataset %s: image shape [%d,%d,%d] must be positive",
               path, spec->c, spec->h, spec->w);
    MT_REQUIRE(spec->k >= 0 && spec->n_points >= 0, "dataset %s: negative mask channels (%d) or points (%d)", path,
               spec->k, spec->n_points);
    *out = NULL;
    mt_status st = MT_OK;
    const char *path_ = path;
    mt_dataset_writer *w = mt_calloc(1, sizeof *w);
    if (!w) return MT_ERR_NOMEM;
    w->file = w->d_images = w->d_masks = -1;
    w->spec = *spec;
    w->path = mt_strdup(path);
    w->description = mt_strdup(spec->description ? spec->description : "");
    w->preprocess = mt_strdup(spec->preprocess ? spec->preprocess : "");
    size_t tl = strlen(path) + 16;
    w->tmp_path = mt_malloc(tl);
    if (!w->path || !w->description || !w->preprocess || !w->tmp_path) {
        writer_free(w);
        return MT_ERR_NOMEM;
    }
    w->spec.description = w->description;
    w->spec.preprocess = w->preprocess;
    snprintf(w->tmp_path, tl, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(w->tmp_path);
    if (fd >= 0) (void)mt_file_default_mode(fd); /* best effort: else the file keeps mkstemp's 0600 */
    if (fd < 0) {
        st = MT_ERR(MT_ERR_IO, "cannot create temporary file %s (is the directory writable?)", w->tmp_path);
        writer_free(w);
        return st;
    }
    close(fd);

    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_dataset_h5_quiet();
    H5CHK(w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    hsize_t ci[4] = {1, (hsize_t)spec->c, (hsize_t)spec->h, (hsize_t)spec->w};
    H5CHK(w->d_images = create_chunked(w->file, "images", H5T_IEEE_F32LE, 4, ci, 1, 1));
    if (spec->k > 0) {
        hsize_t cm[4] = {1, (hsize_t)spec->k, (hsize_t)spec->h, (hsize_t)spec->w};
        H5CHK(w->d_masks = create_chunked(w->file, "masks", H5T_STD_U8LE, 4, cm, 1, 0));
    }
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    *out = w;
    return MT_OK;
fail:
    mt_dataset_h5_close(w->d_images);
    mt_dataset_h5_close(w->d_masks);
    mt_dataset_h5_close(w->file);
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    unlink(w->tmp_path);
    writer_free(w);
    return st;
}

mt_status mt_dataset_writer_set_split_by_sample(mt_dataset_writer *w, int on)
{
    MT_REQUIRE(w, "mt_dataset_writer_set_split_by_sample: NULL writer");
    w->split_by_sample = on != 0;
    return MT_OK;
}

int mt_dataset_writer_count(const mt_dataset_writer *w) { return w ? w->n : 0; }

mt_status mt_dataset_writer_set_split(mt_dataset_writer *w, int i, const char *split)
{
    MT_REQUIRE(w && split, "mt_dataset_writer_set_split: NULL argument");
    MT_REQUIRE(i >= 0 && i < w->n, "mt_dataset_writer_set_split: sample %d not added yet (%d samples)", i, w->n);
    for (int k = 0; k < 3; k++)
        if (!strcmp(split, mt_dataset_split_names[k])) return w->meta[i].fixed_split = (uint8_t)(1 + k), MT_OK;
    return MT_ERR(MT_ERR_INVALID, "mt_dataset_writer_set_split: split \"%s\" is not train, val or test", split);
}

int mt_dataset_name_kind(const char *which)
{
    for (int k = 0; k < 4; k++)
        if (which && !strcmp(which, k_name_attrs[k])) return k;
    return -1;
}

mt_status mt_dataset_writer_set_names(mt_dataset_writer *w, const char *which, const char *const *names, int n)
{
    MT_REQUIRE(w && (names || n == 0) && n >= 0, "mt_dataset_writer_set_names: bad arguments");
    int k = mt_dataset_name_kind(which);
    MT_REQUIRE(k >= 0, "mt_dataset_writer_set_names: '%s' is not channel_names, mask_names, class_names or point_names",
               which ? which : "(null)");
    char **copy = n ? mt_calloc((size_t)n, sizeof *copy) : NULL;
    if (n && !copy) return MT_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        copy[i] = mt_strdup(names[i] ? names[i] : "");
        if (!copy[i]) {
            for (int j = 0; j < i; j++) free(copy[j]);
            free(copy);
            return MT_ERR_NOMEM;
        }
    }
    for (int i = 0; i < w->n_names[k]; i++) free(w->names[k][i]);
    free(w->names[k]);
    w->names[k] = copy;
    w->n_names[k] = n;
    return MT_OK;
}

/* Appends one [1,...] slab at row `row` of an extendible dataset. */
static mt_status append_row(hid_t d, int rank, const hsize_t *row_dims, hsize_t row, hid_t memtype, const void *buf,
                            const char *path_)
{
    mt_status st = MT_OK;
    hid_t fs = -1, ms = -1;
    hsize_t ext[4], start[4] = {0, 0, 0, 0};
    for (int i = 0; i < rank; i++) ext[i] = row_dims[i];
    ext[0] = row + 1;
    start[0] = row;
    H5CHK(H5Dset_extent(d, ext));
    H5CHK(fs = H5Dget_space(d));
    H5CHK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, row_dims, NULL));
    H5CHK(ms = H5Screate_simple(rank, row_dims, NULL));
    H5CHK(H5Dwrite(d, memtype, ms, fs, H5P_DEFAULT, buf));
fail:
    mt_dataset_h5_close(fs);
    mt_dataset_h5_close(ms);
    return st;
}

static mt_status writer_grow(mt_dataset_writer *w)
{
    if (w->n < w->cap) return MT_OK;
    int cap = w->cap ? w->cap * 2 : 64;
    int *l = mt_realloc(w->labels, sizeof *l * (size_t)cap);
    if (!l) return MT_ERR_NOMEM;
    w->labels = l;
    meta_rec *m = mt_realloc(w->meta, sizeof *m * (size_t)cap);
    if (!m) return MT_ERR_NOMEM;
    w->meta = m;
    if (w->spec.n_points > 0) {
        float *p = mt_realloc(w->points, sizeof *p * (size_t)cap * (size_t)w->spec.n_points * 2);
        if (!p) return MT_ERR_NOMEM;
        w->points = p;
    }
    w->cap = cap;
    return MT_OK;
}

mt_status mt_dataset_writer_add(mt_dataset_writer *w, const mt_sample *s)
{
    MT_REQUIRE(w && s, "mt_dataset_writer_add: NULL argument");
    const mt_dataset_spec *sp = &w->spec;
    const char *src = s->meta.source[0] ? s->meta.source : "(unknown source)";
    MT_REQUIRE(w->file >= 0, "dataset %s: writer already failed or closed", w->path);
    MT_REQUIRE(s->image, "%s: sample has no image", src);
    MT_REQUIRE(s->c == sp->c && s->h == sp->h && s->w == sp->w,
               "%s: image shape [%d,%d,%d] does not match the dataset's [%d,%d,%d] (%s)", src, s->c, s->h, s->w,
               sp->c, sp->h, sp->w, w->path);
    MT_REQUIRE(sp->k == 0 || (s->mask && s->k == sp->k) || (!s->mask && s->k == 0),
               "%s: sample has %d mask channels, the dataset %s has %d", src, s->k, w->path, sp->k);
    MT_REQUIRE(sp->k > 0 || (!s->mask && s->k == 0), "%s: sample has a mask but the dataset %s has no mask channels",
               src, w->path);
    MT_REQUIRE(s->n_points == 0 || s->n_points == sp->n_points,
               "%s: sample has %d landmark points, the dataset %s has %d", src, s->n_points, w->path, sp->n_points);
    MT_REQUIRE(s->n_points == 0 || s->points, "%s: n_points = %d but no points", src, s->n_points);
    MT_REQUIRE(s->n_boxes >= 0 && (s->n_boxes == 0 || s->boxes), "%s: n_boxes = %d but no boxes", src, s->n_boxes);
    MT_TRY(writer_grow(w));
    if (w->n_boxes + s->n_boxes > w->cap_boxes) {
        int cap = w->cap_boxes ? w->cap_boxes : 64;
        while (cap < w->n_boxes + s->n_boxes) cap *= 2;
        float *b = mt_realloc(w->boxes, sizeof *b * 6 * (size_t)cap);
        if (!b) return MT_ERR_NOMEM;
        w->boxes = b;
        w->cap_boxes = cap;
    }
    meta_rec *m = &w->meta[w->n];
    memset(m, 0, sizeof *m);
    m->source = mt_strdup(s->meta.source);
    m->patient_id = mt_strdup(s->meta.patient_id);
    if (!m->source || !m->patient_id) {
        free(m->source);
        free(m->patient_id);
        return MT_ERR_NOMEM;
    }

    mt_status st = MT_OK;
    const char *path_ = w->path;
    uint8_t *zeros = NULL;
    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_dataset_h5_quiet();
    hsize_t ri[4] = {1, (hsize_t)sp->c, (hsize_t)sp->h, (hsize_t)sp->w};
    st = append_row(w->d_images, 4, ri, (hsize_t)w->n, H5T_NATIVE_FLOAT, s->image, path_);
    if (st == MT_OK && sp->k > 0) {
        hsize_t rm[4] = {1, (hsize_t)sp->k, (hsize_t)sp->h, (hsize_t)sp->w};
        const uint8_t *mk = s->mask;
        if (!mk) { /* a sample without annotation in a segmentation dataset: empty mask */
            zeros = calloc((size_t)sp->k * sp->h * sp->w, 1);
            if (!zeros) st = MT_ERR(MT_ERR_NOMEM, "%s: out of memory for an empty mask", src);
            mk = zeros;
        }
        if (st == MT_OK) st = append_row(w->d_masks, 4, rm, (hsize_t)w->n, H5T_NATIVE_UINT8, mk, path_);
    }
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    free(zeros);
    if (st != MT_OK) {
        free(m->source);
        free(m->patient_id);
        return st;
    }
    snprintf(m->sex, sizeof m->sex, "%s", s->meta.sex);
    m->age_years = s->meta.age_years;
    m->height_m = s->meta.height_m;
    m->weight_kg = s->meta.weight_kg;
    memcpy(m->spacing, s->meta.spacing, sizeof m->spacing);
    m->slice_position = s->meta.slice_position;
    m->pseudo_label = s->meta.pseudo_label ? 1 : 0;
    m->pixel_hash = fnv1a64(s->image, sizeof(float) * (size_t)sp->c * sp->h * sp->w);
    memcpy(m->origin, s->meta.origin, sizeof m->origin);
    memcpy(m->direction, s->meta.direction, sizeof m->direction);
    w->labels[w->n] = s->label;
    if (sp->n_points > 0) {
        float *p = w->points + (size_t)w->n * sp->n_points * 2;
        for (int i = 0; i < sp->n_points * 2; i++) p[i] = s->n_points ? s->points[i] : NAN;
    }
    for (int b = 0; b < s->n_boxes; b++) {
        float *o = w->boxes + (size_t)(w->n_boxes + b) * 6;
        o[0] = (float)w->n;
        memcpy(o + 1, s->boxes + (size_t)b * 5, 5 * sizeof(float));
    }
    w->n_boxes += s->n_boxes;
    w->n++;
    return MT_OK;
}

/* Writes a whole (small) dataset with contiguous layout, or chunked when it may be empty. */
static mt_status write_full(hid_t loc, const char *name, hid_t filetype, hid_t memtype, int rank, const hsize_t *dims,
                            const void *buf, const char *path_)
{
    mt_status st = MT_OK;
    hid_t sp = -1, d = -1, dcpl = -1;
    H5CHK(sp = H5Screate_simple(rank, dims, NULL));
    H5CHK(dcpl = H5Pcreate(H5P_DATASET_CREATE));
    if (dims[0] == 0) {
        hsize_t chunk[4];
        for (int i = 0; i < rank; i++) chunk[i] = dims[i] ? dims[i] : 1;
        hsize_t maxd[4];
        for (int i = 0; i < rank; i++) maxd[i] = dims[i];
        maxd[0] = H5S_UNLIMITED;
        H5Sclose(sp);
        H5CHK(sp = H5Screate_simple(rank, dims, maxd));
        H5CHK(H5Pset_chunk(dcpl, rank, chunk));
    }
    H5CHK(d = H5Dcreate2(loc, name, filetype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (dims[0] > 0) H5CHK(H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
fail:
    mt_dataset_h5_close(d);
    mt_dataset_h5_close(sp);
    mt_dataset_h5_close(dcpl);
    return st;
}

static mt_status write_str_attr(hid_t loc, const char *name, const char *value, const char *path_)
{
    mt_status st = MT_OK;
    hid_t t = -1, sp = -1, a = -1;
    H5CHK(t = mt_dataset_h5_vlen_str());
    H5CHK(sp = H5Screate(H5S_SCALAR));
    H5CHK(a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT));
    H5CHK(H5Awrite(a, t, &value));
fail:
    mt_dataset_h5_close(a);
    mt_dataset_h5_close(sp);
    mt_dataset_h5_close(t);
    return st;
}

static mt_status write_str_array_attr(hid_t loc, const char *name, char *const *values, int n, const char *path_)
{
    mt_status st = MT_OK;
    hid_t t = -1, sp = -1, a = -1;
    hsize_t dim = (hsize_t)n;
    H5CHK(t = mt_dataset_h5_vlen_str());
    H5CHK(sp = H5Screate_simple(1, &dim, NULL));
    H5CHK(a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT));
    H5CHK(H5Awrite(a, t, values));
fail:
    mt_dataset_h5_close(a);
    mt_dataset_h5_close(sp);
    mt_dataset_h5_close(t);
    return st;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Orders sample indices by pixel hash / patient id (glibc qsort_r: the records come as context). */
static int cmp_hash(const void *a, const void *b, void *ctx)
{
    const meta_rec *m = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    uint64_t x = m[i].pixel_hash, y = m[j].pixel_hash;
    return x < y ? -1 : x > y ? 1 : (i > j) - (i < j);
}
static int cmp_patient(const void *a, const void *b, void *ctx)
{
    const meta_rec *m = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    int c = strcmp(m[i].patient_id, m[j].patient_id);
    return c ? c : (i > j) - (i < j);
}

/* dup_of[i] = the first sample whose image is identical to sample i's (equal pixel hash), -1
 * when i is the first of its kind. */
static mt_status find_duplicates(const mt_dataset_writer *w, int *dup_of)
{
    int *order = mt_malloc(sizeof(int) * (size_t)w->n + 1);
    if (!order) return MT_ERR_NOMEM;
    for (int i = 0; i < w->n; i++) order[i] = i, dup_of[i] = -1;
    qsort_r(order, (size_t)w->n, sizeof *order, cmp_hash, w->meta);
    for (int r = 1; r < w->n; r++)
        if (w->meta[order[r]].pixel_hash == w->meta[order[r - 1]].pixel_hash)
            dup_of[order[r]] = dup_of[order[r - 1]] >= 0 ? dup_of[order[r - 1]] : order[r - 1];
    free(order);
    return MT_OK;
}

mt_status mt_dataset_writer_stats(const mt_dataset_writer *w, mt_dataset_write_stats *out)
{
    MT_REQUIRE(w && out, "mt_dataset_writer_stats: NULL argument");
    memset(out, 0, sizeof *out);
    int *idx = mt_malloc(sizeof(int) * (size_t)w->n + 1);
    if (!idx) return MT_ERR_NOMEM;
    mt_status st = find_duplicates(w, idx);
    for (int i = 0; st == MT_OK && i < w->n; i++) out->n_duplicates += idx[i] >= 0;
    for (int i = 0; i < w->n; i++) idx[i] = i;
    qsort_r(idx, (size_t)w->n, sizeof *idx, cmp_patient, w->meta);
    for (int r = 0; st == MT_OK && r < w->n;) { /* runs of one patient id */
        int e = r, mixed = 0;
        while (e < w->n && !strcmp(w->meta[idx[e]].patient_id, w->meta[idx[r]].patient_id)) {
            mixed |= w->labels[idx[e]] != w->labels[idx[r]];
            e++;
        }
        out->n_mixed_label_patients += mixed && w->meta[idx[r]].patient_id[0];
        r = e;
    }
    free(idx);
    return st;
}

static int uf_find(int *parent, int a)
{
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
}

void mt_dataset_group_key(const char *patient_id, const char *source, int i, int by_sample, char *buf, size_t len)
{
    if (by_sample) snprintf(buf, len, "s:%09d", i);
    else if (patient_id && patient_id[0]) snprintf(buf, len, "p:%s", patient_id);
    else if (source && source[0]) snprintf(buf, len, "f:%s", source);
    else snprintf(buf, len, "s:%09d", i);
}

/* Splits by group: the group of sample i is its patient id; without one, its source file (a
 * file is one patient); without either, or with split_by_sample set, the sample itself. Distinct keys are sorted (so the add order does not matter),
 * shuffled with Philox (seed), and the first round(test_frac*G) groups go to test, the next
 * round(val_frac*G) to val, the rest to train. A non-zero fraction gets at least one group when
 * there are at least three groups. Samples given a split by mt_dataset_writer_set_split keep it and
 * take no part in the grouping. Identical images (dup_of) must not straddle splits: the groups of
 * a duplicate and of its original are merged (union-find) and take the split of the merged
 * group's root. out[i] = 0 train, 1 val, 2 test. */
static mt_status assign_splits(const mt_dataset_writer *w, double val_frac, double test_frac, uint64_t seed,
                               const int *dup_of, uint8_t *out)
{
    int n = w->n;
    char **key = mt_calloc((size_t)n, sizeof *key);
    char **uniq = mt_calloc((size_t)n + 1, sizeof *uniq);
    int *perm = mt_calloc((size_t)n + 1, sizeof *perm);
    uint8_t *gsplit = mt_calloc((size_t)n + 1, 1);
    mt_status st = MT_OK;
    if (!key || !uniq || !perm || !gsplit) {
        st = MT_ERR_NOMEM;
        goto done;
    }
    int nk = 0; /* samples split by the fractions (the others have a fixed split) */
    for (int i = 0; i < n; i++) {
        char buf[1200];
        if (w->meta[i].fixed_split) continue;
        mt_dataset_group_key(w->meta[i].patient_id, w->meta[i].source, i, w->split_by_sample, buf, sizeof buf);
        key[i] = mt_strdup(buf);
        if (!key[i]) {
            st = MT_ERR_NOMEM;
            goto done;
        }
        uniq[nk++] = key[i];
    }
    qsort(uniq, (size_t)nk, sizeof *uniq, cmp_str);
    int g = 0;
    for (int i = 0; i < nk; i++)
        if (g == 0 || strcmp(uniq[g - 1], uniq[i])) uniq[g++] = uniq[i];
    for (int i = 0; i < g; i++) perm[i] = i;
    for (int i = g - 1; i > 0; i--) { /* Fisher-Yates with counter-based draws */
        int j = (int)(mt_philox_uniform_d(seed, (uint64_t)i) * (i + 1));
        if (j > i) j = i;
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int n_test = (int)floor(test_frac * g + 0.5), n_val = (int)floor(val_frac * g + 0.5);
    if (test_frac > 0 && n_test == 0 && g >= 3) n_test = 1;
    if (val_frac > 0 && n_val == 0 && g >= 3) n_val = 1;
    if (n_test + n_val > g) n_val = g - n_test > 0 ? g - n_test : 0;
    for (int r = 0; r < g; r++) gsplit[perm[r]] = r < n_test ? 2 : (r < n_test + n_val ? 1 : 0);
    for (int i = 0; i < n; i++) perm[i] = -1; /* now: the group index of each free sample */
    for (int i = 0; i < n; i++) {
        char **hit = key[i] ? bsearch(&key[i], uniq, (size_t)g, sizeof *uniq, cmp_str) : NULL;
        if (hit) perm[i] = (int)(hit - uniq);
    }
    int *parent = mt_malloc(sizeof(int) * (size_t)g + 1);
    if (!parent) {
        st = MT_ERR_NOMEM;
        goto done;
    }
    for (int k = 0; k < g; k++) parent[k] = k;
    for (int i = 0; i < n; i++)
        if (dup_of && dup_of[i] >= 0 && perm[i] >= 0 && perm[dup_of[i]] >= 0) {
            int a = uf_find(parent, perm[i]), b = uf_find(parent, perm[dup_of[i]]);
            if (a != b) parent[a > b ? a : b] = a < b ? a : b;
        }
    for (int i = 0; i < n; i++) {
        if (w->meta[i].fixed_split) {
            out[i] = (uint8_t)(w->meta[i].fixed_split - 1);
            continue;
        }
        out[i] = perm[i] >= 0 ? gsplit[uf_find(parent, perm[i])] : 0;
    }
    free(parent);
done:
    if (key)
        for (int i = 0; i < n; i++) free(key[i]);
    free(key);
    free(uniq);
    free(perm);
    free(gsplit);
    return st;
}

const char *const mt_dataset_split_names[3] = {"train", "val", "test"};

/* Writes the per-sample arrays, /meta and the root attributes. Called under the lock. */
static mt_status writer_finish(mt_dataset_writer *w, const uint8_t *split, const int *dup_of)
{
    mt_status st = MT_OK;
    const char *path_ = w->path;
    int n = w->n;
    hid_t meta = -1, st_type = -1, sp = -1, a = -1;
    float *f = mt_malloc(sizeof(float) * (size_t)n * 3 + 16);
    double *dbl = mt_malloc(sizeof(double) * (size_t)n * 9 + 16);
    const char **strs = mt_malloc(sizeof(char *) * (size_t)n + 16);
    if (!f || !dbl || !strs) {
        st = MT_ERR_NOMEM;
        goto fail;
    }
    hsize_t dn[3] = {(hsize_t)n, 3, 2};
    st = write_full(w->file, "labels", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dn, w->labels, path_);
    if (st) goto fail;
    hsize_t db[2] = {(hsize_t)w->n_boxes, 6};
    if ((st = write_full(w->file, "boxes", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, db, w->boxes, path_))) goto fail;
    if (w->spec.n_points > 0) {
        hsize_t dp[3] = {(hsize_t)n, (hsize_t)w->spec.n_points, 2};
        if ((st = write_full(w->file, "points", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dp, w->points, path_))) goto fail;
    }
    H5CHK(meta = H5Gcreate2(w->file, "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5CHK(st_type = mt_dataset_h5_vlen_str());
    for (int i = 0; i < n; i++) strs[i] = w->meta[i].source;
    if ((st = write_full(meta, "source", st_type, st_type, 1, dn, strs, path_))) goto fail;
    for (int i = 0; i < n; i++) strs[i] = w->meta[i].patient_id;
    if ((st = write_full(meta, "patient_id", st_type, st_type, 1, dn, strs, path_))) goto fail;
    for (int i = 0; i < n; i++) strs[i] = w->meta[i].sex;
    if ((st = write_full(meta, "sex", st_type, st_type, 1, dn, strs, path_))) goto fail;
    for (int i = 0; i < n; i++) strs[i] = mt_dataset_split_names[split[i]];
    if ((st = write_full(meta, "split", st_type, st_type, 1, dn, strs, path_))) goto fail;
    static const char *fnames[3] = {"age_years", "height_m", "weight_kg"};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < n; i++)
            f[i] = k == 0 ? w->meta[i].age_years : k == 1 ? w->meta[i].height_m : w->meta[i].weight_kg;
        if ((st = write_full(meta, fnames[k], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dn, f, path_))) goto fail;
    }
    for (int i = 0; i < n; i++) dbl[i] = w->meta[i].slice_position;
    if ((st = write_full(meta, "slice_position", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dn, dbl, path_))) goto fail;
    for (int i = 0; i < n; i++) memcpy(dbl + 3 * i, w->meta[i].spacing, 3 * sizeof(double));
    if ((st = write_full(meta, "spacing", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dn, dbl, path_))) goto fail;
    for (int i = 0; i < n; i++) memcpy(dbl + 3 * i, w->meta[i].origin, 3 * sizeof(double));
    if ((st = write_full(meta, "origin", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dn, dbl, path_))) goto fail;
    for (int i = 0; i < n; i++) memcpy(dbl + 9 * i, w->meta[i].direction, 9 * sizeof(double));
    hsize_t d9[2] = {(hsize_t)n, 9};
    if ((st = write_full(meta, "direction", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d9, dbl, path_))) goto fail;
    int any_pseudo = 0;
    for (int i = 0; i < n; i++) any_pseudo |= w->meta[i].pseudo_label;
    if (any_pseudo) { /* /meta/pseudo_label only where some mask is a prediction (docs/dataset.md) */
        uint8_t *flag = (uint8_t *)f; /* n floats of room hold n bytes */
        for (int i = 0; i < n; i++) flag[i] = w->meta[i].pseudo_label;
        if ((st = write_full(meta, "pseudo_label", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, dn, flag, path_))) goto fail;
    }

    int any_dup = 0;
    for (int i = 0; i < n; i++) any_dup |= dup_of[i] >= 0;
    if (any_dup && /* /meta/duplicate_of only where some image repeats another (docs/dataset.md) */
        (st = write_full(meta, "duplicate_of", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dn, dup_of, path_)))
        goto fail;

    int version = MT_DATASET_FORMAT_VERSION;
    H5CHK(sp = H5Screate(H5S_SCALAR));
    H5CHK(a = H5Acreate2(w->file, "format_version", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT));
    H5CHK(H5Awrite(a, H5T_NATIVE_INT, &version));
    if ((st = write_str_attr(w->file, "description", w->description, path_))) goto fail;
    if ((st = write_str_attr(w->file, "preprocess", w->preprocess, path_))) goto fail;
    if ((st = write_str_attr(w->file, "split_by", w->split_by_sample ? "sample" : "patient", path_))) goto fail;
    for (int k = 0; k < 4; k++)
        if (w->n_names[k] > 0 &&
            (st = write_str_array_attr(w->file, k_name_attrs[k], w->names[k], w->n_names[k], path_)))
            goto fail;
fail:
    mt_dataset_h5_close(a);
    mt_dataset_h5_close(sp);
    mt_dataset_h5_close(st_type);
    mt_dataset_h5_close(meta);
    free(f);
    free(dbl);
    free(strs);
    return st;
}

mt_status mt_dataset_writer_close(mt_dataset_writer *w, int commit, double val_frac, double test_frac,
                                  uint64_t seed)
{
    if (!w) return MT_OK;
    mt_status st = MT_OK;
    uint8_t *split = NULL;
    int *dup_of = NULL;
    if (commit) {
        if (w->file < 0) st = MT_ERR(MT_ERR_STATE, "dataset %s: writer failed earlier; nothing committed", w->path);
        else if (w->n == 0) st = MT_ERR(MT_ERR_INVALID, "dataset %s: no samples were added; nothing committed", w->path);
        else if (!(val_frac >= 0 && test_frac >= 0 && val_frac + test_frac <= 1))
            st = MT_ERR(MT_ERR_INVALID, "dataset %s: split fractions val %g + test %g must be in [0, 1]", w->path,
                        val_frac, test_frac);
        if (st == MT_OK && (!(split = mt_malloc((size_t)w->n)) || !(dup_of = mt_malloc(sizeof(int) * (size_t)w->n))))
            st = MT_ERR_NOMEM;
        if (st == MT_OK) st = find_duplicates(w, dup_of);
        if (st == MT_OK) st = assign_splits(w, val_frac, test_frac, seed, dup_of, split);
    }
    pthread_mutex_lock(&mt_dataset_h5_lock);
    mt_dataset_h5_quiet();
    if (st == MT_OK && commit) st = writer_finish(w, split, dup_of);
    mt_dataset_h5_close(w->d_images);
    mt_dataset_h5_close(w->d_masks);
    if (w->file >= 0 && H5Fclose(w->file) < 0 && st == MT_OK && commit)
        st = mt_dataset_h5_fail(__FILE__, __LINE__, w->path, "H5Fclose");
    pthread_mutex_unlock(&mt_dataset_h5_lock);
    if (st == MT_OK && commit) {
        if (rename(w->tmp_path, w->path) != 0) {
            st = MT_ERR(MT_ERR_IO, "cannot rename %s to %s (check permissions)", w->tmp_path, w->path);
            unlink(w->tmp_path);
        }
    } else {
        unlink(w->tmp_path);
    }
    free(split);
    free(dup_of);
    writer_free(w);
    return st;
}
