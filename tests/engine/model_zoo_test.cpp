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

// Every parameter and multiply-add, worked out here from the architectures' descriptions (the
// paper, He et al. and Zhang et al.), not by the engine's counter: a missing or doubled attention
// module, or a wrong gather kernel, shows as a difference of its exact size.
struct Count {
  int64_t params = 0, macs = 0;
};

int64_t out_size(int64_t h, int64_t k, int64_t s, int64_t p) { return (h + 2 * p - k) / s + 1; }

// A k×k convolution producing `cout` maps of h×h: its weights, and one MAC per weight per output pixel.
void add_conv(Count& c, int64_t cin, int64_t cout, int64_t k, int64_t h, int64_t groups = 1, bool bias = false) {
  const int64_t weights = cout * (cin / groups) * k * k;
  c.params += weights + (bias ? cout : 0);
  c.macs += weights * h * h;
}
void add_bn(Count& c, int64_t channels) { c.params += 2 * channels; }

struct Attention {
  AttentionKind kind;
  GEVariant variant;
  int extent;  // 0: global
};

// GE-SPEC §1 for one block of `ch` channels on an h×h map.
void add_attention(Count& c, const Attention& a, int64_t ch, int64_t h) {
  const int64_t hidden = std::max<int64_t>(1, ch / 16);
  // The excite MLP runs on the gathered map: 1×1 for SE and a global gather, H/e × W/e for local.
  const auto mlp = [&](int64_t gathered) {
    add_conv(c, ch, hidden, 1, gathered, 1, true);
    add_conv(c, hidden, ch, 1, gathered, 1, true);
  };
  if (a.kind == AttentionKind::kSE) return mlp(1);
  if (a.kind != AttentionKind::kGE || a.variant == GEVariant::kThetaMinus) return;
  int64_t size = 1;
  if (a.extent == 0) {
    c.params += ch * h * h;  // one depthwise kernel as large as the map
    c.macs += ch * h * h;
    add_bn(c, ch);
  } else {
    size = h;
    for (int64_t e = 1; e < a.extent; e *= 2) {  // log2(e) depthwise 3×3, stride 2
      size = out_size(size, 3, 2, 1);
      add_conv(c, ch, ch, 3, size, ch);
      add_bn(c, ch);
    }
  }
  if (a.variant == GEVariant::kThetaPlus) mlp(size);
}

// ResNet-50/101 at 224 (bottlenecks; a stage's stride on the first 1×1, as the paper's release, or
// on the 3×3, as torchvision's "v1.5": then the first 1×1 runs on the larger map).
Count resnet_by_hand(const std::vector<int>& blocks, const Attention& a, bool stride_on_3x3 = false) {
  Count c;
  add_conv(c, 3, 64, 7, 112);
  add_bn(c, 64);
  int64_t h = 56, in = 64;
  for (size_t stage = 0; stage < blocks.size(); ++stage) {
    const int64_t planes = int64_t{64} << stage, out = 4 * planes;
    for (int j = 0; j < blocks[stage]; ++j) {
      const int64_t stride = stage > 0 && j == 0 ? 2 : 1;
      add_conv(c, in, planes, 1, stride_on_3x3 ? h : out_size(h, 1, stride, 0));
      h = out_size(h, 1, stride, 0);
      add_conv(c, planes, planes, 3, h);
      add_conv(c, planes, out, 1, h);
      add_bn(c, planes), add_bn(c, planes), add_bn(c, out);
      if (stride != 1 || in != out) add_conv(c, in, out, 1, h), add_bn(c, out);
      add_attention(c, a, out, h);
      in = out;
    }
  }
  add_conv(c, in, 1000, 1, 1, 1, true);  // fc
  return c;
}

// ShuffleNet v1 1×, g = 3, at 224: stride-2 units concatenate an average-pooled shortcut, so their
// branch (and its gate) has out − in channels; the first unit's 1×1 is not grouped (24 inputs).
Count shufflenet_by_hand(const Attention& a) {
  Count c;
  add_conv(c, 3, 24, 3, 112);
  add_bn(c, 24);
  int64_t h = 56, in = 24;
  const int repeats[] = {4, 8, 4};
  const int64_t widths[] = {240, 480, 960};
  for (int stage = 0; stage < 3; ++stage) {
    for (int j = 0; j < repeats[stage]; ++j) {
      const int64_t out = widths[stage], mid = out / 4, stride = j == 0 ? 2 : 1;
      const int64_t branch = stride == 2 ? out - in : out;
      add_conv(c, in, mid, 1, h, stage == 0 && j == 0 ? 1 : 3);
      h = out_size(h, 3, stride, 1);
      add_conv(c, mid, mid, 3, h, mid);
      add_conv(c, mid, branch, 1, h, 3);
      add_bn(c, mid), add_bn(c, mid), add_bn(c, branch);
      add_attention(c, a, branch, h);
      in = out;
    }
  }
  add_conv(c, in, 1000, 1, 1, 1, true);
  return c;
}

