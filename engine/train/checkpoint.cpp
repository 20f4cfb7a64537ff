#include "train/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "errors.h"
#include "io/image.h"
#include "io/torch_save.h"

namespace gex {

namespace {
constexpr const char* kOptimizerPrefix = "optimizer.";

int64_t parse_count(const Metadata& meta, const char* key, const std::string& source) {
  const auto it = meta.find(key);
  if (it == meta.end()) return 0;
  try {
    size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < 0) throw std::invalid_argument(key);
    return v;
  } catch (const std::exception&) {
    throw InputError(source, std::string("metadata '") + key + "' is not a non-negative integer: '" +
                                 it->second + "'");
  }
}
}  // namespace

TensorList model_state(NetworkImpl& net) {
  TensorList state;
  for (const auto& p : net.named_parameters()) state.emplace_back(p.key(), p.value().detach().cpu());
  for (const auto& b : net.named_buffers()) state.emplace_back(b.key(), b.value().detach().cpu());
  return state;
}

void save_checkpoint(const std::string& path, NetworkImpl& net, const CheckpointInfo& info,
                     const TensorList& extra) {
  TensorList tensors = model_state(net);
  for (const auto& [name, t] : extra) tensors.emplace_back(kOptimizerPrefix + name, t);
  Metadata meta = {{"format", kCheckpointFormat},
                   {"model", info.model.to_json()},
                   {"preprocess", info.preprocess.to_json()},
                   {"epoch", std::to_string(info.epoch)},
                   {"step", std::to_string(info.step)},
                   {"trainer", info.trainer},
                   {"metrics", info.metrics}};
  write_safetensors(path, tensors, meta);
}

