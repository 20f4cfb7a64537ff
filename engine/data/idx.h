// The IDX format of MNIST and Fashion-MNIST (big-endian magic, dimensions, raw bytes), raw or
// gzip-compressed.
#pragma once

#include <torch/torch.h>

#include <string>

namespace gex {

// uint8 N×1×H×W images from an idx3-ubyte file.
torch::Tensor read_idx_images(const std::string& path);
// int64 N labels from an idx1-ubyte file; InputError when one is ≥ num_classes.
torch::Tensor read_idx_labels(const std::string& path, int num_classes);

// The whole file, gunzipped when it is gzip (either way a truncated file is an InputError).
std::string read_maybe_gzip(const std::string& path);

// The same from bytes already read; `source` names them in messages.
std::string gunzip_if_gzip(const std::string& bytes, const std::string& source);
torch::Tensor decode_idx_images(const std::string& bytes, const std::string& source);
torch::Tensor decode_idx_labels(const std::string& bytes, int num_classes, const std::string& source);

}  // namespace gex
