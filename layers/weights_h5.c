/* layers/weights_h5.c: HDF5 weight sources for the weights loader: Keras
 * `save_weights` files (and the model_weights/ group of full-model files) and
 * medtrain checkpoints. Lists datasets with their shapes; values are read
 * later, one tensor at a time, as doubles (HDF5 converts). Every H5 call is
 * checked and HDF5's own error printing is silenced (our messages name the
 * file, the layer and the weight instead). */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5_quiet.h"

#include "weights_internal.h"
#include <zlib.h>


typedef struct str_list {
    char **v;
    int n;
} str_list;

static void str_list_free(str_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static mt_status str_list_add(str_list *l, const char *s, size_t len)
{
    char **nv = mt_realloc(l->v, sizeof *nv * (size_t)(l->n + 1));
    if (!nv) return MT_ERR_NOMEM;
    l->v = nv;
    char *c = mt_malloc(len + 1);
    if (!c) return MT_ERR_NOMEM;
    memcpy(c, s, len);
    c[len] = '\0';
    l->v[l->n++] = c;
    return MT_OK;
}

/* Appends the strings of one attribute (a 0- or 1-d array of fixed or
 * variable length strings; an empty array of any type is an empty list). */
static mt_status read_one_attr(hid_t obj, const char *name, str_list *l, const char *path, const char *objname)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = a < 0 ? -1 : H5Aget_space(a);
    hid_t ty = a < 0 ? -1 : H5Aget_type(a);
    hssize_t np = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    mt_status st = MT_OK;
    if (a < 0 || sp < 0 || ty < 0 || np < 0 || nd < 0 || nd > 1) {
        st = MT_ERR(MT_ERR_FORMAT, "weights '%s': attribute '%s' of %s is unreadable or not a list", path, name, objname);
    } else if (np > 0 && (H5Tget_class(ty) != H5T_STRING || np > (1 << 24))) {
        st = MT_ERR(MT_ERR_FORMAT, "weights '%s': attribute '%s' of %s is not a list of strings", path, name, objname);
    } else if (np > 0 && H5Tis_variable_str(ty) > 0) {
        char **v = mt_calloc((size_t)np, sizeof *v);
        hid_t mem = v ? H5Tcopy(H5T_C_S1) : -1;
        int ok = mem >= 0 && H5Tset_size(mem, H5T_VARIABLE) >= 0 && H5Tset_cset(mem, H5Tget_cset(ty)) >= 0;
        int read = ok && H5Aread(a, mem, v) >= 0;
        if (!v) st = MT_ERR_NOMEM;
        else if (!read) st = MT_ERR(MT_ERR_FORMAT, "weights '%s': cannot read attribute '%s' of %s", path, name, objname);
        for (hssize_t i = 0; read && st == MT_OK && i < np; i++) st = str_list_add(l, v[i] ? v[i] : "", v[i] ? strlen(v[i]) : 0);
        if (read) H5Dvlen_reclaim(mem, sp, H5P_DEFAULT, v);
        if (mem >= 0) H5Tclose(mem);
        free(v);
    } else if (np > 0) {
        size_t sz = H5Tget_size(ty);
        char *buf = sz ? mt_malloc((size_t)np * (sz + 1)) : NULL;
        hid_t mem = buf ? H5Tcopy(H5T_C_S1) : -1;
        /* one byte more than stored, so a null-padded name that fills its slot keeps its last character */
        int ok = mem >= 0 && H5Tset_size(mem, sz + 1) >= 0 && H5Tset_strpad(mem, H5T_STR_NULLTERM) >= 0 &&
                 H5Tset_cset(mem, H5Tget_cset(ty)) >= 0 && H5Aread(a, mem, buf) >= 0;
        if (!sz) st = MT_ERR(MT_ERR_FORMAT, "weights '%s': attribute '%s' of %s has empty strings", path, name, objname);
        else if (!buf) st = MT_ERR_NOMEM;
        else if (!ok) st = MT_ERR(MT_ERR_FORMAT, "weights '%s': cannot read attribute '%s' of %s", path, name, objname);
        for (hssize_t i = 0; ok && st == MT_OK && i < np; i++) {
            const char *s = buf + (size_t)i * (sz + 1);
            st = str_list_add(l, s, strnlen(s, sz));
        }
        if (mem >= 0) H5Tclose(mem);
        free(buf);
    }
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    return st;
}

/* A Keras string-list attribute, also when Keras split it into name0,
 * name1, ... (attributes above 64 KB). *found = 0 when neither exists. */
