#!/usr/bin/env bash
# experiments/s3_body_composition/run.sh: S3 end to end (../../../shared/design/papers.md S3) on
# the stand-in shipped in data/samples/s1 (TotalSegmentator's example CT, 30 axial slices at
# 3 mm, one patient, model-made tissue masks; torso_fat used as VAT), then one report:
#
#   1. import the 30 slices with the three masks muscle, sat, vat (one command, docs/import.md),
#      resized to SIZE x SIZE, split by slice: 15 train / 6 val / 9 test (seed 0);
#   2. the 3-class U-Net (configs/s3_body_composition.yaml: softmax + CE over 4 logits) on all
#      15 training slices; `medtrain evaluate`: per-class DSC and IoU, per-image IoU per class
#      and merged (M + SAT + VAT as one foreground) and the Table 3 IoU bins;
#   3. the pseudo-label loop: v1 on the first K training slices (data.train_limit), `medtrain
#      pseudo-label` writes the other 15 - K with v1's masks flagged /meta/pseudo_label = 1, v2
#      trains on all 15 (K true, 15 - K pseudo); test DSC of v1, v2 and the full-label model;
#   4. labeling machine time per slice of `medtrain label threshold | backproject | grabcut`
#      (muscle, the boxes of docs/labeling.md) and of the model (`medtrain predict`, one process
#      per slice like the label commands), each on the test slices, with its muscle DSC;
#   5. `medtrain quantify` on the first test slice with the model's predicted class map and with
#      the reference masks (areas, HU, SMA T-scores; overlay PNG under $OUT/quant_pred).
# Then table.py prints: the per-class table, the IoU-bin table next to the paper's counts, v1 vs
# v2, the labeling-time table next to the paper's Table 2 (a person's time there, machine time here)
# and the quantification of the test slice.
#
# CPU-sized by default: SIZE=96 BASE=16 (1,940,868 parameters) STEPS=400 BATCH=4 LR=0.002 K=5,
# deterministic; every model gets the same number of optimizer steps (v1's 5 slices are seen
# more often), best.h5 by val DSC; about 3 minutes per model on 2 cores. TINY=1: seconds
# (SIZE=32 BASE=4 STEPS=2 K=3 TIME_SLICES=2), run by tests/test_s3_chain.c in `make test`.
# Stages whose outputs exist are skipped: delete $OUT (default runs/s3) to start again.
# Environment: BUILD (default build), OUT, THREADS (default 2), DEVICE (default cpu), the sizes.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
MT=$BUILD/medtrain
PY=/usr/bin/python3
OUT=${OUT:-runs/s3}
THREADS=${THREADS:-2}
DEVICE=${DEVICE:-cpu}
TINY=${TINY:-0}
if [ "$TINY" = 1 ]; then
  DEFAULTS="SIZE=32 BASE=4 STEPS=2 BATCH=4 LR=0.002 K=3 TIME_SLICES=2"
else
  DEFAULTS="SIZE=96 BASE=16 STEPS=400 BATCH=4 LR=0.002 K=5 TIME_SLICES=9"
fi
for kv in $DEFAULTS; do k=${kv%%=*}; [ -n "${!k:-}" ] || eval "$kv"; done
mkdir -p "$OUT"
OUT=$(realpath "$OUT")   # --set paths are resolved against the config file
make -s BUILD="$BUILD" "$MT"
S=data/samples/s1
CT=$S/example_ct_sm.nii.gz
for f in "$CT" $S/skeletal_muscle.nii.gz $S/subcutaneous_fat.nii.gz $S/torso_fat.nii.gz; do
  [ -f "$f" ] || { echo "run.sh: $f is missing (data/samples/s1)" >&2; exit 1; }
done
SET="--device $DEVICE --quiet --set train.threads=$THREADS --set data.num_workers=1 --set train.steps=$STEPS
     --set train.batch_size=$BATCH --set optimizer.lr=$LR --set model.params.base=$BASE"

