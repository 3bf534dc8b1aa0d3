/* libFuzzer harness: the 2D image readers (data/image_io.h mt_image_read: PNG, TIFF, JPEG,
 * PGM, chosen by magic bytes). MEDTRAIN_IMAGE_MAX_PIXELS is set to 2^24 here: the default 2^28
 * pixels is 1 GiB of floats, exactly libFuzzer's -malloc_limit_mb, so a legal-size image would be
 * reported as an out-of-memory. */
#include <string.h>

#include "data/image_io.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once++) setenv("MEDTRAIN_IMAGE_MAX_PIXELS", "16777216", 1);
    const char *path = fuzz_write(data, size, ".img");
    if (!path) return 0;
    mt_sample s;
    mt_sample_init(&s);
    mt_image_read(path, &s);
    mt_sample_free(&s);
    mt_error_clear();
    return 0;
}