static mt_status read_str_attr(hid_t obj, const char *name, str_list *l, int *found, const char *path,
                               const char *objname)
{
    memset(l, 0, sizeof *l);
    *found = 0;
    if (H5Aexists(obj, name) > 0) {
        *found = 1;
        mt_status st = read_one_attr(obj, name, l, path, objname);
        if (st != MT_OK) str_list_free(l);
        return st;
    }
    for (int chunk = 0;; chunk++) {
        char cname[256];
        snprintf(cname, sizeof cname, "%s%d", name, chunk);
        if (H5Aexists(obj, cname) <= 0) return MT_OK;
        *found = 1;
        mt_status st = read_one_attr(obj, cname, l, path, objname);
        if (st != MT_OK) {
            str_list_free(l);
            return st;
        }
    }
}

/* Adds the dataset at `dpath` as a source tensor named `name`. */
static mt_status add_dataset(mt_wsrc *s, const char *dpath, const char *name, const char *layer, int keras)
{
    hid_t d = H5Dopen2((hid_t)s->h5, dpath, H5P_DEFAULT);
    if (d < 0) return MT_ERR(MT_ERR_FORMAT, "weights '%s': no dataset '%s' (listed for '%s')", s->path, dpath, name);
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8];
    mt_wsrc_tensor t;
    memset(&t, 0, sizeof t);
    mt_status st = MT_OK;
    if (sp < 0 || ty < 0 || nd < 0 || nd > 8 || (nd > 0 && H5Sget_simple_extent_dims(sp, dims, NULL) < 0))
        st = MT_ERR(MT_ERR_FORMAT, "weights '%s': dataset '%s' has an unreadable shape (or more than 8 dimensions)", s->path,
                    dpath);
    if (st == MT_OK) {
        H5T_class_t c = H5Tget_class(ty);
        t.dtype = c == H5T_FLOAT ? MT_WD_H5_FLOAT : c == H5T_INTEGER ? MT_WD_H5_INT : MT_WD_H5_OTHER;
        t.ndim = nd;
        for (int i = 0; i < nd; i++) t.shape[i] = (long long)dims[i];
        if (!(t.name = mt_strdup(name)) || !(t.h5_path = mt_strdup(dpath))) st = MT_ERR_NOMEM;
    }
    if (st == MT_OK && keras) {
        /* "block1a_dwconv/depthwise_kernel:0" -> path "block1a_dwconv", variable "depthwise_kernel" */
        size_t len = strlen(name);
        const char *colon = strrchr(name, ':');
        if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) len = (size_t)(colon - name);
        const char *slash = memrchr(name, '/', len);
        const char *var = slash ? slash + 1 : name;
        size_t vl = len - (size_t)(var - name);
        const char *prefix = slash ? name : layer;
        size_t pl = slash ? (size_t)(slash - name) : strlen(layer);
        t.kvar = mt_malloc(vl + 1);
        t.kpath = mt_malloc(pl + 1);
        if (!t.kvar || !t.kpath) {
            st = MT_ERR_NOMEM;
        } else {
            memcpy(t.kvar, var, vl);
            t.kvar[vl] = '\0';
            for (size_t i = 0; i < pl; i++) t.kpath[i] = prefix[i] == '/' ? '.' : prefix[i];
            t.kpath[pl] = '\0';
        }
        t.order_key = mt_wsrc_order_key(layer, strlen(layer));
    } else if (st == MT_OK) {
        const char *dot = strrchr(name, '.');
        t.order_key = mt_wsrc_order_key(name, dot ? (size_t)(dot - name) : strlen(name));
    }
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    if (st == MT_OK) return mt_wsrc_add(s, &t);
    free(t.name);
    free(t.h5_path);
    free(t.kvar);
    free(t.kpath);
    return st;
}

