// The fused block tail (models/block_tail.h), relu(bn(c) ⊙ g + shortcut), against the modules'
// own graph: output, running statistics, and the gradients of c, the shortcut, BN's γ and β and
// every parameter of the gate; then whole networks, one training step fused against generic.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "models/attention.h"
#include "models/block_tail.h"
#include "models/registry.h"
#include "seeded.h"

namespace gex {
namespace {

enum class Gate { kNone, kThetaMinus, kTheta, kThetaPlus, kSE };

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
  }
  return make_attention(spec, channels, h, w);
}

using Tensors = std::vector<torch::Tensor>;

class BlockTail : public ::testing::TestWithParam<std::tuple<Gate, torch::Dtype, bool>> {};

TEST_P(BlockTail, MatchesTheGenericGraph) {
  const auto [kind, dtype, with_shortcut] = GetParam();
  constexpr int64_t N = 6, C = 32, H = 5, W = 7;
  torch::manual_seed(11);
  auto attn = make_gate(kind, C, H, W);
  if (attn) {
    test::randomize(*attn);
    attn->to(dtype);
  }
  // Two BNs in the same state, one per path, so the running statistics can be compared.
  torch::nn::BatchNorm2d bn_fused(C), bn_generic(C);
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
    if (fused) {
      const auto gate = attn ? attn->global_gate(c) : std::nullopt;
      y = fused_bn_tail(c, *bn, gate ? &*gate : nullptr, sc);
      EXPECT_TRUE(y.defined());
    } else {
      GenericGraphGuard generic;
      auto x = bn(c);
      if (attn) x = x * attn->gate(x);
      y = torch::relu(with_shortcut ? x + sc : x);
    }
    (y * probe).sum().backward();
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

std::string gate_name(Gate g) {
  switch (g) {
    case Gate::kNone: return "NoGate";
    case Gate::kThetaMinus: return "ThetaMinus";
    case Gate::kTheta: return "Theta";
    case Gate::kThetaPlus: return "ThetaPlus";
    case Gate::kSE: return "SE";
  }
  return "";
}

INSTANTIATE_TEST_SUITE_P(BnTail, BlockTail,
                         ::testing::Combine(::testing::Values(Gate::kNone, Gate::kThetaMinus, Gate::kTheta,
                                                              Gate::kThetaPlus, Gate::kSE),
                                            ::testing::Values(torch::kFloat32, torch::kFloat64), ::testing::Bool()),
                         [](const auto& info) {
                           return gate_name(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) == torch::kFloat32 ? "_Float" : "_Double") +
                                  (std::get<2>(info.param) ? "_Shortcut" : "");
                         });

// Where the node does not apply it says so, and the modules run: evaluation mode, no gradient,
// a contiguous (not channels-last) map.
TEST(BlockTailScope, DeclinesWhatItDoesNotHandle) {
  torch::nn::BatchNorm2d bn(4);
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

// Whole networks: the loss and every parameter gradient of one training step, and the BN running
// statistics after it, equal the generic graph's — every backbone family with a post-activation
// tail or a pre-activation BN-ReLU, with and without a gate. In double: in float a pre-activation
// within rounding of the ReLU's kink can fall either side (one such element moves a BN bias's
// gradient by a few per cent), so float agreement is checked per node above.
class FusedTraining : public ::testing::TestWithParam<std::tuple<std::string, AttentionKind, GEVariant>> {};

TEST_P(FusedTraining, OneStepMatchesTheGenericGraph) {
  const auto [backbone, attention, variant] = GetParam();
  torch::manual_seed(3);
  torch::set_num_threads(2);
  ModelSpec spec;
  spec.backbone = backbone;
  spec.attention = attention;
  spec.variant = variant;
  spec.in_channels = 1;
  spec.input_size = backbone == "shufflenet" ? 32 : 12;
  spec.num_classes = 4;
  auto net = build_network(spec);
  net->to(torch::kFloat64);
  to_channels_last(*net);
  net->train();
  const auto x = torch::randn({5, 1, spec.input_size, spec.input_size}, torch::kFloat64)
                     .contiguous(torch::MemoryFormat::ChannelsLast);
  const auto labels = torch::tensor({0, 1, 2, 3, 1});
  torch::NoGradGuard outside;  // state saved and restored without recording
  const auto state = [&] {
    Tensors t;
    for (auto& b : net->buffers()) t.push_back(b.clone());
    return t;
  }();
  auto step = [&](bool fused) {
    {
      for (size_t i = 0; i < state.size(); ++i) net->buffers()[i].copy_(state[i]);
    }
    torch::AutoGradMode grad(true);
    net->zero_grad();
    std::optional<GenericGraphGuard> generic;
    if (!fused) generic.emplace();
    auto loss = torch::nn::functional::cross_entropy(net->forward(x), labels);
    loss.backward();
    Tensors out = {loss.detach()};
    for (auto& p : net->parameters()) out.push_back(p.grad().clone());
    for (auto& b : net->buffers()) out.push_back(b.clone().to(torch::kFloat64));
    return out;
  };
  std::vector<std::string> names = {"loss"};
  for (const auto& item : net->named_parameters()) names.push_back(item.key() + ".grad");
  for (const auto& item : net->named_buffers()) names.push_back(item.key());
  const auto generic = step(false), fused = step(true);
  ASSERT_EQ(fused.size(), generic.size());
  ASSERT_EQ(fused.size(), names.size());
  // The same sums in another order, through up to 164 layers.
  for (size_t i = 0; i < fused.size(); ++i) {
    const double err = (fused[i] - generic[i]).norm().item<double>();
    EXPECT_LE(err, 1e-8 * generic[i].norm().item<double>() + 1e-12) << names[i];
  }
}

INSTANTIATE_TEST_SUITE_P(
    Networks, FusedTraining,
    ::testing::Values(std::make_tuple("resnet20", AttentionKind::kNone, GEVariant::kThetaMinus),
                      std::make_tuple("resnet20", AttentionKind::kGE, GEVariant::kThetaMinus),
                      std::make_tuple("resnet20", AttentionKind::kGE, GEVariant::kTheta),
                      std::make_tuple("resnet20", AttentionKind::kGE, GEVariant::kThetaPlus),
                      std::make_tuple("resnet20", AttentionKind::kSE, GEVariant::kThetaMinus),
                      std::make_tuple("resnet18", AttentionKind::kGE, GEVariant::kThetaMinus),
                      std::make_tuple("resnet50", AttentionKind::kGE, GEVariant::kThetaPlus),
                      std::make_tuple("preresnet164", AttentionKind::kGE, GEVariant::kThetaMinus),
                      std::make_tuple("wrn16-8", AttentionKind::kNone, GEVariant::kThetaMinus),
                      std::make_tuple("shufflenet", AttentionKind::kGE, GEVariant::kThetaMinus)),
    [](const auto& info) {
      auto name = std::get<0>(info.param) + "_" + to_string(std::get<1>(info.param)) + "_" +
                  to_string(std::get<2>(info.param));
      for (auto& ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return name;
    });

}  // namespace
}  // namespace gex
