#!/usr/bin/env bash
# experiments/s1_muscle/run.sh: S1 end to end on the real stand-in.
#   1. import the 30 axial slices of TotalSegmentator's example CT (HU) with the
#      skeletal-muscle mask, resized to 96x96, split by slice (one patient);
#   2. train configs/s1_demo.yaml with medtrain (CPU, deterministic);
#   3. evaluate the test split before/after the [-29, 150] HU post-processing;
#   4. run the same recipe in PyTorch (peer_pytorch.py) on the same slices/split;
#   5. print medtrain's figures next to the peer's.
# Usage: experiments/s1_muscle/run.sh [extra `medtrain train` options, e.g. --set train.epochs=20]
# Environment: BUILD (default build), DEVICE (default cpu), MEDTRAIN_SHARED_DATA.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DEVICE=${DEVICE:-cpu}
MT=$BUILD/medtrain
PY=/usr/bin/python3
make -s BUILD="$BUILD" "$MT"

# The sample shipped in the repo (data/samples), else the shared stand-in folder.
CT=$(ls data/samples/*/example_ct_sm.nii.gz 2>/dev/null | head -n 1 || true)
if [ -n "$CT" ]; then
  MASK=$(ls "$(dirname "$CT")"/skeletal_muscle.nii.gz "$(dirname "$CT")"/*/skeletal_muscle.nii.gz 2>/dev/null | head -n 1 || true)
else
  SRC=${MEDTRAIN_SHARED_DATA:-../shared/data}/totalsegmentator_example_ct
  CT=$SRC/example_ct_sm.nii.gz
  MASK=$SRC/example_seg_tissue_types/skeletal_muscle.nii.gz
fi
[ -f "$CT" ] && [ -f "$MASK" ] || { echo "run.sh: S1 sample not found ($CT, $MASK)" >&2; exit 1; }

DS=runs/data/s1_muscle_96.h5
if [ ! -f "$DS" ]; then
  mkdir -p runs/data
  "$MT" import --source nifti --input "$CT" --mask "$MASK" --mask_names muscle --resize 96x96 \
    --split_by sample --val_frac 0.15 --test_frac 0.15 --seed 0 \
    --description "S1 stand-in: TotalSegmentator example_ct_sm, skeletal_muscle mask (model-made)" \
    --output "$DS"
fi

RUN=runs/s1_demo-$(date -u +%Y%m%d-%H%M%S)
"$MT" train configs/s1_demo.yaml --device "$DEVICE" --out "$RUN" "$@"
"$MT" evaluate "$RUN" --device "$DEVICE" --overlays 4
"$PY" experiments/s1_muscle/peer_pytorch.py "$RUN" --json "$RUN/peer_pytorch.json"

"$PY" - "$RUN" <<'EOF'
import json, sys
run = sys.argv[1]
mt = json.load(open(f"{run}/eval_test.json"))
pe = json.load(open(f"{run}/peer_pytorch.json"))
print()
print(f"S1 test split ({mt['n_images']} slices), mean +- SD over slices")
print(f"{'metric':<10} {'post':<5} {'medtrain':<18} {'PyTorch peer':<18} {'paper':<10}")
for stage in ("raw", "post"):
    for m in ("dsc", "iou", "accuracy"):
        a, b = mt[stage][m], pe[stage][m]
        print(f"{m:<10} {'yes' if stage == 'post' else 'no':<5} {a['mean']:.4f} +- {a['sd']:.4f}   "
              f"{b['mean']:.4f} +- {b['sd']:.4f}   n/a")
d = mt["post"]["dsc"]["mean"] - pe["post"]["dsc"]["mean"]
print(f"DSC difference medtrain - peer (post-processed): {d:+.4f} (goal: within 0.02)")
print("paper: the S1 paper's figures are for 512x512 L3 slices with manual masks, not this stand-in; not comparable")
EOF
