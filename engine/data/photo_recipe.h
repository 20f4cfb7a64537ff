// torchvision's ImageNet recipe for photographs (GE-SPEC §5 data; used for folders of inputs of
// at least 64 px): random-resized-crop (area 8–100 %, aspect 3/4–4/3) and a horizontal flip for
// training; shorter side to S·256/224 and the centre S×S for evaluation. A sample's randomness is
// a function of the run's seed, the epoch and the sample alone, so that any thread, any batch
// order and a resumed run draw the same crop.
#pragma once

#include <cstdint>

#include "io/image.h"

namespace gex {

// Inputs from this size up are photographs and get the recipe; smaller ones the CIFAR recipe.
inline constexpr int kPhotoRecipeMinSize = 64;

// The shorter side an evaluation image is resized to before its centre crop: S·256/224.
int evaluation_resize(int size);

// What one training sample draws: the crop of its decoded photo and whether it is mirrored.
struct SampleDraw {
  CropBox box;
  bool flip = false;
};

// The crop of a width×height photo, as torchvision's RandomResizedCrop.get_params draws it
// (ten tries at a random area and aspect, then the centre crop of the nearest allowed aspect),
// and a flip with probability ½, all from `seed`.
SampleDraw random_resized_crop(int width, int height, uint64_t seed);

// The seed of one sample's draw in one epoch of a run seeded `seed`.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample);

// An image file decoded for samples of size S (uint8 H×W×C): JPEGs reduced while their shorter
// side stays ≥ S·256/224 (photographs) or ≥ S (small inputs). InputError naming `source`.
torch::Tensor decode_for_samples(const std::string& bytes, const std::string& source, int channels, int size);
// The evaluation sample of a decoded image, uint8 C×S×S: shorter side to S·256/224 and the centre
// crop for photographs, to S and the centre crop for small inputs.
torch::Tensor evaluation_sample(const torch::Tensor& photo, int size);
// An image file as evaluation sees it, the same as the folder loader (gex gates, the Gates view).
torch::Tensor load_evaluation_sample(const std::string& path, int channels, int size);

}  // namespace gex
