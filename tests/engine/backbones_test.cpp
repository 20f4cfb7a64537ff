// Every backbone with every kind of attention: shapes, gradients, parameter names (torchvision's,
// attention under `attn`), and counts computed by hand.
#include <gtest/gtest.h>

#include <set>

#include "errors.h"
#include "models/registry.h"
#include "seeded.h"

namespace gex {
namespace {

struct AttentionCase {
  const char* name;
  AttentionKind kind;
  GEVariant variant;
  int extent;
};

const AttentionCase kAttentions[] = {
    {"none", AttentionKind::kNone, GEVariant::kThetaMinus, kGlobalExtent},
    {"se", AttentionKind::kSE, GEVariant::kThetaMinus, kGlobalExtent},
    {"ge_theta_minus_global", AttentionKind::kGE, GEVariant::kThetaMinus, kGlobalExtent},
    {"ge_theta_e2", AttentionKind::kGE, GEVariant::kTheta, 2},
    {"ge_theta_plus_global", AttentionKind::kGE, GEVariant::kThetaPlus, kGlobalExtent},
};

using Param = std::tuple<std::string, int>;  // backbone, index into kAttentions

class Backbone : public test::Seeded, public ::testing::WithParamInterface<Param> {};

ModelSpec zoo_spec(const std::string& backbone, int a) {
  ModelSpec spec;
  spec.backbone = backbone;
  spec.attention = kAttentions[a].kind;
  spec.variant = kAttentions[a].variant;
  spec.extent = kAttentions[a].extent;
  spec.num_classes = 7;
  spec.in_channels = 2;
  spec.input_size = is_imagenet_backbone(backbone) ? 32 : 20;
  return spec;
}

TEST_P(Backbone, ForwardShapeAndGradients) {
  const auto& [backbone, a] = GetParam();
  const ModelSpec spec = zoo_spec(backbone, a);
  auto net = build_network(spec);
  net->train();
  auto x = torch::randn({2, 2, spec.input_size, spec.input_size}, torch::requires_grad());
  auto y = net->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 7}));
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  torch::nn::functional::cross_entropy(y, torch::tensor({1, 5})).backward();
  EXPECT_GT(x.grad().abs().sum().item<float>(), 0.0f);
  // Every parameter takes part in training with a finite gradient (GradientsAreTheDerivative
  // checks their values).
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
  // One attention module per residual block, named <block>.attn.
  const auto blocks = net->blocks();
  const auto attns = net->attention_modules();
  EXPECT_FALSE(blocks.empty());
  if (spec.attention == AttentionKind::kNone) {
    EXPECT_TRUE(attns.empty());
  } else {
    ASSERT_EQ(attns.size(), blocks.size());
    for (size_t i = 0; i < blocks.size(); ++i) EXPECT_EQ(attns[i].first, blocks[i].first + ".attn");
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string name = std::get<0>(info.param) + "_" + kAttentions[std::get<1>(info.param)].name;
  for (auto& c : name)
    if (c == '-') c = '_';
  return name;
}

// ResNet-101 and -152 are ResNet-50 with more blocks per stage: their blocks and one attention
// kind per block are checked; SE, GE-θ and GE-θ⁺ inside a bottleneck block are ResNet-50's.
std::vector<Param> backbone_cases() {
  std::vector<Param> cases;
  for (const std::string& backbone : backbone_names())
    for (int a = 0; a < 5; ++a)
      if (!((backbone == "resnet101" || backbone == "resnet152") && a != 0 && a != 2)) cases.emplace_back(backbone, a);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Zoo, Backbone, ::testing::ValuesIn(backbone_cases()), param_name);

// The gradients are the derivative of the forward pass: along a random direction v of all the
// parameters, Σ grad·v equals the central difference of the loss. In double precision, in
// evaluation mode (a fixed function of the parameters: in training, a BN over the handful of
// values per channel of a tiny batch is too curved for any finite step), with a step small enough
// that no ReLU changes side. Every backbone family with every kind of attention; the
// deepest ResNets add nothing their shallower siblings do not check. GE-θ at e = 2 is left out on
// the two largest (ResNet-50, pre-activation ResNet-164): in double, LibTorch runs a depthwise
// convolution as one small convolution per channel (over 2 minutes each), and their other
// attentions and the GE-θ module on the four other families check everything they would.
class Gradients : public test::Seeded, public ::testing::WithParamInterface<Param> {};

