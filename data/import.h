/* data/import.h: the orchestration behind `medtrain import`: read every input file
 * (DICOM slices, DICOM series, NIfTI volumes or 2D images), attach labels, pre-process
 * and write a medtrain HDF5 dataset (data/dataset.h) atomically.
 *
 * A spec is filled with mt_import_spec_init + mt_import_spec_set(key, value) (the
 * same keys serve the YAML spec file and the command-line options; docs/import.md
 * has one documented command per dataset). Keys (values are strings):
 *   source        dicom | dicom-series | nifti | images | idx
 *   input         file, folder or glob pattern; repeatable (each adds one entry).
 *                 dicom/images/nifti: a folder means every non-hidden file in it;
 *                 dicom-series: each folder (or glob match) is one series; a .nii /
 *                 .nii.gz file among them is read as one NIfTI volume (mixed volumes).
 *   output        dataset path (.h5); written to a temp file and renamed on success
 *   patient_id    override the patient id (NIfTI has none; default: file stem)
 *   -- idx (MNIST / Fashion-MNIST files, data/idx.h; plain or .gz) --
 *   input         the images file, idx3 [N, rows, cols] (exactly one input)
 *   idx_labels    the labels file, idx1 [N], integer class ids (required)
 *   test_input, test_labels   optional official test pair: those samples get split
 *                 "test" for good; the input pair is then split into train/val by
 *                 val_frac (test_frac must stay unset). Always split by sample; source
 *                 = "<file>#<index>". Labels must lie in [0, number of `classes`).
 *   -- volumes (nifti, dicom-series) --
 *   plane         axial | coronal | sagittal (default axial)
 *   recon         comma list of mip,aip,mid: one sample per volume, one channel per
 *                 item; absent: one sample per slice along `plane`
 *   isotropic     0|1: 1 (default) resamples the volume to cubic voxels (trilinear,
 *                 mt_volume_resample_isotropic) before the reconstruction, so MIP / AIP /
 *                 mid-plane are taken over isotropic voxels and have square pixels
 *   isotropic_mm  voxel edge of that resampling in mm (default 0: the smallest spacing)
 *   mask          NIfTI mask on the volume's grid; repeatable, one channel each
 *   mask_names    comma list, one name per mask (default mask0, mask1, ...)
 *   slices        first:last (inclusive, 0-based after reorientation; default all)
 *   -- labels --
 *   labels_csv, csv_key, csv_label   class label per file from a CSV: key column holds the
 *                 input's file (or series folder) name
 *   classes       comma list of class names in csv_label (index = label); absent: the
 *                 CSV value must be an integer
 *   mias_info     mini-MIAS Info.txt: circle masks (1 channel "mass") + boxes, key = file stem
 *   labelme_dir   folder of LabelMe JSON files named <image stem>.json
 *   points        comma list of LabelMe point labels to keep, in order (e.g. l1,l2,...)
 *   mask_dir      folder of mask images named <image stem>.<png|tif|pgm|jpg|...>
 *   mask_classes  K > 0: mask pixel values 1..K are classes -> K channels; 0 (default):
 *                 nonzero = 1, one channel
 *   box_points    A,B: two of `points`; each sample gets one box placed relative to them,
 *                 in the final pixel frame (after resize and pad): with L = |B - A| (pixels),
 *                 box = [A.x + x0 L, A.y + y0 L, A.x + x1 L, A.y + y1 L] clipped to the image
 *                 (a keypoint-anchored box, e.g. the S4 nasal-bone box from nasion l2 and
 *                 subnasale l15: docs/import.md). A sample missing A or B is refused.
 *   box_offsets   x0,y0,x1,y1 for box_points (required with it; x0 < x1, y0 < y1)
 *   box_class     class id of those boxes (default 0)
 *   -- pre-processing (applied in this order) --
 *   reorient      auto (default) | 1 | 0 (source dicom): put every axial slice in the standard
 *                 layout (patient's right on the image left, anterior at the top) from its Image
 *                 Orientation (Patient), flipping / transposing image, masks, boxes and points
 *                 (mt_sample_reorient_axial); auto keeps non-axial slices as stored, 1 refuses
 *                 them, 0 keeps every slice as stored
 *   window        LEVEL,WIDTH in HU: clip, then scale to [0,1]
 *   scale         LO,HI: (x - LO)/(HI - LO) clipped to [0,1] (e.g. 0,255 for 8-bit)
 *   roi_crop      0|1: crop around the mask's bounding box (else boxes, else points)
 *   roi_margin    fraction of the ROI size added on every side (default 0.1)
 *   resize        HxW (e.g. 256x256): image bilinear, masks nearest
 *   pad_multiple  pad bottom/right to a multiple (e.g. 16 = 2^4 for a depth-4 U-Net)
 *   -- splitting --
 *   split_by      patient (default) | sample: slice-level split, e.g. for the single-patient
 *                 S1 volume (slices of one patient then appear in several splits; say so)
 *   val_frac, test_frac (default 0.15, 0.15), seed (default 0)
 *   description   free text stored in the dataset
 */