# ---- 1. the dataset: three masks, one command --------------------------------------------------
DS=$OUT/s3_bodycomp_$SIZE.h5
[ -f "$DS" ] || $MT import --source nifti --input "$CT" --mask $S/skeletal_muscle.nii.gz \
  --mask $S/subcutaneous_fat.nii.gz --mask $S/torso_fat.nii.gz --mask_names muscle,sat,vat \
  --resize ${SIZE}x$SIZE --split_by sample --val_frac 0.2 --test_frac 0.3 --seed 0 \
  --description "S3 stand-in: TotalSegmentator example_ct_sm; masks skeletal_muscle, subcutaneous_fat, torso_fat (as VAT)" \
  --output "$DS" > /dev/null

# ---- 2. the full-label model, 3. v1 on K slices, pseudo labels, v2 --------------------------------
train() { # name dataset [extra --set ...]
  local R=$OUT/$1 D=$2
  shift 2
  if [ ! -f "$R/metrics.json" ]; then
    rm -rf "$R"
    $MT train configs/s3_body_composition.yaml --out "$R" $SET --set data.dataset="$D" "$@"
  fi
  [ -f "$R/eval_test.json" ] || $MT evaluate "$R" --device $DEVICE --overlays 3 > "$R/eval_test.txt"
}
train full "$DS"
train v1 "$DS" --set data.train_limit=$K
PL=$OUT/s3_pseudo_k$K.h5
[ -f "$PL" ] || $MT pseudo-label "$OUT/v1" --data "$DS" --labelled $K --out "$PL" --device $DEVICE > "$OUT/pseudo_label.txt"
train v2 "$PL"

# ---- 4. labeling machine time per slice -----------------------------------------------------------
# the test slices (sample index = axial slice index of the NIfTI: import adds them in order)
TEST_Z=$($PY -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
print(' '.join(str(i) for i, s in enumerate(f['meta/split'][...]) if s == b'test'))" "$DS")
ZS=$(echo $TEST_Z | tr ' ' '\n' | head -n $TIME_SLICES | tr '\n' ' ')
TIMES=$OUT/labeling_times.txt
rm -f "$TIMES"
mkdir -p "$OUT/label"
now() { date +%s.%N; }
for method in threshold backproject grabcut model; do
  case $method in
    threshold)   ARGS="--box 26,70,98,98 --hu muscle" ;;
    backproject) ARGS="--box 38,80,50,88 --region 26,70,98,98" ;;
    grabcut)     ARGS="--box 26,70,98,98 --hu muscle --margin 0 --iterations 1" ;;
  esac
  t0=$(now); n=0
  for z in $ZS; do
    if [ $method = model ]; then
      $MT predict "$OUT/full" "$CT" --slice $z --out "$OUT/label/model" --device $DEVICE > /dev/null
    else
      $MT label $method "$CT" --slice $z $ARGS --reference $S/skeletal_muscle.nii.gz \
        --output "$OUT/label/${method}_z$z.png" > "$OUT/label/${method}_z$z.txt"
    fi
    n=$((n + 1))
  done
  t1=$(now)
  echo "$method $n $t0 $t1" >> "$TIMES"
done

# ---- 5. quantify the first test slice: predicted class map and reference masks -------------------
Z=${TEST_Z%% *}
ZP=$(printf %03d $Z)
$MT predict "$OUT/full" "$CT" --slice $Z --out "$OUT/pred" --device $DEVICE > /dev/null
MAP=$OUT/pred/example_ct_sm_z${ZP}_classes.png
Q="--slice $Z --sex M --height 1.75 --weight 79"
$MT quantify "$CT" $Q --mask M=$MAP@1 --mask SAT=$MAP@2 --mask VAT=$MAP@3 --out "$OUT/quant_pred" > /dev/null
$MT quantify "$CT" $Q --mask M=$S/skeletal_muscle.nii.gz --mask SAT=$S/subcutaneous_fat.nii.gz \
  --mask VAT=$S/torso_fat.nii.gz --out "$OUT/quant_ref" > /dev/null

$PY experiments/s3_body_composition/table.py "$OUT" --k $K --settings \
  "SIZE=$SIZE BASE=$BASE STEPS=$STEPS BATCH=$BATCH LR=$LR K=$K THREADS=$THREADS DEVICE=$DEVICE"
