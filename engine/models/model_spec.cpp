#include "models/model_spec.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "errors.h"

namespace gex {

const std::vector<Backbone>& backbones() {
  using F = BackboneFamily;
  static const std::vector<Backbone> table = {
      {"resnet18", F::kResNetBasic, {2, 2, 2, 2}, true},
      {"resnet34", F::kResNetBasic, {3, 4, 6, 3}, true},
      {"resnet50", F::kResNetBottleneck, {3, 4, 6, 3}, true},
      {"resnet101", F::kResNetBottleneck, {3, 4, 23, 3}, true},
      {"resnet152", F::kResNetBottleneck, {3, 8, 36, 3}, true},
      {"resnet20", F::kCifarResNet, {20}, false},
      {"resnet32", F::kCifarResNet, {32}, false},
      {"resnet44", F::kCifarResNet, {44}, false},
      {"resnet56", F::kCifarResNet, {56}, false},
      {"resnet110", F::kCifarResNet, {110}, false},
      {"preresnet164", F::kPreResNet164, {}, false},
      {"wrn16-8", F::kWideResNet16x8, {}, false},
      {"shufflenet", F::kShuffleNet, {}, true},
  };
  return table;
}

const Backbone* find_backbone(const std::string& name) {
  for (const auto& b : backbones())
    if (name == b.name) return &b;
  return nullptr;
}

std::vector<std::string> backbone_names() {
  std::vector<std::string> names;
  for (const auto& b : backbones()) names.emplace_back(b.name);
  return names;
}

bool is_imagenet_backbone(const std::string& name) {
  const Backbone* b = find_backbone(name);
  return b && b->imagenet;
}

bool is_bottleneck_backbone(const std::string& name) {
  const Backbone* b = find_backbone(name);
  return b && b->family == BackboneFamily::kResNetBottleneck;
}

std::string to_string(StrideOn stride_on) { return stride_on == StrideOn::k3x3 ? "3x3" : "1x1"; }

std::optional<StrideOn> parse_stride_on(const std::string& text) {
  if (text == "1x1") return StrideOn::k1x1;
  if (text == "3x3") return StrideOn::k3x3;
  return std::nullopt;
}

std::string to_string(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::kNone: return "none";
    case AttentionKind::kSE: return "se";
    case AttentionKind::kGE: return "ge";
  }
  return "none";
}

std::string to_string(GEVariant variant) {
  switch (variant) {
    case GEVariant::kThetaMinus: return "theta-minus";
    case GEVariant::kTheta: return "theta";
    case GEVariant::kThetaPlus: return "theta-plus";
  }
  return "theta-minus";
}

std::string to_string(PoolKind pool) { return pool == PoolKind::kMax ? "max" : "avg"; }

std::string extent_to_string(int extent) {
  return extent == kGlobalExtent ? "global" : std::to_string(extent);
}

std::optional<AttentionKind> parse_attention(const std::string& text) {
  if (text == "none") return AttentionKind::kNone;
  if (text == "se") return AttentionKind::kSE;
  if (text == "ge") return AttentionKind::kGE;
  return std::nullopt;
}

std::optional<GEVariant> parse_variant(const std::string& text) {
  if (text == "theta-minus") return GEVariant::kThetaMinus;
  if (text == "theta") return GEVariant::kTheta;
  if (text == "theta-plus") return GEVariant::kThetaPlus;
  return std::nullopt;
}

std::optional<PoolKind> parse_pool(const std::string& text) {
  if (text == "avg") return PoolKind::kAvg;
  if (text == "max") return PoolKind::kMax;
  return std::nullopt;
}

std::optional<int> parse_extent(const std::string& text) {
  if (text == "global") return kGlobalExtent;
  if (text == "2") return 2;
  if (text == "4") return 4;
  if (text == "8") return 8;
  return std::nullopt;
}

bool ModelSpec::fixed_input_size() const {
  return attention == AttentionKind::kGE && extent == kGlobalExtent &&
         variant != GEVariant::kThetaMinus;
}

std::optional<std::string> ModelSpec::problem() const {
  if (!find_backbone(backbone)) {
    std::string known;
    for (const auto& b : backbones()) known += (known.empty() ? "" : ", ") + std::string(b.name);
    return "unknown backbone '" + backbone + "' (known: " + known + ")";
  }
  if (stride_on == StrideOn::k3x3 && !is_bottleneck_backbone(backbone))
    return "the stride can move to the 3×3 convolution only in a bottleneck ResNet (resnet50, resnet101, "
           "resnet152); " + backbone + " has it there already or has no bottleneck";
  if (extent != kGlobalExtent && extent != 2 && extent != 4 && extent != 8)
    return "extent must be 2, 4, 8 or global, not " + std::to_string(extent);
  if (num_classes < 1 || num_classes > 100000)
    return "the number of classes must be between 1 and 100000, not " +
           std::to_string(num_classes);
  if (in_channels < 1 || in_channels > 4096)
    return "the number of input channels must be between 1 and 4096, not " +
           std::to_string(in_channels);
  if (input_size < 1 || input_size > 4096)
    return "the input size must be between 1 and 4096 pixels, not " + std::to_string(input_size);
  // The kernel of a global GE-θ gather is as large as its feature map.
  if (fixed_input_size() && input_size > 1024)
    return "a global GE-θ/θ⁺ model takes inputs of at most 1024 pixels, not " +
           std::to_string(input_size);
  return std::nullopt;
}

