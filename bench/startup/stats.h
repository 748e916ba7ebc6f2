// The statistics of uvm-sizer-startup (STARTUP.md §6.4): nearest-rank quantiles, moments, bootstrap
// intervals from a fixed-seed generator (so `report` gives the same bytes every time), and a least-squares
// line with the Student-t interval of its slope. Pure; values are in whatever unit the caller uses.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace uvm::startup::stats {

// Nearest rank on ascending `sorted`: the value at index ceil(n·q) − 1 (q in (0, 1]), as older kube-burner
// computes it (pkg/measurements/pod_latency.go@5d2ba38). nullopt when `sorted` is empty.
std::optional<double> Quantile(std::span<const double> sorted, double q);

struct Moments {
  double mean = 0;
  double sd = 0;   // sample standard deviation (n − 1); 0 when n < 2
  double cov = 0;  // sd / mean; 0 when the mean is 0
};
Moments ComputeMoments(std::span<const double> values);

struct Interval {
  double low = 0;
  double high = 0;
};

// The bootstrap's generator: splitmix64 (Steele, Lea, Flood 2014), written out so the stream is the same
// on every platform and standard library (std::uniform_int_distribution is implementation-defined).
class SeededRng {
 public:
  explicit SeededRng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n) (multiply-shift: bias below 2^-32 for the sample sizes here).
  size_t Below(size_t n);

 private:
  uint64_t state_;
};

inline constexpr uint64_t kBootstrapSeed = 0x5eed0f57a72a9eULL;
inline constexpr int kBootstrapResamples = 2000;

// Percentile-bootstrap 95 % interval of the nearest-rank q-quantile. nullopt when `values` is empty.
// `values` is sorted first, so the interval depends on the sample, not on the order of the rows.
std::optional<Interval> BootstrapQuantileCi(std::vector<double> values, double q,
                                            uint64_t seed = kBootstrapSeed,
                                            int resamples = kBootstrapResamples);

// Percentile-bootstrap 95 % interval of quantile_q(numerator) / quantile_q(denominator), both samples
// resampled independently. nullopt when either is empty or a resampled denominator quantile is 0.
std::optional<Interval> BootstrapRatioCi(std::vector<double> numerator, std::vector<double> denominator,
                                         double q, uint64_t seed = kBootstrapSeed,
                                         int resamples = kBootstrapResamples);

// y = a + b·x by least squares.
struct LinearFit {
  int n = 0;
  double a = 0;
  double b = 0;
  Interval b_ci;  // 95 %, Student t with n − 2 degrees of freedom
  double r2 = 0;  // 1 − SSres/SStot; 1 when y does not vary and the line fits exactly
  double x_min = 0;
  double x_max = 0;
};
// nullopt when n < 3 (no degree of freedom left for the interval) or x does not vary.
std::optional<LinearFit> FitLine(std::span<const double> x, std::span<const double> y);

// The two-sided 95 % critical value of Student's t with `df` degrees of freedom (df >= 1).
double StudentT975(int df);

}  // namespace uvm::startup::stats
