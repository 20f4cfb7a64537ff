#include "dist/rendezvous.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <netdb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <thread>

#include "errors.h"

namespace gex {

void check_resolves(const std::string& host, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc == 0) {
      ::freeaddrinfo(found);
      return;
    }
    if (rc != EAI_AGAIN || std::chrono::steady_clock::now() >= deadline)
      throw InputError("MASTER_ADDR " + host + " does not resolve to an address: " + ::gai_strerror(rc));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// (the store's host two sockets for each of every rank's two connections, its own and its
// heartbeat's: LibTorch 1.13's client opens a second socket for callbacks; every rank one for each
// peer of Gloo's mesh, a launcher a pipe or two for each worker instead; and some for the rest)
int64_t open_files_needed(int ranks, bool hosts_store) { return (hosts_store ? 5 : 1) * int64_t{ranks} + 32; }

std::string open_files_for(int64_t needed, const std::string& who, const std::string& what) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
      static_cast<int64_t>(limit.rlim_cur) >= needed)
    return "";
  const auto soft = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(needed) : limit.rlim_max;
  if (static_cast<int64_t>(limit.rlim_cur) >= needed && ::setrlimit(RLIMIT_NOFILE, &limit) == 0) return "";
  return who + " " + what + ", which takes about " + std::to_string(needed) + " open files, but it may have " +
         std::to_string(std::max(soft, limit.rlim_cur)) +
         " (ulimit -n; raise the hard limit: limits.conf, systemd's LimitNOFILE)";
}

namespace {

// TCPStore's libuv server, where the version has the choice (LibTorch 2.2 on; the default from 2.4).
template <typename Options>
auto use_libuv(Options& options, bool use, int) -> decltype(options.useLibUV = use, bool()) {
  const bool was = options.useLibUV;
  options.useLibUV = use;
  return was;
}
template <typename Options>
bool use_libuv(Options&, bool, long) {
  return false;
}

// What a service that is not a store answered, as c10d read it (8 bytes as a number): its text
// where it is text ("HTTP/1.1"), else the number.
std::string answer_text(int64_t answer) {
  char bytes[sizeof answer];
  std::memcpy(bytes, &answer, sizeof answer);
  const bool text = std::all_of(bytes, bytes + sizeof bytes, [](char c) { return c >= 0x20 && c < 0x7f; });
  return text ? "\"" + std::string(bytes, sizeof bytes) + "…\"" : std::to_string(answer);
}

}  // namespace

c10::intrusive_ptr<c10d::Store> connect_store(const std::string& addr, int port, bool serve,
                                              std::chrono::milliseconds timeout, const std::string& prefix) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(port);
  options.isServer = serve;
  options.waitWorkers = false;
  options.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(addr, options);
  } catch (const std::exception& e) {
    // A LibTorch 2.4 or later built without libuv (Debian's, Ubuntu's) asks for it by default and
    // refuses: "use_libuv was requested but PyTorch was build without libuv support". Its own
    // server then, as PyTorch's Python does where USE_LIBUV=0.
    if (std::string(e.what()).find("libuv") == std::string::npos || !use_libuv(options, false, 0)) throw;
    store = c10::make_intrusive<c10d::TCPStore>(addr, options);
  }
  if (!prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
  return store;
}

