// What a training process does differently in a data-parallel job (DESIGN §6): rank 0's weights on
// every process at the start, each process's share of every global batch, gradients summed over
// the processes by bucketed all-reduce, BatchNorm statistics optionally synchronised, and the
// reported and evaluated figures summed so that every image is counted once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/data_identity.h"
#include "dist/gradient_buckets.h"
#include "dist/process_group.h"
#include "models/network.h"
#include "train/train_config.h"
#include "sharding.h"

namespace gex {

class DataParallel {
 public:
  explicit DataParallel(ProcessGroup& group);
  ProcessGroup& group() { return m_group; }
  const Shard& shard() const { return m_shard; }

  // Rank 0's parameters and buffers on every process; gradient buckets over the trainable
  // parameters; BatchNorm synchronised when asked.
  void attach(NetworkImpl& net, bool sync_bn);

  struct Agreement {
    int64_t rows = 0;   // of the global batch, over all processes
    bool stop = false;  // some process was asked to stop (all stop at this step)
    bool skip = false;  // some process has no rows while BatchNorm is synchronised: nobody trains
  };
  Agreement agree(int64_t local_rows, bool stop_asked);

  void begin_backward();
  void finish_backward();
  // Rank 0's BatchNorm statistics on every process (before evaluating and saving).
  void broadcast_buffers();
  // The interval's sums over the processes, in place.
  void sum_interval(torch::Tensor& loss_sum, torch::Tensor& top1, torch::Tensor& top5, int64_t& images);

 private:
  ProcessGroup& m_group;
  Shard m_shard;
  NetworkImpl* m_net = nullptr;
  bool m_sync_bn = false;
  std::unique_ptr<GradientBuckets> m_buckets;
};

// Runs `work` on every process and lets all of them fail together when one does: each gets its own
// error, or one naming the first rank that failed (with that rank's exit status). Without a group
// it just runs `work`.
void on_all_ranks(ProcessGroup* group, const std::string& what, const std::function<void()>& work);

// UsageError (on every rank) naming the first field of the run's configuration, as JSON, in which
// a rank differs from rank 0. Threads, loader threads and cache may differ.
void check_same_config(ProcessGroup& group, const std::string& config_json);

// UsageError (on every rank) when a rank loaded other data than rank 0 under the same --data (a
// node's copy of a folder with a file more or less, or other files): each would index its own files,
// and the union of the ranks' batches would not be one process's. Without a group: nothing.
void check_same_data(ProcessGroup* group, const std::string& data, const DataIdentity& identity);

// UsageError (every rank) unless the ranks run one configuration and `config.batch`, the global
// batch, splits evenly across them (`resumed`: it is the run's). Nothing to check without a group.
void check_world(ProcessGroup* group, const TrainConfig& config, bool resumed);

// On CUDA, local rank r trains on GPU r (modulo the GPUs there are); `device` otherwise.
torch::Device device_of_rank(torch::Device device, ProcessGroup* group);

// Every rank's host name, in rank order.
std::vector<std::string> rank_hosts(ProcessGroup& group);

}  // namespace gex