#ifndef MT_DATA_IMPORT_H
#define MT_DATA_IMPORT_H

#include <stdint.h>

#include "recon.h"
#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_IMPORT_MAX 64   /* list entries (inputs, masks, names) */
#define MT_IMPORT_PATH 1024
#define MT_IMPORT_NAME 64

typedef enum mt_import_source {
    MT_IMPORT_DICOM = 0,
    MT_IMPORT_DICOM_SERIES,
    MT_IMPORT_NIFTI,
    MT_IMPORT_IMAGES,
    MT_IMPORT_IDX
} mt_import_source;

/* Progress callback: `done` of `total` units (files, or samples for idx) finished. */
typedef void (*mt_import_progress_fn)(void *user, long done, long total);

typedef struct mt_import_spec {
    mt_import_source source;
    int n_inputs;
    char inputs[MT_IMPORT_MAX][MT_IMPORT_PATH];
    char output[MT_IMPORT_PATH];
    char patient_id[MT_META_STR];
    /* volumes */
    mt_plane plane;
    int n_recon;
    mt_recon_kind recon[3];
    int isotropic;
    double isotropic_mm; /* 0: the volume's smallest spacing */
    int n_masks;
    char masks[MT_IMPORT_MAX][MT_IMPORT_PATH];
    int n_mask_names;
    char mask_names[MT_IMPORT_MAX][MT_IMPORT_NAME];
    int slice_first, slice_last; /* -1: all */
    /* labels */
    char labels_csv[MT_IMPORT_PATH], csv_key[MT_IMPORT_NAME], csv_label[MT_IMPORT_NAME];
    int n_classes;
    char classes[MT_IMPORT_MAX][MT_IMPORT_NAME];
    char mias_info[MT_IMPORT_PATH];
    char labelme_dir[MT_IMPORT_PATH];
    int n_points;
    char points[MT_IMPORT_MAX][MT_IMPORT_NAME];
    char mask_dir[MT_IMPORT_PATH];
    int mask_classes;
    char box_names[2][MT_IMPORT_NAME]; /* box_points A, B ("" = off) */
    double box_offsets[4];   /* x0, y0, x1, y1 in units of |B - A| from A */
    int box_class;
    /* pre-processing */
    int reorient;        /* -1 auto (dicom: axial slices), 1 strict, 0 off: standard axial layout */
    int window;          /* 1: HU window + scale to [0,1] */
    double level, width; /* HU */
    int scale;           /* 1: range scaling */
    double scale_lo, scale_hi;
    int roi_crop;
    double roi_margin;
    int resize_h, resize_w; /* 0: keep */
    int pad_multiple;       /* 0/1: none */
    /* splitting */
    int split_by_sample;
    double val_frac, test_frac;
    uint64_t seed;
    char description[MT_IMPORT_PATH];
    /* idx */
    char idx_labels[MT_IMPORT_PATH], test_input[MT_IMPORT_PATH], test_labels[MT_IMPORT_PATH];
    int test_frac_set; /* 1 once test_frac was given */
    /* not a key: optional progress report (NULL: none), called from mt_import_run's thread */
    mt_import_progress_fn progress;
    void *progress_user;
} mt_import_spec;

/* Defaults: source images, plane axial, isotropic 1, roi_margin 0.1, split by patient,
 * val/test 0.15/0.15, seed 0, everything else off. */
void mt_import_spec_init(mt_import_spec *s);

/* Sets one key (see the list above). Errors: MT_ERR_INVALID naming the key and the
 * bad value (unknown key, non-numeric number, too many list entries). */
mt_status mt_import_spec_set(mt_import_spec *s, const char *key, const char *value);

/* Summary of a finished import. */
typedef struct mt_import_result {
    int n_files;   /* input files / volumes read */
    int n_samples; /* samples written */
    int c, h, w, k, n_points;
    /* samples without a patient id (e.g. DICOM files lacking PatientID (0010,0020), images):
     * with split_by patient each is grouped by its source file, so for single-slice DICOM
     * one patient's slices can land in different splits (`medtrain import` warns) */
    int n_no_patient_id;
    int n_reoriented; /* `reorient`: slices that were flipped / transposed to the standard layout */
    int n_duplicates; /* samples identical to an earlier one (kept in its split; /meta/duplicate_of) */
    int n_mixed_label_patients; /* patients whose samples have more than one class label */
} mt_import_result;

/* Runs the import: reads every input, attaches labels, pre-processes, writes the
 * dataset to spec->output (atomic: nothing is left at output on failure).
 * Errors name the input file and the problem (unreadable file, missing label/mask for
 * an image, mask of the wrong size, samples of different sizes without `resize`). */
mt_status mt_import_run(const mt_import_spec *s, mt_import_result *res);

#ifdef __cplusplus
}
#endif
#endif
