/* tests/test_config.c: YAML trees with positions (core/yaml_tree.h) and the
 * experiment schema (configs/config.h): values and defaults, base: deep
 * merge, --set overrides, errors with file:line:column and "did you mean",
 * the resolved config reloading to the same experiment, and docs/config.md
 * matching the schema table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../configs/config.h"
#include "../core/yaml_tree.h"
#include "test.h"

/* files go to <tmpdir>/test_config/ so names cannot collide with other test files */
static const char *write_file(const char *name, const char *text, char *buf, size_t len)
{
    snprintf(buf, len, "%s/test_config", mt_test_tmpdir());
    mkdir(buf, 0700);
    snprintf(buf, len, "%s/test_config/%s", mt_test_tmpdir(), name);
    FILE *f = fopen(buf, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return buf;
}

/* a graph and a (dummy) dataset next to the configs, so relative paths resolve */
static void write_support_files(void)
{
    char p[600];
    write_file("graph.yaml", "params: {base: 8}\ninput: {channels: 1}\nlayers:\n  - {name: c, type: conv2d, out: 2, kernel: 1}\n",
               p, sizeof p);
    write_file("data.h5", "not checked here\n", p, sizeof p);
}

/* An alias expands to a copy of the anchored entry, which carries that entry's own key; the
 * copy's key was overwritten without being freed (a leak found by `make test-sanitize`, which
 * fails this test under LeakSanitizer if it comes back). Map entry: its key; sequence item: none. */
TEST(yaml_tree_alias_copy_takes_its_own_key)
{
    mt_yaml_node *r = NULL;
    CHECK_OK(mt_yaml_load_string("d: &a {e: 2}\nf: *a\ns: [*a, x]\n", "t.yaml", &r));
    mt_yaml_node *f = mt_yaml_path(r, "f"), *s0 = mt_yaml_path(r, "s.0");
    int ok = f && f->key && !strcmp(f->key, "f") && s0 && !s0->key && mt_yaml_path(r, "s.0.e");
    char why[200];
    snprintf(why, sizeof why, "alias keys: map entry '%s' (want f), sequence item '%s' (want none)",
             f && f->key ? f->key : "(none)", s0 && s0->key ? s0->key : "(none)");
    mt_yaml_free(r);
    CHECK(ok, "%s", why);
}

TEST(yaml_tree_positions_anchors_dump)
{
    const char *text = "a: 1\nb:\n  c: [x, 'yes', 3]\n  d: &anch {e: 2}\nf: *anch\ng: \"quoted: text\"\n";
    mt_yaml_node *r = NULL;
    CHECK_OK(mt_yaml_load_string(text, "t.yaml", &r));
    mt_yaml_node *c = mt_yaml_path(r, "b.c");
    CHECK(c && c->kind == MT_YAML_SEQ && c->n == 3 && c->line == 3 && c->col == 6, "b.c at %d:%d", c ? c->line : -1,
          c ? c->col : -1);
    CHECK(mt_yaml_path(r, "b.c.1")->quoted && !strcmp(mt_yaml_path(r, "b.c.1")->value, "yes"), "quoted scalar");
    mt_yaml_node *d = mt_yaml_path(r, "b.d");
    CHECK(d->key_line == 4 && d->key_col == 3, "key position %d:%d", d->key_line, d->key_col);
    CHECK(mt_yaml_path(r, "f.e") && !strcmp(mt_yaml_path(r, "f.e")->value, "2"), "alias not expanded");
    long v;
    CHECK(mt_yaml_as_int(mt_yaml_path(r, "a"), &v) && v == 1, "as_int");
    CHECK(!mt_yaml_as_int(mt_yaml_path(r, "b.c.1"), &v), "a quoted 'yes' is not a number");
    int bv;
    CHECK(!mt_yaml_as_bool(mt_yaml_path(r, "b.c.1"), &bv), "a quoted 'yes' is not a bool");
    char *out = NULL;
    CHECK_OK(mt_yaml_dump(r, &out));
    mt_yaml_node *r2 = NULL;
    CHECK_OK(mt_yaml_load_string(out, "dump", &r2));
    char *out2 = NULL;
    CHECK_OK(mt_yaml_dump(r2, &out2));
    CHECK(!strcmp(out, out2), "dump is not stable:\n%s\n---\n%s", out, out2);
    CHECK(mt_yaml_path(r2, "b.c.1")->quoted, "'yes' lost its quotes in the dump:\n%s", out);
    CHECK(!strcmp(mt_yaml_path(r2, "g")->value, "quoted: text"), "string with ': ' not preserved");
    free(out);
    free(out2);
    mt_yaml_free(r2);
    /* --set with typed YAML values */
    CHECK_OK(mt_yaml_set(r, "b.c=[1, 2]"));
    CHECK(mt_yaml_path(r, "b.c")->n == 2, "--set list");
    CHECK_OK(mt_yaml_set(r, "new.deep.key=5"));
    CHECK(mt_yaml_path(r, "new.deep.key") && !strcmp(mt_yaml_path(r, "new.deep.key")->value, "5"), "--set new path");
    CHECK(mt_yaml_set(r, "a.x=1") != MT_OK, "--set through a scalar must fail");
    mt_error_clear();
    CHECK(mt_yaml_set(r, "novalue") != MT_OK, "--set without '=' must fail");
    mt_error_clear();
    mt_yaml_free(r);
    /* syntax errors carry the position */
    CHECK(mt_yaml_load_string("a: [1, 2\nb: 3\n", "bad.yaml", &r) == MT_ERR_FORMAT, "syntax error expected");
    CHECK(strstr(mt_last_error(), "bad.yaml:"), "syntax error position: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_yaml_load_string("a: 1\na: 2\n", "dup.yaml", &r) == MT_ERR_FORMAT, "duplicate key expected");
    CHECK(strstr(mt_last_error(), "dup.yaml:2:1: duplicate key 'a'"), "duplicate message: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_edit_distance("lerning_rate", "learning_rate") == 1 && mt_edit_distance("", "abc") == 3, "edit distance");
}

TEST(yaml_tree_base_deep_merge_and_cycles)
{
    char p1[600], p2[600], p3[600];
    write_file("b0.yaml", "optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}\ntrain: {epochs: 5}\nlist: [1, 2, 3]\n", p1, sizeof p1);
    write_file("b1.yaml", "base: b0.yaml\noptimizer: {lr: 0.01}\nlist: [9]\n", p2, sizeof p2);
    mt_yaml_node *r = NULL;
    CHECK_OK(mt_yaml_load_file(p2, &r));
    CHECK(!strcmp(mt_yaml_path(r, "optimizer.kind")->value, "sgd"), "inherited kind");
    CHECK(!strcmp(mt_yaml_path(r, "optimizer.lr")->value, "0.01"), "overridden lr");
    CHECK(!strcmp(mt_yaml_path(r, "optimizer.momentum")->value, "0.9"), "inherited momentum");
    CHECK(mt_yaml_path(r, "list")->n == 1, "lists replace, not merge");
    CHECK(!mt_yaml_map_get(r, "base"), "base key must be removed");
    CHECK(strstr(mt_yaml_path(r, "optimizer.lr")->file, "b1.yaml") && strstr(mt_yaml_path(r, "optimizer.kind")->file, "b0.yaml"),
          "nodes keep their own file");
    mt_yaml_free(r);
    write_file("c1.yaml", "base: c2.yaml\na: 1\n", p1, sizeof p1);
    write_file("c2.yaml", "base: c1.yaml\nb: 1\n", p3, sizeof p3);
    CHECK(mt_yaml_load_file(p1, &r) != MT_OK, "base cycle must fail");
    CHECK(strstr(mt_last_error(), "cycle"), "cycle message: %s", mt_last_error());
    mt_error_clear();
    write_file("c3.yaml", "base: no_such_base.yaml\n", p1, sizeof p1);
    mt_status st = mt_yaml_load_file(p1, &r);
    CHECK(st == MT_ERR_IO, "missing base must be MT_ERR_IO, got %d: %s", (int)st, mt_last_error());
    CHECK(strstr(mt_last_error(), "c3.yaml:1:7") && strstr(mt_last_error(), "no_such_base.yaml"), "missing base message: %s",
          mt_last_error());
    mt_error_clear();
}

static const char *k_config =
    "name: s1test\n"
    "model:\n"
    "  graph: graph.yaml\n"
    "  params: {base: 16}\n"
    "data:\n"
    "  dataset: data.h5\n"
    "  input_size: [96, 128]\n"
    "  normalize: window\n"
    "  window: [-160, 240]\n"
    "  augment: {enabled: true, flip_h: 0.5, rotation_deg: 10, zoom: [0.9, 1.1]}\n"
    "loss: {kind: bce_with_logits}\n"
    "optimizer:\n"
    "  kind: adam\n"
    "  lr: 1.0e-4\n"
    "schedule: {kind: multistep, milestones: [5, 8]}\n"
    "train: {epochs: 10, batch_size: 32, seed: 7, deterministic: true}\n"
    "early_stopping: {enabled: true, monitor: val_dsc, mode: max, patience: 3}\n"
    "metrics: {names: [dsc, iou, accuracy, auc]}\n"
    "postprocess: {hu_window: [-29, 150]}\n";

TEST(config_loads_values_defaults_and_paths)
{
    write_support_files();
    char path[600];
    write_file("exp.yaml", k_config, path, sizeof path);
    mt_experiment e;
    CHECK_OK(mt_experiment_load(path, 0, NULL, &e));
    CHECK(!strcmp(e.name, "s1test"), "name");
    CHECK(e.model.graph[0] == '/' && strstr(e.model.graph, "/graph.yaml"), "graph path not absolute: %s", e.model.graph);
    CHECK(e.model.n_args == 1 && !strcmp(e.model.args[0].key, "base") && !strcmp(e.model.args[0].value, "16"),
          "model params");
    CHECK(e.data.input_size[0] == 96 && e.data.input_size[1] == 128, "input_size");
    CHECK(e.data.normalize == MT_NORM_WINDOW && e.data.window[0] == -160 && e.data.window[1] == 240, "window");
    CHECK(e.data.augment.enabled && e.data.augment.flip_h == 0.5 && e.data.augment.zoom[1] == 1.1 &&
              e.data.augment.flip_v == 0,
          "augment");
    CHECK(e.optimizer.kind == 1 && e.optimizer.lr == 1e-4, "optimizer kind %d lr %g", e.optimizer.kind, e.optimizer.lr);
    CHECK(e.optimizer.betas[0] == 0.9 && e.optimizer.betas[1] == 0.999, "default betas");
    CHECK(e.schedule.kind == 2 && e.schedule.n_milestones == 2 && e.schedule.milestones[1] == 8, "milestones");
    CHECK(e.train.batch_size == 32 && e.train.seed == 7 && e.train.deterministic && e.train.epochs == 10, "train");
    CHECK(!strcmp(e.train.device, "auto"), "default device");
    CHECK(e.early_stopping.enabled && e.early_stopping.mode_max == 1 && e.early_stopping.patience == 3 &&
              !strcmp(e.early_stopping.monitor, "val_dsc"),
          "early stopping");
    CHECK(e.metrics.n_names == 4 && !strcmp(e.metrics.names[3], "auc"), "metrics");
    CHECK(e.postprocess.hu_window_enabled && e.postprocess.hu_window[0] == -29 && e.postprocess.hu_window[1] == 150,
          "hu window");
    CHECK(e.loss.kind == MT_LOSS_BCE_WITH_LOGITS && e.loss.pos_weight == 1, "loss");
    /* the resolved YAML reloads (from anywhere) to the same experiment */
    char p2[600];
    write_file("resolved.yaml", e.resolved_yaml, p2, sizeof p2);
    mt_experiment e2;
    CHECK_OK(mt_experiment_load(p2, 0, NULL, &e2));
    CHECK(!strcmp(e.resolved_yaml, e2.resolved_yaml), "resolved config not a fixed point:\n%s\n---\n%s", e.resolved_yaml,
          e2.resolved_yaml);
    CHECK(e2.optimizer.lr == e.optimizer.lr && e2.data.augment.zoom[0] == e.data.augment.zoom[0] &&
              !strcmp(e2.model.graph, e.model.graph),
          "reloaded values differ");
    mt_experiment_free(&e2);
    mt_experiment_free(&e);
}

TEST(config_set_overrides_and_base)
{
    write_support_files();
    char path[600], child[600];
    write_file("exp.yaml", k_config, path, sizeof path);
    write_file("child.yaml", "base: exp.yaml\noptimizer: {kind: sgd, momentum: 0.99}\n", child, sizeof child);
    const char *sets[3] = {"optimizer.lr=0.5", "data.input_size=[64, 64]", "train.deterministic=false"};
    mt_experiment e;
    CHECK_OK(mt_experiment_load(child, 3, sets, &e));
    CHECK(e.optimizer.kind == 0 && e.optimizer.momentum == 0.99 && e.optimizer.lr == 0.5, "base + child + --set");
    CHECK(e.data.input_size[0] == 64 && !e.train.deterministic && e.train.batch_size == 32, "--set values");
    mt_experiment_free(&e);
    const char *bad_set[1] = {"optimizer.lerning_rate=1"};
    CHECK(mt_experiment_load(child, 1, bad_set, &e) == MT_ERR_INVALID, "unknown --set key must fail");
    CHECK(strstr(mt_last_error(), "--set optimizer.lerning_rate=1") && strstr(mt_last_error(), "did you mean 'lr'"),
          "--set error: %s", mt_last_error());
    mt_error_clear();
    const char *bad_type[1] = {"train.batch_size=big"};
    CHECK(mt_experiment_load(child, 1, bad_type, &e) == MT_ERR_INVALID, "wrong --set type must fail");
    CHECK(strstr(mt_last_error(), "expected an integer, got 'big'"), "--set type error: %s", mt_last_error());
    mt_error_clear();
}

TEST(config_errors_file_line_column_did_you_mean)
{
    write_support_files();
    char path[600];
    const char *typo = "model: {graph: graph.yaml}\ndata: {dataset: data.h5}\noptimizer:\n  kind: adam\n  lerning_rate: 0.1\n";
    write_file("typo.yaml", typo, path, sizeof path);
    mt_experiment e;
    CHECK(mt_experiment_load(path, 0, NULL, &e) == MT_ERR_INVALID, "typo must fail");
    char expect[700];
    snprintf(expect, sizeof expect, "%s:5:3: unknown key 'lerning_rate' in optimizer; allowed: kind, lr, momentum", path);
    CHECK(strstr(mt_last_error(), expect) && strstr(mt_last_error(), "did you mean 'lr'?"), "message: %s",
          mt_last_error());
    mt_error_clear();
    const char *enum_typo = "model: {graph: graph.yaml}\ndata: {dataset: data.h5}\noptimizer: {kind: adma}\n";
    write_file("enum.yaml", enum_typo, path, sizeof path);
    CHECK(mt_experiment_load(path, 0, NULL, &e) == MT_ERR_INVALID, "bad enum must fail");
    CHECK(strstr(mt_last_error(), "enum.yaml:3:19: optimizer.kind: unknown value 'adma'") &&
              strstr(mt_last_error(), "did you mean 'adam'"),
          "enum message: %s", mt_last_error());
    mt_error_clear();
    const char *wrong = "model: {graph: graph.yaml}\ndata: {dataset: data.h5}\ntrain:\n  batch_size: 3.5\n";
    write_file("type.yaml", wrong, path, sizeof path);
    CHECK(mt_experiment_load(path, 0, NULL, &e) == MT_ERR_INVALID, "wrong type must fail");
    CHECK(strstr(mt_last_error(), "type.yaml:4:15: train.batch_size: expected an integer, got '3.5'"), "type message: %s",
          mt_last_error());
    mt_error_clear();
    const char *missing = "model: {graph: graph.yaml}\ndata:\n  dataset: nowhere/ct.h5\n";
    write_file("missing.yaml", missing, path, sizeof path);
    CHECK(mt_experiment_load(path, 0, NULL, &e) == MT_ERR_IO, "missing dataset must fail with MT_ERR_IO");
    CHECK(strstr(mt_last_error(), "missing.yaml:3:12: data.dataset: file 'nowhere/ct.h5' not found"), "missing message: %s",
          mt_last_error());
    mt_error_clear();
    const char *section = "model: {graph: graph.yaml}\ndata: {dataset: data.h5}\noptimiser: {lr: 1}\n";
    write_file("section.yaml", section, path, sizeof path);
    CHECK(mt_experiment_load(path, 0, NULL, &e) == MT_ERR_INVALID, "unknown section must fail");
    CHECK(strstr(mt_last_error(), "section.yaml:3:1: unknown key 'optimiser' in the top level") &&
              strstr(mt_last_error(), "did you mean 'optimizer'"),
          "section message: %s", mt_last_error());
    mt_error_clear();
    write_file("noreq.yaml", "data: {dataset: data.h5}\n", path, sizeof path);
    CHECK(mt_experiment_load(path, 0, NULL, &e) == MT_ERR_INVALID, "missing model.graph must fail");
    CHECK(strstr(mt_last_error(), "missing required key 'model.graph'"), "required message: %s", mt_last_error());
    mt_error_clear();
    const char *metric = "model: {graph: graph.yaml}\ndata: {dataset: data.h5}\nmetrics: {names: [dsc, iuo]}\n";
    write_file("metric.yaml", metric, path, sizeof path);
    CHECK(mt_experiment_load(path, 0, NULL, &e) == MT_ERR_INVALID, "unknown metric must fail");
    CHECK(strstr(mt_last_error(), "did you mean 'iou'"), "metric message: %s", mt_last_error());
    mt_error_clear();
}

TEST(config_reference_doc_matches_table)
{
    char *md = NULL;
    CHECK_OK(mt_config_reference_markdown(&md));
    CHECK(strstr(md, "| `optimizer.lr` | number | `0.001` |"), "reference row for optimizer.lr missing");
    char path[600];
    mt_test_path("docs/config.md", path, sizeof path);
    if (getenv("MEDTRAIN_WRITE_DOCS")) {
        FILE *f = fopen(path, "w");
        CHECK(f, "cannot write %s", path);
        fputs(md, f);
        fclose(f);
    }
    FILE *f = fopen(path, "r");
    CHECK(f, "%s missing: regenerate with MEDTRAIN_WRITE_DOCS=1 run_tests config_reference", path);
    size_t cap = strlen(md) + 4096;
    char *doc = calloc(1, cap);
    size_t n = fread(doc, 1, cap - 1, f);
    fclose(f);
    int same = n == strlen(md) && !memcmp(doc, md, n);
    free(doc);
    free(md);
    CHECK(same, "docs/config.md differs from the schema table: regenerate with MEDTRAIN_WRITE_DOCS=1 run_tests config_reference");
}

/* Values that parse but cannot train are refused at load, naming the key and where it was
 * set (issue 12): epochs 0, a learning rate that is not a positive finite number, a window
 * with lo >= hi. */
TEST(config_refuses_untrainable_values)
{
    write_support_files();
    char path[600];
    write_file("exp.yaml", k_config, path, sizeof path);
    static const struct {
        const char *set, *frag;
    } bad[] = {
        {"train.epochs=0", "train.epochs must be at least 1"},
        {"optimizer.lr=-1", "optimizer.lr must be a finite number >= 0"},
        {"optimizer.lr=1e300", "optimizer.lr must be a finite number >= 0"},
        {"data.window=[5, 1]", "data.window must be [lo, hi] with lo < hi"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mt_experiment e;
        const char *sets[1] = {bad[i].set};
        CHECK(mt_experiment_load(path, 1, sets, &e) == MT_ERR_INVALID, "%s must be refused", bad[i].set);
        CHECK(strstr(mt_last_error(), bad[i].frag) && strstr(mt_last_error(), bad[i].set), "%s: %s", bad[i].set,
              mt_last_error());
        mt_error_clear();
    }
    char child[600];
    write_file("child0.yaml", "base: exp.yaml\ntrain: {epochs: 0}\n", child, sizeof child);
    mt_experiment e;
    CHECK(mt_experiment_load(child, 0, NULL, &e) == MT_ERR_INVALID, "epochs 0 in a file must be refused");
    CHECK(strstr(mt_last_error(), "child0.yaml:2:"), "the error names the file and line: %s", mt_last_error());
    mt_error_clear();
}
