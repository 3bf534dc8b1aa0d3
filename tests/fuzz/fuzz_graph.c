/* libFuzzer harness: the model graph YAML loader (layers/model.h mt_model_load_yaml) on a
 * temporary file, CPU, build + weight initialisation only (no forward pass).
 * Memory cap: a valid graph may legitimately ask for gigabytes (channels: 100000), which is an
 * out-of-memory report, not a bug; inputs holding an integer literal above 4096 or more than
 * 8 KiB long are skipped, graphs over 2 million parameters are refused by the library
 * (MEDTRAIN_MAX_PARAMS, set once here: a valid 31M-parameter U-Net took over the 10 s timeout to
 * initialise under ASan), and `make fuzz` runs with -rss_limit_mb=1024 -malloc_limit_mb=1024. */
#include <ctype.h>

#include "fuzz_common.h"
#include "layers/model.h"

static int too_big(const uint8_t *d, size_t n)
{
    if (n > 8192) return 1;
    for (size_t i = 0; i < n;) {
        if (!isdigit(d[i])) { i++; continue; }
        size_t j = i;
        unsigned long long v = 0;
        while (j < n && isdigit(d[j])) {
            v = v * 10 + (unsigned)(d[j] - '0');
            if (v > 4096) return 1;
            j++;
        }
        /* 1e9 style exponents */
        if (j < n && (d[j] == 'e' || d[j] == 'E')) return 1;
        i = j;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once++) setenv("MEDTRAIN_MAX_PARAMS", "2000000", 1);
    if (too_big(data, size)) return 0;
    const char *path = fuzz_write(data, size, ".yaml");
    if (!path) return 0;
    mt_model *m = NULL;
    if (mt_model_load_yaml(path, 0, NULL, mt_cpu(), 0, &m) == MT_OK) mt_model_free(m);
    mt_error_clear();
    return 0;
}
