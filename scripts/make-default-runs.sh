#!/usr/bin/env bash
# Trains the study GE Explorer ships and opens with: ResNet-20 on Fashion-MNIST as the baseline,
# GE-θ⁻ (global), GE-θ (extent 4: gates that vary over the image) and GE-θ⁺ (global), seeds 1–3,
# 10 epochs, batch 128, lr 0.1 cosine, a probe every epoch with layer3.2's pruning curve. Then
# copies into resources/default-runs/resnet20-fashion-mnist-study/ the plan, the table, and each
# run's run.json, metrics.csv and best checkpoint, and the probes of the seed-1 runs (the probes
# of all twelve would be ~300 MB on disk: the gates of 10 images at the feature maps' size), and
# the analyses the views open with (scripts/ship-analyses.sh).
#
#   scripts/make-default-runs.sh [WORK]     (WORK: where the study trains, default ./default-study-work;
#                                            about 8 h on 2 cores; run again, it continues)
#   SEEDS=1 scripts/make-default-runs.sh …  (fewer seeds: what is finished so far, while the rest trains)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-default-study-work}
gex=${GEX:-build/bin/gex}
[ -x "$gex" ] || { echo "build first (./run.sh or ./test.sh)" >&2; exit 1; }
"$gex" study --data fashion-mnist --model resnet20 --variants baseline,theta-minus,theta:4,theta-plus --seeds "${SEEDS:-3}" \
  --epochs 10 --batch 128 --lr 0.1 --schedule cosine --probe-prune layer3.2 --keep-checkpoints none --out "$work"

out=resources/default-runs/resnet20-fashion-mnist-study
staged=$(mktemp -d resources/default-runs/.staged-XXXXXX)
trap 'rm -rf "$staged"' EXIT
cp "$work/study.json" "$work/study.csv" "$staged/"
for run in "$work"/*/seed-*/; do
  rel=${run#"$work"/}
  mkdir -p "$staged/$rel/checkpoints"
  cp "$run/run.json" "$run/metrics.csv" "$staged/$rel/"
  cp "$run/checkpoints/best.safetensors" "$staged/$rel/checkpoints/"
  case $rel in */seed-1/) cp -r "$run/probes" "$staged/$rel/" ;; esac
done
# The shipped runs are the repository's, not a user's: the old set is replaced, through git.
rm -rf resources/default-runs/resnet20-*
mv "$staged" "$out"
trap - EXIT
GEX="$gex" scripts/ship-analyses.sh  # what the analysis views open with, so that they need not compute it
"$gex" study --summary "$out"
