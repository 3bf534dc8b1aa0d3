/* cli/pseudo_label.c: `medtrain pseudo-label RUN --data DS.h5 --labelled K --out OUT.h5`:
 * S3's pseudo-label step (train/pseudo_label.h): the training slices after the first K get
 * RUN's predicted masks, flagged in /meta/pseudo_label. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../train/pseudo_label.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"data", 1, 0, "dataset DS.h5 to label (required; RUN's own data.dataset or one of the same layout)"},
    {"labelled", 1, 0, "k: the first k training samples keep their labels (required; the data.train_limit of v1)"},
    {"out", 1, 0, "output dataset OUT.h5 (required)"},
    {"device", 1, 0, "cpu, cuda or cuda:N (default: the GPU when there is one)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

int cli_pseudo_label(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("pseudo-label", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 1 || !cli_has(&a, "data") || !cli_has(&a, "labelled") || !cli_has(&a, "out")) {
        cli_print_help(a.help ? stdout : stderr, "medtrain pseudo-label RUN_DIR|CHECKPOINT.h5 --data DS.h5 --labelled K --out OUT.h5",
                       "Copies DS.h5 to OUT.h5 with the masks of the training samples after the first K (dataset\n"
                       "order) replaced by the run's predictions and flagged pseudo_label = 1 (/meta/pseudo_label);\n"
                       "train model v2 on OUT.h5 (S3's pseudo-label loop, docs/dataset.md).",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    int k = 0;
    mt_device dev;
    if ((rc = cli_int(&a, "labelled", 0, &k)) != 0 || (rc = cli_device(&a, &dev)) != 0) return rc;
    mt_pseudo_label_report r;
    const char *out = cli_opt(&a, "out", NULL);
    if (mt_pseudo_label_dataset(a.pos[0], cli_opt(&a, "data", NULL), out, k, dev, &r) != MT_OK)
        return cli_fail("pseudo-label");
    printf("%s: %d training samples with their labels, %d pseudo-labelled by %s, %d of other splits copied\n", out,
           r.n_labelled, r.n_pseudo, r.weights, r.n_other);
    if (!isnan(r.dsc_replaced))
        printf("pseudo labels vs the masks they replace: mean DSC %.4f (over samples and mask channels)\n",
               r.dsc_replaced);
    return 0;
}
