// Checkpoints (DESIGN §3): one safetensors file with the model's parameters and buffers under
// their module paths, optional optimiser state under `optimizer.…`, and metadata that says how to
// rebuild the model and feed it.
#pragma once

#include <cstdint>
#include <string>

#include "data/preprocess.h"
#include "io/safetensors.h"
#include "models/registry.h"

namespace gex {

inline constexpr const char* kCheckpointFormat = "gex-checkpoint/1";

struct CheckpointInfo {
  ModelSpec model;
  Preprocess preprocess;
  int64_t epoch = 0;
  int64_t step = 0;
  std::string trainer = "{}";  // the run config, JSON
  std::string metrics = "{}";  // the latest evaluation, JSON
};

struct Checkpoint {
  Network net;
  CheckpointInfo info;
  TensorList extra;  // tensors under `optimizer.` (optimiser state)
};

// The parameters and buffers of `net` by module path, on the CPU.
TensorList model_state(NetworkImpl& net);

// Atomic: a crash never leaves a torn checkpoint.
void save_checkpoint(const std::string& path, NetworkImpl& net, const CheckpointInfo& info,
                     const TensorList& extra = {});

// Rebuilds the model from the metadata and loads it strictly: a missing or unexpected key, a
// wrong shape or dtype, or bad metadata is an InputError naming the file and the key.
Checkpoint load_checkpoint(const std::string& path);
// The metadata only (model, preprocess, step), read from the file's header: cheap for any model.
CheckpointInfo read_checkpoint_info(const std::string& path);
// The checkpoint as a folder name, "best-step-4690" (its file's stem and its step): what a run's
// analyses of it are kept under, so that a run that trained on to a new best never shows the
// analyses of an earlier one. The stem alone where the header cannot be read (loading it then
// says why).
std::string checkpoint_tag(const std::string& path);
// Whether `path` holds weights another program saved, what `gex import` brings in: a torch.save
// file, or a .safetensors file without a GE Explorer format in its metadata (timm's, the hubs').
bool is_foreign_weights(const std::string& path);

// Copies `tensors` into `net` strictly (same rules as load_checkpoint); `source` names them.
// A tensor shape for messages: "[64, 3, 7, 7]".
std::string shape_text(c10::IntArrayRef sizes);

void load_model_state(NetworkImpl& net, const TensorList& tensors, const std::string& source);

}  // namespace gex
