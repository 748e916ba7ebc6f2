#include "sizer/pressure.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "base/error_codes.h"

namespace uvm::sizer {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxFitPoints = 256;

double Seconds(std::chrono::seconds s) {
  return static_cast<double>(s.count());
}

// Median of scratch[0, n), reordering it.
double MedianInPlace(double* first, size_t n) {
  double* mid = first + n / 2;
  std::nth_element(first, mid, first + n);
  double upper = *mid;
  if (n % 2 == 1) return upper;
  double lower = *std::max_element(first, mid);
  return (lower + upper) / 2;
}

bool MatchesAny(std::string_view mount, const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    if (!p.empty() && mount.find(p) != std::string_view::npos) return true;
  }
  return false;
}

std::string FormatBytes(double bytes) {
  static constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = std::fabs(bytes);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < kUnits.size()) {
    v /= 1024;
    ++unit;
  }
  if (bytes < 0) v = -v;
  if (unit == 0) return fmt::format("{:.0f} B", v);
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string FormatPercent(double fraction) {
  double pct = fraction * 100;
  return pct < 10 ? fmt::format("{:.1f} %", pct) : fmt::format("{:.0f} %", pct);
}

std::string FormatThresholdSeconds(double s) {
  if (s >= 3600) return fmt::format("{:g} h", std::round(s / 360) / 10);
  if (s >= 60) return fmt::format("{:g} min", std::round(s / 6) / 10);
  return fmt::format("{:g} s", std::round(s * 10) / 10);
}

}  // namespace

std::string_view LevelName(PressureLevel level) {
  switch (level) {
    case PressureLevel::kOk:
      return "ok";
    case PressureLevel::kWarning:
      return "warning";
    case PressureLevel::kCritical:
      return "critical";
  }
  return "ok";
}

std::string_view BasisName(PressureBasis basis) {
  switch (basis) {
    case PressureBasis::kNone:
      return "none";
    case PressureBasis::kGuest:
      return "guest";
    case PressureBasis::kHost:
      return "host";
  }
  return "none";
}

std::string_view CauseLabel(PressureCauseKind kind) {
  switch (kind) {
    case PressureCauseKind::kNone:
      return "none";
    case PressureCauseKind::kFilesystem:
      return "filesystem";
    case PressureCauseKind::kLogs:
      return "logs";
    case PressureCauseKind::kWritableLayer:
      return "writable_layer";
    case PressureCauseKind::kSharedMemory:
      return "shared_memory";
    case PressureCauseKind::kAnonymous:
      return "anonymous";
    case PressureCauseKind::kUnknown:
      return "unknown";
  }
  return "none";
}

std::string FormatByteRate(double bytes_per_second) {
  return FormatBytes(bytes_per_second) + "/s";
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds)) return "never";
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return fmt::format("~{:.0f} s", seconds);
  if (seconds < 2 * 3600) return fmt::format("~{:.0f} min", seconds / 60);
  if (seconds < 48 * 3600) return fmt::format("~{:.1f} h", seconds / 3600);
  return fmt::format("~{:.0f} d", seconds / 86400);
}

