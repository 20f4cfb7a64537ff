// The streamed folder loader: JPEG frame headers, reduced decoding, torchvision's crop draw, and
// batches that equal the in-memory path, whatever the cache and the threads, with corrupt files
// left out once and named. Expected pixels come from OpenCV called directly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <tuple>

#include <zlib.h>

#include "data/batch_stream.h"
#include "data/batches.h"
#include "data/dataset.h"
#include "data/photo_recipe.h"
#include "data/streamed_images.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "seeded.h"
#include "temp_dir.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace gex {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

// A photo-like image: smooth colour ramps plus a seeded texture, so crops differ visibly.
cv::Mat photo(int width, int height, int seed) {
  cv::Mat m(height, width, CV_8UC3);
  cv::RNG rng(seed);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      m.at<cv::Vec3b>(y, x) = {uchar((x * 255) / width), uchar((y * 255) / height), uchar(rng.uniform(0, 256))};
  return m;
}

// train/<class>/*.jpg and val/<class>/*.jpg of photo(width, height).
void make_folder(const fs::path& root, int per_class, int width, int height) {
  int seed = 1;
  for (const char* split : {"train", "val"})
    for (const char* cls : {"apple", "pear", "plum"}) {
      fs::create_directories(root / split / cls);
      const int n = std::string(split) == "train" ? per_class : 2;
      for (int i = 0; i < n; ++i)
        cv::imwrite((root / split / cls / ("p" + std::to_string(i) + ".jpg")).string(), photo(width, height, seed++));
    }
}

torch::Tensor chw(const cv::Mat& rgb) {
  auto t = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8);
  return t.permute({2, 0, 1}).contiguous();
}

class Loader : public test::Seeded {};

