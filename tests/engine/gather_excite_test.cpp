// The GE operators against a brute-force reading of GE-SPEC §1: explicit loops over windows,
// depthwise kernels, BN, the MLP, nearest indices floor(i·H'/H) and the sigmoid.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "models/attention.h"
#include "seeded.h"

namespace gex {
namespace {

using Tensor = torch::Tensor;
using test::randomize;

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// avg or max over the window of GE-θ⁻: kernel 2e−1, stride e, padding e−1, padding not counted.
Tensor brute_pool(const Tensor& x, int e, bool use_max) {
  const int C = x.size(0), H = x.size(1), W = x.size(2);
  const int Ho = ceil_div(H, e), Wo = ceil_div(W, e);
  auto out = torch::zeros({C, Ho, Wo}, torch::kFloat64);
  auto a = x.accessor<double, 3>();
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < Ho; ++i)
      for (int j = 0; j < Wo; ++j) {
        double sum = 0, best = -1e300;
        int n = 0;
        for (int r = i * e - (e - 1); r <= i * e - (e - 1) + 2 * e - 2; ++r)
          for (int s = j * e - (e - 1); s <= j * e - (e - 1) + 2 * e - 2; ++s)
            if (r >= 0 && r < H && s >= 0 && s < W) sum += a[c][r][s], best = std::max(best, a[c][r][s]), ++n;
        out[c][i][j] = use_max ? best : sum / n;
      }
  return out;
}

Tensor brute_global_pool(const Tensor& x, bool use_max) {
  auto flat = x.reshape({x.size(0), -1});
  auto v = use_max ? std::get<0>(flat.max(1)) : flat.mean(1);
  return v.reshape({x.size(0), 1, 1});
}

// Depthwise conv (kernel kh×kw, stride, padding) then eval-mode BN, by loops.
Tensor brute_stage(const Tensor& x, const Tensor& weight, int stride, int pad,
                   BatchNorm2d& bn) {
  const int C = x.size(0), H = x.size(1), W = x.size(2);
  const int kh = weight.size(2), kw = weight.size(3);
  const int Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
  auto w = weight.to(torch::kFloat64);
  auto out = torch::zeros({C, Ho, Wo}, torch::kFloat64);
  auto a = x.accessor<double, 3>();
  auto k = w.accessor<double, 4>();
  auto mean = bn->running_mean.to(torch::kFloat64), var = bn->running_var.to(torch::kFloat64);
  auto gamma = bn->weight.to(torch::kFloat64), beta = bn->bias.to(torch::kFloat64);
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < Ho; ++i)
      for (int j = 0; j < Wo; ++j) {
        double sum = 0;
        for (int u = 0; u < kh; ++u)
          for (int v = 0; v < kw; ++v) {
            const int r = i * stride - pad + u, s = j * stride - pad + v;
            if (r >= 0 && r < H && s >= 0 && s < W) sum += k[c][0][u][v] * a[c][r][s];
          }
        const double norm = (sum - mean[c].item<double>()) / std::sqrt(var[c].item<double>() + 1e-5);
        out[c][i][j] = norm * gamma[c].item<double>() + beta[c].item<double>();
      }
  return out;
}

// 1×1 conv as a matrix product per position.
Tensor brute_pointwise(const Tensor& x, torch::nn::Conv2d& conv) {
  auto w = conv->weight.to(torch::kFloat64).flatten(1);  // out × in
  auto b = conv->bias.to(torch::kFloat64);
  const int C = x.size(0), H = x.size(1), W = x.size(2);
  auto y = w.matmul(x.reshape({C, H * W})) + b.unsqueeze(1);
  return y.reshape({-1, H, W});
}

