// Pruning curves against direct evaluations of the masked network.
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <set>

#include "analysis/pruning.h"
#include "data/batches.h"
#include "data/synthetic.h"
#include "errors.h"
#include "models/registry.h"
#include "seeded.h"
#include "train/evaluate.h"

namespace gex {
namespace {

class Pruning : public test::Seeded {
 protected:
  void SetUp() override {
    test::Seeded::SetUp();
    ModelSpec spec;
    spec.attention = AttentionKind::kGE;
    spec.in_channels = 1;
    spec.input_size = 12;
    net = build_network(spec);
    test::randomize(*net);
    net->eval();
    data = make_synthetic(1, 12, 10, 120);
    pre = Preprocess::identity(1, 12, 10);
  }
  Evaluation direct(const std::function<torch::Tensor(const torch::Tensor&)>& hook, const std::string& block) {
    for (auto& [name, b] : net->blocks())
      if (name == block) b->set_output_hook(hook);
    EvalOptions eo;
    eo.batch = 256;
    const auto e = evaluate(*net, data.test, BatchMaker(pre, false), eo);
    for (auto& [name, b] : net->blocks()) b->set_output_hook(nullptr);
    return e;
  }
  Network net;
  Dataset data;
  Preprocess pre;
};

TEST_F(Pruning, RatioZeroIsAPlainEvaluationAndTheL1OrderZeroesTheLargestFilters) {
  PruneOptions o;
  o.blocks = {"layer3.1"};
  o.label = "layer3.1";
  o.order = "l1-desc";
  o.ratios = {0.0, 0.25};
  const auto rows = pruning_curve(*net, data.test, pre, o);
  ASSERT_EQ(rows.size(), 2u);
  const auto plain = direct(nullptr, "layer3.1");
  EXPECT_DOUBLE_EQ(rows[0].top1_error, plain.top1_error);
  EXPECT_DOUBLE_EQ(rows[0].top5_error, plain.top5_error);

  // By hand: the 16 (= round(0.25 · 64)) filters of layer3.1.conv2 with the largest L1 norm.
  const auto w = net->named_parameters()["layer3.1.conv2.weight"].detach();
  const auto top = std::get<1>(w.abs().flatten(1).sum(1).topk(16));
  auto mask = torch::ones({64});
  mask.index_fill_(0, top, 0.0);
  const auto m = mask.view({1, 64, 1, 1});
  const auto pruned = direct([m](const torch::Tensor& y) { return y * m; }, "layer3.1");
  EXPECT_DOUBLE_EQ(rows[1].top1_error, pruned.top1_error);
  EXPECT_EQ(rows[1].layer, "layer3.1");
  EXPECT_EQ(rows[1].order, "l1-desc");
}

// Per channel of `block`'s output (after its final ReLU, averaged over H×W), over the test split:
// the class means, and the mean over all images; and the mean gate of its attention module.
struct ChannelStats {
  torch::Tensor class_means;  // K×C
  torch::Tensor mean;         // C
  torch::Tensor gate;         // C (undefined without attention)
};

ChannelStats channel_stats(NetworkImpl& net, const Split& split, const Preprocess& pre, const std::string& name) {
  std::shared_ptr<ResidualBlockImpl> block;
  for (auto& [n, b] : net.blocks())
    if (n == name) block = b;
  torch::Tensor pooled;
  block->set_output_hook([&](const torch::Tensor& y) {
    pooled = y.mean({2, 3}).to(torch::kFloat64);
    return y;
  });
  if (block->attention()) block->attention()->set_capture(true);
  torch::NoGradGuard no_grad;
  net.eval();
  const auto x = BatchMaker(pre, false)(split.images);
  net.forward(x);
  block->set_output_hook(nullptr);
  ChannelStats s;
  const int64_t classes = split.labels.max().item<int64_t>() + 1;
  s.class_means = torch::zeros({classes, pooled.size(1)}, torch::kFloat64);
  for (int64_t k = 0; k < classes; ++k) s.class_means[k] = pooled.index({split.labels == k}).mean(0);
  s.mean = pooled.mean(0);
  if (block->attention()) {
    s.gate = block->attention()->last_gate().to(torch::kFloat64).mean({0, 2, 3});
    block->attention()->set_capture(false);
  }
  return s;
}

// Morcos et al.'s index, unit by unit, written out here.
torch::Tensor csi_by_hand(const torch::Tensor& class_means) {
  const int64_t K = class_means.size(0), C = class_means.size(1);
  auto csi = torch::zeros({C}, torch::kFloat64);
  for (int64_t c = 0; c < C; ++c) {
    double top = -1e300, sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const double m = class_means[k][c].item<double>();
      top = std::max(top, m);
      sum += m;
    }
    const double rest = (sum - top) / double(K - 1);
    csi[c] = top + rest == 0 ? 0.0 : (top - rest) / (top + rest);
  }
  return csi;
}

// The first k channels of a ranking by `score` (highest first when descending; ties keep channel
// order), as a 1×C×1×1 mask that zeroes them.
torch::Tensor mask_by_hand(const torch::Tensor& score, bool descending, int64_t k) {
  std::vector<int64_t> order(score.size(0));
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> v(score.data_ptr<double>(), score.data_ptr<double>() + score.size(0));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return descending ? v[a] > v[b] : v[a] < v[b]; });
  auto mask = torch::ones({score.size(0)});
  for (int64_t i = 0; i < k; ++i) mask[order[i]] = 0.0f;
  return mask.view({1, -1, 1, 1});
}

