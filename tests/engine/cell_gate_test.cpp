// The cell gate (models/cell_gate.h), x ⊙ interp(σ(logits)) (+ shortcut, ReLU), against the GE
// module's own graph (its gather, sigmoid, `interpolate`, product, sum and ReLU): output and the
// gradients of x, the shortcut and every parameter of the gather — the CPU node through the
// module's entry point, and the GPU node's kernels (cell_gate_device.h) run here in a loop.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "models/attention.h"
#include "models/cell_gate.h"
#include "models/cell_gate_device.h"
#include "models/global_gate.h"
#include "host_loop.h"
#include "seeded.h"

namespace gex {
namespace {

using Tensors = std::vector<torch::Tensor>;

// The local gates: GE-θ⁻ by average and by maximum, GE-θ, GE-θ⁺.
enum class LocalGate { kThetaMinusAvg, kThetaMinusMax, kTheta, kThetaPlus };

std::shared_ptr<GatherExciteImpl> make_local_gate(LocalGate kind, int extent, int64_t channels) {
  GatherExciteOptions options(channels);
  options.extent(extent);
  switch (kind) {
    case LocalGate::kThetaMinusAvg: break;
    case LocalGate::kThetaMinusMax: options.pool(PoolKind::kMax); break;
    case LocalGate::kTheta: options.variant(GEVariant::kTheta); break;
    case LocalGate::kThetaPlus: options.variant(GEVariant::kThetaPlus); break;
  }
  return std::make_shared<GatherExciteImpl>(options);
}

enum class NodePath { kCpuNode, kDeviceKernels };

// gate, extent, dtype, residual (shortcut + ReLU, as a block's tail) or the plain product.
class CellGate : public ::testing::TestWithParam<std::tuple<LocalGate, int, torch::Dtype, bool>> {};

void check_against_the_module(NodePath path, LocalGate kind, int extent, torch::Dtype dtype, bool residual) {
  // Odd sizes, so that windows and cells are cut at the edges, and nearest-neighbour cells that
  // take two or three rows; C = 16 and a width no loop is specialised for.
  for (const auto& [C, H, W] : {std::make_tuple(16, 9, 13), std::make_tuple(5, 14, 6), std::make_tuple(7, 3, 3)}) {
    SCOPED_TRACE("C = " + std::to_string(C) + ", " + std::to_string(H) + "×" + std::to_string(W));
    constexpr int64_t N = 4;
    torch::manual_seed(17);
    auto attn = make_local_gate(kind, extent, C);
    test::randomize(*attn);
    if (kind == LocalGate::kThetaPlus) {
      // The MLP's one hidden unit (C/16 < 1) alive, or no gradient reaches the gather.
      torch::NoGradGuard no_grad;
      attn->named_parameters()["mlp.fc1.bias"].fill_(3.0);
    }
    attn->to(dtype);
    attn->train();
    const auto cl = torch::MemoryFormat::ChannelsLast;
    auto x = torch::randn({N, C, H, W}, dtype).contiguous(cl).requires_grad_(true);
    auto shortcut = torch::randn({N, C, H, W}, dtype).contiguous(cl).requires_grad_(true);
    const auto probe = torch::randn({N, C, H, W}, dtype);
    // The gather's BNs update their running statistics on each pass: both passes start alike.
    Tensors buffers;
    for (auto& b : attn->buffers()) buffers.push_back(b.clone());

    auto run = [&](bool fused) {
      {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < buffers.size(); ++i) attn->buffers()[i].copy_(buffers[i]);
      }
      Tensors params = {x, shortcut};
      for (auto& p : attn->parameters()) params.push_back(p);
      for (auto& p : params) p.mutable_grad() = torch::Tensor();
      const auto sc = residual ? shortcut : torch::Tensor();
      const auto before = fused_node_counts();
      torch::Tensor y;
      if (!fused) {
        GenericGraphGuard generic;
        y = x * attn->gate(x);
        if (residual) y = torch::relu(y + sc);
      } else if (path == NodePath::kCpuNode) {
        y = attn->cell_gated(x, sc, residual);
      } else {
        const auto logits = attn->excite_logits(x);
        const auto none = torch::empty({0}, x.options());
        const auto s = residual ? sc : none;
        y = dtype == torch::kFloat64 ? DeviceCellGate<double, test::HostLoop>::apply(x, logits, s, extent, residual)
                                     : DeviceCellGate<float, test::HostLoop>::apply(x, logits, s, extent, residual);
      }
      EXPECT_TRUE(y.defined());
      (y * probe).sum().backward();
      const auto after = fused_node_counts();
      EXPECT_EQ(after.cell_gates - before.cell_gates, fused && path == NodePath::kCpuNode ? 1 : 0);
      EXPECT_EQ(after.tails - before.tails, 0);
      Tensors out = {y.detach()};
      for (auto& p : params) out.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
      for (auto& b : attn->buffers()) out.push_back(b.clone().to(dtype));
      return out;
    };
    const auto generic = run(false), fused = run(true);
    ASSERT_EQ(fused.size(), generic.size());
    const double tol = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
    for (size_t i = 0; i < fused.size(); ++i) {
      const double err = (fused[i] - generic[i]).abs().max().item<double>();
      const double scale = std::max(1.0, generic[i].abs().max().item<double>());
      EXPECT_LE(err, tol * scale) << "tensor " << i;
    }
    EXPECT_TRUE(fused[0].is_contiguous(cl));
    if (residual) {
      // The ReLU cut: zero outputs pass no gradient to the shortcut; the others pass it whole.
      const auto zero = fused[0] == 0;
      ASSERT_GT(zero.sum().item<int64_t>(), 0);
      EXPECT_EQ(fused[2].masked_select(zero).abs().max().item<double>(), 0.0);
      EXPECT_TRUE(torch::equal(fused[2].masked_select(~zero), probe.masked_select(~zero)));
    } else {
      EXPECT_EQ(fused[2].abs().max().item<double>(), 0.0);
    }
    // The gather's parameters got a gradient through the node.
    for (size_t i = 3; i < 3 + attn->parameters().size(); ++i) EXPECT_GT(fused[i].abs().max().item<double>(), 0.0);
  }
}

TEST_P(CellGate, MatchesTheModule) {
  const auto [kind, extent, dtype, residual] = GetParam();
  check_against_the_module(NodePath::kCpuNode, kind, extent, dtype, residual);
}

TEST_P(CellGate, DeviceKernelsMatchTheModule) {
  const auto [kind, extent, dtype, residual] = GetParam();
  check_against_the_module(NodePath::kDeviceKernels, kind, extent, dtype, residual);
}

std::string gate_name(LocalGate g) {
  switch (g) {
    case LocalGate::kThetaMinusAvg: return "ThetaMinus";
    case LocalGate::kThetaMinusMax: return "ThetaMinusMax";
    case LocalGate::kTheta: return "Theta";
    case LocalGate::kThetaPlus: return "ThetaPlus";
  }
  return "";
}

INSTANTIATE_TEST_SUITE_P(LocalGates, CellGate,
                         ::testing::Combine(::testing::Values(LocalGate::kThetaMinusAvg, LocalGate::kThetaMinusMax,
                                                              LocalGate::kTheta, LocalGate::kThetaPlus),
                                            ::testing::Values(2, 4, 8),
                                            ::testing::Values(torch::kFloat32, torch::kFloat64), ::testing::Bool()),
                         [](const auto& info) {
                           return gate_name(std::get<0>(info.param)) + "_E" + std::to_string(std::get<1>(info.param)) +
                                  (std::get<2>(info.param) == torch::kFloat32 ? "_Float" : "_Double") +
                                  (std::get<3>(info.param) ? "_Residual" : "");
                         });

// bf16 maps with float logits, as autocast gives the GPU node: against the module in float on the
// same (rounded) maps, within two of bf16's steps.
TEST(CellGateBf16, DeviceKernelsMatchTheModule) {
  constexpr int64_t N = 4, C = 16, H = 9, W = 13;
  for (const int extent : {2, 4}) {
    SCOPED_TRACE(extent);
    torch::manual_seed(19);
    auto attn = make_local_gate(LocalGate::kTheta, extent, C);
    test::randomize(*attn);
    const auto cl = torch::MemoryFormat::ChannelsLast;
    const auto x16 = torch::randn({N, C, H, W}).to(torch::kBFloat16).contiguous(cl).requires_grad_(true);
    const auto sc16 = torch::randn({N, C, H, W}).to(torch::kBFloat16).contiguous(cl).requires_grad_(true);
    const auto x32 = x16.detach().to(torch::kFloat32).requires_grad_(true);
    const auto sc32 = sc16.detach().to(torch::kFloat32).requires_grad_(true);
    const auto probe = torch::randn({N, C, H, W});
    // The gather itself runs in float on both sides (its own graph): only the node's maps are bf16.
    const auto logits = attn->excite_logits(x32.detach().clone().requires_grad_(true));
    const auto leaf = logits.detach().clone().requires_grad_(true);
    const auto y16 = DeviceCellGate<c10::BFloat16, test::HostLoop>::apply(x16, leaf, sc16, extent, true);
    EXPECT_EQ(y16.scalar_type(), torch::kBFloat16);
    (y16.to(torch::kFloat32) * probe).sum().backward();
    EXPECT_EQ(leaf.grad().scalar_type(), torch::kFloat32);
    const auto leaf32 = logits.detach().clone().requires_grad_(true);
    namespace F = torch::nn::functional;
    const auto gate = F::interpolate(torch::sigmoid(leaf32),
                                     F::InterpolateFuncOptions().size(std::vector<int64_t>{H, W}).mode(torch::kNearest));
    const auto y32 = torch::relu(x32 * gate + sc32);
    (y32 * probe).sum().backward();
    auto expect_near = [](const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
      const auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
      const double scale = std::max(1.0, w.abs().max().item<double>());
      EXPECT_LE((g - w).abs().max().item<double>(), 8e-3 * scale) << what;
    };
    expect_near(y16, y32, "output");
    expect_near(x16.grad(), x32.grad(), "dx");
    expect_near(sc16.grad(), sc32.grad(), "dshortcut");
    expect_near(leaf.grad(), leaf32.grad(), "dlogits");
  }
}

// Where the node does not apply the module says so and runs its graph: no gradient wanted, a
// map not channels-last, a global gate, a gate being captured, fused nodes off.
TEST(CellGateScope, DeclinesWhatItDoesNotHandle) {
  auto attn = make_local_gate(LocalGate::kTheta, 2, 4);
  const auto cl = torch::MemoryFormat::ChannelsLast;
  auto x = torch::randn({2, 4, 6, 6}).contiguous(cl).requires_grad_(true);
  EXPECT_TRUE(attn->cell_gated(x, {}, false).defined());
  EXPECT_FALSE(attn->cell_gated(torch::randn({2, 4, 6, 6}).requires_grad_(true), {}, false).defined());
  EXPECT_FALSE(attn->cell_gated(x, torch::randn({2, 4, 6, 6}, torch::kFloat64), true).defined());
  {
    torch::NoGradGuard no_grad;
    EXPECT_FALSE(attn->cell_gated(x, {}, false).defined());
  }
  {
    GenericGraphGuard generic;
    EXPECT_FALSE(attn->cell_gated(x, {}, false).defined());
  }
  attn->set_capture(true);
  EXPECT_FALSE(attn->cell_gated(x, {}, false).defined());
  attn->forward(x);
  EXPECT_EQ(attn->last_gate().sizes(), x.sizes());
  attn->set_capture(false);
  GatherExciteOptions global(4);
  global.variant(GEVariant::kTheta).height(6).width(6);
  EXPECT_FALSE(GatherExciteImpl(global).cell_gated(x, {}, false).defined());
}

}  // namespace
}  // namespace gex
