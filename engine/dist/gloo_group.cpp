#include "dist/gloo_group.h"

#if GEX_WITH_GLOO

#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <regex>
#include <thread>

#include "dist/heartbeat.h"
#include "dist/listen_address.h"
#include "dist/rendezvous.h"
#include "errors.h"

namespace gex {

namespace {

bool is_loopback(const std::string& addr) { return addr == "localhost" || is_loopback_address(addr); }

std::shared_ptr<::gloo::transport::Device> open_device(const World& world) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(world.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  const std::string address = listen_address(world.master_addr);
  return address.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                         : c10d::ProcessGroupGloo::createDeviceForHostname(address);
}

// Gloo's group, whose collectives wait up to a timeout set after it connected: the connection
// waits --dist-timeout (a rank that failed to connect ends the others' wait then), a collective
// the backstop (gloo_backstop). c10d 1.13 gives a collective its context's timeout, and later
// versions the collective's options' (ProcessGroup's all-reduce and broadcast).
class GlooGroup : public c10d::ProcessGroupGloo {
 public:
  using ProcessGroupGloo::ProcessGroupGloo;
  void set_collective_timeout(std::chrono::milliseconds timeout) {
    for (const auto& context : contexts_) context->setTimeout(timeout);
  }
};

// Gloo's words without its check's place and condition: "[enforce fail at device.cc:80] ifa !=
// nullptr. Unable to find address for: eth7" says "Unable to find address for: eth7".
std::string gloo_words(const std::string& what) {
  const std::string line = first_line(what);
  // "[./gloo/transport/tcp/pair.cc:799] connect [127.0.0.1]:22940: Connection refused": its place.
  static const std::regex place(R"(^\[[^ \]]+:[0-9]+\] (.+)$)");
  if (std::smatch words; std::regex_match(line, words, place)) return words[1];
  if (line.rfind("[enforce fail at ", 0) != 0) return line;
  const auto condition = line.find("] ");
  const auto words = condition == std::string::npos ? condition : line.find(". ", condition);
  return words == std::string::npos ? line : line.substr(words + 2);
}

// Where a rank that failed to connect says why, for the others: the first to fail. Where a rank
// says that another was lost meanwhile; and how many ranks were told either.
const std::string kConnectFailedKey = "gex/connect/failed";
const std::string kConnectLostKey = "gex/connect/lost";
const std::string kToldKey = "gex/connect/told";
// How many ranks have connected: a rank goes on only when all have (its own pairs may be done
// while two others' are not), watching meanwhile.
const std::string kConnectedKey = "gex/connect/connected";

// Whether the next rank (rank + 1 mod size) was lost while the ranks connected: its pulse stood
// still while this rank's own rose by kStill beats (a job stopped as a whole stops both). A peer
// killed there leaves Gloo waiting for it to the end of its timeout, and its retries. Each rank
// watches one, reading the store at most once a second: the store's load does not grow with the
// square of the ranks.
class NextRankWatch {
 public:
  NextRankWatch(const Heartbeat& heartbeat, const World& world)
      : m_heartbeat(heartbeat), m_me(world.rank), m_next((world.rank + 1) % world.size) {}
  int next() const { return m_next; }
  bool lost() {
    const auto now = std::chrono::steady_clock::now();
    if (m_next == m_me || now < m_read_at) return false;
    m_read_at = now + std::chrono::seconds(1);
    const int64_t mine = m_heartbeat.pulse(m_me), theirs = m_heartbeat.pulse(m_next);
    if (theirs != m_theirs) {
      m_theirs = theirs, m_mine_then = mine;
      return false;
    }
    return mine - m_mine_then >= kStill;
  }

 private:
  static constexpr int64_t kStill = 10;  // beats: 5 s
  const Heartbeat& m_heartbeat;
  const int m_me, m_next;
  std::chrono::steady_clock::time_point m_read_at{};
  int64_t m_theirs = -1, m_mine_then = 0;
};

// Every rank that stops while connecting counts itself told (the one that failed included), and
// the store's host stays a moment (4 s at most) until the others have read why the job stops,
// rather than leave them a store that is gone. A lost rank never counts: `ranks_left` excludes it.
void tell_and_hold_store(c10d::Store& watch, const World& world, int ranks_left) {
  watch.add(kToldKey, 1);
  if (world.rank == 0 && !world.agent_store)
    wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(4),
               [&] { return watch.add(kToldKey, 0) >= ranks_left; });
}

}  // namespace

