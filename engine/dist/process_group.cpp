#include "dist/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// LibTorch's Gloo process group is declared only for builds that say they have it (Debian's and
// PyTorch's do); it needs Gloo's headers, which a build may lack (GEX_WITH_GLOO=OFF).
#if GEX_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#include <cstdlib>
#include <map>
#include <thread>

#include "errors.h"

namespace gex {

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
#if GEX_WITH_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
#endif
  std::chrono::milliseconds timeout{0};
};

namespace {

std::string seconds(std::chrono::milliseconds t) { return std::to_string(t.count() / 1000) + " s"; }

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

#if GEX_WITH_GLOO
// Gloo's network interface: GLOO_SOCKET_IFNAME as in PyTorch, loopback for a local job, else the
// address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const World& world) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(world.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

#if !GEX_WITH_GLOO
[[noreturn]] void no_gloo() {
  throw UsageError("this build of gex has no Gloo (c10d's process group): data-parallel training needs Gloo's "
                   "headers at build time (Debian: libgloo-dev)");
}
#endif

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

ProcessGroup::ProcessGroup(World world, std::unique_ptr<Impl> impl) : m_world(std::move(world)), m_impl(std::move(impl)) {}

ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::join(const World& world, std::chrono::milliseconds timeout) {
#if !GEX_WITH_GLOO
  no_gloo();
#endif
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  const std::string master = world.master_addr + ":" + std::to_string(world.master_port);
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(world.master_port);
  options.isServer = world.rank == 0 && !world.agent_store;
  options.waitWorkers = false;
  options.timeout = timeout;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, options);
  } catch (const std::exception& e) {
    if (options.isServer)
      throw InputError("rank 0 cannot host the rendezvous store at " + master + " (is the port in use?): " +
                       first_line(e.what()));
    throw InputError("rank " + std::to_string(world.rank) + " cannot reach the rendezvous store at " + master +
                     " within " + seconds(timeout) + " (MASTER_ADDR, MASTER_PORT; is rank 0 running?): " +
                     first_line(e.what()));
  }
#if GEX_WITH_GLOO
  try {
    auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
    gloo->devices.push_back(gloo_device(world));
    gloo->threads = 2;
    impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gex/gloo", impl->store), world.rank, world.size, gloo);
  } catch (const std::exception& e) {
    throw InputError("rank " + std::to_string(world.rank) + " could not connect to the other " +
                     std::to_string(world.size - 1) + " rank(s) through " + master + " within " + seconds(timeout) +
                     ": " + first_line(e.what()));
  }
#endif
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(world, std::move(impl)));
}

