// A function of tensors captured once as a CUDA graph and replayed (GPU kernels launched as one,
// so small models stop being bound by launch overhead). CUDA builds only: elsewhere `capture`
// says why not.
#pragma once

#include <torch/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gex {

class GraphedFunction {
 public:
  // Device work only: what it does on the host happens once, at capture. It may allocate.
  using Fn = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>& inputs)>;

  // Why graphs cannot run on `device` in this build; empty when they can.
  static std::string unavailable(torch::Device device);
  // Null where `unavailable` says why. The first `warmup` calls run `fn` eagerly on the graph's
  // stream (the libraries initialise lazily, which a capture must not see); the next captures it.
  static std::unique_ptr<GraphedFunction> create(torch::Device device, Fn fn, int warmup);
  virtual ~GraphedFunction() = default;

  // fn(inputs), eagerly during the warm-up, then by replaying the graph with `inputs` copied into
  // its own; the outputs are the graph's, valid until the next call. Nullopt, without running
  // anything, when the inputs' shapes or layouts are not the captured ones, or when the capture
  // failed (`failure` then says why; the function is not captured again).
  virtual std::optional<std::vector<torch::Tensor>> run(const std::vector<torch::Tensor>& inputs) = 0;
  virtual const std::string& failure() const = 0;
  // True once a graph has been captured and replayed.
  virtual bool replaying() const = 0;
};

// Tells `say` (when set) how `what` ran: eagerly because `graph` failed to capture, or as the
// graph, replayed; nothing when `graph` is null or was never captured (no full batch after the
// warm-up).
void say_graph_outcome(const GraphedFunction* graph, const std::string& what,
                       const std::function<void(const std::string&)>& say);

}  // namespace gex