TEST_F(Loader, JpegDimensionsFromTheFrameHeader) {
  TempDir dir;
  const auto baseline = dir.file("b.jpg"), progressive = dir.file("p.jpg"), png = dir.file("x.png");
  cv::imwrite(baseline, photo(123, 45, 1));
  cv::imwrite(progressive, photo(64, 200, 2), {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  cv::imwrite(png, photo(10, 10, 3));
  EXPECT_EQ(jpeg_dimensions(read_file(baseline)), std::make_pair(123, 45));
  EXPECT_EQ(jpeg_dimensions(read_file(progressive)), std::make_pair(64, 200));
  EXPECT_FALSE(jpeg_dimensions(read_file(png)));
  EXPECT_FALSE(jpeg_dimensions(read_file(baseline).substr(0, 30)));
  EXPECT_FALSE(jpeg_dimensions(std::string("\xff\xd8\xff\xc0\x00\x01", 6)));  // a length below 2
  EXPECT_FALSE(jpeg_dimensions(""));
}

// What decoding a damaged file says (empty when it decodes), checking that nothing else — libpng's,
// libjpeg's or OpenCV's own line — was printed on stderr.
std::string refusal_of(const std::string& bytes, const std::string& file) {
  testing::internal::CaptureStderr();
  std::string said;
  try {
    decode_photo(bytes, file, 3);
  } catch (const InputError& e) {
    said = e.what();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << file;
  return said;
}

TEST_F(Loader, ACutPngIsSaidTruncatedBeforeLibpngSeesIt) {
  TempDir dir;
  const auto file = dir.file("x.png");
  cv::imwrite(file, photo(40, 30, 4));
  const auto whole = read_file(file);
  EXPECT_EQ(png_damage(whole), "");
  EXPECT_EQ(png_damage(whole + "trailing bytes after IEND"), "");
  // Every cut past the signature leaves the IEND chunk (the file's last 12 bytes) incomplete.
  for (size_t cut = 8; cut < whole.size(); ++cut)
    ASSERT_NE(png_damage(whole.substr(0, cut)).find("a truncated PNG"), std::string::npos) << cut;
  std::string garbled = whole;
  garbled[12] = '\x01';  // the first chunk's type, IHDR, no longer letters
  EXPECT_NE(png_damage(garbled).find("a corrupt PNG"), std::string::npos);
  EXPECT_EQ(png_damage(read_file(file).substr(0, 7)), "");  // not (yet) a PNG: OpenCV says what it is
  EXPECT_EQ(png_damage("\xff\xd8\xff\xe0 a JPEG"), "");
  // Decoding one names the file and the chunk, and libpng prints nothing of its own.
  const std::string cut = refusal_of(whole.substr(0, whole.size() / 2), file);
  EXPECT_NE(cut.find(file + ": a truncated PNG: its IDAT chunk"), std::string::npos) << cut;
  EXPECT_EQ(decode_photo(whole, file, 3).sizes(), (std::vector<int64_t>{30, 40, 3}));
}

// A PNG whose compressed pixels were damaged (a flipped bit on disk) fails its IDAT chunk's CRC:
// said naming the chunk, where libpng printed "libpng error: IDAT: invalid bit length repeat".
TEST_F(Loader, APngWithDamagedPixelDataIsSaidCorruptBeforeLibpngSeesIt) {
  TempDir dir;
  const auto file = dir.file("x.png");
  cv::imwrite(file, photo(40, 30, 6));
  const auto whole = read_file(file);
  const size_t idat = whole.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  for (const size_t at : {idat + 4, idat + 40, idat + 300}) {  // the chunk's data starts after its type
    std::string damaged = whole;
    damaged[at] = char(damaged[at] ^ 0x10);
    const std::string said = png_damage(damaged);
    EXPECT_NE(said.find("a corrupt PNG: its IDAT chunk at byte " + std::to_string(idat - 4) + " fails its CRC check"),
              std::string::npos)
        << at << ": " << said;
    EXPECT_EQ(refusal_of(damaged, file), file + ": " + said);
  }
  // An ancillary chunk's CRC is libpng's to judge (it drops the chunk): no damage said.
  const std::string note = "tEXt" + std::string("Comment\0hello", 13);
  const std::string bad_crc = std::string("\0\0\0\x0d", 4) + note + "CRC!";
  EXPECT_EQ(png_damage(whole.substr(0, 33) + bad_crc + whole.substr(33)), "");
}

// A JPEG cut short (a copy interrupted) is refused naming the file: libjpeg decoded the missing
// part as grey and said "Premature end of JPEG file" only on stderr. Baseline, progressive and with
// restart markers; what follows a whole JPEG's end (a motion photo's video) is no damage.
TEST_F(Loader, ACutJpegIsSaidTruncatedInsteadOfDecodedHalfGrey) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::vector<int>>> kinds = {
      {"baseline.jpg", {}}, {"progressive.jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}}, {"restarts.jpg", {cv::IMWRITE_JPEG_RST_INTERVAL, 2}}};
  for (const auto& [name, params] : kinds) {
    const auto file = dir.file(name);
    cv::imwrite(file, photo(48, 40, 7), params);
    const auto whole = read_file(file);
    ASSERT_EQ(whole.substr(whole.size() - 2), "\xff\xd9") << name;
    EXPECT_EQ(jpeg_damage(whole), "") << name;
    EXPECT_EQ(jpeg_damage(whole + "\xff\xda then a video, \xff\xd8 anything"), "") << name;
    for (size_t cut = 3; cut < whole.size(); ++cut)
      ASSERT_NE(jpeg_damage(whole.substr(0, cut)).find("a truncated JPEG"), std::string::npos) << name << " cut at " << cut;
    const std::string cut = refusal_of(whole.substr(0, whole.size() * 3 / 4), file);
    EXPECT_NE(cut.find(file + ": a truncated JPEG"), std::string::npos) << cut;
    EXPECT_EQ(decode_photo(whole, file, 3).sizes(), (std::vector<int64_t>{40, 48, 3})) << name;
  }
  EXPECT_EQ(jpeg_damage(read_file(dir.file("baseline.jpg")).substr(0, 2)), "");  // not (yet) a JPEG: OpenCV says
  EXPECT_EQ(jpeg_damage("\x89PNG\r\n\x1a\n"), "");
}

// A BMP or a binary PBM/PGM/PPM cut short is said so, sizes and bytes named, where OpenCV printed
// "imdecode_(''): can't read data: … Unexpected end of input stream" before refusing it.
TEST_F(Loader, ACutBmpOrPnmIsSaidTruncatedWithoutOpenCVsOwnLine) {
  TempDir dir;
  cv::Mat gray;
  cv::cvtColor(photo(37, 21, 8), gray, cv::COLOR_BGR2GRAY);
  cv::Mat bits = gray > 128;
  const std::vector<std::tuple<std::string, cv::Mat, std::vector<int>>> kinds = {
      {"x.bmp", photo(37, 21, 8), {}}, {"g.bmp", gray, {}},           {"x.ppm", photo(37, 21, 8), {}},
      {"x.pgm", gray, {}},             {"x.pbm", bits, {cv::IMWRITE_PXM_BINARY, 1}}};
  for (const auto& [name, image, params] : kinds) {
    const auto file = dir.file(name);
    ASSERT_TRUE(cv::imwrite(file, image, params)) << name;
    const auto whole = read_file(file);
    const auto said = [&](const std::string& bytes) { return bmp_damage(bytes) + pnm_damage(bytes); };
    EXPECT_EQ(said(whole), "") << name;
    EXPECT_EQ(said(whole + "trailing"), "") << name;
    // Every cut inside the pixels (past a header of at most 60 bytes) is said.
    for (size_t cut = 60; cut < whole.size(); ++cut)
      ASSERT_NE(said(whole.substr(0, cut)).find("a truncated"), std::string::npos) << name << " cut at " << cut;
    const std::string cut = refusal_of(whole.substr(0, whole.size() / 2), file);
    EXPECT_NE(cut.find(file + ": a truncated"), std::string::npos) << cut;
    EXPECT_NE(cut.find("37×21 pixels end at byte " + std::to_string(whole.size())), std::string::npos) << cut;
    EXPECT_EQ(decode_photo(whole, file, 3).sizes(), (std::vector<int64_t>{21, 37, 3})) << name;
  }
  // A PGM header with comments and 16-bit samples (3 + 12 + 10 + 10 header bytes, 8 of pixels);
  // sizes no image has and a plain (text) PGM are OpenCV's to judge.
  EXPECT_NE(pnm_damage("P5\n# a comment\n# another\n2 2 65535\n" + std::string(7, 'x')).find("end at byte 43"),
            std::string::npos);
  EXPECT_EQ(pnm_damage("P5\n2 2 65535\n" + std::string(8, 'x')), "");
  EXPECT_EQ(pnm_damage("P5\n99999999999 2 255\nxx"), "");
  EXPECT_EQ(pnm_damage("P2\n2 2 255\n1 2"), "");  // plain (text) PGM: OpenCV's to judge
}

// A PNG chunk: length, type, data and the CRC of type and data.
std::string png_chunk(const std::string& type, const std::string& data) {
  const auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  const std::string body = type + data;
  return be32(uint32_t(data.size())) + body +
         be32(uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
}

TEST_F(Loader, APngsColourProfileAndTextAreNotHandedToLibpng) {
  TempDir dir;
  const auto file = dir.file("x.png");
  cv::imwrite(file, photo(40, 30, 5));
  const auto plain = read_file(file);
  ASSERT_EQ(plain.substr(12, 4), "IHDR");
  ASSERT_EQ(png_for_decoding(plain), "");  // nothing to drop
  // After IHDR (8 + 25 bytes): a gamma, an ICC profile libpng finds too short (it warns), a text.
  const std::string with = plain.substr(0, 33) + png_chunk("gAMA", std::string("\x00\x00\xb1\x8f", 4)) +
                           png_chunk("iCCP", std::string("ICC Profile\0\0x", 14)) + png_chunk("tEXt", "Comment\0hello") +
                           plain.substr(33);
  EXPECT_EQ(png_for_decoding(with), plain);
  EXPECT_EQ(png_for_decoding(with.substr(0, with.size() - 1)), "");  // damaged: png_damage says so
  testing::internal::CaptureStderr();
  const auto decoded = decode_photo(with, file, 3);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  cv::Mat bgr = cv::imread(file, cv::IMREAD_COLOR), rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  EXPECT_TRUE(torch::equal(decoded, torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8)));
  // OpenCV on the file as it is: the same pixels, and libpng's warning about the profile.
  testing::internal::CaptureStderr();
  const cv::Mat direct = cv::imdecode(cv::Mat(1, int(with.size()), CV_8U, const_cast<char*>(with.data())), cv::IMREAD_COLOR);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("iCCP"), std::string::npos);
  EXPECT_EQ(cv::norm(direct, bgr, cv::NORM_INF), 0);
}

TEST_F(Loader, ReducedDecodingKeepsTheShorterSideAboveTheTarget) {
  TempDir dir;
  const auto file = dir.file("p.jpg");
  cv::imwrite(file, photo(400, 300, 7));
  const auto bytes = read_file(file);
  EXPECT_EQ(decode_photo(bytes, file, 3).sizes(), (std::vector<int64_t>{300, 400, 3}));
  EXPECT_EQ(decode_photo(bytes, file, 3, 70).sizes(), (std::vector<int64_t>{75, 100, 3}));   // 1/4
  EXPECT_EQ(decode_photo(bytes, file, 3, 120).sizes(), (std::vector<int64_t>{150, 200, 3}));  // 1/2
  EXPECT_EQ(decode_photo(bytes, file, 3, 151).sizes(), (std::vector<int64_t>{300, 400, 3}));  // none
  EXPECT_EQ(decode_photo(bytes, file, 3, 30).sizes(), (std::vector<int64_t>{38, 50, 3}));     // 1/8
  // The pixels are libjpeg's own reduced decoding, in RGB.
  cv::Mat bgr = cv::imread(file, cv::IMREAD_REDUCED_COLOR_4), rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  const auto expected = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8);
  EXPECT_TRUE(torch::equal(decode_photo(bytes, file, 3, 70), expected));
}

TEST_F(Loader, RandomResizedCropDrawsAsTorchvision) {
  const int w = 500, h = 375;
  int flips = 0, below_half = 0;
  for (uint64_t seed = 0; seed < 4000; ++seed) {
    const auto d = random_resized_crop(w, h, seed);
    ASSERT_GE(d.box.x, 0);
    ASSERT_GE(d.box.y, 0);
    ASSERT_LE(d.box.x + d.box.width, w);
    ASSERT_LE(d.box.y + d.box.height, h);
    const double area = double(d.box.width) * d.box.height / (double(w) * h);
    const double aspect = double(d.box.width) / d.box.height;
    // Rounding of the sides moves the area and the aspect a little past their ranges.
    ASSERT_GE(area, 0.075);
    ASSERT_LE(area, 1.0);
    ASSERT_GE(aspect, 0.75 * 0.97);
    ASSERT_LE(aspect, 4.0 / 3.0 * 1.03);
    flips += d.flip;
    below_half += area < 0.5;
    const auto again = random_resized_crop(w, h, seed);
    ASSERT_EQ(again.box.x, d.box.x);
    ASSERT_EQ(again.box.width, d.box.width);
    ASSERT_EQ(again.flip, d.flip);
  }
  EXPECT_NEAR(flips / 4000.0, 0.5, 0.03);
  // The share of crops under half the area, against torchvision's procedure simulated here with
  // another generator (ten tries of a uniform area and log-uniform aspect; a try that does not fit
  // is drawn again, which favours small crops).
  std::mt19937_64 ref(42);
  std::uniform_real_distribution<double> area_draw(0.08, 1.0), log_ratio(std::log(0.75), std::log(4.0 / 3.0));
  int ref_below = 0;
  const int ref_n = 200000;
  for (int i = 0; i < ref_n; ++i) {
    double a = 1.0;
    for (int t = 0; t < 10; ++t) {
      const double target = w * h * area_draw(ref), r = std::exp(log_ratio(ref));
      const long cw = std::lround(std::sqrt(target * r)), ch = std::lround(std::sqrt(target / r));
      if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
        a = double(cw) * ch / (double(w) * h);
        break;
      }
    }
    ref_below += a < 0.5;
  }
  EXPECT_NEAR(below_half / 4000.0, double(ref_below) / ref_n, 0.03);
  // A strip no allowed aspect fits in: the centre crop at the nearest aspect (4/3), by hand.
  const auto strip = random_resized_crop(1000, 10, 5);
  EXPECT_EQ(strip.box.width, 13);
  EXPECT_EQ(strip.box.height, 10);
  EXPECT_EQ(strip.box.x, (1000 - 13) / 2);
  EXPECT_EQ(strip.box.y, 0);
  const auto tall = random_resized_crop(10, 1000, 5);
  EXPECT_EQ(tall.box.width, 10);
  EXPECT_EQ(tall.box.height, 13);  // 10 / (3/4)
  EXPECT_EQ(evaluation_resize(224), 256);
  EXPECT_EQ(evaluation_resize(112), 128);
  EXPECT_NE(sample_seed(1, 0, 5), sample_seed(1, 1, 5));
  EXPECT_NE(sample_seed(1, 0, 5), sample_seed(1, 0, 6));
  EXPECT_NE(sample_seed(1, 0, 5), sample_seed(2, 0, 5));
}

// Random plans (gathered rows) over a split, the same for every split given.
std::vector<Rows> batches(const Split& split, const SampleView& view) {
  std::vector<Rows> out;
  const auto order = torch::randperm(split.size(), torch::TensorOptions().dtype(torch::kInt64));
  const int64_t n = split.size(), batch = 7, count = (n + batch - 1) / batch;
  BatchStream stream(split, count, [&](int64_t k) {
    BatchPlan p;
    p.index = order.slice(0, k * batch, std::min(n, (k + 1) * batch));
    p.view = view;
    return p;
  });
  for (int64_t k = 0; k < count; ++k) out.push_back(stream.next());
  return out;
}

void expect_same(const std::vector<Rows>& a, const std::vector<Rows>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_TRUE(torch::equal(a[k].images, b[k].images)) << "batch " << k;
    EXPECT_TRUE(torch::equal(a[k].labels, b[k].labels)) << "batch " << k;
  }
}

