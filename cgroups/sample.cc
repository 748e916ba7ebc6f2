#include "cgroups/sample.h"

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cgroups {

bool WriteReport::written() const {
  for (const auto& c : changes) {
    if (c.written) return true;
  }
  return false;
}

std::string WriteReport::Summary() const {
  std::string out;
  for (const auto& c : changes) {
    if (!out.empty()) out += "; ";
    if (c.written) {
      out += fmt::format("{} {} -> {} ({})", c.file, c.before, c.after, c.why);
    } else {
      out += fmt::format("{} {} unchanged ({})", c.file, c.before, c.why);
    }
  }
  return out;
}

bool MemoryLimitCovers(std::optional<uint64_t> current_bytes, uint64_t target_bytes) {
  return !current_bytes || *current_bytes >= target_bytes;
}

bool CpuQuotaCovers(std::optional<uint64_t> current_quota_us, uint64_t current_period_us,
                    const CpuQuota& target) {
  if (!current_quota_us) return true;
  // Compare rates q/p >= tq/tp without division.
  unsigned __int128 lhs = static_cast<unsigned __int128>(*current_quota_us) * target.period_us;
  unsigned __int128 rhs = static_cast<unsigned __int128>(target.quota_us) * current_period_us;
  return lhs >= rhs;
}

uint64_t RoundUpToPage(uint64_t bytes, uint64_t page_bytes) {
  if (page_bytes == 0) return bytes;
  uint64_t rem = bytes % page_bytes;
  if (rem == 0) return bytes;
  uint64_t add = page_bytes - rem;
  return bytes > UINT64_MAX - add ? bytes - rem : bytes + add;
}

uint64_t QuotaPerPeriod(uint64_t quota_us, uint64_t period_us, uint64_t target_period_us) {
  if (period_us == 0) return 0;
  unsigned __int128 v = static_cast<unsigned __int128>(quota_us) * target_period_us + period_us - 1;
  v /= period_us;
  return v > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(v);
}

Status ValidateCpuQuota(const CpuQuota& target) {
  if (target.period_us < 1000 || target.period_us > 1000000) {
    return InvalidInput(
        fmt::format("cpu period {} µs: outside the kernel's 1000..1000000 µs", target.period_us));
  }
  if (target.quota_us < 1000) {
    return InvalidInput(
        fmt::format("cpu quota {} µs: below the kernel's minimum of 1000 µs", target.quota_us));
  }
  return {};
}

}  // namespace uvm::cgroups
