#!/usr/bin/env bash
# Data-parallel `gex train` under the launchers that clusters use, for real, where the test suite
# only sets their variables: torchrun (PyTorch's elastic agent hosting the store; a worker killed
# and the job restarted through the README's wrapper), Slurm (sbatch + srun; scontrol suspend and
# resume; scancel; a task killed; a batch script that forgot srun), Open MPI's mpirun (a job;
# Ctrl-C), and two machines as two network namespaces (a job; the network between them cut).
# Two processes, ResNet-20 GE-θ⁻ on Fashion-MNIST. Each part runs where
# its launcher is: torchrun from PATH, else Debian's python3-torch (1.13, whose torchrun crashes
# under Python 3.11 on an unset redirect map: worked around here); Slurm where `sinfo` answers (a
# controller and a node running, e.g. Debian's slurmctld, slurmd and munge on one machine);
# mpirun from openmpi-bin. A part whose launcher is missing says SKIP.
#
#   scripts/check-launchers.sh [WORK]     (default: a new temporary folder; gex from build/bin)
#   PARTS="slurm nodes" scripts/check-launchers.sh     (some of: torchrun slurm mpi nodes)
#
# Exit status 0 when every part that ran held; each check prints ok or FAIL.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
gex=${GEX:-$src/build/bin/gex}
work=$(realpath -m "${1:-$(mktemp -d /tmp/gex-launchers.XXXXXX)}")
mkdir -p "$work"
failures=0
parts=" ${PARTS:-torchrun slurm mpi nodes} "
model=(--model resnet20 --attention ge --variant theta-minus --batch 64 --eval-every 100000 --log-every 50)

