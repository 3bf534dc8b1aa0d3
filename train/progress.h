/* train/progress.h: progress of long work (training epochs, evaluation):
 * on a terminal (isatty(stdout)) a bar redrawn in place with loss, images/s
 * and ETA; otherwise one plain line every `every` steps (logs, CI). */
#ifndef MT_TRAIN_PROGRESS_H
#define MT_TRAIN_PROGRESS_H


typedef struct mt_progress {
    int tty;
    int every;
    double t0;          /* monotonic seconds at start of the epoch */
    long total;         /* steps in the epoch */
} mt_progress;

void mt_progress_start(mt_progress *p, long total);
void mt_progress_update(mt_progress *p, int epoch, int epochs, long step, double loss, double images_per_s);
void mt_progress_end(mt_progress *p);
/* Monotonic seconds (for rates only; never for results). */
double mt_now(void);

#endif
