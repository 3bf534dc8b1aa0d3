#!/usr/bin/env bash
# experiments/s5_breast_mass/run.sh: S5 end to end (../../../shared/design/papers.md S5) on the
# mini-MIAS mass films: DeconvNet and the valid U-Net, medtrain and a PyTorch peer of the same
# recipe on the same split (peer_torch.py), over SEEDS, then one table (table.py).
#
#   1. import the 44 films (circle labels, origin bottom-left), 8-bit scaled to [0, 1], split by
#      woman (mdb(2k-1) and mdb(2k) share a patient id, so a split), val 0.1, test 0.25, seed 4;
#   2. crops (`medtrain crop`, margin 0.1 = the study's ROI plus about 10%): the study's centred
#      crop (one per film: every circle becomes the same centred disc, a degenerate protocol) and
#      the jittered benchmark (every crop's centre moved by U(-0.2, 0.2) x side, side x U(0.8, 1.2),
#      seed 5; VARIANTS crops per training film, one per val / test film);
#   3. DeconvNet (configs/s5_deconvnet.yaml: SGD momentum 0.9, batch 8) and U-Net
#      (configs/s5_unet.yaml: Adam, batch 4, overlap-tile) per seed: `medtrain train`, then
#      `medtrain evaluate` (eval_test_images.csv, bland_altman_test.png); the peer beside it;
#   4. table.py: paper vs medtrain vs peer (mean +- seed SD; mean / min / max over test images)
#      and the constant-disc baseline on both crop protocols.
#
# CPU-sized by default (printed with the table): 64 px crops; DeconvNet width 0.125 (channels
# 8..64), fc 256, DC_STEPS steps; U-Net base 8, depth 3, tile 46 (64 -> 156 -> 68 -> 64),
# UN_STEPS steps (the study's 400 and 300); medtrain and the peer on identical settings, one thread each, side by side.
# The study's settings for a GPU: DC_SIZE=150 UN_SIZE=160 DC_WIDTH=1 DC_FC=4096 DC_FC_KERNEL=5
# DC_STEPS=400 UN_BASE=64 UN_DEPTH=4 UN_TILE=94 UN_STEPS=300 (the configs as they are).
# TINY=1: a seconds-long smoke version (32 px, a few steps, one seed, no peer; make test runs it).
# Stages whose outputs exist are skipped: delete $OUT (default runs/s5) to start again.
# Environment: BUILD (default build), OUT, THREADS (default 1), and the sizes below.
set -euo pipefail
cd "$(dirname "$0")/../.."
# BUILD given (make test's chain test, a sanitizer build): its medtrain is used as it is
[ -n "${BUILD:-}" ] && REMAKE=0 || REMAKE=1
BUILD=${BUILD:-build}
MT=$BUILD/medtrain
PY=/usr/bin/python3
OUT=${OUT:-runs/s5}
THREADS=${THREADS:-1}
DATA=../shared/data/mini_mias_masses
TINY=${TINY:-0}
if [ "$TINY" = 1 ]; then
  DEFAULTS="DC_SIZE=32 UN_SIZE=32 VARIANTS=2 DC_WIDTH=0.0625 DC_FC=32 DC_FC_KERNEL=1 DC_STEPS=3
            UN_BASE=4 UN_DEPTH=2 UN_TILE=20 UN_STEPS=3 SEEDS=1 PEER=0"
else
  DEFAULTS="DC_SIZE=64 UN_SIZE=64 VARIANTS=16 DC_WIDTH=0.125 DC_FC=256 DC_FC_KERNEL=2 DC_STEPS=400
            UN_BASE=8 UN_DEPTH=3 UN_TILE=46 UN_STEPS=300 SEEDS=1,2,3 PEER=1"
fi
for kv in $DEFAULTS; do k=${kv%%=*}; [ -n "${!k:-}" ] || eval "$kv"; done
mkdir -p "$OUT"
OUT=$(realpath "$OUT")   # --set paths are resolved against the config file
[ "$REMAKE" = 0 ] || make -s BUILD="$BUILD" "$MT"
[ -x "$MT" ] || { echo "run.sh: no medtrain at $MT (make BUILD=$BUILD $MT)" >&2; exit 1; }
T="--set train.threads=$THREADS --set data.num_workers=1 --set train.deterministic=false --quiet"

