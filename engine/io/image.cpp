#include "io/image.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>
#include <vector>

#include "errors.h"
#include "io/atomic_file.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#endif

#include <filesystem>

#include <zlib.h>

namespace gex {

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff",
                                                       ".webp", ".pgm", ".ppm", ".pnm", ".pbm"};
  return kExtensions;
}

bool is_image_name(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const auto& known = image_extensions();
  return std::find(known.begin(), known.end(), ext) != known.end();
}

std::vector<std::string> image_files(const std::vector<std::string>& given) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& path : given) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      out.push_back(path);
      continue;
    }
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.' && is_image_name(e.path()))
        files.push_back(e.path().string());
    if (ec) throw InputError(path, "cannot list the folder: " + ec.message());
    if (files.empty()) throw InputError(path, "holds no image files (.png, .jpg, .jpeg, .bmp, .tif, .webp, …)");
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

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

namespace {

// How a walk over a JPEG's markers ended.
enum class JpegWalk { kEndOfImage, kCutShort, kNoMarker, kStopped };

// Walks a JPEG's marker segments after its start-of-image marker, each scan's coded data skipped
// (to the next FF not followed by a stuffed 00 or a restart marker): visit(marker, data, length,
// present) for each segment with a length field — its data, the data length its header declares
// and how much of it the file holds — until visit returns false.
template <typename Visit>
JpegWalk walk_jpeg(const std::string& bytes, Visit&& visit) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 2;
  while (true) {
    if (i >= n) return JpegWalk::kCutShort;
    if (b[i] != 0xFF) return JpegWalk::kNoMarker;
    while (i < n && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return JpegWalk::kCutShort;
    const unsigned char marker = b[i++];
    if (marker == 0xD9) return JpegWalk::kEndOfImage;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
    if (i + 2 > n) return JpegWalk::kCutShort;
    const size_t length = size_t(b[i]) << 8 | b[i + 1];
    if (length < 2) return JpegWalk::kNoMarker;
    if (!visit(marker, b + i + 2, length - 2, std::min(length, n - i) - 2)) return JpegWalk::kStopped;
    i += length;
    if (i > n) return JpegWalk::kCutShort;
    if (marker != 0xDA) continue;
    while (true) {
      const auto* ff = static_cast<const unsigned char*>(std::memchr(b + i, 0xFF, n - i));
      if (!ff || ff + 1 >= b + n) return JpegWalk::kCutShort;
      i = size_t(ff - b);
      if (ff[1] != 0x00 && !(ff[1] >= 0xD0 && ff[1] <= 0xD7)) break;
      i += 2;
    }
  }
}

}  // namespace

std::optional<std::pair<int, int>> jpeg_dimensions(const std::string& bytes) {
  if (bytes.size() < 4 || bytes.compare(0, 2, "\xff\xd8") != 0) return std::nullopt;
  std::optional<std::pair<int, int>> dimensions;
  walk_jpeg(bytes, [&](unsigned char marker, const unsigned char* data, size_t length, size_t present) {
    if (marker == 0xDA) return false;  // image data before a frame
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
    const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (!frame) return true;
    const int height = length >= 5 && present >= 5 ? data[1] << 8 | data[2] : 0;
    const int width = length >= 5 && present >= 5 ? data[3] << 8 | data[4] : 0;
    if (width > 0 && height > 0) dimensions = std::make_pair(width, height);
    return false;
  });
  return dimensions;
}

namespace {

const std::string kPngSignature("\x89PNG\r\n\x1a\n", 8);

bool is_png(const std::string& bytes) { return bytes.compare(0, kPngSignature.size(), kPngSignature) == 0; }

// A PNG chunk's data length: the big-endian 32 bits it starts with.
size_t chunk_length(const std::string& bytes, size_t at) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return size_t(b[0]) << 24 | size_t(b[1]) << 16 | size_t(b[2]) << 8 | b[3];
}

}  // namespace

bool looks_like_image(const std::string& head) {
  const auto starts = [&](std::string_view magic, size_t at = 0) {
    return head.size() >= at + magic.size() && std::string_view(head).substr(at, magic.size()) == magic;
  };
  return is_png(head) || starts("\xff\xd8\xff") || starts("GIF8") || starts("BM") || starts(std::string_view("II*\0", 4)) ||
         starts(std::string_view("MM\0*", 4)) || (starts("RIFF") && starts("WEBP", 8));
}