TEST_P(Gradients, AreTheDerivativeOfTheForwardPass) {
  const auto& [backbone, a] = GetParam();
  auto net = build_network(zoo_spec(backbone, a));
  net->to(torch::kFloat64);
  net->eval();
  const int64_t size = zoo_spec(backbone, a).input_size;
  const auto x = torch::randn({2, 2, size, size}, torch::kFloat64);
  const auto labels = torch::tensor({1, 5});
  const auto loss = [&] { return torch::nn::functional::cross_entropy(net->forward(x), labels); };
  loss().backward();
  std::vector<torch::Tensor> directions;
  double predicted = 0;
  for (auto& p : net->parameters()) {
    directions.push_back(torch::randn_like(p));
    predicted += (p.grad() * directions.back()).sum().item<double>();
  }
  const double eps = 1e-10;  // rounding of the loss stays below 1e-5 of the derivative
  const auto shifted = [&](double h) {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    for (auto& p : net->parameters()) p.add_(directions[i++], h);
    const double value = loss().item<double>();
    i = 0;
    for (auto& p : net->parameters()) p.sub_(directions[i++], h);
    return value;
  };
  const double measured = (shifted(eps) - shifted(-eps)) / (2 * eps);
  EXPECT_NEAR(measured, predicted, 1e-3 * std::abs(predicted) + 1e-4);
}

std::vector<Param> gradient_cases() {
  std::vector<Param> cases;
  for (const std::string backbone : {"resnet18", "resnet50", "resnet20", "resnet56", "preresnet164", "wrn16-8", "shufflenet"})
    for (int a = 0; a < 5; ++a)
      if (!((backbone == "resnet50" || backbone == "preresnet164") && kAttentions[a].extent == 2))
        cases.emplace_back(backbone, a);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Zoo, Gradients, ::testing::ValuesIn(gradient_cases()), param_name);

class Models : public test::Seeded {};

std::set<std::string> state_keys(NetworkImpl& net) {
  std::set<std::string> keys;
  for (const auto& p : net.named_parameters()) keys.insert(p.key());
  for (const auto& b : net.named_buffers()) keys.insert(b.key());
  return keys;
}

ModelSpec imagenet(const std::string& backbone, AttentionKind kind = AttentionKind::kNone,
                   GEVariant variant = GEVariant::kThetaMinus) {
  ModelSpec spec;
  spec.backbone = backbone;
  spec.attention = kind;
  spec.variant = variant;
  spec.num_classes = 1000;
  spec.input_size = 224;
  return spec;
}

TEST_F(Models, ResNet50KeysAreTorchvisions) {
  auto net = build_network(imagenet("resnet50"));
  const auto keys = state_keys(*net);
  // torchvision's resnet50 state_dict: 53 convs, 53 BNs (×5 tensors), fc weight and bias.
  EXPECT_EQ(keys.size(), 53u + 53u * 5u + 2u);
  for (const char* k : {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight",
                        "layer1.0.downsample.0.weight", "layer1.0.downsample.1.num_batches_tracked",
                        "layer3.5.bn3.weight", "layer4.2.conv3.weight", "fc.weight", "fc.bias"})
    EXPECT_TRUE(keys.count(k)) << k;
  EXPECT_EQ(net->named_parameters()["layer2.0.conv1.weight"].sizes(),
            (std::vector<int64_t>{128, 256, 1, 1}));
}

TEST_F(Models, AttentionKeysFollowTheSpec) {
  auto plus = build_network(imagenet("resnet50", AttentionKind::kGE, GEVariant::kThetaPlus));
  const auto keys = state_keys(*plus);
  for (const char* k :
       {"layer1.0.attn.gather.0.conv.weight", "layer1.0.attn.gather.0.bn.weight",
        "layer1.0.attn.gather.0.bn.running_var", "layer1.0.attn.gather.0.bn.num_batches_tracked",
        "layer4.2.attn.mlp.fc1.weight", "layer4.2.attn.mlp.fc1.bias", "layer4.2.attn.mlp.fc2.weight"})
    EXPECT_TRUE(keys.count(k)) << k;
  auto params = plus->named_parameters();
  // Global gather: one depthwise conv as large as the 56×56 map of stage 1; MLP 1×1 convs 4-D.
  EXPECT_EQ(params["layer1.0.attn.gather.0.conv.weight"].sizes(), (std::vector<int64_t>{256, 1, 56, 56}));
  EXPECT_EQ(params["layer4.2.attn.mlp.fc1.weight"].sizes(), (std::vector<int64_t>{128, 2048, 1, 1}));

  ModelSpec local = imagenet("resnet50", AttentionKind::kGE, GEVariant::kTheta);
  local.extent = 8;
  auto theta8 = build_network(local);
  const auto local_keys = state_keys(*theta8);
  EXPECT_TRUE(local_keys.count("layer2.3.attn.gather.2.conv.weight"));
  EXPECT_FALSE(local_keys.count("layer2.3.attn.gather.3.conv.weight"));

  auto se = build_network(imagenet("resnet50", AttentionKind::kSE));
  const auto se_keys = state_keys(*se);
  EXPECT_TRUE(se_keys.count("layer2.1.attn.fc1.weight"));
  EXPECT_TRUE(se_keys.count("layer2.1.attn.fc2.bias"));
}

