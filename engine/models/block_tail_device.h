// The fused block tail (block_tail.h) on a GPU, as one autograd node: six kernels of
// tail_kernels.h forward, two of them passes over the map (a local gate's window averages read
// it once more), the others over N×C, N×K×C or C; seven backward, two over the map (with a local
// gate the ReLU pass sums per cell and takes the place of two). The generic graph launches about
// a dozen kernels each way, most over the whole map. Nothing is read back to the host, so the
// node can be captured in a CUDA graph.
//
// `Launch::run(f, n)` runs f(i) for i in [0, n) in order on the current stream: tail_launch.h's
// CudaLaunch launches a grid; the tests run the same node on the CPU with a loop.
#pragma once

#include <torch/torch.h>

#include "models/batch_norm.h"
#include "models/device_tensors.h"
#include "models/global_gate.h"
#include "models/tail_context.h"
#include "models/tail_kernels.h"

namespace gex {

template <typename T, typename PT, typename Launch>
class DeviceTail : public torch::autograd::Function<DeviceTail<T, PT, Launch>> {
  using A = tail::acc_t<T>;
  static torch::TensorOptions of(const torch::Tensor& like, torch::ScalarType type) {
    return like.options().dtype(type).memory_format(torch::MemoryFormat::Contiguous);
  }
  static torch::ScalarType acc_type() { return c10::CppTypeToScalarType<A>::value; }