Status ValidatePressureConfig(const PressureConfig& c) {
  auto bad = [](std::string msg) { return Status(InvalidInput(std::move(msg))); };
  if (c.window.count() <= 0)
    return bad(fmt::format("pressure.window {} s must be positive", c.window.count()));
  if (c.max_fit_points < 3 || c.max_fit_points > kMaxFitPoints)
    return bad(
        fmt::format("pressure.max_fit_points {} must be within 3..{}", c.max_fit_points, kMaxFitPoints));
  if (c.min_samples < 2) return bad(fmt::format("pressure.min_samples {} must be at least 2", c.min_samples));
  if (c.min_span.count() < 0 || c.min_span > c.window)
    return bad(fmt::format("pressure.min_span {} s must be within 0..window ({} s)", c.min_span.count(),
                           c.window.count()));
  if (!(c.min_growth_bytes_per_second >= 0))
    return bad(fmt::format("pressure.min_growth_bytes_per_second {} must not be negative",
                           c.min_growth_bytes_per_second));
  if (!(c.significance_z >= 0))
    return bad(fmt::format("pressure.significance_z {} must not be negative", c.significance_z));
  for (auto [name, v] : {std::pair{"warning_available_fraction", c.warning_available_fraction},
                         std::pair{"critical_available_fraction", c.critical_available_fraction},
                         std::pair{"release_reset_fraction", c.release_reset_fraction}}) {
    if (!(v > 0 && v < 1)) return bad(fmt::format("pressure.{} {} must be within (0, 1)", name, v));
  }
  if (c.critical_available_fraction > c.warning_available_fraction)
    return bad(
        fmt::format("pressure.critical_available_fraction {} must not exceed "
                    "pressure.warning_available_fraction {}",
                    c.critical_available_fraction, c.warning_available_fraction));
  if (c.critical_time_left.count() <= 0 || c.critical_time_left > c.warning_time_left)
    return bad(
        fmt::format("pressure.critical_time_left {} s must be positive and not exceed "
                    "pressure.warning_time_left {} s",
                    c.critical_time_left.count(), c.warning_time_left.count()));
  if (!(c.warning_psi_full_avg10 > 0 && c.critical_psi_full_avg10 <= 100 &&
        c.warning_psi_full_avg10 <= c.critical_psi_full_avg10))
    return bad(
        fmt::format("pressure.warning_psi_full_avg10 {} and critical_psi_full_avg10 {} must satisfy "
                    "0 < warning <= critical <= 100",
                    c.warning_psi_full_avg10, c.critical_psi_full_avg10));
  if (!(c.clear_factor >= 1 && c.clear_factor <= 10))
    return bad(fmt::format("pressure.clear_factor {} must be within 1..10", c.clear_factor));
  if (c.clear_hold.count() < 0)
    return bad(fmt::format("pressure.clear_hold {} s must not be negative", c.clear_hold.count()));
  return {};
}

// Why Theil–Sen: the slope is the median of the slopes of all sample pairs. It tolerates up to ~29 % of
// the samples being arbitrary (a temp file written and deleted between two ticks, a GC spike, one
// odd scrape) without moving, needs no outlier threshold or iteration (least squares with outlier
// rejection needs a residual scale to reject against, which the outliers themselves distort), and
// on clean linear data it equals least squares. A one-off step shows up as a modest slope that fades
// as the step leaves the window, while periodic bursts read as their long-run average. O(n²) pairs,
// which is why the fit thins the window to max_fit_points (32 → 496 pairs).
std::optional<double> TheilSenSlope(std::span<const double> t, std::span<const double> v,
                                    std::vector<double>& scratch) {
  size_t n = std::min(t.size(), v.size());
  scratch.clear();
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(v[i]) || std::isnan(t[i])) continue;
    for (size_t j = i + 1; j < n; ++j) {
      if (std::isnan(v[j]) || std::isnan(t[j]) || t[j] == t[i]) continue;
      scratch.push_back((v[j] - v[i]) / (t[j] - t[i]));
    }
  }
  if (scratch.empty()) return std::nullopt;
  return MedianInPlace(scratch.data(), scratch.size());
}

std::vector<GrowthRate> PressureAssessment::GrowthByCause() const {
  std::vector<GrowthRate> out;
  for (const auto& g : growth) {
    auto it = std::find_if(out.begin(), out.end(), [&](const GrowthRate& o) { return o.kind == g.kind; });
    if (it == out.end()) {
      out.push_back({.kind = g.kind, .mount = {}, .bytes_per_second = g.bytes_per_second});
    } else {
      it->bytes_per_second = std::max(it->bytes_per_second, g.bytes_per_second);
    }
  }
  return out;
}

