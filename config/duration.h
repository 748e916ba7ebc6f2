// Durations as config files and flags write them, parsed without exceptions: one grammar for the daemon
// config and the CLI. Pure: text in, value out.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/quote.h"
#include "base/result.h"

namespace uvm::daemon {

// A sequence of <number><unit>, e.g. "30s", "1.5s", "1m30s", "100ms", "250us": the unsigned subset of Go's
// time.ParseDuration (the kubelet's --cpu-cfs-quota-period is one). Units: ns, us (also µs, μs), ms, s, m,
// h. A number is digits with an optional fraction of digits ("1.5"; not ".5", "5." or "1.2.3"); no sign, no
// exponent, no spaces. Fractions finer than a nanosecond are dropped, as Go does. The error is the reason
// alone, with the value quoted: `invalid duration "1.2.3s" (...)`; the caller names the key or flag.
// Every error carries ErrorCode::kInvalidInput.
Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

// The daemon config's durations: ParseGoDuration, then 1ms..one week in whole milliseconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The shortest exact spelling ParseGoDuration reads back: "2s", "1500ms", "5m", "1h", "250us", "0s".
std::string FormatDuration(std::chrono::nanoseconds d);

// The kernel takes CFS periods (cpu.cfs_period_us, cpu.max) from 1 ms to 1 s
// [S: kernel/sched/core.c min_cfs_quota_period, max_cfs_quota_period].
inline constexpr std::chrono::microseconds kMinCfsPeriod{1000};
inline constexpr std::chrono::microseconds kMaxCfsPeriod{1000000};

// The kubelet's --cpu-cfs-quota-period (and [kubelet] cpu_cfs_quota_period): a duration within
// kMinCfsPeriod..kMaxCfsPeriod in whole microseconds, e.g. "100ms". The error is the reason alone, e.g.
// `must be between 1ms and 1s, got "5s"`.
Result<std::chrono::microseconds> ParseCfsQuotaPeriod(std::string_view text);

}  // namespace uvm::daemon
