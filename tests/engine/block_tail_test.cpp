// The fused block tail (models/block_tail.h), relu(bn(c) ⊙ g + shortcut), against the modules'
// own graph: output, running statistics, and the gradients of c, the shortcut, BN's γ and β and
// every parameter of the gate — the CPU node, and the GPU node's kernels (block_tail_device.h) run
// here in a loop over their indices. Whole networks, one training step: fused_training_test.cpp.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>

#include "models/attention.h"
#include "models/block_tail.h"
#include "models/block_tail_device.h"
#include "models/cell_map.h"
#include "models/option_a_shortcut.h"
#include "models/registry.h"
#include "host_loop.h"
#include "seeded.h"

namespace gex {
namespace {

// θ⁻ at extents 2, 4 and 8 (local gates; at the tests' 5×7 maps: 3×4, 2×2 and 1×1 cells).
enum class Gate { kNone, kThetaMinus, kTheta, kThetaPlus, kSE, kThetaMinusE2, kThetaMinusE4, kThetaMinusE8 };

// The module a block of `channels` channels at h×w gets for `gate` (nullptr: none).
std::shared_ptr<AttentionImpl> make_gate(Gate gate, int64_t channels, int64_t h, int64_t w) {
  ModelSpec spec;
  spec.attention = AttentionKind::kGE;
  switch (gate) {
    case Gate::kNone: spec.attention = AttentionKind::kNone; break;
    case Gate::kSE: spec.attention = AttentionKind::kSE; break;
    case Gate::kThetaMinus: spec.variant = GEVariant::kThetaMinus; break;
    case Gate::kTheta: spec.variant = GEVariant::kTheta; break;
    case Gate::kThetaPlus: spec.variant = GEVariant::kThetaPlus; break;
    case Gate::kThetaMinusE2: spec.extent = 2; break;
    case Gate::kThetaMinusE4: spec.extent = 4; break;
    case Gate::kThetaMinusE8: spec.extent = 8; break;
  }
  return make_attention(spec, channels, h, w);
}

using Tensors = std::vector<torch::Tensor>;

using test::HostLoop;

// The GPU node on the CPU, for maps and parameters of one type T.
template <typename T>
torch::Tensor device_kernels_on_the_cpu(const torch::Tensor& c, BatchNorm2dImpl& bn, const FusedGate* gate,
                                        const torch::Tensor& shortcut) {
  const auto none = torch::empty({0}, c.options());
  return DeviceTail<T, T, HostLoop>::apply(c, bn.weight, bn.bias, gate && gate->weight.defined() ? gate->weight : none,
                                           shortcut.defined() ? shortcut : none, &bn, gate);
}

enum class Path { kCpuNode, kDeviceKernels };

bool is_local(Gate g) { return g == Gate::kThetaMinusE2 || g == Gate::kThetaMinusE4 || g == Gate::kThetaMinusE8; }

// Channels: ResNet-20's widths (16, 32, 64: the kernels' compile-time paths) and one other (the
// run-time path).
class BlockTail : public ::testing::TestWithParam<std::tuple<Gate, torch::Dtype, bool, int64_t>> {};

// The node on `path` against the generic graph.
void check_against_the_generic_graph(Path path, Gate kind, torch::Dtype dtype, bool with_shortcut, int64_t C) {
  constexpr int64_t N = 6, H = 5, W = 7;
  torch::manual_seed(11);
  auto attn = make_gate(kind, C, H, W);
  if (attn) {
    test::randomize(*attn);
    attn->to(dtype);
  }
  // Two BNs in the same state, one per path, so the running statistics can be compared.
  BatchNorm2d bn_fused(C), bn_generic(C);
  test::randomize(*bn_fused);
  bn_fused->to(dtype);
  bn_generic->to(dtype);
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : bn_fused->named_parameters()) bn_generic->named_parameters()[item.key()].copy_(item.value());
    for (const auto& item : bn_fused->named_buffers()) bn_generic->named_buffers()[item.key()].copy_(item.value());
  }
  // A conv output with an offset per channel far from zero (the variance must not cancel), a
  // shortcut that sends about half the sums below zero, and a probe for the gradient.
  const auto cl = torch::MemoryFormat::ChannelsLast;
  auto c = (torch::randn({N, C, H, W}, dtype) * 2 + torch::linspace(-20, 20, C, dtype).view({1, C, 1, 1}))
               .contiguous(cl)
               .requires_grad_(true);
  auto shortcut = torch::randn({N, C, H, W}, dtype).contiguous(cl).requires_grad_(true);
  const auto probe = torch::randn({N, C, H, W}, dtype);

