/* libFuzzer harness: the DICOM slice reader (data/dicom.h mt_dicom_read_slice: medtrain's
 * pre-parser, then GDCM). */
#include <string.h>

#include "data/dicom.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size, ".dcm");
    if (!path) return 0;
    mt_sample s;
    mt_sample_init(&s);
    mt_dicom_read_slice(path, &s);
    mt_sample_free(&s);
    mt_error_clear();
    return 0;
}
