// Preloaded (LD_PRELOAD) into the ranks of a test: a rank's first TCP connection to a port other
// than MASTER_PORT — Gloo's connection to a peer; the store's are to MASTER_PORT — writes the
// rank (RANK) to the file GEX_TEST_STALLED names and never returns, so that the test can kill the
// rank inside Gloo's connection, a window otherwise a few milliseconds long. Its heartbeat goes
// on meanwhile, as a rank's does while it connects.
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" int connect(int fd, const sockaddr* address, socklen_t length) {
  using Connect = int (*)(int, const sockaddr*, socklen_t);
  static const auto real = reinterpret_cast<Connect>(dlsym(RTLD_NEXT, "connect"));
  const char* marker = std::getenv("GEX_TEST_STALLED");
  const char* master = std::getenv("MASTER_PORT");
  int type = 0;
  socklen_t type_length = sizeof type;
  if (marker && master && address && address->sa_family == AF_INET &&
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_length) == 0 && type == SOCK_STREAM &&
      ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port) != std::atoi(master)) {
    const char* rank = std::getenv("RANK");
    const std::string path = marker, partial = path + ".partial";
    if (FILE* f = std::fopen(partial.c_str(), "w")) {
      std::fputs(rank ? rank : "?", f);
      std::fclose(f);
      std::rename(partial.c_str(), path.c_str());
    }
    for (;;) pause();
  }
  return real(fd, address, length);
}
