/* train/sweep_run.c: a sweep's directory, one trial in this process, and the
 * local backend (a pool of child processes) (sweep.h). POSIX + Linux prctl. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progress.h"
#include "run_dir.h"
#include "sweep.h"
#include "trainer.h"

void mt_sweep_trial_dir(const char *dir, int i, char *out, size_t len)
{
    snprintf(out, len, "%s/trials/%03d", dir, i);
}

static int file_in(const char *dir, const char *name)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return mt_path_exists(p);
}

int mt_sweep_trial_state(const char *dir, int i)
{
    char t[4200];
    mt_sweep_trial_dir(dir, i, t, sizeof t);
    if (file_in(t, "sweep_trial.json") && file_in(t, "metrics.json")) return 2;
    return file_in(t, "last.h5") ? 1 : 0;
}

static mt_status write_trials_csv(const mt_sweep *sw, const char *dir)
{
    size_t cap = 4096, len = 0;
    char *buf = mt_malloc(cap);
    if (!buf) return MT_ERR_NOMEM;
    mt_status st = MT_OK;
    for (int t = -1; t < sw->n_trials && st == MT_OK; t++) {
        size_t need = len + 64;
        for (int p = 0; p < sw->n_params; p++)
            need += strlen(t < 0 ? sw->param_keys[p] : sw->param_values[(size_t)t * (size_t)sw->n_params + p]) + 4;
        if (need > cap) {
            char *nb = realloc(buf, cap = need * 2);
            if (!nb) {
                st = MT_ERR(MT_ERR_NOMEM, "out of memory writing trials.csv");
                break;
            }
            buf = nb;
        }
        len += (size_t)(t < 0 ? sprintf(buf + len, "trial") : sprintf(buf + len, "%d", t));
        for (int p = 0; p < sw->n_params; p++) { /* values as YAML text: quote the ones holding a comma */
            const char *v = t < 0 ? sw->param_keys[p] : sw->param_values[(size_t)t * (size_t)sw->n_params + p];
            len += (size_t)sprintf(buf + len, strchr(v, ',') ? ",\"%s\"" : ",%s", v);
        }
        buf[len++] = '\n';
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/trials.csv", dir);
    if (st == MT_OK) st = mt_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

mt_status mt_sweep_prepare(const mt_sweep *sw, const char *dir)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/trials", dir);
    MT_TRY(mt_mkdirs(path));
    snprintf(path, sizeof path, "%s/logs", dir);
    MT_TRY(mt_mkdirs(path));
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    if (mt_path_exists(path)) {
        char *old = NULL;
        size_t len = 0;
        MT_TRY(mt_read_file(path, &old, &len));
        int same = !strcmp(old, sw->text);
        free(old);
        if (!same)
            return MT_ERR(MT_ERR_INVALID,
                          "%s holds another sweep (%s differs from %s): give another --out, or restore the sweep file",
                          dir, path, sw->path);
    } else {
        MT_TRY(mt_write_file_atomic(path, sw->text, strlen(sw->text)));
    }
    return write_trials_csv(sw, dir);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(path);
}

/* "key=value" overrides of trial i: the sweep's fixed ones, then the trial's. Caller frees each and the array. */
static mt_status trial_sets(const mt_sweep *sw, int i, char ***out, int *n)
{
    *n = sw->n_sets + sw->n_params;
    char **s = mt_calloc((size_t)*n + 1, sizeof *s);
    if (!s) return MT_ERR_NOMEM;
    for (int k = 0; k < *n; k++) {
        const char *a, *b = NULL;
        if (k < sw->n_sets) a = sw->sets[k];
        else a = sw->param_keys[k - sw->n_sets], b = sw->param_values[(size_t)i * (size_t)sw->n_params + k - sw->n_sets];
        size_t len = strlen(a) + (b ? strlen(b) : 0) + 2;
        if (!(s[k] = mt_malloc(len))) {
            for (int j = 0; j < k; j++) free(s[j]);
            free(s);
            return MT_ERR_NOMEM;
        }
        if (b) snprintf(s[k], len, "%s=%s", a, b);
        else snprintf(s[k], len, "%s", a);
    }
    *out = s;
    return MT_OK;
}

