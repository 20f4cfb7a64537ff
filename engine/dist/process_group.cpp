#include "dist/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/cuda.h>
// LibTorch's Gloo process group is declared only for builds that say they have it (Debian's and
// PyTorch's do); it needs Gloo's headers, which a build may lack (GEX_WITH_GLOO=OFF).
#if GEX_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
// NCCL's, for CUDA tensors, where LibTorch was built with it (torch_cuda says USE_C10D_NCCL) and
// nccl.h was found (GEX_WITH_NCCL).
#if GEX_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <ATen/cuda/CUDAContext.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <torch/version.h>
#endif

#include <atomic>
#include <functional>
#include <map>

#include "dist/gloo_group.h"
#include "dist/heartbeat.h"
#include "dist/rendezvous.h"
#include "errors.h"
#include "train/awake_clock.h"

namespace gex {

// Two groups on one store, as PyTorch's "cpu:gloo,cuda:nccl": a collective on host tensors runs on
// Gloo, one on CUDA tensors on NCCL; where only one of them is there, the other's tensors are
// staged through a copy.
struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
#if GEX_WITH_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#if GEX_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
  int nccl_gpu = -1;  // this rank's GPU, where host tensors go when there is no Gloo
#endif
  std::chrono::milliseconds timeout{0};
  bool abandoned = false;  // a Gloo collective this rank stopped waiting for is still under way
  std::string why_not_nccl;
  std::unique_ptr<Heartbeat> heartbeat;  // last: it stops beating before the groups end

  bool has_gloo() const {
#if GEX_WITH_GLOO
    return bool(gloo);
#else
    return false;
#endif
  }
  bool has_nccl() const {
#if GEX_WITH_NCCL
    return bool(nccl);
#else
    return false;
#endif
  }
  // The tensor a collective on `t` runs on: `t` itself where its device's group is there (and it
  // is contiguous), else a copy on the other group's device.
  torch::Tensor staged(const torch::Tensor& t) const;
  c10::intrusive_ptr<c10d::Work> all_reduce(std::vector<torch::Tensor>& tensors);
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<torch::Tensor>& tensors, const c10d::BroadcastOptions& options);
  ~Impl();
};

namespace {

[[noreturn]] void no_collectives(const std::string& why) {
  throw UsageError("this build of gex cannot run data-parallel here: " + why +
                   " (Gloo, c10d's process group for host tensors, needs Gloo's headers at build time; Debian: "
                   "libgloo-dev)");
}

// Waits for `work` until `timeout` of this process's time awake has passed; false where it is not
// done by then. A slice of the wait that ends far later than asked is a stop of the process, in
// which it counts as the slice alone. What the collective fails with is thrown.
bool wait_awake(c10d::Work& work, std::chrono::milliseconds timeout) {
  constexpr std::chrono::milliseconds kSlice{200}, kLate{1000};
  AwakeTally awake(kSlice + kLate);
  while (!work.isCompleted()) {
    try {
      if (work.wait(kSlice)) return true;
    } catch (const std::exception&) {
      // The end of the slice (c10d's "Operation timed out!"; false where a version says it so) or
      // the collective's own error: the work says which, done or not (it may be done by now).
    }
    if (awake.look(AwakeTally::Clock::now()) >= timeout && !work.isCompleted()) return false;
  }
  work.wait();  // done: returns, or throws what the collective failed with
  return true;
}

std::atomic<bool> g_abandoned{false};

}  // namespace

bool collectives_abandoned() { return g_abandoned.load(); }

std::string collectives_built() {
  std::vector<std::string> groups;
#if GEX_WITH_GLOO
  groups.emplace_back("Gloo");
#endif
#if GEX_WITH_NCCL
  groups.emplace_back("NCCL");
#endif
  return groups.empty() ? "" : groups.size() == 1 ? groups[0] : groups[0] + " and " + groups[1];
}

ProcessGroup::ProcessGroup(World world, std::unique_ptr<Impl> impl) : m_world(std::move(world)), m_impl(std::move(impl)) {}

ProcessGroup::~ProcessGroup() {
  if (std::uncaught_exceptions() > m_exceptions_at_join)
    say_failed("");  // an error of this rank's ends the job: its own message says which
}

