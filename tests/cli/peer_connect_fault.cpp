// Preloaded (LD_PRELOAD) into the ranks of a test: a rank's first TCP connection to a port other
// than MASTER_PORT — Gloo's connection to a peer; the store's are to MASTER_PORT — is made to fail.
// - GEX_TEST_STALLED=FILE: it writes the rank (RANK) to FILE and never returns, so that the test
//   can kill the rank inside Gloo's connection, a window otherwise a few milliseconds long. Its
//   heartbeat goes on meanwhile, as a rank's does while it connects.
// - GEX_TEST_REFUSED=1: it fails at once (EACCES, as a firewall's reject), and so does every
//   later connection to a peer: the rank's own connection fails.
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

void stall(const std::string& marker) {
  const char* rank = std::getenv("RANK");
  const std::string partial = marker + ".partial";
  if (FILE* f = std::fopen(partial.c_str(), "w")) {
    std::fputs(rank ? rank : "?", f);
    std::fclose(f);
    std::rename(partial.c_str(), marker.c_str());
  }
  for (;;) pause();
}

}  // namespace

extern "C" int connect(int fd, const sockaddr* address, socklen_t length) {
  using Connect = int (*)(int, const sockaddr*, socklen_t);
  static const auto real = reinterpret_cast<Connect>(dlsym(RTLD_NEXT, "connect"));
  const char* stalled = std::getenv("GEX_TEST_STALLED");
  const char* refused = std::getenv("GEX_TEST_REFUSED");
  const char* master = std::getenv("MASTER_PORT");
  int type = 0;
  socklen_t type_length = sizeof type;
  if ((stalled || refused) && master && address && address->sa_family == AF_INET &&
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_length) == 0 && type == SOCK_STREAM &&
      ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port) != std::atoi(master)) {
    if (stalled) stall(stalled);
    errno = EACCES;
    return -1;
  }
  return real(fd, address, length);
}
