#!/usr/bin/env bash
# The Debian packages as a user gets them: cpack builds ge-explorer (the programs) and
# ge-explorer-data (the shipped runs, Architecture all) from this build tree, both are unpacked into
# a scratch root (never installed), and the programs run from there: `gex info`, and
# `ge-explorer --screenshot` with the shipped runs found beside the executable. The programs'
# Depends name what they need, the data package included, and no binary holds the source or build
# tree's path.
#   tests/packaging/package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "package test: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$scratch/cpack" >"$scratch/cpack.log" 2>&1) || { cat "$scratch/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$scratch"/cpack/ge-explorer_*_amd64.deb) || fail "no ge-explorer_*_amd64.deb"
data=$(ls "$scratch"/cpack/ge-explorer-data_*_all.deb) || fail "no ge-explorer-data_*_all.deb"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libqt6widgets6 libqt6gui6 libtorch libopencv-imgcodecs libqcustomplot libopenblas0-pthread \
           "ge-explorer-data (= $(dpkg-deb -f "$data" Version))"; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends does not name $lib"
done
[ "$(dpkg-deb -f "$data" Architecture)" = all ] || fail "ge-explorer-data is not Architecture: all"
# (listed first: grep -q stopping early would make dpkg-deb's SIGPIPE the pipeline's status)
data_files=$(dpkg-deb -c "$data")
program_files=$(dpkg-deb -c "$deb")
[[ "$data_files" == *"/share/ge-explorer/default-runs/"* ]] || fail "ge-explorer-data lacks the shipped runs"
[[ "$data_files" == *"/theta-minus/seed-3/analyses/best-step-4690/selectivity-test-2000.csv"* ]] || fail "ge-explorer-data lacks the shipped analyses"
[[ "$data_files" != *" ./usr/bin/"* ]] || fail "ge-explorer-data holds programs"
[[ "$program_files" != *"/share/ge-explorer/default-runs/"* ]] || fail "ge-explorer holds the shipped runs"

root="$scratch/root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -x "$data" "$root"
for f in "$root"/usr/bin/gex "$root"/usr/bin/ge-explorer; do
  [ -x "$f" ] || fail "$f missing"
  if grep -q -a -F -e "$source" -e "$build" "$f"; then fail "$(basename "$f") holds a build-tree path"; fi
done
[ -d "$root/usr/share/ge-explorer/default-runs" ] || fail "the shipped runs are not in the package"

info=$("$root/usr/bin/gex" info --model resnet20 --json)
[[ "$info" == *'"params":269722'* ]] || fail "gex info from the package: $info"

export QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$scratch/home" XDG_DATA_HOME="$scratch/home" XDG_CACHE_HOME="$scratch/home"
"$root/usr/bin/ge-explorer" --view curves --screenshot "$scratch/shot.png" 2>"$scratch/app.log" || { cat "$scratch/app.log" >&2; fail "ge-explorer from the package failed"; }
[ -s "$scratch/shot.png" ] || fail "no screenshot"
# The shipped runs were found: the screenshot came from a catalogue that listed them.
grep -q "no shipped runs" "$scratch/app.log" && fail "the shipped runs were not found"
echo "package test: $(basename "$deb") and $(basename "$data") unpack and run"