std::unique_ptr<ProcessGroup> ProcessGroup::join(const World& world, std::chrono::milliseconds timeout) {
#if !GEX_WITH_GLOO && !GEX_WITH_NCCL
  no_collectives("it has neither Gloo nor NCCL");
#endif
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  const std::string master = world.master_addr + ":" + std::to_string(world.master_port);
  check_resolves(world.master_addr, timeout);
  const bool serve = world.rank == 0 && !world.agent_store;
  // (the store's host says it before it serves; another rank at the check-in, to every rank)
  std::string cannot = open_files_for(open_files_needed(world.size, serve), "rank " + std::to_string(world.rank),
                                      serve ? "hosts the rendezvous store of " + std::to_string(world.size) + " ranks"
                                            : "is one of " + std::to_string(world.size) + " ranks");
  if (serve && !cannot.empty()) throw InputError(cannot);
  try {
    impl->store = connect_store(world.master_addr, world.master_port, serve, timeout, world.store_prefix());
  } catch (const std::exception& e) {
    // Rank 0 listens on the port and connects to it through MASTER_ADDR: the bind or the connection failed.
    const std::string what = e.what();
    const bool in_use = what.find("in use") != std::string::npos;
    const bool denied = what.find("Permission denied") != std::string::npos && world.master_port < 1024;
    if (serve)
      throw InputError("rank 0 cannot host the rendezvous store at " + master +
                       (in_use   ? " (is the port in use?): "
                        : denied ? " (a port below 1024 is the system's: give MASTER_PORT from 1024 up): "
                                 : " (rank 0 hosts it: is MASTER_ADDR this machine?): ") +
                       first_line(what));
    throw InputError("rank " + std::to_string(world.rank) + " cannot reach the rendezvous store at " + master +
                     " within " + seconds_text(timeout) + " (MASTER_ADDR, MASTER_PORT; is rank 0 running?): " +
                     first_line(what));
  }
#if GEX_WITH_GLOO
  std::string no_device;
  const auto device = gloo_device(world, no_device);
  if (!no_device.empty()) cannot += (cannot.empty() ? "" : "; and ") + no_device;
#endif
  check_in(*impl->store, world, timeout, cannot);
  c10::intrusive_ptr<c10d::Store> second;
  try {
    second = connect_store(world.master_addr, world.master_port, false, timeout, world.store_prefix());
  } catch (const std::exception& e) {
    throw InputError("rank " + std::to_string(world.rank) + " cannot reach the rendezvous store at " + master +
                     " a second time: " + first_line(e.what()));
  }
  impl->heartbeat = std::make_unique<Heartbeat>(second, world.rank);
#if GEX_WITH_GLOO
  impl->gloo = connect_gloo(impl->store, *second, *impl->heartbeat, world, device, timeout, master, g_abandoned);
#endif
  std::unique_ptr<ProcessGroup> group(new ProcessGroup(world, std::move(impl)));
  group->join_nccl();
  if (!group->m_impl->has_gloo() && !group->m_impl->has_nccl())
    no_collectives("it has no Gloo, and NCCL cannot run (" + group->m_impl->why_not_nccl + ")");
  return group;
}

#if GEX_WITH_NCCL
namespace {
// A GPU as every process names it, whichever index it has there: NVIDIA's UUID. Under Slurm's
// --gpus-per-task each task sees its own GPU as index 0, and ranks on one machine that see the
// same index of the same GPUs name one.
std::string gpu_uuid(int index) {
  const cudaDeviceProp* properties = at::cuda::getDeviceProperties(index);
  static const char* const hex = "0123456789abcdef";
  std::string text = "GPU-";
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    const auto byte = static_cast<unsigned char>(properties->uuid.bytes[i]);
    text += hex[byte >> 4], text += hex[byte & 15];
  }
  return text;
}
}  // namespace
#endif

