/* cli/import_cmd.c: `medtrain import`: builds a medtrain HDF5 dataset from
 * DICOM / NIfTI / 2D images and labels through data/import.h. Every option
 * is a key of mt_import_spec_set (docs/import.md); --spec FILE.yaml gives the
 * same keys as a YAML map (lists for repeatable keys) and options given after
 * it override it.
 * Example (S1 stand-in, 30 axial CT slices with a skeletal-muscle mask):
 *   medtrain import --source nifti --input data/samples/s1/example_ct_sm.nii.gz \
 *     --mask data/samples/s1/skeletal_muscle.nii.gz --mask_names muscle \
 *     --resize 96x96 --split_by sample --output runs/data/s1_muscle_96.h5
 * Fashion-MNIST (IDX files of Debian's dataset-fashion-mnist; docs/import.md):
 *   medtrain import --source idx --input .../train-images-idx3-ubyte.gz \
 *     --idx_labels .../train-labels-idx1-ubyte.gz --test_input .../t10k-images-idx3-ubyte.gz \
 *     --test_labels .../t10k-labels-idx1-ubyte.gz --scale 0,255 --val_frac 0.1 --output fmnist.h5 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/yaml_tree.h"
#include "../data/import.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"spec", 1, 0, "YAML file with the keys below (a list for input/mask)"},
    {"source", 1, 0, "dicom | dicom-series | nifti | images | idx"},
    {"input", 1, 1, "file, folder or glob (repeatable)"},
    {"output", 1, 0, "dataset path (.h5), written atomically"},
    {"patient_id", 1, 0, "override the patient id"},
    {"idx_labels", 1, 0, "idx: labels file (idx1, .gz ok) for --input"},
    {"test_input", 1, 0, "idx: official test images file (its samples get split test)"},
    {"test_labels", 1, 0, "idx: labels file for --test_input"},
    {"plane", 1, 0, "volumes: axial | coronal | sagittal (default axial)"},
    {"recon", 1, 0, "volumes: comma list of mip,aip,mid (one sample per volume)"},
    {"isotropic", 1, 0, "0|1: resample the volume to cubic voxels before reconstructions (default 1)"},
    {"isotropic_mm", 1, 0, "voxel edge (mm) of that resampling (default 0: the smallest spacing)"},
    {"mask", 1, 1, "NIfTI mask on the volume grid (repeatable, one channel each)"},
    {"mask_names", 1, 0, "comma list of mask channel names"},
    {"slices", 1, 0, "first:last slice range (0-based, inclusive)"},
    {"labels_csv", 1, 0, "CSV with class labels"},
    {"csv_key", 1, 0, "CSV column holding the input file name"},
    {"csv_label", 1, 0, "CSV column holding the label"},
    {"classes", 1, 0, "comma list of class names (label index order)"},
    {"mias_info", 1, 0, "mini-MIAS Info.txt (circle masks + boxes)"},
    {"labelme_dir", 1, 0, "folder of LabelMe JSON files"},
    {"points", 1, 0, "comma list of LabelMe point labels to keep"},
    {"box_points", 1, 0, "A,B: two of --points; one box per sample anchored at A, scaled by |B - A|"},
    {"box_offsets", 1, 0, "x0,y0,x1,y1 of that box in units of |B - A| from A (e.g. -0.15,-0.12,0.45,0.48)"},
    {"box_class", 1, 0, "class id of the box_points boxes (default 0)"},
    {"mask_dir", 1, 0, "folder of mask images named like the inputs"},
    {"mask_classes", 1, 0, "K: mask values 1..K are classes (0: nonzero = 1)"},
    {"reorient", 1, 0, "auto (default), 1 or 0: axial DICOM slices to the standard layout from Image Orientation "
                       "(Patient); 1 also refuses non-axial slices, 0 keeps all as stored"},
    {"window", 1, 0, "LEVEL,WIDTH in HU: clip and scale to [0,1]"},
    {"scale", 1, 0, "LO,HI: scale to [0,1]"},
    {"roi_crop", 1, 0, "0|1: crop around the mask / boxes / points"},
    {"roi_margin", 1, 0, "ROI margin fraction (default 0.1)"},
    {"resize", 1, 0, "HxW, e.g. 96x96"},
    {"pad_multiple", 1, 0, "pad bottom/right to a multiple (e.g. 16)"},
    {"split_by", 1, 0, "patient (default) | sample"},
    {"val_frac", 1, 0, "validation fraction (default 0.15)"},
    {"test_frac", 1, 0, "test fraction (default 0.15)"},
    {"seed", 1, 0, "split seed (default 0)"},
    {"description", 1, 0, "free text stored in the dataset"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

static mt_status apply_spec_file(mt_import_spec *sp, const char *path)
{
    mt_yaml_node *root = NULL;
    MT_TRY(mt_yaml_load_file(path, &root));
    mt_status st = MT_OK;
    char where[512];
    if (root->kind != MT_YAML_MAP)
        st = MT_ERR(MT_ERR_FORMAT, "%s: an import spec is a map of keys (docs/import.md)", mt_yaml_where(root, where, sizeof where));
    for (int i = 0; st == MT_OK && i < root->n; i++) {
        const mt_yaml_node *c = root->child[i];
        if (c->kind == MT_YAML_SCALAR) {
            st = mt_import_spec_set(sp, c->key, c->value);
        } else if (c->kind == MT_YAML_SEQ) {
            for (int j = 0; st == MT_OK && j < c->n; j++) {
                if (c->child[j]->kind != MT_YAML_SCALAR) {
                    st = MT_ERR(MT_ERR_FORMAT, "%s: list items of '%s' must be scalars",
                                mt_yaml_where(c->child[j], where, sizeof where), c->key);
                    break;
                }
                st = mt_import_spec_set(sp, c->key, c->child[j]->value);
            }
        } else {
            st = MT_ERR(MT_ERR_FORMAT, "%s: '%s' must be a scalar or a list", mt_yaml_where(c, where, sizeof where), c->key);
        }
        if (st != MT_OK && mt_last_error()[0] && !strstr(mt_last_error(), path)) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", mt_last_error());
            mt_error_replace(st, __FILE__, __LINE__, "%s: %s", mt_yaml_key_where(c, where, sizeof where), msg);
        }
    }
    mt_yaml_free(root);
    return st;
}

/* Import progress on stdout: redrawn in place on a terminal, else a line every 10%. */
typedef struct import_progress {
    int tty;
    long last_decile;
    double t0;
} import_progress;

