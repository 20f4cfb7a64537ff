// c10d's Gloo process group, the collectives for host tensors: the network interface it listens
// on, its connection to the other ranks — watched through the store, so that a rank that cannot
// reach a peer stops the others at once with its words — and the timeout its collectives run
// under. Only for builds with Gloo (GEX_WITH_GLOO; its headers stay in gloo_group.cpp).
#pragma once

#include <c10/util/intrusive_ptr.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "dist/world.h"

namespace c10d {
class ProcessGroupGloo;
class Store;
}  // namespace c10d
namespace gloo::transport {
class Device;
}

namespace gex {

class Heartbeat;

// Gloo's network interface: GLOO_SOCKET_IFNAME as in PyTorch, loopback for a local job, else an
// address of this machine that the other machines can reach (listen_address). Null where it
// cannot be opened, and `why_not` says why, naming the rank and what to set.
std::shared_ptr<gloo::transport::Device> gloo_device(const World& world, std::string& why_not);

// The group on `store`, connected on a thread of its own while this one watches the store on
// `watch` (a connection of its own: Gloo's waits hold the other's lock) and the next rank's
// heartbeat. The first rank that cannot connect says why there and throws InputError (exit 3); a
// rank that sees the next one lost (killed, its machine gone) says so there and throws RunError
// (exit 4). The others then throw the same words at once, where they would wait out Gloo's
// timeout and retries and say only that their own connection failed, and leave their thread in
// Gloo's connection to the end of the process (`abandoned` set). `master` names the store.
c10::intrusive_ptr<c10d::ProcessGroupGloo> connect_gloo(const c10::intrusive_ptr<c10d::Store>& store,
                                                        c10d::Store& watch, const Heartbeat& heartbeat,
                                                        const World& world,
                                                        std::shared_ptr<gloo::transport::Device> device,
                                                        std::chrono::milliseconds timeout, const std::string& master,
                                                        std::atomic<bool>& abandoned);

// Gloo's own timeout for collectives, a backstop: a job stopped as a whole (Ctrl-Z, the
// application's Pause, Slurm's suspend: SIGSTOP, later SIGCONT) finds every deadline that Gloo set
// before the stop passed, so a lost rank is judged on --dist-timeout of time awake (ProcessGroup's
// wait) and Gloo's timeout, a week or the --dist-timeout where longer, bounds only how long such a
// stop may last (PyTorch's default of 30 min would end a job paused over lunch).
std::chrono::milliseconds gloo_backstop(std::chrono::milliseconds timeout);

}  // namespace gex
