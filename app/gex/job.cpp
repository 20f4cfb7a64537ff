#include "gex/job.h"

#include "cores.h"
#include "dist/world.h"
#include "errors.h"
#include "gex/launcher.h"
#include "train/trainer.h"

namespace gex::cli {

void add_job_flags(CLI::App* command, JobFlags& flags) {
  command->add_option("--nproc", flags.nproc,
                      "Start this many local worker processes as one data-parallel job (train: --batch is "
                      "the global batch)")
      ->check(CLI::Range(1, 1024));
  command->add_option("--dist-timeout", flags.dist_timeout,
                      "Data-parallel: seconds before a rank that does not answer counts as lost")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
}

std::optional<int> launch_workers_if_asked(const JobFlags& flags, std::optional<int64_t> global_batch, bool resumed) {
  if (flags.nproc <= 1) return std::nullopt;
  if (const auto world = world_from_environment(); world && world->distributed())
    throw UsageError("--nproc starts its own workers, but this process is already rank " + std::to_string(world->rank) +
                     " of " + std::to_string(world->size) + " (started by " + world->launcher + "); leave --nproc out");
  if (global_batch) check_batch_splits(*global_batch, flags.nproc, resumed);
  return launch_local_workers(flags.nproc, without_nproc(command_line_count(), command_line_values()),
                              flags.dist_timeout);
}

std::unique_ptr<ProcessGroup> join_job(const JobFlags& flags, CLI::App* command, CommonFlags& common) {
  const auto world = world_from_environment();
  if (!world || !world->distributed()) return nullptr;
  if (command->count("--threads") == 0) common.threads = default_threads(*world, available_cores(), machine_cores());
  return ProcessGroup::join(*world, std::chrono::seconds(flags.dist_timeout));
}

bool will_write_results() {
  const auto world = world_from_environment();
  return !world || !world->distributed() || world->rank == 0;
}

Shard shard_of(ProcessGroup* group) {
  Shard s;
  if (!group) return s;
  s.index = group->rank();
  s.count = group->size();
  s.sum = [group](torch::Tensor& t) { group->all_reduce_sum(t); };
  return s;
}

}  // namespace gex::cli
