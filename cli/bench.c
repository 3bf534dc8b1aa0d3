/* cli/bench.c: `medtrain bench [ARGS...]`: runs the U-Net training-step
 * benchmark of experiments/bench (bench_unet_step, built by `make bench`),
 * found next to the medtrain binary or under build/. The arguments are passed
 * through unchanged (bench_unet_step --help lists them). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_bench(int argc, char **argv)
{
    if (argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("usage: medtrain bench [ARGS...]\n\nRuns bench_unet_step (experiments/bench/bench_unet_step.c, "
               "built by `make bench`): time per\nU-Net training step and images/s on the chosen device. ARGS "
               "are passed through\n(see bench_unet_step --help).\n");
        return 0;
    }
    char self[PATH_MAX], cand[2][PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    int nc = 0;
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(cand[nc++], sizeof cand[0], "%s/bench_unet_step", self);
        }
    }
    snprintf(cand[nc++], sizeof cand[0], "build/bench_unet_step");
    for (int i = 0; i < nc; i++) {
        if (access(cand[i], X_OK) != 0) continue;
        char **args = calloc((size_t)argc + 2, sizeof *args);
        if (!args) {
            fprintf(stderr, "medtrain bench: out of memory\n");
            return 1;
        }
        args[0] = cand[i];
        for (int j = 0; j < argc; j++) args[j + 1] = argv[j];
        fflush(stdout);
        execv(cand[i], args);
        fprintf(stderr, "medtrain bench: cannot run %s\n", cand[i]);
        free(args);
        return 1;
    }
    fprintf(stderr, "medtrain bench: bench_unet_step not found next to medtrain or in build/; build it with `make bench`\n");
    return 1;
}
