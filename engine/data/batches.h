// From uint8 images to the model's input, a whole batch at a time (DESIGN §6): gather, optional
// pad-and-random-crop and horizontal flip (vectorised, not per sample), resize when the model's
// input size differs, scale to [0,1], normalise per channel, channels-last.
#pragma once

#include <torch/torch.h>

#include "data/dataset.h"
#include "data/preprocess.h"

namespace gex {

// Per-channel mean and standard deviation of uint8 N×C×H×W images, in [0,1] units.
void channel_statistics(const torch::Tensor& images, std::vector<double>& mean, std::vector<double>& std);
// The same of a split: all its images in memory, or 1000 evenly spaced samples of a streamed one
// (evaluation view).
void channel_statistics(const Split& split, std::vector<double>& mean, std::vector<double>& std);

// `t` on `device`; to a GPU through pinned memory and asynchronously, so that the copy overlaps
// the GPU's work on the previous batch.
torch::Tensor to_device(const torch::Tensor& t, torch::Device device);

class BatchMaker {
 public:
  // `pad` pixels of zero padding before the random crop (CIFAR's 4).
  BatchMaker(const Preprocess& preprocess, bool augment, int pad = 4);

  // images: uint8 B×C×H×W (already gathered), on any device: the result is on the same. `generator` drives the augmentation. With `total`
  // given, `images` are rows [first, first + B) of a batch of `total` and get those rows' draws, so
  // that shares of a batch augmented apart equal the batch augmented whole; with `positions`
  // (Rows::positions: rows left out), the rows first + positions.
  torch::Tensor operator()(const torch::Tensor& images, at::Generator& generator, int64_t first = 0,
                           int64_t total = -1, const torch::Tensor& positions = {}) const;
  // The same without augmentation (evaluation).
  torch::Tensor operator()(const torch::Tensor& images) const;

 private:
  torch::Tensor finish(torch::Tensor x) const;
  torch::Tensor m_mean, m_inv_std;  // 1×C×1×1, float
  int m_size;
  bool m_augment;
  int m_pad;
};

}  // namespace gex
