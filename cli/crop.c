/* cli/crop.c: `medtrain crop DATASET --out OUT.h5 --size 256`: square box-centred
 * crops of every sample (train/crop_dataset.h; S4's nasal-bone crops, boxes from
 * the detector for the test split with --detector). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../train/crop_dataset.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"out", 1, 0, "output dataset OUT.h5 (required)"},
    {"size", 1, 0, "crop side in pixels (default 256)"},
    {"margin", 1, 0, "side = max(box w, h) * (1 + 2 * margin) (default 0; > -0.5, negative = tighter than the box)"},
    {"variants", 1, 0, "crops per sample: 0 plain, 1.. jittered (default 1)"},
    {"jitter", 1, 0, "variants move the centre by uniform(-J, J) * side in x and y (default 0)"},
    {"scale_jitter", 1, 0, "variants scale the side by uniform(1 - S, 1 + S) (default 0)"},
    {"seed", 1, 0, "seed of the variant draws (default 0)"},
    {"jitter_all", 1, 0, "1: every crop jittered, crop 0 included (no plain box-centred crop; default 0)"},
    {"variant_splits", 1, 0, "comma list of splits that get --variants crops; the others get 1 (default: all)"},
    {"detector", 1, 0, "detection RUN_DIR or CHECKPOINT.h5: its top box crops the --detector_splits samples"},
    {"detector_splits", 1, 0, "comma list of splits cropped with the detector's box (default test)"},
    {"batch_size", 1, 0, "detector batch size (default 4)"},
    {"device", 1, 0, "cpu, cuda or cuda:N for the detector (default: the GPU when there is one)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

/* progress on stdout: redrawn in place on a terminal, else a line every 10% */
typedef struct crop_progress {
    int tty;
    long last_decile;
} crop_progress;

static void progress_cb(void *user, long done, long total)
{
    crop_progress *p = user;
    if (p->tty) {
        printf("\rcrop %ld/%ld (%.0f%%) ", done, total, total > 0 ? 100.0 * done / total : 0.0);
        if (done == total) printf("\n");
        fflush(stdout);
    } else if (total > 0 && (done * 10 / total > p->last_decile || done == total)) {
        p->last_decile = done * 10 / total;
        printf("crop %ld/%ld (%.0f%%)\n", done, total, 100.0 * done / total);
        fflush(stdout);
    }
}

int cli_crop(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("crop", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 1 || !cli_has(&a, "out")) {
        cli_print_help(a.help ? stdout : stderr,
                       "medtrain crop DATASET --out OUT.h5 [--size 256] [--margin M] [--variants V --jitter J "
                       "--scale_jitter S --seed N --jitter_all 1 --variant_splits train] [--detector RUN_DIR --detector_splits test]",
                       "Square crops centred on each sample's box (side max(w, h) * (1 + 2 margin)), resampled to\n"
                       "size x size; splits kept per source sample. With --detector, samples of --detector_splits\n"
                       "are cropped around the detector's top box (docs/import.md, `medtrain crop`).",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    mt_crop_options o;
    memset(&o, 0, sizeof o);
    o.input = a.pos[0];
    o.output = cli_opt(&a, "out", NULL);
    o.size = atoi(cli_opt(&a, "size", "256"));
    o.margin = atof(cli_opt(&a, "margin", "0"));
    o.variants = atoi(cli_opt(&a, "variants", "1"));
    o.jitter = atof(cli_opt(&a, "jitter", "0"));
    o.scale_jitter = atof(cli_opt(&a, "scale_jitter", "0"));
    o.seed = strtoull(cli_opt(&a, "seed", "0"), NULL, 10);
    o.jitter_all = atoi(cli_opt(&a, "jitter_all", "0"));
    o.variant_splits = cli_opt(&a, "variant_splits", NULL);
    o.detector = cli_opt(&a, "detector", NULL);
    o.detector_splits = cli_opt(&a, "detector_splits", "test");
    o.batch_size = atoi(cli_opt(&a, "batch_size", "4"));
    if (o.detector && (rc = cli_device(&a, &o.dev)) != 0) return rc;
    char cmd[4096];
    int len = snprintf(cmd, sizeof cmd, "medtrain crop");
    for (int i = 0; i < argc && len >= 0 && (size_t)len < sizeof cmd; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s", argv[i]);
    o.description = cmd;
    crop_progress prog = {isatty(STDOUT_FILENO), 0};
    o.progress = progress_cb;
    o.progress_user = &prog;
    mt_crop_result r;
    if (mt_crop_dataset(&o, &r) != MT_OK) return cli_fail("crop");
    printf("wrote %s: %d crops of %d samples (%dx%d)\n", o.output, r.n_written, r.n_samples, o.size, o.size);
    if (o.detector)
        printf("boxes from detector %s for splits %s: %d samples, %d without a detection (train-split mean box)%s%s\n",
               o.detector, o.detector_splits, r.n_detector, r.n_fallback, r.fallback_sources ? ": " : "",
               r.fallback_sources ? r.fallback_sources : "");
    mt_crop_result_free(&r);
    return 0;
}