const Attention kExactCases[] = {
    {AttentionKind::kNone, GEVariant::kThetaMinus, 0}, {AttentionKind::kSE, GEVariant::kThetaMinus, 0},
    {AttentionKind::kGE, GEVariant::kThetaMinus, 0},   {AttentionKind::kGE, GEVariant::kThetaMinus, 4},
    {AttentionKind::kGE, GEVariant::kTheta, 0},        {AttentionKind::kGE, GEVariant::kTheta, 2},
    {AttentionKind::kGE, GEVariant::kTheta, 4},        {AttentionKind::kGE, GEVariant::kTheta, 8},
    {AttentionKind::kGE, GEVariant::kThetaPlus, 0},    {AttentionKind::kGE, GEVariant::kThetaPlus, 4},
};

std::string describe(const char* backbone, const Attention& a) {
  return std::string(backbone) + " " + to_string(a.kind) + " " + to_string(a.variant) + " e=" +
         extent_to_string(a.extent);
}

TEST(PaperTableExact, ResNetCountsEqualTheArchitectureByHand) {
  for (const auto& [backbone, blocks] :
       {std::make_pair("resnet50", std::vector<int>{3, 4, 6, 3}), std::make_pair("resnet101", std::vector<int>{3, 4, 23, 3})})
    for (const auto& a : kExactCases) {
      const auto ours = measure({backbone, a.kind, a.variant, a.extent, 0, 0});
      const auto hand = resnet_by_hand(blocks, a);
      EXPECT_EQ(ours.params, hand.params) << describe(backbone, a);
      EXPECT_EQ(ours.macs, hand.macs) << describe(backbone, a);
    }
}

TEST(PaperTableExact, StrideOn3x3CountsEqualTheArchitectureByHand) {
  for (const auto& [backbone, blocks] :
       {std::make_pair("resnet50", std::vector<int>{3, 4, 6, 3}), std::make_pair("resnet101", std::vector<int>{3, 4, 23, 3})})
    for (const auto& a : kExactCases) {
      ModelSpec spec;
      spec.backbone = backbone;
      spec.attention = a.kind;
      spec.variant = a.variant;
      spec.extent = a.extent;
      spec.num_classes = 1000;
      spec.input_size = 224;
      spec.stride_on = StrideOn::k3x3;
      torch::manual_seed(0);
      auto net = build_network(spec);
      const auto ours = measure_complexity(*net);
      const auto hand = resnet_by_hand(blocks, a, true);
      EXPECT_EQ(ours.params, hand.params) << describe(backbone, a);
      EXPECT_EQ(ours.macs, hand.macs) << describe(backbone, a);
    }
  // torchvision's ResNet-50 is the 4.09 GMACs one (its documentation's "4.09 GFLOPS"), the paper's 3.86.
  EXPECT_NEAR(resnet_by_hand({3, 4, 6, 3}, kExactCases[0], true).macs / 1e9, 4.09, 0.005);
  EXPECT_NEAR(resnet_by_hand({3, 4, 6, 3}, kExactCases[0], false).macs / 1e9, 3.86, 0.005);
}

TEST(PaperTableExact, ShuffleNetCountsEqualTheArchitectureByHand) {
  for (const auto& a : kExactCases) {
    const auto ours = measure({"shufflenet", a.kind, a.variant, a.extent, 0, 0});
    const auto hand = shufflenet_by_hand(a);
    EXPECT_EQ(ours.params, hand.params) << describe("shufflenet", a);
    EXPECT_EQ(ours.macs, hand.macs) << describe("shufflenet", a);
  }
}

TEST(PaperTableExact, ResNet50HandCountsAgreeWithThePaper) {
  // The by-hand counts are themselves the paper's (GE-SPEC §4), to its rounding.
  const std::pair<Attention, std::pair<double, double>> rows[] = {
      {kExactCases[0], {25.6, 3.86}}, {kExactCases[1], {28.1, 3.87}}, {kExactCases[2], {25.6, 3.86}},
      {kExactCases[4], {31.2, 3.87}}, {kExactCases[8], {33.7, 3.87}}};
  for (const auto& [a, paper] : rows) {
    const auto hand = resnet_by_hand({3, 4, 6, 3}, a);
    EXPECT_NEAR(hand.params / 1e6, paper.first, 0.2) << describe("resnet50", a);
    EXPECT_NEAR(hand.macs / 1e9, paper.second, 0.01) << describe("resnet50", a);
  }
}

}  // namespace
}  // namespace gex
