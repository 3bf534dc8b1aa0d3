/* cli/label.c: `medtrain label threshold|backproject|grabcut IMAGE --box x0,y0,x1,y1 --output F`:
 * a semi-automatic mask of one CT slice (S3's labeling methods, data/semiauto.h) written as an
 * HDF5 dataset (the slice in HU + the mask, the method recorded in the dataset's description)
 * or a 0/255 PNG; with --reference, the DSC against a reference mask is printed. */
#include <stdlib.h>
#include <string.h>

#include "../data/ct_volume.h"
#include "../data/dataset.h"
#include "../data/recon.h"
#include "../data/semiauto.h"
#include "../train/plot.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"output", 1, 0, "F.h5 (HDF5 dataset: the slice in HU and the mask) or F.png (mask 0/255); required"},
    {"slice", 1, 0, "axial slice (0-based, after reorientation as `import` cuts them); required for a volume"},
    {"box", 1, 0, "x0,y0,x1,y1 pixels (x1, y1 exclusive): threshold region / the tissue sample / GrabCut's box"},
    {"region", 1, 0, "backproject: x0,y0,x1,y1, where pixels may be selected (default the whole slice)"},
    {"hu", 1, 0, "HU range muscle (-29,150), sat (-190,-30), vat (-150,-50) or lo,hi: threshold's range, "
                 "the others' gate"},
    {"window", 1, 0, "level,width HU of the 8-bit image backproject / grabcut work on (default 40,400)"},
    {"bins", 1, 0, "backproject: histogram bins 2..256 (default 32)"},
    {"min_ratio", 1, 0, "backproject: keep pixels whose back-projection is >= this x 255 (default 0.1)"},
    {"iterations", 1, 0, "grabcut: rounds (default 5)"},
    {"margin", 1, 0, "grabcut: work on the box grown by this many pixels per side (default 10)"},
    {"name", 1, 0, "mask name stored in the dataset (default: the method)"},
    {"reference", 1, 0, "FILE[@IDS]: a reference mask (NIfTI on the image grid or PNG of the slice); prints the DSC"},
    {"overlay", 1, 0, "also write this overlay PNG (the mask, and the reference when given)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

static int parse_params(const cli_args *a, mt_label_params *p)
{
    mt_label_method m;
    if (mt_label_method_parse(a->pos[0], &m) != MT_OK) return cli_fail("label"), 2; /* a usage error: exit 2 */
    mt_label_params_default(p, m);
    mt_status st = MT_OK;
    if (cli_has(a, "box")) st = mt_box_parse(cli_opt(a, "box", ""), "--box", &p->box), p->has_box = 1;
    if (st == MT_OK && cli_has(a, "region"))
        st = mt_box_parse(cli_opt(a, "region", ""), "--region", &p->region), p->has_region = 1;
    if (st == MT_OK && cli_has(a, "hu")) st = mt_hu_range_parse(cli_opt(a, "hu", ""), &p->hu_lo, &p->hu_hi);
    if (st != MT_OK) return cli_fail("label"), 2; /* a usage error: exit 2 */
    const char *w = cli_opt(a, "window", NULL);
    char tail;
    if (w && (sscanf(w, "%lf,%lf%c", &p->level, &p->width, &tail) != 2 || !(p->width > 0))) {
        fprintf(stderr, "medtrain label: --window '%s': expected level,width in HU (width > 0)\n", w);
        return 2;
    }
    if (cli_int(a, "bins", p->bins, &p->bins) || cli_double(a, "min_ratio", p->min_ratio, &p->min_ratio) ||
        cli_int(a, "iterations", p->iterations, &p->iterations) || cli_int(a, "margin", p->margin, &p->margin))
        return 2;
    return 0;
}

static mt_status read_reference(const char *arg, const mt_volume *img, int z, int h, int w, uint8_t *out)
{
    char path[1024];
    int ids[64], n_ids = 0;
    snprintf(path, sizeof path, "%s", arg);
    char *at = strrchr(path, '@');
    if (at && (n_ids = mt_parse_ids(at + 1, ids, 64)) > 0) *at = '\0';
    else n_ids = 0;
    if (mt_path_is_image2d(path)) return mt_mask_image_read(path, ids, n_ids, h, w, out);
    mt_volume m;
    MT_TRY(mt_mask_volume_read(path, ids, n_ids, img, &m));
    mt_status st = mt_mask_volume_slice(&m, z, h, w, out);
    mt_volume_free(&m);
    return st;
}

static mt_status write_dataset(const char *path, mt_sample *s, const char *name, const char *what)
{
    char pre[1700];
    snprintf(pre, sizeof pre, "none: values in HU as read; mask %s by %s", name, what);
    mt_dataset_spec spec = {1, s->h, s->w, 1, 0, what, pre};
    mt_dataset_writer *dw = NULL;
    MT_TRY(mt_dataset_writer_open(path, &spec, &dw));
    const char *names[1] = {name};
    mt_status st = mt_dataset_writer_set_names(dw, "mask_names", names, 1);
    if (st == MT_OK) st = mt_dataset_writer_set_split_by_sample(dw, 1);
    if (st == MT_OK) st = mt_dataset_writer_add(dw, s);
    mt_status cs = mt_dataset_writer_close(dw, st == MT_OK, 0.0, 0.0, 0);
    return st != MT_OK ? st : cs;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static mt_status label_run(const cli_args *a, const mt_label_params *p, int z, mt_volume *img, mt_sample *s)
{
    const char *out = cli_opt(a, "output", "");
    MT_REQUIRE(ends_with(out, ".h5") || ends_with(out, ".png"), "--output %s: expected a .h5 dataset or a .png mask", out);
    MT_TRY(mt_ct_volume_read(a->pos[1], img));
    MT_REQUIRE(cli_has(a, "slice") || img->nz == 1, "%s has %d axial slices: choose one with --slice K", a->pos[1],
               img->nz);
    MT_REQUIRE(z >= 0 && z < img->nz, "--slice %d: %s has axial slices 0..%d", z, a->pos[1], img->nz - 1);
    MT_TRY(mt_volume_slice(img, MT_PLANE_AXIAL, z, s));
    size_t n = (size_t)s->h * s->w;
    s->mask = mt_calloc(n, 1);
    if (!s->mask) return mt_last_status();
    s->k = 1;
    MT_TRY(mt_label_slice(s->image, s->h, s->w, p, s->mask));
    char what[512], desc[1400];
    mt_label_describe(p, what, sizeof what);
    snprintf(desc, sizeof desc, "medtrain label %s; %s slice %d", what, a->pos[1], z);
    const char *name = cli_opt(a, "name", mt_label_method_name(p->method));
    size_t area = 0;
    for (size_t i = 0; i < n; i++) area += s->mask[i];
    double px = s->meta.spacing[0] * s->meta.spacing[1];
    printf("%s: slice %d, %zu pixels (%.2f cm2)\n", what, z, area, (double)area * px / 100.0);
    uint8_t *ref = NULL;
    mt_status st = MT_OK;
    if (cli_has(a, "reference")) {
        ref = mt_malloc(n);
        st = ref ? read_reference(cli_opt(a, "reference", ""), img, z, s->h, s->w, ref) : mt_last_status();
        const mt_box *in = p->method == MT_LABEL_BACKPROJECT ? (p->has_region ? &p->region : NULL) : &p->box;
        if (p->method == MT_LABEL_THRESHOLD && !p->has_box) in = NULL;
        if (st == MT_OK)
            printf("DSC against %s: %.4f (whole slice), %.4f (inside the %s)\n", cli_opt(a, "reference", ""),
                   mt_mask_dsc(s->mask, ref, s->h, s->w, NULL), mt_mask_dsc(s->mask, ref, s->h, s->w, in),
                   in == &p->region ? "region" : in ? "box" : "slice");
    }
    if (st == MT_OK && ends_with(out, ".png")) st = mt_plot_mask_png(out, s->mask, s->h, s->w);
    else if (st == MT_OK) st = write_dataset(out, s, name, desc);
    if (st == MT_OK && cli_has(a, "overlay")) {
        mt_plot_mask pm[2] = {{s->mask, 250, 200, 30, name}, {ref, 40, 200, 90, "reference"}};
        st = mt_plot_overlay(cli_opt(a, "overlay", ""), s->image, s->h, s->w, p->level - p->width / 2,
                             p->level + p->width / 2, ref ? 2 : 1, pm, what);
    }
    if (st == MT_OK) printf("-> %s\n", out);
    free(ref);
    return st;
}

int cli_label(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("label", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 2 || !cli_has(&a, "output")) {
        cli_print_help(a.help ? stdout : stderr,
                       "medtrain label threshold|backproject|grabcut IMAGE [--slice K] [--box x0,y0,x1,y1] --output F",
                       "Semi-automatic mask of one CT slice (S3). IMAGE: a DICOM series folder, a DICOM file or a\n"
                       "NIfTI volume, cut into axial slices as `medtrain import` does.\n"
                       "  threshold    pixels of --box (default all) within the --hu range\n"
                       "  backproject  --box on part of the tissue; pixels matching its histogram (OpenCV)\n"
                       "  grabcut      --box around the object; OpenCV GrabCut\n"
                       "Output: an HDF5 dataset (slice + mask, method in its description) or a PNG mask.",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    mt_label_params p;
    int z;
    if ((rc = parse_params(&a, &p)) != 0 || (rc = cli_int(&a, "slice", 0, &z)) != 0) return rc;
    mt_volume img;
    memset(&img, 0, sizeof img);
    mt_sample s;
    mt_sample_init(&s);
    mt_status st = label_run(&a, &p, z, &img, &s);
    mt_sample_free(&s);
    mt_volume_free(&img);
    return st == MT_OK ? 0 : cli_fail("label");
}
