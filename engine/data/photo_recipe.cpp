#include "data/photo_recipe.h"

#include <algorithm>
#include <cmath>

#include "errors.h"
#include "io/atomic_file.h"

namespace gex {

namespace {

// SplitMix64: a small generator with good statistics from any seed, identical on every platform
// (std:: distributions are not).
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }
  // An integer in [0, n), n ≥ 1.
  int below(int n) { return static_cast<int>(uniform(0.0, double(n))); }
};

}  // namespace

int evaluation_resize(int size) { return static_cast<int>(std::lround(size * 256.0 / 224.0)); }

namespace {
// The shorter side evaluation resizes to.
int resize_for(int size) { return size >= kPhotoRecipeMinSize ? evaluation_resize(size) : size; }
}  // namespace

torch::Tensor decode_for_samples(const std::string& bytes, const std::string& source, int channels, int size) {
  return decode_photo(bytes, source, channels, resize_for(size));
}

torch::Tensor evaluation_sample(const torch::Tensor& photo, int size) {
  return resize_and_centre_crop(photo, resize_for(size), size);
}

torch::Tensor load_evaluation_sample(const std::string& path, int channels, int size) {
  if (!have_image_codecs())
    throw InputError(path, "this build of GE Explorer has no image decoder (built without OpenCV)");
  return evaluation_sample(decode_for_samples(read_file(path), path, channels, size), size);
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample) {
  SplitMix a{seed ^ 0x5851F42D4C957F2Dull};
  SplitMix b{a.next() ^ uint64_t(epoch)};
  SplitMix c{b.next() ^ uint64_t(sample)};
  return c.next();
}

SampleDraw random_resized_crop(int width, int height, uint64_t seed) {
  constexpr double kMinArea = 0.08, kMaxArea = 1.0;
  const double min_ratio = 3.0 / 4.0, max_ratio = 4.0 / 3.0;
  SplitMix rng{seed};
  SampleDraw draw;
  const double area = double(width) * height;
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target = area * rng.uniform(kMinArea, kMaxArea);
    const double ratio = std::exp(rng.uniform(std::log(min_ratio), std::log(max_ratio)));
    const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      draw.box = {rng.below(width - w + 1), rng.below(height - h + 1), w, h};
      found = true;
    }
  }
  if (!found) {
    // The whole photo, cut to the nearest allowed aspect.
    const double in_ratio = double(width) / height;
    int w = width, h = height;
    if (in_ratio < min_ratio) h = std::max(1, static_cast<int>(std::lround(w / min_ratio)));
    else if (in_ratio > max_ratio) w = std::max(1, static_cast<int>(std::lround(h * max_ratio)));
    draw.box = {(width - w) / 2, (height - h) / 2, w, h};
  }
  draw.flip = rng.uniform(0.0, 1.0) < 0.5;
  return draw;
}

}  // namespace gex
