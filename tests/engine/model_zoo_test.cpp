// The figures of the paper (GE-SPEC §4), reproduced by our parameter and MAC counts.
#include <gtest/gtest.h>

#include "models/registry.h"
#include "seeded.h"

namespace gex {
namespace {

struct Row {
  const char* backbone;
  AttentionKind attention;
  GEVariant variant;
  int extent;
  double params_m;  // paper, millions
  double macs_g;    // paper, billions
};

Complexity measure(const Row& row) {
  ModelSpec spec;
  spec.backbone = row.backbone;
  spec.attention = row.attention;
  spec.variant = row.variant;
  spec.extent = row.extent;
  spec.num_classes = 1000;
  spec.in_channels = 3;
  spec.input_size = 224;
  auto net = build_network(spec);
  return measure_complexity(*net);
}

class PaperTable : public test::Seeded, public ::testing::WithParamInterface<Row> {};

TEST_P(PaperTable, ResNetParamsWithinPointTwoMillionAndMacsWithinHalfAPercent) {
  const auto& row = GetParam();
  const auto c = measure(row);
  EXPECT_NEAR(c.params / 1e6, row.params_m, 0.2);
  EXPECT_NEAR(c.macs / 1e9, row.macs_g, row.macs_g * 0.005);
}

const Row kResNetRows[] = {
    {"resnet50", AttentionKind::kNone, GEVariant::kThetaMinus, 0, 25.6, 3.86},
    {"resnet50", AttentionKind::kSE, GEVariant::kThetaMinus, 0, 28.1, 3.87},
    {"resnet50", AttentionKind::kGE, GEVariant::kThetaMinus, 0, 25.6, 3.86},
    {"resnet50", AttentionKind::kGE, GEVariant::kTheta, 0, 31.2, 3.87},
    {"resnet50", AttentionKind::kGE, GEVariant::kThetaPlus, 0, 33.7, 3.87},
    {"resnet101", AttentionKind::kNone, GEVariant::kThetaMinus, 0, 44.6, 7.57},
    {"resnet101", AttentionKind::kSE, GEVariant::kThetaMinus, 0, 49.4, 7.58},
    {"resnet101", AttentionKind::kGE, GEVariant::kThetaMinus, 0, 44.6, 7.58},
    {"resnet101", AttentionKind::kGE, GEVariant::kTheta, 0, 53.7, 7.59},
    {"resnet101", AttentionKind::kGE, GEVariant::kThetaPlus, 0, 58.4, 7.59},
};

INSTANTIATE_TEST_SUITE_P(ResNet, PaperTable, ::testing::ValuesIn(kResNetRows));

class ShuffleNetTable : public test::Seeded, public ::testing::WithParamInterface<Row> {};

TEST_P(ShuffleNetTable, WithinTenPercentOfThePaper) {
  const auto& row = GetParam();
  const auto c = measure(row);
  EXPECT_NEAR(c.params / 1e6, row.params_m, row.params_m * 0.10);
  EXPECT_NEAR(c.macs / 1e6, row.macs_g, row.macs_g * 0.10);
}

const Row kShuffleRows[] = {
    {"shufflenet", AttentionKind::kNone, GEVariant::kThetaMinus, 0, 1.9, 137.5},
    {"shufflenet", AttentionKind::kSE, GEVariant::kThetaMinus, 0, 2.5, 139.9},
    {"shufflenet", AttentionKind::kGE, GEVariant::kTheta, 2, 2.0, 138.9},
    {"shufflenet", AttentionKind::kGE, GEVariant::kTheta, 4, 2.1, 139.1},
    {"shufflenet", AttentionKind::kGE, GEVariant::kTheta, 8, 2.2, 139.2},
    {"shufflenet", AttentionKind::kGE, GEVariant::kTheta, 0, 3.6, 140.8},
    {"shufflenet", AttentionKind::kGE, GEVariant::kThetaPlus, 0, 4.4, 141.6},
};

INSTANTIATE_TEST_SUITE_P(ShuffleNet, ShuffleNetTable, ::testing::ValuesIn(kShuffleRows));

TEST(PaperTableExact, ThetaMinusAddsExactlyZeroParameters) {
  for (const char* backbone : {"resnet50", "resnet101", "shufflenet"}) {
    const auto base = measure({backbone, AttentionKind::kNone, GEVariant::kThetaMinus, 0, 0, 0});
    for (int e : {2, 4, 8, 0}) {
      const auto ge = measure({backbone, AttentionKind::kGE, GEVariant::kThetaMinus, e, 0, 0});
      EXPECT_EQ(ge.params, base.params) << backbone << " e=" << e;
      EXPECT_EQ(ge.macs, base.macs) << backbone << " e=" << e;
    }
  }
}

TEST(PaperTableExact, GlobalThetaAddsOneMapSizedKernelPerChannelAndBN) {
  // ResNet-50 at 224: stage maps 56, 28, 14, 7; 3/4/6/3 blocks of 256/512/1024/2048 channels.
  const auto base = measure({"resnet50", AttentionKind::kNone, GEVariant::kThetaMinus, 0, 0, 0});
  const auto theta = measure({"resnet50", AttentionKind::kGE, GEVariant::kTheta, 0, 0, 0});
  const int64_t kernels = 3 * 256 * 56 * 56 + 4 * 512 * 28 * 28 + 6 * 1024 * 14 * 14 + 3 * 2048 * 7 * 7;
  const int64_t bn = 2 * (3 * 256 + 4 * 512 + 6 * 1024 + 3 * 2048);
  EXPECT_EQ(theta.params - base.params, kernels + bn);
  EXPECT_EQ(theta.macs - base.macs, kernels);  // one MAC per kernel weight per image
}

}  // namespace
}  // namespace gex