  auto run = [&](bool fused) {
    auto& bn = fused ? bn_fused : bn_generic;
    std::vector<torch::Tensor> params = {c, bn->weight, bn->bias};
    if (with_shortcut) params.push_back(shortcut);
    if (attn)
      for (auto& p : attn->parameters()) params.push_back(p);
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    const auto sc = with_shortcut ? shortcut : torch::Tensor();
    torch::Tensor y;
    const auto before = fused_node_counts();
    if (fused) {
      const auto gate = attn ? attn->fused_gate(c) : std::nullopt;
      const auto* g = gate ? &*gate : nullptr;
      if (path == Path::kCpuNode) y = fused_bn_tail(c, *bn, g, sc);
      else if (dtype == torch::kFloat64) y = device_kernels_on_the_cpu<double>(c, *bn, g, sc);
      else y = device_kernels_on_the_cpu<float>(c, *bn, g, sc);
      EXPECT_TRUE(y.defined());
    } else {
      GenericGraphGuard generic;
      auto x = bn(c);
      if (attn) x = x * attn->gate(x);
      y = torch::relu(with_shortcut ? x + sc : x);
    }
    (y * probe).sum().backward();
    // The path meant ran: one fused CPU tail (gated when there is a gate), or no fused node at all
    // (the device kernels are called here directly).
    const auto after = fused_node_counts();
    const bool cpu_node = fused && path == Path::kCpuNode;
    EXPECT_EQ(after.tails - before.tails, cpu_node ? 1 : 0);
    EXPECT_EQ(after.gated_tails - before.gated_tails, cpu_node && attn ? 1 : 0);
    EXPECT_EQ(after.local_tails - before.local_tails, cpu_node && is_local(kind) ? 1 : 0);
    EXPECT_EQ(after.gates - before.gates, 0);
    Tensors out = {y.detach(), bn->running_mean.clone(), bn->running_var.clone(),
                   bn->num_batches_tracked.clone().to(dtype)};
    for (auto& p : params) out.push_back(p.grad().clone());
    return out;
  };
  const auto generic = run(false), fused = run(true);
  ASSERT_EQ(fused.size(), generic.size());
  // Double: the same formulas in another order. Float: sums of 210 values per channel in another
  // order, through a division by σ.
  const double tol = dtype == torch::kFloat64 ? 1e-10 : 1e-4;
  for (size_t i = 0; i < fused.size(); ++i) {
    const double err = (fused[i] - generic[i]).abs().max().item<double>();
    const double scale = std::max(1.0, generic[i].abs().max().item<double>());
    EXPECT_LE(err, tol * scale) << "tensor " << i;
  }
  // The ReLU cut: zero outputs get no gradient through the shortcut.
  const auto zero = fused[0] == 0;
  ASSERT_GT(zero.sum().item<int64_t>(), 0);
  if (with_shortcut) {
    EXPECT_EQ(fused[7].masked_select(zero).abs().max().item<double>(), 0.0);
  }
}

TEST_P(BlockTail, MatchesTheGenericGraph) {
  const auto [kind, dtype, with_shortcut, C] = GetParam();
  check_against_the_generic_graph(Path::kCpuNode, kind, dtype, with_shortcut, C);
}

TEST_P(BlockTail, DeviceKernelsMatchTheGenericGraph) {
  const auto [kind, dtype, with_shortcut, C] = GetParam();
  check_against_the_generic_graph(Path::kDeviceKernels, kind, dtype, with_shortcut, C);
}

