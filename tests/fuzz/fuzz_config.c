/* libFuzzer harness: the experiment YAML loader (configs/config.h mt_experiment_load) on a
 * temporary file. `base:` and relative paths resolve against /tmp, so they mostly fail cleanly. */
#include "configs/config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size, ".yaml");
    if (!path) return 0;
    mt_experiment exp;
    if (mt_experiment_load(path, 0, NULL, &exp) == MT_OK) mt_experiment_free(&exp);
    mt_error_clear();
    return 0;
}
