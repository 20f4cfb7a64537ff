#include "data/cifar.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "errors.h"
#include "io/atomic_file.h"

namespace gex {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

const std::vector<std::string> kCifar10Names = {"airplane", "automobile", "bird", "cat", "deer",
                                                "dog", "frog", "horse", "ship", "truck"};

const std::vector<std::string> kCifar100Names = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
    "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
    "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};

Split read_batches(const std::vector<std::string>& files, bool hundred) {
  std::vector<Split> parts;
  for (const auto& f : files) parts.push_back(decode_cifar_records(read_file(f), hundred, f));
  if (parts.size() == 1) return parts.front();
  std::vector<torch::Tensor> images, labels;
  for (const auto& p : parts) images.push_back(p.images), labels.push_back(p.labels);
  Split split;
  split.images = torch::cat(images);
  split.labels = torch::cat(labels);
  return split;
}

std::vector<std::string> read_names(const std::string& path, const std::vector<std::string>& fallback) {
  std::ifstream in(path);
  if (!in) return fallback;
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names.size() == fallback.size() ? names : fallback;
}

// Where the binary files are missing, the usual slips said: the python version (what torchvision
// downloads: the same names without .bin, Python pickles) or the folder above the binary one.
void check_binary_version(const std::filesystem::path& dir, bool hundred) {
  namespace fs = std::filesystem;
  const std::string first = hundred ? "train" : "data_batch_1";
  std::error_code ec;
  if (fs::exists(dir / (first + ".bin"), ec)) return;
  const std::string name = hundred ? "CIFAR-100" : "CIFAR-10";
  const std::string binary = hundred ? "cifar-100-binary.tar.gz (train.bin, test.bin)"
                                     : "cifar-10-binary.tar.gz (data_batch_1.bin … data_batch_5.bin, test_batch.bin)";
  const fs::path python = dir / (hundred ? "cifar-100-python" : "cifar-10-batches-py");
  for (const fs::path& inner : {dir / (hundred ? "cifar-100-binary" : "cifar-10-batches-bin"), python})
    if (fs::exists(inner / (first + ".bin"), ec))
      throw InputError(dir.string(), "holds " + name + "'s binary files one folder down: give the folder " + inner.string());
  for (const fs::path& at : {dir, python})
    if (fs::exists(at / first, ec))
      throw InputError(at.string(), "holds " + name + "'s python version (" + first + " without .bin: Python pickles, as " +
                                        "torchvision downloads it); GE Explorer reads the binary version, " + binary +
                                        ", from the same page (www.cs.toronto.edu/~kriz/cifar.html), or these "
                                        "files converted (the README's one-line converter, under Data sets)");
}

}  // namespace

Split decode_cifar_records(const std::string& bytes, bool hundred, const std::string& source) {
  const int64_t label_bytes = hundred ? 2 : 1;
  const int64_t record = label_bytes + kPixels;
  const int classes = hundred ? 100 : 10;
  const auto size = static_cast<int64_t>(bytes.size());
  if (size == 0 || size % record != 0)
    throw InputError(source, "size " + std::to_string(size) + " is not a whole number of " + std::to_string(record) +
                                 "-byte CIFAR records (the last one starts at offset " +
                                 std::to_string(size / record * record) + "): truncated?");
  const int64_t total = size / record;
  Split split;
  split.images = torch::empty({total, 3, 32, 32}, torch::kUInt8);
  split.labels = torch::empty({total}, torch::kInt64);
  auto* images = split.images.data_ptr<uint8_t>();
  auto* labels = split.labels.data_ptr<int64_t>();
  for (int64_t n = 0, offset = 0; n < total; ++n, offset += record) {
    const int label = static_cast<unsigned char>(bytes[offset + label_bytes - 1]);  // fine label
    if (label >= classes)
      throw InputError(source, "label " + std::to_string(label) + " at offset " + std::to_string(offset + label_bytes - 1) +
                                   " is out of range (" + std::to_string(classes) + " classes)");
    labels[n] = label;
    std::memcpy(images + n * kPixels, bytes.data() + offset + label_bytes, kPixels);
  }
  return split;
}

Dataset load_cifar(const std::string& dir, bool hundred) {
  namespace fs = std::filesystem;
  require_directory(dir);
  check_binary_version(dir, hundred);
  auto in = [&](const std::string& name) { return (fs::path(dir) / name).string(); };
  Dataset data;
  data.name = hundred ? "cifar100" : "cifar10";
  data.channels = 3;
  data.height = data.width = 32;
  data.augment = true;
  if (hundred) {
    data.train = read_batches({in("train.bin")}, true);
    data.test = read_batches({in("test.bin")}, true);
    data.class_names = read_names(in("fine_label_names.txt"), kCifar100Names);
  } else {
    std::vector<std::string> train;
    for (int i = 1; i <= 5; ++i) train.push_back(in("data_batch_" + std::to_string(i) + ".bin"));
    data.train = read_batches(train, false);
    data.test = read_batches({in("test_batch.bin")}, false);
    data.class_names = read_names(in("batches.meta.txt"), kCifar10Names);
  }
  return data;
}

}  // namespace gex