// The GE output for one image x (C×H×W, float64) by brute force.
Tensor brute_gather_excite(GatherExciteImpl& ge, const Tensor& x) {
  const auto& o = ge.options();
  const int e = o.extent();
  Tensor g;
  if (o.variant() == GEVariant::kThetaMinus) {
    const bool use_max = o.pool() == PoolKind::kMax;
    g = e == kGlobalExtent ? brute_global_pool(x, use_max) : brute_pool(x, e, use_max);
  } else {
    auto gather = ge.named_modules("", false);
    std::vector<std::shared_ptr<GatherStageImpl>> stages;
    for (auto& m : gather)
      if (auto s = std::dynamic_pointer_cast<GatherStageImpl>(m.value())) stages.push_back(s);
    g = x;
    for (size_t i = 0; i < stages.size(); ++i) {
      g = e == kGlobalExtent ? brute_stage(g, stages[i]->conv->weight, 1, 0, stages[i]->bn)
                             : brute_stage(g, stages[i]->conv->weight, 2, 1, stages[i]->bn);
      if (i + 1 < stages.size()) g = g.clamp_min(0);
    }
    if (o.variant() == GEVariant::kThetaPlus) {
      auto mlp = std::dynamic_pointer_cast<ExciteMlpImpl>(ge.named_children()["mlp"]);
      g = brute_pointwise(brute_pointwise(g.clamp_min(0), mlp->fc1).clamp_min(0), mlp->fc2);
    }
  }
  const int C = x.size(0), H = x.size(1), W = x.size(2);
  const int Ho = g.size(1), Wo = g.size(2);
  auto y = torch::zeros({C, H, W}, torch::kFloat64);
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < H; ++i)
      for (int j = 0; j < W; ++j) {
        const int si = i * Ho / H, sj = j * Wo / W;  // nearest: floor(i·H'/H)
        y[c][i][j] = x[c][i][j].item<double>() * sigmoid(g[c][si][sj].item<double>());
      }
  return y;
}

struct Case {
  GEVariant variant;
  int extent;
  PoolKind pool;
  int channels, height, width;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const auto& c = info.param;
  std::string name = to_string(c.variant) + "_e" + extent_to_string(c.extent) + "_" +
                     to_string(c.pool) + "_c" + std::to_string(c.channels) + "_" +
                     std::to_string(c.height) + "x" + std::to_string(c.width);
  for (auto& ch : name)
    if (ch == '-') ch = '_';
  return name;
}

class GatherExciteBruteForce : public test::Seeded, public ::testing::WithParamInterface<Case> {};

