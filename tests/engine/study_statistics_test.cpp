// The statistics of a study against values worked out by hand (and Student's t table).
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/study_statistics.h"

namespace gex {
namespace {

TEST(StudyStatistics, StudentTCriticalValuesAreTheTable) {
  // Two-sided 95 % (the 0.975 quantile), from any printed t table.
  EXPECT_NEAR(student_t_critical(0.95, 1), 12.7062, 1e-4);
  EXPECT_NEAR(student_t_critical(0.95, 2), 4.3027, 1e-4);  // = √2·0.95/√(1 − 0.95²), by hand
  EXPECT_NEAR(student_t_critical(0.95, 2), std::sqrt(2.0) * 0.95 / std::sqrt(1 - 0.95 * 0.95),
              1e-9);
  EXPECT_NEAR(student_t_critical(0.95, 4), 2.7764, 1e-4);
  EXPECT_NEAR(student_t_critical(0.95, 9), 2.2622, 1e-4);
  EXPECT_NEAR(student_t_critical(0.95, 30), 2.0423, 1e-4);
  EXPECT_NEAR(student_t_critical(0.99, 5), 4.0321, 1e-4);
  EXPECT_NEAR(student_t_critical(0.95, 100000), 1.95996, 1e-4);  // the normal's
}

TEST(StudyStatistics, MeanSdAndIntervalOfThreeRuns) {
  const auto s = spread({0.10, 0.12, 0.11});
  EXPECT_EQ(s.n, 3);
  EXPECT_NEAR(s.mean, 0.11, 1e-12);
  EXPECT_NEAR(s.sd, 0.01, 1e-12);  // √((0.01² + 0.01² + 0) / 2)
  ASSERT_TRUE(s.ci95);
  const double half = 4.302652729911275 * 0.01 / std::sqrt(3.0);
  EXPECT_NEAR(s.ci95->low, 0.11 - half, 1e-9);
  EXPECT_NEAR(s.ci95->high, 0.11 + half, 1e-9);
  EXPECT_FALSE(spread({0.3}).ci95) << "one run has no interval";
  EXPECT_EQ(spread({0.3}).sd, 0);
}

TEST(StudyStatistics, PairedDifferenceOfATinyTable) {
  // theta − baseline per seed: −0.01, −0.01, −0.005.
  const auto d = paired_difference({0.09, 0.11, 0.105}, {0.10, 0.12, 0.11});
  EXPECT_NEAR(d.mean, -0.025 / 3, 1e-12);
  const double sd = std::sqrt((2 * std::pow(0.005 / 3, 2) + std::pow(0.01 / 3, 2)) /
                              2);  // deviations −1/600 ×2, +2/600
  EXPECT_NEAR(d.sd, sd, 1e-12);
  const double half = 4.302652729911275 * sd / std::sqrt(3.0);
  ASSERT_TRUE(d.ci95);
  EXPECT_NEAR(d.ci95->low, -0.025 / 3 - half, 1e-9);
  EXPECT_NEAR(d.ci95->high, -0.025 / 3 + half, 1e-9);
  EXPECT_TRUE(d.ci95->excludes_zero());
  // The same errors unpaired would not show it: the pairing is what removes the seed's share.
  EXPECT_FALSE(spread({0.09, 0.11, 0.105}).ci95->high < spread({0.10, 0.12, 0.11}).ci95->low);
  EXPECT_THROW(paired_difference({0.1}, {0.1, 0.2}), std::invalid_argument);
}

TEST(StudyStatistics, InterquartileMeanIsScipysTrimMean) {
  EXPECT_DOUBLE_EQ(interquartile_mean({8, 1, 7, 2, 6, 3, 5, 4}), 4.5);  // drops 1, 2, 7, 8
  EXPECT_DOUBLE_EQ(interquartile_mean({0.3, 0.1, 0.2}), 0.2);           // n = 3: nothing dropped
  EXPECT_DOUBLE_EQ(interquartile_mean({1, 100, 2, 3, 4}), 3);           // n = 5: drops 1 and 100
}

TEST(StudyStatistics, ProbabilityOfImprovementCountsPairsAndTies) {
  // 0.09 beats all three; 0.11 beats 0.12 and ties 0.11; 0.105 beats 0.12 and 0.11: 6.5 of 9.
  const auto p = probability_of_improvement({0.09, 0.11, 0.105}, {0.10, 0.12, 0.11});
  EXPECT_NEAR(p.probability, 6.5 / 9, 1e-12);
  ASSERT_TRUE(p.ci95);
  EXPECT_LE(p.ci95->low, p.probability);
  EXPECT_GE(p.ci95->high, p.probability);
  EXPECT_GT(p.ci95->high - p.ci95->low, 0.3) << "three runs a side cannot pin it down";
  // Separated samples stay separated in every resample; equal ones tie in every resample.
  const auto all = probability_of_improvement({0.01, 0.02}, {0.1, 0.2, 0.3});
  EXPECT_EQ(all.probability, 1);
  EXPECT_EQ(all.ci95.value().low, 1);
  const auto tie = probability_of_improvement({0.1, 0.1}, {0.1, 0.1});
  EXPECT_EQ(tie.probability, 0.5);
  EXPECT_EQ(tie.ci95.value().high, 0.5);
  // A single run on a side: resampling it gives it back every time, so no interval (one of no
  // width would read as certainty), as the t-interval of one run.
  const auto one = probability_of_improvement({0.1}, {0.2});
  EXPECT_EQ(one.probability, 1);
  EXPECT_FALSE(one.ci95);
  EXPECT_FALSE(probability_of_improvement({0.1, 0.3}, {0.2}).ci95);
  EXPECT_FALSE(interquartile_mean_interval({0.1}));
  ASSERT_TRUE(interquartile_mean_interval({0.1, 0.2}));
  // The same table, the same interval.
  EXPECT_EQ(probability_of_improvement({0.09, 0.11, 0.105}, {0.10, 0.12, 0.11}).ci95->low,
            p.ci95->low);
}

TEST(StudyStatistics, SummaryPairsBySeedAndSaysItInWords) {
  std::vector<StudyRow> rows;
  const auto add = [&](const std::string& v, uint64_t seed, double e) {
    StudyRow r;
    r.variant = v;
    r.seed = seed;
    r.final_top1_error = e;
    r.finished = true;
    rows.push_back(r);
  };
  add("baseline", 1, 0.10), add("theta", 1, 0.09), add("baseline", 2, 0.12), add("theta", 2, 0.11);
  add("baseline", 3, 0.11), add("theta", 3, 0.105);
  add("theta", 4, 0.5);  // no baseline run with seed 4: not paired
  add("se", 1, 0.10), add("se", 2, 0.13), add("se", 3, 0.10);
  rows.push_back(rows[0]);
  rows.back().variant = "unfinished", rows.back().finished = false;
  const auto s = summarize_study(rows);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].variant, "baseline");
  EXPECT_FALSE(s[0].difference);
  EXPECT_EQ(s[1].variant, "theta");
  EXPECT_EQ(s[1].final_error.n, 4);
  EXPECT_EQ(s[1].paired_seeds, (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_TRUE(s[1].difference);
  EXPECT_NEAR(s[1].difference->mean, -0.025 / 3, 1e-12);
  EXPECT_EQ(describe_difference(s[1], "GE-θ"), "GE-θ − baseline: −0.83 % (95 % CI −1.55 to −0.12)");
  // se − baseline: 0, +0.01, −0.01: mean 0, interval across zero.
  EXPECT_EQ(describe_difference(s[2], "SE"),
            "SE − baseline: 0.00 % (95 % CI −2.48 to +2.48): no difference shown");
}

}  // namespace
}  // namespace gex