TEST_F(Loader, StreamedSmallImagesEqualTheInMemorySplit) {
  TempDir dir;
  make_folder(dir.path(), 8, 90, 60);
  DataOptions in_memory;
  in_memory.input_size = 16;
  DataOptions streamed = in_memory, one_thread = in_memory;
  streamed.cache_mb = 0;
  streamed.loader_threads = 3;
  one_thread.cache_mb = 0;
  one_thread.loader_threads = 1;
  const auto a = load_dataset("folder:" + dir.path().string(), in_memory);
  const auto b = load_dataset("folder:" + dir.path().string(), streamed);
  const auto c = load_dataset("folder:" + dir.path().string(), one_thread);
  ASSERT_TRUE(a.train.images.defined());
  ASSERT_FALSE(a.train.streamed);
  ASSERT_TRUE(b.train.streamed);
  ASSERT_FALSE(b.train.images.defined());
  EXPECT_EQ(b.train.streamed->threads(), 3);
  EXPECT_FALSE(a.photo_recipe);
  EXPECT_EQ(a.class_names, (std::vector<std::string>{"apple", "pear", "plum"}));
  EXPECT_EQ(b.train.size(), 24);
  EXPECT_EQ(b.test.size(), 6);
  torch::manual_seed(3);
  const auto from_memory = batches(a.train, {});
  torch::manual_seed(3);
  const auto from_files = batches(b.train, {});
  torch::manual_seed(3);
  expect_same(from_memory, from_files);
  expect_same(from_files, batches(c.train, {}));
  // A sample, by OpenCV directly: decoded at 1/2 (60 / 2 = 30 ≥ 16), shorter side resized to 16,
  // the centre crop.
  cv::Mat bgr = cv::imread((dir.path() / "train" / "pear" / "p3.jpg").string(), cv::IMREAD_REDUCED_COLOR_2), rgb, small;
  ASSERT_EQ(bgr.rows, 30);
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  cv::resize(rgb, small, cv::Size(24, 16), 0, 0, cv::INTER_AREA);
  EXPECT_TRUE(torch::equal(a.train.images[8 + 3], chw(small(cv::Rect(4, 0, 16, 16)).clone())));
  EXPECT_EQ(a.train.labels[8 + 3].item<int64_t>(), 1);
}

