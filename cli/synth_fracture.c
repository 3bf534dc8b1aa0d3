/* cli/synth_fracture.c: `medtrain synth-fracture`: the S4 synthetic nasal-fracture benchmark
 * (data/synth_fracture.h, docs/synthetic.md) from a crops dataset.
 *   medtrain synth-fracture crops.h5 --out bench.h5 --strength 0.5 [--fraction 0.5] [--seed N]
 *       [--bone_points l2,l15] [--tip 0.22,0.39] [--examples DIR]
 * --examples DIR writes example_<i>.png for the first few fracture crops: the original, the
 * defect image and the defect image with its mask, side by side. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../data/synth_fracture.h"
#include "../train/plot.h"
#include "cli.h"

#define N_EXAMPLES 4

static const cli_optspec k_spec[] = {
    {"out", 1, 0, "benchmark dataset to write (.h5), atomically"},
    {"strength", 1, 0, "defect strength s in [0, 1] (required): 0 leaves the images unchanged, 1 the strongest"},
    {"fraction", 1, 0, "share of each split's crops that get a defect (default 0.5)"},
    {"seed", 1, 0, "random seed (default 0)"},
    {"bone_points", 1, 0, "A,B: point_names of the nasion and the point that sets L = |B - A| (default l2,l15)"},
    {"tip", 1, 0, "dx,dy: the bone tip T = A + (dx, dy) L (default 0.22,0.39)"},
    {"examples", 1, 0, "folder for a few example PNGs (original | defect | mask overlay)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

static int usage(const cli_args *a)
{
    cli_print_help(a->help ? stdout : stderr,
                   "medtrain synth-fracture CROPS.h5 --out BENCH.h5 --strength S [--fraction 0.5] [--seed N]\n"
                   "       [--bone_points l2,l15] [--tip 0.22,0.39] [--examples DIR]",
                   "Draws a fracture-like defect (a thin dark line and a small step of the bone edge) across the\n"
                   "nasal bone of half of the crops of each split and writes them with labels normal/fracture\n"
                   "and the defect masks; mean and standard deviation of every crop are kept. See\n"
                   "docs/synthetic.md.",
                   k_spec, N_SPEC);
    return a->help ? 0 : 2;
}

static int parse_real(const char *opt, const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v)) {
        fprintf(stderr, "medtrain synth-fracture: --%s '%s': expected a number\n", opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

/* the options into *p (names point into nbuf); 0, or 2 after a message */
static int parse_params(const cli_args *a, mt_synth_fracture_params *p, char *nbuf, size_t nlen)
{
    mt_synth_fracture_params_init(p);
    if (!parse_real("strength", cli_opt(a, "strength", ""), &p->strength)) return 2;
    if (cli_has(a, "fraction") && !parse_real("fraction", cli_opt(a, "fraction", ""), &p->fraction)) return 2;
    if (cli_has(a, "seed")) {
        char *end = NULL;
        const char *s = cli_opt(a, "seed", "");
        unsigned long long v = strtoull(s, &end, 10);
        if (!*s || *end || s[0] == '-') {
            fprintf(stderr, "medtrain synth-fracture: --seed '%s': expected a non-negative integer\n", s);
            return 2;
        }
        p->seed = v;
    }
    snprintf(nbuf, nlen, "%s", cli_opt(a, "bone_points", "l2,l15"));
    char *comma = strchr(nbuf, ',');
    if (!comma || comma == nbuf || !comma[1] || strchr(comma + 1, ',')) {
        fprintf(stderr, "medtrain synth-fracture: --bone_points '%s': expected two names A,B\n", nbuf);
        return 2;
    }
    *comma = '\0';
    p->point_a = nbuf, p->point_b = comma + 1;
    if (cli_has(a, "tip")) {
        char extra;
        if (sscanf(cli_opt(a, "tip", ""), "%lf,%lf%c", &p->tip[0], &p->tip[1], &extra) != 2) {
            fprintf(stderr, "medtrain synth-fracture: --tip '%s': expected dx,dy\n", cli_opt(a, "tip", ""));
            return 2;
        }
    }
    return 0;
}

/* example_<i>.png for the first N_EXAMPLES fracture crops of the benchmark */
static mt_status write_examples(const char *crops, const char *bench, const char *dir)
{
    MT_TRY(mt_mkdirs(dir));
    mt_dataset *in = NULL, *out = NULL;
    MT_TRY(mt_dataset_open(crops, &in));
    mt_status st = mt_dataset_open(bench, &out);
    for (int i = 0, shown = 0; st == MT_OK && i < mt_dataset_size(out) && shown < N_EXAMPLES; i++) {
        if (mt_dataset_label(out, i) != 1) continue;
        mt_sample a, b;
        if ((st = mt_dataset_read(in, i, &a))) break;
        if ((st = mt_dataset_read(out, i, &b))) {
            mt_sample_free(&a);
            break;
        }
        char path[4096], cap[64];
        snprintf(path, sizeof path, "%s/example_%d.png", dir, i);
        snprintf(cap, sizeof cap, "defect + mask (sample %d)", i);
        mt_plot_mask m = {b.mask, 230, 40, 40, "defect"};
        mt_plot_tile tiles[3] = {{a.image, a.h, a.w, 0, 1, 0, NULL, "original"},
                                 {b.image, b.h, b.w, 0, 1, 0, NULL, "defect"},
                                 {b.image, b.h, b.w, 0, 1, 1, &m, cap}};
        st = mt_plot_contact_sheet(path, 3, tiles, 3, 256, NULL);
        mt_sample_free(&a);
        mt_sample_free(&b);
        shown++;
    }
    mt_dataset_close(out);
    mt_dataset_close(in);
    return st;
}

int cli_synth_fracture(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("synth-fracture", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 1 || !cli_has(&a, "out") || !cli_has(&a, "strength")) return usage(&a);
    mt_synth_fracture_params p;
    char names[512], cmd[4096];
    if ((rc = parse_params(&a, &p, names, sizeof names))) return rc;
    int l = snprintf(cmd, sizeof cmd, "medtrain synth-fracture %s", a.pos[0]);
    for (int i = 0; i < a.n_opt && l > 0 && (size_t)l < sizeof cmd; i++)
        l += snprintf(cmd + l, sizeof cmd - (size_t)l, " --%s %s", a.opt_name[i], a.opt_value[i] ? a.opt_value[i] : "");
    p.description = cmd;
    const char *out = cli_opt(&a, "out", "");
    mt_synth_fracture_report rep;
    if (mt_synth_fracture_dataset(a.pos[0], out, &p, &rep) != MT_OK) return cli_fail("synth-fracture");
    static const char *const split[4] = {"train", "val", "test", "(none)"};
    printf("wrote %s (strength %g, seed %llu)\n", out, p.strength, (unsigned long long)p.seed);
    for (int g = 0; g < 4; g++)
        if (rep.n[g]) printf("  %-6s %5d crops, %5d with a defect\n", split[g], rep.n[g], rep.n_fracture[g]);
    if (cli_has(&a, "examples") && write_examples(a.pos[0], out, cli_opt(&a, "examples", "")) != MT_OK)
        return cli_fail("synth-fracture");
    return 0;
}
