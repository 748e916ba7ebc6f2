#include "bench/startup/stats.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace uvm::startup::stats {
namespace {

// ceil(n·q) − 1 without the floating-point surprise of 100 × 0.9 = 90.00000000000001.
size_t NearestRankIndex(size_t n, double q) {
  double rank = std::ceil(static_cast<double>(n) * q - 1e-9);
  if (rank < 1) rank = 1;
  if (rank > static_cast<double>(n)) rank = static_cast<double>(n);
  return static_cast<size_t>(rank) - 1;
}

// The nearest-rank q-quantile of one resample (with replacement) of ascending `sorted`. Since `sorted` is
// in order, the resample's k-th smallest value is at the k-th smallest drawn index: counting the draws per
// index finds it in O(n) without sorting the resample (5x faster than nth_element here).
double ResampledQuantile(const std::vector<double>& sorted, double q, SeededRng& rng,
                         std::vector<uint32_t>& draws_per_index) {
  const size_t n = sorted.size();
  draws_per_index.assign(n, 0);
  for (size_t i = 0; i < n; ++i) ++draws_per_index[rng.Below(n)];
  const size_t k = NearestRankIndex(n, q);
  size_t seen = 0;
  for (size_t index = 0; index < n; ++index) {
    seen += draws_per_index[index];
    if (seen > k) return sorted[index];
  }
  return sorted.back();
}

Interval PercentileInterval(std::vector<double>& estimates) {
  std::sort(estimates.begin(), estimates.end());
  return {.low = *Quantile(estimates, 0.025), .high = *Quantile(estimates, 0.975)};
}

}  // namespace

std::optional<double> Quantile(std::span<const double> sorted, double q) {
  if (sorted.empty()) return std::nullopt;
  return sorted[NearestRankIndex(sorted.size(), q)];
}

Moments ComputeMoments(std::span<const double> values) {
  Moments m;
  if (values.empty()) return m;
  double sum = 0;
  for (double v : values) sum += v;
  m.mean = sum / static_cast<double>(values.size());
  if (values.size() >= 2) {
    double squares = 0;
    for (double v : values) squares += (v - m.mean) * (v - m.mean);
    m.sd = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  m.cov = m.mean != 0 ? m.sd / m.mean : 0;
  return m;
}

uint64_t SeededRng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

size_t SeededRng::Below(size_t n) {
  return static_cast<size_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
}

std::optional<Interval> BootstrapQuantileCi(std::vector<double> values, double q, uint64_t seed,
                                            int resamples) {
  if (values.empty() || resamples < 1) return std::nullopt;
  std::sort(values.begin(), values.end());
  SeededRng rng(seed);
  std::vector<uint32_t> scratch;
  std::vector<double> estimates;
  estimates.reserve(static_cast<size_t>(resamples));
  for (int i = 0; i < resamples; ++i) estimates.push_back(ResampledQuantile(values, q, rng, scratch));
  return PercentileInterval(estimates);
}

std::optional<Interval> BootstrapRatioCi(std::vector<double> numerator, std::vector<double> denominator,
                                         double q, uint64_t seed, int resamples) {
  if (numerator.empty() || denominator.empty() || resamples < 1) return std::nullopt;
  std::sort(numerator.begin(), numerator.end());
  std::sort(denominator.begin(), denominator.end());
  SeededRng rng(seed);
  std::vector<uint32_t> scratch;
  std::vector<double> estimates;
  estimates.reserve(static_cast<size_t>(resamples));
  for (int i = 0; i < resamples; ++i) {
    double top = ResampledQuantile(numerator, q, rng, scratch);
    double bottom = ResampledQuantile(denominator, q, rng, scratch);
    if (bottom == 0) return std::nullopt;
    estimates.push_back(top / bottom);
  }
  return PercentileInterval(estimates);
}

double StudentT975(int df) {
  // t_{0.975, df} for df = 1..30 (standard table, e.g. NIST/SEMATECH e-Handbook §1.3.6.7.2).
  static constexpr std::array<double, 30> kTable = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                                    2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                                    2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                                    2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) df = 1;
  if (df <= 30) return kTable[static_cast<size_t>(df - 1)];
  // Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5); error < 1e-3 for
  // df > 30.
  const double z = 1.959963984540054;
  const double d = df;
  return z + (z * z * z + z) / (4 * d) + (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * d * d);
}

std::optional<LinearFit> FitLine(std::span<const double> x, std::span<const double> y) {
  const size_t n = std::min(x.size(), y.size());
  if (n < 3) return std::nullopt;
  double x_mean = 0;
  double y_mean = 0;
  for (size_t i = 0; i < n; ++i) {
    x_mean += x[i];
    y_mean += y[i];
  }
  x_mean /= static_cast<double>(n);
  y_mean /= static_cast<double>(n);
  double sxx = 0;
  double sxy = 0;
  double syy = 0;
  LinearFit fit;
  fit.n = static_cast<int>(n);
  fit.x_min = x[0];
  fit.x_max = x[0];
  for (size_t i = 0; i < n; ++i) {
    sxx += (x[i] - x_mean) * (x[i] - x_mean);
    sxy += (x[i] - x_mean) * (y[i] - y_mean);
    syy += (y[i] - y_mean) * (y[i] - y_mean);
    fit.x_min = std::min(fit.x_min, x[i]);
    fit.x_max = std::max(fit.x_max, x[i]);
  }
  if (sxx <= 0) return std::nullopt;
  fit.b = sxy / sxx;
  fit.a = y_mean - fit.b * x_mean;
  double residuals = 0;
  for (size_t i = 0; i < n; ++i) {
    double r = y[i] - (fit.a + fit.b * x[i]);
    residuals += r * r;
  }
  const double se_b = std::sqrt(residuals / static_cast<double>(n - 2) / sxx);
  const double t = StudentT975(static_cast<int>(n - 2));
  fit.b_ci = {.low = fit.b - t * se_b, .high = fit.b + t * se_b};
  fit.r2 = syy > 0 ? 1 - residuals / syy : 1;
  return fit;
}

}  // namespace uvm::startup::stats
