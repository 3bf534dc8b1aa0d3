/* data/ct_volume.h: a CT image and its label masks as display-oriented axial slices, for the
 * tools that measure or label slices (medtrain quantify, medtrain label).
 *
 * The image is a DICOM series folder, one DICOM file or a NIfTI file; it is read with
 * data/dicom.h or data/nifti.h and reoriented with mt_volume_reorient, so slice z is what
 * `medtrain import` and `medtrain predict` cut (mt_volume_slice, data/recon.h: anterior at the
 * top, the patient's right on the image left, z from inferior to superior).
 *
 * A mask is either
 *   - a NIfTI volume on the image's grid (a binary mask, or a label map with `ids` naming
 *     the label values that count as inside), reoriented the same way; its grid must match
 *     the reoriented image: same size, spacing within 0.1%, and voxel (0,0,0) within half a
 *     voxel of the image's in world (RAS) coordinates, so a DICOM series and a NIfTI mask
 *     exported from it (e.g. TotalSegmentator's example_seg_dicom.nii.gz) line up; or
 *   - a 2D image (PNG/TIFF/PGM: e.g. the <name>_mask.png that `medtrain predict` writes for one
 *     slice, 0/255) of the display slice's size; nonzero (or a value in `ids`) is inside.
 */
#ifndef MT_DATA_CT_VOLUME_H
#define MT_DATA_CT_VOLUME_H

#include <stdint.h>

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads `path` (a folder: DICOM series; .nii/.nii.gz: NIfTI; any other file: one DICOM
 * slice) into `out` (zeroed first) and reorients it (data/recon.h). Values in HU.
 * Errors: those of the readers (MT_ERR_IO, MT_ERR_FORMAT, MT_ERR_UNSUPPORTED, MT_ERR_NOMEM),
 * naming the file. */
mt_status mt_ct_volume_read(const char *path, mt_volume *out);

/* 1 if `path` names a 2D image file (by extension: .png, .tif, .tiff, .pgm, .jpg, .jpeg). */
int mt_path_is_image2d(const char *path);

/* A NIfTI mask on the grid of `ref` (a volume from mt_ct_volume_read) as a 0/1 volume in
 * out (zeroed first; same size and metadata as ref): 1 where the value is nonzero
 * (n_ids = 0) or equals one of ids[0..n_ids-1]. Errors: MT_ERR_INVALID (grid mismatch,
 * naming both files and what differs), the reader's errors. */
mt_status mt_mask_volume_read(const char *path, const int *ids, int n_ids, const mt_volume *ref, mt_volume *out);

/* A 2D mask image for an h x w display slice into out[h*w] (0/1).
 * Errors: MT_ERR_INVALID (size differs from h x w, naming the file and both sizes), the
 * image reader's errors. */
mt_status mt_mask_image_read(const char *path, const int *ids, int n_ids, int h, int w, uint8_t *out);

/* Axial display slice z of a 0/1 mask volume (mt_mask_volume_read) into out[h*w], the
 * layout mt_volume_slice gives the image. Errors: MT_ERR_INVALID (z out of range). */
mt_status mt_mask_volume_slice(const mt_volume *mask, int z, int h, int w, uint8_t *out);

/* Parses "1,2,5" into ids (at most max); returns the count, or -1 for a malformed list. */
int mt_parse_ids(const char *s, int *ids, int max);

#ifdef __cplusplus
}
#endif
#endif
