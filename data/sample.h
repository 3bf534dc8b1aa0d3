/* data/sample.h: the in-memory forms of images, volumes and their labels,
 * shared by the importers (data/import_*.c), pre-processing, augmentation,
 * the HDF5 dataset (data/dataset.c) and the loader.
 *
 * Conventions
 *  - Images are float32, layout [C,H,W] (row-major, x fastest), values in the
 *    importer's units: Hounsfield units (HU) for CT, raw grey levels otherwise,
 *    until pre-processing scales them.
 *  - Masks are uint8 [K,H,W], one channel per structure, values 0/1
 *    (or class ids in a single channel when `mask_is_label_map` is set).
 *  - Pixel coordinates: x = column (right), y = row (down), origin at the
 *    centre of the top-left pixel (0,0). Boxes are [x0,y0,x1,y1,class] in pixels.
 *  - Spacing is in millimetres: spacing[0] between columns (x), spacing[1]
 *    between rows (y), spacing[2] between slices (z; a single DICOM slice: SliceThickness,
 *    0 if absent; 0 for a 2D image file).
 */
#ifndef MT_DATA_SAMPLE_H
#define MT_DATA_SAMPLE_H

#include <stdint.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_META_STR 256

/* Per-sample metadata kept from the source file (DICOM/NIfTI header, CSV). */
typedef struct mt_meta {
    char source[1024];            /* path of the file (or series folder) it came from */
    char patient_id[MT_META_STR]; /* DICOM PatientID (0010,0020) or derived id; "" if unknown */
    char sex[8];                  /* "M", "F", "O" or "" */
    float age_years;              /* <0 if unknown */
    float height_m;               /* <0 if unknown (DICOM PatientSize) */
    float weight_kg;              /* <0 if unknown (DICOM PatientWeight) */
    double spacing[3];            /* mm: x (column), y (row), z (slice); 0 if unknown */
    double slice_position;        /* mm along the slice normal (DICOM IPP . normal); NAN if unknown */
    double origin[3];             /* mm, patient/world position of voxel (0,0,0) */
    double direction[9];          /* row-major 3x3: columns are the x,y,z axis directions */
    char split[16];               /* "train", "val", "test" or "" before splitting */
    uint8_t pseudo_label;         /* 1: the mask is a model's prediction (S3 pseudo-label loop,
                                     train/pseudo_label.h), 0: a reference label (/meta/pseudo_label) */
} mt_meta;

/* One 2D training sample: image plus whatever labels it has. */
typedef struct mt_sample {
    int c, h, w;          /* image shape [C,H,W] */
    float *image;         /* owned, c*h*w floats */
    int k;                /* number of mask channels, 0 if no mask */
    uint8_t *mask;        /* owned, k*h*w bytes, or NULL */
    int label;            /* class index, -1 if none */
    int n_boxes;          /* number of boxes */
    float *boxes;         /* owned, n_boxes*5: x0,y0,x1,y1,class (pixels) */
    int n_points;         /* number of landmark points */
    float *points;        /* owned, n_points*2: x,y (pixels); NAN,NAN if missing */
    mt_meta meta;
} mt_sample;

/* A 3D scalar volume (CT in HU, or a label map stored as float). */
typedef struct mt_volume {
    int nx, ny, nz;       /* voxels along x (columns), y (rows), z (slices) */
    float *data;          /* owned, nz*ny*nx floats, x fastest */
    mt_meta meta;         /* spacing/origin/direction describe the grid */
} mt_volume;

/* Set every field of a sample to "empty" (no buffers, label -1, unknowns <0). */
void mt_sample_init(mt_sample *s);
/* Free the buffers a sample owns and re-initialise it. Safe on an initialised sample. */
void mt_sample_free(mt_sample *s);
/* Set the metadata to "unknown" values (age/height/weight -1, slice_position NAN, identity direction). */
void mt_meta_init(mt_meta *m);
/* Free a volume's buffer and zero it. */
void mt_volume_free(mt_volume *v);

#ifdef __cplusplus
}
#endif
#endif
