// The cell gate (cell_gate.h) on a GPU, as one autograd node: the sigmoid of the cells, then one
// kernel over the map forward (cell_gate_kernels.h) and one backward, where the generic graph
// launches an interpolation, a product, a sum and a ReLU forward and their five backward, each
// over the whole map. Nothing is read back to the host: the node is captured in a CUDA graph.
//
// `Launch::run(f, n)` runs f(i) for i in [0, n) on the current stream (tail_launch.h's
// CudaLaunch); the tests run the node on the CPU with a loop.
#pragma once

#include <torch/torch.h>

#include "models/cell_gate_kernels.h"
#include "models/device_tensors.h"

namespace gex {

template <typename T, typename Launch>
class DeviceCellGate : public torch::autograd::Function<DeviceCellGate<T, Launch>> {
  using A = tail::acc_t<T>;

 public:
  // x and the shortcut (empty: none) channels-last maps of T; logits N×C×rows×cols of any
  // floating type, its gradient returned in that type.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& logits, const torch::Tensor& shortcut, int64_t extent,
                               bool relu) {
    const auto d = dims_of(x, extent);
    const auto cl = torch::MemoryFormat::ChannelsLast;
    const auto g = torch::sigmoid(logits.detach().to(c10::CppTypeToScalarType<A>::value)).contiguous(cl);
    const auto sc = shortcut.numel() ? shortcut.contiguous(cl) : torch::Tensor();
    auto out = torch::empty_like(x, cl);
    Launch::run(tail::CellGateOutput<T>{d, ptr<T>(x), ptr<T>(sc), ptr<A>(g), relu, ptr<T>(out)}, d.elements());
    ctx->save_for_backward({x, relu ? out : torch::Tensor()});
    ctx->saved_data["g"] = g;
    ctx->saved_data["extent"] = extent;
    ctx->saved_data["shortcut"] = sc.defined();
    ctx->saved_data["logits_type"] = int64_t(logits.scalar_type());
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &out = saved[1];
    const auto g = ctx->saved_data["g"].toTensor();
    const auto d = dims_of(x, ctx->saved_data["extent"].toInt());
    const auto cl = torch::MemoryFormat::ChannelsLast;
    const auto dout = grads[0].to(x.scalar_type()).contiguous(cl);
    auto dx = torch::empty_like(x, cl);
    const auto dsc = ctx->saved_data["shortcut"].toBool() ? torch::empty_like(x, cl) : torch::Tensor();
    auto dlogits = torch::empty_like(g, cl);
    Launch::run(tail::CellGateGrad<T>{d, ptr<T>(dout), ptr<T>(out), ptr<T>(x), ptr<A>(g), ptr<T>(dx), ptr<T>(dsc),
                                      ptr<A>(dlogits)},
                d.N * d.cells.count() * d.C);
    const auto type = static_cast<torch::ScalarType>(ctx->saved_data["logits_type"].toInt());
    return {dx, dlogits.to(type), dsc, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace gex
