/* train/slurm.c: a Slurm job array through sbatch, squeue and sacct (train/slurm.h). */
#include "slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_dir.h"

/* Runs argv[0] (searched on PATH) with stdin from /dev/null and stdout and
 * stderr together into out (at most len - 1 bytes kept; the rest is read and
 * dropped). Returns the exit status, 127 when the program cannot be run, or
 * -1 (errno set) when no child could be started. */
static int run_capture(const char *const *argv, char *out, size_t len)
{
    int fds[2];
    if (len) out[0] = '\0';
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]), close(fds[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]), close(fds[1]);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0), close(null);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    char sink[4096];
    for (;;) {
        ssize_t r = n + 1 < len ? read(fds[0], out + n, len - n - 1) : read(fds[0], sink, sizeof sink);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (n + 1 < len) n += (size_t)r;
    }
    if (len) out[n] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Drops trailing newlines and spaces. */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) s[--n] = '\0';
}

mt_status mt_slurm_array_spec(const int *tasks, int n_tasks, int max_parallel, char *out, size_t len)
{
    MT_REQUIRE(tasks && n_tasks > 0 && out && len > 0, "Slurm job array: no tasks to submit");
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n_tasks;) {
        MT_REQUIRE(tasks[i] >= 0 && (i == 0 || tasks[i] > tasks[i - 1]),
                   "Slurm job array: task indices must be ascending and >= 0 (index %d is %d)", i, tasks[i]);
        int j = i;
        while (j + 1 < n_tasks && tasks[j + 1] == tasks[j] + 1) j++;
        int w = j > i ? snprintf(out + used, len - used, "%s%d-%d", i ? "," : "", tasks[i], tasks[j])
                      : snprintf(out + used, len - used, "%s%d", i ? "," : "", tasks[i]);
        MT_REQUIRE(w > 0 && (size_t)w < len - used, "Slurm job array: the --array list of %d tasks is too long",
                   n_tasks);
        used += (size_t)w;
        i = j + 1;
    }
    if (max_parallel > 0) {
        int w = snprintf(out + used, len - used, "%%%d", max_parallel);
        MT_REQUIRE(w > 0 && (size_t)w < len - used, "Slurm job array: the --array list of %d tasks is too long",
                   n_tasks);
    }
    return MT_OK;
}

mt_status mt_slurm_array_parse(const char *spec, unsigned char *is_task, int n_max)
{
    MT_REQUIRE(spec && is_task, "mt_slurm_array_parse: NULL argument");
    memset(is_task, 0, (size_t)(n_max > 0 ? n_max : 0));
    const char *p = spec;
    while (*p && *p != '%') {
        char *end = NULL;
        long a = strtol(p, &end, 10), b = a, step = 1;
        if (end == p || a < 0) break;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a) break;
            p = end;
            if (*p == ':') {
                step = strtol(p + 1, &end, 10);
                if (end == p + 1 || step < 1) break;
                p = end;
            }
        }
        for (long t = a; t <= b && t < n_max; t += step) is_task[t] = 1;
        if (*p == ',') p++;
        else if (*p && *p != '%') break;
    }
    MT_REQUIRE(*p == '\0' || *p == '%', "Slurm job array: \"%s\" is not an --array list (e.g. 0-3,7%%2)", spec);
    return MT_OK;
}

char *mt_slurm_shell_quote(const char *text)
{
    size_t n = 3;
    for (const char *p = text; *p; p++) n += *p == '\'' ? 4 : 1;
    char *q = mt_malloc(n);
    if (!q) return NULL;
    char *o = q;
    *o++ = '\'';
    for (const char *p = text; *p; p++) {
        if (*p == '\'') memcpy(o, "'\\''", 4), o += 4;
        else *o++ = *p;
    }
    *o++ = '\'';
    *o = '\0';
    return q;
}

/* A growing text buffer; `bad` is set by a failed allocation. */
typedef struct text_buf {
    char *s;
    size_t len, cap;
    int bad;
} text_buf;

