# Sourced by the scripts that unpack Debian trixie's packages into a folder of their own, nothing
# installed (check-cuda-build.sh, check-libtorch-2.sh): `trixie_apt WORK` writes trixie's sources
# under WORK/apt, sets `trixie_apt_options` (apt-get's options for them, this machine's lists and
# cache untouched) and reads the package lists.
trixie_apt() {
  local work=$1
  mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
  cat > "$work/apt/trixie.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  trixie_apt_options=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/apt"
                      -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache")
  apt-get "${trixie_apt_options[@]}" update > "$work/apt.log"
}
