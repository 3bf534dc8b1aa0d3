#!/usr/bin/env bash
# experiments/bench/bench_nets.sh: forward + backward time of every study
# network at its study input size on the CPU, medtrain (bench_nets.c) next to
# its PyTorch twin (bench_nets.py, experiments/twins/) in the same run,
# engines alternated, median of ROUNDS rounds (each itself the median of REPS
# steps). Prints a table with the ratio PyTorch ms / medtrain ms (> 1: medtrain
# faster) and appends it, with date, machine and load average, to RESULTS.md.
# Not a test. Usage: make bench-nets [ROUNDS=5 REPS=3 NETS="deconvnet unet_s5 ..."]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bench_nets}
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-5}
REPS=${REPS:-1}
MODE=${MODE:-train}
# name | graph | medtrain --set args | twin | twin params | H,W | channels | batch
TABLE=(
  "deconvnet|configs/models/deconvnet.yaml||deconvnet||150,150|1|2"
  "unet_s5|configs/models/unet_s5.yaml|dropout=0|unet|padding=valid,out_channels=2,tile=94,dropout=0|160,160|1|2"
  "efficientnet_b3|configs/models/efficientnet_b3.yaml|classes=1|efficientnet_b3|classes=1|256,256|3|2"
  "inception_resnet_v2|configs/models/inception_resnet_v2.yaml|classes=5|inception_resnet_v2|classes=5|299,299|3|2"
  "yolov5s|configs/models/yolov5s.yaml|in_channels=1,nc=1|yolov5s|in_channels=1,nc=1|512,512|1|2"
  "skip_ganomaly_g|configs/models/skip_ganomaly_g.yaml||skip_ganomaly_g||256,256|1|2"
  "skip_ganomaly_d|configs/models/skip_ganomaly_d.yaml||skip_ganomaly_d||256,256|1|2"
)
NETS=${NETS:-}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
get() { awk -v k="$1" '$1 == k":" {print $2}'; }
load=$(cut -d' ' -f1 /proc/loadavg)
cpu=$(lscpu 2>/dev/null | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
stamp=$(date -u '+%Y-%m-%d %H:%M UTC')
eval_flag=""; [ "$MODE" = eval ] && eval_flag="--eval"
out="| network | input | medtrain ms | PyTorch ms | ratio PyTorch/medtrain |"$'\n'"|---|---|---:|---:|---:|"
for row in "${TABLE[@]}"; do
  IFS='|' read -r name graph sets twin tparams size ch batch <<<"$row"
  [ -n "$NETS" ] && [[ " $NETS " != *" $name "* ]] && continue
  [ -f "$graph" ] || { echo "skip $name: $graph missing"; continue; }
  setargs=(); IFS=',' read -ra kv <<<"$sets"; for s in "${kv[@]}"; do [ -n "$s" ] && setargs+=(--set "$s"); done
  mt=(); pt=()
  for ((r = 0; r < ROUNDS; r++)); do
    mt+=("$("$BIN" "$graph" --size "$size" --batch "$batch" --reps "$REPS" --threads 2 $eval_flag "${setargs[@]}" | get ms_per_step)")
    pt+=("$("$PY" experiments/bench/bench_nets.py "$twin" --params "$tparams" --size "$size" --channels "$ch" --batch "$batch" --reps "$REPS" --threads 2 $eval_flag | get ms_per_step)")
  done
  m=$(printf '%s\n' "${mt[@]}" | median); p=$(printf '%s\n' "${pt[@]}" | median)
  line=$(awk -v n="$name" -v s="${batch}x${ch}x${size/,/x}" -v m="$m" -v p="$p" 'BEGIN {printf "| %s | %s | %.0f | %.0f | %.2f |", n, s, m, p, p / m}')
  echo "$line   (medtrain ${mt[*]}; PyTorch ${pt[*]})"
  out+=$'\n'"$line"
done
{
  echo
  echo "### $stamp: forward + backward ($MODE mode) per network, float32, 2 threads, median of $ROUNDS alternating rounds of $REPS steps"
  echo "Machine: $cpu, $(nproc) cores, load average $load at start; PyTorch $("$PY" -c 'import torch; print(torch.__version__)') with its twins in experiments/twins/."
  echo
  echo "$out"
} >> experiments/bench/RESULTS.md
echo "appended to experiments/bench/RESULTS.md"
