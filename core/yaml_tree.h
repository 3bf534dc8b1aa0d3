/* core/yaml_tree.h: YAML files as a small tree of maps, sequences and
 * scalars, each node remembering the file, line and column it came from, so
 * that every config or model-graph error can name "file:line:column".
 *
 * Parsing is done by libyaml (yaml_parser_parse events); anchors and aliases
 * are supported by copying the anchored subtree. Scalars keep their text as
 * written (typing is done by whoever reads them: the experiment schema in
 * configs/config.c, the graph builder in layers/graph.c); `quoted` tells a
 * quoted '1' (a string) from a plain 1.
 *
 * Composition:
 *  - A top-level key `base: other.yaml` (or a list of files) loads that file
 *    first (path relative to the including file) and deep-merges this file
 *    over it: maps merge key by key, any other value replaces. The `base` key
 *    itself is removed. Chains and lists are allowed; cycles are an error.
 *  - mt_yaml_set applies a command-line override "a.b.c=value", where value is
 *    itself parsed as YAML (so "[128, 128]" gives a sequence).
 *  - mt_yaml_dump writes the tree back as YAML text (block style), e.g. the
 *    resolved config written into every run directory.
 */
#ifndef MT_YAML_TREE_H
#define MT_YAML_TREE_H

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits applied while parsing (errors name file:line:column and the limit):
 *  - nesting of maps/sequences: MEDTRAIN_YAML_MAX_DEPTH (environment), default
 *    256, at most MT_YAML_DEPTH_HARD_MAX (every walk of the tree is recursive);
 *  - nodes made by expanding aliases (copies of anchored subtrees, "billion
 *    laughs"): MEDTRAIN_YAML_MAX_ALIAS_NODES, default 1,000,000 per file. */
#define MT_YAML_DEFAULT_MAX_DEPTH 256
#define MT_YAML_DEPTH_HARD_MAX 4096
#define MT_YAML_DEFAULT_MAX_ALIAS_NODES 1000000L

/* A key/value override pair: values that override a model graph file's
 * `params:` (e.g. base: 16, in_channels: 1), given to mt_model_load_yaml
 * (layers/model.h) and held by the experiment's model.params (configs/config.h).
 * Lives here, with the YAML tree, so that configs/ and layers/ share it
 * without including each other. */
typedef struct mt_model_arg {
    const char *key;
    const char *value;
} mt_model_arg;

typedef enum mt_yaml_kind { MT_YAML_SCALAR = 0, MT_YAML_MAP = 1, MT_YAML_SEQ = 2 } mt_yaml_kind;

typedef struct mt_yaml_node {
    mt_yaml_kind kind;
    char *file;        /* source file name (owned), or "--set key=value" for overrides */
    int line, col;     /* 1-based position of the value */
    /* map entries: each child carries its key and the key's position */
    char *key;         /* NULL unless this node is the value of a map entry */
    int key_line, key_col;
    /* scalar */
    char *value;       /* scalar text ("" for an empty/null value) */
    int quoted;        /* 1 if written with quotes (always a string) */
    /* map / sequence children, in file order */
    int n, cap;
    struct mt_yaml_node **child;
} mt_yaml_node;

/* Parses a YAML file (one document) into a tree and resolves its `base:`
 * chain. Errors: MT_ERR_IO (cannot read, names the file), MT_ERR_FORMAT
 * ("file:line:column: <libyaml problem>"), MT_ERR_INVALID (base cycle). */
mt_status mt_yaml_load_file(const char *path, mt_yaml_node **out);
/* Parses YAML text; `name` is used as the file name in positions. `base:` is
 * resolved relative to the current directory. */
mt_status mt_yaml_load_string(const char *text, const char *name, mt_yaml_node **out);
void mt_yaml_free(mt_yaml_node *n);

/* Deep copy (NULL on allocation failure). */
mt_yaml_node *mt_yaml_clone(const mt_yaml_node *n);
/* Deep-merges `over` into `dst` (maps merge by key recursively; anything else
 * replaces). `over` is left unchanged. */
mt_status mt_yaml_merge(mt_yaml_node *dst, const mt_yaml_node *over);

/* Child of a map by key, or NULL. */
mt_yaml_node *mt_yaml_map_get(const mt_yaml_node *map, const char *key);
/* Node at a dotted path ("optimizer.lr"; sequence items by index, "layers.3"), or NULL. */
mt_yaml_node *mt_yaml_path(const mt_yaml_node *root, const char *path);
/* Appends `child` (taking ownership) to a map under `key` (replacing an
 * existing entry of that key) or to a sequence (key NULL). */
mt_status mt_yaml_put(mt_yaml_node *parent, const char *key, mt_yaml_node *child);
/* New nodes (file/line/col copied from `where` when not NULL). */
mt_yaml_node *mt_yaml_new_scalar(const char *text, const mt_yaml_node *where);
mt_yaml_node *mt_yaml_new_map(const mt_yaml_node *where);
mt_yaml_node *mt_yaml_new_seq(const mt_yaml_node *where);

/* Applies one override "a.b.c=value" (the --set syntax). Intermediate maps are
 * created as needed; the new node's file is "--set a.b.c=value". Errors:
 * MT_ERR_INVALID for a missing '=' or a path through a scalar. */
mt_status mt_yaml_set(mt_yaml_node *root, const char *assignment);

/* Writes the tree as YAML text (block style, strings quoted where needed).
 * *text_out is malloc'ed; the caller frees it. */
mt_status mt_yaml_dump(const mt_yaml_node *root, char **text_out);

/* "file:line:col" of a node into buf (for error messages). */
const char *mt_yaml_where(const mt_yaml_node *n, char *buf, size_t len);
/* Same, for the node's key (where the key was written). */
const char *mt_yaml_key_where(const mt_yaml_node *n, char *buf, size_t len);

/* Scalar conversions. Return 1 on success, 0 if the text is not of that type.
 * Booleans accept true/false/yes/no/on/off (YAML 1.1). */
int mt_yaml_as_double(const mt_yaml_node *n, double *out);
int mt_yaml_as_int(const mt_yaml_node *n, long *out);
int mt_yaml_as_bool(const mt_yaml_node *n, int *out);

/* Levenshtein edit distance (for "did you mean" suggestions). */
int mt_edit_distance(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
