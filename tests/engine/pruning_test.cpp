// Pruning curves against direct evaluations of the masked network.
#include <gtest/gtest.h>

#include "analysis/pruning.h"
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
