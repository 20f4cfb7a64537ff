// The network side of a data-parallel job that loopback hides: where a rank listens for Gloo when
// the job spans machines, and a heartbeat whose store went silent (a machine or its network gone,
// where no connection is closed and a call to the store waits for many minutes).
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>

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

// A store on a machine that went silent: the kernel takes the connection (the listen backlog) and
// nothing ever answers. Kept open to the end of the process: closing it would reset the
// connections under c10d's own thread of the client, which ends the process on the error.
class SilentStore {
 public:
  SilentStore() {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(m_fd, 8) != 0 ||
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      m_port = -1;
    else
      m_port = ntohs(address.sin_port);
  }
  int port() const { return m_port; }

 private:
  int m_fd = -1, m_port = -1;
};

TEST(Rendezvous, AHeartbeatStuckOnASilentStoreIsLeftRatherThanWaitedFor) {
  using Clock = std::chrono::steady_clock;
  // A store that answers: the heartbeat stops at once.
  {
    auto store = connect_store("127.0.0.1", 0, true, std::chrono::seconds(5));
    Heartbeat beating(store, 0);
    const auto start = Clock::now();
    EXPECT_TRUE(beating.stop(std::chrono::seconds(5)));
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  }
  // A store that went silent: the beat waits in its call for an answer that never comes; stopping
  // leaves it (it waited there for many minutes, holding the rank's exit, before).
  static const SilentStore silent;
  ASSERT_GT(silent.port(), 0);
  auto store = connect_store("127.0.0.1", silent.port(), false, std::chrono::seconds(5));
  auto stuck = std::make_shared<Heartbeat>(store, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // into its first beat's call
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
