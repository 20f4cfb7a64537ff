#!/usr/bin/env bash
# Builds GE Explorer (Release, build/) and its Debian packages: build/ge-explorer_<version>_amd64.deb
# (the programs) and build/ge-explorer-data_<version>_all.deb (the shipped runs and samples).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
gex_install_deps
gex_build
(cd build && cpack -G DEB >&2)
ls build/ge-explorer_*_amd64.deb build/ge-explorer-data_*_all.deb
