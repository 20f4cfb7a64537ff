#!/usr/bin/env bash
# The CUDA path's checks and figures in one go, for a machine with an NVIDIA GPU and PyTorch built
# with CUDA (CPU-only CI cannot run them). It builds gex against PyTorch's own LibTorch, checks it
# (attention modules against the CPU, a graph-replayed run against eager runs, the loss falling as
# on the CPU, data-parallel on the GPU), then times `gex train` against PyTorch eager on the same
# GPU (bench/pytorch_cuda.py), the two interleaved. About 6–8 minutes on 16 cores and an H200.
#
#   bench/cuda.sh [OUT]     logs, runs and summary.txt under OUT (default: bench-cuda-out)
#
# STAGES (environment, default "checks figures") picks what runs after the build, which is quick
# once build-cuda/ holds it: where one call cannot hold it all, `STAGES=checks` first, then
# `STAGES=figures` on the same machine.
#
# Environment: PYTHON (default python3: the one with torch), GEX_DEPS (a prefix holding headers the
# machine lacks: include/{nlohmann,CLI,zlib.h}, share/cmake/{nlohmann_json,CLI11}; Debian's copies
# fit), JOBS (default: cores). Exit status: 0 when every check passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-${OUT:-bench-cuda-out}}")
mkdir -p "$OUT"
PY=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc)}
export PYTHONUNBUFFERED=1
# c10d's and NCCL's warnings in the logs (gex shows errors only by default): one run to learn from.
export TORCH_CPP_LOG_LEVEL=${TORCH_CPP_LOG_LEVEL:-WARNING}
STAGES=${STAGES:-checks figures}
want() { [[ " $STAGES " == *" $1 "* ]]; }
FAILED=0
T0=$(date +%s)
say() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*" | tee -a "$OUT/summary.txt"; }
check() {  # check NAME CONDITION-TEXT (a Python expression over j, the JSON on stdin)
  local name=$1 cond=$2 json
  json=$(cat)
  if "$PY" -c "import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if ($cond) else 1)" "$json"; then
    say "PASS $name: $json"
  else
    say "FAIL $name: $json"
    FAILED=1
  fi
}

say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)"
say "torch: $("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda)')"

# --- Build --------------------------------------------------------------------------------------
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
TORCH_INCLUDE=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
GLOO=ON
[ -f "$TORCH_INCLUDE/gloo/algorithm.h" ] || [ -f /usr/include/gloo/algorithm.h ] || GLOO=OFF
PREFIX=$TORCH_PREFIX
CMAKE_EXTRA=()
if [ -n "${GEX_DEPS:-}" ]; then
  DEPS=$(realpath "$GEX_DEPS")
  PREFIX="$PREFIX;$DEPS"
  if [ ! -f /usr/include/zlib.h ] && [ -f "$DEPS/include/zlib.h" ]; then
    LIBZ=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
    CMAKE_EXTRA+=(-DZLIB_INCLUDE_DIR="$DEPS/include" -DZLIB_LIBRARY="$LIBZ")
  fi
fi
GENERATOR=()
command -v ninja > /dev/null && GENERATOR=(-G Ninja)
say "configure (Gloo $GLOO)"
if ! cmake -S . -B build-cuda "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DGEX_BUILD_GUI=OFF -DGEX_WITH_OPENCV=OFF \
    -DGEX_BUILD_TESTS=OFF -DGEX_WITH_GLOO=$GLOO -DCMAKE_PREFIX_PATH="$PREFIX" "${CMAKE_EXTRA[@]}" \
    > "$OUT/cmake.log" 2>&1; then
  tail -40 "$OUT/cmake.log"
  say "FAIL configure (see cmake.log)"
  exit 1
