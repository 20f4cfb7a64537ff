// The streamed folder loader against its peers, in one run (issue 11): images/s of decoding a
// folder of 500×375 JPEGs at 224 (evaluation view: shorter side 256, centre 224; training view:
// random-resized-crop) per loader thread, beside OpenCV's plain imread + resize + crop in one
// loop; then training ResNet-18 at 112 px from the files (no cache) against the same training
// from memory (every decoded photo cached), interleaved A B A B …, best of 3 each.
//
//   build/bin/bench_loader [--photos N] [--threads T] [--train-steps S] [--dir DIR]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "data/batch_stream.h"
#include "data/dataset.h"
#include "data/streamed_images.h"
#include "heap.h"
#include "train/trainer.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// N textured 500×375 photographs in 4 class folders (JPEG quality 90), made once.
void make_photos(const fs::path& root, int n) {
  if (fs::exists(root / "done")) return;
  cv::RNG rng(1);
  for (int i = 0; i < n; ++i) {
    const auto dir = root / ("class" + std::to_string(i % 4));
    fs::create_directories(dir);
    cv::Mat small(47, 63, CV_8UC3), photo;
    rng.fill(small, cv::RNG::UNIFORM, cv::Scalar::all(0), cv::Scalar::all(255));
    cv::resize(small, photo, cv::Size(500, 375), 0, 0, cv::INTER_CUBIC);  // smooth, photo-like
    cv::Mat noise(375, 500, CV_8UC3);
    rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(12));
    photo += noise;
    cv::imwrite((dir / ("img" + std::to_string(i) + ".jpg")).string(), photo, {cv::IMWRITE_JPEG_QUALITY, 90});
  }
  std::FILE* f = std::fopen((root / "done").c_str(), "w");
  if (f) std::fclose(f);
}

// The plain peer: each file read, decoded at full size, shorter side to 256, centre 224.
double opencv_loop(const std::vector<std::string>& files) {
  const auto t0 = Clock::now();
  for (const auto& f : files) {
    cv::Mat img = cv::imread(f, cv::IMREAD_COLOR), rgb, resized;
    cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
    const double s = 256.0 / std::min(rgb.rows, rgb.cols);
    cv::resize(rgb, resized, cv::Size(int(std::lround(rgb.cols * s)), int(std::lround(rgb.rows * s))), 0, 0,
               cv::INTER_AREA);
    volatile auto keep = resized(cv::Rect((resized.cols - 224) / 2, (resized.rows - 224) / 2, 224, 224)).clone().data[0];
    (void)keep;
  }
  return files.size() / since(t0);
}

// Images/s of the loader: every file once in batches of 64, `view`.
double loader(const std::vector<std::string>& files, int threads, bool train, int size = 224) {
  std::vector<int64_t> labels(files.size(), 0);
  gex::LoaderOptions o;
  o.threads = threads;
  gex::Split split;
  split.streamed = std::make_shared<gex::StreamedImages>(files, labels, gex::PhotoGeometry{3, size, true}, o);
  split.labels = split.streamed->labels();
  const int64_t n = split.size(), batch = 64, count = (n + batch - 1) / batch;
  const auto t0 = Clock::now();
  gex::BatchStream stream(split, count, [&](int64_t k) {
    gex::BatchPlan p;
    p.begin = k * batch;
    p.end = std::min(n, p.begin + batch);
    p.view = {train, 1, 0};
    return p;
  });
  int64_t seen = 0;
  for (int64_t k = 0; k < count; ++k) seen += stream.next().labels.size(0);
  return seen / since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();  // the heap as gex has it
  CLI::App app{"Speed of the streamed folder loader against its peers"};
  int photos = 384, threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t train_steps = 12;
  int repeats = 3;
  std::string dir = (fs::temp_directory_path() / "gex-bench-photos").string();
  app.add_option("--photos", photos, "Photographs in the folder")->capture_default_str();
  app.add_option("--threads", threads, "Cores: intra-op threads of the training, most loader threads")->capture_default_str();
  app.add_option("--train-steps", train_steps, "Steps of batch 32 per training measurement")->capture_default_str();
  app.add_option("--repeats", repeats, "Training measurements on each side (interleaved; the best is shown)")
      ->capture_default_str();
  app.add_option("--dir", dir, "Where the photographs are made (kept for the next run)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  make_photos(dir, photos);
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".jpg") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());

  std::printf("decoding %zu JPEGs of 500x375 to 224x224 (images/s, best of 2)\n", files.size());
  const double peer = std::max(opencv_loop(files), opencv_loop(files));
  std::printf("  %-44s %8.1f\n", "OpenCV imread + resize + crop, one loop", peer);
  for (int t = 1; t <= threads; ++t) {
    const double eval = std::max(loader(files, t, false), loader(files, t, false));
    const double train = std::max(loader(files, t, true), loader(files, t, true));
    std::printf("  loader, %d thread(s), evaluation view        %8.1f  (%.1f per thread, %.2fx the loop)\n", t, eval,
                eval / t, eval / peer);
    std::printf("  loader, %d thread(s), random-resized-crop    %8.1f  (%.1f per thread, %.2fx the loop)\n", t, train,
                train / t, train / peer);
  }

  const double at112 = std::max(loader(files, 1, true, 112), loader(files, 1, true, 112));
  std::printf("  loader, 1 thread, random-resized-crop at 112 (JPEGs decoded at 1/2)  %8.1f\n", at112);

  // Training from the files against training from memory.
  gex::TrainConfig c;
  c.model.backbone = "resnet18";
  c.model.input_size = 112;
  c.model.num_classes = 4;
  c.data = "folder:" + dir;
  c.steps = train_steps;
  c.batch = 32;
  c.eval_limit = 1;
  c.log_every = 1000;
  c.threads = threads;
  c.device = "cpu";
  torch::set_num_threads(threads);
  auto load = [&](int64_t cache_mb) {
    gex::TrainConfig k = c;
    k.cache_mb = cache_mb;
    auto data = gex::load_training_data(k, {4, 3, 112});
    return data;
  };
  const gex::Dataset memory = load(4096), files_only = load(0);
  // Every decoded photo into the cache before timing.
  gex::for_each_batch(memory.train, memory.train.size(), 64, [](const gex::Rows&) { return true; });
  auto train_once = [&](const gex::Dataset& data) {
    const auto run = fs::temp_directory_path() / ("gex-bench-loader-run-" + std::to_string(::getpid()));
    fs::remove_all(run);
    gex::WorkControl control;
    const auto s = gex::train(run.string(), c, {}, control, &data);
    fs::remove_all(run);
    return s.images_per_second;
  };
  double from_memory = 0, from_files = 0;
  for (int r = 0; r < repeats; ++r) {
    from_memory = std::max(from_memory, train_once(memory));
    from_files = std::max(from_files, train_once(files_only));
  }
  std::printf("training ResNet-18 at 112 px, batch 32, %d thread(s) (images/s, best of %d, interleaved)\n", threads, repeats);
  std::printf("  from memory (decoded photos cached)  %8.1f\n", from_memory);
  std::printf("  streamed from the files (no cache)   %8.1f  (%.3fx; goal >= 0.95x)\n", from_files,
              from_files / from_memory);
  return 0;
}