void check_in(c10d::Store& store, const World& world, std::chrono::milliseconds timeout, const std::string& cannot) {
  const std::string refused = "gex/join/refused", came = "gex/join/came", read = "gex/join/read";
  const auto key = [](int rank) { return "gex/join/" + std::to_string(rank); };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // First, that what answers at MASTER_ADDR:MASTER_PORT is a store: another service there (a web
  // server answers c10d's query with "HTTP/1.1 400", read as a number) would otherwise pass for
  // a store that was lost. A new key's first add returns what was added.
  std::string answer;
  try {
    const int64_t hello = 20181203;  // (any number a garbled answer will not be)
    const int64_t got = store.add("gex/join/hello/" + std::to_string(std::random_device{}()) + "-" +
                                  std::to_string(::getpid()), hello);
    if (got != hello) answer = "it answered " + answer_text(got) + " where a store answers " + std::to_string(hello);
  } catch (const std::exception& e) {
    // (a web server that answers a query it cannot parse and closes at once: c10d's client then
    // finds the connection closed while it sends the rest of the query, or before it reads)
    const std::string error = first_line(e.what());
    const bool closed = error.find("Broken pipe") != std::string::npos ||
                        error.find("Connection reset") != std::string::npos ||
                        error.find("closed by peer") != std::string::npos;
    answer = closed ? "it closed the connection on a store's query: " + error : error;
  }
  if (!answer.empty()) {
    const std::string at = world.master_addr + ":" + std::to_string(world.master_port);
    throw InputError(world.rank == 0 && !world.agent_store
                         ? "rank 0 hosts the rendezvous store on port " + std::to_string(world.master_port) +
                               ", but what answers at " + at + " is not it (" + answer +
                               "): MASTER_ADDR must be an address of rank 0's machine"
                         : "what answers at " + at + " is not a rendezvous store (" + answer +
                               "): is MASTER_PORT another service's port, or MASTER_ADDR not rank 0's machine?");
  }
  std::string why;
  try {
    if (!cannot.empty()) set_first(store, refused, cannot);
    // (said before this rank counts as come: the ranks that would take the job as formed read it)
    const std::string size = std::to_string(world.size), mine = size + " on rank " + std::to_string(world.rank);
    if (const std::string first = set_first(store, "gex/join/size", mine); first.substr(0, first.find(' ')) != size)
      set_first(store, refused, "the ranks were started with different numbers of ranks: " + first + ", " + mine +
                                    " (" + world.size_variable + "; every rank of a job must be given the same)");
    if (store.add(key(world.rank), 1) > 1)  // (a launch that gave two processes one RANK)
      set_first(store, refused, "two processes say they are rank " + std::to_string(world.rank) + " of " +
                                    std::to_string(world.size) + " (each rank of the job must be started once)");
    store.add(came, 1);
    wait_until(deadline, [&] { return store.check({refused}) || store.add(came, 0) >= world.size; });
    if (!store.check({refused})) {
      if (store.add(came, 0) >= world.size) return;
      std::vector<int> missing;
      for (int r = 0; r < world.size; ++r)
        if (!store.check({key(r)})) missing.push_back(r);
      set_first(store, refused,
                ranks_text(missing) + " did not join the job within " + seconds_text(timeout) +
                    " (not started, or stopped before it reached " + world.master_addr + ":" +
                    std::to_string(world.master_port) + (missing.size() == 1 ? ": its log says" : ": their logs say") +
                    " which)");
    }
    why = from_bytes(store.get(refused));
    store.add(read, 1);
    // (every rank, or past the deadline those that came: the others could not reach it anyway)
    if (world.rank == 0 && !world.agent_store)
      wait_until(std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2)), [&] {
        const int64_t told = store.add(read, 0);
        return told >= world.size || (std::chrono::steady_clock::now() >= deadline && told >= store.add(came, 0));
      });
  } catch (const std::exception& e) {
    throw InputError((world.agent_store ? "the launcher" : "rank 0") +
                     std::string(" (which hosts the rendezvous store) was lost while the ranks joined; rank ") +
                     std::to_string(world.rank) + " stops (" + first_line(e.what()) + ")");
  }
  throw InputError(cannot.empty() ? why + "; rank " + std::to_string(world.rank) + " stops" : cannot);
}

std::string set_first(c10d::Store& store, const std::string& key, const std::string& value) {
  try {
    return from_bytes(store.compareSet(key, {}, to_bytes(value)));
  } catch (const std::exception&) {
    if (!store.check({key})) store.set(key, to_bytes(value));
    return from_bytes(store.get(key));
  }
}

bool wait_until(std::chrono::steady_clock::time_point deadline, const std::function<bool()>& done,
                std::chrono::milliseconds longest) {
  for (auto pause = std::chrono::milliseconds(5);; pause = std::min(2 * pause, longest)) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
  }
}

std::vector<uint8_t> to_bytes(const std::string& text) { return {text.begin(), text.end()}; }

std::string from_bytes(const std::vector<uint8_t>& value) { return {value.begin(), value.end()}; }

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string seconds_text(std::chrono::milliseconds t) { return std::to_string(t.count() / 1000) + " s"; }

}  // namespace gex