static void put(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf *b, const char *fmt, ...)
{
    if (b->bad) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->bad = 1;
            return;
        }
        if (b->s && (size_t)w < b->cap - b->len) {
            b->len += (size_t)w;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)w;
        char *s = mt_realloc(b->s, cap);
        if (!s) {
            b->bad = 1;
            return;
        }
        b->s = s, b->cap = cap;
    }
}

/* An #SBATCH option with a text value, when the value is set. */
static mt_status opt_text(text_buf *b, const char *opt, const char *value)
{
    if (!value || !*value) return MT_OK;
    MT_REQUIRE(!strpbrk(value, "\n\r"), "Slurm job array: the value of %s must be one line (\"%s\")", opt, value);
    put(b, "#SBATCH %s=%s\n", opt, value);
    return MT_OK;
}

mt_status mt_slurm_write_script(const mt_slurm_array *a, const char *path)
{
    MT_REQUIRE(a && path, "mt_slurm_write_script: NULL argument");
    MT_REQUIRE(a->command && *a->command, "Slurm job array %s: no command to run", a->name ? a->name : "");
    MT_REQUIRE(a->out_dir && a->out_dir[0] == '/', "Slurm job array %s: the output directory must be absolute (\"%s\")",
               a->name ? a->name : "", a->out_dir ? a->out_dir : "");
    char spec[8192];
    MT_TRY(mt_slurm_array_spec(a->tasks, a->n_tasks, a->max_parallel, spec, sizeof spec));
    text_buf b = {0};
    put(&b, "#!/bin/bash\n");
    mt_status st = opt_text(&b, "--job-name", a->name);
    if (st == MT_OK) st = opt_text(&b, "--array", spec);
    if (st == MT_OK && !strpbrk(a->out_dir, "\n\r")) put(&b, "#SBATCH --output=%s/%%A_%%a.out\n", a->out_dir);
    else if (st == MT_OK) st = MT_ERR(MT_ERR_INVALID, "Slurm job array: the output directory must be one line");
    if (st == MT_OK) st = opt_text(&b, "--partition", a->partition);
    if (st == MT_OK) st = opt_text(&b, "--time", a->time);
    if (st == MT_OK && a->cpus_per_task > 0) put(&b, "#SBATCH --cpus-per-task=%d\n", a->cpus_per_task);
    if (st == MT_OK && a->gpus > 0) put(&b, "#SBATCH --gres=gpu:%d\n", a->gpus);
    if (st == MT_OK) st = opt_text(&b, "--mem", a->mem);
    if (st == MT_OK) st = opt_text(&b, "--account", a->account);
    if (st == MT_OK) st = opt_text(&b, "--qos", a->qos);
    for (int i = 0; st == MT_OK && i < a->n_extra; i++) {
        const char *e = a->extra[i];
        if (!e || !*e) continue;
        if (strpbrk(e, "\n\r")) st = MT_ERR(MT_ERR_INVALID, "Slurm job array: the sbatch option \"%s\" must be one line", e);
        else if (!strncmp(e, "#SBATCH", 7)) put(&b, "%s\n", e);
        else put(&b, "#SBATCH %s\n", e);
    }
    if (st == MT_OK) put(&b, "\n%s\n", a->command);
    if (st == MT_OK && b.bad) st = MT_ERR(MT_ERR_NOMEM, "Slurm job array: out of memory writing %s", path);
    if (st == MT_OK) st = mt_write_file_atomic(path, b.s, b.len);
    free(b.s);
    return st;
}

mt_status mt_slurm_submit(const char *script, char *job_id, size_t len)
{
    MT_REQUIRE(script && job_id && len > 1, "mt_slurm_submit: NULL argument");
    char out[4096];
    const char *argv[] = {"sbatch", "--parsable", script, NULL};
    int rc = run_capture(argv, out, sizeof out);
    chomp(out);
    if (rc == 127 || rc < 0)
        return MT_ERR(MT_ERR_IO, "sbatch not found: the Slurm backend needs Slurm's client commands (sbatch, "
                      "squeue) on PATH, on a machine that can submit to the cluster (%s)",
                      rc < 0 ? strerror(errno) : out);
    if (rc != 0)
        return MT_ERR(MT_ERR_IO, "sbatch refused %s (exit %d): %s%s", script, rc, out,
                      strstr(out, "array") ? " (the cluster's MaxArraySize bounds the task indices: "
                                             "`scontrol show config | grep MaxArraySize`)" : "");
    /* --parsable: "ID" or "ID;cluster", possibly after warning lines */
    const char *line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    size_t n = strspn(line, "0123456789");
    if (n == 0 || n >= len || (line[n] && line[n] != ';'))
        return MT_ERR(MT_ERR_IO, "sbatch %s: no job id in its answer \"%s\"", script, out);
    memcpy(job_id, line, n);
    job_id[n] = '\0';
    return MT_OK;
}

