#!/usr/bin/env bash
# Compiles the CUDA build of gex — engine, gex and bench_cuda_check, as bench/cuda.sh builds them
# on a GPU machine — on a machine with neither a GPU nor a CUDA LibTorch: against Debian trixie's
# LibTorch 2.6 built with CUDA and NCCL (libtorch-cuda-dev), CUDA 12.4's nvcc and headers
# (non-free) and NCCL's header, unpacked into WORK (about 7 GB, nothing installed). It catches
# what the CPU build cannot: the CUDA-only code (CUDA graphs, the GPUs' names, NCCL, the block
# tail's kernels through nvcc) and the LibTorch 2.x API. It links gex and bench_cuda_check against
# LibTorch's own libraries, so every LibTorch, CUDA and NCCL symbol they use is there (not exported
# by a library, it fails here rather than on the GPU machine); the binaries cannot run here (the
# libraries need trixie's newer glibc, whose symbols, as the libraries' own dependencies, the link
# leaves to the machine that runs them).
#
#   scripts/check-cuda-build.sh [WORK]     (default: /tmp/gex-cuda-check; re-runs reuse it)
#
# CMAKE_ARGS (environment) adds options to the configure step, e.g. -DGEX_CXX_STANDARD=20 to
# compile as a LibTorch of 2.12 or later has it compiled.
#
# Exit status 0 when every file compiles; the compiler's errors otherwise.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(realpath -m "${1:-/tmp/gex-cuda-check}")
root=$work/root     # the unpacked packages
cuda=$work/cuda     # a CUDA toolkit laid out as CMake expects it, made of links into $root
mkdir -p "$work/debs" "$root"

packages=(libtorch-cuda-dev libnccl-dev libgloo-dev nvidia-cuda-toolkit nvidia-cuda-dev libnvvm4 libcudart12
          libnvrtc12 libnvrtc-builtins12.4 libnvtoolsext1 libcublas12 libcublaslt12 libcufft11 libcurand10
          libcusparse12 libcusolver11 libnvjitlink12 libcu++-dev libtorch-cuda-2.6 libnccl2)
if [ ! -e "$work/unpacked-with-libraries" ]; then
  source "$src/scripts/trixie-apt.sh"
  trixie_apt "$work"
  (cd "$work/debs" && apt-get "${trixie_apt_options[@]}" download "${packages[@]}" >> "$work/apt.log" 2>&1)
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
  touch "$work/unpacked-with-libraries"
fi

# nvcc finds its tools and CMake the toolkit's root through nvcc.profile's TOP.
toolkit=$root/usr/lib/nvidia-cuda-toolkit
rm -rf "$cuda" && mkdir -p "$cuda/bin" "$cuda/nvvm"
for f in "$root"/usr/bin/* "$toolkit"/bin/*; do ln -sf "$f" "$cuda/bin/"; done
ln -s "$toolkit/libdevice" "$cuda/nvvm/libdevice"
ln -s "$root/usr/include" "$cuda/include"
ln -s "$root/usr/lib/x86_64-linux-gnu" "$cuda/lib64"
rm -f "$toolkit/bin/nvcc.profile"
cat > "$toolkit/bin/nvcc.profile" <<EOF
TOP = $cuda
NVVMIR_LIBRARY_DIR = $cuda/nvvm/libdevice
PATH += $cuda/bin:
INCLUDES += "-I$cuda/include" \$(_SPACE_)
LIBRARIES =+ \$(_SPACE_) -L$cuda/lib64/stubs -L$cuda/lib64
EOF
# The names LibTorch's CMake files give its libraries.
lib=$root/usr/lib/x86_64-linux-gnu
for name in c10 c10_cuda torch torch_cpu torch_cuda; do
  [ -s "$lib/lib$name.so.2.6.0" ] || { echo "LibTorch's lib$name.so.2.6.0 is missing from $lib"; exit 1; }
  ln -sf "lib$name.so.2.6.0" "$lib/lib$name.so"
  ln -sf "x86_64-linux-gnu/lib$name.so" "$root/usr/lib/lib$name.so"
done

build=$work/build
mkdir -p "$build"
CUDAHOSTCXX=${CUDAHOSTCXX:-g++} cmake -S "$src" -B "$build" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release -DGEX_BUILD_GUI=OFF \
  -DGEX_BUILD_TESTS=OFF -DGEX_UNITY_BUILD=OFF -DTorch_DIR="$lib/cmake/Torch" -DCMAKE_PREFIX_PATH="$root/usr" \
  -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" -DCUDA_TOOLKIT_ROOT_DIR="$cuda" -DCUDAToolkit_ROOT="$cuda" \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined -Wno-dev ${CMAKE_ARGS:-} \
  > "$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log"; exit 1; }
grep "GE Explorer" "$work/cmake.log"
grep -q "CUDA parts ON" "$work/cmake.log" || { echo "the CUDA parts are off (see $work/cmake.log)"; exit 1; }
# The engine, gex and bench_cuda_check, compiled and linked (-k: every compiler error at once).
rm -f "$build/bin/gex" "$build/bin/bench_cuda_check"
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target gex bench_cuda_check -- -k > "$work/build.log" 2>&1 || true
if grep -q "error:\|undefined reference" "$work/build.log"; then
  grep -B 2 -A 6 "error:\|undefined reference" "$work/build.log" | head -80
  echo "the CUDA build does not compile or link (see $work/build.log)"
  exit 1
fi
for binary in gex bench_cuda_check; do
  [ -x "$build/bin/$binary" ] || { echo "$binary was not linked (see $work/build.log)"; exit 1; }
done
[ -f "$build/engine/CMakeFiles/gex_engine.dir/models/tail_kernels.cu.o" ] ||
  { echo "the fused nodes' CUDA kernels were not compiled (see $work/cmake.log)"; exit 1; }
objects=$(find "$build" -name '*.o' | wc -l)
echo "the CUDA build compiles and links: $objects object files, gex and bench_cuda_check against LibTorch 2.6 + CUDA 12.4 + NCCL"
