#include "train/import_weights.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "errors.h"
#include "io/torch_save.h"

namespace gex {

extern const char* const kImageNetClassNames;  // resources/imagenet_classes.txt, embedded at build time

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A safetensors file starts with its header's length and then '{'.
bool looks_like_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  in.read(head, 9);
  return in.gcount() == 9 && head[8] == '{';
}

// Our names for the file's: DDP's `module.` prefix dropped, timm's SE module `se` is our `attn`.
std::string our_name(std::string name) {
  if (starts_with(name, "module.")) name = name.substr(7);
  for (const std::string from : {".se.", ".se_module."}) {
    const auto at = name.find(from);
    if (at != std::string::npos) name.replace(at, from.size(), ".attn.");
  }
  return name;
}


std::vector<std::string> read_class_names(const std::string& path, int classes) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot be opened (class names, one per line)");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  if (int(names.size()) != classes)
    throw InputError(path, "has " + std::to_string(names.size()) + " class names; the head has " +
                               std::to_string(classes) + " classes");
  return names;
}

std::string listing(const char* what, const std::vector<std::string>& names) {
  if (names.empty()) return "";
  std::string out = "\n  " + std::to_string(names.size()) + " " + what + ": ";
  for (size_t i = 0; i < names.size() && i < 12; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 12) out += ", …";
  return out;
}

}  // namespace

const std::vector<std::string>& imagenet_class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    std::istringstream in(kImageNetClassNames);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  }();
  return names;
}

TensorList read_state_dict_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw InputError(path, "no such file");
  if (looks_like_safetensors(path)) return read_safetensors(path).tensors;
  return read_torch_save(path);  // names the legacy format and anything else it is not
}

namespace {

// BatchNorm's count of batches seen: no weight, only a counter, so a file without it or with it in
// another number type (a state dict halved tensor by tensor, `{k: v.half()}`) is no misfit.
bool is_batch_counter(const std::string& name) {
  static const std::string kCounter = "num_batches_tracked";
  return name.size() >= kCounter.size() && name.compare(name.size() - kCounter.size(), kCounter.size(), kCounter) == 0;
}

// What may differ between the source's tensors and the network's.
struct TransferRules {
  bool head_replaced = false;           // the source's head is ignored, ours stays initialised
  bool source_has_attention = false;    // else our attention modules stay initialised
  bool ignore_extra_attention = false;  // the source's attention modules we lack: ignored, not an error
};

// Copies every tensor of `source` into `net` by name (checked first, copied only when all fit).
ImportReport transfer(NetworkImpl& net, const std::map<std::string, torch::Tensor>& source,
                      const std::map<std::string, std::string>& original, const TransferRules& rules,
                      const std::string& path) {
  ImportReport report;
  report.reinitialised_head = rules.head_replaced;
  std::vector<std::string> missing, misshaped;
  std::set<std::string> used;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (ours, the source's)
  const auto visit = [&](const std::string& name, torch::Tensor target) {
    if (rules.head_replaced && is_head_tensor(name)) {
      report.initialised.push_back(name);
      return;
    }
    const auto it = source.find(name);
    if (it == source.end()) {
      const bool optional = (is_attention_tensor(name) && !rules.source_has_attention) || is_batch_counter(name);
      (optional ? report.initialised : missing).push_back(name);
      return;
    }
    used.insert(name);
    const torch::Tensor& t = it->second;
    const bool kind_differs = torch::isFloatingType(t.scalar_type()) != torch::isFloatingType(target.scalar_type());
    if (t.sizes() != target.sizes() || (kind_differs && !is_batch_counter(name)) || t.scalar_type() == torch::kBool) {
      misshaped.push_back(original.at(name) + " " + shape_text(t.sizes()) + " " + c10::toString(t.scalar_type()) +
                          " (expected " + shape_text(target.sizes()) + " " + c10::toString(target.scalar_type()) + ")");
      return;
    }
    copies.emplace_back(target, t);
    report.loaded.push_back(name);
  };
  for (const auto& p : net.named_parameters()) visit(p.key(), p.value());
  for (const auto& b : net.named_buffers()) visit(b.key(), b.value());

  std::vector<std::string> unexpected;
  for (const auto& [name, t] : source) {
    if (used.count(name)) continue;
    const bool ignorable = (rules.head_replaced && is_head_tensor(name)) ||
                           (rules.ignore_extra_attention && is_attention_tensor(name));
    (ignorable ? report.ignored : unexpected).push_back(original.at(name));
  }
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty())
    throw InputError(path, "does not fit a " + net.spec().describe() + " model" + listing("missing", missing) +
                               listing("unexpected", unexpected) + listing("mis-shaped", misshaped));
  torch::NoGradGuard no_grad;
  for (auto& [target, t] : copies) target.copy_(t);
  return report;
}

}  // namespace