// NCCL where every rank has a GPU of its own: the GPU of local rank r is r of those it sees, as
// device_of_rank has it. Every rank names its GPU, or why it has none, through the store — all
// builds, so that the exchanges stay in step — and NCCL is used only where all have one and no
// two name the same.
void ProcessGroup::join_nccl() {
  const std::string gpu = "gpu ";
#if GEX_WITH_NCCL
  const int gpus = static_cast<int>(torch::cuda::device_count());
  const std::string mine = gpus == 0 ? "rank " + std::to_string(rank()) + " sees no GPU"
                                     : gpu + gpu_uuid(m_world.local_rank % gpus);
#else
  const std::string mine = "rank " + std::to_string(rank()) + "'s build of gex has no NCCL";
#endif
  const auto answers = exchange("nccl", mine);
  std::map<std::string, int> rank_of_gpu;
  for (int r = 0; r < static_cast<int>(answers.size()); ++r) {
    if (answers[r].rfind(gpu, 0) != 0) {
      m_impl->why_not_nccl = answers[r];
      return;
    }
    if (const auto [first, fresh] = rank_of_gpu.emplace(answers[r], r); !fresh) {
      m_impl->why_not_nccl = "ranks " + std::to_string(first->second) + " and " + std::to_string(r) +
                             " share one GPU (" + answers[r].substr(gpu.size()) + ")";
      return;
    }
  }
#if GEX_WITH_NCCL
  // A blocking wait ends a collective that a lost rank never joins after --dist-timeout with an
  // error, as Gloo's do (exit 4, the lost rank named); NCCL's own watchdog would abort the process.
  ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  m_impl->nccl_gpu = m_world.local_rank % gpus;  // (its communicators start with the first collective on a GPU)
  try {
    auto nccl = c10d::ProcessGroupNCCL::Options::create();
    nccl->timeout = m_impl->timeout;
    m_impl->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
        c10::make_intrusive<c10d::PrefixStore>("gex/nccl", m_impl->store), rank(), size(), nccl);
  } catch (const std::exception& e) {
    throw InputError("rank " + std::to_string(rank()) + " could not start NCCL: " + first_line(e.what()));
  }
#endif
}

std::string ProcessGroup::backend_for(const torch::Device& device) const {
  return device.is_cuda() && m_impl->has_nccl() ? "nccl" : "gloo";
}

std::string ProcessGroup::why_not_nccl() const { return m_impl->why_not_nccl; }

namespace {

// Who stopped the job, as the first rank to know said it: how many ranks it names, a newline, the words.
const std::string kVerdictKey = "gex/lost/verdict";
// A rank's value of an exchange where it stopped instead (no value a rank says holds a NUL).
const std::string kStopped("\0stopped", 8);

// How long the store may leave a beat unanswered before its host counts as silent: far above its
// answer on a busy machine (milliseconds), far below a --dist-timeout.
constexpr std::chrono::milliseconds kStoreSilent{3000};

std::string exchange_key(int64_t exchange, int rank) {
  return "gex/exchange/" + std::to_string(exchange) + "/" + std::to_string(rank);
}

}  // namespace

void ProcessGroup::say_failed(const std::string& why) noexcept {
  if (m_store_gone) return;  // (where it is unreachable rather than closed, each try waits out the timeout)
  const std::string who = "rank " + std::to_string(rank());
  try {
    set_first(*m_impl->store, kVerdictKey,
              "1\n" + (why.empty() ? who + " stopped on an error of its own (its log says which)"
                                    : who + " failed (" + first_line(why) + ")"));
    m_impl->store->set(exchange_key(m_exchanges, rank()), to_bytes(kStopped));
  } catch (const std::exception&) {
    // The store is gone too: the others say that its host was lost, and this rank's log says why.
  }
}

// A collective failed: a peer died, hung or lost its network.
void ProcessGroup::lost(const std::string& during, const std::string& why) {
  std::string who;
  // A store that leaves the heartbeat unanswered is not asked who was lost: the answer is its host,
  // and the question would wait out the store's timeout after the collective's (twice the timeout).
  if (m_impl->heartbeat && m_impl->heartbeat->store_silent(kStoreSilent)) {
    m_store_gone = true;
    // (its beat, stuck in a call to the silent store, is left to the end of the process at once)
    if (!m_impl->heartbeat->stop(std::chrono::milliseconds(0))) g_abandoned = true;
  } else {
    try {
      const auto [text, lost_ranks] = who_was_lost();
      who = text;
      // Rank 0's store holds the answer for the ranks whose collectives fail as this one's did: it
      // stays a moment for them to read it, rather than leave them a store that is gone.
      if (rank() == 0 && !m_world.agent_store)
        wait_until(std::chrono::steady_clock::now() + 4 * Heartbeat::kBeat + std::chrono::seconds(1),
                   [&] { return m_impl->store->add("gex/lost/told", 0) >= size() - lost_ranks; });
    } catch (const std::exception&) {
      m_store_gone = true;
    }
  }
  if (m_store_gone)
    who = m_world.agent_store ? "the launcher (which hosts the rendezvous store) was lost"
                              : "rank 0 (which hosts the rendezvous store) was lost";
  throw RunError(who + " during " + during + "; rank " + std::to_string(rank()) + " stops" +
                 (why.empty() ? "" : " (" + first_line(why) + ")"));
}

