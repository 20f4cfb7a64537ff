#!/usr/bin/env bash
# Builds the libFuzzer targets of the file readers (fuzz/, clang with ASan and UBSan) and runs each
# for SECONDS (default 60), two at a time, from the seeds in fuzz/seeds/. Inputs that crash land in
# build-fuzz/findings/<target>/; copy them to tests/data/fuzz/<target>/ once fixed, where the test
# suite replays them (FuzzRegressions).
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: safetensors npy idx cifar image run_json metrics_csv pickle
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors npy idx cifar image run_json metrics_csv pickle)

source scripts/setup.sh
GEX_PACKAGES+=(clang libclang-rt-14-dev)
gex_install_deps

cmake --preset fuzz >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

summary=build-fuzz/findings/summary.txt
mkdir -p build-fuzz/findings
: > "$summary"
run_target() {
  local t=$1 corpus=build-fuzz/corpus/$1 findings=build-fuzz/findings/$1
  mkdir -p "$corpus" "$findings"
  cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  local log=build-fuzz/findings/$t.log status=0 stamp
  stamp=$(mktemp)  # findings of this run only: earlier ones stay where they are
  build-fuzz/bin/fuzz_"$t" "$corpus" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  local runs crashes
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  crashes=$(find "$findings" -type f -newer "$stamp" | wc -l)
  rm -f "$stamp"
  echo "$t: $runs executions in ${seconds}s, $crashes crash(es), exit $status" | tee -a "$summary"
}
pids=()
for t in "${targets[@]}"; do
  run_target "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait
echo "Findings (if any) in build-fuzz/findings/; logs beside them."
! grep -q "[1-9][0-9]* crash" "$summary"
