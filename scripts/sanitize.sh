#!/usr/bin/env bash
# AddressSanitizer + UBSan: the `asan` preset builds the engine, gex and their tests with the
# sanitizers, then runs the engine and CLI test suites; any report fails the run. With --gui, the
# `asan-gui` preset builds the application and its tests too and runs the UI suite (leaks left out
# there: Qt, fontconfig and the platform plugins keep what they allocate until exit).
#   scripts/sanitize.sh [--gui] [ctest args, e.g. -R trainer]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
gex_install_deps

GUI=0
if [ "${1:-}" = "--gui" ]; then GUI=1; shift; fi
# Reports abort the process (so the test fails) and carry a stack; LibTorch's and libgomp's
# process-lifetime allocations (thread pools, operator registries) are not leaks of ours.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=$((1 - GUI)):strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
if [ "$GUI" = 1 ]; then
  cmake --preset asan-gui >/dev/null
  cmake --build build-asan-gui -j "$(nproc)" --target gex ge-explorer gex_ui_tests
  ctest --test-dir build-asan-gui --output-on-failure -j "$(nproc)" -R 'gex_ui_tests' "$@"
else
  cmake --preset asan >/dev/null
  cmake --build build-asan -j "$(nproc)" --target gex gex_engine_tests gex_cli_tests
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -R 'gex_engine_tests|gex_cli_tests' "$@"
fi
echo "No AddressSanitizer or UBSan report."