// The first rank to look says who, and the store keeps its answer: the others' collectives fail
// later, as the ranks that looked first leave, and they say the same rather than name those. A rank
// is lost where its heartbeat stands still; where every heart still beats, the ranks that do not
// say within a few seconds that their collective failed too are stuck outside it.
std::pair<std::string, int> ProcessGroup::who_was_lost() {
  c10d::Store& store = *m_impl->store;
  std::string verdict;
  if (store.check({kVerdictKey})) {
    verdict = from_bytes(store.get(kVerdictKey));
  } else {
    store.set("gex/alive/" + std::to_string(rank()), to_bytes("1"));
    std::string mine;
    if (const auto dead = m_impl->heartbeat->stopped(size(), 4 * Heartbeat::kBeat); !dead.empty()) {
      mine = std::to_string(dead.size()) + "\n" + ranks_text(dead) + (dead.size() == 1 ? " was lost" : " were lost");
    } else {
      std::vector<int> silent;
      wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(5), [&] {
        silent.clear();
        for (int r = 0; r < size(); ++r)
          if (!store.check({"gex/alive/" + std::to_string(r)})) silent.push_back(r);
        return silent.empty();
      });
      mine = silent.empty() ? "0\na rank stopped answering"
                            : std::to_string(silent.size()) + "\n" + ranks_text(silent) +
                                  " stopped answering (still running, stuck outside the collective)";
    }
    verdict = set_first(store, kVerdictKey, mine);
  }
  store.add("gex/lost/told", 1);
  const auto newline = verdict.find('\n');
  return {verdict.substr(newline + 1), std::stoi(verdict.substr(0, newline))};
}

void ProcessGroup::all_reduce_sum(torch::Tensor& t) { start_all_reduce_sum(t)->wait(); }

torch::Tensor ProcessGroup::Impl::staged(const torch::Tensor& t) const {
  if (t.is_cuda() ? has_nccl() : has_gloo()) return t.contiguous();
  if (t.is_cuda()) return t.to(torch::kCPU).contiguous();
#if GEX_WITH_NCCL
  return t.to(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(nccl_gpu))).contiguous();
#else
  return t;
#endif
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::Impl::all_reduce(std::vector<torch::Tensor>& tensors) {
#if GEX_WITH_NCCL
  if (tensors[0].is_cuda()) return nccl->allreduce(tensors, c10d::AllreduceOptions());
#endif
#if GEX_WITH_GLOO
  c10d::AllreduceOptions options;
  options.timeout = gloo_backstop(timeout);
  return gloo->allreduce(tensors, options);
#else
  no_collectives("it has no Gloo for host tensors");
#endif
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::Impl::broadcast(std::vector<torch::Tensor>& tensors,
                                                             const c10d::BroadcastOptions& options) {
#if GEX_WITH_NCCL
  if (tensors[0].is_cuda()) return nccl->broadcast(tensors, options);
#endif
#if GEX_WITH_GLOO
  c10d::BroadcastOptions with_backstop = options;
  with_backstop.timeout = gloo_backstop(timeout);
  return gloo->broadcast(tensors, with_backstop);
#else
  no_collectives("it has no Gloo for host tensors");
#endif
}

ProcessGroup::Impl::~Impl() {
  // A heartbeat stuck in a call to a store that went silent is left to the end of the process, as
  // an abandoned collective is below.
  if (heartbeat && !heartbeat->stop(Heartbeat::kGrace)) g_abandoned = true;
#if GEX_WITH_GLOO
  // A collective still waiting for a lost rank would hold Gloo's destructor until the backstop:
  // the group is left to the end of the process (which then skips its static destructors).
  if (abandoned) (void)gloo.release();
#endif
#if GEX_WITH_NCCL && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
  // Its communicators end here rather than in a destructor that warns of a group never shut down.
  if (nccl) try {
      nccl->shutdown();
    } catch (const std::exception&) {
    }
#endif
}

namespace {

// A collective under way; `staged` is the tensor it runs on, copied back into `target` at the end
// where it is a copy.
class StartedCollective : public ProcessGroup::Pending {
 public:
  StartedCollective(c10::intrusive_ptr<c10d::Work> work, torch::Tensor staged, torch::Tensor target,
                    std::function<void(c10d::Work&)> wait_for)
      : m_work(std::move(work)), m_staged(std::move(staged)), m_target(std::move(target)), m_wait_for(std::move(wait_for)) {}
  void wait() override {
    if (!m_work) return;
    const auto work = std::move(m_work);  // (waited for once, whether it ends or throws)
    m_wait_for(*work);
    if (!m_staged.is_same(m_target)) m_target.copy_(m_staged);
  }

 private:
  c10::intrusive_ptr<c10d::Work> m_work;
  torch::Tensor m_staged, m_target;
  std::function<void(c10d::Work&)> m_wait_for;
};

}  // namespace

std::unique_ptr<ProcessGroup::Pending> ProcessGroup::start_all_reduce_sum(torch::Tensor t) {
  torch::Tensor staged = m_impl->staged(t);
  std::vector<torch::Tensor> tensors{staged};
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = m_impl->all_reduce(tensors);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    lost("an all-reduce", e.what());
  }
  const bool nccl = staged.is_cuda();
  return std::make_unique<StartedCollective>(std::move(work), staged, t,
                                             [this, nccl](c10d::Work& w) { wait_for(w, nccl, "an all-reduce"); });
}