TEST_P(GatherExciteBruteForce, MatchesTheSpecByHand) {
  const auto& c = GetParam();
  GatherExciteImpl ge(GatherExciteOptions(c.channels)
                          .variant(c.variant)
                          .extent(c.extent)
                          .pool(c.pool)
                          .height(c.height)
                          .width(c.width));
  randomize(ge);
  ge.eval();
  ge.set_capture(true);
  auto x = torch::randn({2, c.channels, c.height, c.width});
  auto y = ge.forward(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  for (int n = 0; n < 2; ++n) {
    auto expected = brute_gather_excite(ge, x[n].to(torch::kFloat64));
    EXPECT_TRUE(torch::allclose(y[n].to(torch::kFloat64), expected, 1e-5, 1e-5))
        << "max difference " << (y[n].to(torch::kFloat64) - expected).abs().max().item<double>();
  }
  // The captured gate is the factor that was applied, in (0, 1), with the block's shape (or
  // N×C×1×1 for a global gather).
  const auto& gate = ge.last_gate();
  ASSERT_TRUE(gate.defined());
  if (c.extent == kGlobalExtent) {
    EXPECT_EQ(gate.sizes(), (std::vector<int64_t>{2, c.channels, 1, 1}));
  } else {
    EXPECT_EQ(gate.sizes(), x.sizes());
  }
  EXPECT_GT(gate.min().item<float>(), 0.0f);
  EXPECT_LT(gate.max().item<float>(), 1.0f);
  EXPECT_TRUE(torch::allclose(x * gate, y));
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  const std::pair<int, int> sizes[] = {{7, 7}, {5, 9}, {8, 8}};
  for (const auto& [h, w] : sizes)
    for (int e : {2, 4, 8, kGlobalExtent}) {
      cases.push_back({GEVariant::kThetaMinus, e, PoolKind::kAvg, 3, h, w});
      cases.push_back({GEVariant::kThetaMinus, e, PoolKind::kMax, 3, h, w});
      cases.push_back({GEVariant::kTheta, e, PoolKind::kAvg, 3, h, w});
      cases.push_back({GEVariant::kThetaPlus, e, PoolKind::kAvg, 3, h, w});
    }
  cases.push_back({GEVariant::kThetaPlus, 2, PoolKind::kAvg, 40, 7, 7});  // hidden width 2
  cases.push_back({GEVariant::kThetaPlus, kGlobalExtent, PoolKind::kAvg, 40, 5, 9});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllVariants, GatherExciteBruteForce, ::testing::ValuesIn(all_cases()),
                         case_name);

class Operators : public test::Seeded {};

TEST_F(Operators, ThetaMinusByHandOnAFourByFourMap) {
  // e = 2 on a 4×4 map of 0..15: windows of 3×3, stride 2, padding 1 (not counted).
  GatherExciteImpl ge(GatherExciteOptions(1).extent(2));
  auto x = torch::arange(16, torch::kFloat32).reshape({1, 1, 4, 4});
  auto logits = ge.excite_logits(x);
  // cell (0,0): rows 0..1 × cols 0..1 → (0+1+4+5)/4; (0,1): rows 0..1 × cols 1..3 → (1+2+3+5+6+7)/6
  // (1,0): rows 1..3 × cols 0..1 → (4+5+8+9+12+13)/6; (1,1): rows 1..3 × cols 1..3 → 90/9.
  auto expected = torch::tensor({2.5f, 4.0f, 8.5f, 10.0f}).reshape({1, 1, 2, 2});
  EXPECT_TRUE(torch::allclose(logits, expected));
  auto y = ge.forward(x);
  EXPECT_FLOAT_EQ(y[0][0][3][3].item<float>(), 15.0f / (1.0f + std::exp(-10.0f)));
}

TEST_F(Operators, ParameterCountsOfEachVariant) {
  auto count = [](torch::nn::Module& m) {
    int64_t n = 0;
    for (auto& p : m.parameters()) n += p.numel();
    return n;
  };
  const int64_t C = 64;
  GatherExciteImpl minus(GatherExciteOptions(C).extent(4));
  EXPECT_EQ(count(minus), 0);
  GatherExciteImpl theta4(GatherExciteOptions(C).variant(GEVariant::kTheta).extent(4));
  EXPECT_EQ(count(theta4), 2 * (C * 9 + 2 * C));  // two depthwise 3×3 + BN
  GatherExciteImpl theta8(GatherExciteOptions(C).variant(GEVariant::kTheta).extent(8));
  EXPECT_EQ(count(theta8), 3 * (C * 9 + 2 * C));
  GatherExciteImpl global(
      GatherExciteOptions(C).variant(GEVariant::kTheta).extent(kGlobalExtent).height(7).width(5));
  EXPECT_EQ(count(global), C * 35 + 2 * C);
  GatherExciteImpl plus(
      GatherExciteOptions(C).variant(GEVariant::kThetaPlus).extent(kGlobalExtent).height(7).width(5));
  EXPECT_EQ(count(plus), C * 35 + 2 * C + (C * 4 + 4) + (4 * C + C));
  SqueezeExciteImpl se(C);
  EXPECT_EQ(count(se), (C * 4 + 4) + (4 * C + C));
  SqueezeExciteImpl se_narrow(8);  // max(1, 8/16) = 1
  EXPECT_EQ(count(se_narrow), (8 + 1) + (8 + 8));
}

TEST_F(Operators, SqueezeExciteByHand) {
  SqueezeExciteImpl se(20);
  randomize(se);
  auto x = torch::randn({3, 20, 5, 6});
  auto y = se.forward(x);
  auto s = x.mean({2, 3});                                                      // N×C
  auto h = torch::relu(s.matmul(se.fc1->weight.flatten(1).t()) + se.fc1->bias);  // N×1
  auto g = torch::sigmoid(h.matmul(se.fc2->weight.flatten(1).t()) + se.fc2->bias);
  EXPECT_TRUE(torch::allclose(y, x * g.unsqueeze(2).unsqueeze(3), 1e-5, 1e-6));
}

TEST_F(Operators, GradientsReachInputAndEveryParameter) {
  for (auto variant : {GEVariant::kThetaMinus, GEVariant::kTheta, GEVariant::kThetaPlus}) {
    for (int e : {2, 8, kGlobalExtent}) {
      GatherExciteImpl ge(GatherExciteOptions(16).variant(variant).extent(e).height(9).width(9));
      ge.train();
      auto x = torch::randn({4, 16, 9, 9}, torch::requires_grad());
      ge.forward(x).pow(2).sum().backward();
      ASSERT_TRUE(x.grad().defined());
      EXPECT_GT(x.grad().abs().sum().item<float>(), 0.0f);
      for (auto& p : ge.named_parameters()) {
        ASSERT_TRUE(p.value().grad().defined()) << p.key();
        EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0.0f) << p.key();
      }
    }
  }
}

