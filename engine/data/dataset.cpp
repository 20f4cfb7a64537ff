#include "data/dataset.h"

#include <filesystem>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/synthetic.h"
#include "errors.h"
#include "io/atomic_file.h"

namespace gex {

namespace {

const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

// train-images-idx3-ubyte, with or without .gz, or as some copies name it, train-images.idx3-ubyte;
// empty where none is.
std::string find_idx_file(const std::filesystem::path& dir, const std::string& stem) {
  std::string dotted = stem;
  dotted[dotted.rfind("-idx")] = '.';
  std::error_code ec;
  for (const auto& name : {stem, stem + ".gz", dotted, dotted + ".gz"})
    if (std::filesystem::exists(dir / name, ec)) return (dir / name).string();
  return "";
}

std::string idx_file(const std::string& dir, const std::string& stem) {
  const std::string found = find_idx_file(dir, stem);
  if (found.empty()) throw InputError((std::filesystem::path(dir) / (stem + ".gz")).string(), "no such file (nor " + stem + ")");
  return found;
}

// Where torchvision keeps the files (ROOT/MNIST/raw, ROOT/FashionMNIST/raw) and ROOT was given
// (`name`: the data set's, which says whose folder to look in).
void check_idx_folder(const std::string& name, const std::string& dir) {
  namespace fs = std::filesystem;
  const auto holds_idx = [](const fs::path& at) { return !find_idx_file(at, "train-images-idx3-ubyte").empty(); };
  if (holds_idx(dir)) return;
  using Places = std::vector<std::string>;
  const Places places = name == "mnist"           ? Places{"MNIST/raw", "raw"}
                        : name == "fashion-mnist" ? Places{"FashionMNIST/raw", "raw"}
                                                  : Places{"MNIST/raw", "FashionMNIST/raw", "raw"};
  for (const auto& inner : places)
    if (holds_idx(fs::path(dir) / inner))
      throw InputError(dir, "holds the IDX files one folder down, as torchvision keeps them: give the folder " +
                                (fs::path(dir) / inner).string());
}

Dataset load_idx(const std::string& name, const std::string& dir, std::vector<std::string> names) {
  require_directory(dir, dir == kFashionMnistDir ? " (install the Debian package dataset-fashion-mnist)" : "");
  check_idx_folder(name, dir);
  const int classes = names.empty() ? 256 : static_cast<int>(names.size());
  Dataset data;
  data.name = name;
  data.train.images = read_idx_images(idx_file(dir, "train-images-idx3-ubyte"));
  data.train.labels = read_idx_labels(idx_file(dir, "train-labels-idx1-ubyte"), classes);
  data.test.images = read_idx_images(idx_file(dir, "t10k-images-idx3-ubyte"));
  data.test.labels = read_idx_labels(idx_file(dir, "t10k-labels-idx1-ubyte"), classes);
  for (const auto* s : {&data.train, &data.test}) {
    if (s->images.size(0) != s->labels.size(0))
      throw InputError(dir, std::to_string(s->images.size(0)) + " images but " +
                                std::to_string(s->labels.size(0)) + " labels in a split");
  }
  if (data.train.images.sizes().slice(1) != data.test.images.sizes().slice(1))
    throw InputError(dir, "train and test images differ in size");
  if (names.empty()) {
    const auto top = std::max(data.train.labels.max().item<int64_t>(), data.test.labels.max().item<int64_t>());
    for (int64_t k = 0; k <= top; ++k) names.push_back(std::to_string(k));
  }
  data.class_names = names;
  data.channels = 1;
  data.height = static_cast<int>(data.train.images.size(2));
  data.width = static_cast<int>(data.train.images.size(3));
  return data;
}

}  // namespace

DataSpec parse_data_spec(const std::string& data) {
  const auto colon = data.find(':');
  return {data.substr(0, colon), colon == std::string::npos ? "" : data.substr(colon + 1)};
}

std::string data_place(const DataSpec& spec) {
  return spec.kind == "fashion-mnist" && spec.dir.empty() ? kFashionMnistDir : spec.dir;
}

Dataset load_dataset(const std::string& spec, const DataOptions& options) {
  const auto [kind, dir] = parse_data_spec(spec);
  auto need_dir = [&] {
    if (dir.empty()) throw UsageError("--data " + kind + ":DIR needs a directory");
  };
  Dataset data;
  if (kind == "fashion-mnist") {
    data = load_idx("fashion-mnist", data_place({kind, dir}), kFashionNames);
  } else if (kind == "mnist") {
    need_dir();
    data = load_idx("mnist", dir, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  } else if (kind == "idx") {
    need_dir();
    data = load_idx("idx", dir, {});
  } else if (kind == "cifar10" || kind == "cifar100") {
    need_dir();
    data = load_cifar(dir, kind == "cifar100");
  } else if (kind == "folder") {
    need_dir();
    data = load_image_folder(dir, options);
  } else if (kind == "synthetic") {
    data = make_synthetic(options.synthetic_channels, options.synthetic_size);
  } else {
    throw UsageError("unknown data set '" + spec +
                     "' (fashion-mnist, mnist:DIR, idx:DIR, cifar10:DIR, cifar100:DIR, folder:DIR, synthetic)");
  }
  data.source = spec;
  if (kind != "folder") data.identity = {data.train.size(), data.test.size(), ""};
  return data;
}

}  // namespace gex