std::string png_damage(const std::string& bytes) {
  if (!is_png(bytes)) return "";
  const size_t n = bytes.size();
  size_t i = kPngSignature.size();
  while (i + 8 <= n) {
    const size_t length = chunk_length(bytes, i);
    const std::string type = bytes.substr(i + 4, 4);
    const bool named = std::all_of(type.begin(), type.end(), [](unsigned char c) { return std::isalpha(c); });
    if (!named || length > 0x7fffffffu)
      return "a corrupt PNG: no chunk where one should start (byte " + std::to_string(i) + ")";
    if (i + 12 + length > n)
      return "a truncated PNG: its " + type + " chunk at byte " + std::to_string(i) + " runs past the end of the file (" +
             std::to_string(n) + " bytes)";
    // A critical chunk (capital first letter: IHDR, PLTE, IDAT, IEND) whose CRC fails is damaged
    // data that libpng refuses with a line of its own; ancillary ones it drops with a warning.
    if (std::isupper(static_cast<unsigned char>(type[0]))) {
      const auto* chunk = reinterpret_cast<const Bytef*>(bytes.data() + i + 4);
      if (crc32(0, chunk, static_cast<uInt>(4 + length)) != chunk_length(bytes, i + 8 + length))
        return "a corrupt PNG: its " + type + " chunk at byte " + std::to_string(i) +
               " fails its CRC check (damaged data)";
    }
    if (type == "IEND") return "";
    i += 12 + length;
  }
  return "a truncated PNG: the file (" + std::to_string(n) + " bytes) ends before its IEND chunk";
}

std::string png_for_decoding(const std::string& bytes) {
  if (!is_png(bytes)) return "";
  // Colour space, text, time and physical layout: what libpng validates and decoding to RGB never uses.
  static const std::set<std::string> kMetadata = {"iCCP", "sRGB", "cHRM", "gAMA", "cICP", "mDCv", "cLLi",
                                                  "sBIT", "tEXt", "zTXt", "iTXt", "tIME", "pHYs", "oFFs",
                                                  "pCAL", "sCAL", "hIST", "sPLT"};
  std::string kept = kPngSignature;
  bool dropped = false;
  for (size_t i = kPngSignature.size(); i + 12 <= bytes.size();) {
    const size_t chunk = 12 + chunk_length(bytes, i);
    if (i + chunk > bytes.size()) return "";  // cut short: png_damage says where
    const std::string type = bytes.substr(i + 4, 4);
    if (kMetadata.count(type)) dropped = true;
    else kept.append(bytes, i, chunk);
    if (type == "IEND") return dropped ? kept : "";
    i += chunk;
  }
  return "";  // no IEND
}

std::string jpeg_damage(const std::string& bytes) {
  if (bytes.size() < 3 || bytes.compare(0, 3, "\xff\xd8\xff") != 0) return "";
  // Cut short in a segment or a scan's data; a stray byte where a marker should be is libjpeg's to
  // judge, and anything after the end (a motion photo's video) is not ours.
  if (walk_jpeg(bytes, [](unsigned char, const unsigned char*, size_t, size_t) { return true; }) != JpegWalk::kCutShort)
    return "";
  return "a truncated JPEG: the file (" + std::to_string(bytes.size()) + " bytes) ends before its end-of-image marker";
}

namespace {

// Beyond any image a header could mean (and a product of sizes that cannot overflow).
constexpr uint64_t kLargestSide = uint64_t(1) << 24;

uint32_t little_endian(const unsigned char* b, int bytes) {
  uint32_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = v << 8 | b[k];
  return v;
}

}  // namespace

std::string bmp_damage(const std::string& bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n < 26 || b[0] != 'B' || b[1] != 'M') return "";
  const uint32_t offset = little_endian(b + 10, 4), header = little_endian(b + 14, 4);
  uint64_t width = 0, height = 0, bits = 0, compression = 0;
  if (header == 12) {  // OS/2's core header: 16-bit sizes, never compressed
    width = little_endian(b + 18, 2), height = little_endian(b + 20, 2), bits = little_endian(b + 24, 2);
  } else if (header >= 40 && n >= 34) {
    width = little_endian(b + 18, 4), bits = little_endian(b + 28, 2), compression = little_endian(b + 30, 4);
    height = uint64_t(std::abs(int64_t(int32_t(little_endian(b + 22, 4)))));  // negative: top-down rows
  } else {
    return "";
  }
  // Uncompressed rows (or bit fields) of whole 4-byte words; run-length and embedded JPEG/PNG
  // data have no size to check here.
  if (compression != 0 && compression != 3 && compression != 6) return "";
  if (width > kLargestSide || height > kLargestSide || bits > 64) return "";  // no image; OpenCV's to judge
  const uint64_t end = offset + (bits * width + 31) / 32 * 4 * height;
  if (end <= n) return "";
  return "a truncated BMP: its " + std::to_string(width) + "×" + std::to_string(height) + " pixels end at byte " +
         std::to_string(end) + ", the file holds " + std::to_string(n);
}