fi
grep -q "CUDA parts ON" "$OUT/cmake.log" || say "FAIL this LibTorch has no CUDA parts (see cmake.log)"
say "$(grep -m 1 -o "data-parallel collectives.*" "$OUT/cmake.log")"
say "build"
if ! cmake --build build-cuda -j "$JOBS" --target gex > "$OUT/build.log" 2>&1; then
  grep -m 30 -B 2 -A 8 "error" "$OUT/build.log"
  say "FAIL build (see build.log)"
  exit 1
fi
CHECKER=build-cuda/bin/bench_cuda_check
cmake --build build-cuda -j "$JOBS" --target bench_cuda_check >> "$OUT/build.log" 2>&1 ||
  { grep -m 10 -A 8 "error" "$OUT/build.log"; say "FAIL building bench_cuda_check"; FAILED=1; CHECKER=false; }
GEX=build-cuda/bin/gex
"$GEX" --version 2>&1 | sed 's/^/    /' | tee -a "$OUT/summary.txt"  # what the build has and sees

# --- Checks -------------------------------------------------------------------------------------
if want checks; then
RUNS=$OUT/runs  # (each stage's own runs, made afresh: the bench's, not the user's)
rm -rf "$RUNS" && mkdir -p "$RUNS"
say "attention modules on CUDA against the CPU (fp32, TF32 off)"
"$CHECKER" modules > "$OUT/modules.jsonl" 2>&1 || FAILED=1
cat "$OUT/modules.jsonl" | tee -a "$OUT/summary.txt"

# The same 40 steps three times: eagerly twice (their difference is cuDNN's own non-determinism)
# and as a CUDA graph, fp32. The graph reads the learning rate from a tensor (one rounding apart
# per step), so its weights may drift from the eager ones by more than the eager runs do, but
# within 1e-3 of the largest weight after 40 steps; a lost or repeated step is far beyond it (one
# step more moves them by 2.5e-2 on the CPU).
SMALL=(--data synthetic --input-size 16 --attention ge --batch 32 --steps 40 --lr 0.05 --schedule constant --seed 1 --amp off
       --eval-every 40 --eval-limit 200 --no-probes --log-every 10)
for run in eager-a eager-b; do
  "$GEX" train "${SMALL[@]}" --device cuda --cuda-graph off --out "$RUNS/$run" > "$RUNS/$run.log" 2>&1 ||
    say "FAIL gex train $run (see runs/$run.log)"
done
"$GEX" train "${SMALL[@]}" --device cuda --cuda-graph on --out "$RUNS/graph" > "$RUNS/graph.log" 2>&1 ||
  say "FAIL gex train graph (see runs/graph.log)"
grep -q "is a CUDA graph from step" "$RUNS/graph.log" && say "PASS the graph run replayed a captured step" ||
  { say "FAIL the graph run never replayed a captured step"; FAILED=1; cat "$RUNS/graph.log"; }
"$CHECKER" compare "$RUNS/eager-a/checkpoints/last.safetensors" \
  "$RUNS/eager-b/checkpoints/last.safetensors" "$RUNS/graph/checkpoints/last.safetensors" |
  check "graph-replayed weights = eager weights to float rounding" \
    "j['c']['difference'] <= max(10 * j['b']['difference'], 1e-3)"
"$GEX" train "${SMALL[@]}" --device cpu --threads "$JOBS" --out "$RUNS/cpu" > "$RUNS/cpu.log" 2>&1 ||
  say "FAIL gex train cpu (see runs/cpu.log)"
{ "$PY" bench/cuda_figures.py loss "$RUNS/cpu"; "$PY" bench/cuda_figures.py loss "$RUNS/graph"; } |
  "$PY" -c 'import json,sys; c,g=[json.loads(l) for l in sys.stdin]; print(json.dumps({"cpu": c, "cuda_graph": g}))' |
  check "the loss falls on CUDA as on the CPU" \
    "j['cuda_graph']['last_loss'] < 0.8 * j['cuda_graph']['first_loss'] and abs(j['cuda_graph']['val_top1_error'] - j['cpu']['val_top1_error']) <= 0.15"
