// Labelled image data held in memory as uint8 tensors (DESIGN §6): a train and a test split,
// the class names, and whether the usual augmentation suits it.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace gex {

struct Split {
  torch::Tensor images;  // uint8, N×C×H×W, contiguous
  torch::Tensor labels;  // int64, N
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct Dataset {
  std::string name;    // "fashion-mnist", "cifar10", …
  std::string source;  // what the user gave (--data)
  int channels = 1, height = 28, width = 28;
  std::vector<std::string> class_names;
  Split train, test;
  bool augment = false;  // pad-and-random-crop and horizontal flip suit this data

  int num_classes() const { return static_cast<int>(class_names.size()); }
};

struct DataOptions {
  // Folders: the side images are resized (aspect kept, centre crop) to; 0 keeps the default 32.
  int input_size = 0;
  // Folders without val/: the fraction held out, per class, with this seed.
  double val_fraction = 0.1;
  uint64_t seed = 0;
  // Synthetic data: the image size and channels it is generated at.
  int synthetic_size = 28, synthetic_channels = 1;
  // Called with a warning the user should see (an unreadable image that was skipped).
  std::function<void(const std::string&)> warn;
};

// DESIGN §4 DATA: fashion-mnist | mnist:DIR | idx:DIR | cifar10:DIR | cifar100:DIR | folder:DIR |
// synthetic. UsageError for an unknown kind; InputError naming the file and offset for bad data.
Dataset load_dataset(const std::string& data, const DataOptions& options = {});

// Where Debian's dataset-fashion-mnist installs the data.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

}  // namespace gex
