#!/usr/bin/env bash
# Writes into each shipped run's analyses/ what the analysis views show first, so that the shipped
# study opens at once instead of computing 36 analyses: the class selectivity over the first 2000
# test images (the Selectivity view's default) and 1000 (Compare's), and layer3.2's pruning curves
# by csi-desc and random (3 repeats) over 2000 (the Pruning view's defaults) and by csi-desc over
# 1000 (Compare's). The files are gex's own output, named as the application names its cache
# (selectivity-test-N.csv, pruning-BLOCK-ORDER-test-N.csv); a test recomputes one of each.
#
#   scripts/ship-analyses.sh          (about 3 minutes on 2 cores; make-default-runs.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
gex=${GEX:-build/bin/gex}
[ -x "$gex" ] || { echo "build first (./run.sh or ./test.sh)" >&2; exit 1; }
for run in resources/default-runs/*/*/seed-*/; do
  ckpt=$run/checkpoints/best.safetensors
  out=$run/analyses
  mkdir -p "$out"
  for limit in 2000 1000; do
    "$gex" selectivity --checkpoint "$ckpt" --limit $limit --out "$out/selectivity-test-$limit.csv" >/dev/null
    "$gex" prune --checkpoint "$ckpt" --limit $limit --layer layer3.2 --order csi-desc \
      --out "$out/pruning-layer3.2-csi-desc-test-$limit.csv" >/dev/null
  done
  "$gex" prune --checkpoint "$ckpt" --limit 2000 --layer layer3.2 --order random --repeats 3 \
    --out "$out/pruning-layer3.2-random-test-2000.csv" >/dev/null
  echo "$out"
done