# bf16 autocast, CUDA's default, with and without the graph: the casts of the weights are kernels of
# the graph, so a replay must see each step's new weights (a cast kept from the capture would
# train the float weights on a frozen bf16 copy, and the loss would not fall as eagerly).
for graph in off on; do  # (SMALL's one "off" is its --amp)
  "$GEX" train "${SMALL[@]/#off/on}" --device cuda --cuda-graph $graph --out "$RUNS/bf16-graph-$graph" \
    > "$RUNS/bf16-graph-$graph.log" 2>&1 || say "FAIL gex train bf16-graph-$graph (see runs/bf16-graph-$graph.log)"
done
grep -q "is a CUDA graph from step" "$RUNS/bf16-graph-on.log" ||
  { say "FAIL the bf16 graph run never replayed a captured step"; FAILED=1; }
{ "$PY" bench/cuda_figures.py loss "$RUNS/cpu"; "$PY" bench/cuda_figures.py loss "$RUNS/bf16-graph-off"
  "$PY" bench/cuda_figures.py loss "$RUNS/bf16-graph-on"; } |
  "$PY" -c 'import json,sys; c,e,g=[json.loads(l) for l in sys.stdin]; print(json.dumps({"cpu": c, "bf16_eager": e, "bf16_graph": g}))' |
  check "bf16 on CUDA, eager and as a graph: the loss falls as on the CPU" \
    "all(j[k]['last_loss'] < 0.8 * j[k]['first_loss'] and abs(j[k]['val_top1_error'] - j['cpu']['val_top1_error']) <= 0.15 for k in ('bf16_eager', 'bf16_graph')) and abs(j['bf16_graph']['last_loss'] - j['bf16_eager']['last_loss']) <= 0.25 * j['bf16_eager']['last_loss'] + 0.05"
# Evaluation, class selectivity and pruning (their forward passes graphed on CUDA) against the CPU,
# to the rounding of cuDNN's TF32 convolutions (PyTorch's default for fp32 on CUDA). Batches of 50
# make ten full batches of the 500 test images: a warm-up, a capture, then replays (pruning's one
# graph serves every ratio, its masks rewritten in place).
CKPT=$RUNS/graph/checkpoints/last.safetensors
{ "$GEX" eval --checkpoint "$CKPT" --data synthetic --batch 50 --device cpu --json 2> /dev/null
  "$GEX" eval --checkpoint "$CKPT" --data synthetic --batch 50 --device cuda --json 2> "$RUNS/eval.log"; } |
  "$PY" -c 'import json,sys; c,g=[json.loads(l) for l in sys.stdin]; print(json.dumps({"cpu": c, "cuda": g}))' |
  check "gex eval on CUDA = on the CPU" \
    "abs(j['cuda']['loss'] - j['cpu']['loss']) <= 1e-2 * j['cpu']['loss'] and abs(j['cuda']['top1_error'] - j['cpu']['top1_error']) <= 0.01"
for dev in cpu cuda; do
  "$GEX" selectivity --checkpoint "$CKPT" --data synthetic --batch 50 --device $dev \
    --out "$RUNS/selectivity-$dev.csv" > /dev/null 2> "$RUNS/selectivity-$dev.log"
  "$GEX" prune --checkpoint "$CKPT" --data synthetic --batch 50 --device $dev --stage 2 --order l1-desc \
    --ratios 0,0.25,0.5,0.75 --out "$RUNS/prune-$dev.csv" > /dev/null 2> "$RUNS/prune-$dev.log"
done
for log in eval selectivity-cuda prune-cuda; do  # each says whether its graph replayed or fell back
  if grep -q "ran as a CUDA graph" "$RUNS/$log.log"; then
    say "PASS $log: the forward passes replayed a captured graph"
  else
    say "FAIL $log: the forward passes were not graphed: $(tail -2 "$RUNS/$log.log")"
    FAILED=1
  fi
