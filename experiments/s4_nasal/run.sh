#!/usr/bin/env bash
# experiments/s4_nasal/run.sh: S4 end to end (../../../shared/design/papers.md S4) on the
# Hamedan cephalograms, every stage from its YAML (configs/s4_*.yaml), each stage's checkpoint
# feeding the next by path, then one table: paper vs medtrain vs a PyTorch peer of the same
# recipe on the same split (peer_torch.py).
#
#   1. import the 30 films at 512x512 with the nasal-bone box from landmarks (nasion l2,
#      subnasale l15), once per annotator; their boxes' IoU; a contact sheet of both boxes;
#   2. detector: YOLOv5s 1-channel 1-class (configs/s4_detector.yaml); test mAP@0.5, mean IoU;
#   3. crops: `medtrain crop`, landmark boxes for train/val, the detector's boxes for test;
#   4. synthetic fractures: `medtrain synth-fracture` at three strengths; C's test accuracy
#      at each; the benchmark is the strength whose accuracy lands nearest 85-95%;
#   5. C (configs/s4_classifier.yaml) on the benchmark over 3 seeds, medtrain and peer;
#   6. G-D (configs/s4_gd.yaml), G-D-C step 1 (s4_gdc1.yaml), step 2 (s4_gdc2.yaml);
#   7. localization on the test split's fracture crops: pointing game and IoU at the val
#      threshold for step 1, step 2, C's CAM and a random map; medtrain and peer.
#
# CPU-sized by default (the sizes below, printed with the table); the configs hold the study's
# settings for a GPU (SIZE=256 MARGIN=0 DET_SIZE=512 DET_BATCH=16 DET_LR=0.01 DET_EPOCHS=100 C_EPOCHS=2000
# C_BATCH=64 NGF=64 GD_EPOCHS=80 GDC1_EPOCHS=200 GDC2_EPOCHS=400 GAN_BATCH=32 VARIANTS=1 is the study's recipe
# on these films). The first of SEEDS also runs the strength calibration and the G-D-C chain.
# TINY=1: a minutes-long smoke version of the whole chain without the peer (make test runs it).
# Stages whose outputs exist are skipped: delete $OUT (default runs/s4) to start again.
# Environment: BUILD (default build), OUT, THREADS (default 2), and the sizes below.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
MT=$BUILD/medtrain
PY=/usr/bin/python3
OUT=${OUT:-runs/s4}
THREADS=${THREADS:-2}
DATA=../shared/data/hamedan_cephalometric
TINY=${TINY:-0}
if [ "$TINY" = 1 ]; then
  DEFAULTS="FILMS=64 DET_SIZE=64 DET_BATCH=4 DET_LR=1e-3 DET_EPOCHS=1 DET_WIDTH=0.0625 SIZE=32 MARGIN=-0.1 VARIANTS=2
            C_EPOCHS=1 C_BATCH=8 C_WIDTH=0.1 C_LR=1e-3 NGF=4 GD_EPOCHS=1 GDC1_EPOCHS=1 GDC2_EPOCHS=1 GAN_BATCH=8
            STRENGTHS=0.5 SEEDS=3 PEER=0"
else
  DEFAULTS="FILMS=512 DET_SIZE=256 DET_BATCH=4 DET_LR=1e-3 DET_EPOCHS=60 DET_WIDTH=0.50 SIZE=64 MARGIN=-0.1 VARIANTS=6
            C_EPOCHS=10 C_BATCH=16 C_WIDTH=1.2 C_LR=1e-3 NGF=16 GD_EPOCHS=10 GDC1_EPOCHS=10 GDC2_EPOCHS=10 GAN_BATCH=16
            STRENGTHS=0.5,0.75,1.0 SEEDS=3,1,2 PEER=1"
fi
for kv in $DEFAULTS; do k=${kv%%=*}; [ -n "${!k:-}" ] || eval "$kv"; done
NUM_DOWNS=$($PY -c "import math; print(int(math.log2($SIZE)))")
mkdir -p "$OUT"
OUT=$(realpath "$OUT")   # --set paths are resolved against the config file
make -s BUILD="$BUILD" "$MT"
T="--set train.threads=$THREADS --quiet"
[ "$TINY" = 1 ] && T="$T --set data.num_workers=1"