static void import_progress_cb(void *user, long done, long total)
{
    import_progress *p = user;
    double el = mt_now() - p->t0;
    if (p->tty) {
        printf("\rimport %ld/%ld (%.0f%%) %.1f s ", done, total, total > 0 ? 100.0 * done / total : 0.0, el);
        if (done == total) printf("\n");
        fflush(stdout);
    } else if (total > 0 && (done * 10 / total > p->last_decile || done == total)) {
        p->last_decile = done * 10 / total;
        printf("import %ld/%ld (%.0f%%) %.1f s\n", done, total, 100.0 * done / total, el);
        fflush(stdout);
    }
}

int cli_import(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("import", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos > 0 || a.n_opt == 0) {
        cli_print_help(a.help ? stdout : stderr, "medtrain import [--spec SPEC.yaml] --source KIND --input PATH ... --output OUT.h5 [options]",
                       "Converts medical images and labels into a medtrain HDF5 dataset (docs/dataset.md),\n"
                       "with HU windowing / resizing / ROI cropping and a seeded train/val/test split.\n"
                       "One documented command per dataset: docs/import.md.",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    mt_import_spec *sp = malloc(sizeof *sp); /* large struct: keep it off the stack */
    if (!sp) {
        fprintf(stderr, "medtrain import: out of memory\n");
        return 1;
    }
    mt_import_spec_init(sp);
    mt_status st = MT_OK;
    const char *spec_file = cli_opt(&a, "spec", NULL);
    if (spec_file) st = apply_spec_file(sp, spec_file);
    for (int i = 0; st == MT_OK && i < a.n_opt; i++)
        if (strcmp(a.opt_name[i], "spec") != 0) st = mt_import_spec_set(sp, a.opt_name[i], a.opt_value[i]);
    if (st == MT_OK && !sp->output[0]) {
        fprintf(stderr, "medtrain import: --output OUT.h5 is required\n");
        free(sp);
        return 2;
    }
    if (st == MT_OK && sp->n_inputs == 0) {
        fprintf(stderr, "medtrain import: at least one --input is required\n");
        free(sp);
        return 2;
    }
    mt_import_result res;
    memset(&res, 0, sizeof res);
    import_progress prog = {isatty(STDOUT_FILENO), 0, mt_now()};
    sp->progress = import_progress_cb;
    sp->progress_user = &prog;
    if (st == MT_OK) st = mt_import_run(sp, &res);
    if (st == MT_OK)
        printf("wrote %s: %d samples from %d files, image [%d, %d, %d], %d mask channels, %d points\n", sp->output,
               res.n_samples, res.n_files, res.c, res.h, res.w, res.k, res.n_points);
    if (st == MT_OK && sp->source == MT_IMPORT_DICOM && sp->reorient != 0)
        printf("reoriented %d of %d slices to the standard axial layout (Image Orientation (Patient))\n",
               res.n_reoriented, res.n_samples);
    if (st == MT_OK && res.n_duplicates > 0)
        printf("%d samples have the same pixels as an earlier sample (duplicates): each is kept in its original's "
               "split (/meta/duplicate_of)\n", res.n_duplicates);
    if (st == MT_OK && res.n_mixed_label_patients > 0)
        printf("%d patients have samples of more than one class label; %s\n", res.n_mixed_label_patients,
               sp->split_by_sample ? "split by sample: their samples may sit in different splits"
                                   : "split by patient keeps each in one split");
    if (st == MT_OK && res.n_no_patient_id > 0 && !sp->split_by_sample &&
        (sp->source == MT_IMPORT_DICOM || sp->source == MT_IMPORT_DICOM_SERIES))
        fprintf(stderr,
                "medtrain import: warning: %d of %d samples have no PatientID (0010,0020); each is grouped by its "
                "source file for the train/val/test split, so slices of one patient can land in different splits "
                "(set --patient_id, or --split_by sample to accept it)\n",
                res.n_no_patient_id, res.n_samples);
    free(sp);
    return st == MT_OK ? 0 : cli_fail("import");
}
