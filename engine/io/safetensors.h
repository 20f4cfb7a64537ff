// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then raw
// little-endian tensor bytes. Written atomically; every malformed file is refused with the
// offending key or byte offset named.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gex {

using TensorList = std::vector<std::pair<std::string, torch::Tensor>>;
using Metadata = std::map<std::string, std::string>;

struct SafetensorsData {
  TensorList tensors;  // in the order of their data offsets
  Metadata metadata;
};

void write_safetensors(const std::string& path, const TensorList& tensors,
                       const Metadata& metadata);
std::string encode_safetensors(const TensorList& tensors, const Metadata& metadata);

SafetensorsData read_safetensors(const std::string& path);
// Only the header's metadata: reads the first bytes of the file, not its tensors.
Metadata read_safetensors_metadata(const std::string& path);
// `source` names the bytes in messages.
SafetensorsData decode_safetensors(const std::string& bytes, const std::string& source);

}  // namespace gex