// bf16 maps with float parameters, as autocast gives the GPU node: against the generic graph in
// float on the same (rounded) maps, within two of bf16's steps (2^-7; seen: up to 0.4%).
TEST(BlockTailBf16, DeviceKernelsMatchTheGenericGraph) {
  for (const Gate kind : {Gate::kNone, Gate::kThetaMinus, Gate::kTheta, Gate::kThetaPlus, Gate::kThetaMinusE2}) {
    SCOPED_TRACE(int(kind));
    constexpr int64_t N = 6, C = 16, H = 5, W = 7;
    torch::manual_seed(12);
    auto attn = make_gate(kind, C, H, W);
    if (attn) test::randomize(*attn);
    BatchNorm2d bn_device(C), bn_generic(C);
    test::randomize(*bn_device);
    {
      torch::NoGradGuard no_grad;
      for (const auto& item : bn_device->named_parameters()) bn_generic->named_parameters()[item.key()].copy_(item.value());
      for (const auto& item : bn_device->named_buffers()) bn_generic->named_buffers()[item.key()].copy_(item.value());
    }
    const auto cl = torch::MemoryFormat::ChannelsLast;
    const auto c16 = (torch::randn({N, C, H, W}) * 2 + torch::linspace(-20, 20, C).view({1, C, 1, 1}))
                         .to(torch::kBFloat16)
                         .contiguous(cl)
                         .requires_grad_(true);
    const auto sc16 = torch::randn({N, C, H, W}).to(torch::kBFloat16).contiguous(cl).requires_grad_(true);
    const auto c32 = c16.detach().to(torch::kFloat32).requires_grad_(true);
    const auto sc32 = sc16.detach().to(torch::kFloat32).requires_grad_(true);
    const auto probe = torch::randn({N, C, H, W});

    auto gate_grads = [&] {
      Tensors g;
      if (!attn) return g;
      for (auto& p : attn->parameters()) {
        g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
        p.mutable_grad() = torch::Tensor();
      }
      return g;
    };
    const auto gate = attn ? attn->fused_gate(c16) : std::nullopt;
    const auto none = torch::empty({0}, c16.options());
    const auto y16 = DeviceTail<c10::BFloat16, float, HostLoop>::apply(
        c16, bn_device->weight, bn_device->bias, gate && gate->weight.defined() ? gate->weight : none, sc16,
        bn_device.get(), gate ? &*gate : nullptr);
    EXPECT_EQ(y16.scalar_type(), torch::kBFloat16);
    (y16.to(torch::kFloat32) * probe).sum().backward();
    const auto device_gate_grads = gate_grads();
    torch::Tensor y32;
    {
      GenericGraphGuard generic;
      auto x = bn_generic(c32);
      if (attn) x = x * attn->gate(x);
      y32 = torch::relu(x + sc32);
    }
    (y32 * probe).sum().backward();
    const auto generic_gate_grads = gate_grads();

    auto expect_near = [](const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
      const auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
      const double scale = std::max(1.0, w.abs().max().item<double>());
      EXPECT_LE((g - w).abs().max().item<double>(), 8e-3 * scale) << what;
    };
    expect_near(y16, y32, "output");
    expect_near(c16.grad(), c32.grad(), "dc");
    expect_near(sc16.grad(), sc32.grad(), "dshortcut");
    expect_near(bn_device->weight.grad(), bn_generic->weight.grad(), "dgamma");
    expect_near(bn_device->bias.grad(), bn_generic->bias.grad(), "dbeta");
    expect_near(bn_device->running_mean, bn_generic->running_mean, "running mean");
    expect_near(bn_device->running_var, bn_generic->running_var, "running var");
    ASSERT_EQ(device_gate_grads.size(), generic_gate_grads.size());
    for (size_t i = 0; i < device_gate_grads.size(); ++i)
      expect_near(device_gate_grads[i], generic_gate_grads[i], "gate parameter " + std::to_string(i));
  }
}

std::string gate_name(Gate g) {
  switch (g) {
    case Gate::kNone: return "NoGate";
    case Gate::kThetaMinus: return "ThetaMinus";
    case Gate::kTheta: return "Theta";
    case Gate::kThetaPlus: return "ThetaPlus";
    case Gate::kSE: return "SE";
    case Gate::kThetaMinusE2: return "ThetaMinusE2";
    case Gate::kThetaMinusE4: return "ThetaMinusE4";
    case Gate::kThetaMinusE8: return "ThetaMinusE8";
  }
  return "";
}

INSTANTIATE_TEST_SUITE_P(BnTail, BlockTail,
                         ::testing::Combine(::testing::Values(Gate::kNone, Gate::kThetaMinus, Gate::kTheta,
                                                              Gate::kThetaPlus, Gate::kSE, Gate::kThetaMinusE2,
                                                              Gate::kThetaMinusE4, Gate::kThetaMinusE8),
                                            ::testing::Values(torch::kFloat32, torch::kFloat64), ::testing::Bool(),
                                            ::testing::Values<int64_t>(16, 32, 64, 24)),
                         [](const auto& info) {
                           return gate_name(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) == torch::kFloat32 ? "_Float" : "_Double") +
                                  (std::get<2>(info.param) ? "_Shortcut" : "") + "_C" +
                                  std::to_string(std::get<3>(info.param));
                         });