int mt_slurm_active_tasks(const char *job_id, const char *name, unsigned char *active, int n_active_max,
                          int *n_pending, int *n_running)
{
    if (active && n_active_max > 0) memset(active, 0, (size_t)n_active_max);
    if (n_pending) *n_pending = 0;
    if (n_running) *n_running = 0;
    if (!job_id || !*job_id) {
        MT_ERR(MT_ERR_INVALID, "mt_slurm_active_tasks: no job id");
        return -1;
    }
    size_t cap = 1 << 20;
    char *out = mt_malloc(cap);
    if (!out) return -1;
    const char *argv[] = {"squeue", "-h", "-r", "-j", job_id, "-o", "%K|%t|%j", NULL};
    int rc = run_capture(argv, out, cap);
    if (rc != 0) {
        chomp(out);
        /* a job the controller no longer knows (ended long ago) */
        int gone = rc == 1 && strstr(out, "Invalid job id") != NULL;
        if (!gone)
            MT_ERR(MT_ERR_IO, "squeue -j %s %s (exit %d): %s", job_id,
                   rc == 127 || rc < 0 ? "could not run (Slurm's client commands not on PATH?)" : "failed", rc, out);
        free(out);
        return gone ? 0 : -1;
    }
    int listed = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *bar1 = strchr(line, '|');
        char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
        if (!bar2) continue;
        *bar1 = *bar2 = '\0';
        if (name && strcmp(bar2 + 1, name) != 0) continue;
        listed++;
        char *end = NULL;
        long t = strtol(line, &end, 10);
        if (end != line && t >= 0 && t < n_active_max && active) active[t] = 1;
        const char *state = bar1 + 1;
        if (!strcmp(state, "PD") && n_pending) (*n_pending)++;
        else if ((!strcmp(state, "R") || !strcmp(state, "CG")) && n_running) (*n_running)++;
    }
    free(out);
    return listed;
}

int mt_slurm_task_state(const char *job_id, int task, char *out, size_t len)
{
    if (!len) return 0;
    out[0] = '\0';
    char id[128], buf[4096];
    snprintf(id, sizeof id, "%s_%d", job_id, task);
    const char *argv[] = {"sacct", "-n", "-P", "-X", "-j", id, "-o", "State,ExitCode", NULL};
    if (run_capture(argv, buf, sizeof buf) != 0) return 0;
    chomp(buf);
    char *line = buf;
    while (*line == '\n' || *line == ' ') line++;
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    char *bar = strchr(line, '|');
    if (!*line || !bar) return 0;
    *bar = ' ';
    snprintf(out, len, "%s", line);
    return 1;
}

int mt_slurm_task_output_tail(const char *out_dir, const char *job_id, int task, int lines, char *out, size_t len)
{
    if (!len) return 0;
    out[0] = '\0';
    char path[4400];
    snprintf(path, sizeof path, "%s/%s_%d.out", out_dir, job_id, task);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    /* the last len - 1 bytes at most, then the last `lines` lines of those */
    long keep = (long)len - 1;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > keep) fseek(f, size - keep, SEEK_SET);
        else fseek(f, 0, SEEK_SET);
    }
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
    chomp(out);
    n = strlen(out);
    int seen = 0;
    size_t start = 0;
    for (size_t k = n; k > 0; k--)
        if (out[k - 1] == '\n' && ++seen == lines) {
            start = k;
            break;
        }
    if (start) memmove(out, out + start, n - start + 1);
    return 1;
}