// A collective failed: a peer died, hung or lost its network. The ranks still alive say so in the
// store; the ones that do not within a few seconds are named.
void ProcessGroup::lost(const std::string& during, const std::string& why) {
  std::vector<int> silent;
  bool store_lost = false;
  try {
    m_impl->store->set("gex/alive/" + std::to_string(rank()), std::vector<uint8_t>{1});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    do {
      silent.clear();
      for (int r = 0; r < size(); ++r)
        if (!m_impl->store->check({"gex/alive/" + std::to_string(r)})) silent.push_back(r);
      if (silent.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < deadline);
  } catch (const std::exception&) {
    store_lost = true;
  }
  std::string who;
  if (store_lost) {
    who = m_world.agent_store ? "the launcher (which hosts the rendezvous store) was lost"
                              : "rank 0 (which hosts the rendezvous store) was lost";
  } else if (silent.empty()) {
    who = "a rank stopped answering";
  } else {
    who = silent.size() == 1 ? "rank " : "ranks ";
    for (size_t i = 0; i < silent.size(); ++i) who += (i ? ", " : "") + std::to_string(silent[i]);
    who += silent.size() == 1 ? " was lost" : " were lost";
  }
  throw RunError(who + " during " + during + "; rank " + std::to_string(rank()) + " stops (" + first_line(why) +
                 ")");
}

void ProcessGroup::all_reduce_sum(torch::Tensor& t) { start_all_reduce_sum(t)->wait(); }

namespace {

class GlooPending : public ProcessGroup::Pending {
 public:
  GlooPending(c10::intrusive_ptr<c10d::Work> work, torch::Tensor host, torch::Tensor target,
              std::function<void(const std::string&)> on_failure)
      : m_work(std::move(work)), m_host(std::move(host)), m_target(std::move(target)), m_failed(std::move(on_failure)) {}
  void wait() override {
    if (!m_work) return;
    try {
      m_work->wait();
    } catch (const std::exception& e) {
      m_work.reset();
      m_failed(e.what());
    }
    m_work.reset();
    if (!m_host.is_same(m_target)) m_target.copy_(m_host);
  }

 private:
  c10::intrusive_ptr<c10d::Work> m_work;
  torch::Tensor m_host, m_target;
  std::function<void(const std::string&)> m_failed;
};

}  // namespace

std::unique_ptr<ProcessGroup::Pending> ProcessGroup::start_all_reduce_sum(torch::Tensor t) {
  // Gloo reduces contiguous host tensors; others go through a host copy.
  torch::Tensor host = t.device().is_cpu() && t.is_contiguous() ? t : t.to(torch::kCPU).contiguous();
  std::vector<torch::Tensor> tensors{host};
  c10::intrusive_ptr<c10d::Work> work;
  try {
#if GEX_WITH_GLOO
    work = m_impl->group->allreduce(tensors, c10d::AllreduceOptions());
#else
    no_gloo();
#endif
  } catch (const std::exception& e) {
    lost("an all-reduce", e.what());
  }
  return std::make_unique<GlooPending>(std::move(work), host, t,
                                       [this](const std::string& why) { lost("an all-reduce", why); });
}

void ProcessGroup::broadcast_from_rank0(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  // One flat buffer per dtype keeps it to a few collectives whatever the layout of each tensor.
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
  for (const auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  for (auto& [type, group] : by_type) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.detach().to(torch::kCPU).reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
    try {
      c10d::BroadcastOptions options;
      options.rootRank = 0;
#if GEX_WITH_GLOO
      m_impl->group->broadcast(flat, options)->wait();
#else
      no_gloo();
#endif
    } catch (const std::exception& e) {
      lost("the broadcast of rank 0's weights", e.what());
    }
    torch::NoGradGuard no_grad;
    int64_t offset = 0;
    for (auto& t : group) {
      t.copy_(flat[0].slice(0, offset, offset + t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

std::vector<std::string> ProcessGroup::exchange(const std::string& key, const std::string& mine) {
  const std::string prefix = "gex/exchange/" + std::to_string(m_exchanges++) + "/" + key + "/";
  std::vector<std::string> all;
  try {
    m_impl->store->set(prefix + std::to_string(rank()), std::vector<uint8_t>(mine.begin(), mine.end()));
    for (int r = 0; r < size(); ++r) {
      const auto value = m_impl->store->get(prefix + std::to_string(r));
      all.emplace_back(value.begin(), value.end());
    }
  } catch (const std::exception& e) {
    lost("the exchange of " + key, e.what());
  }
  return all;
}

struct RendezvousHost::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
};

RendezvousHost::RendezvousHost(const std::string& addr, int port, std::chrono::milliseconds timeout)
    : m_impl(std::make_unique<Impl>()) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.isServer = true;
  options.waitWorkers = false;
  options.timeout = timeout;
  try {
    m_impl->store = c10::make_intrusive<c10d::TCPStore>(addr, options);
  } catch (const std::exception& e) {
    throw InputError("cannot host the rendezvous store at " + addr + ":" + std::to_string(port) + ": " +
                     first_line(e.what()));
  }
}

RendezvousHost::~RendezvousHost() = default;

int RendezvousHost::port() const { return m_impl->store->getPort(); }

}  // namespace gex
