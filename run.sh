#!/usr/bin/env bash
# Install what is missing, build Release into build/, and start GE Explorer.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
gex_install_deps
gex_build

# The paper's ResNet-50 family (GE-SPEC §4): what the engine builds, and its counts.
echo "GE Explorer: the ResNet-50 models of the paper (ImageNet, 224×224)"
for args in "--attention none" "--attention se" "--attention ge --variant theta-minus" \
            "--attention ge --variant theta" "--attention ge --variant theta-plus"; do
  # shellcheck disable=SC2086
  build/bin/gex info --model resnet50 $args | head -3
done
echo
echo "The shipped study (resources/default-runs, ResNet-20 on Fashion-MNIST):"
for study in resources/default-runs/*/study.json; do
  build/bin/gex study --summary "$(dirname "$study")"
done
echo
echo "Command line: build/bin/gex --help    Application: build/bin/ge-explorer"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec build/bin/ge-explorer "$@"
else
  echo "No display here: run the application with QT_QPA_PLATFORM=offscreen (e.g. with --screenshot), or use gex."
fi
