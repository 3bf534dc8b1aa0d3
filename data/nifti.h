/* data/nifti.h: NIfTI-1 import (.nii and .nii.gz) through nifticlib (nifti1_io.h).
 *
 * Any datatype (u8/i8/i16/u16/i32/u32/i64/u64/f32/f64) is converted to float and,
 * when scl_slope is finite and non-zero, scaled: value = stored * scl_slope + scl_inter
 * (NIfTI-1 standard; nibabel's `img.get_fdata()` does the same).
 *
 * Geometry follows nibabel's `img.affine` (world = RAS+ mm):
 *   sform if sform_code > 0, else qform if qform_code > 0, else the fall-back
 *   diag(-dx, dy, dz) affine centred on the volume (nibabel get_base_affine).
 *   meta.spacing = pixdim[1..3] (mm), meta.direction = the affine's 3x3 columns divided
 *   by their lengths (row-major 3x3: column j = direction of voxel axis j),
 *   meta.origin = affine[:3,3] (world position of voxel (0,0,0)).
 * Data layout: mt_volume.data[(k*ny + j)*nx + i] = voxel (i,j,k), as stored.
 */
#ifndef MT_DATA_NIFTI_H
#define MT_DATA_NIFTI_H

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a 2D or 3D NIfTI-1 file into `out` (zeroed first; freed on error).
 * meta.source = path; patient fields unknown (NIfTI has none); meta.patient_id = "".
 * The file size is validated against the header: an uncompressed file shorter than
 * vox_offset + nvox*bytes_per_voxel, or a .gz whose data ends early, fails with
 * MT_ERR_IO naming the file and both sizes. A header whose vox_offset is negative or whose
 * pixdim[1..3] (voxel sizes of the used axes) is NaN/Inf, 0 or negative is MT_ERR_FORMAT naming
 * the file and the field (nifticlib would silently turn a NaN / 0 pixdim into 1 mm).
 * Errors: MT_ERR_IO (missing/unreadable/short), MT_ERR_FORMAT (bad header),
 * MT_ERR_UNSUPPORTED (4D+ with more than one volume, complex/RGB datatypes), MT_ERR_NOMEM. */
mt_status mt_nifti_read(const char *path, mt_volume *out);

/* The 4x4 voxel->world (RAS mm) affine of a volume read by mt_nifti_read (or any
 * volume with spacing/direction/origin set), row-major, as nibabel's img.affine. */
void mt_volume_affine(const mt_volume *v, double affine[16]);

#ifdef __cplusplus
}
#endif
#endif