TEST_F(Models, ResNet20ParametersByHand) {
  ModelSpec spec;  // resnet20, 3×32×32, 10 classes
  auto net = build_network(spec);
  // stem 3·16·9 + BN; stage 1: 6 convs 16·16·9; stage 2: 16·32·9 + 5·32·32·9; stage 3:
  // 32·64·9 + 5·64·64·9; BN 2·(16 + 6·16 + 6·32 + 6·64); fc 64·10 + 10.
  const int64_t expected = 432 + 6 * 2304 + (4608 + 5 * 9216) + (18432 + 5 * 36864) +
                           2 * (16 + 96 + 192 + 384) + 650;
  EXPECT_EQ(measure_complexity(*net).params, expected);
  EXPECT_EQ(expected, 269722);
}

// A one-channel batch (Fashion-MNIST) in plain NCHW reaches the stem convolution channels-last,
// so oneDNN does not convolve in NCHW and reorder: in evaluation the stem's BN and ReLU keep the
// convolution's layout, which therefore shows in the output's strides. The values equal the stem
// computed by hand on the NCHW batch.
TEST_F(Models, OneChannelBatchStaysChannelsLastThroughTheStem) {
  ModelSpec spec;
  spec.in_channels = 1, spec.input_size = 28;
  auto net = build_network(spec);
  to_channels_last(*net);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({4, 1, 28, 28});
  ASSERT_TRUE(x.is_contiguous());
  const auto y = net->forward_until(0, x);
  EXPECT_EQ(y.stride(1), 1) << "the stem convolution ran in NCHW";
  EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));

  const auto p = net->named_parameters();
  const auto b = net->named_buffers();
  const auto c = torch::conv2d(x, p["conv1.weight"].contiguous(), {}, 1, 1);
  const auto expected = ((c - b["bn1.running_mean"].view({1, -1, 1, 1})) /
                             (b["bn1.running_var"].view({1, -1, 1, 1}) + 1e-5).sqrt() * p["bn1.weight"].view({1, -1, 1, 1}) +
                         p["bn1.bias"].view({1, -1, 1, 1}))
                            .relu();
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-5));
}

TEST_F(Models, OptionAShortcutPadsZeroChannelsOnBothSides) {
  // A ResNet-20 whose residual branches output zero is the identity path alone: the shortcut of
  // layer2.0 keeps input channels 0..15 at 8..23 and pads zeros around them.
  ModelSpec spec;
  spec.in_channels = 1;
  spec.input_size = 8;
  auto net = build_network(spec);
  net->eval();
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters())
    if (p.key().find("bn2.weight") != std::string::npos) p.value().zero_();
  for (auto& p : net->named_parameters())
    if (p.key().find("bn2.bias") != std::string::npos) p.value().zero_();
  auto blocks = net->blocks();
  torch::Tensor captured;
  blocks[3].second->set_output_hook([&](const torch::Tensor& y) {
    captured = y;
    return y;
  });
  auto x = torch::rand({1, 16, 8, 8});  // input to layer2.0
  auto y = blocks[3].second->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 32, 4, 4}));
  using torch::indexing::Slice;
  auto strided = x.index({Slice(), Slice(), Slice(0, 8, 2), Slice(0, 8, 2)});
  EXPECT_TRUE(torch::equal(y.index({Slice(), Slice(8, 24)}), strided));
  EXPECT_EQ(y.index({Slice(), Slice(0, 8)}).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(y.index({Slice(), Slice(24, 32)}).abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(captured, y));
}

