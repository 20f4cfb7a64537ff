// `gex train --nproc N`: this process becomes the launcher of a local data-parallel job, as
// torchrun's agent is: it hosts the rendezvous store on a free loopback port, starts N copies of
// the same command as ranks 0 … N−1 (torchrun's environment), forwards SIGINT/SIGTERM to them and
// exits with the worst status among them. A worker's error is said once: rank 0's as it happens,
// another rank's (after the job) only where it says something else (the rank lost, its own file).
#pragma once

#include <string>
#include <vector>

namespace gex::cli {

// `args`: the command line to run in each worker (argv[0] first, without --nproc). Returns the
// exit status for the launcher: the highest failure status (4, 3, 2, or 128 + the signal that
// killed a worker), else 130 when interrupted, else 0.
int launch_local_workers(int nproc, const std::vector<std::string>& args, int timeout_seconds);

// Says `line` (a command's error) on stderr — or, in a worker of `--nproc` other than rank 0, hands
// it to the launcher, which says it after the job unless rank 0 said the same.
void say_error(const std::string& line);

// The command line of this process without `--nproc N` / `--nproc=N`.
std::vector<std::string> without_nproc(int argc, char** argv);

}  // namespace gex::cli
