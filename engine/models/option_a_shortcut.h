// He et al.'s option-A shortcut of the CIFAR ResNets: the input subsampled by the stride and
// zero-padded with new channels on both sides. As indexing and padding, its backward fills two
// temporaries with zeros and leaves the gradient in NCHW (each later step then copies it back to
// channels-last); as one node it reads and writes each map once, in the input's layout.
#pragma once

#include <torch/torch.h>

namespace gex {

// y[:, front + c, i, j] = x[:, c, i·stride, j·stride]; the other channels are zero.
torch::Tensor option_a_shortcut(const torch::Tensor& x, int64_t stride, int64_t pad_front, int64_t pad_back);

}  // namespace gex
