// A process group of PyTorch's c10d: the TCPStore rendezvous, Gloo collectives for host tensors and,
// where every rank has a GPU of its own and the build has it, NCCL collectives for CUDA tensors
// (else they go through host memory and Gloo). Every failure of a peer becomes a RunError that
// names the lost rank; a master that cannot be reached or a port in use, an InputError (exit 3).
#pragma once

#include <torch/types.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dist/world.h"

namespace c10d {
class Work;
}

namespace gex {

class ProcessGroup {
 public:
  // Joins the job `world` describes: rank 0 hosts the store at MASTER_ADDR:MASTER_PORT unless the
  // launcher does; every wait is bounded by `timeout`, a collective's by `timeout` of this
  // process's time awake (a job stopped as a whole and continued goes on).
  static std::unique_ptr<ProcessGroup> join(const World& world, std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  const World& world() const { return m_world; }
  int rank() const { return m_world.rank; }
  int size() const { return m_world.size; }
  // What collectives on tensors of `device` run on: "nccl" or "gloo"; and why not NCCL for CUDA
  // tensors ("" where they do).
  std::string backend_for(const torch::Device& device) const;
  std::string why_not_nccl() const;

  // Sums `t` over the ranks, in place; blocks.
  void all_reduce_sum(torch::Tensor& t);
  // Starts the sum; `wait()` on the result blocks until `t` holds it.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;
  };
  std::unique_ptr<Pending> start_all_reduce_sum(torch::Tensor t);
  // Rank 0's values of `tensors` on every rank.
  void broadcast_from_rank0(const std::vector<torch::Tensor>& tensors);

  // Every rank's `mine` for `key`, in rank order (through the store).
  std::vector<std::string> exchange(const std::string& key, const std::string& mine);

  // This rank stops on an error of its own (`why`, as it says it): the other ranks, whose
  // collectives then fail, say that rather than that it was lost. A group ended by an exception
  // says so by itself, without the words.
  void say_failed(const std::string& why) noexcept;

 private:
  struct Impl;
  ProcessGroup(World world, std::unique_ptr<Impl> impl);
  void join_nccl();
  void wait_for(c10d::Work& work, bool nccl, const std::string& during);
  [[noreturn]] void lost(const std::string& during, const std::string& why);
  std::pair<std::string, int> who_was_lost();  // the words, and how many ranks they name
  World m_world;
  std::unique_ptr<Impl> m_impl;
  int64_t m_exchanges = 0;
  int m_exceptions_at_join = std::uncaught_exceptions();
  bool m_store_gone = false;  // a look at the store failed, or it went silent: nothing more is said there
};

// The c10d process groups this build reduces with ("Gloo", "NCCL", "Gloo and NCCL"); empty where
// it has neither and trains in one process only.
std::string collectives_built();

// Whether a rank was lost while a Gloo collective waited for it: that collective still runs in
// Gloo's threads, so the process should end without its static destructors (std::_Exit).
bool collectives_abandoned();

// The rendezvous store a launcher hosts for its `ranks` workers (as torchrun's agent does): they
// join with TORCHELASTIC_USE_AGENT_STORE set. Port 0 picks a free one.
class RendezvousHost {
 public:
  RendezvousHost(const std::string& addr, int port, int ranks, std::chrono::milliseconds timeout);
  ~RendezvousHost();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace gex
