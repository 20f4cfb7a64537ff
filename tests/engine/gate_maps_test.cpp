// Gate maps on image files: the files written hold exactly what the network computes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "analysis/gate_maps.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"
#include "seeded.h"
#include "temp_dir.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

namespace gex {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

class GateMaps : public test::Seeded {};

TEST_F(GateMaps, FilesHoldTheNetworksGatesAndPredictions) {
  TempDir dir;
  ModelSpec spec;
  spec.attention = AttentionKind::kGE;
  spec.extent = 2;
  spec.in_channels = 1;
  spec.input_size = 16;
  Checkpoint ckpt;
  ckpt.net = build_network(spec);
  ckpt.info.model = spec;
  ckpt.info.preprocess = Preprocess::identity(1, 16, 10);
  ckpt.info.preprocess.mean = {0.3};
  ckpt.info.preprocess.std = {0.2};
  ckpt.info.preprocess.class_names[4] = "four";

  cv::Mat img(30, 20, CV_8UC3);
  cv::randu(img, 0, 255);
  fs::create_directories(dir.path() / "a");
  cv::imwrite(dir.file("a/photo.png"), img);
  cv::imwrite(dir.file("photo.jpg"), img);
  dir.write("bad.png", "not an image");
  const auto out = dir.file("out");
  const auto results =
      write_gate_maps(ckpt, {dir.file("a/photo.png"), dir.file("bad.png"), dir.file("photo.jpg")}, out, {});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].error.empty());
  EXPECT_NE(results[1].error.find("bad.png"), std::string::npos);
  EXPECT_EQ(results[0].stem, "photo");
  EXPECT_EQ(results[2].stem, "photo-2");  // two files with one stem stay apart

  // input.npy is the preprocessed tensor; the gates are what a forward pass on it captures.
  const auto x = read_npy(out + "/photo/input.npy");
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{1, 1, 16, 16}));
  EXPECT_TRUE(torch::allclose(x, preprocess_image(dir.file("a/photo.png"), ckpt.info.preprocess)));
  ckpt.net->eval();
  ckpt.net->set_gate_capture(true);
  torch::NoGradGuard no_grad;
  const auto probs = torch::softmax(ckpt.net->forward(x), 1)[0];
  for (const auto& [path, attn] : ckpt.net->attention_modules()) {
    const auto gate = read_npy(out + "/photo/gates/" + path + ".npy");
    EXPECT_TRUE(torch::allclose(gate, attn->last_gate())) << path;
    EXPECT_GT(gate.min().item<float>(), 0.0f);
    EXPECT_LT(gate.max().item<float>(), 1.0f);
    EXPECT_EQ(gate.size(2), attn->last_gate().size(2));
    EXPECT_TRUE(fs::exists(out + "/photo/overlays/" + path + ".png")) << path;
  }
  const auto predictions = nlohmann::json::parse(read_file(out + "/predictions.json"));
  ASSERT_EQ(predictions["images"].size(), 3u);
  const auto& top5 = predictions["images"][0]["top5"];
  ASSERT_EQ(top5.size(), 5u);
  const auto best = probs.argmax().item<int64_t>();
  EXPECT_EQ(top5[0]["class"], ckpt.info.preprocess.class_names[best]);
  EXPECT_NEAR(top5[0]["probability"].get<double>(), probs[best].item<double>(), 1e-6);
  for (size_t i = 1; i < 5; ++i)
    EXPECT_LE(top5[i]["probability"].get<double>(), top5[i - 1]["probability"].get<double>());
  EXPECT_TRUE(predictions["images"][1].contains("error"));

  // Files are written while the next photo is computed. One that cannot be written (here its
  // folder's name taken by a file; a full disk alike) ends the work, naming it, unlike an image
  // that cannot be read; the file in the way is left as it was.
  const auto out2 = dir.file("out2");
  fs::create_directories(out2);
  dir.write("out2/photo", "a file where the photo's folder would go");
  try {
    write_gate_maps(ckpt, {dir.file("a/photo.png"), dir.file("photo.jpg")}, out2, {});
    ADD_FAILURE() << "a file that cannot be written must end the work";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("out2/photo"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(out2 + "/photo"), "a file where the photo's folder would go");
  EXPECT_FALSE(fs::exists(out2 + "/photo-2"));
  EXPECT_FALSE(fs::exists(out2 + "/predictions.json"));

  // No image read: nothing written, and the folder this made is gone again.
  const auto none = write_gate_maps(ckpt, {dir.file("bad.png"), dir.file("missing.png")}, dir.file("out3"), {});
  ASSERT_EQ(none.size(), 2u);
  EXPECT_FALSE(none[0].error.empty());
  EXPECT_FALSE(fs::exists(dir.file("out3")));
}

TEST_F(GateMaps, AnAnimationIsAMotionJpegAviWithOneFramePerImage) {
  TempDir dir;
  std::vector<torch::Tensor> frames;
  for (int k = 0; k < 5; ++k) frames.push_back(torch::full({60, 44, 3}, 40 * k, torch::kUInt8));
  frames[2].select(2, 0).fill_(250);  // a red frame
  const auto avi = dir.file("gates.avi");
  write_mjpeg_video(avi, frames, 4.0);
  cv::VideoCapture video(avi);
  ASSERT_TRUE(video.isOpened());
  EXPECT_EQ(video.get(cv::CAP_PROP_FRAME_WIDTH), 44);
  EXPECT_EQ(video.get(cv::CAP_PROP_FRAME_HEIGHT), 60);
  EXPECT_NEAR(video.get(cv::CAP_PROP_FPS), 4.0, 1e-6);
  int read = 0;
  for (cv::Mat frame; video.read(frame); ++read) {
    const cv::Vec3b bgr = frame.at<cv::Vec3b>(30, 22);
    const int blue = 40 * read, red = read == 2 ? 250 : 40 * read;
    EXPECT_NEAR(bgr[0], blue, 6) << read;  // JPEG keeps a flat colour to a few levels
    EXPECT_NEAR(bgr[2], red, 6) << read;
  }
  EXPECT_EQ(read, 5);
  EXPECT_EQ(dir.count(), 1u);  // nothing partial beside it
  frames[4] = torch::zeros({10, 10, 3}, torch::kUInt8);
  EXPECT_THROW(write_mjpeg_video(dir.file("bad.avi"), frames, 4.0), InputError);
  EXPECT_FALSE(fs::exists(dir.file("bad.avi")));
}

}  // namespace
}  // namespace gex
#endif
