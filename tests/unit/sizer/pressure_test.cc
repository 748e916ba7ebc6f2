#include "sizer/pressure.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace uvm::sizer {
namespace {

using std::chrono::seconds;
using testing::HasSubstr;

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kGiB = 1LL << 30;

PressureTime At(double s) {
  return PressureTime{} +
         std::chrono::duration_cast<PressureClock::duration>(std::chrono::duration<double>(s));
}

// A guest of `total` bytes whose available memory and mounts come from the caller.
PressureSample GuestSample(double t, int64_t available, int64_t total = 2 * kGiB,
                           std::vector<GuestMountUsage> mounts = {}, std::string sandbox = "sb1") {
  PressureSample s;
  s.at = At(t);
  s.sandbox_id = std::move(sandbox);
  GuestObservation g;
  g.mem_total_bytes = total;
  g.mem_available_bytes = available;
  g.mounts = std::move(mounts);
  s.guest = g;
  return s;
}

GuestMountUsage Mount(std::string path, int64_t used, int64_t total = kGiB) {
  return {.mount = std::move(path), .device = "tmpfs", .used_bytes = used, .total_bytes = total};
}

// Deterministic noise in [-1, 1] (an LCG, so every run sees the same samples).
struct Noise {
  uint64_t state = 12345;
  double Next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53) * 2 - 1;
  }
};

// Feeds samples every `step` seconds from t=0 to t=end (inclusive) and returns every assessment.
std::vector<PressureAssessment> Feed(PodPressure& pod, const PressureConfig& config, double end, double step,
                                     const std::function<PressureSample(double)>& make) {
  std::vector<double> scratch;
  std::vector<PressureAssessment> out;
  for (double t = 0; t <= end + 1e-9; t += step) out.push_back(pod.Observe(make(t), config, scratch));
  return out;
}

