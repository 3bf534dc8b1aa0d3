/* data/dicom.h: DICOM import through GDCM (the only C++ in medtrain, data/dicom.cpp).
 *
 * Every transfer syntax GDCM decodes is accepted: uncompressed (implicit/explicit
 * VR little endian), JPEG lossless (CQ500 sample), JPEG 2000 (TotalSegmentator
 * example series), RLE. Stored values are converted to modality units,
 *     value = stored * RescaleSlope + RescaleIntercept        (PS3.3 C.11.1.1.2)
 * which is Hounsfield units (HU) for CT. Signedness follows PixelRepresentation
 * (0 unsigned, 1 two's complement, sign-extended from BitsStored), as pydicom's
 * `pixel_array * slope + intercept`. MONOCHROME1 images are not inverted (as pydicom).
 *
 * Geometry: patient coordinates are reported in RAS (x to the patient's Right->Left
 * negated, i.e. the same frame nibabel reports NIfTI affines in): DICOM LPS
 * ImagePositionPatient/ImageOrientationPatient are converted by negating x and y.
 *   meta.spacing[0] = column spacing (PixelSpacing[1]), spacing[1] = row spacing
 *   (PixelSpacing[0]), both mm; meta.direction columns = row direction (x), column
 *   direction (y), slice normal (z) in RAS; meta.origin = IPP of pixel (0,0) in RAS;
 *   meta.slice_position = IPP . (row x column cosines) in mm (the same number in LPS
 *   and RAS).
 * Patient metadata kept: PatientID (0010,0020), PatientSex (0010,0040), PatientAge
 * (0010,1010, "061Y" -> 61 years; M/W/D converted), PatientSize (0010,1020, m),
 * PatientWeight (0010,1030, kg).
 *
 * Errors: every function returns mt_status; the message names the file and the
 * problem (not DICOM, truncated pixel data, unsupported pixel format, ...). Before
 * GDCM sees a file (it aborts the process on some truncated ones), a small pre-parser
 * checks the preamble ("DICM" at 128, or an implicit-VR data set from byte 0), the File
 * Meta group and every element, item and encapsulated Pixel Data fragment: each must
 * end inside the file and undefined-length sequences need their delimiter, so a
 * truncated file (compressed ones included) is refused naming the file. GDCM
 * exceptions are caught inside the wrapper and never cross into C. GDCM itself then runs
 * in a child process (fork) under an address-space limit (MEDTRAIN_DICOM_MAX_MEMORY bytes
 * above the caller's, default 2 GiB): an assertion (SIGABRT) or runaway allocation on a
 * file the pre-parser let through becomes an MT_ERR_FORMAT naming the file ("GDCM crashed
 * decoding this file") and the caller goes on; the decoded pixels and tags come back
 * through a pipe. MEDTRAIN_DICOM_IN_PROCESS=1 decodes in the calling process (debugging).
 */
#ifndef MT_DATA_DICOM_H
#define MT_DATA_DICOM_H

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads one single-frame grey-level DICOM image into `out` (initialised or empty;
 * its previous buffers are freed): out->image float [1,H,W] in modality units (HU
 * for CT), x = column, y = row as stored; out->meta filled as described above
 * (spacing[2] = SliceThickness if present, else 0).
 * Errors: MT_ERR_IO (missing, unreadable, not DICOM, truncated), MT_ERR_UNSUPPORTED
 * (colour, multi-frame, >32-bit), MT_ERR_NOMEM. On error `out` is left empty.
 * Equivalent: pydicom.dcmread(path).pixel_array * RescaleSlope + RescaleIntercept. */
mt_status mt_dicom_read_slice(const char *path, mt_sample *out);

/* Reads every regular file of folder `dir` as one DICOM series into `out`:
 * slices ordered by ImagePositionPatient projected on the slice normal
 * (row cosine x column cosine), ascending, so z runs along +normal.
 * out->data float [nz,ny,nx] in modality units; meta.spacing[2] = median distance
 * between consecutive slice positions (mm); meta.origin = first slice's IPP (RAS);
 * meta.direction as for a slice, with z = the normal; patient fields from the first
 * slice; meta.source = dir. All slices must share rows, columns, pixel spacing and
 * orientation (error naming the first file that differs). Files that are not DICOM
 * are an error (naming the file), not skipped. Hidden files (".*") are ignored.
 * Errors: MT_ERR_IO, MT_ERR_FORMAT (inconsistent series, duplicate positions),
 * MT_ERR_UNSUPPORTED, MT_ERR_NOMEM. On error `out` is left zeroed. */
mt_status mt_dicom_read_series(const char *dir, mt_volume *out);

/* Parses a DICOM Age String (AS, "061Y", "006M", "003W", "010D") into years.
 * Returns -1 if `as` is empty or malformed. */
float mt_dicom_parse_age(const char *as);

#ifdef __cplusplus
}
#endif
#endif
