// The statistics every number of summary.json rests on.
#include "bench/startup/stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace uvm::startup::stats {
namespace {

struct QuantileCase {
  std::vector<double> sorted;
  double q;
  double expected;
};

class NearestRank : public testing::TestWithParam<QuantileCase> {};

TEST_P(NearestRank, PicksIndexCeilNqMinusOne) {
  const QuantileCase& c = GetParam();
  auto value = Quantile(c.sorted, c.q);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, c.expected);
}

std::vector<double> OneTo(int n) {
  std::vector<double> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Table, NearestRank,
                         testing::Values(QuantileCase{{7}, 0.5, 7}, QuantileCase{{7}, 0.99, 7},
                                         QuantileCase{{1, 2}, 0.5, 1},           // ceil(1) - 1 = 0
                                         QuantileCase{{1, 2, 3, 4}, 0.5, 2},     // ceil(2) - 1 = 1
                                         QuantileCase{{1, 2, 3, 4, 5}, 0.5, 3},  // ceil(2.5) - 1 = 2
                                         QuantileCase{OneTo(10), 0.9, 9},        // not 10: 10 × 0.9 is 9
                                         QuantileCase{OneTo(100), 0.9, 90},      // 100 × 0.9 in binary
                                         QuantileCase{OneTo(100), 0.99, 99},
                                         QuantileCase{OneTo(100), 0.95, 95},
                                         QuantileCase{OneTo(16), 0.99, 16}, QuantileCase{OneTo(16), 0.9, 15},
                                         QuantileCase{OneTo(1000), 0.999, 999}));

TEST(NearestRank, EmptyHasNoQuantile) {
  EXPECT_FALSE(Quantile(std::vector<double>{}, 0.5).has_value());
}

TEST(Moments, MeanSampleSdAndCov) {
  std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  Moments m = ComputeMoments(v);
  EXPECT_DOUBLE_EQ(m.mean, 5);
  EXPECT_NEAR(m.sd, std::sqrt(32.0 / 7), 1e-12);
  EXPECT_NEAR(m.cov, std::sqrt(32.0 / 7) / 5, 1e-12);
  Moments one = ComputeMoments(std::vector<double>{3});
  EXPECT_EQ(one.sd, 0);
}

TEST(Bootstrap, SameInputSameIntervalWhateverTheRowOrder) {
  std::vector<double> v;
  for (int i = 0; i < 50; ++i) v.push_back(100 + (i * 37) % 23);
  auto first = BootstrapQuantileCi(v, 0.5);
  std::vector<double> reversed(v.rbegin(), v.rend());
  auto second = BootstrapQuantileCi(reversed, 0.5);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->low, second->low);
  EXPECT_EQ(first->high, second->high);
  // A different seed is a different stream (the seed is what makes it repeatable, not a constant answer).
  SeededRng a(1);
  SeededRng b(2);
  EXPECT_NE(a.Next(), b.Next());
}

TEST(Bootstrap, MedianIntervalContainsThePointEstimate) {
  std::vector<double> v;
  for (int i = 0; i < 40; ++i) v.push_back(150 + ((i * 7919) % 101) * 0.5);
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  double median = *Quantile(sorted, 0.5);
  auto ci = BootstrapQuantileCi(v, 0.5);
  ASSERT_TRUE(ci.has_value());
  EXPECT_LE(ci->low, median);
  EXPECT_GE(ci->high, median);
  EXPECT_LT(ci->low, ci->high);
  EXPECT_GE(ci->low, sorted.front());
  EXPECT_LE(ci->high, sorted.back());
}

TEST(Bootstrap, RatioIntervalOfTwiceSlowerContainsTwo) {
  std::vector<double> base;
  std::vector<double> slow;
  for (int i = 0; i < 30; ++i) {
    base.push_back(100 + (i * 13) % 17);
    slow.push_back(2 * (100 + (i * 11) % 17));
  }
  auto ci = BootstrapRatioCi(slow, base, 0.5);
  ASSERT_TRUE(ci.has_value());
  EXPECT_LE(ci->low, 2.0);
  EXPECT_GE(ci->high, 2.0);
  EXPECT_GT(ci->low, 1.7);
  EXPECT_LT(ci->high, 2.3);
  EXPECT_FALSE(BootstrapRatioCi(slow, {}, 0.5).has_value());
  EXPECT_FALSE(BootstrapRatioCi(slow, {0, 0, 0}, 0.5).has_value());
}

TEST(FitLine, ExactLineGivesExactSlopeAndTinyInterval) {
  std::vector<double> x = {0.5, 1, 2, 4, 8};
  std::vector<double> y;
  for (double xi : x) y.push_back(120 + 35 * xi);
  auto fit = FitLine(x, y);
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->b, 35, 1e-9);
  EXPECT_NEAR(fit->a, 120, 1e-9);
  EXPECT_LT(fit->b_ci.high - fit->b_ci.low, 1e-6);
  EXPECT_NEAR(fit->r2, 1, 1e-12);
  EXPECT_EQ(fit->n, 5);
  EXPECT_EQ(fit->x_min, 0.5);
  EXPECT_EQ(fit->x_max, 8);
}

TEST(FitLine, FlatNoisyDataHasASlopeIntervalContainingZero) {
  std::vector<double> x;
  std::vector<double> y;
  const double noise[] = {3, -2, 5, -4, 1, -1, 4, -5, 2, -3, 0, 3, -2, 1, -1, 2};
  for (int i = 0; i < 16; ++i) {
    x.push_back(0.25 * (1 << (i % 4)));  // 0.25, 0.5, 1, 2 GiB
    y.push_back(170 + noise[i]);
  }
  auto fit = FitLine(x, y);
  ASSERT_TRUE(fit.has_value());
  EXPECT_LT(fit->b_ci.low, 0);
  EXPECT_GT(fit->b_ci.high, 0);
  EXPECT_LT(fit->r2, 0.2);
}

TEST(FitLine, TooFewPointsOrOneXHasNoFit) {
  EXPECT_FALSE(FitLine(std::vector<double>{1, 2}, std::vector<double>{1, 2}).has_value());
  EXPECT_FALSE(FitLine(std::vector<double>{1, 1, 1}, std::vector<double>{1, 2, 3}).has_value());
}

TEST(StudentT, TableAndLargeDf) {
  EXPECT_DOUBLE_EQ(StudentT975(1), 12.706);
  EXPECT_DOUBLE_EQ(StudentT975(10), 2.228);
  EXPECT_NEAR(StudentT975(60), 2.000, 1e-3);
  EXPECT_NEAR(StudentT975(120), 1.980, 1e-3);
  EXPECT_NEAR(StudentT975(100000), 1.960, 1e-3);
}

}  // namespace
}  // namespace uvm::startup::stats