std::string pnm_damage(const std::string& bytes) {
  const size_t n = bytes.size();
  if (n < 3 || bytes[0] != 'P' || bytes[1] < '4' || bytes[1] > '6') return "";  // binary PBM, PGM, PPM
  const char kind = bytes[1];
  // The header: width, height (and the largest value but in a PBM), separated by white space and
  // comments (# to the end of the line), then one white-space character before the pixels.
  size_t i = 2;
  uint64_t fields[3] = {0, 0, 1};
  const int count = kind == '4' ? 2 : 3;
  const auto is_space = [&](size_t at) { return std::isspace(static_cast<unsigned char>(bytes[at])) != 0; };
  for (int f = 0; f < count; ++f) {
    while (i < n && (is_space(i) || bytes[i] == '#')) {
      const size_t eol = bytes[i] == '#' ? bytes.find('\n', i) : i + 1;
      i = eol == std::string::npos ? n : eol;
    }
    if (i >= n || !std::isdigit(static_cast<unsigned char>(bytes[i]))) return "";  // OpenCV's to judge
    uint64_t v = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(bytes[i])) && v <= kLargestSide) v = v * 10 + (bytes[i++] - '0');
    if (v > kLargestSide) return "";
    fields[f] = v;
  }
  if (i >= n || !is_space(i)) return "";
  const uint64_t width = fields[0], height = fields[1], sample = fields[2] > 255 ? 2 : 1;
  const uint64_t pixels = kind == '4' ? (width + 7) / 8 * height : width * height * sample * (kind == '6' ? 3 : 1);
  const uint64_t end = i + 1 + pixels;
  if (end <= n) return "";
  const char* name = kind == '4' ? "PBM" : kind == '5' ? "PGM" : "PPM";
  return std::string("a truncated ") + name + ": its " + std::to_string(width) + "×" + std::to_string(height) +
         " pixels end at byte " + std::to_string(end) + ", the file holds " + std::to_string(n);
}

#ifdef GEX_WITH_OPENCV
namespace {

// The decoder flag: full size, or libjpeg's DCT scaling by 1/2, 1/4 or 1/8.
int decode_flags(const std::string& bytes, int min_side) {
  constexpr int kFull = cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH;
  if (min_side <= 0) return kFull;
  const auto dims = jpeg_dimensions(bytes);
  if (!dims) return kFull;
  const int shorter = std::min(dims->first, dims->second);
  if (shorter >= 8 * min_side) return cv::IMREAD_REDUCED_COLOR_8;
  if (shorter >= 4 * min_side) return cv::IMREAD_REDUCED_COLOR_4;
  if (shorter >= 2 * min_side) return cv::IMREAD_REDUCED_COLOR_2;
  return kFull;
}

// A view of a H×W×C uint8 tensor as an OpenCV image (no copy).
cv::Mat as_mat(const torch::Tensor& photo) {
  const int c = static_cast<int>(photo.size(2));
  return cv::Mat(static_cast<int>(photo.size(0)), static_cast<int>(photo.size(1)), CV_8UC(c), photo.data_ptr());
}

// An OpenCV image as uint8 C×H×W, split into planes by OpenCV (no ATen kernel, so the loader's
// threads never start Torch's intra-op threads).
torch::Tensor to_chw(const cv::Mat& image) {
  const int c = image.channels();
  auto out = torch::empty({c, image.rows, image.cols}, torch::kUInt8);
  std::vector<cv::Mat> planes;
  auto* data = out.data_ptr<uint8_t>();
  for (int k = 0; k < c; ++k) planes.emplace_back(image.rows, image.cols, CV_8U, data + size_t(k) * image.rows * image.cols);
  cv::split(image, planes);
  return out;
}

int interpolation(double scale) { return scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR; }

}  // namespace

torch::Tensor decode_photo(const std::string& bytes, const std::string& source, int channels, int min_side) {
  if (bytes.empty()) throw InputError(source, "the file is empty");
  // Said here, before libpng prints its own line about it on stderr, and before libjpeg decodes
  // the missing part of a cut JPEG as grey (saying so only on stderr).
  // OpenCV's BMP and PNM readers print a line of their own when the pixels run short. Each check
  // reads its own kind of file only.
  for (const auto damage_of : {png_damage, jpeg_damage, bmp_damage, pnm_damage})
    if (const auto damage = damage_of(bytes); !damage.empty()) throw InputError(source, damage);
  const std::string pixels_only = png_for_decoding(bytes);
  const std::string& decoded = pixels_only.empty() ? bytes : pixels_only;
  cv::Mat raw;
  try {
    const cv::Mat buffer(1, static_cast<int>(decoded.size()), CV_8U, const_cast<char*>(decoded.data()));
    // COLOR applies the EXIF orientation of photos and drops alpha; ANYDEPTH keeps 16-bit data.
    raw = cv::imdecode(buffer, decode_flags(bytes, min_side));
  } catch (const cv::Exception& e) {
    throw InputError(source, std::string("cannot decode the image: ") + e.what());
  }
  if (raw.empty() || raw.cols < 1 || raw.rows < 1) {
    // Debian's OpenCV reads no GIF and no HEIF: say what the file is, not that it is broken.
    if (bytes.rfind("GIF8", 0) == 0)
      throw InputError(source, "a GIF, which OpenCV cannot read: convert it to PNG (e.g. `convert in.gif out.png`)");
    if (bytes.size() >= 12 && bytes.compare(4, 4, "ftyp") == 0)
      throw InputError(source, "a HEIF/AVIF (ISO media) image, which OpenCV cannot read: convert it to JPEG or PNG");
    throw InputError(source, "not an image OpenCV can decode (corrupt, truncated or another kind of file)");
  }

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
    if (have == 1) converted = img8.clone();
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
  auto photo = torch::empty({converted.rows, converted.cols, channels}, torch::kUInt8);
  converted.copyTo(as_mat(photo));
  return photo;
}

