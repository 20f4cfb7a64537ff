// How sure a comparison of repeated runs is (GE-SPEC's studies, DESIGN §6): per variant the mean,
// standard deviation and 95 % t-interval of the error, the interquartile mean, and against the
// baseline the paired difference over shared seeds and the probability of improvement with a
// stratified-bootstrap interval (rliable: Agarwal et al., NeurIPS 2021). No Torch, no Qt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gex {

// A two-sided interval [low, high].
struct Interval {
  double low = 0, high = 0;
  bool excludes_zero() const { return low > 0 || high < 0; }
};

// The value t with P(|T| ≤ t) = `confidence` for Student's t with `df` ≥ 1 degrees of freedom
// (t_{0.975, 4} = 2.776 for 95 %).
double student_t_critical(double confidence, int df);

// The interquartile mean as rliable computes it (scipy.stats.trim_mean(x, 0.25)): the mean of the
// sorted values left after dropping floor(n/4) from each end.
double interquartile_mean(std::vector<double> values);

struct Spread {
  int n = 0;
  double mean = 0;
  double sd = 0;                 // sample standard deviation (n − 1); 0 for one value
  std::optional<Interval> ci95;  // mean ± t·sd/√n; none for fewer than 2 values
  double iqm = 0;
};
Spread spread(const std::vector<double>& values);

// Paired differences a_i − b_i (the same seeds): their spread; ci95 excluding zero means a
// difference is shown at 95 %.
Spread paired_difference(const std::vector<double>& a, const std::vector<double>& b);

struct Improvement {
  double probability = 0;  // P(a run of X has lower error than a run of Y), ties counting half
  // Percentile interval of a stratified bootstrap; none when a side has a single run (resampling
  // one run gives it back every time, an interval of no width that would read as certainty).
  std::optional<Interval> ci95;
};
// rliable's probability of improvement of X over Y for errors (lower is better): the Mann–Whitney
// U statistic over all pairs of runs, normalised; its interval resamples the runs of each with
// replacement (`reps` times, a fixed seed: the same table gives the same interval).
Improvement probability_of_improvement(const std::vector<double>& x_errors,
                                       const std::vector<double>& y_errors, int reps = 20000,
                                       uint64_t seed = 0);

// A percentile-bootstrap interval of the interquartile mean; none for fewer than 2 values.
std::optional<Interval> interquartile_mean_interval(const std::vector<double>& values, int reps = 20000,
                                     uint64_t seed = 0);

// One run of a study (a row of DIR/study.csv).
struct StudyRow {
  std::string variant;  // baseline, se, theta-minus, theta, theta-plus; "-e<E>" at a local extent
  uint64_t seed = 0;
  int64_t params = 0, macs = 0;
  double best_top1_error = 1, final_top1_error = 1, images_per_second = 0;
  std::string run;
  bool finished =
      false;  // not in study.csv: the table lists finished runs and the summary uses them
};

// What the runs of one variant say, alone and against the baseline.
struct VariantSummary {
  std::string variant;
  std::vector<uint64_t> seeds;
  Spread final_error;  // of the final top-1 error, over its runs
  std::optional<Interval> iqm_ci95;
  // Against the baseline (none for the baseline itself, or in a study without one):
  std::vector<uint64_t> paired_seeds;      // the seeds both have
  std::optional<Spread> difference;        // variant − baseline on those seeds
  std::optional<Improvement> improvement;  // P(this variant's run has the lower error)
};

// Per variant in order of first appearance, over the finished rows (`finished` or, for rows read
// from study.csv, all of them).
std::vector<VariantSummary> summarize_study(const std::vector<StudyRow>& rows,
                                            const std::string& baseline = "baseline");

// "GE-θ⁺ − baseline: −0.42 % (95 % CI −0.71 to −0.13)" when the interval excludes zero, else the
// same ending in "no difference shown"; `name` is how the variant is called, errors in points of %.
std::string describe_difference(const VariantSummary& summary, const std::string& name,
                                const std::string& baseline_name = "baseline");

}  // namespace gex
