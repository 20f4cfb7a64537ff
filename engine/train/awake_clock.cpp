#include "train/awake_clock.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace gex {

namespace {
using Clock = std::chrono::steady_clock;
constexpr Clock::duration kLongestGap = AwakeClock::kTick + AwakeClock::kLate;
}  // namespace

struct AwakeClock::Impl {
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  Clock::duration awake{0};
  Clock::time_point last = Clock::now();
  std::thread thread;

  // Called with the lock held.
  Clock::duration awake_at(Clock::time_point now) const { return awake + std::min(now - last, kLongestGap); }

  void tick() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!wake.wait_for(lock, kTick, [this] { return stopping; })) {
      const auto now = Clock::now();
      awake = awake_at(now);
      last = now;
    }
  }
};

AwakeClock::AwakeClock() : m_impl(std::make_unique<Impl>()) {
  m_impl->thread = std::thread([impl = m_impl.get()] { impl->tick(); });
}

AwakeClock::~AwakeClock() {
  {
    const std::lock_guard<std::mutex> lock(m_impl->mutex);
    m_impl->stopping = true;
  }
  m_impl->wake.notify_all();
  m_impl->thread.join();
}

double AwakeClock::seconds() const {
  const std::lock_guard<std::mutex> lock(m_impl->mutex);
  return std::chrono::duration<double>(m_impl->awake_at(Clock::now())).count();
}

}  // namespace gex
