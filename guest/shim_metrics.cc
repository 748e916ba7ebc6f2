#include "guest/shim_metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "base/error_codes.h"
#include "guest/exposition.h"

namespace uvm::guest {
namespace {

// Byte counts and counters travel as float64; above 2^53 they are no longer exact integers.
constexpr double kMaxExact = 9007199254740992.0;

struct MountParts {
  std::string mount;
  std::string device;
  std::optional<int64_t> used;
  std::optional<int64_t> total;
};

}  // namespace

Result<sizer::GuestObservation> GuestObservationFromShimMetrics(std::string_view text,
                                                                std::string_view source,
                                                                std::string_view sandbox_id) {
  std::optional<int64_t> mem_total, mem_available, anon, shmem, cached;
  std::optional<uint64_t> oom_kills;
  std::optional<double> create_sum_ms, create_count;
  std::vector<MountParts> mounts;
  const std::string rpc_sum = std::string(kShimRpcDurationsFamily) + "_sum";
  const std::string rpc_count = std::string(kShimRpcDurationsFamily) + "_count";
  const std::string old_sum = std::string(kShimRpcDurationsFamilyOld) + "_sum";
  const std::string old_count = std::string(kShimRpcDurationsFamilyOld) + "_count";
  std::optional<Error> bad;

  auto integral = [&](const SampleView& s, std::string_view what) -> std::optional<double> {
    if (!std::isfinite(s.value) || s.value < 0 || s.value > kMaxExact) {
      if (!bad) {
        bad = InvalidInput(fmt::format("{}: line {}: {} is {}: want a finite count of 0..2^53", source,
                                       s.line, what, s.value));
      }
      return std::nullopt;
    }
    return std::floor(s.value);
  };

  Status st = ParseExposition(text, source, [&](const SampleView& s) {
    if (bad) return;
    const bool rpc_is_sum = s.name == rpc_sum || s.name == old_sum;
    const bool rpc = rpc_is_sum || s.name == rpc_count || s.name == old_count;
    const bool ours =
        rpc || s.name == kMeminfoFamily || s.name == kFilesystemBytesFamily || s.name == kVmStatFamily;
    if (!ours) return;
    if (!sandbox_id.empty()) {
      auto sb = s.Label("sandbox_id");
      if (sb && *sb != sandbox_id) return;
    }
    if (rpc) {
      // A value we cannot use only costs the startup profile this one number (it counts it as invalid).
      if (s.Label("action") == std::optional<std::string_view>("create"))
        (rpc_is_sum ? create_sum_ms : create_count) = s.value;
      return;
    }
    auto item = s.Label("item");
    if (!item) return;
    if (s.name == kMeminfoFamily) {
      std::optional<int64_t>* slot = nullptr;
      if (*item == "mem_total")
        slot = &mem_total;
      else if (*item == "mem_available")
        slot = &mem_available;
      else if (*item == "anon_pages")
        slot = &anon;
      else if (*item == "shmem")
        slot = &shmem;
      else if (*item == "cached")
        slot = &cached;
      if (!slot) return;
      if (auto v = integral(s, fmt::format("{}{{item=\"{}\"}}", s.name, *item)))
        *slot = static_cast<int64_t>(*v);
    } else if (s.name == kVmStatFamily) {
      if (*item != "oom_kill") return;
      if (auto v = integral(s, fmt::format("{}{{item=\"oom_kill\"}}", s.name)))
        oom_kills = static_cast<uint64_t>(*v);
    } else {
      auto mount = s.Label("mount");
      if (!mount || (*item != "used" && *item != "total")) return;
      auto v = integral(s, fmt::format("{}{{mount=\"{}\",item=\"{}\"}}", s.name, *mount, *item));
      if (!v) return;
      auto it =
          std::find_if(mounts.begin(), mounts.end(), [&](const MountParts& m) { return m.mount == *mount; });
      if (it == mounts.end()) {
        mounts.push_back(MountParts{.mount = std::string(*mount),
                                    .device = std::string(s.Label("device").value_or("")),
                                    .used = std::nullopt,
                                    .total = std::nullopt});
        it = std::prev(mounts.end());
      }
      (*item == "used" ? it->used : it->total) = static_cast<int64_t>(*v);
    }
  });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  if (!mem_total || !mem_available) {
    return InvalidInput(
        fmt::format("{}: no {}{{item=\"{}\"}} sample: the Kata agent does not report guest memory "
                    "(agent older than 2.0, or its metrics API unavailable)",
                    source, kMeminfoFamily, mem_total ? "mem_available" : "mem_total"));
  }
  if (*mem_total == 0) {
    return InvalidInput(fmt::format("{}: {}{{item=\"mem_total\"}} is 0", source, kMeminfoFamily));
  }
  sizer::GuestObservation out;
  out.mem_total_bytes = *mem_total;
  out.mem_available_bytes = *mem_available;
  out.anon_bytes = anon;
  out.shmem_bytes = shmem;
  out.file_bytes = cached;
  out.oom_kills = oom_kills;
  out.shim_create_sum_ms = create_sum_ms;
  out.shim_create_count = create_count;
  for (auto& m : mounts) {
    if (!m.used) continue;
    out.mounts.push_back({.mount = std::move(m.mount),
                          .device = std::move(m.device),
                          .used_bytes = *m.used,
                          .total_bytes = m.total.value_or(0)});
  }
  return out;
}

}  // namespace uvm::guest
