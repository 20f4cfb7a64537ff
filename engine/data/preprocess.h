// How raw pixels become the model's input, stored with every checkpoint (`preprocess`):
// x = (pixel / 255 − mean[c]) / std[c] at input_size × input_size, plus the class names.
#pragma once

#include <string>
#include <vector>

namespace gex {

struct Preprocess {
  std::vector<double> mean;
  std::vector<double> std;
  int input_size = 32;
  int channels = 3;
  std::vector<std::string> class_names;

  // Mean 0, std 1 and classes named "0" … "K−1": what `gex init` writes without data.
  static Preprocess identity(int channels, int input_size, int num_classes);

  std::string to_json() const;
  // InputError naming `source` when the text is not a valid preprocess object.
  static Preprocess from_json(const std::string& text, const std::string& source);
};

}  // namespace gex
