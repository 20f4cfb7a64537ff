#include "train/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "errors.h"
#include "io/atomic_file.h"

namespace gex {
namespace {

// "pid 1234 on node7 since 2026-11-29 17:05:12": who holds the lock, for the one refused.
std::string holder_line() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknown");
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char since[32] = {};
  std::strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S", &local);
  return "pid " + std::to_string(::getpid()) + " on " + host + " since " + since;
}

std::string lock_path(const std::string& run_dir) { return (std::filesystem::path(run_dir) / ".lock").string(); }

bool held_elsewhere(int error) { return error == EWOULDBLOCK; }
// Lustre without -o flock answers ENOSYS; some FUSE and NFS set-ups ENOLCK or EOPNOTSUPP.
bool no_flock_here(int error) { return error == ENOSYS || error == ENOLCK || error == EOPNOTSUPP || error == EINVAL; }

}  // namespace

RunLock::RunLock(const std::string& run_dir) {
  const std::string path = lock_path(run_dir);
  m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (m_fd < 0) throw InputError(path, std::string("cannot open the run's lock file: ") + std::strerror(errno));
  int error = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {  // 1 s: outlasts another process's glance
    if (::flock(m_fd, LOCK_EX | LOCK_NB) == 0) {
      error = 0;
      break;
    }
    error = errno;
    if (error != EWOULDBLOCK) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (error != 0) {
    ::close(m_fd);
    m_fd = -1;
    if (!held_elsewhere(error)) {
      if (no_flock_here(error)) return;  // this file system cannot lock: unlocked, as before locks
      throw InputError(path, std::string("cannot lock the run: ") + std::strerror(error));
    }
    std::string holder;
    try {
      holder = read_file(path);
    } catch (const Error&) {
    }
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\r')) holder.pop_back();
    throw UsageError(run_dir + " is being written by another process" + (holder.empty() ? "" : " (" + holder + ")") +
                     "; a run has one writer: wait for it to end or stop it");
  }
  // Ours now: say who holds it, in place (the lock is on this very file, so never renamed over).
  const std::string line = holder_line() + "\n";
  const bool said = ::ftruncate(m_fd, 0) == 0 && ::pwrite(m_fd, line.data(), line.size(), 0) == ssize_t(line.size());
  (void)said;  // a failure costs a refused process only the holder's name; the lock holds
}

RunLock::~RunLock() {
  if (m_fd >= 0) ::close(m_fd);  // releases the lock
}

std::optional<bool> run_is_locked(const std::string& run_dir) {
  const int fd = ::open(lock_path(run_dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<bool> locked;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0)
    locked = false;  // closing the file below lets go at once
  else if (held_elsewhere(errno))
    locked = true;
  ::close(fd);
  return locked;
}

}  // namespace gex
