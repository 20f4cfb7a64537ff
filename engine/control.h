// One token per piece of long work (a training run, an analysis, a batch of images): whoever
// started the work cancels or pauses it from any thread; the engine reads it between batches.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

namespace gex {

class WorkControl {
 public:
  void cancel() { m_cancel.store(true); }
  bool cancelled() const { return m_cancel.load(); }
  void set_paused(bool paused) { m_pause.store(paused); }
  bool paused() const { return m_pause.load(); }

  // Blocks while paused and not cancelled (for the work, between batches).
  void wait_while_paused() const {
    while (paused() && !cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

 private:
  std::atomic<bool> m_cancel{false};
  std::atomic<bool> m_pause{false};
};

inline bool cancelled(const WorkControl* control) { return control && control->cancelled(); }

}  // namespace gex