static mt_status write_trial_json(const mt_sweep *sw, const char *tdir, int i, double seconds)
{
    size_t cap = 1024 + (size_t)sw->n_params * 256, len = 0;
    char *buf = mt_malloc(cap);
    if (!buf) return MT_ERR_NOMEM;
    len += (size_t)snprintf(buf + len, cap - len, "{\n  \"sweep\": \"%s\",\n  \"trial\": %d,\n  \"train_seconds\": %.1f,\n  \"params\": {",
                            sw->name, i, seconds);
    for (int p = 0; p < sw->n_params && len < cap; p++) {
        const char *v = sw->param_values[(size_t)i * (size_t)sw->n_params + p];
        len += (size_t)snprintf(buf + len, cap - len, "%s\"%s\": \"", p ? ", " : "", sw->param_keys[p]);
        for (const char *c = v; *c && len + 4 < cap; c++) { /* JSON string escapes of YAML text */
            if (*c == '"' || *c == '\\') buf[len++] = '\\';
            buf[len++] = *c;
        }
        len += (size_t)snprintf(buf + len, cap - len, "\"");
    }
    if (len < cap) len += (size_t)snprintf(buf + len, cap - len, "}\n}\n");
    if (len >= cap) len = cap - 1;
    char path[4400];
    snprintf(path, sizeof path, "%s/sweep_trial.json", tdir);
    mt_status st = mt_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

mt_status mt_sweep_run_trial(const mt_sweep *sw, const char *dir, int i, const char *device, int quiet)
{
    MT_REQUIRE(sw && dir && i >= 0 && i < sw->n_trials, "sweep %s: trial %d does not exist (it has %d: 0..%d)",
               sw ? sw->path : "?", i, sw ? sw->n_trials : 0, sw ? sw->n_trials - 1 : 0);
    char tdir[4200];
    mt_sweep_trial_dir(dir, i, tdir, sizeof tdir);
    int state = mt_sweep_trial_state(dir, i);
    if (state == 2) return MT_OK;
    if (state == 0 && mt_path_exists(tdir)) { /* killed before its first checkpoint: start again */
        MT_TRY(mt_run_check_unlocked(tdir));
        if (nftw(tdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
            return MT_ERR(MT_ERR_IO, "sweep trial %d: cannot remove %s, left by a run killed before its first "
                          "checkpoint (%s): remove it by hand", i, tdir, strerror(errno));
    }
    char **sets = NULL;
    int n_sets = 0;
    MT_TRY(trial_sets(sw, i, &sets, &n_sets));
    mt_train_options o = {state == 1 ? NULL : sw->experiment, state == 1 ? 0 : n_sets, (const char *const *)sets,
                          device, state == 1 ? NULL : tdir, state == 1 ? tdir : NULL, quiet};
    mt_trainer *t = NULL;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) st = mt_trainer_fit(t);
    if (st == MT_OK) st = mt_trainer_report(t);
    if (st == MT_OK) st = write_trial_json(sw, tdir, i, t->train_seconds);
    mt_trainer_close(t, st != MT_OK);
    for (int k = 0; k < n_sets; k++) free(sets[k]);
    free(sets);
    return st;
}

/* ------------------------------------------------------------ local pool -- */

static volatile sig_atomic_t g_stop;
static void on_stop(int sig) { g_stop = sig; }

/* Starts trial i as a child process; its pid in *pid. */
static mt_status spawn(const mt_sweep *sw, const char *dir, const char *exe, const char *device, int i, int threads,
                       pid_t *pid)
{
    char log[4400], id[16], th[16];
    snprintf(log, sizeof log, "%s/logs/%03d.log", dir, i);
    snprintf(id, sizeof id, "%d", i);
    snprintf(th, sizeof th, "%d", threads);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return MT_ERR(MT_ERR_IO, "sweep: cannot open the trial log %s: %s", log, strerror(errno));
    pid_t parent = getpid();
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) {
        close(fd);
        return MT_ERR(MT_ERR_IO, "sweep: cannot start trial %d (fork: %s)", i, strerror(errno));
    }
    if (p == 0) { /* child: dies with the runner, writes to its log, runs `exe sweep FILE --out DIR --trial I` */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("OMP_NUM_THREADS", th, 1);
        setenv("OPENBLAS_NUM_THREADS", th, 1);
        const char *argv[12] = {exe, "sweep", sw->path, "--out", dir, "--trial", id};
        int n = 7;
        if (device) argv[n++] = "--device", argv[n++] = device;
        argv[n] = NULL;
        execv(exe, (char *const *)argv);
        fprintf(stderr, "sweep: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(fd);
    *pid = p;
    return MT_OK;
}

static void draw(int tty, int done, int total, int running, int failed)
{
    if (!tty) return;
    char bar[33];
    int fill = total ? done * 32 / total : 32;
    for (int k = 0; k < 32; k++) bar[k] = k < fill ? '#' : '.';
    bar[32] = 0;
    printf("\r[%s] %d/%d trials finished, %d running%s%.0d   ", bar, done, total, running, failed ? ", failed " : "",
           failed);
    fflush(stdout);
}

mt_status mt_sweep_run_local(const mt_sweep *sw, const char *dir, const char *exe, const char *device,
                             int concurrent, int threads, int quiet)
{
    MT_REQUIRE(sw && dir && exe, "mt_sweep_run_local: NULL argument");
    if (concurrent < 1) concurrent = 1;
    if (threads < 1) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > concurrent ? (int)(cores / concurrent) : 1;
    }
    int lock_fd = -1; /* one runner per sweep directory */
    MT_TRY(mt_run_lock(dir, &lock_fd));
    int *pending = mt_calloc((size_t)sw->n_trials + 1, sizeof *pending);
    pid_t *pids = mt_calloc((size_t)concurrent, sizeof *pids);
    int *slot_trial = mt_calloc((size_t)concurrent, sizeof *slot_trial);
    int *failed = mt_calloc((size_t)sw->n_trials + 1, sizeof *failed);
    if (!pending || !pids || !slot_trial || !failed) {
        free(pending), free(pids), free(slot_trial), free(failed);
        mt_run_unlock(lock_fd);
        return MT_ERR_NOMEM;
    }
    int n_pending = 0, done = 0;
    for (int i = 0; i < sw->n_trials; i++) {
        if (mt_sweep_trial_state(dir, i) == 2) done++;
        else pending[n_pending++] = i;
    }
    int tty = !quiet && isatty(1);
    if (!quiet)
        printf("sweep %s: %d trials, %d finished before, %d to run, %d at a time, %d threads each\n", sw->name,
               sw->n_trials, done, n_pending, concurrent, threads);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: waitpid returns EINTR */
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    mt_status st = MT_OK;
    int next = 0, running = 0, n_failed = 0, forwarded = 0;
    double t0 = mt_now();
    while (st == MT_OK) {
        while (!g_stop && running < concurrent && next < n_pending && st == MT_OK) {
            int s = 0;
            while (pids[s]) s++;
            st = spawn(sw, dir, exe, device, pending[next], threads, &pids[s]);
            if (st != MT_OK) break;
            slot_trial[s] = pending[next++];
            running++;
            if (!quiet && !tty) printf("sweep: trial %d started (log %s/logs/%03d.log)\n", slot_trial[s], dir, slot_trial[s]);
            draw(tty, done, sw->n_trials, running, n_failed);
        }
        if (running == 0) break;
        int status = 0;
        pid_t p = waitpid(-1, &status, 0);
        if (p < 0) {
            if (errno != EINTR) {
                st = MT_ERR(MT_ERR_IO, "sweep: waitpid: %s", strerror(errno));
                break;
            }
            if (g_stop && !forwarded) { /* Ctrl-C / SIGTERM: the trials stop, resumable from last.h5 */
                for (int s = 0; s < concurrent; s++)
                    if (pids[s]) kill(pids[s], SIGTERM);
                forwarded = 1;
            }
            continue;
        }
        int s = 0;
        while (s < concurrent && pids[s] != p) s++;
        if (s == concurrent) continue;
        pids[s] = 0;
        running--;
        int i = slot_trial[s];
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && mt_sweep_trial_state(dir, i) == 2;
        if (ok) done++;
        else if (!g_stop) failed[n_failed++] = i;
        if (!quiet && !tty) {
            if (ok) printf("sweep: trial %d finished (%d/%d, %.0f s)\n", i, done, sw->n_trials, mt_now() - t0);
            else if (!g_stop) printf("sweep: trial %d FAILED (see %s/logs/%03d.log)\n", i, dir, i);
        }
        draw(tty, done, sw->n_trials, running, n_failed);
        fflush(stdout);
    }
    if (tty) printf("\n");
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (st == MT_OK && g_stop)
        st = MT_ERR(MT_ERR_IO, "sweep %s interrupted: %d of %d trials finished and kept; run the same command to "
                    "resume the others", sw->name, done, sw->n_trials);
    if (st == MT_OK && n_failed) {
        char list[512] = "";
        size_t len = 0;
        for (int k = 0; k < n_failed && len < sizeof list - 16; k++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", k ? ", " : "", failed[k]);
        st = MT_ERR(MT_ERR_INVALID, "sweep %s: %d trial(s) failed: %s; their output is in %s/logs/NNN.log", sw->name,
                    n_failed, list, dir);
    }
    free(pending), free(pids), free(slot_trial), free(failed);
    mt_run_unlock(lock_fd);
    return st;
}
