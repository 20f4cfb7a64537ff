#include "analysis/gate_maps.h"

#include <nlohmann/json.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <memory>

#include "data/batches.h"
#include "data/photo_recipe.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace gex {

namespace fs = std::filesystem;

namespace {

#ifdef GEX_WITH_OPENCV
int colormap_code(const std::string& name) {
  static const std::map<std::string, int> codes = {
      {"viridis", cv::COLORMAP_VIRIDIS}, {"magma", cv::COLORMAP_MAGMA}, {"inferno", cv::COLORMAP_INFERNO},
      {"plasma", cv::COLORMAP_PLASMA},   {"jet", cv::COLORMAP_JET},     {"gray", -1}};
  return codes.at(name);
}

// BGR 8-bit image of a map in [0,1] through the colour map.
cv::Mat colorize(const cv::Mat& unit, const std::string& colormap) {
  cv::Mat bytes, out;
  unit.convertTo(bytes, CV_8U, 255.0);
  if (colormap_code(colormap) < 0) cv::cvtColor(bytes, out, cv::COLOR_GRAY2BGR);
  else cv::applyColorMap(bytes, out, colormap_code(colormap));
  return out;
}

// The map (h×w, float) over the image, scaled to [lo, hi], with a labelled colour bar.
void write_overlay(const std::string& path, const cv::Mat& image_bgr, const torch::Tensor& map, double lo,
                   double hi, const std::string& colormap, const std::string& title) {
  const int side = image_bgr.rows;
  auto m = map.to(torch::kFloat32).contiguous();
  cv::Mat small(static_cast<int>(m.size(0)), static_cast<int>(m.size(1)), CV_32F, m.data_ptr<float>());
  cv::Mat unit = (small.clone() - lo) / std::max(hi - lo, 1e-12);
  cv::Mat up;
  // Nearest: the gate is piecewise constant over its cells, as the network applies it.
  cv::resize(unit, up, cv::Size(side, side), 0, 0, cv::INTER_NEAREST);
  cv::Mat clipped = cv::max(cv::min(up, 1.0), 0.0);
  cv::Mat blended;
  cv::addWeighted(image_bgr, 0.45, colorize(clipped, colormap), 0.55, 0.0, blended);

  const int bar_w = 18, margin = 48, top = 24;
  cv::Mat canvas(side + top + 8, side + bar_w + margin + 12, CV_8UC3, cv::Scalar(255, 255, 255));
  blended.copyTo(canvas(cv::Rect(4, top, side, side)));
  cv::Mat ramp(side, 1, CV_32F);
  for (int i = 0; i < side; ++i) ramp.at<float>(i) = 1.0f - float(i) / std::max(1, side - 1);
  cv::Mat bar;
  cv::resize(colorize(ramp, colormap), bar, cv::Size(bar_w, side), 0, 0, cv::INTER_NEAREST);
  bar.copyTo(canvas(cv::Rect(side + 10, top, bar_w, side)));
  const auto label = [&](double v, int y) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", v);
    cv::putText(canvas, text, cv::Point(side + bar_w + 14, y), cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1,
                cv::LINE_AA);
  };
  label(hi, top + 10);
  label(lo, top + side - 2);
  cv::putText(canvas, title, cv::Point(4, 16), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  std::vector<uchar> png;
  cv::imencode(".png", canvas, png);
  write_file_atomically(path, {std::string_view(reinterpret_cast<const char*>(png.data()), png.size())});
}

// The raw (uint8) image as BGR at display size, for the overlays.
cv::Mat display_image(const torch::Tensor& pixels, int side) {
  auto hwc = pixels.permute({1, 2, 0}).contiguous();
  cv::Mat img(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)),
              hwc.size(2) == 1 ? CV_8UC1 : CV_8UC3, hwc.data_ptr<uint8_t>());
  cv::Mat bgr, out;
  if (hwc.size(2) == 1) cv::cvtColor(img, bgr, cv::COLOR_GRAY2BGR);
  else cv::cvtColor(img, bgr, cv::COLOR_RGB2BGR);
  cv::resize(bgr, out, cv::Size(side, side), 0, 0, cv::INTER_NEAREST);
  return out;
}
#endif

