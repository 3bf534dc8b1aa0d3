/* cli/recon.c: `medtrain recon VOLUME --out SHEET.png`: the nine 2D reconstructions of a CT
 * volume that S2 classifies ({MIP, AIP, mid-plane} x {axial, coronal, sagittal}, papers.md S2;
 * data/recon.h mt_recon_nine: cubic voxels first) as one PNG contact sheet, rows = planes,
 * columns = MIP / AIP / mid-plane, each tile windowed to --window LEVEL,WIDTH (HU; default
 * 300,2600 = -1000..1600 HU, the window experiments/s2_ct_recon imports with). */
#include <stdio.h>
#include <string.h>

#include "../data/ct_volume.h"
#include "../data/recon.h"
#include "../train/plot.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"out", 1, 0, "PNG contact sheet to write"},
    {"window", 1, 0, "LEVEL,WIDTH display window in HU (default 300,2600: -1000..1600, air to dense bone, as S2's datasets)"},
    {"isotropic_mm", 1, 0, "voxel edge (mm) of the isotropic resampling (default 0: the smallest spacing)"},
    {"tile", 1, 0, "tile size in pixels (default 299, the study's input size)"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

int cli_recon(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("recon", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    if (a.help || a.n_pos != 1 || !cli_has(&a, "out")) {
        cli_print_help(a.help ? stdout : stderr,
                       "medtrain recon VOLUME --out SHEET.png [--window 300,2600] [--isotropic_mm 0] [--tile 299]",
                       "VOLUME is a DICOM series folder or a NIfTI file. Resamples it to cubic voxels, then draws\n"
                       "MIP, AIP and mid-plane along the axial, coronal and sagittal axes (the nine inputs of\n"
                       "the S2 study) as a 3 x 3 contact sheet, laid out as a radiologist views them.",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    double level = 300, width = 2600, iso = 0;
    int tile = 299;
    if (cli_has(&a, "window") && (sscanf(cli_opt(&a, "window", ""), "%lf,%lf", &level, &width) != 2 || !(width > 0))) {
        fprintf(stderr, "medtrain recon: --window '%s': expected LEVEL,WIDTH with WIDTH > 0\n", cli_opt(&a, "window", ""));
        return 2;
    }
    if ((rc = cli_double(&a, "isotropic_mm", 0, &iso)) || (rc = cli_int(&a, "tile", 299, &tile))) return rc;
    if (iso < 0) {
        fprintf(stderr, "medtrain recon: --isotropic_mm %g: must be >= 0 (0 = the smallest spacing)\n", iso);
        return 2;
    }
    mt_volume v;
    mt_sample r[9];
    for (int i = 0; i < 9; i++) mt_sample_init(&r[i]);
    if (mt_ct_volume_read(a.pos[0], &v) != MT_OK) return cli_fail("recon");
    mt_status st = mt_recon_nine(&v, iso, r);
    if (st == MT_OK) {
        static const char *plane[3] = {"axial", "coronal", "sagittal"}, *kind[3] = {"MIP", "AIP", "mid-plane"};
        char caps[9][64], title[1200];
        mt_plot_tile tiles[9];
        for (int i = 0; i < 9; i++) {
            snprintf(caps[i], sizeof caps[i], "%s %s (%dx%d)", plane[i / 3], kind[i % 3], r[i].w, r[i].h);
            tiles[i] = (mt_plot_tile){r[i].image, r[i].h, r[i].w, level - width / 2, level + width / 2, 0, NULL, caps[i]};
        }
        const char *name = strrchr(a.pos[0], '/') && strrchr(a.pos[0], '/')[1] ? strrchr(a.pos[0], '/') + 1 : a.pos[0];
        snprintf(title, sizeof title, "%s: %dx%dx%d -> %.3g mm voxels, window %g/%g HU", name, v.nx, v.ny,
                 v.nz, r[0].meta.spacing[0], level, width);
        st = mt_plot_contact_sheet(cli_opt(&a, "out", ""), 9, tiles, 3, tile, title);
    }
    if (st == MT_OK) printf("wrote %s\n", cli_opt(&a, "out", ""));
    for (int i = 0; i < 9; i++) mt_sample_free(&r[i]);
    mt_volume_free(&v);
    return st == MT_OK ? 0 : cli_fail("recon");
}