 public:
  // As the CPU node: `weight`/`shortcut` empty: none. c, the shortcut and the output are
  // channels-last maps of T; γ, β, the running statistics and the gather weight are of PT.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& c,
                               const torch::Tensor& gamma, const torch::Tensor& beta, const torch::Tensor& weight,
                               const torch::Tensor& shortcut, BatchNorm2dImpl* bn, const FusedGate* gate) {
    const auto d = dims_of(c, gate ? gate->extent : 0);
    const int64_t K = d.cells.count();
    const bool weighted = weight.numel() > 0, gated = gate != nullptr;
    const auto acc = of(c, acc_type()), dbl = of(c, torch::kFloat64);
    const auto w_pc = weighted ? weight.detach().reshape({d.C, d.P}).t().contiguous() : torch::Tensor();

    const auto parts = torch::empty({3, d.partials()}, acc);
    Launch::run(tail::PartialSums<T, PT>{d, ptr<T>(c), ptr<PT>(w_pc), ptr<A>(parts[0]), ptr<A>(parts[1]),
                                         weighted ? ptr<A>(parts[2]) : nullptr},
                d.partials());
    const auto sums = torch::empty({3, d.N * d.C}, dbl);  // s1, s2, sw per image
    Launch::run(tail::ImageSums<A>{d, ptr<A>(parts[0]), ptr<A>(parts[1]), weighted ? ptr<A>(parts[2]) : nullptr,
                                   ptr<double>(sums[0]), ptr<double>(sums[1]), ptr<double>(sums[2])},
                d.N * d.C);

    const auto state = torch::empty({tail::State<A>::channel_size(d.C)}, dbl);
    const auto cell_state = gated ? torch::empty({tail::State<A>::cell_size(d.N, d.C, K)}, acc) : torch::Tensor();
    const tail::State<A> st{ptr<double>(state), ptr<A>(cell_state), d.N, d.C, K};
    const auto shift = torch::empty({d.C}, dbl);
    const auto channel_a = torch::empty({2, d.C}, acc);  // μ and invstd in A, for the passes over maps
    const auto wsum = weighted ? w_pc.sum(0).to(acc_type()) : torch::Tensor();
    Launch::run(tail::ChannelStats<T, PT>{d, ptr<T>(c), ptr<double>(sums[0]), ptr<double>(sums[1]), ptr<PT>(gamma),
                                          ptr<PT>(beta), ptr<A>(wsum), ptr<PT>(bn->running_mean),
                                          ptr<PT>(bn->running_var), *bn->options.momentum(), bn->options.eps(), st,
                                          ptr<double>(shift), ptr<A>(channel_a[0]), ptr<A>(channel_a[1])},
                d.C);
    {
      torch::NoGradGuard no_grad;
      bn->num_batches_tracked += 1;
    }

    torch::Tensor s_leaf, logits, logits_a;
    if (gated && d.cells.e) {
      logits_a = torch::empty({d.N * K * d.C}, acc);
      Launch::run(tail::LocalGather<T>{d, ptr<T>(c), ptr<A>(channel_a[0]), st, ptr<A>(logits_a)}, d.N * K * d.C);
    } else if (gated) {
      auto s = torch::empty({d.N, d.C, 1, 1}, acc);
      Launch::run(tail::GatherFromSums<A>{d, ptr<double>(sums[0]), weighted ? ptr<double>(sums[2]) : nullptr,
                                          ptr<double>(shift), st, ptr<A>(s)},
                  d.N * d.C);
      logits_a = s;
      if (gate->excite) {
        // The excite runs with its own graph, which the backward goes through.
        s_leaf = s.requires_grad_(true);
        torch::AutoGradMode grad(true);
        logits = gate->excite(s_leaf);
        logits_a = logits.detach().to(acc_type()).contiguous();
      }
    }
    const auto coefficients = torch::empty({2, d.N * K * d.C}, acc);  // a, b
    Launch::run(tail::OutputCoefficients<A>{d, ptr<A>(logits_a), st, ptr<A>(coefficients[0]),
                                            ptr<A>(coefficients[1])},
                d.N * K * d.C);
    const auto sc = shortcut.numel() ? shortcut.contiguous(torch::MemoryFormat::ChannelsLast) : torch::Tensor();
    auto out = torch::empty_like(c, torch::MemoryFormat::ChannelsLast);
    Launch::run(tail::Output<T>{d, ptr<T>(c), ptr<T>(sc), ptr<A>(channel_a[0]), ptr<A>(coefficients[0]),
                                ptr<A>(coefficients[1]), ptr<T>(out)},
                d.elements());

    save_tail_context(ctx, c, out, state, sc.defined(), weighted && weight.requires_grad(), w_pc, s_leaf, logits);
    ctx->saved_data["channel_a"] = channel_a;
    ctx->saved_data["gated"] = gated;
    if (gated) ctx->saved_data["cells"] = cell_state;
    ctx->saved_data["extent"] = d.cells.e;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &c = saved[0], &out = saved[1];
    const auto d = dims_of(c, ctx->saved_data["extent"].toInt());
    const int64_t K = d.cells.count();
    const auto acc = of(c, acc_type()), dbl = of(c, torch::kFloat64);
    const auto state = ctx->saved_data["state"].toTensor(), channel_a = ctx->saved_data["channel_a"].toTensor();
    const bool gated = ctx->saved_data["gated"].toBool();
    const auto cell_state = gated ? ctx->saved_data["cells"].toTensor() : torch::Tensor();
    const tail::State<A> st{ptr<double>(state), ptr<A>(cell_state), d.N, d.C, K};
    const auto w_pc = saved_gather_weight(ctx);
    const bool excited = has_excite(ctx);
    const auto dout = grads[0].to(c.scalar_type()).contiguous(torch::MemoryFormat::ChannelsLast);

    auto dz = torch::empty_like(c, torch::MemoryFormat::ChannelsLast);
    const auto sums = torch::empty({3, d.N * K * d.C}, acc);  // sa, sb, ds per image and cell
    const auto ds = gated ? sums[2] : torch::Tensor();
    const bool local = gated && d.cells.e;
    if (local) {
      Launch::run(tail::ReluGradCells<T>{d, ptr<T>(dout), ptr<T>(out), ptr<T>(c), ptr<A>(channel_a[0]),
                                         ptr<A>(channel_a[1]), st, ptr<T>(dz), ptr<A>(sums[0]), ptr<A>(sums[1]),
                                         ptr<A>(ds)},
                  d.N * K * d.C);
    } else {
      const auto parts = torch::empty({2, d.partials()}, acc);
      Launch::run(tail::ReluGradPartials<T>{d, ptr<T>(dout), ptr<T>(out), ptr<T>(c), ptr<A>(channel_a[0]),
                                            ptr<A>(channel_a[1]), ptr<T>(dz), ptr<A>(parts[0]), ptr<A>(parts[1])},
                  d.partials());
      Launch::run(tail::ImageGradSums<A>{d, ptr<A>(parts[0]), ptr<A>(parts[1]), st, ptr<A>(sums[0]), ptr<A>(sums[1]),
                                         ptr<A>(ds)},
                  d.N * d.C);
      if (excited) ds.copy_(back_through_excite(ctx, ds.view({d.N, d.C, 1, 1})).reshape({d.N * d.C}));
    }

    const auto image_terms = torch::empty({2, d.N * d.C}, dbl);  // Σ dx, Σ dx·x̂ per image
    Launch::run(tail::ImageGradTerms<A>{d, ptr<A>(sums[0]), ptr<A>(sums[1]), ptr<A>(ds), st,
                                        ptr<double>(image_terms[0]), ptr<double>(image_terms[1])},
                d.N * d.C);
    const auto d1 = torch::empty({d.C}, dbl), q = torch::empty({d.C}, acc);
    auto dgamma = torch::empty({d.C}, of(c, c10::CppTypeToScalarType<PT>::value));
    auto dbeta = torch::empty_like(dgamma);
    Launch::run(tail::ChannelGradSums<A, PT>{d, ptr<double>(image_terms[0]), ptr<double>(image_terms[1]), st,
                                             ptr<double>(d1), ptr<PT>(dgamma), ptr<PT>(dbeta), ptr<A>(q)},
                d.C);
    const auto coefficients = torch::empty({3, d.N * K * d.C}, acc);  // u, r, v
    Launch::run(tail::InputGradCoefficients<A>{d, ptr<A>(ds), ptr<double>(d1), st,
                                               w_pc.defined(), ptr<A>(coefficients[0]), ptr<A>(coefficients[1]),
                                               ptr<A>(coefficients[2])},
                d.N * K * d.C);
    auto dc = torch::empty_like(c, torch::MemoryFormat::ChannelsLast);
    Launch::run(tail::InputGrad<T, PT>{d, ptr<T>(dz), ptr<T>(c), ptr<PT>(w_pc), ptr<A>(channel_a[0]), ptr<A>(q),
                                       ptr<A>(coefficients[0]), ptr<A>(coefficients[1]), ptr<A>(coefficients[2]),
                                       local, ptr<T>(dc)},
                d.elements());
    torch::Tensor dweight;
    if (ctx->saved_data["weight_grad"].toBool()) {
      auto dw = torch::empty({d.P, d.C}, of(c, c10::CppTypeToScalarType<PT>::value));
      Launch::run(tail::WeightGrad<T, PT>{d, ptr<T>(c), ptr<A>(ds), st, ptr<PT>(dw)}, d.P * d.C);
      dweight = dw.t().reshape({d.C, 1, c.size(2), c.size(3)});
    }
    return {dc, dgamma, dbeta, dweight, ctx->saved_data["shortcut"].toBool() ? dz : torch::Tensor(),
            torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace gex
