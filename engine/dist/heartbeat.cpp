#include "dist/heartbeat.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace gex {

namespace {

std::string key_of(int rank) { return "gex/heartbeat/" + std::to_string(rank); }

}  // namespace

struct Heartbeat::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  std::string key;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool done = false;  // the thread is out of its loop
  bool gone = false;  // the store threw: its host ended
  bool calling = false;  // a beat waits for the store's answer, since `calling_since`
  std::chrono::steady_clock::time_point calling_since;
  int64_t beats = 0;  // beats answered (or thrown)
  std::thread thread;

  void beat() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      calling = true, calling_since = std::chrono::steady_clock::now();
      lock.unlock();
      bool answered = true;
      try {
        store->add(key, 1);
      } catch (const std::exception&) {
        answered = false;
      }
      lock.lock();
      calling = false, ++beats;
      if (!answered) {
        gone = true;
        break;  // there is no one left to tell
      }
      wake.wait_for(lock, kBeat, [this] { return stopping; });
    }
    done = true;
    wake.notify_all();
  }

  // Whether a beat has waited for longer than `window`; `beat` says which.
  bool stuck(std::chrono::milliseconds window, int64_t& beat) {
    const std::lock_guard<std::mutex> lock(mutex);
    beat = beats;
    return calling && std::chrono::steady_clock::now() - calling_since > window;
  }
  bool store_gone() {
    const std::lock_guard<std::mutex> lock(mutex);
    return gone;
  }
};

Heartbeat::Heartbeat(c10::intrusive_ptr<c10d::Store> connection, int rank) : m_impl(std::make_unique<Impl>()) {
  m_impl->store = std::move(connection);
  m_impl->key = key_of(rank);
  m_impl->thread = std::thread([impl = m_impl.get()] { impl->beat(); });
}

Heartbeat::~Heartbeat() { stop(kGrace); }

bool Heartbeat::stop(std::chrono::milliseconds grace) {
  if (!m_impl) return true;
  std::unique_lock<std::mutex> lock(m_impl->mutex);
  m_impl->stopping = true;
  m_impl->wake.notify_all();
  if (!m_impl->wake.wait_for(lock, grace, [this] { return m_impl->done; })) {
    lock.unlock();
    m_impl->thread.detach();
    (void)m_impl.release();  // the thread still uses it
    return false;
  }
  lock.unlock();
  m_impl->thread.join();
  m_impl.reset();
  return true;
}

std::vector<int> Heartbeat::stopped(int size, std::chrono::milliseconds window) const {
  std::vector<int64_t> before(size);
  for (int r = 0; r < size; ++r) before[r] = pulse(r);
  std::this_thread::sleep_for(window);
  std::vector<int> still;
  for (int r = 0; r < size; ++r)
    if (pulse(r) == before[r]) still.push_back(r);
  return still;
}

bool Heartbeat::store_silent(std::chrono::milliseconds window) const {
  int64_t first = 0, second = 0;
  if (!m_impl) return false;
  if (m_impl->store_gone()) return true;
  if (!m_impl->stuck(window, first)) return false;
  std::this_thread::sleep_for(2 * kBeat);
  return m_impl->stuck(window, second) && second == first;
}

int64_t Heartbeat::pulse(int rank) const {
  // add(key, 0) reads a counter without blocking where a rank never beat (get would wait for it).
  return m_impl->store->add(key_of(rank), 0);
}

}  // namespace gex