static mt_status list_keras(mt_wsrc *s, const char *base)
{
    hid_t root = H5Gopen2((hid_t)s->h5, base, H5P_DEFAULT);
    if (root < 0) return MT_ERR(MT_ERR_FORMAT, "weights '%s': cannot open group '%s'", s->path, base);
    str_list layers;
    int found;
    mt_status st = read_str_attr(root, "layer_names", &layers, &found, s->path, base);
    H5Gclose(root);
    MT_TRY(st);
    for (int i = 0; i < layers.n && st == MT_OK; i++) {
        const char *L = layers.v[i];
        size_t gl = strlen(base) + strlen(L) + 2;
        char *gpath = mt_malloc(gl);
        if (!gpath) {
            st = MT_ERR_NOMEM;
            break;
        }
        snprintf(gpath, gl, "%s/%s", strcmp(base, "/") ? base : "", L);
        hid_t g = !L[0] || strchr(L, '/') || H5Lexists((hid_t)s->h5, gpath, H5P_DEFAULT) <= 0 ? -1
                                                                                             : H5Gopen2((hid_t)s->h5, gpath, H5P_DEFAULT);
        str_list w = {0};
        if (g < 0) {
            st = MT_ERR(MT_ERR_FORMAT, "weights '%s': layer '%s' is listed in layer_names but has no group", s->path, L);
        } else {
            st = read_str_attr(g, "weight_names", &w, &found, s->path, gpath);
            if (st == MT_OK && !found)
                st = MT_ERR(MT_ERR_FORMAT, "weights '%s': layer group '%s' has no weight_names attribute", s->path, gpath);
            H5Gclose(g);
        }
        for (int j = 0; j < w.n && st == MT_OK; j++) {
            size_t dl = gl + strlen(w.v[j]) + 1;
            char *dpath = mt_malloc(dl);
            if (!dpath) {
                st = MT_ERR_NOMEM;
                break;
            }
            snprintf(dpath, dl, "%s/%s", gpath, w.v[j]);
            st = w.v[j][0] ? add_dataset(s, dpath, w.v[j], L, 1)
                           : MT_ERR(MT_ERR_FORMAT, "weights '%s': layer '%s' lists an empty weight name", s->path, L);
            free(dpath);
        }
        str_list_free(&w);
        free(gpath);
    }
    str_list_free(&layers);
    return st;
}

typedef struct link_list {
    str_list names;
    int failed;
} link_list;

static herr_t collect_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    link_list *l = data;
    if (str_list_add(&l->names, name, strlen(name)) != MT_OK) {
        l->failed = 1;
        return -1;
    }
    return 0;
}

static mt_status list_checkpoint(mt_wsrc *s)
{
    char group[300];
    if (s->net) snprintf(group, sizeof group, "/nets/%s/state_dict", s->net);
    else snprintf(group, sizeof group, "/state_dict");
    hid_t g = H5Lexists((hid_t)s->h5, "/nets", H5P_DEFAULT) > 0 || !s->net ? H5Gopen2((hid_t)s->h5, group, H5P_DEFAULT) : -1;
    if (g < 0)
        return MT_ERR(MT_ERR_FORMAT, "weights '%s': no %s group%s", s->path, group,
                      s->net ? " (that network is not in this checkpoint)" : "");
    link_list l = {{0}, 0};
    hsize_t idx = 0;
    /* by name: checkpoints do not track creation order (the model's order is restored by the loader) */
    herr_t e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &l);
    H5Gclose(g);
    mt_status st = l.failed ? MT_ERR_NOMEM : e < 0 ? MT_ERR(MT_ERR_FORMAT, "weights '%s': cannot list %s", s->path, group) : MT_OK;
    for (int i = 0; i < l.names.n && st == MT_OK; i++) {
        size_t len = strlen(l.names.v[i]) + strlen(group) + 2;
        char *dpath = mt_malloc(len);
        if (!dpath) {
            st = MT_ERR_NOMEM;
            break;
        }
        snprintf(dpath, len, "%s/%s", group, l.names.v[i]);
        st = add_dataset(s, dpath, l.names.v[i], NULL, 0);
        free(dpath);
    }
    str_list_free(&l.names);
    return st;
}

/* 1 if obj holds the Keras layer_names attribute (whole or chunked) */
static int has_layer_names(hid_t f, const char *group)
{
    if (strcmp(group, "/") && H5Lexists(f, group, H5P_DEFAULT) <= 0) return 0;
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) return 0;
    int yes = H5Aexists(g, "layer_names") > 0 || H5Aexists(g, "layer_names0") > 0;
    H5Gclose(g);
    return yes;
}

