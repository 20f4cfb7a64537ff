// Pretrained weights as people publish them (torchvision, timm, model hubs) into a GE Explorer
// checkpoint: a state dict from safetensors or torch.save, its names mapped onto a backbone of
// ours, every backbone tensor checked, attention modules and a new head initialised where asked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/registry.h"
#include "train/checkpoint.h"

namespace gex {

struct ImportOptions {
  std::string from;                // safetensors or torch.save file
  ModelSpec model;                 // backbone and attention; classes, channels and size from the file
  bool attention_given = false;    // else SE modules in the file make an SE model
  std::optional<StrideOn> stride_on;  // default: 3x3, as torchvision and timm build bottlenecks
  std::optional<int> classes;      // a head of another size is re-initialised
  std::optional<int> input_size;   // default: 224 for ImageNet backbones, else the spec's
  std::string class_names_file;    // one name per line; default: ImageNet's for 1000 classes
  uint64_t seed = 0;               // initialises the new modules
};

struct ImportReport {
  std::vector<std::string> loaded;       // our names, copied from the file
  std::vector<std::string> initialised;  // ours, absent from the file (attention modules, a new head)
  std::vector<std::string> ignored;      // the file's, not used (a replaced head)
  bool reinitialised_head = false;
  int64_t file_classes = 0;
  Complexity complexity;
};

struct ImportedModel {
  Network net;
  CheckpointInfo info;
  ImportReport report;
};

// InputError (exit 3) naming the file when it cannot be read, or listing the missing, unexpected
// and mis-shaped tensors; UsageError for flags that do not fit the file.
ImportedModel import_weights(const ImportOptions& options);

// `gex train --init-from`: the weights of checkpoint `path` copied into `net` (same backbone).
// Attention modules and a head of another size that the checkpoint lacks stay as initialised; the
// checkpoint's attention modules that `net` has no place for are ignored; anything else that does
// not fit is an InputError listing it, as for an import.
ImportReport init_from_checkpoint(NetworkImpl& net, const Checkpoint& source, const std::string& path);

// The tensors of a state dict file, safetensors or torch.save, told apart by their bytes.
TensorList read_state_dict_file(const std::string& path);

// The 1000 ImageNet class names in the order of the torchvision and timm heads.
const std::vector<std::string>& imagenet_class_names();

}  // namespace gex
