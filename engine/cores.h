// How many CPU cores gex may use: the defaults of --threads and of the image loaders.
#pragma once

namespace gex {

// The cores this process may run on: its CPU affinity mask, which a container's cpuset, `taskset`
// or a cluster's binding (Slurm, mpirun) narrows below the machine's. At least 1.
int available_cores();

// The machine's online cores, whatever this process may use of them. At least 1.
int machine_cores();

}  // namespace gex
