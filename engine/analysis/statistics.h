// Order statistics the analyses and the views summarise with: one definition for all of them.
#pragma once

#include <algorithm>
#include <vector>

namespace gex {

// The q-quantile (q in [0, 1]) by linear interpolation between order statistics, as NumPy's
// default percentile; 0 for no values.
inline double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * double(values.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  return i + 1 < values.size() ? values[i] + (pos - double(i)) * (values[i + 1] - values[i]) : values[i];
}

struct Quartiles {
  double q1 = 0, median = 0, q3 = 0;
};

inline Quartiles quartiles(const std::vector<double>& values) {
  return {quantile(values, 0.25), quantile(values, 0.5), quantile(values, 0.75)};
}

}  // namespace gex