# ---- 1. films, split by woman ---------------------------------------------------------------
FILMS=$OUT/films.h5
[ -f "$FILMS" ] || $MT import --source images --input "$DATA/images/*.pgm" --mias_info $DATA/Info.txt \
  --scale 0,255 --val_frac 0.1 --test_frac 0.25 --seed 4 --output "$FILMS" > "$OUT/import.txt"

# ---- 2. crops: the study's centred crop and the jittered benchmark, at each net's size ----------
for size in $(echo "$DC_SIZE $UN_SIZE" | tr ' ' '\n' | sort -u); do
  [ -f "$OUT/centred_$size.h5" ] || $MT crop "$FILMS" --out "$OUT/centred_$size.h5" --size $size --margin 0.1 \
    > "$OUT/centred_$size.txt"
  [ -f "$OUT/jitter_$size.h5" ] || $MT crop "$FILMS" --out "$OUT/jitter_$size.h5" --size $size --margin 0.1 \
    --variants $VARIANTS --jitter 0.2 --scale_jitter 0.2 --seed 5 --jitter_all 1 --variant_splits train \
    > "$OUT/jitter_$size.txt"
done

# ---- 3. both nets per seed: medtrain (train + evaluate) and the peer side by side ---------------
DC_SET="--set data.dataset=$OUT/jitter_$DC_SIZE.h5 --set data.input_size=[$DC_SIZE,$DC_SIZE]
        --set model.params.width=$DC_WIDTH --set model.params.fc_channels=$DC_FC
        --set model.params.fc_kernel=$DC_FC_KERNEL --set train.steps=$DC_STEPS"
UN_SET="--set data.dataset=$OUT/jitter_$UN_SIZE.h5 --set data.input_size=[$UN_SIZE,$UN_SIZE]
        --set model.params.base=$UN_BASE --set model.params.depth=$UN_DEPTH --set model.params.tile=$UN_TILE
        --set train.steps=$UN_STEPS"
# unet_s5.yaml fixes the 160 input; other sizes use its base, configs/models/unet.yaml, with the same params
[ "$UN_SIZE" = 160 ] || UN_SET="$UN_SET --set model.graph=$(realpath configs/models/unet.yaml)
        --set model.params.padding=valid --set model.params.out_channels=2"
for seed in ${SEEDS//,/ }; do
  for net in deconvnet unet; do
    if [ $net = deconvnet ]; then SET=$DC_SET; else SET=$UN_SET; fi
    P=$OUT/peer_${net}_seed$seed.json
    PEER_PID=
    if [ "$PEER" = 1 ] && [ ! -f "$P" ]; then
      $PY experiments/s5_breast_mass/peer_torch.py --net $net --config configs/s5_$net.yaml $SET --seed $seed \
        --threads 1 > "$P.tmp" && mv "$P.tmp" "$P" &
      PEER_PID=$!
    fi
    R=$OUT/${net}_seed$seed
    if [ ! -f "$R/eval_test_images.csv" ]; then
      rm -rf "$R"
      $MT train configs/s5_$net.yaml --out "$R" $T $SET --set train.seed=$seed > "$R.log" 2>&1 ||
        { cat "$R.log"; exit 1; }
      $MT evaluate "$R" --overlays 4 > "$R.eval.txt" 2>&1 || { cat "$R.eval.txt"; exit 1; }
    fi
    [ -z "$PEER_PID" ] || wait $PEER_PID
  done
done

# ---- 4. the table ---------------------------------------------------------------------------------
$PY experiments/s5_breast_mass/table.py "$OUT" "$SEEDS" "$PEER" "$DC_SIZE" "$UN_SIZE" \
  "crops ${DC_SIZE} px (DeconvNet) / ${UN_SIZE} px (U-Net), margin 0.1, ${VARIANTS} jittered crops per training film; DeconvNet width ${DC_WIDTH}, fc ${DC_FC} (kernel ${DC_FC_KERNEL}), ${DC_STEPS} steps, batch 8, SGD lr 0.01 momentum 0.9; U-Net base ${UN_BASE}, depth ${UN_DEPTH}, tile ${UN_TILE}, ${UN_STEPS} steps, batch 4, Adam lr 1e-4; ${THREADS} thread(s) each" \
  | tee "$OUT/table.md"