TEST_F(Loader, PhotoRecipeSamplesAsSpecified) {
  TempDir dir;
  make_folder(dir.path(), 4, 200, 150);
  DataOptions cached, uncached;
  cached.input_size = uncached.input_size = 64;
  uncached.cache_mb = 0;
  const auto a = load_dataset("folder:" + dir.path().string(), cached);
  const auto b = load_dataset("folder:" + dir.path().string(), uncached);
  ASSERT_TRUE(a.photo_recipe);
  ASSERT_TRUE(a.train.streamed);  // photographs are always cropped from their files
  const SampleView train0{true, 11, 0}, train1{true, 11, 1};
  torch::manual_seed(4);
  const auto first = batches(a.train, train0);  // fills a's cache
  torch::manual_seed(4);
  expect_same(first, batches(a.train, train0));  // from the cache
  torch::manual_seed(4);
  expect_same(first, batches(b.train, train0));  // from the files
  EXPECT_GT(a.train.streamed->cached_bytes(), 0);
  EXPECT_EQ(b.train.streamed->cached_bytes(), 0);
  torch::manual_seed(4);
  const auto next_epoch = batches(a.train, train1);
  EXPECT_FALSE(torch::equal(first[0].images, next_epoch[0].images));

  // Row 5 by hand: decoded at 1/2 (150 / 2 = 75 ≥ 73 = 64·256/224), then the crop of its draw.
  const auto file = (dir.path() / "train" / "pear" / "p1.jpg").string();
  cv::Mat bgr = cv::imread(file, cv::IMREAD_REDUCED_COLOR_2), rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  ASSERT_EQ(rgb.cols, 100);
  const auto draw = random_resized_crop(100, 75, sample_seed(11, 0, 5));
  cv::Mat crop;
  const double shrink = 64.0 / std::max(draw.box.width, draw.box.height);
  cv::resize(rgb(cv::Rect(draw.box.x, draw.box.y, draw.box.width, draw.box.height)), crop, cv::Size(64, 64), 0, 0,
             shrink < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (draw.flip) cv::flip(crop, crop, 1);
  BatchStream one(a.train, 1, [&](int64_t) {
    BatchPlan p;
    p.index = torch::tensor({int64_t{5}});
    p.view = train0;
    return p;
  });
  EXPECT_TRUE(torch::equal(one.next().images[0], chw(crop)));
  // Evaluation: shorter side to 73 (75 → 73: 100 → 97), then the centre 64×64.
  cv::Mat resized;
  cv::resize(rgb, resized, cv::Size(97, 73), 0, 0, cv::INTER_AREA);
  const auto expected_eval = chw(resized(cv::Rect(16, 4, 64, 64)).clone());
  EXPECT_TRUE(torch::equal(split_rows(a.train, 5, 6).images[0], expected_eval));
  // A single photo (gex gates, the Gates view) is seen as evaluation sees it.
  EXPECT_TRUE(torch::equal(load_evaluation_sample(file, 3, 64), expected_eval));
}

TEST_F(Loader, ACorruptJpegIsSkippedOnceNamedAndCounted) {
  TempDir dir;
  make_folder(dir.path(), 3, 90, 60);
  // Sorted after p0…p2 of apple: row 3 of the training split.
  write_file_atomically((dir.path() / "train" / "apple" / "q-broken.jpg").string(), {"\xff\xd8\xff\xe0 cut short"});
  std::vector<std::string> warnings;
  DataOptions o;
  o.input_size = 16;
  o.cache_mb = 0;
  o.warn = [&](const std::string& w) { warnings.push_back(w); };
  const auto data = load_dataset("folder:" + dir.path().string(), o);
  ASSERT_TRUE(data.train.streamed);
  ASSERT_EQ(data.train.size(), 10);
  for (int pass = 0; pass < 2; ++pass) {
    const auto rows = split_rows(data.train, 0, 10);
    ASSERT_EQ(rows.labels.size(0), 9);
    EXPECT_EQ(rows.images.size(0), 9);
    // apple 0-2, then pear and plum (the broken apple left out).
    EXPECT_TRUE(torch::equal(rows.labels, torch::tensor({0, 0, 0, 1, 1, 1, 2, 2, 2}, torch::kInt64)));
  }
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("q-broken.jpg"), std::string::npos) << warnings[0];
  EXPECT_EQ(skipped_files(data.train), (std::vector<std::string>{(dir.path() / "train" / "apple" / "q-broken.jpg").string()}));
  // A batch of nothing but the broken file is empty, not an error.
  EXPECT_EQ(split_rows(data.train, 3, 4).labels.size(0), 0);
  // Loaded whole, the same: the broken file's row is kept out of its batches, not out of the split,
  // so that an epoch has the batches it has streamed.
  o.cache_mb = 512;
  const auto whole = load_dataset("folder:" + dir.path().string(), o);
  ASSERT_FALSE(whole.train.streamed);
  EXPECT_EQ(whole.train.size(), 10);
  EXPECT_EQ(skipped_files(whole.train), skipped_files(data.train));
  for (const int seed : {5, 6}) {
    torch::manual_seed(seed);
    const auto from_memory = batches(whole.train, {});
    torch::manual_seed(seed);
    expect_same(from_memory, batches(data.train, {}));
  }
  EXPECT_EQ(split_rows(whole.train, 3, 4).labels.size(0), 0);
  std::vector<double> mean_whole, std_whole, mean_streamed, std_streamed;
  channel_statistics(whole.train, mean_whole, std_whole);
  channel_statistics(data.train, mean_streamed, std_streamed);
  EXPECT_EQ(mean_whole, mean_streamed);
  EXPECT_EQ(std_whole, std_streamed);
  // Loaded for measuring the test split: that split in memory, the training files listed, not read.
  warnings.clear();
  o.cache_mb = 512;
  o.decode_train = false;
  const auto measured = load_dataset("folder:" + dir.path().string(), o);
  EXPECT_TRUE(measured.train.streamed);
  EXPECT_EQ(measured.train.size(), 10);
  EXPECT_FALSE(measured.test.streamed);
  EXPECT_EQ(measured.test.size(), 6);
  EXPECT_TRUE(warnings.empty()) << warnings[0];
  EXPECT_EQ(measured.identity, data.identity);

  // A folder whose first files are all unreadable is refused at once, naming it.
  TempDir junk;
  fs::create_directories(junk.path() / "a");
  for (int i = 0; i < 20; ++i) junk.write("a/" + std::to_string(i) + ".jpg", "not a jpeg");
  DataOptions photos;
  photos.input_size = 64;
  try {
    load_dataset("folder:" + junk.path().string(), photos);
    FAIL() << "accepted a folder of junk";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("readable image"), std::string::npos) << e.what();
  }
}

