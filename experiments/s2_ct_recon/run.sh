#!/usr/bin/env bash
# experiments/s2_ct_recon/run.sh: S2 end to end (../../../shared/design/papers.md S2) on the
# stand-in data of ../shared/data, then one report (table.py):
#
#   1. the nine reconstructions ({MIP, AIP, mid-plane} x {axial, coronal, sagittal}, cubic
#      voxels of ISO_MM first) of every CT volume here, one contact sheet each (`medtrain recon`);
#   2. contrast (task B) on tcga_ct_contrast_slices: one import (the slice is its own axial
#      "mid-plane"): Image Orientation (Patient) puts the 6 rotated / upside-down slices (all NE, so
#      orientation would leak the label) in the standard axial layout, identical slices are kept in
#      one split, patients with both CE and NE series are counted; window 50/500 HU (-200..300)
#      -> [0, 1], SIZE x SIZE, split by patient (seed 4: 55 / 14 / 10 slices); then
#      configs/s2_contrast.yaml (InceptionResNetV2 from scratch: no ImageNet weights are reachable
#      here) per seed in medtrain and in PyTorch (peer_torch.py: same split, recipe and
#      augmentation), test accuracy, macro precision / recall, confusion matrices;
#   3. body part (task A): the three volumes -> nine datasets (one per reconstruction, labels
#      from bodypart.csv) -> one configs/s2_bodypart.yaml run each. Three volumes of two
#      classes cannot be split, so every split is the training split: the pipeline runs end to
#      end and its accuracy measures nothing (the table says so).
#
# CPU-sized by default (the study: 299 px, up to 200 epochs): SIZE=139 (InceptionResNetV2 takes
# >= 75; at 75 a last batch of 1 meets 1x1 maps that batch norm refuses in both engines),
# EPOCHS=12 with early stopping patience 5 as the study, SEEDS=0,1,2, BP_EPOCHS=3, ISO_MM=1.
# About 4 minutes per contrast model on 2 cores. TINY=1: train.steps 2 at 107 px, one seed, no
# peer, body part on axial MIP only (tests/test_s2_chain.c in `make test`).
# Stages whose outputs exist are skipped: delete $OUT (default runs/s2) to start again.
# EXTRA_SET="key=value ..." adds --set overrides to both engines' contrast runs (a stated variant of
# the recipe, e.g. EXTRA_SET="optimizer.lr=0.01 optimizer.momentum=0.9" OUT=runs/s2_sgdm).
# Environment: BUILD (default build, made first; a BUILD given is used as is), OUT, THREADS (default 2), PY, the sizes above.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${BUILD:-}" ] && REMAKE=0 || REMAKE=1   # a caller's BUILD holds a finished medtrain: used as is
BUILD=${BUILD:-build}
MT=$BUILD/medtrain
PY=${PY:-/usr/bin/python3}
OUT=${OUT:-runs/s2}
THREADS=${THREADS:-2}
TINY=${TINY:-0}
DATA=../shared/data
if [ "$TINY" = 1 ]; then
  DEFAULTS="SIZE=107 EPOCHS=1 STEPS=2 SEEDS=0 PEER=0 BP_EPOCHS=1 BP_STEPS=1 BP_RECONS=axial:mip ISO_MM=3"
else
  DEFAULTS="SIZE=139 EPOCHS=12 STEPS=0 SEEDS=0,1,2 PEER=1 BP_EPOCHS=3 BP_STEPS=0 ISO_MM=1
            BP_RECONS=axial:mip,axial:aip,axial:mid,coronal:mip,coronal:aip,coronal:mid,sagittal:mip,sagittal:aip,sagittal:mid"
fi
for kv in $DEFAULTS; do k=${kv%%=*}; [ -n "${!k:-}" ] || eval "$kv"; done
for d in $DATA/tcga_ct_contrast_slices/dicom $DATA/cq500_head_ct_sample/dicom $DATA/totalsegmentator_example_ct; do
  [ -e "$d" ] || { echo "run.sh: $d is missing (../shared/data)" >&2; exit 1; }
done
mkdir -p "$OUT/sheets"
OUT=$(realpath "$OUT")   # --set paths are resolved against the config file
[ "$REMAKE" = 0 ] || make -s BUILD="$BUILD" "$MT"
T="--quiet --device cpu --set train.threads=$THREADS --set data.num_workers=1 --set model.params.size=$SIZE
   --set data.input_size=[$SIZE,$SIZE]"
