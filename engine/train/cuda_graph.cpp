#include "train/cuda_graph.h"

#if GEX_WITH_CUDA
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace gex {

void say_graph_outcome(const GraphedFunction* graph, const std::string& what,
                       const std::function<void(const std::string&)>& say) {
  if (!graph || !say) return;
  if (!graph->failure().empty())
    say(what + " could not be captured as a CUDA graph (" + graph->failure() + "); they ran eagerly");
  else if (graph->replaying())
    say(what + " ran as a CUDA graph, captured once and replayed for every full batch");
}

#if GEX_WITH_CUDA

namespace {

// The pattern of PyTorch's torch.cuda.graphs: warm up and capture on a side stream, copy new inputs
// into the captured ones on the caller's stream, replay on the side stream, and order the two
// streams with events both ways, so that everything the caller does before and after sees the
// replay as one step in its own stream.
class CudaGraphedFunction final : public GraphedFunction {
 public:
  CudaGraphedFunction(torch::Device device, Fn fn, int warmup)
      : m_device(device), m_fn(std::move(fn)), m_warmup(warmup),
        m_side(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())) {}

  // The graph's memory goes back to the allocator with it: not while a replay may still read it.
  ~CudaGraphedFunction() override { m_side.synchronize(); }

  std::optional<std::vector<torch::Tensor>> run(const std::vector<torch::Tensor>& inputs) override {
    if (!m_failure.empty() || (m_captured && !fits(inputs))) return std::nullopt;
    const c10::cuda::CUDAGuard device_guard(m_device);
    const auto caller = c10::cuda::getCurrentCUDAStream(m_device.index());
    if (m_captured) {
      for (size_t i = 0; i < inputs.size(); ++i) m_inputs[i].copy_(inputs[i], /*non_blocking=*/true);
      order(caller, m_side);
      {
        const c10::cuda::CUDAStreamGuard on_side(m_side);
        m_graph.replay();
      }
      order(m_side, caller);
      return m_outputs;
    }
    order(caller, m_side);
    std::vector<torch::Tensor> outputs;
    {
      const c10::cuda::CUDAStreamGuard on_side(m_side);
      if (m_calls++ < m_warmup) {
        outputs = m_fn(inputs);
        // Made on the side stream, used on the caller's: not to be reused before the caller is done.
        for (auto& t : outputs) t.record_stream(caller);
      } else if (capture(inputs)) {
        for (size_t i = 0; i < inputs.size(); ++i) m_inputs[i].copy_(inputs[i], /*non_blocking=*/true);
        m_graph.replay();
        outputs = m_outputs;
      }
    }
    order(m_side, caller);
    if (!m_failure.empty()) return std::nullopt;
    return outputs;
  }

  const std::string& failure() const override { return m_failure; }
  bool replaying() const override { return m_captured; }

 private:
  bool fits(const std::vector<torch::Tensor>& inputs) const {
    if (inputs.size() != m_inputs.size()) return false;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].sizes() != m_inputs[i].sizes() || inputs[i].strides() != m_inputs[i].strides() ||
          inputs[i].scalar_type() != m_inputs[i].scalar_type() || inputs[i].device() != m_inputs[i].device())
        return false;
    return true;
  }

  // Records fn on the static inputs; on failure (an operation that cannot be captured) leaves the
  // stream out of capture mode and says why. Nothing runs during a capture, so no state changed.
  bool capture(const std::vector<torch::Tensor>& inputs) {
    m_inputs.clear();
    for (const auto& t : inputs) m_inputs.push_back(torch::empty_like(t, at::MemoryFormat::Preserve));
    // Cached autocast copies of the weights from eager steps must not become constants of the graph.
    at::autocast::clear_cache();
    try {
      m_graph.capture_begin();
      try {
        m_outputs = m_fn(m_inputs);
      } catch (...) {
        try {
          m_graph.capture_end();
        } catch (...) {
        }
        throw;
      }
      m_graph.capture_end();
    } catch (const std::exception& e) {
      m_graph.reset();
      m_outputs.clear();
      m_failure = e.what();
      m_failure = m_failure.substr(0, m_failure.find('\n'));
      return false;
    }
    m_captured = true;
    return true;
  }

  // `later` waits for what `earlier` has been given so far.
  static void order(const c10::cuda::CUDAStream& earlier, const c10::cuda::CUDAStream& later) {
    at::cuda::CUDAEvent done;
    done.record(earlier);
    done.block(later);
  }

  const torch::Device m_device;
  const Fn m_fn;
  const int m_warmup;
  c10::cuda::CUDAStream m_side;
  at::cuda::CUDAGraph m_graph;
  std::vector<torch::Tensor> m_inputs, m_outputs;
  int m_calls = 0;
  bool m_captured = false;
  std::string m_failure;
};

}  // namespace

std::string GraphedFunction::unavailable(torch::Device device) {
  return device.is_cuda() ? "" : "CUDA graphs run on a GPU, and this work runs on the CPU";
}

std::unique_ptr<GraphedFunction> GraphedFunction::create(torch::Device device, Fn fn, int warmup) {
  if (!unavailable(device).empty()) return nullptr;
  if (!device.has_index()) device = torch::Device(torch::kCUDA, c10::cuda::current_device());
  return std::make_unique<CudaGraphedFunction>(device, std::move(fn), warmup);
}

#else

std::string GraphedFunction::unavailable(torch::Device device) {
  return device.is_cuda() ? "this build of LibTorch has no CUDA"
                          : "CUDA graphs run on a GPU, and this work runs on the CPU";
}

std::unique_ptr<GraphedFunction> GraphedFunction::create(torch::Device, Fn, int) { return nullptr; }

#endif

}  // namespace gex