# ---- 1. films with the nasal-bone box, both annotators -------------------------------------
for ann in mollabashi farhadifar; do
  [ -f "$OUT/films_$ann.h5" ] && continue
  $MT import --source images --input $DATA/images --labelme_dir $DATA/annotations/$ann \
    --points l2,l15,l18 --box_points l2,l15 --box_offsets -0.15,-0.12,0.45,0.48 --scale 0,255 \
    --resize ${FILMS}x${FILMS} --val_frac 0.2 --test_frac 0.2 --seed 3 --output "$OUT/films_$ann.h5" > /dev/null
done
FILMS_H5=$OUT/films_mollabashi.h5
$PY experiments/s4_nasal/boxes.py "$OUT/films_mollabashi.h5" "$OUT/films_farhadifar.h5" "$OUT/annotator_boxes.png" \
  > "$OUT/annotator_iou.txt"

# ---- 2. detector ----------------------------------------------------------------------------
DET=$OUT/detector
if [ ! -f "$DET/metrics.json" ]; then
  rm -rf "$DET"
  $MT train configs/s4_detector.yaml --out "$DET" $T --set data.dataset="$FILMS_H5" \
    --set train.epochs=$DET_EPOCHS --set train.batch_size=$DET_BATCH --set "data.input_size=[$DET_SIZE,$DET_SIZE]" \
    --set optimizer.lr=$DET_LR --set model.params.img_size=$DET_SIZE --set model.params.width_multiple=$DET_WIDTH
fi

P=$OUT/peer_detector.json
if [ "$PEER" = 1 ] && [ ! -f "$P" ]; then
  $PY experiments/s4_nasal/peer_torch.py detector --data "$FILMS_H5" --config configs/s4_detector.yaml \
    --set train.epochs=$DET_EPOCHS --set train.batch_size=$DET_BATCH --set "data.input_size=[$DET_SIZE,$DET_SIZE]" \
    --set optimizer.lr=$DET_LR --set model.params.img_size=$DET_SIZE \
    --set model.params.width_multiple=$DET_WIDTH --seed 3 > "$P.tmp" && mv "$P.tmp" "$P"
fi

# ---- 3. crops: landmark boxes for train / val, the detector's for test ------------------------
CROPS=$OUT/crops.h5
[ -f "$CROPS" ] || $MT crop "$FILMS_H5" --out "$CROPS" --size $SIZE --margin $MARGIN --variants $VARIANTS --jitter 0.06 \
  --scale_jitter 0.1 --seed 3 --detector "$DET" --detector_splits test > "$OUT/crops.txt"

# ---- 4. synthetic fractures at three strengths; C's accuracy at each -------------------------
C_SET="--set train.epochs=$C_EPOCHS --set train.batch_size=$C_BATCH --set optimizer.lr=$C_LR
       --set model.params.size=$SIZE --set model.params.width=$C_WIDTH"