void PodPressure::Reset() {
  origin_.reset();
  primary_fit_.reset();
  times_.clear();
  for (Series* s : {&guest_available_, &host_used_, &guest_anon_, &guest_shmem_, &host_anon_, &host_shmem_,
                    &writable_, &logs_}) {
    s->values.clear();
  }
  mounts_.clear();
  log_offset_ = 0;
  last_log_raw_.reset();
}

namespace {

double Opt(const std::optional<int64_t>& v) {
  return v ? static_cast<double>(*v) : kNaN;
}

// Host memory the pod cannot get back without OOM: usage minus reclaimable page cache (file minus
// shmem, which is counted in file but cannot be dropped). Without memory.stat, the raw usage.
double HostUnreclaimable(const HostObservation& h) {
  double used = static_cast<double>(h.usage_bytes);
  if (h.file_bytes) {
    double reclaimable =
        static_cast<double>(*h.file_bytes) - (h.shmem_bytes ? static_cast<double>(*h.shmem_bytes) : 0);
    used -= std::max(0.0, reclaimable);
  }
  return std::max(0.0, used);
}

bool HostHasLimit(const std::optional<HostObservation>& h) {
  return h && h->limit_bytes && *h->limit_bytes > 0;
}

bool GuestUsable(const std::optional<GuestObservation>& g) {
  return g && g->mem_total_bytes > 0;
}

}  // namespace

void PodPressure::Append(const PressureSample& s, double t) {
  times_.push_back(t);
  const bool guest = GuestUsable(s.guest);
  guest_available_.values.push_back(guest ? static_cast<double>(s.guest->mem_available_bytes) : kNaN);
  guest_anon_.values.push_back(guest ? Opt(s.guest->anon_bytes) : kNaN);
  guest_shmem_.values.push_back(guest ? Opt(s.guest->shmem_bytes) : kNaN);
  host_used_.values.push_back(s.host ? HostUnreclaimable(*s.host) : kNaN);
  host_anon_.values.push_back(s.host ? Opt(s.host->anon_bytes) : kNaN);
  host_shmem_.values.push_back(s.host ? Opt(s.host->shmem_bytes) : kNaN);
  writable_.values.push_back(Opt(s.containers.writable_layer_bytes));
  if (s.containers.log_bytes) {
    int64_t raw = *s.containers.log_bytes;
    if (last_log_raw_ && raw < *last_log_raw_) log_offset_ += static_cast<double>(*last_log_raw_);
    last_log_raw_ = raw;
    logs_.values.push_back(static_cast<double>(raw) + log_offset_);
  } else {
    logs_.values.push_back(kNaN);
  }
  // Mounts: pad new ones with NaN for the samples before they appeared, NaN for ones missing now.
  const size_t n = times_.size();
  if (guest) {
    for (const auto& m : s.guest->mounts) {
      auto it = mounts_.find(m.mount);
      if (it == mounts_.end()) {
        it = mounts_.emplace(m.mount, Series{}).first;
        it->second.values.assign(n - 1, kNaN);
      }
      if (it->second.values.size() < n) it->second.values.push_back(static_cast<double>(m.used_bytes));
    }
  }
  for (auto& [name, series] : mounts_) {
    if (series.values.size() < n) series.values.push_back(kNaN);
  }
}

void PodPressure::Trim(double now, const PressureConfig& config) {
  const double oldest = now - Seconds(config.window);
  size_t drop = 0;
  while (drop < times_.size() && times_[drop] < oldest) ++drop;
  if (drop == 0) return;
  times_.erase(times_.begin(), times_.begin() + static_cast<std::ptrdiff_t>(drop));
  auto trim = [drop](Series& s) {
    s.values.erase(s.values.begin(), s.values.begin() + static_cast<std::ptrdiff_t>(drop));
  };
  for (Series* s : {&guest_available_, &host_used_, &guest_anon_, &guest_shmem_, &host_anon_, &host_shmem_,
                    &writable_, &logs_}) {
    trim(*s);
  }
  for (auto it = mounts_.begin(); it != mounts_.end();) {
    trim(it->second);
    bool all_nan = std::all_of(it->second.values.begin(), it->second.values.end(),
                               [](double v) { return std::isnan(v); });
    it = all_nan ? mounts_.erase(it) : std::next(it);
  }
}

