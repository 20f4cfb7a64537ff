// One writer per run directory. Two `gex train` processes on one run (a second --resume while the
// first still trains, the application's and a terminal's) would interleave metrics.csv and
// replace each other's checkpoints; the second is refused instead, naming the first.
#pragma once

#include <optional>
#include <string>

namespace gex {

class RunLock {
 public:
  // Takes RUN/.lock (creating it); UsageError naming the run and the holder (pid, host, since)
  // when another process holds it past a short retry (a glance by run_is_locked never refuses a
  // writer). The kernel releases the lock when this process ends, however it ends, so a crash
  // never leaves a run locked. (flock(2): also between nodes on NFS; on a file system without
  // flock, such as Lustre mounted without it, the run goes on unlocked, as before locks.)
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int m_fd = -1;
};

// Whether a process holds RUN's lock now, i.e. whether the run's writer is alive; nullopt when the
// run has no lock file (trained before locks) or its file system has no flock. Takes nothing.
std::optional<bool> run_is_locked(const std::string& run_dir);

}  // namespace gex
