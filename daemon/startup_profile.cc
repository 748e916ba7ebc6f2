#include "daemon/startup_profile.h"

#include <cmath>

namespace uvm::daemon {

std::string_view UvmMemoryBucket(std::optional<int64_t> uvm_memory_mib) {
  if (!uvm_memory_mib) return "none";
  const int64_t mib = *uvm_memory_mib;
  if (mib <= 512) return "<=512Mi";
  if (mib <= 1024) return "<=1Gi";
  if (mib <= 2048) return "<=2Gi";
  if (mib <= 4096) return "<=4Gi";
  if (mib <= 8192) return "<=8Gi";
  return ">8Gi";
}

bool StartWatchable(int64_t created_at_ns, int64_t watch_since_ns) {
  return created_at_ns > 0 && created_at_ns >= watch_since_ns;
}

StartDecision DecideSandboxStart(const SandboxStartFacts& f) {
  if (!StartWatchable(f.sandbox_created_at_ns, f.watch_since_ns)) return {.verdict = StartVerdict::kIgnore};
  if (!f.first_container_started_at_ns) {
    if (f.now_ns - f.sandbox_created_at_ns > kMaxPlausibleStartNs)
      return {.verdict = StartVerdict::kSkip, .reason = "never_started"};
    return {.verdict = StartVerdict::kWait};
  }
  const int64_t span = *f.first_container_started_at_ns - f.sandbox_created_at_ns;
  if (span < 0) return {.verdict = StartVerdict::kSkip, .reason = "clock_skew"};
  if (span > kMaxPlausibleStartNs) return {.verdict = StartVerdict::kSkip, .reason = "implausible"};
  return {.verdict = StartVerdict::kObserve, .seconds = static_cast<double>(span) / 1e9};
}

StartDecision DecideShimCreate(const std::optional<ShimCreateTotals>& totals) {
  if (!totals) return {.verdict = StartVerdict::kSkip, .reason = "shim_create_absent"};
  if (!std::isfinite(totals->count) || !std::isfinite(totals->sum_ms) || totals->sum_ms < 0 ||
      totals->count < 0)
    return {.verdict = StartVerdict::kSkip, .reason = "shim_create_invalid"};
  if (totals->count == 0) return {.verdict = StartVerdict::kWait};
  if (totals->count > 1) return {.verdict = StartVerdict::kSkip, .reason = "shim_create_ambiguous"};
  return {.verdict = StartVerdict::kObserve, .seconds = totals->sum_ms / 1000.0};
}

bool IsKataRuntimeType(std::string_view runtime_type) {
  // containerd runtime types are io.containerd.<name>.<version>; Kata installs kata and kata-<hypervisor>.
  constexpr std::string_view kPrefix = "io.containerd.kata";
  if (!runtime_type.starts_with(kPrefix)) return false;
  char next = runtime_type.size() > kPrefix.size() ? runtime_type[kPrefix.size()] : '\0';
  return next == '.' || next == '-';
}

}  // namespace uvm::daemon