done
"$PY" - "$RUNS/prune-cpu.csv" "$RUNS/prune-cuda.csv" <<'EOF' | check "gex prune on CUDA = on the CPU" "j['rows'] == 4 and j['worst'] <= 0.01"
import csv, json, sys
a, b = [list(csv.DictReader(open(p))) for p in sys.argv[1:3]]
worst = max(abs(float(x[k]) - float(y[k])) for x, y in zip(a, b) for k in ("top1_error", "top5_error")) if a and len(a) == len(b) else 1e9
print(json.dumps({"rows": len(a) if len(a) == len(b) else 0, "worst": worst}))
EOF
"$PY" - "$RUNS/selectivity-cpu.csv" "$RUNS/selectivity-cuda.csv" <<'EOF' | check "gex selectivity on CUDA = on the CPU" "j['rows'] > 0 and j['worst'] <= 1e-2"
import csv, json, sys
a, b = [list(csv.DictReader(open(p))) for p in sys.argv[1:3]]
worst = max(abs(float(x[k]) - float(y[k])) for x, y in zip(a, b) for k in ("csi", "mean_activation")) if len(a) == len(b) else 1e9
print(json.dumps({"rows": len(a) if len(a) == len(b) else 0, "worst": worst}))
EOF
# Two processes on the GPUs: NCCL where each has a GPU of its own and the build has NCCL, else
# Gloo through host memory (then the log says why).
GPUS=$(nvidia-smi -L 2> /dev/null | grep -c "^GPU")
NCCL=$(grep -q "GEX_WITH_NCCL=1" "$OUT/cmake.log" && echo 1 || echo 0)
if [ "$GLOO" = ON ] || { [ "$NCCL" = 1 ] && [ "$GPUS" -ge 2 ]; }; then
  "$GEX" train "${SMALL[@]}" --device cuda --nproc 2 --out "$RUNS/nproc2" > "$RUNS/nproc2.log" 2>&1 &&
    say "PASS data-parallel on the GPU: gex train --nproc 2 --device cuda" ||
    { say "FAIL data-parallel on the GPU (see runs/nproc2.log)"; FAILED=1; }
  WANT=$([ "$NCCL" = 1 ] && [ "$GPUS" -ge 2 ] && echo nccl || echo gloo)
  "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(json.dumps({"backend": r.get("backend"), "world_size": r.get("world_size")}))' \
      "$RUNS/nproc2/run.json" 2> /dev/null | check "--nproc 2 on $GPUS GPU(s) reduces through $WANT" "j['backend'] == '$WANT' and j['world_size'] == 2"
  grep -m 1 "gradients meet" "$RUNS/nproc2.log" | sed 's/^/    /' | tee -a "$OUT/summary.txt"
  if [ "$NCCL" = 1 ] && [ "$GPUS" = 1 ]; then  # both ranks on the one GPU, known by its UUID
    UUID=$(nvidia-smi --query-gpu=uuid --format=csv,noheader 2> /dev/null | head -1)
    grep -q "ranks 0 and 1 share one GPU (GPU-[0-9a-f-]*)" "$RUNS/nproc2.log" &&
      say "PASS the ranks find that they share one GPU by its UUID (nvidia-smi: $UUID)" ||
      { say "FAIL the ranks did not find that they share one GPU (see runs/nproc2.log)"; FAILED=1; }
  fi
fi

fi  # checks

# --- Figures: gex against PyTorch eager, interleaved --------------------------------------------
if want figures; then
RUNS=$OUT/figure-runs
rm -rf "$RUNS" && mkdir -p "$RUNS"
DATA=$OUT/idx
"$PY" bench/cuda_figures.py idx "$DATA"
R20=(--data "idx:$DATA" --model resnet20 --in-channels 1 --input-size 28 --batch 128 --steps 600 --augment off
     --eval-every 100000 --eval-limit 1000 --no-probes --log-every 50 --device cuda)