ImportedModel import_weights(const ImportOptions& options) {
  const std::string& path = options.from;
  std::map<std::string, torch::Tensor> file;
  std::map<std::string, std::string> original;  // our name → the file's, for messages
  // A GE Explorer checkpoint also holds its optimiser's state: not weights, left out.
  // The header is read once: whether this is one of our checkpoints, and its normalisation below.
  const Metadata meta = looks_like_safetensors(path) ? read_safetensors_metadata(path) : Metadata{};
  const auto format = meta.find("format");
  const bool ours_checkpoint = format != meta.end() && format->second == kCheckpointFormat;
  std::vector<std::string> optimiser_state;
  for (auto& [name, tensor] : read_state_dict_file(path)) {
    if (ours_checkpoint && starts_with(name, "optimizer.")) {
      optimiser_state.push_back(name);
      continue;
    }
    const std::string ours = our_name(name);
    if (file.count(ours)) throw InputError(path, "holds both " + original[ours] + " and " + name);
    file[ours] = tensor;
    original[ours] = name;
  }
  const auto stem = file.find("conv1.weight");
  const auto head = file.find("fc.weight");
  if (stem == file.end() || stem->second.dim() != 4 || head == file.end() || head->second.dim() != 2)
    throw InputError(path, "has no conv1.weight and fc.weight of a ResNet-style network (" +
                               std::to_string(file.size()) + " tensors)");
  // Checked before anything is built: a wrong list of names is the user's to fix first.
  ModelSpec spec = options.model;
  spec.in_channels = int(stem->second.size(1));
  const int file_classes = int(head->second.size(0));
  spec.num_classes = options.classes.value_or(file_classes);
  const bool file_has_attention =
      std::any_of(file.begin(), file.end(), [](const auto& kv) { return is_attention_tensor(kv.first); });
  if (!options.attention_given && file_has_attention) spec.attention = AttentionKind::kSE;
  if (is_bottleneck_backbone(spec.backbone)) spec.stride_on = options.stride_on.value_or(StrideOn::k3x3);
  else if (options.stride_on == StrideOn::k3x3) spec.stride_on = StrideOn::k3x3;  // problem() explains
  spec.input_size = options.input_size.value_or(is_imagenet_backbone(spec.backbone) ? 224 : spec.input_size);
  if (const auto problem = spec.problem()) throw UsageError(*problem);
  CheckpointInfo info;
  info.model = spec;
  info.preprocess = Preprocess::identity(spec.in_channels, spec.input_size, spec.num_classes);
  if (spec.in_channels == 3) {  // the ImageNet statistics every torchvision and timm ResNet is trained with
    info.preprocess.mean = {0.485, 0.456, 0.406};
    info.preprocess.std = {0.229, 0.224, 0.225};
  }
  // A GE Explorer checkpoint (say, a baseline to add GE to) brings the normalisation and the class
  // names it was trained with.
  if (const auto pre = meta.find("preprocess"); ours_checkpoint && pre != meta.end()) {
    const Preprocess theirs = Preprocess::from_json(pre->second, path + ": metadata 'preprocess'");
    if (theirs.channels == spec.in_channels) info.preprocess.mean = theirs.mean, info.preprocess.std = theirs.std;
    if (int(theirs.class_names.size()) == spec.num_classes) info.preprocess.class_names = theirs.class_names;
  }
  if (!options.class_names_file.empty())
    info.preprocess.class_names = read_class_names(options.class_names_file, spec.num_classes);
  else if (spec.num_classes == 1000 && info.preprocess.class_names.front() == "0")
    info.preprocess.class_names = imagenet_class_names();

  torch::manual_seed(options.seed);
  Network net = build_network(spec);
  TransferRules rules;
  rules.head_replaced = spec.num_classes != file_classes;
  rules.source_has_attention = file_has_attention;
  ImportReport report = transfer(*net, file, original, rules, path);
  report.ignored.insert(report.ignored.end(), optimiser_state.begin(), optimiser_state.end());
  report.file_classes = file_classes;
  net->eval();
  report.complexity = measure_complexity(*net);
  return {net, info, report};
}

ImportReport init_from_checkpoint(NetworkImpl& net, const Checkpoint& source, const std::string& path) {
  const ModelSpec& ours = net.spec();
  const ModelSpec& theirs = source.info.model;
  if (ours.backbone != theirs.backbone || ours.stride_on != theirs.stride_on)
    throw UsageError("--init-from " + path + " holds a " + theirs.describe() + "; the run trains a " +
                     ours.describe() + " (the same backbone is needed)");
  std::map<std::string, torch::Tensor> state;
  std::map<std::string, std::string> names;
  bool has_attention = false;
  for (const auto& [name, t] : model_state(*source.net)) {
    state[name] = t;
    names[name] = name;
    has_attention = has_attention || is_attention_tensor(name);
  }
  TransferRules rules;
  rules.head_replaced = ours.num_classes != theirs.num_classes;
  rules.source_has_attention = has_attention && ours.attention == theirs.attention && ours.variant == theirs.variant &&
                               ours.extent == theirs.extent;
  rules.ignore_extra_attention = !rules.source_has_attention;
  ImportReport report = transfer(net, state, names, rules, path);
  report.file_classes = theirs.num_classes;
  return report;
}

}  // namespace gex
