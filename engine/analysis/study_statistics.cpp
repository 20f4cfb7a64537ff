#include "analysis/study_statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>

#include "analysis/statistics.h"

namespace gex {

namespace {

// P(|T| ≤ t) for integer df, in closed form (Abramowitz & Stegun 26.7.3 and 26.7.4).
double two_sided_t_cdf(double t, int df) {
  const double theta = std::atan(t / std::sqrt(double(df)));
  const double c2 = std::cos(theta) * std::cos(theta);
  double sum = 0;
  if (df % 2 == 1) {
    double term = std::cos(theta);  // cosθ · (2·4⋯)/(1·3⋯) cos^{2k}θ
    for (int k = 1; k <= (df - 3) / 2 + 1 && df > 1; ++k) {
      sum += term;
      term *= c2 * (2.0 * k) / (2.0 * k + 1);
    }
    return 2 / M_PI * (theta + std::sin(theta) * sum);
  }
  double term = 1;  // (1·3⋯)/(2·4⋯) cos^{2k}θ
  for (int k = 1; k <= df / 2; ++k) {
    sum += term;
    term *= c2 * (2.0 * k - 1) / (2.0 * k);
  }
  return std::sin(theta) * sum;
}

double mean_of(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

double u_statistic(const std::vector<double>& x, const std::vector<double>& y) {
  double wins = 0;
  for (double a : x)
    for (double b : y) wins += a < b ? 1.0 : a == b ? 0.5 : 0.0;
  return wins / double(x.size() * y.size());
}

std::vector<double> resample(const std::vector<double>& v, std::mt19937_64& rng) {
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> out(v.size());
  for (auto& x : out) x = v[pick(rng)];
  return out;
}

Interval percentile_interval(const std::vector<double>& statistics) {
  return {quantile(statistics, 0.025), quantile(statistics, 0.975)};
}

}  // namespace

double student_t_critical(double confidence, int df) {
  if (df < 1 || !(confidence > 0 && confidence < 1))
    throw std::invalid_argument("student_t_critical: bad arguments");
  double lo = 0, hi = 1;
  while (two_sided_t_cdf(hi, df) < confidence) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = (lo + hi) / 2;
    (two_sided_t_cdf(mid, df) < confidence ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

double interquartile_mean(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t cut = values.size() / 4;
  return mean_of({values.begin() + cut, values.end() - cut});
}

Spread spread(const std::vector<double>& values) {
  Spread s;
  s.n = static_cast<int>(values.size());
  s.mean = mean_of(values);
  s.iqm = interquartile_mean(values);
  if (s.n < 2) return s;
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(squares / (s.n - 1));
  const double half = student_t_critical(0.95, s.n - 1) * s.sd / std::sqrt(double(s.n));
  s.ci95 = Interval{s.mean - half, s.mean + half};
  return s;
}

Spread paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument("paired_difference: the pairs differ in number");
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return spread(d);
}

Improvement probability_of_improvement(const std::vector<double>& x, const std::vector<double>& y,
                                       int reps, uint64_t seed) {
  if (x.empty() || y.empty()) throw std::invalid_argument("probability_of_improvement: no runs");
  Improvement result;
  result.probability = u_statistic(x, y);
  if (x.size() < 2 || y.size() < 2) return result;
  std::mt19937_64 rng(seed);
  std::vector<double> boot(static_cast<size_t>(reps));
  for (auto& b : boot) {
    const auto xs = resample(x, rng);  // strata: each algorithm's runs resampled on their own
    b = u_statistic(xs, resample(y, rng));
  }
  result.ci95 = percentile_interval(boot);
  return result;
}

std::optional<Interval> interquartile_mean_interval(const std::vector<double>& values, int reps, uint64_t seed) {
  if (values.size() < 2) return std::nullopt;
  std::mt19937_64 rng(seed);
  std::vector<double> boot(static_cast<size_t>(reps));
  for (auto& b : boot) b = interquartile_mean(resample(values, rng));
  return percentile_interval(boot);
}

std::vector<VariantSummary> summarize_study(const std::vector<StudyRow>& rows,
                                            const std::string& baseline) {
  std::vector<std::string> order;
  std::map<std::string, std::map<uint64_t, double>> errors;  // variant → seed → final error
  for (const auto& r : rows) {
    if (!r.finished) continue;
    if (!errors.count(r.variant)) order.push_back(r.variant);
    errors[r.variant][r.seed] = r.final_top1_error;
  }
  const auto values = [](const std::map<uint64_t, double>& by_seed) {
    std::vector<double> v;
    for (const auto& [seed, e] : by_seed) v.push_back(e);
    return v;
  };
  std::vector<VariantSummary> out;
  for (const auto& name : order) {
    VariantSummary s;
    s.variant = name;
    for (const auto& [seed, e] : errors[name]) s.seeds.push_back(seed);
    s.final_error = spread(values(errors[name]));
    s.iqm_ci95 = interquartile_mean_interval(values(errors[name]));
    if (name != baseline && errors.count(baseline)) {
      const auto& base = errors[baseline];
      std::vector<double> a, b;
      for (const auto& [seed, e] : errors[name])
        if (auto it = base.find(seed); it != base.end()) {
          s.paired_seeds.push_back(seed);
          a.push_back(e);
          b.push_back(it->second);
        }
      if (!a.empty()) s.difference = paired_difference(a, b);
      s.improvement = probability_of_improvement(values(errors[name]), values(base));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string describe_difference(const VariantSummary& s, const std::string& name,
                                const std::string& baseline_name) {
  if (!s.difference) return name + " − " + baseline_name + ": no runs with the same seeds";
  const auto points = [](double v) {  // a signed percentage with a true minus sign
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", std::abs(100 * v));
    if (std::string(text) == "0.00") return std::string(text);
    return std::string(v < 0 ? "−" : "+") + text;
  };
  std::string text = name + " − " + baseline_name + ": " + points(s.difference->mean) + " %";
  if (!s.difference->ci95) return text + " (one pair of runs: no interval; no difference shown)";
  text += " (95 % CI " + points(s.difference->ci95->low) + " to " +
          points(s.difference->ci95->high) + ")";
  return s.difference->ci95->excludes_zero() ? text : text + ": no difference shown";
}

}  // namespace gex