std::string unique_stem(const std::string& file, std::map<std::string, int>& used) {
  std::string stem = fs::path(file).stem().string();
  if (stem.empty()) stem = "image";
  const int n = used[stem]++;
  return n == 0 ? stem : stem + "-" + std::to_string(n + 1);
}

}  // namespace

bool is_known_colormap(const std::string& name) {
  return name == "viridis" || name == "magma" || name == "inferno" || name == "plasma" || name == "jet" ||
         name == "gray";
}

torch::Tensor preprocess_image(const std::string& path, const Preprocess& preprocess) {
  const auto pixels = load_evaluation_sample(path, preprocess.channels, preprocess.input_size);
  return BatchMaker(preprocess, false)(pixels.unsqueeze(0)).contiguous();
}

GateInspection inspect_gates(NetworkImpl& net, const Preprocess& pre, const std::string& image) {
  const auto pixels = load_evaluation_sample(image, pre.channels, pre.input_size);
  GateInspection r = inspect_input(net, pre, BatchMaker(pre, false)(pixels.unsqueeze(0)).contiguous());
  r.pixels = pixels;
  return r;
}

GateInspection inspect_input(NetworkImpl& net, const Preprocess& pre, const torch::Tensor& input) {
  GateInspection r;
  r.input = input;
  const bool was_training = net.is_training();
  net.eval();
  net.set_gate_capture(true);
  torch::NoGradGuard no_grad;
  // On the network's device (a GPU when asked); the input, gates and classes come back to the host.
  const auto device = net.parameters().empty() ? torch::Device(torch::kCPU) : net.parameters().front().device();
  const auto probs = torch::softmax(net.forward(r.input.to(device)).to(torch::kFloat32), 1)[0].cpu();
  for (const auto& [path, attn] : net.attention_modules())
    r.gates.emplace_back(path, attn->last_gate().to(torch::kCPU, torch::kFloat32).contiguous());
  net.set_gate_capture(false);
  if (was_training) net.train();
  const auto k = std::min<int64_t>(5, probs.size(0));
  const auto top = probs.topk(k);
  for (int64_t j = 0; j < k; ++j) {
    const auto cls = std::get<1>(top)[j].item<int64_t>();
    const std::string name = cls < int64_t(pre.class_names.size()) ? pre.class_names[cls] : std::to_string(cls);
    r.top5.emplace_back(name, std::get<0>(top)[j].item<double>());
  }
  return r;
}

namespace {

// One photo's files: input.npy, the gates and their overlays. InputError naming a file that
// cannot be written.
void write_photo_files(const fs::path& dir, const GateInspection& inspection, int input_size,
                       const GateMapOptions& options) {
  make_directories((dir / "gates").string());
  write_npy((dir / "input.npy").string(), inspection.input);
#ifdef GEX_WITH_OPENCV
  make_directories((dir / "overlays").string());
  const int side = std::max(224, input_size);
  const cv::Mat shown = display_image(inspection.pixels, side);
#endif
  for (const auto& [path, gate] : inspection.gates) {
    write_npy((dir / "gates" / (path + ".npy")).string(), gate);
#ifdef GEX_WITH_OPENCV
    auto write_map = [&](const torch::Tensor& map, const std::string& file, const std::string& title) {
      double lo = 0, hi = 1;
      if (options.per_map_scale) lo = map.min().item<double>(), hi = map.max().item<double>();
      write_overlay((dir / "overlays" / file).string(), shown, map, lo, hi, options.colormap, title);
    };
    write_map(gate[0].mean(0), path + ".png", path + " (channel mean)");
    for (int c : options.channels)
      if (c >= 0 && c < gate.size(1))
        write_map(gate[0][c], path + ".c" + std::to_string(c) + ".png", path + " channel " + std::to_string(c));
#endif
  }
}

}  // namespace