mt_status mt_wsrc_open_h5(mt_wsrc *s, mt_weights_format format)
{
    h5_quiet q;
    quiet_on(&q);
    mt_status st = MT_OK;
    hid_t f = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        quiet_off(&q);
        return MT_ERR(MT_ERR_IO, "weights '%s': HDF5 cannot open the file (corrupt or not HDF5?)", s->path);
    }
    s->h5 = (int64_t)f;
    int ckpt = H5Lexists(f, "state_dict", H5P_DEFAULT) > 0 && H5Aexists(f, "format_version") > 0;
    const char *base = has_layer_names(f, "/") ? "/" : has_layer_names(f, "/model_weights") ? "/model_weights" : NULL;
    if (format == MT_WEIGHTS_AUTO) {
        if (ckpt) format = MT_WEIGHTS_CHECKPOINT;
        else if (base) format = MT_WEIGHTS_KERAS_H5;
        else if (H5Lexists(f, "layers", H5P_DEFAULT) > 0 || H5Lexists(f, "_layer_checkpoint_dependencies", H5P_DEFAULT) > 0)
            st = MT_ERR(MT_ERR_UNSUPPORTED,
                        "weights '%s': a Keras 3 .weights.h5 file (layers/*/vars); medtrain reads the Keras "
                        "save_weights .h5 layout (layer_names, weight_names): re-save with "
                        "model.save_weights('x.h5') in Keras 2 or legacy h5 format",
                        s->path);
        else
            st = MT_ERR(MT_ERR_FORMAT,
                        "weights '%s': an HDF5 file that is neither Keras weights (no layer_names attribute at / or "
                        "/model_weights) nor a medtrain checkpoint (no /state_dict)",
                        s->path);
    }
    s->format = format;
    if (st == MT_OK && format == MT_WEIGHTS_CHECKPOINT) st = list_checkpoint(s);
    else if (st == MT_OK && format == MT_WEIGHTS_KERAS_H5)
        st = base ? list_keras(s, base)
                  : MT_ERR(MT_ERR_FORMAT, "weights '%s': no Keras layer_names attribute at / or /model_weights", s->path);
    else if (st == MT_OK)
        st = MT_ERR(MT_ERR_INVALID, "weights '%s': format %s is not an HDF5 format", s->path, mt_weights_format_name(format));
    quiet_off(&q);
    return st;
}

/* 0 when dataset d's bytes (file representation) match its crc32 attribute
 * (the checksum of layers/checkpoint.c), 1 when not, -1 if unreadable */
static int verify_crc(hid_t d)
{
    uint32_t want = 0;
    hid_t a = H5Aopen(d, "crc32", H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Aread(a, H5T_NATIVE_UINT32, &want);
    if (a >= 0) H5Aclose(a);
    hid_t ty = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    size_t es = ty < 0 ? 0 : H5Tget_size(ty);
    int rc = -1;
    unsigned char *buf = e < 0 || n < 0 || !es ? NULL : malloc((size_t)n * es + 1);
    if (buf && H5Dread(d, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
        size_t bytes = (size_t)n * es;
        uLong c = crc32(0L, Z_NULL, 0);
        for (size_t off = 0; off < bytes;) {
            size_t chunk = bytes - off > (1u << 30) ? (1u << 30) : bytes - off;
            c = crc32(c, buf + off, (uInt)chunk);
            off += chunk;
        }
        rc = (uint32_t)c == want ? 0 : 1;
    }
    free(buf);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    return rc;
}

mt_status mt_wsrc_read_h5(mt_wsrc *s, int i, double *out, size_t numel)
{
    const mt_wsrc_tensor *t = &s->t[i];
    h5_quiet q;
    quiet_on(&q);
    hid_t d = H5Dopen2((hid_t)s->h5, t->h5_path, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hssize_t np = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    herr_t e = np < 0 || (size_t)np != numel ? -1 : H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    /* a medtrain checkpoint's tensors carry crc32 (train/checkpoint.h, format_version 2) */
    int crc_state = e < 0 || H5Aexists(d, "crc32") <= 0 ? 0 : verify_crc(d); /* 0 none/ok, 1 mismatch, -1 unreadable */
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    quiet_off(&q);
    if (e < 0 || crc_state < 0)
        return MT_ERR(MT_ERR_IO, "weights '%s': cannot read dataset '%s' (file corrupt?)", s->path, t->h5_path);
    if (crc_state > 0)
        return MT_ERR(MT_ERR_FORMAT, "weights '%s': tensor '%s' is corrupt (CRC32 differs from its crc32 attribute; "
                      "the file was damaged after writing: use another checkpoint)", s->path, t->h5_path);
    if (s->format == MT_WEIGHTS_CHECKPOINT)
        for (size_t k = 0; k < numel; k++)
            if (!isfinite(out[k]))
                return MT_ERR(MT_ERR_FORMAT, "weights '%s': tensor '%s' holds a non-finite value (%g at index %zu); the "
                              "training that saved it diverged or the file was altered", s->path, t->h5_path, out[k], k);
    return MT_OK;
}

void mt_wsrc_close_h5(mt_wsrc *s)
{
    if (s->h5 >= 0) {
        h5_quiet q;
        quiet_on(&q);
        H5Fclose((hid_t)s->h5);
        quiet_off(&q);
    }
    s->h5 = -1;
}
