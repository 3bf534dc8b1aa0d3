/* train/sweep_slurm.c: the Slurm backend of a sweep (sweep.h). */
#include "sweep.h"

mt_status mt_sweep_run_slurm(const mt_sweep *sw, const char *dir, const char *exe, const char *device, int quiet)
{
    (void)dir, (void)exe, (void)device, (void)quiet;
    return MT_ERR(MT_ERR_UNSUPPORTED, "sweep %s: the Slurm backend is not built yet", sw->name);
}