// Robust line through one series over the window, or nullopt when the window is too short. A slope that
// does not stand out of the noise is reported as 0 (the part counts as neither growing nor shrinking).
std::optional<PodPressure::Fit> PodPressure::FitSeries(const Series& s, const PressureConfig& config,
                                                       std::vector<double>& scratch) const {
  std::array<size_t, kMaxFitPoints> idx_all{};
  // Indices of usable points; when there are more than max_fit_points, keep an even spread (newest kept).
  size_t m = 0;
  size_t total_usable = 0;
  for (size_t i = 0; i < s.values.size(); ++i) {
    if (!std::isnan(s.values[i])) ++total_usable;
  }
  if (total_usable < static_cast<size_t>(config.min_samples) || total_usable < 2) return std::nullopt;
  const size_t k = std::min<size_t>(total_usable, static_cast<size_t>(config.max_fit_points));
  {
    size_t usable_seen = 0;
    size_t next_pick = 0;
    for (size_t i = 0; i < s.values.size() && m < k; ++i) {
      if (std::isnan(s.values[i])) continue;
      // Pick usable point number round(j * (total-1) / (k-1)) for j = 0..k-1.
      size_t want = k == 1 ? 0 : (next_pick * (total_usable - 1) + (k - 1) / 2) / (k - 1);
      if (usable_seen == want) {
        idx_all[m++] = i;
        ++next_pick;
      }
      ++usable_seen;
    }
  }
  std::array<double, kMaxFitPoints> t{};
  std::array<double, kMaxFitPoints> v{};
  bool flat = true;
  for (size_t j = 0; j < m; ++j) {
    t[j] = times_[idx_all[j]];
    v[j] = s.values[idx_all[j]];
    if (v[j] != v[0]) flat = false;
  }
  if (t[m - 1] - t[0] < Seconds(config.min_span)) return std::nullopt;
  if (flat) return Fit{.slope = 0, .intercept = v[0], .sigma = 0};
  auto slope = TheilSenSlope(std::span(t.data(), m), std::span(v.data(), m), scratch);
  if (!slope) return std::nullopt;
  // Significance: standard error of the slope from a robust residual scale (1.4826 × MAD ≈ σ for
  // Gaussian noise) and the spread of the sample times.
  scratch.clear();
  for (size_t j = 0; j < m; ++j) scratch.push_back(v[j] - *slope * t[j]);
  double intercept = MedianInPlace(scratch.data(), scratch.size());
  scratch.clear();
  for (size_t j = 0; j < m; ++j) scratch.push_back(std::fabs(v[j] - *slope * t[j] - intercept));
  double sigma = 1.4826 * MedianInPlace(scratch.data(), scratch.size());
  double mean_t = 0;
  for (size_t j = 0; j < m; ++j) mean_t += t[j];
  mean_t /= static_cast<double>(m);
  double sxx = 0;
  for (size_t j = 0; j < m; ++j) sxx += (t[j] - mean_t) * (t[j] - mean_t);
  if (sxx <= 0) return std::nullopt;
  double se = sigma / std::sqrt(sxx);
  Fit fit{.slope = *slope, .intercept = intercept, .sigma = sigma};
  if (std::fabs(*slope) < config.significance_z * se) {
    // Not significant: a flat line through the median.
    fit.slope = 0;
    scratch.clear();
    for (size_t j = 0; j < m; ++j) scratch.push_back(v[j]);
    fit.intercept = MedianInPlace(scratch.data(), scratch.size());
  }
  return fit;
}