std::shared_ptr<gloo::transport::Device> gloo_device(const World& world, std::string& why_not) {
  try {
    return open_device(world);
  } catch (const std::exception& e) {
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    why_not = "rank " + std::to_string(world.rank) + " cannot open its network interface for Gloo (" +
              (ifname && *ifname ? "GLOO_SOCKET_IFNAME=" + std::string(ifname) + ", not an interface of its machine?"
                                 : "the address its hostname resolves to; set GLOO_SOCKET_IFNAME to an interface") +
              "): " + gloo_words(e.what());
    return nullptr;
  }
}

c10::intrusive_ptr<c10d::ProcessGroupGloo> connect_gloo(const c10::intrusive_ptr<c10d::Store>& store,
                                                        c10d::Store& watch, const Heartbeat& heartbeat,
                                                        const World& world,
                                                        std::shared_ptr<gloo::transport::Device> device,
                                                        std::chrono::milliseconds timeout, const std::string& master,
                                                        std::atomic<bool>& abandoned) {
  struct Connecting {
    std::mutex mutex;
    bool done = false;
    c10::intrusive_ptr<GlooGroup> group;
    std::string error;
  };
  auto state = std::make_shared<Connecting>();
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(std::move(device));
  options->threads = 2;
  std::thread connecting([state, options, store = c10::make_intrusive<c10d::PrefixStore>("gex/gloo", store),
                          rank = world.rank, size = world.size] {
    c10::intrusive_ptr<GlooGroup> group;
    std::string error;
    try {
      group = c10::make_intrusive<GlooGroup>(store, rank, size, options);
    } catch (const std::exception& e) {
      error = gloo_words(e.what());
    }
    const std::lock_guard<std::mutex> lock(state->mutex);
    state->group = std::move(group), state->error = std::move(error), state->done = true;
  });
  const auto done = [&] {
    const std::lock_guard<std::mutex> lock(state->mutex);
    return state->done;
  };
  const auto failed = [&] {
    const std::lock_guard<std::mutex> lock(state->mutex);
    return state->done && !state->error.empty();
  };
  const std::string me = "rank " + std::to_string(world.rank);
  std::string other, lost;  // another rank's failure; a lost rank (or the store)
  NextRankWatch next(heartbeat, world);
  bool counted = false;
  try {
    wait_until(std::chrono::steady_clock::time_point::max(), [&] {
      if (failed()) return true;
      if (!counted && done()) counted = watch.add(kConnectedKey, 1) > 0;
      if (counted && watch.add(kConnectedKey, 0) >= world.size) return true;
      if (watch.check({kConnectFailedKey})) other = from_bytes(watch.get(kConnectFailedKey));
      else if (watch.check({kConnectLostKey})) lost = from_bytes(watch.get(kConnectLostKey));
      else if (next.lost())
        lost = set_first(watch, kConnectLostKey, "rank " + std::to_string(next.next()) + " was lost while the ranks connected");
      return !other.empty() || !lost.empty();
    }, std::chrono::milliseconds(200));
  } catch (const std::exception& e) {
    lost = (world.agent_store ? "the launcher" : "rank 0") + std::string(" (which hosts the rendezvous store) was lost "
           "while the ranks connected (") + first_line(e.what()) + ")";
  }
  if (!other.empty() || !lost.empty()) {
    if (done()) {
      connecting.join();
    } else {
      connecting.detach();  // (it holds `state` and what it uses)
      abandoned = true;
    }
    try {
      tell_and_hold_store(watch, world, lost.empty() ? world.size : world.size - 1);
    } catch (const std::exception&) {
    }
    if (!lost.empty()) throw RunError(lost + "; " + me + " stops");
    throw InputError(other + "; " + me + " stops");
  }
  connecting.join();
  if (state->error.empty()) {
    state->group->set_collective_timeout(gloo_backstop(timeout));
    return state->group;
  }
  const std::string why = me + " could not connect to the other " + std::to_string(world.size - 1) +
                          " rank(s) through " + master + " within " + seconds_text(timeout) + ": " + state->error +
                          (is_loopback(world.master_addr)
                               ? ""
                               : " (each rank listens for the others at an address of its machine: GLOO_SOCKET_IFNAME "
                                 "names the interface that the other machines reach)");
  try {
    set_first(watch, kConnectFailedKey, why);
    tell_and_hold_store(watch, world, world.size);
  } catch (const std::exception&) {
    // The store is gone as well: the others say that its host was lost.
  }
  throw InputError(why);
}

std::chrono::milliseconds gloo_backstop(std::chrono::milliseconds timeout) {
  return std::max<std::chrono::milliseconds>(timeout, std::chrono::hours(24 * 7));
}

}  // namespace gex

#endif
