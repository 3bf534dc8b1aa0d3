/* train/progress.c: training progress on stdout: an in-place bar with loss,
 * images/s and ETA on a terminal, plain periodic lines otherwise (logs, CI). */
#include <time.h>
#include <unistd.h>

#include "progress.h"

#include <stdio.h>

double mt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void mt_progress_start(mt_progress *p, long total)
{
    p->tty = isatty(STDOUT_FILENO);
    if (p->every <= 0) p->every = 10;
    p->t0 = mt_now();
    p->total = total;
}

static void fmt_eta(double s, char *buf, size_t len)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, len, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, len, "%02ld:%02ld", t / 60, t % 60);
}

void mt_progress_update(mt_progress *p, int epoch, int epochs, long step, double loss, double images_per_s)
{
    double el = mt_now() - p->t0;
    double eta = step > 0 ? el / (double)step * (double)(p->total - step) : -1;
    char e[32];
    fmt_eta(eta, e, sizeof e);
    if (p->tty) {
        int width = 30, fill = p->total > 0 ? (int)(width * step / p->total) : 0;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        printf("\repoch %d/%d [%s] %ld/%ld loss %.4f %.1f img/s ETA %s ", epoch, epochs, bar, step, p->total,
               loss, images_per_s, e);
        fflush(stdout);
    } else if (step % p->every == 0 || step == p->total) {
        printf("epoch %d/%d step %ld/%ld loss %.5f %.1f img/s eta %s\n", epoch, epochs, step, p->total, loss,
               images_per_s, e);
        fflush(stdout);
    }
}

void mt_progress_end(mt_progress *p)
{
    if (p->tty) {
        printf("\n");
        fflush(stdout);
    }
}
