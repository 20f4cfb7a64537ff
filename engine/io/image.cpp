#include "io/image.h"

#include "errors.h"
#include "io/atomic_file.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace gex {

bool have_image_codecs() {
#ifdef GEX_WITH_OPENCV
  return true;
#else
  return false;
#endif
}

std::string image_codec_version() {
#ifdef GEX_WITH_OPENCV
  return "OpenCV " CV_VERSION;
#else
  return "";
#endif
}

torch::Tensor load_image(const std::string& path, int channels, int size) {
  if (!have_image_codecs())
    throw InputError(path, "this build of GE Explorer has no image decoder (built without OpenCV)");
  return decode_image(read_file(path), path, channels, size);
}

#ifdef GEX_WITH_OPENCV
torch::Tensor decode_image(const std::string& bytes, const std::string& source, int channels, int size) {
  if (bytes.empty()) throw InputError(source, "the file is empty");
  cv::Mat raw;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    // COLOR applies the EXIF orientation of photos and drops alpha; ANYDEPTH keeps 16-bit data.
    raw = cv::imdecode(buffer, cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH);
  } catch (const cv::Exception& e) {
    throw InputError(source, std::string("cannot decode the image: ") + e.what());
  }
  if (raw.empty() || raw.cols < 1 || raw.rows < 1)
    throw InputError(source, "not an image OpenCV can decode (corrupt, truncated or another kind of file)");

  cv::Mat img8;
  switch (raw.depth()) {
    case CV_8U: img8 = raw; break;
    case CV_16U: raw.convertTo(img8, CV_8U, 1.0 / 257.0); break;
    case CV_32F:
    case CV_64F: raw.convertTo(img8, CV_8U, 255.0); break;
    default: raw.convertTo(img8, CV_8U); break;
  }
  cv::Mat converted;
  const int have = img8.channels();
  if (channels == 1) {
    if (have == 1) converted = img8;
    else if (have == 3) cv::cvtColor(img8, converted, cv::COLOR_BGR2GRAY);
    else if (have == 4) cv::cvtColor(img8, converted, cv::COLOR_BGRA2GRAY);
    else throw InputError(source, "images with " + std::to_string(have) + " channels are not supported");
  } else if (channels == 3) {
    if (have == 1) cv::cvtColor(img8, converted, cv::COLOR_GRAY2RGB);
    else if (have == 3) cv::cvtColor(img8, converted, cv::COLOR_BGR2RGB);
    else if (have == 4) cv::cvtColor(img8, converted, cv::COLOR_BGRA2RGB);
    else throw InputError(source, "images with " + std::to_string(have) + " channels are not supported");
  } else {
    throw InputError(source, "the model takes " + std::to_string(channels) +
                                 " channels; image files give 1 (gray) or 3 (RGB)");
  }

  // Shorter side to `size`, aspect kept; area averaging when shrinking.
  const double scale = double(size) / std::min(converted.rows, converted.cols);
  const int w = std::max(size, int(std::lround(converted.cols * scale)));
  const int h = std::max(size, int(std::lround(converted.rows * scale)));
  cv::Mat resized;
  cv::resize(converted, resized, cv::Size(w, h), 0, 0, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  const cv::Mat crop = resized(cv::Rect((w - size) / 2, (h - size) / 2, size, size)).clone();

  // H×W×C (interleaved) to C×H×W.
  auto hwc = torch::from_blob(crop.data, {size, size, channels}, torch::kUInt8);
  return hwc.permute({2, 0, 1}).contiguous();
}
#else
torch::Tensor decode_image(const std::string&, const std::string& source, int, int) {
  throw InputError(source, "this build of GE Explorer has no image decoder (built without OpenCV)");
}
#endif

}  // namespace gex
