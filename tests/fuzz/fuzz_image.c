/* libFuzzer harness: the 2D image readers (data/image_io.h mt_image_read: PNG, TIFF, JPEG,
 * PGM, chosen by magic bytes). */
#include <string.h>

#include "data/image_io.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size, ".img");
    if (!path) return 0;
    mt_sample s;
    mt_sample_init(&s);
    mt_image_read(path, &s);
    mt_sample_free(&s);
    mt_error_clear();
    return 0;
}
