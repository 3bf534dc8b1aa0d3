/* libFuzzer harness: the NIfTI-1 reader (data/nifti.h mt_nifti_read). Inputs starting with the
 * gzip magic are written as .nii.gz, others as .nii (the reader chooses by suffix). */
#include "data/nifti.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    const char *path = fuzz_write(data, size, gz ? ".nii.gz" : ".nii");
    if (!path) return 0;
    mt_volume v;
    if (mt_nifti_read(path, &v) == MT_OK) mt_volume_free(&v);
    mt_error_clear();
    return 0;
}