// Files in class folders that are not images by their names (Windows' Thumbs.db, an annotation
// beside each photo) are left out, as torchvision's ImageFolder leaves them, and said once per
// split; an image's extension counts in any case.
TEST_F(Loader, FilesNotNamedAsImagesAreLeftOutAndSaidOnce) {
  TempDir dir;
  make_folder(dir.path(), 2, 40, 40);
  for (const char* other : {"train/apple/Thumbs.db", "train/apple/p0.xml", "train/pear/p0.xml", "train/pear/notes",
                            "val/plum/p0.xml"})
    dir.write(other, "not an image");
  fs::copy_file(dir.path() / "train/plum/p0.jpg", dir.path() / "train/plum/P9.JPG");
  std::vector<std::string> warnings;
  DataOptions o;
  o.input_size = 16;
  o.warn = [&](const std::string& w) { warnings.push_back(w); };
  const auto data = load_dataset("folder:" + dir.path().string(), o);
  EXPECT_EQ(data.train.size(), 7);  // 3 classes × 2, and P9.JPG
  EXPECT_EQ(data.test.size(), 6);
  EXPECT_TRUE(skipped_files(data.train).empty()) << skipped_files(data.train).front();
  EXPECT_TRUE(skipped_files(data.test).empty()) << skipped_files(data.test).front();
  const std::string images = "): a class's images are its .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .pgm, .ppm, .pnm and .pbm files";
  EXPECT_EQ(warnings, (std::vector<std::string>{
                          (dir.path() / "train").string() + ": left out 4 file(s) in class folders not named as images "
                                                            "(2 .xml, 1 .db, 1 notes" + images,
                          (dir.path() / "val").string() + ": left out 1 file(s) in class folders not named as images (1 .xml" + images}));
}

