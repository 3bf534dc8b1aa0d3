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
 * in-plane voxel spacings; square pixels come from cubic voxels (mt_volume_resample_isotropic).
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

/* Resamples a volume to cubic voxels of `spacing_mm` (<= 0: the smallest of its three
 * spacings) with trilinear interpolation into out (zeroed first, owns its data). Each axis
 * keeps its extent: n' = max(1, round(n * s / spacing_mm)) voxels, and voxel centre i' sits at
 * old index (i' + 0.5) * n / n' - 0.5 (clamped at 0 below, neighbour clamped at n-1 above),
 * which is torch.nn.functional.interpolate(v[None, None], size=(nz', ny', nx'),
 * mode="trilinear", align_corners=False). Origin moves with the first voxel centre; direction
 * is kept. Used before MIP / AIP / mid-plane so that every projection is taken over isotropic
 * voxels (papers.md S2).
 * Errors: MT_ERR_INVALID (empty volume, non-positive spacing in the volume, a result over
 * 2^31 voxels), MT_ERR_NOMEM. */
mt_status mt_volume_resample_isotropic(const mt_volume *in, double spacing_mm, mt_volume *out);

/* Slice `index` (0-based along the plane's normal in the reoriented volume) of a volume
 * already passed through mt_volume_reorient, as a display-oriented 1-channel image in
 * out (freed first). meta copied from the volume with spacing/origin/slice_position of
 * the slice. Errors: MT_ERR_INVALID (index out of range). */
mt_status mt_volume_slice(const mt_volume *v, mt_plane plane, int index, mt_sample *out);

/* MIP / AIP / mid-plane (index n/2) of a reoriented volume along `plane`'s normal
 * (axial: along z). out: 1-channel image [1,H,W] in the volume's units (HU), laid out
 * as above, pixels as the volume's voxels: pass it through mt_volume_resample_isotropic first
 * for square pixels (the importer and mt_recon_nine do).
 * Equivalent (axial MIP, numpy on the LPS-ordered array a[z,y,x]): a.max(axis=0). */
mt_status mt_recon(const mt_volume *v, mt_plane plane, mt_recon_kind kind, mt_sample *out);

/* The nine 2D images of papers.md S2 from one reoriented volume: the volume is resampled to
 * cubic voxels of iso_mm (<= 0: its smallest spacing; mt_volume_resample_isotropic), then
 * out[3 * plane + kind] = mt_recon(plane, kind) for plane axial, coronal, sagittal and kind
 * MIP, AIP, mid-plane (HU, square pixels). out[] must hold 9 initialised samples; on error all
 * nine are freed. Errors: those of the resampling and mt_recon. */
mt_status mt_recon_nine(const mt_volume *v, double iso_mm, mt_sample out[9]);

/* "axial"/"coronal"/"sagittal" and "mip"/"aip"/"mid" parsing; MT_ERR_INVALID if unknown. */
mt_status mt_plane_parse(const char *s, mt_plane *p);
mt_status mt_recon_kind_parse(const char *s, mt_recon_kind *k);

#ifdef __cplusplus
}
#endif
#endif
