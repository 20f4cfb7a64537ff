// Labelled image data held in memory as uint8 tensors (DESIGN §6): a train and a test split,
// the class names, and whether the usual augmentation suits it.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/data_identity.h"

namespace gex {

class StreamedImages;

// Images in memory, or (`streamed`) files decoded as batches are asked for: read either way
// through BatchStream (data/batch_stream.h).
struct Split {
  torch::Tensor images;  // uint8, N×C×H×W, contiguous; undefined when streamed
  torch::Tensor labels;  // int64, N
  std::shared_ptr<StreamedImages> streamed;
  // Loaded whole: bool N, false for the rows of files that could not be read (zeros in `images`,
  // left out of every batch as a streamed split leaves them out, so that both give the same
  // batches); undefined when every file was read.
  torch::Tensor readable;
  std::vector<std::string> skipped;  // files left out when it was loaded whole (unreadable)
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct Dataset {
  std::string name;    // "fashion-mnist", "cifar10", …
  std::string source;  // what the user gave (--data)
  int channels = 1, height = 28, width = 28;
  std::vector<std::string> class_names;
  Split train, test;
  bool augment = false;  // pad-and-random-crop and horizontal flip suit this data
  // Photographs of at least 64 px: the loader crops each training sample (random-resized-crop and
  // flip) and evaluation samples (resize and centre crop); batches are not augmented again.
  bool photo_recipe = false;
  // A folder without val/: the seed its test split was held out with (DataOptions::seed); another
  // run's seed draws another one.
  std::optional<uint64_t> held_out_with;
  DataIdentity identity;

  int num_classes() const { return static_cast<int>(class_names.size()); }
};

struct DataOptions {
  // Folders: the side images are resized (aspect kept, centre crop) to; 0 keeps the default 32.
  int input_size = 0;
  // Folders without val/: the fraction held out, per class, with this seed (a run's: the same
  // files are held out whenever its checkpoints are measured).
  double val_fraction = 0.1;
  uint64_t seed = 0;
  // Folders: the classes a model was trained on, in its order. A folder with the same names in
  // another order (folders renamed, a mapping file) is labelled by name, as the model counts.
  std::vector<std::string> class_order;
  // Synthetic data: the image size and channels it is generated at.
  int synthetic_size = 28, synthetic_channels = 1;
  // Folders: decoded images kept in memory (a folder whose samples fit is loaded whole, as the
  // other data sets are; a larger one is streamed), and the threads that decode.
  int64_t cache_mb = 512;
  int loader_threads = 0;  // 0: one per core
  // Folders: false leaves the training split in its files, listed but not read until asked for
  // (work that measures the test split only), and gives the test split the whole of cache_mb. Such
  // a split counts its files, readable or not.
  bool decode_train = true;
  // Called with a warning the user should see (an unreadable image that was skipped).
  std::function<void(const std::string&)> warn;
};

// A --data value's two parts: kind "folder" and dir "/photos" of folder:/photos; kind
// "fashion-mnist" and no dir of fashion-mnist.
struct DataSpec {
  std::string kind, dir;
};
DataSpec parse_data_spec(const std::string& data);
// Where a data set's files are: its DIR, Debian's place for a plain `fashion-mnist`, nothing for
// `synthetic`; so that `fashion-mnist` and `fashion-mnist:/usr/share/datasets/fashion-mnist` are one place.
std::string data_place(const DataSpec& spec);

// DESIGN §4 DATA: fashion-mnist | mnist:DIR | idx:DIR | cifar10:DIR | cifar100:DIR | folder:DIR |
// synthetic. UsageError for an unknown kind; InputError naming the file and offset for bad data.
Dataset load_dataset(const std::string& data, const DataOptions& options = {});

// Where Debian's dataset-fashion-mnist installs the data.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

}  // namespace gex
