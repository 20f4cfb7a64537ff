// The model spec of DESIGN §3: which backbone, which attention, and the input it expects.
// Plain data (no Torch), so the UI and the CLI can build and show one cheaply.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gex {

enum class AttentionKind { kNone, kSE, kGE };
enum class GEVariant { kThetaMinus, kTheta, kThetaPlus };
enum class PoolKind { kAvg, kMax };
// Where a bottleneck stage puts its stride: on the first 1×1 convolution (the original ResNet, the
// paper's and the GE authors' release: 3.86 GMACs at ResNet-50) or on the 3×3 ("ResNet v1.5", as
// torchvision and timm build ResNet-50/101/152: 4.09 GMACs). The weights have the same shapes either
// way, so the choice must travel with them.
enum class StrideOn { k1x1, k3x3 };

// Extent ratio e of GE-SPEC §1; 0 stands for `global`.
constexpr int kGlobalExtent = 0;

struct ModelSpec {
  std::string backbone = "resnet20";
  AttentionKind attention = AttentionKind::kNone;
  GEVariant variant = GEVariant::kThetaMinus;
  int extent = kGlobalExtent;
  PoolKind pool = PoolKind::kAvg;
  int num_classes = 10;
  int in_channels = 3;
  int input_size = 32;
  StrideOn stride_on = StrideOn::k1x1;  // bottleneck backbones only

  // A GE-θ/θ⁺ module with global extent has a kernel the size of its feature map.
  bool fixed_input_size() const;
  // What is wrong with this spec, or nothing.
  std::optional<std::string> problem() const;
  // "resnet20, GE-θ⁻ (global, avg)"
  std::string describe() const;

  std::string to_json() const;
  // Throws InputError naming `source` when the text is not a valid spec.
  static ModelSpec from_json(const std::string& text, const std::string& source);

  bool operator==(const ModelSpec& other) const;
};

// The backbones of GE-SPEC §3: one table, which names, builds and sizes them.
enum class BackboneFamily { kResNetBasic, kResNetBottleneck, kCifarResNet, kPreResNet164, kWideResNet16x8, kShuffleNet };
struct Backbone {
  const char* name;
  BackboneFamily family;
  std::vector<int> blocks;  // per stage (ResNets), or the depth (CIFAR ResNets)
  bool imagenet;            // ImageNet-shaped by default (224×224, 1000 classes), else CIFAR (32×32, 10)
};
const std::vector<Backbone>& backbones();
const Backbone* find_backbone(const std::string& name);
std::vector<std::string> backbone_names();
bool is_imagenet_backbone(const std::string& name);
bool is_bottleneck_backbone(const std::string& name);

std::string to_string(AttentionKind kind);
std::string to_string(GEVariant variant);
std::string to_string(PoolKind pool);
std::string extent_to_string(int extent);
std::string to_string(StrideOn stride_on);
std::optional<StrideOn> parse_stride_on(const std::string& text);
std::optional<AttentionKind> parse_attention(const std::string& text);
std::optional<GEVariant> parse_variant(const std::string& text);
std::optional<PoolKind> parse_pool(const std::string& text);
std::optional<int> parse_extent(const std::string& text);

}  // namespace gex