check() {  # check WHAT COMMAND...: ok when the command succeeds
  local what=$1; shift
  if "$@" > /dev/null 2>&1; then echo "  ok    $what"; else echo "  FAIL  $what"; failures=$((failures + 1)); fi
}
status_is() { python3 -c "import json,sys; sys.exit(json.load(open('$1/run.json'))['status'] != '$2')"; }
world_is() { python3 -c "import json,sys; sys.exit(json.load(open('$1/run.json'))['world_size'] != $2)"; }
wait_for_line() {  # wait_for_line FILE PATTERN SECONDS
  local t
  for ((t = 0; t < $3 * 10; t++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
pid_of_rank() {  # pid_of_rank RUN VARIABLE=VALUE: the gex process training RUN with that variable
  local p
  for p in $(pgrep -x gex); do
    tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$1" || continue
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx -- "$2" && { echo "$p"; return 0; }
  done
  return 1
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "gex: $gex; work: $work"

# --- torchrun ---------------------------------------------------------------------------------
torchrun=()
if command -v torchrun > /dev/null && torchrun --nproc_per_node 1 --no_python true > /dev/null 2>&1; then
  torchrun=(torchrun)
elif /usr/bin/python3 -c 'import torch.distributed.run' 2> /dev/null; then
  cat > "$work/torchrun.py" <<'EOF'
import sys
import torch.distributed.elastic.multiprocessing as mp
import torch.distributed.elastic.multiprocessing.api as api
to_map = api.to_map  # Python 3.11 parses torchrun 1.13's default redirects as None
api.to_map = mp.to_map = lambda v, n: to_map(api.Std.NONE if v is None else v, n)
from torch.distributed.run import main
sys.exit(main())
EOF
  torchrun=(/usr/bin/python3 "$work/torchrun.py")
fi
if [[ $parts != *" torchrun "* ]]; then
  :
elif ((${#torchrun[@]})); then
  echo "torchrun (${torchrun[*]})"
  run=$work/torchrun-job
  "${torchrun[@]}" --nproc_per_node 2 --master_port "$(port)" --no_python "$gex" train "${model[@]}" --steps 60 \
    --out "$run" > "$work/torchrun-job.log" 2>&1
  check "2 workers train, exit 0 (log: torchrun-job.log)" test $? = 0
  check "run.json: finished, world_size 2" eval "status_is $run finished && world_is $run 2"

  run=$work/torchrun-restart
  cat > "$work/train.sh" <<EOF
#!/bin/sh
[ -e $run/run.json ] && exec $gex train --resume $run
exec $gex train ${model[*]} --steps 400 --checkpoint-every 100 --out $run
EOF
  chmod +x "$work/train.sh"
  "${torchrun[@]}" --nproc_per_node 2 --max_restarts 1 --master_port "$(port)" --no_python "$work/train.sh" \
    > "$work/torchrun-restart.log" 2>&1 &
  launcher=$!
  wait_for_line "$work/torchrun-restart.log" "step [1-9][0-9][0-9]/" 120 && kill -9 "$(pid_of_rank "$run" RANK=1)"
  wait "$launcher"
  check "a killed worker restarted by --max_restarts 1 resumes the run, exit 0 (torchrun-restart.log)" test $? = 0
  check "the lost rank was named" grep -q "rank 1 was lost" "$work/torchrun-restart.log"
  check "the restarted workers resumed the run from its checkpoint, and finished" \
    eval "grep -q 'gex train: resuming $run at step [1-9]' $work/torchrun-restart.log && status_is $run finished"
else
  echo "torchrun: SKIP (neither torchrun nor python3-torch)"
fi

# --- Slurm ------------------------------------------------------------------------------------
if [[ $parts != *" slurm "* ]]; then
  :
elif command -v sbatch > /dev/null && sinfo -h > /dev/null 2>&1; then
  echo "Slurm ($(sbatch --version))"
  job() {  # job NAME EXTRA-TRAIN-FLAGS...: a batch script of two tasks as the README's
    local name=$1; shift
    cat > "$work/$name.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=gex-$name --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --output=$work/$name.out
export MASTER_ADDR=\$(scontrol show hostnames "\$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_PORT=$(port)
srun $gex train ${model[*]} --threads \$SLURM_CPUS_PER_TASK --out $work/$name $*
echo "srun exit: \$?"
EOF
  }
  job_done() { while [ -n "$(squeue -h -j "$1" 2> /dev/null)" ]; do sleep 1; done; }

  job slurm-job --steps 60
  sbatch --wait "$work/slurm-job.sbatch" > /dev/null
  check "srun's 2 tasks train, exit 0 (slurm-job.out)" grep -q "srun exit: 0" "$work/slurm-job.out"
  check "run.json: finished, world_size 2" eval "status_is $work/slurm-job finished && world_is $work/slurm-job 2"

  job slurm-suspend --steps 400 --dist-timeout 5
  id=$(sbatch --parsable "$work/slurm-suspend.sbatch")
  wait_for_line "$work/slurm-suspend.out" "step [1-9][0-9][0-9]/" 120 && scontrol suspend "$id" && sleep 15 && scontrol resume "$id"
  job_done "$id"
  check "suspended 15 s (3x --dist-timeout), resumed, finished (slurm-suspend.out)" \
    eval "grep -q 'srun exit: 0' $work/slurm-suspend.out && status_is $work/slurm-suspend finished"

  job slurm-cancel --steps 2000
  id=$(sbatch --parsable "$work/slurm-cancel.sbatch")
  wait_for_line "$work/slurm-cancel.out" "step [1-9][0-9][0-9]/" 120 && scancel "$id"
  job_done "$id"
  sleep 2
  check "scancel: every task exits 130 (slurm-cancel.out)" grep -q "tasks 0-1: Exited with exit code 130" "$work/slurm-cancel.out"
  check "run.json: stopped, last checkpoint kept" eval "status_is $work/slurm-cancel stopped && test -e $work/slurm-cancel/checkpoints/last.safetensors"

  job slurm-kill --steps 2000
  id=$(sbatch --parsable "$work/slurm-kill.sbatch")
  wait_for_line "$work/slurm-kill.out" "step [1-9][0-9][0-9]/" 120 && kill -9 "$(pid_of_rank "$work/slurm-kill" SLURM_PROCID=1)"
  job_done "$id"
  check "task 1 killed: task 0 exits 4 naming it (slurm-kill.out)" \
    eval "grep -q 'task 0: Exited with exit code 4' $work/slurm-kill.out && grep -q 'rank 1 was lost' $work/slurm-kill.out"
  check "run.json: failed" status_is "$work/slurm-kill" failed

  cat > "$work/slurm-nosrun.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=gex-nosrun --nodes=1 --ntasks-per-node=2 --output=$work/slurm-nosrun.out
$gex train ${model[*]} --steps 10 --out $work/slurm-nosrun
EOF
  sbatch --wait "$work/slurm-nosrun.sbatch" > /dev/null
  check "gex train in the batch script without srun says so, trains as one process" \
    eval "grep -q 'not a task of an srun step' $work/slurm-nosrun.out && world_is $work/slurm-nosrun 1"
else
  echo "Slurm: SKIP (no sbatch, or no controller answering sinfo)"
fi

# --- Open MPI ---------------------------------------------------------------------------------
if [[ $parts != *" mpi "* ]]; then
  :
elif command -v mpirun > /dev/null; then
  echo "Open MPI ($(mpirun --version | head -n 1))"
  mpirun=(mpirun -np 2 -x MASTER_ADDR=127.0.0.1)
  [ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)
  "${mpirun[@]}" -x MASTER_PORT="$(port)" "$gex" train "${model[@]}" --steps 60 --out "$work/mpi-job" > "$work/mpi-job.log" 2>&1
  check "2 processes train, exit 0 (mpi-job.log)" test $? = 0
  check "run.json: finished, world_size 2" eval "status_is $work/mpi-job finished && world_is $work/mpi-job 2"

  "${mpirun[@]}" -x MASTER_PORT="$(port)" "$gex" train "${model[@]}" --steps 2000 --out "$work/mpi-interrupt" > "$work/mpi-interrupt.log" 2>&1 &
  launcher=$!
  wait_for_line "$work/mpi-interrupt.log" "step [1-9][0-9][0-9]/" 120 && kill -INT "$launcher"
  wait "$launcher"
  check "Ctrl-C at mpirun: interrupted, resumable (mpi-interrupt.log)" grep -q "interrupted at step" "$work/mpi-interrupt.log"
  check "run.json: stopped, last checkpoint kept" \
    eval "status_is $work/mpi-interrupt stopped && test -e $work/mpi-interrupt/checkpoints/last.safetensors"
else
  echo "Open MPI: SKIP (no mpirun)"
fi

# --- two machines: network namespaces joined by a veth pair --------------------------------------
if [[ $parts != *" nodes "* ]]; then
  :
elif [ "$(id -u)" = 0 ] && command -v ip > /dev/null && command -v unshare > /dev/null &&
   ip netns add gexcheck-a 2> /dev/null; then
  echo "two machines (network namespaces node0 192.168.77.1 and node1 192.168.77.2, hostnames that resolve to nothing)"
  ip netns add gexcheck-b
  ip link add gexcheck-va type veth peer name gexcheck-vb
  ip link set gexcheck-va netns gexcheck-a && ip link set gexcheck-vb netns gexcheck-b
  ip -n gexcheck-a addr add 192.168.77.1/24 dev gexcheck-va && ip -n gexcheck-b addr add 192.168.77.2/24 dev gexcheck-vb
  for n in a b; do ip -n gexcheck-$n link set lo up && ip -n gexcheck-$n link set gexcheck-v$n up; done
  node() {  # node a|b RANK RUN LOG FLAGS...: one rank of a two-machine job (torchrun's variables)
    local n=$1 rank=$2 run=$3 log=$4; shift 4
    ip netns exec gexcheck-$n unshare --uts sh -c "hostname node$rank; RANK=$rank WORLD_SIZE=2 LOCAL_RANK=0 \
      LOCAL_WORLD_SIZE=1 MASTER_ADDR=192.168.77.1 MASTER_PORT=29600 exec $gex train ${model[*]} --threads 1 \
      --dist-timeout 10 --out $run $*" > "$log" 2>&1
  }
  node a 0 "$work/nodes-job" "$work/nodes-job.0.log" --steps 60 &
  node b 1 "$work/nodes-job" "$work/nodes-job.1.log" --steps 60
  wait
  check "a job across the two trains, exit 0 (nodes-job.0.log)" \
    eval "status_is $work/nodes-job finished && python3 -c \"import json,sys; sys.exit(json.load(open('$work/nodes-job/run.json'))['hosts'] != ['node0', 'node1'])\""

  # A rank listens where the other machine cannot reach it (GLOO_SOCKET_IFNAME=lo): the rank that
  # connects to it (Gloo's pair of the higher address; 192.168.… is above 127.…) fails at once, and
  # the other stops with its words rather than wait out Gloo's retries (51 s with --dist-timeout 10).
  start=$(date +%s)
  node a 0 "$work/nodes-lo" "$work/nodes-lo.0.log" --steps 20 &
  first=$!
  GLOO_SOCKET_IFNAME=lo node b 1 "$work/nodes-lo" "$work/nodes-lo.1.log" --steps 20
  second_code=$?
  wait "$first"; first_code=$?; took=$(($(date +%s) - start))
  check "a rank listening at loopback: both exit 3 within ${took} s, each with rank 0's words (nodes-lo.1.log)" \
    eval "test $first_code = 3 && test $second_code = 3 && test $took -le 9 && \
      grep -q 'rank 0 could not connect .*Connection refused.*GLOO_SOCKET_IFNAME' $work/nodes-lo.0.log && \
      grep -q 'rank 0 could not connect .*Connection refused.*; rank 1 stops' $work/nodes-lo.1.log"

  # The network between them goes silent (node0's link down: node1 sees no error, no answer).
  node a 0 "$work/nodes-cut" "$work/nodes-cut.0.log" --steps 5000 &
  first=$!
  node b 1 "$work/nodes-cut" "$work/nodes-cut.1.log" --steps 5000 &
  second=$!
  wait_for_line "$work/nodes-cut.0.log" "step [1-9][0-9][0-9]/" 120
  ip -n gexcheck-a link set gexcheck-va down
  cut=$(date +%s)
  wait "$first"; first_code=$?; first_took=$(($(date +%s) - cut))
  wait "$second"; second_code=$?; second_took=$(($(date +%s) - cut))
  check "node0 ends, exit 4 naming rank 1, ${first_took} s after the cut (--dist-timeout 10)" \
    eval "test $first_code = 4 && test $first_took -le 25 && grep -q 'rank 1 was lost' $work/nodes-cut.0.log"
  check "node1 ends, exit 4 naming the store's host, ${second_took} s after the cut" \
    eval "test $second_code = 4 && test $second_took -le 25 && grep -q 'rank 0 (which hosts the rendezvous store) was lost' $work/nodes-cut.1.log"
  check "run.json: failed" status_is "$work/nodes-cut" failed
  ip netns del gexcheck-a
  ip netns del gexcheck-b
else
  echo "two machines: SKIP (needs root, ip and unshare, and no namespace gexcheck-a left over)"
fi

echo "$failures failed"
exit $((failures > 0))
