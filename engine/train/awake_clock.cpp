#include "train/awake_clock.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace gex {

struct AwakeClock::Impl {
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  AwakeTally awake{kTick + kLate};
  std::thread thread;

  void tick() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!wake.wait_for(lock, kTick, [this] { return stopping; })) awake.look(AwakeTally::Clock::now());
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
  return std::chrono::duration<double>(m_impl->awake.at(AwakeTally::Clock::now())).count();
}

}  // namespace gex
