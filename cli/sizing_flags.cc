#include "cli/sizing_flags.h"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "base/error_codes.h"
#include "cli/io.h"
#include "sizer/formats/profiles_toml.h"

namespace uvm::cli {

Result<sizer::Quantity> ParseFlagQuantity(std::string_view flag, const std::string& text) {
  auto q = sizer::Quantity::Parse(text);
  if (!q) return WithMessage(q.error(), fmt::format("{}: {}", flag, q.error().message));
  if (q->IsNegative()) return InvalidInput(fmt::format("{}: must not be negative, got \"{}\"", flag, text));
  return q;
}

void SizingFlags::Register(CLI::App& command) {
  command.add_option("--profiles-file", profiles_file,
                     "TOML file with custom [profiles.NAME], [handlers] and [runtime_class_aliases]");
  command.add_option("--host-overhead-fixed", host_overhead_fixed,
                     "host memory the VMM, shim and virtiofsd take per UVM (default 86Mi)");
  command.add_option("--host-overhead-per-gib", host_overhead_per_gib,
                     "host memory they take per GiB of guest RAM (default 4.4Mi)");
  command.add_option("--cpu-cfs-quota", cpu_cfs_quota, "the kubelet's --cpu-cfs-quota (default true)");
  command.add_option("--cpu-cfs-quota-period", cpu_cfs_quota_period,
                     "the kubelet's --cpu-cfs-quota-period, e.g. 100ms (default 100ms)");
  command.add_flag("--static-cpu-manager", static_cpu_manager,
                   "the node runs the static CPU manager: integer-CPU Guaranteed pods get no CFS quota");
}

namespace {

// "100ms", "50000us", "0.1s": the kubelet takes a Go duration; we accept the units it is written in.
Result<int64_t> ParsePeriodUs(const std::string& text) {
  struct Unit {
    const char* suffix;
    double us;
  };
  for (Unit u : {Unit{"us", 1}, Unit{"µs", 1}, Unit{"ms", 1000}, Unit{"s", 1000000}}) {
    std::string_view t(text), s(u.suffix);
    if (t.size() > s.size() && t.substr(t.size() - s.size()) == s) {
      std::string number(t.substr(0, t.size() - s.size()));
      char* end = nullptr;
      double v = std::strtod(number.c_str(), &end);
      if (end == number.c_str() || *end != '\0' || !(v > 0)) break;
      double us = v * u.us;
      // The kernel accepts CFS periods from 1 ms to 1 s.
      if (us < 1000 || us > 1000000) {
        return InvalidInput(fmt::format("--cpu-cfs-quota-period: \"{}\" is outside 1ms..1s", text));
      }
      return static_cast<int64_t>(us);
    }
  }
  return InvalidInput(fmt::format("--cpu-cfs-quota-period: invalid duration \"{}\" (e.g. 100ms)", text));
}

}  // namespace

Result<sizer::SizingContext> SizingFlags::BuildContext() const {
  sizer::SizingContext ctx;
  if (!host_overhead_fixed.empty()) {
    auto q = ParseFlagQuantity("--host-overhead-fixed", host_overhead_fixed);
    if (!q) return q.error();
    ctx.host.fixed_bytes = q->Value();
  }
  if (!host_overhead_per_gib.empty()) {
    auto q = ParseFlagQuantity("--host-overhead-per-gib", host_overhead_per_gib);
    if (!q) return q.error();
    ctx.host.per_gib_bytes = q->Value();
  }
  ctx.kubelet.cpu_cfs_quota = cpu_cfs_quota;
  ctx.kubelet.static_cpu_manager = static_cpu_manager;
  if (!cpu_cfs_quota_period.empty()) {
    auto us = ParsePeriodUs(cpu_cfs_quota_period);
    if (!us) return us.error();
    ctx.kubelet.cpu_cfs_quota_period_us = *us;
  }
  if (!profiles_file.empty()) {
    auto text = ReadInput(profiles_file);
    if (!text) return text.error();
    auto file = sizer::formats::ParseProfileFile(*text);
    if (!file) return WithMessage(file.error(), fmt::format("{}: {}", profiles_file, file.error().message));
    for (auto& p : file->profiles) ctx.catalog.Put(std::move(p));
    for (const auto& [handler, profile] : file->handlers) {
      auto st = ctx.catalog.MapHandler(handler, profile);
      if (!st)
        return WithMessage(st.error(), fmt::format("{}: [handlers] {}", profiles_file, st.error().message));
    }
    for (const auto& [name, handler] : file->runtime_class_aliases) ctx.runtime_class_aliases[name] = handler;
  }
  return ctx;
}

}  // namespace uvm::cli