VOLUMES="$DATA/cq500_head_ct_sample/dicom $DATA/totalsegmentator_example_ct/example_ct_dicom
         $DATA/totalsegmentator_example_ct/example_ct.nii.gz"

# ---- 1. the nine reconstructions of every volume ------------------------------------------------
for v in $VOLUMES; do
  name=$(basename "$(dirname "$v")")_$(basename "$v" .nii.gz)
  [ -f "$OUT/sheets/$name.png" ] || $MT recon "$v" --out "$OUT/sheets/$name.png" --isotropic_mm "$ISO_MM" > /dev/null
done

# ---- 2. contrast: TCGA slices ---------------------------------------------------------------------
TC=$OUT/tcga_contrast_$SIZE.h5
if [ ! -f "$TC" ]; then
  $MT import --source dicom --input $DATA/tcga_ct_contrast_slices/dicom \
    --labels_csv $DATA/tcga_ct_contrast_slices/overview.csv --csv_key dicom_name --csv_label Contrast \
    --classes False,True --window 50,500 --resize ${SIZE}x$SIZE --val_frac 0.15 --test_frac 0.15 --seed 4 \
    --description "S2 contrast stand-in: TCGA-LUAD/LUSC slices, CE = True (class 1), NE = False (class 0)" \
    --output "$TC" | grep -v "^import " > "$OUT/tcga_import.txt"
fi
cat "$OUT/tcga_import.txt"
STEPSET=""
[ "$STEPS" != 0 ] && STEPSET="--set train.steps=$STEPS"
XSET=""
for kv in ${EXTRA_SET:-}; do XSET="$XSET --set $kv"; done
for s in ${SEEDS//,/ }; do
  R=$OUT/contrast_mt_s$s
  if [ ! -f "$R/eval_test.json" ]; then
    rm -rf "$R"
    $MT train configs/s2_contrast.yaml --out "$R" $T --set data.dataset="$TC" --set train.epochs=$EPOCHS \
      --set train.seed=$s $STEPSET $XSET
    $MT evaluate "$R" --device cpu > /dev/null
  fi
  P=$OUT/contrast_peer_s$s.json
  if [ "$PEER" = 1 ] && [ ! -f "$P" ]; then
    OMP_NUM_THREADS=$THREADS $PY experiments/s2_ct_recon/peer_torch.py --data "$TC" --config configs/s2_contrast.yaml \
      --set model.params.size=$SIZE --set train.epochs=$EPOCHS $XSET --seed $s > "$P.tmp" && mv "$P.tmp" "$P"
  fi
done

# ---- 3. body part: volumes -> nine datasets -> one model each -------------------------------------
BPSTEPS=""
[ "$BP_STEPS" != 0 ] && BPSTEPS="--set train.steps=$BP_STEPS"
for pk in ${BP_RECONS//,/ }; do
  plane=${pk%%:*} kind=${pk##*:}
  D=$OUT/bodypart_${plane}_${kind}_$SIZE.h5
  [ -f "$D" ] || $MT import --source dicom-series $(for v in $VOLUMES; do echo --input "$v"; done) \
    --recon "$kind" --plane "$plane" --isotropic_mm "$ISO_MM" --window 300,2600 --resize ${SIZE}x$SIZE \
    --labels_csv experiments/s2_ct_recon/bodypart.csv --csv_key volume --csv_label part \
    --classes brain,neck,chest,abdomen,pelvis --split_by sample --val_frac 0 --test_frac 0 \
    --description "S2 body-part stand-in: $plane $kind of 3 volumes (bodypart.csv)" --output "$D" > /dev/null
  R=$OUT/bodypart_${plane}_${kind}
  if [ ! -f "$R/eval_train.json" ]; then
    rm -rf "$R"
    $MT train configs/s2_bodypart.yaml --out "$R" $T --set data.dataset="$D" --set train.epochs=$BP_EPOCHS \
      --set data.val_split=train --set data.test_split=train --set early_stopping.enabled=false $BPSTEPS
    $MT evaluate "$R" --device cpu --split train > /dev/null
  fi
done

# ---- 4. the table ----------------------------------------------------------------------------------
$PY experiments/s2_ct_recon/table.py "$OUT" --seeds "$SEEDS" --recons "$BP_RECONS" --size "$SIZE" --epochs "$EPOCHS" \
  | tee "$OUT/table.md"
