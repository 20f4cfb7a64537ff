#include "data/image_folder.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "data/batch_stream.h"
#include "data/photo_recipe.h"
#include "data/streamed_images.h"
#include "errors.h"
#include "io/atomic_file.h"
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

struct Files {
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
  std::map<std::string, int64_t> left_out;  // files not named as images, by extension (or name)
};

// Every image file of every class folder (by its name, as torchvision's ImageFolder: a Thumbs.db,
// an annotation beside each photo), classes in `names` order and files in name order.
Files list_classes(const fs::path& root, const std::vector<std::string>& names) {
  Files out;
  for (const auto& class_dir : sorted_subdirs(root)) {
    const auto it = std::find(names.begin(), names.end(), class_dir);
    if (it == names.end())
      throw InputError((root / class_dir).string(), "class folder that the training split does not have");
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(root / class_dir)) {
      if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
      if (is_image_name(e.path())) files.push_back(e.path().string());
      else ++out.left_out[e.path().has_extension() ? e.path().extension().string() : e.path().filename().string()];
    }
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      out.paths.push_back(std::move(f));
      out.labels.push_back(it - names.begin());
    }
  }
  return out;
}

// A class folder without a file keeps its class (the labels stay those of the folders' order) but
// has no images: say so, naming the first few.
void warn_of_empty_classes(const fs::path& root, const std::vector<std::string>& names, const Files& files,
                           const DataOptions& options) {
  if (!options.warn) return;
  std::vector<bool> seen(names.size(), false);
  for (const int64_t label : files.labels) seen[label] = true;
  std::string empty;
  int count = 0;
  for (size_t k = 0; k < names.size(); ++k)
    if (!seen[k] && ++count <= 5) empty += (empty.empty() ? "" : ", ") + names[k];
  if (count == 0) return;
  options.warn(root.string() + ": " + std::to_string(count) + " class folder(s) without a file (" + empty +
               (count > 5 ? ", …" : "") + "): their classes are kept, with no images");
}

// Files in class folders that are not images by their names are left out, and said once, the
// commonest kinds first.
void warn_of_files_left_out(const fs::path& root, const Files& files, const DataOptions& options) {
  if (!options.warn || files.left_out.empty()) return;
  std::vector<std::pair<int64_t, std::string>> kinds;
  int64_t total = 0;
  for (const auto& [kind, count] : files.left_out) kinds.emplace_back(-count, kind), total += count;
  std::sort(kinds.begin(), kinds.end());
  std::string said;
  for (size_t k = 0; k < kinds.size() && k < 3; ++k)
    said += (said.empty() ? "" : ", ") + std::to_string(-kinds[k].first) + " " + kinds[k].second;
  const auto& extensions = image_extensions();
  std::string images;
  for (size_t k = 0; k < extensions.size(); ++k)
    images += (k == 0 ? "" : k + 1 == extensions.size() ? " and " : ", ") + extensions[k];
  options.warn(root.string() + ": left out " + std::to_string(total) + " file(s) in class folders not named as images (" +
               said + (kinds.size() > 3 ? ", …" : "") + "): a class's images are its " + images + " files");
}

// A val/ (or test/) without a file in a class folder: refused, for a run would train without a
// validation split. ImageNet's own validation images come flat, their labels in another file.
[[noreturn]] void refuse_empty_validation_split(const fs::path& val_root) {
  int64_t flat = 0;
  for (const auto& e : fs::directory_iterator(val_root))
    flat += e.is_regular_file() && e.path().filename().string()[0] != '.';
  if (flat == 0) throw InputError(val_root.string(), "no image file in any class folder: the validation split is empty");
  throw InputError(val_root.string(),
                   "holds " + std::to_string(flat) + " files but none in a class folder: the validation split needs one "
                   "folder per class, as the training split has (ImageNet's validation images come flat, their "
                   "classes in LOC_val_solution.csv or ILSVRC2012_validation_ground_truth.txt: sort them into "
                   "folders by class, or move this folder aside to hold out part of the training images instead)");
}

// Folders without val/: a seeded, stratified fraction of each class held out (file order kept).
std::pair<Files, Files> hold_out(const Files& all, double fraction, uint64_t seed) {
  std::map<int64_t, std::vector<size_t>> by_class;
  for (size_t i = 0; i < all.labels.size(); ++i) by_class[all.labels[i]].push_back(i);
  std::vector<bool> held(all.labels.size(), false);
  std::mt19937_64 rng(seed);
  for (auto& [label, idx] : by_class) {
    std::vector<size_t> shuffled = idx;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    size_t k = static_cast<size_t>(std::lround(fraction * idx.size()));
    if (idx.size() >= 2) k = std::clamp<size_t>(k, 1, idx.size() - 1);
    else k = 0;
    for (size_t j = 0; j < k; ++j) held[shuffled[j]] = true;
  }
  std::pair<Files, Files> out;
  for (size_t i = 0; i < held.size(); ++i) {
    auto& dst = held[i] ? out.second : out.first;
    dst.paths.push_back(all.paths[i]);
    dst.labels.push_back(all.labels[i]);
  }
  return out;
}

