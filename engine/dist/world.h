// Where this process stands in a data-parallel job, read from the launcher's environment: the
// whole contract with torchrun, Slurm's srun and Open MPI's mpirun is a handful of variables.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gex {

struct World {
  int rank = 0, size = 1;              // this process among all of the job
  int local_rank = 0, local_size = 1;  // among those of this machine
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher;     // torchrun, slurm, openmpi or gex (--nproc)
  std::string size_variable = "WORLD_SIZE";  // the variable `size` was read from
  bool agent_store = false;  // the launcher hosts the rendezvous store (torchrun's static rendezvous)
  int restart_count = 0;     // torchrun's restarts of the workers so far (TORCHELASTIC_RESTART_COUNT)
  int cpus_per_task = 0;     // the cores Slurm gave each task (SLURM_CPUS_PER_TASK); 0 where not said

  bool distributed() const { return size > 1; }
  // The keys of this attempt in the rendezvous store: a launcher's store outlives its workers, and
  // a restarted job must not read the keys the last attempt left there ("/worker/attempt_N", as
  // PyTorch's env:// rendezvous has it); "" where the store is this job's own.
  std::string store_prefix() const { return agent_store ? "/worker/attempt_" + std::to_string(restart_count) : ""; }
};

// The job this process belongs to, from torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), else those of a task of an srun step (SLURM_PROCID,
// SLURM_STEP_NUM_TASKS, SLURM_LOCALID, SLURM_STEP_TASKS_PER_NODE…; MASTER_ADDR and MASTER_PORT
// given; Slurm's batch script itself is one process) or Slurm's set by hand (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID without SLURM_JOB_ID), else Open MPI's (OMPI_COMM_WORLD_RANK, _SIZE,
// _LOCAL_RANK, _LOCAL_SIZE); nullopt when none is set. Where the processes of this machine are not
// said, all are on it (Slurm's: spread evenly over the nodes it says). A variable that is set but
// malformed or inconsistent is a UsageError naming it.
// `getenv` is the environment to read (the process's own by default; tests pass a map).
using Getenv = std::function<const char*(const char*)>;
std::optional<World> world_from_environment(const Getenv& getenv = nullptr);

// The intra-op threads of a process of `world` where --threads is not given: the cores it may use
// (`available`, its affinity mask), shared with the job's other processes on its machine (of
// `machine` cores). Workers that gex or torchrun start share the launcher's cores; Slurm and mpirun
// may have bound each task to cores of its own, or all to the same: then neither more than its
// mask nor more than its share of the machine, or Slurm's cores per task where it says them.
int default_threads(const World& world, int available, int machine);

// Where this process is Slurm's batch script of a job of several tasks, started without srun: a
// line saying that it trains as one process, and how the tasks would run together; "" elsewhere.
std::string slurm_batch_script_note(const Getenv& getenv = nullptr);

// UsageError unless the global batch `batch` splits evenly across `processes`, naming the numbers
// of processes that would; `recorded`: it is a run's batch, being resumed (not a --batch given).
void check_batch_splits(int64_t batch, int processes, bool recorded);

// "rank 2", "ranks 2, 3", "ranks 1–299, 301": ranks (ascending) as gex's messages name them, runs of
// three or more as a range.
std::string ranks_text(const std::vector<int>& ranks);

// The variables torchrun gives a worker, for the workers `gex train --nproc` starts itself.
std::vector<std::pair<std::string, std::string>> torchrun_environment(const World& world);

}  // namespace gex
