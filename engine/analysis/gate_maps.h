// Gate maps on the user's images (GE-SPEC §6, DESIGN §3): for each image, the exact input fed to
// the model, the gate of every attention module, colour-mapped overlays and the top-5 classes.
#pragma once

#include "control.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "train/checkpoint.h"

namespace gex {

struct GateMapOptions {
  std::string colormap = "viridis";  // viridis | magma | inferno | plasma | jet | gray
  bool per_map_scale = false;        // min–max per map instead of the fixed [0, 1] of a sigmoid
  std::vector<int> channels;         // also one overlay per listed channel
  const WorkControl* control = nullptr;  // cancel, checked between batches
  std::function<void(size_t done, size_t total)> progress;
};

struct GateImageResult {
  std::string file;
  std::string stem;   // OUT/<stem>/
  std::string error;  // empty when the image was processed
  std::vector<std::pair<std::string, double>> top5;  // class name, probability
};

// Writes OUT/<stem>/input.npy (1×C×S×S, normalised), OUT/<stem>/gates/<module path>.npy,
// OUT/<stem>/overlays/<module path>.png (and <module path>.c<K>.png per listed channel), and
// OUT/predictions.json. A bad image is reported in its result and skipped; the others go on.
// When no image could be read, nothing is written (OUT, if this made it, is removed again). A file
// that cannot be written is an InputError naming it; the images before it stay.
std::vector<GateImageResult> write_gate_maps(Checkpoint& checkpoint, const std::vector<std::string>& images,
                                             const std::string& out_dir, const GateMapOptions& options);

// One image through a model with its gates captured: what the GUI's Gates view shows.
struct GateInspection {
  torch::Tensor pixels;  // C×S×S uint8: the image as the model sees it, before normalisation
  torch::Tensor input;   // 1×C×S×S, normalised
  std::vector<std::pair<std::string, torch::Tensor>> gates;  // module path → 1×C×H×W float (depth order)
  std::vector<std::pair<std::string, double>> top5;          // class name, probability
};
// InputError naming the file when it cannot be decoded.
GateInspection inspect_gates(NetworkImpl& net, const Preprocess& preprocess, const std::string& image);
// The same for an input already normalised (1×C×S×S): its gates and top-5 classes in eval mode
// (the network's mode restored); `pixels` left undefined.
GateInspection inspect_input(NetworkImpl& net, const Preprocess& preprocess, const torch::Tensor& input);

// The preprocessed 1×C×S×S input for an image file, as write_gate_maps feeds it (InputError).
torch::Tensor preprocess_image(const std::string& path, const Preprocess& preprocess);

bool is_known_colormap(const std::string& name);

}  // namespace gex
