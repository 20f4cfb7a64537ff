#include "data/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "errors.h"
#include "io/image.h"

namespace gex {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> sorted_subdirs(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string()[0] != '.') names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

struct Loaded {
  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
};

// Every file of every class folder, classes in `names` order and files in name order.
Loaded load_classes(const fs::path& root, const std::vector<std::string>& names, int channels, int size,
                    const DataOptions& options) {
  Loaded out;
  for (const auto& class_dir : sorted_subdirs(root)) {
    const auto it = std::find(names.begin(), names.end(), class_dir);
    if (it == names.end())
      throw InputError((root / class_dir).string(), "class folder that the training split does not have");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(root / class_dir))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        out.images.push_back(load_image(f.string(), channels, size));
        out.labels.push_back(it - names.begin());
      } catch (const InputError& e) {
        if (!have_image_codecs()) throw;
        if (options.warn) options.warn(std::string("skipped ") + e.what());
      }
    }
  }
  return out;
}

Split to_split(Loaded&& loaded) {
  Split s;
  if (loaded.images.empty()) return s;
  s.images = torch::stack(loaded.images).contiguous();
  s.labels = torch::tensor(loaded.labels, torch::kInt64);
  return s;
}

}  // namespace

Dataset load_image_folder(const std::string& dir, const DataOptions& options) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw InputError(dir, "no such directory");
  Dataset data;
  data.name = "folder";
  data.channels = 3;
  data.height = data.width = options.input_size > 0 ? options.input_size : 32;
  data.augment = true;

  fs::path train_root = root, val_root;
  if (fs::is_directory(root / "train")) {
    train_root = root / "train";
    if (fs::is_directory(root / "val")) val_root = root / "val";
    else if (fs::is_directory(root / "test")) val_root = root / "test";
  }
  data.class_names = sorted_subdirs(train_root);
  if (data.class_names.empty())
    throw InputError(train_root.string(), "no class subfolders (expected one folder of images per class)");

  auto train = load_classes(train_root, data.class_names, data.channels, data.height, options);
  if (train.images.empty())
    throw InputError(train_root.string(), "no readable image in any class folder");
  if (!val_root.empty()) {
    data.train = to_split(std::move(train));
    data.test = to_split(load_classes(val_root, data.class_names, data.channels, data.height, options));
    return data;
  }
  // No val/: hold out a seeded, stratified fraction of each class (file order kept in both).
  std::map<int64_t, std::vector<size_t>> by_class;
  for (size_t i = 0; i < train.labels.size(); ++i) by_class[train.labels[i]].push_back(i);
  std::vector<bool> held(train.labels.size(), false);
  std::mt19937_64 rng(options.seed);
  for (auto& [label, idx] : by_class) {
    std::vector<size_t> shuffled = idx;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    size_t k = static_cast<size_t>(std::lround(options.val_fraction * idx.size()));
    if (idx.size() >= 2) k = std::clamp<size_t>(k, 1, idx.size() - 1);
    else k = 0;
    for (size_t j = 0; j < k; ++j) held[shuffled[j]] = true;
  }
  Loaded a, b;
  for (size_t i = 0; i < held.size(); ++i) {
    auto& dst = held[i] ? b : a;
    dst.images.push_back(train.images[i]);
    dst.labels.push_back(train.labels[i]);
  }
  data.train = to_split(std::move(a));
  data.test = to_split(std::move(b));
  return data;
}

}  // namespace gex