// A local gate's cells against ATen and by brute force, for every map size to 240 and e = 2, 4, 8:
// the cell count is avg_pool2d's output size; the cell of each position is the one
// `interpolate(nearest)` takes on training's maps, float and channels-last (a float scale, so that
// at 122 (e = 8), 198 and 230 (e = 4) a row takes another cell than ⌊h·H'/H⌋ would give); the
// rows that take a cell, and the cells whose windows (|h − y·e| ≤ e − 1) hold a row, are what a
// scan finds.
TEST(LocalGateCells, MatchAtenAndBruteForce) {
  namespace F = torch::nn::functional;
  for (const int64_t e : {2, 4, 8})
    for (int64_t H = 1; H <= 240; ++H) {
      SCOPED_TRACE("e = " + std::to_string(e) + ", H = " + std::to_string(H));
      const int64_t W = H % 7 + 1 + H / 2;  // another size along the other axis
      const tail::Cells cells{H, W, e};
      const auto pooled = F::avg_pool2d(torch::zeros({1, 1, H, W}),
                                        F::AvgPool2dFuncOptions(2 * e - 1).stride(e).padding(e - 1).count_include_pad(false));
      ASSERT_EQ(cells.rows(), pooled.size(2));
      ASSERT_EQ(cells.cols(), pooled.size(3));
      const auto ids = torch::arange(cells.count(), torch::kFloat32)
                           .view({1, 1, cells.rows(), cells.cols()})
                           .expand({1, 3, cells.rows(), cells.cols()})
                           .contiguous(torch::MemoryFormat::ChannelsLast);
      const auto taken = F::interpolate(ids, F::InterpolateFuncOptions()
                                                 .size(std::vector<int64_t>{H, W})
                                                 .mode(torch::kNearest))
                             .select(1, 2)
                             .reshape({H * W})
                             .to(torch::kInt64);
      auto ours = torch::empty({H * W}, torch::kInt64);
      auto entry = ours.accessor<int64_t, 1>();
      for (int64_t p = 0; p < H * W; ++p) entry[p] = cells.of(p);
      ASSERT_TRUE(torch::equal(ours, taken)) << "first differing position: "
                                             << (ours != taken).nonzero().min().item<int64_t>();
      for (int64_t y = 0; y < cells.rows(); ++y) {
        int64_t lo, hi;
        cells.taking_rows(y, &lo, &hi);
        for (int64_t h = 0; h < H; ++h)
          EXPECT_EQ(h >= lo && h < hi, cells.of(h * W) / cells.cols() == y) << "y = " << y << ", h = " << h;
        cells.window(y, H, &lo, &hi);
        for (int64_t h = 0; h < H; ++h) EXPECT_EQ(h >= lo && h < hi, std::abs(h - y * e) <= e - 1);
      }
      for (int64_t h = 0; h < H; ++h) {
        int64_t lo, hi;
        cells.holding(h, cells.rows(), &lo, &hi);
        EXPECT_LE(hi - lo, 2);
        for (int64_t y = 0; y < cells.rows(); ++y) EXPECT_EQ(y >= lo && y < hi, std::abs(h - y * e) <= e - 1);
      }
      int64_t covered = 0;
      for (int64_t k = 0; k < cells.count(); ++k) covered += cells.window_size(k);
      const auto ones = torch::ones({1, 1, H, W});
      const auto counts = F::avg_pool2d(ones, F::AvgPool2dFuncOptions(2 * e - 1).stride(e).padding(e - 1)) *
                          double((2 * e - 1) * (2 * e - 1));  // padded positions counted as 0
      EXPECT_EQ(covered, int64_t(std::llround(counts.sum().item<double>())));
    }
}

