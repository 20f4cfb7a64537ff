// Seconds that a process spent awake: a steady clock that stands still while the process is
// stopped (SIGSTOP: Pause in the application, Ctrl-Z, Slurm's suspend), so that a pause does not
// count as training time in images/s, the ETA and a run's training seconds.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>

namespace gex {

// Time awake summed over the gaps between looks at the steady clock: a gap counts at most
// `longest` (the latest its owner may look on a busy machine); the rest of it was a stop of the
// process. Its owner alone looks: no lock.
class AwakeTally {
 public:
  using Clock = std::chrono::steady_clock;
  explicit AwakeTally(Clock::duration longest) : m_longest(longest) {}
  // Awake until `now`, without looking.
  Clock::duration at(Clock::time_point now) const { return m_awake + std::min(now - m_last, m_longest); }
  // Looks at `now`: the time awake until then.
  Clock::duration look(Clock::time_point now) {
    m_awake = at(now), m_last = now;
    return m_awake;
  }

 private:
  Clock::duration m_longest, m_awake{0};
  Clock::time_point m_last = Clock::now();
};

class AwakeClock {
 public:
  AwakeClock();  // starts at 0 s
  ~AwakeClock();
  AwakeClock(const AwakeClock&) = delete;
  AwakeClock& operator=(const AwakeClock&) = delete;

  double seconds() const;

  // A thread of its own wakes every tick and counts at most a tick and the latest a busy machine
  // may wake it of each gap (an AwakeTally): a stop counts as at most kTick + kLate.
  static constexpr std::chrono::milliseconds kTick{100};
  static constexpr std::chrono::milliseconds kLate{250};

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace gex
