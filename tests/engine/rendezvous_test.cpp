// The network side of a data-parallel job that loopback hides: where a rank listens for Gloo when
// the job spans machines, and a heartbeat whose store went silent (a machine or its network gone,
// where no connection is closed and a call to the store waits for many minutes).
#include <gtest/gtest.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dist/heartbeat.h"
#include "dist/listen_address.h"
#include "dist/rendezvous.h"

namespace gex {
namespace {

// This machine's addresses other than loopback ones, as its interfaces have them.
std::set<std::string> own_addresses() {
  std::set<std::string> found;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return found;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
    const socklen_t length = i->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    char text[NI_MAXHOST] = {};
    if (::getnameinfo(i->ifa_addr, length, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) continue;
    const std::string address = text;
    if (address.rfind("127.", 0) != 0 && address != "::1" && address.find('%') == std::string::npos)
      found.insert(address);
  }
  ::freeifaddrs(list);
  return found;
}

TEST(Rendezvous, GlooListensAtAnAddressOfThisMachineThatIsNotLoopback) {
  EXPECT_TRUE(is_loopback_address("127.0.0.1"));
  EXPECT_TRUE(is_loopback_address("127.0.1.1"));  // Debian's and Ubuntu's for the hostname
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1"));
  EXPECT_FALSE(is_loopback_address("fe80::1"));

  const auto own = own_addresses();
  std::string ipv4;
  for (const auto& a : own)
    if (a.find(':') == std::string::npos) ipv4 = a;
  if (ipv4.empty()) GTEST_SKIP() << "this machine has no IPv4 address but loopback ones";
  // A master at one of this machine's own addresses (rank 0's machine), whatever the hostname
  // resolves to here: an address of this machine the others can connect to, never loopback.
  const std::string chosen = listen_address(ipv4);
  EXPECT_EQ(own.count(chosen), 1u) << chosen << " is not an address of this machine's interfaces";
}

// A store whose machine goes silent on cue: a relay to a real store that, once silenced, passes
// nothing more either way and closes nothing, as a machine or network gone silent (the kernel
// keeps the connections; no answer ever comes). A relay rather than a socket that never answered:
// LibTorch 2.x's client waits for the store's answer already when it connects. Its thread and
// connections are left to the end of the process: closing them would reset the connections under
// c10d's own thread of the client, which ends the process on the error.
class SilencingRelay {
 public:
  explicit SilencingRelay(int store_port) : m_store_port(store_port) {
    m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    if (m_listener < 0 || ::bind(m_listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(m_listener, 8) != 0 || ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      return;
    m_port = ntohs(address.sin_port);
    std::thread([this] { relay(); }).detach();
  }
  int port() const { return m_port; }
  void silence() { m_silent = true; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    return address;
  }
  void relay() {
    std::vector<int> partner(1024, -1);  // by file descriptor, the other end of its pair
    std::vector<pollfd> watched;
    for (;;) {
      watched.assign(1, pollfd{m_listener, POLLIN, 0});
      if (!m_silent)
        for (int fd = 0; fd < static_cast<int>(partner.size()); ++fd)
          if (partner[fd] >= 0) watched.push_back(pollfd{fd, POLLIN, 0});
      if (::poll(watched.data(), watched.size(), 50) <= 0) continue;
      if (watched[0].revents & POLLIN) {
        const int client = ::accept(m_listener, nullptr, nullptr);
        const int store = ::socket(AF_INET, SOCK_STREAM, 0);
        const sockaddr_in address = loopback(m_store_port);
        if (client >= 0 && client < 1024 && store >= 0 && store < 1024 &&
            ::connect(store, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
          partner[client] = store, partner[store] = client;
      }
      for (size_t i = 1; i < watched.size() && !m_silent; ++i) {
        if (!(watched[i].revents & (POLLIN | POLLHUP))) continue;
        char bytes[65536];
        const ssize_t n = ::read(watched[i].fd, bytes, sizeof bytes);
        if (n > 0) (void)!::write(partner[watched[i].fd], bytes, static_cast<size_t>(n));
      }
    }
  }
  int m_listener = -1, m_port = -1, m_store_port;
  std::atomic<bool> m_silent{false};
};

TEST(Rendezvous, AHeartbeatStuckOnASilentStoreIsLeftRatherThanWaitedFor) {
  using Clock = std::chrono::steady_clock;
  auto served = connect_store("127.0.0.1", 0, true, std::chrono::seconds(5));
  // A store that answers: the heartbeat stops at once.
  {
    Heartbeat beating(served, 0);
    const auto start = Clock::now();
    EXPECT_TRUE(beating.stop(std::chrono::seconds(5)));
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  }
  // A store that went silent: the beat waits in its call for an answer that never comes; stopping
  // leaves it (it waited there for many minutes, holding the rank's exit, before).
  static SilencingRelay relay(dynamic_cast<c10d::TCPStore&>(*served).getPort());
  ASSERT_GT(relay.port(), 0);
  auto store = connect_store("127.0.0.1", relay.port(), false, std::chrono::seconds(5));
  auto stuck = std::make_shared<Heartbeat>(store, 1);
  ASSERT_TRUE(wait_until(Clock::now() + std::chrono::seconds(5), [&] { return served->add("gex/heartbeat/1", 0) > 0; }))
      << "no beat came through the relay";
  relay.silence();
  std::this_thread::sleep_for(Heartbeat::kBeat + std::chrono::milliseconds(200));  // into a beat's call
  // (stopped from a thread of its own, so that a stop that waits fails here rather than hangs)
  auto stopped = std::make_shared<std::promise<bool>>();
  auto answer = stopped->get_future();
  std::thread([stuck, stopped] { stopped->set_value(stuck->stop(std::chrono::milliseconds(300))); }).detach();
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "stop waited for the stuck beat";
  EXPECT_FALSE(answer.get());
  EXPECT_TRUE(stuck->stop(std::chrono::milliseconds(300))) << "stopped already: nothing left to wait for";
}

}  // namespace
}  // namespace gex