# Each runs in a subshell ($(…)): a failure is said, recorded as 0 images/s and marked in a file,
# so that one failed run leaves the other figures and the exit status says it.
MISSED=$OUT/figure-runs.failed
rm -f "$MISSED"
missed() { say "FAIL $1" >&2; echo "$1" >> "$MISSED"; echo '{"best": 0, "median": 0}'; }
gex_rate() {  # gex_rate NAME ARGS...: images/s of a gex run
  local name=$1; shift
  "$GEX" train "$@" --out "$RUNS/$name" > "$RUNS/$name.log" 2>&1 || { missed "gex train $name (see figure-runs/$name.log)"; return; }
  "$PY" bench/cuda_figures.py rate "$RUNS/$name" 2>> "$RUNS/$name.log" ||
    missed "no rate from gex train $name (see figure-runs/$name.log)"
}
peer_rate() {  # peer_rate NAME ARGS...: images/s of the PyTorch script
  local name=$1; shift
  # (its host heap as gex keeps its own: engine/heap.h)
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=536870912 \
    "$PY" bench/pytorch_cuda.py "$@" > "$RUNS/$name.json" 2> "$RUNS/$name.log" ||
    { missed "the PyTorch peer $name (see figure-runs/$name.log)"; return; }
  cat "$RUNS/$name.json"
}
FIG=$OUT/figures.jsonl
: > "$FIG"
record() { printf '{"name": "%s", "result": %s}\n' "$1" "${2:-null}" | tee -a "$FIG"; }
say "ResNet-20 GE-θ⁻ 28×28 batch 128: gex (CUDA graph) against PyTorch eager, twice, interleaved"
for rep in 1 2; do
  record "peer-fp32-$rep" "$(peer_rate peer-fp32-$rep --model resnet20 --attention ge --batch 128 --size 28 --channels 1)"
  record "gex-fp32-$rep" "$(gex_rate gex-fp32-$rep "${R20[@]}" --attention ge --amp off)"
  record "peer-bf16-$rep" "$(peer_rate peer-bf16-$rep --model resnet20 --attention ge --batch 128 --size 28 --channels 1 --bf16)"
  record "gex-bf16-$rep" "$(gex_rate gex-bf16-$rep "${R20[@]}" --attention ge --amp on)"
done
record "gex-fp32-eager" "$(gex_rate gex-fp32-eager "${R20[@]}" --attention ge --amp off --cuda-graph off)"
say "ResNet-20 28×28 bf16, each variant (CUDA graph)"
record "r20-baseline" "$(gex_rate r20-baseline "${R20[@]}" --attention none --amp on)"
for v in theta-minus theta theta-plus; do
  record "r20-$v" "$(gex_rate r20-$v "${R20[@]}" --attention ge --variant $v --amp on)"
done
# The fused tails against the generic graph: interleaved, best of two on each side (the variant
# run above is the fused side's first).
TM20=("${R20[@]}" --attention ge --variant theta-minus --amp on)
record "r20-theta-minus-generic-1" "$(GEX_FUSED_NODES=off gex_rate r20-tm-generic-1 "${TM20[@]}")"
record "r20-theta-minus-fused-2" "$(gex_rate r20-tm-fused-2 "${TM20[@]}")"
record "r20-theta-minus-generic-2" "$(GEX_FUSED_NODES=off gex_rate r20-tm-generic-2 "${TM20[@]}")"
# GE-θ⁻ at extent 4: its local gate fused into the tails, against the baseline and the generic
# graph, interleaved, best of two on each side.
TE4=("${R20[@]}" --attention ge --variant theta-minus --extent 4 --amp on)
for rep in 1 2; do
  record "r20-theta-minus-e4-$rep" "$(gex_rate r20-tm-e4-$rep "${TE4[@]}")"
  record "r20-theta-minus-e4-generic-$rep" "$(GEX_FUSED_NODES=off gex_rate r20-tm-e4-generic-$rep "${TE4[@]}")"
done
say "ResNet-50 224×224 batch 64 bf16 (torchvision's stride): each variant, and PyTorch eager"
R50=(--data synthetic --model resnet50 --stride-on 3x3 --in-channels 3 --input-size 224 --batch 64 --steps 160
     --augment off --eval-every 100000 --eval-limit 64 --no-probes --log-every 32 --device cuda --amp on)