std::vector<GateImageResult> write_gate_maps(Checkpoint& ckpt, const std::vector<std::string>& images,
                                             const std::string& out_dir, const GateMapOptions& options) {
  if (!is_known_colormap(options.colormap))
    throw UsageError("unknown colour map '" + options.colormap + "' (viridis, magma, inferno, plasma, jet, gray)");
  auto& net = *ckpt.net;
  const auto& pre = ckpt.info.preprocess;
  const bool made_out_dir = !fs::exists(out_dir);
  make_directories(out_dir);
  net.eval();
  std::vector<GateImageResult> results;
  std::map<std::string, int> used;
  // A photo's files are written on a second thread while the next photo goes through the network
  // (at 224 px a ResNet-50's gates are 22 MB and 16 PNGs a photo: as long as its forward pass).
  // The writer runs Torch's few element-wise ops there on one thread, not on a second team.
  std::future<std::string> writing;
  size_t writing_index = 0;
  // A file that cannot be written (the disk full) ends the work, unlike an image that cannot be
  // read: the images written are kept (the writer removes what it wrote of the failed one).
  auto collect = [&] {
    if (!writing.valid()) return;
    const std::string error = writing.get();
    if (error.empty()) return;
    std::error_code ec;
    if (made_out_dir && fs::is_empty(out_dir, ec)) fs::remove(out_dir, ec);
    const auto written = std::count_if(results.begin(), results.begin() + writing_index,
                                       [](const GateImageResult& r) { return r.error.empty(); });
    throw InputError(error + (written ? " (the " + std::to_string(written) + " image(s) before it are kept in " +
                                            out_dir + ", without predictions.json)"
                                      : ""));
  };
  for (size_t i = 0; i < images.size(); ++i) {
    if (cancelled(options.control)) break;
    GateImageResult r;
    r.file = images[i];
    std::shared_ptr<GateInspection> inspection;
    try {
      inspection = std::make_shared<GateInspection>(inspect_gates(net, pre, r.file));
    } catch (const InputError& e) {
      r.error = e.what();
    }
    if (inspection) {
      r.top5 = inspection->top5;
      r.stem = unique_stem(r.file, used);
      collect();
      const fs::path dir = fs::path(out_dir) / r.stem;
      writing_index = results.size();
      writing = std::async(std::launch::async, [dir, inspection, &options, size = pre.input_size] {
#ifdef _OPENMP
        omp_set_num_threads(1);
#endif
        std::error_code ec;
        const bool made = !fs::exists(dir, ec);
        try {
          write_photo_files(dir, *inspection, size, options);
        } catch (const InputError& e) {
          if (made) fs::remove_all(dir, ec);  // what it wrote of this photo, never what was there before
          return std::string(e.what());
        }
        return std::string();
      });
    }
    results.push_back(r);
    if (options.progress) options.progress(i + 1, images.size());
  }
  collect();
  if (std::none_of(results.begin(), results.end(), [](const GateImageResult& r) { return r.error.empty(); })) {
    std::error_code ec;
    if (made_out_dir) fs::remove(out_dir, ec);  // a list of errors is no result to leave behind
    return results;
  }
  nlohmann::ordered_json predictions = {{"checkpoint", ckpt.info.model.describe()}, {"images", nlohmann::json::array()}};
  for (const auto& r : results) {
    if (!r.error.empty()) {
      predictions["images"].push_back({{"file", r.file}, {"error", r.error}});
      continue;
    }
    nlohmann::ordered_json top5 = nlohmann::json::array();
    for (const auto& [name, p] : r.top5) top5.push_back({{"class", name}, {"probability", p}});
    predictions["images"].push_back({{"file", r.file}, {"stem", r.stem}, {"top5", top5}});
  }
  write_file_atomically((fs::path(out_dir) / "predictions.json").string(), {predictions.dump(2) + "\n"});
  return results;
}

}  // namespace gex
