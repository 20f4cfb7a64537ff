#!/usr/bin/env bash
# Builds GE Explorer (Release, build/) and its Debian package: build/ge-explorer_<version>_amd64.deb.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
gex_install_deps
gex_build
(cd build && cpack -G DEB >&2)
ls build/ge-explorer_*.deb
