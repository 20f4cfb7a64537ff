#include "dist/listen_address.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

namespace gex {
namespace {

struct Socket {
  int fd;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

using Addresses = std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)>;

Addresses resolve(const std::string& host, const char* service, int socket_type) {
  addrinfo hints{};
  hints.ai_socktype = socket_type;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), service, &hints, &found) != 0) found = nullptr;
  return Addresses(found, ::freeaddrinfo);
}

std::string numeric(const sockaddr* address, socklen_t length) {
  char text[NI_MAXHOST] = {};
  return ::getnameinfo(address, length, text, sizeof text, nullptr, 0, NI_NUMERICHOST) == 0 ? text : "";
}

// The first of `host`'s addresses that is not a loopback one and that this machine can listen at.
std::string own_address_of(const std::string& host) {
  const Addresses found = resolve(host, nullptr, SOCK_STREAM);
  for (const addrinfo* a = found.get(); a; a = a->ai_next) {
    const std::string text = numeric(a->ai_addr, a->ai_addrlen);
    if (text.empty() || is_loopback_address(text)) continue;
    const Socket s{::socket(a->ai_family, SOCK_STREAM, 0)};
    if (s.fd >= 0 && ::bind(s.fd, a->ai_addr, a->ai_addrlen) == 0) return text;
  }
  return "";
}

// The address this machine sends from towards `host`: a UDP socket's connect picks the route and
// sends nothing.
std::string source_towards(const std::string& host) {
  const Addresses found = resolve(host, "9", SOCK_DGRAM);
  for (const addrinfo* a = found.get(); a; a = a->ai_next) {
    const Socket s{::socket(a->ai_family, SOCK_DGRAM, 0)};
    if (s.fd < 0 || ::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) continue;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) continue;
    const std::string text = numeric(reinterpret_cast<const sockaddr*>(&local), length);
    if (!text.empty() && !is_loopback_address(text)) return text;
  }
  return "";
}

}  // namespace

bool is_loopback_address(const std::string& numeric) {
  return numeric.rfind("127.", 0) == 0 || numeric == "::1" || numeric.rfind("::ffff:127.", 0) == 0;
}

std::string listen_address(const std::string& master_addr) {
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0)
    if (std::string own = own_address_of(hostname); !own.empty()) return own;
  // The default route's: towards documentation addresses (RFC 5737, RFC 3849), never a host.
  for (const char* towards : {master_addr.c_str(), "192.0.2.1", "2001:db8::1"})
    if (std::string source = source_towards(towards); !source.empty()) return source;
  return "";
}

}  // namespace gex