std::string ModelSpec::describe() const {
  std::string text = backbone + (stride_on == StrideOn::k3x3 ? " (stride on 3×3)" : "") + ", ";
  switch (attention) {
    case AttentionKind::kNone: return text + "baseline";
    case AttentionKind::kSE: return text + "SE";
    case AttentionKind::kGE: break;
  }
  const char* name = variant == GEVariant::kThetaMinus ? "GE-θ⁻"
                     : variant == GEVariant::kTheta    ? "GE-θ"
                                                       : "GE-θ⁺";
  text += std::string(name) + " (" + (extent == kGlobalExtent ? "global" : "e=" + std::to_string(extent));
  if (variant == GEVariant::kThetaMinus) text += ", " + to_string(pool);
  return text + ")";
}

std::string ModelSpec::to_json() const {
  nlohmann::ordered_json j;
  j["backbone"] = backbone;
  j["attention"] = to_string(attention);
  j["variant"] = to_string(variant);
  if (extent == kGlobalExtent)
    j["extent"] = "global";
  else
    j["extent"] = extent;
  j["pool"] = to_string(pool);
  j["num_classes"] = num_classes;
  j["in_channels"] = in_channels;
  j["input_size"] = input_size;
  if (is_bottleneck_backbone(backbone)) j["stride_on"] = gex::to_string(stride_on);
  return j.dump();
}

namespace {

std::string read_string(const nlohmann::json& j, const char* key, const std::string& fallback,
                        const std::string& source) {
  if (!j.contains(key)) return fallback;
  if (!j[key].is_string())
    throw InputError(source, std::string("model spec: '") + key + "' must be a string");
  return j[key].get<std::string>();
}

int read_int(const nlohmann::json& j, const char* key, int fallback, const std::string& source) {
  if (!j.contains(key)) return fallback;
  if (!j[key].is_number_integer())
    throw InputError(source, std::string("model spec: '") + key + "' must be an integer");
  const auto value = j[key].get<int64_t>();
  if (value < 0 || value > 1000000)
    throw InputError(source, std::string("model spec: '") + key + "' is out of range");
  return static_cast<int>(value);
}

}  // namespace

ModelSpec ModelSpec::from_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(source, "model spec is not JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::exception& e) {  // e.g. a number beyond double's range
    throw InputError(source, std::string("model spec cannot be read: ") + e.what());
  }
  if (!j.is_object()) throw InputError(source, "model spec must be a JSON object");
  ModelSpec spec;
  if (!j.contains("backbone")) throw InputError(source, "model spec has no 'backbone'");
  spec.backbone = read_string(j, "backbone", spec.backbone, source);
  const auto attention = parse_attention(read_string(j, "attention", "none", source));
  if (!attention) throw InputError(source, "model spec: 'attention' must be none, se or ge");
  spec.attention = *attention;
  const auto variant = parse_variant(read_string(j, "variant", "theta-minus", source));
  if (!variant)
    throw InputError(source, "model spec: 'variant' must be theta-minus, theta or theta-plus");
  spec.variant = *variant;
  if (j.contains("extent")) {
    const auto& e = j["extent"];
    std::optional<int> extent;
    if (e.is_string()) extent = parse_extent(e.get<std::string>());
    if (e.is_number_integer()) extent = parse_extent(std::to_string(e.get<int64_t>()));
    if (!extent) throw InputError(source, "model spec: 'extent' must be 2, 4, 8 or \"global\"");
    spec.extent = *extent;
  }
  const auto pool = parse_pool(read_string(j, "pool", "avg", source));
  if (!pool) throw InputError(source, "model spec: 'pool' must be avg or max");
  spec.pool = *pool;
  spec.num_classes = read_int(j, "num_classes", spec.num_classes, source);
  spec.in_channels = read_int(j, "in_channels", spec.in_channels, source);
  spec.input_size = read_int(j, "input_size", spec.input_size, source);
  // Written since stride_on existed; a spec without it was built with the stride on the 1×1.
  const auto stride_on = parse_stride_on(read_string(j, "stride_on", "1x1", source));
  if (!stride_on) throw InputError(source, "model spec: 'stride_on' must be \"1x1\" or \"3x3\"");
  spec.stride_on = *stride_on;
  if (const auto p = spec.problem()) throw InputError(source, "model spec: " + *p);
  return spec;
}

bool ModelSpec::operator==(const ModelSpec& o) const {
  return backbone == o.backbone && attention == o.attention && variant == o.variant &&
         extent == o.extent && pool == o.pool && num_classes == o.num_classes &&
         in_channels == o.in_channels && input_size == o.input_size && stride_on == o.stride_on;
}

}  // namespace gex
