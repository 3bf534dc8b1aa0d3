/* cli/info.c: `medtrain info PATH`: describes
 *  - a medtrain HDF5 dataset (/images): geometry, sample count, splits, attributes;
 *  - a checkpoint (/state_dict): every tensor's name, shape and the scalar fields;
 *  - a model graph YAML (configs/models/NAME.yaml): layer summary and parameter count
 *    (configs/models/unet.yaml -> 31,030,593, PyTorch sum(p.numel()));
 *  - an experiment YAML: the resolved config and its model's parameter count. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "../configs/config.h"
#include "../core/yaml_tree.h"
#include "../data/dataset.h"
#include "../layers/model.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"set", 1, 1, "key.path=value: model parameter override for a graph file (e.g. base=16)"},
    {"input", 1, 0, "C,H,W input shape for the layer summary of a model graph (default 1,512,512)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

/* "31030593" -> "31,030,593" */
static const char *thousands(size_t v, char *buf, size_t len)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%zu", v);
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        buf[o++] = raw[i];
        if ((n - i - 1) % 3 == 0 && i + 1 < n) buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static herr_t print_object(hid_t obj, const char *name, const H5O_info_t *info, void *op_data)
{
    (void)op_data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[16];
    int nd = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
    char shape[160] = "[";
    for (int i = 0; i < nd && i < 16; i++) {
        char t[24];
        snprintf(t, sizeof t, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
        strncat(shape, t, sizeof shape - strlen(shape) - 2);
    }
    strcat(shape, "]");
    hid_t ty = H5Dget_type(d);
    const char *tn = "?";
    if (ty >= 0) {
        H5T_class_t c = H5Tget_class(ty);
        size_t sz = H5Tget_size(ty);
        tn = c == H5T_FLOAT ? (sz == 8 ? "float64" : "float32")
             : c == H5T_INTEGER ? (sz == 1 ? "uint8" : sz == 8 ? "int64" : "int32")
             : c == H5T_STRING ? "string" : "other";
    }
    /* scalars: print the value */
    if (nd == 0 && ty >= 0 && (H5Tget_class(ty) == H5T_FLOAT || H5Tget_class(ty) == H5T_INTEGER)) {
        double v = 0;
        if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0)
            printf("  %-48s %-8s = %.10g\n", name, tn, v);
    } else {
        printf("  %-48s %-8s %s\n", name, tn, shape);
    }
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return 0;
}

static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *op_data)
{
    (void)ainfo;
    (void)op_data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t ty = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(ty);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if ((c == H5T_FLOAT || c == H5T_INTEGER) && n >= 1 && n <= 8) {
        double v[8];
        if (H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0) {
            printf("  @%-47s", name);
            for (hssize_t i = 0; i < n; i++) printf(" %.10g", v[i]);
            printf("\n");
        }
    }
    H5Sclose(sp);
    H5Tclose(ty);
    H5Aclose(a);
    return 0;
}

static int info_hdf5(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "medtrain info: %s is not a readable HDF5 file\n", path);
        return 1;
    }
    int is_dataset = H5Lexists(f, "images", H5P_DEFAULT) > 0;
    int is_ckpt = H5Lexists(f, "state_dict", H5P_DEFAULT) > 0;
    H5Fclose(f);
    if (is_dataset) {
        mt_dataset *d = NULL;
        if (mt_dataset_open(path, &d) != MT_OK) return cli_fail("info");
        mt_dataset_spec sp;
        mt_dataset_geometry(d, &sp);
        printf("dataset %s\n  samples: %d\n  image: [C=%d, H=%d, W=%d] float32\n  mask channels: %d\n"
               "  landmarks per sample: %d\n",
               path, mt_dataset_size(d), sp.c, sp.h, sp.w, sp.k, sp.n_points);
        const char *splits[3] = {"train", "val", "test"};
        for (int i = 0; i < 3; i++) {
            int *idx = NULL, n = 0;
            if (mt_dataset_split_indices(d, splits[i], &idx, &n) == MT_OK) printf("  split %-5s: %d samples\n", splits[i], n);
            else mt_error_clear();
            free(idx);
        }
        if (sp.description && sp.description[0]) printf("  description: %s\n", sp.description);
        if (sp.preprocess && sp.preprocess[0]) printf("  pre-processing: %s\n", sp.preprocess);
        mt_dataset_close(d);
    }
    printf("%s %s: HDF5 contents\n", is_ckpt ? "checkpoint" : is_dataset ? "dataset" : "file", path);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 1;
    if (is_ckpt) H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attr, NULL);
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, print_object, NULL, H5O_INFO_BASIC);
    H5Fclose(f);
    return 0;
}

