// Builds any backbone of GE-SPEC §3 with any attention from a model spec.
#pragma once

#include <cstdint>

#include "models/network.h"

namespace gex {

// Validates the spec (UsageError naming the problem), builds and initialises the network with
// the current Torch seed.
Network build_network(const ModelSpec& spec);

struct Complexity {
  int64_t params = 0;  // trainable parameters
  int64_t macs = 0;    // multiply-accumulates of conv and linear layers, one image
};

// Counts parameters, and MACs through one forward pass of a 1×C×S×S input under no-grad.
Complexity measure_complexity(NetworkImpl& net);

}  // namespace gex
