// Seconds that a process spent awake: a steady clock that stands still while the process is
// stopped (SIGSTOP: Pause in the application, Ctrl-Z, Slurm's suspend), so that a pause does not
// count as training time in images/s, the ETA and a run's training seconds.
#pragma once

#include <chrono>
#include <memory>

namespace gex {

class AwakeClock {
 public:
  AwakeClock();  // starts at 0 s
  ~AwakeClock();
  AwakeClock(const AwakeClock&) = delete;
  AwakeClock& operator=(const AwakeClock&) = delete;

  double seconds() const;

  // A thread of its own wakes every tick and counts at most a tick and the latest a busy machine
  // may wake it of each gap: a stop counts as at most kTick + kLate.
  static constexpr std::chrono::milliseconds kTick{100};
  static constexpr std::chrono::milliseconds kLate{250};

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace gex
