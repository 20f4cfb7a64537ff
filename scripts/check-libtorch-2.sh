#!/usr/bin/env bash
# Builds GE Explorer against Debian trixie's LibTorch 2.6 (CPU) and runs its tests there, on this
# Debian 12 machine whose own LibTorch is 1.13: the runtime side of "builds against LibTorch 2.x",
# which compiling alone (scripts/check-cuda-build.sh) cannot show — c10d's TCPStore and Gloo of
# 2.x, its kernels, its warnings. Trixie's LibTorch and its libraries (glibc 2.41 among them) are
# unpacked into WORK, nothing installed (about 180 MB of packages); the binaries are linked to run
# with trixie's loader and those libraries first, this machine's for the rest (OpenCV, Qt).
#
#   scripts/check-libtorch-2.sh [WORK] [CTEST ARGS…]   (default WORK /tmp/gex-libtorch-2; -R distributed …)
#
# Exit status: ctest's.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(realpath -m "${1:-/tmp/gex-libtorch-2}")
shift || true
root=$work/root
mkdir -p "$work/debs" "$root"
if [ ! -e "$work/unpacked" ]; then
  source "$src/scripts/trixie-apt.sh"
  trixie_apt "$work"
  : > "$work/status"  # (nothing installed: apt resolves every dependency, glibc included)
  apt_options=("${trixie_apt_options[@]}" -o Dir::State::status="$work/status" -o APT::Install-Recommends=false)
  apt-get "${apt_options[@]}" install --print-uris -y -qq libtorch-dev libgloo-dev libc6 libstdc++6 |
    grep "^'http" | cut -d"'" -f2 > "$work/uris.txt"
  (cd "$work/debs" && xargs -n 8 -P 4 wget -q -nc < "$work/uris.txt")
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
  # The C library's and the kernel's headers stay this machine's (its compiler's): only the
  # runtime libraries are trixie's.
  for deb in "$work"/debs/libc6-dev_*.deb "$work"/debs/linux-libc-dev_*.deb "$work"/debs/libcrypt-dev_*.deb \
             "$work"/debs/rpcsvc-proto_*.deb; do
    [ -e "$deb" ] || continue
    dpkg-deb -c "$deb" | awk '{print $6}' | grep -v '/$' | sed "s#^\./#$root/#" | xargs -r rm -f
  done
  touch "$work/unpacked"
fi

lib=$root/usr/lib/x86_64-linux-gnu
build=$work/build
cmake -S "$src" -B "$build" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$lib/cmake/Torch" \
  -DCMAKE_PREFIX_PATH="$root/usr" -Wno-dev \
  "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--dynamic-linker=$root/usr/lib64/ld-linux-x86-64.so.2 -Wl,--disable-new-dtags \
-Wl,-rpath,$lib:$lib/blas:$lib/lapack:$root/usr/lib -Wl,--allow-shlib-undefined" > "$work/cmake.log" 2>&1 ||
  { tail -30 "$work/cmake.log"; exit 1; }
grep "GE Explorer" "$work/cmake.log"
cmake --build "$build" -j "${JOBS:-$(nproc)}" > "$work/build.log" 2>&1 || { grep -B 2 -A 6 "error" "$work/build.log" | head -60; exit 1; }
"$build/bin/gex" --version
OMP_WAIT_POLICY=PASSIVE QT_QPA_PLATFORM=offscreen ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@"