TEST_F(Models, AnyInputChannelsClassesAndSize) {
  ModelSpec spec;
  spec.backbone = "resnet20";
  spec.in_channels = 1;
  spec.input_size = 28;
  spec.num_classes = 3;
  spec.attention = AttentionKind::kGE;
  spec.variant = GEVariant::kThetaPlus;
  auto net = build_network(spec);
  net->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(net->forward(torch::randn({5, 1, 28, 28})).sizes(), (std::vector<int64_t>{5, 3}));
  // A global θ⁺ fixes the resolution: another size is a clear input error.
  EXPECT_THROW(net->forward(torch::randn({1, 1, 32, 32})), InputError);
  EXPECT_THROW(net->forward(torch::randn({1, 3, 28, 28})), InputError);
  EXPECT_THROW(net->forward(torch::randn({28, 28})), InputError);
  // θ⁻ takes any size.
  spec.variant = GEVariant::kThetaMinus;
  auto free_size = build_network(spec);
  free_size->eval();
  EXPECT_EQ(free_size->forward(torch::randn({1, 1, 45, 37})).sizes(), (std::vector<int64_t>{1, 3}));
}

TEST_F(Models, ThetaMinusIsTheBaselineWithGates) {
  // Same seed, same weights: a θ⁻ model differs from the baseline only by its gates.
  ModelSpec base;
  ModelSpec ge = base;
  ge.attention = AttentionKind::kGE;
  torch::manual_seed(3);
  auto a = build_network(base);
  torch::manual_seed(3);
  auto b = build_network(ge);
  EXPECT_EQ(measure_complexity(*a).params, measure_complexity(*b).params);
  auto ka = state_keys(*a), kb = state_keys(*b);
  EXPECT_EQ(ka, kb);
}

TEST_F(Models, GateCaptureListsEveryModule) {
  ModelSpec spec;
  spec.attention = AttentionKind::kGE;
  spec.extent = 4;
  auto net = build_network(spec);
  net->eval();
  net->set_gate_capture(true);
  torch::NoGradGuard no_grad;
  net->forward(torch::randn({2, 3, 32, 32}));
  const auto attns = net->attention_modules();
  ASSERT_EQ(attns.size(), 9u);
  EXPECT_EQ(attns.front().first, "layer1.0.attn");
  EXPECT_EQ(attns.front().second->last_gate().sizes(), (std::vector<int64_t>{2, 16, 32, 32}));
  EXPECT_EQ(attns.back().second->last_gate().sizes(), (std::vector<int64_t>{2, 64, 8, 8}));
  net->set_gate_capture(false);
  EXPECT_FALSE(attns.front().second->last_gate().defined());
}

TEST_F(Models, BadSpecsAreUsageErrors) {
  ModelSpec spec;
  spec.backbone = "resnet21";
  EXPECT_THROW(build_network(spec), UsageError);
  spec.backbone = "resnet20";
  spec.extent = 3;
  EXPECT_THROW(build_network(spec), UsageError);
  spec.extent = 2;
  spec.num_classes = 0;
  EXPECT_THROW(build_network(spec), UsageError);
}

TEST_F(Models, SpecJsonRoundTrip) {
  ModelSpec spec;
  spec.backbone = "wrn16-8";
  spec.attention = AttentionKind::kGE;
  spec.variant = GEVariant::kTheta;
  spec.extent = 8;
  spec.pool = PoolKind::kMax;
  spec.num_classes = 100;
  EXPECT_EQ(ModelSpec::from_json(spec.to_json(), "test"), spec);
  const auto design = ModelSpec::from_json(
      R"({"backbone":"resnet20","attention":"ge","variant":"theta-minus","extent":"global","pool":"avg","num_classes":10,"in_channels":1,"input_size":28})",
      "design");
  EXPECT_EQ(design.extent, kGlobalExtent);
  EXPECT_EQ(design.in_channels, 1);
  EXPECT_THROW(ModelSpec::from_json("{not json", "x"), InputError);
  EXPECT_THROW(ModelSpec::from_json(R"({"backbone":"resnet20","extent":3})", "x"), InputError);
  EXPECT_THROW(ModelSpec::from_json(R"({"backbone":"vgg16"})", "x"), InputError);
  EXPECT_THROW(ModelSpec::from_json(R"({"attention":"ge"})", "x"), InputError);
}

}  // namespace
}  // namespace gex