// NCCL's collectives end by its own blocking wait; Gloo's are waited for --dist-timeout of time
// awake, after which the rank that did not answer is named and this one stops.
void ProcessGroup::wait_for(c10d::Work& work, bool nccl, const std::string& during) {
  try {
    if (nccl ? work.wait() : wait_awake(work, m_impl->timeout)) return;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    lost(during, e.what());
  }
  m_impl->abandoned = true;
  g_abandoned = true;
  lost(during, "no answer within --dist-timeout, " + seconds_text(m_impl->timeout));
}

void ProcessGroup::broadcast_from_rank0(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  // One flat buffer per dtype and device keeps it to a few collectives whatever the layout of each
  // tensor.
  std::map<std::pair<c10::ScalarType, std::string>, std::vector<torch::Tensor>> by_kind;
  for (const auto& t : tensors) by_kind[{t.scalar_type(), t.device().str()}].push_back(t);
  for (auto& [kind, group] : by_kind) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.detach().reshape({-1}));
    std::vector<torch::Tensor> flat{m_impl->staged(torch::cat(flat_parts))};
    const std::string during = "the broadcast of rank 0's weights";
    c10::intrusive_ptr<c10d::Work> work;
    try {
      c10d::BroadcastOptions options;
      options.rootRank = 0;
      work = m_impl->broadcast(flat, options);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      lost(during, e.what());
    }
    wait_for(*work, flat[0].is_cuda(), during);
    torch::NoGradGuard no_grad;
    int64_t offset = 0;
    for (auto& t : group) {
      t.copy_(flat[0].slice(0, offset, offset + t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

// Each rank's value is waited for in turn, by a get the store answers as soon as it is set (a rank
// that polled could miss it while rank 0, done, took the store away). A rank that stops on an error
// of its own sets kStopped as its value of the next exchange, which ends the others' wait at once.
std::vector<std::string> ProcessGroup::exchange(const std::string& key, const std::string& mine) {
  const int64_t n = m_exchanges++;
  c10d::Store& store = *m_impl->store;
  std::vector<std::string> all;
  try {
    store.set(exchange_key(n, rank()), to_bytes(mine));
    for (int r = 0; r < size(); ++r) {
      all.push_back(from_bytes(store.get(exchange_key(n, r))));
      if (all.back() == kStopped) lost("the exchange of " + key, "");
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    lost("the exchange of " + key, e.what());
  }
  return all;
}

struct RendezvousHost::Impl {
  c10::intrusive_ptr<c10d::Store> store;  // a TCPStore, this process its host
};

RendezvousHost::RendezvousHost(const std::string& addr, int port, int ranks, std::chrono::milliseconds timeout)
    : m_impl(std::make_unique<Impl>()) {
  if (const std::string why = open_files_for(open_files_needed(ranks, true), "the launcher",
                                             "hosts the rendezvous store of " + std::to_string(ranks) + " ranks");
      !why.empty())
    throw InputError(why);
  try {
    m_impl->store = connect_store(addr, port, true, timeout);
  } catch (const std::exception& e) {
    throw InputError("cannot host the rendezvous store at " + addr + ":" + std::to_string(port) + ": " +
                     first_line(e.what()));
  }
}

RendezvousHost::~RendezvousHost() = default;

int RendezvousHost::port() const { return static_cast<c10d::TCPStore&>(*m_impl->store).getPort(); }

}  // namespace gex
