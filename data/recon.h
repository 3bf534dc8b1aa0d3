/* data/recon.h: 2D reconstructions of CT volumes for classification inputs and slicing:
 * maximum intensity projection (MIP), average intensity projection (AIP, the mean along
 * the projection axis) and the mid-plane, along the axial, coronal or sagittal axis;
 * plus display-oriented single slices (used by the importer to cut 2D training slices).
 *
 * Orientation. mt_volume_reorient first permutes/flips the voxel axes so that
 * index x runs towards the patient's Left, y towards Posterior, z towards Superior
 * (RAS direction columns (-1,0,0), (0,-1,0), (0,0,1), i.e. DICOM's LPS axes).
 * Images are then laid out as a radiologist views them:
 *   axial:    rows = y (anterior at the top), columns = x (patient's right on the image left)
 *   coronal:  rows = superior at the top,     columns = x (patient's right on the image left)
 *   sagittal: rows = superior at the top,     columns = y (anterior on the image left)
 * Spacing: out->meta.spacing[0] = column spacing, [1] = row spacing (mm) from the two
 * in-plane voxel spacings. With `isotropic` set the image is resampled (bilinear,
 * torch align_corners=False) so both equal the smaller of the two (square pixels).
 */
#ifndef MT_DATA_RECON_H
#define MT_DATA_RECON_H

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_plane { MT_PLANE_AXIAL = 0, MT_PLANE_CORONAL = 1, MT_PLANE_SAGITTAL = 2 } mt_plane;
typedef enum mt_recon_kind { MT_RECON_MIP = 0, MT_RECON_AIP = 1, MT_RECON_MID = 2 } mt_recon_kind;

/* Reorders a volume's voxels in place to the L/P/S index axes described above (each
 * voxel axis is matched to the world axis its direction is closest to, so oblique /
 * gantry-tilted series are handled to the nearest axis). Updates direction, origin and
 * spacing. Errors: MT_ERR_FORMAT if two voxel axes point along the same world axis. */
mt_status mt_volume_reorient(mt_volume *v);

/* Slice `index` (0-based along the plane's normal in the reoriented volume) of a volume
 * already passed through mt_volume_reorient, as a display-oriented 1-channel image in
 * out (freed first). meta copied from the volume with spacing/origin/slice_position of
 * the slice. Errors: MT_ERR_INVALID (index out of range). */
mt_status mt_volume_slice(const mt_volume *v, mt_plane plane, int index, mt_sample *out);

/* MIP / AIP / mid-plane (index n/2) of a reoriented volume along `plane`'s normal
 * (axial: along z). out: 1-channel image [1,H,W] in the volume's units (HU), laid out
 * as above; isotropic != 0 resamples to square pixels.
 * Equivalent (axial MIP, numpy on the LPS-ordered array a[z,y,x]): a.max(axis=0). */
mt_status mt_recon(const mt_volume *v, mt_plane plane, mt_recon_kind kind, int isotropic, mt_sample *out);

/* "axial"/"coronal"/"sagittal" and "mip"/"aip"/"mid" parsing; MT_ERR_INVALID if unknown. */
mt_status mt_plane_parse(const char *s, mt_plane *p);
mt_status mt_recon_kind_parse(const char *s, mt_recon_kind *k);

#ifdef __cplusplus
}
#endif
#endif
