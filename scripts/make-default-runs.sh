#!/usr/bin/env bash
# Trains the runs GE Explorer ships and opens with (resources/default-runs/): ResNet-20 baseline,
# GE-θ⁻ (global), GE-θ⁺ (global) and GE-θ (extent 4) on Fashion-MNIST, one short schedule, the same seed.
# Keeps run.json, metrics.csv and the best checkpoint of each.
#
#   scripts/make-default-runs.sh [EPOCHS]      (default 2; a few minutes a run on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-2}
gex=${GEX:-build/bin/gex}
[ -x "$gex" ] || { echo "build first (./run.sh or ./test.sh)" >&2; exit 1; }
out=resources/default-runs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

train() {
  local name=$1; shift
  echo "== $name" >&2
  "$gex" train --data fashion-mnist --model resnet20 "$@" --epochs "$epochs" --batch 128 --lr 0.1 \
    --schedule cosine --seed 1 --out "$work/$name" --json > "$work/$name.json"
  mkdir -p "$out/$name/checkpoints"
  cp "$work/$name/run.json" "$work/$name/metrics.csv" "$out/$name/"
  cp "$work/$name/checkpoints/best.safetensors" "$out/$name/checkpoints/"
  cat "$work/$name.json"
}

rm -rf "$out"
train resnet20-baseline --attention none
train resnet20-ge-theta-minus --attention ge --variant theta-minus --extent global
train resnet20-ge-theta-plus --attention ge --variant theta-plus --extent global
# A local extent, so the Gates view has gates that vary over the image.
train resnet20-ge-theta-e4 --attention ge --variant theta --extent 4
echo "wrote $out" >&2
