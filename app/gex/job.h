// What makes a `gex` command one rank of a data-parallel job (train, eval, selectivity, prune):
// `--nproc N` turns this process into the launcher of N local workers; a launcher's environment
// (torchrun, Slurm, Open MPI) makes it join the job's c10d process group.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

#include "dist/process_group.h"
#include "gex/cli_support.h"
#include "sharding.h"

namespace gex::cli {

struct JobFlags {
  int nproc = 1;
  int dist_timeout = 60;  // seconds
};
void add_job_flags(CLI::App* command, JobFlags& flags);

// With --nproc N > 1: starts the workers, waits, and returns the launcher's exit status (the
// caller returns it). `global_batch`, when known, must split evenly (`resumed`: it is the run's). nullopt
// otherwise.
std::optional<int> launch_workers_if_asked(const JobFlags& flags, std::optional<int64_t> global_batch = {},
                                           bool resumed = false);

// Joins the job the environment describes (null for one process). Without --threads, a rank takes
// its share of the machine's cores.
std::unique_ptr<ProcessGroup> join_job(const JobFlags& flags, CLI::App* command, CommonFlags& common);

// The share of a pass over data this process takes (the whole for one process).
Shard shard_of(ProcessGroup* group);

// Rank 0 reports and writes; the others only compute.
inline bool speaks(const ProcessGroup* group) { return !group || group->rank() == 0; }
// The same before joining: whether this process (one alone, a launcher, or rank 0 of the job the
// environment describes) writes the results — it checks where they go before any work.
bool will_write_results();

}  // namespace gex::cli
