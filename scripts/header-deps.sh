#!/usr/bin/env bash
# Copies the header-only libraries the engine and gex build against (nlohmann-json, CLI11) and
# zlib's headers from this Debian machine into DIR, a prefix for a machine that lacks them (a GPU
# node with only PyTorch): there, GEX_DEPS=DIR bench/cuda.sh, or -DCMAKE_PREFIX_PATH="…;DIR".
# .deps in the checkout is ignored by git.
#
#   scripts/header-deps.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/header-deps.sh DIR}
mkdir -p "$dir/include" "$dir/share/cmake"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/zlib.h /usr/include/zconf.h "$dir/include/"
cp -r /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$dir/share/cmake/"
du -sh "$dir"
