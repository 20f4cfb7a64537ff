// Image files as the models see them: any format OpenCV decodes, converted to the model's
// channels (luminance for one, RGB for three; alpha dropped; 16-bit and float scaled), resized
// with the aspect kept so the shorter side is `size`, and centre-cropped to size×size.
#pragma once

#include <torch/torch.h>

#include <string>

namespace gex {

// uint8 C×size×size. InputError naming the file when it is missing, empty or not decodable, or
// when this build has no OpenCV.
torch::Tensor load_image(const std::string& path, int channels, int size);
torch::Tensor decode_image(const std::string& bytes, const std::string& source, int channels, int size);

// Whether this build can decode image files, and with what ("OpenCV 4.6.0"; empty without).
bool have_image_codecs();
std::string image_codec_version();

}  // namespace gex
