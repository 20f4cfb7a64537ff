// Data readers on small generated files, every bad case named; the batch transforms against a
// brute-force reading.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "data/batches.h"
#include "data/dataset.h"
#include "data/synthetic.h"
#include "errors.h"
#include "io/image.h"
#include "seeded.h"
#include "temp_dir.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

namespace gex {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

std::string idx_images(int n, int h, int w, int seed) {
  std::string s = be32(0x803) + be32(n) + be32(h) + be32(w);
  for (int i = 0; i < n * h * w; ++i) s.push_back(char((i * 7 + seed) % 256));
  return s;
}

std::string idx_labels(const std::vector<int>& labels) {
  std::string s = be32(0x801) + be32(labels.size());
  for (int l : labels) s.push_back(char(l));
  return s;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), bytes.size());
  gzclose(f);
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

class Data : public test::Seeded {};

TEST_F(Data, IdxRawAndGzip) {
  TempDir dir;
  dir.write("train-images-idx3-ubyte", idx_images(5, 4, 3, 1));
  dir.write("train-labels-idx1-ubyte", idx_labels({0, 1, 2, 3, 2}));
  write_gz(dir.file("t10k-images-idx3-ubyte.gz"), idx_images(2, 4, 3, 9));
  write_gz(dir.file("t10k-labels-idx1-ubyte.gz"), idx_labels({3, 0}));
  const auto data = load_dataset("idx:" + dir.path().string());
  EXPECT_EQ(data.train.images.sizes(), (std::vector<int64_t>{5, 1, 4, 3}));
  EXPECT_EQ(data.train.images.flatten()[13].item<int>(), (13 * 7 + 1) % 256);
  EXPECT_EQ(data.test.images.flatten()[5].item<int>(), (5 * 7 + 9) % 256);
  EXPECT_EQ(data.train.labels[3].item<int64_t>(), 3);
  EXPECT_EQ(data.test.labels[0].item<int64_t>(), 3);
  EXPECT_EQ(data.num_classes(), 4);  // labels 0..3
  EXPECT_EQ(data.height, 4);
  EXPECT_EQ(data.width, 3);
}

// The names some copies give the files (train-images.idx3-ubyte), and torchvision's place for them
// (ROOT/MNIST/raw, ROOT/FashionMNIST/raw) when ROOT is given: that folder named, the data set's own.
TEST_F(Data, IdxNamedWithDotsAndTorchvisionsFolders) {
  TempDir dir;
  const auto write_split = [&](const std::filesystem::path& at, const char* sep) {
    std::filesystem::create_directories(at);
    const std::string s(sep);
    std::ofstream((at / ("train-images" + s + "idx3-ubyte")).string(), std::ios::binary) << idx_images(5, 4, 3, 1);
    std::ofstream((at / ("train-labels" + s + "idx1-ubyte")).string(), std::ios::binary) << idx_labels({0, 1, 2, 3, 2});
    write_gz((at / ("t10k-images" + s + "idx3-ubyte.gz")).string(), idx_images(2, 4, 3, 9));
    write_gz((at / ("t10k-labels" + s + "idx1-ubyte.gz")).string(), idx_labels({3, 0}));
  };
  write_split(dir.path() / "dotted", ".");
  const auto data = load_dataset("idx:" + (dir.path() / "dotted").string());
  EXPECT_EQ(data.train.images.flatten()[13].item<int>(), (13 * 7 + 1) % 256);
  EXPECT_EQ(data.test.labels[0].item<int64_t>(), 3);
  write_split(dir.path() / "root" / "FashionMNIST" / "raw", "-");
  const std::string root = (dir.path() / "root").string();
  const std::string fashion = "holds the IDX files one folder down, as torchvision keeps them: give the folder " + root + "/FashionMNIST/raw";
  EXPECT_EQ(error_of([&] { load_dataset("fashion-mnist:" + root); }), root + ": " + fashion);
  EXPECT_EQ(error_of([&] { load_dataset("idx:" + root); }), root + ": " + fashion);
  EXPECT_EQ(error_of([&] { load_dataset("mnist:" + root); }),  // (not the digits: MNIST/raw is not there)
            root + "/train-images-idx3-ubyte.gz: no such file (nor train-images-idx3-ubyte)");
  write_split(dir.path() / "root" / "MNIST" / "raw", "-");
  EXPECT_EQ(error_of([&] { load_dataset("mnist:" + root); }),
            root + ": holds the IDX files one folder down, as torchvision keeps them: give the folder " + root + "/MNIST/raw");
  EXPECT_EQ(load_dataset("mnist:" + root + "/MNIST/raw").train.size(), 5);
}

