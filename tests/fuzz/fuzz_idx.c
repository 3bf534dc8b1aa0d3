/* libFuzzer harness: the IDX (MNIST) reader (data/idx.h mt_idx_read; zlib gzopen reads plain
 * and gzip files alike). */
#include <string.h>

#include "data/idx.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size, ".idx");
    if (!path) return 0;
    mt_idx x;
    memset(&x, 0, sizeof x);
    if (mt_idx_read(path, &x) == MT_OK) mt_idx_free(&x);
    mt_error_clear();
    return 0;
}
