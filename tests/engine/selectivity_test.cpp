// Class selectivity against its definition (GE-SPEC §6), by hand and by brute force.
#include <gtest/gtest.h>

#include <map>

#include "analysis/selectivity.h"
#include "data/batches.h"
#include "data/synthetic.h"
#include "models/registry.h"
#include "seeded.h"

namespace gex {
namespace {

class Selectivity : public test::Seeded {};

TEST_F(Selectivity, IndexByHand) {
  int k = -1;
  EXPECT_DOUBLE_EQ(class_selectivity_index({0, 0, 5, 0}, &k), 1.0);  // fires for one class only
  EXPECT_EQ(k, 2);
  EXPECT_DOUBLE_EQ(class_selectivity_index({2, 2, 2}), 0.0);  // the same for every class
  EXPECT_DOUBLE_EQ(class_selectivity_index({0, 0, 0}), 0.0);  // silent: 0 by definition
  EXPECT_DOUBLE_EQ(class_selectivity_index({1, 3}), 0.5);     // (3 − 1) / (3 + 1)
  EXPECT_NEAR(class_selectivity_index({1, 2, 6}), (6 - 1.5) / (6 + 1.5), 1e-12);
}

TEST_F(Selectivity, MatchesABruteForcePassOverTheImages) {
  ModelSpec spec;
  spec.attention = AttentionKind::kGE;
  spec.in_channels = 1;
  spec.input_size = 12;
  auto net = build_network(spec);
  test::randomize(*net);
  const auto data = make_synthetic(1, 12, 10, 50);
  Preprocess pre = Preprocess::identity(1, 12, 10);
  SelectivityOptions options;
  options.limit = 40;
  options.batch = 16;
  const auto result = class_selectivity(*net, data.test, pre, options);
  ASSERT_EQ(result.images, 40);
  ASSERT_EQ(result.layers.size(), 9u);
  ASSERT_EQ(result.units.size(), 3u * 16 + 3 * 32 + 3 * 64);

  // Brute force: one image at a time, the block output's spatial mean per channel.
  net->eval();
  torch::NoGradGuard no_grad;
  std::map<std::string, std::vector<torch::Tensor>> per_image;
  auto blocks = net->blocks();
  for (auto& [name, block] : blocks) {
    block->set_output_hook([&per_image, name = name](const torch::Tensor& y) {
      per_image[name].push_back(y.mean({2, 3})[0].to(torch::kFloat64));
      return y;
    });
  }
  const BatchMaker make(pre, false);
  for (int i = 0; i < 40; ++i) net->forward(make(data.test.images.slice(0, i, i + 1)));
  for (auto& [name, block] : blocks) block->set_output_hook(nullptr);
  for (const auto& u : result.units) {
    std::map<int64_t, std::pair<double, int>> by_class;
    double all = 0;
    for (int i = 0; i < 40; ++i) {
      const double v = per_image[u.layer][i][u.unit].item<double>();
      auto& [sum, n] = by_class[data.test.labels[i].item<int64_t>()];
      sum += v, ++n, all += v;
    }
    std::vector<double> means;
    std::vector<int64_t> classes;
    for (auto& [k, sn] : by_class) means.push_back(sn.first / sn.second), classes.push_back(k);
    const auto best = std::max_element(means.begin(), means.end()) - means.begin();
    double rest = 0;
    for (size_t j = 0; j < means.size(); ++j)
      if (long(j) != best) rest += means[j];
    rest /= double(means.size() - 1);
    const double csi = means[best] + rest == 0 ? 0 : (means[best] - rest) / (means[best] + rest);
    // Batched and one-image float32 passes differ in the last bits; activations here are ~100s.
    EXPECT_NEAR(u.csi, csi, 1e-4) << u.layer << " unit " << u.unit;
    EXPECT_EQ(u.max_class, classes[best]) << u.layer << " unit " << u.unit;
    EXPECT_NEAR(u.mean_activation, all / 40, 1e-5 * std::max(1.0, std::abs(all / 40)));
    EXPECT_GE(u.csi, 0.0);  // activations after a ReLU are non-negative
    EXPECT_LE(u.csi, 1.0);
  }
}

}  // namespace
}  // namespace gex