for rep in 1 2; do  # the baseline against the peer: interleaved, best of two on each side
  record "r50-peer-$rep" "$(peer_rate r50-peer-$rep --model resnet50 --attention none --batch 64 --size 224 --channels 3 --bf16 --images 2000 --window 30 --windows 4 --warmup 10)"
  record "r50-baseline-$rep" "$(gex_rate r50-baseline-$rep "${R50[@]}" --attention none)"
done
for v in theta-minus theta theta-plus; do
  record "r50-$v" "$(gex_rate r50-$v "${R50[@]}" --attention ge --variant $v)"
done
TM50=("${R50[@]}" --attention ge --variant theta-minus)
record "r50-theta-minus-generic-1" "$(GEX_FUSED_NODES=off gex_rate r50-tm-generic-1 "${TM50[@]}")"
record "r50-theta-minus-fused-2" "$(gex_rate r50-tm-fused-2 "${TM50[@]}")"
record "r50-theta-minus-generic-2" "$(GEX_FUSED_NODES=off gex_rate r50-tm-generic-2 "${TM50[@]}")"

"$PY" - "$FIG" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
f = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    f[r["name"]] = r["result"]
best = lambda k: (f.get(k) or {}).get("best", 0) or 0  # (null: a run that failed)
pairs = lambda p: max(best(f"{p}-1"), best(f"{p}-2"))
print("ResNet-20 GE-θ⁻ 28×28 b128, images/s (best interval, best of 2):")
for prec in ("fp32", "bf16"):
    g, p = pairs(f"gex-{prec}"), pairs(f"peer-{prec}")
    print(f"  {prec}: gex {g:,.0f}  PyTorch eager {p:,.0f}  ratio {g / p if p else float('nan'):.2f} (goal >= 2)")
print(f"  fp32 without the graph: gex {best('gex-fp32-eager'):,.0f}")
for model in ("r20", "r50"):
    base = max(best(f"{model}-baseline"), pairs(f"{model}-baseline"))
    line = ", ".join(f"{v} {base / best(f'{model}-{v}') if best(f'{model}-{v}') else float('nan'):.3f}"
                     for v in ("theta-minus", "theta", "theta-plus"))
    print(f"{model} step time vs baseline (goal 1.05/1.10/1.15): {line}; baseline {base:,.0f} images/s")
for model in ("r20", "r50"):
    fused = max(best(f"{model}-theta-minus"), best(f"{model}-theta-minus-fused-2"))
    generic = pairs(f"{model}-theta-minus-generic")
    print(f"{model} GE-θ⁻ bf16, the fused block tails against the generic graph (GEX_FUSED_NODES=off), best of 2 "
          f"each: {fused:,.0f} vs {generic:,.0f} images/s, {fused / generic if generic else float('nan'):.2f}×")
e4, e4g = pairs("r20-theta-minus-e4"), pairs("r20-theta-minus-e4-generic")
print(f"r20 GE-θ⁻ e4 bf16: step time vs baseline {best('r20-baseline') / e4 if e4 else float('nan'):.3f}; "
      f"fused {e4:,.0f} vs generic graph {e4g:,.0f} images/s (best of 2 each), {e4 / e4g if e4g else float('nan'):.2f}×")
g50, p50 = pairs("r50-baseline"), pairs("r50-peer")
print(f"ResNet-50 bf16 b64, best of 2 each: gex baseline {g50:,.0f}, PyTorch eager {p50:,.0f}, "
      f"ratio {g50 / p50 if p50 else float('nan'):.2f} (goal >= 1.0)")
EOF
[ -s "$MISSED" ] && FAILED=1
fi  # figures

say "done ($STAGES): $([ $FAILED = 0 ] && echo 'every check passed' || echo 'a check FAILED')"
exit $FAILED