torch::Tensor crop_and_resize(const torch::Tensor& photo, const CropBox& box, int size, bool flip) {
  const cv::Mat part = as_mat(photo)(cv::Rect(box.x, box.y, box.width, box.height));
  cv::Mat resized;
  // Area averaging only when both sides shrink.
  const double scale = double(size) / std::max(box.width, box.height);
  cv::resize(part, resized, cv::Size(size, size), 0, 0, interpolation(scale));
  if (flip) cv::flip(resized, resized, 1);
  return to_chw(resized);
}

torch::Tensor resize_and_centre_crop(const torch::Tensor& photo, int resize, int size) {
  const cv::Mat image = as_mat(photo);
  // Shorter side to `resize`, aspect kept; area averaging when shrinking.
  const double scale = double(resize) / std::min(image.rows, image.cols);
  const int w = std::max(resize, int(std::lround(image.cols * scale)));
  const int h = std::max(resize, int(std::lround(image.rows * scale)));
  cv::Mat resized;
  cv::resize(image, resized, cv::Size(w, h), 0, 0, interpolation(scale));
  return to_chw(resized(cv::Rect((w - size) / 2, (h - size) / 2, size, size)));
}

torch::Tensor decode_image(const std::string& bytes, const std::string& source, int channels, int size) {
  return resize_and_centre_crop(decode_photo(bytes, source, channels), size, size);
}
#else
torch::Tensor decode_photo(const std::string&, const std::string& source, int, int) {
  throw InputError(source, "this build of GE Explorer has no image decoder (built without OpenCV)");
}
torch::Tensor crop_and_resize(const torch::Tensor&, const CropBox&, int, bool) {
  throw InputError("", "this build of GE Explorer has no image decoder (built without OpenCV)");
}
torch::Tensor resize_and_centre_crop(const torch::Tensor&, int, int) {
  throw InputError("", "this build of GE Explorer has no image decoder (built without OpenCV)");
}
torch::Tensor decode_image(const std::string&, const std::string& source, int, int) {
  throw InputError(source, "this build of GE Explorer has no image decoder (built without OpenCV)");
}
#endif

void write_mjpeg_video(const std::string& path, const std::vector<torch::Tensor>& frames, double fps) {
#ifdef GEX_WITH_OPENCV
  if (frames.empty()) throw InputError(path, "no frames to write");
  const auto first = frames.front().sizes();
  if (frames.front().dim() != 3 || first[2] != 3) throw InputError(path, "frames must be H×W×3");
  const std::filesystem::path target(path);
  const std::string partial = (target.parent_path() / ("." + target.stem().string() + ".partial.avi")).string();
  cv::VideoWriter writer(partial, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps,
                         cv::Size(int(first[1]), int(first[0])));
  if (!writer.isOpened()) throw InputError(path, "OpenCV cannot open a Motion-JPEG writer for it");
  for (const auto& frame : frames) {
    if (frame.sizes() != first) {
      writer.release();
      std::filesystem::remove(partial);
      throw InputError(path, "the frames differ in size");
    }
    const auto rgb = frame.to(torch::kUInt8).contiguous();
    const cv::Mat image(static_cast<int>(first[0]), static_cast<int>(first[1]), CV_8UC3, rgb.data_ptr<uint8_t>());
    cv::Mat bgr;
    cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
    writer.write(bgr);
  }
  writer.release();
  std::error_code ec;
  std::filesystem::rename(partial, target, ec);
  if (ec) {
    std::filesystem::remove(partial, ec);
    throw InputError(path, "cannot write the video: " + ec.message());
  }
#else
  (void)frames, (void)fps;
  throw InputError(path, "this build of GE Explorer has no video writer (built without OpenCV)");
#endif
}

}  // namespace gex
