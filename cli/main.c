/* cli/main.c: the `medtrain` command: dispatches to the subcommands.
 *   medtrain train CONFIG.yaml [--set key.path=value ...] [--device cpu|cuda|cuda:N] [--out DIR]
 *   medtrain train --resume RUN_DIR
 *   medtrain evaluate RUN_DIR|CHECKPOINT.h5 [--split test] [--out DIR]
 *   medtrain predict RUN_DIR|CHECKPOINT.h5 INPUT... --out DIR
 *   medtrain import --spec SPEC.yaml | options ...
 *   medtrain crop DATASET --out OUT.h5 [--size 256] [--detector RUN_DIR] ...
 *   medtrain import-weights GRAPH|RUN_DIR WEIGHTS [--map MAP.yaml] [--skip-mismatched] --output CKPT.h5
 *   medtrain export RUN_DIR|CHECKPOINT.h5 [--graph G.yaml] --format onnx|safetensors [--output F]
 *   medtrain info PATH (dataset, checkpoint, model graph or experiment YAML)
 *   medtrain bench [args for experiments/bench]
 *   medtrain recon VOLUME --out SHEET.png [--window 300,2600] [--isotropic_mm 0]
 *   medtrain synth-fracture CROPS.h5 --out BENCH.h5 --strength S [--fraction F] [--seed N] [--examples DIR]
 *   medtrain quantify IMAGE --mask NAME=FILE[@IDS] ... [--sex --height --weight --patients --reference] --out DIR
 *   medtrain label threshold|backproject|grabcut IMAGE [--slice K] --box x0,y0,x1,y1 --output F.h5|F.png
 *   medtrain pseudo-label RUN_DIR --data DS.h5 --labelled K --out OUT.h5
 *   medtrain sweep SWEEP.yaml [--out DIR] [--backend local|slurm] [--concurrent N] | --trial I
 * Exit status: 0 success, 1 a library error (message names file:line), 2 usage. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: medtrain <command> [options]   (medtrain <command> --help for details)\n\n"
            "commands:\n"
            "  train      train a model from an experiment YAML (or --resume a run)\n"
            "  evaluate   test-split metrics (DSC, IoU, accuracy: mean +- SD per image) of a run\n"
            "  predict    masks and overlays for DICOM / NIfTI / PNG slices\n"
            "  import     convert DICOM / NIfTI / images + labels into a medtrain HDF5 dataset\n"
            "  crop       square box-centred crops of a dataset (boxes from the data or a detector)\n"
            "  import-weights  pretrained Keras .h5 / safetensors weights into a medtrain checkpoint\n"
            "  export     a trained model as ONNX (ONNX Runtime) or safetensors (PyTorch twins)\n"
            "  info       describe a dataset, checkpoint, model graph or experiment file\n"
            "  bench      run the training-step benchmark (experiments/bench)\n"
            "  recon      the nine MIP / AIP / mid-plane reconstructions of a CT volume as a contact sheet (S2)\n"
            "  synth-fracture  the S4 synthetic nasal-fracture benchmark from a crops dataset\n"
            "  quantify   body composition of CT slices: areas, HU, sarcopenia indices, T-scores (S3)\n"
            "  label      semi-automatic masks: HU threshold, histogram back-projection, GrabCut (S3)\n"
            "  pseudo-label  a run's predicted masks for the unlabelled training slices, flagged (S3)\n"
            "  sweep      a hyperparameter sweep (grid, random, seeds, K folds) on this machine or Slurm\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    int sub_argc = argc - 2;
    char **sub_argv = argv + 2;
    if (!strcmp(cmd, "train")) return cli_train(sub_argc, sub_argv);
    if (!strcmp(cmd, "evaluate")) return cli_evaluate(sub_argc, sub_argv);
    if (!strcmp(cmd, "predict")) return cli_predict(sub_argc, sub_argv);
    if (!strcmp(cmd, "import")) return cli_import(sub_argc, sub_argv);
    if (!strcmp(cmd, "crop")) return cli_crop(sub_argc, sub_argv);
    if (!strcmp(cmd, "import-weights")) return cli_import_weights(sub_argc, sub_argv);
    if (!strcmp(cmd, "export")) return cli_export(sub_argc, sub_argv);
    if (!strcmp(cmd, "info")) return cli_info(sub_argc, sub_argv);
    if (!strcmp(cmd, "bench")) return cli_bench(sub_argc, sub_argv);
    if (!strcmp(cmd, "synth-fracture")) return cli_synth_fracture(sub_argc, sub_argv);
    if (!strcmp(cmd, "recon")) return cli_recon(sub_argc, sub_argv);
    if (!strcmp(cmd, "quantify")) return cli_quantify(sub_argc, sub_argv);
    if (!strcmp(cmd, "label")) return cli_label(sub_argc, sub_argv);
    if (!strcmp(cmd, "pseudo-label")) return cli_pseudo_label(sub_argc, sub_argv);
    if (!strcmp(cmd, "sweep")) return cli_sweep(sub_argc, sub_argv);
    fprintf(stderr, "medtrain: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