// A mapping file beside the class folders (`classes.txt`, or ImageNet's LOC_synset_mapping.txt):
// lines "<folder> <name>", e.g. "n01440764 tench, Tinca tinca". Folders it does not name keep
// their own name.
void apply_class_mapping(const fs::path& root, std::vector<std::string>& names) {
  for (const char* file : {"classes.txt", "LOC_synset_mapping.txt"}) {
    const fs::path path = root / file;
    if (!fs::is_regular_file(path)) continue;
    std::ifstream in(path);
    std::map<std::string, std::string> mapping;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      const auto space = line.find_first_of(" \t");
      const auto start = space == std::string::npos ? space : line.find_first_not_of(" \t", space);
      if (start == std::string::npos)
        throw InputError(path.string() + ":" + std::to_string(number), "expected '<folder> <class name>'");
      mapping[line.substr(0, space)] = line.substr(start);
    }
    for (auto& n : names)
      if (const auto it = mapping.find(n); it != mapping.end()) n = it->second;
    return;
  }
}

// Labels by the model's names where `order` holds the folder's class names in another order;
// otherwise (no order asked, the same order, other names) the folders' order stands, said where the
// names differ: a checkpoint measured against shuffled labels would look merely bad.
void label_by_name(const std::vector<std::string>& order, const std::string& root, std::vector<std::string>& names,
                   std::array<Files*, 2> splits, const DataOptions& options) {
  if (order.empty() || order.size() != names.size()) return;  // a count apart: the caller says
  // The same class where the names are equal, or a mapping file's synonyms start with the model's
  // name (ImageNet's "tench, Tinca tinca" for torchvision's "tench").
  const auto same = [](const std::string& folder, const std::string& model) {
    return folder == model || folder.substr(0, folder.find(',')) == model;
  };
  if (std::equal(names.begin(), names.end(), order.begin(), same)) return;
  auto a = names, b = order;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const bool permutation = a == b && std::adjacent_find(a.begin(), a.end()) == a.end();
  if (!permutation) {
    if (!options.warn) return;
    std::string differ;
    int count = 0;
    for (size_t k = 0; k < names.size(); ++k)
      if (!same(names[k], order[k]) && ++count <= 3)
        differ += (differ.empty() ? "" : ", ") + ("'" + names[k] + "' for '" + order[k] + "'");
    options.warn(root + ": " + std::to_string(count) + " class name(s) are not the model's (" + differ +
                 (count > 3 ? ", …" : "") + "): labels follow the folders' order");
    return;
  }
  std::vector<int64_t> to_model(names.size());
  for (size_t k = 0; k < names.size(); ++k) to_model[k] = std::find(order.begin(), order.end(), names[k]) - order.begin();
  for (Files* files : splits)
    for (auto& label : files->labels) label = to_model[size_t(label)];
  names = order;
  if (options.warn) options.warn(root + ": the model's classes in another order: images labelled by class name");
}