std::string shape_text(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

void load_model_state(NetworkImpl& net, const TensorList& tensors, const std::string& source) {
  std::map<std::string, torch::Tensor> given(tensors.begin(), tensors.end());
  std::map<std::string, torch::Tensor> expected;
  for (const auto& p : net.named_parameters()) expected[p.key()] = p.value();
  for (const auto& b : net.named_buffers()) expected[b.key()] = b.value();

  for (const auto& [name, t] : given) {
    if (!expected.count(name))
      throw InputError(source, "unexpected tensor '" + name + "': a " + net.spec().describe() +
                                   " model has no such parameter");
  }
  for (const auto& [name, target] : expected) {
    const auto it = given.find(name);
    if (it == given.end())
      throw InputError(source, "missing tensor '" + name + "' that a " + net.spec().describe() +
                                   " model needs");
    const auto& t = it->second;
    if (t.sizes() != target.sizes())
      throw InputError(source, "tensor '" + name + "' has shape " + shape_text(t.sizes()) +
                                   " but the model expects " + shape_text(target.sizes()));
    const bool target_float = torch::isFloatingType(target.scalar_type());
    if (target_float != torch::isFloatingType(t.scalar_type()) || t.scalar_type() == torch::kBool)
      throw InputError(source, "tensor '" + name + "' has dtype " + c10::toString(t.scalar_type()) +
                                   " but the model expects " +
                                   c10::toString(target.scalar_type()));
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : expected) target.copy_(given.at(name));
}

namespace {

// What to do with weights saved by another program (torchvision, timm, a training script).
const std::string kImportHint =
    "bring its weights in with `gex import --from FILE --model BACKBONE --out CHECKPOINT.safetensors` (File → Import "
    "weights… in the application) and give the checkpoint that writes";

// "gex-checkpoint/1" and the versions before or after it.
bool is_gex_format(const std::string& format) { return format.rfind("gex-checkpoint/", 0) == 0; }

std::string run_checkpoints(const std::filesystem::path& run) {
  return "its best is " + (run / "checkpoints" / "best.safetensors").string() + ", its latest checkpoints/last.safetensors";
}

// A file given for a checkpoint that is plainly of another kind, named with what to give instead:
// weights downloaded from PyTorch's world (torch.save), a run's run.json, an image, a .npy. A file
// that starts as a safetensors file does (an 8-byte length, then its JSON header) passes.
void check_file_kind(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(16, '\0');
  in.read(head.data(), std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  if (head.size() < 9 || head[8] == '{') return;  // (too short: the safetensors reader says so)
  if (looks_like_torch_save(path))
    throw InputError(path, "is a torch.save file (PyTorch's own format), not a GE Explorer checkpoint: " + kImportHint);
  if (head.rfind("\x93NUMPY", 0) == 0) throw InputError(path, "is a .npy array, not a checkpoint");
  if (looks_like_image(head)) throw InputError(path, "is an image, not a checkpoint");
  const size_t text = head.find_first_not_of(" \t\r\n");
  if (text != std::string::npos && head[text] == '{') {
    const std::filesystem::path file(path);
    std::error_code ec;
    if (file.filename() == "run.json" && std::filesystem::is_directory(file.parent_path() / "checkpoints", ec))
      throw InputError(path, "is a run's run.json, not a checkpoint: " + run_checkpoints(file.parent_path()));
    throw InputError(path, "is a JSON file, not a checkpoint (a safetensors file)");
  }
}

// An empty name, a folder (a run's is the usual slip: its checkpoints are named) or a file of
// another kind given for a checkpoint.
void check_checkpoint_path(const std::string& path) {
  if (path.empty()) throw UsageError("no checkpoint given: the file name is empty");
  const std::filesystem::path dir(path);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return check_file_kind(path);
  if (std::filesystem::exists(dir / "run.json", ec))
    throw InputError(path, "is a run directory, not a checkpoint: " + run_checkpoints(dir));
  throw InputError(path, "is a directory, not a checkpoint file");
}

CheckpointInfo info_from_metadata(const Metadata& meta, const std::string& path) {
  const auto format = meta.find("format");
  if (format == meta.end())
    throw InputError(path, "no 'format' in the metadata: not a GE Explorer checkpoint: " + kImportHint);
  if (is_gex_format(format->second) && format->second != kCheckpointFormat)
    throw InputError(path, "metadata 'format' is '" + format->second + "': a checkpoint of another version of GE "
                               "Explorer; this one reads '" + kCheckpointFormat + "'");
  if (format->second != kCheckpointFormat)
    throw InputError(path, "metadata 'format' is '" + format->second + "', not '" + kCheckpointFormat +
                               "': not a GE Explorer checkpoint: " + kImportHint);
  const auto model = meta.find("model");
  if (model == meta.end()) throw InputError(path, "no 'model' in the metadata");
  CheckpointInfo info;
  info.model = ModelSpec::from_json(model->second, path + ": metadata 'model'");
  const auto pre = meta.find("preprocess");
  info.preprocess = pre == meta.end()
                        ? Preprocess::identity(info.model.in_channels, info.model.input_size, info.model.num_classes)
                        : Preprocess::from_json(pre->second, path + ": metadata 'preprocess'");
  if (info.preprocess.channels != info.model.in_channels)
    throw InputError(path, "metadata 'preprocess' has " + std::to_string(info.preprocess.channels) +
                               " channels but the model takes " + std::to_string(info.model.in_channels));
  info.epoch = parse_count(meta, "epoch", path);
  info.step = parse_count(meta, "step", path);
  if (auto it = meta.find("trainer"); it != meta.end()) info.trainer = it->second;
  if (auto it = meta.find("metrics"); it != meta.end()) info.metrics = it->second;
  return info;
}

}  // namespace

CheckpointInfo read_checkpoint_info(const std::string& path) {
  check_checkpoint_path(path);
  return info_from_metadata(read_safetensors_metadata(path), path);
}

std::string checkpoint_tag(const std::string& path) {
  const std::string stem = std::filesystem::path(path).stem().string();
  try {
    return stem + "-step-" + std::to_string(read_checkpoint_info(path).step);
  } catch (const Error&) {
    return stem;
  }
}

bool is_foreign_weights(const std::string& path) {
  if (looks_like_torch_save(path)) return true;
  if (std::filesystem::path(path).extension() != ".safetensors") return false;
  try {
    const Metadata meta = read_safetensors_metadata(path);
    const auto format = meta.find("format");
    return format == meta.end() || !is_gex_format(format->second);
  } catch (const Error&) {
    return false;  // damaged: opening it as a checkpoint says how
  }
}

Checkpoint load_checkpoint(const std::string& path) {
  check_checkpoint_path(path);
  auto data = read_safetensors(path);
  Checkpoint ckpt;
  ckpt.info = info_from_metadata(data.metadata, path);

  TensorList model_tensors;
  const std::string prefix = kOptimizerPrefix;
  for (auto& [name, t] : data.tensors) {
    if (name.compare(0, prefix.size(), prefix) == 0)
      ckpt.extra.emplace_back(name.substr(prefix.size()), t);
    else
      model_tensors.emplace_back(name, t);
  }
  try {
    ckpt.net = build_network(ckpt.info.model);
  } catch (const UsageError& e) {
    throw InputError(path, std::string("metadata 'model': ") + e.what());
  }
  load_model_state(*ckpt.net, model_tensors, path);
  ckpt.net->eval();
  return ckpt;
}

}  // namespace gex
