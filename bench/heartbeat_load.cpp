// The rendezvous store under the heartbeats of many ranks (issue 12): N ranks' heartbeats (each a
// thread and a connection of its own, as `gex train` has them) beat on one TCPStore served by this
// process, as rank 0 serves it. For each N: the beats the store took per second against the 2·N
// asked, the latency of one store operation meanwhile (what a rank's exchanges and rank 0's
// check-in wait on), and the lost-rank check of a failed collective (Heartbeat::stopped: every
// counter read twice, a window apart): how long it takes beyond its window, and whether it named
// any rank, all being alive (it must not).
//
//   build/bin/bench_heartbeat_load [--ranks 100,1000,4000]
//
// One machine stands in for a cluster: the store, the N heartbeats and the probe share its cores,
// and each connection takes two file descriptors here (`ulimit -n` must allow 2·N and more).
#include <CLI/CLI.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "dist/heartbeat.h"
#include "dist/process_group.h"
#include "dist/rendezvous.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

c10::intrusive_ptr<c10d::Store> connect(int port) {
  return gex::connect_store("127.0.0.1", port, /*serve=*/false, std::chrono::seconds(60));
}

// The sum of the ranks' counters, read one by one as Heartbeat::stopped reads them.
int64_t beats(c10d::Store& store, int ranks) {
  int64_t sum = 0;
  for (int r = 0; r < ranks; ++r) sum += store.add("gex/heartbeat/" + std::to_string(r), 0);
  return sum;
}

void measure(int ranks) {
  gex::RendezvousHost host("127.0.0.1", 0, ranks, std::chrono::seconds(60));
  std::vector<std::unique_ptr<gex::Heartbeat>> hearts;
  for (int r = 0; r < ranks; ++r) hearts.push_back(std::make_unique<gex::Heartbeat>(connect(host.port()), r));
  auto probe = connect(host.port());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // every heart beating

  auto t0 = Clock::now();
  const int64_t before = beats(*probe, ranks);
  const double read_ms = ms_since(t0);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const int64_t after = beats(*probe, ranks);
  const double rate = (after - before) / (ms_since(t0) / 1000);

  std::vector<double> latency;
  for (const auto end = Clock::now() + std::chrono::seconds(2); Clock::now() < end;) {
    const auto t = Clock::now();
    probe->add("probe", 1);
    latency.push_back(ms_since(t));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::sort(latency.begin(), latency.end());

  const auto window = 4 * gex::Heartbeat::kBeat;
  t0 = Clock::now();
  const auto named = hearts.front()->stopped(ranks, window);
  const double check_ms = ms_since(t0) - window.count();

  std::printf("%6d %12.0f %8d %10.2f %10.2f %10.2f %12.0f %12.0f %7zu\n", ranks, rate, 2 * ranks,
              latency[latency.size() / 2], latency[latency.size() * 99 / 100], latency.back(), read_ms, check_ms,
              named.size());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The rendezvous store under N ranks' heartbeats: beats taken, an operation's latency, "
               "the lost-rank check"};
  std::vector<int> ranks{100, 1000, 4000};
  app.add_option("--ranks", ranks, "Numbers of ranks to simulate")->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  std::printf("%6s %12s %8s %10s %10s %10s %12s %12s %7s\n", "ranks", "beats/s", "asked", "op p50 ms", "op p99 ms",
              "op max ms", "read all ms", "check +ms", "named");
  for (int n : ranks) try {
      measure(n);
    } catch (const std::exception& e) {  // more ranks than this process may open files for, say
      std::printf("%6d  %s\n", n, e.what());
    }
  return 0;
}
