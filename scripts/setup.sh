# Shared by run.sh and test.sh: install the Debian packages GE Explorer needs (DESIGN §2) and
# build it into build/. Sourced, not run.

GEX_PACKAGES=(
  cmake g++ make ccache pkg-config dpkg-dev file
  libtorch-dev libopenblas0-pthread libgloo-dev
  qt6-base-dev qt6-svg-dev libqcustomplot-dev libqcustomplot2.1-qt6
  libopencv-dev libgtest-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  dataset-fashion-mnist
)

gex_install_deps() {
  local missing=()
  for p in "${GEX_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  else
    echo "GE Explorer needs these Debian packages; install them and run again:" >&2
    echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
}

gex_build() {
  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  if [ ! -f build/CMakeCache.txt ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >&2
  fi
  cmake --build build -j "$jobs" >&2
}