// Every data set that is a directory says whether the path is missing or is a file.
TEST_F(Data, ADataDirectoryThatIsMissingOrAFileIsNamedSo) {
  TempDir dir;
  const auto file = dir.write("cifar-10-binary.tar.gz", "an archive, not its folder");
  for (const std::string kind : {"idx:", "mnist:", "cifar10:", "cifar100:", "folder:"}) {
    auto msg = error_of([&] { load_dataset(kind + file); });
    EXPECT_NE(msg.find(file + ": not a directory (a file)"), std::string::npos) << kind << msg;
    msg = error_of([&] { load_dataset(kind + dir.file("none")); });
    EXPECT_NE(msg.find(dir.file("none") + ": no such directory"), std::string::npos) << kind << msg;
  }
}

TEST_F(Data, BadIdxFilesAreNamed) {
  TempDir dir;
  const auto d = "mnist:" + dir.path().string();
  dir.write("train-images-idx3-ubyte", idx_images(5, 4, 4, 1));
  dir.write("train-labels-idx1-ubyte", idx_labels({0, 1, 2, 3, 2}));
  dir.write("t10k-images-idx3-ubyte", idx_images(2, 4, 4, 9));
  auto msg = error_of([&] { load_dataset(d); });
  EXPECT_NE(msg.find("t10k-labels-idx1-ubyte.gz: no such file"), std::string::npos) << msg;
  dir.write("t10k-labels-idx1-ubyte", idx_labels({3, 12}));
  msg = error_of([&] { load_dataset(d); });
  EXPECT_NE(msg.find("label 12 at offset 9 is out of range"), std::string::npos) << msg;
  dir.write("t10k-labels-idx1-ubyte", idx_labels({3, 1, 1}));
  msg = error_of([&] { load_dataset(d); });
  EXPECT_NE(msg.find("2 images but 3 labels"), std::string::npos) << msg;
  dir.write("t10k-labels-idx1-ubyte", idx_labels({3, 1}));
  const auto images = idx_images(5, 4, 4, 1);
  dir.write("train-images-idx3-ubyte", images.substr(0, images.size() - 10));
  msg = error_of([&] { load_dataset(d); });
  EXPECT_NE(msg.find("train-images-idx3-ubyte: the IDX header promises 80 data bytes from offset 16"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  dir.write("train-images-idx3-ubyte", be32(0x801) + images.substr(4));
  msg = error_of([&] { load_dataset(d); });
  EXPECT_NE(msg.find("bad IDX magic 0x00000801 at offset 0"), std::string::npos) << msg;
  fs::remove(dir.file("train-images-idx3-ubyte"));
  std::string gz;
  {
    write_gz(dir.file("tmp.gz"), images);
    std::ifstream in(dir.file("tmp.gz"), std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  dir.write("train-images-idx3-ubyte.gz", gz.substr(0, gz.size() / 2));
  msg = error_of([&] { load_dataset(d); });
  EXPECT_NE(msg.find("train-images-idx3-ubyte.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_THROW(load_dataset("mnist"), UsageError);
  EXPECT_THROW(load_dataset("imagenet:/x"), UsageError);
}

TEST_F(Data, CifarTenAndHundred) {
  TempDir dir;
  auto record = [](int label, int fill, bool hundred) {
    std::string r;
    if (hundred) r.push_back(char(label / 5));  // coarse label first
    r.push_back(char(label));
    for (int i = 0; i < 3072; ++i) r.push_back(char((fill + i) % 251));
    return r;
  };
  for (int b = 1; b <= 5; ++b) dir.write("data_batch_" + std::to_string(b) + ".bin", record(b, b, false) + record(9, 7, false));
  dir.write("test_batch.bin", record(4, 3, false));
  auto data = load_dataset("cifar10:" + dir.path().string());
  EXPECT_EQ(data.train.size(), 10);
  EXPECT_EQ(data.train.labels[2].item<int64_t>(), 2);
  EXPECT_EQ(data.train.labels[3].item<int64_t>(), 9);
  // Channel 1 (green) of the third record starts 1024 bytes into its pixels.
  EXPECT_EQ(data.train.images[2][1][0][0].item<int>(), (2 + 1024) % 251);
  EXPECT_EQ(data.class_names[0], "airplane");
  EXPECT_TRUE(data.augment);

  dir.write("train.bin", record(87, 1, true) + record(3, 2, true));
  dir.write("test.bin", record(99, 5, true));
  data = load_dataset("cifar100:" + dir.path().string());
  EXPECT_EQ(data.train.labels[0].item<int64_t>(), 87);  // the fine label
  EXPECT_EQ(data.num_classes(), 100);
  EXPECT_EQ(data.class_names[99], "worm");

  dir.write("test_batch.bin", record(4, 3, false).substr(0, 2000));
  auto msg = error_of([&] { load_dataset("cifar10:" + dir.path().string()); });
  EXPECT_NE(msg.find("test_batch.bin: size 2000 is not a whole number of 3073-byte CIFAR records"),
            std::string::npos) << msg;
  dir.write("test_batch.bin", record(10, 3, false));
  msg = error_of([&] { load_dataset("cifar10:" + dir.path().string()); });
  EXPECT_NE(msg.find("label 10 at offset 0 is out of range"), std::string::npos) << msg;
}

// The python version (what torchvision downloads: the same names without .bin, Python pickles),
// given or one folder down, and binary files one folder down: each said, with what to give.
TEST_F(Data, CifarsPythonVersionAndTheFolderAboveAreSaid) {
  for (const bool hundred : {false, true}) {
    TempDir dir;
    const std::string kind = hundred ? "cifar100:" : "cifar10:", first = hundred ? "train" : "data_batch_1";
    const std::string python = hundred ? "cifar-100-python" : "cifar-10-batches-py";
    std::filesystem::create_directories(dir.path() / python);
    dir.write(python + "/" + first, "\x80\x02}q\x01(U\x04" "dataq\x02");  // (the pickle's start)
    const std::string said = "holds " + std::string(hundred ? "CIFAR-100" : "CIFAR-10") + "'s python version (" + first +
                             " without .bin: Python pickles, as torchvision downloads it); GE Explorer reads the binary version, " +
                             (hundred ? "cifar-100-binary.tar.gz" : "cifar-10-binary.tar.gz");
    for (const auto& at : {dir.path(), dir.path() / python}) {
      const auto msg = error_of([&] { load_dataset(kind + at.string()); });
      EXPECT_EQ(msg.rfind((dir.path() / python).string() + ": " + said, 0), 0u) << msg;
    }
    for (const std::string& inner : {python, std::string(hundred ? "cifar-100-binary" : "cifar-10-batches-bin")}) {
      std::filesystem::create_directories(dir.path() / inner);
      dir.write(inner + "/" + first + ".bin", "");
      const auto msg = error_of([&] { load_dataset(kind + dir.path().string()); });
      EXPECT_EQ(msg, dir.path().string() + ": holds " + (hundred ? "CIFAR-100" : "CIFAR-10") +
                         "'s binary files one folder down: give the folder " + (dir.path() / inner).string()) << msg;
      std::filesystem::remove(dir.path() / inner / (first + ".bin"));
    }
  }
}

TEST_F(Data, SyntheticIsFixedAndLearnable) {
  const auto a = make_synthetic(1, 28, 200, 50), b = make_synthetic(1, 28, 200, 50);
  EXPECT_TRUE(torch::equal(a.train.images, b.train.images));
  EXPECT_EQ(a.num_classes(), 10);
  EXPECT_EQ(a.train.images.sizes(), (std::vector<int64_t>{200, 1, 28, 28}));
  // The mean image of "east" (class 0) is brighter right of centre than left.
  auto east = a.train.images.index({a.train.labels.eq(0)}).to(torch::kFloat32).mean(0)[0];
  using torch::indexing::Slice;
  EXPECT_GT(east.index({Slice(), Slice(18, 28)}).mean().item<float>(),
            east.index({Slice(), Slice(0, 10)}).mean().item<float>() * 2);
}

TEST_F(Data, ChannelStatisticsByHand) {
  auto images = torch::randint(0, 256, {7, 3, 5, 4}, torch::kUInt8);
  std::vector<double> mean, std;
  channel_statistics(images, mean, std);
  auto x = images.to(torch::kFloat64) / 255.0;
  for (int c = 0; c < 3; ++c) {
    auto v = x.select(1, c);
    EXPECT_NEAR(mean[c], v.mean().item<double>(), 1e-9);
    EXPECT_NEAR(std[c], v.std(/*unbiased=*/false).item<double>(), 1e-9);
  }
}

TEST_F(Data, BatchesNormaliseAndAugmentLikeTheSlowWay) {
  Preprocess pre = Preprocess::identity(2, 6, 3);
  pre.mean = {0.5, 0.25};
  pre.std = {0.5, 2.0};
  auto images = torch::randint(0, 256, {16, 2, 6, 6}, torch::kUInt8);
  const BatchMaker plain(pre, false);
  auto x = plain(images);
  EXPECT_TRUE(x.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_NEAR(x[3][1][2][4].item<float>(), (images[3][1][2][4].item<int>() / 255.0 - 0.25) / 2.0, 1e-6);

  const BatchMaker augmenting(pre, true, 2);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(42);
  auto y = augmenting(images, gen);
  auto gen2 = at::make_generator<at::CPUGeneratorImpl>(42);
  EXPECT_TRUE(torch::equal(y, augmenting(images, gen2)));  // the generator decides everything
  // Every augmented image is a 6×6 window of the zero-padded 10×10 image, possibly mirrored.
  auto padded = torch::nn::functional::pad(images, torch::nn::functional::PadFuncOptions({2, 2, 2, 2}));
  int flipped = 0;
  for (int n = 0; n < 16; ++n) {
    bool found = false;
    for (int dy = 0; dy <= 4 && !found; ++dy)
      for (int dx = 0; dx <= 4 && !found; ++dx)
        for (bool flip : {false, true}) {
          auto window = padded[n].slice(1, dy, dy + 6).slice(2, dx, dx + 6).unsqueeze(0);
          if (flip) window = window.flip({3});
          if (torch::allclose(plain(window), y[n].unsqueeze(0))) {
            found = true;
            flipped += flip;
            break;
          }
        }
    EXPECT_TRUE(found) << "image " << n;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 16);
}

#ifdef GEX_WITH_OPENCV
TEST_F(Data, ImagesAreConvertedAsTheModelNeedsThem) {
  TempDir dir;
  // Pure red in OpenCV's BGR order: channel 0 of the RGB tensor is 255.
  cv::Mat red(10, 20, CV_8UC3, cv::Scalar(0, 0, 255));
  cv::imwrite(dir.file("red.png"), red);
  auto t = load_image(dir.file("red.png"), 3, 8);
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{3, 8, 8}));
  EXPECT_EQ(t[0][4][4].item<int>(), 255);
  EXPECT_EQ(t[2][4][4].item<int>(), 0);
  // Luminance for a one-channel model: 0.299 R.
  EXPECT_NEAR(load_image(dir.file("red.png"), 1, 8)[0][4][4].item<int>(), 76, 1);
  // 16-bit gray scales to 8 bits; RGBA drops alpha.
  cv::Mat deep(8, 8, CV_16UC1, cv::Scalar(65535));
  cv::imwrite(dir.file("deep.png"), deep);
  EXPECT_EQ(load_image(dir.file("deep.png"), 1, 8)[0][0][0].item<int>(), 255);
  cv::Mat rgba(8, 8, CV_8UC4, cv::Scalar(255, 0, 0, 0));
  cv::imwrite(dir.file("rgba.png"), rgba);
  EXPECT_EQ(load_image(dir.file("rgba.png"), 3, 8)[2][3][3].item<int>(), 255);  // blue survives
  // Aspect kept, centre crop: a 40×20 image, left quarter black, rest white, at 10×10 keeps the middle.
  cv::Mat wide(20, 40, CV_8UC1, cv::Scalar(255));
  wide(cv::Rect(0, 0, 10, 20)).setTo(0);
  cv::imwrite(dir.file("wide.png"), wide);
  auto crop = load_image(dir.file("wide.png"), 1, 10);
  EXPECT_EQ(crop.min().item<int>(), 255);  // the black strip falls outside the centre crop
  dir.write("junk.png", "definitely not a png");
  auto msg = error_of([&] { load_image(dir.file("junk.png"), 3, 8); });
  EXPECT_NE(msg.find("junk.png: not an image"), std::string::npos) << msg;
  // A real 1×1 GIF (OpenCV here reads none): the message says what it is and what to do.
  dir.write("dot.gif", std::string("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00"
                                   "\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;", 35));
  msg = error_of([&] { load_image(dir.file("dot.gif"), 3, 8); });
  EXPECT_NE(msg.find("dot.gif: a GIF, which OpenCV cannot read: convert it to PNG"), std::string::npos) << msg;
  dir.write("empty.jpg", "");
  msg = error_of([&] { load_image(dir.file("empty.jpg"), 3, 8); });
  EXPECT_NE(msg.find("empty.jpg: the file is empty"), std::string::npos) << msg;
}

TEST_F(Data, EveryCommonFormatTinyAndLarge) {
  TempDir dir;
  cv::Mat green(30, 40, CV_8UC3, cv::Scalar(0, 200, 0));
  for (const char* name : {"g.bmp", "g.tiff", "g.webp", "g.jpg", "g.png"}) {
    ASSERT_TRUE(cv::imwrite(dir.file(name), green)) << name;
    const auto t = load_image(dir.file(name), 3, 8);
    EXPECT_NEAR(t[1][4][4].item<int>(), 200, 6) << name;  // lossy formats stay close
    EXPECT_NEAR(t[0][4][4].item<int>(), 0, 6) << name;
  }
  cv::imwrite(dir.file("dot.png"), cv::Mat(1, 1, CV_8UC1, cv::Scalar(77)));
  EXPECT_EQ(load_image(dir.file("dot.png"), 1, 28).sizes(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(load_image(dir.file("dot.png"), 1, 28)[0][27][27].item<int>(), 77);
  cv::imwrite(dir.file("big.jpg"), cv::Mat(3000, 4000, CV_8UC3, cv::Scalar(10, 20, 30)));
  EXPECT_EQ(load_image(dir.file("big.jpg"), 3, 32).sizes(), (std::vector<int64_t>{3, 32, 32}));
  // A CMYK JPEG (made with ImageMagick from pure red): decoded to RGB.
  const auto cmyk = load_image(std::string(GEX_TEST_DATA) + "/cmyk-red.jpg", 3, 8);
  EXPECT_GT(cmyk[0][4][4].item<int>(), 200);
  EXPECT_LT(cmyk[1][4][4].item<int>(), 60);
  EXPECT_LT(cmyk[2][4][4].item<int>(), 60);
}

TEST_F(Data, ImageFoldersSplitDeterministicallyAndSkipBadFiles) {
  TempDir dir;
  for (const char* cls : {"cat", "dog"}) {
    fs::create_directories(dir.path() / cls);
    for (int i = 0; i < 10; ++i)
      cv::imwrite((dir.path() / cls / ("img" + std::to_string(i) + ".png")).string(),
                  cv::Mat(12, 12, CV_8UC3, cv::Scalar(i * 20, std::string(cls) == "cat" ? 0 : 200, 50)));
  }
  dir.write("dog/broken.jpg", "\xff\xd8\xff\xe0 truncated jpeg");
  std::vector<std::string> warnings;
  DataOptions options;
  options.input_size = 8;
  options.seed = 3;
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  const auto a = load_dataset("folder:" + dir.path().string(), options);
  const auto b = load_dataset("folder:" + dir.path().string(), options);
  EXPECT_EQ(a.class_names, (std::vector<std::string>{"cat", "dog"}));
  // The broken file keeps its row, marked unreadable (left out of batches as when streamed).
  const auto readable = [](const Split& s) {
    return s.readable.defined() ? s.readable.sum().item<int64_t>() : s.size();
  };
  EXPECT_EQ(a.train.size() + a.test.size(), 21);
  EXPECT_EQ(readable(a.train) + readable(a.test), 20);
  EXPECT_EQ(a.test.size(), 2);  // one of ten per class (1.1 of the dog's eleven files)
  EXPECT_EQ(a.test.labels.sum().item<int64_t>(), 1);
  EXPECT_TRUE(torch::equal(a.test.images, b.test.images));
  EXPECT_EQ(a.train.images.sizes(), (std::vector<int64_t>{19, 3, 8, 8}));
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("broken.jpg"), std::string::npos) << warnings[0];

  // An empty class folder keeps its class index and is named once.
  fs::create_directories(dir.path() / "bird");
  warnings.clear();
  const auto c = load_dataset("folder:" + dir.path().string(), options);
  EXPECT_EQ(c.class_names, (std::vector<std::string>{"bird", "cat", "dog"}));
  EXPECT_EQ(readable(c.train) + readable(c.test), 20);
  ASSERT_GE(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("1 class folder(s) without a file (bird)"), std::string::npos) << warnings[0];

  TempDir empty;
  fs::create_directories(empty.path() / "only");
  empty.write("only/x.png", "nope");
  auto msg = error_of([&] { load_dataset("folder:" + empty.path().string(), options); });
  EXPECT_NE(msg.find("no readable image"), std::string::npos) << msg;
}

// What a folder held, to tell a resumed run or another rank that sees other files: the same files
// wherever the folder lies are one identity; a file more (readable or not), or one renamed, another.
TEST_F(Data, AFolderIsKnownByItsFilesWhereverItLies) {
  TempDir dir;
  for (const char* cls : {"a", "b"}) {
    fs::create_directories(dir.path() / "photos" / cls);
    for (int i = 0; i < 5; ++i)
      cv::imwrite((dir.path() / "photos" / cls / ("img" + std::to_string(i) + ".png")).string(),
                  cv::Mat(12, 12, CV_8UC3, cv::Scalar(i * 20, cls[0] == 'a' ? 0 : 200, 50)));
  }
  DataOptions options;
  options.input_size = 8;
  const auto identity = [&](const std::string& folder) {
    return load_dataset("folder:" + dir.file(folder), options).identity;
  };
  const DataIdentity here = identity("photos");
  EXPECT_EQ(here.train, 8);  // one of each class's five held out
  EXPECT_EQ(here.test, 2);
  EXPECT_EQ(here.files.size(), 16u);
  fs::copy(dir.path() / "photos", dir.path() / "copy", fs::copy_options::recursive);
  EXPECT_EQ(identity("copy"), here) << "the same files elsewhere";
  dir.write("copy/a/zz.jpg", "not an image");
  const DataIdentity more = identity("copy");
  EXPECT_EQ(more.train, 9);
  EXPECT_EQ(describe_change(here, more), "8 training files then, 9 now");
  EXPECT_EQ(describe_change(here, more, "on rank 0", "on rank 1"), "8 training files on rank 0, 9 on rank 1");
  fs::rename(dir.path() / "copy/a/zz.jpg", dir.path() / "copy/a/yy.jpg");
  const DataIdentity renamed = identity("copy");
  EXPECT_NE(renamed, more);
  EXPECT_EQ(describe_change(more, renamed), "the same number of files under other names or classes");
  const DataIdentity synthetic = load_dataset("synthetic").identity;  // fixed files: the counts alone
  EXPECT_EQ(synthetic.train, load_dataset("synthetic").train.size());
  EXPECT_TRUE(synthetic.files.empty());
  EXPECT_EQ(describe_change(synthetic, DataIdentity{synthetic.train, synthetic.test + 1, ""}),
            std::to_string(synthetic.test) + " test images then, " + std::to_string(synthetic.test + 1) + " now");
}
#endif

}  // namespace
}  // namespace gex