// val/ as ImageNet ships it (its images flat, their classes in another file), or with nothing in its
// class folders: refused, naming the folder, where the run trained without a validation split.
TEST_F(Loader, AValidationFolderWithoutImagesInClassFoldersIsRefused) {
  TempDir dir;
  make_folder(dir.path(), 1, 40, 40);
  DataOptions o;
  o.input_size = 16;
  for (const char* cls : {"apple", "pear", "plum"})
    for (const auto& e : fs::directory_iterator(dir.path() / "val" / cls))
      fs::rename(e.path(), dir.path() / "val" / (std::string(cls) + "-" + e.path().filename().string()));
  const std::string val = (dir.path() / "val").string();
  const auto message = [&] {
    try {
      load_dataset("folder:" + dir.path().string(), o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(message().rfind(val + ": holds 6 files but none in a class folder: the validation split needs one folder per "
                                  "class, as the training split has (ImageNet's validation images come flat",
                            0),
            0u)
      << message();
  for (const auto& e : fs::directory_iterator(dir.path() / "val"))
    if (e.is_regular_file()) fs::remove(e.path());
  EXPECT_EQ(message(), val + ": no image file in any class folder: the validation split is empty");
}

TEST_F(Loader, ClassNamesFromAMappingFile) {
  TempDir dir;
  make_folder(dir.path(), 1, 40, 40);
  dir.write("LOC_synset_mapping.txt", "apple Malus domestica\npear Pyrus, the pear\n");
  DataOptions o;
  o.input_size = 16;
  const auto data = load_dataset("folder:" + dir.path().string(), o);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"Malus domestica", "Pyrus, the pear", "plum"}));
}

}  // namespace
}  // namespace gex
#endif