// FNV-1a over each split's files, as "<split>\t<class>\t<path under root>" lines: the same on
// every machine that holds the same folder, wherever it is mounted.
std::string files_digest(const fs::path& root, const Files& train, const Files& test) {
  uint64_t h = 14695981039346656037ull;
  const auto add = [&h](const std::string& text) {
    for (const unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  };
  for (const auto& [split, files] : {std::pair{"train", &train}, std::pair{"test", &test}})
    for (size_t i = 0; i < files->paths.size(); ++i)
      add(std::string(split) + "\t" + std::to_string(files->labels[i]) + "\t" +
          fs::path(files->paths[i]).lexically_relative(root).generic_string() + "\n");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// A split read from its files by the loader, keeping up to `cache_bytes` decoded.
Split streamed_split(Files files, const PhotoGeometry& geometry, const DataOptions& options, int64_t cache_bytes) {
  LoaderOptions lo;
  lo.threads = options.loader_threads;
  lo.cache_bytes = cache_bytes;
  lo.warn = options.warn;
  Split s;
  s.streamed = std::make_shared<StreamedImages>(std::move(files.paths), std::move(files.labels), geometry, lo);
  s.labels = s.streamed->labels();
  return s;
}

// All of a split's samples decoded now, on the loader's threads, into one uint8 tensor. The rows
// of unreadable files stay, marked (Split::readable), so that an epoch has the batches it has
// when the split is streamed.
Split load_whole(Files files, const PhotoGeometry& geometry, const DataOptions& options) {
  const Split streamed = streamed_split(std::move(files), geometry, options, 0);
  std::vector<torch::Tensor> images;
  for_each_batch(streamed, streamed.size(), 256, [&](const Rows& rows) {
    images.push_back(rows.images);
    return true;
  });
  Split s;
  s.labels = streamed.labels;
  const auto skipped = streamed.streamed->skipped();
  for (const auto& [file, why] : skipped) s.skipped.push_back(file);
  const torch::Tensor decoded = images.empty() ? torch::Tensor() : torch::cat(images);
  if (skipped.empty()) {
    s.images = decoded.contiguous();
    return s;
  }
  const std::set<std::string> bad(s.skipped.begin(), s.skipped.end());
  const auto& paths = streamed.streamed->files();
  s.readable = torch::ones({streamed.size()}, torch::kBool);
  for (size_t i = 0; i < paths.size(); ++i)
    if (bad.count(paths[i])) s.readable[int64_t(i)] = false;
  s.images = torch::zeros({streamed.size(), geometry.channels, geometry.size, geometry.size}, torch::kUInt8);
  if (decoded.defined()) s.images.index_copy_(0, s.readable.nonzero().select(1, 0), decoded);
  return s;
}

Split make_split(Files files, const PhotoGeometry& geometry, const DataOptions& options, int64_t cache_bytes) {
  if (files.paths.empty()) return {};
  const int64_t sample_bytes = int64_t(geometry.channels) * geometry.size * geometry.size;
  if (!geometry.photo_recipe && sample_bytes * int64_t(files.paths.size()) <= cache_bytes)
    return load_whole(std::move(files), geometry, options);
  return streamed_split(std::move(files), geometry, options, cache_bytes);
}

// A streamed split whose first files are all unreadable is almost surely not a folder of images:
// say so now rather than train on nothing.
void check_readable(const Split& split, const std::string& root) {
  if (split.readable.defined() && !split.readable.any().item<bool>())
    throw InputError(root, "no readable image in any class folder");
  if (!split.streamed) return;
  const int64_t probe = std::min<int64_t>(16, split.size());
  if (split_rows(split, 0, probe).labels.size(0) > 0) return;
  const auto skipped = split.streamed->skipped();
  const std::string which = probe == 1 ? "its only file is not" : "none of its first " + std::to_string(probe) + " files is";
  throw InputError(root, which + " a readable image (" + (skipped.empty() ? std::string("?") : skipped.front().second) +
                             ")");
}

}  // namespace

Dataset load_image_folder(const std::string& dir, const DataOptions& options) {
  const fs::path root(dir);
  require_directory(dir);
  if (!have_image_codecs()) throw InputError(dir, "this build of GE Explorer has no image decoder (built without OpenCV)");
  Dataset data;
  data.name = "folder";
  data.channels = 3;
  data.height = data.width = options.input_size > 0 ? options.input_size : 32;
  data.augment = true;
  data.photo_recipe = data.height >= kPhotoRecipeMinSize;

  fs::path train_root = root, val_root;
  if (fs::is_directory(root / "train")) {
    train_root = root / "train";
    if (fs::is_directory(root / "val")) val_root = root / "val";
    else if (fs::is_directory(root / "test")) val_root = root / "test";
  }
  const auto folders = sorted_subdirs(train_root);
  if (folders.empty())
    throw InputError(train_root.string(), "no class subfolders (expected one folder of images per class)");

  Files train = list_classes(train_root, folders), test;
  warn_of_files_left_out(train_root, train, options);
  if (train.paths.empty()) throw InputError(train_root.string(), "no image file in any class folder");
  warn_of_empty_classes(train_root, folders, train, options);
  if (!val_root.empty()) test = list_classes(val_root, folders);
  if (!val_root.empty()) warn_of_files_left_out(val_root, test, options);
  if (!val_root.empty() && test.paths.empty()) refuse_empty_validation_split(val_root);
  data.class_names = folders;
  apply_class_mapping(root, data.class_names);
  label_by_name(options.class_order, dir, data.class_names, {&train, &test}, options);
  // Held out after labelling: class by class in the model's order, so that a folder renamed since
  // its run holds out the same files as the run did.
  if (val_root.empty()) std::tie(train, test) = hold_out(train, options.val_fraction, options.seed);
  if (val_root.empty()) data.held_out_with = options.seed;
  data.identity = {int64_t(train.paths.size()), int64_t(test.paths.size()), files_digest(root, train, test)};

  const PhotoGeometry geometry{data.channels, data.height, data.photo_recipe};
  // The memory budget, shared by the splits in proportion to their files.
  const double total = double(train.paths.size() + test.paths.size());
  const int64_t budget = std::max<int64_t>(0, options.cache_mb) << 20;
  const int64_t train_budget =
      options.decode_train ? static_cast<int64_t>(budget * (train.paths.size() / total)) : 0;
  data.train = options.decode_train ? make_split(std::move(train), geometry, options, train_budget)
                                    : streamed_split(std::move(train), geometry, options, 0);
  data.test = make_split(std::move(test), geometry, options, budget - train_budget);
  if (data.train.size() == 0) throw InputError(train_root.string(), "no readable image in any class folder");
  if (options.decode_train) check_readable(data.train, train_root.string());
  else if (data.test.size() > 0) check_readable(data.test, (val_root.empty() ? train_root : val_root).string());
  return data;
}

}  // namespace gex