/* An experiment file has a top-level `model:` map with a `graph:` key; a model graph has not. */
static int is_experiment_file(const char *path)
{
    mt_yaml_node *root = NULL;
    if (mt_yaml_load_file(path, &root) != MT_OK) {
        mt_error_clear();
        return 0;
    }
    const mt_yaml_node *m = mt_yaml_map_get(root, "model");
    int yes = m && m->kind == MT_YAML_MAP && mt_yaml_map_get(m, "graph") != NULL;
    mt_yaml_free(root);
    return yes;
}

static int info_model(const char *path, const cli_args *a)
{
    mt_model_arg args[CLI_MAX_ARGS];
    char keys[CLI_MAX_ARGS][64];
    int n_args = 0;
    for (int i = 0; i < a->n_opt; i++) {
        if (strcmp(a->opt_name[i], "set") != 0) continue;
        const char *eq = strchr(a->opt_value[i], '=');
        if (!eq || eq - a->opt_value[i] >= 64) {
            fprintf(stderr, "medtrain info: --set expects key=value, got '%s'\n", a->opt_value[i]);
            return 2;
        }
        memcpy(keys[n_args], a->opt_value[i], (size_t)(eq - a->opt_value[i]));
        keys[n_args][eq - a->opt_value[i]] = '\0';
        args[n_args].key = keys[n_args];
        args[n_args].value = eq + 1;
        n_args++;
    }
    mt_model *m = NULL;
    if (mt_model_load_yaml(path, n_args, args, mt_cpu(), 0, &m) != MT_OK) return cli_fail("info");
    int c = mt_model_in_channels(m), h, w;
    mt_model_nominal_size(m, &h, &w);
    if (h <= 0) h = w = 512;
    const char *in = cli_opt(a, "input", NULL);
    if (in && sscanf(in, "%d,%d,%d", &c, &h, &w) != 3) {
        fprintf(stderr, "medtrain info: --input expects C,H,W (e.g. 1,512,512), got '%s'\n", in);
        mt_model_free(m);
        return 2;
    }
    char *summary = NULL;
    if (mt_model_summary(m, c, h, w, &summary) == MT_OK && summary) printf("%s\n", summary);
    else mt_error_clear();
    free(summary);
    char buf[48], buf2[48], buf3[48];
    size_t np = mt_model_param_count(m), nb = mt_model_keras_buffer_count(m);
    printf("model %s (input %d x %d x %d)\n  parameters: %s\n  buffers: %s\n  Keras total: %s\n", path, c, h, w,
           thousands(np, buf, sizeof buf), thousands(nb, buf2, sizeof buf2), thousands(np + nb, buf3, sizeof buf3));
    mt_model_free(m);
    return 0;
}

int cli_info(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("info", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 1) {
        cli_print_help(a.help ? stdout : stderr, "medtrain info PATH [--set key=value ...] [--input C,H,W]",
                       "Describes PATH: a dataset or checkpoint (.h5), a model graph YAML (layer table and\n"
                       "parameter count, e.g. configs/models/unet.yaml -> 31,030,593) or an experiment YAML.",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    const char *path = a.pos[0];
    if (!mt_path_exists(path)) {
        fprintf(stderr, "medtrain info: %s: no such file\n", path);
        return 1;
    }
    if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return info_hdf5(path);
    if (ends_with(path, ".yaml") || ends_with(path, ".yml")) {
        if (is_experiment_file(path)) {
            mt_experiment e;
            if (mt_experiment_load(path, 0, NULL, &e) != MT_OK) return cli_fail("info");
            printf("%s\n", e.resolved_yaml);
            mt_model *m = NULL;
            if (mt_model_load_yaml(e.model.graph, e.model.n_args, e.model.args, mt_cpu(), 0, &m) != MT_OK) {
                mt_experiment_free(&e);
                return cli_fail("info");
            }
            char buf[48];
            printf("model %s\n  parameters: %s\n", e.model.graph, thousands(mt_model_param_count(m), buf, sizeof buf));
            mt_model_free(m);
            mt_experiment_free(&e);
            return 0;
        }
        mt_error_clear();
        return info_model(path, &a);
    }
    fprintf(stderr, "medtrain info: %s: expected a .h5 (dataset/checkpoint) or .yaml (model/experiment) file\n",
            path);
    return 2;
}