int Transitions(const std::vector<PressureAssessment>& as) {
  int n = 0;
  for (const auto& a : as) n += a.level_changed ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------------------------------------------
// The estimator itself.

TEST(TheilSen, Table) {
  struct Row {
    const char* name;
    std::vector<double> t, v;
    std::optional<double> want;
  };
  std::vector<Row> rows = {
      {"empty", {}, {}, std::nullopt},
      {"one point", {0}, {5}, std::nullopt},
      {"two points", {0, 10}, {0, 50}, 5.0},
      {"exact line", {0, 1, 2, 3, 4}, {10, 8, 6, 4, 2}, -2.0},
      {"equal times skipped", {0, 0, 1, 2}, {0, 100, 1, 2}, 1.0},
      {"NaN skipped", {0, 1, 2, 3}, {0, NAN, 2, 3}, 1.0},
      // Two wild outliers among eight points (25 %) leave the slope of the others untouched.
      {"25% outliers", {0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2, 300, 4, 5, -900, 7}, 1.0},
      {"flat", {0, 1, 2, 3}, {7, 7, 7, 7}, 0.0},
      // Even number of pairwise slopes (2 points -> 1, 4 points -> 6): median averages the middle two.
      {"even count", {0, 1, 2, 3}, {0, 1, 4, 9}, 3.0},
  };
  std::vector<double> scratch;
  for (const auto& r : rows) {
    auto got = TheilSenSlope(r.t, r.v, scratch);
    ASSERT_EQ(got.has_value(), r.want.has_value()) << r.name;
    if (r.want) {
      EXPECT_NEAR(*got, *r.want, 1e-9) << r.name;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Steady growth: prediction, level and attribution.

TEST(Pressure, SteadyGrowthPredictsTimeLeftAndLevel) {
  struct Row {
    double rate_mib_s;
    PressureLevel want;
  };
  // 1.5 GiB available: 0.5 MiB/s -> 51 min (ok); 4 MiB/s -> 6.4 min (warning); 20 MiB/s -> 77 s (critical).
  for (const Row& r :
       {Row{0.5, PressureLevel::kOk}, Row{4, PressureLevel::kWarning}, Row{20, PressureLevel::kCritical}}) {
    PressureConfig config;
    PodPressure pod;
    const double rate = r.rate_mib_s * kMiB;
    auto as = Feed(pod, config, 60, 5, [&](double t) {
      int64_t grown = static_cast<int64_t>(rate * t);
      return GuestSample(t, 1536 * kMiB - grown, 2 * kGiB, {Mount("/run/kata-containers/c1/rootfs", grown)});
    });
    const auto& last = as.back();
    ASSERT_TRUE(last.seconds_left.has_value()) << r.rate_mib_s;
    double available = 1536.0 * kMiB - rate * 60;
    EXPECT_NEAR(*last.seconds_left, available / rate, 0.01 * available / rate) << r.rate_mib_s;
    EXPECT_NEAR(*last.decline_bytes_per_second, rate, 0.001 * rate);
    EXPECT_EQ(last.basis, PressureBasis::kGuest);
    EXPECT_EQ(last.level, r.want) << r.rate_mib_s;
    EXPECT_EQ(last.cause.kind, PressureCauseKind::kFilesystem);
    EXPECT_EQ(last.cause.mount, "/run/kata-containers/c1/rootfs");
    EXPECT_NEAR(last.cause.bytes_per_second, rate, 0.001 * rate);
    if (r.want != PressureLevel::kOk) {
      EXPECT_THAT(last.advice, HasSubstr("files under /run/kata-containers/c1/rootfs grow"));
      EXPECT_THAT(last.advice, HasSubstr("in the guest; memory runs out in ~"));
    } else {
      EXPECT_TRUE(last.advice.empty());
    }
  }
}

TEST(Pressure, NoPredictionUntilTheWindowIsLongEnough) {
  PressureConfig config;  // min_samples 4, min_span 20 s
  PodPressure pod;
  auto as = Feed(pod, config, 20, 5,
                 [](double t) { return GuestSample(t, kGiB - static_cast<int64_t>(t * 10 * kMiB)); });
  EXPECT_FALSE(as[0].seconds_left.has_value());
  EXPECT_FALSE(as[2].seconds_left.has_value());  // 3 samples, 10 s
  EXPECT_FALSE(as[3].seconds_left.has_value());  // 4 samples, 15 s < min_span
  EXPECT_TRUE(as[4].seconds_left.has_value());   // 5 samples, 20 s
}

// ---------------------------------------------------------------------------------------------------
// Bursts, plateaus, noise.

TEST(Pressure, PeriodicBurstsReadAsTheirAverageRate) {
  // 30 MiB dumped every 30 s, nothing in between: 1 MiB/s on average.
  PressureConfig config;
  PodPressure pod;
  auto as = Feed(pod, config, 600, 5, [](double t) {
    int64_t grown = static_cast<int64_t>(std::floor(t / 30)) * 30 * kMiB;
    return GuestSample(t, 1536 * kMiB - grown, 4 * kGiB, {Mount("/tmp", grown)});
  });
  ASSERT_TRUE(as.back().decline_bytes_per_second.has_value());
  EXPECT_NEAR(*as.back().decline_bytes_per_second, 1.0 * kMiB, 0.15 * kMiB);
  EXPECT_EQ(as.back().cause.mount, "/tmp");
}

TEST(Pressure, SingleSpikeIsIgnored) {
  // A 300 MiB temp file that exists for one sample only, on top of a steady 2 MiB/s.
  PressureConfig config;
  PodPressure pod;
  auto as = Feed(pod, config, 120, 5, [](double t) {
    int64_t grown = static_cast<int64_t>(t * 2 * kMiB);
    int64_t spike = (t == 60) ? 300 * kMiB : 0;
    return GuestSample(t, 1536 * kMiB - grown - spike);
  });
  EXPECT_NEAR(*as.back().decline_bytes_per_second, 2.0 * kMiB, 0.001 * kMiB);
}

TEST(Pressure, PlateauEndsThePredictionAndTheWarning) {
  // 8 MiB/s for 90 s (warning: ~2.3 GiB left... falls to 3.3 GiB - 720 MiB), then nothing grows.
  PressureConfig config;
  PodPressure pod;
  auto as = Feed(pod, config, 900, 5, [](double t) {
    int64_t grown = static_cast<int64_t>(std::min(t, 90.0) * 8 * kMiB);
    return GuestSample(t, 3 * kGiB - grown, 4 * kGiB, {Mount("/run", grown)});
  });
  EXPECT_EQ(as[18].level, PressureLevel::kWarning);  // t=90: ~290 s left
  EXPECT_TRUE(as[18].seconds_left.has_value());
  // Once the window (300 s) holds only the plateau, nothing grows: no time left, no cause, back to ok.
  const auto& last = as.back();
  EXPECT_FALSE(last.seconds_left.has_value());
  EXPECT_EQ(last.cause.kind, PressureCauseKind::kNone);
  EXPECT_EQ(last.level, PressureLevel::kOk);
  EXPECT_EQ(Transitions(as), 2);  // ok -> warning -> ok, nothing in between
}

TEST(Pressure, NoiseAloneIsNotGrowth) {
  PressureConfig config;
  PodPressure pod;
  Noise noise;
  auto as = Feed(pod, config, 1200, 5, [&](double t) {
    int64_t jitter = static_cast<int64_t>(noise.Next() * 64 * kMiB);
    return GuestSample(t, kGiB + jitter, 2 * kGiB, {Mount("/run", 100 * kMiB - jitter)});
  });
  for (const auto& a : as) {
    EXPECT_FALSE(a.seconds_left.has_value());
    EXPECT_EQ(a.level, PressureLevel::kOk);
    // Swings of up to 128 MiB (6 % of RAM) between samples are noise, not a release of memory.
    EXPECT_FALSE(a.window_reset) << a.reset_reason;
  }
  EXPECT_EQ(pod.window_size(), 61u);  // the full 300 s window at 5 s
}

TEST(Pressure, GrowthUnderNoiseIsMeasured) {
  PressureConfig config;
  PodPressure pod;
  Noise noise;
  auto as = Feed(pod, config, 300, 5, [&](double t) {
    int64_t grown = static_cast<int64_t>(t * 3 * kMiB);
    int64_t jitter = static_cast<int64_t>(noise.Next() * 32 * kMiB);
    return GuestSample(t, 1536 * kMiB - grown + jitter, 2 * kGiB, {Mount("/run", grown - jitter)});
  });
  ASSERT_TRUE(as.back().decline_bytes_per_second.has_value());
  EXPECT_NEAR(*as.back().decline_bytes_per_second, 3.0 * kMiB, 0.15 * kMiB);
  EXPECT_EQ(as.back().cause.mount, "/run");
}

// ---------------------------------------------------------------------------------------------------
// Counter resets and restarts.

TEST(Pressure, LogRotationDoesNotHideLogGrowth) {
  PressureConfig config;
  PodPressure pod;
  auto as = Feed(pod, config, 120, 5, [](double t) {
    int64_t written = static_cast<int64_t>(t * kMiB);
    PressureSample s = GuestSample(t, 1536 * kMiB - written);
    // Rotated every 60 s, at 58 s into each period: the file starts over and grows again.
    s.containers.log_bytes = static_cast<int64_t>(std::fmod(t + 2, 60.0) * kMiB);
    return s;
  });
  auto by_cause = as.back().GrowthByCause();
  auto logs = std::find_if(by_cause.begin(), by_cause.end(),
                           [](const GrowthRate& g) { return g.kind == PressureCauseKind::kLogs; });
  ASSERT_NE(logs, by_cause.end());
  // Up to one sample interval of writes per rotation is unseen (here 3 MiB a minute, 5 %).
  EXPECT_NEAR(logs->bytes_per_second, 1.0 * kMiB, 0.08 * kMiB);
  EXPECT_EQ(as.back().cause.kind, PressureCauseKind::kLogs);
  EXPECT_FALSE(as.back().window_reset);
}

TEST(Pressure, OomCounterGoingBackwardsResetsTheWindow) {
  PressureConfig config;
  PodPressure pod;
  std::vector<double> scratch;
  auto sample = [](double t, uint64_t ooms, int64_t available) {
    PressureSample s = GuestSample(t, available);
    s.guest->oom_kills = ooms;
    return s;
  };
  PressureAssessment a;
  for (int i = 0; i <= 12; ++i) a = pod.Observe(sample(i * 5, 2, kGiB - i * 50 * kMiB), config, scratch);
  EXPECT_EQ(a.level, PressureLevel::kCritical);
  EXPECT_TRUE(a.seconds_left.has_value());
  a = pod.Observe(sample(65, 3, kGiB - 600 * kMiB), config, scratch);
  EXPECT_EQ(a.guest_oom_kills_delta, 1u);
  EXPECT_FALSE(a.window_reset);
  // The VM restarted: the counter starts over; the old trend must not be mixed with the new pod.
  a = pod.Observe(sample(70, 0, 1800 * kMiB), config, scratch);
  EXPECT_TRUE(a.window_reset);
  EXPECT_THAT(a.reset_reason, HasSubstr("guest oom_kill counter went backwards"));
  EXPECT_EQ(a.guest_oom_kills_delta, 0u);
  EXPECT_FALSE(a.seconds_left.has_value());
  EXPECT_EQ(a.level, PressureLevel::kOk);
  EXPECT_EQ(pod.window_size(), 1u);
}

TEST(Pressure, HostOomKillsAreCountedAcrossSamples) {
  PressureConfig config;
  PodPressure pod;
  std::vector<double> scratch;
  auto sample = [](double t, uint64_t ooms) {
    PressureSample s;
    s.at = At(t);
    s.sandbox_id = "sb";
    s.host = HostObservation{.usage_bytes = 100 * kMiB, .limit_bytes = kGiB, .oom_kills = ooms};
    return s;
  };
  EXPECT_EQ(pod.Observe(sample(0, 4), config, scratch).host_oom_kills_delta, 0u);  // history is not news
  EXPECT_EQ(pod.Observe(sample(5, 4), config, scratch).host_oom_kills_delta, 0u);
  EXPECT_EQ(pod.Observe(sample(10, 7), config, scratch).host_oom_kills_delta, 3u);
}

TEST(Pressure, PodRestartedMidWindowStartsOver) {
  PressureConfig config;
  PodPressure pod;
  std::vector<double> scratch;
  PressureAssessment a;
  for (int i = 0; i <= 12; ++i)
    a = pod.Observe(GuestSample(i * 5, kGiB - i * 40 * kMiB, 2 * kGiB, {}, "old"), config, scratch);
  ASSERT_EQ(a.level, PressureLevel::kCritical);
  // Same pod key, new sandbox: a fresh VM with plenty of memory, growing slowly.
  a = pod.Observe(GuestSample(65, 1900 * kMiB, 2 * kGiB, {}, "new"), config, scratch);
  EXPECT_TRUE(a.window_reset);
  EXPECT_EQ(a.reset_reason, "sandbox changed from old to new");
  EXPECT_EQ(a.previous_level, PressureLevel::kCritical);
  EXPECT_EQ(a.level, PressureLevel::kOk);
  EXPECT_TRUE(a.level_changed);
  for (int i = 1; i <= 6; ++i)
    a = pod.Observe(GuestSample(65 + i * 5, 1900 * kMiB - i * kMiB, 2 * kGiB, {}, "new"), config, scratch);
  ASSERT_TRUE(a.decline_bytes_per_second.has_value());
  // Only the new sandbox's 0.2 MiB/s, not the old 8 MiB/s.
  EXPECT_NEAR(*a.decline_bytes_per_second, 0.2 * kMiB, 0.001 * kMiB);
}

TEST(Pressure, ReleasedMemoryEndsTheTrendAndTheLevelClears) {
  PressureConfig config;
  PodPressure pod;
  std::vector<double> scratch;
  PressureAssessment a;
  for (int i = 0; i <= 20; ++i)
    a = pod.Observe(GuestSample(i * 5, 1200 * kMiB - i * 50 * kMiB), config, scratch);
  ASSERT_EQ(a.level, PressureLevel::kCritical);
  // The big file is deleted: 1 GiB comes back.
  a = pod.Observe(GuestSample(105, 1200 * kMiB), config, scratch);
  EXPECT_TRUE(a.window_reset);
  EXPECT_THAT(a.reset_reason, HasSubstr("released"));
  EXPECT_EQ(a.level, PressureLevel::kCritical);  // held: the clear must last clear_hold (30 s)
  for (int i = 1; i <= 5; ++i) a = pod.Observe(GuestSample(105 + i * 5, 1200 * kMiB), config, scratch);
  EXPECT_EQ(a.level, PressureLevel::kCritical);  // 25 s clear
  a = pod.Observe(GuestSample(135, 1200 * kMiB), config, scratch);
  EXPECT_EQ(a.level, PressureLevel::kOk);  // 30 s clear
  EXPECT_TRUE(a.level_changed);
}

TEST(Pressure, AMissedGuestFetchKeepsTheGuestBasisWithinGrace) {
  PressureConfig config;  // guest_grace 30 s
  PodPressure pod;
  std::vector<double> scratch;
  auto with_host = [](PressureSample s) {
    s.host = HostObservation{.usage_bytes = 2 * kGiB, .limit_bytes = 3 * kGiB};
    return s;
  };
  PressureAssessment a;
  for (int i = 0; i <= 12; ++i)
    a = pod.Observe(with_host(GuestSample(i * 5, kGiB - i * 20 * kMiB)), config, scratch);
  ASSERT_EQ(a.level, PressureLevel::kWarning);  // 4 MiB/s, 784 MiB left: ~196 s
  const double left = *a.seconds_left;
  // The shim does not answer for two ticks: the model extrapolates instead of flipping to the host view.
  for (int i = 13; i <= 14; ++i) {
    PressureSample s = with_host(GuestSample(i * 5, 0));
    s.guest.reset();
    a = pod.Observe(s, config, scratch);
    EXPECT_EQ(a.basis, PressureBasis::kGuest);
    EXPECT_TRUE(a.guest_stale);
    EXPECT_FALSE(a.level_changed);
    EXPECT_FALSE(a.window_reset);
    ASSERT_TRUE(a.seconds_left.has_value());
    EXPECT_NEAR(*a.seconds_left, left - (i - 12) * 5, 0.5);
    EXPECT_THAT(a.reason, HasSubstr("guest endpoint missed this sample"));
  }
  // Beyond the grace (30 s since the last answer), the host view takes over and says so.
  PressureSample late = with_host(GuestSample(95, 0));
  late.guest.reset();
  a = pod.Observe(late, config, scratch);
  EXPECT_EQ(a.basis, PressureBasis::kHost);
  EXPECT_FALSE(a.guest_stale);
}

TEST(Pressure, SampleNotAfterThePreviousIsNotFitted) {
  PressureConfig config;
  PodPressure pod;
  std::vector<double> scratch;
  (void)pod.Observe(GuestSample(10, kGiB), config, scratch);
  (void)pod.Observe(GuestSample(10, kGiB), config, scratch);
  (void)pod.Observe(GuestSample(5, kGiB), config, scratch);
  EXPECT_EQ(pod.window_size(), 1u);
}

// ---------------------------------------------------------------------------------------------------
// Hysteresis.

TEST(Pressure, NoFlappingAtTheAvailableFractionThreshold) {
  PressureConfig config;
  PodPressure pod;
  // Available alternates 9.9 % / 10.1 % of 2 GiB: one transition to warning, never back.
  auto as = Feed(pod, config, 600, 5, [](double t) {
    int64_t step = static_cast<int64_t>(t / 5);
    double frac = step % 2 == 0 ? 0.101 : 0.099;
    return GuestSample(t, static_cast<int64_t>(frac * 2 * kGiB));
  });
  EXPECT_EQ(Transitions(as), 1);
  EXPECT_EQ(as.back().level, PressureLevel::kWarning);
  EXPECT_THAT(as.back().reason, HasSubstr("available"));
  // Only above 15 % (10 % × clear_factor 1.5) for 30 s does it clear.
  std::vector<double> scratch;
  PressureAssessment a;
  for (int i = 1; i <= 7; ++i) {
    a = pod.Observe(GuestSample(600 + i * 5, static_cast<int64_t>(0.14 * 2 * kGiB)), config, scratch);
    EXPECT_EQ(a.level, PressureLevel::kWarning);
  }
  for (int i = 1; i <= 6; ++i)
    a = pod.Observe(GuestSample(635 + i * 5, static_cast<int64_t>(0.16 * 2 * kGiB)), config, scratch);
  EXPECT_EQ(a.level, PressureLevel::kWarning);  // 25 s above 15 %
  a = pod.Observe(GuestSample(670, static_cast<int64_t>(0.16 * 2 * kGiB)), config, scratch);
  EXPECT_EQ(a.level, PressureLevel::kOk);  // 30 s
}

TEST(Pressure, NoFlappingAtThePsiThreshold) {
  PressureConfig config;
  PodPressure pod;
  std::vector<double> scratch;
  std::vector<PressureAssessment> as;
  auto sample = [](double t, double psi) {
    PressureSample s = GuestSample(t, kGiB);
    s.host = HostObservation{.usage_bytes = kGiB, .limit_bytes = 4 * kGiB, .psi_full_avg10 = psi};
    return s;
  };
  for (int i = 0; i < 100; ++i)
    as.push_back(pod.Observe(sample(i * 5, i % 2 ? 39.5 : 40.5), config, scratch));
  EXPECT_EQ(Transitions(as), 1);
  EXPECT_EQ(as.back().level, PressureLevel::kCritical);
  // Critical clears below 40 / 1.5 = 26.7 % held for 30 s, down to warning (still >= 10 %).
  PressureAssessment a;
  for (int i = 0; i <= 6; ++i) a = pod.Observe(sample(500 + i * 5, 26), config, scratch);
  EXPECT_EQ(a.level, PressureLevel::kWarning);
}

TEST(Pressure, TimeLeftHysteresis) {
  // 1 MiB/s with 16 min left: warning from ~1 min in. Then the growth slows to 0.4 MiB/s: while the
  // fitted time left is between 15 min and 22.5 min (15 x clear_factor) the warning holds; above, it
  // clears. Fractions are set out of the way so only the time rule acts.
  PressureConfig config;
  config.warning_available_fraction = 0.0001;
  config.critical_available_fraction = 0.00005;
  PodPressure pod;
  const double start = 16 * 60 * kMiB;
  auto as = Feed(pod, config, 800, 5, [&](double t) {
    double used = t <= 180 ? t * kMiB : 180 * kMiB + (t - 180) * 0.4 * kMiB;
    return GuestSample(t, static_cast<int64_t>(start - used), 64 * kGiB);
  });
  int held = 0;
  for (const auto& a : as) {
    if (a.seconds_left && *a.seconds_left > 900 && *a.seconds_left < 1350 &&
        a.previous_level == PressureLevel::kWarning) {
      EXPECT_EQ(a.level, PressureLevel::kWarning) << *a.seconds_left;
      ++held;
    }
  }
  EXPECT_GT(held, 0);
  EXPECT_EQ(Transitions(as), 2);
  EXPECT_EQ(as.back().level, PressureLevel::kOk);
}

TEST(Pressure, EscalationIsImmediateAndCriticalClearsToWarning) {
  PressureConfig config;
  PodPressure pod;
  std::vector<double> scratch;
  auto sample = [](double t, double frac) {
    return GuestSample(t, static_cast<int64_t>(frac * 4 * kGiB), 4 * kGiB);
  };
  EXPECT_EQ(pod.Observe(sample(0, 0.5), config, scratch).level, PressureLevel::kOk);
  auto a = pod.Observe(sample(5, 0.02), config, scratch);
  EXPECT_EQ(a.level, PressureLevel::kCritical);
  EXPECT_TRUE(a.level_changed);
  EXPECT_THAT(a.advice, HasSubstr("left"));
  // Back to 8 %: above 4.5 % (critical clears) but below 10 % (warning holds).
  for (int i = 2; i <= 8; ++i) a = pod.Observe(sample(i * 5, 0.08), config, scratch);
  EXPECT_EQ(a.level, PressureLevel::kWarning);
}

// ---------------------------------------------------------------------------------------------------
// Attribution.

TEST(Pressure, AttributesToTheMountThatGrows) {
  struct Row {
    const char* growing;
    PressureCauseKind kind;
    const char* advice;
  };
  std::vector<Row> rows = {
      {"/run/kata-containers/sandbox/ephemeral/cache", PressureCauseKind::kFilesystem,
       "files under /run/kata-containers/sandbox/ephemeral/cache grow 4.8 MiB/s in the guest; memory runs "
       "out in "},
      {"/var/log", PressureCauseKind::kLogs,
       "logs under /var/log grow 4.8 MiB/s in the guest; memory runs out in ~"},
  };
  for (const auto& r : rows) {
    PressureConfig config;
    PodPressure pod;
    const double rate = 4.8 * kMiB;
    auto as = Feed(pod, config, 60, 5, [&](double t) {
      int64_t grown = static_cast<int64_t>(rate * t);
      std::vector<GuestMountUsage> mounts = {Mount("/run/kata-containers/c1/rootfs", 300 * kMiB),
                                             Mount(r.growing, 10 * kMiB + grown), Mount("/etc/hosts", 4096)};
      return GuestSample(t, 760 * kMiB - grown, 2 * kGiB, mounts);
    });
    const auto& last = as.back();
    EXPECT_EQ(last.cause.kind, r.kind) << r.growing;
    EXPECT_EQ(last.cause.mount, r.growing);
    EXPECT_THAT(last.advice, HasSubstr(r.advice));
    EXPECT_EQ(last.level, PressureLevel::kCritical) << last.reason;  // (760-288) MiB / 4.8 MiB/s ≈ 98 s
  }
}

TEST(Pressure, IssueExampleAdviceLine) {
  PressureConfig config;
  PodPressure pod;
  const double rate = 4.8 * kMiB;
  // Chosen so that 60 s in, 432 MiB are left: 432 / 4.8 = 90 s.
  auto as = Feed(pod, config, 60, 5, [&](double t) {
    int64_t grown = static_cast<int64_t>(rate * t);
    return GuestSample(t, 720 * kMiB - grown, 8 * kGiB, {Mount("/var/log", grown)});
  });
  EXPECT_EQ(
      as.back().advice,
      "logs under /var/log grow 4.8 MiB/s in the guest; memory runs out in ~90 s; write logs to stdout or "
      "to an emptyDir on disk, or raise the memory limit");
}

TEST(Pressure, AttributesAnonymousSharedMemoryAndWritableLayer) {
  struct Row {
    const char* name;
    PressureCauseKind want;
  };
  for (const Row& r :
       {Row{"anon", PressureCauseKind::kAnonymous}, Row{"shmem", PressureCauseKind::kSharedMemory},
        Row{"layer", PressureCauseKind::kWritableLayer}, Row{"none", PressureCauseKind::kUnknown}}) {
    PressureConfig config;
    PodPressure pod;
    const std::string what = r.name;
    auto as = Feed(pod, config, 60, 5, [&](double t) {
      int64_t grown = static_cast<int64_t>(2 * kMiB * t);
      PressureSample s = GuestSample(t, kGiB - grown);
      s.guest->anon_bytes = 200 * kMiB + (what == "anon" ? grown : 0);
      // tmpfs and the layer are both shmem in a kata-cc guest.
      s.guest->shmem_bytes = 50 * kMiB + (what == "shmem" || what == "layer" ? grown : 0);
      s.containers.writable_layer_bytes = 10 * kMiB + (what == "layer" ? grown : 0);
      return s;
    });
    EXPECT_EQ(as.back().cause.kind, r.want) << r.name;
  }
}

TEST(Pressure, GrowthByCauseTakesTheLargestMountNotTheSum) {
  // Two overlays on the same tmpfs report the same bytes.
  PressureConfig config;
  PodPressure pod;
  auto as = Feed(pod, config, 60, 5, [](double t) {
    int64_t grown = static_cast<int64_t>(kMiB * t);
    return GuestSample(t, kGiB - grown, 2 * kGiB, {Mount("/run/a", grown), Mount("/run/b", grown)});
  });
  auto by = as.back().GrowthByCause();
  auto fs = std::find_if(by.begin(), by.end(),
                         [](const GrowthRate& g) { return g.kind == PressureCauseKind::kFilesystem; });
  ASSERT_NE(fs, by.end());
  EXPECT_NEAR(fs->bytes_per_second, 1.0 * kMiB, 1);
}

// ---------------------------------------------------------------------------------------------------
// Host-only basis and PSI.

TEST(Pressure, HostOnlyBasisPredictsTimeToTheCgroupLimit) {
  PressureConfig config;
  PodPressure pod;
  auto as = Feed(pod, config, 60, 5, [](double t) {
    PressureSample s;
    s.at = At(t);
    s.sandbox_id = "sb";
    int64_t grown = static_cast<int64_t>(2 * kMiB * t);
    // 300 MiB of reclaimable page cache must not count as used: file 400 MiB of which 100 MiB shmem.
    s.host = HostObservation{.usage_bytes = 700 * kMiB + grown,
                             .limit_bytes = kGiB,
                             .anon_bytes = 300 * kMiB + grown,
                             .file_bytes = 400 * kMiB,
                             .shmem_bytes = 100 * kMiB};
    return s;
  });
  const auto& last = as.back();
  EXPECT_EQ(last.basis, PressureBasis::kHost);
  ASSERT_TRUE(last.seconds_left.has_value());
  // used = 700 + 120 - 300 = 520 MiB; left = 504 MiB at 2 MiB/s = 252 s.
  EXPECT_NEAR(*last.seconds_left, 252, 1);
  EXPECT_EQ(last.level, PressureLevel::kWarning);
  EXPECT_EQ(last.cause.kind, PressureCauseKind::kAnonymous);
  EXPECT_THAT(last.advice, HasSubstr("in the pod cgroup (host view: no guest endpoint)"));
  EXPECT_THAT(last.advice, HasSubstr("the pod cgroup reaches its limit in ~4 min"));
}

TEST(Pressure, NoLimitAndNoGuestMeansNoBasis) {
  PressureConfig config;
  PodPressure pod;
  auto as = Feed(pod, config, 60, 5, [](double t) {
    PressureSample s;
    s.at = At(t);
    s.sandbox_id = "sb";
    s.host = HostObservation{.usage_bytes = 100 * kMiB + static_cast<int64_t>(kMiB * t)};
    return s;
  });
  EXPECT_EQ(as.back().basis, PressureBasis::kNone);
  EXPECT_FALSE(as.back().seconds_left.has_value());
  EXPECT_EQ(as.back().level, PressureLevel::kOk);
}

TEST(Pressure, MemoryStallsRaiseTheLevel) {
  struct Row {
    double psi;
    PressureLevel want;
  };
  for (const Row& r :
       {Row{0.5, PressureLevel::kOk}, Row{12, PressureLevel::kWarning}, Row{45, PressureLevel::kCritical}}) {
    PressureConfig config;
    PodPressure pod;
    std::vector<double> scratch;
    PressureSample s = GuestSample(0, kGiB);
    s.host = HostObservation{.usage_bytes = kGiB, .limit_bytes = 4 * kGiB, .psi_full_avg10 = r.psi};
    auto a = pod.Observe(s, config, scratch);
    EXPECT_EQ(a.level, r.want) << r.psi;
    if (r.want != PressureLevel::kOk) {
      EXPECT_THAT(a.reason, HasSubstr("memory PSI full avg10"));
      EXPECT_THAT(a.advice, HasSubstr("PSI full avg10"));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Config and the multi-pod model.

TEST(PressureConfig, DefaultsAreValidAndBadValuesNamed) {
  EXPECT_TRUE(ValidatePressureConfig(PressureConfig{}).ok());
  struct Row {
    std::function<void(PressureConfig&)> mutate;
    const char* field;
  };
  std::vector<Row> rows = {
      {[](PressureConfig& c) { c.window = seconds(0); }, "pressure.window"},
      {[](PressureConfig& c) { c.max_fit_points = 2; }, "pressure.max_fit_points"},
      {[](PressureConfig& c) { c.warning_available_fraction = 1.5; }, "pressure.warning_available_fraction"},
      {[](PressureConfig& c) { c.critical_available_fraction = 0.2; },
       "pressure.critical_available_fraction 0.2"},
      {[](PressureConfig& c) { c.critical_time_left = seconds(3600); }, "pressure.critical_time_left"},
      {[](PressureConfig& c) { c.critical_psi_full_avg10 = 5; }, "critical_psi_full_avg10 5"},
      {[](PressureConfig& c) { c.clear_factor = 0.5; }, "pressure.clear_factor"},
      {[](PressureConfig& c) { c.min_span = seconds(301); }, "pressure.min_span"},
  };
  for (const auto& r : rows) {
    PressureConfig c;
    r.mutate(c);
    auto st = ValidatePressureConfig(c);
    ASSERT_FALSE(st.ok()) << r.field;
    EXPECT_THAT(st.error().message, HasSubstr(r.field));
  }
}

TEST(PressureModel, KeepsOnePodPerKeyAndForgets) {
  PressureModel model;
  (void)model.Observe("uid-a", GuestSample(0, kGiB));
  (void)model.Observe("uid-b", GuestSample(0, kGiB));
  (void)model.Observe("uid-a", GuestSample(5, kGiB));
  EXPECT_EQ(model.pod_count(), 2u);
  ASSERT_NE(model.Find("uid-a"), nullptr);
  EXPECT_EQ(model.Find("uid-a")->window_size(), 2u);
  model.Forget("uid-a");
  EXPECT_EQ(model.Find("uid-a"), nullptr);
  (void)model.Observe("uid-c", GuestSample(0, kGiB));
  std::vector<std::string> keep = {"uid-c"};
  model.Retain(keep);
  EXPECT_EQ(model.pod_count(), 1u);
  EXPECT_NE(model.Find("uid-c"), nullptr);
}

TEST(PressureFormat, RatesAndDurations) {
  EXPECT_EQ(FormatByteRate(4.8 * kMiB), "4.8 MiB/s");
  EXPECT_EQ(FormatByteRate(512), "512 B/s");
  EXPECT_EQ(FormatByteRate(1.25 * kGiB), "1.2 GiB/s");
  EXPECT_EQ(FormatDuration(90), "~90 s");
  EXPECT_EQ(FormatDuration(720), "~12 min");
  EXPECT_EQ(FormatDuration(3.5 * 3600), "~3.5 h");
}

}  // namespace
}  // namespace uvm::sizer
