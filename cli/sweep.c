/* cli/sweep.c: `medtrain sweep`: argument parsing over the sweep library
 * (train/sweep.h: the trials, the local and Slurm backends, the table). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../train/sweep.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"out", 1, 0, "sweep directory (default runs/sweeps/<name>); a re-run continues it"},
    {"backend", 1, 0, "local (default: child processes on this machine) or slurm (one sbatch job array)"},
    {"concurrent", 1, 0, "local: trials at once (default: the sweep file's local.concurrent, else 1)"},
    {"threads", 1, 0, "local: CPU threads per trial (default: local.threads, else cores / concurrent)"},
    {"trial", 1, 0, "I: run (or resume) only trial I in this process (what each backend's task runs)"},
    {"table", 0, 0, "only (re)write the results table from the finished trials"},
    {"list", 0, 0, "print the trials and their overrides, run nothing"},
    {"device", 1, 0, "cpu, cuda or cuda:N for every trial (default: train.device)"},
    {"quiet", 0, 0, "no progress output"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

static void list_trials(const mt_sweep *sw)
{
    printf("sweep %s: %d trials of %s\n", sw->name, sw->n_trials, sw->experiment);
    for (int t = 0; t < sw->n_trials; t++) {
        printf("  %3d:", t);
        for (int p = 0; p < sw->n_params; p++)
            printf(" %s=%s", sw->param_keys[p], sw->param_values[(size_t)t * (size_t)sw->n_params + p]);
        printf("\n");
    }
}

int cli_sweep(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("sweep", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 1) {
        cli_print_help(a.help ? stdout : stderr,
                       "medtrain sweep SWEEP.yaml [--out DIR] [--backend local|slurm] [--concurrent N] [--threads N]\n"
                       "       medtrain sweep SWEEP.yaml --out DIR --trial I",
                       "Runs a hyperparameter sweep (docs/sweep.md): a base experiment and a search space (grid,\n"
                       "random ranges, seeds, K folds). Every trial is an ordinary run directory DIR/trials/NNN;\n"
                       "the table is DIR/results.csv, results.md and results_<key>.png. Killed or stopped with\n"
                       "Ctrl-C, the same command continues: finished trials are kept, started ones resume\n"
                       "from their last.h5.",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    mt_sweep sw;
    memset(&sw, 0, sizeof sw);
    if (mt_sweep_load(a.pos[0], &sw) != MT_OK) {
        mt_sweep_free(&sw);
        return cli_fail("sweep");
    }
    if (cli_has(&a, "list")) {
        list_trials(&sw);
        mt_sweep_free(&sw);
        return 0;
    }
    char def_out[1024];
    snprintf(def_out, sizeof def_out, "runs/sweeps/%s", sw.name);
    const char *out = cli_opt(&a, "out", def_out), *backend = cli_opt(&a, "backend", "local");
    const char *device = cli_opt(&a, "device", NULL);
    int quiet = cli_has(&a, "quiet"), trial = -1, concurrent = sw.concurrent, threads = sw.threads;
    if ((rc = cli_int(&a, "trial", -1, &trial)) || (rc = cli_int(&a, "concurrent", sw.concurrent, &concurrent)) ||
        (rc = cli_int(&a, "threads", sw.threads, &threads))) {
        mt_sweep_free(&sw);
        return rc;
    }
    if (strcmp(backend, "local") && strcmp(backend, "slurm")) {
        fprintf(stderr, "medtrain sweep: --backend '%s': allowed local, slurm\n", backend);
        mt_sweep_free(&sw);
        return 2;
    }
    mt_status st = mt_sweep_prepare(&sw, out);
    if (st == MT_OK && trial >= 0) { /* one trial in this process */
        st = mt_sweep_run_trial(&sw, out, trial, device, quiet);
        mt_sweep_free(&sw);
        return st == MT_OK ? 0 : cli_fail("sweep");
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (st == MT_OK && n <= 0) st = MT_ERR(MT_ERR_IO, "cannot find the medtrain executable (/proc/self/exe)");
    if (n > 0) exe[n] = 0;
    mt_status run = MT_OK;
    if (st == MT_OK && !cli_has(&a, "table")) {
        if (!strcmp(backend, "slurm")) run = mt_sweep_run_slurm(&sw, out, exe, device, quiet);
        else run = mt_sweep_run_local(&sw, out, exe, device, concurrent, threads, quiet);
    }
    int done = 0;
    char run_msg[2048] = "";
    if (st == MT_OK) { /* the table of what finished, also after a failure or Ctrl-C */
        snprintf(run_msg, sizeof run_msg, "%s", mt_last_error());
        mt_error_clear();
        st = mt_sweep_table(&sw, out, &done);
    }
    if (st == MT_OK && !quiet) printf("sweep %s: %d of %d trials finished; table %s/results.md\n", sw.name, done, sw.n_trials, out);
    mt_sweep_free(&sw);
    if (st != MT_OK) return cli_fail("sweep");
    if (run != MT_OK) {
        fprintf(stderr, "medtrain sweep: %s\n", run_msg);
        return 1;
    }
    return 0;
}
