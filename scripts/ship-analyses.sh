#!/usr/bin/env bash
# Writes into each shipped run's analyses/best-step-S/ (S: its best checkpoint's step) what the
# analysis views show first, so that the shipped study opens at once instead of computing 36 analyses: the class selectivity over the first 2000
# test images (the Selectivity view's default) and 1000 (Compare's), and layer3.2's pruning curves
# by csi-desc and random (3 repeats) over 2000 (the Pruning view's defaults) and by csi-desc over
# 1000 (Compare's). `gex study --analyses` computes them at each run's best checkpoint and names
# them as the application names its cache (selectivity-test-N.csv, pruning-BLOCK-ORDER-test-N.csv);
# files already there are kept, so the script continues where it stopped. A test recomputes one of
# each kind with gex selectivity and gex prune.
#
#   scripts/ship-analyses.sh          (about 3 minutes on 2 cores; make-default-runs.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
gex=${GEX:-build/bin/gex}
[ -x "$gex" ] || { echo "build first (./run.sh or ./test.sh)" >&2; exit 1; }
for table in resources/default-runs/*/study.csv; do
  study=$(dirname "$table")
  "$gex" study --analyses "$study" --limit 2000 --layer layer3.2 --order csi-desc,random --repeats 3 >/dev/null
  "$gex" study --analyses "$study" --limit 1000 --layer layer3.2 --order csi-desc >/dev/null
  echo "$study"
done