PressureAssessment PodPressure::Observe(const PressureSample& sample, const PressureConfig& config,
                                        std::vector<double>& scratch) {
  PressureAssessment out;
  out.previous_level = level_;

  // --- Restarts and counter resets: the window (and, for a new pod, the level) starts over.
  auto full_reset = [&](std::string why) {
    Reset();
    level_ = PressureLevel::kOk;
    clear_since_.reset();
    guest_oom_.reset();
    host_oom_.reset();
    guest_total_.reset();
    last_guest_at_.reset();
    out.window_reset = true;
    out.reset_reason = std::move(why);
  };
  if (seen_ && sample.sandbox_id != sandbox_id_) {
    full_reset(fmt::format("sandbox changed from {} to {}", sandbox_id_, sample.sandbox_id));
  }
  const bool guest = GuestUsable(sample.guest);
  auto counter_delta = [&](std::optional<uint64_t>& last, std::optional<uint64_t> now, const char* what,
                           uint64_t& delta) {
    if (!now) return;
    if (last && *now < *last) {
      full_reset(
          fmt::format("{} oom_kill counter went backwards ({} -> {}): the pod restarted", what, *last, *now));
      delta = *now;
    } else if (last) {
      delta = *now - *last;
    }
    last = now;
  };
  if (guest) counter_delta(guest_oom_, sample.guest->oom_kills, "guest", out.guest_oom_kills_delta);
  if (sample.host) counter_delta(host_oom_, sample.host->oom_kills, "host", out.host_oom_kills_delta);
  if (guest) {
    if (guest_total_ && *guest_total_ != sample.guest->mem_total_bytes && !out.window_reset) {
      Reset();
      out.window_reset = true;
      out.reset_reason =
          fmt::format("guest MemTotal changed from {} to {}", FormatBytes(static_cast<double>(*guest_total_)),
                      FormatBytes(static_cast<double>(sample.guest->mem_total_bytes)));
    }
    guest_total_ = sample.guest->mem_total_bytes;
  }
  sandbox_id_ = sample.sandbox_id;
  seen_ = true;

  // --- Basis and instantaneous headroom.
  if (guest) {
    out.basis = PressureBasis::kGuest;
    out.capacity_bytes = sample.guest->mem_total_bytes;
    out.available_bytes = std::max<int64_t>(0, sample.guest->mem_available_bytes);
    last_guest_at_ = sample.at;
    last_guest_available_ = *out.available_bytes;
  } else if (last_guest_at_ && guest_total_ && sample.at >= *last_guest_at_ &&
             sample.at - *last_guest_at_ <= config.guest_grace) {
    out.basis = PressureBasis::kGuest;
    out.guest_stale = true;
    out.capacity_bytes = *guest_total_;
    const double elapsed = std::chrono::duration<double>(sample.at - *last_guest_at_).count();
    const double shrink = primary_fit_ ? std::max(0.0, primary_fit_->slope) : 0.0;
    out.available_bytes =
        std::max<int64_t>(0, last_guest_available_ - static_cast<int64_t>(shrink * elapsed));
  } else if (HostHasLimit(sample.host)) {
    out.basis = PressureBasis::kHost;
    out.capacity_bytes = *sample.host->limit_bytes;
    double used = HostUnreclaimable(*sample.host);
    out.available_bytes = std::max<int64_t>(0, *sample.host->limit_bytes - static_cast<int64_t>(used));
  }
  if (sample.host && sample.host->psi_full_avg10) out.psi_full_avg10 = *sample.host->psi_full_avg10;

  // --- Memory released (file deleted, OOM kill): the old trend is over. "Released" means available
  // memory above what the window's line predicts for now by more than release_reset_fraction of the
  // capacity and more than 6 sigma of the fit's noise; without a fit yet, above every value in the
  // window by that fraction. Comparing with the previous sample alone would let noise reset the window.
  if (!out.window_reset && !times_.empty() && out.basis != PressureBasis::kNone) {
    const bool g = out.basis == PressureBasis::kGuest;
    const Series& primary = g ? guest_available_ : host_used_;
    // Work in "used" terms (grows when memory is eaten): guest = -available, host = used.
    const double now_used = g ? -static_cast<double>(*out.available_bytes) : HostUnreclaimable(*sample.host);
    const double t_now = std::chrono::duration<double>(sample.at - *origin_).count();
    double threshold = config.release_reset_fraction * static_cast<double>(*out.capacity_bytes);
    std::optional<double> reference;
    if (primary_fit_) {
      reference = primary_fit_->intercept + primary_fit_->slope * t_now;
      threshold = std::max(threshold, 6 * primary_fit_->sigma);
    } else {
      for (double v : primary.values) {
        if (std::isnan(v)) continue;
        double used = g ? -v : v;
        reference = reference ? std::min(*reference, used) : used;
      }
    }
    if (reference && *reference - now_used > threshold) {
      const double released = *reference - now_used;
      Reset();
      out.window_reset = true;
      out.reset_reason = fmt::format("{} of memory was released", FormatBytes(released));
    }
  }

  // --- Window.
  double t = 0;
  if (!origin_) origin_ = sample.at;
  t = std::chrono::duration<double>(sample.at - *origin_).count();
  if (times_.empty() || t > times_.back()) {
    Append(sample, t);
    Trim(t, config);
  }

  // --- Rates.
  auto rate = [&](const Series& s) -> std::optional<double> {
    auto fit = FitSeries(s, config, scratch);
    return fit ? std::optional<double>(fit->slope) : std::nullopt;
  };
  std::optional<double> decline;
  primary_fit_.reset();
  if (out.basis == PressureBasis::kGuest) {
    if (auto fit = FitSeries(guest_available_, config, scratch)) {
      decline = -fit->slope;
      primary_fit_ = Fit{.slope = -fit->slope, .intercept = -fit->intercept, .sigma = fit->sigma};
    }
  } else if (out.basis == PressureBasis::kHost) {
    if (auto fit = FitSeries(host_used_, config, scratch)) {
      decline = fit->slope;
      primary_fit_ = fit;
    }
  }
  out.decline_bytes_per_second = decline;
  const double min_growth = config.min_growth_bytes_per_second;
  const bool shrinking = decline && *decline >= min_growth && *decline > 0;
  if (shrinking) out.seconds_left = static_cast<double>(*out.available_bytes) / *decline;

  // Growth of each tracked part.
  GrowthRate best_specific;
  auto add = [&](PressureCauseKind kind, const std::string& mount, const Series& s) -> double {
    auto r = rate(s);
    if (!r) return 0;
    out.growth.push_back({.kind = kind, .mount = mount, .bytes_per_second = *r});
    if (kind != PressureCauseKind::kAnonymous && kind != PressureCauseKind::kSharedMemory &&
        *r > best_specific.bytes_per_second) {
      best_specific = out.growth.back();
    }
    return *r;
  };
  for (const auto& [mount, series] : mounts_) {
    add(MatchesAny(mount, config.log_mount_patterns) ? PressureCauseKind::kLogs
                                                     : PressureCauseKind::kFilesystem,
        mount, series);
  }
  add(PressureCauseKind::kLogs, "", logs_);
  add(PressureCauseKind::kWritableLayer, "", writable_);
  const bool guest_parts = out.basis == PressureBasis::kGuest;
  double anon = add(PressureCauseKind::kAnonymous, "", guest_parts ? guest_anon_ : host_anon_);
  double shmem = add(PressureCauseKind::kSharedMemory, "", guest_parts ? guest_shmem_ : host_shmem_);

  // --- Cause: the part that grew. Anonymous memory wins only when it outgrows every file-like part;
  // a named mount/log/layer wins over the generic shmem total when it explains at least half of it
  // (tmpfs mounts are counted in shmem too).
  if (shrinking) {
    double fs_rate = std::max(shmem, best_specific.bytes_per_second);
    if (anon >= min_growth && anon > fs_rate) {
      out.cause = {.kind = PressureCauseKind::kAnonymous, .mount = {}, .bytes_per_second = anon};
    } else if (best_specific.bytes_per_second >= min_growth &&
               best_specific.bytes_per_second >= 0.5 * fs_rate) {
      out.cause = {.kind = best_specific.kind,
                   .mount = best_specific.mount,
                   .bytes_per_second = best_specific.bytes_per_second};
    } else if (shmem >= min_growth) {
      out.cause = {.kind = PressureCauseKind::kSharedMemory, .mount = {}, .bytes_per_second = shmem};
    } else {
      out.cause = {.kind = PressureCauseKind::kUnknown, .mount = {}, .bytes_per_second = *decline};
    }
  }

  // --- Level with hysteresis.
  std::optional<double> fraction;
  if (out.available_bytes && out.capacity_bytes && *out.capacity_bytes > 0)
    fraction = static_cast<double>(*out.available_bytes) / static_cast<double>(*out.capacity_bytes);
  const double cf = config.clear_factor;
  struct Rules {
    std::chrono::seconds time;
    double fraction;
    double psi;
  };
  const Rules warn{config.warning_time_left, config.warning_available_fraction,
                   config.warning_psi_full_avg10};
  const Rules crit{config.critical_time_left, config.critical_available_fraction,
                   config.critical_psi_full_avg10};
  // The reasons a rule set holds; `margin` widens it for staying (hysteresis).
  auto holds = [&](const Rules& r, double margin, std::vector<std::string>* why) {
    bool any = false;
    const bool clearing = margin > 1;
    if (out.seconds_left && *out.seconds_left < Seconds(r.time) * margin) {
      any = true;
      if (why)
        why->push_back(fmt::format("memory runs out in {} ({} {})", FormatDuration(*out.seconds_left),
                                   clearing ? "clears above" : "<",
                                   FormatThresholdSeconds(Seconds(r.time) * margin)));
    }
    if (fraction && *fraction < r.fraction * margin) {
      any = true;
      if (why)
        why->push_back(fmt::format("{} available ({} {})", FormatPercent(*fraction),
                                   clearing ? "clears above" : "<", FormatPercent(r.fraction * margin)));
    }
    if (out.psi_full_avg10 && *out.psi_full_avg10 >= r.psi / margin) {
      any = true;
      if (why)
        why->push_back(fmt::format("memory PSI full avg10 {:.1f} % ({} {:.1f} %)", *out.psi_full_avg10,
                                   clearing ? "clears below" : ">=", r.psi / margin));
    }
    return any;
  };
  auto level_of = [&](double margin) {
    if (holds(crit, margin, nullptr)) return PressureLevel::kCritical;
    if (holds(warn, margin, nullptr)) return PressureLevel::kWarning;
    return PressureLevel::kOk;
  };
  const PressureLevel enter = level_of(1.0);
  const PressureLevel stay = level_of(cf);
  if (enter > level_) {
    level_ = enter;
    clear_since_.reset();
  } else if (stay < level_) {
    if (!clear_since_) clear_since_ = sample.at;
    if (sample.at - *clear_since_ >= config.clear_hold) {
      level_ = stay;
      clear_since_.reset();
    }
  } else {
    clear_since_.reset();
  }
  out.level = level_;
  out.level_changed = out.level != out.previous_level;

  // --- Reason and advice.
  if (level_ != PressureLevel::kOk) {
    std::vector<std::string> why;
    holds(level_ == PressureLevel::kCritical ? crit : warn, 1.0, &why);
    if (why.empty()) {
      holds(level_ == PressureLevel::kCritical ? crit : warn, cf, &why);
    }
    if (out.guest_stale) why.push_back("guest endpoint missed this sample: extrapolated");
    if (clear_since_)
      why.push_back(
          fmt::format("held until clear for {}", FormatThresholdSeconds(Seconds(config.clear_hold))));
    out.reason = fmt::format("{}", fmt::join(why, "; "));
  }
  if (level_ != PressureLevel::kOk) {
    const bool host_view = out.basis == PressureBasis::kHost;
    const std::string where = host_view ? "in the pod cgroup (host view: no guest endpoint)" : "in the guest";
    const std::string rate_text = FormatByteRate(out.cause.bytes_per_second);
    std::string what;
    std::string remedy;
    switch (out.cause.kind) {
      case PressureCauseKind::kLogs:
        what = out.cause.mount.empty() ? fmt::format("container logs grow {}", rate_text)
                                       : fmt::format("logs under {} grow {}", out.cause.mount, rate_text);
        remedy = "write logs to stdout or to an emptyDir on disk, or raise the memory limit";
        break;
      case PressureCauseKind::kFilesystem:
        what = fmt::format("files under {} grow {}", out.cause.mount, rate_text);
        remedy =
            "this filesystem is kept in memory: write to an emptyDir on disk or a persistent volume, "
            "or raise the memory limit";
        break;
      case PressureCauseKind::kWritableLayer:
        what = fmt::format("the containers' writable layer grows {}", rate_text);
        remedy =
            "the writable layer is kept in memory: write scratch files to an emptyDir on disk, or raise "
            "the memory limit";
        break;
      case PressureCauseKind::kSharedMemory:
        what = fmt::format("tmpfs and shared memory grow {}", rate_text);
        remedy =
            "memory-backed volumes and /dev/shm use RAM: move those files to disk, or raise the memory limit";
        break;
      case PressureCauseKind::kAnonymous:
        what = fmt::format("anonymous memory (process heap) grows {}", rate_text);
        remedy = "check the workload for a leak, or raise the memory limit";
        break;
      case PressureCauseKind::kUnknown:
        what = fmt::format("available memory falls {}", rate_text);
        remedy = "raise the memory limit";
        break;
      case PressureCauseKind::kNone:
        remedy = "raise the memory limit";
        break;
    }
    std::string left;
    if (out.seconds_left) {
      left = host_view
                 ? fmt::format("the pod cgroup reaches its limit in {}", FormatDuration(*out.seconds_left))
                 : fmt::format("memory runs out in {}", FormatDuration(*out.seconds_left));
    } else if (out.available_bytes && fraction) {
      left = fmt::format("{} ({}) left", FormatBytes(static_cast<double>(*out.available_bytes)),
                         FormatPercent(*fraction));
    }
    if (out.psi_full_avg10 && *out.psi_full_avg10 >= config.warning_psi_full_avg10) {
      std::string stall =
          fmt::format("tasks stall on memory {:.0f} % of the time (PSI full avg10)", *out.psi_full_avg10);
      left = left.empty() ? stall : left + "; " + stall;
    }
    std::vector<std::string> parts;
    if (!what.empty())
      parts.push_back(what + " " + where);
    else
      parts.push_back(std::string(host_view ? "the pod cgroup" : "the guest") + " is short of memory");
    if (!left.empty()) parts.push_back(left);
    parts.push_back(remedy);
    out.advice = fmt::format("{}", fmt::join(parts, "; "));
  }
  return out;
}

PressureModel::PressureModel(PressureConfig config) : config_(std::move(config)) {}

PressureAssessment PressureModel::Observe(std::string_view pod_key, const PressureSample& sample) {
  auto it = pods_.find(pod_key);
  if (it == pods_.end()) it = pods_.emplace(std::string(pod_key), PodPressure{}).first;
  return it->second.Observe(sample, config_, scratch_);
}

void PressureModel::Forget(std::string_view pod_key) {
  auto it = pods_.find(pod_key);
  if (it != pods_.end()) pods_.erase(it);
}

void PressureModel::Retain(std::span<const std::string> keep) {
  for (auto it = pods_.begin(); it != pods_.end();) {
    bool kept = std::find(keep.begin(), keep.end(), it->first) != keep.end();
    it = kept ? std::next(it) : pods_.erase(it);
  }
}

const PodPressure* PressureModel::Find(std::string_view pod_key) const {
  auto it = pods_.find(pod_key);
  return it == pods_.end() ? nullptr : &it->second;
}

}  // namespace uvm::sizer
