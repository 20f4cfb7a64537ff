// NumPy .npy files (format 1.0 written; 1.0–3.0 read): float32, float64, int64, int32, uint8 and
// bool, C or Fortran order. Malformed files are refused with the file and the problem named.
#pragma once

#include <torch/torch.h>

#include <string>

namespace gex {

void write_npy(const std::string& path, const torch::Tensor& tensor);
std::string encode_npy(const torch::Tensor& tensor);

torch::Tensor read_npy(const std::string& path);
torch::Tensor decode_npy(const std::string& bytes, const std::string& source);

// "<f4", "<i8", … for the dtype of a tensor (as NumPy writes it).
std::string npy_descr(torch::ScalarType type);

}  // namespace gex
