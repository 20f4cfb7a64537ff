// Each rank's pulse in the rendezvous store: a counter that a thread of its own raises twice a
// second on a connection of its own, so that a rank blocked in a collective still shows that it is
// alive. When a collective fails, a peer whose counter stands still is the one that died (or whose
// machine is gone); silence in the collective alone would also name the ranks only waiting on it.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace gex {

class Heartbeat {
 public:
  // Starts beating for `rank` on `connection`, a connection to the store of the heartbeat's own.
  Heartbeat(c10::intrusive_ptr<c10d::Store> connection, int rank);
  ~Heartbeat();  // stops beating (stop(kGrace))

  // Stops beating: true, or false where the beat is stuck in a call to a store that stopped
  // answering (its machine or the network to it gone silent, where the kernel gives up on the
  // connection only after many minutes); that thread is then left to the end of the process, with
  // what it uses, rather than waited for.
  bool stop(std::chrono::milliseconds grace);
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // The ranks of 0 … size − 1 whose pulse did not move over `window` (a few beats long); throws
  // what the store throws where the store itself is gone.
  std::vector<int> stopped(int size, std::chrono::milliseconds window) const;
  // `rank`'s pulse now (0 where it never beat); throws what the store throws.
  int64_t pulse(int rank) const;
  // Whether the store left this rank's beat unanswered for longer than `window` and still does two
  // beats later (a job stopped as a whole and continued answers it at once), or is gone: its host,
  // or the network to it, is silent, and a call to the store would wait out the store's timeout.
  bool store_silent(std::chrono::milliseconds window) const;

  static constexpr std::chrono::milliseconds kBeat{500};
  static constexpr std::chrono::milliseconds kGrace{2000};

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace gex