TEST_F(Pruning, EveryOrderPrunesTheChannelsItsCriterionRanksFirst) {
  const std::string block = "layer2.1";
  const auto stats = channel_stats(*net, data.test, pre, block);
  torch::Tensor weight;
  for (auto& [n, b] : net->blocks())
    if (n == block) weight = b->last_conv_weight().detach().to(torch::kFloat64);
  const std::map<std::string, torch::Tensor> criteria = {{"csi", csi_by_hand(stats.class_means)},
                                                         {"act", stats.mean},
                                                         {"l1", weight.abs().flatten(1).sum(1)},
                                                         {"gate", stats.gate}};
  const int64_t C = 32, k = 8;  // ratio 0.25
  // The criteria must rank differently, or this test could not tell one order from another.
  std::set<std::vector<float>> distinct;
  for (const auto& [name, score] : criteria)
    for (bool descending : {true, false}) {
      const auto m = mask_by_hand(score, descending, k).flatten();
      distinct.insert(std::vector<float>(m.data_ptr<float>(), m.data_ptr<float>() + C));
    }
  ASSERT_EQ(distinct.size(), 8u);
  for (const auto& [name, score] : criteria)
    for (bool descending : {true, false}) {
      PruneOptions o;
      o.blocks = {block};
      o.label = block;
      o.order = name + (descending ? "-desc" : "-asc");
      o.ratios = {0.25};
      const auto rows = pruning_curve(*net, data.test, pre, o);
      ASSERT_EQ(rows.size(), 1u);
      const auto m = mask_by_hand(score, descending, k);
      const auto expected = direct([m](const torch::Tensor& y) { return y * m; }, block);
      EXPECT_DOUBLE_EQ(rows[0].top1_error, expected.top1_error) << o.order;
      EXPECT_DOUBLE_EQ(rows[0].top5_error, expected.top5_error) << o.order;
    }
}

TEST_F(Pruning, AStagePruneMasksEveryBlockOfTheStage) {
  PruneOptions o;
  o.blocks = {"layer2.0", "layer2.1", "layer2.2"};
  o.label = "layer2";
  o.order = "l1-desc";
  o.ratios = {0.5};
  const auto rows = pruning_curve(*net, data.test, pre, o);
  ASSERT_EQ(rows.size(), 1u);
  // Each block ranked on its own: half of each one's filters by L1, hooks on all three at once.
  for (auto& [name, b] : net->blocks()) {
    if (name.rfind("layer2.", 0) != 0) continue;
    const auto l1 = b->last_conv_weight().detach().to(torch::kFloat64).abs().flatten(1).sum(1);
    const auto m = mask_by_hand(l1, true, l1.size(0) / 2);
    b->set_output_hook([m](const torch::Tensor& y) { return y * m; });
  }
  EvalOptions eo;
  eo.batch = 256;
  const auto all = evaluate(*net, data.test, BatchMaker(pre, false), eo);
  for (auto& [name, b] : net->blocks())
    if (name != "layer2.2") b->set_output_hook(nullptr);
  const auto last_only = evaluate(*net, data.test, BatchMaker(pre, false), eo);
  for (auto& [name, b] : net->blocks()) b->set_output_hook(nullptr);
  EXPECT_DOUBLE_EQ(rows[0].top1_error, all.top1_error);
  EXPECT_DOUBLE_EQ(rows[0].top5_error, all.top5_error);
  // And the first two blocks' masks matter here: pruning the last block alone gives another result.
  EXPECT_NE(all.top1_error + all.top5_error, last_only.top1_error + last_only.top5_error);
}

TEST_F(Pruning, EverythingPrunedAtTheLastBlockLeavesTheBiasToDecide) {
  PruneOptions o;
  o.blocks = {"layer3.2"};
  o.order = "act-asc";
  o.ratios = {1.0};
  const auto rows = pruning_curve(*net, data.test, pre, o);
  // The pooled features are all zero: every image gets argmax(fc.bias).
  const auto k = net->named_parameters()["fc.bias"].argmax().item<int64_t>();
  const double expected = 1.0 - data.test.labels.eq(k).sum().item<double>() / data.test.size();
  EXPECT_NEAR(rows[0].top1_error, expected, 1e-12);
}

TEST_F(Pruning, RandomOrderRepeatsAreSeededAndStagesPruneTogether) {
  PruneOptions o;
  o.blocks = {"layer2.0", "layer2.1", "layer2.2"};
  o.label = "layer2";
  o.order = "random";
  o.ratios = {0.5};
  o.repeats = 3;
  o.seed = 11;
  const auto a = pruning_curve(*net, data.test, pre, o);
  const auto b = pruning_curve(*net, data.test, pre, o);
  ASSERT_EQ(a.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].repeat, int(i));
    EXPECT_DOUBLE_EQ(a[i].top1_error, b[i].top1_error);
  }
  o.cache_bytes = 0;  // streamed instead of cached: the same numbers
  const auto streamed = pruning_curve(*net, data.test, pre, o);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i].top1_error, streamed[i].top1_error);
}

TEST_F(Pruning, BadRequestsAreUsageErrors) {
  PruneOptions o;
  o.blocks = {"layer9.9"};
  EXPECT_THROW(pruning_curve(*net, data.test, pre, o), UsageError);
  o.blocks = {"layer1.0"};
  o.order = "biggest-first";
  EXPECT_THROW(pruning_curve(*net, data.test, pre, o), UsageError);
  o.order = "csi-desc";
  o.ratios = {1.5};
  EXPECT_THROW(pruning_curve(*net, data.test, pre, o), UsageError);
  ModelSpec base;
  base.in_channels = 1;
  base.input_size = 12;
  auto baseline = build_network(base);
  o.ratios = {0.5};
  o.order = "gate-desc";
  EXPECT_THROW(pruning_curve(*baseline, data.test, pre, o), UsageError);
}

}  // namespace
}  // namespace gex
