/* layers/weights_internal.h: what the pieces of the weights loader share
 * (not a public API; layers/weights.h is):
 *  - a source file as a list of named tensors that can be read one at a time
 *    (layers/weights_h5.c: Keras HDF5 and medtrain checkpoints;
 *    layers/safetensors.c: safetensors), so nothing is read before the name
 *    map and the shapes have been checked;
 *  - the parsed name map (layers/weights_map.c). */
#ifndef MT_WEIGHTS_INTERNAL_H
#define MT_WEIGHTS_INTERNAL_H

#include <regex.h>
#include <stdint.h>

#include "weights.h"

/* Layout conversion of a source tensor (weights.h lists the Keras layouts). */
typedef enum mt_wlayout {
    MT_WLAYOUT_AUTO = 0,      /* from the Keras variable name; none for other formats */
    MT_WLAYOUT_NONE = 1,      /* copied as stored */
    MT_WLAYOUT_KERNEL = 2,    /* [d0..d(r-3), in, out] -> [out, in, d0..d(r-3)]; rank 2: [in, out] -> [out, in] */
    MT_WLAYOUT_DEPTHWISE = 3  /* [kh, kw, C, m] -> [C*m, 1, kh, kw] */
} mt_wlayout;

/* Element types of source tensors (safetensors names; HDF5 sources are read as doubles). */
typedef enum mt_wdtype {
    MT_WD_F64 = 0, MT_WD_F32, MT_WD_F16, MT_WD_BF16, /* converted */
    MT_WD_I64, MT_WD_I32, MT_WD_I16, MT_WD_I8, MT_WD_U64, MT_WD_U32, MT_WD_U16, MT_WD_U8, /* counters only */
    MT_WD_BOOL, MT_WD_F8_E4M3, MT_WD_F8_E5M2, /* known, refused */
    MT_WD_H5_FLOAT, MT_WD_H5_INT, MT_WD_H5_OTHER  /* HDF5 dataset classes */
} mt_wdtype;

typedef struct mt_wsrc_tensor {
    char *name;            /* as stored: Keras weight name, safetensors key, checkpoint entry */
    char *kpath;           /* Keras: weight-name prefix with '/' -> '.' ("block1a_dwconv"); else NULL */
    char *kvar;            /* Keras: variable name without ":0" ("depthwise_kernel"); else NULL */
    long long order_key;   /* numeric suffix of the layer name ("conv2d_12" -> 12, none -> 0) */
    int ndim;
    long long shape[8];
    mt_wdtype dtype;
    char *h5_path;         /* HDF5: dataset path from the file root */
    uint64_t begin, end;   /* safetensors: absolute byte range in the file */
} mt_wsrc_tensor;

typedef struct mt_wsrc {
    mt_weights_format format;
    const char *path;      /* not owned */
    int n, cap;
    mt_wsrc_tensor *t;
    const char *net;       /* checkpoints: NULL = network 0 (/state_dict), else /nets/<net>/state_dict */
    int64_t h5;            /* hid_t of an open HDF5 file, or -1 */
    int fd;                /* safetensors file descriptor, or -1 */
    uint64_t file_size;
} mt_wsrc;

/* Opens `path` (format forced or MT_WEIGHTS_AUTO) and lists its tensors
 * without reading their values. Errors name the file (weights.h). */
mt_status mt_wsrc_open(const char *path, mt_weights_format format, mt_wsrc *s);
/* The same for checkpoints of several networks: `net` names the one to read (NULL = network 0). */
mt_status mt_wsrc_open_net(const char *path, mt_weights_format format, const char *net, mt_wsrc *s);
/* Reads tensor i as numel doubles in stored (row-major) order. `counter`:
 * integer dtypes are allowed (the target is a counter). */
mt_status mt_wsrc_read(mt_wsrc *s, int i, double *out, size_t numel, int counter);
void mt_wsrc_close(mt_wsrc *s);
/* Appends a tensor (takes ownership of the strings in *t). */
mt_status mt_wsrc_add(mt_wsrc *s, mt_wsrc_tensor *t);
/* Numeric suffix of a layer name: "conv2d_12" -> 12, "conv2d" -> 0. */
long long mt_wsrc_order_key(const char *layer, size_t len);

/* per-format halves of mt_wsrc_open / mt_wsrc_read */
mt_status mt_wsrc_open_h5(mt_wsrc *s, mt_weights_format format);
mt_status mt_wsrc_read_h5(mt_wsrc *s, int i, double *out, size_t numel);
void mt_wsrc_close_h5(mt_wsrc *s);
mt_status mt_wsrc_open_safetensors(mt_wsrc *s);
mt_status mt_wsrc_read_safetensors(mt_wsrc *s, int i, double *out, size_t numel, int counter);

/* "F32", "BF16", ... or "float"/"integer" for HDF5 classes. */
const char *mt_wdtype_name(mt_wdtype d);

/* ---------------------------------------------------------------- map --- */

typedef struct mt_wmap_rule {
    regex_t from;          /* compiled `from` */
    regex_t to_re;         /* order rules: compiled `to` */
    int has_from, has_to_re;
    char *from_text, *to;  /* as written; `to` is the replacement template (rules) or pattern (order) */
    mt_wlayout layout;
    char where[256];       /* "map.yaml:12:5" of the rule */
} mt_wmap_rule;

typedef struct mt_wmap {
    int n_skip, n_order, n_rules, n_suffix;
    mt_wmap_rule *skip, *order, *rules;
    char **suffix_from, **suffix_to; /* Keras variable -> state_dict suffix (defaults first, map overrides) */
} mt_wmap;

/* The built-in map: no rules, the default Keras suffixes. */
mt_status mt_wmap_default(mt_wmap *m);
/* Parses a map file (docs/weights.md) over the defaults. Errors name map.yaml:line:column. */
mt_status mt_wmap_load(const char *path, mt_wmap *m);
void mt_wmap_free(mt_wmap *m);
/* 1 if re matches s (captures into pm[0..9] when pm is not NULL). */
int mt_wmap_match(const regex_t *re, const char *s, regmatch_t *pm);
/* The replacement template with \0..\9 taken from s; malloc'ed, NULL on allocation failure. */
char *mt_wmap_subst(const char *tmpl, const char *s, const regmatch_t *pm);
/* The state_dict suffix of a Keras variable name (the name itself when no suffix rule applies). */
const char *mt_wmap_suffix(const mt_wmap *m, const char *var);

#endif