// Where the module's interpolation takes the cells tail::Cells gives, the fused nodes run — on
// float maps, training's, always — and where it takes others (LibTorch 2.6's kernel for double
// maps at e = 4, H = 198 and 230) they stand aside: either way a block trains the module's
// network. At these sizes (and e = 8, H = 122) a float scale and an exact one give some row its
// neighbour's cell, which changes the output.
TEST(LocalGateCells, FusedNodesRunOnlyWhereTheyTakeTheModulesCells) {
  const auto cl = torch::MemoryFormat::ChannelsLast;
  for (const auto dtype : {torch::kFloat32, torch::kFloat64})
    for (const auto& [gate, e, H] : {std::tuple{Gate::kThetaMinusE4, 4, 198}, std::tuple{Gate::kThetaMinusE4, 4, 230},
                                     std::tuple{Gate::kThetaMinusE8, 8, 122}}) {
      SCOPED_TRACE(std::string(dtype == torch::kFloat32 ? "float" : "double") + ", e = " + std::to_string(e) +
                   ", H = " + std::to_string(H));
      constexpr int64_t N = 2, C = 3, W = 5;
      torch::manual_seed(5);
      const auto attn = make_gate(gate, C, H, W);
      attn->to(dtype);
      attn->train();
      const auto c = torch::randn({N, C, H, W}, dtype).contiguous(cl).requires_grad_(true);
      const auto probe = torch::randn({N, C, H, W}, dtype);
      const bool takes = interpolation_takes_cells(c, e);
      if (dtype == torch::kFloat32) {
        EXPECT_TRUE(takes);
      }

      // The cell gate, x ⊙ interp(σ(avgpool(x))), and the block tail, relu(bn(c) ⊙ g): output and
      // c's gradient, and whether the fused node ran.
      auto run = [&](bool tail, bool fused) {
        c.mutable_grad() = torch::Tensor();
        BatchNorm2d bn(C);
        bn->to(dtype);
        const auto before = fused_node_counts();
        torch::Tensor y;
        if (fused && tail) {
          const auto g = attn->fused_gate(c);
          y = fused_bn_tail(c, *bn, &*g, {});
        } else if (fused) {
          y = attn->cell_gated(c, {}, false);
        }
        if (!y.defined()) {
          GenericGraphGuard generic;
          const auto x = tail ? bn(c) : c;
          y = x * attn->gate(x);
          if (tail) y = torch::relu(y);
        }
        (y * probe).sum().backward();
        const auto after = fused_node_counts();
        EXPECT_EQ(after.local_tails - before.local_tails, fused && tail && takes ? 1 : 0);
        EXPECT_EQ(after.cell_gates - before.cell_gates, fused && !tail && takes ? 1 : 0);
        return Tensors{y.detach(), c.grad().clone()};
      };
      const double tol = dtype == torch::kFloat64 ? 1e-10 : 1e-4;
      for (const bool tail : {false, true}) {
        const auto generic = run(tail, false), fused = run(tail, true);
        for (size_t i = 0; i < fused.size(); ++i)
          EXPECT_LE((fused[i] - generic[i]).abs().max().item<double>(), tol) << (tail ? "tail" : "cell gate") << ", tensor " << i;
      }
    }
}

// The option-A shortcut node against indexing and padding: values, layout and gradient, odd
// sizes included (the subsampled map is ⌈H/2⌉).
TEST(OptionAShortcut, MatchesIndexingAndPadding) {
  for (const auto& [h, w] : {std::make_pair(28, 28), std::make_pair(7, 9)}) {
    torch::manual_seed(9);
    const auto x = torch::randn({3, 16, h, w}, torch::kFloat64).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_(true);
    const auto y = option_a_shortcut(x, 2, 8, 8);
    EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
    using torch::indexing::None;
    using torch::indexing::Slice;
    const auto x2 = x.detach().clone().requires_grad_(true);
    const auto expected =
        torch::constant_pad_nd(x2.index({Slice(), Slice(), Slice(None, None, 2), Slice(None, None, 2)}), {0, 0, 0, 0, 8, 8}, 0.0);
    ASSERT_EQ(y.sizes(), expected.sizes());
    EXPECT_TRUE(torch::equal(y, expected));
    const auto probe = torch::randn(y.sizes(), torch::kFloat64);
    (y * probe).sum().backward();
    (expected * probe).sum().backward();
    EXPECT_TRUE(torch::equal(x.grad(), x2.grad()));
    EXPECT_TRUE(x.grad().is_contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

// Where the node does not apply it says so, and the modules run: evaluation mode, no gradient,
// a contiguous (not channels-last) map.
TEST(BlockTailScope, DeclinesWhatItDoesNotHandle) {
  BatchNorm2d bn(4);
  auto c = torch::randn({2, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_(true);
  EXPECT_TRUE(fused_bn_tail(c, *bn, nullptr, {}).defined());
  EXPECT_FALSE(fused_bn_tail(torch::randn({2, 4, 3, 3}).requires_grad_(true), *bn, nullptr, {}).defined());
  {
    torch::NoGradGuard no_grad;
    EXPECT_FALSE(fused_bn_tail(c, *bn, nullptr, {}).defined());
  }
  bn->eval();
  EXPECT_FALSE(fused_bn_tail(c, *bn, nullptr, {}).defined());
  // One value per channel: BN's own error, from the module.
  bn->train();
  auto single = torch::randn({1, 4, 1, 1}).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_(true);
  EXPECT_FALSE(fused_bn_tail(single, *bn, nullptr, {}).defined());
}

}  // namespace
}  // namespace gex