TEST_F(Operators, GlobalThetaRefusesAnotherMapSize) {
  GatherExciteImpl ge(GatherExciteOptions(4).variant(GEVariant::kTheta).height(7).width(7));
  EXPECT_THROW(ge.forward(torch::randn({1, 4, 8, 8})), std::exception);
  try {
    ge.forward(torch::randn({1, 4, 8, 8}));
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("7×7"), std::string::npos) << e.what();
  }
}

TEST_F(Operators, CaptureIsOffByDefault) {
  GatherExciteImpl ge(GatherExciteOptions(4).extent(2));
  ge.forward(torch::randn({1, 4, 6, 6}));
  EXPECT_FALSE(ge.last_gate().defined());
}

}  // namespace
}  // namespace gex

namespace gex {
namespace {

// The fused node of a global gather (models/global_gate.h) against autograd's own graph of the
// same module, x ⊙ gate(x): the output, the input gradient and every parameter's gradient, on
// float channels-last maps (the CPU loops) and on double ones (the tensor expressions).
class GlobalGate : public ::testing::TestWithParam<std::tuple<GEVariant, torch::Dtype>> {};

TEST_P(GlobalGate, MatchesTheGenericGraph) {
  const auto [variant, dtype] = GetParam();
  torch::manual_seed(5);
  GatherExciteImpl ge(GatherExciteOptions(32).variant(variant).height(5).width(7));
  ge.to(dtype);
  auto x = torch::randn({6, 32, 5, 7}, torch::dtype(dtype)).contiguous(torch::MemoryFormat::ChannelsLast);
  x.requires_grad_(true);
  const auto probe = torch::randn({6, 32, 5, 7}, dtype);

  auto grads = [&](bool fused) {
    for (auto& p : ge.parameters()) p.mutable_grad() = torch::Tensor();
    x.mutable_grad() = torch::Tensor();
    auto y = fused ? global_gather_excite(x, *ge.fused_gate(x)) : x * ge.gate(x);
    (y * probe).sum().backward();
    std::vector<torch::Tensor> out = {y.detach(), x.grad().clone()};
    for (auto& p : ge.parameters()) out.push_back(p.grad().clone());
    return out;
  };
  const auto fused = grads(true), generic = grads(false);
  ASSERT_EQ(fused.size(), generic.size());
  const double tol = dtype == torch::kFloat64 ? 1e-10 : 2e-5;
  for (size_t i = 0; i < fused.size(); ++i)
    EXPECT_TRUE(torch::allclose(fused[i], generic[i], tol, tol))
        << "tensor " << i << ": max |Δ| " << (fused[i] - generic[i]).abs().max().item<double>();
}

INSTANTIATE_TEST_SUITE_P(GlobalGather, GlobalGate,
                         ::testing::Combine(::testing::Values(GEVariant::kThetaMinus, GEVariant::kTheta,
                                                              GEVariant::kThetaPlus),
                                            ::testing::Values(torch::kFloat32, torch::kFloat64)));

}  // namespace
}  // namespace gex
