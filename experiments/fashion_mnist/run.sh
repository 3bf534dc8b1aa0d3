#!/usr/bin/env bash
# experiments/fashion_mnist/run.sh: the Fashion-MNIST recipe (README.md) in medtrain and in
# its PyTorch peer on the same split of the same dataset file, then both tables side by side.
#   1. import Debian's dataset-fashion-mnist (70,000 images) once into runs/data/fmnist.h5;
#   2. medtrain train experiments/fashion_mnist/fmnist.yaml (CPU);
#   3. peer_torch.py with the same recipe;
#   4. print test accuracy, macro precision / recall, AUC and training time of both.
# Usage: experiments/fashion_mnist/run.sh [extra `medtrain train` options, e.g. --set train.epochs=2]
# Environment: BUILD (default build), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
THREADS=${THREADS:-2}
MT=$BUILD/medtrain
PY=/usr/bin/python3
D=/usr/share/datasets/fashion-mnist
make -s BUILD="$BUILD" "$MT"
[ -f $D/train-images-idx3-ubyte.gz ] || { echo "run.sh: apt-get install dataset-fashion-mnist" >&2; exit 1; }
DS=runs/data/fmnist.h5
if [ ! -f $DS ]; then
  mkdir -p runs/data
  $MT import --source idx --input $D/train-images-idx3-ubyte.gz --idx_labels $D/train-labels-idx1-ubyte.gz \
    --test_input $D/t10k-images-idx3-ubyte.gz --test_labels $D/t10k-labels-idx1-ubyte.gz \
    --classes "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot" \
    --scale 0,255 --val_frac 0.1 --seed 0 --output $DS
fi
RUN=runs/fmnist-$(date -u +%Y%m%d-%H%M%S)
$MT train experiments/fashion_mnist/fmnist.yaml --out "$RUN" --set train.threads=$THREADS --quiet "$@"
PEER=$RUN/peer_torch.json
$PY experiments/fashion_mnist/peer_torch.py $DS --threads $THREADS --json "$PEER"
$PY - "$RUN/metrics.json" "$PEER" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
t = m["test"]; q = p["test"]
print("\n| engine | accuracy | macro precision | macro recall | OvR AUC | training s |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| medtrain | {t['accuracy']:.4f} | {t['precision']:.4f} | {t['recall']:.4f} | {t['auc']:.4f} | {m['train_seconds']:.0f} |")
print(f"| PyTorch {p['torch']} | {q['accuracy']:.4f} | {q['precision']:.4f} | {q['recall']:.4f} | {q['auc']:.4f} | {p['train_seconds']:.0f} |")
gap = abs(t['accuracy'] - q['accuracy']) * 100
print(f"\naccuracy gap {gap:.2f} points (the recipe asks for both >= 0.90 and a gap <= 0.5)")
PYEOF