for s in ${STRENGTHS//,/ }; do
  B=$OUT/bench_s$s.h5
  [ -f "$B" ] || $MT synth-fracture "$CROPS" --out "$B" --strength $s --seed 3 --examples "$OUT/examples_s$s" \
    > "$OUT/bench_s$s.txt"
  R=$OUT/classifier_s${s}_seed${SEEDS%%,*}
  [ -f "$R/metrics.json" ] || { rm -rf "$R"; $MT train configs/s4_classifier.yaml --out "$R" $T $C_SET \
    --set data.dataset="$B" --set train.seed=${SEEDS%%,*}; }
done
STRENGTH=$($PY - "$OUT" ${SEEDS%%,*} ${STRENGTHS//,/ } <<'PYEOF'
import json, sys
out, seed, strengths = sys.argv[1], sys.argv[2], sys.argv[3:]
acc = {s: json.load(open(f"{out}/classifier_s{s}_seed{seed}/metrics.json"))["test"]["accuracy"] for s in strengths}
# inside 85-95% first (the nearer to 90% the better), else the nearest to that band
print(min(strengths, key=lambda s: (0 if 0.85 <= acc[s] <= 0.95 else 1, abs(acc[s] - 0.90))))
PYEOF
)
BENCH=$OUT/bench_s$STRENGTH.h5
echo "benchmark strength: $STRENGTH ($BENCH)"

# ---- 5. C over seeds, medtrain and peer --------------------------------------------------------
for seed in ${SEEDS//,/ }; do
  R=$OUT/classifier_s${STRENGTH}_seed$seed
  [ -f "$R/metrics.json" ] || { rm -rf "$R"; $MT train configs/s4_classifier.yaml --out "$R" $T $C_SET \
    --set data.dataset="$BENCH" --set train.seed=$seed; }
  P=$OUT/peer_classifier_seed$seed.json
  if [ "$PEER" = 1 ] && [ ! -f "$P" ]; then
    $PY experiments/s4_nasal/peer_torch.py classifier --data "$BENCH" --config configs/s4_classifier.yaml \
      $C_SET --seed $seed --save "$OUT/peer_classifier_seed$seed.pt" > "$P.tmp" && mv "$P.tmp" "$P"
  fi
done
C_RUN=$OUT/classifier_s${STRENGTH}_seed${SEEDS%%,*}
INIT="--set task.discriminator.init_from=$OUT/gd/best.h5 --set task.classifier.init_from=$C_RUN/best.h5"

# ---- 6. G-D, G-D-C step 1, step 2 ----------------------------------------------------------------
G_SET="--set model.params.img_size=$SIZE --set model.params.num_downs=$NUM_DOWNS --set model.params.ngf=$NGF
       --set train.batch_size=$GAN_BATCH --set data.dataset=$BENCH"
D_SET="--set task.discriminator.params.img_size=$SIZE --set task.discriminator.params.ndf=$NGF"
C_NET="--set task.classifier.params.size=$SIZE --set task.classifier.params.width=$C_WIDTH"
G1_SET="--set task.generator1.params.img_size=$SIZE --set task.generator1.params.num_downs=$NUM_DOWNS
        --set task.generator1.params.ngf=$NGF"
[ -f "$OUT/gd/metrics.json" ] || { rm -rf "$OUT/gd"; $MT train configs/s4_gd.yaml --out "$OUT/gd" $T $G_SET $D_SET \
  --set train.epochs=$GD_EPOCHS; }
[ -f "$OUT/gdc1/metrics.json" ] || { rm -rf "$OUT/gdc1"; $MT train configs/s4_gdc1.yaml --out "$OUT/gdc1" $T \
  $G_SET $D_SET $C_NET $INIT --set train.epochs=$GDC1_EPOCHS; }
[ -f "$OUT/gdc2/metrics.json" ] || { rm -rf "$OUT/gdc2"; $MT train configs/s4_gdc2.yaml --out "$OUT/gdc2" $T \
  $G_SET $D_SET $C_NET $G1_SET $INIT --set task.generator1.init_from=$OUT/gdc1/best.h5 \
  --set train.epochs=$GDC2_EPOCHS; }
P=$OUT/peer_gdc.json
if [ "$PEER" = 1 ] && [ ! -f "$P" ]; then
  $PY experiments/s4_nasal/peer_torch.py gdc --data "$BENCH" --config configs/s4_classifier.yaml \
    --gd configs/s4_gd.yaml --step1 configs/s4_gdc1.yaml --step2 configs/s4_gdc2.yaml ${C_SET//--set/--c_set} \
    $G_SET $D_SET $C_NET --gd_epochs $GD_EPOCHS --gdc1_epochs $GDC1_EPOCHS --gdc2_epochs $GDC2_EPOCHS \
    --c_state "$OUT/peer_classifier_seed${SEEDS%%,*}.pt" --seed ${SEEDS%%,*} > "$P.tmp" && mv "$P.tmp" "$P"
fi

# ---- 7. the table ----------------------------------------------------------------------------------
$PY experiments/s4_nasal/table.py "$OUT" "$STRENGTH" "${STRENGTHS}" "${SEEDS}" "$PEER" \
  "films ${FILMS}px; detector YOLOv5s (width ${DET_WIDTH}) at ${DET_SIZE}px, ${DET_EPOCHS} epochs, batch ${DET_BATCH}, Adam lr ${DET_LR} (the study's batch 16 and lr 0.01 on 18 films: 2 steps per epoch, unstable weights, batch-norm statistics that never settle, NaN validation loss); crops ${SIZE}px (margin ${MARGIN}) x ${VARIANTS} variants; C EfficientNet-B3 (width ${C_WIDTH}) ${C_EPOCHS} epochs, batch ${C_BATCH}, Adadelta lr ${C_LR}; G ngf ${NGF}, D ndf ${NGF}, num_downs ${NUM_DOWNS}; G-D ${GD_EPOCHS}, G-D-C ${GDC1_EPOCHS} + ${GDC2_EPOCHS} epochs, batch ${GAN_BATCH}" \
  | tee "$OUT/table.md"
